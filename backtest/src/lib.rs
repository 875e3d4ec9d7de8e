//! An event-free, vectorised backtest engine whose results can be checked against a widely
//! used peer.
//!
//! The pieces, each in its own module:
//!
//! - [`data`]: [`Bars`], columnar OHLCV with `i64` microsecond times; CSV loading with typed
//!   [`DataError`]s that name file, line and column; [`Bars::synthetic`] for tests and demos.
//! - [`strategy`]: a [`Strategy`] is any
//!   `Fn(&Bars, &Params) -> Result<Signals, StrategyError>`; typed [`Params`]; indicators
//!   ([`sma`], [`crossover`]); the built-in [`sma_cross`].
//! - [`trade`]: [`Trade`] and [`OpenTrade`], the trades of a run.
//! - [`execution`]: [`simulate`], the execution model (fills at the next open, whole units,
//!   commission on both sides, exclusive orders) with [`BacktestSettings`].
//! - [`stats`]: [`Stats::compute`], every figure of the reference's summary, each also a
//!   [`Statistic`] by name.
//! - [`result`]: what a session produces, [`BacktestResult`] (statistics, trades, equity and
//!   [`RunMetadata`]: run id, trace and span ids from the current trace context, data
//!   fingerprint, timing), and the JSON [`Report`] of the figures.
//! - [`grid`]: [`ParamGrid`], every combination of some parameters' values, capped.
//! - [`error`]: [`BacktestError`], a failed session with its run id.
//! - [`kind`]: the trading kinds of a [`tracectx::Error`] (`strategy`, `backtest`,
//!   `execution`, `risk`) for code built on the engine.
//! - [`panics`]: a strategy that panics fails its session only; [`quiet_strategy_panics`]
//!   (called at the start of `main`) also keeps that panic off standard error and logs it
//!   under the session's run instead.
//! - [`session`]: one session, synchronously or on the blocking pool under its own trace
//!   context ([`RunOptions`]).
//! - [`sweep`]: many sessions at once, each its own run: batches of [`BacktestJob`]s with
//!   bounded concurrency and a progress callback ([`BatchOptions`]), and sweeps over a
//!   [`ParamGrid`] ranked by a statistic ([`RankBy`]) into a [`SweepReport`].
//! - [`stream`]: live and paper sessions fed bar by bar, ending with the batch result.
//! - `report` (feature `report`): HTML pages of a session (`BacktestResult::write_html`) and
//!   of a sweep (`SweepReport::write_html`), charts drawn with plotters' SVG backend.
//! - [`engine`]: [`BacktestEngine`], whose methods are every way to run sessions:
//!   [`run`](BacktestEngine::run) (one session, synchronously),
//!   [`run_realistic`](BacktestEngine::run_realistic) (an async session under its own trace
//!   context on the blocking pool, logging its start and end),
//!   [`run_batch`](BacktestEngine::run_batch), [`sweep`](BacktestEngine::sweep),
//!   [`run_stream`](BacktestEngine::run_stream) and [`run_channel`](BacktestEngine::run_channel).
//!
//! Dependencies run one way, down this list: a module uses only modules listed before it
//! (and `tracectx::time` and the private `quote`, which any may use). `data` depends on
//! nothing else of the crate, `strategy` on `data`, `trade` on `tracectx::time` alone,
//! `execution` on those three, `stats` on `data` and `trade`, `result` on `execution` and
//! `stats`, `grid` on `strategy`, `error` on the errors of those, `kind` and `panics` on nothing,
//! `session` on all of these, `sweep` and `stream` on `session` (not on each other), `report`
//! on `result` and `sweep`, and `engine`, on top, on `session`, `sweep` and `stream`, to
//! which its methods hand their work.
//!
//! With default settings the model and the statistics are those of backtesting.py 0.6.6 run
//! as `Backtest(data, strategy, cash=C, commission=c, exclusive_orders=True)`: the same trade
//! list to the bit and every statistic within `1e-9` relative (`scripts/crosscheck.sh`
//! checks it on the reference's own data).
//!
//! # Examples
//!
//! A sweep: every combination a session of its own, on every core, ranked; every log line
//! of a session stamped with its run id:
//!
//! ```
//! use std::sync::Arc;
//! use tracectx_backtest::{
//!     sma_cross, BacktestEngine, BacktestSettings, BatchOptions, Bars, Named, ParamGrid, RankBy,
//!     Statistic,
//! };
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
//! let data = Arc::new(Bars::synthetic(5_000, 42)); // shared by every session, not copied
//! let grid = ParamGrid::new().parse_axis("fast=5:20:5")?.parse_axis("slow=30:90:20")?;
//! let report = engine
//!     .sweep(&data, Named::new("sma-cross", sma_cross), &grid, RankBy::new(Statistic::Sharpe), BatchOptions::new())
//!     .await;
//! let best = report.best().unwrap();
//! println!("best: {} ({}) sharpe {:?}", best.metadata.params, best.metadata.run_id.as_deref().unwrap(), best.stats.sharpe);
//! # Ok(()) }
//! ```
//!
//! One session inside a trace context, synchronously; the result knows its run:
//!
//! ```
//! use tracectx_backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
//! use tracectx::TraceContext;
//!
//! let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
//! let bars = Bars::synthetic(2_000, 42);
//! let params = Params::new().with("fast", 10).with("slow", 20);
//! let ctx = TraceContext::generate("backtest");
//! let result = ctx.sync_scope(|| engine.run(&bars, &Named::new("sma-cross", sma_cross), &params))?;
//! assert_eq!(result.metadata.run_id.as_deref(), Some(ctx.run_id().as_str()));
//! println!("{}", result.to_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces one by one:
//!
//! ```
//! use tracectx_backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Report, Stats};
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
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod data;
pub mod engine;
pub mod error;
pub mod execution;
pub mod grid;
pub mod kind;
pub mod panics;
mod quote;
#[cfg(feature = "report")]
#[cfg_attr(docsrs, doc(cfg(feature = "report")))]
pub mod report;
pub mod result;
pub mod session;
pub mod stats;
pub mod strategy;
pub mod stream;
pub mod sweep;
pub mod trade;
mod wide;

pub use data::{Bar, Bars, BarsBuilder, DataError, DataErrorKind, parse_bar_time};
pub use engine::BacktestEngine;
pub use error::{BacktestError, BacktestErrorKind};
pub use execution::{
    BacktestSettings, SettingsError, Simulation, SimulationError, floor_div, simulate,
};
pub use grid::{Constraint, GridError, ParamGrid, Shard};
pub use panics::quiet_strategy_panics;
pub use result::{BacktestResult, Report, RunMetadata};
pub use session::RunOptions;
pub use stats::{Statistic, Stats, StatsError, UnknownStatistic};
pub use strategy::{
    BUILTIN_STRATEGIES, Builtin, Decision, Named, ParamError, ParamKind, ParamSpec, ParamValue,
    Params, SignalFn, Signals, Strategy, StrategyError, builtin, close_sma, crossover, sma,
    sma_cross, warmup,
};
pub use sweep::{
    BacktestJob, BatchOptions, Heatmap, HeatmapAxis, Leaderboard, Progress, RankBy, RecordError,
    SessionRecord, SweepReport, write_columns, write_ranked_table,
};
pub use tracectx::time::Timestamp;
pub use trade::{OpenTrade, Trade};
