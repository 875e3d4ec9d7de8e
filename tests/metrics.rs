//! Prometheus metrics (feature `prometheus`): run labels, trace-id exemplars in the OpenMetrics
//! text, the timer guard, and the caps on distinct run ids and operations.
#![cfg(feature = "prometheus")]

use std::sync::Arc;
use std::time::Duration;

use tracectx::metrics::{
    DEFAULT_MAX_OPERATIONS, DURATION_METRIC, FOLDED_OPERATION, FOLDED_RUN_ID, Metrics,
    MetricsConfig, NO_RUN_ID,
};
use tracectx::prelude::*;

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// Runs `f` and returns the messages of the `WARN` events of `tracectx::metrics` it logged on
/// this thread.
///
/// One global subscriber collects them for whichever thread asked: a subscriber scoped to one
/// test would leave the call sites' interest to a race, since a warning's call site first
/// reached on a thread of another test, with no subscriber, could be switched off for all.
fn metrics_warnings(f: impl FnOnce()) -> Vec<String> {
    use std::cell::RefCell;
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    thread_local! {
        static WARNINGS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    }
    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }
    struct Warnings;
    impl<S: tracing::Subscriber> Layer<S> for Warnings {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if *event.metadata().level() == tracing::Level::WARN
                && event.metadata().target() == "tracectx::metrics"
            {
                let mut message = Message(String::new());
                event.record(&mut message);
                WARNINGS.with(|w| w.borrow_mut().as_mut().map(|w| w.push(message.0)));
            }
        }
    }

    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Warnings))
            .expect("no other global subscriber in this test binary");
    });
    WARNINGS.with(|w| *w.borrow_mut() = Some(Vec::new()));
    f();
    WARNINGS.with(|w| w.borrow_mut().take().expect("set above"))
}

#[test]
fn durations_are_labelled_by_operation_and_run() {
    let metrics = Metrics::new(MetricsConfig::default().buckets([0.001, 0.01, 0.1]));
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    ctx.sync_scope(|| {
        metrics.record_duration("fill", Duration::from_millis(5));
        metrics.record_duration("fill", Duration::from_millis(50));
        metrics.record_duration("load", Duration::from_micros(500));
    });
    let text = metrics.encode();
    let fill = r#"operation="fill",run_id="backtest_ab12cd34""#;
    assert!(text.contains(&format!(
        "tracectx_operation_duration_seconds_count{{{fill}}} 2\n"
    )));
    assert!(text.contains(&format!(
        "tracectx_operation_duration_seconds_sum{{{fill}}} 0.055\n"
    )));
    assert!(text.contains(&format!(
        r#"tracectx_operation_duration_seconds_bucket{{le="0.001",{fill}}} 0"#
    )));
    assert!(text.contains(
        r#"tracectx_operation_duration_seconds_count{operation="load",run_id="backtest_ab12cd34"} 1"#
    ));
    assert!(text.contains("# TYPE tracectx_operation_duration_seconds histogram\n"));
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(metrics.series(), 2);
    assert_eq!(metrics.run_ids(), 1);
}

#[test]
fn exemplars_carry_the_full_trace_id_in_openmetrics_text() {
    let metrics = Metrics::new(MetricsConfig::default().buckets([0.001, 0.01, 0.1]));
    let ctx = TraceContext::new("job_1").unwrap();
    ctx.sync_scope(|| metrics.record_duration("fill", Duration::from_millis(5)));
    let text = metrics.encode();
    let trace = format!("{:x}", ctx.trace_id());
    assert_eq!(trace.len(), 32);
    // The observation fell in the le="0.01" bucket: the exemplar is on that line, and only it.
    let with_exemplar = lines_with(&text, "# {trace_id=");
    assert_eq!(
        with_exemplar,
        [format!(
            r#"tracectx_operation_duration_seconds_bucket{{le="0.01",operation="fill",run_id="job_1"}} 1 # {{trace_id="{trace}"}} 0.005"#
        )]
    );
    // The short id of the log lines is the tail of the exemplar's id.
    assert!(trace.ends_with(&*ctx.trace_id().short()));
}

#[test]
fn latest_observation_of_a_bucket_is_its_exemplar() {
    let metrics = Metrics::new(MetricsConfig::default().buckets([1.0]));
    let (a, b) = (
        TraceContext::new("job_a").unwrap(),
        TraceContext::new("job_a").unwrap(),
    );
    a.sync_scope(|| metrics.record_duration("op", Duration::from_millis(1)));
    b.sync_scope(|| metrics.record_duration("op", Duration::from_millis(2)));
    let text = metrics.encode();
    assert!(text.contains(&format!(r#"# {{trace_id="{:x}"}} 0.002"#, b.trace_id())));
    assert!(!text.contains(&format!("{:x}", a.trace_id())));
}

#[test]
fn outside_any_context_the_run_is_none_and_there_is_no_exemplar() {
    let metrics = Metrics::default();
    metrics.record_duration("startup", Duration::from_millis(40));
    let text = metrics.encode();
    assert!(text.contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="startup",run_id="{NO_RUN_ID}"}} 1"#
    )));
    assert!(!text.contains("trace_id"));
    assert_eq!(metrics.run_ids(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_records_under_the_context_it_started_in() {
    let metrics = Metrics::default();
    let ctx = TraceContext::new("job_2").unwrap();
    let m = metrics.clone();
    let timer = async move {
        let timer = m.timer("download");
        tokio::time::sleep(Duration::from_millis(20)).await;
        timer
    }
    .in_trace_context(ctx.clone())
    .await;
    // Ended on another task, outside the scope: still job_2's.
    let took = tokio::spawn(async move { timer.observe() }).await.unwrap();
    assert!(took >= Duration::from_millis(20));
    let text = metrics.encode();
    assert!(text.contains(
        r#"tracectx_operation_duration_seconds_count{operation="download",run_id="job_2"} 1"#
    ));
    assert!(text.contains(&format!("{:x}", ctx.trace_id())));
}

#[test]
fn timer_records_on_drop_and_discard_records_nothing() {
    let metrics = Metrics::default();
    {
        let _t = metrics.timer("dropped");
    }
    metrics.timer("discarded").discard();
    let text = metrics.encode();
    assert!(text.contains(r#"operation="dropped""#));
    assert!(!text.contains(r#"operation="discarded""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_count_exactly() {
    const RUNS: usize = 16;
    const EACH: usize = 500;
    let metrics = Metrics::default();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..RUNS {
        let m = metrics.clone();
        set.spawn(
            async move {
                for j in 0..EACH {
                    m.record_duration("step", Duration::from_micros(j as u64));
                    if j % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            .in_trace_context(TraceContext::new(&format!("run_{i}")).unwrap()),
        );
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let text = metrics.encode();
    for i in 0..RUNS {
        assert!(text.contains(&format!(
            r#"tracectx_operation_duration_seconds_count{{operation="step",run_id="run_{i}"}} {EACH}"#
        )));
    }
    assert_eq!(metrics.series(), RUNS);
}

#[test]
fn cardinality_cap_holds_under_100_000_distinct_run_ids() {
    const CAP: usize = 100;
    const RUNS: usize = 100_000;
    const THREADS: usize = 4;
    const CHECK_EVERY: usize = 5_000;
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(CAP));

    for i in 0..1_000 {
        TraceContext::new(&format!("run_{i}"))
            .unwrap()
            .sync_scope(|| metrics.record_duration("op", Duration::from_micros(i)));
    }
    assert_eq!((metrics.run_ids(), metrics.series()), (CAP, CAP + 1));
    let size_after_first_thousand = metrics.encode().len();

    // While 99,000 more runs arrive, every few thousand the tracked run ids and series are
    // still at the cap, and the scrape no bigger than after the first thousand (give or take
    // the digits of the growing counts).
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let metrics = &metrics;
            s.spawn(move || {
                for (n, i) in (1_000 + t..RUNS).step_by(THREADS).enumerate() {
                    TraceContext::new(&format!("run_{i}"))
                        .unwrap()
                        .sync_scope(|| metrics.record_duration("op", Duration::from_micros(7)));
                    if t == 0 && n % CHECK_EVERY == 0 {
                        assert_eq!(metrics.run_ids(), CAP, "after run_{i}");
                        assert_eq!(metrics.series(), CAP + 1, "after run_{i}");
                        let size = metrics.encode().len();
                        assert!(
                            size < size_after_first_thousand + 1_024,
                            "{size} bytes after run_{i}, {size_after_first_thousand} after 1,000"
                        );
                    }
                }
            });
        }
    });

    assert_eq!(metrics.run_ids(), CAP);
    assert_eq!(
        metrics.series(),
        CAP + 1,
        "the first {CAP} runs and the fold"
    );
    assert_eq!(metrics.folded(), (RUNS - CAP) as u64);
    let text = metrics.encode();
    assert!(text.contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="op",run_id="{FOLDED_RUN_ID}"}} {}"#,
        RUNS - CAP
    )));
    assert!(text.contains(&format!("tracectx_run_ids_folded_total {}", RUNS - CAP)));
    // Memory, seen through the scrape: 99,000 more runs added a few digits to counters, no
    // series.
    let label_sets = lines_with(&text, "tracectx_operation_duration_seconds_count").len();
    assert_eq!(label_sets, CAP + 1);
    assert!(
        text.len() < size_after_first_thousand + 1_024,
        "{} bytes after {RUNS} runs, {size_after_first_thousand} after 1,000",
        text.len()
    );
    // The tracked runs are the first CAP to arrive.
    assert!(text.contains(&format!(r#"run_id="run_{}""#, CAP - 1)));
    assert!(!text.contains(&format!(r#"run_id="run_{CAP}""#)));
}

#[test]
fn reaching_the_cap_warns_once() {
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(2));
    let warnings = metrics_warnings(|| {
        for i in 0..10 {
            TraceContext::new(&format!("run_{i}"))
                .unwrap()
                .sync_scope(|| metrics.record_duration("op", Duration::ZERO));
        }
    });
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("max_run_ids"), "{warnings:?}");
    assert_eq!(metrics.folded(), 8);
    assert_eq!(metrics.operations_folded(), 0);
}

#[test]
fn operations_past_the_cap_fold_into_other() {
    let metrics = Metrics::new(MetricsConfig::default().max_operations(3));
    let ctx = TraceContext::new("job_ops").unwrap();
    ctx.sync_scope(|| {
        for i in 0..10 {
            metrics.record_duration(format!("op_{i}"), Duration::from_millis(1));
        }
        // An admitted operation keeps its own series after the cap is reached.
        metrics.record_duration("op_0", Duration::from_millis(1));
    });
    let text = metrics.encode();
    for i in 0..3 {
        assert!(text.contains(&format!(
            r#"tracectx_operation_duration_seconds_count{{operation="op_{i}",run_id="job_ops"}} {}"#,
            if i == 0 { 2 } else { 1 }
        )));
    }
    assert!(!text.contains(r#"operation="op_3""#));
    assert!(text.contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="{FOLDED_OPERATION}",run_id="job_ops"}} 7"#
    )));
    // The fold keeps the exemplar.
    assert!(
        lines_with(&text, &format!(r#"operation="{FOLDED_OPERATION}""#))
            .iter()
            .any(|l| l.contains(&format!(r#"# {{trace_id="{:x}"}}"#, ctx.trace_id())))
    );
    assert!(text.contains("tracectx_operations_folded_total 7\n"));
    assert!(text.contains("tracectx_run_ids_folded_total 0\n"));
    assert_eq!(metrics.operations(), 3);
    assert_eq!(metrics.operations_folded(), 7);
    assert_eq!(metrics.folded(), 0);
    assert_eq!(metrics.series(), 4);
}

#[test]
fn operation_cap_defaults_to_100() {
    assert_eq!(DEFAULT_MAX_OPERATIONS, 100);
    let metrics = Metrics::default();
    for i in 0..150 {
        metrics.record_duration(format!("op_{i}"), Duration::ZERO);
    }
    assert_eq!(metrics.operations(), 100);
    assert_eq!(metrics.operations_folded(), 50);
    assert_eq!(metrics.series(), 101);
}

#[test]
fn operation_cap_holds_under_100_000_distinct_operations() {
    const CAP: usize = 10;
    const OPS: usize = 100_000;
    let metrics = Metrics::new(MetricsConfig::default().max_operations(CAP));
    for i in 0..1_000 {
        metrics.record_duration(format!("op_{i}"), Duration::from_micros(3));
    }
    let size_after_first_thousand = metrics.encode().len();
    std::thread::scope(|s| {
        for t in 0..4 {
            let metrics = &metrics;
            s.spawn(move || {
                for i in (1_000 + t..OPS).step_by(4) {
                    metrics.record_duration(format!("op_{i}"), Duration::from_micros(3));
                }
            });
        }
    });
    assert_eq!(metrics.operations(), CAP);
    assert_eq!(
        metrics.series(),
        CAP + 1,
        "the first {CAP} operations and the fold"
    );
    assert_eq!(metrics.operations_folded(), (OPS - CAP) as u64);
    let text = metrics.encode();
    assert_eq!(
        lines_with(&text, "tracectx_operation_duration_seconds_count").len(),
        CAP + 1
    );
    assert!(
        text.len() < size_after_first_thousand + 1_024,
        "{} bytes after {OPS} operations, {size_after_first_thousand} after 1,000",
        text.len()
    );
}

#[test]
fn both_caps_together_bound_the_series() {
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(2).max_operations(2));
    let warnings = metrics_warnings(|| {
        for run in 0..5 {
            TraceContext::new(&format!("run_{run}"))
                .unwrap()
                .sync_scope(|| {
                    for op in 0..5 {
                        metrics.record_duration(format!("op_{op}"), Duration::ZERO);
                    }
                });
        }
    });
    // One warning per cap, each naming its own.
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("max_run_ids")));
    assert!(warnings.iter().any(|w| w.contains("max_operations")));
    // (2 operations + the fold) × (2 runs + the fold).
    assert_eq!(metrics.series(), 9);
    let text = metrics.encode();
    assert_eq!(
        lines_with(&text, "tracectx_operation_duration_seconds_count").len(),
        9
    );
    assert!(text.contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="{FOLDED_OPERATION}",run_id="{FOLDED_RUN_ID}"}} 9"#
    )));
    assert_eq!(metrics.folded(), 15);
    assert_eq!(metrics.operations_folded(), 15);
}

#[test]
fn an_operation_named_other_is_the_fold_and_takes_no_place() {
    let metrics = Metrics::new(MetricsConfig::default().max_operations(1));
    metrics.record_duration(FOLDED_OPERATION, Duration::ZERO);
    assert_eq!((metrics.operations(), metrics.operations_folded()), (0, 0));
    metrics.record_duration("real", Duration::ZERO);
    metrics.record_duration("late", Duration::ZERO);
    assert_eq!((metrics.operations(), metrics.operations_folded()), (1, 1));
    assert!(metrics.encode().contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="{FOLDED_OPERATION}",run_id="{NO_RUN_ID}"}} 2"#
    )));
}

#[test]
fn forgetting_a_run_removes_its_folded_operation_series_too() {
    let metrics = Metrics::new(MetricsConfig::default().max_operations(1));
    let ctx = TraceContext::new("run_gone").unwrap();
    ctx.sync_scope(|| {
        metrics.record_duration("kept", Duration::ZERO);
        metrics.record_duration("folded", Duration::ZERO);
    });
    assert_eq!(metrics.series(), 2);
    metrics.forget_run(ctx.run_id());
    assert_eq!((metrics.run_ids(), metrics.series()), (0, 0));
    assert!(!metrics.encode().contains("run_gone"));
    // The operation keeps its place.
    assert_eq!(metrics.operations(), 1);
}

#[test]
fn forgetting_a_run_frees_its_place_under_the_cap() {
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(1));
    let (first, second) = (
        TraceContext::new("run_first").unwrap(),
        TraceContext::new("run_second").unwrap(),
    );
    first.sync_scope(|| {
        metrics.record_duration("a", Duration::ZERO);
        metrics.record_duration("b", Duration::ZERO);
    });
    assert_eq!(metrics.series(), 2);
    metrics.forget_run(first.run_id());
    assert_eq!((metrics.run_ids(), metrics.series()), (0, 0));
    assert!(!metrics.encode().contains("run_first"));

    second.sync_scope(|| metrics.record_duration("a", Duration::ZERO));
    assert!(metrics.encode().contains(r#"run_id="run_second""#));
    assert_eq!(metrics.folded(), 0);
}

#[test]
fn series_registered_elsewhere_stay_shared() {
    let metrics = Metrics::default();
    let mut app = prometheus_client::registry::Registry::default();
    metrics.register(&mut app);
    TraceContext::new("job_3")
        .unwrap()
        .sync_scope(|| metrics.record_duration("op", Duration::from_millis(1)));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &app).unwrap();
    assert!(
        text.contains(
            r#"tracectx_operation_duration_seconds_count{operation="op",run_id="job_3"} 1"#
        )
    );
}

#[test]
fn global_functions_record_on_the_global_instance() {
    let ctx = TraceContext::new("global_job").unwrap();
    ctx.sync_scope(|| {
        tracectx::metrics::record_duration("global_op", Duration::from_millis(1));
        drop(tracectx::metrics::timer("global_timer"));
    });
    let text = Metrics::global().encode();
    assert!(text.contains(r#"operation="global_op",run_id="global_job""#));
    assert!(text.contains(r#"operation="global_timer",run_id="global_job""#));
}

#[test]
fn names_dashboards_use_are_settable() {
    let config = MetricsConfig::default()
        .metric_name("peak_trade_operation_duration_seconds")
        .unwrap()
        .operation_label("endpoint")
        .unwrap()
        .run_id_label("run")
        .unwrap()
        .no_run_value("unknown")
        .max_run_ids(1);
    let metrics = Metrics::new(config);
    metrics.record_duration("/health", Duration::from_millis(1));
    let ctx = TraceContext::new("backtest_abc123").unwrap();
    ctx.sync_scope(|| metrics.record_duration("/backtest", Duration::from_millis(2)));
    TraceContext::new("backtest_def456")
        .unwrap()
        .sync_scope(|| metrics.record_duration("/backtest", Duration::from_millis(3)));
    let text = metrics.encode();
    assert!(
        text.contains("# TYPE peak_trade_operation_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        !text.contains("tracectx_operation_duration_seconds"),
        "{text}"
    );
    for series in [
        r#"peak_trade_operation_duration_seconds_count{endpoint="/health",run="unknown"} 1"#,
        r#"peak_trade_operation_duration_seconds_count{endpoint="/backtest",run="backtest_abc123"} 1"#,
        r#"peak_trade_operation_duration_seconds_count{endpoint="/backtest",run="(other)"} 1"#,
    ] {
        assert_eq!(lines_with(&text, series).len(), 1, "{series} in {text}");
    }
    // Exemplars still name the trace.
    assert!(text.contains(&format!(r#"# {{trace_id="{:x}"}} 0.002"#, ctx.trace_id())));
    // The series are found again by their labels, whatever the names.
    metrics.forget_run(ctx.run_id());
    assert!(!metrics.encode().contains("backtest_abc123"));
}

#[test]
fn default_names_are_unchanged() {
    let metrics = Metrics::default();
    metrics.record_duration("startup", Duration::ZERO);
    assert!(metrics.encode().contains(&format!(
        r#"tracectx_operation_duration_seconds_count{{operation="startup",run_id="{NO_RUN_ID}"}} 1"#
    )));
}

#[test]
fn names_prometheus_would_refuse_are_refused() {
    let c = MetricsConfig::default;
    for bad in ["", "1st", "a-b", "a b", "__x", "é"] {
        assert!(c().metric_name(bad).is_err(), "metric {bad:?}");
        assert!(c().operation_label(bad).is_err(), "label {bad:?}");
    }
    assert!(c().metric_name("ns:sub_total").is_ok());
    assert!(c().operation_label("ns:x").is_err());
    assert!(c().operation_label("le").is_err());
    assert!(c().run_id_label("operation").is_err());
    assert!(c().operation_label("run_id").is_err());
    let err = c().metric_name("1st").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid prometheus metric name "1st": '1' at byte 0 is not a letter, digit, '_' or ':' (a digit cannot come first)"#
    );
}

#[test]
fn a_run_named_like_the_no_run_value_shares_its_series() {
    let metrics = Metrics::new(MetricsConfig::default().no_run_value("unknown"));
    metrics.record_duration("fill", Duration::from_millis(1));
    let ctx = TraceContext::new("unknown").unwrap();
    ctx.sync_scope(|| metrics.record_duration("fill", Duration::from_millis(2)));
    let text = metrics.encode();
    let counts = lines_with(&text, "_count{");
    assert_eq!(counts.len(), 1, "{text}");
    assert!(counts[0].ends_with(" 2"), "{text}");
    assert_eq!(metrics.series(), 1);
}

#[test]
fn forgetting_runs_while_they_record_leaves_no_series_behind() {
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(10_000));
    let runs: Vec<TraceContext> = (0..200)
        .map(|i| TraceContext::new(&format!("run_{i}")).unwrap())
        .collect();
    let metrics = &metrics;
    std::thread::scope(|s| {
        for ctx in &runs {
            s.spawn(move || {
                for _ in 0..50 {
                    ctx.sync_scope(|| metrics.record_duration("step", Duration::ZERO));
                }
            });
            s.spawn(move || {
                for _ in 0..50 {
                    metrics.forget_run(ctx.run_id());
                }
            });
        }
    });
    // Whatever the interleaving, every series left belongs to a run still counted, so one
    // more `forget_run` each clears everything.
    for ctx in &runs {
        metrics.forget_run(ctx.run_id());
    }
    assert_eq!((metrics.run_ids(), metrics.series()), (0, 0));
    assert!(lines_with(&metrics.encode(), "_count{").is_empty());
}

/// The families of an OpenMetrics text, by name, with their type; panics, naming the line, on
/// what a Prometheus scrape refuses: a family declared twice, a sample of no declared family,
/// or a sample name two families could both own.
fn families(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut families = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            let earlier = families.insert(name.to_owned(), kind.to_owned());
            assert!(earlier.is_none(), "family {name} declared twice in\n{text}");
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let sample = line.split(['{', ' ']).next().unwrap();
        let owners: Vec<&String> = families
            .iter()
            .filter(|(name, kind)| {
                let suffixes: &[&str] = match kind.as_str() {
                    "counter" => &["_total", "_created"],
                    "histogram" => &["_bucket", "_count", "_sum", "_created"],
                    _ => &[""],
                };
                suffixes
                    .iter()
                    .any(|s| sample.strip_suffix(s) == Some(name.as_str()))
            })
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            owners.len(),
            1,
            "sample {line:?} owned by {owners:?} in\n{text}"
        );
    }
    families
}

#[test]
fn two_metric_names_share_a_registry_without_duplicate_families() {
    use prometheus_client::registry::Registry;

    let default = Metrics::new(MetricsConfig::default().max_run_ids(1).max_operations(1));
    let named = Metrics::new(
        MetricsConfig::default()
            .metric_name("peak_trade_request_duration_seconds")
            .unwrap()
            .max_run_ids(1)
            .max_operations(1),
    );
    let mut registry = Registry::default();
    default.register(&mut registry);
    named.register(&mut registry);

    // Three runs and two operations each: two observations folded into each fold, in each.
    let warnings = metrics_warnings(|| {
        for metrics in [&default, &named] {
            for run in ["run_a", "run_b", "run_c"] {
                TraceContext::new(run).unwrap().sync_scope(|| {
                    metrics.record_duration("fill", Duration::ZERO);
                });
            }
            metrics.record_duration("cancel", Duration::ZERO);
            metrics.record_duration("amend", Duration::ZERO);
        }
    });
    // Each instance says each of its caps once.
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();

    let families = families(&text);
    let expected: Vec<(&str, &str)> = vec![
        ("peak_trade_request_duration_seconds", "histogram"),
        (
            "peak_trade_request_duration_seconds_operations_folded",
            "counter",
        ),
        (
            "peak_trade_request_duration_seconds_run_ids_folded",
            "counter",
        ),
        ("tracectx_operation_duration_seconds", "histogram"),
        ("tracectx_operations_folded", "counter"),
        ("tracectx_run_ids_folded", "counter"),
    ];
    let got: Vec<(&str, &str)> = families
        .iter()
        .map(|(n, k)| (n.as_str(), k.as_str()))
        .collect();
    assert_eq!(got, expected, "{text}");
    // Each instance's counters count its own folds.
    for (metrics, counter) in [
        (&default, "tracectx_run_ids_folded_total "),
        (
            &named,
            "peak_trade_request_duration_seconds_run_ids_folded_total ",
        ),
    ] {
        let line = lines_with(&text, counter);
        assert_eq!(line, [format!("{counter}{}", metrics.folded())], "{text}");
        assert_eq!(metrics.folded(), 2);
    }
    for (metrics, counter) in [
        (&default, "tracectx_operations_folded_total "),
        (
            &named,
            "peak_trade_request_duration_seconds_operations_folded_total ",
        ),
    ] {
        let line = lines_with(&text, counter);
        assert_eq!(
            line,
            [format!("{counter}{}", metrics.operations_folded())],
            "{text}"
        );
        assert_eq!(metrics.operations_folded(), 2);
    }
}

#[test]
fn a_metric_name_a_fold_counter_could_have_is_refused() {
    let c = MetricsConfig::default;
    for bad in [
        "tracectx_run_ids_folded",
        "tracectx_operations_folded",
        "tracectx_run_ids_folded_total",
        "peak_trade_request_duration_seconds_run_ids_folded",
        "x_operations_folded_total",
        "tracectx",
    ] {
        let err = c().metric_name(bad).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("invalid prometheus metric name {bad:?}: ")),
            "{err}"
        );
    }
    assert_eq!(
        c().metric_name("tracectx_run_ids_folded")
            .unwrap_err()
            .to_string(),
        r#"invalid prometheus metric name "tracectx_run_ids_folded": it could be the name of a fold counter"#
    );
    for good in [
        "run_ids_folded",
        "tracectx_folded",
        "x_run_ids_folded_count",
    ] {
        assert!(c().metric_name(good).is_ok(), "{good}");
    }
    // The default name keeps the default counters.
    let text = Metrics::default().encode();
    assert!(
        text.contains("# TYPE tracectx_run_ids_folded counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE tracectx_operations_folded counter\n"),
        "{text}"
    );
}

/// The count of `_count` samples under `run_id="(other)"` in `text`, summed over operations.
fn folded_observations(text: &str) -> u64 {
    lines_with(text, &format!(r#"run_id="{FOLDED_RUN_ID}"}}"#))
        .iter()
        .filter(|l| l.contains("_count{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn every_observation_folded_while_runs_are_forgotten_is_counted() {
    // Two places for eight runs that record and forget each other all the time: many
    // observations find the cap full, some right after their run was admitted and forgotten.
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(2));
    let runs: Vec<TraceContext> = (0..8)
        .map(|i| TraceContext::new(&format!("run_{i}")).unwrap())
        .collect();
    let (metrics, runs) = (&metrics, &runs);
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..20_000 {
                    let ctx = &runs[(i + t) % runs.len()];
                    ctx.sync_scope(|| metrics.record_duration("step", Duration::ZERO));
                    metrics.forget_run(runs[(i * 3 + t + 1) % runs.len()].run_id());
                }
            });
        }
    });
    let text = metrics.encode();
    assert!(metrics.folded() > 0, "{text}");
    assert_eq!(metrics.folded(), folded_observations(&text));
    assert!(text.contains(&format!(
        "tracectx_run_ids_folded_total {}\n",
        metrics.folded()
    )));
}

/// One sample line of OpenMetrics text, read as strictly as the format's ABNF reads it: the
/// name, the labels with their values unescaped (`\\`, `\"` and `\n` are the only escapes; a
/// raw `"`, `\` or line feed cannot appear) and the value. Panics, naming the line, on anything
/// else.
fn sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let fail = |why: &str| -> ! { panic!("{why} in sample line {line:?}") };
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| fail("no value"));
    let name = &line[..name_end];
    let mut rest = line[name_end..].chars();
    let mut labels = Vec::new();
    if rest.clone().next() == Some('{') {
        rest.next();
        loop {
            let key: String = rest.by_ref().take_while(|&c| c != '=').collect();
            if key.is_empty() || rest.next() != Some('"') {
                fail("not a label=\"value\" pair");
            }
            let mut value = String::new();
            loop {
                match rest
                    .next()
                    .unwrap_or_else(|| fail("unterminated label value"))
                {
                    '"' => break,
                    '\\' => match rest.next() {
                        Some('n') => value.push('\n'),
                        Some(c @ ('"' | '\\')) => value.push(c),
                        _ => fail("unknown escape"),
                    },
                    '\n' => fail("raw line feed"),
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            match rest.next() {
                Some(',') => {}
                Some('}') => break,
                _ => fail("no ',' or '}' after a label value"),
            }
        }
    }
    let rest = rest.as_str();
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| fail("no space before the value"));
    let value = value.split(" # ").next().unwrap();
    let value = value
        .parse()
        .unwrap_or_else(|_| fail("value is not a number"));
    (name.to_owned(), labels, value)
}

/// The value of label `key` of a parsed sample.
fn label<'a>(labels: &'a [(String, String)], key: &str) -> &'a str {
    &labels
        .iter()
        .find(|(k, _)| k == key)
        .expect("the label is there")
        .1
}

#[test]
fn label_values_with_quotes_backslashes_and_line_feeds_are_escaped() {
    let operations = [
        "say \"hi\"",
        r"C:\bars\new",
        "two\nlines",
        "ends with a backslash \\",
        "carriage\rreturn, tab\t, nul\0",
        "} 1\nforged_total 99",
    ];
    let metrics = Metrics::new(MetricsConfig::default().no_run_value("no \"run\"\n"));
    let ctx = TraceContext::new("run_1").unwrap();
    for op in operations {
        metrics.record_duration(op, Duration::from_millis(2));
        ctx.sync_scope(|| metrics.record_duration(op, Duration::from_millis(2)));
    }
    let text = metrics.encode();
    assert!(text.contains(r#"operation="say \"hi\"""#), "{text}");
    assert!(text.contains(r#"operation="two\nlines""#), "{text}");
    assert!(text.contains(r#"run_id="no \"run\"\n""#), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("forged_total")),
        "{text}"
    );
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, labels, _) = sample(line);
        if name.ends_with("_count") {
            seen.insert((
                label(&labels, "operation").to_owned(),
                label(&labels, "run_id").to_owned(),
            ));
        }
    }
    let expected: std::collections::BTreeSet<_> = operations
        .iter()
        .flat_map(|op| {
            [
                (op.to_string(), "no \"run\"\n".to_owned()),
                (op.to_string(), "run_1".to_owned()),
            ]
        })
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scrapes_while_thousands_of_tasks_record_are_each_consistent() {
    const TASKS: usize = 2_000;
    const EACH: u64 = 20;
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(100));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Scrapes on a thread of their own, as Prometheus's would arrive, while the tasks record.
    let scraper = {
        let (metrics, done) = (metrics.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = std::collections::HashMap::<String, f64>::new();
            let mut scrapes = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) || scrapes == 0 {
                let text = metrics.encode();
                assert!(text.ends_with("# EOF\n"));
                // Per series: the `+Inf` bucket is the count, buckets only grow with `le`, and
                // no count ever goes down between scrapes (no run is forgotten here).
                let mut inf = std::collections::HashMap::new();
                let mut counts = std::collections::HashMap::new();
                let mut previous_bucket = std::collections::HashMap::<String, f64>::new();
                for line in text.lines().filter(|l| l.starts_with(DURATION_METRIC)) {
                    let (name, labels, value) = sample(line);
                    let series = format!(
                        "{}/{}",
                        label(&labels, "operation"),
                        label(&labels, "run_id")
                    );
                    if name.ends_with("_bucket") {
                        let below = previous_bucket.insert(series.clone(), value).unwrap_or(0.0);
                        assert!(value >= below, "{line}");
                        if label(&labels, "le") == "+Inf" {
                            inf.insert(series, value);
                        }
                    } else if name.ends_with("_count") {
                        counts.insert(series, value);
                    }
                }
                assert_eq!(inf, counts);
                for (series, count) in counts {
                    let before = last.insert(series.clone(), count).unwrap_or(0.0);
                    assert!(count >= before, "{series} went from {before} to {count}");
                }
                scrapes += 1;
            }
            last
        })
    };
    let mut set = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        let m = metrics.clone();
        // 150 runs for 100 places: some fold, and outside any scope every tenth task.
        let work = async move {
            for j in 0..EACH {
                m.record_duration("step", Duration::from_micros(j * 700));
                tokio::task::yield_now().await;
            }
        };
        if i % 10 == 0 {
            set.spawn(work);
        } else {
            set.spawn(
                work.in_trace_context(TraceContext::new(&format!("run_{}", i % 150)).unwrap()),
            );
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let last = scraper.join().expect("every scrape was consistent");
    let text = metrics.encode();
    let total: f64 = text
        .lines()
        .filter(|l| l.contains("_count{"))
        .map(|l| sample(l).2)
        .sum();
    assert_eq!(total, (TASKS as u64 * EACH) as f64);
    assert_eq!(metrics.folded(), folded_observations(&text));
    assert_eq!(metrics.run_ids(), 100);
    assert!(!last.is_empty());
}
