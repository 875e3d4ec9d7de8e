//! Reading logs back by run: what `tracectx logs` and `tracectx runs` are made of.
//!
//! Logs of many runs interleave; this module pulls one run's lines back out, fast enough for
//! gigabytes. Three layouts are read, detected per line, so one file may mix them:
//!
//! - text lines in the default layout ([`DEFAULT_TEMPLATE`](super::DEFAULT_TEMPLATE)):
//!   `[timestamp] [run_id] [trace_id] LEVEL ...`. The run id is read from its fixed place in
//!   the prefix, never searched for in the rest of the line: the formatter escapes newlines, so
//!   a message cannot start a line, and a run id cannot hold `]` or a space, so a message that
//!   mentions a run (or imitates a whole line) does not match it;
//! - JSON lines (an object per line) with a top-level `"run_id"` key, as
//!   [`JsonFormat`](super::JsonFormat) writes them; a `run_id` nested deeper or inside a string
//!   does not count;
//! - lines of any other template made with
//!   [`Builder::with_format`](super::Builder::with_format), when the reader is given the same
//!   template ([`Query::with_format`], [`Runs::with_format`], [`LineParser::with_format`];
//!   `tracectx logs --format`): the run id is read where the template placed it. The default
//!   layout and JSON are still read beside it.
//!
//! Lines in no layout the reader knows (another template, another program's output, garbage,
//! a JSON line that is not valid UTF-8 or is cut short) are skipped, never an error. A text
//! line whose prefix is intact belongs to its run even if its message holds stray bytes: it is
//! kept, its bytes unchanged, as `grep -a` would (a program showing it on a terminal escapes it
//! with [`escape`](crate::escape), as `tracectx logs` does).
//!
//! # How a search stays fast
//!
//! The input is read in blocks of 1 MiB. In each block the run id's bytes are searched with
//! `memchr`'s SIMD substring search; only the lines that contain them are parsed (the text
//! prefix by hand, a JSON line with `serde_json`). Most lines of a large log belong to other
//! runs and are never looked at one by one, as with `grep -F`. A JSON writer may escape some
//! characters a run id can hold (`/` as `\/`, `+` as `\u002B` in System.Text.Json): what is
//! searched for is the longest stretch of the id without them (its letters, digits, `_`, `-`
//! and `.`, which writers leave as they are), and the lines holding it are parsed. A writer
//! escaping letters or digits (legal JSON, written by none in use) is read by
//! [`Query::matches`] and [`Runs`], not searched. [`Query::search_with`] reads the next blocks on a second thread while this one
//! searches, so that copying a file out of the page cache (or decompressing it) and searching
//! it overlap: a gigabyte of log is searched about as fast as ripgrep searches it mapped in
//! memory, without mapping it.
//!
//! # What cannot be read
//!
//! A line longer than [`MAX_LINE_LEN`] (64 MiB) is skipped, on every read path, and counted
//! ([`Found::too_long`], [`Runs::too_long_lines`]). A file truncated while it is read
//! ([`open`]) and a damaged gzip stream end the search with an error, after the whole lines
//! read before it.
//!
//! # Examples
//!
//! ```
//! use tracectx::logging::query::Query;
//!
//! let log = "\
//! [2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO engine - start
//! [2024-01-01T10:00:00.000100Z] [backtest_ab12] [0badcafe] INFO engine - start
//! {\"timestamp\":\"2024-01-01T10:00:01.000000Z\",\"level\":\"WARN\",\"run_id\":\"backtest_ab1\",\"message\":\"late\"}
//! [2024-01-01T10:00:02.000000Z] [-] [-] INFO engine - about backtest_ab1, not in it
//! ";
//! let query = Query::new("backtest_ab1")?;
//! let mut out = Vec::new();
//! let matched = query.search(log.as_bytes(), &mut out)?;
//! assert_eq!(matched, 2);
//! assert!(String::from_utf8(out)?.lines().all(|l| l.contains("\"backtest_ab1\"") || l.contains("[backtest_ab1]")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::time::Duration;

use memchr::{memchr, memmem, memrchr};
use tracing::Level;

use crate::context::{InvalidId, RunId, TraceId};
use crate::time::Timestamp;

mod read;
mod template;

use read::{
    FileRead, for_each_block, for_each_block_parallel, for_each_block_read_ahead, for_each_line,
};
pub use read::{MAX_LINE_LEN, decode, open};

// === impl LineStamp ===

/// The layout a line was read in.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{parse_line, LineFormat};
///
/// let text = parse_line(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO app - m");
/// let json = parse_line(br#"{"level":"INFO","run_id":"job_1","message":"m"}"#);
/// assert_eq!(text.map(|s| s.format), Some(LineFormat::Text));
/// assert_eq!(json.map(|s| s.format), Some(LineFormat::Json));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineFormat {
    /// `[timestamp] [run_id] [trace_id] LEVEL ...`
    Text,
    /// A JSON object with top-level `run_id`, `trace_id`, `level`, `timestamp` keys.
    Json,
    /// The template given to the reader ([`LineParser::with_format`]).
    Template,
}

/// What a log line says about itself: when, which run, which trace, how severe.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{parse_line, LineFormat};
///
/// let line = parse_line(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] WARN app - slow").unwrap();
/// assert_eq!(line.format, LineFormat::Text);
/// assert_eq!(line.run_id.as_deref(), Some("job_1"));
/// assert_eq!(line.trace_id.as_deref(), Some("a1b2c3d4"));
/// assert_eq!(line.level, Some(tracing::Level::WARN));
///
/// let outside = parse_line(b"[2024-01-01T10:00:00.000000Z] [-] [-] INFO app - idle").unwrap();
/// assert_eq!(outside.run_id, None);
/// assert!(parse_line(b"garbage").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineStamp<'a> {
    /// The layout the line was read in.
    pub format: LineFormat,
    /// The timestamp as written.
    pub timestamp: Option<Cow<'a, str>>,
    /// The run id; `None` for a line written outside any context.
    pub run_id: Option<Cow<'a, str>>,
    /// The short trace id (8 hex; a full 32-hex id in a JSON line is shortened to its
    /// right-most 8); `None` outside any context.
    pub trace_id: Option<Cow<'a, str>>,
    /// The level, when it is one of tracing's five.
    pub level: Option<Level>,
    /// The timestamp as read by a template's time format.
    micros: Option<i64>,
    /// The full trace id, when the line carries all 32 hex digits of it (a JSON line of
    /// another writer).
    full_trace: Option<u128>,
}

impl LineStamp<'_> {
    /// The timestamp in microseconds since the Unix epoch: as the template's time format
    /// reads it, else if it is RFC 3339.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::parse_line;
    ///
    /// let line = parse_line(b"[1970-01-01T00:00:01.500000Z] [job_1] [-] INFO app - m").unwrap();
    /// assert_eq!(line.timestamp_micros(), Some(1_500_000));
    /// let json = parse_line(br#"{"timestamp":"yesterday","run_id":"job_1"}"#).unwrap();
    /// assert_eq!(json.timestamp.as_deref(), Some("yesterday"));
    /// assert_eq!(json.timestamp_micros(), None);
    /// ```
    pub fn timestamp_micros(&self) -> Option<i64> {
        if self.micros.is_some() {
            return self.micros;
        }
        Timestamp::parse_rfc3339(self.timestamp.as_deref()?)
            .ok()
            .map(Timestamp::as_micros)
    }
}

// === impl LineParser ===

/// How lines are read: the default layout and JSON, and the template a log was written with.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{LineFormat, LineParser};
///
/// let guide = LineParser::with_format(
///     "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}",
/// )?;
/// let line = guide
///     .parse(b"[2024-01-01 10:00:00] [backtest_abc123] [a1b2c3d4] INFO - Processing data")
///     .unwrap();
/// assert_eq!(line.format, LineFormat::Template);
/// assert_eq!(line.run_id.as_deref(), Some("backtest_abc123"));
/// assert_eq!(line.level, Some(tracing::Level::INFO));
/// assert_eq!(line.timestamp_micros(), Some(1_704_103_200_000_000));
/// // The default layout is still read.
/// assert!(guide.parse(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - m").is_some());
/// assert!(LineParser::new().parse(b"[2024-01-01 10:00:00] [backtest_abc123] [a1b2c3d4] INFO - x").is_none());
/// # Ok::<(), tracectx::logging::query::FormatError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineParser {
    template: Option<std::sync::Arc<template::Matcher>>,
}

/// A template a reader cannot use; see [`LineParser::with_format`].
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{FormatError, LineParser};
///
/// let err = LineParser::with_format("{level} - {message}").unwrap_err();
/// assert!(matches!(err, FormatError::NoRunId));
/// assert_eq!(err.to_string(), "the log template has no {run_id}: its lines cannot be read back by run");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The template itself was refused, as [`Builder::with_format`](super::Builder::with_format)
    /// would refuse it.
    #[error(transparent)]
    Template(#[from] super::TemplateError),
    /// The template has no `{run_id}`.
    #[error("the log template has no {{run_id}}: its lines cannot be read back by run")]
    NoRunId,
}

impl LineParser {
    /// Reads the default layout and JSON lines.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::LineParser;
    ///
    /// let parser = LineParser::new();
    /// let line = parser.parse(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] ERROR app - boom");
    /// assert_eq!(line.and_then(|l| l.level), Some(tracing::Level::ERROR));
    /// assert!(parser.parse(b"ERROR [job_1] boom").is_none()); // another layout
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads lines written with `template` (the string given to
    /// [`Builder::with_format`](super::Builder::with_format)), besides the default layout
    /// and JSON lines.
    ///
    /// # Errors
    ///
    /// [`FormatError::Template`] when the template is not valid, [`FormatError::NoRunId`] when
    /// it has no `{run_id}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::{FormatError, LineParser};
    ///
    /// let parser = LineParser::with_format("{level} [{run_id}] {message}")?;
    /// let line = parser.parse(b"WARN [job_1] disk almost full").unwrap();
    /// assert_eq!((line.run_id.as_deref(), line.level), (Some("job_1"), Some(tracing::Level::WARN)));
    /// let err = LineParser::with_format("{level} {message").unwrap_err();
    /// assert!(matches!(err, FormatError::Template(_)));
    /// # Ok::<(), FormatError>(())
    /// ```
    pub fn with_format(template: &str) -> Result<Self, FormatError> {
        let parsed = super::format::template::Template::parse(template)?;
        if parsed == super::format::template::Template::parse(super::DEFAULT_TEMPLATE)? {
            // The default layout has its own, faster reader.
            return Ok(Self::new());
        }
        let (matcher, has_run) = template::Matcher::new(&parsed);
        if !has_run {
            return Err(FormatError::NoRunId);
        }
        Ok(Self {
            template: Some(std::sync::Arc::new(matcher)),
        })
    }

    /// The stamp of one line (without its newline): by the template first, then the default
    /// layout, then JSON; `None` for a line in none of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::{LineFormat, LineParser};
    ///
    /// let parser = LineParser::with_format("{timestamp:%F %T} {run_id} {level} {message}")?;
    /// let line = parser.parse(b"2024-01-01 10:00:00 job_1 INFO start\r").unwrap();
    /// assert_eq!((line.format, line.run_id.as_deref()), (LineFormat::Template, Some("job_1")));
    /// assert_eq!(line.timestamp_micros(), Some(1_704_103_200_000_000));
    /// let json = parser.parse(br#"{"run_id":"job_2","level":"WARN"}"#).unwrap();
    /// assert_eq!(json.format, LineFormat::Json);
    /// # Ok::<(), tracectx::logging::query::FormatError>(())
    /// ```
    pub fn parse<'a>(&self, line: &'a [u8]) -> Option<LineStamp<'a>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(matcher) = &self.template {
            if let Some(stamp) = matcher.parse(line) {
                return Some(stamp);
            }
        }
        parse_line(line)
    }
}

/// The timestamp a log line shows for `micros` since the Unix epoch.
fn micros_rfc3339(micros: i64) -> String {
    Timestamp::from_micros(micros).rfc3339_micros().to_string()
}

/// Reads the stamp of one line (without its newline), text or JSON; `None` for a line in
/// neither layout.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::parse_line;
///
/// let json = br#"{"run_id":"job_1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","level":"warn"}"#;
/// let line = parse_line(json).unwrap();
/// assert_eq!(line.run_id.as_deref(), Some("job_1"));
/// assert_eq!(line.trace_id.as_deref(), Some("0e0e4736")); // shortened as logs show it
/// assert_eq!(line.level, Some(tracing::Level::WARN));
/// // A run id that no context can have is not read as one.
/// assert!(parse_line(b"[2024-01-01T10:00:00.000000Z] [two words] [-] INFO app - m").is_none());
/// ```
pub fn parse_line(line: &[u8]) -> Option<LineStamp<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.first()? {
        b'[' => parse_text(line),
        _ => {
            let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
            if line[start] == b'{' {
                parse_json(line)
            } else {
                None
            }
        }
    }
}

/// `[ts] [run] [trace] LEVEL ...`
fn parse_text(line: &[u8]) -> Option<LineStamp<'_>> {
    let mut rest = line.strip_prefix(b"[")?;
    let mut field = |ok: fn(u8) -> bool| -> Option<&str> {
        let end = memchr(b']', rest)?;
        let value = &rest[..end];
        if value.is_empty() || !value.iter().all(|&b| ok(b)) {
            return None;
        }
        rest = &rest[end + 1..];
        std::str::from_utf8(value).ok()
    };
    let timestamp = field(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'+'))?;
    let sep = |rest: &mut &[u8]| -> Option<()> {
        *rest = rest.strip_prefix(b" [")?;
        Some(())
    };
    sep(&mut rest)?;
    let run = {
        let end = memchr(b']', rest)?;
        let value = std::str::from_utf8(&rest[..end]).ok()?;
        if value != "-" && RunId::new(value).is_err() {
            return None;
        }
        rest = &rest[end + 1..];
        value
    };
    sep(&mut rest)?;
    let trace = {
        let end = memchr(b']', rest)?;
        let value = std::str::from_utf8(&rest[..end]).ok()?;
        if value != "-" && !(value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit())) {
            return None;
        }
        rest = &rest[end + 1..];
        value
    };
    let rest = rest.strip_prefix(b" ")?;
    let end = memchr(b' ', rest).unwrap_or(rest.len());
    let level = parse_level(std::str::from_utf8(&rest[..end]).ok()?);
    Some(LineStamp {
        format: LineFormat::Text,
        timestamp: Some(Cow::Borrowed(timestamp)),
        run_id: (run != "-").then_some(Cow::Borrowed(run)),
        trace_id: (trace != "-").then_some(Cow::Borrowed(trace)),
        level,
        micros: None,
        full_trace: None,
    })
}

/// The stamp's keys of a JSON line. A value that is not a string (pino's numeric `level`, an
/// epoch `timestamp`, `null`) is not read, and the rest of the line still is.
#[derive(serde::Deserialize)]
struct JsonStamp<'a> {
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    level: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    run_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "string_or_none")]
    trace_id: Option<Cow<'a, str>>,
}

/// A JSON string (borrowed when it holds no escape), else `None`, whatever the value is.
fn string_or_none<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct StringOrNone;

    impl<'de> serde::de::Visitor<'de> for StringOrNone {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }

        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }

        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }

    d.deserialize_any(StringOrNone)
}

fn parse_json(line: &[u8]) -> Option<LineStamp<'_>> {
    // JSON is UTF-8: a line that is not is not JSON (serde_json would skip over bad bytes in
    // the values it ignores).
    let line = std::str::from_utf8(line).ok()?;
    let stamp: JsonStamp<'_> = serde_json::from_str(line).ok()?;
    let full_trace = stamp.trace_id.as_deref().and_then(full_trace);
    Some(LineStamp {
        format: LineFormat::Json,
        level: stamp.level.as_deref().and_then(parse_level),
        timestamp: stamp.timestamp,
        // What the text layout reads, no more: a run id tracectx accepts, a trace id of 8 or
        // 32 hex digits. Anything else (another program's ids, a forged value) is no id.
        run_id: stamp
            .run_id
            .filter(|r| r != "-" && crate::context::validate_run_id(r).is_ok()),
        trace_id: stamp.trace_id.and_then(short_trace),
        micros: None,
        full_trace,
    })
}

/// The short form of a trace id of 8 or 32 hex digits (a full one, as other JSON writers may
/// log it, by its right-most 8 characters, as tracectx shows it everywhere), in lowercase;
/// `None` for anything else (`-` among them).
fn short_trace(id: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let short = match id.len() {
        8 | 32 if id.bytes().all(|b| b.is_ascii_hexdigit()) => id.len() - 8,
        _ => return None,
    };
    Some(match id {
        Cow::Borrowed(s) if !s[short..].bytes().any(|b| b.is_ascii_uppercase()) => {
            Cow::Borrowed(&s[short..])
        }
        s => Cow::Owned(s[short..].to_ascii_lowercase()),
    })
}

/// The value of a full 32-hex trace id; `None` for any other text (the short form among them).
fn full_trace(id: &str) -> Option<u128> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        u128::from_str_radix(id, 16).ok()
    } else {
        None
    }
}

fn parse_level(s: &str) -> Option<Level> {
    const LEVELS: [(&str, Level); 5] = [
        ("TRACE", Level::TRACE),
        ("DEBUG", Level::DEBUG),
        ("INFO", Level::INFO),
        ("WARN", Level::WARN),
        ("ERROR", Level::ERROR),
    ];
    LEVELS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, level)| level)
}

// === impl Query ===

/// Which lines to keep: one run's, optionally one trace's, optionally at a minimum level.
///
/// The run id matches exactly: `backtest_ab1` never matches `backtest_ab12`.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::Query;
///
/// let query = Query::new("job_1")?.trace_id("a1b2c3d4")?.min_level(tracing::Level::WARN);
/// assert!(query.matches(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] ERROR app - boom"));
/// assert!(!query.matches(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO app - fine"));
/// assert!(!query.matches(b"[2024-01-01T10:00:00.000000Z] [job_12] [a1b2c3d4] ERROR app - boom"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Debug, Clone)]
pub struct Query {
    /// The run whose lines are kept; `None` for every run of a trace ([`Query::for_trace`]).
    run_id: Option<RunId>,
    trace_id: Option<String>,
    /// The full trace id, when it was given: a line carrying another full id that ends in
    /// the same 8 digits is another trace.
    full_trace: Option<u128>,
    min_level: Option<Level>,
    parser: LineParser,
    /// The longest stretch of the run id that JSON writers leave as it is ([`needle`]), or
    /// the trace's 8 hex digits.
    finder: memmem::Finder<'static>,
}

impl Query {
    /// Lines of the run `run_id`.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when `run_id` is not a valid run id (no line can carry it).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let query = Query::new("backtest_ab1")?;
    /// assert!(query.matches(b"[2024-01-01T10:00:00.000000Z] [backtest_ab1] [-] INFO t - m"));
    /// assert!(Query::new("no spaces allowed").is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(run_id: &str) -> Result<Self, InvalidId> {
        let run_id = RunId::new(run_id)?;
        Ok(Self {
            finder: memmem::Finder::new(needle(&run_id)).into_owned(),
            run_id: Some(run_id),
            trace_id: None,
            full_trace: None,
            min_level: None,
            parser: LineParser::new(),
        })
    }

    /// Lines of every run of the trace `trace_id` (8 hex characters as logs show it, or the
    /// full 32): the sessions of a sweep sharded over many machines, the services of one
    /// call chain, each a run of its own in one trace. Lines with no trace id (`-`) are not
    /// kept; a template ([`with_format`](Self::with_format)) must have a `{trace_id}` for its
    /// lines to be. Lines show a trace by its last 8 hex digits, so they find every trace
    /// ending in them; a line that carries a full 32-digit id (a JSON line of another writer)
    /// is kept, when the full id was given, only if it is that id. The search looks for the trace's digits in lowercase, as every writer of
    /// W3C ids writes them: a JSON line whose `trace_id` is in uppercase hex is read by
    /// [`matches`](Self::matches), not searched.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when `trace_id` is not a trace id.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = "\
    /// [2024-01-01T10:00:00.000000Z] [shard_1] [0e0e4736] INFO t - one
    /// [2024-01-01T10:00:00.000001Z] [other] [a1b2c3d4] INFO t - not this trace
    /// {\"run_id\":\"shard_2\",\"trace_id\":\"0e0e4736\",\"message\":\"two\"}
    /// ";
    /// let query = Query::for_trace("4bf92f3577b34da6a3ce929d0e0e4736")?;
    /// assert_eq!(query.count(log.as_bytes())?, 2);
    /// assert!(query.run_id().is_none());
    /// // Another trace, ending in the same 8 digits.
    /// assert!(!query.matches(br#"{"run_id":"x","trace_id":"ffff2f3577b34da6a3ce929d0e0e4736"}"#));
    /// assert!(Query::for_trace("xyz").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_trace(trace_id: &str) -> Result<Self, InvalidId> {
        let (short, full_trace) = trace_ids(trace_id)?;
        Ok(Self {
            finder: memmem::Finder::new(short.as_bytes()).into_owned(),
            run_id: None,
            trace_id: Some(short),
            full_trace,
            min_level: None,
            parser: LineParser::new(),
        })
    }

    /// Also reads lines written with `template`, the string given to
    /// [`Builder::with_format`](super::Builder::with_format); see [`LineParser::with_format`].
    ///
    /// # Errors
    ///
    /// [`FormatError`] when the template is not valid or has no `{run_id}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let query = Query::new("job_1")?.with_format("{level} [{run_id}] {message}")?;
    /// assert!(query.matches(b"WARN [job_1] disk almost full"));
    /// assert!(!query.matches(b"WARN [job_12] disk almost full"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_format(self, template: &str) -> Result<Self, FormatError> {
        Ok(self.with_parser(LineParser::with_format(template)?))
    }

    /// Reads lines with `parser`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::{LineParser, Query};
    ///
    /// // One parser, made once, for the queries of several runs.
    /// let parser = LineParser::with_format("[{run_id}] {message}")?;
    /// let log = "[job_1] start\n[job_2] start\n[job_1] end\n";
    /// for (run, lines) in [("job_1", 2), ("job_2", 1)] {
    ///     let query = Query::new(run)?.with_parser(parser.clone());
    ///     assert_eq!(query.count(log.as_bytes())?, lines);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_parser(mut self, parser: LineParser) -> Self {
        self.parser = parser;
        self
    }

    /// Only lines of this trace: 8 hex characters as logs show it, or the full 32 (which a
    /// line carrying another full id does not match, as [`for_trace`](Self::for_trace)).
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when `trace_id` is not a trace id.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// // The full id (from a `traceparent`) finds the lines that show its last 8 hex digits.
    /// let query = Query::new("job_1")?.trace_id("4bf92f3577b34da6a3ce929d0e0e4736")?;
    /// assert!(query.matches(b"[2024-01-01T10:00:00.000000Z] [job_1] [0e0e4736] INFO t - m"));
    /// assert!(!query.matches(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - m"));
    /// assert!(Query::new("job_1")?.trace_id("not-hex").is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_id(mut self, trace_id: &str) -> Result<Self, InvalidId> {
        let (short, full_trace) = trace_ids(trace_id)?;
        if self.run_id.is_none() {
            // A query of a trace searches for its digits: the new ones.
            self.finder = memmem::Finder::new(short.as_bytes()).into_owned();
        }
        self.trace_id = Some(short);
        self.full_trace = full_trace;
        Ok(self)
    }

    /// Only lines at `level` or more severe (`WARN` keeps `WARN` and `ERROR`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = "\
    /// [2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - fine
    /// [2024-01-01T10:00:01.000000Z] [job_1] [-] WARN t - slow
    /// [2024-01-01T10:00:02.000000Z] [job_1] [-] ERROR t - boom
    /// ";
    /// let query = Query::new("job_1")?.min_level(tracing::Level::WARN);
    /// assert_eq!(query.count(log.as_bytes())?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn min_level(mut self, level: Level) -> Self {
        self.min_level = Some(level);
        self
    }

    /// The run id searched for; `None` for every run of a trace ([`for_trace`](Self::for_trace)).
    ///
    /// # Examples
    ///
    /// ```
    /// let query = tracectx::logging::query::Query::new("backtest_ab1")?;
    /// assert_eq!(query.run_id().map(|r| r.as_str()), Some("backtest_ab1"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn run_id(&self) -> Option<&RunId> {
        self.run_id.as_ref()
    }

    /// Whether `line` (without its newline) is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let query = Query::new("job_1")?;
    /// assert!(query.matches(br#"{"run_id":"job_1","message":"m"}"#));
    /// // Mentioning the run is not belonging to it.
    /// assert!(!query.matches(b"[2024-01-01T10:00:00.000000Z] [-] [-] INFO t - [job_1] done"));
    /// assert!(!query.matches(br#"{"fields":{"run_id":"job_1"}}"#));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn matches(&self, line: &[u8]) -> bool {
        let Some(stamp) = self.parser.parse(line) else {
            return false;
        };
        self.run_id
            .as_deref()
            .is_none_or(|run| stamp.run_id.as_deref() == Some(run))
            && self
                .trace_id
                .as_deref()
                .is_none_or(|t| stamp.trace_id.as_deref() == Some(t))
            // A line that carries a full id is of that trace only.
            && self
                .full_trace
                .zip(stamp.full_trace)
                .is_none_or(|(want, line)| want == line)
            && self
                .min_level
                .is_none_or(|min| stamp.level.is_some_and(|l| l <= min))
    }

    /// Copies the kept lines of `input` to `out`, unchanged (a final line without a newline
    /// gets one); returns how many. `input` is read on the calling thread;
    /// [`search_with`](Self::search_with) reads it ahead on a second one.
    ///
    /// # Errors
    ///
    /// An I/O error from reading `input` or writing `out`; the lines kept before it were
    /// written.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("app.log");
    /// std::fs::write(&path, "\
    /// [2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - one
    /// [2024-01-01T10:00:00.000001Z] [job_2] [-] INFO t - other
    /// [2024-01-01T10:00:00.000002Z] [job_1] [-] INFO t - two")?;
    /// let mut out = Vec::new();
    /// let kept = Query::new("job_1")?.search(std::fs::File::open(&path)?, &mut out)?;
    /// assert_eq!(kept, 2);
    /// let out = String::from_utf8(out)?;
    /// assert!(out.ends_with("INFO t - one\n[2024-01-01T10:00:00.000002Z] [job_1] [-] INFO t - two\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search(&self, input: impl Read, out: &mut impl Write) -> io::Result<u64> {
        let mut kept = 0;
        for_each_block(input, |block| {
            kept += self.search_slice(block, out)?;
            Ok(())
        })?;
        Ok(kept)
    }

    /// Counts the kept lines of `input`.
    ///
    /// # Errors
    ///
    /// An I/O error from reading `input`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = "\
    /// [2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - one
    /// {\"run_id\":\"job_1\",\"message\":\"two\"}
    /// [2024-01-01T10:00:00.000002Z] [job_11] [-] INFO t - other
    /// not a log line at all, job_1
    /// ";
    /// assert_eq!(Query::new("job_1")?.count(log.as_bytes())?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, input: impl Read) -> io::Result<u64> {
        let mut kept = 0;
        for_each_block(input, |block| {
            kept += self.count_slice(block);
            Ok(())
        })?;
        Ok(kept)
    }

    /// Calls `each` with every kept line of `input` (without its newline), in order, while a
    /// second thread reads `input` ahead in blocks: reading (a copy out of the page cache, or
    /// decompressing gzip) and searching overlap. At most 4 blocks of 1 MiB (or of the
    /// longest line, up to [`MAX_LINE_LEN`]) are held at once.
    ///
    /// `each` runs on the calling thread. When it fails, reading stops and its error is
    /// returned; when reading fails, the lines before the failure (not the line it cut short)
    /// have been handed to `each`, and the read error is returned.
    ///
    /// # Errors
    ///
    /// The first error of `each`, else the I/O error from reading `input`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = "\
    /// [2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - one
    /// [2024-01-01T10:00:00.000001Z] [job_2] [0badcafe] INFO t - other
    /// [2024-01-01T10:00:00.000002Z] [job_1] [a1b2c3d4] INFO t - two";
    /// let mut lines = Vec::new();
    /// let found = Query::new("job_1")?.search_with(log.as_bytes(), |line| {
    ///     lines.push(String::from_utf8_lossy(line).into_owned());
    ///     Ok(())
    /// })?;
    /// assert_eq!((found.lines, found.too_long), (2, 0));
    /// assert!(lines[1].ends_with("two"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_with(
        &self,
        input: impl Read + Send,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Found> {
        let mut lines = 0;
        let too_long = for_each_block_read_ahead(input, |block| {
            self.search_block(block, |line| {
                lines += 1;
                each(line)
            })
        })?;
        Ok(Found { lines, too_long })
    }

    /// Calls `each` with every kept line of the log file at `path` (without its newline), in
    /// order, on the calling thread; the fastest way to search a file.
    ///
    /// A plain file is read in blocks by two threads at once, each searching the blocks it
    /// read while they are in its core's cache; the kept lines are handed to `each` in the
    /// order of the file. It is read up to the length it had when the search began (and the
    /// line running past it, to its end): lines appended during the search are not read. A
    /// file that shrinks under the search (truncated in place, as copytruncate log rotation
    /// does) ends it with an error that says so, after the whole lines read before. A gzip
    /// file, or a path that is not a regular file (a pipe, a device), is read as a stream, as
    /// [`search_with`](Self::search_with) reads [`open`]'s reader.
    ///
    /// The file is read, never mapped in memory: a mapped file truncated by another process
    /// kills the reader with `SIGBUS`.
    ///
    /// # Errors
    ///
    /// The I/O error from opening or reading the file (a truncation among them), or the first
    /// error of `each`, which stops the search.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// std::fs::write(&path, "[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - m\n")?;
    /// let mut kept = 0;
    /// let found = Query::new("job_1")?.search_path(&path, |_line| {
    ///     kept += 1;
    ///     Ok(())
    /// })?;
    /// assert_eq!((found.lines, kept), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_path(
        &self,
        path: impl AsRef<std::path::Path>,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Found> {
        let (file, len) = match read::open_file(path.as_ref())? {
            FileRead::Parallel(file, len) => (file, len),
            FileRead::Stream(input) => return self.search_with(input, each),
        };
        let mut lines = 0;
        let too_long = for_each_block_parallel(
            &file,
            len,
            |block| {
                let mut kept = Kept::default();
                let gathered: io::Result<()> = self.search_block(block, |line| {
                    kept.bytes.extend_from_slice(line);
                    kept.bytes.push(b'\n');
                    Ok(())
                });
                debug_assert!(gathered.is_ok(), "gathering lines in memory cannot fail");
                kept
            },
            |kept| {
                for_each_line(&kept.bytes, |line| {
                    lines += 1;
                    each(line)
                })
            },
        )?;
        Ok(Found { lines, too_long })
    }

    /// Copies the kept lines of `bytes`, a whole log held in memory, to `out` unchanged (a
    /// final line without a newline gets one); returns how many.
    ///
    /// The same lines as [`search`](Self::search) keeps from the same bytes, found in place
    /// with no copy (lines longer than [`MAX_LINE_LEN`] skipped alike).
    ///
    /// # Errors
    ///
    /// An I/O error from writing `out`; the lines kept before it were written.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = b"[2024-01-01T10:00:00.000000Z] [run_a] [a1b2c3d4] INFO t - one\n\
    ///             [2024-01-01T10:00:00.000001Z] [run_ab] [a1b2c3d4] INFO t - two\n";
    /// let mut out = Vec::new();
    /// assert_eq!(Query::new("run_a")?.search_slice(log, &mut out)?, 1);
    /// assert!(out.ends_with(b"INFO t - one\n"));
    /// assert_eq!(Query::new("run_ab")?.count_slice(log), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn search_slice(&self, bytes: &[u8], out: &mut impl Write) -> io::Result<u64> {
        let mut kept = 0;
        self.search_block(bytes, |line| {
            kept += 1;
            out.write_all(line)?;
            out.write_all(b"\n")
        })?;
        Ok(kept)
    }

    /// Counts the kept lines of `bytes`, a whole log held in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Query;
    ///
    /// let log = br#"{"timestamp":"2024-01-01T10:00:00.000000Z","level":"INFO","run_id":"run_a","message":"m"}"#;
    /// assert_eq!(Query::new("run_a")?.count_slice(log), 1);
    /// assert_eq!(Query::new("run")?.count_slice(log), 0);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn count_slice(&self, bytes: &[u8]) -> u64 {
        let mut kept = 0;
        let counted: io::Result<()> = self.search_block(bytes, |_| {
            kept += 1;
            Ok(())
        });
        debug_assert!(
            counted.is_ok(),
            "counting writes nothing, so it cannot fail"
        );
        kept
    }

    /// Calls `keep` with each kept line of `block` (whole lines, the last one maybe without
    /// its newline). Lines longer than [`MAX_LINE_LEN`] are not kept: a block read from a
    /// stream never holds one, and bytes held in memory are read as a stream would be.
    fn search_block(
        &self,
        block: &[u8],
        mut keep: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        // Lines holding the stretch of the run id every writer spells as it is.
        let mut pos = 0;
        while pos < block.len() {
            let Some(hit) = self.finder.find(&block[pos..]) else {
                break;
            };
            let hit = pos + hit;
            let start = memrchr(b'\n', &block[pos..hit]).map_or(pos, |i| pos + i + 1);
            let end = memchr(b'\n', &block[hit..]).map_or(block.len(), |i| hit + i);
            let line = &block[start..end];
            if line.len() <= MAX_LINE_LEN && self.matches(line) {
                keep(line)?;
            }
            pos = end + 1;
        }
        Ok(())
    }
}

/// The short form of a trace id given to a query, and its full value when all 32 digits were
/// given (the short form stands for every trace ending in it).
fn trace_ids(trace_id: &str) -> Result<(String, Option<u128>), InvalidId> {
    let id = trace_id.parse::<TraceId>()?;
    let full = (trace_id.len() == 32).then(|| id.to_u128());
    Ok((id.short().to_string(), full))
}

/// The longest stretch of `run_id` made of the bytes JSON writers leave as they are (ASCII
/// letters, digits, `_`, `-`, `.`), the first of equal ones: a line of the run holds it
/// whichever of the id's other bytes (`/`, `:`, `@`, `+`) its writer escaped. A run id has a
/// letter or digit, so the stretch is never empty.
fn needle(run_id: &str) -> &[u8] {
    let kept = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    run_id.as_bytes().split(|b| !kept(b)).fold(
        &[][..],
        |best, s| if s.len() > best.len() { s } else { best },
    )
}

/// The kept lines of one block, gathered where the block was searched.
#[derive(Default)]
struct Kept {
    /// The lines, each followed by a newline.
    bytes: Vec<u8>,
}

/// What [`Query::search_with`] found in one input.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{Found, Query};
///
/// let log = "[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - m\n";
/// let found: Found = Query::new("job_1")?.search_with(log.as_bytes(), |_| Ok(()))?;
/// assert_eq!((found.lines, found.too_long), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// The lines kept.
    pub lines: u64,
    /// The lines skipped for being longer than [`MAX_LINE_LEN`], whichever run they were.
    pub too_long: u64,
}

// === impl Runs ===

/// One row of `tracectx runs`: what the log holds about one run.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::Runs;
///
/// let mut runs = Runs::new();
/// runs.add_line(b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - start");
/// runs.add_line(b"[2024-01-01T10:00:01.000000Z] [job_1] [0badcafe] ERROR t - boom");
/// let row = &runs.finish()[0];
/// assert_eq!((row.run_id.as_str(), row.lines, row.error), ("job_1", 2, 1));
/// assert_eq!(row.first.as_deref(), Some("2024-01-01T10:00:00.000000Z"));
/// assert_eq!(row.trace_ids, ["0badcafe", "a1b2c3d4"]);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// The run id.
    pub run_id: String,
    /// How many lines the run wrote.
    pub lines: u64,
    /// The earliest timestamp, as logs show it.
    pub first: Option<String>,
    /// The latest timestamp.
    pub last: Option<String>,
    /// `last - first`, in seconds (microsecond precision).
    pub duration_secs: Option<f64>,
    /// The short trace ids seen, sorted: every one, or the [`MAX_TRACE_IDS`] smallest when
    /// the run had more ([`more_trace_ids`](Self::more_trace_ids)).
    pub trace_ids: Vec<String>,
    /// Whether the run had more trace ids than [`trace_ids`](Self::trace_ids) holds.
    pub more_trace_ids: bool,
    /// Lines at WARN.
    pub warn: u64,
    /// Lines at ERROR.
    pub error: u64,
}

impl RunSummary {
    /// `last - first`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tracectx::logging::query::Runs;
    ///
    /// let mut runs = Runs::new();
    /// runs.add_line(b"[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - start");
    /// runs.add_line(b"[2024-01-01T10:01:30.000250Z] [job_1] [-] INFO t - end");
    /// assert_eq!(runs.finish()[0].duration(), Some(Duration::from_micros(90_000_250)));
    /// ```
    pub fn duration(&self) -> Option<Duration> {
        self.duration_secs
            .map(|s| Duration::from_micros((s * 1e6).round() as u64))
    }
}

#[derive(Debug, Default)]
struct RunAcc {
    lines: u64,
    first: Option<i64>,
    last: Option<i64>,
    trace_ids: BTreeSet<String>,
    more_trace_ids: bool,
    warn: u64,
    error: u64,
}

/// How many trace ids a [`RunSummary`] keeps: a run's lines may carry any number of them (a
/// long-lived run whose lines each name another trace), and a summary stays the same size.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::{Runs, MAX_TRACE_IDS};
///
/// let mut runs = Runs::new();
/// for i in (0..1_000u32).rev() {
///     runs.add_line(format!("[2024-01-01T10:00:00.000000Z] [job_1] [{i:08x}] INFO t - m").as_bytes());
/// }
/// let row = &runs.finish()[0];
/// assert_eq!(row.trace_ids.len(), MAX_TRACE_IDS);
/// assert_eq!((row.trace_ids[0].as_str(), row.more_trace_ids), ("00000000", true));
/// ```
pub const MAX_TRACE_IDS: usize = 64;

/// Gathers [`RunSummary`]s from any number of inputs.
///
/// # Examples
///
/// ```
/// use tracectx::logging::query::Runs;
///
/// let log = "\
/// [2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO app - start
/// [2024-01-01T10:00:02.500000Z] [job_1] [a1b2c3d4] WARN app - slow
/// [2024-01-01T10:00:01.000000Z] [job_2] [0badcafe] ERROR app - boom
/// ";
/// let mut runs = Runs::new();
/// runs.read(log.as_bytes())?;
/// let rows = runs.finish();
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows[0].run_id, "job_1");
/// assert_eq!(rows[0].lines, 2);
/// assert_eq!(rows[0].duration_secs, Some(2.5));
/// assert_eq!((rows[0].warn, rows[1].error), (1, 1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Runs {
    runs: HashMap<String, RunAcc>,
    parser: LineParser,
    stamped: u64,
    too_long: u64,
}

impl Runs {
    /// No runs yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let runs = tracectx::logging::query::Runs::new();
    /// assert_eq!(runs.stamped_lines(), 0);
    /// assert!(runs.finish().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Also reads lines written with `template`; see [`LineParser::with_format`].
    ///
    /// # Errors
    ///
    /// [`FormatError`] when the template is not valid or has no `{run_id}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Runs;
    ///
    /// let mut runs = Runs::with_format("{timestamp:%F %T} {run_id} {level} {message}")?;
    /// runs.read("2024-01-01 10:00:00 job_1 INFO start\n2024-01-01 10:00:03 job_1 INFO end\n".as_bytes())?;
    /// let rows = runs.finish();
    /// assert_eq!((rows[0].run_id.as_str(), rows[0].lines), ("job_1", 2));
    /// assert_eq!(rows[0].duration_secs, Some(3.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_format(template: &str) -> Result<Self, FormatError> {
        Ok(Self::with_parser(LineParser::with_format(template)?))
    }

    /// No runs yet, reading lines with `parser`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::{LineParser, Runs};
    ///
    /// let mut runs = Runs::with_parser(LineParser::with_format("{run_id} {level} {message}")?);
    /// runs.read("job_1 INFO start\njob_1 WARN slow\n".as_bytes())?;
    /// let rows = runs.finish();
    /// assert_eq!((rows[0].lines, rows[0].warn), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_parser(parser: LineParser) -> Self {
        Self {
            parser,
            ..Self::default()
        }
    }

    /// How many lines read so far were in a layout the reader knows (stamped), whether or not
    /// they belonged to a run.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut runs = tracectx::logging::query::Runs::new();
    /// runs.add_line(b"[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - in a run");
    /// runs.add_line(b"[2024-01-01T10:00:00.000000Z] [-] [-] INFO t - outside any run");
    /// runs.add_line(b"panicked at src/main.rs:3:5");
    /// assert_eq!(runs.stamped_lines(), 2);
    /// assert_eq!(runs.finish().len(), 1);
    /// ```
    pub fn stamped_lines(&self) -> u64 {
        self.stamped
    }

    /// How many lines read so far were skipped for being longer than [`MAX_LINE_LEN`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::{Runs, MAX_LINE_LEN};
    ///
    /// let mut log = b"[2024-01-01T10:00:00.000000Z] [job_1] [-] INFO t - ".to_vec();
    /// log.resize(log.len() + MAX_LINE_LEN, b'x');
    /// log.extend_from_slice(b"\n[2024-01-01T10:00:01.000000Z] [job_1] [-] INFO t - short\n");
    /// let mut runs = Runs::new();
    /// runs.read(&log[..])?;
    /// assert_eq!(runs.too_long_lines(), 1);
    /// assert_eq!(runs.finish()[0].lines, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn too_long_lines(&self) -> u64 {
        self.too_long
    }

    /// Adds one line (without its newline); lines outside any run or in no known layout are
    /// skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Runs;
    ///
    /// let mut runs = Runs::new();
    /// runs.add_line(br#"{"run_id":"job_2","level":"WARN"}"#);
    /// runs.add_line(br#"{"run_id":"job_2"}"#);
    /// runs.add_line(b"garbage");
    /// let rows = runs.finish();
    /// assert_eq!((rows.len(), rows[0].lines, rows[0].warn), (1, 2, 1));
    /// ```
    pub fn add_line(&mut self, line: &[u8]) {
        let Some(stamp) = self.parser.parse(line) else {
            return;
        };
        self.stamped += 1;
        let Some(run) = stamp.run_id.as_deref() else {
            return;
        };
        let acc = match self.runs.get_mut(run) {
            Some(acc) => acc,
            None => self.runs.entry(run.to_owned()).or_default(),
        };
        acc.lines += 1;
        if let Some(t) = stamp.timestamp_micros() {
            acc.first = Some(acc.first.map_or(t, |f| f.min(t)));
            acc.last = Some(acc.last.map_or(t, |l| l.max(t)));
        }
        if let Some(trace) = stamp.trace_id.as_deref() {
            // The smallest ones are kept: the same, whatever the order of the lines.
            if !acc.trace_ids.contains(trace) {
                if acc.trace_ids.len() < MAX_TRACE_IDS {
                    acc.trace_ids.insert(trace.to_owned());
                } else {
                    acc.more_trace_ids = true;
                    if acc
                        .trace_ids
                        .last()
                        .is_some_and(|last| trace < last.as_str())
                    {
                        acc.trace_ids.pop_last();
                        acc.trace_ids.insert(trace.to_owned());
                    }
                }
            }
        }
        match stamp.level {
            Some(Level::WARN) => acc.warn += 1,
            Some(Level::ERROR) => acc.error += 1,
            _ => {}
        }
    }

    /// Adds every line of `input`.
    ///
    /// # Errors
    ///
    /// An I/O error from reading `input`; the lines read before it were added.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Runs;
    ///
    /// // Every file of a directory, today's log and yesterday's, into one table.
    /// let mut runs = Runs::new();
    /// runs.read("[2024-01-01T23:59:59.000000Z] [job_1] [-] INFO t - start\n".as_bytes())?;
    /// runs.read("[2024-01-02T00:00:01.000000Z] [job_1] [-] INFO t - end\n".as_bytes())?;
    /// let rows = runs.finish();
    /// assert_eq!((rows[0].lines, rows[0].duration_secs), (2, Some(2.0)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read(&mut self, input: impl Read) -> io::Result<()> {
        let mut too_long = 0;
        let read = for_each_block(input, |block| {
            for_each_line(block, |line| {
                self.add_line(line);
                Ok(())
            })
        })
        .map(|n| too_long = n);
        self.too_long += too_long;
        read
    }

    /// The rows, by first timestamp (runs without one last), then run id.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::query::Runs;
    ///
    /// let mut runs = Runs::new();
    /// runs.add_line(br#"{"run_id":"job_0"}"#); // no timestamp
    /// runs.add_line(b"[2024-01-01T10:00:05.000000Z] [job_1] [-] INFO t - m");
    /// runs.add_line(b"[2024-01-01T10:00:01.000000Z] [job_2] [-] INFO t - m");
    /// let order: Vec<String> = runs.finish().into_iter().map(|r| r.run_id).collect();
    /// assert_eq!(order, ["job_2", "job_1", "job_0"]);
    /// ```
    pub fn finish(self) -> Vec<RunSummary> {
        let mut rows: Vec<RunSummary> = self
            .runs
            .into_iter()
            .map(|(run_id, acc)| RunSummary {
                run_id,
                lines: acc.lines,
                first: acc.first.map(micros_rfc3339),
                last: acc.last.map(micros_rfc3339),
                duration_secs: acc.first.zip(acc.last).map(|(f, l)| (l - f) as f64 / 1e6),
                trace_ids: acc.trace_ids.into_iter().collect(),
                more_trace_ids: acc.more_trace_ids,
                warn: acc.warn,
                error: acc.error,
            })
            .collect();
        rows.sort_by(|a, b| {
            let key = |r: &RunSummary| (r.first.is_none(), r.first.clone());
            key(a).cmp(&key(b)).then_with(|| a.run_id.cmp(&b.run_id))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO engine - m";

    /// What a search looks for: the whole id when no writer escapes any of it, else its
    /// longest stretch that none does.
    #[test]
    fn the_needle_is_the_longest_stretch_writers_keep() {
        for (id, needle_) in [
            ("backtest_ab12-x.y", "backtest_ab12-x.y"),
            ("sweep+1", "sweep"),
            ("team/nightly:run@3", "nightly"),
            ("a+b", "a"),
        ] {
            assert_eq!(needle(id), needle_.as_bytes(), "{id}");
        }
    }

    #[test]
    fn text_prefix_is_read_at_its_place() {
        let s = parse_line(TEXT.as_bytes()).unwrap();
        assert_eq!(s.run_id.as_deref(), Some("backtest_ab1"));
        assert_eq!(s.level, Some(Level::INFO));
        assert_eq!(s.timestamp_micros(), Some(1_704_103_200_000_000));
    }

    #[test]
    fn exact_run_match_only() {
        let q = Query::new("backtest_ab1").unwrap();
        assert!(q.matches(TEXT.as_bytes()));
        let q12 = Query::new("backtest_ab12").unwrap();
        assert!(!q12.matches(TEXT.as_bytes()));
        let longer = TEXT.replace("backtest_ab1", "backtest_ab12");
        assert!(!q.matches(longer.as_bytes()));
    }

    #[test]
    fn json_ids_are_read_as_the_text_layout_reads_them() {
        let ids = |line: &str| {
            let s = parse_line(line.as_bytes()).unwrap();
            (
                s.run_id.map(|r| r.into_owned()),
                s.trace_id.map(|t| t.into_owned()),
            )
        };
        let some = |r: &str, t: &str| (Some(r.to_owned()), Some(t.to_owned()));
        assert_eq!(
            ids(r#"{"run_id":"job_1","trace_id":"A1B2C3D4"}"#),
            some("job_1", "a1b2c3d4")
        );
        assert_eq!(
            ids(r#"{"run_id":"job_1","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736"}"#),
            some("job_1", "0e0e4736")
        );
        // Stamped lines (JSON with the keys), but no ids: not what tracectx writes.
        let long = "r".repeat(crate::MAX_RUN_ID_LEN + 1);
        for line in [
            r#"{"run_id":"a run","trace_id":"a1b2c3d4x"}"#.to_owned(),
            r#"{"run_id":"evil\u001b[2J","trace_id":"\u001b[31mdeadbeef"}"#.to_owned(),
            format!(r#"{{"run_id":"{long}","trace_id":"a1b2c3d"}}"#),
            r#"{"run_id":"-","trace_id":"-"}"#.to_owned(),
        ] {
            assert_eq!(ids(&line), (None, None), "{line}");
        }
    }

    #[test]
    fn json_run_id_must_be_top_level() {
        let nested =
            br#"{"fields":{"run_id":"backtest_ab1"},"message":"\"run_id\":\"backtest_ab1\""}"#;
        assert!(!Query::new("backtest_ab1").unwrap().matches(nested));
        let top = br#"{"run_id":"backtest_ab1","level":"info"}"#;
        assert!(Query::new("backtest_ab1").unwrap().matches(top));
        let full = br#"{"run_id":"backtest_ab1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
        let q = Query::new("backtest_ab1")
            .unwrap()
            .trace_id("0e0e4736")
            .unwrap();
        assert!(q.matches(full));
    }
}
