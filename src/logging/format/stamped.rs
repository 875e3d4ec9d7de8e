//! `Stamped<F>`: the run's ids added to any `FormatEvent`, the user's format kept.

use std::fmt;

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
///   streamed: the line is neither buffered nor parsed again.
///
/// Outside any context nothing is added. The context is found as the crate's own formats find
/// it: the task-local slot, else the context a span remembered
/// ([`SpanContextLayer`](crate::logging::SpanContextLayer); add it to the subscriber too).
///
/// [`new`](Self::new) tells JSON from text by the first character the wrapped format writes
/// (`{`) when the writer has no colors (tracing-subscriber turns them off for JSON); a text
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
#[derive(Debug, Clone, Default)]
pub struct Stamped<F> {
    inner: F,
    mode: Mode,
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
        let Some(stamp) = Stamp::for_event(ctx, event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mode = match self.mode {
            // Colors are never on for JSON: write the ids straight away, and keep them.
            Mode::Detect if writer.has_ansi_escapes() => Mode::Text,
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
        };
        // The wrapped format wrote nothing, or not an object: what it wrote is left so.
        self.inner
            .format_event(ctx, Writer::new(&mut splice), event)
    }
}

/// `[run_id] [trace_id] `
fn write_text_prefix(w: &mut impl fmt::Write, stamp: &Stamp) -> fmt::Result {
    w.write_char('[')?;
    w.write_str(stamp.run_id())?;
    w.write_str("] [")?;
    w.write_str(&stamp.trace_id.short())?;
    w.write_str("] ")
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
                        self.out.write_char('{')?;
                        write_json_keys(self.out, self.stamp)?;
                        self.state = State::AfterIds;
                        self.write_str(rest)
                    }
                    (None, State::Detect) => {
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
