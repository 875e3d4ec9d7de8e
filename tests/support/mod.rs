//! Helpers shared by the integration tests (`mod support;` in each file that needs them).

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// An in-memory `MakeWriter`, as tracing-subscriber's own tests use: every event appends its
/// bytes to one shared buffer, whatever thread writes it.
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("log output is UTF-8")
    }

    /// Everything written so far, one string a line.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

/// The writer of one event: appends to the shared buffer.
pub struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = BufferWriter;

    fn make_writer(&'a self) -> BufferWriter {
        BufferWriter(self.0.clone())
    }
}

/// A value whose `Debug` writes half of itself, then panics: a bug in user code.
pub struct PanicsHalfWay;

impl std::fmt::Debug for PanicsHalfWay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("half_written")?;
        panic!("a Debug that panics half way");
    }
}

/// Under `subscriber`, on the one thread of a current-thread runtime: a task of `run_a` logs
/// a field that panics ([`PanicsHalfWay`]), then a task of `run_b` logs `in b`. Whether each
/// task completed.
pub fn run_a_panics_then_run_b_logs(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> (bool, bool) {
    use tracectx::{TraceContext, TraceFutureExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let a = TraceContext::new("run_a").unwrap();
            let b = TraceContext::new("run_b").unwrap();
            let a = tokio::spawn(
                async { tracing::info!(value = ?PanicsHalfWay, "in a") }.in_trace_context(a),
            );
            let b = tokio::spawn(async { tracing::info!("in b") }.in_trace_context(b));
            (a.await.is_ok(), b.await.is_ok())
        })
    })
}

/// Every line of the process, written by the crate's log layer as `[run_id] message`: the
/// test binary's one global subscriber, installed on first use.
pub fn log() -> &'static Buffer {
    static LOG: std::sync::OnceLock<Buffer> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Buffer::default();
        tracectx::logging::builder()
            .with_writer(buf.clone())
            .with_format("[{run_id}] {message}")
            .try_init()
            .expect("the only subscriber of this test binary");
        buf
    })
}
