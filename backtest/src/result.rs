//! What a session produces: its statistics, trades and equity with the metadata of its run
//! ([`BacktestResult`], [`RunMetadata`]), and the figures alone in the shape the command line
//! prints ([`Report`]); each serializes to the JSON the command line writes.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::{BacktestSettings, OpenTrade, Params, Stats, Timestamp, Trade};
use tracectx::{ReproContext, RunId, SpanId, TraceId};

// === impl RunMetadata ===

/// Who ran a session, on what, and how long it took.
///
/// The ids come from the [`TraceContext`](tracectx::TraceContext) in scope when the session ran
/// (`None` outside any scope), typed as the context holds them. The JSON form writes each as
/// text: `run_id`, `trace_id` in the 8-character form logs show, `trace_id_full` in the
/// 32-character W3C form (both from the one [`TraceId`]), `span_id` and `parent_span_id` in 16
/// hex characters, and `parent_run_id`.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
/// use tracectx::TraceContext;
///
/// let ctx = TraceContext::new("backtest_meta")?;
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// let result = ctx.sync_scope(|| BacktestEngine::default().run(&Bars::synthetic(500, 1), &sma_cross, &params))?;
/// let m = &result.metadata;
/// assert_eq!(m.run_id.as_ref(), Some(ctx.run_id()));
/// assert_eq!(m.trace_id, Some(ctx.trace_id()));
/// let json: serde_json::Value = serde_json::from_str(&result.to_json())?;
/// assert_eq!(json["metadata"]["trace_id"], ctx.trace_id().to_string()); // 8 hex
/// assert_eq!(json["metadata"]["trace_id_full"], format!("{:x}", ctx.trace_id())); // 32 hex
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RunMetadata {
    /// The run id.
    pub run_id: Option<RunId>,
    /// The trace id (its `Display` is the 8 hex characters logs show, `{:x}` the full 32).
    pub trace_id: Option<TraceId>,
    /// The span id of the session.
    pub span_id: Option<SpanId>,
    /// The parent span id, when the session ran in a child span.
    pub parent_span_id: Option<SpanId>,
    /// The strategy's name.
    pub strategy: String,
    /// The strategy's parameters.
    pub params: Params,
    /// The account and cost settings.
    pub settings: BacktestSettings,
    /// [`Bars::fingerprint`](crate::Bars::fingerprint) of the data.
    pub data_fingerprint: String,
    /// The number of bars.
    pub bars: usize,
    /// This crate's version.
    pub engine_version: &'static str,
    /// Wall-clock time when the session started.
    pub started_at: Timestamp,
    /// Wall time the session took, in seconds.
    pub wall_time_secs: f64,
    /// The run that started this session when it is one of a batch or sweep (each session
    /// of a sweep is a run of its own; this is the sweep's run id).
    pub parent_run_id: Option<RunId>,
    /// The reproduction record given with [`RunOptions::repro`](crate::RunOptions::repro), with
    /// the session's ids.
    pub repro: Option<ReproContext>,
}

impl Serialize for RunMetadata {
    /// The fields in order, the ids as text, with `trace_id_full` after `trace_id`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let short = self.trace_id.map(TraceId::short);
        let mut m = serializer.serialize_struct("RunMetadata", 15)?;
        m.serialize_field("run_id", &self.run_id.as_deref())?;
        m.serialize_field("trace_id", &short.as_deref())?;
        m.serialize_field("trace_id_full", &self.trace_id.map(|t| format!("{t:x}")))?;
        m.serialize_field("span_id", &self.span_id.map(|s| s.to_string()))?;
        m.serialize_field(
            "parent_span_id",
            &self.parent_span_id.map(|s| s.to_string()),
        )?;
        m.serialize_field("strategy", &self.strategy)?;
        m.serialize_field("params", &self.params)?;
        m.serialize_field("settings", &self.settings)?;
        m.serialize_field("data_fingerprint", &self.data_fingerprint)?;
        m.serialize_field("bars", &self.bars)?;
        m.serialize_field("engine_version", &self.engine_version)?;
        m.serialize_field("started_at", &self.started_at)?;
        m.serialize_field("wall_time_secs", &self.wall_time_secs)?;
        m.serialize_field("parent_run_id", &self.parent_run_id.as_deref())?;
        m.serialize_field("repro", &self.repro)?;
        m.end()
    }
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
/// use tracectx_backtest::{sma_cross, BacktestEngine, BacktestSettings, Bars, Named, Params};
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
    /// use tracectx_backtest::{sma_cross, BacktestEngine, Bars, Params};
    /// let params = Params::new().with("fast", 3).with("slow", 6);
    /// let result = BacktestEngine::default().run(&Bars::synthetic(100, 1), &sma_cross, &params)?;
    /// assert!(result.to_json().starts_with(r#"{"stats":{"#));
    /// # Ok::<(), tracectx_backtest::BacktestError>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: string keys only.
        serde_json::to_string(self).unwrap_or_default()
    }
}

// === impl Report ===

/// The figures of one run in the shape the command line prints: statistics, closed trades
/// and trades left open.
///
/// Serializes to `{"stats": {...}, "trades": [...], "open_trades": [...]}`; undefined
/// statistics are `null`.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Report, Stats};
///
/// let bars = Bars::synthetic(1_000, 9);
/// let signals = sma_cross(&bars, &Params::new().with("fast", 10).with("slow", 20))?;
/// let run = simulate(&bars, &signals, &BacktestSettings::new(10_000.0))?;
/// let stats = Stats::compute(&bars, &run.equity, &run.trades, signals.warmup())?;
/// let json = Report::new(&stats, &run.trades, &run.open_trades).to_json();
/// let value: serde_json::Value = serde_json::from_str(&json)?;
/// assert_eq!(value["stats"]["trades"], run.trades.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct Report<'a> {
    /// The run's statistics.
    pub stats: &'a Stats,
    /// Closed trades.
    pub trades: &'a [Trade],
    /// Trades open at the end.
    pub open_trades: &'a [OpenTrade],
}

impl<'a> Report<'a> {
    /// A report over a run's figures.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, Report, Stats};
    /// let bars = Bars::synthetic(5, 1);
    /// let stats = Stats::compute(&bars, &[10_000.0; 5], &[], 0)?;
    /// assert!(Report::new(&stats, &[], &[]).to_json().starts_with(r#"{"stats":{"start":"#));
    /// # Ok::<(), tracectx_backtest::StatsError>(())
    /// ```
    pub const fn new(stats: &'a Stats, trades: &'a [Trade], open_trades: &'a [OpenTrade]) -> Self {
        Report {
            stats,
            trades,
            open_trades,
        }
    }

    /// The report as one line of JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, Report, Stats};
    /// let bars = Bars::synthetic(5, 1);
    /// let stats = Stats::compute(&bars, &[10_000.0; 5], &[], 0)?;
    /// let json = Report::new(&stats, &[], &[]).to_json();
    /// assert!(json.contains(r#""sharpe":null"#));
    /// # Ok::<(), tracectx_backtest::StatsError>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: string keys, no maps with other keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}
