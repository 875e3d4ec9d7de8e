//! A batch: its jobs, its options and the progress it reports, and the run it makes of them.

use std::fmt;
use std::sync::Arc;

use super::workers;
use crate::{
    BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bars, Params, Strategy,
};
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
    /// Sessions in the batch (in a sweep, the combinations it selects).
    pub total: usize,
    /// The session's place: its job's in the batch, or its combination's in the sweep's
    /// grid ([`ParamGrid::indexed`](crate::ParamGrid::indexed)).
    pub index: usize,
    /// The session's parameters.
    pub params: &'a Params,
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
    pub(super) keep_top: usize,
    pub(super) keep_failures: usize,
    pub(super) keep_heatmap: bool,
    pub(super) indicator_memory: usize,
    pub(super) progress: Option<ProgressFn>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            keep_equity: true,
            keep_top: usize::MAX,
            keep_failures: usize::MAX,
            keep_heatmap: false,
            indicator_memory: 32 << 20,
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

    /// A sweep keeps only the `n` best results in its report ([`SweepReport::ranked`]),
    /// and every result by default. Memory is then what the `n` results hold, whatever the
    /// size of the grid: a sweep of a million combinations ranked for a table of ten keeps
    /// ten results. Every result still reaches the progress callback
    /// ([`on_progress`](Self::on_progress)), which may stream it elsewhere (a file of JSON
    /// lines, as `tracectx sweep --output` writes).
    ///
    /// [`SweepReport::ranked`]: crate::SweepReport::ranked
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=2:20:1")?.parse_axis("slow=30:40:10")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(500, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new().keep_top(3))
    ///     .await;
    /// assert_eq!((report.ranked.len(), report.sessions), (3, 38));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn keep_top(mut self, n: usize) -> Self {
        self.keep_top = n;
        self
    }

    /// A sweep keeps at most the first `n` failures ([`SweepReport::failed`]; all by
    /// default) and counts the others; each still reaches the progress callback.
    ///
    /// [`SweepReport::failed`]: crate::SweepReport::failed
    ///
    /// # Examples
    ///
    /// ```
    /// let options = tracectx_backtest::BatchOptions::new().keep_top(10).keep_failures(100);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn keep_failures(mut self, n: usize) -> Self {
        self.keep_failures = n;
        self
    }

    /// A sweep also keeps the ranked statistic over its grid's first two axes, the best
    /// value of each cell (over the other axes), in [`SweepReport::heatmap`]: one number a
    /// cell, for a heat map (`SweepReport::write_html` draws it). Off by default. A grid
    /// without axes (only fixed parameters) or one refused has none.
    ///
    /// [`SweepReport::heatmap`]: crate::SweepReport::heatmap
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=5:20:5")?.parse_axis("slow=30:50:10")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new().keep_heatmap(true))
    ///     .await;
    /// let heatmap = report.heatmap.as_ref().unwrap();
    /// assert_eq!((heatmap.x.values.len(), heatmap.y.values.len()), (4, 3));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn keep_heatmap(mut self, keep: bool) -> Self {
        self.keep_heatmap = keep;
        self
    }

    /// The most bytes of indicators a sweep's sessions share ([`close_sma`]: each distinct
    /// moving average computed once for the sweep; for [`sma_cross`], the crossings of every
    /// `(fast, slow)` pair of the grid, found in one pass and given at most half of it); 32 MiB
    /// by default. When full, the sweep forgets the averages it kept and starts again, and
    /// crossings that would not fit are not kept (the sessions compare the averages
    /// instead), so memory stays within it whatever the grid; 0 computes every average in
    /// its session.
    ///
    /// [`close_sma`]: crate::close_sma
    /// [`sma_cross`]: crate::sma_cross
    ///
    /// # Examples
    ///
    /// ```
    /// let options = tracectx_backtest::BatchOptions::new().indicator_memory(8 << 20);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn indicator_memory(mut self, bytes: usize) -> Self {
        self.indicator_memory = bytes;
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
            .field("keep_top", &self.keep_top)
            .field("keep_failures", &self.keep_failures)
            .field("keep_heatmap", &self.keep_heatmap)
            .field("indicator_memory", &self.indicator_memory)
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
    let total = jobs.len();
    // What a session that never ran is reported as (it has no run).
    let names: Vec<String> = jobs
        .iter()
        .map(|j| j.strategy.name().into_owned())
        .collect();
    let mut outcomes: Vec<Option<Result<BacktestResult, BacktestError>>> =
        (0..total).map(|_| None).collect();
    let source = Box::new(jobs.into_iter().enumerate());
    workers::drive(
        settings,
        None,
        source,
        total,
        options,
        "batch",
        batch.clone(),
        |i, o| {
            outcomes[i] = Some(o);
        },
    )
    .in_trace_context(batch)
    .await;
    // A session the runtime never ran (cancelling its worker) is filled in as cancelled.
    outcomes
        .into_iter()
        .zip(names)
        .map(|(outcome, strategy)| {
            outcome.unwrap_or_else(|| {
                Err(BacktestError::new(
                    None,
                    strategy,
                    BacktestErrorKind::Aborted("cancelled".to_owned()),
                ))
            })
        })
        .collect()
}
