//! Many sessions at once: batches of jobs and sweeps over a parameter grid.
//!
//! [`BacktestEngine::run_batch`](crate::BacktestEngine::run_batch) runs [`BacktestJob`]s with
//! at most [`BatchOptions::concurrency`] sessions in flight (by default one per core), each on
//! the blocking pool under a trace context of its own, and reports each as it completes through
//! a progress callback. [`BacktestEngine::sweep`](crate::BacktestEngine::sweep) runs one
//! strategy over every combination of a [`ParamGrid`] the same way and ranks the results by a
//! statistic ([`RankBy`]).
//!
//! **Every session is a run of its own.** A sweep is itself a run (the caller's, inside a
//! scope, else a new `sweep_<suffix>`); each of its sessions gets a new run id
//! (`backtest_<suffix>`), so that one combination's log lines, errors and result can be pulled
//! out alone (`tracectx logs <run_id>`). The sessions share the sweep's trace id, their span's
//! parent is the sweep's span, and their metadata names the sweep in
//! [`parent_run_id`](crate::RunMetadata::parent_run_id): the whole sweep is one trace, and
//! `tracectx logs --trace-id` pulls it all.
//!
//! The pieces: a batch's jobs and options (`batch`), the ranking (`rank`), the blocking
//! workers that run the sessions (`workers`), and the sweep with its report (here).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::{
    BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bars, ParamGrid, Strategy,
};
use tracectx::{TraceContext, TraceFutureExt};

mod batch;
mod rank;
mod workers;

pub(crate) use batch::batch;
pub use batch::{BacktestJob, BatchOptions, Progress};
pub use rank::RankBy;

// === impl SweepReport ===

/// What a sweep produced: its run id, every successful session ranked, the failures.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy, Statistic};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let data = Arc::new(Bars::synthetic(2_000, 9));
/// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [20, 40]);
/// let report = BacktestEngine::default()
///     .sweep(&data, sma_cross, &grid, RankBy::new(Statistic::ReturnPct), BatchOptions::new())
///     .await;
/// assert_eq!(report.ranked.len() + report.failed.len(), 4);
/// let best = report.best().unwrap();
/// assert!(report.ranked.iter().all(|r| r.stats.return_pct <= best.stats.return_pct));
/// assert_eq!(best.metadata.parent_run_id.as_deref(), Some(report.sweep_id.as_str()));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SweepReport {
    /// The sweep's run id: the caller's inside a scope, else `sweep_<suffix>`.
    pub sweep_id: String,
    /// The statistic the results are ranked by.
    pub rank_by: RankBy,
    /// The sessions that succeeded, best first.
    pub ranked: Vec<BacktestResult>,
    /// The sessions that failed, each error naming its run, in the grid's order.
    pub failed: Vec<BacktestError>,
    /// Wall time of the whole sweep, in seconds.
    pub wall_time_secs: f64,
}

impl SweepReport {
    /// The best session, if any succeeded.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [0, 30]); // slow = 0 fails
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new())
    ///     .await;
    /// assert_eq!((report.ranked.len(), report.failed.len()), (2, 2));
    /// assert_eq!(report.best().unwrap().metadata.params.int("slow")?, 30);
    /// # Ok(()) }
    /// ```
    pub fn best(&self) -> Option<&BacktestResult> {
        self.ranked.first()
    }

    /// The `n` best sessions (fewer when fewer succeeded): a ranked table's rows.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy, Statistic};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=2:8:2")?.fixed("slow", 20);
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::new(Statistic::ReturnPct), BatchOptions::new())
    ///     .await;
    /// assert_eq!(report.top(3).len(), 3);
    /// assert_eq!(report.top(10).len(), 4);
    /// # Ok(()) }
    /// ```
    pub fn top(&self, n: usize) -> &[BacktestResult] {
        &self.ranked[..n.min(self.ranked.len())]
    }
}

// === the sweep ===

/// [`BacktestEngine::sweep`](crate::BacktestEngine::sweep) with `settings`: a job per
/// combination (none over the cap), run as a batch under the sweep's run, then ranked.
pub(crate) fn sweep(
    settings: BacktestSettings,
    data: &Arc<Bars>,
    strategy: Arc<dyn Strategy + Send + Sync>,
    grid: &ParamGrid,
    rank_by: RankBy,
    options: BatchOptions,
) -> impl Future<Output = SweepReport> + Send + 'static + use<> {
    // Over the cap, no job is made: the combinations are never collected.
    let size = grid.checked_len();
    let jobs: Vec<BacktestJob> = match size {
        Ok(_) => grid
            .combinations()
            .map(|params| BacktestJob::shared(data, Arc::clone(&strategy), params))
            .collect(),
        Err(_) => Vec::new(),
    };
    async move {
        let started = Instant::now();
        let sweep = tracectx::current().unwrap_or_else(|| TraceContext::generate("sweep"));
        if let Err(e) = size {
            let error = BacktestError::new(
                Some(sweep.run_id().to_string()),
                strategy.name().into_owned(),
                BacktestErrorKind::Grid(e),
            );
            sweep.sync_scope(|| tracing::error!(error = %error, "sweep refused"));
            return SweepReport {
                sweep_id: sweep.run_id().to_string(),
                rank_by,
                ranked: Vec::new(),
                failed: vec![error],
                wall_time_secs: started.elapsed().as_secs_f64(),
            };
        }
        let outcomes = workers::drive(settings, jobs, options, "sweep", sweep.clone())
            .in_trace_context(sweep.clone())
            .await;
        let (mut ranked, mut failed) = (Vec::new(), Vec::new());
        for outcome in outcomes {
            match outcome {
                Ok(result) => ranked.push(result),
                Err(e) => failed.push(e),
            }
        }
        rank_by.sort(&mut ranked);
        let report = SweepReport {
            sweep_id: sweep.run_id().to_string(),
            rank_by,
            ranked,
            failed,
            wall_time_secs: started.elapsed().as_secs_f64(),
        };
        sweep.sync_scope(|| {
            tracing::info!(
                ok = report.ranked.len(),
                failed = report.failed.len(),
                rank_by = %report.rank_by.statistic(),
                best_run_id = %report
                    .best()
                    .and_then(|b| b.metadata.run_id.as_deref())
                    .unwrap_or("-"),
                best = report
                    .best()
                    .and_then(|b| b.stats.get(rank_by.statistic()))
                    .unwrap_or(f64::NAN),
                wall_ms = report.wall_time_secs * 1e3,
                "sweep ranked"
            );
        });
        report
    }
}
