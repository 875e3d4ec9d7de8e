//! Performance statistics of a run, as backtesting.py 0.6.6 computes them.
//!
//! [`Stats::compute`] takes the bars, the equity curve, the closed trades and the strategy's
//! warm-up bar and returns every figure of the reference's summary. Sums and means of returns
//! use numpy's pairwise summation and variances pandas' two-pass formula; the geometric mean
//! of daily returns comes from the ratio of the first and last equity whenever every return
//! chains (the same as the sum of logarithms far below what `exp` of their mean resolves).
//! So on the reference's own data every figure but beta (and alpha, which uses it) agrees
//! with backtesting.py's to the last bits. Beta takes its logarithms from a series on the
//! exact ratios (the reference rounds each ratio first, and numpy's covariance goes through
//! BLAS): it agrees within `1e-13` relative (`7.6e-14` on the reference's hourly EURUSD,
//! whose tiny moves magnify the ratios' rounding). The whole pass costs about ten
//! milliseconds for a million bars, with a logarithm for neither every bar nor every day.
//!
//! Calendar-based figures (annualisation, daily returns) use UTC calendar days of the bar
//! times; durations are rounded up to the resolution of the data's period (whole days for
//! daily data, hours for hourly data).

use serde::Serialize;

use super::result::Trade;
use super::time::{civil_from_days, day_of, weekday, MICROS_PER_DAY, MICROS_PER_SEC};
use super::{Bars, Timestamp};

// === impl Stats ===

/// Every statistic of a run. Undefined values (a ratio over zero, a mean of nothing) are
/// `None` and serialize as JSON `null`.
///
/// Percentages are in percent (`12.5` is 12.5%), durations in seconds. Trade figures cover
/// closed trades only; trades still open at the end count in the equity figures alone.
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Stats};
///
/// let bars = Bars::synthetic(2_500, 11);
/// let signals = sma_cross(&bars, &Params::new().with("fast", 10).with("slow", 20))?;
/// let run = simulate(&bars, &signals, &BacktestSettings::new(10_000.0).with_commission(0.002))?;
/// let stats = Stats::compute(&bars, &run.equity, &run.trades, signals.warmup())?;
/// assert_eq!(stats.trades, run.trades.len());
/// assert_eq!(stats.equity_final, *run.equity.last().unwrap());
/// assert!(stats.max_drawdown_pct <= 0.0);
/// let json = serde_json::to_value(&stats)?;
/// assert!(json["sharpe"].is_number());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Time of the first bar.
    pub start: Timestamp,
    /// Time of the last bar.
    pub end: Timestamp,
    /// `end - start`, in seconds.
    pub duration_secs: f64,
    /// Percent of bars covered by a closed trade (entry bar to exit bar, inclusive).
    pub exposure_pct: f64,
    /// Equity at the last bar.
    pub equity_final: f64,
    /// Highest equity.
    pub equity_peak: f64,
    /// Commissions paid by closed trades.
    pub commissions: f64,
    /// Total return, percent.
    pub return_pct: f64,
    /// Return of holding the asset from the warm-up bar's close to the last close, percent.
    pub buy_hold_return_pct: f64,
    /// Annualised return from the geometric mean daily return, percent.
    pub return_ann_pct: Option<f64>,
    /// Annualised volatility of daily returns (compounded), percent.
    pub volatility_ann_pct: Option<f64>,
    /// Compound annual growth rate over the calendar duration, percent.
    pub cagr_pct: Option<f64>,
    /// `return_ann_pct / volatility_ann_pct` (risk-free rate 0).
    pub sharpe: Option<f64>,
    /// Annualised return over annualised downside deviation.
    pub sortino: Option<f64>,
    /// Annualised return over the maximum drawdown.
    pub calmar: Option<f64>,
    /// Jensen's alpha against buy-and-hold, percent.
    pub alpha_pct: Option<f64>,
    /// Beta of equity log returns against the asset's log returns.
    pub beta: Option<f64>,
    /// Maximum drawdown, percent, zero or negative.
    pub max_drawdown_pct: f64,
    /// Mean of the drawdown periods' deepest points, percent, negative.
    pub avg_drawdown_pct: Option<f64>,
    /// Longest drawdown period, seconds.
    pub max_drawdown_duration_secs: Option<f64>,
    /// Mean drawdown period, seconds.
    pub avg_drawdown_duration_secs: Option<f64>,
    /// Number of closed trades.
    pub trades: usize,
    /// Percent of closed trades with a positive profit.
    pub win_rate_pct: Option<f64>,
    /// Best trade return, percent.
    pub best_trade_pct: Option<f64>,
    /// Worst trade return, percent.
    pub worst_trade_pct: Option<f64>,
    /// Geometric mean trade return, percent.
    pub avg_trade_pct: Option<f64>,
    /// Longest trade, seconds.
    pub max_trade_duration_secs: Option<f64>,
    /// Mean trade duration, seconds.
    pub avg_trade_duration_secs: Option<f64>,
    /// Sum of positive trade returns over the absolute sum of negative ones.
    pub profit_factor: Option<f64>,
    /// Arithmetic mean trade return, percent.
    pub expectancy_pct: Option<f64>,
    /// Van Tharp's system quality number: `sqrt(trades) * mean(pnl) / std(pnl)`.
    pub sqn: Option<f64>,
    /// Kelly criterion from the win rate and the mean win over the mean loss.
    pub kelly: Option<f64>,
}

// === impl StatsError ===

/// Inputs that do not describe one run.
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{Bars, Stats};
/// let err = Stats::compute(&Bars::synthetic(5, 1), &[1.0; 4], &[], 0).unwrap_err();
/// assert_eq!(err.to_string(), "equity has 4 values for 5 bars");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The equity curve does not have one value per bar.
    #[error("equity has {equity} values for {bars} bars")]
    LengthMismatch {
        /// The number of bars.
        bars: usize,
        /// The number of equity values.
        equity: usize,
    },
    /// The warm-up bar is past the last bar.
    #[error("warm-up bar {warmup} is past the last bar {last}")]
    WarmupOutOfRange {
        /// The warm-up bar.
        warmup: usize,
        /// The last bar's index.
        last: usize,
    },
}

/// The JSON keys of [`Stats`], in the order of the reference's summary (and of the
/// serialized object).
///
/// # Examples
///
/// ```
/// use tracectx::backtest::STAT_KEYS;
/// assert_eq!(STAT_KEYS.len(), 32);
/// assert!(STAT_KEYS.contains(&"sharpe"));
/// ```
pub const STAT_KEYS: &[&str] = &[
    "start",
    "end",
    "duration_secs",
    "exposure_pct",
    "equity_final",
    "equity_peak",
    "commissions",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "alpha_pct",
    "beta",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration_secs",
    "avg_drawdown_duration_secs",
    "trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_trade_duration_secs",
    "avg_trade_duration_secs",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "kelly",
];

impl Stats {
    /// The statistic under its JSON key ([`STAT_KEYS`]) as a number: `None` when it is
    /// undefined or the key is not one of them. `start` and `end` are seconds since the
    /// Unix epoch, `trades` a count.
    ///
    /// Sweeps rank their sessions by it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(2_000, 1), &sma_cross, &params)?;
    /// assert_eq!(result.stats.get("sharpe"), result.stats.sharpe);
    /// assert_eq!(result.stats.get("trades"), Some(result.stats.trades as f64));
    /// assert_eq!(result.stats.get("no_such_key"), None);
    /// # Ok::<(), tracectx::backtest::BacktestError>(())
    /// ```
    pub fn get(&self, key: &str) -> Option<f64> {
        let value = match key {
            "start" => Some(secs(self.start.as_micros())),
            "end" => Some(secs(self.end.as_micros())),
            "duration_secs" => Some(self.duration_secs),
            "exposure_pct" => Some(self.exposure_pct),
            "equity_final" => Some(self.equity_final),
            "equity_peak" => Some(self.equity_peak),
            "commissions" => Some(self.commissions),
            "return_pct" => Some(self.return_pct),
            "buy_hold_return_pct" => Some(self.buy_hold_return_pct),
            "return_ann_pct" => self.return_ann_pct,
            "volatility_ann_pct" => self.volatility_ann_pct,
            "cagr_pct" => self.cagr_pct,
            "sharpe" => self.sharpe,
            "sortino" => self.sortino,
            "calmar" => self.calmar,
            "alpha_pct" => self.alpha_pct,
            "beta" => self.beta,
            "max_drawdown_pct" => Some(self.max_drawdown_pct),
            "avg_drawdown_pct" => self.avg_drawdown_pct,
            "max_drawdown_duration_secs" => self.max_drawdown_duration_secs,
            "avg_drawdown_duration_secs" => self.avg_drawdown_duration_secs,
            "trades" => Some(self.trades as f64),
            "win_rate_pct" => self.win_rate_pct,
            "best_trade_pct" => self.best_trade_pct,
            "worst_trade_pct" => self.worst_trade_pct,
            "avg_trade_pct" => self.avg_trade_pct,
            "max_trade_duration_secs" => self.max_trade_duration_secs,
            "avg_trade_duration_secs" => self.avg_trade_duration_secs,
            "profit_factor" => self.profit_factor,
            "expectancy_pct" => self.expectancy_pct,
            "sqn" => self.sqn,
            "kelly" => self.kelly,
            _ => None,
        };
        value.filter(|v| !v.is_nan())
    }
}

fn defined(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn secs(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_SEC as f64
}

impl Stats {
    /// Computes every statistic of a run from its bars, equity curve (one value per bar),
    /// closed trades and the strategy's warm-up bar ([`Signals::warmup`]).
    ///
    /// [`Signals::warmup`]: crate::backtest::Signals::warmup
    ///
    /// # Errors
    ///
    /// [`StatsError`] when the equity does not have one value per bar or the warm-up bar is
    /// past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{Bars, Stats};
    ///
    /// let bars = Bars::synthetic(10, 1);
    /// let equity = [100.0, 100.0, 110.0, 99.0, 99.0, 121.0, 121.0, 110.0, 121.0, 132.0];
    /// let stats = Stats::compute(&bars, &equity, &[], 0)?;
    /// assert_eq!(stats.return_pct, 32.0);
    /// assert_eq!(stats.max_drawdown_pct, -9.999999999999998); // -(1 - 99/110) * 100
    /// assert_eq!(stats.trades, 0);
    /// assert_eq!(stats.win_rate_pct, None);
    /// # Ok::<(), tracectx::backtest::StatsError>(())
    /// ```
    pub fn compute(
        bars: &Bars,
        equity: &[f64],
        trades: &[Trade],
        warmup: usize,
    ) -> Result<Stats, StatsError> {
        let n = bars.len();
        if equity.len() != n {
            return Err(StatsError::LengthMismatch {
                bars: n,
                equity: equity.len(),
            });
        }
        if warmup >= n {
            return Err(StatsError::WarmupOutOfRange {
                warmup,
                last: n - 1,
            });
        }
        let t = bars.timestamps();
        let close = bars.close();
        let period = data_period(t);
        let round = |d: i64| ceil_to(d, period.map_or(1, resolution));

        // Drawdowns.
        let (dd, equity_peak) = Drawdowns::new(equity, t);
        let mdd = dd.max;
        let (max_dd_dur, avg_dd_dur, avg_dd) = if dd.durations.is_empty() {
            // The reference falls back to the non-zero drawdowns themselves here.
            (
                None,
                None,
                defined(-(dd.nonzero_sum / dd.nonzero as f64) * 100.0),
            )
        } else {
            (
                dd.durations.iter().max().map(|&d| secs(round(d))),
                Some(secs(round(mean_duration(dd.durations.iter().copied())))),
                defined(-mean(&dd.peaks) * 100.0),
            )
        };

        // Exposure: bars covered by the union of the trades' [entry, exit] ranges.
        // A run's trades come in order already: no copy to sort then.
        let span = |t: &Trade| (t.entry_bar, t.exit_bar);
        let sorted_spans = if trades.windows(2).all(|w| span(&w[0]) <= span(&w[1])) {
            None
        } else {
            let mut spans: Vec<(usize, usize)> = trades.iter().map(span).collect();
            spans.sort_unstable();
            Some(spans)
        };
        let spans: &mut dyn Iterator<Item = (usize, usize)> = match &sorted_spans {
            Some(spans) => &mut spans.iter().copied(),
            None => &mut trades.iter().map(span),
        };
        let mut covered = 0usize;
        let mut next_free = 0usize;
        for (a, b) in spans {
            let b = b.min(n - 1);
            let a = a.max(next_free);
            if a <= b {
                covered += b - a + 1;
                next_free = b + 1;
            }
        }
        let exposure_pct = covered as f64 / n as f64 * 100.0;

        let e0 = equity[0];
        let e_last = equity[n - 1];
        let commissions = trades.iter().fold(0.0, |acc, t| acc + t.commission);
        let return_pct = (e_last - e0) / e0 * 100.0;
        let buy_hold_return_pct = (close[n - 1] - close[warmup]) / close[warmup] * 100.0;

        // Annualisation and calendar returns.
        let freq_days = period.map(|p| p.div_euclid(MICROS_PER_DAY));
        let DayFigures {
            weekend_bars,
            g,
            variance: var_d,
            downside,
        } = DayFigures::new(t, equity, freq_days.unwrap_or(1));
        let have_weekends = weekend_bars as f64 / n as f64 > 2.0 / 7.0 * 0.6;
        let annual: f64 = match freq_days {
            Some(7) => 52.0,
            Some(31) => 12.0,
            Some(365) => 1.0,
            _ if have_weekends => 365.0,
            _ => 252.0,
        };
        let annualized = (1.0 + g).powf(annual) - 1.0;
        let volatility =
            ((var_d + (1.0 + g).powf(2.0)).powf(annual) - (1.0 + g).powf(2.0 * annual)).sqrt();
        let return_ann_pct = annualized * 100.0;
        let volatility_ann_pct = volatility * 100.0;
        let duration = t[n - 1] - t[0];
        let years = (duration.div_euclid(MICROS_PER_DAY) as f64
            + (duration.rem_euclid(MICROS_PER_DAY) / MICROS_PER_SEC) as f64 / 86_400.0)
            / 365.25;
        let cagr = if years != 0.0 {
            ((e_last / e0).powf(1.0 / years) - 1.0) * 100.0
        } else {
            f64::NAN
        };
        let sharpe = if volatility_ann_pct != 0.0 {
            return_ann_pct / volatility_ann_pct
        } else {
            f64::NAN
        };
        let sortino = annualized / (downside.sqrt() * annual.sqrt());
        let calmar = if mdd != 0.0 {
            annualized / mdd
        } else {
            f64::NAN
        };
        let beta = beta(equity, close);
        let alpha = return_pct - beta * buy_hold_return_pct;

        // Trades.
        let m = trades.len();
        let pnl: Vec<f64> = trades.iter().map(|t| t.pnl).collect();
        let returns: Vec<f64> = trades.iter().map(|t| t.return_frac).collect();
        let wins = pnl.iter().filter(|&&p| p > 0.0).count();
        let win_rate = if m == 0 {
            f64::NAN
        } else {
            wins as f64 / m as f64
        };
        // The sums of selections of the values, in one list reused for each.
        let mut picked = Vec::with_capacity(m);
        let mut sum_of = |values: &[f64], keep: fn(f64) -> bool| {
            picked.clear();
            picked.extend(values.iter().copied().filter(|&v| keep(v)));
            (pairwise_sum(&picked), picked.len())
        };
        let (gains, _) = sum_of(&returns, |r| r > 0.0);
        let (losses, _) = sum_of(&returns, |r| r < 0.0);
        let (won, winners) = sum_of(&pnl, |p| p > 0.0);
        let (lost, losers) = sum_of(&pnl, |p| p < 0.0);
        let loss_sum = losses.abs();
        let profit_factor = if loss_sum != 0.0 {
            gains / loss_sum
        } else {
            f64::NAN
        };
        let pnl_std = variance(&pnl).sqrt();
        let sqn = if pnl_std != 0.0 {
            (m as f64).sqrt() * mean(&pnl) / pnl_std
        } else {
            f64::NAN
        };
        let kelly =
            win_rate - (1.0 - win_rate) / ((won / winners as f64) / -(lost / losers as f64));
        let extreme =
            |pick: fn(f64, f64) -> f64| returns.iter().copied().reduce(pick).map(|r| r * 100.0);

        Ok(Stats {
            start: Timestamp::from_micros(t[0]),
            end: Timestamp::from_micros(t[n - 1]),
            duration_secs: secs(duration),
            exposure_pct,
            equity_final: e_last,
            equity_peak,
            commissions,
            return_pct,
            buy_hold_return_pct,
            return_ann_pct: defined(return_ann_pct),
            volatility_ann_pct: defined(volatility_ann_pct),
            cagr_pct: defined(cagr),
            sharpe: defined(sharpe),
            sortino: defined(sortino),
            calmar: defined(calmar),
            alpha_pct: defined(alpha),
            beta: defined(beta),
            max_drawdown_pct: -mdd * 100.0,
            avg_drawdown_pct: avg_dd,
            max_drawdown_duration_secs: max_dd_dur,
            avg_drawdown_duration_secs: avg_dd_dur,
            trades: m,
            win_rate_pct: defined(win_rate * 100.0),
            best_trade_pct: extreme(f64::max),
            worst_trade_pct: extreme(f64::min),
            avg_trade_pct: defined(geometric_mean(&returns) * 100.0),
            max_trade_duration_secs: trades
                .iter()
                .map(Trade::duration_micros)
                .max()
                .map(|d| secs(round(d))),
            avg_trade_duration_secs: (m > 0).then(|| {
                secs(round(mean_duration(
                    trades.iter().map(Trade::duration_micros),
                )))
            }),
            profit_factor: defined(profit_factor),
            expectancy_pct: defined(mean(&returns) * 100.0),
            sqn: defined(sqn),
            kelly: defined(kelly),
        })
    }
}

// === helpers ===

/// numpy's pairwise summation (`np.sum` of a contiguous float64 array), so that sums match
/// the reference to the bit.
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    pairwise_by(0, a.len(), &|i| a[i])
}

/// [`pairwise_sum`] of `f(start), ..., f(start + n - 1)` without storing the values.
fn pairwise_by(start: usize, n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    if n < 8 {
        (start..start + n).fold(0.0, |acc, i| acc + f(i))
    } else if n <= 128 {
        let mut r: [f64; 8] = std::array::from_fn(|j| f(start + j));
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += f(start + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for i in full..n {
            res += f(start + i);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_by(start, n2, f) + pairwise_by(start + n2, n - n2, f)
    }
}

/// Two [`pairwise_by`] sums in one pass: `f` gives both values of an index, and each sum
/// is the same, to the bit, as [`pairwise_by`] of its values.
fn pairwise_pair(start: usize, n: usize, f: &impl Fn(usize) -> (f64, f64)) -> (f64, f64) {
    if n < 8 {
        (start..start + n).fold((0.0, 0.0), |(a, b), i| {
            let (x, y) = f(i);
            (a + x, b + y)
        })
    } else if n <= 128 {
        let (mut ra, mut rb) = ([0.0_f64; 8], [0.0_f64; 8]);
        for (j, (a, b)) in ra.iter_mut().zip(rb.iter_mut()).enumerate() {
            (*a, *b) = f(start + j);
        }
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, (a, b)) in ra.iter_mut().zip(rb.iter_mut()).enumerate() {
                let (x, y) = f(start + i + j);
                *a += x;
                *b += y;
            }
            i += 8;
        }
        let fold = |r: &[f64; 8]| ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        let (mut a, mut b) = (fold(&ra), fold(&rb));
        for i in full..n {
            let (x, y) = f(start + i);
            a += x;
            b += y;
        }
        (a, b)
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let (a1, b1) = pairwise_pair(start, n2, f);
        let (a2, b2) = pairwise_pair(start + n2, n - n2, f);
        (a1 + a2, b1 + b2)
    }
}

/// Mean as numpy and pandas compute it; NaN for no values.
fn mean(a: &[f64]) -> f64 {
    pairwise_sum(a) / a.len() as f64
}

/// Sample variance (ddof 1), two-pass as pandas computes it; NaN below two values.
fn variance(a: &[f64]) -> f64 {
    if a.len() < 2 {
        return f64::NAN;
    }
    let avg = mean(a);
    pairwise_by(0, a.len(), &|i| (avg - a[i]) * (avg - a[i])) / (a.len() - 1) as f64
}

/// Geometric mean return: 0 if any `1 + r <= 0`, NaN for no values.
fn geometric_mean(returns: &[f64]) -> f64 {
    if returns.iter().any(|&r| r + 1.0 <= 0.0) {
        return 0.0;
    }
    // ln(1) is exactly 0: flat periods (no position, no change) cost no logarithm.
    let logs = pairwise_by(0, returns.len(), &|i| {
        let g = returns[i] + 1.0;
        if g == 1.0 {
            0.0
        } else {
            g.ln()
        }
    });
    (logs / returns.len() as f64).exp() - 1.0
}

/// [`geometric_mean`] of the returns between consecutive values `D_0, ..., D_k` whose
/// first and last are `ends`, without a logarithm per return when every return is in
/// `[-0.5, 1]`: then `r_j = D_j / D_{j-1} - 1` is exact (Sterbenz), `1 + r_j` is exactly the
/// rounded ratio `D_j / D_{j-1}`, and the sum of their logarithms is `ln(D_k / D_0)` up to
/// the ratios' own roundings (half an ulp each, so about `1e-16 * sqrt(k)` absolute: far
/// inside the `1e-12` relative the semantics allow sums).
fn geometric_mean_chained(returns: &[f64], ends: Option<(f64, f64)>) -> f64 {
    match ends {
        Some((first, last))
            if !returns.is_empty() && returns.iter().all(|r| (-0.5..=1.0).contains(r)) =>
        {
            ((last / first).ln() / returns.len() as f64).exp() - 1.0
        }
        _ => geometric_mean(returns),
    }
}

/// Beta of equity log returns on the asset's close log returns: their sample covariance
/// over the asset's sample variance; NaN below three bars.
///
/// One pass without temporary arrays beyond two blocks on the stack: sums of the values
/// shifted by the first ones (so no cancellation when the mean is large next to the spread),
/// accumulated in blocks of 256 and then added up. The logarithms of a block come from
/// [`log_ratios`]. That agrees with `np.cov` far inside `1e-12` relative; `np.cov`'s products
/// go through BLAS and cannot be matched bit for bit anyway.
fn beta(equity: &[f64], close: &[f64]) -> f64 {
    const BLOCK: usize = 256;
    if equity.len() < 3 || close.len() != equity.len() {
        return f64::NAN;
    }
    let mut logs = [[0.0_f64; BLOCK]; 2];
    let (mut kx, mut ky) = (0.0, 0.0);
    let mut total = [0.0_f64; 4];
    let m = equity.len() - 1;
    let mut start = 0;
    while start < m {
        let len = (m - start).min(BLOCK);
        let [lx, ly] = &mut logs;
        log_ratios(&equity[start..=start + len], &mut lx[..len]);
        log_ratios(&close[start..=start + len], &mut ly[..len]);
        if start == 0 {
            (kx, ky) = (lx[0], ly[0]);
        }
        let mut sums = [0.0_f64; 4];
        for (&x, &y) in lx[..len].iter().zip(&ly[..len]) {
            let dx = x - kx;
            let dy = y - ky;
            sums[0] += dx;
            sums[1] += dy;
            sums[2] += dx * dy;
            sums[3] += dy * dy;
        }
        for (t, b) in total.iter_mut().zip(sums) {
            *t += b;
        }
        start += len;
    }
    let [sx, sy, sxy, syy] = total;
    let m = m as f64;
    (sxy - sx * sy / m) / (syy - sy * sy / m)
}

/// The largest `|u|` of [`log_ratios`]' series: ratios from `0.905` to `1.105`, where the
/// first term left out, `u^12 / 13`, is below `2^-55`.
const LN_SERIES_MAX_U: f64 = 0.05;

/// `out[i] = ln(v[i + 1] / v[i])` for the `out.len() + 1` values `v`, within about 2 ulp of
/// the exact logarithm of the exact ratio (`np.log` of the rounded ratio, the reference,
/// differs from that by up to half an ulp of the ratio, `1.1e-16` absolute). Ratios near 1
/// (within about 10%: daily moves of prices and equity) take the series
/// `ln(b / a) = 2 atanh(u) = 2u (1 + u^2/3 + u^4/5 + ...)` with `u = (b - a) / (b + a)`
/// (`b - a` exact), one division and a few products in a loop the compiler vectorizes; the
/// others, and NaN, zeros and infinities, `f64::ln` of the ratio. Equal values give exactly 0.
fn log_ratios(v: &[f64], out: &mut [f64]) {
    let mut far = false;
    for (o, w) in out.iter_mut().zip(v.windows(2)) {
        let (a, b) = (w[0], w[1]);
        let sum = b + a;
        let u = (b - a) / sum;
        far |= !(u.abs() <= LN_SERIES_MAX_U && sum.abs() <= f64::MAX);
        let s = u * u;
        let p = 1.0
            + s * (1.0 / 3.0
                + s * (1.0 / 5.0 + s * (1.0 / 7.0 + s * (1.0 / 9.0 + s * (1.0 / 11.0)))));
        *o = (2.0 * u) * p;
    }
    if far {
        for (o, w) in out.iter_mut().zip(v.windows(2)) {
            let (a, b) = (w[0], w[1]);
            let sum = b + a;
            let u = (b - a) / sum;
            if !(u.abs() <= LN_SERIES_MAX_U && sum.abs() <= f64::MAX) {
                *o = (b / a).ln();
            }
        }
    }
}

/// The data's period: the median of the differences of the last 100 times, in
/// microseconds (an even count takes the truncated mean of the middle two).
fn data_period(t: &[i64]) -> Option<i64> {
    let tail = &t[t.len().saturating_sub(100)..];
    let mut diffs: Vec<i64> = tail.windows(2).map(|w| w[1] - w[0]).collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let k = diffs.len();
    Some(if k % 2 == 1 {
        diffs[k / 2]
    } else {
        ((i128::from(diffs[k / 2 - 1]) + i128::from(diffs[k / 2])) / 2) as i64
    })
}

/// The finest non-zero unit of a duration (as pandas' `Timedelta.resolution_string`), in
/// microseconds: a day, an hour, a minute, a second, a millisecond or a microsecond.
fn resolution(period: i64) -> i64 {
    const UNITS: [(i64, i64); 5] = [
        (1, 1_000),
        (1_000, 1_000),
        (MICROS_PER_SEC, 60),
        (60 * MICROS_PER_SEC, 60),
        (3_600 * MICROS_PER_SEC, 24),
    ];
    for (unit, per_next) in UNITS {
        if (period / unit) % per_next != 0 {
            return unit;
        }
    }
    MICROS_PER_DAY
}

/// `d` rounded up to a multiple of `unit` (saturating; durations of bars are far inside).
fn ceil_to(d: i64, unit: i64) -> i64 {
    let r = d.rem_euclid(unit);
    if r == 0 {
        d
    } else {
        (d - r).saturating_add(unit)
    }
}

/// Mean of durations, truncated to the microsecond.
fn mean_duration(d: impl ExactSizeIterator<Item = i64>) -> i64 {
    let len = d.len();
    let sum: i128 = d.map(i128::from).sum();
    (sum / len.max(1) as i128) as i64
}

/// Drawdowns `dd_i = 1 - E_i / max_{j<=i} E_j` in one pass, and their periods: between
/// consecutive bars where the drawdown is exactly zero (and the last bar) with at least one
/// bar in between.
struct Drawdowns {
    /// The largest drawdown (0 when there is none).
    max: f64,
    /// Each period's duration, in microseconds.
    durations: Vec<i64>,
    /// Each period's deepest drawdown.
    peaks: Vec<f64>,
    /// Sum and count of the non-zero drawdowns, for the case of no period.
    nonzero_sum: f64,
    nonzero: usize,
}

impl Drawdowns {
    /// The drawdowns of `equity` and its highest value (NaN when every value is NaN).
    fn new(equity: &[f64], t: &[i64]) -> (Self, f64) {
        if let Some(fast) = Self::positive(equity, t) {
            return fast;
        }
        let dd = Self::general(equity, t);
        (dd, equity.iter().copied().fold(f64::NAN, f64::max))
    }

    /// [`Drawdowns::new`] for finite positive equity (every run that is not ruined), with
    /// one division per drawdown period instead of one per bar: between two bars of zero
    /// drawdown the running high `H` stays put, so the period's deepest drawdown is
    /// `1 - min(E) / H`, and division rounds monotonically, so that is the same value (to the
    /// bit) as the largest `1 - E_i / H`. `None` at the first value that is not finite and
    /// positive.
    ///
    /// For such values `E_i < H` gives `E_i / H <= 1 - 2^-53`, so `dd_i > 0`, and `E_i >= H`
    /// gives `dd_i = 0` exactly: a bar is a zero of the drawdown exactly when it is a new
    /// (or equal) high.
    fn positive(equity: &[f64], t: &[i64]) -> Option<(Self, f64)> {
        let n = equity.len();
        let mut out = Drawdowns {
            max: 0.0,
            durations: Vec::new(),
            peaks: Vec::new(),
            nonzero_sum: 0.0,
            nonzero: 0,
        };
        let mut high = *equity.first()?;
        if !(high > 0.0 && high <= f64::MAX) {
            return None;
        }
        let mut last_zero = 0usize;
        let mut low = high; // the lowest equity since the last zero
        let mut q = 1;
        while q < n {
            // Runs of 8 bars below the high, the common case, without a branch per bar.
            while let Some(run) = equity.get(q..q + 8) {
                let mut below = true;
                let mut least = [low; 2];
                for pair in run.chunks_exact(2) {
                    for (l, &e) in least.iter_mut().zip(pair) {
                        below &= e > 0.0 && e < high;
                        *l = if e < *l { e } else { *l };
                    }
                }
                if !below {
                    break;
                }
                low = if least[1] < least[0] {
                    least[1]
                } else {
                    least[0]
                };
                q += 8;
            }
            let Some(&e) = equity.get(q) else {
                break;
            };
            if !(e > 0.0 && e <= f64::MAX) {
                return None;
            }
            if e >= high {
                if q > last_zero + 1 {
                    let peak = 1.0 - low / high;
                    out.durations.push(t[q] - t[last_zero]);
                    out.peaks.push(peak);
                    if peak > out.max {
                        out.max = peak;
                    }
                }
                high = e;
                low = e;
                last_zero = q;
            } else if e < low {
                low = e;
            }
            q += 1;
        }
        if last_zero < n - 1 {
            // The last bar closes the bars since the last zero.
            let peak = 1.0 - low / high;
            if peak > out.max {
                out.max = peak;
            }
            if n - 1 > last_zero + 1 {
                out.durations.push(t[n - 1] - t[last_zero]);
                out.peaks.push(peak);
            }
        }
        if out.durations.is_empty() {
            let general = Self::general(equity, t);
            out.nonzero_sum = general.nonzero_sum;
            out.nonzero = general.nonzero;
        }
        Some((out, high))
    }

    /// [`Drawdowns::new`] for any values, one division per bar.
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

/// The figures of the calendar periods' returns (see [`calendar`]).
struct DayFigures {
    /// The number of bars on a Saturday or Sunday.
    weekend_bars: usize,
    /// Geometric mean return.
    g: f64,
    /// Sample variance (ddof 1).
    variance: f64,
    /// Mean of `min(r, 0)^2`.
    downside: f64,
}

impl DayFigures {
    fn new(t: &[i64], equity: &[f64], freq_days: i64) -> Self {
        if let Some(figures) = Self::per_bar(t, equity, freq_days) {
            return figures;
        }
        let Calendar {
            weekend_bars,
            returns,
            ends,
        } = calendar(t, equity, freq_days);
        let n = returns.len();
        DayFigures {
            weekend_bars,
            g: geometric_mean_chained(&returns, ends),
            variance: variance(&returns),
            downside: pairwise_by(0, n, &|i| returns[i].min(0.0).powi(2)) / n as f64,
        }
    }

    /// The figures when every bar is on its own calendar day (daily bars): then the daily
    /// returns are the bars' returns `E[i+1] / E[i] - 1`, summed straight off the equity (the
    /// same values in the same order as from a list, so the same sums to the bit) instead of
    /// being stored (8 MB for a million bars). `None` for other bars, for other periods, or
    /// when a return is outside `[-0.5, 1]` (or NaN): the general pass handles those.
    fn per_bar(t: &[i64], equity: &[f64], freq_days: i64) -> Option<Self> {
        if matches!(freq_days, 7 | 31 | 365) || equity.len() < 2 || t.len() != equity.len() {
            return None;
        }
        // One bar per day, or give up at the first two bars on the same day.
        let mut days = DayCursor::new(t[0]);
        let mut weekend_bars = usize::from(days.is_weekend());
        for &ts in &t[1..] {
            if !days.advance(ts) {
                return None;
            }
            weekend_bars += usize::from(days.is_weekend());
        }
        // Every return well inside [-0.5, 1] (so no NaN either), without a division:
        // `0.6 a <= b <= 1.9 a` for a finite positive `a` puts `b / a - 1` in [-0.4, 0.9],
        // whatever the products' roundings.
        let near = equity.windows(2).fold(true, |near, w| {
            let (a, b) = (w[0], w[1]);
            near & (a > 0.0 && a <= f64::MAX && b >= 0.6 * a && b <= 1.9 * a)
        });
        if !near {
            return None;
        }
        let r = |i: usize| equity[i + 1] / equity[i] - 1.0;
        let m = equity.len() - 1;
        let (sum, losses) = pairwise_pair(0, m, &|i| {
            let r = r(i);
            (r, r.min(0.0).powi(2))
        });
        let avg = sum / m as f64;
        let variance = if m < 2 {
            f64::NAN
        } else {
            pairwise_by(0, m, &|i| (avg - r(i)) * (avg - r(i))) / (m - 1) as f64
        };
        Some(DayFigures {
            weekend_bars,
            // As `geometric_mean_chained` with the ends of the chain.
            g: ((equity[m] / equity[0]).ln() / m as f64).exp() - 1.0,
            variance,
            downside: losses / m as f64,
        })
    }
}

/// The calendar day (UTC) of increasing times, and its weekday: moving to the next day
/// takes no division, which is the common step of daily and intraday bars.
struct DayCursor {
    day: i64,
    weekday: i64,
    /// The first microsecond of the next day.
    end: i64,
}

impl DayCursor {
    fn new(ts: i64) -> Self {
        let day = day_of(ts);
        Self {
            day,
            weekday: weekday(day),
            end: (day + 1).checked_mul(MICROS_PER_DAY).unwrap_or(i64::MAX),
        }
    }

    /// Moves to the day of `ts`, which is not before the current day; whether it is a new
    /// one.
    #[inline]
    fn advance(&mut self, ts: i64) -> bool {
        if ts < self.end {
            return false;
        }
        if ts - self.end < MICROS_PER_DAY {
            self.day += 1;
            self.weekday = if self.weekday == 6 {
                0
            } else {
                self.weekday + 1
            };
        } else {
            self.day = day_of(ts);
            self.weekday = weekday(self.day);
        }
        self.end = (self.day + 1)
            .checked_mul(MICROS_PER_DAY)
            .unwrap_or(i64::MAX);
        true
    }

    fn is_weekend(&self) -> bool {
        self.weekday >= 5
    }
}

/// What [`calendar`] finds.
struct Calendar {
    /// The number of bars on a Saturday or Sunday.
    weekend_bars: usize,
    /// The returns between consecutive periods.
    returns: Vec<f64>,
    /// The last equity of the first and of the last period, when no return was dropped:
    /// then the product of every `1 + r` is their ratio (up to rounding).
    ends: Option<(f64, f64)>,
}

/// One pass over the bars' calendar days (UTC): the number of bars on a Saturday or Sunday,
/// and the returns between the last equity of consecutive calendar periods that have bars:
/// days, or weeks (Monday to Sunday), months or years when the data's period is 7, 31 or 365
/// days. Undefined ratios (0/0 after a ruin) are dropped, as pandas' `dropna` does.
///
/// Times increase, so the calendar is only consulted when a bar starts a new day.
fn calendar(t: &[i64], equity: &[f64], freq_days: i64) -> Calendar {
    if !matches!(freq_days, 7 | 31 | 365) {
        return calendar_days(t, equity);
    }
    let n = t.len();
    let days_spanned = (t[n - 1] - t[0]) / MICROS_PER_DAY + 1;
    let mut last_of_period: Vec<f64> = Vec::with_capacity(n.min(days_spanned as usize));
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
    let mut returns = Vec::with_capacity(last_of_period.len().saturating_sub(1));
    let mut chained = true;
    for w in last_of_period.windows(2) {
        let r = w[1] / w[0] - 1.0;
        if !r.is_nan() {
            returns.push(r);
        } else {
            chained = false;
        }
    }
    let ends = match (last_of_period.first(), last_of_period.last()) {
        (Some(&first), Some(&last)) if chained => Some((first, last)),
        _ => None,
    };
    Calendar {
        weekend_bars,
        returns,
        ends,
    }
}

/// [`calendar`] for daily bins, the common case, in one pass that computes each return as
/// soon as its day closes (no array of the days' last values).
fn calendar_days(t: &[i64], equity: &[f64]) -> Calendar {
    let n = t.len();
    let days_spanned = (t[n - 1] - t[0]) / MICROS_PER_DAY + 1;
    // Every return is written at its index in a buffer long enough for all (a bound, not a
    // count: days without bars have no return), and a NaN is overwritten by the next one:
    // no capacity check or branch per day.
    let mut returns = vec![0.0; n.min(days_spanned as usize).saturating_sub(1)];
    let mut k = 0;
    let mut days = DayCursor::new(t[0]);
    let mut weekend_bars = usize::from(days.is_weekend());
    // The last equity of the day before the current one, and of the current day so far.
    let mut closed = f64::NAN;
    let mut last = equity[0];
    let mut first_day = true;
    let mut first = f64::NAN;
    let mut chained = true;
    // Writes one day's return at `k`; a NaN (0/0 after a ruin) is dropped.
    let mut close_day = |k: &mut usize, r: f64| {
        if let Some(slot) = returns.get_mut(*k) {
            *slot = r;
        }
        *k += usize::from(!r.is_nan());
        chained &= !r.is_nan();
    };
    for (&ts, &e) in t[1..].iter().zip(&equity[1..]) {
        if days.advance(ts) {
            if first_day {
                first = last;
            } else {
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
        ends: chained.then_some((first, last)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_the_finest_unit() {
        assert_eq!(resolution(MICROS_PER_DAY), MICROS_PER_DAY);
        assert_eq!(resolution(3 * MICROS_PER_DAY), MICROS_PER_DAY);
        assert_eq!(resolution(3_600 * MICROS_PER_SEC), 3_600 * MICROS_PER_SEC);
        assert_eq!(
            resolution(MICROS_PER_DAY + 60 * MICROS_PER_SEC),
            60 * MICROS_PER_SEC
        );
        assert_eq!(resolution(1_500), 1_000 / 1_000);
        assert_eq!(resolution(2_000), 1_000);
        assert_eq!(
            ceil_to(MICROS_PER_DAY + 1, MICROS_PER_DAY),
            2 * MICROS_PER_DAY
        );
        assert_eq!(ceil_to(0, MICROS_PER_DAY), 0);
    }

    #[test]
    fn pairwise_matches_plain_sum_on_exact_values() {
        let a: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&a), 499_500.0);
        assert_eq!(pairwise_sum(&a[..13]), 78.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    /// A deterministic walk of `n` values around 100, moves of about `scale`.
    fn walk(n: usize, scale: f64) -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut v = 100.0;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                v *= 1.0 + u * scale;
                v
            })
            .collect()
    }

    #[test]
    fn chained_geometric_mean_matches_the_logarithm_per_return() {
        for (n, scale) in [(2, 0.01), (300, 0.02), (100_000, 0.002), (20_000, 0.5)] {
            let d = walk(n, scale);
            let returns: Vec<f64> = d.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
            let exact = geometric_mean(&returns);
            let chained = geometric_mean_chained(&returns, Some((d[0], d[n - 1])));
            let rel = ((chained - exact) / exact).abs();
            assert!(rel < 1e-12, "n {n}: {chained} vs {exact} ({rel:e})");
        }
        // A return outside [-0.5, 1], or a dropped one, takes the logarithm per return.
        let returns = [0.01, -0.6, 0.02];
        assert_eq!(
            geometric_mean_chained(&returns, Some((1.0, 1.0))),
            geometric_mean(&returns)
        );
        assert_eq!(
            geometric_mean_chained(&returns, None),
            geometric_mean(&returns)
        );
        assert!(geometric_mean_chained(&[], Some((1.0, 1.0))).is_nan());
    }

    #[test]
    fn series_logarithm_matches_ln() {
        let mut v = walk(5_000, 0.3);
        v.extend([
            1.0, 1.0, 1.105, 1.0, 0.904, 1.0, 2.0, 0.5, 1e-300, 0.0, 0.0, 1.0,
        ]);
        v.extend([
            f64::NAN,
            1.0,
            f64::INFINITY,
            1.0,
            -1.0,
            1.0,
            1.0 + f64::EPSILON,
            1.0,
        ]);
        v.extend([1e308, 1.7e308, 1e308, 1e-310, 1e-310, 2e-310, 1.0]);
        let mut out = vec![0.0; v.len() - 1];
        log_ratios(&v, &mut out);
        for (w, &l) in v.windows(2).zip(&out) {
            let exact = (w[1] / w[0]).ln();
            if exact.is_nan() {
                assert!(l.is_nan(), "ln({} / {}) = {l}", w[1], w[0]);
            } else if exact == 0.0 || exact.is_infinite() {
                assert_eq!(l, exact, "ln({} / {})", w[1], w[0]);
            } else {
                // Within 3 ulp of the logarithm, plus half an ulp of the rounded ratio.
                let err = (l - exact).abs();
                let ulp = exact.abs() * f64::EPSILON;
                assert!(
                    err <= 3.0 * ulp + 1.2e-16,
                    "ln({} / {}) = {l}, not {exact}",
                    w[1],
                    w[0]
                );
            }
        }
    }

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
                let (fast, high) = Drawdowns::positive(e, t).unwrap();
                let slow = Drawdowns::general(e, t);
                let what = format!("case {k}, {len} bars");
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
        assert!(Drawdowns::positive(&[1.0, 0.0, 2.0], &t[..3]).is_none());
        assert!(Drawdowns::positive(&[-1.0, 2.0], &t[..2]).is_none());
        assert!(Drawdowns::positive(&[1.0, f64::INFINITY], &t[..2]).is_none());
        assert!(Drawdowns::positive(&[f64::NAN, 1.0], &t[..2]).is_none());
    }

    #[test]
    fn daily_bars_figures_match_the_calendar_pass() {
        let e = walk(3_000, 0.05);
        let every_day: Vec<i64> = (0..3_000).map(|i| i * MICROS_PER_DAY).collect();
        let weekdays: Vec<i64> = (0..3_000)
            .map(|i| (i / 5 * 7 + i % 5 + 4) * MICROS_PER_DAY + 3_600_000_000)
            .collect();
        for t in [&every_day, &weekdays] {
            let fast = DayFigures::per_bar(t, &e, 1).unwrap();
            let cal = calendar(t, &e, 1);
            assert_eq!(fast.weekend_bars, cal.weekend_bars);
            assert_eq!(fast.g, geometric_mean_chained(&cal.returns, cal.ends));
            assert_eq!(fast.variance.to_bits(), variance(&cal.returns).to_bits());
            let k = cal.returns.len();
            let down = pairwise_by(0, k, &|i| cal.returns[i].min(0.0).powi(2)) / k as f64;
            assert_eq!(fast.downside.to_bits(), down.to_bits());
        }
        // Two bars on a day, a weekly period or a wild return: the calendar pass.
        let hours: Vec<i64> = (0..3_000).map(|i| i * 3_600_000_000).collect();
        assert!(DayFigures::per_bar(&hours, &e, 1).is_none());
        assert!(DayFigures::per_bar(&every_day, &e, 7).is_none());
        let mut wild = e.clone();
        wild[10] *= 3.0;
        assert!(DayFigures::per_bar(&every_day, &wild, 1).is_none());
    }

    #[test]
    fn paired_sums_are_the_pairwise_sums() {
        let v = walk(10_000, 0.3);
        for n in [0, 5, 8, 100, 128, 129, 1_000, 9_999] {
            let (a, b) = pairwise_pair(0, n, &|i| (v[i], v[i].sqrt()));
            assert_eq!(a.to_bits(), pairwise_by(0, n, &|i| v[i]).to_bits(), "{n}");
            assert_eq!(
                b.to_bits(),
                pairwise_by(0, n, &|i| v[i].sqrt()).to_bits(),
                "{n}"
            );
        }
    }

    #[test]
    fn period_median_truncates() {
        assert_eq!(data_period(&[0, 1, 3]), Some(1));
        assert_eq!(data_period(&[0, 1, 2, 5]), Some(1));
        assert_eq!(data_period(&[0]), None);
    }
}
