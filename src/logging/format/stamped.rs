//! `Stamped<F>`: the run's ids added to any `FormatEvent`, the user's format kept.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::logging::stamp::Stamp;

/// Wraps any [`FormatEvent`] (tracing-subscriber's full, compact, pretty or JSON format, or
/// your own) and adds the run and trace ids of the event's context to each line, keeping the
/// rest of the line as the wrapped format writes it.
///
/// - **Text** formats get the ids in front, in the brackets of the default line:
///   `[backtest_abc123] [a1b2c3d4] 2024-01-01T10:00:00.000000Z  INFO engine: filled qty=10`.
///   With colors on, the wrapped format still writes them: the ids are written straight to
///   the writer, never through a buffer.
/// - **JSON** lines (an object per line, as `format().json()` writes them) get `run_id`,
///   `trace_id` (8 hex), `span_id` and `parent_span_id` as their first top-level keys, the
///   keys [`JsonFormat`](crate::logging::JsonFormat) writes, spliced in as the object is
///   streamed: the line is neither buffered nor parsed again. (With
///   `format().json().flatten_event(true)`, an event field named `run_id` would be a second
///   `run_id` key; `tracectx logs` skips such a line rather than believe either.)
///
/// Outside any context nothing is added. The context is found as the crate's own formats find
/// it: the task-local slot, else the context a span remembered
/// ([`SpanContextLayer`](crate::logging::SpanContextLayer); add it to the subscriber too).
///
/// [`new`](Self::new) tells JSON from text by the first character the wrapped format writes
/// (`{`) when the writer has no colors (tracing-subscriber turns them off for JSON), once: the
/// first line's kind is remembered, and later text lines are stamped straight away. A text
/// format whose lines start with `{` is stamped as text with [`text`](Self::text), and a JSON
/// format writing with colors on as JSON with [`json`](Self::json).
///
/// `tracectx logs RUN --format '[{run_id}] [{trace_id}] {message}'` reads text lines stamped
/// this way; JSON lines are read as they are.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::fmt::format;
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{SpanContextLayer, Stamped};
///
/// // Your subscriber, your format: only the ids are added.
/// let subscriber = tracing_subscriber::registry().with(SpanContextLayer::new()).with(
///     tracing_subscriber::fmt::layer().event_format(Stamped::new(format().compact())),
/// );
/// tracing::subscriber::with_default(subscriber, || {
///     let ctx = tracectx::TraceContext::new("backtest_abc123")?;
///     ctx.sync_scope(|| tracing::info!(qty = 10, "filled"));
///     // [backtest_abc123] [1f0c4a2e] 2024-…Z  INFO rust_out: filled qty=10
///     Ok::<(), tracectx::InvalidId>(())
/// })?;
///
/// // JSON: the ids are top-level keys.
/// let json = tracing_subscriber::fmt().json().event_format(Stamped::new(format().json())).finish();
/// # drop(json);
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Debug, Default)]
pub struct Stamped<F> {
    inner: F,
    mode: Mode,
    /// What [`Mode::Detect`] found in the first line: the wrapped format writes one kind of
    /// line, so later lines need no look.
    learned: AtomicU8,
}

/// [`Stamped::learned`]: nothing seen yet, text, JSON.
const UNKNOWN: u8 = 0;
const TEXT: u8 = 1;
const JSON: u8 = 2;

impl<F: Clone> Clone for Stamped<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            mode: self.mode,
            learned: AtomicU8::new(self.learned.load(Ordering::Relaxed)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Detect,
    Text,
    Json,
}

impl<F> Stamped<F> {
    /// Stamps the lines of `inner`, telling JSON from text by the line's first character.
    pub fn new(inner: F) -> Self {
        Self {
            inner,
            mode: Mode::Detect,
            learned: AtomicU8::new(UNKNOWN),
        }
    }

    /// Stamps the lines of `inner` as text: the ids in front.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::Stamped;
    /// let format = Stamped::text(tracing_subscriber::fmt::format().pretty());
    /// # drop(format);
    /// ```
    pub fn text(inner: F) -> Self {
        Self {
            inner,
            mode: Mode::Text,
            learned: AtomicU8::new(UNKNOWN),
        }
    }

    /// Stamps the lines of `inner` as JSON objects: the ids as top-level keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::Stamped;
    /// let format = Stamped::json(tracing_subscriber::fmt::format().json());
    /// # drop(format);
    /// ```
    pub fn json(inner: F) -> Self {
        Self {
            inner,
            mode: Mode::Json,
            learned: AtomicU8::new(UNKNOWN),
        }
    }

    /// The wrapped format.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The wrapped format, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The wrapped format, unwrapped.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<S, N, F> FormatEvent<S, N> for Stamped<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let text_known = match self.mode {
            Mode::Text => true,
            Mode::Detect => {
                writer.has_ansi_escapes() || self.learned.load(Ordering::Relaxed) == TEXT
            }
            Mode::Json => false,
        };
        if text_known {
            // The common case, made cheap: the prefix is written from the context in place
            // (no user code runs while the slot is borrowed), with no copy of the ids.
            if let Some(written) = crate::scope::with_current(|c| {
                c.map(|c| write_prefix(&mut writer, c.run_id(), c.trace_id().short().as_str()))
            }) {
                written?;
                return self.inner.format_event(ctx, writer, event);
            }
        }
        let Some(stamp) = Stamp::for_event(ctx, event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mode = match self.mode {
            // Colors are never on for JSON: write the ids straight away, and keep them.
            Mode::Detect if writer.has_ansi_escapes() => Mode::Text,
            Mode::Detect => match self.learned.load(Ordering::Relaxed) {
                TEXT => Mode::Text,
                JSON => Mode::Json,
                _ => Mode::Detect,
            },
            mode => mode,
        };
        if mode == Mode::Text {
            write_text_prefix(&mut writer, &stamp)?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut splice = Splice {
            out: &mut writer,
            stamp: &stamp,
            state: if mode == Mode::Json {
                State::Json
            } else {
                State::Detect
            },
            found: UNKNOWN,
        };
        // The wrapped format wrote nothing, or not an object: what it wrote is left so.
        let result = self
            .inner
            .format_event(ctx, Writer::new(&mut splice), event);
        if mode == Mode::Detect && splice.found != UNKNOWN {
            self.learned.store(splice.found, Ordering::Relaxed);
        }
        result
    }
}

/// `[run_id] [trace_id] `
fn write_text_prefix(w: &mut impl fmt::Write, stamp: &Stamp) -> fmt::Result {
    write_prefix(w, stamp.run_id(), stamp.trace_id.short().as_str())
}

/// `[run_id] [short_trace_id] `, laid out on the stack and written at once.
fn write_prefix(w: &mut impl fmt::Write, run: &str, short: &str) -> fmt::Result {
    let run = &run.as_bytes()[..run.len().min(crate::MAX_RUN_ID_LEN)];
    let mut buf = [0u8; crate::MAX_RUN_ID_LEN + 14];
    let mut len = 0;
    for piece in [&b"["[..], run, b"] [", short.as_bytes(), b"] "] {
        buf[len..len + piece.len()].copy_from_slice(piece);
        len += piece.len();
    }
    // Run ids and hex digits are ASCII.
    w.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
}

/// `"run_id":"…","trace_id":"…","span_id":"…"[,"parent_span_id":"…"]`. Run ids and hex ids
/// hold nothing JSON escapes, so they are written as they are.
fn write_json_keys(w: &mut impl fmt::Write, stamp: &Stamp) -> fmt::Result {
    w.write_str("\"run_id\":\"")?;
    w.write_str(stamp.run_id())?;
    w.write_str("\",\"trace_id\":\"")?;
    w.write_str(&stamp.trace_id.short())?;
    write!(w, "\",\"span_id\":\"{}\"", stamp.span_id)?;
    if let Some(parent) = stamp.parent_span_id {
        write!(w, ",\"parent_span_id\":\"{parent}\"")?;
    }
    Ok(())
}

/// Where the splice is in the line the wrapped format streams.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing written yet; JSON if it starts with `{`.
    Detect,
    /// JSON: waiting for the `{`.
    Json,
    /// The `{` and the ids are written; a comma goes before the next key, none before `}`.
    AfterIds,
    /// The rest passes through.
    Through,
}

/// A `fmt::Write` that writes the ids into the line as it streams by.
struct Splice<'a, 'w> {
    out: &'a mut Writer<'w>,
    stamp: &'a Stamp,
    state: State,
    /// What the first chunk showed the line to be.
    found: u8,
}

impl fmt::Write for Splice<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        match self.state {
            State::Through => self.out.write_str(s),
            State::Detect | State::Json => {
                let json_start = s.strip_prefix('{');
                match (json_start, self.state) {
                    (Some(rest), _) => {
                        self.found = JSON;
                        self.out.write_char('{')?;
                        write_json_keys(self.out, self.stamp)?;
                        self.state = State::AfterIds;
                        self.write_str(rest)
                    }
                    (None, State::Detect) => {
                        self.found = TEXT;
                        self.state = State::Through;
                        write_text_prefix(self.out, self.stamp)?;
                        self.out.write_str(s)
                    }
                    // Not an object after all: written as it is.
                    _ => {
                        self.state = State::Through;
                        self.out.write_str(s)
                    }
                }
            }
            State::AfterIds => {
                self.state = State::Through;
                if !s.starts_with('}') {
                    self.out.write_char(',')?;
                }
                self.out.write_str(s)
            }
        }
    }
}
