//! Drawdowns and their periods, from an equity curve fed in pieces.

// === impl Drawdowns ===

/// Drawdowns `dd_i = 1 - E_i / max_{j<=i} E_j` in one pass, and their periods: between
/// consecutive bars where the drawdown is exactly zero (and the last bar) with at least one
/// bar in between.
pub(super) struct Drawdowns {
    /// The largest drawdown (0 when there is none).
    pub(super) max: f64,
    /// Each period's duration, in microseconds.
    pub(super) durations: Vec<i64>,
    /// Each period's deepest drawdown.
    pub(super) peaks: Vec<f64>,
    /// Sum and count of the non-zero drawdowns, for the case of no period.
    pub(super) nonzero_sum: f64,
    pub(super) nonzero: usize,
}

impl Drawdowns {
    fn empty() -> Self {
        Drawdowns {
            max: 0.0,
            durations: Vec::new(),
            peaks: Vec::new(),
            nonzero_sum: 0.0,
            nonzero: 0,
        }
    }

    /// The drawdowns of any values, one division per bar.
    fn general(equity: &[f64], t: &[i64]) -> Self {
        let n = equity.len();
        let mut out = Drawdowns {
            max: 0.0,
            durations: Vec::new(),
            peaks: Vec::new(),
            nonzero_sum: 0.0,
            nonzero: 0,
        };
        let mut high = f64::NEG_INFINITY;
        let mut last_zero: Option<usize> = None;
        let mut deepest = 0.0_f64; // since the last zero, inclusive
        // The drawdown of the previous bar, reused while equity and its high stay put.
        let (mut prev_e, mut prev_high, mut prev_d) = (f64::NAN, f64::NAN, f64::NAN);
        // Comparisons rather than `f64::max` (the same results: a NaN never replaces a
        // number either way) keep the running maxima off a chain of dependent instructions.
        for (q, &e) in equity.iter().enumerate() {
            if e > high {
                high = e;
            }
            let d = if e == prev_e && high == prev_high {
                prev_d
            } else {
                1.0 - e / high
            };
            (prev_e, prev_high, prev_d) = (e, high, d);
            if d > out.max {
                out.max = d;
            }
            if d > deepest {
                deepest = d;
            }
            if d == 0.0 || q == n - 1 {
                if let Some(p) = last_zero {
                    if q > p + 1 {
                        out.durations.push(t[q] - t[p]);
                        out.peaks.push(deepest);
                    }
                }
                last_zero = Some(q);
                deepest = d;
            }
        }
        if out.durations.is_empty() {
            // Only needed without any drawdown period: a second pass, in the same order.
            let mut high = f64::NEG_INFINITY;
            for &e in equity {
                if e > high {
                    high = e;
                }
                let d = 1.0 - e / high;
                if d != 0.0 {
                    out.nonzero_sum += d;
                    out.nonzero += 1;
                }
            }
        }
        out
    }
}

// === impl DrawdownPass ===

/// The drawdowns of an equity curve fed in pieces, in order (see [`PositiveScan`]).
#[derive(Default)]
pub(crate) struct DrawdownPass {
    /// `None` before the first value and after a value that is not finite and positive.
    scan: Option<PositiveScan>,
    fed: usize,
    failed: bool,
}

impl DrawdownPass {
    /// The next values of the curve, on bars whose times start `t`.
    pub(crate) fn feed(&mut self, piece: &[f64], t: &[i64]) {
        crate::wide::run(
            #[inline(always)]
            || self.feed_here(piece, t),
        );
    }

    /// [`feed`](Self::feed) as built for whatever calls it.
    #[inline(always)]
    pub(super) fn feed_here(&mut self, piece: &[f64], t: &[i64]) {
        let base = self.fed;
        self.fed += piece.len();
        if self.failed {
            return;
        }
        if base == 0 && self.scan.is_none() {
            match piece.first() {
                Some(&first) => self.scan = PositiveScan::new(first),
                None => return,
            }
        }
        let fine = self.scan.as_mut().is_some_and(|s| s.feed(piece, base, t));
        if !fine {
            self.scan = None;
            self.failed = true;
        }
    }

    /// The drawdowns once the whole curve `equity` was fed, and its highest value.
    pub(super) fn finish(self, equity: &[f64], t: &[i64]) -> (Drawdowns, f64) {
        match self.scan {
            Some(scan) => scan.finish(equity, t),
            None => (
                Drawdowns::general(equity, t),
                equity.iter().copied().fold(f64::NAN, f64::max),
            ),
        }
    }
}

// === impl PositiveScan ===

/// The drawdowns of finite positive equity (every run that is not ruined), fed the curve in
/// pieces, with one division per drawdown period instead of one per bar: between two bars of
/// zero drawdown the running high `H` stays put, so the period's deepest drawdown is
/// `1 - min(E) / H`, and division rounds monotonically, so that is the same value (to the
/// bit) as the largest `1 - E_i / H`.
///
/// For such values `E_i < H` gives `E_i / H <= 1 - 2^-53`, so `dd_i > 0`, and `E_i >= H`
/// gives `dd_i = 0` exactly: a bar is a zero of the drawdown exactly when it is a new (or
/// equal) high. The first value that is not finite and positive ends the scan; then
/// [`Drawdowns::general`] does the work.
struct PositiveScan {
    out: Drawdowns,
    high: f64,
    /// The lowest equity since the last zero.
    low: f64,
    last_zero: usize,
}

impl PositiveScan {
    /// A scan from the first bar's equity; `None` unless it is finite and positive.
    fn new(first: f64) -> Option<Self> {
        (first > 0.0 && first <= f64::MAX).then(|| PositiveScan {
            out: Drawdowns::empty(),
            high: first,
            low: first,
            last_zero: 0,
        })
    }

    /// The equity of bars `base..base + piece.len()` (bar 0's value is [`new`](Self::new)'s);
    /// false at a value that is not finite and positive.
    #[inline(always)]
    fn feed(&mut self, piece: &[f64], base: usize, t: &[i64]) -> bool {
        let (mut high, mut low, mut last_zero) = (self.high, self.low, self.last_zero);
        let mut k = usize::from(base == 0);
        while k < piece.len() {
            // Runs of 8 bars below the high, the common case, without a branch per bar: the
            // run's lowest value as a tree of its own, so that one comparison a run (not one
            // a bar) waits on the one before.
            while let Some(run) = piece
                .get(k..k + 8)
                .and_then(|r| <&[f64; 8]>::try_from(r).ok())
            {
                let below = run
                    .iter()
                    .fold(true, |below, &e| below & (e > 0.0) & (e < high));
                if !below {
                    break;
                }
                // No NaN here (every value compared above 0).
                let lower = |a: f64, b: f64| if b < a { b } else { a };
                let least = lower(
                    lower(lower(run[0], run[1]), lower(run[2], run[3])),
                    lower(lower(run[4], run[5]), lower(run[6], run[7])),
                );
                low = lower(low, least);
                k += 8;
            }
            let Some(&e) = piece.get(k) else {
                break;
            };
            if !(e > 0.0 && e <= f64::MAX) {
                return false;
            }
            let q = base + k;
            if e >= high {
                if q > last_zero + 1 {
                    self.close_period(1.0 - low / high, t[q] - t[last_zero]);
                }
                high = e;
                low = e;
                last_zero = q;
            } else if e < low {
                low = e;
            }
            k += 1;
        }
        (self.high, self.low, self.last_zero) = (high, low, last_zero);
        true
    }

    fn close_period(&mut self, peak: f64, duration: i64) {
        self.out.durations.push(duration);
        self.out.peaks.push(peak);
        if peak > self.out.max {
            self.out.max = peak;
        }
    }

    /// The drawdowns once all of `equity` was fed, and the highest equity.
    fn finish(mut self, equity: &[f64], t: &[i64]) -> (Drawdowns, f64) {
        let n = equity.len();
        if self.last_zero < n - 1 {
            // The last bar closes the bars since the last zero.
            let peak = 1.0 - self.low / self.high;
            if n - 1 > self.last_zero + 1 {
                self.close_period(peak, t[n - 1] - t[self.last_zero]);
            } else if peak > self.out.max {
                self.out.max = peak;
            }
        }
        let mut out = self.out;
        if out.durations.is_empty() {
            let general = Drawdowns::general(equity, t);
            out.nonzero_sum = general.nonzero_sum;
            out.nonzero = general.nonzero;
        }
        (out, self.high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::walk;
    use tracectx::time::MICROS_PER_DAY;

    #[test]
    fn drawdowns_of_positive_equity_match_the_general_pass() {
        let t: Vec<i64> = (0..20_000).map(|i| i * MICROS_PER_DAY).collect();
        let cases = [
            walk(20_000, 0.02),
            walk(20_000, 0.0002),
            (0..20_000).map(|i| 100.0 + f64::from(i % 37)).collect(),
            (0..20_000).map(|i| 100.0 + f64::from(i)).collect(),
            vec![5.0; 20_000],
            (0..20_000)
                .map(|i| if i == 19_998 { 99.0 } else { 100.0 })
                .collect(),
            (0..20_000)
                .map(|i| if i == 19_999 { 99.0 } else { 100.0 })
                .collect(),
            (0..20_000).map(|i| 1000.0 - f64::from(i) * 0.01).collect(),
        ];
        for (k, e) in cases.iter().enumerate() {
            for len in [1, 2, 3, 9, 17, 20_000] {
                let (e, t) = (&e[..len], &t[..len]);
                let slow = Drawdowns::general(e, t);
                for piece in [1, 5, 8, 64, 20_000] {
                    let (fast, high) = positive_in_pieces(e, t, piece).unwrap();
                    let what = format!("case {k}, {len} bars, pieces of {piece}");
                    assert_eq!(fast.max.to_bits(), slow.max.to_bits(), "{what}");
                    assert_eq!(fast.durations, slow.durations, "{what}");
                    assert_eq!(fast.peaks, slow.peaks, "{what}");
                    assert_eq!(fast.nonzero, slow.nonzero, "{what}");
                    assert_eq!(
                        fast.nonzero_sum.to_bits(),
                        slow.nonzero_sum.to_bits(),
                        "{what}"
                    );
                    assert_eq!(high, e.iter().copied().fold(f64::NAN, f64::max), "{what}");
                }
            }
        }
        assert!(positive_in_pieces(&[1.0, 0.0, 2.0], &t[..3], 2).is_none());
        assert!(positive_in_pieces(&[-1.0, 2.0], &t[..2], 1).is_none());
        assert!(positive_in_pieces(&[1.0, f64::INFINITY], &t[..2], 2).is_none());
        assert!(positive_in_pieces(&[f64::NAN, 1.0], &t[..2], 1).is_none());
    }

    /// [`PositiveScan`] fed `e` in pieces of `piece` values.
    fn positive_in_pieces(e: &[f64], t: &[i64], piece: usize) -> Option<(Drawdowns, f64)> {
        let mut scan = PositiveScan::new(e[0])?;
        for (k, chunk) in e.chunks(piece).enumerate() {
            if !scan.feed(chunk, k * piece, t) {
                return None;
            }
        }
        Some(scan.finish(e, t))
    }
}
