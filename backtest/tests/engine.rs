//! The synchronous engine: one session's result stamped with its run, and failures of a
//! strategy confined to that session with the run id attached.

use std::sync::Arc;

use tracectx::TraceContext;
use tracectx_backtest::{
    BacktestEngine, BacktestErrorKind, BacktestSettings, Bars, Decision, Named, Params, RunOptions,
    Signals, StrategyError, sma_cross,
};

mod common;
use common::flat;

fn params() -> Params {
    Params::new().with("fast", 10).with("slow", 20)
}

#[test]
fn result_metadata_carries_the_scope_ids() {
    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
    let bars = Bars::synthetic(1_000, 3);
    let ctx = TraceContext::new("backtest_meta").unwrap();
    let child = ctx.child();
    let result = child
        .sync_scope(|| engine.run(&bars, &Named::new("sma-cross", sma_cross), &params()))
        .unwrap();
    let m = &result.metadata;
    assert_eq!(m.run_id.as_deref(), Some("backtest_meta"));
    assert_eq!(m.trace_id, Some(ctx.trace_id()));
    assert_eq!(m.span_id, Some(child.span_id()));
    assert_eq!(m.parent_span_id, Some(ctx.span_id()));
    assert_eq!(m.strategy, "sma-cross");
    assert_eq!(m.params, params());
    assert_eq!(m.data_fingerprint, bars.fingerprint());
    assert_eq!(m.bars, 1_000);
    assert_eq!(m.engine_version, env!("CARGO_PKG_VERSION"));
    assert!(m.wall_time_secs >= 0.0);
    // In JSON the ids are text: the trace id short and full, from the one id.
    let ids = format!(
        r#""metadata":{{"run_id":"backtest_meta","trace_id":"{}","trace_id_full":"{:x}","span_id":"{}","parent_span_id":"{}","strategy":"sma-cross","#,
        ctx.trace_id(),
        ctx.trace_id(),
        child.span_id(),
        ctx.span_id()
    );
    let json = result.to_json();
    assert!(json.contains(&ids), "{json}");
    assert!(
        json.ends_with(r#""parent_run_id":null,"repro":null}}"#),
        "{json}"
    );
}

#[test]
fn same_inputs_give_the_same_figures() {
    let engine = BacktestEngine::default();
    let bars = Bars::synthetic(3_000, 5);
    let a = engine.run(&bars, &sma_cross, &params()).unwrap();
    let b = engine.run(&bars, &sma_cross, &params()).unwrap();
    assert_eq!((a.stats, a.trades, a.equity), (b.stats, b.trades, b.equity));
}

#[test]
fn strategy_error_fails_the_session_with_its_run_id() {
    let failing = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> {
        Err(StrategyError::other("model file missing"))
    };
    let ctx = TraceContext::new("backtest_fail").unwrap();
    let err = ctx
        .sync_scope(|| {
            BacktestEngine::default().run(
                &Bars::synthetic(10, 1),
                &Named::new("ml", failing),
                &Params::new(),
            )
        })
        .unwrap_err();
    assert_eq!(err.run_id(), Some("backtest_fail"));
    assert_eq!(
        err.to_string(),
        r#"backtest backtest_fail failed: strategy "ml": model file missing"#
    );
}

#[test]
fn strategy_panic_fails_the_session_only() {
    let panics = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("boom") };
    let engine = BacktestEngine::default();
    let bars = Bars::synthetic(100, 1);
    let ctx = TraceContext::new("backtest_panic").unwrap();
    let err = ctx
        .sync_scope(|| engine.run(&bars, &Named::new("bad", panics), &Params::new()))
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "boom"));
    assert_eq!(err.run_id(), Some("backtest_panic"));
    // The engine and the thread are fine afterwards.
    assert!(engine.run(&bars, &sma_cross, &params()).is_ok());
}

/// A panic's message may carry whatever the strategy was looking at: the error keeps its
/// first 1,024 characters and shows them on one line, escaped.
#[test]
fn a_long_panic_message_is_cut_and_escaped() {
    let panics = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> {
        panic!("bad row\n\u{202e}{}", "x".repeat(100_000))
    };
    let ctx = TraceContext::new("backtest_long_panic").unwrap();
    let err = ctx
        .sync_scope(|| {
            BacktestEngine::default().run(
                &Bars::synthetic(10, 1),
                &Named::new("loud", panics),
                &Params::new(),
            )
        })
        .unwrap_err();
    let BacktestErrorKind::StrategyPanicked(message) = err.kind() else {
        panic!("not a panic: {err}");
    };
    assert_eq!(message.chars().count(), 1_024 + 1);
    assert!(message.starts_with("bad row\n\u{202e}xxx") && message.ends_with("x…"));
    let shown = err.to_string();
    assert!(shown.starts_with(
        r#"backtest backtest_long_panic failed: strategy "loud": panicked: bad row\n\u{202e}xxx"#
    ));
    assert_eq!(shown.lines().count(), 1);
    assert!(shown.len() < 1_200, "{} bytes", shown.len());
}

#[test]
fn signals_of_the_wrong_length_are_an_error() {
    let short =
        |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { Ok(Signals::new(vec![], 0)) };
    let err = BacktestEngine::default()
        .run(&Bars::synthetic(10, 1), &short, &Params::new())
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::Simulation(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "backtest failed: strategy {:?}: signals have 0 decisions for 10 bars",
            err.strategy()
        )
    );
}

fn short_signals(bars: &Bars, _: &Params) -> Result<Signals, StrategyError> {
    Ok(Signals::new(vec![Decision::Hold; bars.len() - 1], 0))
}

fn late_warmup(bars: &Bars, _: &Params) -> Result<Signals, StrategyError> {
    Ok(Signals::new(vec![Decision::Hold; bars.len()], bars.len()))
}

/// Signals that do not fit the bars are the strategy's doing: the error names the run and
/// the strategy, as a strategy's own error does, on either runtime.
async fn signals_that_do_not_fit_name_the_run_and_the_strategy() {
    let engine = BacktestEngine::default();
    let data = Arc::new(Bars::synthetic(10, 1));
    let ctx = TraceContext::new("backtest_fit").unwrap();
    let err = engine
        .run_realistic_with(
            &data,
            Named::new("short", short_signals),
            Params::new(),
            RunOptions::new().context(ctx.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.run_id(), err.strategy()),
        (Some("backtest_fit"), "short")
    );
    assert_eq!(
        err.to_string(),
        "backtest backtest_fit failed: strategy \"short\": signals have 9 decisions for 10 bars"
    );
    let err = engine
        .run_realistic_with(
            &data,
            Named::new("late", late_warmup),
            Params::new(),
            RunOptions::new().context(ctx),
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::Stats(_)));
    assert_eq!(
        err.to_string(),
        "backtest backtest_fit failed: strategy \"late\": warm-up bar 10 is past the last bar 9"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn signals_that_do_not_fit_name_the_strategy_current_thread() {
    signals_that_do_not_fit_name_the_run_and_the_strategy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_that_do_not_fit_name_the_strategy_multi_thread() {
    signals_that_do_not_fit_name_the_run_and_the_strategy().await;
}

#[test]
fn json_has_stats_trades_and_metadata_but_not_equity() {
    let result = BacktestEngine::default()
        .run(&Bars::synthetic(500, 2), &sma_cross, &params())
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&result.to_json()).unwrap();
    assert!(
        json["stats"].is_object() && json["trades"].is_array() && json["open_trades"].is_array()
    );
    assert_eq!(
        json["metadata"]["params"],
        serde_json::json!({"fast": 10, "slow": 20})
    );
    assert!(json["metadata"]["run_id"].is_null());
    assert!(json.get("equity").is_none());
}

/// Long sessions run on two threads (the statistics read the equity curve while the
/// simulation writes it): the result is the one the steps give one after another on one
/// thread, to the bit, on daily and hourly bars, with and without a ruin, and with a strategy
/// error or panic still failing the session alone.
#[test]
fn a_long_session_on_two_threads_gives_the_one_thread_result() {
    use tracectx_backtest::{Stats, simulate};

    let daily = Bars::synthetic(70_000, 9);
    let hourly = Bars::new(
        (0..70_000)
            .map(|i| 1_600_000_000_000_000 + i * 3_600_000_000)
            .collect(),
        daily.open().to_vec(),
        daily.high().to_vec(),
        daily.low().to_vec(),
        daily.close().to_vec(),
        None,
    )
    .unwrap();
    // Prices tripling at three bars: a short held across one is ruined.
    let jump = |v: &[f64]| -> Vec<f64> {
        let steps = |i: usize| [30_000, 45_000, 60_000].iter().filter(|&&b| i >= b).count();
        v.iter()
            .enumerate()
            .map(|(i, &p)| p * 3f64.powi(steps(i) as i32))
            .collect()
    };
    let jumps = Bars::new(
        daily.timestamps().to_vec(),
        jump(daily.open()),
        jump(daily.high()),
        jump(daily.low()),
        jump(daily.close()),
        None,
    )
    .unwrap();
    let cases = [
        (
            &daily,
            BacktestSettings::new(10_000.0).with_commission(0.001),
        ),
        (&hourly, BacktestSettings::new(10_000.0)),
        (&jumps, BacktestSettings::new(10_000.0)),
    ];
    let mut ruined = false;
    for (bars, settings) in cases {
        let engine = BacktestEngine::new(settings);
        let two = engine.run(bars, &sma_cross, &params()).unwrap();
        let signals = sma_cross(bars, &params()).unwrap();
        let one = simulate(bars, &signals, &settings).unwrap();
        let stats = Stats::compute(bars, &one.equity, &one.trades, signals.warmup()).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&two.equity), bits(&one.equity));
        assert_eq!(two.trades, one.trades);
        assert_eq!(two.open_trades, one.open_trades);
        assert_eq!(
            serde_json::to_string(&two.stats).unwrap(),
            serde_json::to_string(&stats).unwrap()
        );
        assert!(two.stats.trades > 100, "the session trades");
        ruined |= two.equity.last() == Some(&0.0);
    }
    assert!(ruined, "one case runs out of money");

    let failing = Named::new(
        "failing",
        |_: &Bars, _: &Params| -> Result<Signals, StrategyError> {
            Err(StrategyError::other("no signals today"))
        },
    );
    let err = BacktestEngine::default()
        .run(&daily, &failing, &Params::new())
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::Strategy(_)));
    let panics = Named::new(
        "panics",
        |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("boom") },
    );
    let err = BacktestEngine::default()
        .run(&daily, &panics, &Params::new())
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "boom"));
}

// === tiny and flat data ===

/// Every statistic is a finite number or `None` (`null` in JSON), never NaN or infinite.
fn assert_defined_or_none(result: &tracectx_backtest::BacktestResult, what: &str) {
    for &statistic in tracectx_backtest::Statistic::ALL {
        if let Some(v) = result.stats.get(statistic) {
            assert!(v.is_finite(), "{what}: {statistic:?} = {v}");
        }
    }
    let json: serde_json::Value = serde_json::from_str(&result.to_json()).unwrap();
    for (name, value) in json["stats"].as_object().unwrap() {
        assert!(
            value.is_null() || value.is_number() || value.is_string(),
            "{what}: {name} = {value}"
        );
    }
}

fn tiny_and_flat() -> Vec<(String, Bars)> {
    let mut data = Vec::new();
    for n in [1, 2, 3] {
        data.push((format!("{n} flat bars"), flat(n)));
        data.push((format!("{n} moving bars"), Bars::synthetic(n, 5)));
    }
    data.push(("60 flat bars".to_owned(), flat(60)));
    data
}

/// A strategy always in the market, so that flat and tiny data have trades to measure.
fn always_long(bars: &Bars, _: &Params) -> Result<Signals, StrategyError> {
    Ok(Signals::new(vec![Decision::EnterLong; bars.len()], 0))
}

#[test]
fn one_two_or_flat_bars_leave_undefined_statistics_none() {
    let engine = BacktestEngine::default();
    for (what, bars) in tiny_and_flat() {
        let result = engine.run(&bars, &sma_cross, &params()).unwrap();
        assert_defined_or_none(&result, &what);
        let result = engine.run(&bars, &always_long, &params()).unwrap();
        assert_defined_or_none(&result, &what);
        if bars.len() == 1 {
            assert_eq!(result.stats.sharpe, None, "{what}");
            assert_eq!(result.stats.trades, 0, "{what}");
        }
    }
}

async fn tiny_and_flat_data_on_every_async_entry_point() {
    let engine = BacktestEngine::default();
    for (what, bars) in tiny_and_flat() {
        let data = Arc::new(bars);
        let result = engine
            .run_realistic(&data, Named::new("long", always_long), params())
            .await
            .unwrap();
        assert_defined_or_none(&result, &what);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let feed = {
            let data = Arc::clone(&data);
            tokio::spawn(async move {
                for i in 0..data.len() {
                    tx.send(data.get(i).unwrap()).await.unwrap();
                }
            })
        };
        let streamed = engine
            .run_channel(rx, Named::new("long", always_long), params())
            .await
            .unwrap();
        feed.await.unwrap();
        assert_defined_or_none(&streamed, &what);
        assert_eq!(streamed.stats.trades, result.stats.trades, "{what}");
        let grid = tracectx_backtest::ParamGrid::new()
            .parse_axis("fast=2:3:1")
            .unwrap()
            .parse_axis("slow=4:5:1")
            .unwrap();
        let report = engine
            .sweep(
                &data,
                Named::new("sma-cross", sma_cross),
                &grid,
                tracectx_backtest::RankBy::default(),
                tracectx_backtest::BatchOptions::new().keep_heatmap(true),
            )
            .await;
        assert_eq!((report.sessions, report.succeeded), (4, 4), "{what}");
        for result in &report.ranked {
            assert_defined_or_none(result, &what);
        }
        let heatmap = report.heatmap.as_ref().unwrap();
        assert!(
            heatmap.cells.iter().flatten().all(|v| v.is_finite()),
            "{what}"
        );
    }
    // No bars at all: a typed error, not a session on nothing.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    drop(tx);
    let err = engine
        .run_channel(rx, Named::new("long", always_long), params())
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), BacktestErrorKind::Data(_)), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn tiny_and_flat_data_on_a_current_thread_runtime() {
    tiny_and_flat_data_on_every_async_entry_point().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_and_flat_data_on_a_multi_thread_runtime() {
    tiny_and_flat_data_on_every_async_entry_point().await;
}
