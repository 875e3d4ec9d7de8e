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
///   Every other line of an event (a message or field holding a line end, a multi-line format
///   such as `pretty()`) gets them too, blank lines aside: none passes for a line of another
///   run or of none, and `tracectx logs` finds them all. With colors on (a terminal), the
///   wrapped format still writes them: the ids are written straight to the writer, never
///   through a buffer, and only the first line of an event gets them.
/// - **JSON** lines (an object per line, as `format().json()` writes them) get `run_id`,
///   `trace_id` (8 hex), `span_id` and `parent_span_id` as their first top-level keys, the
///   keys [`JsonFormat`](crate::logging::JsonFormat) writes, spliced in as the object is
///   streamed: the line is neither buffered nor parsed again. A top-level key of the wrapped
///   format's own with one of those names (an event field named `run_id`, under
///   `format().json().flatten_event(true)`) is renamed as `JsonFormat` renames it,
///   `fields.run_id`, in context or not: a line never has two `run_id` keys, and no field can
///   pass itself off as the run id. Inside strings, the characters that could disguise a line
///   on a terminal are written as `\u` escapes, as `JsonFormat` writes them.
///
/// Outside any context no id is added. The context is found as the crate's own formats find
/// it: the task-local slot, else the context a span remembered
/// ([`SpanContextLayer`](crate::logging::SpanContextLayer); add it to the subscriber too).
///
/// A panic of the wrapped format, or of a field it formats, makes no line nor half of one: it
/// is caught, and said on stderr.
///
/// [`new`](Self::new) tells JSON from text by the first character the wrapped format writes
/// (`{`), once, colors on or off: the first line's kind is remembered, and later text lines
/// are stamped straight away (with colors on, that first line is formatted once more aside,
/// without colors, to look at it). A text format whose lines start with `{` is stamped as
/// text with [`text`](Self::text); [`json`](Self::json) skips the look.
///
/// `tracectx logs RUN --format '[{run_id}] [{trace_id}] {message}'` reads text lines stamped
/// this way; JSON lines are read as they are.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::fmt::{self, format};
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{SpanContextLayer, Stamped, file_writer};
///
/// # let dir = tempfile::tempdir()?;
/// let (text, json) = (dir.path().join("app.log"), dir.path().join("app.jsonl"));
/// // Your subscriber, your formats: only the ids are added.
/// let text_fmt = fmt::layer().with_ansi(false).event_format(Stamped::new(format()));
/// let json_fmt = fmt::layer().with_ansi(false).event_format(Stamped::new(format().json()));
/// let subscriber = tracing_subscriber::registry()
///     .with(SpanContextLayer::new())
///     .with(text_fmt.with_writer(file_writer(&text)?))
///     .with(json_fmt.with_writer(file_writer(&json)?));
/// let ctx = tracectx::TraceContext::new("backtest_abc123")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info!(target: "engine", qty = 10, "filled"));
/// });
///
/// // [backtest_abc123] [1f0c4a2e] 2024-…Z  INFO engine: filled qty=10
/// let line = std::fs::read_to_string(&text)?;
/// assert!(line.starts_with(&format!("[backtest_abc123] [{}] ", ctx.trace_id())));
/// assert!(line.ends_with("INFO engine: filled qty=10\n"));
/// let object: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
/// assert_eq!(object["run_id"], "backtest_abc123"); // a top-level key
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::fmt::format;
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, Stamped};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let fmt = tracing_subscriber::fmt::layer()
    ///     .with_ansi(false)
    ///     .event_format(Stamped::new(format().compact().without_time()));
    /// let subscriber = tracing_subscriber::registry().with(fmt.with_writer(file_writer(&path)?));
    /// let ctx = tracectx::TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info!(target: "engine", "filled"));
    /// });
    /// let line = std::fs::read_to_string(&path)?;
    /// assert!(line.starts_with("[job_1] [a1b2c3d4] ") && line.contains("engine: filled"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// use tracing_subscriber::fmt::format;
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, Stamped};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let fmt = tracing_subscriber::fmt::layer()
    ///     .with_ansi(false)
    ///     .event_format(Stamped::text(format().pretty().without_time()))
    ///     .with_writer(file_writer(&path)?);
    /// let ctx = tracectx::TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(fmt), || {
    ///     ctx.sync_scope(|| tracing::info!(target: "engine", "filled"));
    /// });
    /// // The pretty format's lines, the ids in front of the first.
    /// let text = std::fs::read_to_string(&path)?;
    /// assert!(text.starts_with("[job_1] [a1b2c3d4] ") && text.contains("engine: filled"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// use tracing_subscriber::fmt::format;
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, Stamped};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.jsonl");
    /// let fmt = tracing_subscriber::fmt::layer()
    ///     .with_ansi(true) // `fmt::layer()`'s default: the JSON format writes no colors
    ///     .event_format(Stamped::json(format().json()))
    ///     .with_writer(file_writer(&path)?);
    /// let ctx = tracectx::TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(fmt), || {
    ///     ctx.sync_scope(|| tracing::info!(qty = 10, "filled"));
    /// });
    /// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    /// assert_eq!(line["run_id"], "job_1"); // top-level keys, next to the format's own
    /// assert_eq!(line["trace_id"], "a1b2c3d4");
    /// assert_eq!(line["fields"]["message"], "filled");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn json(inner: F) -> Self {
        Self {
            inner,
            mode: Mode::Json,
            learned: AtomicU8::new(UNKNOWN),
        }
    }

    /// The wrapped format.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::fmt::format;
    ///
    /// let stamped = tracectx::logging::Stamped::new(format().compact().with_target(false));
    /// assert!(format!("{:?}", stamped.inner()).contains("display_target: false"));
    /// ```
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The wrapped format, mutably.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::fmt::format;
    ///
    /// let mut stamped = tracectx::logging::Stamped::new(format().compact());
    /// *stamped.inner_mut() = format().compact().with_level(false);
    /// assert!(format!("{:?}", stamped.inner()).contains("display_level: false"));
    /// ```
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The wrapped format, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::fmt::format;
    ///
    /// let stamped = tracectx::logging::Stamped::json(format().json().flatten_event(true));
    /// let json = stamped.into_inner(); // the format as it was, without the ids
    /// assert!(format!("{json:?}").contains("flatten_event: true"));
    /// ```
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
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        super::panic_as_error(event, || self.stamp(ctx, writer, event))
    }
}

impl<F> Stamped<F> {
    /// [`FormatEvent::format_event`], a panic of the wrapped format (or of a field it formats)
    /// left to the caller.
    fn stamp<S, N>(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
        F: FormatEvent<S, N>,
    {
        if self.mode == Mode::Detect
            && writer.has_ansi_escapes()
            && self.learned.load(Ordering::Relaxed) == UNKNOWN
        {
            // Colors on: the lines cannot go through the splice that tells JSON from text
            // (its writer has no colors), and colors say nothing of the kind (`fmt()` keeps
            // them on for `event_format(format().json())`). The first line is written once
            // aside, without colors, to learn its kind.
            let mut probe = String::new();
            if self
                .inner
                .format_event(ctx, Writer::new(&mut probe), event)
                .is_ok()
                && !probe.is_empty()
            {
                let kind = if probe.starts_with('{') { JSON } else { TEXT };
                self.learned.store(kind, Ordering::Relaxed);
            }
        }
        let text_known = match self.mode {
            Mode::Text => true,
            Mode::Detect => self.learned.load(Ordering::Relaxed) == TEXT,
            Mode::Json => false,
        };
        if text_known {
            // The common case, made cheap: the ids are laid straight from the context into
            // the buffer the line is formatted in (no user code runs while the slot is
            // borrowed).
            let laid = |buf: &mut String| {
                crate::scope::read(|c| push_prefix(buf, c.run_id(), c.trace_id())).is_some()
            };
            if let Some(written) = self.text_line(ctx, &mut writer, event, laid) {
                return written;
            }
        }
        let stamp = Stamp::for_event(ctx, event);
        let mode = match self.mode {
            // Text with colors whose first line wrote nothing: the ids straight away.
            Mode::Detect
                if writer.has_ansi_escapes() && self.learned.load(Ordering::Relaxed) == UNKNOWN =>
            {
                Mode::Text
            }
            Mode::Detect => match self.learned.load(Ordering::Relaxed) {
                TEXT => Mode::Text,
                JSON => Mode::Json,
                _ => Mode::Detect,
            },
            mode => mode,
        };
        if mode == Mode::Text {
            return match &stamp {
                Some(stamp) => {
                    let laid = |buf: &mut String| {
                        push_prefix(buf, stamp.run_id(), stamp.trace_id);
                        true
                    };
                    self.text_line(ctx, &mut writer, event, laid)
                        .unwrap_or(Err(fmt::Error))
                }
                None => self.inner.format_event(ctx, writer, event),
            };
        }
        // JSON, or not known yet: even without a stamp, the keys of the line are looked at.
        let mut splice = Splice {
            out: &mut writer,
            stamp: stamp.as_ref(),
            state: if mode == Mode::Json {
                State::Json
            } else {
                State::Detect
            },
            found: UNKNOWN,
            json: Object::default(),
            text: None,
        };
        // The wrapped format wrote nothing, or not an object: what it wrote is left so.
        let result = self
            .inner
            .format_event(ctx, Writer::new(&mut splice), event)
            .and_then(|()| splice.finish());
        if mode == Mode::Detect && splice.found != UNKNOWN {
            self.learned.store(splice.found, Ordering::Relaxed);
        }
        result
    }
}

impl<F> Stamped<F> {
    /// A text line: the ids `lay` pushes onto an empty buffer (`false`: no ids, and `None`
    /// is returned with nothing written), then the wrapped format's line, each line of it
    /// after the first (a message or field with a line end, a multi-line format) stamped
    /// with the ids too, so that none passes for a line of another run or of none. With
    /// colors on the continuation lines go unstamped: tracing-subscriber's writer with colors
    /// cannot be made outside it, and the wrapped format would lose them.
    fn text_line<S, N>(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: &mut Writer<'_>,
        event: &Event<'_>,
        lay: impl Fn(&mut String) -> bool,
    ) -> Option<fmt::Result>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
        F: FormatEvent<S, N>,
    {
        // Formatted aside after the ids, then looked through for line ends once: most lines
        // have none but the last, and go on in one piece.
        let write = |buf: &mut String| {
            buf.clear();
            if !lay(buf) {
                return None;
            }
            let ids = buf.len();
            if writer.has_ansi_escapes() {
                let written = writer.write_str(buf);
                return Some(
                    written.and_then(|()| self.inner.format_event(ctx, writer.by_ref(), event)),
                );
            }
            if let Err(e) = self.inner.format_event(ctx, Writer::new(buf), event) {
                return Some(Err(e));
            }
            let body = &buf.as_bytes()[ids..];
            if memchr::memchr(b'\n', &body[..body.len().saturating_sub(1)]).is_none() {
                return Some(writer.write_str(buf));
            }
            let (prefix, body) = buf.split_at(ids);
            let written = writer.write_str(prefix).and_then(|()| {
                let mut lines = Restamp {
                    out: &mut *writer,
                    prefix,
                    line_start: false,
                };
                fmt::Write::write_str(&mut lines, body)
            });
            Some(written)
        };
        super::with_line_buf(&TEXT_BUF, write)
    }
}

thread_local! {
    /// A per-thread buffer for a text line of the wrapped format, so that stamping its other
    /// lines does not allocate.
    static TEXT_BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Pushes `[run_id] [short_trace_id] ` onto `buf`.
fn push_prefix(buf: &mut String, run: &str, trace: crate::TraceId) {
    buf.push('[');
    buf.push_str(run);
    buf.push_str("] [");
    buf.push_str(trace.short().as_str());
    buf.push_str("] ");
}

/// Passes a text line on, with `prefix` written at the start of every line after the first
/// that is not blank.
struct Restamp<'a, W> {
    out: &'a mut W,
    prefix: &'a str,
    /// The last character passed on ended a line.
    line_start: bool,
}

impl<W: fmt::Write> fmt::Write for Restamp<'_, W> {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        while !s.is_empty() {
            // A blank line (a multi-line format's separator) stays blank.
            if self.line_start && !s.starts_with('\n') {
                self.out.write_str(self.prefix)?;
            }
            let end = s.find('\n').map_or(s.len(), |i| i + 1);
            self.out.write_str(&s[..end])?;
            self.line_start = s.as_bytes()[end - 1] == b'\n';
            s = &s[end..];
        }
        Ok(())
    }
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
    /// Inside the top-level object: its keys are looked at, its strings escaped.
    Object,
    /// The rest passes through.
    Through,
    /// A text line with a stamp: the rest passes through, each line after the first stamped
    /// (`Splice::text`).
    Text,
}

/// Keys longer than this are not buffered: no key the splice renames is that long.
const MAX_KEY: usize = 64;

/// Where the splice is inside the top-level JSON object.
#[derive(Default)]
struct Object {
    /// Nesting: 1 inside the top-level object.
    depth: u32,
    in_string: bool,
    /// A backslash was just seen inside a string.
    escaped: bool,
    /// The next string at depth 1 is a key.
    expect_key: bool,
    /// The ids were written after the `{`: a comma goes before the first key.
    comma: bool,
    /// The top-level key being read (the bytes between its quotes, as written).
    key: Option<([u8; MAX_KEY], usize)>,
}

/// A `fmt::Write` that writes the ids into the line as it streams by.
struct Splice<'a, 'w> {
    out: &'a mut Writer<'w>,
    stamp: Option<&'a Stamp>,
    state: State,
    /// What the first chunk showed the line to be.
    found: u8,
    json: Object,
    /// In a text line with a stamp: its prefix, and whether the last character passed on
    /// ended a line.
    text: Option<(String, bool)>,
}

/// Whether a top-level key of the wrapped format could pass for one of the keys the splice
/// writes (or for the name another such key is renamed to): `run_id`, `fields.run_id`, ...
/// Each gets one more `fields.` in front, as [`JsonFormat`](crate::logging::JsonFormat)
/// renames its fields.
fn shadows_stamp(key: &str) -> bool {
    let mut base = key;
    while let Some(rest) = base.strip_prefix("fields.") {
        base = rest;
    }
    matches!(base, "run_id" | "trace_id" | "span_id" | "parent_span_id")
}

impl Splice<'_, '_> {
    /// Streams `s`, inside the top-level object.
    fn object(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        // `s[run..i]` is passed through when something else has to be written.
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let json = &mut self.json;
            if let Some((key, len)) = &mut json.key {
                // A top-level key, gathered up to its closing quote.
                // Whole characters: a key is cut, if at all, between two.
                let width = if b < 0x80 {
                    1
                } else {
                    s[i..].chars().next().map_or(1, char::len_utf8)
                };
                if *len + width > MAX_KEY {
                    // Too long to be renamed: written out, and the rest read as any string.
                    let (key, len) = (*key, *len);
                    json.key = None;
                    self.out.write_char('"')?;
                    write_escaped(self.out, &String::from_utf8_lossy(&key[..len]))?;
                    run = i;
                    continue;
                }
                if json.escaped {
                    json.escaped = false;
                } else if b == b'\\' {
                    json.escaped = true;
                } else if b == b'"' {
                    let (key, len) = (*key, *len);
                    json.key = None;
                    json.in_string = false;
                    self.write_key(&key[..len])?;
                    i += 1;
                    run = i;
                    continue;
                }
                key[*len..*len + width].copy_from_slice(&bytes[i..i + width]);
                *len += width;
                i += width;
                run = i;
                continue;
            }
            if json.in_string {
                if json.escaped {
                    json.escaped = false;
                } else if b == b'\\' {
                    json.escaped = true;
                } else if b == b'"' {
                    json.in_string = false;
                } else if b >= 0x7f {
                    let c = s[i..].chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
                    if crate::escape::is_escaped(c) {
                        self.out.write_str(&s[run..i])?;
                        crate::escape::write_json_escape(self.out, c)?;
                        i += c.len_utf8();
                        run = i;
                        continue;
                    }
                    i += c.len_utf8();
                    continue;
                }
                i += 1;
                continue;
            }
            match b {
                b'"' if json.depth == 1 && json.expect_key => {
                    self.out.write_str(&s[run..i])?;
                    if std::mem::take(&mut json.comma) {
                        self.out.write_char(',')?;
                    }
                    json.key = Some(([0; MAX_KEY], 0));
                    json.in_string = true;
                    i += 1;
                    run = i;
                    continue;
                }
                b'"' => json.in_string = true,
                b'{' | b'[' => json.depth += 1,
                b'}' | b']' => {
                    json.depth = json.depth.saturating_sub(1);
                    if json.depth == 0 {
                        // The object is closed: the rest (its newline) passes through.
                        self.state = State::Through;
                        return self.out.write_str(&s[run..]);
                    }
                }
                b',' if json.depth == 1 => json.expect_key = true,
                b':' if json.depth == 1 => json.expect_key = false,
                // Not JSON (a format that only starts like it): stepped over whole.
                0x80.. => {
                    i += s[i..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        self.out.write_str(&s[run..])
    }

    /// Writes out a key left open when the wrapped format stopped (it never does, writing
    /// JSON).
    fn finish(&mut self) -> fmt::Result {
        match self.json.key.take() {
            Some((key, len)) => {
                self.out.write_char('"')?;
                write_escaped(self.out, &String::from_utf8_lossy(&key[..len]))
            }
            None => Ok(()),
        }
    }

    /// Writes a top-level key (`raw`: its bytes between the quotes, as written), renamed when
    /// it could pass for one of the stamp's keys.
    fn write_key(&mut self, raw: &[u8]) -> fmt::Result {
        let raw = String::from_utf8_lossy(raw);
        let renamed = if raw.contains('\\') {
            serde_json::from_str::<String>(&format!("\"{raw}\""))
                .is_ok_and(|key| shadows_stamp(&key))
        } else {
            shadows_stamp(&raw)
        };
        self.out.write_char('"')?;
        if renamed {
            self.out.write_str("fields.")?;
        }
        write_escaped(self.out, &raw)?;
        self.out.write_char('"')
    }
}

/// Writes JSON string content `s`, the characters that could disguise a line as `\u` escapes.
fn write_escaped(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut run = 0;
    for (i, c) in s.char_indices() {
        if (c as u32) >= 0x7f && crate::escape::is_escaped(c) {
            out.write_str(&s[run..i])?;
            crate::escape::write_json_escape(out, c)?;
            run = i + c.len_utf8();
        }
    }
    out.write_str(&s[run..])
}

impl fmt::Write for Splice<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        match self.state {
            State::Through => self.out.write_str(s),
            State::Text => match &mut self.text {
                Some((prefix, line_start)) => {
                    let mut lines = Restamp {
                        out: &mut *self.out,
                        prefix,
                        line_start: *line_start,
                    };
                    let written = lines.write_str(s);
                    *line_start = lines.line_start;
                    written
                }
                None => self.out.write_str(s),
            },
            State::Object => self.object(s),
            State::Detect | State::Json => {
                let json_start = s.strip_prefix('{');
                match (json_start, self.state) {
                    (Some(rest), _) => {
                        self.found = JSON;
                        self.out.write_char('{')?;
                        if let Some(stamp) = self.stamp {
                            write_json_keys(self.out, stamp)?;
                        }
                        self.json = Object {
                            depth: 1,
                            expect_key: true,
                            comma: self.stamp.is_some(),
                            ..Object::default()
                        };
                        self.state = State::Object;
                        self.object(rest)
                    }
                    (None, State::Detect) => {
                        self.found = TEXT;
                        let Some(stamp) = self.stamp else {
                            self.state = State::Through;
                            return self.out.write_str(s);
                        };
                        let mut prefix = String::new();
                        push_prefix(&mut prefix, stamp.run_id(), stamp.trace_id);
                        self.out.write_str(&prefix)?;
                        self.text = Some((prefix, false));
                        self.state = State::Text;
                        self.write_str(s)
                    }
                    // Not an object after all: written as it is.
                    _ => {
                        self.state = State::Through;
                        self.out.write_str(s)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the splice makes of `line` handed over in `pieces` (cut at these byte offsets).
    fn splice(line: &str, cuts: &[usize], stamp: Option<&Stamp>) -> String {
        let mut out = String::new();
        let mut writer = Writer::new(&mut out);
        let mut splice = Splice {
            out: &mut writer,
            stamp,
            state: State::Json,
            found: UNKNOWN,
            json: Object::default(),
            text: None,
        };
        let mut start = 0;
        for &cut in cuts.iter().chain([&line.len()]) {
            fmt::Write::write_str(&mut splice, &line[start..cut]).unwrap();
            start = cut;
        }
        splice.finish().unwrap();
        out
    }

    #[test]
    fn keys_and_strings_read_the_same_whatever_the_pieces() {
        let ctx = crate::TraceContext::new("job_1")
            .unwrap()
            .with_trace_id("0123456789abcdef0123456789abcdef".parse().unwrap())
            .with_span_id("00000000000000aa".parse().unwrap());
        let stamp = Stamp::of(&ctx);
        let line = "{\"run_id\":\"x\\\"\",\"fields.run_id\":{\"run_id\":[1,\"}\"]},\
                    \"run\\u005fid\":\"\u{202e}\",\"k\u{200e}\":\"a\\\\\",\"n\":2}\n";
        let whole = splice(line, &[], Some(&stamp));
        assert_eq!(
            whole,
            "{\"run_id\":\"job_1\",\"trace_id\":\"89abcdef\",\"span_id\":\"00000000000000aa\",\
             \"fields.run_id\":\"x\\\"\",\"fields.fields.run_id\":{\"run_id\":[1,\"}\"]},\
             \"fields.run\\u005fid\":\"\\u202e\",\"k\\u200e\":\"a\\\\\",\"n\":2}\n"
        );
        let bare = splice(line, &[], None);
        assert!(bare.starts_with("{\"fields.run_id\":\"x\\\"\","), "{bare}");
        let bounds: Vec<usize> = (1..line.len())
            .filter(|&i| line.is_char_boundary(i))
            .collect();
        for &cut in &bounds {
            assert_eq!(splice(line, &[cut], Some(&stamp)), whole, "cut at {cut}");
        }
        assert_eq!(
            splice(line, &bounds, Some(&stamp)),
            whole,
            "one character at a time"
        );
    }

    #[test]
    fn a_long_key_and_text_that_only_starts_like_json_pass_through() {
        let key = "k".repeat(MAX_KEY + 10);
        let line = format!("{{\"{key}\":1}}\n");
        assert_eq!(splice(&line, &[], None), line);
        for (odd, out) in [
            ("{ünï ] } ]]", "{ünï ] } ]]"),
            ("{\"a\":\"open\u{200f}", "{\"a\":\"open\\u200f"),
            ("{\"a\u{200f}", "{\"a\\u200f"),
        ] {
            assert_eq!(splice(odd, &[], None), out);
        }
    }
}
