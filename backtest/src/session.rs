//! One session: the synchronous core that runs a strategy, simulates and computes the
//! statistics (on a second thread beside it for long series), and the job that runs it on
//! tokio's blocking pool under the session's trace context, logging its start and end.
//!
//! [`BacktestEngine::run`](crate::BacktestEngine::run) and
//! [`run_realistic`](crate::BacktestEngine::run_realistic) call it for one session; the
//! workers of batches and sweeps and the end of a stream run its job for each of theirs.

use std::panic::{self, AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::execution::simulate_into;
use crate::panics::{StrategyCall, panic_message};
use crate::stats::{DrawdownPass, EquityPass, TradeFigures, log_ratios, take_spare_returns};
use crate::strategy::SharedIndicators;
use crate::{
    BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bars, ParamGrid, Params,
    RunMetadata, Stats, Strategy, Timestamp,
};
use tracectx::{ReproContext, RunId, TraceContext};

// === impl RunOptions ===

/// Options of one async session
/// ([`BacktestEngine::run_realistic_with`](crate::BacktestEngine::run_realistic_with)): its
/// trace context and the reproduction record to keep in its metadata.
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
    /// [`run_realistic`](crate::BacktestEngine::run_realistic) says.
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
    pub(crate) fn session_context(&self) -> TraceContext {
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

// === impl Shared ===

/// What the sessions of one sweep share, all on the same bars: the indicators strategies ask
/// for ([`close_sma`](crate::close_sma)) and the closes' log ratios the statistics read,
/// each computed once for the sweep instead of once per session.
pub(crate) struct Shared {
    indicators: Arc<SharedIndicators>,
    close_log_ratios: OnceLock<Vec<f64>>,
}

impl Shared {
    /// What the sessions of a sweep of `grid` on `bars` share, the indicators within
    /// `indicator_memory` bytes.
    pub(crate) fn new(bars: Arc<Bars>, indicator_memory: usize, grid: Arc<ParamGrid>) -> Self {
        Shared {
            indicators: Arc::new(SharedIndicators::new(bars, indicator_memory).for_grid(grid)),
            close_log_ratios: OnceLock::new(),
        }
    }

    fn close_log_ratios(&self, bars: &Bars) -> &[f64] {
        self.close_log_ratios.get_or_init(|| {
            let close = bars.close();
            let mut out = vec![0.0; close.len().saturating_sub(1)];
            log_ratios(close, &mut out);
            out
        })
    }
}

thread_local! {
    /// An equity curve a session of a batch left behind (its result kept none): the next
    /// session on this thread writes its curve there instead of asking for fresh memory.
    static SPARE_EQUITY: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

// === impl SessionSpec ===

/// How one session runs on the blocking pool: its context, its links to a batch, and whether
/// its result keeps the equity curve.
pub(crate) struct SessionSpec {
    pub(crate) ctx: TraceContext,
    pub(crate) parent_run_id: Option<RunId>,
    pub(crate) repro: Option<ReproContext>,
    pub(crate) keep_equity: bool,
    /// Whether the session runs alone, free to use a second thread (see
    /// [`BacktestEngine::run`](crate::BacktestEngine::run)); a batch's sessions run side by
    /// side instead.
    pub(crate) alone: bool,
    /// What the sessions of a sweep share.
    pub(crate) shared: Option<Arc<Shared>>,
}

impl SessionSpec {
    pub(crate) fn new(ctx: TraceContext) -> Self {
        SessionSpec {
            ctx,
            parent_run_id: None,
            repro: None,
            keep_equity: true,
            alone: true,
            shared: None,
        }
    }
}

// === the session ===

/// [`BacktestEngine::run`](crate::BacktestEngine::run) with `settings`, on this thread alone
/// unless `alone` (a session of a batch runs beside others, which keep the cores busy already).
pub(crate) fn run<S>(
    settings: &BacktestSettings,
    bars: &Bars,
    strategy: &S,
    params: &Params,
    alone: bool,
) -> Result<BacktestResult, BacktestError>
where
    S: Strategy + ?Sized,
{
    run_shared(settings, bars, strategy, params, alone, None)
}

/// [`run`], a session of a sweep when `shared` is given (on bars that are the sweep's).
fn run_shared<S>(
    settings: &BacktestSettings,
    bars: &Bars,
    strategy: &S,
    params: &Params,
    alone: bool,
    shared: Option<&Shared>,
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
        match shared {
            Some(shared) => {
                SharedIndicators::scope(&shared.indicators, || strategy.signals(bars, params))
            }
            None => strategy.signals(bars, params),
        }
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
        let cash = settings.cash;
        // The daily returns' buffer of this thread's last session goes along: the layout
        // thread ends with the session, and its own would be fresh memory every time.
        let spare = take_spare_returns();
        std::thread::scope(|scope| {
            let layout =
                scope.spawn(move || (vec![cash; n], EquityPass::for_bars_laid_out(bars, spare)));
            let signals = call();
            let (equity, pass) = layout
                .join()
                .unwrap_or_else(|payload| panic::resume_unwind(payload));
            signals.map(|s| (s, equity, pass))
        })?
    } else {
        // A batch's session takes the curve its thread's last session left; else zeroed by
        // the allocator: a long curve in a fresh process gets pages that come zeroed. The
        // simulation writes every value.
        let mut equity = if alone {
            Vec::new()
        } else {
            SPARE_EQUITY.take()
        };
        equity.resize(n, 0.0);
        equity.truncate(n);
        let pass = EquityPass::for_bars(bars);
        let pass = match shared {
            Some(shared) => pass.with_close_log_ratios(shared.close_log_ratios(bars)),
            None => pass,
        };
        (call()?, equity, pass)
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
            let simulated = simulate_into(bars, &signals, settings, &mut equity, &mut |p| {
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
        let simulated = simulate_into(bars, &signals, settings, &mut equity, &mut |p| {
            pass.feed(p);
            drawdowns.feed(p, t);
        });
        (simulated, pass, None)
    };
    let (trades, open_trades) = simulated.map_err(|e| fail(BacktestErrorKind::Simulation(e)))?;
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
        settings: *settings,
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

/// The fewest bars for which a session running alone uses a second thread (see
/// [`BacktestEngine::run`](crate::BacktestEngine::run)); below, starting the thread costs
/// more than it saves.
const TWO_THREADS_MIN_BARS: usize = 1 << 16;

/// Whether this process may run on more than one core (asked once: the answer reads the
/// cgroup's limits).
fn more_than_one_core() -> bool {
    static MANY: OnceLock<bool> = OnceLock::new();
    *MANY.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// The closure one session runs on the blocking pool: under the session's context, log
/// the start, run the core, log the end (or the failure), link the metadata. Nothing
/// inside can unwind out of it: a panic anywhere in the session becomes its error.
pub(crate) fn job<S>(
    settings: BacktestSettings,
    data: Arc<Bars>,
    strategy: Arc<S>,
    params: Params,
    spec: SessionSpec,
) -> impl FnOnce() -> Result<BacktestResult, BacktestError> + Send + 'static + use<S>
where
    S: Strategy + Send + Sync + ?Sized + 'static,
{
    move || {
        let SessionSpec {
            ctx,
            parent_run_id,
            repro,
            keep_equity,
            alone,
            shared,
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
            let outcome = run_shared(
                &settings,
                &data,
                &*strategy,
                &params,
                alone,
                shared.as_deref(),
            );
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
        let outcome =
            catch_unwind(AssertUnwindSafe(|| ctx.sync_scope(session))).unwrap_or_else(|payload| {
                Err(BacktestError::new(
                    Some(run_id),
                    name,
                    BacktestErrorKind::Aborted(format!("panicked: {}", panic_message(&*payload))),
                ))
            });
        outcome.map(|mut result| {
            result.metadata.parent_run_id = parent_run_id;
            result.metadata.repro = repro.map(|r| r.with_trace_context(ctx));
            if !keep_equity {
                let equity = std::mem::take(&mut result.equity);
                if !alone {
                    SPARE_EQUITY.set(equity);
                }
            }
            result
        })
    }
}

/// [`BacktestEngine::run_realistic_with`](crate::BacktestEngine::run_realistic_with) with
/// `settings`: the session's context chosen when the future is first polled, the session run on
/// the blocking pool.
pub(crate) async fn realistic<S>(
    settings: BacktestSettings,
    data: Arc<Bars>,
    strategy: S,
    params: Params,
    options: RunOptions,
) -> Result<BacktestResult, BacktestError>
where
    S: Strategy + Send + Sync + 'static,
{
    let ctx = options.session_context();
    let spec = SessionSpec {
        repro: options.repro,
        ..SessionSpec::new(ctx.clone())
    };
    let strategy = Arc::new(strategy);
    let name = strategy.name().into_owned();
    let job = job(settings, data, strategy, params, spec);
    tokio::task::spawn_blocking(job).await.unwrap_or_else(|e| {
        Err(BacktestError::new(
            Some(ctx.run_id().to_string()),
            name,
            BacktestErrorKind::Aborted(e.to_string()),
        ))
    })
}
