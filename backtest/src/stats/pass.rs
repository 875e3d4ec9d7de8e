//! One pass over the equity curve, fed in pieces as the simulation writes it: beta's sums
//! and the daily returns' sums, leaf by leaf of numpy's pairwise summation, beside the
//! drawdowns.

use super::beta::BetaSums;
pub(crate) use super::beta::log_ratios;
use super::calendar::{DayFigures, DaySums};
use super::drawdown::{DrawdownPass, Drawdowns};
use super::period::data_period;
use super::sum::{LEAF_MAX, combine_leaves, leaf_sum, pairwise_by, pairwise_leaves};
use crate::Bars;
use tracectx::time::MICROS_PER_DAY;

thread_local! {
    /// The daily returns a pass on this thread kept and no longer needs: the next pass
    /// keeps its own there instead of asking for fresh memory (a sweep runs thousands).
    static SPARE_RETURNS: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The daily returns' buffer the last pass on this thread left (empty if none), for a pass
/// made on another thread ([`EquityPass::for_bars_laid_out`]).
pub(crate) fn take_spare_returns() -> Vec<f64> {
    SPARE_RETURNS.take()
}

// === impl EquityPass ===

/// The figures of the equity curve (with the bars' times and closes) that come from one pass
/// over it, in order: beta's sums, and the daily returns' sums when every bar is a calendar
/// day of its own (the drawdowns are [`DrawdownPass`]'s). It is fed the curve in pieces of any
/// size as they are written ([`feed`](Self::feed); the simulation hands them over as it goes)
/// and gives the same results, to the bit, however the curve was cut.
///
/// The pass goes by the leaves of numpy's pairwise summation of the `n - 1` returns: a leaf
/// of returns `s..s + len` reads the equity `s..=s + len`. A leaf cut by the end of a piece
/// waits, its values kept, for the next piece.
pub(crate) struct EquityPass<'b> {
    t: &'b [i64],
    leaves: Vec<(usize, usize)>,
    cursor: LeafCursor,
    sums: LeafSums<'b>,
    freq_days: i64,
}

impl<'b> EquityPass<'b> {
    /// This pass taking the closes' log ratios from `ratios` (the `n - 1` values
    /// [`log_ratios`] gives for the whole series, as a sweep shares them) instead of
    /// computing them leaf by leaf: the same values, to the bit.
    pub(crate) fn with_close_log_ratios(mut self, ratios: &'b [f64]) -> Self {
        self.sums.close_ratios = Some(ratios);
        self
    }

    /// A pass over an equity curve on `bars`.
    pub(crate) fn for_bars(bars: &'b Bars) -> Self {
        let t = bars.timestamps();
        let freq_days = data_period(t).map_or(1, |p| p.div_euclid(MICROS_PER_DAY));
        EquityPass::new(t, bars.close(), freq_days, || bars.weekend_bars_if_daily())
    }

    /// [`for_bars`](Self::for_bars) made on a thread of its own while the session's strategy
    /// runs: the daily returns go into `spare` (the buffer a pass on the session's thread
    /// left, from [`take_spare_returns`]), and the pages it has to grow into are touched here,
    /// so the pass does not fault them in while the simulation hands it the curve.
    pub(crate) fn for_bars_laid_out(bars: &'b Bars, spare: Vec<f64>) -> Self {
        let had = spare.capacity();
        SPARE_RETURNS.set(spare);
        let mut pass = EquityPass::for_bars(bars);
        if let Some(days) = &mut pass.sums.days {
            let returns = &mut days.returns;
            if returns.capacity() > had {
                returns.resize(returns.capacity(), 0.0);
                returns.clear();
            }
        }
        pass
    }

    /// A pass over an equity curve of `t.len()` values; `freq_days` is the data period in
    /// whole days, `daily` gives the number of weekend bars when every bar is a day of its
    /// own ([`Bars::weekend_bars_if_daily`]).
    fn new(
        t: &'b [i64],
        close: &'b [f64],
        freq_days: i64,
        daily: impl FnOnce() -> Option<usize>,
    ) -> Self {
        let n = t.len();
        let mut leaves = Vec::with_capacity(n / 64 + 1);
        pairwise_leaves(0, n.saturating_sub(1), &mut leaves);
        // Whether every bar is a calendar day of its own is a matter of the times alone:
        // settled here (once per bars), before any equity comes.
        let days = (!matches!(freq_days, 7 | 31 | 365) && n >= 2)
            .then(daily)
            .flatten()
            .map(|weekend_bars| DaySums {
                weekend_bars,
                leaf_sums: Vec::with_capacity(leaves.len()),
                variance: None,
                returns: {
                    let mut kept = SPARE_RETURNS.take();
                    kept.clear();
                    kept.reserve(n.saturating_sub(1));
                    kept
                },
            });
        EquityPass {
            t,
            cursor: LeafCursor::default(),
            sums: LeafSums {
                close,
                close_ratios: None,
                beta: BetaSums::default(),
                days,
                scratch: [[0.0; LEAF_MAX]; 2],
            },
            leaves,
            freq_days,
        }
    }

    /// The next values of the equity curve, in order.
    pub(crate) fn feed(&mut self, piece: &[f64]) {
        crate::wide::run(
            #[inline(always)]
            || self.feed_here(piece),
        );
    }

    /// [`feed`](Self::feed) as built for whatever calls it.
    #[inline(always)]
    fn feed_here(&mut self, piece: &[f64]) {
        let sums = &mut self.sums;
        self.cursor.feed(
            &self.leaves,
            piece,
            #[inline(always)]
            |s, e| sums.leaf(s, e),
        );
    }

    /// The second pass of the daily returns' two-pass variance, over the whole curve again in
    /// pieces (cut anyhow), once it was all fed; nothing when the returns are not summed bar
    /// by bar. [`finish`](Self::finish) makes it when it was not made.
    pub(crate) fn second_pass<'e>(&mut self, pieces: impl IntoIterator<Item = &'e [f64]>) {
        crate::wide::run(
            #[inline(always)]
            || self.second_pass_here(pieces),
        );
    }

    /// [`second_pass`](Self::second_pass) as built for whatever calls it.
    #[inline(always)]
    fn second_pass_here<'e>(&mut self, pieces: impl IntoIterator<Item = &'e [f64]>) {
        let m = self.t.len().saturating_sub(1);
        let Some(days) = &mut self.sums.days else {
            return;
        };
        if m < 2 {
            days.variance = Some(f64::NAN);
            return;
        }
        let [sum, _, _] = combine_leaves(m, &mut days.leaf_sums.iter().copied());
        let avg = sum / m as f64;
        let mut leaf_sums = Vec::with_capacity(self.leaves.len());
        if days.returns.len() == m {
            // The returns the first pass kept: the same values as dividing again.
            let returns = &days.returns;
            let [squares, _] = &mut self.sums.scratch;
            for &(s, len) in &self.leaves {
                for (q, &r) in squares[..len].iter_mut().zip(&returns[s..s + len]) {
                    *q = (avg - r) * (avg - r);
                }
                leaf_sums.push([leaf_sum(&squares[..len])]);
            }
        } else {
            let mut cursor = LeafCursor::default();
            for piece in pieces {
                cursor.feed(
                    &self.leaves,
                    piece,
                    #[inline(always)]
                    |_, e| {
                        leaf_sums.push([pairwise_by(0, e.len() - 1, &|i| {
                            let r = e[i + 1] / e[i] - 1.0;
                            (avg - r) * (avg - r)
                        })]);
                    },
                );
            }
        }
        let [squares] = combine_leaves(m, &mut leaf_sums.into_iter());
        days.variance = Some(squares / (m - 1) as f64);
    }

    /// The figures, once the whole curve `equity` was fed to this pass and to `drawdowns`.
    pub(crate) fn finish(mut self, equity: &[f64], drawdowns: DrawdownPass) -> EquityFigures {
        debug_assert_eq!(self.cursor.fed, equity.len());
        if self
            .sums
            .days
            .as_ref()
            .is_some_and(|d| d.variance.is_none())
        {
            self.second_pass([equity]);
        }
        let t = self.t;
        let n = equity.len();
        let (drawdowns, peak) = drawdowns.finish(equity, t);
        let m = n.saturating_sub(1);
        let beta = self.sums.beta.beta(m);
        let days = match self.sums.days {
            Some(days) => {
                SPARE_RETURNS.set(days.returns);
                let [_, losses, logs] = combine_leaves(m, &mut days.leaf_sums.into_iter());
                DayFigures {
                    weekend_bars: days.weekend_bars,
                    // `exp(mean ln(1 + r)) - 1`, the sum of the logarithms as numpy adds
                    // them (every `1 + r` is above 0 here).
                    g: (logs / m as f64).exp() - 1.0,
                    variance: days.variance.unwrap_or(f64::NAN),
                    downside: losses / m as f64,
                }
            }
            None => DayFigures::calendar(t, equity, self.freq_days),
        };
        EquityFigures {
            drawdowns,
            peak,
            days,
            beta,
        }
    }
}

/// What [`EquityPass::finish`] gives.
pub(crate) struct EquityFigures {
    pub(super) drawdowns: Drawdowns,
    /// The highest equity.
    pub(super) peak: f64,
    pub(super) days: DayFigures,
    pub(super) beta: f64,
}

// === impl LeafSums ===

/// What [`EquityPass`] sums leaf by leaf.
struct LeafSums<'b> {
    close: &'b [f64],
    /// The closes' log ratios of the whole series, when a sweep shares them.
    close_ratios: Option<&'b [f64]>,
    beta: BetaSums,
    /// The daily returns' sums while every bar is a calendar day of its own and every return
    /// so far near 0: then the daily returns are the bars' returns `E[i+1] / E[i] - 1`, summed
    /// straight off the curve (the same values in the same order as from a list, so the same
    /// sums to the bit) instead of being gathered day by day.
    days: Option<DaySums>,
    /// Room for a leaf's values (logarithms, returns), reused leaf after leaf.
    scratch: [[f64; LEAF_MAX]; 2],
}

impl LeafSums<'_> {
    /// One leaf: the returns `s..s + len` from the equity `e = E[s..=s + len]`.
    #[inline(always)]
    fn leaf(&mut self, s: usize, e: &[f64]) {
        let len = e.len() - 1;
        if len == 0 {
            return;
        }
        let [lx, ly] = &mut self.scratch;
        log_ratios(e, &mut lx[..len]);
        let ly = match self.close_ratios {
            Some(all) => &all[s..s + len],
            None => {
                log_ratios(&self.close[s..=s + len], &mut ly[..len]);
                &ly[..len]
            }
        };
        self.beta.add(&lx[..len], ly);
        if let Some(days) = &mut self.days {
            // The geometric mean's logarithms are beta's: `ln(1 + r)` of the same ratios.
            let log_sum = leaf_sum(&lx[..len]);
            if !days.leaf(e, log_sum, &mut self.scratch) {
                self.days = None;
            }
        }
    }
}

// === impl LeafCursor ===

/// Walks the leaves of a pairwise plan over an equity curve fed in pieces, in order.
#[derive(Default)]
struct LeafCursor {
    next: usize,
    /// The equity values of the leaf under way, when it began in an earlier piece.
    held: Vec<f64>,
    fed: usize,
}

impl LeafCursor {
    /// Takes the next piece of the curve and calls `leaf(s, e)` for every leaf `(s, len)` of
    /// `leaves` it completes, `e` being the equity `s..=s + len` (from the piece itself, or
    /// copied when the leaf began in an earlier piece).
    #[inline(always)]
    fn feed(
        &mut self,
        leaves: &[(usize, usize)],
        piece: &[f64],
        mut leaf: impl FnMut(usize, &[f64]),
    ) {
        let base = self.fed;
        let end = base + piece.len();
        while let Some(&(s, len)) = leaves.get(self.next) {
            let stop = s + len + 1;
            if stop > end {
                break;
            }
            if s >= base {
                leaf(s, &piece[s - base..stop - base]);
            } else {
                self.held.extend_from_slice(&piece[..stop - base]);
                leaf(s, &self.held);
                self.held.clear();
            }
            self.next += 1;
        }
        if let Some(&(s, _)) = leaves.get(self.next) {
            if s < end {
                self.held.extend_from_slice(&piece[s.max(base) - base..]);
            }
        }
        self.fed = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::one_bar_a_day;
    use crate::stats::calendar::calendar;
    use crate::stats::sum::{geometric_mean, variance};
    use crate::stats::walk;

    /// An [`EquityPass`] fed `equity` in pieces of `piece` values, and whether the daily
    /// returns were summed as they came (every bar a day of its own).
    fn pass_in_pieces(
        t: &[i64],
        close: &[f64],
        equity: &[f64],
        freq_days: i64,
        piece: usize,
    ) -> (EquityFigures, bool) {
        pass_built(t, close, equity, freq_days, piece, false)
    }

    /// [`pass_in_pieces`], in the build for this processor (AVX2 where it has it) or, with
    /// `baseline`, in the build for the target's baseline.
    fn pass_built(
        t: &[i64],
        close: &[f64],
        equity: &[f64],
        freq_days: i64,
        piece: usize,
        baseline: bool,
    ) -> (EquityFigures, bool) {
        let mut pass = EquityPass::new(t, close, freq_days, || one_bar_a_day(t));
        let mut drawdowns = DrawdownPass::default();
        for chunk in equity.chunks(piece) {
            if baseline {
                pass.feed_here(chunk);
                drawdowns.feed_here(chunk, t);
            } else {
                pass.feed(chunk);
                drawdowns.feed(chunk, t);
            }
        }
        let per_bar = pass.sums.days.is_some();
        // The variance's second pass over the same pieces (as a session's second thread
        // makes it); `finish` makes it over the whole curve when it was not made.
        if piece < equity.len() {
            if baseline {
                pass.second_pass_here(equity.chunks(piece));
            } else {
                pass.second_pass(equity.chunks(piece));
            }
        }
        (pass.finish(equity, drawdowns), per_bar)
    }

    /// Closes of `n` bars, their times a day and an hour apart, and equity curves on them:
    /// calm, very calm, and ruined four fifths of the way.
    fn series(n: usize) -> (Vec<f64>, [Vec<i64>; 2], Vec<Vec<f64>>) {
        let days = (0..n as i64).map(|i| i * MICROS_PER_DAY).collect();
        let hours = (0..n as i64).map(|i| i * 3_600_000_000).collect();
        let mut ruined = walk(n, 0.03);
        ruined[n * 4 / 5..].iter_mut().for_each(|e| *e = 0.0);
        let curves = vec![walk(n, 0.01), walk(n, 0.0003), ruined];
        (walk(n, 0.02), [days, hours], curves)
    }

    /// Every figure of the pass, as bits.
    fn figure_bits(f: &EquityFigures) -> Vec<u64> {
        let d = &f.drawdowns;
        let mut v = vec![f.peak, f.beta, d.max, d.nonzero_sum];
        v.extend(&d.peaks);
        v.extend(d.durations.iter().map(|&x| x as f64));
        v.extend([f.days.g, f.days.variance, f.days.downside]);
        v.push(f.days.weekend_bars as f64);
        v.into_iter().map(f64::to_bits).collect()
    }

    #[test]
    fn daily_bars_figures_match_the_calendar_pass() {
        let e = walk(3_000, 0.05);
        let close = walk(3_000, 0.01);
        let every_day: Vec<i64> = (0..3_000).map(|i| i * MICROS_PER_DAY).collect();
        let weekdays: Vec<i64> = (0..3_000)
            .map(|i| (i / 5 * 7 + i % 5 + 4) * MICROS_PER_DAY + 3_600_000_000)
            .collect();
        for t in [&every_day, &weekdays] {
            let (fast, per_bar) = pass_in_pieces(t, &close, &e, 1, 1_000);
            assert!(per_bar);
            let fast = fast.days;
            let cal = calendar(t, &e, 1);
            assert_eq!(fast.weekend_bars, cal.weekend_bars);
            // The same returns; their logarithms from the series (within 3 ulp of `ln`).
            let g = geometric_mean(&cal.returns);
            assert!((fast.g - g).abs() <= f64::EPSILON, "{} vs {g}", fast.g);
            assert_eq!(fast.variance.to_bits(), variance(&cal.returns).to_bits());
            let k = cal.returns.len();
            let down = pairwise_by(0, k, &|i| cal.returns[i].min(0.0).powi(2)) / k as f64;
            assert_eq!(fast.downside.to_bits(), down.to_bits());
        }
        // Two bars on a day, a weekly period or a wild return: the calendar pass.
        let hours: Vec<i64> = (0..3_000).map(|i| i * 3_600_000_000).collect();
        assert!(!pass_in_pieces(&hours, &close, &e, 1, 3_000).1);
        assert!(!pass_in_pieces(&every_day, &close, &e, 7, 3_000).1);
        let mut wild = e.clone();
        wild[10] *= 3.0;
        assert!(!pass_in_pieces(&every_day, &close, &wild, 1, 3_000).1);
    }

    /// However the curve is cut into pieces, the pass gives the same figures, to the bit.
    #[test]
    fn equity_pass_does_not_depend_on_the_pieces() {
        let n = 5_000;
        let (close, [days, hours], curves) = series(n);
        for e in curves {
            for t in [&days, &hours] {
                let (whole, _) = pass_in_pieces(t, &close, &e, 1, n);
                for piece in [1, 3, 8, 127, 128, 129, 1_000, 4_999] {
                    let (cut, _) = pass_in_pieces(t, &close, &e, 1, piece);
                    assert_eq!(figure_bits(&cut), figure_bits(&whole), "pieces of {piece}");
                }
            }
        }
    }

    /// The build of the pass for this processor (AVX2 where it has it: four values an
    /// instruction) gives the figures of the baseline build, to the bit: the same operations
    /// in the same order, whatever the width.
    #[test]
    fn the_processors_build_gives_the_baselines_bits() {
        let n = 5_000;
        let (close, [days, hours], mut curves) = series(n);
        let mut wild = walk(n, 0.01);
        wild[100] *= 1.2; // a logarithm off the series
        wild[2_000] = f64::NAN;
        curves.push(wild);
        for e in curves {
            for t in [&days, &hours] {
                for piece in [1, 7, 129, n] {
                    let (built, per_bar) = pass_built(t, &close, &e, 1, piece, false);
                    let (baseline, _) = pass_built(t, &close, &e, 1, piece, true);
                    assert_eq!(figure_bits(&built), figure_bits(&baseline), "{per_bar}");
                }
            }
        }
    }
}
