//! The execution model: fills at the next open, whole-unit sizing, costs on both sides.
//!
//! [`simulate`] turns bars and a strategy's [`Signals`] into closed trades, trades left open
//! and a mark-to-market equity curve. With [`BacktestSettings`]' defaults it reproduces
//! backtesting.py 0.6.6 run as `Backtest(data, strategy, cash=C, commission=c,
//! exclusive_orders=True)` bit for bit: the same units (Python's float floor division), the
//! same cash updates and the same equity marks, in the same order of floating-point
//! operations. The opt-in extras (spread, slippage, fractional units, closing at the end) are
//! off by default.
//!
//! One step per bar `i`, from the first decision bar:
//! 1. fill the decision of bar `i - 1` at `open[i]` (close what is open, then size and open
//!    the new trade);
//! 2. mark equity at `close[i]`;
//! 3. if equity is zero or less, close everything at `close[i]` and stop, equity 0 from here;
//! 4. take bar `i`'s decision.
//!
//! The loop allocates nothing per bar. It runs segment by segment: the bars from one fill to
//! the next decision hold one position, so their marks are computed together.

use super::trade::{OpenTrade, Trade};
use super::{Bars, Decision, Signals, Timestamp};
use crate::quote::Number;

/// The order fraction the reference engine uses for "all available cash": `1 - 2^-52`.
const FULL_EQUITY: f64 = 1.0 - f64::EPSILON;

// === impl BacktestSettings ===

/// Account and cost settings of a backtest.
///
/// Defaults: 10,000 cash, no commission, no spread, no slippage, whole units, open trades left
/// open at the end; that is the reference engine's model. Set the fields through the `with_*`
/// builders; [`validate`](Self::validate) (called by [`simulate`]) checks the ranges.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::BacktestSettings;
///
/// let settings = BacktestSettings::new(10_000.0)
///     .with_commission(0.002)
///     .with_slippage(0.0005)
///     .with_close_at_end(true);
/// assert_eq!(settings.commission, 0.002);
/// assert!(settings.validate().is_ok());
/// assert!(BacktestSettings::new(-1.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct BacktestSettings {
    /// Starting cash, finite and greater than zero.
    pub cash: f64,
    /// Commission as a fraction of each fill's value, on entries and exits, in
    /// `[-0.1, 0.1)` (negative for a rebate).
    pub commission: f64,
    /// Bid-ask spread as a fraction of the price, in `[0, 0.1)`: entries fill that much
    /// worse (longs higher, shorts lower); exits fill at the plain price. This is the
    /// reference engine's `spread`.
    pub spread: f64,
    /// Slippage as a fraction of the price, in `[0, 0.1)`: every fill, entry and exit, is
    /// that much worse (buys higher, sells lower).
    pub slippage: f64,
    /// Size entries in fractional units (crypto, funds) instead of whole units.
    pub fractional_units: bool,
    /// Close trades still open at the end, at the last close, so that they count in the
    /// trade statistics.
    pub close_at_end: bool,
}

impl Default for BacktestSettings {
    fn default() -> Self {
        BacktestSettings {
            cash: 10_000.0,
            commission: 0.0,
            spread: 0.0,
            slippage: 0.0,
            fractional_units: false,
            close_at_end: false,
        }
    }
}

impl BacktestSettings {
    /// Default settings with `cash` to start.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert_eq!(BacktestSettings::new(100_000.0).cash, 100_000.0);
    /// ```
    pub fn new(cash: f64) -> Self {
        BacktestSettings {
            cash,
            ..Self::default()
        }
    }

    /// These settings with starting cash `cash`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert_eq!(BacktestSettings::default().with_cash(5.0).cash, 5.0);
    /// ```
    #[must_use]
    pub fn with_cash(self, cash: f64) -> Self {
        BacktestSettings { cash, ..self }
    }

    /// These settings with relative commission `commission` on every fill.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert_eq!(BacktestSettings::default().with_commission(0.001).commission, 0.001);
    /// ```
    #[must_use]
    pub fn with_commission(self, commission: f64) -> Self {
        BacktestSettings { commission, ..self }
    }

    /// These settings with relative spread `spread` on entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert_eq!(BacktestSettings::default().with_spread(0.0002).spread, 0.0002);
    /// ```
    #[must_use]
    pub fn with_spread(self, spread: f64) -> Self {
        BacktestSettings { spread, ..self }
    }

    /// These settings with relative slippage `slippage` on every fill.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert_eq!(BacktestSettings::default().with_slippage(0.001).slippage, 0.001);
    /// ```
    #[must_use]
    pub fn with_slippage(self, slippage: f64) -> Self {
        BacktestSettings { slippage, ..self }
    }

    /// These settings sizing entries in fractional units, or whole units.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert!(BacktestSettings::default().with_fractional_units(true).fractional_units);
    /// ```
    #[must_use]
    pub fn with_fractional_units(self, fractional_units: bool) -> Self {
        BacktestSettings {
            fractional_units,
            ..self
        }
    }

    /// These settings closing (or leaving open) the trades open at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// assert!(BacktestSettings::default().with_close_at_end(true).close_at_end);
    /// ```
    #[must_use]
    pub fn with_close_at_end(self, close_at_end: bool) -> Self {
        BacktestSettings {
            close_at_end,
            ..self
        }
    }

    /// Checks every value against its range.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    ///
    /// let err = BacktestSettings::default().with_commission(0.5).validate().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid setting commission = 0.5: expected a fraction in [-0.1, 0.1)");
    /// ```
    pub fn validate(&self) -> Result<(), SettingsError> {
        let check = |name: &'static str, value: f64, ok: bool, expected: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(SettingsError {
                    name,
                    value,
                    expected,
                })
            }
        };
        check(
            "cash",
            self.cash,
            self.cash.is_finite() && self.cash > 0.0,
            "a finite amount above 0",
        )?;
        check(
            "commission",
            self.commission,
            (-0.1..0.1).contains(&self.commission),
            "a fraction in [-0.1, 0.1)",
        )?;
        check(
            "spread",
            self.spread,
            (0.0..0.1).contains(&self.spread),
            "a fraction in [0, 0.1)",
        )?;
        check(
            "slippage",
            self.slippage,
            (0.0..0.1).contains(&self.slippage),
            "a fraction in [0, 0.1)",
        )
    }
}

// === impl SettingsError ===

/// A backtest setting out of its range.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::BacktestSettings;
/// let err = BacktestSettings::new(f64::NAN).validate().unwrap_err();
/// assert_eq!(err.name(), "cash");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid setting {name} = {}: expected {expected}", Number(*.value))]
pub struct SettingsError {
    name: &'static str,
    value: f64,
    expected: &'static str,
}

impl SettingsError {
    /// The setting's name (`"cash"`, `"commission"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// let err = BacktestSettings::default().with_spread(-1.0).validate().unwrap_err();
    /// assert_eq!(err.name(), "spread");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The value refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestSettings;
    /// let err = BacktestSettings::default().with_spread(-1.0).validate().unwrap_err();
    /// assert_eq!(err.value(), -1.0);
    /// ```
    pub fn value(&self) -> f64 {
        self.value
    }
}

// === impl SimulationError ===

/// Why a simulation could not run.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, BacktestSettings, Bars, Signals, SimulationError};
///
/// let err = simulate(&Bars::synthetic(5, 1), &Signals::new(vec![], 0), &BacktestSettings::default())
///     .unwrap_err();
/// assert!(matches!(err, SimulationError::LengthMismatch { bars: 5, decisions: 0 }));
/// assert_eq!(err.to_string(), "signals have 0 decisions for 5 bars");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// A setting is out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The account's value went past what an `f64` holds (cash, prices and units too large
    /// together): from that bar on no figure would mean anything.
    #[error("the account's value overflows at bar {bar} ({time}): cash and prices too large")]
    Overflow {
        /// The 0-based bar where equity (or cash) stopped being a finite number.
        bar: usize,
        /// That bar's time.
        time: Timestamp,
    },
    /// The signals do not have one decision per bar.
    #[error("signals have {decisions} decisions for {bars} bars")]
    LengthMismatch {
        /// The number of bars.
        bars: usize,
        /// The number of decisions.
        decisions: usize,
    },
}

// === impl Simulation ===

/// What [`simulate`] returns: closed trades, trades left open and the equity curve.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
///
/// let bars = Bars::synthetic(50, 1);
/// let run = simulate(&bars, &Signals::new(vec![Decision::Hold; 50], 0), &BacktestSettings::new(1_000.0))?;
/// assert_eq!(run.equity.len(), 50);
/// assert!(run.equity.iter().all(|&e| e == 1_000.0));
/// let (trades, equity) = run.into_parts();
/// assert!(trades.is_empty() && equity.len() == 50);
/// # Ok::<(), tracectx_backtest::SimulationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Simulation {
    /// Closed trades, in the order they closed.
    pub trades: Vec<Trade>,
    /// Trades still open after the last bar.
    pub open_trades: Vec<OpenTrade>,
    /// Equity at every bar's close: starting cash through the warm-up, then
    /// `cash + (close * units held - sum of size * entry price)`; 0 from a bar where it
    /// reached zero or less.
    pub equity: Vec<f64>,
}

impl Simulation {
    /// The closed trades and the equity curve.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
    /// let bars = Bars::synthetic(3, 1);
    /// let (trades, equity) = simulate(&bars, &Signals::new(vec![Decision::Hold; 3], 0), &BacktestSettings::default())?
    ///     .into_parts();
    /// assert_eq!((trades.len(), equity.len()), (0, 3));
    /// # Ok::<(), tracectx_backtest::SimulationError>(())
    /// ```
    pub fn into_parts(self) -> (Vec<Trade>, Vec<f64>) {
        (self.trades, self.equity)
    }
}

// === simulation ===

/// Python's float floor division `a // b`, as CPython computes it.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::floor_div;
/// assert_eq!(floor_div(7.0, 2.0), 3.0);
/// assert_eq!(floor_div(-7.0, 2.0), -4.0);
/// assert_eq!(floor_div(1.0, 0.1), 9.0); // as Python: 1 // 0.1 == 9.0
/// ```
pub fn floor_div(a: f64, b: f64) -> f64 {
    // The common case, sizing an order, without the remainder (a slow operation): for
    // finite `a > 0`, `b > 0` and a quotient below 2^51, CPython's result is the exact
    // quotient truncated, `Q`. `q = floor(a / b)` is `Q` or `Q + 1` (rounding is monotone
    // and `Q + 1` is representable), and the rounded product `q * b` tells which, since
    // rounding cannot carry it across the representable `a`: below `a` means `q * b <= a`
    // (so `q = Q`), above means `q * b > a` (so `q = Q + 1`). Equal to `a` decides nothing:
    // the general path below.
    const FAST_LIMIT: f64 = (1u64 << 51) as f64;
    if a > 0.0 && a <= f64::MAX && b > 0.0 && b <= f64::MAX {
        let q = (a / b).floor();
        if q < FAST_LIMIT {
            let p = q * b;
            if p < a {
                return q;
            }
            if p > a {
                return q - 1.0;
            }
        }
    }
    floor_div_general(a, b)
}

/// [`floor_div`] for any operands, step by step as CPython's `float_floor_div`.
fn floor_div_general(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut d = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        d -= 1.0;
    }
    if d != 0.0 {
        let mut q = d.floor();
        if d - q > 0.5 {
            q += 1.0;
        }
        q
    } else {
        0.0_f64.copysign(a / b)
    }
}

struct Open {
    size: f64,
    entry_price: f64,
    entry_bar: usize,
    entry_time: i64,
}

struct Account<'a> {
    bars: &'a Bars,
    settings: &'a BacktestSettings,
    cash: f64,
    open: Vec<Open>,
    trades: Vec<Trade>,
}

impl Account<'_> {
    /// Commission on a fill of `size` units at `price`.
    fn fee(&self, size: f64, price: f64) -> f64 {
        size.abs() * price * self.settings.commission
    }

    /// `price` moved against a fill that buys (`buy`) or sells.
    fn slipped(&self, price: f64, buy: bool) -> f64 {
        let s = self.settings.slippage;
        if s == 0.0 {
            price
        } else if buy {
            price * (1.0 + s)
        } else {
            price * (1.0 - s)
        }
    }

    /// Closes every open trade at `raw_price` (before slippage) on `bar`, whose time is
    /// `exit_time`.
    fn close_all(&mut self, raw_price: f64, bar: usize, exit_time: i64) {
        // Drained rather than taken: the list keeps its room for the next entry.
        let mut open = std::mem::take(&mut self.open);
        for trade in open.drain(..) {
            let price = self.slipped(raw_price, trade.size < 0.0);
            let fee_exit = self.fee(trade.size, price);
            let gross = trade.size * (price - trade.entry_price);
            self.cash += gross - fee_exit;
            let commission = fee_exit + self.fee(trade.size, trade.entry_price);
            let entry_time = trade.entry_time;
            self.trades.push(Trade {
                size: trade.size,
                entry_bar: trade.entry_bar,
                exit_bar: bar,
                entry_price: trade.entry_price,
                exit_price: price,
                entry_time: Timestamp::from_micros(entry_time),
                exit_time: Timestamp::from_micros(exit_time),
                pnl: trade.size * (price - trade.entry_price) - commission,
                return_frac: 1f64.copysign(trade.size) * (price / trade.entry_price - 1.0)
                    - commission / (trade.size.abs() * trade.entry_price),
                commission,
                duration_secs: (exit_time - entry_time) as f64 / 1e6,
            });
        }
        self.open = open;
    }

    /// Sizes and opens a trade at `open[bar]` with all available cash (flat by now).
    fn enter(&mut self, long: bool, open: f64, bar: usize, time: i64) {
        let settings = self.settings;
        let fraction = if long { FULL_EQUITY } else { -FULL_EQUITY };
        let p = self.slipped(open, long);
        let adjusted = p * (1.0 + settings.spread.copysign(fraction));
        let appc = adjusted + self.fee(fraction, p) / fraction.abs();
        let close = self.bars.close()[bar];
        let (units, held) = self.position();
        let equity = self.cash + (close * units - held);
        let used: f64 = self.open.iter().map(|t| t.size.abs() * close).sum();
        let available = (equity - used).max(0.0);
        let units = if settings.fractional_units {
            available * fraction.abs() / appc
        } else {
            floor_div(available * fraction.abs(), appc)
        };
        // `units` is NaN or zero when nothing is available.
        if units.is_nan() || units <= 0.0 || units * appc > available {
            return; // not enough cash for one unit: the order is cancelled
        }
        let size = if long { units } else { -units };
        self.cash -= self.fee(size, adjusted);
        self.open.push(Open {
            size,
            entry_price: adjusted,
            entry_bar: bar,
            entry_time: time,
        });
    }

    /// The trades still open, valued at the last close.
    fn open_trades(&self) -> Vec<OpenTrade> {
        let (t, close) = (self.bars.timestamps(), self.bars.close());
        let last_close = close[close.len() - 1];
        self.open
            .iter()
            .map(|o| {
                let commission = self.fee(o.size, o.entry_price);
                OpenTrade {
                    size: o.size,
                    entry_bar: o.entry_bar,
                    entry_price: o.entry_price,
                    entry_time: Timestamp::from_micros(t[o.entry_bar]),
                    commission,
                    unrealized_pnl: o.size * (last_close - o.entry_price) - commission,
                }
            })
            .collect()
    }

    /// Units held and the sum of `size * entry_price` over open trades.
    fn position(&self) -> (f64, f64) {
        match self.open.as_slice() {
            [] => (0.0, 0.0),
            [t] => (t.size, t.size * t.entry_price),
            many => many.iter().fold((0.0, 0.0), |(u, h), t| {
                (u + t.size, h + t.size * t.entry_price)
            }),
        }
    }
}

/// How the simulation finds the next decision.
enum Next<'s> {
    /// Looking through the decisions.
    Scan,
    /// Down the list of the bars with one ([`Signals::moves`]), from `at`.
    Listed { moves: &'s [u32], at: usize },
}

impl Next<'_> {
    /// The first bar from `from` on whose decision is not [`Decision::Hold`]; `from` never
    /// goes back from one call to the next.
    #[inline]
    fn find(&mut self, decisions: &[Decision], from: usize) -> Option<usize> {
        match self {
            Next::Scan => next_decision(decisions, from),
            Next::Listed { moves, at } => {
                while moves.get(*at).is_some_and(|&b| (b as usize) < from) {
                    *at += 1;
                }
                moves.get(*at).map(|&b| b as usize)
            }
        }
    }
}

/// Decisions looked at together by [`next_decision`] and [`entries`]: one comparison of a
/// block of bytes, which the compiler vectorizes.
const SCAN_BLOCK: usize = 32;

/// The first bar from `from` on whose decision is not [`Decision::Hold`]. Decisions are
/// rare (a strategy trading every few dozen bars): the blocks without one are passed over
/// whole.
#[inline]
fn next_decision(decisions: &[Decision], from: usize) -> Option<usize> {
    let rest = decisions.get(from..)?;
    let mut blocks = rest.chunks_exact(SCAN_BLOCK);
    let mut at = from;
    for block in &mut blocks {
        let any = block
            .iter()
            .fold(false, |any, &d| any | (d != Decision::Hold));
        if any {
            return block
                .iter()
                .position(|&d| d != Decision::Hold)
                .map(|p| at + p);
        }
        at += SCAN_BLOCK;
    }
    let tail = blocks.remainder();
    tail.iter()
        .position(|&d| d != Decision::Hold)
        .map(|p| at + p)
}

/// The number of entries (long or short) among `decisions`, counted a block at a time in
/// bytes.
fn entries(decisions: &[Decision]) -> usize {
    let is_entry = |d: &Decision| u8::from(matches!(d, Decision::EnterLong | Decision::EnterShort));
    let mut blocks = decisions.chunks_exact(4 * SCAN_BLOCK);
    let whole: usize = (&mut blocks)
        .map(|b| usize::from(b.iter().map(is_entry).fold(0_u8, u8::wrapping_add)))
        .sum();
    whole
        + blocks
            .remainder()
            .iter()
            .map(is_entry)
            .map(usize::from)
            .sum::<usize>()
}

/// The fewest bars whose opens and times [`stream`] reads ahead: 2 MiB of them, more than a
/// core's cache keeps beside the rest of a session.
const STREAM_MIN_BARS: usize = 1 << 17;

/// Reads one value per cache line of `open` and `times`, so that the hardware prefetcher
/// streams the columns the fills read at scattered bars.
#[inline]
fn stream(open: &[f64], times: &[i64]) {
    let o = open.iter().step_by(8).fold(0, |a, &p| a | p.to_bits());
    let t = times.iter().step_by(8).fold(0, |a, &ts| a | ts);
    std::hint::black_box((o, t));
}

/// Runs the execution model over `bars` with the strategy's `signals`.
///
/// See the [module docs](self) for the model. Decisions before
/// [`Signals::first_decision_bar`] and on the last bar are never filled.
///
/// # Errors
///
/// [`SimulationError::Settings`] when a setting is out of range,
/// [`SimulationError::LengthMismatch`] when there is not one decision per bar,
/// [`SimulationError::Overflow`] when cash and prices are so large that the account's value
/// is no longer a finite number (`1e308` of cash on prices near `1e307`).
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, BacktestSettings, Bars, Decision, Signals};
///
/// let day = 86_400_000_000;
/// let bars = Bars::new(
///     (0..5).map(|i| i * day).collect(),
///     vec![10.0, 10.0, 12.0, 11.0, 13.0], // open
///     vec![10.0, 11.0, 12.0, 11.0, 14.0], // high
///     vec![10.0, 10.0, 12.0, 11.0, 13.0], // low
///     vec![10.0, 11.0, 12.0, 11.0, 14.0], // close
///     None,
/// )?;
/// let mut d = vec![Decision::Hold; 5];
/// d[1] = Decision::EnterLong; // decided at bar 1's close, filled at bar 2's open (12)
/// d[3] = Decision::Exit;      // filled at bar 4's open (13)
/// let run = simulate(&bars, &Signals::new(d, 0), &BacktestSettings::new(100.0))?;
/// let t = &run.trades[0];
/// assert_eq!((t.size, t.entry_bar, t.entry_price, t.exit_price), (8.0, 2, 12.0, 13.0));
/// assert_eq!(run.equity, [100.0, 100.0, 100.0, 92.0, 108.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate(
    bars: &Bars,
    signals: &Signals,
    settings: &BacktestSettings,
) -> Result<Simulation, SimulationError> {
    // Zeroed by the allocator: a long curve in a fresh process gets pages that come zeroed.
    let mut equity = vec![0.0; bars.len()];
    let (trades, open_trades) = simulate_into(bars, signals, settings, &mut equity, &mut |_| {})?;
    Ok(Simulation {
        trades,
        open_trades,
        equity,
    })
}

/// Past this bound on a segment's marks (`|cash| + |units| * max close + |held|`), they are
/// checked for overflow one by one; below it, rounding cannot take any of them past
/// `f64::MAX`.
const OVERFLOW_GUARD: f64 = f64::MAX / 4.0;

/// How many bars of the equity curve [`simulate_into`] hands over at a time (about 128 KB).
const PIECE_BARS: usize = 1 << 14;

/// [`simulate`] writing the equity curve into `equity` (one value per bar) and handing each
/// finished piece of it, in order, to `done` as soon as it is written: pieces of about
/// [`PIECE_BARS`] bars, which together cover the whole curve. A session reads them into its
/// statistics while the simulation goes on. Returns the closed and the open trades.
pub(crate) fn simulate_into<'a>(
    bars: &Bars,
    signals: &Signals,
    settings: &BacktestSettings,
    equity: &'a mut [f64],
    done: &mut dyn FnMut(&'a [f64]),
) -> Result<(Vec<Trade>, Vec<OpenTrade>), SimulationError> {
    crate::wide::run(
        #[inline(always)]
        || simulate_here(bars, signals, settings, equity, done),
    )
}

/// [`simulate_into`] as built for whatever calls it.
#[inline(always)]
fn simulate_here<'a>(
    bars: &Bars,
    signals: &Signals,
    settings: &BacktestSettings,
    equity: &'a mut [f64],
    done: &mut dyn FnMut(&'a [f64]),
) -> Result<(Vec<Trade>, Vec<OpenTrade>), SimulationError> {
    settings.validate()?;
    let n = bars.len();
    if signals.len() != n {
        return Err(SimulationError::LengthMismatch {
            bars: n,
            decisions: signals.len(),
        });
    }
    debug_assert_eq!(equity.len(), n);
    let decisions = signals.decisions();
    let open_px = bars.open();
    let close_px = bars.close();
    let max_close = bars.max_close();
    let start = signals.first_decision_bar().min(n);
    let mut next = match signals.moves() {
        Some(moves) => Next::Listed { moves, at: 0 },
        None => Next::Scan,
    };
    // `rest` is the curve from bar `handed` on, not handed over yet; it always keeps the last
    // bar, which closing at the end may still change.
    let (warmup, mut rest) = equity.split_at_mut(start);
    warmup.fill(settings.cash);
    let mut acct = Account {
        bars,
        settings,
        cash: settings.cash,
        open: Vec::with_capacity(1),
        // Every closed trade was opened by an entry decision: room for all of them up front
        // saves the copies of a growing list (about 5 MB for 55,000 trades).
        trades: Vec::with_capacity(match &next {
            Next::Listed { moves, .. } => moves
                .iter()
                .filter(|&&b| {
                    b as usize >= start
                        && matches!(
                            decisions[b as usize],
                            Decision::EnterLong | Decision::EnterShort
                        )
                })
                .count(),
            Next::Scan => entries(&decisions[start..]),
        }),
    };
    done(warmup);
    let mut handed = start;
    let t = bars.timestamps();
    let mut pending = Decision::Hold;
    let mut bankrupt = false;
    let mut s = start;
    // A short series stays in the core's cache from one session to the next: nothing to
    // stream.
    let streamed = n >= STREAM_MIN_BARS;
    let (mut fill_open, mut fill_time) = match (open_px.get(s), t.get(s)) {
        (Some(&p), Some(&ts)) => (p, ts),
        _ => (f64::NAN, 0),
    };
    // Segment by segment: a fill at bar `s`, then bars `s..=j` hold the same position up to
    // the next decision `j`, so their marks are one affine map of the closes, written in a
    // loop the compiler vectorizes (the same operations per bar as one at a time).
    while s < n {
        match pending {
            Decision::Hold => {}
            Decision::Exit => acct.close_all(fill_open, s, fill_time),
            Decision::EnterLong | Decision::EnterShort => {
                acct.close_all(fill_open, s, fill_time);
                acct.enter(pending == Decision::EnterLong, fill_open, s, fill_time);
            }
        }
        let j = next.find(decisions, s).unwrap_or(n - 1);
        if let (Some(&p), Some(&ts)) = (open_px.get(j + 1), t.get(j + 1)) {
            (fill_open, fill_time) = (p, ts);
        }
        let (units, held) = acct.position();
        let cash = acct.cash;
        let marks = &mut rest[s - handed..=j - handed];
        // Each mark, and whether any is zero or less (ruin), in one loop.
        let ruined = marks
            .iter_mut()
            .zip(&close_px[s..=j])
            .fold(false, |ruined, (e, &c)| {
                *e = cash + (c * units - held);
                ruined | (*e <= 0.0)
            });
        if streamed {
            stream(&open_px[s..=j], &t[s..=j]);
        }
        // Overflow (an infinite or NaN mark) needs a value near f64::MAX: only when the
        // bound of every mark of the segment is that large are the marks looked at for it.
        // The ruin test (zero or less) is one comparison a mark, above.
        let bound = cash.abs() + (units.abs() * max_close + held.abs());
        if bound.is_nan() || bound > OVERFLOW_GUARD {
            if let Some(p) = marks.iter().position(|e| !e.is_finite()) {
                let k = s + p;
                return Err(SimulationError::Overflow {
                    bar: k,
                    time: Timestamp::from_micros(t[k]),
                });
            }
        }
        if ruined {
            let k = s + marks.iter().position(|&e| e <= 0.0).unwrap_or(0);
            acct.close_all(close_px[k], k, t[k]);
            acct.cash = 0.0;
            rest[k - handed..].fill(0.0);
            bankrupt = true;
            break;
        }
        pending = decisions[j];
        s = j + 1;
        if s - handed >= PIECE_BARS && s < n {
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(s - handed);
            done(piece);
            rest = tail;
            handed = s;
        }
    }
    if settings.close_at_end && !bankrupt && !acct.open.is_empty() {
        acct.close_all(close_px[n - 1], n - 1, t[n - 1]);
        if !acct.cash.is_finite() {
            return Err(SimulationError::Overflow {
                bar: n - 1,
                time: Timestamp::from_micros(t[n - 1]),
            });
        }
        if let Some(last) = rest.last_mut() {
            *last = acct.cash;
        }
    }
    done(rest);
    let open_trades = acct.open_trades();
    Ok((acct.trades, open_trades))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64, for reproducible operands.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn same(a: f64, b: f64) {
        let (fast, general) = (floor_div(a, b), floor_div_general(a, b));
        assert_eq!(
            fast.to_bits(),
            general.to_bits(),
            "floor_div({a:e}, {b:e}): {fast:e}, step by step {general:e}"
        );
    }

    #[test]
    fn block_scans_find_what_a_walk_finds() {
        let kinds = [
            Decision::Hold,
            Decision::EnterLong,
            Decision::EnterShort,
            Decision::Exit,
        ];
        let mut state = 7;
        for len in [0, 1, 31, 32, 33, 127, 128, 129, 300, 1_000] {
            for density in [0, 1, 5, 60] {
                let decisions: Vec<Decision> = (0..len)
                    .map(|_| match next(&mut state) % 64 {
                        r if r < density => kinds[(r % 3 + 1) as usize],
                        _ => Decision::Hold,
                    })
                    .collect();
                let walked = decisions
                    .iter()
                    .filter(|d| matches!(d, Decision::EnterLong | Decision::EnterShort))
                    .count();
                assert_eq!(entries(&decisions), walked, "{len} decisions");
                for from in 0..=len + 1 {
                    let walked = decisions
                        .get(from..)
                        .and_then(|rest| rest.iter().position(|&d| d != Decision::Hold))
                        .map(|p| from + p);
                    assert_eq!(
                        next_decision(&decisions, from),
                        walked,
                        "from {from} of {len}"
                    );
                }
            }
        }
        // Every one an entry: more than a byte's count in a block.
        assert_eq!(entries(&[Decision::EnterShort; 1_000]), 1_000);
    }

    /// The execution model one bar at a time, as the module docs state it.
    fn bar_by_bar(bars: &Bars, signals: &Signals, settings: &BacktestSettings) -> Simulation {
        let n = bars.len();
        let (open_px, close_px, t) = (bars.open(), bars.close(), bars.timestamps());
        let decisions = signals.decisions();
        let start = signals.first_decision_bar().min(n);
        let mut equity = vec![settings.cash; start];
        let mut acct = Account {
            bars,
            settings,
            cash: settings.cash,
            open: Vec::new(),
            trades: Vec::new(),
        };
        let mut pending = Decision::Hold;
        let mut bankrupt = false;
        for i in start..n {
            match pending {
                Decision::Hold => {}
                Decision::Exit => acct.close_all(open_px[i], i, t[i]),
                Decision::EnterLong | Decision::EnterShort => {
                    acct.close_all(open_px[i], i, t[i]);
                    acct.enter(pending == Decision::EnterLong, open_px[i], i, t[i]);
                }
            }
            let (units, held) = acct.position();
            let e = acct.cash + (close_px[i] * units - held);
            if e <= 0.0 {
                acct.close_all(close_px[i], i, t[i]);
                acct.cash = 0.0;
                equity.resize(n, 0.0);
                bankrupt = true;
                break;
            }
            equity.push(e);
            pending = decisions[i];
        }
        if settings.close_at_end && !bankrupt && !acct.open.is_empty() {
            acct.close_all(close_px[n - 1], n - 1, t[n - 1]);
            equity[n - 1] = acct.cash;
        }
        let open_trades = acct.open_trades();
        Simulation {
            trades: acct.trades,
            open_trades,
            equity,
        }
    }

    /// `bars` with every price from bar `from` on tripled: a short held across it is ruined.
    fn jump(bars: &Bars, from: usize) -> Bars {
        let scale = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .enumerate()
                .map(|(i, &p)| if i >= from { p * 3.0 } else { p })
                .collect()
        };
        Bars::new(
            bars.timestamps().to_vec(),
            scale(bars.open()),
            scale(bars.high()),
            scale(bars.low()),
            scale(bars.close()),
            None,
        )
        .unwrap()
    }

    #[test]
    fn segments_give_what_bar_by_bar_gives() {
        let mut state = 11;
        let mut ruined = 0;
        for case in 0..400 {
            // Some curves longer than a piece.
            let n = if case % 10 == 0 {
                PIECE_BARS * 2 + (next(&mut state) % 600) as usize
            } else {
                1 + (next(&mut state) % 600) as usize
            };
            let bars = if case % 4 == 0 {
                jump(&Bars::synthetic(n, case), n / 2)
            } else {
                Bars::synthetic(n, case)
            };
            // Sparse to dense decisions, every kind, from any first bar.
            let density = 1 + next(&mut state) % 40;
            let decisions: Vec<Decision> = (0..n)
                .map(|_| match next(&mut state) % (4 * density) {
                    0 => Decision::EnterLong,
                    1 => Decision::EnterShort,
                    2 => Decision::Exit,
                    _ => Decision::Hold,
                })
                .collect();
            let warmup = (next(&mut state) % 30) as usize;
            let signals = Signals::new(decisions, warmup.min(n - 1));
            let pick = next(&mut state);
            let settings = BacktestSettings::new([10_000.0, 150.0, 1e9][(pick % 3) as usize])
                .with_commission([0.0, 0.002, -0.001, 0.09][(pick / 3 % 4) as usize])
                .with_spread([0.0, 0.001][(pick / 12 % 2) as usize])
                .with_slippage([0.0, 0.05][(pick / 24 % 2) as usize])
                .with_fractional_units(pick / 48 % 2 == 1)
                .with_close_at_end(pick / 96 % 2 == 1);
            let fast = simulate(&bars, &signals, &settings).unwrap();
            let slow = bar_by_bar(&bars, &signals, &settings);
            // The same decisions with the list of their bars: the same run.
            let moves = signals
                .decisions()
                .iter()
                .enumerate()
                .filter(|(_, d)| **d != Decision::Hold)
                .map(|(i, &d)| (i, d))
                .collect::<Vec<_>>();
            let listed = Signals::from_moves(n, signals.warmup(), moves.into_iter());
            assert!(listed.moves().is_some() && listed == signals);
            assert_eq!(
                simulate(&bars, &listed, &settings).unwrap(),
                fast,
                "case {case}: listed"
            );
            // Handed over in pieces, the curve is the same, in order, with nothing missing.
            let mut equity = vec![f64::NAN; n];
            let mut pieces = Vec::new();
            let (trades, _) = simulate_into(&bars, &signals, &settings, &mut equity, &mut |p| {
                pieces.extend_from_slice(p)
            })
            .unwrap();
            assert_eq!(pieces, slow.equity, "case {case}: pieces");
            assert_eq!(equity, slow.equity, "case {case}: curve");
            assert_eq!(trades, slow.trades, "case {case}: trades");
            // The build for the target's baseline (`simulate_into` may be AVX2's): the same.
            let mut baseline = vec![f64::NAN; n];
            let (baseline_trades, _) =
                simulate_here(&bars, &signals, &settings, &mut baseline, &mut |_| {}).unwrap();
            assert_eq!(baseline_trades, trades, "case {case}: baseline trades");
            ruined += usize::from(fast.equity.last() == Some(&0.0));
            assert_eq!(fast, slow, "case {case}: {n} bars, {settings:?}");
            let bits = |e: &[f64]| e.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast.equity), bits(&slow.equity), "case {case}");
            assert_eq!(bits(&baseline), bits(&equity), "case {case}: baseline");
        }
        // The cases include ruined accounts (equity 0 to the end).
        assert!(ruined > 0, "no case ran out of money");
    }

    #[test]
    fn floor_div_fast_path_is_the_general_one() {
        let mut state = 7;
        for _ in 0..2_000_000 {
            // Cash-like dividends and price-like divisors, over many magnitudes.
            let a = (next(&mut state) >> 11) as f64 / (1u64 << 53) as f64
                * 10f64.powi((next(&mut state) % 16) as i32);
            let b = (next(&mut state) >> 11) as f64 / (1u64 << 53) as f64
                * 10f64.powi((next(&mut state) % 10) as i32 - 4);
            same(a, b);
            // Quotients on and next to whole numbers, where rounding decides.
            let k = (next(&mut state) % 1_000_000) as f64;
            let on = k * b;
            for x in [on, on.next_up(), on.next_down(), (k + 1.0) * b.next_down()] {
                same(x, b);
            }
        }
        let edges = [
            0.0,
            -0.0,
            1e-310,
            f64::MIN_POSITIVE,
            1.0,
            3.0,
            1e300,
            f64::MAX,
        ];
        for a in edges.into_iter().chain([f64::INFINITY, f64::NAN, -2.5]) {
            for b in edges
                .into_iter()
                .chain([f64::INFINITY, f64::NAN, -0.1, 0.1])
            {
                same(a, b);
            }
        }
        // Quotients around the fast path's limit.
        for q in [(1u64 << 51) - 1, 1 << 51, (1 << 51) + 1, 1 << 53] {
            for b in [0.1, 1.0, 3.7] {
                let a = q as f64 * b;
                same(a, b);
                same(a.next_up(), b);
                same(a.next_down(), b);
            }
        }
    }
}
