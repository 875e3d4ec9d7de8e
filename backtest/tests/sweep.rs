//! Parameter grids: ranges that cannot overflow whatever the numbers, and a cap on the whole
//! grid's combinations that refuses a mistyped sweep at once instead of exhausting memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracectx_backtest::{
    BacktestEngine, BacktestErrorKind, Bars, BatchOptions, Named, ParamGrid, ParamValue, Params,
    RankBy, Signals, StrategyError, sma_cross,
};

const CAP: u128 = ParamGrid::MAX_COMBINATIONS as u128;

#[test]
fn integer_ranges_at_the_ends_of_i64_do_not_overflow() {
    // `stop - start` is 2^64 - 1: more than an i64 holds.
    let err = ParamGrid::new()
        .parse_axis("a=-9223372036854775808:9223372036854775807:1")
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1 << 64));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"a=-9223372036854775808:9223372036854775807:1\": the grid would \
         have 18,446,744,073,709,551,616 combinations, over the cap of 1,000,000"
    );
    // A step as wide as the range: three values, the last one below the stop.
    let grid = ParamGrid::new()
        .parse_axis("a=-9223372036854775808:9223372036854775807:9223372036854775807")
        .unwrap();
    let values: Vec<ParamValue> = grid
        .combinations()
        .map(|p| p.get("a").unwrap().clone())
        .collect();
    assert_eq!(
        values,
        [
            ParamValue::Int(i64::MIN),
            ParamValue::Int(-1),
            ParamValue::Int(i64::MAX - 1)
        ]
    );
}

#[test]
fn float_ranges_wider_than_any_count_are_refused() {
    let err = ParamGrid::new().parse_axis("k=-1e308:1e308:1").unwrap_err();
    assert_eq!(err.combinations(), Some(u128::MAX));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"k=-1e308:1e308:1\": the grid would have more than 10^38 \
         combinations, over the cap of 1,000,000"
    );
    let err = ParamGrid::new().parse_axis("k=0:1:1e-300").unwrap_err();
    assert!(err.combinations().unwrap() > CAP);
}

#[test]
fn the_cap_is_on_the_whole_grid_not_each_axis() {
    let thousand = ParamGrid::new().parse_axis("fast=1:1000:1").unwrap();
    // 1,000 × 1,000 is exactly the cap.
    let at_cap = thousand.clone().parse_axis("slow=1:1000:1").unwrap();
    assert_eq!(at_cap.checked_len(), Ok(ParamGrid::MAX_COMBINATIONS));
    // One more value on the second axis, as a range or a list, is over it.
    let err = thousand.clone().parse_axis("slow=1:1001:1").unwrap_err();
    assert_eq!(err.combinations(), Some(1_001_000));
    assert_eq!(
        err.to_string(),
        "invalid grid axis \"slow=1:1001:1\": the grid would have 1,001,000 combinations, \
         over the cap of 1,000,000"
    );
    let list: Vec<String> = (0..1_001).map(|i| i.to_string()).collect();
    let err = thousand
        .clone()
        .parse_axis(&format!("slow={}", list.join(",")))
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1_001_000));
    // Two axes of a million values each: refused before the second is made.
    let err = ParamGrid::new()
        .parse_axis("fast=1:1000000:1")
        .unwrap()
        .parse_axis("slow=1:1000000:1")
        .unwrap_err();
    assert_eq!(err.combinations(), Some(1_000_000_000_000));
    // An axis replacing one of the same name is not multiplied by it.
    let replaced = thousand.parse_axis("fast=1:5:1").unwrap();
    assert_eq!(replaced.checked_len(), Ok(5));
}

#[test]
fn grids_built_in_code_saturate_and_are_checked() {
    // Five axes of 10,000 values: 10^20 combinations, more than a u64 holds.
    let grid = (0..5).fold(ParamGrid::new(), |g, k| {
        g.axis(format!("p{k}"), 0..10_000_i64)
    });
    assert_eq!(grid.len(), usize::MAX);
    assert!(!grid.is_empty());
    let err = grid.checked_len().unwrap_err();
    assert_eq!(err.combinations(), Some(100_000_000_000_000_000_000));
    assert_eq!(
        err.to_string(),
        "invalid parameter grid: the grid has 100,000,000,000,000,000,000 combinations, \
         over the cap of 1,000,000"
    );
    // An empty axis still makes the grid empty, whatever the others.
    assert!(grid.axis("none", Vec::<i64>::new()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_over_the_cap_runs_no_session_and_says_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let counting = move |bars: &Bars, params: &Params| -> Result<Signals, StrategyError> {
        counted.fetch_add(1, Ordering::SeqCst);
        sma_cross(bars, params)
    };
    let grid = ParamGrid::new()
        .axis("fast", 1..=2_000_i64)
        .axis("slow", 1..=2_000_i64);
    let report = BacktestEngine::default()
        .sweep(
            &Arc::new(Bars::synthetic(100, 1)),
            Named::new("counting", counting),
            &grid,
            RankBy::default(),
            BatchOptions::new(),
        )
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(report.ranked.is_empty());
    assert_eq!(report.failed.len(), 1);
    let err = &report.failed[0];
    assert_eq!(err.run_id(), Some(report.sweep_id.as_str()));
    assert!(
        matches!(err.kind(), BacktestErrorKind::Grid(g) if g.combinations() == Some(4_000_000))
    );
    assert_eq!(
        err.to_string(),
        format!(
            "backtest {} failed: invalid parameter grid: the grid has 4,000,000 combinations, \
             over the cap of 1,000,000",
            report.sweep_id
        )
    );
}
