//! The log reader on arbitrary bytes (text lines, JSON lines, garbage): no panic; a line's
//! stamp holds only a valid run id and an 8-hex trace id; a query of a run (and of a trace,
//! `Query::for_trace`) keeps only lines it matches, the same ones on every read path, and every
//! matching line that spells the id as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::logging::query::{parse_line, LineParser, Query};
use tracectx::RunId;

fuzz_target!(|data: &[u8]| {
    // The run id searched for, the trace id, then the log.
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let run = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let trace = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let log = parts.next().unwrap_or_default();
    let mut lines: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    if log.ends_with(b"\n") || log.is_empty() {
        lines.pop();
    }

    let parser = LineParser::new();
    for line in &lines {
        let stamp = parse_line(line);
        assert_eq!(parser.parse(line), stamp);
        let Some(stamp) = stamp else { continue };
        if let Some(run) = &stamp.run_id {
            assert!(RunId::new(run).is_ok(), "{run:?}");
        }
        if let Some(trace) = &stamp.trace_id {
            assert!(
                trace.len() == 8 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
                "{trace:?}"
            );
        }
        let _ = stamp.timestamp_micros();
    }

    if let Ok(query) = Query::new(&run) {
        check(&query, log, &lines, run.as_bytes());
        if let Ok(query) = query.trace_id(&trace) {
            check(&query, log, &lines, run.as_bytes());
        }
    }
    if let Ok(query) = Query::for_trace(&trace) {
        assert!(query.run_id().is_none());
        let short = &trace.as_bytes()[trace.len().saturating_sub(8)..];
        check(&query, log, &lines, &short.to_ascii_lowercase());
        for line in &lines {
            if query.matches(line) {
                let stamp = parse_line(line).expect("a kept line has a stamp");
                let shown = stamp.trace_id.expect("a kept line has a trace id");
                assert!(shown.eq_ignore_ascii_case(std::str::from_utf8(short).unwrap()));
            }
        }
    }
});

/// The lines `query` keeps from `log` are lines it matches, in order, the same on every read
/// path; among them every matching line that holds `literal` (the id as written).
fn check(query: &Query, log: &[u8], lines: &[&[u8]], literal: &[u8]) {
    let matching: Vec<&[u8]> = lines.iter().copied().filter(|l| query.matches(l)).collect();
    if let Some(run) = query.run_id() {
        for line in &matching {
            let stamp = parse_line(line).expect("a matching line has a stamp");
            assert_eq!(stamp.run_id.as_deref(), Some(run.as_str()));
        }
    }
    let mut kept = Vec::new();
    let n = query
        .search_slice(log, &mut kept)
        .expect("writing to memory");
    let kept_lines: Vec<&[u8]> = kept
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(n as usize, kept.iter().filter(|&&b| b == b'\n').count());
    // In order, a subsequence of the matching lines.
    let mut rest = matching.iter();
    for line in &kept_lines {
        assert!(
            rest.any(|m| m == line),
            "kept a line it does not match: {line:?}"
        );
    }
    let spelled = matching
        .iter()
        .filter(|l| l.windows(literal.len().max(1)).any(|w| w == literal))
        .count();
    assert!(
        n as usize >= spelled,
        "{n} kept, {spelled} match and spell the id"
    );
    assert_eq!(query.count_slice(log), n);
    assert_eq!(query.count(log).expect("reading memory"), n);
    let mut out = Vec::new();
    assert_eq!(query.search(log, &mut out).expect("reading memory"), n);
    assert_eq!(out, kept);
    let mut each = 0;
    let found = query
        .search_with(log, |_| {
            each += 1;
            Ok(())
        })
        .expect("reading memory");
    assert_eq!((found.lines, each), (n, n));
}
