//! The figures of the closed trades, in one pass over the list.

use super::Trade;
use super::sum::{geometric_mean_of, mean_of, pairwise_sum, variance_of};

/// The statistics of the closed trades (and the exposure they give), for
/// [`Stats`](super::Stats).
pub(crate) struct TradeFigures {
    pub(super) count: usize,
    pub(super) exposure_pct: f64,
    pub(super) commissions: f64,
    pub(super) win_rate: f64,
    pub(super) best: Option<f64>,
    pub(super) worst: Option<f64>,
    pub(super) geometric_mean: f64,
    pub(super) mean: f64,
    /// The longest and the mean duration, in microseconds.
    pub(super) longest: Option<i64>,
    pub(super) mean_duration: Option<i64>,
    pub(super) profit_factor: f64,
    pub(super) sqn: f64,
    pub(super) kelly: f64,
}

impl TradeFigures {
    /// The figures of `trades` on `n` bars.
    pub(crate) fn of(trades: &[Trade], n: usize) -> Self {
        // The trades, in one pass: every figure but the sums, which read the list again.
        let m = trades.len();
        let (mut commissions, mut wins) = (0.0, 0usize);
        let (mut best, mut worst) = (None::<f64>, None::<f64>);
        let (mut longest, mut total_duration) = (None::<i64>, 0i128);
        // Exposure: bars covered by the union of the trades' [entry, exit] ranges, counted
        // here when the trades come in order (a run's do), else from a sorted copy below.
        let (mut covered, mut next_free, mut in_order) = (0usize, 0usize, true);
        let mut previous = (0, 0);
        for trade in trades {
            let (a, b) = (trade.entry_bar, trade.exit_bar);
            in_order &= previous <= (a, b);
            previous = (a, b);
            let (a, b) = (a.max(next_free), b.min(n - 1));
            if a <= b {
                covered += b - a + 1;
                next_free = b + 1;
            }
            commissions += trade.commission;
            let r = trade.return_frac;
            best = Some(best.map_or(r, |b| b.max(r)));
            worst = Some(worst.map_or(r, |w| w.min(r)));
            wins += usize::from(trade.pnl > 0.0);
            let d = trade.duration_micros();
            longest = Some(longest.map_or(d, |l| l.max(d)));
            total_duration += i128::from(d);
        }
        if !in_order {
            let mut spans: Vec<(usize, usize)> =
                trades.iter().map(|t| (t.entry_bar, t.exit_bar)).collect();
            spans.sort_unstable();
            (covered, next_free) = (0, 0);
            for (a, b) in spans {
                let (a, b) = (a.max(next_free), b.min(n - 1));
                if a <= b {
                    covered += b - a + 1;
                    next_free = b + 1;
                }
            }
        }
        let exposure_pct = covered as f64 / n as f64 * 100.0;

        let win_rate = if m == 0 {
            f64::NAN
        } else {
            wins as f64 / m as f64
        };
        let pnl = |i: usize| trades[i].pnl;
        let returns = |i: usize| trades[i].return_frac;
        // The sums of selections of the values, in one list reused for each. Every value is
        // written and the length moves on only past those kept: no branch a trade, whose
        // sign is anyone's guess.
        let mut picked = vec![0.0; m];
        let mut sum_of = |value: fn(&Trade) -> f64, keep: fn(f64) -> bool| {
            let mut k = 0;
            for t in trades {
                let v = value(t);
                picked[k] = v;
                k += usize::from(keep(v));
            }
            (pairwise_sum(&picked[..k]), k)
        };
        let (gains, _) = sum_of(|t| t.return_frac, |r| r > 0.0);
        let (losses, _) = sum_of(|t| t.return_frac, |r| r < 0.0);
        let (won, winners) = sum_of(|t| t.pnl, |p| p > 0.0);
        let (lost, losers) = sum_of(|t| t.pnl, |p| p < 0.0);
        let loss_sum = losses.abs();
        let profit_factor = if loss_sum != 0.0 {
            gains / loss_sum
        } else {
            f64::NAN
        };
        let pnl_std = variance_of(m, &pnl).sqrt();
        let sqn = if pnl_std != 0.0 {
            (m as f64).sqrt() * mean_of(m, &pnl) / pnl_std
        } else {
            f64::NAN
        };
        let kelly =
            win_rate - (1.0 - win_rate) / ((won / winners as f64) / -(lost / losers as f64));
        TradeFigures {
            count: m,
            exposure_pct,
            commissions,
            win_rate,
            best,
            worst,
            geometric_mean: geometric_mean_of(m, &returns),
            mean: mean_of(m, &returns),
            longest,
            mean_duration: (m > 0).then(|| (total_duration / m as i128) as i64),
            profit_factor,
            sqn,
            kelly,
        }
    }
}
