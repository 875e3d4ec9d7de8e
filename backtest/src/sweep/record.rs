//! A sweep's sessions as JSON lines, one per session as it finishes: what a shard of a sweep
//! writes and what merging the shards reads back.

use serde::{Deserialize, Serialize};
use tracectx::escape;

use super::Progress;
use crate::{BacktestSettings, Bars, ParamGrid, ParamValue, Params, Shard, Stats};

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
    /// What the sweep ran, the same for every shard of one sweep and for no other
    /// ([`sweep_fingerprint`](Self::sweep_fingerprint)): `tracectx merge` refuses records of
    /// different sweeps. Absent from records written without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_fingerprint: Option<String>,
    /// How many sessions the whole sweep runs, every shard together (after constraints):
    /// `tracectx merge` says when the shards given hold fewer. Absent from records written
    /// without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_sessions: Option<usize>,
    /// The shard that ran the session (`K/N`, as `--shard` takes it): `tracectx merge`
    /// refuses shards that split the grid differently and names a shard missing. Absent
    /// from records written without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// How many sessions the session's shard runs (after constraints): `tracectx merge`
    /// names a shard that did not finish. Absent from records written without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_sessions: Option<usize>,
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
                    sweep_fingerprint: None,
                    sweep_sessions: None,
                    shard: None,
                    shard_sessions: None,
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
                sweep_fingerprint: None,
                sweep_sessions: None,
                shard: None,
                shard_sessions: None,
            },
        }
    }

    /// The record with the fingerprint of its sweep ([`sweep_fingerprint`](Self::sweep_fingerprint)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestSettings, BatchOptions, Bars, ParamGrid, RankBy, SessionRecord};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (bars, settings) = (Arc::new(Bars::synthetic(300, 1)), BacktestSettings::default());
    /// let grid = ParamGrid::new().parse_axis("fast=5:15:5")?;
    /// let sweep = SessionRecord::sweep_fingerprint(&bars, "sma-cross", &grid, &settings);
    /// let records = Arc::new(Mutex::new(Vec::new()));
    /// let kept = Arc::clone(&records);
    /// let options = BatchOptions::new().on_progress(move |p| {
    ///     let record = SessionRecord::from_progress(p).with_sweep_fingerprint(sweep.clone());
    ///     kept.lock().unwrap().push(record);
    /// });
    /// BacktestEngine::new(settings).sweep(&bars, sma_cross, &grid, RankBy::default(), options).await;
    /// let records = records.lock().unwrap();
    /// assert_eq!(records.len(), 3);
    /// assert!(records.iter().all(|r| r.sweep_fingerprint == records[0].sweep_fingerprint));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_sweep_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.sweep_fingerprint = Some(fingerprint.into());
        self
    }

    /// The record with the number of sessions its whole sweep runs, every shard together
    /// ([`ParamGrid::selected`](crate::ParamGrid::selected) of the grid without its shard).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, SessionRecord, Shard};
    ///
    /// let grid = ParamGrid::new().parse_axis("fast=5:50:5")?.shard(Shard::new(2, 3).unwrap());
    /// let whole = grid.clone().shard(Shard::ALL).selected();
    /// let line = r#"{"index":1,"sweep_id":null,"run_id":null,"trace_id":null,"trace_id_full":null,"strategy":"sma-cross","params":{},"stats":null,"error":"x"}"#;
    /// let record: SessionRecord = serde_json::from_str(line)?;
    /// assert_eq!(record.sweep_sessions, None);
    /// let record = record.with_sweep_sessions(whole);
    /// assert_eq!(record.sweep_sessions, Some(10));
    /// assert!(record.to_json_line().contains(r#""sweep_sessions":10"#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_sweep_sessions(mut self, sessions: usize) -> Self {
        self.sweep_sessions = Some(sessions);
        self
    }

    /// The record with the shard that ran it and the number of sessions that shard runs
    /// ([`ParamGrid::selected`](crate::ParamGrid::selected) of the shard's grid).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{ParamGrid, SessionRecord, Shard};
    ///
    /// let shard = Shard::new(2, 3).unwrap();
    /// let grid = ParamGrid::new().parse_axis("fast=5:50:5")?.shard(shard);
    /// let line = r#"{"index":1,"sweep_id":null,"run_id":null,"trace_id":null,"trace_id_full":null,"strategy":"sma-cross","params":{},"stats":null,"error":"x"}"#;
    /// let record: SessionRecord = serde_json::from_str(line)?;
    /// let record = record.with_shard(shard, grid.selected());
    /// let line = record.to_json_line();
    /// assert!(line.contains(r#""shard":"2/3","shard_sessions":3"#));
    /// assert_eq!(serde_json::from_str::<SessionRecord>(&line)?.shard, Some(shard));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_shard(mut self, shard: Shard, sessions: usize) -> Self {
        self.shard = Some(shard);
        self.shard_sessions = Some(sessions);
        self
    }

    /// What a sweep runs, as 16 hexadecimal digits: a hash of the bars'
    /// [`fingerprint`](Bars::fingerprint), the strategy's name, the combinations of the grid
    /// (its fixed parameters, axes and constraints; not its [`Shard`](crate::Shard)) and the
    /// settings. Every shard of one sweep computes the same; a sweep of other bars, grid,
    /// strategy or settings another one (within the odds of a 64-bit hash).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{BacktestSettings, Bars, ParamGrid, SessionRecord, Shard};
    ///
    /// let bars = Bars::synthetic(300, 1);
    /// let settings = BacktestSettings::new(10_000.0);
    /// let grid = ParamGrid::new().parse_axis("fast=5:50:5")?;
    /// let of = |grid: &ParamGrid, settings: &BacktestSettings| {
    ///     SessionRecord::sweep_fingerprint(&bars, "sma-cross", grid, settings)
    /// };
    /// let whole = of(&grid, &settings);
    /// assert_eq!(whole.len(), 16);
    /// // A shard of the sweep is the same sweep; another grid or other settings are not.
    /// assert_eq!(of(&grid.clone().shard(Shard::new(2, 3).unwrap()), &settings), whole);
    /// assert_ne!(of(&ParamGrid::new().parse_axis("fast=5:55:5")?, &settings), whole);
    /// assert_ne!(of(&grid, &settings.with_commission(0.001)), whole);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sweep_fingerprint(
        bars: &Bars,
        strategy: &str,
        grid: &ParamGrid,
        settings: &BacktestSettings,
    ) -> String {
        let settings = serde_json::to_string(settings).unwrap_or_default();
        let text = format!(
            "{}\n{strategy}\n{}\n{settings}",
            bars.fingerprint(),
            grid.describe()
        );
        // FNV-1a, then SplitMix64's finalizer: stable across platforms and versions.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        format!("{:016x}", h ^ (h >> 31))
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

    /// The longest line [`from_json_line`](Self::from_json_line) reads: 1 MiB (a record is a
    /// few kilobytes). A reader of a file of records (`tracectx merge`) holds at most this
    /// much of a line, so a file that is not one (gigabytes without a newline) is refused at
    /// once.
    pub const MAX_JSON_LINE: usize = 1 << 20;

    /// Reads back a line written by [`to_json_line`](Self::to_json_line) (its newline left
    /// out), as `tracectx merge` reads a shard's file: a line from outside, checked before any
    /// of it is shown. Run and sweep ids must be run ids, trace ids hexadecimal of their
    /// length, the sweep fingerprint 16 hexadecimal digits, parameter names ASCII words,
    /// parameter values that are text free of white space, the index within
    /// [`ParamGrid::MAX_COMBINATIONS`], and no text may hold a character the crate's escaper
    /// would escape ([`tracectx::escape`]), so that nothing read can disguise a terminal's
    /// output.
    ///
    /// # Errors
    ///
    /// [`RecordError`] saying what is wrong: a line over [`MAX_JSON_LINE`](Self::MAX_JSON_LINE)
    /// bytes, JSON that is not a record, or the field that fails its check.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::SessionRecord;
    ///
    /// let line = r#"{"index":3,"sweep_id":"sweep_1","run_id":"backtest_1","trace_id":null,"trace_id_full":null,"strategy":"sma-cross","params":{"fast":5},"stats":null,"error":"boom"}"#;
    /// let record = SessionRecord::from_json_line(line.as_bytes())?;
    /// assert_eq!((record.index, record.run_id.as_deref()), (3, Some("backtest_1")));
    /// assert_eq!(SessionRecord::from_json_line(record.to_json_line().as_bytes())?, record);
    ///
    /// // A terminal's escape sequence in a run id, as a forged file may hold: refused, shown
    /// // escaped.
    /// let forged = line.replace("backtest_1", r"x\u001b[2J");
    /// let err = SessionRecord::from_json_line(forged.as_bytes()).unwrap_err();
    /// assert!(err.to_string().starts_with(r"not a sweep's session record: run_id x\u{1b}[2J: "));
    /// # Ok::<(), tracectx_backtest::RecordError>(())
    /// ```
    pub fn from_json_line(line: &[u8]) -> Result<SessionRecord, RecordError> {
        let fail = |reason: String| RecordError { reason };
        if line.len() > Self::MAX_JSON_LINE {
            return Err(fail(format!("longer than {} bytes", Self::MAX_JSON_LINE)));
        }
        let record: SessionRecord = serde_json::from_slice(line)
            .map_err(|e| fail(escape::text(&e.to_string()).to_string()))?;
        record.check().map_err(fail)?;
        if record.index >= ParamGrid::MAX_COMBINATIONS {
            return Err(fail(format!(
                "index {} is past the largest grid ({} combinations)",
                record.index,
                ParamGrid::MAX_COMBINATIONS
            )));
        }
        Ok(record)
    }

    /// Checks what a record read from outside carries before any of it is printable; see
    /// [`from_json_line`](Self::from_json_line).
    fn check(&self) -> Result<(), String> {
        for (field, id) in [("sweep_id", &self.sweep_id), ("run_id", &self.run_id)] {
            if let Some(id) = id {
                tracectx::RunId::new(id)
                    .map_err(|e| format!("{field} {}: {e}", escape::text(id)))?;
            }
        }
        for (field, id, len) in [
            ("trace_id", &self.trace_id, 8),
            ("trace_id_full", &self.trace_id_full, 32),
        ] {
            if let Some(id) = id {
                // The core's own trace id parser, held to the length the field is written in.
                if id.len() != len {
                    return Err(format!(
                        "{field} {}: expected {len} hexadecimal digits",
                        escape::text(id)
                    ));
                }
                id.parse::<tracectx::TraceId>()
                    .map_err(|e| format!("{field} {}: {}", escape::text(id), e.reason()))?;
            }
        }
        let plain = |field: &str, text: &str| {
            if text.chars().any(escape::is_escaped) {
                Err(format!(
                    "{field} {} holds control characters",
                    escape::text(text)
                ))
            } else {
                Ok(())
            }
        };
        if let Some(fingerprint) = &self.sweep_fingerprint {
            if fingerprint.len() != 16 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "sweep_fingerprint {}: expected 16 hexadecimal digits",
                    escape::text(fingerprint)
                ));
            }
        }
        plain("strategy", &self.strategy)?;
        if let Some(error) = &self.error {
            plain("error", error)?;
        }
        for (name, value) in self.params.iter() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "parameter name {}: expected ASCII letters, digits and '_'",
                    escape::text(name)
                ));
            }
            if let ParamValue::Str(text) = value {
                plain("parameter value", text)?;
                if text.chars().any(char::is_whitespace) {
                    return Err(format!(
                        "parameter value {}: holds white space",
                        escape::text(text)
                    ));
                }
            }
        }
        Ok(())
    }
}

// === impl RecordError ===

/// A line that is not a sweep's session record; see [`SessionRecord::from_json_line`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::SessionRecord;
///
/// let err = SessionRecord::from_json_line(b"date,open,high,low,close").unwrap_err();
/// assert_eq!(err.to_string(), "not a sweep's session record: expected value at line 1 column 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sweep's session record: {reason}")]
pub struct RecordError {
    reason: String,
}
