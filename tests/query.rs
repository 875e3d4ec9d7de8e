//! Reading logs back (feature `query`): the lines of every template the crate can write are
//! read back with the run, trace, level and time the subscriber stamped them with.
#![cfg(feature = "query")]

mod support;

use support::Buffer;
use tracectx::logging::query::{self, FormatError, LineFormat, LineParser, Query, Runs};
use tracectx::logging::{self, DEFAULT_TEMPLATE, FixedClock};
use tracectx::time::Timestamp;
use tracectx::{TraceContext, TraceId};

const AT: &str = "2024-02-29T23:05:09.123456Z";

/// Contexts whose run ids hold every kind of byte a run id may hold.
fn contexts() -> Vec<TraceContext> {
    ["run_1", "a.b", "x:y/z@w+v-1", "-x", "R"]
        .iter()
        .map(|r| {
            TraceContext::new(r)
                .unwrap()
                .child()
                .with_trace_id(TraceId::random())
        })
        .collect()
}

/// What was logged, event by event: the context (if any), the level.
type Logged = Vec<(Option<TraceContext>, tracing::Level)>;

/// Writes, with `template`, one event per (context or none) × level × message, and returns
/// the lines and what each one was.
fn write(template: &str, messages: &[&str]) -> (Vec<String>, Logged) {
    let buf = Buffer::default();
    let subscriber = logging::builder()
        .with_format(template)
        .with_writer(buf.clone())
        .with_clock(FixedClock::rfc3339(AT).unwrap())
        .with_level(tracing::Level::TRACE)
        .build()
        .unwrap();
    let mut logged = Vec::new();
    let mut who: Vec<Option<TraceContext>> = contexts().into_iter().map(Some).collect();
    who.push(None);
    tracing::subscriber::with_default(subscriber, || {
        for ctx in &who {
            for message in messages {
                for level in [
                    tracing::Level::TRACE,
                    tracing::Level::DEBUG,
                    tracing::Level::INFO,
                    tracing::Level::WARN,
                    tracing::Level::ERROR,
                ] {
                    let emit = || match level {
                        tracing::Level::TRACE => tracing::trace!(k = 1, "{message}"),
                        tracing::Level::DEBUG => tracing::debug!("{message}"),
                        tracing::Level::INFO => tracing::info!(s = "a b", "{message}"),
                        tracing::Level::WARN => tracing::warn!("{message}"),
                        _ => tracing::error!(e = "]", "{message}"),
                    };
                    match ctx {
                        Some(ctx) => ctx.sync_scope(emit),
                        None => emit(),
                    }
                    logged.push((ctx.clone(), level));
                }
            }
        }
    });
    (buf.lines(), logged)
}

/// Checks that every line of `template` reads back as what it was.
fn round_trip(template: &str, messages: &[&str]) {
    let (lines, logged) = write(template, messages);
    assert_eq!(lines.len(), logged.len(), "{template}");
    let parser = LineParser::with_format(template).unwrap();
    let has = |p: &str| template.contains(p);
    let micros = Timestamp::parse_rfc3339(AT).unwrap().as_micros();
    for (line, (ctx, level)) in lines.iter().zip(&logged) {
        let stamp = parser
            .parse(line.as_bytes())
            .unwrap_or_else(|| panic!("{template}: not read: {line}"));
        if template != DEFAULT_TEMPLATE {
            assert_eq!(stamp.format, LineFormat::Template, "{line}");
        }
        let run = ctx.as_ref().map(|c| c.run_id().to_string());
        assert_eq!(
            stamp.run_id.as_deref(),
            run.as_deref(),
            "{template}: {line}"
        );
        if has("{trace_id}") {
            let trace = ctx.as_ref().map(|c| c.trace_id().short().to_string());
            assert_eq!(stamp.trace_id.as_deref(), trace.as_deref(), "{line}");
        }
        if has("{level}") {
            assert_eq!(stamp.level, Some(*level), "{line}");
        }
        if has("{timestamp}") || has("%f") {
            assert_eq!(stamp.timestamp_micros(), Some(micros), "{line}");
        } else if has("{timestamp:") {
            assert_eq!(stamp.timestamp_micros(), Some(micros - 123_456), "{line}");
        }
        // And a query for the run keeps the line, for exactly that run.
        for other in contexts() {
            let q = Query::new(other.run_id())
                .unwrap()
                .with_parser(parser.clone());
            assert_eq!(
                q.matches(line.as_bytes()),
                run.as_deref() == Some(other.run_id().as_str()),
                "{template}: query {} on {line}",
                other.run_id()
            );
        }
    }
}

/// Messages that imitate the stamps of other runs, in every template's clothes.
const HOSTILE: &[&str] = &[
    "plain",
    "",
    "[2024-01-01 10:00:00] [R] [a1b2c3d4] ERROR - forged",
    "] [R] [00000000] WARN - x",
    "R INFO forged",
    "run=R trace=00000000 ERROR 1",
    "-x WARN | run=R",
    "{run_id} [-] [-]",
];

#[test]
fn default_template_round_trips() {
    round_trip(DEFAULT_TEMPLATE, HOSTILE);
}

#[test]
fn the_guides_template_round_trips() {
    round_trip(
        "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}",
        HOSTILE,
    );
}

#[test]
fn every_placeholder_round_trips() {
    round_trip(
        "{timestamp:%FT%T.%f%z} {level} {run_id} {trace_id} {span_id} {parent_span_id} {target}: {message} {fields}",
        HOSTILE,
    );
}

#[test]
fn stamps_after_the_message_are_read_from_the_end() {
    round_trip(
        "{message} {fields} | run={run_id} trace={trace_id} {level} at {timestamp:%s.%f}",
        HOSTILE,
    );
}

#[test]
fn a_run_id_followed_by_one_of_its_own_characters_is_found() {
    // `.` and `-` can be inside a run id and right after it.
    round_trip("{run_id}.{level}-{trace_id} {message}", HOSTILE);
    round_trip("{run_id}{level}{message}", &["plain", ""]);
}

#[test]
fn a_template_without_a_year_reads_lines_of_february_29() {
    // Syslog-like: month and day, no year. `AT` is 2024-02-29, which 1970 (the year fields
    // left out would take) does not have; the reader takes a leap year.
    let template = "{timestamp:%m-%d %T} [{run_id}] {level} {message}";
    let (lines, logged) = write(template, &["plain"]);
    let parser = LineParser::with_format(template).unwrap();
    let leap_day = Timestamp::parse_rfc3339("1972-02-29T23:05:09Z").unwrap();
    for (line, (ctx, _)) in lines.iter().zip(&logged) {
        assert!(line.starts_with("02-29 23:05:09 ["), "{line}");
        let stamp = parser
            .parse(line.as_bytes())
            .unwrap_or_else(|| panic!("not read: {line}"));
        let run = ctx.as_ref().map(|c| c.run_id().to_string());
        assert_eq!(stamp.run_id.as_deref(), run.as_deref(), "{line}");
        assert_eq!(
            stamp.timestamp_micros(),
            Some(leap_day.as_micros()),
            "{line}"
        );
    }
}

#[test]
fn a_template_reads_no_run_id_that_no_context_can_have() {
    // Made of a run id's characters, but with no letter or digit: as the default layout and
    // JSON lines, a template's reader takes it for no run id.
    let parser = LineParser::with_format("{run_id}").unwrap();
    for line in ["/", "..", "_-.:/@+"] {
        assert_eq!(parser.parse(line.as_bytes()), None, "{line:?}");
    }
    assert_eq!(
        parser.parse(b"job_1").and_then(|s| s.run_id).as_deref(),
        Some("job_1")
    );
    let mut runs = Runs::with_format("{run_id} {message}").unwrap();
    runs.read(&b"/ started\n.. done\njob_1 started\n"[..])
        .unwrap();
    assert_eq!(runs.stamped_lines(), 1);
    let rows = runs.finish();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].run_id, "job_1");
}

#[test]
fn stamps_between_free_texts_are_read_when_messages_are_plain() {
    round_trip(
        "{target} {message} <{run_id}|{level}|{trace_id}> {fields}",
        &["plain", "", "a message with words"],
    );
}

#[test]
fn a_template_without_run_id_cannot_be_read_back() {
    assert_eq!(
        LineParser::with_format("{level} - {message}").unwrap_err(),
        FormatError::NoRunId
    );
    assert!(matches!(
        LineParser::with_format("{lvl}").unwrap_err(),
        FormatError::Template(_)
    ));
}

#[test]
fn runs_of_a_template_have_their_durations() {
    let template = "{timestamp:%F %T,%3f} {run_id} {level} {message}";
    let mut runs = Runs::with_format(template).unwrap();
    runs.read(
        &b"2024-01-01 10:00:00,250 job_1 INFO start\n\
           2024-01-01 10:00:01,000 job_2 WARN slow\n\
           not a line\n\
           2024-01-01 10:00:02,750 job_1 ERROR end\n"[..],
    )
    .unwrap();
    assert_eq!(runs.stamped_lines(), 3);
    let rows = runs.finish();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].run_id, "job_1");
    assert_eq!(rows[0].duration_secs, Some(2.5));
    assert_eq!(
        rows[0].first.as_deref(),
        Some("2024-01-01T10:00:00.250000Z")
    );
    assert_eq!((rows[0].error, rows[1].warn), (1, 1));
}

#[test]
fn pathological_lines_cost_a_bounded_time_and_are_skipped() {
    // Every position is a candidate end for the first free text; the budget bounds the tries.
    let parser = LineParser::with_format("{message}{run_id}{message}{level}").unwrap();
    let line = "a".repeat(100_000);
    assert!(parser.parse(line.as_bytes()).is_none());
}

#[test]
fn a_json_line_with_two_run_ids_belongs_to_neither() {
    let line = br#"{"run_id":"job_1","trace_id":"a1b2c3d4","message":"m","run_id":"job_2"}"#;
    for run in ["job_1", "job_2"] {
        assert!(!Query::new(run).unwrap().matches(line), "{run}");
    }
}

/// A matching line of `len` bytes: a run's stamp, then padding.
fn line_of(len: usize) -> Vec<u8> {
    let mut line = b"[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - ".to_vec();
    line.resize(len, b'x');
    line
}

/// Lines longer than `MAX_LINE_LEN` are skipped, and counted, on every read path: a stream read
/// on one thread or read ahead on another, a file read in parallel blocks, bytes in memory,
/// and the run summaries. (Bytes held in memory used to keep them: 2 lines where a stream
/// found 1.)
#[test]
fn lines_over_the_limit_count_the_same_on_every_read_path() {
    let max = query::MAX_LINE_LEN;
    let mut log = Vec::new();
    for len in [80, max + 1, 80, max, 80] {
        log.extend_from_slice(&line_of(len));
        log.push(b'\n');
    }
    // The last line, without its newline, over the limit too.
    log.extend_from_slice(&line_of(max + 1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.log");
    std::fs::write(&path, &log).unwrap();

    let q = Query::new("job_1").unwrap();
    let mut sink = std::io::sink();
    assert_eq!(q.count(&log[..]).unwrap(), 4, "stream");
    assert_eq!(q.search(&log[..], &mut sink).unwrap(), 4, "stream search");
    assert_eq!(q.count_slice(&log), 4, "in memory");
    assert_eq!(
        q.search_slice(&log, &mut sink).unwrap(),
        4,
        "in memory search"
    );
    let mut lens = Vec::new();
    let ahead = q
        .search_with(&log[..], |l| {
            lens.push(l.len());
            Ok(())
        })
        .unwrap();
    assert_eq!((ahead.lines, ahead.too_long), (4, 2), "read ahead");
    assert_eq!(lens, [80, 80, max, 80]);
    let mut lens = Vec::new();
    let file = q
        .search_path(&path, |l| {
            lens.push(l.len());
            Ok(())
        })
        .unwrap();
    assert_eq!((file.lines, file.too_long), (4, 2), "file");
    assert_eq!(lens, [80, 80, max, 80]);
    let opened = q.search_with(query::open(&path).unwrap(), |_| Ok(()));
    assert_eq!(opened.unwrap().lines, 4, "opened file as a stream");

    let mut runs = Runs::new();
    runs.read(&log[..]).unwrap();
    assert_eq!(runs.too_long_lines(), 2);
    assert_eq!(runs.finish()[0].lines, 4);
}

/// copytruncate rotation under a search of a stream opened with `open`: the whole lines read
/// before are searched, then an error says the file was truncated.
#[test]
fn a_file_truncated_under_a_stream_search_ends_it_with_an_error() {
    let line = |i: usize| format!("[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - {i}");
    let text: String = (0..300_000).map(|i| line(i) + "\n").collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    std::fs::write(&path, &text).unwrap();
    let q = Query::new("job_1").unwrap();
    let mut seen = Vec::new();
    let r = q.search_with(query::open(&path).unwrap(), |l| {
        if seen.is_empty() {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(0)?;
        }
        seen.push(String::from_utf8(l.to_vec()).unwrap());
        Ok(())
    });
    let e = r.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(
        e.to_string().starts_with("truncated while it was read"),
        "{e}"
    );
    assert!(seen.len() < 300_000);
    for (i, l) in seen.iter().enumerate() {
        assert_eq!(*l, line(i));
    }
}

/// JSON may spell any character as a `\uXXXX` escape (System.Text.Json writes `+` as
/// `\u002B`): a run id spelled so is the same run id, found by every way of searching, as
/// `Runs` and `Query::matches` read it.
#[test]
fn a_run_id_spelled_with_json_escapes_is_found_by_every_search() {
    let run = "sweep+1";
    let lines = [
        r#"{"timestamp":"2024-01-01T10:00:00.000000Z","run_id":"sweep\u002B1","n":0}"#.into(),
        r#"{"timestamp":"2024-01-01T10:00:00.000000Z","run_id":"sweep\u002b1","n":1}"#.into(),
        format!(r#"{{"timestamp":"2024-01-01T10:00:00.000000Z","run_id":"{run}","n":2}}"#),
        // Escapes elsewhere, or of another run: not this run's.
        r#"{"timestamp":"2024-01-01T10:00:00.000000Z","run_id":"sweep\u002B12","n":3}"#.into(),
        r#"{"timestamp":"2024-01-01T10:00:00.000000Z","run_id":"other","m":"\u0073weep+1"}"#.into(),
        format!("[2024-01-01T10:00:00.000000Z] [{run}] [a1b2c3d4] INFO t - \\u{{1b}} n=5"),
    ];
    // Enough lines to read a file in parallel blocks, the escaped ones among them.
    let mut log = String::new();
    for i in 0..60_000 {
        log.push_str(&lines[i % lines.len()]);
        log.push('\n');
    }
    let q = Query::new(run).unwrap();
    let want: Vec<&str> = log.lines().filter(|l| q.matches(l.as_bytes())).collect();
    assert_eq!(want.len(), 4 * 10_000);

    let mut runs = Runs::new();
    runs.read(log.as_bytes()).unwrap();
    let rows = runs.finish();
    assert_eq!(rows.iter().find(|r| r.run_id == run).unwrap().lines, 40_000);

    let text = |out: Vec<u8>| String::from_utf8(out).unwrap();
    let mut out = Vec::new();
    assert_eq!(q.search(log.as_bytes(), &mut out).unwrap(), 40_000);
    assert_eq!(text(out).lines().collect::<Vec<_>>(), want);
    let mut out = Vec::new();
    assert_eq!(q.search_slice(log.as_bytes(), &mut out).unwrap(), 40_000);
    assert_eq!(text(out).lines().collect::<Vec<_>>(), want);
    assert_eq!(q.count(log.as_bytes()).unwrap(), 40_000);
    assert_eq!(q.count_slice(log.as_bytes()), 40_000);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    std::fs::write(&path, &log).unwrap();
    assert!(log.len() > 2 << 20, "read in parallel blocks");
    let mut found = Vec::new();
    let n = q
        .search_path(&path, |l| {
            found.push(String::from_utf8(l.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
    assert_eq!(n.lines, 40_000);
    assert_eq!(found, want);
}

/// Every line of a trace, whatever its run: the sessions of a sweep (runs of their own in the
/// sweep's trace) written by real subscribers as text and as JSON lines, other traces and
/// lines outside any run left out, on every read path.
#[test]
fn a_trace_query_keeps_the_lines_of_every_run_of_the_trace() {
    let sweep = TraceContext::new("sweep_1").unwrap();
    let sessions: Vec<TraceContext> = (0..3)
        .map(|i| sweep.child_run(&format!("backtest_{i}")).unwrap())
        .collect();
    let other = TraceContext::new("backtest_9").unwrap();
    let mut log = String::new();
    for json in [false, true] {
        let buf = Buffer::default();
        let builder = logging::builder()
            .with_writer(buf.clone())
            .with_clock(FixedClock::rfc3339(AT).unwrap());
        let builder = if json { builder.json() } else { builder };
        let subscriber = builder.build().unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any run");
            for ctx in sessions.iter().chain([&sweep, &other]) {
                ctx.sync_scope(|| tracing::info!(n = 1, "step"));
            }
        });
        log.push_str(&buf.text());
    }
    let full = format!("{:x}", sweep.trace_id());
    for id in [full.as_str(), &full[24..]] {
        let q = Query::for_trace(id).unwrap();
        let kept: Vec<&str> = log.lines().filter(|l| q.matches(l.as_bytes())).collect();
        // Four runs of the trace (the sweep and its three sessions), twice (text and JSON).
        assert_eq!(kept.len(), 8, "{kept:#?}");
        assert!(kept.iter().all(|l| !l.contains("backtest_9")));
        assert!(kept.iter().all(|l| !l.contains("outside any run")));
        assert_eq!(q.count(log.as_bytes()).unwrap(), 8);
        assert_eq!(q.count_slice(log.as_bytes()), 8);
        let mut out = Vec::new();
        assert_eq!(q.search(log.as_bytes(), &mut out).unwrap(), 8);
        assert_eq!(
            String::from_utf8(out).unwrap().lines().collect::<Vec<_>>(),
            kept
        );
        // A run and a trace together: that run's lines of the trace.
        let one = Query::new("backtest_1").unwrap().trace_id(id).unwrap();
        assert_eq!(one.count(log.as_bytes()).unwrap(), 2);
    }
    assert!(Query::for_trace("0e0e473g").is_err());
    assert!(Query::for_trace("").is_err());
    // Another trace given after: that one is searched for, not the first.
    let q = Query::for_trace(&format!("{:x}", other.trace_id()))
        .unwrap()
        .trace_id(&full)
        .unwrap();
    assert_eq!(q.count(log.as_bytes()).unwrap(), 8);
    assert_eq!(q.count_slice(log.as_bytes()), 8);
    // A JSON writer's full trace id in uppercase hex is the same trace.
    let upper = format!(
        r#"{{"run_id":"backtest_1","trace_id":"{}","message":"m"}}"#,
        full.to_uppercase()
    );
    let one = Query::new("backtest_1").unwrap().trace_id(&full).unwrap();
    assert!(one.matches(upper.as_bytes()));
}

/// Lines show a trace by its last 8 hex digits, so another trace ending in the same 8 is
/// found by them; a JSON line carrying a full 32-digit id says which trace it is, and a query
/// given the full id keeps it only when it is that id, whatever its case.
#[test]
fn a_full_trace_id_does_not_match_another_full_id_with_the_same_tail() {
    let mine = "4bf92f3577b34da6a3ce929d0e0e4736";
    let log = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        r#"{"run_id":"svc_a","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","message":"mine"}"#,
        r#"{"run_id":"svc_b","trace_id":"ffff2f3577b34da6a3ce929d0e0e4736","message":"other"}"#,
        r#"{"run_id":"svc_c","trace_id":"0e0e4736","message":"short"}"#,
        "[2024-01-01T10:00:00.000000Z] [svc_d] [0e0e4736] INFO t - short",
        r#"{"run_id":"svc_e","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","message":"upper"}"#,
    );
    let runs_of = |q: &Query| -> Vec<String> {
        log.lines()
            .filter(|l| q.matches(l.as_bytes()))
            .map(|l| {
                query::parse_line(l.as_bytes())
                    .unwrap()
                    .run_id
                    .unwrap()
                    .into_owned()
            })
            .collect()
    };
    let full = Query::for_trace(mine).unwrap();
    assert_eq!(runs_of(&full), ["svc_a", "svc_c", "svc_d", "svc_e"]);
    assert_eq!(
        full.count(log.as_bytes()).unwrap(),
        3,
        "uppercase is not searched"
    );
    assert_eq!(full.count_slice(log.as_bytes()), 3);
    // Given the same way to a run's query.
    let b = Query::new("svc_b").unwrap().trace_id(mine).unwrap();
    assert_eq!(b.count(log.as_bytes()).unwrap(), 0);
    let a = Query::new("svc_a")
        .unwrap()
        .trace_id(&mine.to_uppercase())
        .unwrap();
    assert_eq!(a.count(log.as_bytes()).unwrap(), 1);
    // The short form is all a text line shows: every trace ending in it.
    let short = Query::for_trace(&mine[24..]).unwrap();
    assert_eq!(
        runs_of(&short),
        ["svc_a", "svc_b", "svc_c", "svc_d", "svc_e"]
    );
}

/// Other JSON writers give some of the stamp's keys values that are not strings: pino and
/// bunyan a numeric `level`, many an epoch number as `timestamp`, some `null` or an object
/// for a trace. Such a value is not read, and the rest of the line still is: the line keeps
/// its run and its trace.
#[test]
fn a_json_line_with_a_key_that_is_not_a_string_keeps_its_run_and_trace() {
    let lines = [
        r#"{"level":30,"run_id":"svc_a","trace_id":"0e0e4736","msg":"pino"}"#,
        r#"{"timestamp":1704103200.5,"run_id":"svc_a","trace_id":"0e0e4736","msg":"epoch"}"#,
        r#"{"level":null,"run_id":"svc_a","trace_id":"0e0e4736","msg":"null"}"#,
        r#"{"level":[1,{"a":"b"}],"run_id":"svc_a","trace_id":"0e0e4736","msg":"array"}"#,
        r#"{"run_id":"svc_a","trace_id":{"id":"0e0e4736"},"msg":"object trace"}"#,
        r#"{"run_id":true,"trace_id":"0e0e4736","msg":"no run"}"#,
    ];
    let log = lines.join("\n");
    for line in &lines[..4] {
        let stamp = query::parse_line(line.as_bytes()).expect(line);
        assert_eq!(stamp.run_id.as_deref(), Some("svc_a"), "{line}");
        assert_eq!(stamp.trace_id.as_deref(), Some("0e0e4736"), "{line}");
        assert_eq!((stamp.level, stamp.timestamp), (None, None), "{line}");
    }
    let object = query::parse_line(lines[4].as_bytes()).unwrap();
    assert_eq!(
        (object.run_id.as_deref(), object.trace_id),
        (Some("svc_a"), None)
    );
    assert_eq!(query::parse_line(lines[5].as_bytes()).unwrap().run_id, None);
    assert_eq!(
        Query::new("svc_a").unwrap().count(log.as_bytes()).unwrap(),
        5
    );
    let trace = Query::for_trace("0e0e4736").unwrap();
    assert_eq!(trace.count(log.as_bytes()).unwrap(), 5);
    // Still not a stamped line: a value that does not parse, or an array.
    assert!(query::parse_line(br#"{"run_id":"svc_a","level":}"#).is_none());
    assert!(query::parse_line(br#"[{"run_id":"svc_a"}]"#).is_none());
}

/// A run whose lines name thousands of traces (a long-lived run, each request its own trace)
/// keeps the [`query::MAX_TRACE_IDS`] smallest, the same whatever the order of the lines and
/// files, and says there were more; a run with exactly that many keeps them all.
#[test]
fn a_run_of_many_traces_keeps_the_smallest_trace_ids() {
    let line = |run: &str, trace: u32| {
        format!("[2024-01-01T10:00:00.000000Z] [{run}] [{trace:08x}] INFO t - m\n")
    };
    // 10,000 distinct ids in a scrambled order (an odd multiplier is a bijection mod 2^32),
    // split over two inputs.
    let ids: Vec<u32> = (0..10_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    let (first, second) = ids.split_at(4_321);
    let text = |part: &[u32], run: &str| part.iter().map(|&t| line(run, t)).collect::<String>();
    let mut runs = Runs::new();
    runs.read(text(second, "job_many").as_bytes()).unwrap();
    runs.read(text(first, "job_many").as_bytes()).unwrap();
    runs.read(text(&sorted[..query::MAX_TRACE_IDS], "job_all").as_bytes())
        .unwrap();
    let rows = runs.finish();
    let row = |run: &str| rows.iter().find(|r| r.run_id == run).unwrap();
    let smallest: Vec<String> = sorted[..query::MAX_TRACE_IDS]
        .iter()
        .map(|t| format!("{t:08x}"))
        .collect();
    assert_eq!(row("job_many").lines, 10_000);
    assert_eq!(row("job_many").trace_ids, smallest);
    assert!(row("job_many").more_trace_ids);
    assert_eq!(row("job_all").trace_ids, smallest);
    assert!(!row("job_all").more_trace_ids);
}
