//! gRPC (tonic): `MetadataMap` carriers and a client interceptor; the tower layers of `http`
//! serve tonic servers and channels as they are.
//!
//! gRPC metadata are HTTP/2 headers, so the same names travel (`traceparent`, `tracestate`,
//! `baggage`), as OpenTelemetry's gRPC instrumentations send them:
//!
//! - server: `tonic::transport::Server::builder().layer(ExtractTraceContextLayer::new(policy))`
//!   runs every handler in the call's context (it is also in `tonic::Request::extensions()`);
//! - client: [`InjectGrpcTraceContextLayer`] around a `Channel` makes every call a span of its
//!   own, written into the call's metadata, and polls the request's messages in it (a
//!   client-streaming call's stream is read by the connection, outside the caller's task);
//!   `InjectTraceContextLayer` does the same but for the messages; for a client built
//!   `with_interceptor`, [`InjectTraceContextInterceptor`] does the writing (it cannot run the
//!   call in the span);
//! - anywhere: [`extract`](super::extract) / [`inject`](super::inject) on a `MetadataMap`.
//!
//! Bad metadata (a malformed or repeated `traceparent`, hostile `tracestate` or `baggage`)
//! starts a new trace or is ignored, as over HTTP: it never fails a call.

use std::task::{Context, Poll};

use http_body::Body as _;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tower_layer::Layer;
use tower_service::Service;

use crate::future::{InTraceContext, TraceFutureExt as _};

use super::{BAGGAGE, Extractor, Injector, TRACEPARENT, TRACESTATE, UNREADABLE};

/// The key for a name: the crate's own three without parsing them, others parsed (`None`
/// when no ASCII metadata key has that name).
fn key(name: &str) -> Option<AsciiMetadataKey> {
    match name {
        TRACEPARENT => Some(AsciiMetadataKey::from_static(TRACEPARENT)),
        TRACESTATE => Some(AsciiMetadataKey::from_static(TRACESTATE)),
        BAGGAGE => Some(AsciiMetadataKey::from_static(BAGGAGE)),
        other => AsciiMetadataKey::from_bytes(other.as_bytes()).ok(),
    }
}

/// Reports every ASCII value of the key, in order; a value that is not visible ASCII is
/// reported as [`UNREADABLE`], never left out (a second `traceparent` must still count).
///
/// # Examples
///
/// ```
/// use tonic::metadata::MetadataMap;
/// use tracectx::propagation;
///
/// let mut md = MetadataMap::new();
/// md.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
/// md.insert("baggage", "run_id=backtest_ab12cd34".parse()?);
/// let ctx = propagation::extract(&md).expect("valid metadata");
/// assert_eq!(ctx.run_id(), "backtest_ab12cd34");
///
/// md.append("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
/// assert!(propagation::extract(&md).is_none()); // two traceparents: a new trace
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Extractor for MetadataMap {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        // A name that is no metadata key has no values; ours always are.
        let values = key(name).map(|key| MetadataMap::get_all(self, key));
        values
            .into_iter()
            .flat_map(|values| values.iter())
            .map(|v| v.to_str().unwrap_or(UNREADABLE))
    }
}

/// Sets the key, replacing earlier values; a name or value that metadata cannot hold is
/// skipped (the crate's own are always valid).
///
/// # Examples
///
/// ```
/// use tonic::metadata::MetadataMap;
/// use tracectx::propagation;
///
/// let ctx = tracectx::TraceContext::new("backtest_ab12cd34")?;
/// let mut md = MetadataMap::new();
/// propagation::inject(&ctx, &mut md);
/// assert_eq!(md.get("baggage").unwrap(), "run_id=backtest_ab12cd34");
/// assert_eq!(md.get("traceparent").unwrap().len(), 55);
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
impl Injector for MetadataMap {
    fn set(&mut self, name: &'static str, value: &str) {
        if let (Some(key), Ok(value)) = (key(name), AsciiMetadataValue::try_from(value)) {
            self.insert(key, value);
        }
    }

    fn existing(&self, name: &'static str) -> Option<String> {
        super::existing_values(self, name)
    }
}

// === impl InjectTraceContextInterceptor ===

/// A tonic client interceptor that writes a call's context into its metadata: a child of the
/// current context, so each call has a parent id of its own. Outside any scope the call goes
/// out unchanged. It never fails a call.
///
/// An interceptor sees the request, not the call's future, so the call does not run in the
/// new span, nor are a client stream's messages made in it; wrap the channel in
/// [`InjectGrpcTraceContextLayer`] for that. The interceptor runs when the call is made: make it inside the scope.
///
/// # Examples
///
/// ```
/// use tonic::service::Interceptor as _;
/// use tracectx::propagation::{InjectTraceContextInterceptor, TraceParent};
///
/// let ctx = tracectx::TraceContext::new("backtest_ab12cd34")?;
/// let mut interceptor = InjectTraceContextInterceptor::new();
/// let req = ctx.sync_scope(|| interceptor.call(tonic::Request::new(())))?;
/// let sent = TraceParent::parse(req.metadata().get("traceparent").unwrap().to_str()?)?;
/// assert_eq!(sent.trace_id(), ctx.trace_id());
/// assert_ne!(sent.parent_id(), ctx.span_id()); // the call's own span
/// assert_eq!(req.metadata().get("baggage").unwrap(), "run_id=backtest_ab12cd34");
///
/// // A client: `EchoClient::with_interceptor(channel, InjectTraceContextInterceptor::new())`.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct InjectTraceContextInterceptor {
    _private: (),
}

impl InjectTraceContextInterceptor {
    /// Makes the interceptor; it has no settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tonic::service::Interceptor as _;
    /// use tracectx::propagation::InjectTraceContextInterceptor;
    ///
    /// // Outside any scope the call goes out unchanged.
    /// let req = InjectTraceContextInterceptor::new().call(tonic::Request::new(()))?;
    /// assert!(req.metadata().get("traceparent").is_none());
    /// # Ok::<(), tonic::Status>(())
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl tonic::service::Interceptor for InjectTraceContextInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        super::inject_current(req.metadata_mut());
        Ok(req)
    }
}

// === impl InjectGrpcTraceContextLayer ===

/// A tower layer for tonic clients (around a `Channel`): each call a span of its own, written
/// into the call's metadata as [`InjectTraceContextLayer`](super::InjectTraceContextLayer)
/// writes it, and the request's messages made in that span.
///
/// The messages of a client-streaming or bidirectional call are read from the caller's
/// stream by the connection, a task of its own, after `call` returned: without this layer the
/// stream's code (and every line it logs) runs in no context. This layer wraps the request
/// body so that each poll of it runs in the call's context, as the caller's task would.
///
/// # Examples
///
/// ```
/// use tower::{Service as _, ServiceBuilder, ServiceExt as _};
/// use tracectx::prelude::*;
/// use tracectx::propagation::InjectGrpcTraceContextLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A `tonic::transport::Channel` in a real client: `EchoClient::new(layered)`.
/// let mut layered = ServiceBuilder::new()
///     .layer(InjectGrpcTraceContextLayer::new())
///     .service_fn(|req: http::Request<tonic::body::Body>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("traceparent"))
///     });
/// let ctx = TraceContext::new("job_1")?;
/// let req = http::Request::new(tonic::body::Body::empty());
/// let sent = async { layered.ready().await?.call(req).await }.in_trace_context(ctx).await?;
/// assert!(sent);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct InjectGrpcTraceContextLayer {
    _private: (),
}

impl InjectGrpcTraceContextLayer {
    /// Makes the layer; it has no settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, ServiceExt as _};
    /// use tracectx::propagation::InjectGrpcTraceContextLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = InjectGrpcTraceContextLayer::new().layer(tower::service_fn(
    ///     |req: http::Request<tonic::body::Body>| async move {
    ///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("traceparent"))
    ///     },
    /// ));
    /// // Outside any scope the call goes out unchanged.
    /// assert!(!client.oneshot(http::Request::new(tonic::body::Body::empty())).await?);
    /// # Ok(()) }
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl<S> Layer<S> for InjectGrpcTraceContextLayer {
    type Service = InjectGrpcTraceContext<S>;

    fn layer(&self, inner: S) -> InjectGrpcTraceContext<S> {
        InjectGrpcTraceContext { inner }
    }
}

/// The service made by [`InjectGrpcTraceContextLayer`]: writes a child of the current context
/// into each call's metadata when [`Service::call`] runs, and runs the call, and each poll of
/// its request body, in it.
///
/// # Examples
///
/// ```
/// use tower::{Layer as _, Service as _, ServiceExt as _};
/// use tracectx::prelude::*;
/// use tracectx::propagation::{InjectGrpcTraceContext, InjectGrpcTraceContextLayer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut client: InjectGrpcTraceContext<_> = InjectGrpcTraceContextLayer::new().layer(
///     tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("baggage"))
///     }),
/// );
/// let ctx = TraceContext::new("job_1")?;
/// let req = http::Request::new(tonic::body::Body::empty());
/// let sent = async { client.ready().await?.call(req).await }.in_trace_context(ctx).await?;
/// assert!(sent);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct InjectGrpcTraceContext<S> {
    inner: S,
}

impl<S> Service<http::Request<tonic::body::Body>> for InjectGrpcTraceContext<S>
where
    S: Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InTraceContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        match super::inject_current(req.headers_mut()) {
            Some(call) => call.sync_scope(|| {
                // An empty body is never polled: left as it is, unboxed.
                let req = req.map(|body| {
                    if body.is_end_stream() {
                        body
                    } else {
                        tonic::body::Body::new(body.in_current_trace_context())
                    }
                });
                self.inner.call(req).in_current_trace_context()
            }),
            // Outside any scope: explicitly none, even if polled inside one later.
            None => self.inner.call(req).in_current_trace_context(),
        }
    }
}
