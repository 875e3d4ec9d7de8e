//! Handing lines to a dedicated writer thread: the non-blocking and rolling-file writers.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;

/// How many lines may wait for the writer thread before logging blocks.
pub(super) const QUEUE_LINES: usize = 128_000;

pub(super) enum Msg {
    Line(Vec<u8>),
    /// A line of a run, for the per-run writer: `[run id length][run id][line]`.
    RunLine(Vec<u8>),
    Shutdown,
}

/// A [`MakeWriter`] that hands lines to a dedicated writer thread, made by [`non_blocking`] or
/// [`rolling_file`].
///
/// Logging costs a copy of the line and a channel send; the thread writes through a buffer
/// that it flushes whenever the queue runs empty. When the queue is full (128,000 lines)
/// logging waits instead of dropping lines: a log that silently loses lines of a run is worse
/// than a slow one. Lines are written until the [`WorkerGuard`] is dropped.
#[derive(Debug, Clone)]
pub struct NonBlocking {
    sender: SyncSender<Msg>,
}

/// Flushes every accepted line and stops the writer thread of a [`NonBlocking`] when dropped.
///
/// Keep it alive for as long as the program logs (`let _guard = ...` in `main`; not `let _ =`,
/// which drops it at once). Dropping it waits, without a time limit, until every line accepted
/// before the drop is written and flushed: unlike tracing-appender's guard, which gives up
/// after about a second, nothing accepted is lost at shutdown. Lines logged after the drop are
/// refused (the writer reports a broken pipe, which the fmt layer ignores).
#[must_use = "dropping the guard stops the writer thread; keep it alive while logging"]
pub struct WorkerGuard {
    sender: SyncSender<Msg>,
    worker: Option<JoinHandle<()>>,
}

impl WorkerGuard {
    pub(super) fn new(sender: SyncSender<Msg>, worker: JoinHandle<()>) -> Self {
        Self {
            sender,
            worker: Some(worker),
        }
    }
}

/// Writes lines to `writer` on a dedicated thread; returns the [`MakeWriter`] to log through
/// and the guard that flushes on drop.
///
/// # Errors
///
/// The I/O error when the thread cannot be started.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("app.log"))?;
/// let (writer, guard) = tracectx::logging::non_blocking(file)?;
/// let subscriber = tracectx::logging::builder()
///     .with_level(tracing::Level::INFO)
///     .with_writer(writer)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// drop(guard); // waits until the line is in the file
/// assert!(std::fs::read_to_string(dir.path().join("app.log"))?.ends_with("queued\n"));
/// # Ok(()) }
/// ```
pub fn non_blocking<W>(writer: W) -> io::Result<(NonBlocking, WorkerGuard)>
where
    W: Write + Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel(QUEUE_LINES);
    let worker = std::thread::Builder::new()
        .name("tracectx-log-writer".into())
        .spawn(move || write_lines(receiver, BufWriter::with_capacity(64 * 1024, writer)))?;
    Ok((
        NonBlocking {
            sender: sender.clone(),
        },
        WorkerGuard {
            sender,
            worker: Some(worker),
        },
    ))
}

/// A non-blocking writer to a file in `directory` that starts a new file every `rotation`
/// period, named `<file_name_prefix>.<date>` (or just `<file_name_prefix>` with
/// [`Rotation::NEVER`]); the rolling file is tracing-appender's.
///
/// # Errors
///
/// The I/O error when the directory or file cannot be created, or the thread not started.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{self, Rotation};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, _guard) = logging::rolling_file(dir.path(), "app.log", Rotation::DAILY)?;
/// let subscriber = logging::builder().with_writer(writer).build()?;
/// # drop(subscriber);
/// # Ok(()) }
/// ```
pub fn rolling_file(
    directory: impl AsRef<Path>,
    file_name_prefix: &str,
    rotation: Rotation,
) -> io::Result<(NonBlocking, WorkerGuard)> {
    let appender = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix(file_name_prefix)
        .build(directory.as_ref())
        .map_err(|e| {
            io::Error::other(format!(
                "cannot open a rolling log file in {}: {e}",
                directory.as_ref().display()
            ))
        })?;
    non_blocking(appender)
}

fn write_lines<W: Write>(receiver: Receiver<Msg>, mut out: BufWriter<W>) {
    loop {
        let msg = match receiver.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                match receiver.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Line(line) => {
                let _ = out.write_all(&line);
            }
            Msg::RunLine(msg) => {
                let _ = out.write_all(super::per_run::decode(&msg).1);
            }
            Msg::Shutdown => {
                // Lines sent while the guard was being dropped were accepted too.
                while let Ok(msg) = receiver.try_recv() {
                    match msg {
                        Msg::Line(line) => {
                            let _ = out.write_all(&line);
                        }
                        Msg::RunLine(msg) => {
                            let _ = out.write_all(super::per_run::decode(&msg).1);
                        }
                        Msg::Shutdown => {}
                    }
                }
                break;
            }
        }
    }
    let _ = out.flush();
}

/// The writer [`NonBlocking`] makes for each event.
#[derive(Debug)]
pub struct NonBlockingWriter<'a> {
    sender: &'a SyncSender<Msg>,
}

impl Write for NonBlockingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sender
            .send(Msg::Line(buf.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "log writer thread stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = NonBlockingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        NonBlockingWriter {
            sender: &self.sender,
        }
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        // Queued behind every line already accepted; a send error means the thread is gone.
        let _ = self.sender.send(Msg::Shutdown);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl fmt::Debug for WorkerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerGuard").finish_non_exhaustive()
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "Line({} bytes)", line.len()),
            Self::RunLine(msg) => write!(f, "RunLine({} bytes)", msg.len()),
            Self::Shutdown => f.write_str("Shutdown"),
        }
    }
}
