//! Events as OpenTelemetry log records, with the context's ids: the layer and OTLP export.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger, LoggerProvider as _, Severity};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord, SdkLogger,
    SdkLoggerProvider,
};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::layer::{AttributeNames, InvalidAttributePrefix};
use super::otlp::{
    DEFAULT_SHUTDOWN_TIMEOUT, ExportStats, OtlpError, Signal, Tally, check_endpoint, outcome,
    report_on_drop, signal_url,
};
use crate::context::TraceContext;

/// Targets whose events are never exported: OpenTelemetry's own crates. Their events are about
/// the export itself (a dropped batch, a failed request); exporting them would export records
/// about exporting records, without end (opentelemetry-rust#2877).
const OWN_TARGETS: &[&str] = &[
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
    "opentelemetry_proto",
    "opentelemetry-otlp",
    "tracing_opentelemetry",
];

/// Threads that do the export: the SDK's batch processors and periodic readers, and the thread
/// of the blocking HTTP client. Whatever their events' targets (hyper, h2, reqwest), they are
/// about the export.
fn is_exporter_thread(name: &str) -> bool {
    name.starts_with("OpenTelemetry.") || name == "reqwest-internal-sync-runtime"
}

fn is_own_target(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

thread_local! {
    /// Whether this thread is one of the exporter's: 0 not yet known, 1 yes, 2 no.
    static EXPORTER_THREAD: Cell<u8> = const { Cell::new(0) };
    /// Set while this thread emits a record: an event logged from inside the emit (the SDK's
    /// own, a `Debug` impl) is not exported, so emitting never recurses.
    static EMITTING: Cell<bool> = const { Cell::new(false) };
}

fn on_exporter_thread() -> bool {
    EXPORTER_THREAD
        .try_with(|known| match known.get() {
            0 => {
                let mine = std::thread::current()
                    .name()
                    .is_some_and(is_exporter_thread);
                known.set(if mine { 1 } else { 2 });
                mine
            }
            v => v == 1,
        })
        .unwrap_or(true)
}

// === impl OtelLogLayer ===

/// A [`Layer`] that turns each `tracing` event into an OpenTelemetry log record, with the trace
/// id and span id of the event's [`TraceContext`] and its run id as an attribute.
///
/// Each record has:
///
/// - the trace id (all 128 bits) and span id of the context: the task-local slot's, else the one
///   a span remembered (`logging::SpanContextLayer`, with the `logging` feature), with the
///   sampled flag. No trace context outside any run;
/// - the attribute `tracectx.run_id` (the prefix is settable:
///   [`with_attribute_prefix`](Self::with_attribute_prefix));
/// - the message as body, the level as severity (number and text), the target, the time;
/// - every other field as an attribute of its type (integers, floats, booleans, strings;
///   `Debug` values as strings). A field named like the run id attribute
///   (`tracectx.run_id`, or `run_id` under an empty prefix) is written as
///   `fields.tracectx.run_id` (and `fields.tracectx.run_id` as `fields.fields.tracectx.run_id`),
///   in a run or outside any: no event can forge the run id or give a record two.
///
/// Unlike OpenTelemetry's own tracing bridge, the ids need no flag (opentelemetry-rust#1378):
/// they are the context's, which every log line shows too.
///
/// # Never blocks, never exports its own logs
///
/// Emitting a record hands it to the provider's processors. With a batch processor (what
/// [`init_otlp_logs`] builds), that is a `try_send` on a bounded queue: a full queue drops the
/// record rather than wait, and the export runs on the processor's own thread. (A *simple*
/// processor exports on the thread of the event; with a blocking HTTP client that thread waits
/// on the network, and it deadlocks where the client logs back into the same processor,
/// opentelemetry-rust#1745: use a batch processor.)
///
/// Events about the export itself are never exported (opentelemetry-rust#2877): events of
/// OpenTelemetry's crates (targets `opentelemetry*`, `tracing_opentelemetry`); every event on
/// the exporter's threads (the SDK's `OpenTelemetry.*` threads and the blocking HTTP client's
/// thread, whatever the event's target: hyper's and reqwest's included); events while
/// OpenTelemetry's telemetry suppression is on; and events logged while a record is being
/// emitted on the same thread.
///
/// # Examples
///
/// ```
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
/// use tracing_subscriber::prelude::*;
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let subscriber = tracing_subscriber::registry().with(tracectx::otel::log_layer(&provider));
///
/// let ctx = tracectx::TraceContext::new("backtest_abc123")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::warn!(qty = 10, "slow fill"));
/// });
///
/// let logs = exporter.get_emitted_logs().unwrap();
/// let record = &logs[0].record;
/// let trace = record.trace_context().unwrap();
/// assert_eq!(trace.trace_id.to_bytes(), ctx.trace_id().to_bytes());
/// assert_eq!(trace.span_id.to_bytes(), ctx.span_id().to_bytes());
/// assert!(record.attributes_iter().any(|(k, v)| k.as_str() == "tracectx.run_id"
///     && *v == opentelemetry::logs::AnyValue::from("backtest_abc123".to_owned())));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub struct OtelLogLayer<L = SdkLogger> {
    logger: L,
    names: &'static AttributeNames,
}

/// An [`OtelLogLayer`] emitting through a logger of `provider` (scope `tracectx`).
///
/// # Examples
///
/// ```
/// use opentelemetry::logs::AnyValue;
/// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
/// use tracing_subscriber::prelude::*;
///
/// let exporter = InMemoryLogExporter::default();
/// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let subscriber = tracing_subscriber::registry().with(tracectx::otel::log_layer(&provider));
///
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || ctx.sync_scope(|| tracing::info!("filled")));
///
/// let log = &exporter.get_emitted_logs().unwrap()[0];
/// assert_eq!(log.instrumentation.name(), "tracectx");
/// let trace_id = log.record.trace_context().map(|t| t.trace_id.to_bytes());
/// assert_eq!(trace_id, Some(ctx.trace_id().to_bytes()));
/// let run_id = log.record.attributes_iter().find(|(k, _)| k.as_str() == "tracectx.run_id");
/// assert_eq!(run_id.map(|(_, v)| v), Some(&AnyValue::from("job_1".to_owned())));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn log_layer(provider: &SdkLoggerProvider) -> OtelLogLayer {
    OtelLogLayer::new(provider.logger("tracectx"))
}

impl<L: Logger> OtelLogLayer<L> {
    /// The layer, emitting through `logger`.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::logs::LoggerProvider as _;
    /// use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemoryLogExporter::default();
    /// let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
    /// let layer = tracectx::otel::OtelLogLayer::new(provider.logger("my-service"));
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     tracing::error!(target: "engine", code = 7, "order rejected");
    /// });
    /// let logs = exporter.get_emitted_logs().unwrap();
    /// assert_eq!(logs[0].instrumentation.name(), "my-service");
    /// assert_eq!(logs[0].record.severity_text(), Some("ERROR"));
    /// assert!(logs[0].record.trace_context().is_none()); // outside any run
    /// ```
    pub fn new(logger: L) -> Self {
        Self {
            logger,
            names: default_names(),
        }
    }

    /// Writes the run id under `<prefix>run_id` instead of `tracectx.run_id`.
    ///
    /// # Errors
    ///
    /// [`InvalidAttributePrefix`]: see [`AttributeNames::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
    /// let layer = tracectx::otel::log_layer(&provider).with_attribute_prefix("peak_trade.")?;
    /// assert_eq!(layer.attribute_names().run_id(), "peak_trade.run_id");
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn with_attribute_prefix(self, prefix: &str) -> Result<Self, InvalidAttributePrefix> {
        Ok(Self {
            logger: self.logger,
            names: AttributeNames::new(prefix)?,
        })
    }

    /// The attribute keys this layer writes.
    ///
    /// # Examples
    ///
    /// ```
    /// let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
    /// let layer = tracectx::otel::log_layer(&provider);
    /// assert_eq!(layer.attribute_names().run_id(), "tracectx.run_id");
    /// ```
    pub fn attribute_names(&self) -> &'static AttributeNames {
        self.names
    }
}

fn default_names() -> &'static AttributeNames {
    super::layer::default_attribute_names()
}

impl<L> fmt::Debug for OtelLogLayer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelLogLayer")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

fn severity(level: &Level) -> (Severity, &'static str) {
    match *level {
        Level::TRACE => (Severity::Trace, "TRACE"),
        Level::DEBUG => (Severity::Debug, "DEBUG"),
        Level::INFO => (Severity::Info, "INFO"),
        Level::WARN => (Severity::Warn, "WARN"),
        Level::ERROR => (Severity::Error, "ERROR"),
    }
}

/// The context of `event`: the task-local slot's, else the one a span remembered.
fn context_of<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<TraceContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(current) = crate::scope::current() {
        return Some(current);
    }
    #[cfg(feature = "logging")]
    {
        ctx.event_scope(event)
            .and_then(crate::logging::span_context)
    }
    #[cfg(not(feature = "logging"))]
    {
        let _ = (event, ctx);
        None
    }
}

impl<S, L> Layer<S> for OtelLogLayer<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Logger + Send + Sync + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // A `log` record's own target, level and place, not `log`'s.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if is_own_target(meta.target())
            || opentelemetry::Context::is_current_telemetry_suppressed()
            || on_exporter_thread()
        {
            return;
        }
        let Ok(false) = EMITTING.try_with(Cell::get) else {
            return;
        };
        let (number, text) = severity(meta.level());
        let mut record = self.logger.create_log_record();
        record.set_timestamp(SystemTime::now());
        record.set_observed_timestamp(SystemTime::now());
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_target(meta.target().to_owned());
        if let Some(trace) = context_of(event, &ctx) {
            record.set_trace_context(
                opentelemetry::trace::TraceId::from_bytes(trace.trace_id().to_bytes()),
                opentelemetry::trace::SpanId::from_bytes(trace.span_id().to_bytes()),
                Some(if trace.trace_flags().is_sampled() {
                    opentelemetry::trace::TraceFlags::SAMPLED
                } else {
                    opentelemetry::trace::TraceFlags::NOT_SAMPLED
                }),
            );
            record.add_attribute(self.names.run_id(), trace.run_id().as_str().to_owned());
        }
        let mut fields = Fields {
            record: &mut record,
            run_id: self.names.run_id(),
        };
        event.record(&mut fields);
        /// Marks this thread as emitting until dropped, also when `emit` unwinds: a panic
        /// must not leave the thread unable to export for good.
        struct Emitting;
        impl Drop for Emitting {
            fn drop(&mut self) {
                let _ = EMITTING.try_with(|e| e.set(false));
            }
        }
        let _ = EMITTING.try_with(|e| e.set(true));
        let _emitting = Emitting;
        self.logger.emit(record);
    }
}

/// Writes the message as the body and every other field as an attribute.
struct Fields<'r, R> {
    record: &'r mut R,
    /// The key the layer writes the run id under.
    run_id: &'static str,
}

impl<R: opentelemetry::logs::LogRecord> Fields<'_, R> {
    fn put(&mut self, field: &Field, value: AnyValue) {
        match field.name() {
            "message" => self.record.set_body(value),
            name if name.starts_with("log.") => {}
            name if shadows(name, self.run_id) => {
                self.record.add_attribute(format!("fields.{name}"), value);
            }
            name => self.record.add_attribute(name, value),
        }
    }
}

/// Whether a field named `name` could pass for the run id attribute (`run_id_key`) or for
/// the name another such field is renamed to: `tracectx.run_id`, `fields.tracectx.run_id`,
/// ... Each gets one more `fields.` in front, as the JSON log format renames its fields, so
/// an event can neither forge the run id nor add a second one, in a run or outside any.
fn shadows(name: &str, run_id_key: &str) -> bool {
    let mut base = name;
    while let Some(rest) = base.strip_prefix("fields.") {
        base = rest;
    }
    base == run_id_key
}

impl<R: opentelemetry::logs::LogRecord> Visit for Fields<'_, R> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, AnyValue::Double(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.put(field, AnyValue::Int(v)),
            Err(_) => self.put(field, AnyValue::from(value.to_string())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, AnyValue::Boolean(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, AnyValue::from(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, AnyValue::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, AnyValue::from(format!("{value:?}")));
    }
}

// === OTLP export of logs ===

/// The logger provider made by [`init_otlp_logs`]; shuts it down (exporting the records still
/// queued) when dropped.
///
/// It counts every record handed to the provider and every record the exporter delivers, so
/// no record the layer accepted is lost without a count: [`stats`](Self::stats) while it runs,
/// [`shutdown`](Self::shutdown)'s error at the end (records dropped by the batch processor's
/// full queue among them), and a line on stderr when it is dropped without `shutdown()` and
/// records were lost. (The batch processor itself says so only in OpenTelemetry's own
/// diagnostics, which the layer does not export.)
///
/// # Examples
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "my-service")?;
/// tracing_subscriber::registry().with(otlp.layer()).init();
/// // ... work ...
/// otlp.shutdown()?; // or let it drop
/// # Ok::<(), tracectx::otel::OtlpError>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping it shuts the exporter down; keep it alive while events are logged"]
pub struct OtlpLogs {
    provider: SdkLoggerProvider,
    endpoint: String,
    tally: Arc<Tally>,
    shut_down: bool,
}

/// The OTLP log exporter, counting what it delivered and what it could not.
#[derive(Debug)]
struct Reporting {
    inner: opentelemetry_otlp::LogExporter,
    tally: Arc<Tally>,
}

impl LogExporter for Reporting {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        let records = batch.iter().count() as u64;
        let tally = Arc::clone(&self.tally);
        async move {
            let result = self.inner.export(batch).await;
            tally.exported(records, &result);
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// The batch processor, counting the records handed to it: those its full queue drops are
/// the ones the exporter never sees.
#[derive(Debug)]
struct Counting {
    inner: BatchLogProcessor,
    tally: Arc<Tally>,
}

impl LogProcessor for Counting {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.tally.accept();
        self.inner.emit(record, scope);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl OtlpLogs {
    /// An [`OtelLogLayer`] emitting to this provider.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// // Nothing is sent until a record is logged: no collector is needed to set up.
    /// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
    /// let layer = otlp.layer().with_attribute_prefix("backtester.")?;
    /// assert_eq!(layer.attribute_names().run_id(), "backtester.run_id");
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer(&self) -> OtelLogLayer {
        log_layer(&self.provider)
    }

    /// The logger provider.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    ///
    /// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
    /// // A logger of the same provider, for records made by hand.
    /// let logger = otlp.provider().logger("audit");
    /// let mut record = logger.create_log_record();
    /// record.set_body("made by hand".into());
    /// assert!(format!("{record:?}").contains("made by hand"));
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn provider(&self) -> &SdkLoggerProvider {
        &self.provider
    }

    /// What became of the records so far. Counts move on while the program logs.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
    /// let subscriber = tracing_subscriber::registry().with(otlp.layer());
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("counted"));
    /// assert_eq!(otlp.stats().accepted, 1);
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn stats(&self) -> ExportStats {
        self.tally.stats(false)
    }

    /// Exports the queued records and shuts the provider down, waiting up to 5 seconds for
    /// the last export; reports every record accepted and not exported.
    ///
    /// # Errors
    ///
    /// - [`OtlpError::LogExport`] when records were lost, all in batches the exporter could not
    ///   deliver (then or earlier);
    /// - [`OtlpError::LogsLost`] when some were dropped by the batch processor's full queue,
    ///   or left unsent because the shutdown gave up (the last export did not end in time),
    ///   with [`ExportStats`] saying how many of each;
    /// - [`OtlpError::Shutdown`] when no record was lost and the provider still could not
    ///   shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::otel::OtlpError;
    ///
    /// // Nothing listens on the discard port of loopback: the export is refused.
    /// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:9", "backtester")?;
    /// let subscriber = tracing_subscriber::registry().with(otlp.layer());
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("never delivered"));
    /// match otlp.shutdown() {
    ///     Err(OtlpError::LogExport { records, endpoint, .. }) => {
    ///         assert_eq!((records, endpoint.as_str()), (1, "http://127.0.0.1:9/v1/logs"));
    ///     }
    ///     other => panic!("expected a failed export, got {other:?}"),
    /// }
    /// # Ok::<(), OtlpError>(())
    /// ```
    pub fn shutdown(self) -> Result<(), OtlpError> {
        self.shutdown_with_timeout(DEFAULT_SHUTDOWN_TIMEOUT)
    }

    /// [`shutdown`](Self::shutdown), waiting up to `timeout` for the last export.
    ///
    /// # Errors
    ///
    /// As [`shutdown`](Self::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
    /// otlp.shutdown_with_timeout(Duration::from_secs(1))?; // nothing to send
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn shutdown_with_timeout(mut self, timeout: Duration) -> Result<(), OtlpError> {
        self.shut_down = true;
        let result = self.provider.shutdown_with_timeout(timeout);
        outcome(Signal::Logs, &self.endpoint, &self.tally, result)
    }
}

impl Drop for OtlpLogs {
    /// Shuts the provider down as [`shutdown`](OtlpLogs::shutdown) does, and says on stderr
    /// what that reports: nothing is lost without a word.
    fn drop(&mut self) {
        if !self.shut_down {
            let result = self
                .provider
                .shutdown_with_timeout(DEFAULT_SHUTDOWN_TIMEOUT);
            report_on_drop(outcome(Signal::Logs, &self.endpoint, &self.tally, result));
        }
    }
}

/// A logger provider that exports log records over OTLP/HTTP (protobuf) to the collector at
/// `endpoint` (`<endpoint>/v1/logs`), with `service.name` = `service_name`; add
/// [`OtlpLogs::layer`] to the subscriber.
///
/// Records are batched by OpenTelemetry's batch processor: the event's thread only queues
/// them (a full queue, 2,048 records by default, drops them rather than wait, and
/// [`OtlpLogs::shutdown`] counts them), and a thread of the processor exports them with
/// opentelemetry-otlp's blocking HTTP client, so any runtime (or none) works and the
/// application never waits on the collector. No TLS: use an `http://` collector, a local
/// agent or sidecar.
///
/// # Errors
///
/// [`OtlpError::Build`] when the address is not a valid URI, is not an `http://` address
/// with a host (an empty address, `ftp://…`, or `https://…`: this exporter links no TLS), or
/// the HTTP client could not be made. An unreachable collector shows up as
/// [`OtlpError::LogExport`] (or [`OtlpError::LogsLost`], when the shutdown gave up waiting
/// for it) from [`OtlpLogs::shutdown`], with the number of records lost.
///
/// # Examples
///
/// ```no_run
/// use tracectx::prelude::*;
/// use tracing_subscriber::prelude::*;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let logs = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
/// tracing_subscriber::registry().with(logs.layer()).init();
/// TraceContext::generate("backtest").sync_scope(|| tracing::info!("session started"));
/// logs.shutdown()?;
/// # Ok(()) }
/// ```
pub fn init_otlp_logs(endpoint: &str, service_name: &str) -> Result<OtlpLogs, OtlpError> {
    let url = signal_url(endpoint, "logs");
    check_endpoint(endpoint, &url)?;
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(url.clone())
        .build()
        .map_err(|source| OtlpError::Build {
            endpoint: url.clone(),
            source,
        })?;
    let tally = Arc::new(Tally::default());
    let exporter = Reporting {
        inner: exporter,
        tally: Arc::clone(&tally),
    };
    let processor = Counting {
        inner: BatchLogProcessor::builder(exporter).build(),
        tally: Arc::clone(&tally),
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(Cow::Owned(service_name.to_owned()))
        .build();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .with_resource(resource)
        .build();
    Ok(OtlpLogs {
        provider,
        endpoint: url,
        tally,
        shut_down: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_targets_are_whole_crate_names() {
        assert!(is_own_target("opentelemetry_sdk"));
        assert!(is_own_target("opentelemetry_otlp::exporter"));
        assert!(!is_own_target("opentelemetry_app"));
        assert!(!is_own_target("my_app::opentelemetry"));
        assert!(is_exporter_thread("OpenTelemetry.Logs.BatchProcessor"));
        assert!(!is_exporter_thread("tokio-runtime-worker"));
    }
}
