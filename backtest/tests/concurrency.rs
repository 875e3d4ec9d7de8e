//! Many async sessions at once: each under its own run, on the blocking pool, with log lines,
//! errors and results that never mix; batches, sweeps and their ranking.
//!
//! One global subscriber (the crate's JSON lines into memory) serves every test of this file;
//! each test picks its own lines out by the run ids it knows.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tracectx::prelude::*;
use tracectx_backtest::{
    BacktestEngine, BacktestErrorKind, BacktestJob, BacktestSettings, Bars, BatchOptions, Named,
    ParamGrid, Params, RankBy, Signals, Statistic, StrategyError, sma_cross,
};

// === log capture ===

#[path = "../../tests/support/mod.rs"]
mod support;
use support::Buffer;

/// The lines logged so far by the whole test binary, parsed.
fn log_lines() -> Vec<Value> {
    static BUFFER: OnceLock<Buffer> = OnceLock::new();
    let buffer = BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        tracectx::logging::builder()
            .json()
            .with_level(tracing::Level::INFO)
            .with_writer(buffer.clone())
            .try_init()
            .unwrap();
        buffer
    });
    buffer
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn params(fast: i64, slow: i64) -> Params {
    Params::new().with("fast", fast).with("slow", slow)
}

/// sma-cross that logs a line naming the session it was given, and records the run it found
/// itself in.
fn chatty(
    seen: Arc<Mutex<HashMap<i64, String>>>,
) -> impl Fn(&Bars, &Params) -> Result<Signals, StrategyError> + Send + Sync + 'static {
    move |bars, params| {
        let session = params.int("session")?;
        tracing::info!(session, "computing signals");
        seen.lock()
            .unwrap()
            .insert(session, tracectx::get_run_id().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(1)); // overlap with the other sessions
        tracing::info!(session, "signals ready");
        sma_cross(bars, params)
    }
}

// === tests ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_sessions_keep_their_own_run_in_logs_and_results() {
    log_lines();
    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.001));
    let data = Arc::new(Bars::synthetic(2_000, 11));
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let handles: Vec<_> = (0..100)
        .map(|k| {
            let p = params(5 + k % 10, 30).with("session", k);
            let strategy = Named::new("chatty", chatty(seen.clone()));
            tokio::spawn(engine.run_realistic(&data, strategy, p))
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap().unwrap());
    }

    let run_of: HashMap<i64, String> = results
        .iter()
        .map(|r| {
            let k = r.metadata.params.int("session").unwrap();
            (k, r.metadata.run_id.as_deref().unwrap().to_owned())
        })
        .collect();
    assert_eq!(run_of.len(), 100);
    let distinct: HashSet<&String> = run_of.values().collect();
    assert_eq!(distinct.len(), 100, "every session has its own run id");
    assert!(distinct.iter().all(|id| id.starts_with("backtest_")));
    // The strategy found, inside its session, the run its result names.
    assert_eq!(*seen.lock().unwrap(), run_of);
    // A session's trades are those of the same parameters run alone.
    for r in &results {
        let alone = engine.run(&data, &sma_cross, &r.metadata.params).unwrap();
        assert_eq!(r.trades, alone.trades);
    }

    let lines = log_lines();
    let ours: HashSet<&str> = run_of.values().map(String::as_str).collect();
    let mut per_run: HashMap<&str, Vec<&Value>> = HashMap::new();
    for line in &lines {
        if let Some(run) = line["run_id"].as_str().filter(|r| ours.contains(r)) {
            per_run.entry(run).or_default().push(line);
        }
        if let Some(k) = line["session"].as_i64() {
            if line["target"]
                .as_str()
                .unwrap()
                .starts_with("backtest_concurrency")
            {
                // A line the strategy wrote for session k is stamped with k's run, no other.
                if let Some(expected) = run_of.get(&k) {
                    assert_eq!(line["run_id"].as_str(), Some(expected.as_str()), "{line}");
                }
            }
        }
    }
    assert_eq!(per_run.len(), 100);
    for (k, run) in &run_of {
        let messages: Vec<&str> = per_run[run.as_str()]
            .iter()
            .map(|l| l["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            [
                "session started",
                "computing signals",
                "signals ready",
                "session finished"
            ],
            "run {run}"
        );
        let started = per_run[run.as_str()][0];
        let logged: Value = serde_json::from_str(started["params"].as_str().unwrap()).unwrap();
        assert_eq!(logged["session"], *k);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_strategy_fails_its_session_alone_with_its_run_id() {
    log_lines();
    let data = Arc::new(Bars::synthetic(1_000, 3));
    let fragile = |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        if params.int("fast")? == 7 {
            panic!("index out of range in the model");
        }
        sma_cross(bars, params)
    };
    let strategy: Arc<dyn tracectx_backtest::Strategy + Send + Sync> =
        Arc::new(Named::new("fragile", fragile));
    let jobs = (5..15).map(|fast| BacktestJob::shared(&data, strategy.clone(), params(fast, 30)));
    let outcomes = BacktestEngine::default()
        .run_batch(jobs, BatchOptions::new().concurrency(4))
        .await;
    assert_eq!(outcomes.len(), 10);
    for (fast, outcome) in (5..15).zip(&outcomes) {
        match outcome {
            Ok(r) => {
                assert_ne!(fast, 7);
                assert_eq!(r.metadata.params.int("fast").unwrap(), fast);
            }
            Err(e) => {
                assert_eq!(fast, 7);
                assert!(
                    matches!(e.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "index out of range in the model")
                );
                let run = e.run_id().unwrap();
                assert!(run.starts_with("backtest_"));
                assert!(
                    e.to_string()
                        .starts_with(&format!("backtest {run} failed: "))
                );
                // The failure is logged under the failed session's run.
                let failed: Vec<Value> = log_lines()
                    .into_iter()
                    .filter(|l| l["run_id"] == run && l["level"] == "ERROR")
                    .collect();
                assert_eq!(failed.len(), 1);
                assert_eq!(failed[0]["message"], "session failed");
            }
        }
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);

    // The same through run_realistic, and the runtime is fine afterwards.
    let err = BacktestEngine::default()
        .run_realistic(&data, fragile, params(7, 30))
        .await
        .unwrap_err();
    assert!(err.run_id().unwrap().starts_with("backtest_"));
    assert!(
        BacktestEngine::default()
            .run_realistic(&data, sma_cross, params(5, 30))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_long_session_does_not_stall_the_async_workers() {
    let data = Arc::new(Bars::synthetic(300_000, 5));
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let slow = |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        std::thread::sleep(Duration::from_millis(200)); // a heavy model
        sma_cross(bars, params)
    };
    let session =
        tokio::spawn(BacktestEngine::default().run_realistic(&data, slow, params(10, 20)));
    let before = ticks.load(Ordering::Relaxed);
    session.await.unwrap().unwrap();
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    // With the session on the only worker thread the ticker would not tick at all.
    assert!(during >= 20, "the ticker ticked {during} times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_run_a_session_is_a_child_span_of_it() {
    let ctx = TraceContext::new("nightly_7").unwrap();
    let data = Arc::new(Bars::synthetic(500, 1));
    let result = BacktestEngine::default()
        .run_realistic(&data, sma_cross, params(5, 10))
        .in_trace_context(ctx.clone())
        .await
        .unwrap();
    let m = &result.metadata;
    assert_eq!(m.run_id.as_deref(), Some("nightly_7"));
    assert_eq!(m.trace_id, Some(ctx.trace_id()));
    assert_eq!(m.parent_span_id, Some(ctx.span_id()));
    assert_ne!(m.span_id, Some(ctx.span_id()));
    assert_eq!(m.parent_run_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_sessions_are_runs_of_their_own_in_the_batch_trace() {
    log_lines();
    let ctx = TraceContext::new("batch_nightly").unwrap();
    let data = Arc::new(Bars::synthetic(1_500, 2));
    let jobs: Vec<_> = (0..20)
        .map(|k| BacktestJob::new(&data, sma_cross, params(3 + k, 40)))
        .collect();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let options = BatchOptions::new().concurrency(3).on_progress({
        let progress = progress.clone();
        move |p| {
            assert_eq!(tracectx::get_run_id().as_deref(), Some("batch_nightly"));
            progress
                .lock()
                .unwrap()
                .push((p.done, p.total, p.outcome.is_ok()));
        }
    });
    let outcomes = BacktestEngine::default()
        .run_batch(jobs, options)
        .in_trace_context(ctx.clone())
        .await;
    let results: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
    for (k, r) in results.iter().enumerate() {
        assert_eq!(
            r.metadata.params.int("fast").unwrap(),
            3 + k as i64,
            "job order"
        );
        assert_eq!(r.metadata.parent_run_id.as_deref(), Some("batch_nightly"));
        assert_eq!(r.metadata.trace_id, Some(ctx.trace_id()));
        assert_eq!(r.metadata.parent_span_id, Some(ctx.span_id()));
        assert_eq!(r.equity.len(), 1_500);
        let json: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["metadata"]["parent_run_id"], "batch_nightly");
        assert_eq!(
            json["metadata"]["parent_span_id"],
            ctx.span_id().to_string()
        );
    }
    let ids: HashSet<_> = results.iter().map(|r| r.metadata.run_id.clone()).collect();
    assert_eq!(ids.len(), 20);
    let expected: Vec<_> = (1..=20).map(|d| (d, 20, true)).collect();
    assert_eq!(*progress.lock().unwrap(), expected);
    let batch_lines: Vec<String> = log_lines()
        .into_iter()
        .filter(|l| l["run_id"] == "batch_nightly")
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(batch_lines, ["batch started", "batch finished"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_ranks_by_the_statistic_with_undefined_values_last() {
    let data = Arc::new(Bars::synthetic(3_000, 4));
    // fast == slow never crosses: no trade, flat equity, an undefined Sharpe ratio.
    let grid = ParamGrid::new()
        .axis("fast", [5, 10, 40])
        .axis("slow", [40]);
    let engine = BacktestEngine::default();
    let report = engine
        .sweep(
            &data,
            sma_cross,
            &grid,
            RankBy::new(Statistic::Sharpe),
            BatchOptions::new().keep_equity(false),
        )
        .await;
    assert!(report.sweep_id.starts_with("sweep_"));
    assert!(report.failed.is_empty());
    let sharpe: Vec<Option<f64>> = report.ranked.iter().map(|r| r.stats.sharpe).collect();
    assert_eq!(sharpe.len(), 3);
    assert!(sharpe[0].unwrap() >= sharpe[1].unwrap());
    assert_eq!(sharpe[2], None);
    assert_eq!(report.ranked[2].metadata.params.int("fast").unwrap(), 40);
    assert!(report.ranked.iter().all(|r| r.equity.is_empty()));
    // Each figure is the one of the same session run alone.
    for r in &report.ranked {
        let alone = engine.run(&data, &sma_cross, &r.metadata.params).unwrap();
        assert_eq!(r.stats, alone.stats);
    }

    let ascending = engine
        .sweep(
            &data,
            sma_cross,
            &grid,
            RankBy::new(Statistic::Sharpe).ascending(),
            BatchOptions::new(),
        )
        .await;
    let up: Vec<Option<f64>> = ascending.ranked.iter().map(|r| r.stats.sharpe).collect();
    assert_eq!(up, [sharpe[1], sharpe[0], None]);
}

/// A strategy that counts the sessions running it at once (the most seen in `peak`) and the
/// sessions started, and takes `pause` before its signals.
fn counted(
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
    pause: Duration,
) -> Arc<dyn tracectx_backtest::Strategy + Send + Sync> {
    Arc::new(Named::new(
        "counted",
        move |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
            started.fetch_add(1, Ordering::SeqCst);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(pause);
            running.fetch_sub(1, Ordering::SeqCst);
            sma_cross(bars, params)
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_runs_at_most_its_concurrency_and_stops_when_dropped() {
    log_lines();
    let data = Arc::new(Bars::synthetic(500, 4));
    let [running, peak, started] = std::array::from_fn(|_| Arc::new(AtomicUsize::new(0)));
    let strategy = counted(
        running.clone(),
        peak.clone(),
        started.clone(),
        Duration::from_millis(5),
    );
    let jobs = (0..40).map(|k| BacktestJob::shared(&data, strategy.clone(), params(5 + k % 5, 30)));
    let done = Arc::new(AtomicUsize::new(0));
    let options = BatchOptions::new().concurrency(3).on_progress({
        let done = done.clone();
        move |p| {
            done.store(p.done, Ordering::SeqCst);
        }
    });
    let outcomes = BacktestEngine::default().run_batch(jobs, options).await;
    assert_eq!(outcomes.len(), 40);
    assert!(outcomes.iter().all(Result::is_ok));
    assert_eq!(
        done.load(Ordering::SeqCst),
        40,
        "progress reported every session"
    );
    assert_eq!(started.load(Ordering::SeqCst), 40);
    assert_eq!(peak.load(Ordering::SeqCst), 3, "three at once, never more");

    // Dropped after a while, a batch of slow sessions starts no new one.
    let [running, peak, started] = std::array::from_fn(|_| Arc::new(AtomicUsize::new(0)));
    let strategy = counted(
        running.clone(),
        peak,
        started.clone(),
        Duration::from_millis(20),
    );
    let jobs =
        (0..200).map(|k| BacktestJob::shared(&data, strategy.clone(), params(5 + k % 5, 30)));
    let batch = BacktestEngine::default().run_batch(jobs, BatchOptions::new().concurrency(2));
    assert!(
        tokio::time::timeout(Duration::from_millis(100), batch)
            .await
            .is_err()
    );
    // The sessions under way finish; then nothing more starts.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = started.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(started.load(Ordering::SeqCst), after_drop);
    assert_eq!(running.load(Ordering::SeqCst), 0);
    assert!(after_drop < 40, "{after_drop} of 200 sessions started");
}
