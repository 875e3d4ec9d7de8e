//! The trades of a run: closed trades, and trades still open when the data ended.

use serde::Serialize;

use crate::Timestamp;

// === impl Trade ===

/// A closed trade: one entry fill and one exit fill.
///
/// `size` is in units, negative for a short. `pnl` and `return_frac` are net of the
/// commission paid on both fills:
/// `pnl = size * (exit_price - entry_price) - commission`,
/// `return_frac = sign(size) * (exit_price / entry_price - 1) - commission / (|size| * entry_price)`
/// (a fraction: `0.05` is +5%).
///
/// Serializes with these field names, times as RFC 3339, plus `duration_secs`.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, sma_cross, BacktestSettings, Bars, Params};
///
/// let bars = Bars::synthetic(2_000, 5);
/// let signals = sma_cross(&bars, &Params::new().with("fast", 10).with("slow", 20))?;
/// let run = simulate(&bars, &signals, &BacktestSettings::new(10_000.0).with_commission(0.002))?;
/// let t = &run.trades[0];
/// assert!(t.exit_bar >= t.entry_bar);
/// assert_eq!(t.size.fract(), 0.0); // whole units by default
/// assert_eq!(t.pnl, t.size * (t.exit_price - t.entry_price) - t.commission);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Trade {
    /// Units traded, negative for a short.
    pub size: f64,
    /// The bar of the entry fill.
    pub entry_bar: usize,
    /// The bar of the exit fill.
    pub exit_bar: usize,
    /// The entry fill price (including spread and slippage when those are set).
    pub entry_price: f64,
    /// The exit fill price.
    pub exit_price: f64,
    /// The time of the entry bar.
    pub entry_time: Timestamp,
    /// The time of the exit bar.
    pub exit_time: Timestamp,
    /// Profit or loss in cash, net of commissions.
    pub pnl: f64,
    /// Return as a fraction of the entry value, net of commissions.
    pub return_frac: f64,
    /// Commission paid on entry and exit.
    pub commission: f64,
    /// `exit_time - entry_time`, in seconds.
    pub duration_secs: f64,
}

impl Trade {
    /// Whether the trade was long (`size > 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
    ///
    /// let bars = Bars::synthetic(10, 1);
    /// let mut d = vec![Decision::Hold; 10];
    /// d[2] = Decision::EnterShort;
    /// d[5] = Decision::Exit;
    /// let run = simulate(&bars, &Signals::new(d, 0), &BacktestSettings::default())?;
    /// assert!(!run.trades[0].is_long());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_long(&self) -> bool {
        self.size > 0.0
    }

    /// `exit_time - entry_time`, in microseconds (saturating: trades the engine made have
    /// times of [`Bars`](crate::Bars), whose differences always fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
    ///
    /// let bars = Bars::synthetic(10, 1);
    /// let mut d = vec![Decision::Hold; 10];
    /// d[1] = Decision::EnterLong;
    /// d[2] = Decision::Exit;
    /// let run = simulate(&bars, &Signals::new(d, 0), &BacktestSettings::default())?;
    /// assert_eq!(run.trades[0].duration_micros(), 86_400_000_000); // one weekday to the next
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn duration_micros(&self) -> i64 {
        self.exit_time
            .as_micros()
            .saturating_sub(self.entry_time.as_micros())
    }
}

// === impl OpenTrade ===

/// A trade still open when the data ended.
///
/// By default open trades stay open, as in the reference engine: their unrealised result is
/// in the final equity (and so in every equity-based statistic) but they are in no trade
/// statistic. `close_at_end` in [`BacktestSettings`](crate::BacktestSettings)
/// closes them instead.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
///
/// let bars = Bars::synthetic(10, 1);
/// let mut d = vec![Decision::Hold; 10];
/// d[3] = Decision::EnterLong;
/// let run = simulate(&bars, &Signals::new(d, 0), &BacktestSettings::default())?;
/// assert!(run.trades.is_empty());
/// assert_eq!(run.open_trades[0].entry_bar, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OpenTrade {
    /// Units held, negative for a short.
    pub size: f64,
    /// The bar of the entry fill.
    pub entry_bar: usize,
    /// The entry fill price.
    pub entry_price: f64,
    /// The time of the entry bar.
    pub entry_time: Timestamp,
    /// Commission paid on entry.
    pub commission: f64,
    /// `size * (last close - entry_price) - commission`.
    pub unrealized_pnl: f64,
}
