//! What several test binaries of the engine build their data from.

use tracectx_backtest::Bars;

/// A day in microseconds.
pub const DAY: i64 = 86_400_000_000;

/// `n` daily bars whose every price is 10.
#[allow(dead_code)]
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

/// `n` minute bars of a noisy walk around 100 (no two closes alike), the same for every `n`
/// on its first bars: a crossover of one bar against two trades on about every other bar.
#[allow(dead_code)]
pub fn noisy(n: usize) -> Bars {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut price = 100.0;
    let close: Vec<f64> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            price *= 1.0 + u * 0.01 + (100.0 - price) * 1e-4;
            price
        })
        .collect();
    closes(close, 60_000_000)
}

/// Bars of the closes `close`, one every `step` microseconds from the epoch, each opening,
/// peaking and bottoming at its close.
#[allow(dead_code)]
pub fn closes(close: Vec<f64>, step: i64) -> Bars {
    let times = (0..close.len() as i64).map(|i| i * step).collect();
    Bars::new(
        times,
        close.clone(),
        close.clone(),
        close.clone(),
        close,
        None,
    )
    .unwrap()
}
