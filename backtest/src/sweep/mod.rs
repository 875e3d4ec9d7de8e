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
    BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings, Bars, ParamGrid, Shard,
    Strategy,
};
use tracectx::{TraceContext, TraceFutureExt};

mod batch;
mod rank;
mod record;
mod table;
mod workers;

pub(crate) use batch::batch;
pub use batch::{BacktestJob, BatchOptions, Progress};
pub use rank::{Leaderboard, RankBy};
pub use record::{RecordError, SessionRecord};
pub use table::{write_columns, write_ranked_table};

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
    /// The part of the grid swept ([`Shard::ALL`] unless the grid was sharded).
    pub shard: Shard,
    /// The sessions run: the combinations the grid selects.
    pub sessions: usize,
    /// The sessions that succeeded (all of them ranked; `ranked` keeps the best, as many as
    /// [`BatchOptions::keep_top`] says).
    pub succeeded: usize,
    /// The best sessions that succeeded, best first (ties in the grid's order): all of them,
    /// or as many as [`BatchOptions::keep_top`] says.
    pub ranked: Vec<BacktestResult>,
    /// The sessions that failed, each error naming its run, in the order they failed: all of
    /// them, or the first [`BatchOptions::keep_failures`]. `sessions - succeeded` failed in
    /// all.
    pub failed: Vec<BacktestError>,
    /// The ranked statistic over the grid's first two axes, when
    /// [`BatchOptions::keep_heatmap`] asked for it.
    pub heatmap: Option<Heatmap>,
    /// Wall time of the whole sweep, in seconds.
    pub wall_time_secs: f64,
}

// === impl Heatmap ===

/// A sweep's ranked statistic over two axes of its grid: for each pair of values, the best
/// value among the sessions that had them (over the other axes), `None` where none succeeded
/// or the statistic is undefined. A grid of one axis has a `y` of one unnamed value.
///
/// # Examples
///
/// See [`BatchOptions::keep_heatmap`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Heatmap {
    /// The statistic and its direction.
    pub rank_by: RankBy,
    /// The horizontal axis: the grid's first.
    pub x: HeatmapAxis,
    /// The vertical axis: the grid's second.
    pub y: HeatmapAxis,
    /// The cells, row by row (`y` outer, `x` inner): `cells[j * x.values.len() + i]`.
    pub cells: Vec<Option<f64>>,
    /// The grid's other axes, each cell's best is taken over: their names and numbers of
    /// values.
    pub others: Vec<(String, usize)>,
}

/// One axis of a [`Heatmap`]: the parameter's name and its values.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, ParamValue, RankBy};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let grid = ParamGrid::new().parse_axis("fast=5:15:5")?.parse_axis("slow=30:40:10")?;
/// let report = BacktestEngine::default()
///     .sweep(&Arc::new(Bars::synthetic(500, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new().keep_heatmap(true))
///     .await;
/// let y = &report.heatmap.as_ref().unwrap().y;
/// assert_eq!((y.name.as_str(), y.values.as_slice()), ("slow", &[ParamValue::Int(30), ParamValue::Int(40)][..]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HeatmapAxis {
    /// The parameter's name (empty for the missing second axis of a one-axis grid).
    pub name: String,
    /// Its values, in the grid's order.
    pub values: Vec<crate::ParamValue>,
}

impl Heatmap {
    /// An empty heat map over the first two axes of `grid`; `None` for a grid without axes.
    fn for_grid(grid: &ParamGrid, rank_by: RankBy) -> Option<Heatmap> {
        let axis = |k: usize| {
            let (name, len) = grid.axes().nth(k)?;
            Some(HeatmapAxis {
                name: name.to_owned(),
                values: (0..len).filter_map(|i| grid.axis_value(k, i)).collect(),
            })
        };
        let x = axis(0)?;
        let y = axis(1).unwrap_or(HeatmapAxis {
            name: String::new(),
            values: vec![crate::ParamValue::Str(String::new())],
        });
        let cells = vec![None; x.values.len() * y.values.len()];
        Some(Heatmap {
            rank_by,
            x,
            y,
            cells,
            others: grid
                .axes()
                .skip(2)
                .map(|(name, len)| (name.to_owned(), len))
                .collect(),
        })
    }

    /// Takes a session's value at its coordinates on the grid's axes.
    fn add(&mut self, coordinates: &[usize], value: Option<f64>) {
        let (i, j) = (
            coordinates.first().copied().unwrap_or(0),
            coordinates.get(1).copied().unwrap_or(0),
        );
        let Some(cell) = self.cells.get_mut(j * self.x.values.len() + i) else {
            return;
        };
        if self.rank_by.compare_values(value, *cell) == std::cmp::Ordering::Less {
            *cell = value;
        }
    }
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

    /// Writes the `n` best sessions as the table `tracectx sweep` prints
    /// ([`write_ranked_table`]).
    ///
    /// # Errors
    ///
    /// Those of writing to `out`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=5:15:5")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::default(), BatchOptions::new())
    ///     .await;
    /// let mut table = Vec::new();
    /// report.write_table(&mut table, 2)?;
    /// let table = String::from_utf8(table)?;
    /// assert_eq!(table.lines().count(), 3);
    /// assert!(table.starts_with("RANK  RUN_ID"));
    /// # Ok(()) }
    /// ```
    pub fn write_table<W: std::io::Write + ?Sized>(
        &self,
        out: &mut W,
        n: usize,
    ) -> std::io::Result<()> {
        let rows = self.top(n).iter().map(|r| {
            (
                r.metadata.run_id.as_deref().unwrap_or("-"),
                &r.metadata.params,
                &r.stats,
            )
        });
        write_ranked_table(out, self.rank_by.statistic(), rows)
    }
}

// === the sweep ===

/// [`BacktestEngine::sweep`](crate::BacktestEngine::sweep) with `settings`: a job per
/// selected combination (none over the cap), each made when a worker takes it, run under the
/// sweep's run; the results ranked as they come, only the best kept.
pub(crate) fn sweep(
    settings: BacktestSettings,
    data: &Arc<Bars>,
    strategy: Arc<dyn Strategy + Send + Sync>,
    grid: &ParamGrid,
    rank_by: RankBy,
    options: BatchOptions,
) -> impl Future<Output = SweepReport> + Send + 'static + use<> {
    let size = grid.checked_len();
    let grid = Arc::new(grid.clone());
    let data = Arc::clone(data);
    async move {
        let started = Instant::now();
        let sweep = tracectx::current().unwrap_or_else(|| TraceContext::generate("sweep"));
        let shard = grid.get_shard();
        if let Err(e) = size {
            // Over the cap, no job is made: the combinations are never counted.
            let error = BacktestError::new(
                Some(sweep.run_id().to_string()),
                strategy.name().into_owned(),
                BacktestErrorKind::Grid(e),
            );
            sweep.sync_scope(|| tracing::error!(error = %error, "sweep refused"));
            return SweepReport {
                sweep_id: sweep.run_id().to_string(),
                rank_by,
                shard,
                sessions: 0,
                succeeded: 0,
                ranked: Vec::new(),
                failed: vec![error],
                heatmap: None,
                wall_time_secs: started.elapsed().as_secs_f64(),
            };
        }
        let total = grid.selected();
        let (keep_top, keep_failures) = (options.keep_top, options.keep_failures);
        let mut board = Leaderboard::new(rank_by, keep_top);
        let mut failed = Vec::new();
        let statistic = rank_by.statistic();
        let mut heatmap = options
            .keep_heatmap
            .then(|| Heatmap::for_grid(&grid, rank_by))
            .flatten();
        let coordinates_of = Arc::clone(&grid);
        // Indicators and the closes' log ratios, computed once for every session.
        let shared = Arc::new(crate::session::Shared::new(
            Arc::clone(&data),
            options.indicator_memory,
            Arc::clone(&grid),
        ));
        let source = Box::new(GridJobs {
            next: shard.index() - 1,
            grid,
            data,
            strategy,
        });
        let sessions = workers::drive(
            settings,
            Some(shared),
            source,
            total,
            options,
            "sweep",
            sweep.clone(),
            |index, outcome| match outcome {
                Ok(result) => {
                    let value = result.stats.get(statistic);
                    if let Some(heatmap) = &mut heatmap {
                        heatmap.add(&coordinates_of.coordinates(index), value);
                    }
                    board.push(index, value, result);
                }
                Err(e) if failed.len() < keep_failures => failed.push(e),
                Err(_) => {}
            },
        )
        .in_trace_context(sweep.clone())
        .await;
        let succeeded = board.seen();
        let report = SweepReport {
            sweep_id: sweep.run_id().to_string(),
            rank_by,
            shard,
            sessions,
            succeeded,
            ranked: board.into_sorted(),
            failed,
            heatmap,
            wall_time_secs: started.elapsed().as_secs_f64(),
        };
        sweep.sync_scope(|| {
            tracing::info!(
                ok = report.succeeded,
                failed = report.sessions - report.succeeded,
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

/// The jobs of a sweep, one per combination the grid selects, each made when it is taken.
struct GridJobs {
    grid: Arc<ParamGrid>,
    /// The next combination to look at.
    next: usize,
    data: Arc<Bars>,
    strategy: Arc<dyn Strategy + Send + Sync>,
}

impl Iterator for GridJobs {
    type Item = (usize, BacktestJob);

    fn next(&mut self) -> Option<(usize, BacktestJob)> {
        let (total, step) = (self.grid.len(), self.grid.get_shard().count());
        while self.next < total {
            let index = self.next;
            self.next = self.next.saturating_add(step);
            let params = self.grid.params_at(index);
            if self.grid.allows(&params) {
                let job = BacktestJob::shared(&self.data, Arc::clone(&self.strategy), params);
                return Some((index, job));
            }
        }
        None
    }
}
