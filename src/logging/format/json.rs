//! The JSON format: one JSON object per line, the ids as top-level keys.

use std::cell::RefCell;
use std::fmt;

use serde::ser::{SerializeMap, Serializer as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{is_user_field, level_str};
use crate::logging::stamp::Stamp;
use crate::logging::time::{Clock, SystemClock};
use crate::time::Timestamp;

/// Keys that the JSON format writes itself; an event field with one of these names is written
/// as `fields.<name>` so it can never shadow the stamp.
pub(super) const RESERVED: &[&str] = &[
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
/// any context (and `parent_span_id` for a context without a parent). Every key appears once:
/// an event field named like one of the format's own keys (`run_id`, `timestamp`, ...) is
/// written as `fields.<name>`, and one already named `fields.<such a key>` gets one more
/// `fields.` in front, so a field can never pass itself off as the run id nor write a second
/// key of the same name.
///
/// Strings are escaped as JSON requires, and the characters that could disguise a line on a
/// terminal (the bidirectional controls, the byte order mark, DEL and C1 controls, the line
/// separators; see [`escape`](crate::escape)) are written as `\u` escapes too: the same value
/// for any JSON reader, harmless to `cat`.
///
/// Fields sit at the top level, not under `"fields"` as in tracing-subscriber's JSON, because
/// the ids are what log stores index and a flat line is what they index best.
///
/// An event with a field whose `Debug` or `Display` panics (a bug in the value's code) makes
/// no line, nor half of one: the panic is caught, and said on stderr with the event's place.
/// The code that logged goes on.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{file_writer, JsonFormat, SpanContextLayer};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.jsonl");
/// let fmt = tracing_subscriber::fmt::layer().event_format(JsonFormat::new());
/// let subscriber = tracing_subscriber::registry()
///     .with(SpanContextLayer::new())
///     .with(fmt.with_writer(file_writer(&path)?));
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info!(answer = 42, "hello"));
/// });
/// // {"timestamp":"…","level":"INFO","run_id":"job_1","trace_id":"…",…,"answer":42}
/// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
/// assert_eq!(line["run_id"], "job_1");
/// assert_eq!(line["trace_id"], ctx.trace_id().to_string());
/// assert_eq!((line["message"].as_str(), line["answer"].as_i64()), (Some("hello"), Some(42)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonFormat<C = SystemClock> {
    clock: C,
}

impl JsonFormat {
    /// The JSON format with the system clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, JsonFormat, SpanContextLayer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.jsonl");
    /// let fmt = tracing_subscriber::fmt::layer().event_format(JsonFormat::new());
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(SpanContextLayer::new())
    ///     .with(fmt.with_writer(file_writer(&path)?));
    /// tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "hello"));
    /// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    /// assert_eq!((line["message"].as_str(), line["answer"].as_i64()), (Some("hello"), Some(42)));
    /// assert!(line.get("run_id").is_none()); // logged outside any run
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn new() -> Self {
        Self { clock: SystemClock }
    }
}

impl<C: Clock> JsonFormat<C> {
    /// The same format, reading the time from `clock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, FixedClock, JsonFormat};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.jsonl");
    /// let format = JsonFormat::new().with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z")?);
    /// let fmt = tracing_subscriber::fmt::layer().event_format(format);
    /// let subscriber = tracing_subscriber::registry().with(fmt.with_writer(file_writer(&path)?));
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("tick"));
    /// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    /// assert_eq!(line["timestamp"], "2024-01-01T10:00:00.000000Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        super::panic_as_error(event, || {
            let stamp = Stamp::for_event(ctx, event);
            let write = |buf: &mut Vec<u8>| {
                buf.clear();
                self.write_json(buf, stamp.as_ref(), event)
                    .map_err(|_| fmt::Error)?;
                // serde_json writes UTF-8 only.
                let line = std::str::from_utf8(buf).map_err(|_| fmt::Error)?;
                if crate::escape::json_may_need(buf) {
                    writer.write_str(&crate::escape::json(line))?;
                } else {
                    writer.write_str(line)?;
                }
                writer.write_char('\n')
            };
            super::with_line_buf(&JSON_BUF, write)
        })
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
        self.result = if shadows(name) {
            self.map
                .serialize_entry(&format_args!("fields.{name}").to_string(), value)
        } else {
            self.map.serialize_entry(name, value)
        };
    }
}

/// Whether a key named `name`, written as it is, could be one of the format's own keys or the
/// name another such field is renamed to: `run_id`, `fields.run_id`, `fields.fields.run_id`...
/// Adding `fields.` in front of every such name, and only those, keeps every key apart.
pub(super) fn shadows(name: &str) -> bool {
    let mut base = name;
    while let Some(rest) = base.strip_prefix("fields.") {
        base = rest;
    }
    RESERVED.contains(&base)
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
