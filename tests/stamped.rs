//! `Stamped<F>`: the run's ids added to tracing-subscriber's own formats (and a user's), the
//! rest of each line as the wrapped format writes it.
#![cfg(feature = "query")]

#[path = "support/json.rs"]
mod json;
mod support;

use std::fmt;

use support::Buffer;
use tracectx::logging::query::{LineParser, Query};
use tracectx::logging::{SpanContextLayer, Stamped};
use tracectx::prelude::*;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

type WithSpans = tracing_subscriber::layer::Layered<SpanContextLayer, tracing_subscriber::Registry>;

fn ctx() -> TraceContext {
    TraceContext::new("backtest_abc123")
        .unwrap()
        .with_trace_id("0123456789abcdef0123456789abcdef".parse().unwrap())
        .with_span_id("00000000000000aa".parse().unwrap())
}

/// The lines `f` writes through a fmt layer with `format`, ANSI off, no time.
fn lines<E>(format: E, f: impl FnOnce()) -> Vec<String>
where
    E: FormatEvent<WithSpans, format::DefaultFields> + Send + Sync + 'static,
{
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(format)
                .with_writer(buf.clone()),
        );
    tracing::subscriber::with_default(subscriber, f);
    buf.lines()
}

fn json_lines<E>(format: E, f: impl FnOnce()) -> Vec<serde_json::Value>
where
    E: FormatEvent<tracing_subscriber::Registry, format::JsonFields> + Send + Sync + 'static,
{
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .event_format(format)
            .with_writer(buf.clone()),
    );
    tracing::subscriber::with_default(subscriber, f);
    buf.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn event() {
    tracing::info!(target: "engine", qty = 10, "filled");
}

#[test]
fn each_text_format_keeps_its_line_behind_the_ids() {
    fn check<E>(plain: E, stamped: Stamped<E>)
    where
        E: FormatEvent<WithSpans, format::DefaultFields> + Clone + Send + Sync + 'static,
    {
        let bare = lines(plain, event);
        let inside = lines(stamped.clone(), || ctx().sync_scope(event));
        assert_eq!(bare.len(), inside.len());
        assert_eq!(
            inside[0],
            format!("[backtest_abc123] [89abcdef] {}", bare[0])
        );
        // A multi-line format's other lines are stamped too (a blank one stays blank): each
        // names its run, and `tracectx logs` finds it.
        for (inside, bare) in inside[1..].iter().zip(&bare[1..]) {
            if bare.is_empty() {
                assert!(inside.is_empty(), "{inside}");
            } else {
                assert_eq!(*inside, format!("[backtest_abc123] [89abcdef] {bare}"));
            }
        }
        // Outside any context nothing is added.
        assert_eq!(lines(stamped, event), bare);
    }
    let full = format::format().without_time();
    check(full.clone(), Stamped::new(full));
    let compact = format::format().compact().without_time();
    check(compact.clone(), Stamped::new(compact));
    let pretty = format::format().pretty().without_time();
    check(pretty.clone(), Stamped::new(pretty));
}

/// A message with a line end, over a format that writes it as it is (tracing-subscriber's):
/// the line after it used to start with whatever the message wrote there, another run's ids
/// included, and read back as that run's line. Each line is stamped with the event's own
/// ids, on the first line ever (told from JSON) and on the ones after.
#[test]
fn a_message_cannot_forge_a_line_of_another_run() {
    let forged =
        || tracing::info!("filled\n[victim_run] [0badcafe] 2024-01-01T00:00:00Z  INFO x: forged");
    for stamped in [
        Stamped::new(format::format().without_time()),
        Stamped::text(format::format().without_time()),
    ] {
        let inside = lines(stamped, || {
            ctx().sync_scope(forged);
            ctx().sync_scope(forged);
        });
        assert_eq!(inside.len(), 4, "{inside:?}");
        let parser = LineParser::with_format("[{run_id}] [{trace_id}] {message}").unwrap();
        for line in &inside {
            let stamp = parser.parse(line.as_bytes()).unwrap();
            assert_eq!(stamp.run_id.as_deref(), Some("backtest_abc123"), "{line}");
            assert!(
                !Query::new("victim_run")
                    .unwrap()
                    .with_parser(parser.clone())
                    .matches(line.as_bytes())
            );
        }
        assert!(inside[1].starts_with("[backtest_abc123] [89abcdef] [victim_run]"));
    }
}

#[test]
fn json_gets_the_ids_as_top_level_keys() {
    let json = format::format().json().without_time();
    let bare = json_lines(json.clone(), event);
    let parent: tracectx::SpanId = "00000000000000bb".parse().unwrap();
    let inside = json_lines(Stamped::new(json.clone()), || {
        ctx().with_parent_span_id(parent).sync_scope(event)
    });
    let mut expected = bare[0].clone();
    let obj = expected.as_object_mut().unwrap();
    obj.insert("run_id".into(), "backtest_abc123".into());
    obj.insert("trace_id".into(), "89abcdef".into());
    obj.insert("span_id".into(), "00000000000000aa".into());
    obj.insert("parent_span_id".into(), "00000000000000bb".into());
    assert_eq!(inside[0], expected);
    // Outside any context: the same object as without the wrapper.
    assert_eq!(json_lines(Stamped::new(json.clone()), event), bare);
    // Forced JSON says the same.
    let forced = json_lines(Stamped::json(json), || ctx().sync_scope(event));
    assert_eq!(forced[0]["run_id"], "backtest_abc123");
}

#[test]
fn stamped_lines_are_read_back_by_run() {
    let json = format::format().json().without_time();
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .event_format(Stamped::new(json))
            .with_writer(buf.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        ctx().sync_scope(event);
        TraceContext::new("other").unwrap().sync_scope(event);
        event();
    });
    let q = Query::new("backtest_abc123").unwrap();
    let kept: Vec<String> = buf
        .lines()
        .into_iter()
        .filter(|l| q.matches(l.as_bytes()))
        .collect();
    assert_eq!(kept.len(), 1);
    let text = lines(
        Stamped::new(format::format().compact().without_time()),
        || {
            ctx().sync_scope(event);
            event();
        },
    );
    let q = q.with_parser(LineParser::with_format("[{run_id}] [{trace_id}] {message}").unwrap());
    assert!(q.matches(text[0].as_bytes()));
    assert!(!q.matches(text[1].as_bytes()));
}

#[test]
fn colors_are_kept() {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(true)
            .event_format(Stamped::new(format::format().compact().without_time()))
            .with_writer(buf.clone()),
    );
    tracing::subscriber::with_default(subscriber, || ctx().sync_scope(event));
    let line = &buf.lines()[0];
    assert!(
        line.starts_with("[backtest_abc123] [89abcdef] "),
        "{line:?}"
    );
    assert!(
        line.contains("\u{1b}["),
        "the compact format's colors: {line:?}"
    );
}

/// `fmt()` keeps colors on for `event_format(format().json())`: the lines are JSON all
/// the same, the ids top-level keys, whatever `NO_COLOR` says.
#[test]
fn json_with_colors_on_is_still_json() {
    for ansi in [true, false] {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .event_format(Stamped::new(format::format().json()))
                .with_writer(buf.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            ctx().sync_scope(event);
            event();
            ctx().sync_scope(event);
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (i, line) in lines.iter().enumerate() {
            let object: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("ansi {ansi}, line {i} is not JSON ({e}): {line:?}"));
            let expected = if i == 1 {
                serde_json::Value::Null
            } else {
                "backtest_abc123".into()
            };
            assert_eq!(object["run_id"], expected, "ansi {ansi}: {line}");
        }
    }
    // Text with colors is still stamped in front, its colors kept (`colors_are_kept`).
}

/// A user's own format.
#[derive(Clone)]
struct Arrow;

impl<S, N> FormatEvent<S, N> for Arrow
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{} -> ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[test]
fn a_users_own_format_is_stamped() {
    assert_eq!(
        lines(Stamped::new(Arrow), || ctx().sync_scope(event)),
        ["[backtest_abc123] [89abcdef] INFO -> filled qty=10"]
    );
    assert_eq!(lines(Stamped::new(Arrow), event), ["INFO -> filled qty=10"]);
    // A span remembers its run where the slot is empty.
    let remembered = lines(Stamped::new(Arrow), || {
        let span = ctx().sync_scope(|| tracing::info_span!("work"));
        assert!(tracectx::current().is_none());
        span.in_scope(event);
    });
    assert_eq!(
        remembered,
        ["[backtest_abc123] [89abcdef] INFO -> filled qty=10"]
    );
}

#[derive(Clone)]
struct Shared(Buffer);

impl<'a> MakeWriter<'a> for Shared {
    type Writer = <Buffer as MakeWriter<'a>>::Writer;
    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }
}

#[test]
fn thousands_of_tasks_each_get_their_own_run() {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .event_format(Stamped::new(format::format().compact().without_time()))
            .with_writer(Shared(buf.clone())),
    );
    let dispatch = tracing::Dispatch::new(subscriber);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let _guard = tracing::dispatcher::set_global_default(dispatch);
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..2_000 {
            let ctx = TraceContext::new(&format!("task_{i}")).unwrap();
            set.spawn(
                async move {
                    for step in 0..3 {
                        tokio::task::yield_now().await;
                        tracing::info!(i, step, "step");
                    }
                }
                .in_trace_context(ctx),
            );
        }
        while set.join_next().await.is_some() {}
    });
    let lines = buf.lines();
    assert_eq!(lines.len(), 6_000);
    for line in lines {
        let (run, rest) = line
            .strip_prefix("[task_")
            .and_then(|l| l.split_once(']'))
            .unwrap_or_else(|| panic!("{line}"));
        assert!(rest.contains(&format!(" i={run} ")), "{line}");
    }
}

#[test]
fn the_kind_learned_from_the_first_line_stamps_the_next_ones() {
    let text = lines(
        Stamped::new(format::format().compact().without_time()),
        || {
            event(); // outside any run: nothing learned, nothing added
            for _ in 0..3 {
                ctx().sync_scope(event);
            }
            event();
        },
    );
    assert_eq!(text.len(), 5);
    assert!(!text[0].starts_with('[') && !text[4].starts_with('['));
    assert!(
        text[1..4]
            .iter()
            .all(|l| l.starts_with("[backtest_abc123] [89abcdef] ")),
        "{text:?}"
    );
    let json = json_lines(Stamped::new(format::format().json().without_time()), || {
        for _ in 0..3 {
            ctx().sync_scope(event);
        }
    });
    assert!(
        json.iter().all(|v| v["run_id"] == "backtest_abc123"),
        "{json:?}"
    );
}

/// tracing-subscriber's JSON with `flatten_event(true)` writes event fields at the top level:
/// a field named `run_id` used to be a second `run_id` key (in a context; outside any, the only
/// one, so the line passed for the forged run's). It is renamed `fields.run_id`, as
/// `JsonFormat` names it, in context or not; direction marks in its strings are escaped.
#[test]
fn a_flattened_field_named_run_id_never_makes_a_second_key() {
    let json = format::format().json().flatten_event(true).without_time();
    let event = || {
        tracing::info!(
            target: "engine",
            run_id = "forged",
            fields.span_id = "also\u{200f}forged",
            n = 1,
            "m\u{feff}"
        )
    };
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .event_format(Stamped::new(json))
            .with_writer(buf.clone()),
    );
    tracing::subscriber::with_default(subscriber, || {
        ctx().sync_scope(event);
        event();
    });
    let lines = buf.lines();
    assert_eq!(lines.len(), 2);
    for (line, run) in lines.iter().zip([Some("backtest_abc123"), None]) {
        let keys = json::json_keys(line);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a key written twice: {line}");
        assert!(line.is_ascii(), "{line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["run_id"].as_str(), run, "{line}");
        assert_eq!(v["fields.run_id"], "forged");
        assert_eq!(v["fields.fields.span_id"], "also\u{200f}forged");
        assert_eq!(
            (v["n"].as_i64(), v["message"].as_str()),
            (Some(1), Some("m\u{feff}"))
        );
        let forged = Query::new("forged").unwrap();
        assert!(!forged.matches(line.as_bytes()));
        let mine = Query::new("backtest_abc123").unwrap();
        assert_eq!(mine.matches(line.as_bytes()), run.is_some());
    }
}

/// A field that panics in `run_a`'s task, then a line of `run_b`'s task on the same thread
/// (a current-thread runtime): the fmt layer formats a thread's events in one buffer, and the
/// half line, `run_a`'s ids in front, used to be written in front of `run_b`'s. With colors on
/// too, where the stamp is written straight to the layer's buffer.
#[test]
fn a_field_that_panics_leaves_nothing_for_the_next_run_on_its_thread() {
    for (ansi, json) in [(false, false), (true, false), (false, true), (true, true)] {
        let buf = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(buf.clone());
        let layer = if json {
            layer
                .event_format(Stamped::new(format::format().json().without_time()))
                .boxed()
        } else {
            layer
                .event_format(Stamped::new(format::format().without_time()))
                .boxed()
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        let logged = support::run_a_panics_then_run_b_logs(subscriber);
        let case = format!("ansi: {ansi}, json: {json}");
        let text = buf.text();
        let b: Vec<&str> = text.lines().filter(|l| l.contains("in b")).collect();
        assert_eq!(b.len(), 1, "{case}: {text}");
        assert!(!b[0].contains("run_a"), "{case}: {text}");
        assert!(!text.contains("half_written"), "{case}: {text}");
        assert_eq!(logged, (true, true), "{case}");
    }
}
