//! Log lines written by the crate's formats (the default layout, JSON, templates with an
//! arbitrary time format) from arbitrary run ids, messages and field values, then read back:
//! each event is one line with no raw control, line-breaking or bidirectional character, and
//! the reader finds it under its run, trace and level.
#![no_main]

use std::io;
use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::logging::query::{LineParser, Query, Runs};
use tracectx::logging::{self, FixedClock};
use tracectx::time::Timestamp;
use tracectx::TraceContext;
use tracing::Level;

/// Templates that put the stamp before any free text, so a line reads back unambiguously;
/// `FMT` is the input's time format.
const TEMPLATES: [&str; 4] = [
    "[{timestamp:FMT}] [{run_id}] [{trace_id}] {level} - {message}",
    "{timestamp:FMT} {level} [{run_id}] {message} {fields}",
    "{run_id}|{trace_id}|{span_id}|{level}|{target}: {message}{fields}",
    "{level} {run_id} {timestamp} {message}",
];

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[choice, level], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Some((micros, rest)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let at = Timestamp::from_micros(i64::from_le_bytes(*micros) >> 4);
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(4, '\n');
    let (fmt, run, message, note) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let ctx = TraceContext::new(run).unwrap_or_else(|_| TraceContext::generate("job"));
    let level = [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ][usize::from(level % 5)];

    let lines = Lines::default();
    let writer = lines.clone();
    let builder = logging::builder()
        .with_level(Level::TRACE)
        .with_clock(FixedClock::new(at.to_system_time()))
        .with_writer(move || writer.clone());
    let (template, json) = match choice % 6 {
        0 => (None, false),
        1 => (None, true),
        k => (
            Some(TEMPLATES[usize::from(k - 2)].replace("FMT", fmt)),
            false,
        ),
    };
    let subscriber = match (&template, json) {
        (_, true) => builder.json().build(),
        (Some(t), _) => builder.with_format(t.as_str()).build(),
        (None, _) => builder.build(),
    };
    let Ok(subscriber) = subscriber else { return };
    tracing::subscriber::with_default(subscriber, || {
        ctx.sync_scope(|| match level {
            Level::TRACE => tracing::trace!(note = %note, "{message}"),
            Level::DEBUG => tracing::debug!(note = %note, "{message}"),
            Level::INFO => tracing::info!(note = %note, "{message}"),
            Level::WARN => tracing::warn!(note = %note, "{message}"),
            _ => tracing::error!(note = %note, "{message}"),
        });
    });

    let out = lines.0.lock().unwrap().clone();
    let out = String::from_utf8(out).expect("a log line is UTF-8");
    let line = out.strip_suffix('\n').expect("a line ends with a newline");
    assert!(!line.contains('\n'), "one event, one line: {out:?}");
    assert!(!line.chars().any(is_escaped), "{line:?}");
    if json {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line parses");
        assert_eq!(value["run_id"].as_str(), Some(ctx.run_id().as_str()));
        assert_eq!(value["message"].as_str(), Some(message));
        assert_eq!(value["note"].as_str(), Some(note));
    }

    let parser = match &template {
        Some(t) => LineParser::with_format(t).expect("a template that wrote a line reads it"),
        None => LineParser::new(),
    };
    let stamp = parser
        .parse(line.as_bytes())
        .expect("a written line reads back");
    assert_eq!(
        stamp.run_id.as_deref(),
        Some(ctx.run_id().as_str()),
        "{line:?}"
    );
    let short = ctx.trace_id().short().to_string();
    if template.as_deref().is_none_or(|t| t.contains("{trace_id}")) {
        assert_eq!(stamp.trace_id.as_deref(), Some(short.as_str()), "{line:?}");
    }
    assert_eq!(stamp.level, Some(level));
    if template.is_none() && at.is_in_range() {
        assert_eq!(stamp.timestamp_micros(), Some(at.as_micros()), "{line:?}");
    }
    let query = Query::new(ctx.run_id())
        .unwrap()
        .with_parser(parser.clone());
    assert_eq!(query.count_slice(out.as_bytes()), 1, "{line:?}");
    let mut runs = Runs::with_parser(parser);
    runs.add_line(line.as_bytes());
    let rows = runs.finish();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].run_id, ctx.run_id().as_str());
});
