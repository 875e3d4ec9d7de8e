//! The returns of calendar periods (UTC days, or weeks, months, years): summed bar by bar
//! when every bar is a day of its own, else gathered period by period.

use super::sum::{LEAF_MAX, geometric_mean, leaf_sum, pairwise_by, variance};
use crate::data::DayCursor;
use tracectx::time::{MICROS_PER_DAY, civil_from_days};

// === impl DayFigures ===

/// The figures of the calendar periods' returns (see [`calendar`]).
pub(super) struct DayFigures {
    /// The number of bars on a Saturday or Sunday.
    pub(super) weekend_bars: usize,
    /// Geometric mean return.
    pub(super) g: f64,
    /// Sample variance (ddof 1).
    pub(super) variance: f64,
    /// Mean of `min(r, 0)^2`.
    pub(super) downside: f64,
}

impl DayFigures {
    /// The figures from the calendar periods' returns (see [`calendar`]).
    pub(super) fn calendar(t: &[i64], equity: &[f64], freq_days: i64) -> Self {
        let Calendar {
            weekend_bars,
            returns,
        } = calendar(t, equity, freq_days);
        let n = returns.len();
        DayFigures {
            weekend_bars,
            g: geometric_mean(&returns),
            variance: variance(&returns),
            downside: pairwise_by(0, n, &|i| returns[i].min(0.0).powi(2)) / n as f64,
        }
    }
}

/// What [`calendar`] finds.
pub(super) struct Calendar {
    /// The number of bars on a Saturday or Sunday.
    pub(super) weekend_bars: usize,
    /// The returns between consecutive periods.
    pub(super) returns: Vec<f64>,
}

/// One pass over the bars' calendar days (UTC): the number of bars on a Saturday or Sunday,
/// and the returns between the last equity of consecutive calendar periods that have bars:
/// days, or weeks (Monday to Sunday), months or years when the data's period is 7, 31 or 365
/// days. Undefined ratios (0/0 after a ruin) are dropped, as pandas' `dropna` does.
///
/// Times increase, so the calendar is only consulted when a bar starts a new day.
pub(super) fn calendar(t: &[i64], equity: &[f64], freq_days: i64) -> Calendar {
    if !matches!(freq_days, 7 | 31 | 365) {
        return calendar_days(t, equity);
    }
    let n = t.len();
    let mut last_of_period: Vec<f64> = Vec::with_capacity(n.min(days_spanned(t)));
    let mut weekend_bars = 0usize;
    let mut days = DayCursor::new(t[0]);
    let mut key = None;
    for (i, (&ts, &e)) in t.iter().zip(equity).enumerate() {
        if days.advance(ts) || i == 0 {
            let day = days.day;
            let k = match freq_days {
                7 => day + 6 - days.weekday,
                31 => {
                    let (y, m, _) = civil_from_days(day);
                    y * 12 + i64::from(m)
                }
                365 => civil_from_days(day).0,
                _ => day,
            };
            if key != Some(k) {
                key = Some(k);
                last_of_period.push(e);
            }
        }
        weekend_bars += usize::from(days.is_weekend());
        if let Some(last) = last_of_period.last_mut() {
            *last = e;
        }
    }
    let returns = last_of_period
        .windows(2)
        .map(|w| w[1] / w[0] - 1.0)
        .filter(|r| !r.is_nan())
        .collect();
    Calendar {
        weekend_bars,
        returns,
    }
}

/// The number of calendar days (UTC) from the first bar's to the last bar's, both counted:
/// a bound on the days that have bars. Counted on the calendar, not from the time elapsed:
/// Monday 22:00 to Wednesday 06:00 is three days, though 32 hours.
fn days_spanned(t: &[i64]) -> usize {
    match (t.first(), t.last()) {
        (Some(first), Some(last)) => {
            usize::try_from(last.div_euclid(MICROS_PER_DAY) - first.div_euclid(MICROS_PER_DAY))
                .map_or(0, |d| d.saturating_add(1))
        }
        _ => 0,
    }
}

/// [`calendar`] for daily bins, the common case, in one pass that computes each return as
/// soon as its day closes (no array of the days' last values).
fn calendar_days(t: &[i64], equity: &[f64]) -> Calendar {
    let n = t.len();
    // Every return is written at its index in a buffer long enough for all (a bound, not a
    // count: days without bars have no return), and a NaN is overwritten by the next one:
    // no capacity check or branch per day.
    let mut returns = vec![0.0; n.min(days_spanned(t)).saturating_sub(1)];
    let mut k = 0;
    let mut days = DayCursor::new(t[0]);
    let mut weekend_bars = usize::from(days.is_weekend());
    // The last equity of the day before the current one, and of the current day so far.
    let mut closed = f64::NAN;
    let mut last = equity[0];
    let mut first_day = true;
    // Writes one day's return at `k`; a NaN (0/0 after a ruin) is dropped.
    let mut close_day = |k: &mut usize, r: f64| {
        if let Some(slot) = returns.get_mut(*k) {
            *slot = r;
        }
        *k += usize::from(!r.is_nan());
    };
    for (&ts, &e) in t[1..].iter().zip(&equity[1..]) {
        if days.advance(ts) {
            if !first_day {
                close_day(&mut k, last / closed - 1.0);
            }
            first_day = false;
            closed = last;
        }
        weekend_bars += usize::from(days.is_weekend());
        last = e;
    }
    if !first_day {
        close_day(&mut k, last / closed - 1.0);
    }
    returns.truncate(k);
    Calendar {
        weekend_bars,
        returns,
    }
}

// === impl DaySums ===

/// Sums of the daily returns of [`EquityPass`](super::EquityPass) while every bar is a day
/// of its own.
pub(super) struct DaySums {
    pub(super) weekend_bars: usize,
    /// Each leaf's sum of the returns, of their squared losses and of the logarithms of
    /// `1 + r` (the geometric mean's).
    pub(super) leaf_sums: Vec<[f64; 3]>,
    /// The sample variance, once [`EquityPass::second_pass`](super::EquityPass::second_pass)
    /// read the curve again.
    pub(super) variance: Option<f64>,
    /// Every return so far, in order: the second pass reads them instead of dividing the
    /// curve's values again (the same values, so the same sums).
    pub(super) returns: Vec<f64>,
}

impl DaySums {
    /// Checks the leaf's returns (from the equity `e`) for nearness and adds their sums, with
    /// `log_sum`, the sum of the logarithms of the equity's ratios (of `1 + r`, which is the
    /// ratio: `r = b / a - 1` is exact for ratios in [0.5, 2]); false when a return is not
    /// near 0 after all.
    // Inline always: called leaf by leaf from the pass, in another module, and built into its
    // AVX2 build (`crate::wide`).
    #[inline(always)]
    pub(super) fn leaf(
        &mut self,
        e: &[f64],
        log_sum: f64,
        scratch: &mut [[f64; LEAF_MAX]; 2],
    ) -> bool {
        let len = e.len() - 1;
        let mut near = true;
        let [r, down] = scratch;
        for ((w, r), down) in e.windows(2).zip(&mut r[..len]).zip(&mut down[..len]) {
            let (a, b) = (w[0], w[1]);
            // `0.6 a <= b <= 1.9 a` for a finite positive `a` puts `b / a - 1` in
            // [-0.4, 0.9], whatever the products' roundings: no NaN, no wild return.
            near &= a > 0.0 && a <= f64::MAX && b >= 0.6 * a && b <= 1.9 * a;
            *r = b / a - 1.0;
            *down = r.min(0.0).powi(2);
        }
        if !near {
            return false;
        }
        self.leaf_sums
            .push([leaf_sum(&r[..len]), leaf_sum(&down[..len]), log_sum]);
        self.returns.extend_from_slice(&r[..len]);
        true
    }
}
