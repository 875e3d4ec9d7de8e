//! Many sessions at once: batches of jobs and sweeps over a parameter grid.
//!
//! [`BacktestEngine::run_batch`] runs [`BacktestJob`]s with at most
//! [`BatchOptions::concurrency`] sessions in flight (by default one per core), each on the
//! blocking pool under a trace context of its own, and reports each as it completes through a
//! progress callback. [`BacktestEngine::sweep`] runs one strategy over every combination of a
//! [`ParamGrid`] the same way and ranks the results by a statistic ([`RankBy`]).
//!
//! **Every session is a run of its own.** A sweep is itself a run (the caller's, inside a
//! scope, else a new `sweep_<suffix>`); each of its sessions gets a new run id
//! (`backtest_<suffix>`), so that one combination's log lines, errors and result can be pulled
//! out alone (`tracectx logs <run_id>`). The sessions share the sweep's trace id, their span's
//! parent is the sweep's span, and their metadata names the sweep in
//! [`parent_run_id`](super::RunMetadata::parent_run_id): the whole sweep is one trace, and
//! `tracectx logs --trace-id` pulls it all.

use std::cmp::Ordering;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::engine::SessionSpec;
use super::{
    BacktestEngine, BacktestError, BacktestErrorKind, BacktestResult, Bars, ParamValue, Params,
    STAT_KEYS, Strategy,
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
    data: Arc<Bars>,
    strategy: Arc<dyn Strategy + Send + Sync>,
    params: Params,
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
    concurrency: usize,
    keep_equity: bool,
    progress: Option<ProgressFn>,
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

// === impl RankBy ===

/// A statistic that is not one of [`STAT_KEYS`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::RankBy;
/// let err = RankBy::new("sharp").unwrap_err();
/// assert!(err.to_string().starts_with(r#"unknown statistic "sharp": expected one of start, end,"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown statistic {key:?}: expected one of {}", STAT_KEYS.join(", "))]
pub struct UnknownStatistic {
    key: String,
}

/// The statistic a sweep ranks its results by, and in which direction.
///
/// Descending by default (the highest Sharpe ratio first); undefined values (`null` in JSON)
/// always rank last, whatever the direction; ties keep the grid's order.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::RankBy;
///
/// let by = RankBy::new("sharpe")?;
/// assert_eq!((by.key(), by.is_ascending()), ("sharpe", false));
/// let shortest: RankBy = "avg_trade_duration_secs".parse::<RankBy>()?.ascending();
/// assert!(shortest.is_ascending());
/// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankBy {
    key: &'static str,
    ascending: bool,
}

impl Default for RankBy {
    /// The Sharpe ratio, highest first.
    fn default() -> Self {
        RankBy {
            key: "sharpe",
            ascending: false,
        }
    }
}

impl RankBy {
    /// Ranks by the statistic `key` (a JSON key of [`Stats`](super::Stats)), highest first.
    ///
    /// # Errors
    ///
    /// [`UnknownStatistic`] when `key` is not one of [`STAT_KEYS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::RankBy;
    /// assert_eq!(RankBy::new("return_pct")?.key(), "return_pct");
    /// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
    /// ```
    pub fn new(key: &str) -> Result<Self, UnknownStatistic> {
        STAT_KEYS
            .iter()
            .find(|&&k| k == key)
            .map(|&key| RankBy {
                key,
                ascending: false,
            })
            .ok_or_else(|| UnknownStatistic {
                key: key.to_owned(),
            })
    }

    /// The same statistic, lowest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::RankBy;
    /// assert!(RankBy::new("volatility_ann_pct")?.ascending().is_ascending());
    /// # Ok::<(), tracectx_backtest::UnknownStatistic>(())
    /// ```
    #[must_use]
    pub fn ascending(self) -> Self {
        RankBy {
            ascending: true,
            ..self
        }
    }

    /// The statistic's key.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx_backtest::RankBy::default().key(), "sharpe");
    /// ```
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// Whether the lowest value ranks first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!tracectx_backtest::RankBy::default().is_ascending());
    /// ```
    pub fn is_ascending(&self) -> bool {
        self.ascending
    }

    /// Sorts `results` best first, stably, undefined values last.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params, RankBy};
    ///
    /// let bars = Bars::synthetic(2_000, 3);
    /// let engine = BacktestEngine::default();
    /// let mut results = [5, 10, 15]
    ///     .into_iter()
    ///     .map(|fast| engine.run(&bars, &sma_cross, &Params::new().with("fast", fast).with("slow", 30)))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// RankBy::new("return_pct")?.sort(&mut results);
    /// assert!(results[0].stats.return_pct >= results[2].stats.return_pct);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sort(&self, results: &mut [BacktestResult]) {
        results.sort_by(|a, b| self.compare(a, b));
    }

    fn compare(&self, a: &BacktestResult, b: &BacktestResult) -> Ordering {
        match (a.stats.get(self.key), b.stats.get(self.key)) {
            (Some(x), Some(y)) => {
                let order = x.total_cmp(&y);
                if self.ascending {
                    order
                } else {
                    order.reverse()
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

impl std::str::FromStr for RankBy {
    type Err = UnknownStatistic;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        RankBy::new(key)
    }
}

impl fmt::Display for RankBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = if self.ascending { "lowest" } else { "highest" };
        write!(f, "{} ({order} first)", self.key)
    }
}

// === impl ParamGrid ===

/// A parameter grid that cannot be swept: an axis that cannot be read, or more combinations
/// than [`ParamGrid::MAX_COMBINATIONS`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamGrid;
///
/// let err = ParamGrid::new().parse_axis("fast=5:50:0").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid grid axis "fast=5:50:0": the step must be above 0"#);
/// assert_eq!(err.combinations(), None);
///
/// let err = ParamGrid::new()
///     .parse_axis("fast=1:1000000:1")?
///     .parse_axis("slow=1:1000000:1")
///     .unwrap_err();
/// assert_eq!(err.combinations(), Some(1_000_000_000_000));
/// assert_eq!(
///     err.to_string(),
///     "invalid grid axis \"slow=1:1000000:1\": the grid would have 1,000,000,000,000 \
///      combinations, over the cap of 1,000,000",
/// );
/// # Ok::<(), tracectx_backtest::GridError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridError {
    /// The axis as written, when the error is about one.
    axis: Option<String>,
    reason: GridReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GridReason {
    /// The axis cannot be read.
    Axis(&'static str),
    /// The grid has more combinations than the cap (saturating at `u128::MAX`).
    TooLarge { combinations: u128 },
}

impl GridError {
    /// The number of combinations the grid would have had, when that is what is wrong (over
    /// [`ParamGrid::MAX_COMBINATIONS`]); `u128::MAX` stands for that many or more.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let err = ParamGrid::new().parse_axis("k=0:1:0.0000001").unwrap_err();
    /// assert_eq!(err.combinations(), Some(10_000_001));
    /// assert!(ParamGrid::new().parse_axis("k").unwrap_err().combinations().is_none());
    /// ```
    pub fn combinations(&self) -> Option<u128> {
        match self.reason {
            GridReason::TooLarge { combinations } => Some(combinations),
            GridReason::Axis(_) => None,
        }
    }
}

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.axis {
            Some(text) => write!(f, "invalid grid axis {text:?}: ")?,
            None => f.write_str("invalid parameter grid: ")?,
        }
        match self.reason {
            GridReason::Axis(reason) => f.write_str(reason),
            GridReason::TooLarge { combinations } => {
                let count = if combinations == u128::MAX {
                    "more than 10^38".to_owned()
                } else {
                    thousands(combinations)
                };
                let verb = if self.axis.is_some() {
                    "would have"
                } else {
                    "has"
                };
                write!(
                    f,
                    "the grid {verb} {count} combinations, over the cap of {}",
                    thousands(ParamGrid::MAX_COMBINATIONS as u128)
                )
            }
        }
    }
}

impl std::error::Error for GridError {}

/// `n` with a comma every three digits.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Every combination of some parameters' values: the input of a sweep.
///
/// Axes are given as lists of values ([`axis`](Self::axis)) or as the command line writes
/// them ([`parse_axis`](Self::parse_axis)): `fast=5:50:5` (from 5 to 50 inclusive, step 5) or
/// `mode=a,b,c`. Parameters that do not vary are [`fixed`](Self::fixed). Combinations come in
/// the order of the axes, the last varying fastest.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::ParamGrid;
///
/// let grid = ParamGrid::new()
///     .parse_axis("fast=5:50:5")?
///     .parse_axis("slow=20:200:10")?
///     .fixed("long_only", true);
/// assert_eq!(grid.len(), 10 * 19);
/// let first = grid.combinations().next().unwrap();
/// assert_eq!(first.to_string(), "fast=5 long_only=true slow=20");
/// # Ok::<(), tracectx_backtest::GridError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamGrid {
    fixed: Params,
    axes: Vec<(String, Vec<ParamValue>)>,
}

impl ParamGrid {
    /// The most combinations a grid may have: 1,000,000.
    ///
    /// A sweep runs one session and keeps one result (statistics, trades, metadata) per
    /// combination, so a million combinations is already hours of work and gigabytes of
    /// results; a mistyped range (`slow=20:20000000:1`, or two axes of a thousand values
    /// too many) should be an error at once, not an exhausted memory later.
    /// [`parse_axis`](Self::parse_axis) refuses an axis that would take the grid over the
    /// cap, before making its values; [`checked_len`](Self::checked_len) checks a grid built
    /// with [`axis`](Self::axis); [`BacktestEngine::sweep`] runs no session of a grid over it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert_eq!(ParamGrid::MAX_COMBINATIONS, 1_000_000);
    /// assert!(ParamGrid::new().parse_axis("a=1:1000:1")?.parse_axis("b=1:1000:1").is_ok());
    /// assert!(ParamGrid::new().parse_axis("a=1:1000:1")?.parse_axis("b=1:1001:1").is_err());
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub const MAX_COMBINATIONS: usize = 1_000_000;

    /// An empty grid: one combination, with no parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx_backtest::ParamGrid::new().len(), 1);
    /// ```
    pub fn new() -> Self {
        ParamGrid::default()
    }

    /// This grid with `name` taking each of `values` in turn (replacing an axis or fixed
    /// value of the same name).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [20, 30, 40]);
    /// assert_eq!(grid.len(), 6);
    /// ```
    #[must_use]
    pub fn axis<V: Into<ParamValue>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let name = name.into();
        self.fixed = std::mem::take(&mut self.fixed)
            .iter()
            .filter(|(k, _)| *k != name)
            .fold(Params::new(), |p, (k, v)| p.with(k, v.clone()));
        let values = values.into_iter().map(Into::into).collect();
        match self.axes.iter_mut().find(|(k, _)| *k == name) {
            Some(axis) => axis.1 = values,
            None => self.axes.push((name, values)),
        }
        self
    }

    /// This grid with `name` fixed to `value` in every combination.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("fast", [5, 10]).fixed("slow", 30);
    /// assert!(grid.combinations().all(|p| p.int("slow") == Ok(30)));
    /// ```
    #[must_use]
    pub fn fixed(mut self, name: impl Into<String>, value: impl Into<ParamValue>) -> Self {
        let name = name.into();
        self.axes.retain(|(k, _)| *k != name);
        self.fixed.insert(name, value);
        self
    }

    /// This grid with an axis written as on the command line: `name=start:stop:step`
    /// (inclusive of `stop` when the steps land on it; integers when all three are) or
    /// `name=v1,v2,...` (each value read by [`ParamValue::parse`]); a single value fixes the
    /// parameter.
    ///
    /// # Errors
    ///
    /// [`GridError`] naming the text: no `=`, a range with a part that is not a number, a
    /// step of 0 or less, a stop before the start, or an axis that would take the grid over
    /// [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS) (checked before any value is made, and
    /// without overflow whatever the numbers).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, ParamValue};
    ///
    /// let grid = ParamGrid::new().parse_axis("k=0.5:1.5:0.5")?.parse_axis("mode=fast,slow")?;
    /// assert_eq!(grid.len(), 6);
    /// assert_eq!(grid.combinations().last().unwrap().get("k"), Some(&ParamValue::Float(1.5)));
    /// assert!(ParamGrid::new().parse_axis("fast=50:5:5").is_err());
    /// # Ok::<(), tracectx_backtest::GridError>(())
    /// ```
    pub fn parse_axis(self, text: &str) -> Result<Self, GridError> {
        let fail = |reason| GridError {
            axis: Some(text.to_owned()),
            reason: GridReason::Axis(reason),
        };
        // The whole grid with this axis of `count` values must stay under the cap; checked
        // before the values are made.
        let check = |name: &str, count: u128| {
            let combinations = self.len_with(Some(name), count).max(count);
            if combinations > ParamGrid::MAX_COMBINATIONS as u128 {
                Err(GridError {
                    axis: Some(text.to_owned()),
                    reason: GridReason::TooLarge { combinations },
                })
            } else {
                Ok(())
            }
        };
        let (name, spec) = text
            .split_once('=')
            .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
            .ok_or_else(|| fail("expected name=start:stop:step or name=v1,v2,..."))?;
        let (name, spec) = (name.trim(), spec.trim());
        let values: Vec<ParamValue> = if spec.contains(':') {
            let parts: Vec<ParamValue> = spec
                .split(':')
                .map(|p| ParamValue::parse(p.trim()))
                .collect();
            match parts.as_slice() {
                [
                    ParamValue::Int(a),
                    ParamValue::Int(b),
                    ParamValue::Int(step),
                ] => {
                    if *step <= 0 {
                        return Err(fail("the step must be above 0"));
                    }
                    if b < a {
                        return Err(fail("the stop is before the start"));
                    }
                    // In i128: `b - a` of two i64 cannot overflow there.
                    let (a, b, step) = (i128::from(*a), i128::from(*b), i128::from(*step));
                    let last = (b - a) / step;
                    check(name, last.unsigned_abs() + 1)?;
                    // `a + k * step` lies in `a..=b`, so it fits an i64 again.
                    (0..=last)
                        .map(|k| ParamValue::Int((a + k * step) as i64))
                        .collect()
                }
                [a, b, step] => {
                    let num = |v: &ParamValue| match v {
                        ParamValue::Int(i) => Some(*i as f64),
                        ParamValue::Float(x) if x.is_finite() => Some(*x),
                        _ => None,
                    };
                    let (Some(a), Some(b), Some(step)) = (num(a), num(b), num(step)) else {
                        return Err(fail("start, stop and step must be numbers"));
                    };
                    if step <= 0.0 {
                        return Err(fail("the step must be above 0"));
                    }
                    if b < a {
                        return Err(fail("the stop is before the start"));
                    }
                    // A tolerance of a millionth of a step, so 0.1:0.3:0.1 ends at 0.3. `b - a`
                    // may be infinite (from -1e308 to 1e308): the count is then infinite too,
                    // and the cast to u128 saturates.
                    let last = ((b - a) / step + 1e-6).floor();
                    check(name, (last + 1.0) as u128)?;
                    (0..=last as i64)
                        .map(|k| ParamValue::Float(a + k as f64 * step))
                        .collect()
                }
                _ => return Err(fail("a range is start:stop:step")),
            }
        } else {
            check(name, spec.split(',').count() as u128)?;
            spec.split(',')
                .map(|v| ParamValue::parse(v.trim()))
                .collect()
        };
        Ok(match <[ParamValue; 1]>::try_from(values) {
            Ok([value]) => self.fixed(name, value),
            Err(values) => self.axis(name, values),
        })
    }

    /// The number of combinations: the product of the axes' lengths, saturating at
    /// `usize::MAX`. It may be over [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS) for a grid
    /// built with [`axis`](Self::axis); [`checked_len`](Self::checked_len) says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert_eq!(ParamGrid::new().axis("a", [1, 2]).axis("b", [1, 2, 3]).len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.axes
            .iter()
            .fold(1usize, |n, (_, v)| n.saturating_mul(v.len()))
    }

    /// The number of combinations, or a [`GridError`] saying how many there are when that
    /// is over [`MAX_COMBINATIONS`](Self::MAX_COMBINATIONS).
    ///
    /// # Errors
    ///
    /// [`GridError`] with [`combinations`](GridError::combinations) when the grid is over
    /// the cap.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    ///
    /// assert_eq!(ParamGrid::new().axis("a", [1, 2]).checked_len(), Ok(2));
    /// let huge = ParamGrid::new().axis("a", 0..2_000).axis("b", 0..2_000);
    /// let err = huge.checked_len().unwrap_err();
    /// assert_eq!(err.combinations(), Some(4_000_000));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid parameter grid: the grid has 4,000,000 combinations, over the cap of 1,000,000"
    /// );
    /// ```
    pub fn checked_len(&self) -> Result<usize, GridError> {
        let combinations = self.len_with(None, 1);
        if combinations > ParamGrid::MAX_COMBINATIONS as u128 {
            return Err(GridError {
                axis: None,
                reason: GridReason::TooLarge { combinations },
            });
        }
        // At most the cap, so it fits a usize.
        Ok(combinations as usize)
    }

    /// The number of combinations times `count`, leaving out the axis `replaced` (an axis
    /// of `count` values replaces it), saturating at `u128::MAX`.
    fn len_with(&self, replaced: Option<&str>, count: u128) -> u128 {
        self.axes
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != replaced)
            .fold(count, |n, (_, v)| n.saturating_mul(v.len() as u128))
    }

    /// Whether there is no combination at all (an axis without values).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// assert!(ParamGrid::new().axis("a", Vec::<i64>::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every combination, the last axis varying fastest, made one at a time as the iterator
    /// is advanced.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::ParamGrid;
    /// let grid = ParamGrid::new().axis("a", [1, 2]).axis("b", [3, 4]);
    /// let all: Vec<String> = grid.combinations().map(|p| p.to_string()).collect();
    /// assert_eq!(all, ["a=1 b=3", "a=1 b=4", "a=2 b=3", "a=2 b=4"]);
    /// ```
    pub fn combinations(&self) -> impl Iterator<Item = Params> + '_ {
        let total = self.len();
        (0..total).map(move |mut k| {
            let mut params = self.fixed.clone();
            for (name, values) in self.axes.iter().rev() {
                params.insert(name.clone(), values[k % values.len()].clone());
                k /= values.len();
            }
            params
        })
    }
}

// === impl SweepReport ===

/// What a sweep produced: its run id, every successful session ranked, the failures.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let data = Arc::new(Bars::synthetic(2_000, 9));
/// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [20, 40]);
/// let report = BacktestEngine::default()
///     .sweep(&data, sma_cross, &grid, RankBy::new("return_pct")?, BatchOptions::new())
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
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let grid = ParamGrid::new().parse_axis("fast=2:8:2")?.fixed("slow", 20);
    /// let report = BacktestEngine::default()
    ///     .sweep(&Arc::new(Bars::synthetic(1_000, 1)), sma_cross, &grid, RankBy::new("return_pct")?, BatchOptions::new())
    ///     .await;
    /// assert_eq!(report.top(3).len(), 3);
    /// assert_eq!(report.top(10).len(), 4);
    /// # Ok(()) }
    /// ```
    pub fn top(&self, n: usize) -> &[BacktestResult] {
        &self.ranked[..n.min(self.ranked.len())]
    }
}

// === impl BacktestEngine (batches) ===

impl BacktestEngine {
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
    ) -> impl std::future::Future<Output = Vec<Result<BacktestResult, BacktestError>>>
    + Send
    + 'static
    + use<I>
    where
        I: IntoIterator<Item = BacktestJob>,
    {
        let jobs: Vec<BacktestJob> = jobs.into_iter().collect();
        let engine = self.clone();
        async move {
            let batch = tracectx::current().unwrap_or_else(|| TraceContext::generate("batch"));
            engine
                .drive(jobs, options, "batch", batch.clone())
                .in_trace_context(batch)
                .await
        }
    }

    /// Runs `strategy` over every combination of `grid` on `data`, as
    /// [`run_batch`](Self::run_batch) runs jobs, and ranks the results by `rank_by`.
    ///
    /// The sweep is a run (the caller's inside a scope, else `sweep_<suffix>`, in
    /// [`SweepReport::sweep_id`]); each combination is a session with its own run id whose
    /// metadata names the sweep ([`parent_run_id`](super::RunMetadata::parent_run_id)). With
    /// the default concurrency (one session per core) a sweep keeps every core busy.
    ///
    /// A grid over [`ParamGrid::MAX_COMBINATIONS`] runs no session: the report ranks
    /// nothing and holds one failure, a [`BacktestErrorKind::Grid`] naming the sweep's run
    /// and the number of combinations (check first with [`ParamGrid::checked_len`]).
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, Named, ParamGrid, RankBy};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let data = Arc::new(Bars::synthetic(5_000, 42));
    /// let grid = ParamGrid::new().parse_axis("fast=5:20:5")?.parse_axis("slow=30:60:10")?;
    /// let report = BacktestEngine::default()
    ///     .sweep(&data, Named::new("sma-cross", sma_cross), &grid, RankBy::new("sharpe")?, BatchOptions::new().keep_equity(false))
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
    ) -> impl std::future::Future<Output = SweepReport> + Send + 'static + use<S>
    where
        S: Strategy + Send + Sync + 'static,
    {
        let strategy: Arc<dyn Strategy + Send + Sync> = Arc::new(strategy);
        // Over the cap, no job is made: the combinations are never collected.
        let size = grid.checked_len();
        let jobs: Vec<BacktestJob> = match size {
            Ok(_) => grid
                .combinations()
                .map(|params| BacktestJob::shared(data, Arc::clone(&strategy), params))
                .collect(),
            Err(_) => Vec::new(),
        };
        let engine = self.clone();
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
            let outcomes = engine
                .drive(jobs, options, "sweep", sweep.clone())
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
                    rank_by = %report.rank_by.key(),
                    best_run_id = %report
                        .best()
                        .and_then(|b| b.metadata.run_id.as_deref())
                        .unwrap_or("-"),
                    best = report.best().and_then(|b| b.stats.get(rank_by.key())).unwrap_or(f64::NAN),
                    wall_ms = report.wall_time_secs * 1e3,
                    "sweep ranked"
                );
            });
            report
        }
    }

    /// Runs the jobs on `options.concurrency` blocking workers, each session under a new run
    /// in `parent`'s trace; outcomes in the jobs' order.
    ///
    /// Each worker takes the next job as soon as it finishes one and hands the outcome over a
    /// channel, so a worker never waits for this task (which reports progress) between two
    /// sessions. When this future is dropped, the workers stop after their current session.
    async fn drive(
        self,
        jobs: Vec<BacktestJob>,
        mut options: BatchOptions,
        what: &'static str,
        parent: TraceContext,
    ) -> Vec<Result<BacktestResult, BacktestError>> {
        let total = jobs.len();
        let concurrency = options.concurrency.max(1).min(total.max(1));
        tracing::info!(sessions = total, concurrency, "{what} started");
        let mut outcomes: Vec<Option<Result<BacktestResult, BacktestError>>> =
            (0..total).map(|_| None).collect();
        // What a session that never ran is reported as (it has no run).
        let names: Vec<String> = jobs
            .iter()
            .map(|j| j.strategy.name().into_owned())
            .collect();
        let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate()));
        let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
        let (finished, mut outcomes_in) = mpsc::unbounded_channel();
        let mut workers = JoinSet::new();
        for _ in 0..concurrency {
            let (queue, stop, finished) =
                (Arc::clone(&queue), Arc::clone(&stop.0), finished.clone());
            let (engine, parent, keep_equity) = (self.clone(), parent.clone(), options.keep_equity);
            workers.spawn_blocking(move || {
                while !stop.load(AtomicOrdering::Relaxed) {
                    // The lock is held only to take the next job.
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((index, job)) = next else {
                        break;
                    };
                    let ctx =
                        parent.child_for_run(TraceContext::generate("backtest").run_id().clone());
                    let spec = SessionSpec {
                        parent_run_id: Some(parent.run_id().to_string()),
                        keep_equity,
                        alone: false,
                        ..SessionSpec::new(ctx)
                    };
                    let session = engine.session_job(job.data, job.strategy, job.params, spec);
                    if finished.send((index, session())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(finished);
        let mut done = 0;
        while let Some((index, outcome)) = outcomes_in.recv().await {
            done += 1;
            if let Some(progress) = options.progress.as_mut() {
                progress(&Progress {
                    done,
                    total,
                    outcome: &outcome,
                });
            }
            outcomes[index] = Some(outcome);
        }
        // Every worker has dropped its sender: they are done (a session the runtime never
        // ran, cancelling its worker, is filled in as cancelled below).
        while workers.join_next().await.is_some() {}
        let failed = outcomes
            .iter()
            .filter(|o| !matches!(o, Some(Ok(_))))
            .count();
        tracing::info!(ok = total - failed, failed, "{what} finished");
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
}

/// Tells a batch's workers to stop taking sessions when the batch's future ends, finished or
/// dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, AtomicOrdering::Relaxed);
    }
}
