//! `quiet_strategy_panics`: a strategy's panic, caught by the engine, stays off the previous
//! panic hook (standard error by default) and is logged under the session's run instead;
//! every other panic still reaches the previous hook. Alone in its test binary because it
//! sets the process's panic hook.

use std::panic;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracectx::TraceContext;
use tracectx_backtest::{
    BacktestEngine, BacktestErrorKind, BacktestJob, Bars, BatchOptions, Named, Params, Signals,
    StrategyError, quiet_strategy_panics, sma_cross,
};

static PREVIOUS_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[path = "../../tests/support/mod.rs"]
mod support;
use support::Buffer;

fn panics_on_seven(bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
    if params.int("fast")? == 7 {
        panic!("model diverged at seven");
    }
    sma_cross(bars, params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategy_panics_are_logged_under_their_run_and_other_panics_reach_the_previous_hook() {
    panic::set_hook(Box::new(|_| {
        PREVIOUS_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    }));
    quiet_strategy_panics();
    quiet_strategy_panics(); // once is enough; again is harmless

    let logs = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Synchronously, inside a run.
    let ctx = TraceContext::new("backtest_quiet").unwrap();
    let params = Params::new().with("fast", 7).with("slow", 20);
    let bars = Bars::synthetic(200, 1);
    let err = ctx
        .sync_scope(|| {
            BacktestEngine::default().run(&bars, &Named::new("fragile", panics_on_seven), &params)
        })
        .unwrap_err();
    assert!(
        matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "model diverged at seven")
    );
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 0);

    // In a batch on the blocking pool: the failing session alone, and still quiet.
    let data = Arc::new(Bars::synthetic(500, 2));
    let strategy: Arc<dyn tracectx_backtest::Strategy + Send + Sync> =
        Arc::new(Named::new("fragile", panics_on_seven));
    let jobs = (5..10).map(|fast| {
        BacktestJob::shared(
            &data,
            strategy.clone(),
            Params::new().with("fast", fast).with("slow", 20),
        )
    });
    let outcomes = BacktestEngine::default()
        .run_batch(jobs, BatchOptions::new().concurrency(2))
        .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 0);

    // A panic outside any strategy still reaches the previous hook.
    let outside = panic::catch_unwind(|| panic!("not a strategy"));
    assert!(outside.is_err());
    assert_eq!(PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst), 1);

    // The synchronous session's panic is in the log, with its message and location.
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("strategy panicked"))
        .unwrap_or_else(|| panic!("no \"strategy panicked\" line in:\n{text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("model diverged at seven"), "{line}");
    assert!(line.contains("backtest/tests/panic.rs:"), "{line}");
}
