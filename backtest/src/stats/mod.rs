//! Performance statistics of a run, as backtesting.py 0.6.6 computes them.
//!
//! [`Stats::compute`] takes the bars, the equity curve, the closed trades and the strategy's
//! warm-up bar and returns every figure of the reference's summary. Sums and means of returns
//! use numpy's pairwise summation and variances pandas' two-pass formula; the geometric mean
//! of daily returns sums the logarithms of every `1 + r`, as the reference does (not the
//! logarithm of the last equity over the first: the two differ by an ulp of 1 now and then,
//! which `exp(mean) - 1` keeps, and the volatility's formula magnifies when the returns
//! barely vary). So on the reference's own data every figure but beta (and alpha, which uses it) agrees
//! with backtesting.py's to the last bits. Beta takes the logarithms of the rounded ratios,
//! as the reference does, from a series (numpy's logarithm is not the C library's to the
//! ulp, and numpy's covariance goes through BLAS): it agrees within about `1e-14` relative
//! (`6e-15` on GOOG, `7e-16` on the hourly EURUSD), or on the scale of the covariances when
//! they cancel to about zero.
//!
//! Everything that reads the equity curve bar by bar (drawdowns, beta's sums, the daily
//! returns' sums) is one pass that goes by the leaves of numpy's pairwise
//! summation and can be fed the curve in pieces as the simulation writes it; only the
//! variance of the daily returns reads it a second time, as the two-pass formula must. That
//! costs about ten milliseconds for a million bars: when every bar is a day of its own, the
//! geometric mean's logarithms are beta's (the same ratios), from a series the compiler
//! vectorizes; otherwise there is a logarithm per day.
//!
//! Calendar-based figures (annualisation, daily returns) use UTC calendar days of the bar
//! times; durations are rounded up to the resolution of the data's period (whole days for
//! daily data, hours for hourly data).
//!
//! The pieces, a file each: [`Stats`] itself (here), built from the figures of the trades
//! (`trades`) and of one pass over the equity curve (`pass`), which joins the drawdowns
//! (`drawdown`), beta (`beta`) and the calendar periods' returns (`calendar`); numpy's
//! pairwise summation and the means built on it (`sum`); the data's period and durations
//! rounded to its resolution (`period`).

use serde::{Deserialize, Serialize};

use crate::trade::Trade;
use crate::{Bars, Timestamp};
use tracectx::time::{MICROS_PER_DAY, MICROS_PER_SEC};

mod beta;
mod calendar;
mod drawdown;
mod pass;
mod period;
mod statistic;
mod sum;
mod trades;

pub(crate) use drawdown::DrawdownPass;
pub(crate) use pass::{EquityFigures, EquityPass, log_ratios, take_spare_returns};
pub use statistic::UnknownStatistic;
pub(crate) use trades::TradeFigures;

use calendar::DayFigures;
use period::{ceil_to, data_period, mean_duration, resolution};
use statistic::statistics;
use sum::mean;

// === impl Stats ===

statistics! {
    /// Every statistic of a run. Undefined values (a ratio over zero, a mean of nothing) are
    /// `None` and serialize as JSON `null`.
    ///
    /// Percentages are in percent (`12.5` is 12.5%), durations in seconds. Trade figures cover
    /// closed trades only; trades still open at the end count in the equity figures alone.
    ///
    /// Each field is also a [`Statistic`] of the same name, whose value [`get`](Self::get)
    /// reads. The fields and the statistics come from one table: a new statistic is one line
    /// of it (and its computation in [`compute`](Self::compute)).
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
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[non_exhaustive]
    pub struct Stats {
        /// Time of the first bar.
        pub start: Timestamp => Start,
        /// Time of the last bar.
        pub end: Timestamp => End,
        /// `end - start`, in seconds.
        pub duration_secs: f64 => DurationSecs,
        /// Percent of bars covered by a closed trade (entry bar to exit bar, inclusive).
        pub exposure_pct: f64 => ExposurePct,
        /// Equity at the last bar.
        pub equity_final: f64 => EquityFinal,
        /// Highest equity.
        pub equity_peak: f64 => EquityPeak,
        /// Commissions paid by closed trades.
        pub commissions: f64 => Commissions,
        /// Total return, percent.
        pub return_pct: f64 => ReturnPct,
        /// Return of holding the asset from the warm-up bar's close to the last close, percent.
        pub buy_hold_return_pct: f64 => BuyHoldReturnPct,
        /// Annualised return from the geometric mean daily return, percent.
        pub return_ann_pct: Option<f64> => ReturnAnnPct,
        /// Annualised volatility of daily returns (compounded), percent.
        pub volatility_ann_pct: Option<f64> => VolatilityAnnPct,
        /// Compound annual growth rate over the calendar duration, percent.
        pub cagr_pct: Option<f64> => CagrPct,
        /// `return_ann_pct / volatility_ann_pct` (risk-free rate 0).
        pub sharpe: Option<f64> => Sharpe,
        /// Annualised return over annualised downside deviation.
        pub sortino: Option<f64> => Sortino,
        /// Annualised return over the maximum drawdown.
        pub calmar: Option<f64> => Calmar,
        /// Jensen's alpha against buy-and-hold, percent.
        pub alpha_pct: Option<f64> => AlphaPct,
        /// Beta of equity log returns against the asset's log returns.
        pub beta: Option<f64> => Beta,
        /// Maximum drawdown, percent, zero or negative.
        pub max_drawdown_pct: f64 => MaxDrawdownPct,
        /// Mean of the drawdown periods' deepest points, percent, negative.
        pub avg_drawdown_pct: Option<f64> => AvgDrawdownPct,
        /// Longest drawdown period, seconds.
        pub max_drawdown_duration_secs: Option<f64> => MaxDrawdownDurationSecs,
        /// Mean drawdown period, seconds.
        pub avg_drawdown_duration_secs: Option<f64> => AvgDrawdownDurationSecs,
        /// Number of closed trades.
        pub trades: usize => Trades,
        /// Percent of closed trades with a positive profit.
        pub win_rate_pct: Option<f64> => WinRatePct,
        /// Best trade return, percent.
        pub best_trade_pct: Option<f64> => BestTradePct,
        /// Worst trade return, percent.
        pub worst_trade_pct: Option<f64> => WorstTradePct,
        /// Geometric mean trade return, percent.
        pub avg_trade_pct: Option<f64> => AvgTradePct,
        /// Longest trade, seconds.
        pub max_trade_duration_secs: Option<f64> => MaxTradeDurationSecs,
        /// Mean trade duration, seconds.
        pub avg_trade_duration_secs: Option<f64> => AvgTradeDurationSecs,
        /// Sum of positive trade returns over the absolute sum of negative ones.
        pub profit_factor: Option<f64> => ProfitFactor,
        /// Arithmetic mean trade return, percent.
        pub expectancy_pct: Option<f64> => ExpectancyPct,
        /// Van Tharp's system quality number: `sqrt(trades) * mean(pnl) / std(pnl)`.
        pub sqn: Option<f64> => Sqn,
        /// Kelly criterion from the win rate and the mean win over the mean loss.
        pub kelly: Option<f64> => Kelly,
    }
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
        let annualized = pow(1.0 + g, annual) - 1.0;
        let volatility =
            (pow(var_d + pow(1.0 + g, 2.0), annual) - pow(1.0 + g, 2.0 * annual)).sqrt();
        let return_ann_pct = annualized * 100.0;
        let volatility_ann_pct = volatility * 100.0;
        let duration = t[n - 1] - t[0];
        let years = (duration.div_euclid(MICROS_PER_DAY) as f64
            + (duration.rem_euclid(MICROS_PER_DAY) / MICROS_PER_SEC) as f64 / 86_400.0)
            / 365.25;
        let cagr = if years != 0.0 {
            (pow(e_last / e0, 1.0 / years) - 1.0) * 100.0
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

/// `x` to the power `y` by libm's `pow`, as the reference's `**` on numpy's floats takes it.
///
/// The exponent goes through `black_box`: an optimized build otherwise rewrites `x.powf(2.0)`
/// as `x * x`, which differs from `pow` in the last bit for about one `x` near 1 in a thousand
/// (a debug build calls `pow`), so that a figure would depend on the build.
fn pow(x: f64, y: f64) -> f64 {
    x.powf(std::hint::black_box(y))
}

/// A deterministic walk of `n` values around 100, moves of about `scale`: the tests' data.
#[cfg(test)]
pub(crate) fn walk(n: usize, scale: f64) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `(1 + g) ** 2` as numpy's floats give it in the reference (its `pow`), where `x * x`
    /// differs: an optimized build of `x.powf(2.0)` gave the second value of each pair.
    #[test]
    fn squares_are_the_references_in_every_build() {
        for (x, numpy, product) in [
            (0.9978661655909816, 0.9957368844312484, 0.9957368844312483),
            (1.0028882348325703, 1.0057848115655885, 1.0057848115655887),
            (0.9989758651950682, 0.9979527792422351, 0.997952779242235),
        ] {
            assert_eq!(x * x, product);
            assert_eq!(pow(x, 2.0), numpy, "{x}");
        }
    }
}
