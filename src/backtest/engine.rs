//! The engine: one backtest session from bars, a strategy and parameters to a
//! [`BacktestResult`] stamped with the run's identity.
//!
//! [`BacktestEngine::run`] is the synchronous core: it calls the strategy (catching a panic so
//! that it fails this session only), simulates, computes the statistics and records the
//! metadata, reading the run's ids from the current [`TraceContext`](crate::TraceContext)
//! scope. It is CPU-bound: async code runs it off the runtime's worker threads (for example
//! through [`spawn_blocking_traced`](crate::spawn_blocking_traced), which carries the scope).

use std::any::type_name;
use std::borrow::Cow;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{
    simulate, BacktestSettings, Bars, OpenTrade, Params, Signals, SimulationError, Stats,
    StatsError, StrategyError, Timestamp, Trade,
};

// === impl Strategy ===

/// A strategy the engine can run: a name for the result's metadata and a signal function.
///
/// Every `Fn(&Bars, &Params) -> Result<Signals, StrategyError>` is a strategy, named by its
/// Rust type (`my_crate::my_strategy`); wrap it in [`Named`] to give it a short name.
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{sma_cross, Bars, Named, Params, Strategy};
///
/// assert!(sma_cross.name().ends_with("sma_cross"));
/// let named = Named::new("sma-cross", sma_cross);
/// assert_eq!(named.name(), "sma-cross");
/// let params = Params::new().with("fast", 5).with("slow", 10);
/// assert_eq!(named.signals(&Bars::synthetic(50, 1), &params)?.warmup(), 9);
/// # Ok::<(), tracectx::backtest::StrategyError>(())
/// ```
pub trait Strategy {
    /// The name recorded in the result's metadata.
    fn name(&self) -> Cow<'_, str>;

    /// The decisions for `bars` with `params`.
    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError>;
}

impl<F> Strategy for F
where
    F: Fn(&Bars, &Params) -> Result<Signals, StrategyError>,
{
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(type_name::<F>())
    }

    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
        self(bars, params)
    }
}

/// A signal function with a name of its choosing.
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{builtin, Named, Strategy};
///
/// let s = Named::new("sma-cross", builtin("sma-cross").unwrap());
/// assert_eq!(s.name(), "sma-cross");
/// ```
#[derive(Debug, Clone)]
pub struct Named<F> {
    name: String,
    f: F,
}

impl<F> Named<F> {
    /// `f`, called `name` in results.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{sma_cross, Named, Strategy};
    /// assert_eq!(Named::new("trend", sma_cross).name(), "trend");
    /// ```
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Named {
            name: name.into(),
            f,
        }
    }
}

impl<F> Strategy for Named<F>
where
    F: Fn(&Bars, &Params) -> Result<Signals, StrategyError>,
{
    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }

    fn signals(&self, bars: &Bars, params: &Params) -> Result<Signals, StrategyError> {
        (self.f)(bars, params)
    }
}

// === impl BacktestError ===

/// A session that failed, with the run it belonged to.
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{sma_cross, BacktestEngine, BacktestErrorKind, Bars, Named, Params};
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
#[derive(Debug)]
pub struct BacktestError {
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
    /// The strategy panicked; the panic's message.
    #[error("panicked: {0}")]
    StrategyPanicked(String),
    /// The signals or settings did not fit the simulation.
    #[error(transparent)]
    Simulation(SimulationError),
    /// The statistics could not be computed.
    #[error(transparent)]
    Stats(StatsError),
}

impl BacktestError {
    /// The run id of the session, when it ran inside a trace context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{BacktestEngine, Bars, Params, Signals, StrategyError};
    ///
    /// let failing = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> {
    ///     Err(StrategyError::other("no model"))
    /// };
    /// let err = BacktestEngine::default().run(&Bars::synthetic(5, 1), &failing, &Params::new()).unwrap_err();
    /// assert_eq!(err.run_id(), None); // no scope here
    /// ```
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The name of the strategy that was running.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{sma_cross, BacktestEngine, Bars, Named, Params};
    /// let err = BacktestEngine::default()
    ///     .run(&Bars::synthetic(5, 1), &Named::new("x", sma_cross), &Params::new())
    ///     .unwrap_err();
    /// assert_eq!(err.strategy(), "x");
    /// ```
    pub fn strategy(&self) -> &str {
        &self.strategy
    }

    /// What failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{BacktestEngine, BacktestErrorKind, Bars, Params, Signals, StrategyError};
    ///
    /// let panics = |_: &Bars, _: &Params| -> Result<Signals, StrategyError> { panic!("index out of range") };
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let err = BacktestEngine::default().run(&Bars::synthetic(5, 1), &panics, &Params::new()).unwrap_err();
    /// assert!(matches!(err.kind(), BacktestErrorKind::StrategyPanicked(m) if m == "index out of range"));
    /// ```
    pub fn kind(&self) -> &BacktestErrorKind {
        &self.kind
    }
}

impl fmt::Display for BacktestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.run_id {
            Some(id) => write!(f, "backtest {id} failed: ")?,
            None => f.write_str("backtest failed: ")?,
        }
        match &self.kind {
            BacktestErrorKind::Strategy(_) | BacktestErrorKind::StrategyPanicked(_) => {
                write!(f, "strategy {:?}: {}", self.strategy, self.kind)
            }
            _ => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for BacktestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BacktestErrorKind::Strategy(e) => Some(e),
            BacktestErrorKind::Simulation(e) => Some(e),
            BacktestErrorKind::Stats(e) => Some(e),
            BacktestErrorKind::StrategyPanicked(_) => None,
        }
    }
}

// === impl RunMetadata ===

/// Who ran a session, on what, and how long it took.
///
/// The ids come from the [`TraceContext`](crate::TraceContext) in scope when the session ran
/// (`None` outside any scope): `trace_id` is the 8-character form logs show, `trace_id_full`
/// the 32-character W3C form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RunMetadata {
    /// The run id.
    pub run_id: Option<String>,
    /// The trace id as logs show it (8 hex characters).
    pub trace_id: Option<String>,
    /// The full 128-bit trace id (32 hex characters).
    pub trace_id_full: Option<String>,
    /// The span id of the session.
    pub span_id: Option<String>,
    /// The parent span id, when the session ran in a child span.
    pub parent_span_id: Option<String>,
    /// The strategy's name.
    pub strategy: String,
    /// The strategy's parameters.
    pub params: Params,
    /// The account and cost settings.
    pub settings: BacktestSettings,
    /// [`Bars::fingerprint`] of the data.
    pub data_fingerprint: String,
    /// The number of bars.
    pub bars: usize,
    /// This crate's version.
    pub engine_version: &'static str,
    /// Wall-clock time when the session started.
    pub started_at: Timestamp,
    /// Wall time the session took, in seconds.
    pub wall_time_secs: f64,
}

// === impl BacktestResult ===

/// Everything one session produced: statistics, trades, the equity curve and metadata.
///
/// Serializes (and [`to_json`](Self::to_json) prints) `stats`, `trades`, `open_trades` and
/// `metadata`; the equity curve, one number per bar, is left out of the JSON and read from
/// [`equity`](Self::equity).
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
///
/// let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
/// let bars = Bars::synthetic(1_000, 4);
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// let result = engine.run(&bars, &Named::new("sma-cross", sma_cross), &params)?;
/// assert_eq!(result.equity.len(), 1_000);
/// assert_eq!(result.metadata.strategy, "sma-cross");
/// let json: serde_json::Value = serde_json::from_str(&result.to_json())?;
/// assert_eq!(json["metadata"]["params"]["fast"], 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BacktestResult {
    /// Every statistic.
    pub stats: Stats,
    /// Closed trades.
    pub trades: Vec<Trade>,
    /// Trades open at the end.
    pub open_trades: Vec<OpenTrade>,
    /// Equity at every bar's close.
    #[serde(skip)]
    pub equity: Vec<f64>,
    /// Who ran the session, on what, and how long it took.
    pub metadata: RunMetadata,
}

impl BacktestResult {
    /// The result as one line of JSON (without the equity curve).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{sma_cross, BacktestEngine, Bars, Params};
    /// let params = Params::new().with("fast", 3).with("slow", 6);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(100, 1), &sma_cross, &params)?;
    /// assert!(result.to_json().starts_with(r#"{"stats":{"#));
    /// # Ok::<(), tracectx::backtest::BacktestError>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: string keys only.
        serde_json::to_string(self).unwrap_or_default()
    }
}

// === impl BacktestEngine ===

/// Runs backtest sessions with one set of [`BacktestSettings`].
///
/// # Examples
///
/// ```
/// use tracectx::backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
/// use tracectx::TraceContext;
///
/// let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
/// let bars = Bars::synthetic(2_000, 7);
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// let ctx = TraceContext::generate("backtest");
/// let result = ctx.sync_scope(|| engine.run(&bars, &Named::new("sma-cross", sma_cross), &params))?;
/// assert_eq!(result.metadata.run_id.as_deref(), Some(ctx.run_id().as_str()));
/// assert_eq!(result.stats.trades, result.trades.len());
/// # Ok::<(), tracectx::backtest::BacktestError>(())
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
    /// use tracectx::backtest::{BacktestEngine, BacktestSettings};
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
    /// use tracectx::backtest::BacktestEngine;
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
    /// # Errors
    ///
    /// A [`BacktestError`] carrying the run id when the strategy fails or panics, or its
    /// signals do not fit the bars or the settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::backtest::{sma_cross, BacktestEngine, Bars, Params};
    ///
    /// let params = Params::new().with("fast", 10).with("slow", 20);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(500, 1), &sma_cross, &params)?;
    /// assert!(result.metadata.run_id.is_none()); // no trace context in scope
    /// assert_eq!(result.metadata.bars, 500);
    /// # Ok::<(), tracectx::backtest::BacktestError>(())
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
        let started = Instant::now();
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let ctx = crate::current();
        let name = strategy.name().into_owned();
        let fail = |kind| BacktestError {
            run_id: ctx.as_ref().map(|c| c.run_id().to_string()),
            strategy: name.clone(),
            kind,
        };
        let signals = match catch_unwind(AssertUnwindSafe(|| strategy.signals(bars, params))) {
            Ok(Ok(signals)) => signals,
            Ok(Err(e)) => return Err(fail(BacktestErrorKind::Strategy(e))),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic payload".to_owned());
                return Err(fail(BacktestErrorKind::StrategyPanicked(message)));
            }
        };
        let run = simulate(bars, &signals, &self.settings)
            .map_err(|e| fail(BacktestErrorKind::Simulation(e)))?;
        let stats = Stats::compute(bars, &run.equity, &run.trades, signals.warmup())
            .map_err(|e| fail(BacktestErrorKind::Stats(e)))?;
        let metadata = RunMetadata {
            run_id: ctx.as_ref().map(|c| c.run_id().to_string()),
            trace_id: ctx.as_ref().map(|c| c.trace_id().to_string()),
            trace_id_full: ctx.as_ref().map(|c| format!("{:x}", c.trace_id())),
            span_id: ctx.as_ref().map(|c| c.span_id().to_string()),
            parent_span_id: ctx
                .as_ref()
                .and_then(|c| c.parent_span_id())
                .map(|s| s.to_string()),
            strategy: name.clone(),
            params: params.clone(),
            settings: self.settings,
            data_fingerprint: bars.fingerprint(),
            bars: bars.len(),
            engine_version: env!("CARGO_PKG_VERSION"),
            started_at: Timestamp::from_micros(started_at),
            wall_time_secs: started.elapsed().as_secs_f64(),
        };
        Ok(BacktestResult {
            stats,
            trades: run.trades,
            open_trades: run.open_trades,
            equity: run.equity,
            metadata,
        })
    }
}
