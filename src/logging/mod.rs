//! Every log line stamped with its run, and logs read back by run.
//!
//! Call [`configure_logging`] once at the start of `main`. From then on every `tracing` event
//! (and every `log` record), from any task, blocking thread or thread that runs in a trace
//! context, is one line that says which run it belongs to:
//!
//! ```text
//! [2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO my_app::engine - filled qty=10
//! [2024-01-01T10:00:00.000120Z] [-] [-] INFO my_app - started
//! ```
//!
//! Outside any context the two ids print as `-`. `tracectx logs <run_id> app.log` pulls one
//! run's lines back out (see `query`, feature `query`).
//!
//! The pieces, for other set-ups:
//!
//! - [`builder`]: the same subscriber with another level, a template
//!   ([`Builder::with_format`]), JSON lines ([`Builder::json`]) or another writer
//!   ([`Builder::with_writer`]): a [`file_writer`], a [`non_blocking`] writer, a
//!   [`rolling_file`], or a file per run ([`per_run_files`]).
//! - [`TextFormat`] and [`JsonFormat`]: `FormatEvent`s for your own
//!   `tracing_subscriber::fmt::layer().event_format(..)`.
//! - [`Stamped`]: keeps *your* format (tracing-subscriber's full, compact, pretty or JSON, or
//!   your own `FormatEvent`) and adds the run and trace ids to it.
//! - [`SpanContextLayer`]: remembers the context on spans created inside a scope, so events in
//!   those spans are stamped even where the task-local slot is empty.
//!
//! # Examples
//!
//! ```no_run
//! use tracectx::prelude::*;
//!
//! #[tokio::main]
//! async fn main() {
//!     tracectx::logging::configure_logging();
//!     let ctx = TraceContext::generate("backtest");
//!     async {
//!         tracing::info!(bars = 390, "session started");
//!         // Plain `tokio::spawn` would lose the run: its lines would say [-].
//!         tracectx::spawn_traced(async { tracing::info!("in a task") }).await.unwrap();
//!     }
//!     .in_trace_context(ctx)
//!     .await;
//! }
//! ```

mod builder;
mod format;
mod layer;
#[cfg(feature = "query")]
#[cfg_attr(docsrs, doc(cfg(feature = "query")))]
pub mod query;
mod stamp;
mod time;
mod writer;

pub use builder::{Builder, InitError};
pub use format::{DEFAULT_TEMPLATE, JsonFormat, PLACEHOLDERS, Stamped, TemplateError, TextFormat};
pub use layer::{SpanContextLayer, span_context};
pub use stamp::NO_CONTEXT;
pub use time::{Clock, FixedClock, SystemClock};
pub use tracing_appender::rolling::Rotation;
pub use writer::{
    DEFAULT_BUFFERED_BYTES_LIMIT, DEFAULT_BUFFERED_LINES_LIMIT, DEFAULT_MAX_OPEN_FILES, FileWriter,
    NonBlocking, NonBlockingBuilder, NonBlockingWriter, OUTSIDE_RUNS_FILE, PerRunFiles,
    PerRunFilesBuilder, PerRunWriter, WorkerGuard, WriterStats, file_writer, non_blocking,
    per_run_files, rolling_file, run_id_from_file_name, run_log_file_name,
};

/// Installs the global subscriber that stamps every event with its run: text lines on
/// stdout, the level from `RUST_LOG` when set, else INFO. A directive of `RUST_LOG` that is not
/// valid is left out, and said on stderr, escaped.
///
/// The same as `builder().init()`; use [`builder`] for anything else.
///
/// # Panics
///
/// When a global subscriber (or `log` logger) is already installed. Call it once, at the start
/// of `main`; `builder().try_init()` returns the error instead.
///
/// # Examples
///
/// ```
/// tracectx::logging::configure_logging();
/// let ctx = tracectx::TraceContext::new("backtest_abc123")?;
/// ctx.sync_scope(|| tracing::info!(qty = 10, "filled"));
/// // [2024-…Z] [backtest_abc123] [1f0c…] INFO rust_out - filled qty=10
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[track_caller]
pub fn configure_logging() {
    builder().init();
}

/// A [`Builder`] for the logging subscriber, starting from what [`configure_logging`]
/// installs.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.jsonl");
/// let subscriber = tracectx::logging::builder()
///     .json()
///     .with_writer(tracectx::logging::file_writer(&path)?)
///     .build()?;
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info!("a JSON line"));
/// });
/// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
/// assert_eq!(line["run_id"], "job_1");
/// assert_eq!(line["message"], "a JSON line");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn builder() -> Builder {
    Builder::new()
}
