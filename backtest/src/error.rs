//! A session that failed: [`BacktestError`], with the run it belonged to and what failed
//! ([`BacktestErrorKind`]).

use std::fmt;

use crate::{DataError, GridError, SimulationError, StatsError, StrategyError};

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
///     .sync_scope(|| engine.run(&Bars::synthetic(50, 1), &Named::new("sma-cross", sma_cross), &Params::new().with("fast", "ten")))
///     .unwrap_err();
/// assert_eq!(err.run_id(), Some("backtest_demo"));
/// assert!(matches!(err.kind(), BacktestErrorKind::Strategy(_)));
/// assert_eq!(
///     err.to_string(),
///     r#"backtest backtest_demo failed: strategy "sma-cross": parameter "fast" must be an integer, got a string: "ten""#
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
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestErrorKind, Bars, Params};
///
/// let params = Params::new().with("fast", 0).with("slow", 20);
/// let err = BacktestEngine::default().run(&Bars::synthetic(50, 1), &sma_cross, &params).unwrap_err();
/// assert!(matches!(err.kind(), BacktestErrorKind::Strategy(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BacktestErrorKind {
    /// The strategy returned an error.
    #[error(transparent)]
    Strategy(StrategyError),
    /// The strategy panicked; the panic's message (its first 1,024 characters, then `…`;
    /// escaped onto one line when the error is displayed). Rust's panic hook still prints the
    /// panic on standard error unless the application called
    /// [`quiet_strategy_panics`](crate::quiet_strategy_panics).
    #[error("panicked: {}", tracectx::escape::text(.0))]
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
    #[error("session did not finish: {}", tracectx::escape::text(.0))]
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
    ///     .run(&Bars::synthetic(5, 1), &Named::new("x", sma_cross), &Params::new().with("fast", 0))
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
        // What the strategy did or returned names it: its error, its panic, and signals that
        // do not fit the bars.
        let by_strategy = matches!(
            &inner.kind,
            BacktestErrorKind::Strategy(_)
                | BacktestErrorKind::StrategyPanicked(_)
                | BacktestErrorKind::Simulation(SimulationError::LengthMismatch { .. })
                | BacktestErrorKind::Stats(StatsError::WarmupOutOfRange { .. })
        );
        if by_strategy {
            write!(f, "strategy {:?}: {}", inner.strategy, inner.kind)
        } else {
            write!(f, "{}", inner.kind)
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
