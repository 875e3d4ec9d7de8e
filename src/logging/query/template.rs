//! Reading lines written with a template: the template, turned around into a matcher.
//!
//! A template is a sequence of literals and placeholders. The stamp's placeholders each have
//! a shape of their own (a timestamp in its format, a run id in the run id's characters, 8 or
//! 16 hex digits or `-`, one of the five level names); the others (`{target}`, `{message}`,
//! `{fields}`) are free text, escaped onto one line but otherwise anything. The matcher walks
//! the template over the line, trying the places a free text may end from the left, except
//! for the last free text, whose end is tried from the right: what follows it in the template
//! is anchored to the end of the line, so a message that imitates a stamp placed after it
//! cannot take its place.
//!
//! Where the template puts a stamp *between* two free texts (`{message} [{run_id}] {fields}`)
//! the line is ambiguous by construction: the first place where the stamp fits is taken, and
//! a message that imitates one can pass for it. Templates that put the stamp before the
//! message, as the default one does, have no such ambiguity.
//!
//! Each line gets a bounded number of attempts ([`BUDGET`]), so a pathological template or line
//! costs a bounded time; a line that exhausts it is not read.

use std::borrow::Cow;

use memchr::memmem;
use tracing::Level;

use super::{LineFormat, LineStamp};
use crate::context::is_run_id_byte;
use crate::logging::format::template::{Segment, Template};
use crate::time::{TimeFormat, Timestamp};

/// The most attempts (placements of a stamp or a free text's end) spent on one line.
const BUDGET: u32 = 4096;

/// Which lines a reader can be sure of: the template's items, stamps and free texts.
#[derive(Debug, Clone)]
pub(super) struct Matcher {
    items: Vec<Item>,
    /// The index of the last free text, whose end is tried from the right.
    last_free: Option<usize>,
}

#[derive(Debug, Clone)]
enum Item {
    Literal(Box<[u8]>),
    /// RFC 3339 in microseconds (27 bytes), or a format.
    Timestamp(Option<TimeFormat>),
    RunId,
    TraceId,
    SpanId,
    Level,
    Free,
}

/// Where the stamp's pieces were found in a line.
#[derive(Default, Clone, Copy)]
struct Found {
    timestamp: Option<(usize, usize, i64)>,
    run: Option<(usize, usize)>,
    trace: Option<(usize, usize)>,
    level: Option<Level>,
}

impl Matcher {
    /// The matcher of `template`; whether it holds a `{run_id}`.
    pub(super) fn new(template: &Template) -> (Self, bool) {
        let mut items: Vec<Item> = Vec::new();
        let mut has_run = false;
        for segment in &template.segments {
            let item = match segment {
                Segment::Literal(text) => {
                    // Adjacent literals are one.
                    if let Some(Item::Literal(prev)) = items.last_mut() {
                        let mut joined = prev.to_vec();
                        joined.extend_from_slice(text.as_bytes());
                        *prev = joined.into();
                        continue;
                    }
                    Item::Literal(text.as_bytes().into())
                }
                Segment::Timestamp(format) => Item::Timestamp(format.clone()),
                Segment::RunId => {
                    has_run = true;
                    Item::RunId
                }
                Segment::TraceId => Item::TraceId,
                Segment::SpanId | Segment::ParentSpanId => Item::SpanId,
                Segment::Level => Item::Level,
                Segment::Target | Segment::Message | Segment::Fields { .. } => {
                    // Free texts side by side are one.
                    if matches!(items.last(), Some(Item::Free)) {
                        continue;
                    }
                    Item::Free
                }
            };
            items.push(item);
        }
        let last_free = items.iter().rposition(|i| matches!(i, Item::Free));
        (Self { items, last_free }, has_run)
    }

    /// The stamp of `line`, if it was written with this template.
    pub(super) fn parse<'a>(&self, line: &'a [u8]) -> Option<LineStamp<'a>> {
        let mut found = Found::default();
        let mut budget = BUDGET;
        if !self.walk(0, 0, line, &mut found, &mut budget) {
            return None;
        }
        let text = |(start, len): (usize, usize)| std::str::from_utf8(&line[start..start + len]);
        let run = match found.run {
            Some(span) => Some(text(span).ok()?).filter(|r| *r != "-"),
            None => None,
        };
        let trace = match found.trace {
            Some(span) => Some(text(span).ok()?).filter(|t| *t != "-"),
            None => None,
        };
        let (timestamp, micros) = match found.timestamp {
            Some((start, len, micros)) => (Some(text((start, len)).ok()?), Some(micros)),
            None => (None, None),
        };
        Some(LineStamp {
            format: LineFormat::Template,
            timestamp: timestamp.map(Cow::Borrowed),
            run_id: run.map(Cow::Borrowed),
            trace_id: trace.map(Cow::Borrowed),
            level: found.level,
            micros,
            full_trace: None,
        })
    }

    /// Whether `items[i..]` match `line[pos..]` to its end, noting what they found.
    fn walk(&self, i: usize, pos: usize, line: &[u8], found: &mut Found, budget: &mut u32) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Some(item) = self.items.get(i) else {
            return pos == line.len();
        };
        let rest = &line[pos..];
        match item {
            Item::Literal(lit) => {
                rest.starts_with(lit) && self.walk(i + 1, pos + lit.len(), line, found, budget)
            }
            Item::Timestamp(format) => {
                let read = match format {
                    Some(format) => format.read_prefix(rest),
                    None => rest
                        .get(..27)
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|s| Timestamp::parse_rfc3339(s).ok())
                        .map(|t| (t, 27)),
                };
                let Some((t, len)) = read else {
                    return false;
                };
                found.timestamp = Some((pos, len, t.as_micros()));
                self.walk(i + 1, pos + len, line, found, budget)
            }
            Item::RunId => {
                if rest.starts_with(b"-") && self.next_fits(i, pos + 1, line) {
                    found.run = Some((pos, 1));
                    if self.walk(i + 1, pos + 1, line, found, budget) {
                        return true;
                    }
                }
                let longest = rest
                    .iter()
                    .take(crate::MAX_RUN_ID_LEN)
                    .take_while(|&&b| is_run_id_byte(b))
                    .count();
                // Longest first: a run id may hold what the template writes after it (`.`).
                for len in (1..=longest).rev() {
                    // Only a run id some context can have (`/` or `..` is none: no letter or
                    // digit), as the default layout and JSON lines read it.
                    if !self.next_fits(i, pos + len, line)
                        || !rest[..len].iter().any(u8::is_ascii_alphanumeric)
                    {
                        continue;
                    }
                    found.run = Some((pos, len));
                    if self.walk(i + 1, pos + len, line, found, budget) {
                        return true;
                    }
                    if *budget == 0 {
                        return false;
                    }
                }
                false
            }
            Item::TraceId => {
                let len = hex_or_dash(rest, 8);
                if len == 0 {
                    return false;
                }
                found.trace = Some((pos, len));
                self.walk(i + 1, pos + len, line, found, budget)
            }
            Item::SpanId => {
                let len = hex_or_dash(rest, 16);
                len != 0 && self.walk(i + 1, pos + len, line, found, budget)
            }
            Item::Level => {
                const LEVELS: [(&[u8], Level); 5] = [
                    (b"TRACE", Level::TRACE),
                    (b"DEBUG", Level::DEBUG),
                    (b"INFO", Level::INFO),
                    (b"WARN", Level::WARN),
                    (b"ERROR", Level::ERROR),
                ];
                let Some(&(name, level)) = LEVELS.iter().find(|(n, _)| rest.starts_with(n)) else {
                    return false;
                };
                found.level = Some(level);
                self.walk(i + 1, pos + name.len(), line, found, budget)
            }
            Item::Free => self.free(i, pos, line, found, budget),
        }
    }

    /// A free text at `pos`: try the places it may end.
    fn free(&self, i: usize, pos: usize, line: &[u8], found: &mut Found, budget: &mut u32) -> bool {
        let from_right = self.last_free == Some(i);
        match self.items.get(i + 1) {
            // The last item: the free text is the rest of the line.
            None => true,
            Some(Item::Literal(lit)) => {
                let hay = &line[pos..];
                if from_right {
                    for at in memmem::rfind_iter(hay, lit) {
                        if self.walk(i + 1, pos + at, line, found, budget) {
                            return true;
                        }
                        if *budget == 0 {
                            return false;
                        }
                    }
                } else {
                    for at in memmem::find_iter(hay, lit) {
                        if self.walk(i + 1, pos + at, line, found, budget) {
                            return true;
                        }
                        if *budget == 0 {
                            return false;
                        }
                    }
                }
                false
            }
            // A stamp right after free text: every place is a candidate.
            Some(_) => {
                let mut try_at = |end: usize| self.walk(i + 1, end, line, found, budget);
                if from_right {
                    (pos..=line.len()).rev().any(&mut try_at)
                } else {
                    (pos..=line.len()).any(&mut try_at)
                }
            }
        }
    }

    /// A cheap check before descending: when a literal follows item `i`, it must start at
    /// `pos`.
    fn next_fits(&self, i: usize, pos: usize, line: &[u8]) -> bool {
        match self.items.get(i + 1) {
            Some(Item::Literal(lit)) => line.get(pos..).is_some_and(|r| r.starts_with(lit)),
            None => pos == line.len(),
            Some(_) => true,
        }
    }
}

/// The length of the `len` lowercase hex digits or the `-` at the start of `s`; 0 for neither.
fn hex_or_dash(s: &[u8], len: usize) -> usize {
    if s.starts_with(b"-") {
        return 1;
    }
    match s.get(..len) {
        Some(id) if id.iter().all(|b| b.is_ascii_hexdigit()) => len,
        _ => 0,
    }
}
