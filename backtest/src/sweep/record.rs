//! A sweep's sessions as JSON lines, one per session as it finishes: what a shard of a sweep
//! writes and what merging the shards reads back.

use serde::{Deserialize, Serialize};

use super::Progress;
use crate::{Params, Stats};

// === impl SessionRecord ===

/// One session of a sweep as one JSON line: the combination's index in its grid, the runs
/// (the sweep's, the session's, their trace), the strategy, its parameters, and the
/// statistics or the error.
///
/// Each shard of a sweep (`tracectx sweep --shard K/N --output FILE`) writes a record per
/// session as it finishes; `tracectx merge` reads them back and ranks them as one sweep, ties
/// in the order of `index` as in a sweep on one machine.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use tracectx_backtest::{sma_cross, BacktestEngine, BatchOptions, Bars, ParamGrid, RankBy, SessionRecord};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let written = Arc::clone(&lines);
/// let options = BatchOptions::new()
///     .keep_top(1)
///     .on_progress(move |p| written.lock().unwrap().push(SessionRecord::from_progress(p).to_json_line()));
/// let grid = ParamGrid::new().axis("fast", [5, 10]).axis("slow", [20, 0]); // slow=0 fails
/// let report = BacktestEngine::default()
///     .sweep(&Arc::new(Bars::synthetic(500, 1)), sma_cross, &grid, RankBy::default(), options)
///     .await;
/// let records: Vec<SessionRecord> = lines
///     .lock()
///     .unwrap()
///     .iter()
///     .map(|line| serde_json::from_str(line))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(records.len(), 4);
/// assert!(records.iter().all(|r| r.sweep_id.as_deref() == Some(report.sweep_id.as_str())));
/// assert_eq!(records.iter().filter(|r| r.error.is_some()).count(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The combination's index in its grid ([`ParamGrid::indexed`](crate::ParamGrid::indexed)).
    pub index: usize,
    /// The sweep's run id (of this shard).
    pub sweep_id: Option<String>,
    /// The session's run id.
    pub run_id: Option<String>,
    /// The trace id, 8 hex characters as logs show it.
    pub trace_id: Option<String>,
    /// The trace id, 32 hex characters (W3C).
    pub trace_id_full: Option<String>,
    /// The strategy's name.
    pub strategy: String,
    /// The session's parameters.
    pub params: Params,
    /// The statistics, when the session succeeded.
    pub stats: Option<Stats>,
    /// The error, when it failed.
    pub error: Option<String>,
}

impl SessionRecord {
    /// The record of the session a progress report is about; the sweep and trace are read
    /// from the current trace context (the sweep's, where a sweep calls its progress
    /// callback) when the session has none of its own.
    ///
    /// # Examples
    ///
    /// See [`SessionRecord`].
    pub fn from_progress(progress: &Progress<'_>) -> Self {
        let sweep = tracectx::current();
        match progress.outcome {
            Ok(result) => {
                let m = &result.metadata;
                SessionRecord {
                    index: progress.index,
                    sweep_id: m
                        .parent_run_id
                        .as_deref()
                        .map(str::to_owned)
                        .or_else(|| sweep.as_ref().map(|c| c.run_id().to_string())),
                    run_id: m.run_id.as_deref().map(str::to_owned),
                    trace_id: m.trace_id.map(|t| t.short().to_string()),
                    trace_id_full: m.trace_id.map(|t| format!("{t:x}")),
                    strategy: m.strategy.clone(),
                    params: m.params.clone(),
                    stats: Some(result.stats.clone()),
                    error: None,
                }
            }
            Err(e) => SessionRecord {
                index: progress.index,
                sweep_id: sweep.as_ref().map(|c| c.run_id().to_string()),
                run_id: e.run_id().map(str::to_owned),
                trace_id: sweep.as_ref().map(|c| c.trace_id().short().to_string()),
                trace_id_full: sweep.as_ref().map(|c| format!("{:x}", c.trace_id())),
                strategy: e.strategy().to_owned(),
                params: progress.params.clone(),
                stats: None,
                error: Some(e.to_string()),
            },
        }
    }

    /// The record as one line of JSON (no newline).
    ///
    /// # Examples
    ///
    /// See [`SessionRecord`].
    pub fn to_json_line(&self) -> String {
        // Serializing these types cannot fail: string keys only.
        serde_json::to_string(self).unwrap_or_default()
    }
}
