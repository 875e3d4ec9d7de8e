//! A batch: its jobs, its options and the progress it reports, and the run it makes of them.

use std::fmt;
use std::sync::Arc;

use super::workers;
use crate::{BacktestError, BacktestResult, BacktestSettings, Bars, Params, Strategy};
use tracectx::{TraceContext, TraceFutureExt};

// === impl BacktestJob ===

/// One session of a batch: shared bars, a strategy and its parameters.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tracectx_backtest::{sma_cross, BacktestJob, Bars, Named, Params};
///
/// let data = Arc::new(Bars::synthetic(1_000, 1));
/// let job = BacktestJob::new(&data, Named::new("sma-cross", sma_cross), Params::new().with("fast", 5).with("slow", 20));
/// assert_eq!(job.params().int("slow")?, 20);
/// # Ok::<(), tracectx_backtest::ParamError>(())
/// ```
#[derive(Clone)]
pub struct BacktestJob {
    pub(super) data: Arc<Bars>,
    pub(super) strategy: Arc<dyn Strategy + Send + Sync>,
    pub(super) params: Params,
}

impl BacktestJob {
    /// A job running `strategy` with `params` on `data` (shared, not copied).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestJob, Bars, Params};
    /// let job = BacktestJob::new(&Arc::new(Bars::synthetic(10, 1)), sma_cross, Params::new());
    /// assert!(job.params().is_empty());
    /// ```
    pub fn new<S>(data: &Arc<Bars>, strategy: S, params: Params) -> Self
    where
        S: Strategy + Send + Sync + 'static,
    {
        BacktestJob::shared(data, Arc::new(strategy), params)
    }

    /// A job with a strategy already shared by other jobs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestJob, Bars, Named, Params, Strategy};
    ///
    /// let data = Arc::new(Bars::synthetic(10, 1));
    /// let strategy: Arc<dyn Strategy + Send + Sync> = Arc::new(Named::new("sma-cross", sma_cross));
    /// let jobs: Vec<_> = [5, 10]
    ///     .into_iter()
    ///     .map(|fast| BacktestJob::shared(&data, strategy.clone(), Params::new().with("fast", fast)))
    ///     .collect();
    /// assert_eq!(jobs.len(), 2);
    /// ```
    pub fn shared(
        data: &Arc<Bars>,
        strategy: Arc<dyn Strategy + Send + Sync>,
        params: Params,
    ) -> Self {
        BacktestJob {
            data: Arc::clone(data),
            strategy,
            params,
        }
    }

    /// The job's parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestJob, Bars, Params};
    /// let job = BacktestJob::new(&Arc::new(Bars::synthetic(10, 1)), sma_cross, Params::new().with("fast", 3));
    /// assert_eq!(job.params().int("fast")?, 3);
    /// # Ok::<(), tracectx_backtest::ParamError>(())
    /// ```
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl fmt::Debug for BacktestJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BacktestJob")
            .field("bars", &self.data.len())
            .field("strategy", &self.strategy.name())
            .field("params", &self.params)
            .finish()
    }
}

// === impl Progress ===

/// One session of a batch has completed: how many have, out of how many, and its outcome.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{BatchOptions, Progress};
/// let options = BatchOptions::new().on_progress(|p: &Progress<'_>| {
///     eprintln!("{}/{} {}", p.done, p.total, if p.outcome.is_ok() { "ok" } else { "failed" });
/// });
/// # let _ = options;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// Sessions completed so far, this one included.
    pub done: usize,
    /// Sessions in the batch.
    pub total: usize,
    /// This session's result or error.
    pub outcome: &'a Result<BacktestResult, BacktestError>,
}

// === impl BatchOptions ===

type ProgressFn = Box<dyn FnMut(&Progress<'_>) + Send>;

/// How a batch or sweep runs: how many sessions at once, whether results keep their equity
/// curves, and a progress callback.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::BatchOptions;
///
/// let options = BatchOptions::new()
///     .concurrency(2)
///     .keep_equity(false)
///     .on_progress(|p| println!("{}/{}", p.done, p.total));
/// assert_eq!(options.get_concurrency(), 2);
/// ```
pub struct BatchOptions {
    pub(super) concurrency: usize,
    pub(super) keep_equity: bool,
    pub(super) progress: Option<ProgressFn>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            keep_equity: true,
            progress: None,
        }
    }
}

impl BatchOptions {
    /// As many sessions at once as the machine has cores, equity curves kept, no callback.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(tracectx_backtest::BatchOptions::new().get_concurrency() >= 1);
    /// ```
    pub fn new() -> Self {
        BatchOptions::default()
    }

    /// Runs at most `n` sessions at once (at least 1). Sessions are CPU-bound: more than
    /// the number of cores only adds memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BatchOptions;
    /// assert_eq!(BatchOptions::new().concurrency(0).get_concurrency(), 1);
    /// ```
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The number of sessions run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BatchOptions;
    /// assert_eq!(BatchOptions::new().concurrency(3).get_concurrency(), 3);
    /// ```
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// Keeps (the default) or drops each result's equity curve. A sweep of 200 sessions
    /// over a million bars keeps 1.6 GB of equity curves; a ranked table needs none of it.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = tracectx_backtest::BatchOptions::new().keep_equity(false);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn keep_equity(mut self, keep: bool) -> Self {
        self.keep_equity = keep;
        self
    }

    /// Calls `f` each time a session completes, in the order they complete, on the task
    /// driving the batch (inside the batch's trace context). Keep it quick: the next session
    /// starts after it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = tracectx_backtest::BatchOptions::new()
    ///     .on_progress(|p| eprint!("\r{}/{}", p.done, p.total));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn on_progress(mut self, f: impl FnMut(&Progress<'_>) + Send + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }
}

impl fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchOptions")
            .field("concurrency", &self.concurrency)
            .field("keep_equity", &self.keep_equity)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

// === the batch ===

/// [`BacktestEngine::run_batch`](crate::BacktestEngine::run_batch) with `settings`: the batch
/// is a run (the caller's, else `batch_<suffix>`) whose workers run the jobs.
pub(crate) async fn batch(
    settings: BacktestSettings,
    jobs: Vec<BacktestJob>,
    options: BatchOptions,
) -> Vec<Result<BacktestResult, BacktestError>> {
    let batch = tracectx::current().unwrap_or_else(|| TraceContext::generate("batch"));
    workers::drive(settings, jobs, options, "batch", batch.clone())
        .in_trace_context(batch)
        .await
}
