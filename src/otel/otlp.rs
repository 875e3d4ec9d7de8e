//! Export over OTLP/HTTP (protobuf) to a collector.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};

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
    /// Flushing the last spans at shutdown failed (the collector did not answer in time).
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
}

/// The tracer provider made by [`init_otlp`]; shuts it down (exporting the spans still
/// queued) when dropped.
///
/// Keep it alive for as long as spans are made, typically as a local of `main`. Dropping it
/// blocks until the queued spans are sent or the export times out.
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
pub struct OtlpGuard {
    provider: SdkTracerProvider,
    endpoint: String,
    failures: Arc<Failures>,
    shut_down: bool,
}

/// What an exporter could not deliver, kept for the guard's `shutdown`: the SDK's batch
/// processors drop a failed batch and say so only in OpenTelemetry's internal log. Shared by
/// the span and the log exporters.
#[derive(Debug, Default)]
pub(super) struct Failures(Mutex<(u64, Option<String>)>);

impl Failures {
    /// Counts `items` not delivered, with the error that said so.
    pub(super) fn note(&self, items: u64, err: &impl fmt::Display) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.0 += items;
        seen.1 = Some(err.to_string());
    }

    /// How many items were not delivered and the last error, if any was not.
    pub(super) fn report(&self) -> Option<(u64, String)> {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.1.clone().map(|last| (seen.0, last))
    }
}

/// The OTLP exporter, keeping count of what it could not deliver: the SDK's batch processor
/// drops a failed batch and says so only in OpenTelemetry's internal log.
#[derive(Debug)]
struct Reporting {
    inner: opentelemetry_otlp::SpanExporter,
    failures: Arc<Failures>,
}

impl SpanExporter for Reporting {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let spans = batch.len() as u64;
        let sent = self.inner.export(batch);
        let failures = Arc::clone(&self.failures);
        async move {
            let result = sent.await;
            if let Err(err) = &result {
                failures.note(spans, err);
            }
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

    /// Exports the queued spans and shuts the provider down, reporting failure.
    ///
    /// # Errors
    ///
    /// [`OtlpError::Shutdown`] when the provider could not shut down (the last export timed
    /// out), else [`OtlpError::Export`] when any batch, then or earlier, was not delivered.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "svc")?;
    /// otlp.shutdown()?;
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn shutdown(mut self) -> Result<(), OtlpError> {
        self.shut_down = true;
        self.provider.shutdown().map_err(OtlpError::Shutdown)?;
        match self.failures.report() {
            None => Ok(()),
            Some((spans, last)) => Err(OtlpError::Export {
                endpoint: self.endpoint.clone(),
                spans,
                last,
            }),
        }
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if !self.shut_down {
            // Nothing to report to from a destructor; `shutdown()` returns the error.
            let _ = self.provider.shutdown();
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
/// the HTTP client could not be made. Nothing is sent until the first batch: an unreachable collector shows up as
/// [`OtlpError::Export`] from [`OtlpGuard::shutdown`], with the number of spans lost.
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
    let failures = Arc::new(Failures::default());
    let exporter = Reporting {
        inner: exporter,
        failures: Arc::clone(&failures),
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    Ok(OtlpGuard {
        provider,
        endpoint: url,
        failures,
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
