//! Logging: every line stamped with its run, whatever task or thread wrote it.
#![cfg(feature = "logging")]

use std::sync::OnceLock;

use tracectx::logging::{
    self, FixedClock, JsonFormat, SpanContextLayer, TemplateError, TextFormat,
};
use tracectx::prelude::*;
use tracing_subscriber::prelude::*;

// === helpers ===

mod support;
use support::Buffer;
#[path = "support/json.rs"]
mod json;

const TS: &str = "2024-01-01T10:00:00.000000Z";

fn clock() -> FixedClock {
    FixedClock::rfc3339(TS).unwrap()
}

fn ctx() -> TraceContext {
    let trace: tracectx::TraceId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let span: tracectx::SpanId = "00000000000000aa".parse().unwrap();
    TraceContext::new("backtest_abc123")
        .unwrap()
        .with_trace_id(trace)
        .with_span_id(span)
}

/// Runs `f` under the builder's subscriber (text, fixed clock, TRACE) and returns the lines.
fn capture_with(
    configure: impl FnOnce(logging::Builder<Buffer>) -> logging::Builder<Buffer>,
    f: impl FnOnce(),
) -> Vec<String> {
    let buf = Buffer::default();
    let builder = logging::builder()
        .with_writer(buf.clone())
        .with_clock(clock())
        .with_level(tracing::Level::TRACE);
    let subscriber = configure(builder).build().unwrap();
    tracing::subscriber::with_default(subscriber, f);
    buf.lines()
}

fn capture(f: impl FnOnce()) -> Vec<String> {
    capture_with(|b| b, f)
}

fn template(t: &str, f: impl FnOnce()) -> Vec<String> {
    let t = t.to_owned();
    capture_with(move |b| b.with_format(t), f)
}

// === text lines ===

#[test]
fn default_line_is_stamped_with_run_and_trace() {
    let lines = capture(|| {
        ctx().sync_scope(|| tracing::info!(target: "engine", qty = 10, "filled"));
    });
    assert_eq!(
        lines,
        [format!(
            "[{TS}] [backtest_abc123] [89abcdef] INFO engine - filled qty=10"
        )]
    );
}

#[test]
fn outside_any_context_ids_are_dashes() {
    let lines = capture(|| tracing::warn!(target: "engine", "no run"));
    assert_eq!(lines, [format!("[{TS}] [-] [-] WARN engine - no run")]);
}

#[test]
fn no_fields_no_trailing_space_and_empty_message_no_double_space() {
    let lines = capture(|| {
        tracing::info!(target: "t", "only a message");
        tracing::info!(target: "t", a = 1, b = "two", c = true);
    });
    assert_eq!(
        lines,
        [
            format!("[{TS}] [-] [-] INFO t - only a message"),
            format!("[{TS}] [-] [-] INFO t - a=1 b=\"two\" c=true"),
        ]
    );
}

#[test]
fn each_placeholder_renders() {
    let parent: tracectx::SpanId = "00000000000000bb".parse().unwrap();
    let c = ctx().with_parent_span_id(parent);
    let cases = [
        ("{timestamp}", TS.to_owned()),
        ("{run_id}", "backtest_abc123".to_owned()),
        ("{trace_id}", "89abcdef".to_owned()),
        ("{span_id}", "00000000000000aa".to_owned()),
        ("{parent_span_id}", "00000000000000bb".to_owned()),
        ("{level}", "DEBUG".to_owned()),
        ("{target}", "engine".to_owned()),
        ("{message}", "hello".to_owned()),
        ("{fields}", "k=7".to_owned()),
        ("{{literal}} {level}", "{literal} DEBUG".to_owned()),
    ];
    for (t, expected) in cases {
        let c = c.clone();
        let lines = template(t, move || {
            c.sync_scope(|| tracing::debug!(target: "engine", k = 7, "hello"));
        });
        assert_eq!(lines, [expected], "template {t:?}");
    }
}

#[test]
fn placeholders_outside_a_context_are_dashes() {
    let lines = template(
        "{run_id} {trace_id} {span_id} {parent_span_id} {message}",
        || tracing::info!("x"),
    );
    assert_eq!(lines, ["- - - - x"]);
}

#[test]
fn each_template_error_names_its_cause() {
    let err = |t: &str| logging::builder().with_format(t).build().err().unwrap();
    assert_eq!(
        err("[{run}] {message}"),
        TemplateError::UnknownPlaceholder {
            name: "run".into(),
            at: 1
        }
    );
    assert_eq!(
        err("{}"),
        TemplateError::UnknownPlaceholder {
            name: "".into(),
            at: 0
        }
    );
    assert_eq!(
        err("{level {message}"),
        TemplateError::NestedBrace { at: 0, inner: 7 }
    );
    assert_eq!(err("{message"), TemplateError::UnclosedBrace { at: 0 });
    assert_eq!(err("{level} }"), TemplateError::UnmatchedBrace { at: 8 });
    assert_eq!(
        err("{level}\n{message}"),
        TemplateError::ControlCharacter { ch: '\n', at: 7 }
    );
    assert_eq!(
        err("[{run}] {message}").to_string(),
        "unknown placeholder {run} at byte 1 of the log template: expected one of timestamp, \
         run_id, trace_id, span_id, parent_span_id, level, target, message, fields"
    );
    assert!(matches!(
        logging::builder().with_format("{nope}").try_init(),
        Err(logging::InitError::Template(
            TemplateError::UnknownPlaceholder { .. }
        ))
    ));
}

#[test]
fn forged_line_in_a_message_stays_one_line() {
    let forged = "ok\n[2024-01-01T10:00:00.000000Z] [other_run] [deadbeef] INFO - forged";
    let lines = capture(|| {
        ctx().sync_scope(|| tracing::info!(target: "t", note = forged, "{forged}"));
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "[{TS}] [backtest_abc123] [89abcdef] INFO t - ok\\n[2024-01-01T10:00:00.000000Z] \
             [other_run] [deadbeef] INFO - forged note=\"ok\\n[2024-01-01T10:00:00.000000Z] \
             [other_run] [deadbeef] INFO - forged\""
        )
    );
}

#[test]
fn control_characters_in_messages_and_fields_are_escaped() {
    let lines = capture(|| {
        tracing::info!(
            target: "t",
            v = %"a\rb\u{1b}[31mc\u{2028}d",
            "tab\there\u{0}end\u{85}"
        );
    });
    assert_eq!(
        lines,
        [format!(
            "[{TS}] [-] [-] INFO t - tab\\there\\u{{0}}end\\u{{85}} v=a\\rb\\u{{1b}}[31mc\\u{{2028}}d"
        )]
    );
}

// === JSON lines ===

#[test]
fn json_line_carries_the_stamp_as_top_level_keys() {
    let lines = capture_with(
        |b| b.json(),
        || {
            ctx().sync_scope(
                || tracing::info!(target: "engine", qty = 10, px = 1.5, ok = true, "filled"),
            )
        },
    );
    assert_eq!(
        lines,
        [format!(
            r#"{{"timestamp":"{TS}","level":"INFO","run_id":"backtest_abc123","trace_id":"89abcdef","span_id":"00000000000000aa","target":"engine","message":"filled","qty":10,"px":1.5,"ok":true}}"#
        )]
    );
}

#[test]
fn json_outside_a_context_has_no_ids() {
    let lines = capture_with(|b| b.json(), || tracing::info!(target: "t", "bare"));
    assert_eq!(
        lines,
        [format!(
            r#"{{"timestamp":"{TS}","level":"INFO","target":"t","message":"bare"}}"#
        )]
    );
}

#[test]
fn json_is_valid_whatever_the_message_and_fields_hold() {
    let nasty = "quote\" backslash\\ newline\n nul\u{0} brace} [x] \u{1b}[0m";
    let lines = capture_with(
        |b| b.json(),
        || {
            ctx().sync_scope(|| {
                tracing::error!(
                    target: "t",
                    run_id = "forged_run",
                    dbg = ?nasty,
                    nan = f64::NAN,
                    "{nasty}"
                )
            })
        },
    );
    assert_eq!(lines.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["message"], nasty);
    assert_eq!(v["run_id"], "backtest_abc123");
    assert_eq!(v["fields.run_id"], "forged_run");
    assert_eq!(v["dbg"], format!("{nasty:?}"));
    assert!(v["nan"].is_null());
}

// === hostile text, hostile fields, far times ===

/// The direction marks (U+200E, U+200F, U+061C) and the byte order mark (U+FEFF) reorder or
/// hide text on a terminal as the overrides do: escaped in text lines (they passed as they
/// were), and written as `\u` escapes in JSON lines, whose value stays the same.
#[test]
fn direction_marks_and_the_byte_order_mark_are_escaped_in_text_and_json() {
    let marks = "a\u{200e}b\u{200f}c\u{61c}d\u{feff}e";
    let event = || ctx().sync_scope(|| tracing::info!(target: "t", note = marks, "{marks}"));
    let text = capture(event);
    assert_eq!(
        text,
        [format!(
            "[{TS}] [backtest_abc123] [89abcdef] INFO t - a\\u{{200e}}b\\u{{200f}}c\\u{{61c}}d\\u{{feff}}e \
             note=\"a\\u{{200e}}b\\u{{200f}}c\\u{{61c}}d\\u{{feff}}e\""
        )]
    );
    let json = capture_with(|b| b.json(), event);
    assert_eq!(json.len(), 1);
    let escaped = "a\\u200eb\\u200fc\\u061cd\\ufeffe";
    assert!(
        json[0].contains(&format!(r#""message":"{escaped}","note":"{escaped}""#)),
        "{}",
        json[0]
    );
    assert!(json[0].is_ascii());
    let v: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(
        (v["message"].as_str(), v["note"].as_str()),
        (Some(marks), Some(marks))
    );
}

/// An event field named `run_id` (or `fields.run_id`, the name the first is renamed to, ...)
/// never makes a second key of one name: each gets one more `fields.` in front. The line reads
/// back as its context's, and outside any context as no run's.
#[test]
fn json_fields_named_like_the_stamp_never_make_a_second_key() {
    let event = || {
        tracing::info!(
            target: "t",
            run_id = "forged",
            fields.run_id = "forged_2",
            trace_id = "deadbeef",
            timestamp = 1,
            "m"
        )
    };
    let lines = capture_with(
        |b| b.json(),
        || {
            ctx().sync_scope(event);
            event();
        },
    );
    assert_eq!(lines.len(), 2);
    for (line, run) in lines.iter().zip([Some("backtest_abc123"), None]) {
        let keys = json::json_keys(line);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a key written twice: {line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["run_id"].as_str(), run);
        assert_eq!(v["fields.run_id"], "forged");
        assert_eq!(v["fields.fields.run_id"], "forged_2");
        assert_eq!(v["fields.trace_id"], "deadbeef");
        assert_eq!(v["fields.timestamp"], 1);
        let stamp = logging::query::parse_line(line.as_bytes()).unwrap();
        assert_eq!(stamp.run_id.as_deref(), run);
    }
}

/// An instant past the year 9999 (a clock gone wrong) is written as the last instant RFC 3339
/// can write, in text and JSON lines alike (it was written `9999-01-01`, a date it is not); a
/// template's own time format saturates the same way, four digits of year at most.
#[test]
fn times_past_the_year_9999_saturate_in_rfc3339() {
    let year_10000 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(253_402_300_800);
    for at in [
        year_10000,
        year_10000 + std::time::Duration::from_secs(86_400 * 400),
    ] {
        let clock = FixedClock::new(at);
        let event = || tracing::info!(target: "t", "late");
        let text = capture_with(|b| b.with_clock(clock), event);
        assert_eq!(
            text,
            ["[9999-12-31T23:59:59.999999Z] [-] [-] INFO t - late"]
        );
        let json = capture_with(|b| b.with_clock(clock).json(), event);
        assert_eq!(
            json,
            [
                r#"{"timestamp":"9999-12-31T23:59:59.999999Z","level":"INFO","target":"t","message":"late"}"#
            ]
        );
    }
    let own = capture_with(
        |b| {
            b.with_clock(FixedClock::new(year_10000))
                .with_format("[{timestamp:%Y-%m-%d %H:%M:%S}] {message}")
        },
        || tracing::info!("late"),
    );
    assert_eq!(own, ["[9999-12-31 23:59:59] late"]);
}

// === composable pieces ===

#[test]
fn format_events_compose_with_a_users_subscriber() {
    let text = Buffer::default();
    let json = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::from_template("[{run_id}] {message}").unwrap())
                .with_writer(text.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormat::new().with_clock(clock()))
                .with_writer(json.clone()),
        );
    tracing::subscriber::with_default(subscriber, || {
        ctx().sync_scope(|| tracing::info!(target: "t", "hi"));
    });
    assert_eq!(text.lines(), ["[backtest_abc123] hi"]);
    let v: serde_json::Value = serde_json::from_str(&json.lines()[0]).unwrap();
    assert_eq!(v["run_id"], "backtest_abc123");
}

#[test]
fn span_remembers_its_context_on_a_thread_without_a_scope() {
    let lines = template("[{run_id}] [{trace_id}] {message}", || {
        let span = ctx().sync_scope(|| tracing::info_span!("work"));
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        // A plain thread: its task-local slot is empty; only the span knows the run.
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                assert!(tracectx::current().is_none());
                span.in_scope(|| {
                    let _inner = tracing::debug_span!("nested").entered();
                    tracing::info!("in the span");
                });
                tracing::info!("outside the span");
            })
        })
        .join()
        .unwrap();
    });
    assert_eq!(
        lines,
        [
            "[backtest_abc123] [89abcdef] in the span",
            "[-] [-] outside the span"
        ]
    );
}

#[test]
fn the_slot_wins_over_the_span() {
    let lines = template("[{run_id}] {message}", || {
        let span = ctx().sync_scope(|| tracing::info_span!("work"));
        let other = TraceContext::new("other_run").unwrap();
        other.sync_scope(|| span.in_scope(|| tracing::info!("here")));
    });
    assert_eq!(lines, ["[other_run] here"]);
}

#[test]
fn spans_created_outside_a_scope_remember_nothing() {
    let lines = template("[{run_id}] {message}", || {
        let span = tracing::info_span!("bare");
        span.in_scope(|| tracing::info!("x"));
    });
    assert_eq!(lines, ["[-] x"]);
}

// === a field that panics ===

/// Set in the environment of this test binary run again as a child, whose stderr is read.
const PANIC_CHILD: &str = "TRACECTX_TEST_PANIC_CHILD";

/// Two tasks on the one thread of a current-thread runtime, each with its run and its file: a
/// field of `run_a` panics while its line is formatted, then `run_b` logs. The fmt layer
/// formats a thread's events in one buffer, cleared only when the format returns: the half
/// line of `run_a`, its run id first, was written in front of `run_b`'s line, to `run_b`'s
/// file, and the panic went through the `info!` into the task. Run in a child process, whose
/// stderr must say which event was not logged.
#[test]
fn a_field_that_panics_leaves_nothing_for_the_next_run_on_its_thread() {
    let Some(json) = std::env::var_os(PANIC_CHILD) else {
        for json in ["text", "json"] {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "a_field_that_panics_leaves_nothing_for_the_next_run_on_its_thread",
                    "--nocapture",
                ])
                .env(PANIC_CHILD, json)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{json}: {stderr}");
            let said = "tracectx: an event of logging::support at tests/support/mod.rs:";
            assert!(stderr.contains(said), "{json}: {stderr}");
            assert!(
                stderr.contains("was not logged: formatting it panicked"),
                "{json}: {stderr}"
            );
        }
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    let builder = logging::builder().with_writer(writer).with_clock(clock());
    let builder = if json == "json" {
        builder.json()
    } else {
        builder
    };
    let logged = support::run_a_panics_then_run_b_logs(builder.build().unwrap());
    assert_eq!(guard.finish().lost(), 0);
    let b = std::fs::read_to_string(dir.path().join("run_b.log")).unwrap();
    assert_eq!(b.lines().count(), 1, "{b}");
    assert!(b.contains("in b") && !b.contains("run_a"), "{b}");
    assert!(!dir.path().join("run_a.log").exists());
    assert_eq!(logged, (true, true));
}

// === writers ===

#[test]
fn file_writer_appends_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    for _ in 0..2 {
        let subscriber = logging::builder()
            .with_writer(logging::file_writer(&path).unwrap())
            .with_clock(clock())
            .with_level(tracing::Level::INFO)
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            ctx().sync_scope(|| tracing::info!(target: "t", "line"))
        });
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let line = format!("[{TS}] [backtest_abc123] [89abcdef] INFO t - line\n");
    assert_eq!(text, line.repeat(2));
}

#[test]
fn non_blocking_rolling_file_keeps_every_line_after_the_guard_drops() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) =
        logging::rolling_file(dir.path(), "app.log", logging::Rotation::NEVER).unwrap();
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        ctx().sync_scope(|| {
            for i in 0..N {
                tracing::info!(i, "line");
            }
        })
    });
    drop(guard);
    let text = std::fs::read_to_string(dir.path().join("app.log")).unwrap();
    assert_eq!(text.lines().count(), N);
    assert!(text.lines().all(|l| l.contains("[backtest_abc123]")));
    assert!(text.ends_with(&format!("line i={}\n", N - 1)));
}

/// A directory that cannot be made is named in the error, escaped.
#[test]
fn rolling_file_names_a_directory_it_cannot_make_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let under_a_file = dir.path().join("file").join("logs\u{1b}[2J");
    let err = logging::rolling_file(&under_a_file, "app.log", logging::Rotation::NEVER)
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(
        message.contains("cannot open a rolling log file in"),
        "{message}"
    );
    assert!(message.contains("logs\\u{1b}[2J"), "{message}");
    assert!(!message.contains('\u{1b}'), "{message}");
}

// === every task, blocking thread and thread, under a global subscriber ===

/// The global subscriber of this test binary: one text and one JSON layer, each to a buffer.
/// Only `stamps_match_expected_run_and_trace_across_1000_tasks` logs outside `with_default`.
fn global_buffers() -> &'static (Buffer, Buffer) {
    static BUFFERS: OnceLock<(Buffer, Buffer)> = OnceLock::new();
    BUFFERS.get_or_init(|| {
        let text = Buffer::default();
        let json = Buffer::default();
        tracing_subscriber::registry()
            .with(SpanContextLayer::new())
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(TextFormat::new())
                    .with_writer(text.clone()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonFormat::new())
                    .with_writer(json.clone()),
            )
            .try_init()
            .unwrap();
        (text, json)
    })
}

/// Logs one `stamp` event naming the run and short trace id it expects to be stamped with.
macro_rules! stamp {
    ($run:expr_2021, $trace:expr_2021, $via:literal) => {
        tracing::info!(
            target: "stamp",
            expected_run = %$run,
            expected_trace = %$trace,
            via = $via,
            "stamp"
        )
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stamps_match_expected_run_and_trace_across_1000_tasks() {
    const TASKS: usize = 1000;
    let (text, json) = global_buffers();
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
        let run = ctx.run_id().to_string();
        let trace = ctx.trace_id().short().to_string();
        let handle = tokio::spawn(
            async move {
                stamp!(run, trace, "task");
                tokio::task::yield_now().await;
                stamp!(run, trace, "task");
                // A third of the tasks each: the context goes along every way there is.
                match i % 3 {
                    0 => tracectx::spawn_traced(async move {
                        tokio::time::sleep(std::time::Duration::from_micros(50)).await;
                        stamp!(run, trace, "spawn_traced");
                    })
                    .await
                    .unwrap(),
                    1 => tracectx::spawn_blocking_traced(move || {
                        stamp!(run, trace, "spawn_blocking_traced")
                    })
                    .await
                    .unwrap(),
                    _ => {
                        // Wait for the thread without blocking a worker.
                        let (done, finished) = tokio::sync::oneshot::channel();
                        let thread = tracectx::thread::spawn(move || {
                            stamp!(run, trace, "thread");
                            let _ = done.send(());
                        });
                        finished.await.unwrap();
                        tokio::task::spawn_blocking(move || thread.join().unwrap())
                            .await
                            .unwrap();
                    }
                }
            }
            .in_trace_context(ctx),
        );
        handles.push(handle);
    }
    stamp!("-", "-", "none");
    for h in handles {
        h.await.unwrap();
    }

    let expected_lines = TASKS * 3 + 1;
    let mut via = std::collections::BTreeMap::<String, usize>::new();
    let text_lines: Vec<String> = text
        .lines()
        .into_iter()
        .filter(|l| l.contains("] INFO stamp - "))
        .collect();
    assert_eq!(text_lines.len(), expected_lines);
    for line in &text_lines {
        let field = |name: &str| {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
                .to_owned()
        };
        let stamp = logging::query::parse_line(line.as_bytes()).unwrap();
        let dash = |id: Option<std::borrow::Cow<'_, str>>| id.map_or("-".to_owned(), String::from);
        assert_eq!(dash(stamp.run_id), field("expected_run"), "{line}");
        assert_eq!(dash(stamp.trace_id), field("expected_trace"), "{line}");
        if field("expected_run") == "-" {
            assert!(line.contains("] [-] [-] INFO"), "{line}");
        }
        *via.entry(field("via")).or_default() += 1;
    }
    assert_eq!(
        via.into_iter().collect::<Vec<_>>(),
        [
            ("\"none\"".to_owned(), 1),
            ("\"spawn_blocking_traced\"".to_owned(), 333),
            ("\"spawn_traced\"".to_owned(), 334),
            ("\"task\"".to_owned(), 2000),
            ("\"thread\"".to_owned(), 333),
        ]
    );

    let mut seen = 0;
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["target"] != "stamp" {
            continue;
        }
        seen += 1;
        match (v["expected_run"].as_str(), v["expected_trace"].as_str()) {
            (Some("-"), Some("-")) => {
                assert!(
                    v.get("run_id").is_none() && v.get("trace_id").is_none(),
                    "{line}"
                )
            }
            (Some(run), Some(trace)) => {
                assert_eq!(v["run_id"], run, "{line}");
                assert_eq!(v["trace_id"], trace, "{line}");
            }
            _ => panic!("no expected ids in {line}"),
        }
    }
    assert_eq!(seen, expected_lines);
}

// === timestamp formats and Python templates ===

#[test]
fn the_guides_line_is_reproduced_exactly() {
    let guide = TraceContext::new("backtest_abc123")
        .unwrap()
        .with_trace_id("a1b2c3d4".parse().unwrap());
    let lines = template(
        "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}",
        move || guide.sync_scope(|| tracing::info!("Processing data")),
    );
    assert_eq!(
        lines,
        ["[2024-01-01 10:00:00] [backtest_abc123] [a1b2c3d4] INFO - Processing data"]
    );
}

#[test]
fn each_timestamp_directive_renders() {
    // 2024-02-29T23:05:09.123456Z, a leap day.
    let at = tracectx::time::Timestamp::parse_rfc3339("2024-02-29T23:05:09.123456Z").unwrap();
    let cases = [
        ("%Y", "2024"),
        ("%m", "02"),
        ("%d", "29"),
        ("%H", "23"),
        ("%M", "05"),
        ("%S", "09"),
        ("%f", "123456"),
        ("%6f", "123456"),
        ("%3f", "123"),
        ("%F", "2024-02-29"),
        ("%T", "23:05:09"),
        ("%s", "1709247909"),
        ("%z", "+0000"),
        ("%Z", "UTC"),
        ("%H%%", "23%"),
        ("%Y-%m-%d %H:%M:%S,%3f", "2024-02-29 23:05:09,123"),
        ("day %d at %H:%M", "day 29 at 23:05"),
    ];
    for (format, expected) in cases {
        let buf = Buffer::default();
        let subscriber = logging::builder()
            .with_format(format!("{{timestamp:{format}}} {{message}}"))
            .with_clock(FixedClock::new(at.to_system_time()))
            .with_writer(buf.clone())
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || tracing::info!("m"));
        assert_eq!(buf.lines(), [format!("{expected} m")], "format {format:?}");
    }
}

#[test]
fn python_templates_are_refused_with_the_placeholder_to_write() {
    let err = |t: &str| logging::builder().with_format(t).build().err().unwrap();
    let e = err("[%(asctime)s] [%(run_id)s] %(levelname)s - %(message)s");
    assert_eq!(
        e,
        TemplateError::PythonStyle {
            found: "%(asctime)s".into(),
            hint: "{timestamp}".into(),
            at: 1
        }
    );
    assert!(
        e.to_string().starts_with(
            "python-style placeholder \"%(asctime)s\" at byte 1 of the log template: write {timestamp} instead"
        ),
        "{e}"
    );
    let hint = |t: &str| match err(t) {
        TemplateError::PythonStyle { hint, .. } => hint,
        other => panic!("{other:?}"),
    };
    assert_eq!(hint("%(run_id)s"), "{run_id}");
    assert_eq!(hint("x %(levelname)-8s"), "{level}");
    assert_eq!(hint("%(name)s"), "{target}");
    assert!(hint("%(process)d").starts_with("one of {timestamp}, {run_id}"));
    // A percent sign that is not a Python placeholder stays text.
    let lines = template("100%(x) {message}", || tracing::info!("m"));
    assert_eq!(lines, ["100%(x) m"]);
}

#[test]
fn timestamp_format_errors_name_their_place() {
    let err = |t: &str| logging::builder().with_format(t).build().err().unwrap();
    let e = err("[{timestamp:%Y-%q}] {message}");
    assert_eq!(
        e.to_string(),
        "bad timestamp format in the log template: unknown time format directive \"%q\" at byte 15"
    );
    assert_eq!(
        err("{level:>5} {message}"),
        TemplateError::UnexpectedFormat {
            name: "level".into(),
            at: 0
        }
    );
    assert!(matches!(
        err("{timestamp:%Y %} {message}"),
        TemplateError::TimestampFormat { .. }
    ));
}
