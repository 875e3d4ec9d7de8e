//! How one event becomes one line: the text template, JSON, the clock and escaping.
//!
//! Both formats are [`FormatEvent`]s, so they plug into any `tracing_subscriber::fmt` layer.
//! The stamp (run id, trace id, span ids) is read when the event is formatted: first from the
//! task-local slot, then, when the slot is empty, from the context that
//! [`SpanContextLayer`](crate::logging::SpanContextLayer) remembered on the event's spans.
//!
//! # One event, one line
//!
//! A log line is only as trustworthy as its prefix. The text format escapes, in the message,
//! the target and every field value, each character that could end the line or disguise it:
//! `\n`, `\r`, `\t` become those two-character escapes; other control characters (C0, DEL,
//! C1, including the ESC of terminal sequences), the Unicode line and paragraph separators and
//! the bidirectional overrides become `\u{..}`. The prefix is written by the formatter alone,
//! and a run id cannot hold a bracket or a space, so a message can never start a line of its
//! own nor look like another run's. JSON lines are written by `serde_json`, which escapes every
//! string: each line is one valid JSON value whatever the event holds.

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::time::Clock;

mod json;
mod stamped;
pub(crate) mod template;
mod text;

pub use json::JsonFormat;
pub use stamped::Stamped;
pub use template::{PLACEHOLDERS, TemplateError};
pub use text::TextFormat;

/// The text layout [`configure_logging`](crate::logging::configure_logging) writes:
/// `[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO target - message k=v`.
///
/// `tracectx logs` reads lines of this layout and JSON lines; lines of another template with
/// `--format <the template>`.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{builder, file_writer, FixedClock, DEFAULT_TEMPLATE};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("app.log");
/// // The layout of `configure_logging`, spelled out: a start for a template of your own.
/// let subscriber = builder()
///     .with_format(DEFAULT_TEMPLATE.replace(" {target} -", ""))
///     .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z")?)
///     .with_writer(file_writer(&path)?)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!(qty = 10, "filled"));
/// assert_eq!(
///     std::fs::read_to_string(&path)?,
///     "[2024-01-01T10:00:00.000000Z] [-] [-] INFO filled qty=10\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_TEMPLATE: &str =
    "[{timestamp}] [{run_id}] [{trace_id}] {level} {target} - {message} {fields}";

fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Whether the event has a field other than the message and `log.*` metadata.
fn has_fields(event: &Event<'_>) -> bool {
    event.fields().any(|f| is_user_field(f.name()))
}

fn is_user_field(name: &str) -> bool {
    name != "message" && !name.starts_with("log.")
}

/// Runs `format` for `event`, a panic in it (a field whose `Debug` or `Display` panics) made
/// `fmt::Error` and said on stderr.
///
/// The fmt layer formats every event of a thread into one buffer, and clears it only when the
/// format returns: a panic used to leave the event's half-written line there, its run id with
/// it, to be written in front of the thread's next event (another run's, in that run's
/// file). With `fmt::Error` the layer clears the buffer and writes no half line; the code
/// that logged goes on.
fn panic_as_error(event: &Event<'_>, format: impl FnOnce() -> fmt::Result) -> fmt::Result {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(format)).unwrap_or_else(|_| {
        let meta = event.metadata();
        eprintln!(
            "tracectx: an event of {} at {}:{} was not logged: formatting it panicked",
            crate::escape::text(meta.target()),
            crate::escape::text(meta.file().unwrap_or("?")),
            meta.line().unwrap_or(0),
        );
        Err(fmt::Error)
    })
}

/// The most room a per-thread line buffer keeps once a line is written: one huge event does
/// not keep its room on the thread for good.
const LINE_BUF_KEPT: usize = 64 * 1024;

/// A per-thread buffer a format writes a line into before handing it on.
trait LineBuf: Default {
    fn room(&self) -> usize;
}

impl LineBuf for Vec<u8> {
    fn room(&self) -> usize {
        self.capacity()
    }
}

impl LineBuf for String {
    fn room(&self) -> usize {
        self.capacity()
    }
}

/// Runs `write` with this thread's buffer `buf` (emptied by `write`), which is given back
/// past [`LINE_BUF_KEPT`]; with a fresh one while it is in use (a `Debug` impl that logs
/// re-enters the format) or once the thread's locals are gone.
fn with_line_buf<B: LineBuf, R>(
    buf: &'static std::thread::LocalKey<std::cell::RefCell<B>>,
    mut write: impl FnMut(&mut B) -> R,
) -> R {
    let kept = buf.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        let written = write(&mut buf);
        if buf.room() > LINE_BUF_KEPT {
            *buf = B::default();
        }
        Some(written)
    });
    match kept {
        Ok(Some(written)) => written,
        _ => write(&mut B::default()),
    }
}

/// The format the builder installs: text or JSON, chosen at run time.
#[derive(Debug, Clone)]
pub(crate) enum LogFormat {
    Text(TextFormat<Arc<dyn Clock>>),
    Json(JsonFormat<Arc<dyn Clock>>),
}

impl<S, N> FormatEvent<S, N> for LogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        match self {
            Self::Text(f) => f.format_event(ctx, writer, event),
            Self::Json(f) => f.format_event(ctx, writer, event),
        }
    }
}
