//! The engine: [`BacktestEngine`], every way to run sessions with one set of settings, in
//! one place.
//!
//! [`BacktestEngine::run`] is the synchronous core: it calls the strategy (catching a panic so
//! that it fails this session only), simulates, computes the statistics and records the
//! metadata, reading the run's ids from the current [`TraceContext`](tracectx::TraceContext)
//! scope.
//!
//! [`BacktestEngine::run_realistic`] is the async session: it sets the session's own trace
//! context (`backtest_<suffix>`, or a child span of the caller's run), runs the CPU-bound core
//! on tokio's blocking pool under that context (a million bars must not stall the runtime's
//! workers), logs the start and the end, and returns the result or an error that names the
//! run. Many sessions at once are [`run_batch`](BacktestEngine::run_batch) and
//! [`sweep`](BacktestEngine::sweep); a live or paper session fed bar by bar is
//! [`run_stream`](BacktestEngine::run_stream).
//!
//! The methods are declared here, with their docs; each hands its work to the module of its
//! concern: one session to [`session`], batches and sweeps to
//! [`sweep`], live and paper sessions to [`stream`].

use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::{
    BacktestError, BacktestJob, BacktestResult, BacktestSettings, Bar, Bars, BatchOptions,
    ParamGrid, Params, RankBy, RunOptions, Strategy, SweepReport, session, stream, sweep,
};

// === impl BacktestEngine ===

/// Runs backtest sessions with one set of [`BacktestSettings`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
/// use tracectx::TraceContext;
///
/// let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
/// let bars = Bars::synthetic(2_000, 7);
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// let ctx = TraceContext::generate("backtest");
/// let result = ctx.sync_scope(|| engine.run(&bars, &Named::new("sma-cross", sma_cross), &params))?;
/// assert_eq!(result.metadata.run_id.as_deref(), Some(ctx.run_id().as_str()));
/// assert_eq!(result.stats.trades, result.trades.len());
/// # Ok::<(), tracectx_backtest::BacktestError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BacktestEngine {
    settings: BacktestSettings,
}

impl BacktestEngine {
    /// An engine with `settings`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{BacktestEngine, BacktestSettings};
    /// let engine = BacktestEngine::new(BacktestSettings::new(5_000.0));
    /// assert_eq!(engine.settings().cash, 5_000.0);
    /// ```
    pub const fn new(settings: BacktestSettings) -> Self {
        BacktestEngine { settings }
    }

    /// The engine's settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BacktestEngine;
    /// assert_eq!(BacktestEngine::default().settings().commission, 0.0);
    /// ```
    pub fn settings(&self) -> &BacktestSettings {
        &self.settings
    }

    /// Runs one session synchronously: signals, simulation, statistics, metadata.
    ///
    /// The run's ids are read from the current trace context scope. A panic inside the strategy
    /// is caught and returned as
    /// [`BacktestErrorKind::StrategyPanicked`](crate::BacktestErrorKind::StrategyPanicked), so
    /// it fails this session only.
    ///
    /// On 65,536 bars or more, and when the process may use more than one core, the session
    /// takes a second (scoped) thread: while the strategy computes its signals, that thread
    /// lays out the equity curve's memory; while the simulation writes the curve, it reads
    /// each finished piece into the statistics. The results are the same, to the bit, as on
    /// one thread. The sessions of [`run_batch`](Self::run_batch) and
    /// [`sweep`](Self::sweep), which run side by side, keep to one thread each.
    ///
    /// # Errors
    ///
    /// A [`BacktestError`] carrying the run id when the strategy fails or panics, or its
    /// signals do not fit the bars or the settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(500, 1), &sma_cross, &params)?;
    /// assert!(result.metadata.run_id.is_none()); // no trace context in scope
    /// assert_eq!(result.metadata.bars, 500);
    /// # Ok::<(), tracectx_backtest::BacktestError>(())
    /// ```
    pub fn run<S>(
        &self,
        bars: &Bars,
        strategy: &S,
        params: &Params,
    ) -> Result<BacktestResult, BacktestError>
    where
        S: Strategy + ?Sized,
    {
        session::run(&self.settings, bars, strategy, params, true)
    }

    /// Runs one session asynchronously under its own trace context, off the runtime's worker
    /// threads, and returns its result.
    ///
    /// The session's context is chosen when the future is first polled: inside a trace context
    /// scope, a [`child`](tracectx::TraceContext::child) of it (the session is a step of the
    /// caller's run: same run id and trace id, a new span whose parent is the caller's);
    /// outside any scope, a new run `backtest_<suffix>`. Under that context the CPU-bound core
    /// ([`run`](Self::run)) runs on tokio's blocking pool, so a long session never stalls the
    /// async workers, and logs `session started` (strategy, parameters, bars) and
    /// `session finished` (trades, return, Sharpe ratio, wall time) or `session failed`, each
    /// line stamped with the session's run. The returned future does not borrow the engine and is
    /// `Send + 'static`: spawn it, or join many.
    ///
    /// The data is an `Arc<Bars>` because the session runs on another thread: many sessions
    /// (a sweep over a million bars) share one copy of the bars instead of each cloning it.
    ///
    /// # Errors
    ///
    /// A [`BacktestError`] carrying the session's run id when the strategy fails or panics,
    /// its signals do not fit, or the session's task is cancelled. It fails this session
    /// only: other sessions, the engine and the runtime carry on.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
    /// let data = Arc::new(Bars::synthetic(5_000, 42));
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = engine.run_realistic(&data, Named::new("sma-cross", sma_cross), params).await?;
    /// let run_id = result.metadata.run_id.as_deref().unwrap();
    /// assert!(run_id.starts_with("backtest_"));
    /// assert_eq!(result.metadata.bars, 5_000);
    /// # Ok(()) }
    /// ```
    ///
    /// Inside a run, the session is a child span of it:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ctx = TraceContext::new("nightly_batch")?;
    /// let data = Arc::new(Bars::synthetic(500, 1));
    /// let params = Params::new().with("fast", 5).with("slow", 10);
    /// let result = BacktestEngine::default()
    ///     .run_realistic(&data, sma_cross, params)
    ///     .in_trace_context(ctx.clone())
    ///     .await?;
    /// assert_eq!(result.metadata.run_id.as_deref(), Some("nightly_batch"));
    /// assert_eq!(result.metadata.parent_span_id, Some(ctx.span_id()));
    /// # Ok(()) }
    /// ```
    pub fn run_realistic<S>(
        &self,
        data: &Arc<Bars>,
        strategy: S,
        params: Params,
    ) -> impl Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        self.run_realistic_with(data, strategy, params, RunOptions::new())
    }

    /// [`run_realistic`](Self::run_realistic) with [`RunOptions`]: a given trace context, a
    /// reproduction record to keep in the metadata.
    ///
    /// # Errors
    ///
    /// As [`run_realistic`](Self::run_realistic).
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, RunOptions};
    /// use tracectx::ReproContext;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let repro = ReproContext::create(7).with_param("fast", 10).with_param("slow", 20);
    /// let data = Arc::new(Bars::synthetic(1_000, repro.seed()));
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = BacktestEngine::default()
    ///     .run_realistic_with(&data, sma_cross, params, RunOptions::new().repro(repro))
    ///     .await?;
    /// let json: serde_json::Value = serde_json::from_str(&result.to_json())?;
    /// assert_eq!(json["metadata"]["repro"]["seed"], 7);
    /// assert_eq!(json["metadata"]["repro"]["run_id"], json["metadata"]["run_id"]);
    /// # Ok(()) }
    /// ```
    pub fn run_realistic_with<S>(
        &self,
        data: &Arc<Bars>,
        strategy: S,
        params: Params,
        options: RunOptions,
    ) -> impl Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        session::realistic(self.settings, Arc::clone(data), strategy, params, options)
    }

    /// Runs `jobs` with at most [`BatchOptions::concurrency`] sessions at once and returns
    /// their outcomes in the jobs' order.
    ///
    /// The batch is a run (the caller's inside a scope, else `batch_<suffix>`); every session
    /// is a run of its own (`backtest_<suffix>`) in the batch's trace, named as the batch's
    /// child in [`parent_run_id`](super::RunMetadata::parent_run_id), and runs as
    /// [`run_realistic`](Self::run_realistic) does: on the blocking pool, logging its start
    /// and end under its own run id, but on one thread (the batch's sessions keep the cores
    /// busy side by side). A session that fails (its strategy errs or panics) is an
    /// `Err` naming its run; the others go on. The progress callback hears of each session as
    /// it completes. The future is `Send + 'static`.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestJob, BatchOptions, Bars, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let data = Arc::new(Bars::synthetic(3_000, 1));
    /// let jobs = (1..=4).map(|k| {
    ///     BacktestJob::new(&data, sma_cross, Params::new().with("fast", 5 * k).with("slow", 50))
    /// });
    /// let outcomes = BacktestEngine::default()
    ///     .run_batch(jobs, BatchOptions::new().concurrency(2).on_progress(|p| println!("{}/{}", p.done, p.total)))
    ///     .await;
    /// let ids: std::collections::HashSet<_> =
    ///     outcomes.iter().map(|o| o.as_ref().unwrap().metadata.run_id.clone()).collect();
    /// assert_eq!(ids.len(), 4); // each session its own run
    /// # Ok(()) }
    /// ```
    pub fn run_batch<I>(
        &self,
        jobs: I,
        options: BatchOptions,
    ) -> impl Future<Output = Vec<Result<BacktestResult, BacktestError>>> + Send + 'static + use<I>
    where
        I: IntoIterator<Item = BacktestJob>,
    {
        sweep::batch(self.settings, jobs.into_iter().collect(), options)
    }

    /// Runs `strategy` over every combination of `grid` on `data`, as
    /// [`run_batch`](Self::run_batch) runs jobs, and ranks the results by `rank_by`.
    ///
    /// The sweep is a run (the caller's inside a scope, else `sweep_<suffix>`, in
    /// [`SweepReport::sweep_id`]); each combination is a session with its own run id whose
    /// metadata names the sweep ([`parent_run_id`](super::RunMetadata::parent_run_id)). With
    /// the default concurrency (one session per core) a sweep keeps every core busy.
    ///
    /// A grid over [`ParamGrid::MAX_COMBINATIONS`] runs no session: the report ranks nothing
    /// and holds one failure, a [`BacktestErrorKind::Grid`](crate::BacktestErrorKind::Grid)
    /// naming the sweep's run and the number of combinations (check first with
    /// [`ParamGrid::checked_len`]).
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, Named, ParamGrid, RankBy, Statistic};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let data = Arc::new(Bars::synthetic(5_000, 42));
    /// let grid = ParamGrid::new().parse_axis("fast=5:20:5")?.parse_axis("slow=30:60:10")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&data, Named::new("sma-cross", sma_cross), &grid, RankBy::new(Statistic::Sharpe), BatchOptions::new().keep_equity(false))
    ///     .await;
    /// assert_eq!(report.ranked.len(), 16);
    /// for r in report.top(3) {
    ///     println!("{} {} sharpe={:?}", r.metadata.run_id.as_deref().unwrap(), r.metadata.params, r.stats.sharpe);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sweep<S>(
        &self,
        data: &Arc<Bars>,
        strategy: S,
        grid: &ParamGrid,
        rank_by: RankBy,
        options: BatchOptions,
    ) -> impl Future<Output = SweepReport> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        sweep::sweep(
            self.settings,
            data,
            Arc::new(strategy),
            grid,
            rank_by,
            options,
        )
    }

    /// Runs one live or paper session on the bars `stream` yields, until it ends.
    ///
    /// The session's context is chosen as in [`run_realistic`](Self::run_realistic), with
    /// the prefix `stream` outside any scope (`stream_<suffix>`). Every bar is checked when
    /// it arrives, progress is logged under the session's run about once a second, and the
    /// end of the stream starts the evaluation on the blocking pool; the result equals what
    /// [`run`](Self::run) gives on the same bars (stats, trades, open trades and equity).
    ///
    /// # Errors
    ///
    /// As [`run_realistic`](Self::run_realistic), and
    /// [`BacktestErrorKind::Data`](crate::BacktestErrorKind::Data) when a bar is refused (the
    /// error names its 0-based index and column) or the stream ends without any bar; every
    /// error carries the session's run id.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bars = Bars::synthetic(2_000, 8);
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let engine = BacktestEngine::default();
    /// let feed = futures::stream::iter((0..bars.len()).map({
    ///     let bars = bars.clone();
    ///     move |i| bars.get(i).unwrap()
    /// }));
    /// let live = engine.run_stream(feed, sma_cross, params.clone()).await?;
    /// let batch = engine.run(&bars, &sma_cross, &params)?;
    /// assert_eq!((live.stats, live.trades, live.equity), (batch.stats, batch.trades, batch.equity));
    /// assert!(live.metadata.run_id.unwrap().starts_with("stream_"));
    /// # Ok(()) }
    /// ```
    pub fn run_stream<St, S>(
        &self,
        stream: St,
        strategy: S,
        params: Params,
    ) -> impl Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<St, S>
    where
        St: Stream<Item = Bar> + Send + 'static,
        S: Strategy + Send + Sync + 'static,
    {
        stream::run(self.settings, stream, strategy, params)
    }

    /// [`run_stream`](Self::run_stream) on the bars sent to a tokio channel; the session ends
    /// when every sender is dropped.
    ///
    /// # Errors
    ///
    /// As [`run_stream`](Self::run_stream).
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = tokio::sync::mpsc::channel(64);
    /// let params = Params::new().with("fast", 5).with("slow", 10);
    /// let session = tokio::spawn(BacktestEngine::default().run_channel(rx, sma_cross, params));
    /// let bars = Bars::synthetic(500, 2);
    /// for i in 0..bars.len() {
    ///     tx.send(bars.get(i).unwrap()).await?; // as a feed delivers them
    /// }
    /// drop(tx); // the feed closes: the session evaluates and returns
    /// let result = session.await??;
    /// assert_eq!(result.metadata.bars, 500);
    /// # Ok(()) }
    /// ```
    pub fn run_channel<S>(
        &self,
        receiver: mpsc::Receiver<Bar>,
        strategy: S,
        params: Params,
    ) -> impl Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        self.run_stream(stream::Receiver(receiver), strategy, params)
    }
}
