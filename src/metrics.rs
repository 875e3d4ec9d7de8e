//! Prometheus metrics that name their run: durations labelled with the run id, under a cap on
//! distinct run ids, with the trace id as an OpenMetrics exemplar.
//!
//! A [`Metrics`] holds one histogram family,
//!
//! ```text
//! tracectx_operation_duration_seconds{operation="fill",run_id="backtest_ab12cd34"}
//! ```
//!
//! whose observations read the current [`TraceContext`]: the run id becomes the `run_id`
//! label and the full trace id (32 hex) the exemplar `{trace_id="…"}` of the bucket the
//! observation fell in, so a slow bucket on a dashboard links to the trace that made it. The
//! text is OpenMetrics ([`Metrics::encode`], served with [`CONTENT_TYPE`]); exemplars exist
//! only in OpenMetrics, not in Prometheus's older text format.
//!
//! Record with [`Metrics::record_duration`] or a [`Metrics::timer`] guard (or the free
//! [`record_duration`] and [`timer`] on the [`Metrics::global`] instance).
//!
//! # Cardinality
//!
//! **Warning:** every label value is a time series Prometheus keeps, and run ids are made
//! without end. [`MetricsConfig::max_run_ids`] (default [`DEFAULT_MAX_RUN_IDS`]) caps the
//! distinct run ids that get their own series; past it, observations of new runs are recorded
//! under `run_id="(other)"` ([`FOLDED_RUN_ID`]), counted by
//! `tracectx_run_ids_folded_total`, and one `WARN` event is logged through `tracing`. Call
//! [`Metrics::forget_run`] when a run ends to free its place.
//!
//! Operation names are labels too: use a fixed set of them, never ids. In case one slips in,
//! [`MetricsConfig::max_operations`] (default [`DEFAULT_MAX_OPERATIONS`]) caps the distinct
//! operations the same way: later ones are recorded under `operation="(other)"`
//! ([`FOLDED_OPERATION`]), counted by `tracectx_operations_folded_total`, with one `WARN`
//! event. Operations keep their place for the life of the [`Metrics`].
//!
//! So the label sets, and with them memory and the size of a scrape, stay bounded by
//! `(max_operations + 1) × (max_run_ids + 2)`.
//!
//! Observations outside any context use `run_id="(none)"` ([`NO_RUN_ID`]). Neither value can
//! be a real run id: run ids never contain brackets.
//!
//! # Names
//!
//! Dashboards built on other names keep them: [`MetricsConfig::metric_name`],
//! [`MetricsConfig::operation_label`], [`MetricsConfig::run_id_label`] and
//! [`MetricsConfig::no_run_value`] set the histogram's name, its two label names and the value
//! used outside any run; the defaults are the names above. The fold counters follow the
//! histogram's name: under another name `<name>`, they are `<name>_run_ids_folded_total` and
//! `<name>_operations_folded_total`, so instances with different names can be registered in
//! one registry and scraped together.
//!
//! ```
//! use tracectx::metrics::{Metrics, MetricsConfig};
//!
//! let config = MetricsConfig::default()
//!     .metric_name("peak_trade_request_duration_seconds")?
//!     .operation_label("endpoint")?
//!     .no_run_value("unknown");
//! let metrics = Metrics::new(config);
//! metrics.record_duration("/backtest", std::time::Duration::from_millis(8));
//! assert!(metrics.encode().contains(
//!     r#"peak_trade_request_duration_seconds_count{endpoint="/backtest",run_id="unknown"} 1"#
//! ));
//! # Ok::<(), tracectx::metrics::InvalidName>(())
//! ```
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tracectx::metrics::{Metrics, MetricsConfig};
//!
//! let metrics = Metrics::new(MetricsConfig::default().max_run_ids(100));
//! let ctx = tracectx::TraceContext::new("backtest_ab12cd34")?;
//! ctx.sync_scope(|| metrics.record_duration("fill", Duration::from_millis(3)));
//!
//! let text = metrics.encode();
//! let series = r#"tracectx_operation_duration_seconds_count{operation="fill",run_id="backtest_ab12cd34"} 1"#;
//! assert!(text.contains(series));
//! assert!(text.contains(&format!(r#"# {{trace_id="{:x}"}} 0.003"#, ctx.trace_id())));
//! # Ok::<(), tracectx::InvalidId>(())
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{
    EncodeLabel as _, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::registry::Registry;

use crate::context::{RunId, TraceContext, TraceId};

/// The `Content-Type` to serve [`Metrics::encode`]'s text with:
/// `application/openmetrics-text; version=1.0.0; charset=utf-8`. Prometheus reads exemplars
/// only from a target that answers with it.
///
/// # Examples
///
/// ```
/// assert!(tracectx::metrics::CONTENT_TYPE.starts_with("application/openmetrics-text"));
/// ```
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The histogram's name in the exposition (before the `_bucket`, `_sum`, `_count` suffixes).
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::metrics::DURATION_METRIC, "tracectx_operation_duration_seconds");
/// ```
pub const DURATION_METRIC: &str = "tracectx_operation_duration_seconds";

/// The `run_id` label value of observations whose run came after the cap was reached.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::{Metrics, MetricsConfig, FOLDED_RUN_ID};
///
/// let metrics = Metrics::new(MetricsConfig::default().max_run_ids(1));
/// for run in ["run_a", "run_b"] {
///     tracectx::TraceContext::new(run)?
///         .sync_scope(|| metrics.record_duration("op", std::time::Duration::ZERO));
/// }
/// assert!(metrics.encode().contains(&format!(r#"run_id="{FOLDED_RUN_ID}""#)));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const FOLDED_RUN_ID: &str = "(other)";

/// The `run_id` label value of observations made outside any trace context.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::{Metrics, NO_RUN_ID};
///
/// let metrics = Metrics::default();
/// metrics.record_duration("startup", std::time::Duration::from_millis(40));
/// assert!(metrics.encode().contains(&format!(r#"run_id="{NO_RUN_ID}""#)));
/// ```
pub const NO_RUN_ID: &str = "(none)";

/// The default cap on distinct run ids with a series of their own.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::{Metrics, MetricsConfig, DEFAULT_MAX_RUN_IDS};
///
/// assert_eq!(DEFAULT_MAX_RUN_IDS, 1_000);
/// let metrics = Metrics::new(MetricsConfig::default().max_run_ids(DEFAULT_MAX_RUN_IDS / 10));
/// for run in 0..101 {
///     tracectx::TraceContext::new(&format!("job_{run}"))?
///         .sync_scope(|| metrics.record_duration("fill", std::time::Duration::ZERO));
/// }
/// assert_eq!((metrics.run_ids(), metrics.folded()), (100, 1));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const DEFAULT_MAX_RUN_IDS: usize = 1_000;

/// The `operation` label value of observations whose operation came after the cap on distinct
/// operations was reached ([`MetricsConfig::max_operations`]).
///
/// An operation given this very name is recorded there too, without taking a place under the
/// cap or counting as folded.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tracectx::metrics::{Metrics, MetricsConfig, FOLDED_OPERATION};
///
/// let metrics = Metrics::new(MetricsConfig::default().max_operations(2));
/// for user in 0..5 {
///     // A mistake: an id in the operation name. Only the first two get series.
///     metrics.record_duration(format!("load_user_{user}"), Duration::from_millis(1));
/// }
/// let text = metrics.encode();
/// assert!(text.contains(r#"operation="load_user_1""#));
/// assert!(!text.contains(r#"operation="load_user_2""#));
/// assert!(text.contains(&format!(
///     r#"tracectx_operation_duration_seconds_count{{operation="{FOLDED_OPERATION}",run_id="(none)"}} 3"#
/// )));
/// assert!(text.contains("tracectx_operations_folded_total 3"));
/// assert_eq!((metrics.operations(), metrics.operations_folded()), (2, 3));
/// ```
pub const FOLDED_OPERATION: &str = "(other)";

/// The default cap on distinct operations with series of their own.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::{Metrics, DEFAULT_MAX_OPERATIONS};
///
/// assert_eq!(DEFAULT_MAX_OPERATIONS, 100);
/// let metrics = Metrics::default();
/// for op in 0..=DEFAULT_MAX_OPERATIONS {
///     metrics.record_duration(format!("op_{op}"), std::time::Duration::ZERO);
/// }
/// assert_eq!((metrics.operations(), metrics.operations_folded()), (DEFAULT_MAX_OPERATIONS, 1));
/// ```
pub const DEFAULT_MAX_OPERATIONS: usize = 100;

/// The default histogram buckets, in seconds: Prometheus's client defaults, 5 ms to 10 s.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::{Metrics, DEFAULT_BUCKETS};
///
/// let metrics = Metrics::default();
/// metrics.record_duration("fill", std::time::Duration::from_millis(30));
/// let text = metrics.encode();
/// for le in DEFAULT_BUCKETS {
///     let count = if le < 0.03 { 0 } else { 1 };
///     let bucket = format!(r#"_bucket{{le="{le:?}",operation="fill",run_id="(none)"}} {count}"#);
///     assert!(text.contains(&bucket), "{bucket}");
/// }
/// ```
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

// === impl MetricsConfig ===

/// How a [`Metrics`] is made: the caps on distinct run ids and operations, and the histogram
/// buckets.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tracectx::metrics::{Metrics, MetricsConfig};
///
/// let config = MetricsConfig::default()
///     .max_run_ids(500)
///     .max_operations(20)
///     .buckets([0.001, 0.01, 0.1, 1.0])
///     .metric_name("peak_trade_operation_duration_seconds")?
///     .run_id_label("run")?;
/// let metrics = Metrics::new(config);
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// ctx.sync_scope(|| metrics.record_duration("fill", Duration::from_millis(5)));
///
/// let text = metrics.encode();
/// assert!(text.contains("# TYPE peak_trade_operation_duration_seconds histogram"));
/// assert!(!text.contains("tracectx_operation_duration_seconds"));
/// let bucket = |le, n| format!(r#"_bucket{{le="{le}",operation="fill",run="job_1"}} {n}"#);
/// assert!(text.contains(&bucket("0.001", 0)) && text.contains(&bucket("0.01", 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    max_run_ids: usize,
    max_operations: usize,
    buckets: Vec<f64>,
    metric_name: Cow<'static, str>,
    names: Names,
}

/// The label names and the no-run value of one [`Metrics`], shared by its label sets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    operation: Cow<'static, str>,
    run_id: Cow<'static, str>,
    no_run: Cow<'static, str>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_run_ids: DEFAULT_MAX_RUN_IDS,
            max_operations: DEFAULT_MAX_OPERATIONS,
            buckets: DEFAULT_BUCKETS.to_vec(),
            metric_name: Cow::Borrowed(DURATION_METRIC),
            names: Names {
                operation: Cow::Borrowed(OPERATION_LABEL),
                run_id: Cow::Borrowed(RUN_ID_LABEL),
                no_run: Cow::Borrowed(NO_RUN_ID),
            },
        }
    }
}

impl MetricsConfig {
    /// The defaults: [`DEFAULT_MAX_RUN_IDS`], [`DEFAULT_MAX_OPERATIONS`] and
    /// [`DEFAULT_BUCKETS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::new());
    /// metrics.record_duration("fill", std::time::Duration::from_millis(3));
    /// let bucket = r#"tracectx_operation_duration_seconds_bucket{le="0.005",operation="fill",run_id="(none)"} 1"#;
    /// assert!(metrics.encode().contains(bucket));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `max` distinct run ids get series of their own; later runs fold into
    /// [`FOLDED_RUN_ID`]. `0` folds every run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().max_run_ids(2));
    /// for run in ["job_1", "job_2", "job_3"] {
    ///     tracectx::TraceContext::new(run)?
    ///         .sync_scope(|| metrics.record_duration("fill", std::time::Duration::ZERO));
    /// }
    /// let text = metrics.encode();
    /// assert!(text.contains(r#"run_id="job_2""#) && !text.contains(r#"run_id="job_3""#));
    /// assert!(text.contains(r#"run_id="(other)""#));
    /// // A run that ended gives its place back.
    /// metrics.forget_run(&"job_1".parse()?);
    /// assert_eq!(metrics.run_ids(), 1);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn max_run_ids(mut self, max: usize) -> Self {
        self.max_run_ids = max;
        self
    }

    /// At most `max` distinct operation names get series of their own; later ones fold into
    /// [`FOLDED_OPERATION`]. `0` folds every operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().max_operations(1));
    /// metrics.record_duration("fetch", std::time::Duration::ZERO);
    /// metrics.record_duration("store", std::time::Duration::ZERO); // folded
    /// assert!(metrics.encode().contains(r#"operation="(other)""#));
    /// ```
    #[must_use]
    pub fn max_operations(mut self, max: usize) -> Self {
        self.max_operations = max;
        self
    }

    /// The histogram's bucket upper bounds, in seconds (`+Inf` is always added). Values that
    /// are not finite are left out; the rest are sorted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().buckets([0.5, f64::NAN, 0.1]));
    /// metrics.record_duration("fill", std::time::Duration::from_millis(200));
    /// let text = metrics.encode();
    /// assert!(text.contains(r#"_bucket{le="0.1",operation="fill",run_id="(none)"} 0"#));
    /// assert!(text.contains(r#"_bucket{le="0.5",operation="fill",run_id="(none)"} 1"#));
    /// assert!(text.contains(r#"_bucket{le="+Inf",operation="fill",run_id="(none)"} 1"#));
    /// assert!(!text.contains(r#"le="0.005""#));
    /// ```
    #[must_use]
    pub fn buckets(mut self, buckets: impl IntoIterator<Item = f64>) -> Self {
        let mut buckets: Vec<f64> = buckets.into_iter().filter(|b| b.is_finite()).collect();
        buckets.sort_by(f64::total_cmp);
        buckets.dedup();
        self.buckets = buckets;
        self
    }

    /// The histogram's name, instead of [`DURATION_METRIC`]: for dashboards built on another
    /// name (`peak_trade_operation_duration_seconds`).
    ///
    /// The two fold counters take their names from it: `<name>_run_ids_folded` and
    /// `<name>_operations_folded` (`_total` in the text). Only [`DURATION_METRIC`] keeps the
    /// short `tracectx_run_ids_folded` and `tracectx_operations_folded`. So instances with
    /// different metric names can share one registry: no two of their families have one name.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when `name` is not a Prometheus metric name
    /// (`[a-zA-Z_:][a-zA-Z0-9_:]*`, not starting with `__`), or when it could be the name of a
    /// fold counter, this configuration's or another's: ending with `_run_ids_folded` or
    /// `_operations_folded` (with or without `_total`), or `tracectx`, whose counters would
    /// be the default configuration's.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let config = MetricsConfig::default().metric_name("peak_trade_operation_duration_seconds")?;
    /// let metrics = Metrics::new(config);
    /// metrics.record_duration("fill", std::time::Duration::ZERO);
    /// assert!(metrics.encode().contains("# TYPE peak_trade_operation_duration_seconds histogram"));
    /// assert!(metrics.encode().contains(
    ///     "# TYPE peak_trade_operation_duration_seconds_run_ids_folded counter"
    /// ));
    /// assert!(MetricsConfig::default().metric_name("peak-trade").is_err());
    /// assert!(MetricsConfig::default().metric_name("tracectx_run_ids_folded").is_err());
    /// # Ok::<(), tracectx::metrics::InvalidName>(())
    /// ```
    pub fn metric_name(mut self, name: impl Into<Cow<'static, str>>) -> Result<Self, InvalidName> {
        let name = name.into();
        check_name(&name, NameKind::Metric)?;
        check_not_a_fold_counter(&name)?;
        self.metric_name = name;
        Ok(self)
    }

    /// The name of the label holding the operation, instead of [`OPERATION_LABEL`]
    /// (`endpoint`, say).
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when `name` is not a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`,
    /// not starting with `__`), is `le` (the histogram's own label) or is the run id label's.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().operation_label("endpoint")?);
    /// metrics.record_duration("/orders", std::time::Duration::ZERO);
    /// assert!(metrics.encode().contains(r#"{endpoint="/orders",run_id="(none)"}"#));
    /// # Ok::<(), tracectx::metrics::InvalidName>(())
    /// ```
    pub fn operation_label(
        mut self,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<Self, InvalidName> {
        let name = name.into();
        check_name(&name, NameKind::Label)?;
        if name == self.names.run_id {
            return Err(InvalidName::new(
                &name,
                NameKind::Label,
                "it names the run id label",
            ));
        }
        self.names.operation = name;
        Ok(self)
    }

    /// The name of the label holding the run id, instead of [`RUN_ID_LABEL`].
    ///
    /// # Errors
    ///
    /// [`InvalidName`] as for [`operation_label`](Self::operation_label) (here: the
    /// operation label's name is refused).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().run_id_label("run")?);
    /// metrics.record_duration("fill", std::time::Duration::ZERO);
    /// assert!(metrics.encode().contains(r#"{operation="fill",run="(none)"}"#));
    /// assert!(MetricsConfig::default().run_id_label("operation").is_err());
    /// # Ok::<(), tracectx::metrics::InvalidName>(())
    /// ```
    pub fn run_id_label(mut self, name: impl Into<Cow<'static, str>>) -> Result<Self, InvalidName> {
        let name = name.into();
        check_name(&name, NameKind::Label)?;
        if name == self.names.operation {
            return Err(InvalidName::new(
                &name,
                NameKind::Label,
                "it names the operation label",
            ));
        }
        self.names.run_id = name;
        Ok(self)
    }

    /// The run id label's value for observations outside any context, instead of
    /// [`NO_RUN_ID`] (`unknown`, say).
    ///
    /// Unlike `(none)`, a value such as `unknown` is also a valid run id: a run named so would
    /// share its series with the observations made outside any run.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().no_run_value("unknown"));
    /// metrics.record_duration("startup", std::time::Duration::ZERO);
    /// assert!(metrics.encode().contains(r#"run_id="unknown""#));
    /// ```
    #[must_use]
    pub fn no_run_value(mut self, value: impl Into<Cow<'static, str>>) -> Self {
        self.names.no_run = value.into();
        self
    }
}

/// The default name of the label holding the operation.
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::metrics::OPERATION_LABEL, "operation");
/// ```
pub const OPERATION_LABEL: &str = "operation";

/// The default name of the label holding the run id.
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::metrics::RUN_ID_LABEL, "run_id");
/// ```
pub const RUN_ID_LABEL: &str = "run_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Metric,
    Label,
}

/// A metric or label name that Prometheus would not accept, given to [`MetricsConfig`].
///
/// # Examples
///
/// ```
/// let err = tracectx::metrics::MetricsConfig::default().operation_label("end point").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid prometheus label name "end point": ' ' at byte 3 is not a letter, digit or '_'"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prometheus {kind} name {name:?}: {reason}")]
pub struct InvalidName {
    kind: &'static str,
    name: String,
    reason: String,
}

impl InvalidName {
    fn new(name: &str, kind: NameKind, reason: impl Into<String>) -> Self {
        Self {
            kind: match kind {
                NameKind::Metric => "metric",
                NameKind::Label => "label",
            },
            name: name.chars().take(64).collect(),
            reason: reason.into(),
        }
    }
}

/// Prometheus's data model: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names
/// `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are reserved, and so is `le` on a
/// histogram.
fn check_name(name: &str, kind: NameKind) -> Result<(), InvalidName> {
    let fail = |reason: String| Err(InvalidName::new(name, kind, reason));
    if name.is_empty() {
        return fail("empty".into());
    }
    if name.starts_with("__") {
        return fail("names starting with \"__\" are reserved".into());
    }
    if kind == NameKind::Label && name == "le" {
        return fail("\"le\" is the histogram's bucket label".into());
    }
    for (at, c) in name.char_indices() {
        let ok = c.is_ascii_alphabetic()
            || c == '_'
            || (kind == NameKind::Metric && c == ':')
            || (at > 0 && c.is_ascii_digit());
        if !ok {
            let allowed = match kind {
                NameKind::Metric => "a letter, digit, '_' or ':'",
                NameKind::Label => "a letter, digit or '_'",
            };
            let first = if at == 0 && c.is_ascii_digit() {
                " (a digit cannot come first)"
            } else {
                ""
            };
            return fail(format!("{c:?} at byte {at} is not {allowed}{first}"));
        }
    }
    Ok(())
}

/// Refuses a histogram name that could be a fold counter's (see
/// [`MetricsConfig::metric_name`]): one family name typed both histogram and counter is a
/// scrape Prometheus rejects.
fn check_not_a_fold_counter(name: &str) -> Result<(), InvalidName> {
    let base = name.strip_suffix("_total").unwrap_or(name);
    let reason = if base.ends_with(RUN_IDS_FOLDED) || base.ends_with(OPERATIONS_FOLDED) {
        "it could be the name of a fold counter"
    } else if name == DEFAULT_FOLD_PREFIX {
        "its fold counters would be those of the default metric name"
    } else {
        return Ok(());
    };
    Err(InvalidName::new(name, NameKind::Metric, reason))
}

/// What the fold counters' names end with.
const RUN_IDS_FOLDED: &str = "_run_ids_folded";
const OPERATIONS_FOLDED: &str = "_operations_folded";
/// What the fold counters of [`DURATION_METRIC`] start with.
const DEFAULT_FOLD_PREFIX: &str = "tracectx";

/// The names of the two fold counters of a histogram named `metric_name` (before the
/// `_total` the text adds): `tracectx_run_ids_folded` and `tracectx_operations_folded` for
/// [`DURATION_METRIC`], `<metric_name>_run_ids_folded` and `<metric_name>_operations_folded`
/// for any other.
fn fold_counter_names(metric_name: &str) -> (String, String) {
    let prefix = if metric_name == DURATION_METRIC {
        DEFAULT_FOLD_PREFIX
    } else {
        metric_name
    };
    (
        format!("{prefix}{RUN_IDS_FOLDED}"),
        format!("{prefix}{OPERATIONS_FOLDED}"),
    )
}

// === label sets ===

/// The `run_id` label: a run, the fold, or no run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RunLabel {
    Run(RunId),
    Folded,
    NoRun,
}

impl RunLabel {
    fn as_str<'a>(&'a self, names: &'a Names) -> &'a str {
        match self {
            RunLabel::Run(run) => run.as_str(),
            RunLabel::Folded => FOLDED_RUN_ID,
            RunLabel::NoRun => &names.no_run,
        }
    }
}

/// One series' labels. The names ride along for encoding; they are the same for every label
/// set of a [`Metrics`], so they take no part in equality or hashing.
#[derive(Debug, Clone)]
struct DurationLabels {
    operation: Cow<'static, str>,
    run_id: RunLabel,
    names: Arc<Names>,
}

// Equal when they encode the same: a run named like the no-run value (or `(other)`) shares
// that series instead of making a second one with the same labels, which would break the
// exposition.
impl PartialEq for DurationLabels {
    fn eq(&self, other: &Self) -> bool {
        self.operation == other.operation
            && self.run_id.as_str(&self.names) == other.run_id.as_str(&other.names)
    }
}

impl Eq for DurationLabels {}

impl Hash for DurationLabels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.operation.hash(state);
        self.run_id.as_str(&self.names).hash(state);
    }
}

impl EncodeLabelSet for DurationLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        let names = &*self.names;
        (names.operation.as_ref(), self.operation.as_ref()).encode(encoder.encode_label())?;
        (names.run_id.as_ref(), self.run_id.as_str(names)).encode(encoder.encode_label())
    }
}

/// The exemplar's label set: `{trace_id="<32 hex>"}`.
#[derive(Debug, Clone)]
struct TraceExemplar(TraceId);

struct FullHex(TraceId);

impl EncodeLabelValue for FullHex {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        fmt::Write::write_fmt(encoder, format_args!("{:x}", self.0))
    }
}

impl EncodeLabelSet for TraceExemplar {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> fmt::Result {
        ("trace_id", FullHex(self.0)).encode(encoder.encode_label())
    }
}

type Histogram = HistogramWithExemplars<TraceExemplar>;

/// Makes each new series' histogram with the configured buckets.
#[derive(Debug, Clone)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        HistogramWithExemplars::new(self.0.iter().copied())
    }
}

// === impl Metrics ===

/// A Prometheus registry with the run-labelled duration histogram; cheap to clone (clones
/// share the series).
///
/// See the [module docs](self) for the series, the exemplars and the caps on run ids and
/// operations.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::Metrics;
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// let metrics = Metrics::default();
/// async {
///     let _timer = metrics.timer("load_bars");
///     tokio::task::yield_now().await;
/// } // recorded here, under the run the timer started in
/// .in_trace_context(TraceContext::new("backtest_7")?)
/// .await;
/// assert!(metrics.encode().contains(r#"run_id="backtest_7""#));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    durations: Family<DurationLabels, Histogram, Buckets>,
    /// Observations folded into [`FOLDED_RUN_ID`].
    folded: Counter,
    /// Observations folded into [`FOLDED_OPERATION`].
    operations_folded: Counter,
    metric_name: Cow<'static, str>,
    names: Arc<Names>,
    runs: Capped<RunId>,
    /// The operations with series of their own; also what [`Metrics::forget_run`] looks
    /// through.
    operations: Capped<Cow<'static, str>>,
    /// How many series the histogram holds; its lock serializes their creation and removal,
    /// so the count is exact.
    series: Mutex<usize>,
}

/// The label values that have series of their own, at most `max`.
struct Capped<T> {
    max: usize,
    seen: RwLock<HashSet<T>>,
    warned: AtomicBool,
}

impl<T: Clone + Eq + Hash> Capped<T> {
    fn new(max: usize) -> Self {
        Self {
            max,
            seen: RwLock::new(HashSet::new()),
            warned: AtomicBool::new(false),
        }
    }

    /// Whether `value` has a place, admitting it while there is room.
    fn admit(&self, value: &T) -> bool {
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if seen.contains(value) {
                return true;
            }
            if seen.len() >= self.max {
                return false;
            }
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) {
            return true;
        }
        if seen.len() < self.max {
            seen.insert(value.clone());
            return true;
        }
        false
    }

    fn remove(&self, value: &T) -> bool {
        self.seen
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(value)
    }

    fn len(&self) -> usize {
        self.seen.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn to_vec(&self) -> Vec<T> {
        let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
        seen.iter().cloned().collect()
    }

    /// True the first time only: the caller warns.
    fn first_fold(&self) -> bool {
        !self.warned.swap(true, Ordering::Relaxed)
    }
}

impl Default for Metrics {
    /// `Metrics::new(MetricsConfig::default())`.
    fn default() -> Self {
        Self::new(MetricsConfig::default())
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("max_run_ids", &self.inner.runs.max)
            .field("run_ids", &self.run_ids())
            .field("max_operations", &self.inner.operations.max)
            .field("operations", &self.operations())
            .field("series", &self.series())
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry holding `tracectx_operation_duration_seconds`,
    /// `tracectx_run_ids_folded_total` and `tracectx_operations_folded_total`, configured by
    /// `config` (under another [metric name](MetricsConfig::metric_name) `<name>`, the
    /// counters are `<name>_run_ids_folded_total` and `<name>_operations_folded_total`).
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::new(Default::default());
    /// // The histogram is listed once it has a series.
    /// assert!(!metrics.encode().contains("tracectx_operation_duration_seconds"));
    /// metrics.record_duration("op", std::time::Duration::ZERO);
    /// assert!(metrics.encode().contains("# TYPE tracectx_operation_duration_seconds histogram"));
    /// ```
    pub fn new(config: MetricsConfig) -> Self {
        let durations = Family::new_with_constructor(Buckets(config.buckets.into()));
        let (folded, operations_folded) = (Counter::default(), Counter::default());
        let mut registry = Registry::default();
        register(
            &mut registry,
            &config.metric_name,
            &durations,
            &folded,
            &operations_folded,
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                durations,
                folded,
                operations_folded,
                metric_name: config.metric_name,
                names: Arc::new(config.names),
                runs: Capped::new(config.max_run_ids),
                operations: Capped::new(config.max_operations),
                series: Mutex::new(0),
            }),
        }
    }

    /// The instance behind the free functions [`record_duration`] and [`timer`]: the one given
    /// to [`set_global`](Self::set_global), or else one with the default configuration, made
    /// on first use.
    ///
    /// # Examples
    ///
    /// ```
    /// tracectx::metrics::record_duration("tick", std::time::Duration::from_micros(5));
    /// assert!(tracectx::metrics::Metrics::global().encode().contains(r#"operation="tick""#));
    /// ```
    pub fn global() -> &'static Metrics {
        GLOBAL.get_or_init(Metrics::default)
    }

    /// Makes `self` the [`global`](Self::global) instance.
    ///
    /// # Errors
    ///
    /// [`GlobalAlreadySet`], holding `self` back, when the global instance exists already (set
    /// before, or made by an earlier use of the free functions).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// Metrics::new(MetricsConfig::default().max_run_ids(50)).set_global()?;
    /// assert!(Metrics::default().set_global().is_err());
    /// # Ok::<(), tracectx::metrics::GlobalAlreadySet>(())
    /// ```
    pub fn set_global(self) -> Result<(), GlobalAlreadySet> {
        GLOBAL
            .set(self)
            .map_err(|metrics| GlobalAlreadySet { metrics })
    }

    /// Records `duration` for `operation`, labelled with the current run (and the trace id as
    /// exemplar), or [`NO_RUN_ID`] outside any context.
    ///
    /// `operation` should come from a fixed set of names: each one is a label value, and past
    /// [`MetricsConfig::max_operations`] distinct names, new ones are recorded under
    /// [`FOLDED_OPERATION`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// ctx.sync_scope(|| metrics.record_duration("fetch", Duration::from_millis(12)));
    /// assert!(metrics.encode().contains(
    ///     r#"tracectx_operation_duration_seconds_sum{operation="fetch",run_id="job_1"} 0.012"#
    /// ));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn record_duration(&self, operation: impl Into<Cow<'static, str>>, duration: Duration) {
        let operation = operation.into();
        let seen = crate::scope::read(|c| (c.run_id().clone(), c.trace_id()));
        match seen {
            Some((run, trace)) => self.observe(operation, Some(&run), Some(trace), duration),
            None => self.observe(operation, None, None, duration),
        }
    }

    /// Records `duration` for `operation` under `ctx` (its run id and trace id), whatever the
    /// current context is; `None` records under [`NO_RUN_ID`].
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let ctx = tracectx::TraceContext::new("job_2")?;
    /// metrics.record_duration_in(Some(&ctx), "replay", std::time::Duration::from_secs(1));
    /// assert!(metrics.encode().contains(r#"run_id="job_2""#));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn record_duration_in(
        &self,
        ctx: Option<&TraceContext>,
        operation: impl Into<Cow<'static, str>>,
        duration: Duration,
    ) {
        self.observe(
            operation.into(),
            ctx.map(|c| c.run_id()),
            ctx.map(|c| c.trace_id()),
            duration,
        );
    }

    fn observe(
        &self,
        operation: Cow<'static, str>,
        run: Option<&RunId>,
        trace: Option<TraceId>,
        duration: Duration,
    ) {
        let value = duration.as_secs_f64();
        let exemplar = trace.map(TraceExemplar);
        let mut labels = DurationLabels {
            operation,
            run_id: run.map_or(RunLabel::NoRun, |run| RunLabel::Run(run.clone())),
            names: Arc::clone(&self.inner.names),
        };
        // The common case first: the series exists, so its operation and run were admitted
        // under the caps.
        if let Some(histogram) = self.inner.durations.get(&labels) {
            histogram.observe(value, exemplar, None);
            return;
        }
        if labels.operation != FOLDED_OPERATION && !self.inner.operations.admit(&labels.operation) {
            self.note_operation_fold(&labels.operation);
            labels.operation = Cow::Borrowed(FOLDED_OPERATION);
        }
        if let Some(run) = run {
            if !self.inner.runs.admit(run) {
                self.note_fold();
                labels.run_id = RunLabel::Folded;
            }
        }
        if let Some(histogram) = self.inner.durations.get(&labels) {
            histogram.observe(value, exemplar, None);
            return;
        }
        // A new series, made under the lock so it is counted once. `forget_run` holds the
        // same lock while it drops a run and its series, so a run forgotten since it was
        // admitted above is admitted again here (or folded) rather than left with a series
        // no `forget_run` would find.
        let mut series = self.inner.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut folded = false;
        if let RunLabel::Run(run) = &labels.run_id {
            if !self.inner.runs.admit(run) {
                labels.run_id = RunLabel::Folded;
                folded = true;
            }
        }
        if self.inner.durations.get(&labels).is_none() {
            *series += 1;
        }
        self.inner
            .durations
            .get_or_create(&labels)
            .observe(value, exemplar, None);
        drop(series);
        // Counted as any other fold, outside the lock: the first one logs, and a subscriber
        // may record metrics of its own.
        if folded {
            self.note_fold();
        }
    }

    fn note_fold(&self) {
        self.inner.folded.inc();
        if self.inner.runs.first_fold() {
            tracing::warn!(
                max_run_ids = self.inner.runs.max,
                folded_into = FOLDED_RUN_ID,
                "tracectx metrics: more distinct run ids than max_run_ids; later runs are \
                 recorded under run_id=\"(other)\" (call Metrics::forget_run when a run ends, \
                 or raise the cap)"
            );
        }
    }

    fn note_operation_fold(&self, operation: &str) {
        self.inner.operations_folded.inc();
        if self.inner.operations.first_fold() {
            tracing::warn!(
                max_operations = self.inner.operations.max,
                folded_into = FOLDED_OPERATION,
                first_folded = operation,
                "tracectx metrics: more distinct operations than max_operations; later \
                 operations are recorded under operation=\"(other)\" (name operations from a \
                 fixed set, never with ids in them, or raise the cap)"
            );
        }
    }

    /// A guard that records the time from now until it is dropped (or
    /// [`Timer::observe`]d) for `operation`, under the context current *now*: a timer started
    /// in a run records to that run wherever it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let ctx = tracectx::TraceContext::new("job_3")?;
    /// let timer = ctx.sync_scope(|| metrics.timer("load"));
    /// std::thread::sleep(std::time::Duration::from_millis(2));
    /// // Out of the scope now; the timer still records under job_3.
    /// let took = timer.observe();
    /// assert!(took >= std::time::Duration::from_millis(2));
    /// assert!(metrics.encode().contains(r#"operation="load",run_id="job_3""#));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn timer(&self, operation: impl Into<Cow<'static, str>>) -> Timer {
        Timer {
            metrics: self.clone(),
            operation: Some(operation.into()),
            context: crate::scope::current(),
            start: Instant::now(),
        }
    }

    /// Removes every series of `run` and frees its place under the cap. Call it when a run
    /// ends, in a process that sees more runs over its life than the cap.
    ///
    /// Prometheus marks the removed series stale at its next scrape; what it stored stays.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let ctx = tracectx::TraceContext::new("job_4")?;
    /// ctx.sync_scope(|| metrics.record_duration("step", std::time::Duration::ZERO));
    /// assert_eq!(metrics.run_ids(), 1);
    /// metrics.forget_run(ctx.run_id());
    /// assert_eq!((metrics.run_ids(), metrics.series()), (0, 0));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn forget_run(&self, run: &RunId) {
        // Under the lock new series are made under, so an observation racing with this call
        // either comes first (and its series goes) or after (and admits the run again).
        let mut series = self.inner.series.lock().unwrap_or_else(|e| e.into_inner());
        if !self.inner.runs.remove(run) {
            return;
        }
        let mut operations = self.inner.operations.to_vec();
        operations.push(Cow::Borrowed(FOLDED_OPERATION));
        for operation in operations {
            let labels = DurationLabels {
                operation,
                run_id: RunLabel::Run(run.clone()),
                names: Arc::clone(&self.inner.names),
            };
            if self.inner.durations.remove(&labels) {
                *series -= 1;
            }
        }
    }

    /// The registry to encode, with prometheus-client's encoder, alongside nothing else. To
    /// serve these series with your own, see [`register`](Self::register).
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, metrics.registry())?;
    /// assert!(text.ends_with("# EOF\n"));
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Registers this instance's series in another registry too (they stay shared: recording
    /// here shows there), for a `/metrics` that serves them with the application's own.
    ///
    /// # Examples
    ///
    /// ```
    /// use prometheus_client::registry::Registry;
    ///
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let mut app = Registry::default();
    /// metrics.register(&mut app);
    /// metrics.record_duration("op", std::time::Duration::ZERO);
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &app)?;
    /// assert!(text.contains("tracectx_operation_duration_seconds_count"));
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn register(&self, registry: &mut Registry) {
        register(
            registry,
            &self.inner.metric_name,
            &self.inner.durations,
            &self.inner.folded,
            &self.inner.operations_folded,
        );
    }

    /// The series in OpenMetrics text, ending with `# EOF`; serve it with [`CONTENT_TYPE`].
    ///
    /// # Examples
    ///
    /// ```
    /// let text = tracectx::metrics::Metrics::default().encode();
    /// assert!(text.contains("# TYPE tracectx_run_ids_folded counter"));
    /// assert!(text.ends_with("# EOF\n"));
    /// ```
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a `String` cannot fail, and the encoder fails only when its writer does.
        let _ = self.encode_to(&mut text);
        text
    }

    /// Appends the series in OpenMetrics text to `out` (see [`encode`](Self::encode)).
    ///
    /// # Errors
    ///
    /// Only those of `out`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out = String::with_capacity(4096);
    /// tracectx::metrics::Metrics::default().encode_to(&mut out)?;
    /// assert!(out.ends_with("# EOF\n"));
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn encode_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        prometheus_client::encoding::text::encode(out, &self.inner.registry)
    }

    /// How many distinct run ids have series of their own (at most the cap).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx::metrics::Metrics::default().run_ids(), 0);
    /// ```
    pub fn run_ids(&self) -> usize {
        self.inner.runs.len()
    }

    /// How many distinct operations have series of their own (at most the cap on operations).
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// metrics.record_duration("a", std::time::Duration::ZERO);
    /// metrics.record_duration("a", std::time::Duration::ZERO);
    /// assert_eq!(metrics.operations(), 1);
    /// ```
    pub fn operations(&self) -> usize {
        self.inner.operations.len()
    }

    /// How many label sets (operation, run id) the duration histogram holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// metrics.record_duration("a", std::time::Duration::ZERO);
    /// metrics.record_duration("b", std::time::Duration::ZERO);
    /// assert_eq!(metrics.series(), 2);
    /// ```
    pub fn series(&self) -> usize {
        *self.inner.series.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many observations were folded into [`FOLDED_RUN_ID`] because the cap was reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().max_run_ids(0));
    /// tracectx::TraceContext::new("job_5")?
    ///     .sync_scope(|| metrics.record_duration("op", std::time::Duration::ZERO));
    /// assert_eq!(metrics.folded(), 1);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn folded(&self) -> u64 {
        self.inner.folded.get()
    }

    /// How many observations were folded into [`FOLDED_OPERATION`] because the cap on
    /// operations was reached.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// let metrics = Metrics::new(MetricsConfig::default().max_operations(0));
    /// metrics.record_duration("op", std::time::Duration::ZERO);
    /// assert_eq!(metrics.operations_folded(), 1);
    /// ```
    pub fn operations_folded(&self) -> u64 {
        self.inner.operations_folded.get()
    }
}

fn register(
    registry: &mut Registry,
    metric_name: &str,
    durations: &Family<DurationLabels, Histogram, Buckets>,
    folded: &Counter,
    operations_folded: &Counter,
) {
    registry.register(
        metric_name,
        "Duration of operations, labelled by operation and run id, with trace-id exemplars",
        durations.clone(),
    );
    let (run_ids_folded, operations_folded_name) = fold_counter_names(metric_name);
    registry.register(
        run_ids_folded,
        "Observations recorded under run_id=\"(other)\" because max_run_ids was reached",
        folded.clone(),
    );
    registry.register(
        operations_folded_name,
        "Observations recorded under operation=\"(other)\" because max_operations was reached",
        operations_folded.clone(),
    );
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// [`Metrics::set_global`] found a global instance already in place; holds the one refused.
///
/// # Examples
///
/// ```
/// use tracectx::metrics::Metrics;
///
/// let _ = Metrics::global();
/// let err = Metrics::default().set_global().unwrap_err();
/// assert_eq!(err.to_string(), "the global tracectx metrics are already set");
/// let _refused: Metrics = err.into_inner();
/// ```
#[derive(Debug, thiserror::Error)]
#[error("the global tracectx metrics are already set")]
pub struct GlobalAlreadySet {
    metrics: Metrics,
}

impl GlobalAlreadySet {
    /// The instance that was not installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::metrics::{Metrics, MetricsConfig};
    ///
    /// Metrics::default().set_global().unwrap();
    /// let mine = Metrics::new(MetricsConfig::default().max_run_ids(10));
    /// // Too late for the global slot: use the instance directly instead.
    /// let mine = mine.set_global().unwrap_err().into_inner();
    /// mine.record_duration("fill", std::time::Duration::ZERO);
    /// assert_eq!((mine.series(), Metrics::global().series()), (1, 0));
    /// ```
    pub fn into_inner(self) -> Metrics {
        self.metrics
    }
}

/// [`Metrics::record_duration`] on the [`Metrics::global`] instance.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_6")?;
/// ctx.sync_scope(|| tracectx::metrics::record_duration("save", std::time::Duration::from_millis(2)));
/// assert!(tracectx::metrics::Metrics::global().encode().contains(r#"run_id="job_6""#));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn record_duration(operation: impl Into<Cow<'static, str>>, duration: Duration) {
    Metrics::global().record_duration(operation, duration);
}

/// [`Metrics::timer`] on the [`Metrics::global`] instance.
///
/// # Examples
///
/// ```
/// {
///     let _t = tracectx::metrics::timer("compute");
/// } // recorded here
/// assert!(tracectx::metrics::Metrics::global().encode().contains(r#"operation="compute""#));
/// ```
pub fn timer(operation: impl Into<Cow<'static, str>>) -> Timer {
    Metrics::global().timer(operation)
}

// === impl Timer ===

/// Records the time since [`Metrics::timer`] when dropped, under the context current when it
/// started.
///
/// Holding one across `.await` is fine: it is a plain value, not a scope.
///
/// # Examples
///
/// ```
/// let metrics = tracectx::metrics::Metrics::default();
/// let timer = metrics.timer("parse");
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// assert!(timer.elapsed() >= std::time::Duration::from_millis(2));
/// timer.discard(); // nothing recorded
/// assert_eq!(metrics.series(), 0);
/// ```
#[must_use = "a timer records when dropped: binding it to `_` drops it, and records, at once"]
pub struct Timer {
    metrics: Metrics,
    /// `None` once recorded or discarded.
    operation: Option<Cow<'static, str>>,
    context: Option<TraceContext>,
    start: Instant,
}

impl Timer {
    /// The time since the timer started.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let timer = metrics.timer("load");
    /// let so_far = timer.elapsed();
    /// let recorded = timer.observe();
    /// assert!(recorded >= so_far);
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Records now and returns the duration recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let timer = ctx.sync_scope(|| metrics.timer("load"));
    /// // Recorded under the run where it started, wherever it ends.
    /// let took = timer.observe();
    /// println!("loaded in {took:?}");
    /// assert!(metrics.encode().contains(r#"_count{operation="load",run_id="job_1"} 1"#));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn observe(mut self) -> Duration {
        self.record()
    }

    /// Drops the timer without recording.
    ///
    /// # Examples
    ///
    /// ```
    /// let metrics = tracectx::metrics::Metrics::default();
    /// let timer = metrics.timer("save");
    /// let saved: Result<(), &str> = Err("disk full");
    /// match saved {
    ///     Ok(()) => drop(timer), // recorded
    ///     Err(_) => timer.discard(), // a failure's time would skew the histogram
    /// }
    /// assert!(!metrics.encode().contains(r#"operation="save""#));
    /// ```
    pub fn discard(mut self) {
        self.operation = None;
    }

    fn record(&mut self) -> Duration {
        let took = self.start.elapsed();
        if let Some(operation) = self.operation.take() {
            self.metrics
                .record_duration_in(self.context.as_ref(), operation, took);
        }
        took
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.record();
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("operation", &self.operation)
            .field("context", &self.context)
            .field("elapsed", &self.start.elapsed())
            .finish()
    }
}
