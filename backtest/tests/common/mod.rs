//! What several test binaries of the engine build their data from.

use tracectx_backtest::Bars;

/// A day in microseconds.
pub const DAY: i64 = 86_400_000_000;

/// `n` daily bars whose every price is 10.
pub fn flat(n: usize) -> Bars {
    let times = (0..n as i64).map(|i| i * DAY).collect();
    Bars::new(
        times,
        vec![10.0; n],
        vec![10.0; n],
        vec![10.0; n],
        vec![10.0; n],
        None,
    )
    .unwrap()
}
