//! An event-free, vectorised backtest engine whose results can be checked against a widely
//! used peer.
//!
//! The pieces, each in its own module:
//!
//! - [`data`]: [`Bars`], columnar OHLCV with `i64` microsecond times; CSV loading with typed
//!   [`DataError`]s that name file, line and column; [`Bars::synthetic`] for tests and demos.
//! - [`strategy`]: a strategy is `Fn(&Bars, &Params) -> Result<Signals, StrategyError>`;
//!   typed [`Params`]; indicators ([`sma`], [`crossover`]); the built-in [`sma_cross`].
//! - [`execution`]: [`simulate`], the execution model (fills at the next open, whole units,
//!   commission on both sides, exclusive orders) with [`BacktestSettings`].
//! - [`stats`]: [`Stats::compute`], every figure of the reference's summary.
//! - [`result`]: [`Trade`], [`OpenTrade`] and the JSON [`Report`].
//!
//! With default settings the model and the statistics are those of backtesting.py 0.6.6 run
//! as `Backtest(data, strategy, cash=C, commission=c, exclusive_orders=True)`: the same trade
//! list to the bit and every statistic within `1e-9` relative (`scripts/crosscheck.sh`
//! checks it on the reference's own data).
//!
//! # Examples
//!
//! ```
//! use tracectx::backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Report, Stats};
//!
//! let bars = Bars::synthetic(2_000, 42);
//! let params = Params::new().with("fast", 10).with("slow", 20);
//! let signals = sma_cross(&bars, &params)?;
//! let settings = BacktestSettings::new(10_000.0).with_commission(0.002);
//! let run = simulate(&bars, &signals, &settings)?;
//! let stats = Stats::compute(&bars, &run.equity, &run.trades, signals.warmup())?;
//! println!("{}", Report::new(&stats, &run.trades, &run.open_trades).to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod data;
pub mod execution;
pub mod result;
pub mod stats;
pub mod strategy;
mod time;

pub use data::{Bar, Bars, DataError, DataErrorKind};
pub use execution::{
    floor_div, simulate, BacktestSettings, SettingsError, Simulation, SimulationError,
};
pub use result::{OpenTrade, Report, Trade};
pub use stats::{Stats, StatsError};
pub use strategy::{
    builtin, crossover, sma, sma_cross, warmup, Decision, ParamError, ParamValue, Params, SignalFn,
    Signals, StrategyError, BUILTIN_STRATEGIES,
};
pub use time::Timestamp;
