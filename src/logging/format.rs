//! How one event becomes one line: the text template, JSON, the clock and escaping.
//!
//! Both formats are [`FormatEvent`]s, so they plug into any `tracing_subscriber::fmt` layer.
//! The stamp (run id, trace id, span ids) is read when the event is formatted: first from the
//! task-local slot, then, when the slot is empty, from the context that
//! [`TraceContextLayer`](super::TraceContextLayer) remembered on the event's spans.
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

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use serde::ser::{SerializeMap, Serializer as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{MAX_RUN_ID_LEN, SpanId, TraceContext, TraceId};
use crate::time::{ParseTimestampError, Timestamp};

/// The text layout [`configure_logging`](super::configure_logging) writes:
/// `[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO target - message k=v`.
///
/// `tracectx logs` reads lines of this layout (and JSON lines).
pub const DEFAULT_TEMPLATE: &str =
    "[{timestamp}] [{run_id}] [{trace_id}] {level} {target} - {message} {fields}";

/// What the text format prints for an id when the event has no trace context.
pub const NO_CONTEXT: &str = "-";

// === impl Clock ===

/// Where a format reads the time of an event.
///
/// [`SystemClock`] is the real one; [`FixedClock`] always says the same instant, so tests can
/// compare whole lines. Any `Fn() -> SystemTime` is a clock too.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tracectx::logging::{Clock, FixedClock};
///
/// let clock = FixedClock::new(UNIX_EPOCH + Duration::from_secs(1_704_103_200));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_704_103_200));
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time, as this clock tells it.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock ([`SystemTime::now`]).
///
/// # Examples
///
/// ```
/// use tracectx::logging::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant, for tests that compare whole lines.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{builder, FixedClock};
///
/// let clock = FixedClock::rfc3339("2024-01-01T10:00:00.000000Z").unwrap();
/// let _subscriber = builder().with_clock(clock).build()?;
/// # Ok::<(), tracectx::logging::TemplateError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(SystemTime);

impl FixedClock {
    /// A clock that always says `at`.
    pub fn new(at: SystemTime) -> Self {
        Self(at)
    }

    /// A clock that always says the instant written in RFC 3339
    /// (`2024-01-01T10:00:00.000000Z`, fraction optional; see
    /// [`Timestamp::parse_rfc3339`]).
    ///
    /// # Errors
    ///
    /// The [`ParseTimestampError`] of `text`.
    pub fn rfc3339(text: &str) -> Result<Self, ParseTimestampError> {
        Timestamp::parse_rfc3339(text).map(|t| Self(t.to_system_time()))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

impl Clock for Arc<dyn Clock> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

// === impl Stamp ===

/// The ids of one event's context, copied onto the stack.
///
/// Copying (a run id is at most 128 bytes) instead of cloning the handle keeps the hot path
/// free of atomic operations, and lets the event be formatted *outside* the
/// [`with_current`](crate::with_current) closure: formatting runs user `Debug` code, which must
/// not run while the task-local slot is borrowed.
pub(crate) struct Stamp {
    run: [u8; MAX_RUN_ID_LEN],
    run_len: usize,
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
}

impl Stamp {
    pub(crate) fn of(ctx: &TraceContext) -> Self {
        let id = ctx.run_id().as_bytes();
        let run_len = id.len().min(MAX_RUN_ID_LEN);
        let mut run = [0u8; MAX_RUN_ID_LEN];
        run[..run_len].copy_from_slice(&id[..run_len]);
        Self {
            run,
            run_len,
            trace_id: ctx.trace_id(),
            span_id: ctx.span_id(),
            parent_span_id: ctx.parent_span_id(),
        }
    }

    /// The stamp for `event`: the task-local context, else the one remembered on its spans.
    pub(crate) fn for_event<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<Self>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        crate::scope::with_current(|c| c.map(Self::of))
            .or_else(|| super::layer::remembered(ctx.event_scope()?))
    }

    fn run_id(&self) -> &str {
        // Run ids are validated ASCII, so this never fails.
        std::str::from_utf8(&self.run[..self.run_len]).unwrap_or(NO_CONTEXT)
    }
}

// === impl Template ===

/// A parsed text template; see [`TextFormat::from_template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    Timestamp,
    RunId,
    TraceId,
    SpanId,
    ParentSpanId,
    Level,
    Target,
    Message,
    /// `sep` is the whitespace written before the fields, elided when there are none.
    Fields {
        sep: Box<str>,
    },
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "timestamp",
    "run_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "level",
    "target",
    "message",
    "fields",
];

/// Why a text template was refused.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{TemplateError, TextFormat};
///
/// let err = TextFormat::from_template("[{run}] {message}").unwrap_err();
/// assert_eq!(err, TemplateError::UnknownPlaceholder { name: "run".into(), at: 1 });
/// assert_eq!(err.to_string(), "unknown placeholder {run} at byte 1 of the log template");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `{name}` that is not one of the known placeholders.
    #[error("unknown placeholder {{{name}}} at byte {at} of the log template")]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// Byte offset of the `{`.
        at: usize,
    },
    /// A `{` with no `}` after it (write `{{` for a literal brace).
    #[error("unclosed \"{{\" at byte {at} of the log template")]
    UnclosedBrace {
        /// Byte offset of the `{`.
        at: usize,
    },
    /// A `}` with no `{` before it (write `}}` for a literal brace).
    #[error("unmatched \"}}\" at byte {at} of the log template")]
    UnmatchedBrace {
        /// Byte offset of the `}`.
        at: usize,
    },
    /// A newline or other control character, which would split one event over lines.
    #[error("control character {ch:?} at byte {at} of the log template")]
    ControlCharacter {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

impl Template {
    pub(crate) fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::UnmatchedBrace { at }),
                '{' => {
                    let rest = &template[at + 1..];
                    let end = match rest.find(['}', '{']) {
                        Some(end) if rest.as_bytes()[end] == b'}' => end,
                        _ => return Err(TemplateError::UnclosedBrace { at }),
                    };
                    let name = &rest[..end];
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                    let segment = match name {
                        "timestamp" => Segment::Timestamp,
                        "run_id" => Segment::RunId,
                        "trace_id" => Segment::TraceId,
                        "span_id" => Segment::SpanId,
                        "parent_span_id" => Segment::ParentSpanId,
                        "level" => Segment::Level,
                        "target" => Segment::Target,
                        "message" => Segment::Message,
                        "fields" => {
                            let kept = literal.trim_end_matches([' ', '\u{3000}']).len();
                            let sep = literal.split_off(kept);
                            Segment::Fields { sep: sep.into() }
                        }
                        _ => {
                            return Err(TemplateError::UnknownPlaceholder {
                                name: name.to_owned(),
                                at,
                            });
                        }
                    };
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal).into()));
                    }
                    segments.push(segment);
                }
                c if needs_escape(c) => return Err(TemplateError::ControlCharacter { ch: c, at }),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal.into()));
        }
        Ok(Self { segments })
    }

    fn default_template() -> Self {
        Self::parse(DEFAULT_TEMPLATE).unwrap_or_else(|_| Self {
            segments: Vec::new(),
        })
    }
}

// === impl TextFormat ===

/// The text [`FormatEvent`]: one line per event, laid out by a template and stamped with the
/// event's trace context.
///
/// The default template is [`DEFAULT_TEMPLATE`]:
/// `[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO target - message k=v`.
/// Outside any context the ids print as `-`. Placeholders: `{timestamp}` (RFC 3339 UTC, in
/// microseconds), `{run_id}`, `{trace_id}` (8 hex), `{span_id}` and `{parent_span_id}`
/// (16 hex), `{level}`, `{target}`, `{message}`, `{fields}` (`k=v` pairs; the spaces before it
/// are left out when the event has no fields). `{{` and `}}` are literal braces.
///
/// Messages, targets and field values are escaped so that one event is always one line, and a
/// message can never start a line that looks like another run's: `\n`, `\r`, `\t` as those
/// escapes; other control characters (ESC of terminal sequences included), the Unicode line
/// separators and the bidirectional overrides as `\u{..}`. Event fields are visited by the format itself, not by the fmt
/// layer's `FormatFields`, because that is where the escaping happens.
///
/// # Examples
///
/// With your own subscriber: add [`TraceContextLayer`](super::TraceContextLayer) too, so
/// events in spans created inside a scope are stamped wherever they fire.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{FixedClock, TextFormat, TraceContextLayer};
///
/// let format = TextFormat::from_template("[{run_id}] {level} - {message} {fields}")?
///     .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z").unwrap());
/// let subscriber = tracing_subscriber::registry()
///     .with(TraceContextLayer::new())
///     .with(tracing_subscriber::fmt::layer().event_format(format));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(answer = 42, "hello"); // prints "[-] INFO - hello answer=42"
/// });
/// # Ok::<(), tracectx::logging::TemplateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextFormat<C = SystemClock> {
    template: Template,
    clock: C,
}

impl TextFormat {
    /// The format with [`DEFAULT_TEMPLATE`].
    pub fn new() -> Self {
        Self {
            template: Template::default_template(),
            clock: SystemClock,
        }
    }

    /// The format with `template`, parsed once, here.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] naming an unknown placeholder, an unbalanced brace or a control
    /// character, with its byte offset.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::TextFormat;
    ///
    /// assert!(TextFormat::from_template("{level} [{run_id}] {message}").is_ok());
    /// let err = TextFormat::from_template("{level} {message").unwrap_err();
    /// assert_eq!(err.to_string(), "unclosed \"{\" at byte 8 of the log template");
    /// ```
    pub fn from_template(template: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            template: Template::parse(template)?,
            clock: SystemClock,
        })
    }
}

impl Default for TextFormat {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> TextFormat<C> {
    /// The same format, reading the time from `clock`.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TextFormat<C2> {
        TextFormat {
            template: self.template,
            clock,
        }
    }

    /// Writes one event, without the trailing newline.
    fn write_line(
        &self,
        w: &mut Writer<'_>,
        stamp: Option<&Stamp>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut message_was_empty = false;
        for segment in &self.template.segments {
            match segment {
                Segment::Literal(text) => w.write_str(text)?,
                Segment::Timestamp => w.write_str(
                    Timestamp::from_system_time(self.clock.now())
                        .rfc3339_micros()
                        .as_str(),
                )?,
                Segment::RunId => w.write_str(stamp.map_or(NO_CONTEXT, Stamp::run_id))?,
                Segment::TraceId => match stamp {
                    Some(s) => w.write_str(&s.trace_id.short())?,
                    None => w.write_str(NO_CONTEXT)?,
                },
                Segment::SpanId => match stamp {
                    Some(s) => write!(w, "{}", s.span_id)?,
                    None => w.write_str(NO_CONTEXT)?,
                },
                Segment::ParentSpanId => match stamp.and_then(|s| s.parent_span_id) {
                    Some(p) => write!(w, "{p}")?,
                    None => w.write_str(NO_CONTEXT)?,
                },
                Segment::Level => w.write_str(level_str(meta.level()))?,
                Segment::Target => Escaped::new(w).write_str(meta.target())?,
                Segment::Message => {
                    let mut visitor = TextMessage {
                        out: Escaped::new(w),
                        result: Ok(()),
                    };
                    event.record(&mut visitor);
                    visitor.result?;
                    message_was_empty = !visitor.out.wrote;
                }
                Segment::Fields { sep } => {
                    if has_fields(event) {
                        if !message_was_empty {
                            w.write_str(sep)?;
                        }
                        let mut visitor = TextFields {
                            out: w,
                            first: true,
                            result: Ok(()),
                        };
                        event.record(&mut visitor);
                        visitor.result?;
                    }
                }
            }
            if !matches!(segment, Segment::Message) {
                message_was_empty = false;
            }
        }
        Ok(())
    }
}

impl<S, N, C> FormatEvent<S, N> for TextFormat<C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    C: Clock,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let stamp = Stamp::for_event(ctx);
        self.write_line(&mut writer, stamp.as_ref(), event)?;
        writer.write_char('\n')
    }
}

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

// === escaping ===

/// Whether the text format escapes `c`.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A `fmt::Write` adapter that escapes what could break or disguise a line.
struct Escaped<'a, W: fmt::Write + ?Sized> {
    inner: &'a mut W,
    wrote: bool,
}

impl<'a, W: fmt::Write + ?Sized> Escaped<'a, W> {
    fn new(inner: &'a mut W) -> Self {
        Self {
            inner,
            wrote: false,
        }
    }
}

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        self.wrote = true;
        // Fast path: printable ASCII needs nothing.
        if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return self.inner.write_str(s);
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if !needs_escape(c) {
                continue;
            }
            self.inner.write_str(&s[start..i])?;
            match c {
                '\n' => self.inner.write_str("\\n")?,
                '\r' => self.inner.write_str("\\r")?,
                '\t' => self.inner.write_str("\\t")?,
                c => write!(self.inner, "\\u{{{:x}}}", c as u32)?,
            }
            start = i + c.len_utf8();
        }
        self.inner.write_str(&s[start..])
    }
}

/// Writes the `message` field, escaped.
struct TextMessage<'a, 'w> {
    out: Escaped<'a, Writer<'w>>,
    result: fmt::Result,
}

impl Visit for TextMessage<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && self.result.is_ok() {
            self.result = self.out.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" && self.result.is_ok() {
            self.result = write!(self.out, "{value:?}");
        }
    }
}

/// Writes every other field as `k=v`, space separated, values escaped.
struct TextFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextFields<'_, '_> {
    fn write_pair(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() || !is_user_field(field.name()) {
            return;
        }
        self.result = (|| {
            if !self.first {
                self.out.write_char(' ')?;
            }
            self.first = false;
            let mut out = Escaped::new(&mut *self.out);
            out.write_str(field.name())?;
            out.inner.write_char('=')?;
            out.write_fmt(value)
        })();
    }
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write_pair(field, format_args!("{value:?}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write_pair(field, format_args!("{value:?}"));
    }
}

// === impl JsonFormat ===

/// Event field names that the JSON format writes itself; an event field with one of these
/// names is written as `fields.<name>` so it can never shadow the stamp.
const RESERVED: &[&str] = &[
    "timestamp",
    "level",
    "target",
    "run_id",
    "trace_id",
    "span_id",
    "parent_span_id",
];

/// The JSON [`FormatEvent`]: one JSON object per line.
///
/// Keys: `timestamp`, `level`, `run_id`, `trace_id` (8 hex), `span_id`, `parent_span_id`
/// (16 hex), `target`, `message`, then each event field at the top level, as its JSON type
/// (numbers, booleans, strings; `Debug` values as strings). The four id keys are absent outside
/// any context (and `parent_span_id` for a context without a parent). An event field named like
/// one of the stamp's keys is written as `fields.<name>`, so a field can never pass itself off
/// as the run id.
///
/// Fields sit at the top level, not under `"fields"` as in tracing-subscriber's JSON, because
/// the ids are what log stores index and a flat line is what they index best.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{JsonFormat, TraceContextLayer};
///
/// let subscriber = tracing_subscriber::registry()
///     .with(TraceContextLayer::new())
///     .with(tracing_subscriber::fmt::layer().event_format(JsonFormat::new()));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(answer = 42, "hello");
///     // {"timestamp":"…","level":"INFO","target":"…","message":"hello","answer":42}
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonFormat<C = SystemClock> {
    clock: C,
}

impl JsonFormat {
    /// The JSON format with the system clock.
    pub fn new() -> Self {
        Self { clock: SystemClock }
    }
}

impl<C: Clock> JsonFormat<C> {
    /// The same format, reading the time from `clock`.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> JsonFormat<C2> {
        JsonFormat { clock }
    }

    fn write_json(
        &self,
        buf: &mut Vec<u8>,
        stamp: Option<&Stamp>,
        event: &Event<'_>,
    ) -> Result<(), serde_json::Error> {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut ser = serde_json::Serializer::new(buf);
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry(
            "timestamp",
            Timestamp::from_system_time(self.clock.now())
                .rfc3339_micros()
                .as_str(),
        )?;
        map.serialize_entry("level", level_str(meta.level()))?;
        if let Some(s) = stamp {
            map.serialize_entry("run_id", s.run_id())?;
            map.serialize_entry("trace_id", &*s.trace_id.short())?;
            map.serialize_entry("span_id", &Display(s.span_id))?;
            if let Some(p) = s.parent_span_id {
                map.serialize_entry("parent_span_id", &Display(p))?;
            }
        }
        map.serialize_entry("target", meta.target())?;
        let mut message = JsonMessage {
            map: &mut map,
            found: false,
            result: Ok(()),
        };
        event.record(&mut message);
        let found = message.found;
        message.result?;
        if !found {
            map.serialize_entry("message", "")?;
        }
        let mut fields = JsonFields {
            map: &mut map,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        map.end()
    }
}

thread_local! {
    /// A per-thread buffer for JSON lines, so formatting one does not allocate.
    static JSON_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<S, N, C> FormatEvent<S, N> for JsonFormat<C>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    C: Clock,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let stamp = Stamp::for_event(ctx);
        let mut write = |buf: &mut Vec<u8>| {
            buf.clear();
            self.write_json(buf, stamp.as_ref(), event)
                .map_err(|_| fmt::Error)?;
            // serde_json writes UTF-8 only.
            writer.write_str(std::str::from_utf8(buf).map_err(|_| fmt::Error)?)?;
            writer.write_char('\n')
        };
        // A `Debug` impl that logs re-enters here while the buffer is borrowed: give it its own.
        JSON_BUF
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut buf) => {
                    let r = write(&mut buf);
                    if buf.capacity() > 64 * 1024 {
                        *buf = Vec::new();
                    }
                    r
                }
                Err(_) => write(&mut Vec::new()),
            })
            .unwrap_or_else(|_| write(&mut Vec::new()))
    }
}

/// Serializes a `Display` value as a JSON string, streaming it through serde_json's escaping.
struct Display<T>(T);

impl<T: fmt::Display> serde::Serialize for Display<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Serializes a `Debug` value as a JSON string.
struct DebugStr<'a>(&'a dyn fmt::Debug);

impl serde::Serialize for DebugStr<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:?}", self.0))
    }
}

type JsonMap<'a, 'b> =
    serde_json::ser::Compound<'b, &'a mut Vec<u8>, serde_json::ser::CompactFormatter>;

struct JsonMessage<'m, 'a, 'b> {
    map: &'m mut JsonMap<'a, 'b>,
    found: bool,
    result: Result<(), serde_json::Error>,
}

impl Visit for JsonMessage<'_, '_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && self.result.is_ok() && !self.found {
            self.found = true;
            self.result = self.map.serialize_entry("message", value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" && self.result.is_ok() && !self.found {
            self.found = true;
            self.result = self.map.serialize_entry("message", &DebugStr(value));
        }
    }
}

struct JsonFields<'m, 'a, 'b> {
    map: &'m mut JsonMap<'a, 'b>,
    result: Result<(), serde_json::Error>,
}

impl JsonFields<'_, '_, '_> {
    fn entry<V: serde::Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        let name = field.name();
        if self.result.is_err() || !is_user_field(name) {
            return;
        }
        self.result = if RESERVED.contains(&name) {
            self.map
                .serialize_entry(&format_args!("fields.{name}").to_string(), value)
        } else {
            self.map.serialize_entry(name, value)
        };
    }
}

impl Visit for JsonFields<'_, '_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, &value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, &value);
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.entry(field, &value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.entry(field, &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, &value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.entry(field, &Display(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, &DebugStr(value));
    }
}

// === impl LogFormat ===

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

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_one_line() {
        let mut out = String::new();
        Escaped::new(&mut out)
            .write_str("a\nb\r\tc\u{1b}[31m\u{2028}é")
            .unwrap();
        assert_eq!(out, "a\\nb\\r\\tc\\u{1b}[31m\\u{2028}é");
    }

    #[test]
    fn fields_separator_is_split_off() {
        let t = Template::parse("{message}  {fields}").unwrap();
        assert_eq!(
            t.segments,
            vec![Segment::Message, Segment::Fields { sep: "  ".into() }]
        );
    }
}
