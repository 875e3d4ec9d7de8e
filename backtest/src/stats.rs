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
//! BLAS): it agrees within `1e-13` relative (`7.5e-14` on the reference's hourly EURUSD,
//! whose tiny moves magnify the ratios' rounding).
//!
//! Everything that reads the equity curve bar by bar (drawdowns, beta's sums, the daily
//! returns' sums) is one pass that goes by the leaves of numpy's pairwise
//! summation and can be fed the curve in pieces as the simulation writes it; only the
//! variance of the daily returns reads it a second time, as the two-pass formula must. That
//! costs about ten milliseconds for a million bars, with a logarithm for neither every bar
//! nor every day.
//!
//! Calendar-based figures (annualisation, daily returns) use UTC calendar days of the bar
//! times; durations are rounded up to the resolution of the data's period (whole days for
//! daily data, hours for hourly data).

use serde::Serialize;

use super::result::Trade;
use super::time::{MICROS_PER_DAY, MICROS_PER_SEC, civil_from_days, day_of, weekday};
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
/// use tracectx_backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Stats};
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
/// use tracectx_backtest::{Bars, Stats};
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
/// use tracectx_backtest::STAT_KEYS;
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
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(2_000, 1), &sma_cross, &params)?;
    /// assert_eq!(result.stats.get("sharpe"), result.stats.sharpe);
    /// assert_eq!(result.stats.get("trades"), Some(result.stats.trades as f64));
    /// assert_eq!(result.stats.get("no_such_key"), None);
    /// # Ok::<(), tracectx_backtest::BacktestError>(())
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
    /// [`Signals::warmup`]: crate::Signals::warmup
    ///
    /// # Errors
    ///
    /// [`StatsError`] when the equity does not have one value per bar or the warm-up bar is
    /// past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, Stats};
    ///
    /// let bars = Bars::synthetic(10, 1);
    /// let equity = [100.0, 100.0, 110.0, 99.0, 99.0, 121.0, 121.0, 110.0, 121.0, 132.0];
    /// let stats = Stats::compute(&bars, &equity, &[], 0)?;
    /// assert_eq!(stats.return_pct, 32.0);
    /// assert_eq!(stats.max_drawdown_pct, -9.999999999999998); // -(1 - 99/110) * 100
    /// assert_eq!(stats.trades, 0);
    /// assert_eq!(stats.win_rate_pct, None);
    /// # Ok::<(), tracectx_backtest::StatsError>(())
    /// ```
    pub fn compute(
        bars: &Bars,
        equity: &[f64],
        trades: &[Trade],
        warmup: usize,
    ) -> Result<Stats, StatsError> {
        let n = bars.len();
        Stats::check(n, equity.len(), warmup)?;
        let mut pass = EquityPass::for_bars(bars);
        let mut drawdowns = DrawdownPass::default();
        pass.feed(equity);
        drawdowns.feed(equity, bars.timestamps());
        let trades = TradeFigures::of(trades, n);
        Ok(Stats::from_parts(
            bars,
            equity,
            warmup,
            trades,
            pass.finish(equity, drawdowns),
        ))
    }

    /// [`compute`](Self::compute)'s checks: an equity value per bar, `warmup` a bar.
    pub(crate) fn check(bars: usize, equity: usize, warmup: usize) -> Result<(), StatsError> {
        if equity != bars {
            return Err(StatsError::LengthMismatch { bars, equity });
        }
        if warmup >= bars {
            return Err(StatsError::WarmupOutOfRange {
                warmup,
                last: bars - 1,
            });
        }
        Ok(())
    }

    /// The statistics from the figures of the trades and of the whole equity curve (whose
    /// length and `warmup` passed [`check`](Self::check)).
    pub(crate) fn from_parts(
        bars: &Bars,
        equity: &[f64],
        warmup: usize,
        trades: TradeFigures,
        figures: EquityFigures,
    ) -> Stats {
        let n = bars.len();
        let t = bars.timestamps();
        let close = bars.close();
        let period = data_period(t);
        let round = |d: i64| ceil_to(d, period.map_or(1, resolution));
        let EquityFigures {
            drawdowns: dd,
            peak: equity_peak,
            days,
            beta,
        } = figures;

        // Drawdowns.
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

        let e0 = equity[0];
        let e_last = equity[n - 1];
        let return_pct = (e_last - e0) / e0 * 100.0;
        let buy_hold_return_pct = (close[n - 1] - close[warmup]) / close[warmup] * 100.0;

        // Annualisation and calendar returns.
        let freq_days = period.map(|p| p.div_euclid(MICROS_PER_DAY));
        let DayFigures {
            weekend_bars,
            g,
            variance: var_d,
            downside,
        } = days;
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
        let alpha = return_pct - beta * buy_hold_return_pct;

        Stats {
            start: Timestamp::from_micros(t[0]),
            end: Timestamp::from_micros(t[n - 1]),
            duration_secs: secs(duration),
            exposure_pct: trades.exposure_pct,
            equity_final: e_last,
            equity_peak,
            commissions: trades.commissions,
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
            trades: trades.count,
            win_rate_pct: defined(trades.win_rate * 100.0),
            best_trade_pct: trades.best.map(|r| r * 100.0),
            worst_trade_pct: trades.worst.map(|r| r * 100.0),
            avg_trade_pct: defined(trades.geometric_mean * 100.0),
            max_trade_duration_secs: trades.longest.map(|d| secs(round(d))),
            avg_trade_duration_secs: trades.mean_duration.map(|d| secs(round(d))),
            profit_factor: defined(trades.profit_factor),
            expectancy_pct: defined(trades.mean * 100.0),
            sqn: defined(trades.sqn),
            kelly: defined(trades.kelly),
        }
    }
}

// === the trades' figures ===

/// The statistics of the closed trades (and the exposure they give), for [`Stats`].
pub(crate) struct TradeFigures {
    count: usize,
    exposure_pct: f64,
    commissions: f64,
    win_rate: f64,
    best: Option<f64>,
    worst: Option<f64>,
    geometric_mean: f64,
    mean: f64,
    /// The longest and the mean duration, in microseconds.
    longest: Option<i64>,
    mean_duration: Option<i64>,
    profit_factor: f64,
    sqn: f64,
    kelly: f64,
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
        // The sums of selections of the values, in one list reused for each.
        let mut picked = Vec::with_capacity(m);
        let mut sum_of = |value: fn(&Trade) -> f64, keep: fn(f64) -> bool| {
            picked.clear();
            picked.extend(trades.iter().map(value).filter(|&v| keep(v)));
            (pairwise_sum(&picked), picked.len())
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

// === one pass over the equity curve ===

/// The most returns in a leaf of numpy's pairwise summation.
const LEAF_MAX: usize = 128;

/// The leaves of numpy's pairwise summation of `n` values from `start`, in order: ranges of
/// at most [`LEAF_MAX`] values summed one after another (see [`pairwise_by`]).
fn pairwise_leaves(start: usize, n: usize, out: &mut Vec<(usize, usize)>) {
    if n <= LEAF_MAX {
        if n > 0 || out.is_empty() {
            out.push((start, n));
        }
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_leaves(start, n2, out);
        pairwise_leaves(start + n2, n - n2, out);
    }
}

/// The sum of one leaf (at most [`LEAF_MAX`] values), as numpy sums it.
fn leaf_sum(v: &[f64]) -> f64 {
    pairwise_by(0, v.len(), &|i| v[i])
}

/// Adds up the leaf sums of [`pairwise_leaves`] of `n` values the way the pairwise recursion
/// does, taking them from `leaves` in order.
fn combine_leaves<const K: usize>(
    n: usize,
    leaves: &mut impl Iterator<Item = [f64; K]>,
) -> [f64; K] {
    if n <= LEAF_MAX {
        leaves.next().unwrap_or([0.0; K])
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let a = combine_leaves(n2, leaves);
        let b = combine_leaves(n - n2, leaves);
        std::array::from_fn(|k| a[k] + b[k])
    }
}

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

/// What [`EquityPass`] sums leaf by leaf.
struct LeafSums<'b> {
    close: &'b [f64],
    beta: BetaSums,
    /// The daily returns' sums while every bar is a calendar day of its own and every return
    /// so far near 0: then the daily returns are the bars' returns `E[i+1] / E[i] - 1`, summed
    /// straight off the curve (the same values in the same order as from a list, so the same
    /// sums to the bit) instead of being gathered day by day.
    days: Option<DaySums>,
    /// Room for a leaf's values (logarithms, returns), reused leaf after leaf.
    scratch: [[f64; LEAF_MAX]; 2],
}

/// Sums of the daily returns of [`EquityPass`] while every bar is a day of its own.
struct DaySums {
    weekend_bars: usize,
    /// Each leaf's sum of the returns and of their squared losses.
    leaf_sums: Vec<[f64; 2]>,
    /// The sample variance, once [`EquityPass::second_pass`] read the curve again.
    variance: Option<f64>,
}

/// Beta of equity log returns on the asset's close log returns (their sample covariance over
/// the asset's sample variance), from running sums of `x - kx`, `y - ky`, their product and
/// `(y - ky)^2`, a leaf at a time: shifted by the first log returns, so no cancellation when
/// the mean is large next to the spread. The logarithms come from [`log_ratios`]. That agrees
/// with `np.cov` far inside `1e-12` relative; `np.cov`'s products go through BLAS and cannot
/// be matched bit for bit anyway.
#[derive(Default)]
struct BetaSums {
    shift: Option<(f64, f64)>,
    total: [f64; 4],
}

impl<'b> EquityPass<'b> {
    /// A pass over an equity curve on `bars`.
    pub(crate) fn for_bars(bars: &'b Bars) -> Self {
        let t = bars.timestamps();
        let freq_days = data_period(t).map_or(1, |p| p.div_euclid(MICROS_PER_DAY));
        EquityPass::new(t, bars.close(), freq_days, || bars.weekend_bars_if_daily())
    }

    /// A pass over an equity curve of `t.len()` values; `freq_days` is the data period in
    /// whole days, `daily` gives [`one_bar_a_day`] of the times.
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
            });
        EquityPass {
            t,
            cursor: LeafCursor::default(),
            sums: LeafSums {
                close,
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
        let sums = &mut self.sums;
        self.cursor
            .feed(&self.leaves, piece, |s, e| sums.leaf(s, e));
    }

    /// The second pass of the daily returns' two-pass variance, over the whole curve again in
    /// pieces (cut anyhow), once it was all fed; nothing when the returns are not summed bar
    /// by bar. [`finish`](Self::finish) makes it when it was not made.
    pub(crate) fn second_pass<'e>(&mut self, pieces: impl IntoIterator<Item = &'e [f64]>) {
        let m = self.t.len().saturating_sub(1);
        let Some(days) = &mut self.sums.days else {
            return;
        };
        if m < 2 {
            days.variance = Some(f64::NAN);
            return;
        }
        let [sum, _] = combine_leaves(m, &mut days.leaf_sums.iter().copied());
        let avg = sum / m as f64;
        let mut cursor = LeafCursor::default();
        let mut leaf_sums = Vec::with_capacity(self.leaves.len());
        for piece in pieces {
            cursor.feed(&self.leaves, piece, |_, e| {
                leaf_sums.push([pairwise_by(0, e.len() - 1, &|i| {
                    let r = e[i + 1] / e[i] - 1.0;
                    (avg - r) * (avg - r)
                })]);
            });
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
                let [_, losses] = combine_leaves(m, &mut days.leaf_sums.into_iter());
                DayFigures {
                    weekend_bars: days.weekend_bars,
                    // As `geometric_mean_chained` with the ends of the chain.
                    g: ((equity[m] / equity[0]).ln() / m as f64).exp() - 1.0,
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

impl LeafSums<'_> {
    /// One leaf: the returns `s..s + len` from the equity `e = E[s..=s + len]`.
    fn leaf(&mut self, s: usize, e: &[f64]) {
        let len = e.len() - 1;
        if len == 0 {
            return;
        }
        let [lx, ly] = &mut self.scratch;
        log_ratios(e, &mut lx[..len]);
        log_ratios(&self.close[s..=s + len], &mut ly[..len]);
        self.beta.add(&lx[..len], &ly[..len]);
        if let Some(days) = &mut self.days {
            if !days.leaf(e, &mut self.scratch) {
                self.days = None;
            }
        }
    }
}

/// What [`EquityPass::finish`] gives.
pub(crate) struct EquityFigures {
    drawdowns: Drawdowns,
    /// The highest equity.
    peak: f64,
    days: DayFigures,
    beta: f64,
}

/// The number of bars on a Saturday or Sunday when every bar of the increasing times `t` is
/// on a calendar day (UTC) of its own; `None` when two share one.
pub(crate) fn one_bar_a_day(t: &[i64]) -> Option<usize> {
    let mut days = DayCursor::new(*t.first()?);
    let mut weekend_bars = usize::from(days.is_weekend());
    for &ts in &t[1..] {
        if !days.advance(ts) {
            return None;
        }
        weekend_bars += usize::from(days.is_weekend());
    }
    Some(weekend_bars)
}

impl DaySums {
    /// Checks the leaf's returns (from the equity `e`) for nearness and adds their sums; false
    /// when one is not near 0 after all.
    fn leaf(&mut self, e: &[f64], scratch: &mut [[f64; LEAF_MAX]; 2]) -> bool {
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
            .push([leaf_sum(&r[..len]), leaf_sum(&down[..len])]);
        true
    }
}

impl BetaSums {
    fn add(&mut self, lx: &[f64], ly: &[f64]) {
        let (kx, ky) = *self.shift.get_or_insert((lx[0], ly[0]));
        let mut sums = [0.0_f64; 4];
        for (&x, &y) in lx.iter().zip(ly) {
            let dx = x - kx;
            let dy = y - ky;
            sums[0] += dx;
            sums[1] += dy;
            sums[2] += dx * dy;
            sums[3] += dy * dy;
        }
        for (t, b) in self.total.iter_mut().zip(sums) {
            *t += b;
        }
    }

    /// Beta over `m` returns; NaN below two.
    fn beta(&self, m: usize) -> f64 {
        if m < 2 {
            return f64::NAN;
        }
        let [sx, sy, sxy, syy] = self.total;
        let m = m as f64;
        (sxy - sx * sy / m) / (syy - sy * sy / m)
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

/// Mean as numpy and pandas compute it; NaN for no values.
fn mean(a: &[f64]) -> f64 {
    mean_of(a.len(), &|i| a[i])
}

/// [`mean`] of `f(0), ..., f(n - 1)`.
fn mean_of(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    pairwise_by(0, n, f) / n as f64
}

/// Sample variance (ddof 1), two-pass as pandas computes it; NaN below two values.
fn variance(a: &[f64]) -> f64 {
    variance_of(a.len(), &|i| a[i])
}

/// [`variance`] of `f(0), ..., f(n - 1)`.
fn variance_of(n: usize, f: &impl Fn(usize) -> f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let avg = mean_of(n, f);
    pairwise_by(0, n, &|i| (avg - f(i)) * (avg - f(i))) / (n - 1) as f64
}

/// Geometric mean return: 0 if any `1 + r <= 0`, NaN for no values.
fn geometric_mean(returns: &[f64]) -> f64 {
    geometric_mean_of(returns.len(), &|i| returns[i])
}

/// [`geometric_mean`] of the returns `r(0), ..., r(n - 1)`.
fn geometric_mean_of(n: usize, r: &impl Fn(usize) -> f64) -> f64 {
    if (0..n).any(|i| r(i) + 1.0 <= 0.0) {
        return 0.0;
    }
    // ln(1) is exactly 0: flat periods (no position, no change) cost no logarithm.
    let logs = pairwise_by(0, n, &|i| {
        let g = r(i) + 1.0;
        if g == 1.0 { 0.0 } else { g.ln() }
    });
    (logs / n as f64).exp() - 1.0
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
    fn finish(self, equity: &[f64], t: &[i64]) -> (Drawdowns, f64) {
        match self.scan {
            Some(scan) => scan.finish(equity, t),
            None => (
                Drawdowns::general(equity, t),
                equity.iter().copied().fold(f64::NAN, f64::max),
            ),
        }
    }
}

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
    fn feed(&mut self, piece: &[f64], base: usize, t: &[i64]) -> bool {
        let (mut high, mut low, mut last_zero) = (self.high, self.low, self.last_zero);
        let mut k = usize::from(base == 0);
        while k < piece.len() {
            // Runs of 8 bars below the high, the common case, without a branch per bar.
            while let Some(run) = piece.get(k..k + 8) {
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
    /// The figures from the calendar periods' returns (see [`calendar`]).
    fn calendar(t: &[i64], equity: &[f64], freq_days: i64) -> Self {
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
        // A few days on (the next day, or Monday after a weekend) by steps; further by
        // division.
        let ahead = ts - self.end;
        if ahead < 7 * MICROS_PER_DAY {
            let mut next = self.end + MICROS_PER_DAY;
            let mut days = 1;
            while ts >= next {
                next += MICROS_PER_DAY;
                days += 1;
            }
            self.day += days;
            self.weekday += days;
            if self.weekday >= 7 {
                self.weekday -= 7;
            }
            self.end = next;
        } else {
            self.day = day_of(ts);
            self.weekday = weekday(self.day);
            self.end = (self.day + 1)
                .checked_mul(MICROS_PER_DAY)
                .unwrap_or(i64::MAX);
        }
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

    /// An [`EquityPass`] fed `equity` in pieces of `piece` values, and whether the daily
    /// returns were summed as they came (every bar a day of its own).
    fn pass_in_pieces(
        t: &[i64],
        close: &[f64],
        equity: &[f64],
        freq_days: i64,
        piece: usize,
    ) -> (EquityFigures, bool) {
        let mut pass = EquityPass::new(t, close, freq_days, || one_bar_a_day(t));
        let mut drawdowns = DrawdownPass::default();
        for chunk in equity.chunks(piece) {
            pass.feed(chunk);
            drawdowns.feed(chunk, t);
        }
        let per_bar = pass.sums.days.is_some();
        // The variance's second pass over the same pieces (as a session's second thread
        // makes it); `finish` makes it over the whole curve when it was not made.
        if piece < equity.len() {
            pass.second_pass(equity.chunks(piece));
        }
        (pass.finish(equity, drawdowns), per_bar)
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
            assert_eq!(fast.g, geometric_mean_chained(&cal.returns, cal.ends));
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
        let close = walk(n, 0.02);
        let days: Vec<i64> = (0..n as i64).map(|i| i * MICROS_PER_DAY).collect();
        let hours: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000).collect();
        let mut ruined = walk(n, 0.03);
        ruined[4_000..].iter_mut().for_each(|e| *e = 0.0);
        for e in [walk(n, 0.01), walk(n, 0.0003), ruined] {
            for t in [&days, &hours] {
                let bits = |f: &EquityFigures| {
                    let d = &f.drawdowns;
                    let mut v = vec![f.peak, f.beta, d.max, d.nonzero_sum];
                    v.extend(&d.peaks);
                    v.extend(d.durations.iter().map(|&x| x as f64));
                    v.extend([f.days.g, f.days.variance, f.days.downside]);
                    v.push(f.days.weekend_bars as f64);
                    v.into_iter().map(f64::to_bits).collect::<Vec<_>>()
                };
                let (whole, _) = pass_in_pieces(t, &close, &e, 1, n);
                for piece in [1, 3, 8, 127, 128, 129, 1_000, 4_999] {
                    let (cut, _) = pass_in_pieces(t, &close, &e, 1, piece);
                    assert_eq!(bits(&cut), bits(&whole), "pieces of {piece}");
                }
            }
        }
    }

    #[test]
    fn leaves_add_up_as_the_pairwise_recursion() {
        let v = walk(10_000, 0.3);
        for n in [0, 1, 5, 8, 100, 128, 129, 1_000, 9_999] {
            let mut leaves = Vec::new();
            pairwise_leaves(0, n, &mut leaves);
            assert!(leaves.iter().all(|&(_, len)| len <= LEAF_MAX));
            assert_eq!(leaves.iter().map(|&(_, len)| len).sum::<usize>(), n);
            let mut sums = leaves.iter().map(|&(s, len)| [leaf_sum(&v[s..s + len])]);
            let [total] = combine_leaves(n, &mut sums);
            assert_eq!(total.to_bits(), pairwise_sum(&v[..n]).to_bits(), "{n}");
        }
    }

    #[test]
    fn day_cursor_follows_the_calendar() {
        let mut state = 3_u64;
        let mut ts = -5 * MICROS_PER_DAY - 17;
        let mut cursor = DayCursor::new(ts);
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Steps within a day, of a few days and of months.
            let step = match state >> 62 {
                0 => (state >> 20) as i64 % (MICROS_PER_DAY / 3) + 1,
                1 | 2 => (state >> 20) as i64 % (8 * MICROS_PER_DAY) + 1,
                _ => (state >> 20) as i64 % (90 * MICROS_PER_DAY) + 1,
            };
            let before = cursor.day;
            ts += step;
            let moved = cursor.advance(ts);
            assert_eq!(cursor.day, day_of(ts), "at {ts}");
            assert_eq!(cursor.weekday, weekday(day_of(ts)), "at {ts}");
            assert_eq!(cursor.end, (day_of(ts) + 1) * MICROS_PER_DAY);
            assert_eq!(moved, cursor.day != before);
        }
    }

    #[test]
    fn period_median_truncates() {
        assert_eq!(data_period(&[0, 1, 3]), Some(1));
        assert_eq!(data_period(&[0, 1, 2, 5]), Some(1));
        assert_eq!(data_period(&[0]), None);
    }
}
