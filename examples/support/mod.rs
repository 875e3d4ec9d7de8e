//! What the service examples share: reading a flag, their logging, waiting for a signal to
//! stop, and how `main` reports an error.
#![allow(dead_code)]

/// The value of `--name VALUE` or `--name=VALUE` on the command line, if given.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Logs with tracectx's default line to the file of `--log-file FILE`, else to stderr.
pub fn init_logging() -> Result<(), Box<dyn std::error::Error>> {
    match arg("--log-file") {
        Some(path) => {
            let file = tracectx::logging::file_writer(path)?;
            tracectx::logging::builder().with_writer(file).try_init()?;
        }
        None => tracectx::logging::builder()
            .with_writer(std::io::stderr)
            .try_init()?,
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so a server can stop accepting, finish the requests in
/// flight and flush its log.
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What `main` returns on failure: printed as `Error: <message>: <cause>...`, not as the
/// `Debug` form of the error (`Os { code: 98, kind: AddrInUse, .. }`) a boxed error prints.
pub struct Failure(Box<dyn std::error::Error>);

impl<E: Into<Box<dyn std::error::Error>>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
