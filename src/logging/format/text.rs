//! The text format: one line per event, laid out by a template.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::template::{Segment, Template, TemplateError};
use super::{has_fields, is_user_field, level_str};
use crate::escape::Escaper;
use crate::logging::stamp::{NO_CONTEXT, Stamp};
use crate::logging::time::{Clock, SystemClock};
use crate::time::Timestamp;

/// The text [`FormatEvent`]: one line per event, laid out by a template and stamped with the
/// event's trace context.
///
/// The default template is [`DEFAULT_TEMPLATE`](crate::logging::DEFAULT_TEMPLATE):
/// `[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO target - message k=v`.
/// Outside any context the ids print as `-`. Placeholders: `{timestamp}` (RFC 3339 UTC, in
/// microseconds), `{run_id}`, `{trace_id}` (8 hex), `{span_id}` and `{parent_span_id}`
/// (16 hex), `{level}`, `{target}`, `{message}`, `{fields}` (`k=v` pairs; the spaces before it
/// are left out when the event has no fields). `{{` and `}}` are literal braces.
///
/// `{timestamp:FORMAT}` lays the time out in a subset of `strftime`, in UTC:
/// `{timestamp:%Y-%m-%d %H:%M:%S}` writes `2024-01-01 10:00:00`; `%f` adds microseconds, `%3f`
/// milliseconds (see [`TimeFormat`](crate::time::TimeFormat) for every directive). A template
/// in the syntax of Python's `logging` (`%(levelname)s`) is refused, with the `{name}` to write
/// instead.
///
/// ```
/// use tracectx::logging::{FixedClock, builder, file_writer};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("app.log");
/// // The platform guide's line, exactly.
/// let template = "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}";
/// let subscriber = builder()
///     .with_format(template)
///     .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z")?)
///     .with_writer(file_writer(&path)?)
///     .build()?;
/// let ctx = tracectx::TraceContext::new("backtest_abc123")?
///     .with_trace_id("a1b2c3d4".parse()?);
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info!("Processing data"));
/// });
/// assert_eq!(
///     std::fs::read_to_string(&path)?,
///     "[2024-01-01 10:00:00] [backtest_abc123] [a1b2c3d4] INFO - Processing data\n"
/// );
///
/// let err = builder().with_format("%(asctime)s %(levelname)s %(message)s").build().err().unwrap();
/// assert!(err.to_string().contains("write {timestamp} instead"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Messages, targets and field values are escaped so that one event is always one line, and a
/// message can never start a line that looks like another run's: `\n`, `\r`, `\t` as those
/// escapes; other control characters (ESC of terminal sequences included), the Unicode line
/// separators and the bidirectional overrides as `\u{..}`. Event fields are visited by the format itself, not by the fmt
/// layer's `FormatFields`, because that is where the escaping happens.
///
/// An event with a field whose `Debug` or `Display` panics (a bug in the value's code) makes
/// no line, nor half of one: the panic is caught, and said on stderr with the event's place.
/// The code that logged goes on.
///
/// # Examples
///
/// With your own subscriber: add [`SpanContextLayer`](crate::logging::SpanContextLayer) too, so
/// events in spans created inside a scope are stamped wherever they fire.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{file_writer, TextFormat, SpanContextLayer};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let format = TextFormat::from_template("[{run_id}] {level} - {message} {fields}")?;
/// let fmt = tracing_subscriber::fmt::layer().event_format(format);
/// let subscriber = tracing_subscriber::registry()
///     .with(SpanContextLayer::new())
///     .with(fmt.with_writer(file_writer(&path)?));
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(answer = 42, "hello");
///     ctx.sync_scope(|| tracing::warn!(answer = 43, "two\nlines")); // one line still
/// });
/// let text = std::fs::read_to_string(&path)?;
/// assert_eq!(text, "[-] INFO - hello answer=42\n[job_1] WARN - two\\nlines answer=43\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextFormat<C = SystemClock> {
    template: Template,
    clock: C,
}

impl TextFormat {
    /// The format with [`DEFAULT_TEMPLATE`](crate::logging::DEFAULT_TEMPLATE).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, FixedClock, SpanContextLayer, TextFormat};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let format = TextFormat::new().with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z")?);
    /// let fmt = tracing_subscriber::fmt::layer().event_format(format);
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(SpanContextLayer::new())
    ///     .with(fmt.with_writer(file_writer(&path)?));
    /// let ctx = tracectx::TraceContext::new("backtest_abc123")?.with_trace_id("a1b2c3d4".parse()?);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info!(target: "engine", qty = 10, "filled"));
    /// });
    /// assert_eq!(
    ///     std::fs::read_to_string(&path)?,
    ///     "[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO engine - filled qty=10\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, TextFormat};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// // Any `Fn() -> SystemTime` is a clock.
    /// let format = TextFormat::from_template("{timestamp} {message}")?
    ///     .with_clock(|| UNIX_EPOCH + Duration::from_millis(86_400_250));
    /// let fmt = tracing_subscriber::fmt::layer().event_format(format);
    /// let subscriber = tracing_subscriber::registry().with(fmt.with_writer(file_writer(&path)?));
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("tick"));
    /// assert_eq!(std::fs::read_to_string(&path)?, "1970-01-02T00:00:00.250000Z tick\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
                Segment::Timestamp(None) => w.write_str(
                    Timestamp::from_system_time(self.clock.now())
                        .rfc3339_micros()
                        .as_str(),
                )?,
                Segment::Timestamp(Some(format)) => {
                    format.write(Timestamp::from_system_time(self.clock.now()), w)?
                }
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
                Segment::Target => Escaper::new(w).write_str(meta.target())?,
                Segment::Message => {
                    let mut visitor = TextMessage {
                        out: Escaper::new(w),
                        result: Ok(()),
                    };
                    event.record(&mut visitor);
                    visitor.result?;
                    message_was_empty = !visitor.out.wrote();
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
        super::panic_as_error(event, || {
            let stamp = Stamp::for_event(ctx, event);
            self.write_line(&mut writer, stamp.as_ref(), event)?;
            writer.write_char('\n')
        })
    }
}

/// Writes the `message` field, escaped.
struct TextMessage<'a, 'w> {
    out: Escaper<'a, Writer<'w>>,
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
            let mut out = Escaper::new(&mut *self.out);
            out.write_str(field.name())?;
            out.inner().write_char('=')?;
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
