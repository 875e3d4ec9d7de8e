//! The engine: one backtest session from bars, a strategy and parameters to a
//! [`BacktestResult`] stamped with the run's identity.
//!
//! [`BacktestEngine::run`] is the synchronous core: it calls the strategy (catching a panic so
//! that it fails this session only), simulates, computes the statistics and records the
//! metadata, reading the run's ids from the current [`TraceContext`] scope.
//!
//! [`BacktestEngine::run_realistic`] is the async session: it sets the session's own trace
//! context (`backtest_<suffix>`, or a child span of the caller's run), runs the CPU-bound core
//! on tokio's blocking pool under that context (a million bars must not stall the runtime's
//! workers), logs the start and the end, and returns the result or an error that names the
//! run. Many sessions at once are [`run_batch`](BacktestEngine::run_batch) and
//! [`sweep`](BacktestEngine::sweep) (module [`sweep`](super::sweep)); a live or paper session
//! fed bar by bar is [`run_stream`](BacktestEngine::run_stream) (module
//! [`stream`](super::stream)).

use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once, OnceLock, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::execution::simulate_into;
use super::stats::{DrawdownPass, EquityPass, TradeFigures};
use super::{
    BacktestResult, BacktestSettings, Bars, DataError, GridError, Params, RunMetadata,
    SimulationError, Stats, StatsError, Strategy, StrategyError, Timestamp,
};
use tracectx::{ReproContext, RunId, TraceContext};

// === impl BacktestError ===

/// A session that failed, with the run it belonged to.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestErrorKind, Bars, Named, Params};
/// use tracectx::TraceContext;
///
/// let engine = BacktestEngine::default();
/// let ctx = TraceContext::new("backtest_demo")?;
/// let err = ctx
///     .sync_scope(|| engine.run(&Bars::synthetic(50, 1), &Named::new("sma-cross", sma_cross), &Params::new()))
///     .unwrap_err();
/// assert_eq!(err.run_id(), Some("backtest_demo"));
/// assert!(matches!(err.kind(), BacktestErrorKind::Strategy(_)));
/// assert_eq!(
///     err.to_string(),
///     r#"backtest backtest_demo failed: strategy "sma-cross": missing parameter "fast""#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The error is one pointer wide (its parts are boxed), so `Result<BacktestResult,
/// BacktestError>` stays small on the happy path.
#[derive(Debug)]
pub struct BacktestError {
    inner: Box<ErrorInner>,
}

#[derive(Debug)]
struct ErrorInner {
    run_id: Option<String>,
    strategy: String,
    kind: BacktestErrorKind,
}

/// What failed in a session; see [`BacktestError::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BacktestErrorKind {
    /// The strategy returned an error.
    #[error(transparent)]
    Strategy(StrategyError),
    /// The strategy panicked; the panic's message. Rust's panic hook still prints the panic
    /// on standard error unless the application called [`quiet_strategy_panics`].
    #[error("panicked: {0}")]
    StrategyPanicked(String),
    /// The signals or settings did not fit the simulation.
    #[error(transparent)]
    Simulation(SimulationError),
    /// The statistics could not be computed.
    #[error(transparent)]
    Stats(StatsError),
    /// A bar of a live or paper stream was refused, or the stream ended without bars.
    #[error(transparent)]
    Data(DataError),
    /// The session's task ended without a result: a panic outside the strategy, or the
    /// runtime shutting down.
    #[error("session did not finish: {0}")]
    Aborted(String),
    /// A sweep's parameter grid was refused (over [`ParamGrid::MAX_COMBINATIONS`]): no
    /// session ran.
    ///
    /// [`ParamGrid::MAX_COMBINATIONS`]: crate::ParamGrid::MAX_COMBINATIONS
    #[error(transparent)]
    Grid(GridError),
}

impl BacktestError {
    pub(crate) fn new(run_id: Option<String>, strategy: String, kind: BacktestErrorKind) -> Self {
        BacktestError {
            inner: Box::new(ErrorInner {
                run_id,
                strategy,
                kind,
            }),
        }
    }

    /// The run id of the session, when it ran inside a trace context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{BacktestEngine, Bars, Params, Signals, StrategyError};
    ///
    /// let failing = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> {
    ///     Err(StrategyError::other("no model"))
    /// };
    /// let err = BacktestEngine::default().run(&Bars::synthetic(5, 1), &failing, &Params::new()).unwrap_err();
    /// assert_eq!(err.run_id(), None); // no scope here
    /// ```
    pub fn run_id(&self) -> Option<&str> {
        self.inner.run_id.as_deref()
    }

    /// The name of the strategy that was running.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Named, Params};
    /// let err = BacktestEngine::default()
    ///     .run(&Bars::synthetic(5, 1), &Named::new("x", sma_cross), &Params::new())
    ///     .unwrap_err();
    /// assert_eq!(err.strategy(), "x");
    /// ```
    pub fn strategy(&self) -> &str {
        &self.inner.strategy
    }

    /// What failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{BacktestEngine, BacktestErrorKind, Bars, Params, Signals, StrategyError};
    ///
    /// let panics = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("index out of range") };
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let err = BacktestEngine::default().run(&Bars::synthetic(5, 1), &panics, &Params::new()).unwrap_err();
    /// assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "index out of range"));
    /// ```
    pub fn kind(&self) -> &BacktestErrorKind {
        &self.inner.kind
    }
}

impl fmt::Display for BacktestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        match &inner.run_id {
            Some(id) => write!(f, "backtest {id} failed: ")?,
            None => f.write_str("backtest failed: ")?,
        }
        match &inner.kind {
            BacktestErrorKind::Strategy(_) | BacktestErrorKind::StrategyPanicked(_) => {
                write!(f, "strategy {:?}: {}", inner.strategy, inner.kind)
            }
            _ => write!(f, "{}", inner.kind),
        }
    }
}

impl std::error::Error for BacktestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            BacktestErrorKind::Strategy(e) => Some(e),
            BacktestErrorKind::Simulation(e) => Some(e),
            BacktestErrorKind::Stats(e) => Some(e),
            BacktestErrorKind::Data(e) => Some(e),
            BacktestErrorKind::Grid(e) => Some(e),
            BacktestErrorKind::StrategyPanicked(_) | BacktestErrorKind::Aborted(_) => None,
        }
    }
}

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
    pub fn new(settings: BacktestSettings) -> Self {
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
    /// The run's ids are read from the current trace context scope. A panic inside the
    /// strategy is caught and returned as [`BacktestErrorKind::StrategyPanicked`], so it fails
    /// this session only.
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
        self.run_with(bars, strategy, params, true)
    }

    /// [`run`](Self::run), on this thread alone unless `alone` (a session of a batch runs
    /// beside others, which keep the cores busy already).
    pub(crate) fn run_with<S>(
        &self,
        bars: &Bars,
        strategy: &S,
        params: &Params,
        alone: bool,
    ) -> Result<BacktestResult, BacktestError>
    where
        S: Strategy + ?Sized,
    {
        let started = Instant::now();
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let ctx = tracectx::current();
        let name = strategy.name().into_owned();
        let fail = |kind| {
            BacktestError::new(
                ctx.as_ref().map(|c| c.run_id().to_string()),
                name.clone(),
                kind,
            )
        };
        let call = || {
            let _quiet = StrategyCall::enter();
            strategy.signals(bars, params)
        };
        let call = || match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(signals)) => Ok(signals),
            Ok(Err(e)) => Err(fail(BacktestErrorKind::Strategy(e))),
            Err(payload) => {
                let message = panic_message(&*payload);
                Err(fail(BacktestErrorKind::StrategyPanicked(message)))
            }
        };
        let n = bars.len();
        let two_threads = alone && n >= TWO_THREADS_MIN_BARS && more_than_one_core();
        let (signals, mut equity, pass) = if two_threads {
            // While the strategy computes its signals, a second thread lays out the curve's
            // memory (faults its pages in: for a million bars that is 8 MB, which costs a
            // fresh process about as much as the simulation itself) and prepares the pass of
            // the statistics (what the bar times alone tell).
            let cash = self.settings.cash;
            std::thread::scope(|scope| {
                let layout = scope.spawn(move || (vec![cash; n], EquityPass::for_bars(bars)));
                let signals = call();
                let (equity, pass) = layout
                    .join()
                    .unwrap_or_else(|payload| panic::resume_unwind(payload));
                signals.map(|s| (s, equity, pass))
            })?
        } else {
            // Zeroed by the allocator: a long curve in a fresh process gets pages that come
            // zeroed.
            (call()?, vec![0.0; n], EquityPass::for_bars(bars))
        };
        let t = bars.timestamps();
        let mut drawdowns = DrawdownPass::default();
        let (simulated, pass, trade_figures) = if two_threads {
            // A second thread reads the curve into the statistics a piece at a time while the
            // simulation writes the next pieces, then reads it again for the variance; this
            // one keeps the drawdowns as it writes, then sums up the trades.
            std::thread::scope(|scope| {
                let (pieces, received) = mpsc::channel::<&[f64]>();
                let reader = scope.spawn(move || {
                    let mut pass = pass;
                    let mut read = Vec::new();
                    for piece in received {
                        pass.feed(piece);
                        read.push(piece);
                    }
                    pass.second_pass(read);
                    pass
                });
                let simulated =
                    simulate_into(bars, &signals, &self.settings, &mut equity, &mut |p| {
                        drawdowns.feed(p, t);
                        // The reader stops only after the last piece, or by a panic, which
                        // the join passes on.
                        let _ = pieces.send(p);
                    });
                drop(pieces);
                let trade_figures = simulated
                    .as_ref()
                    .ok()
                    .map(|(trades, _)| TradeFigures::of(trades, n));
                let pass = reader
                    .join()
                    .unwrap_or_else(|payload| panic::resume_unwind(payload));
                (simulated, pass, trade_figures)
            })
        } else {
            let mut pass = pass;
            let simulated = simulate_into(bars, &signals, &self.settings, &mut equity, &mut |p| {
                pass.feed(p);
                drawdowns.feed(p, t);
            });
            (simulated, pass, None)
        };
        let (trades, open_trades) =
            simulated.map_err(|e| fail(BacktestErrorKind::Simulation(e)))?;
        let warmup = signals.warmup();
        Stats::check(n, equity.len(), warmup).map_err(|e| fail(BacktestErrorKind::Stats(e)))?;
        let trade_figures = trade_figures.unwrap_or_else(|| TradeFigures::of(&trades, n));
        let figures = pass.finish(&equity, drawdowns);
        let stats = Stats::from_parts(bars, &equity, warmup, trade_figures, figures);
        let metadata = RunMetadata {
            run_id: ctx.as_ref().map(|c| c.run_id().clone()),
            trace_id: ctx.as_ref().map(TraceContext::trace_id),
            span_id: ctx.as_ref().map(TraceContext::span_id),
            parent_span_id: ctx.as_ref().and_then(TraceContext::parent_span_id),
            strategy: name.clone(),
            params: params.clone(),
            settings: self.settings,
            data_fingerprint: bars.fingerprint(),
            bars: bars.len(),
            engine_version: env!("CARGO_PKG_VERSION"),
            started_at: Timestamp::from_micros(started_at),
            wall_time_secs: started.elapsed().as_secs_f64(),
            parent_run_id: None,
            repro: None,
        };
        Ok(BacktestResult {
            stats,
            trades,
            open_trades,
            equity,
            metadata,
        })
    }
}

/// The fewest bars for which a session running alone uses a second thread (see
/// [`BacktestEngine::run`]); below, starting the thread costs more than it saves.
const TWO_THREADS_MIN_BARS: usize = 1 << 16;

/// Whether this process may run on more than one core (asked once: the answer reads the
/// cgroup's limits).
fn more_than_one_core() -> bool {
    static MANY: OnceLock<bool> = OnceLock::new();
    *MANY.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

// === impl RunOptions ===

/// Options of one async session ([`BacktestEngine::run_realistic_with`]): its trace context
/// and the reproduction record to keep in its metadata.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::RunOptions;
/// use tracectx::{ReproContext, TraceContext};
///
/// let options = RunOptions::new()
///     .context(TraceContext::new("backtest_nightly_1")?)
///     .repro(ReproContext::create(42).with_param("universe", "ES"));
/// # let _ = options;
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    context: Option<TraceContext>,
    repro: Option<ReproContext>,
}

impl RunOptions {
    /// No options: the session's context is chosen as
    /// [`run_realistic`](BacktestEngine::run_realistic) says.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = tracectx_backtest::RunOptions::new();
    /// # let _ = options;
    /// ```
    pub fn new() -> Self {
        RunOptions::default()
    }

    /// Runs the session under `ctx` exactly (its run id, trace id and span), whatever the
    /// caller's scope.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, RunOptions};
    ///
    /// let ctx = tracectx::TraceContext::new("backtest_replay_7")?;
    /// let params = Params::new().with("fast", 5).with("slow", 10);
    /// let result = BacktestEngine::default()
    ///     .run_realistic_with(&Arc::new(Bars::synthetic(300, 1)), sma_cross, params, RunOptions::new().context(ctx))
    ///     .await?;
    /// assert_eq!(result.metadata.run_id.as_deref(), Some("backtest_replay_7"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn context(mut self, ctx: TraceContext) -> Self {
        self.context = Some(ctx);
        self
    }

    /// Keeps `repro` in the result's metadata ([`RunMetadata::repro`]), its ids set to the
    /// session's so that the record and the result name the same run. Without a context
    /// given and outside any scope, the session runs under the record's own context.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, RunOptions};
    /// use tracectx::ReproContext;
    ///
    /// let repro = ReproContext::create(42);
    /// let bars = Arc::new(Bars::synthetic(300, repro.seed()));
    /// let params = Params::new().with("fast", 5).with("slow", 10);
    /// let result = BacktestEngine::default()
    ///     .run_realistic_with(&bars, sma_cross, params, RunOptions::new().repro(repro.clone()))
    ///     .await?;
    /// let kept = result.metadata.repro.as_ref().unwrap();
    /// assert_eq!(kept.seed(), 42);
    /// assert_eq!(result.metadata.run_id.as_deref(), Some(repro.run_id().as_str()));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn repro(mut self, repro: ReproContext) -> Self {
        self.repro = Some(repro);
        self
    }

    /// The session's context: the one given, else a child span of the caller's run, else the
    /// repro record's, else a new `backtest_<suffix>` run.
    fn session_context(&self) -> TraceContext {
        if let Some(ctx) = &self.context {
            return ctx.clone();
        }
        if let Some(caller) = tracectx::current() {
            return caller.child();
        }
        match &self.repro {
            Some(repro) => repro.trace_context(),
            None => TraceContext::generate("backtest"),
        }
    }
}

// === async sessions ===

/// How one session runs on the blocking pool: its context, its links to a batch, and whether
/// its result keeps the equity curve.
pub(crate) struct SessionSpec {
    pub(crate) ctx: TraceContext,
    pub(crate) parent_run_id: Option<RunId>,
    pub(crate) repro: Option<ReproContext>,
    pub(crate) keep_equity: bool,
    /// Whether the session runs alone, free to use a second thread (see
    /// [`BacktestEngine::run`]); a batch's sessions run side by side instead.
    pub(crate) alone: bool,
}

impl SessionSpec {
    pub(crate) fn new(ctx: TraceContext) -> Self {
        SessionSpec {
            ctx,
            parent_run_id: None,
            repro: None,
            keep_equity: true,
            alone: true,
        }
    }
}

// === quiet strategy panics ===

thread_local! {
    /// Whether this thread is inside a strategy call whose panic the engine catches (only
    /// when panics unwind: under `panic = "abort"` nothing is caught, so nothing is quieted).
    static IN_STRATEGY: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside a strategy call until dropped (on return or while unwinding),
/// restoring the previous mark, so nested sessions work.
struct StrategyCall {
    previous: bool,
}

impl StrategyCall {
    fn enter() -> Self {
        let previous = IN_STRATEGY
            .try_with(|flag| flag.replace(cfg!(panic = "unwind")))
            .unwrap_or(false);
        StrategyCall { previous }
    }
}

impl Drop for StrategyCall {
    fn drop(&mut self) {
        let _ = IN_STRATEGY.try_with(|flag| flag.set(self.previous));
    }
}

/// Keeps the panics of strategies, which the engine catches and returns as the session's
/// [`BacktestErrorKind::StrategyPanicked`], off standard error; every other panic goes to the
/// panic hook that was in place before, unchanged.
///
/// Without it, a strategy that panics in a sweep fails its session cleanly but Rust's default
/// panic hook still prints `thread '…' panicked at …` on standard error, across a progress
/// bar or a table. With it, such a panic is logged instead, as a `WARN` event "strategy
/// panicked" with its message and location, under the session's run id (so `tracectx logs
/// <run_id>` shows it next to the session's error).
///
/// This sets the process's panic hook (wrapping the current one), so it is the application's
/// call, and it belongs at the start of `main`, before any other thread runs: replacing a
/// panic hook is not atomic, and a hook set by another thread at the same moment could be
/// lost. It installs once; later calls do nothing. A hook set afterwards replaces this one
/// (strategy panics are then printed again). Under `panic = "abort"` nothing is caught and
/// nothing is quieted.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{quiet_strategy_panics, BacktestEngine, BacktestErrorKind, Bars, Params, Signals, StrategyError};
///
/// fn main() {
///     quiet_strategy_panics(); // first thing, before threads and runtimes start
///
///     let fragile = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("model diverged") };
///     let err = BacktestEngine::default().run(&Bars::synthetic(50, 1), &fragile, &Params::new()).unwrap_err();
///     // Nothing was printed; the session failed with the panic's message.
///     assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "model diverged"));
/// }
/// ```
pub fn quiet_strategy_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_STRATEGY.try_with(Cell::get).unwrap_or(false) {
                let location = info
                    .location()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string);
                tracing::warn!(
                    panic = %panic_message(info.payload()),
                    %location,
                    "strategy panicked"
                );
            } else {
                previous(info);
            }
        }));
    });
}

/// The panic's message, for an error.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned())
}

impl BacktestEngine {
    /// The closure one session runs on the blocking pool: under the session's context, log
    /// the start, run the core, log the end (or the failure), link the metadata. Nothing
    /// inside can unwind out of it: a panic anywhere in the session becomes its error.
    pub(crate) fn session_job<S>(
        &self,
        data: Arc<Bars>,
        strategy: Arc<S>,
        params: Params,
        spec: SessionSpec,
    ) -> impl FnOnce() -> Result<BacktestResult, BacktestError> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + ?Sized + 'static,
    {
        let engine = self.clone();
        move || {
            let SessionSpec {
                ctx,
                parent_run_id,
                repro,
                keep_equity,
                alone,
            } = spec;
            let run_id = ctx.run_id().to_string();
            let name = strategy.name().into_owned();
            let session = || {
                tracing::info!(
                    strategy = %name,
                    params = %serde_json::to_string(&params).unwrap_or_default(),
                    bars = data.len(),
                    parent_run_id = %parent_run_id.as_deref().unwrap_or("-"),
                    "session started"
                );
                let outcome = engine.run_with(&data, &*strategy, &params, alone);
                match &outcome {
                    Ok(r) => tracing::info!(
                        trades = r.stats.trades,
                        return_pct = r.stats.return_pct,
                        sharpe = r.stats.sharpe.unwrap_or(f64::NAN),
                        wall_ms = r.metadata.wall_time_secs * 1e3,
                        "session finished"
                    ),
                    Err(e) => tracing::error!(error = %e, "session failed"),
                }
                outcome
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| ctx.sync_scope(session)))
                .unwrap_or_else(|payload| {
                    Err(BacktestError::new(
                        Some(run_id),
                        name,
                        BacktestErrorKind::Aborted(format!(
                            "panicked: {}",
                            panic_message(&*payload)
                        )),
                    ))
                });
            outcome.map(|mut result| {
                result.metadata.parent_run_id = parent_run_id;
                result.metadata.repro = repro.map(|r| r.with_trace_context(ctx));
                if !keep_equity {
                    result.equity = Vec::new();
                }
                result
            })
        }
    }

    /// Runs one session asynchronously under its own trace context, off the runtime's worker
    /// threads, and returns its result.
    ///
    /// The session's context is chosen when the future is first polled: inside a trace
    /// context scope, a [`child`](TraceContext::child) of it (the session is a step of the
    /// caller's run: same run id and trace id, a new span whose parent is the caller's);
    /// outside any scope, a new run `backtest_<suffix>`. Under that context the CPU-bound core
    /// ([`run`](Self::run)) runs on tokio's blocking pool, so a long session never stalls the
    /// async workers, and logs `session started` (strategy, parameters, bars) and
    /// `session finished` (trades, return, Sharpe ratio, wall time) or `session failed`, each
    /// line stamped with the session's run. The returned future does not borrow the engine
    /// and is `Send + 'static`: spawn it, or join many.
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
    ) -> impl std::future::Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
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
    ) -> impl std::future::Future<Output = Result<BacktestResult, BacktestError>> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        let engine = self.clone();
        let data = Arc::clone(data);
        async move {
            let ctx = options.session_context();
            let spec = SessionSpec {
                repro: options.repro,
                ..SessionSpec::new(ctx.clone())
            };
            let strategy = Arc::new(strategy);
            let name = strategy.name().into_owned();
            let job = engine.session_job(data, strategy, params, spec);
            tokio::task::spawn_blocking(job).await.unwrap_or_else(|e| {
                Err(BacktestError::new(
                    Some(ctx.run_id().to_string()),
                    name,
                    BacktestErrorKind::Aborted(e.to_string()),
                ))
            })
        }
    }
}
