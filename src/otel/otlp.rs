//! Export over OTLP/HTTP (protobuf) to a collector.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracer, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};

/// Why OTLP export could not be set up or shut down.
///
/// # Examples
///
/// ```
/// let err = tracectx::otel::init_otlp("not a uri", "svc").unwrap_err();
/// assert!(err.to_string().starts_with("cannot build the otlp exporter for \"not a uri/v1/traces\""));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// The exporter could not be built (a malformed endpoint, the HTTP client failed).
    #[error("cannot build the otlp exporter for {endpoint:?}: {source}")]
    Build {
        /// The traces endpoint that was tried.
        endpoint: String,
        /// What went wrong.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The provider could not shut down although nothing was lost (when something was, the
    /// error says what: [`LogsLost`](Self::LogsLost), [`SpansLost`](Self::SpansLost)).
    #[error("otlp shutdown failed: {0}")]
    Shutdown(#[source] opentelemetry_sdk::error::OTelSdkError),
    /// Some batches of log records could not be delivered while the provider ran (the
    /// collector was down, refused them, or did not answer).
    #[error(
        "otlp log export to {endpoint:?} failed: {records} records not delivered, last error: {last}"
    )]
    LogExport {
        /// The logs endpoint.
        endpoint: String,
        /// How many records were dropped.
        records: u64,
        /// The last failure, as the exporter reported it.
        last: String,
    },
    /// Some batches could not be delivered while the provider ran (the collector was down,
    /// refused them, or did not answer).
    #[error("otlp export to {endpoint:?} failed: {spans} spans not delivered, last error: {last}")]
    Export {
        /// The traces endpoint.
        endpoint: String,
        /// How many spans were dropped.
        spans: u64,
        /// The last failure, as the exporter reported it.
        last: String,
    },
    /// Log records handed to the provider were not all exported, and not only because
    /// batches failed ([`LogExport`](Self::LogExport) is that case): the batch processor's
    /// queue was full and dropped some, or the shutdown gave up before the last were sent.
    /// `stats` says how many of each.
    #[error(
        "otlp log export to {endpoint:?} lost {} of {} records: {stats}{}",
        .stats.lost(), .stats.accepted, lost_detail(.last.as_deref(), .shutdown.as_ref())
    )]
    LogsLost {
        /// The logs endpoint.
        endpoint: String,
        /// What became of the records.
        stats: ExportStats,
        /// The last failed export, as the exporter reported it, if one failed.
        last: Option<String>,
        /// Why the shutdown did not complete (it timed out), if it did not.
        #[source]
        shutdown: Option<OTelSdkError>,
    },
    /// Spans ended were not all exported, and not only because batches failed
    /// ([`Export`](Self::Export) is that case): the batch processor's queue was full and
    /// dropped some, or the shutdown gave up before the last were sent. `stats` says how many
    /// of each.
    #[error(
        "otlp export to {endpoint:?} lost {} of {} spans: {stats}{}",
        .stats.lost(), .stats.accepted, lost_detail(.last.as_deref(), .shutdown.as_ref())
    )]
    SpansLost {
        /// The traces endpoint.
        endpoint: String,
        /// What became of the spans.
        stats: ExportStats,
        /// The last failed export, as the exporter reported it, if one failed.
        last: Option<String>,
        /// Why the shutdown did not complete (it timed out), if it did not.
        #[source]
        shutdown: Option<OTelSdkError>,
    },
}

/// The end of a `LogsLost` or `SpansLost` message: the last failure and the shutdown's.
fn lost_detail(last: Option<&str>, shutdown: Option<&OTelSdkError>) -> String {
    let mut out = String::new();
    if let Some(last) = last {
        out.push_str("; last export error: ");
        out.push_str(last);
    }
    if let Some(err) = shutdown {
        out.push_str(&format!("; shutdown did not complete: {err}"));
    }
    out
}

// === ExportStats ===

/// What became of the log records or spans handed to an OTLP pipeline of [`init_otlp`] or
/// [`init_otlp_logs`](super::init_otlp_logs), from their `stats()` and in the
/// [`OtlpError::LogsLost`] and [`OtlpError::SpansLost`] of their `shutdown()`.
///
/// `accepted` = `exported` + `failed` + `dropped` + `pending`. The SDK's batch processor drops
/// a record when its queue is full, and says so only in OpenTelemetry's own diagnostics; the
/// pipeline counts what goes in and what the exporter delivers, so the difference is known.
/// While the pipeline runs, a record dropped by a full queue cannot be told from one still
/// queued: both are `pending`. After a shutdown that completed, nothing is pending and the
/// difference is `dropped`; after one that gave up (its timeout), what was not exported stays
/// `pending`.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let otlp = tracectx::otel::init_otlp_logs("http://127.0.0.1:4318", "backtester")?;
/// let subscriber = tracing_subscriber::registry().with(otlp.layer());
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// let stats = otlp.stats();
/// // Queued, or already tried: every record accepted is in one of the counts.
/// assert_eq!(stats.accepted, 1);
/// assert_eq!(stats.exported + stats.lost(), 1);
/// # Ok::<(), tracectx::otel::OtlpError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Handed to the pipeline: records the layer (or a logger of the provider) emitted, spans
    /// that ended.
    pub accepted: u64,
    /// Delivered: in a batch the collector took.
    pub exported: u64,
    /// In batches the exporter could not deliver (the collector was down, refused them, or
    /// did not answer in time).
    pub failed: u64,
    /// Dropped by the batch processor because its queue was full. Known once the pipeline has
    /// shut down; counted in `pending` until then.
    pub dropped: u64,
    /// Neither exported nor failed yet: queued, being exported, or dropped by a full queue
    /// while the pipeline runs; after a shutdown that gave up, what it left unsent.
    pub pending: u64,
}

impl ExportStats {
    /// Accepted and not exported: failed, dropped or pending.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = tracectx::otel::ExportStats::default();
    /// assert_eq!(stats.lost(), 0);
    /// ```
    pub fn lost(&self) -> u64 {
        self.failed + self.dropped + self.pending
    }
}

impl fmt::Display for ExportStats {
    /// `50006 accepted, 13313 exported, 36693 dropped (queue full)`, naming only the counts
    /// that are not zero beside `accepted` and `exported`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} accepted, {} exported", self.accepted, self.exported)?;
        if self.failed > 0 {
            write!(f, ", {} failed", self.failed)?;
        }
        if self.dropped > 0 {
            write!(f, ", {} dropped (queue full)", self.dropped)?;
        }
        if self.pending > 0 {
            write!(
                f,
                ", {} not exported (queued, being exported, or dropped by a full queue)",
                self.pending
            )?;
        }
        Ok(())
    }
}

/// The counts of one pipeline, shared by its counting processor, its counting exporter and
/// its guard.
#[derive(Debug, Default)]
pub(super) struct Tally {
    accepted: AtomicU64,
    exported: AtomicU64,
    /// Items in failed batches, and the last failure.
    failures: Mutex<(u64, Option<String>)>,
}

impl Tally {
    /// Counts one item handed to the batch processor.
    pub(super) fn accept(&self) {
        self.accepted.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts the outcome of exporting a batch of `items`.
    pub(super) fn exported(&self, items: u64, result: &OTelSdkResult) {
        match result {
            Ok(()) => {
                self.exported.fetch_add(items, Ordering::SeqCst);
            }
            Err(err) => {
                let mut seen = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                seen.0 += items;
                seen.1 = Some(shown_error(err));
            }
        }
    }

    /// The counts; `shut_down`: the batch processor has exported all it will, so what was
    /// accepted and neither exported nor failed was dropped.
    pub(super) fn stats(&self, shut_down: bool) -> ExportStats {
        // Exported and failed first: every item they count was accepted before, so the
        // `accepted` read after is at least their sum.
        let exported = self.exported.load(Ordering::SeqCst);
        let failed = self.failures.lock().unwrap_or_else(|e| e.into_inner()).0;
        let accepted = self.accepted.load(Ordering::SeqCst);
        let rest = accepted.saturating_sub(exported + failed);
        ExportStats {
            accepted,
            exported,
            failed,
            dropped: if shut_down { rest } else { 0 },
            pending: if shut_down { 0 } else { rest },
        }
    }

    fn last_failure(&self) -> Option<String> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }
}

/// The most characters of an exporter's error kept for the crate's messages.
const MAX_ERROR_SHOWN: usize = 1024;

/// An exporter's error as the crate's messages show it: escaped, since it may carry the
/// collector's answer (a response body), and cut to [`MAX_ERROR_SHOWN`] characters.
fn shown_error(err: &OTelSdkError) -> String {
    let text = err.to_string();
    let cut = text
        .char_indices()
        .nth(MAX_ERROR_SHOWN)
        .map_or(text.len(), |(i, _)| i);
    let mut shown = crate::escape::text(&text[..cut]).to_string();
    if cut < text.len() {
        shown.push('…');
    }
    shown
}

/// Which pipeline a report is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Signal {
    Logs,
    Spans,
}

/// What a guard's `shutdown()` returns, given what its provider's returned: `Ok` when
/// everything accepted was exported; [`OtlpError::LogExport`] / [`OtlpError::Export`] when
/// all that was lost was in failed batches; [`OtlpError::LogsLost`] /
/// [`OtlpError::SpansLost`] when some was dropped or left unsent; [`OtlpError::Shutdown`]
/// when nothing was lost and the shutdown failed still.
pub(super) fn outcome(
    signal: Signal,
    endpoint: &str,
    tally: &Tally,
    shutdown: OTelSdkResult,
) -> Result<(), OtlpError> {
    let stats = tally.stats(shutdown.is_ok());
    if stats.lost() == 0 {
        return shutdown.map_err(OtlpError::Shutdown);
    }
    let endpoint = endpoint.to_owned();
    let last = tally.last_failure();
    Err(match (signal, shutdown, last) {
        (Signal::Logs, Ok(()), Some(last)) if stats.failed == stats.lost() => {
            OtlpError::LogExport {
                endpoint,
                records: stats.failed,
                last,
            }
        }
        (Signal::Spans, Ok(()), Some(last)) if stats.failed == stats.lost() => OtlpError::Export {
            endpoint,
            spans: stats.failed,
            last,
        },
        (Signal::Logs, shutdown, last) => OtlpError::LogsLost {
            endpoint,
            stats,
            last,
            shutdown: shutdown.err(),
        },
        (Signal::Spans, shutdown, last) => OtlpError::SpansLost {
            endpoint,
            stats,
            last,
            shutdown: shutdown.err(),
        },
    })
}

/// Says on stderr what a guard dropped without `shutdown()` lost: nothing is lost without a
/// word (as a dropped `WorkerGuard` of the logging writers does).
pub(super) fn report_on_drop(result: Result<(), OtlpError>) {
    if let Err(err) = result {
        eprintln!("tracectx: {err}");
    }
}

/// The tracer provider made by [`init_otlp`]; shuts it down (exporting the spans still
/// queued) when dropped.
///
/// Keep it alive for as long as spans are made, typically as a local of `main`. Dropping it
/// blocks until the queued spans are sent or the export times out.
///
/// It counts every span that ends and every span the exporter delivers, so no span is lost
/// without a count: [`stats`](Self::stats) while it runs, [`shutdown`](Self::shutdown)'s error
/// at the end (spans dropped by the batch processor's full queue among them), and a line on
/// stderr when it is dropped without `shutdown()` and spans were lost.
///
/// # Examples
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "my-service")?;
/// tracing_subscriber::registry().with(tracectx::otel::layer(otlp.tracer("my-service"))).init();
/// // ... work ...
/// otlp.shutdown()?; // or let it drop
/// # Ok::<(), tracectx::otel::OtlpError>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard shuts the exporter down; keep it alive while spans are made"]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
    endpoint: String,
    tally: Arc<Tally>,
    shut_down: bool,
}

/// The OTLP exporter, counting what it delivered and what it could not: the SDK's batch
/// processor drops a failed batch and says so only in OpenTelemetry's internal log.
#[derive(Debug)]
struct Reporting {
    inner: opentelemetry_otlp::SpanExporter,
    tally: Arc<Tally>,
}

impl SpanExporter for Reporting {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let spans = batch.len() as u64;
        let sent = self.inner.export(batch);
        let tally = Arc::clone(&self.tally);
        async move {
            let result = sent.await;
            tally.exported(spans, &result);
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// The batch processor, counting the spans handed to it: those its full queue drops are the
/// ones the exporter never sees.
#[derive(Debug)]
struct Counting {
    inner: BatchSpanProcessor,
    tally: Arc<Tally>,
}

impl SpanProcessor for Counting {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.tally.accept();
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl OtlpGuard {
    /// A tracer of the provider, for [`layer`](super::layer()).
    ///
    /// # Examples
    ///
    /// ```
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:9", "svc")?;
    /// let layer = tracectx::otel::layer::<tracing_subscriber::Registry, _>(otlp.tracer("svc"));
    /// # drop(layer);
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn tracer(&self, name: impl Into<Cow<'static, str>>) -> SdkTracer {
        use opentelemetry::trace::TracerProvider as _;
        self.provider().tracer(name)
    }

    /// The tracer provider.
    ///
    /// # Examples
    ///
    /// ```
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:9", "svc")?;
    /// opentelemetry::global::set_tracer_provider(otlp.provider().clone());
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// What became of the spans so far. Counts move on while spans end.
    ///
    /// # Examples
    ///
    /// ```
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "svc")?;
    /// assert_eq!(otlp.stats(), tracectx::otel::ExportStats::default());
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn stats(&self) -> ExportStats {
        self.tally.stats(false)
    }

    /// Exports the queued spans and shuts the provider down, waiting up to 5 seconds for the
    /// last export; reports every span ended and not exported.
    ///
    /// # Errors
    ///
    /// - [`OtlpError::Export`] when spans were lost, all in batches the exporter could not
    ///   deliver (then or earlier);
    /// - [`OtlpError::SpansLost`] when some were dropped by the batch processor's full queue,
    ///   or left unsent because the shutdown gave up (the last export did not end in time),
    ///   with [`ExportStats`] saying how many of each;
    /// - [`OtlpError::Shutdown`] when no span was lost and the provider still could not shut
    ///   down.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "svc")?;
    /// otlp.shutdown()?;
    /// # Ok::<(), tracectx::otel::OtlpError>(())
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
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "svc")?;
    /// otlp.shutdown_with_timeout(Duration::from_secs(1))?; // nothing to send
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn shutdown_with_timeout(mut self, timeout: Duration) -> Result<(), OtlpError> {
        self.shut_down = true;
        let result = self.provider.shutdown_with_timeout(timeout);
        outcome(Signal::Spans, &self.endpoint, &self.tally, result)
    }
}

/// How long `shutdown()` waits for the last export: the SDK's own default.
pub(super) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl Drop for OtlpGuard {
    /// Shuts the provider down as [`shutdown`](OtlpGuard::shutdown) does, and says on stderr
    /// what that reports: nothing is lost without a word.
    fn drop(&mut self) {
        if !self.shut_down {
            let result = self
                .provider
                .shutdown_with_timeout(DEFAULT_SHUTDOWN_TIMEOUT);
            report_on_drop(outcome(Signal::Spans, &self.endpoint, &self.tally, result));
        }
    }
}

/// The OTLP/HTTP traces URL for a collector address: `<endpoint>/v1/traces`, unless the
/// address already ends with that path.
fn traces_url(endpoint: &str) -> String {
    signal_url(endpoint, "traces")
}

/// The OTLP/HTTP URL of `signal` (`traces`, `logs`) for a collector address:
/// `<endpoint>/v1/<signal>`, unless the address already ends with that path.
pub(super) fn signal_url(endpoint: &str, signal: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    let path = format!("/v1/{signal}");
    if endpoint.ends_with(&path) {
        endpoint.to_owned()
    } else {
        format!("{endpoint}{path}")
    }
}

/// Refuses a collector address that can never work with this exporter, before it is built:
/// the exporter would take it and fail on every batch (an empty address even becomes the
/// relative URI `/v1/traces`).
pub(super) fn check_endpoint(endpoint: &str, url: &str) -> Result<(), OtlpError> {
    let refuse = |reason: String| {
        Err(OtlpError::Build {
            endpoint: url.to_owned(),
            source: opentelemetry_otlp::ExporterBuildError::InvalidConfiguration(format!(
                "endpoint {endpoint:?}: {reason}"
            )),
        })
    };
    let expected = "expected http://host:port";
    if endpoint.trim().is_empty() {
        return refuse(format!("empty address, {expected}"));
    }
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return refuse(format!("no scheme, {expected}"));
    };
    if scheme.eq_ignore_ascii_case("https") {
        return refuse(
            "https needs TLS, and this exporter links none: use an http:// collector, a local \
             agent or sidecar"
                .into(),
        );
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return refuse(format!(
            "scheme {scheme:?} is not http, the only one OTLP/HTTP export without TLS speaks"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return refuse(format!("no host, {expected}"));
    }
    if rest.contains(['?', '#']) {
        return refuse("a query or fragment, where the signal's path is appended".into());
    }
    Ok(())
}

/// A tracer provider that exports spans over OTLP/HTTP (protobuf) to the collector at
/// `endpoint`, with `service.name` = `service_name`.
///
/// `endpoint` is the collector's address, such as `http://127.0.0.1:4318` (the OTLP/HTTP
/// port); spans are POSTed to `<endpoint>/v1/traces` (an address that already ends with
/// `/v1/traces` is used as is). Spans are batched and sent from a background thread by
/// opentelemetry-otlp's blocking HTTP client, so any runtime (or none) works. No TLS: use an
/// `http://` collector, a local agent or sidecar.
///
/// Pass [`OtlpGuard::tracer`] to [`layer`](super::layer()). The sampler is OpenTelemetry's default (parent
/// based, always on): spans of a context whose sampled flag is off are not exported.
///
/// # Errors
///
/// [`OtlpError::Build`] when the address is not a valid URI, is not an `http://` address
/// with a host (an empty address, `ftp://…`, or `https://…`: this exporter links no TLS), or
/// the HTTP client could not be made. Nothing is sent until the first batch: an unreachable
/// collector shows up as [`OtlpError::Export`] (or [`OtlpError::SpansLost`], when the
/// shutdown gave up waiting for it) from [`OtlpGuard::shutdown`], with the number of spans
/// lost.
///
/// # Examples
///
/// ```no_run
/// use tracectx::prelude::*;
/// use tracing_subscriber::prelude::*;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
///     .unwrap_or_else(|_| "http://127.0.0.1:4318".into());
/// let otlp = tracectx::otel::init_otlp(&endpoint, "backtester")?;
/// tracing_subscriber::registry().with(tracectx::otel::layer(otlp.tracer("backtester"))).init();
///
/// async { tracing::info_span!("session").in_scope(|| tracing::info!("started")) }
///     .in_trace_context(TraceContext::generate("backtest"))
///     .await;
/// otlp.shutdown()?;
/// # Ok(()) }
/// ```
pub fn init_otlp(endpoint: &str, service_name: &str) -> Result<OtlpGuard, OtlpError> {
    let url = traces_url(endpoint);
    check_endpoint(endpoint, &url)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
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
        inner: BatchSpanProcessor::builder(exporter).build(),
        tally: Arc::clone(&tally),
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build();
    Ok(OtlpGuard {
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
    fn traces_url_appends_the_signal_path_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
