//! [`Bars::synthetic`]'s series.
//!
//! [`Bars::synthetic`]: super::Bars::synthetic

use std::sync::OnceLock;

use super::{Bars, Fingerprint};
use tracectx::time::{MICROS_PER_DAY, days_from_civil, weekday};

/// [`Bars::synthetic`]: `n` daily bars of a walk made from `seed`.
pub(super) fn bars(n: usize, seed: u64) -> Bars {
    let n = n.clamp(1, Bars::SYNTHETIC_MAX_BARS);
    let mut rng = SplitMix64(seed);
    // Sum of four uniforms, centred and scaled to unit variance.
    let mut normal = || {
        let s: f64 = (0..4).map(|_| rng.next_f64()).sum();
        (s - 2.0) * 3f64.sqrt()
    };
    let cents = |x: f64| ((x * 100.0).round() / 100.0).max(0.01);
    let mut timestamps = Vec::with_capacity(n);
    let mut open = Vec::with_capacity(n);
    let mut high = Vec::with_capacity(n);
    let mut low = Vec::with_capacity(n);
    let mut close = Vec::with_capacity(n);
    let mut volume = Vec::with_capacity(n);
    // Monday 2000-01-03.
    let mut day = days_from_civil(2000, 1, 3);
    let mut last = 100.0_f64;
    for _ in 0..n {
        timestamps.push(day * MICROS_PER_DAY);
        day += if weekday(day) == 4 { 3 } else { 1 };
        // A weak pull towards 100 keeps long series in a realistic range (a pure
        // geometric walk drifts to zero or to the moon over a million bars).
        let pull = 0.001 * (100.0 / last - 1.0);
        let o = cents(last * (1.0 + 0.002 * normal()));
        let c = cents(o * (1.0 + 0.01 * normal() + pull));
        let h = cents(o.max(c) * (1.0 + 0.004 * normal().abs()));
        let l = cents(o.min(c) * (1.0 - 0.004 * normal().abs()).max(0.5));
        open.push(o);
        high.push(h.max(o).max(c));
        low.push(l.min(o).min(c));
        close.push(c);
        volume.push((1_000_000.0 * (1.0 + 0.3 * normal()).max(0.05)).round());
        last = c;
    }
    let fingerprint =
        Fingerprint::of_columns(&timestamps, [&open, &high, &low, &close], Some(&volume));
    Bars {
        timestamps,
        open,
        high,
        low,
        close,
        volume: Some(volume),
        fingerprint,
        calendar: OnceLock::new(),
        max_close: OnceLock::new(),
    }
}

/// SplitMix64: a tiny, well-mixed, exactly specified generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
