//! `http::HeaderMap` carriers and tower middleware for servers and clients.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

use super::{Extractor, Injector, RunPolicy, TRACEPARENT};
use crate::context::TraceContext;
use crate::future::{InTraceContext, TraceFutureExt};

static TRACEPARENT_NAME: HeaderName = HeaderName::from_static(super::TRACEPARENT);
static TRACESTATE_NAME: HeaderName = HeaderName::from_static(super::TRACESTATE);
static BAGGAGE_NAME: HeaderName = HeaderName::from_static(super::BAGGAGE);

/// Reports every value of the header, in order. A value that is not UTF-8 (HTTP allows any
/// byte from `0x80` up, "obs-text") is reported as [`UNREADABLE`](super::UNREADABLE), which no
/// parser here accepts, rather than left out: a second `traceparent` still counts, and the
/// pair is refused.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use tracectx::propagation::{self, Extractor, UNREADABLE};
///
/// let mut headers = HeaderMap::new();
/// let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// headers.append("traceparent", HeaderValue::from_static(valid));
/// headers.append("traceparent", HeaderValue::from_bytes(b"\xff")?);
/// let values: Vec<&str> = Extractor::get_all(&headers, "traceparent").collect();
/// assert_eq!(values, [valid, UNREADABLE]);
/// assert!(propagation::extract(&headers).is_none()); // two traceparent headers: a new trace
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
impl Extractor for HeaderMap {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        // Our own names are looked up by their prebuilt `HeaderName`, sparing a parse of the
        // name on every request.
        let values = match name {
            super::TRACEPARENT => HeaderMap::get_all(self, &TRACEPARENT_NAME),
            super::TRACESTATE => HeaderMap::get_all(self, &TRACESTATE_NAME),
            super::BAGGAGE => HeaderMap::get_all(self, &BAGGAGE_NAME),
            other => HeaderMap::get_all(self, other),
        };
        // Never `filter_map`: a value that vanished here would hide a duplicate `traceparent`.
        values
            .iter()
            .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or(super::UNREADABLE))
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, name: &'static str, value: &str) {
        // Our values are visible ASCII by construction; a value that is not is skipped
        // rather than sent broken.
        if let Ok(value) = HeaderValue::from_str(value) {
            let name = match name {
                super::TRACEPARENT => TRACEPARENT_NAME.clone(),
                super::TRACESTATE => TRACESTATE_NAME.clone(),
                super::BAGGAGE => BAGGAGE_NAME.clone(),
                other => match HeaderName::from_bytes(other.as_bytes()) {
                    Ok(name) => name,
                    Err(_) => return,
                },
            };
            self.insert(name, value);
        }
    }

    fn existing(&self, name: &'static str) -> Option<String> {
        super::existing_values(self, name)
    }
}

// === impl ExtractTraceContextLayer ===

/// Server middleware: runs each request's handler inside the context the request carries, by
/// the layer's [`RunPolicy`], and answers with a `traceparent` naming this side's span.
///
/// With [`RunPolicy::TrustCaller`] (services behind one edge) the handler runs in the caller's
/// run; with [`RunPolicy::OwnRun`] (a public edge) in a run of its own, `request_<id>`, the
/// caller's claimed run id kept as a [`ClaimedRunId`](super::ClaimedRunId). Either way the
/// caller's W3C trace goes on, and a request with no valid `traceparent` (none, two, or a
/// malformed one) starts a new trace in a fresh `request_<id>` run; a request is never
/// refused for its trace headers.
///
/// The response body is polled and dropped in the context too (it is an
/// [`InTraceContext`] around the handler's body): what a streamed response makes after the
/// handler returned, such as the replies of a gRPC server-streaming method, is made in the
/// request's run, and so are its log lines; [`InTraceContext::into_inner`] gives the handler's
/// body back.
///
/// The context is also put in the request's extensions (and the claimed run id, if any), for
/// handlers that want it as a value. Works with any `tower::Service<http::Request<B>>`: axum
/// routers, hyper services, tonic servers (feature `grpc`; gRPC metadata are HTTP/2 headers).
///
/// # Examples
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt as _};
/// use tracectx::propagation::{ExtractTraceContextLayer, RunPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let svc = ServiceBuilder::new()
///     .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller))
///     .service_fn(|_req: http::Request<()>| async {
///         let run = tracectx::get_run_id().map(|r| r.to_string());
///         Ok::<_, std::convert::Infallible>(http::Response::new(run))
///     });
/// let req = http::Request::builder()
///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .header("baggage", "run_id=backtest_ab12cd34")
///     .body(())?;
/// let resp = svc.oneshot(req).await?;
/// assert_eq!(resp.body().inner().unwrap().as_deref(), Some("backtest_ab12cd34"));
/// assert!(resp.headers()["traceparent"].to_str()?.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ExtractTraceContextLayer {
    policy: RunPolicy,
}

impl ExtractTraceContextLayer {
    /// Makes the layer with the policy saying whether callers choose the run: there is no
    /// default, because the right one depends on who can reach the server.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, ServiceExt as _};
    /// use tracectx::propagation::{ClaimedRunId, ExtractTraceContextLayer, RunPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A public edge: whatever the caller claims, the request runs as its own run.
    /// let svc = ExtractTraceContextLayer::new(RunPolicy::OwnRun).layer(tower::service_fn(
    ///     |req: http::Request<()>| async move {
    ///         let run = tracectx::get_run_id().map(|r| r.to_string());
    ///         let claimed = req.extensions().get::<ClaimedRunId>().map(|c| c.to_string());
    ///         Ok::<_, std::convert::Infallible>(http::Response::new((run, claimed)))
    ///     },
    /// ));
    /// let req = http::Request::builder()
    ///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ///     .header("baggage", "run_id=backtest_victim")
    ///     .body(())?;
    /// let (run, claimed) = svc.oneshot(req).await?.into_body().into_inner().unwrap();
    /// assert!(run.is_some_and(|run| run.starts_with("request_")));
    /// assert_eq!(claimed.as_deref(), Some("backtest_victim"));
    /// # Ok(()) }
    /// ```
    pub const fn new(policy: RunPolicy) -> Self {
        Self { policy }
    }

    /// The layer's policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::propagation::{ExtractTraceContextLayer, RunPolicy};
    ///
    /// let layer = ExtractTraceContextLayer::new(RunPolicy::OwnRun);
    /// assert_eq!(layer.policy(), RunPolicy::OwnRun);
    /// ```
    pub fn policy(&self) -> RunPolicy {
        self.policy
    }
}

impl<S> Layer<S> for ExtractTraceContextLayer {
    type Service = ExtractTraceContext<S>;

    fn layer(&self, inner: S) -> ExtractTraceContext<S> {
        ExtractTraceContext {
            inner,
            policy: self.policy,
        }
    }
}

/// The service made by [`ExtractTraceContextLayer`]: extracts the request's context and runs the
/// inner service in it.
///
/// # Examples
///
/// ```
/// use tower::{Layer as _, ServiceExt as _};
/// use tracectx::propagation::{ExtractTraceContext, ExtractTraceContextLayer, RunPolicy};
/// use tracectx::TraceContext;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = ExtractTraceContextLayer::new(RunPolicy::TrustCaller);
/// let svc: ExtractTraceContext<_> = layer.layer(tower::service_fn(
///     // The context is also in the request's extensions, as a value.
///     |req: http::Request<()>| async move {
///         let ctx = req.extensions().get::<TraceContext>().cloned();
///         Ok::<_, std::convert::Infallible>(http::Response::new(ctx))
///     },
/// ));
/// let req = http::Request::builder().header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").body(())?;
/// let ctx = svc.oneshot(req).await?.into_body().into_inner().flatten().expect("put there by the layer");
/// assert_eq!(ctx.parent_span_id().map(|id| id.to_string()).as_deref(), Some("00f067aa0ba902b7"));
/// assert!(ctx.run_id().starts_with("trace_")); // no run id in the baggage: derived
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ExtractTraceContext<S> {
    inner: S,
    policy: RunPolicy,
}

impl<S, B, RB> Service<http::Request<B>> for ExtractTraceContext<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<InTraceContext<RB>>;
    type Error = S::Error;
    type Future = ExtractTraceContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let (ctx, claimed) = self.policy.receive(req.headers(), "request").into_parts();
        req.extensions_mut().insert(ctx.clone());
        if let Some(claimed) = claimed {
            req.extensions_mut().insert(claimed);
        }
        // `call` itself may do work synchronously: it runs in the context too.
        let fut = ctx.sync_scope(|| self.inner.call(req));
        ExtractTraceContextFuture {
            traceparent: super::TraceParent::new(ctx.trace_id(), ctx.span_id(), ctx.trace_flags())
                .to_string(),
            body_context: Some(ctx.clone()),
            inner: fut.in_trace_context(ctx),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ExtractTraceContext`]: runs the handler in the request's
    /// context, then adds a `traceparent` naming this side's span to the response and wraps
    /// its body so that the body, too, is polled (and dropped) in the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, Service as _, ServiceExt as _};
    /// use tracectx::propagation::{ExtractTraceContextFuture, ExtractTraceContextLayer, RunPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = ExtractTraceContextLayer::new(RunPolicy::OwnRun);
    /// let mut svc = layer.layer(tower::service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// }));
    /// let fut: ExtractTraceContextFuture<_> = svc.ready().await?.call(http::Request::new(()));
    /// let resp = fut.await?;
    /// assert_eq!(resp.headers()["traceparent"].len(), 55);
    /// # Ok(()) }
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ExtractTraceContextFuture<F> {
        #[pin]
        inner: InTraceContext<F>,
        traceparent: String,
        body_context: Option<TraceContext>,
    }
}

impl<F> std::fmt::Debug for ExtractTraceContextFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractTraceContextFuture")
            .field("traceparent", &self.traceparent)
            .finish_non_exhaustive()
    }
}

impl<F, RB, E> Future for ExtractTraceContextFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
{
    type Output = Result<http::Response<InTraceContext<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = std::task::ready!(this.inner.poll(cx))?;
        if let Ok(value) = HeaderValue::try_from(std::mem::take(this.traceparent)) {
            resp.headers_mut()
                .insert(HeaderName::from_static(TRACEPARENT), value);
        }
        // The body is polled by the server's connection after the handler returned (a stream
        // of gRPC replies, a chunked response): in the request's context too, as tower-http's
        // `TraceLayer` enters its span around the body.
        let ctx = this.body_context.take();
        Poll::Ready(Ok(resp.map(|body| InTraceContext::new(body, ctx))))
    }
}

// === impl InjectTraceContextLayer ===

/// Client middleware: each outgoing request is a span of its own, a child of the caller's
/// current context, written into the request (`traceparent` naming the new span, `tracestate`,
/// `baggage` with the run id); the inner service's future runs in that span. Outside any scope
/// the request goes out unchanged.
///
/// Three calls made while handling one request so carry three parent ids, as W3C Trace
/// Context asks and as HTTP client instrumentations do.
///
/// The context is read when `Service::call` runs, which is synchronous: make the call inside
/// the scope (`async { client.call(req).await }.in_trace_context(ctx)`), not
/// `client.call(req).in_trace_context(ctx)`, whose `call` has already run outside it.
///
/// Usable with any `tower::Service<http::Request<B>>` client: hyper's, and tonic's `Channel`
/// (feature `grpc`). For `reqwest`, see `RequestBuilderExt` (feature `reqwest`).
///
/// # Examples
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt as _};
/// use tracectx::prelude::*;
/// use tracectx::propagation::InjectTraceContextLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A stand-in "network" that echoes the baggage it received.
/// let client = ServiceBuilder::new()
///     .layer(InjectTraceContextLayer::new())
///     .service_fn(|req: http::Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().get("baggage").cloned())
///     });
/// let ctx = TraceContext::new("backtest_ab12cd34")?;
/// let sent = client
///     .oneshot(http::Request::new(()))
///     .in_trace_context(ctx)
///     .await?;
/// assert_eq!(sent.unwrap().to_str()?, "run_id=backtest_ab12cd34");
/// # Ok(()) }
/// ```
///
/// Each call its own span:
///
/// ```
/// use tower::{Service as _, ServiceBuilder, ServiceExt as _};
/// use tracectx::prelude::*;
/// use tracectx::propagation::{InjectTraceContextLayer, TraceParent};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut client = ServiceBuilder::new()
///     .layer(InjectTraceContextLayer::new())
///     .service_fn(|req: http::Request<()>| async move {
///         // The inner service runs in the call's span, the one it sends.
///         let span = tracectx::current().map(|c| c.span_id());
///         let sent = TraceParent::parse(req.headers()["traceparent"].to_str().unwrap()).unwrap();
///         assert_eq!(span, Some(sent.parent_id()));
///         Ok::<_, std::convert::Infallible>(sent.parent_id())
///     });
/// let ctx = TraceContext::new("job_1")?;
/// let (a, b) = async {
///     let a = client.ready().await?.call(http::Request::new(())).await?;
///     let b = client.ready().await?.call(http::Request::new(())).await?;
///     Ok::<_, std::convert::Infallible>((a, b))
/// }
/// .in_trace_context(ctx.clone())
/// .await?;
/// assert_ne!(a, b);
/// assert!(a != ctx.span_id() && b != ctx.span_id());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct InjectTraceContextLayer {
    _private: (),
}

impl InjectTraceContextLayer {
    /// Makes the layer; it has no settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, ServiceExt as _};
    /// use tracectx::propagation::InjectTraceContextLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = InjectTraceContextLayer::new().layer(tower::service_fn(
    ///     |req: http::Request<()>| async move {
    ///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("traceparent"))
    ///     },
    /// ));
    /// // Outside any scope the request goes out unchanged.
    /// assert!(!client.oneshot(http::Request::new(())).await?);
    /// # Ok(()) }
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl<S> Layer<S> for InjectTraceContextLayer {
    type Service = InjectTraceContext<S>;

    fn layer(&self, inner: S) -> InjectTraceContext<S> {
        InjectTraceContext { inner }
    }
}

/// The service made by [`InjectTraceContextLayer`]: writes a child of the current context into
/// each request when [`Service::call`] runs, and runs the call in it.
///
/// # Examples
///
/// ```
/// use tower::{Layer as _, Service as _, ServiceExt as _};
/// use tracectx::prelude::*;
/// use tracectx::propagation::{InjectTraceContext, InjectTraceContextLayer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut client: InjectTraceContext<_> = InjectTraceContextLayer::new().layer(tower::service_fn(
///     |req: http::Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().contains_key("traceparent"))
///     },
/// ));
/// let ctx = TraceContext::new("job_1")?;
/// // Right: `call` runs inside the scope.
/// let sent = async { client.ready().await?.call(http::Request::new(())).await }
///     .in_trace_context(ctx.clone())
///     .await?;
/// assert!(sent);
/// // Wrong: `call` has already run, outside the scope, when the scope is attached.
/// let sent = client.ready().await?.call(http::Request::new(())).in_trace_context(ctx).await?;
/// assert!(!sent);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct InjectTraceContext<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for InjectTraceContext<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = InTraceContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        match super::inject_current(req.headers_mut()) {
            // The call is a span of its own: the inner service runs in it.
            Some(call) => call.sync_scope(|| self.inner.call(req).in_current_trace_context()),
            // Outside any scope: explicitly none, even if polled inside one later.
            None => self.inner.call(req).in_current_trace_context(),
        }
    }
}

// === impl RequestBuilderExt ===

/// Adds [`with_current_trace_context`](RequestBuilderExt::with_current_trace_context) to
/// `reqwest::RequestBuilder`.
///
/// # Examples
///
/// ```no_run
/// use tracectx::prelude::*;
/// use tracectx::propagation::RequestBuilderExt as _;
///
/// # #[allow(dead_code)] async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = TraceContext::generate("backtest");
/// async {
///     reqwest::Client::new()
///         .post("http://127.0.0.1:8080/test")
///         .with_current_trace_context() // traceparent + baggage with the run id
///         .send()
///         .await
/// }
/// .in_trace_context(ctx)
/// .await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub trait RequestBuilderExt {
    /// Adds the headers of a call made from the current context: `traceparent` naming a new
    /// span (a child of the current one, so every request has a parent id of its own),
    /// `tracestate` and `baggage` with the run id; outside any scope the request is unchanged.
    ///
    /// A builder does not show the headers set on it, so a `baggage` header set before this
    /// call is replaced: add the application's own baggage after it (a second `baggage`
    /// header, which receivers read with this one). [`InjectTraceContextLayer`], which sees
    /// the request, keeps it either way. For the same reason a `tracestate` is always set,
    /// empty when the context carries no state (as OpenTelemetry's propagator sends it): one
    /// set before, copied from a request of another trace, never goes out beside this
    /// call's `traceparent`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    /// use tracectx::propagation::RequestBuilderExt as _;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = reqwest::Client::new();
    /// let ctx = TraceContext::new("job_1")?;
    /// let req = ctx.sync_scope(|| client.get("http://localhost/").with_current_trace_context().build())?;
    /// assert_eq!(req.headers()["baggage"], "run_id=job_1");
    /// // A `tracestate` copied from another trace's request does not go out with this one.
    /// let req = ctx.sync_scope(|| {
    ///     client
    ///         .get("http://localhost/")
    ///         .header("tracestate", "rojo=00f067aa0ba902b7")
    ///         .with_current_trace_context()
    ///         .build()
    /// })?;
    /// assert_eq!(req.headers()["tracestate"], "");
    /// // Outside any scope the request is unchanged.
    /// let req = client.get("http://localhost/").with_current_trace_context().build()?;
    /// assert!(req.headers().get("traceparent").is_none());
    /// # Ok(()) }
    /// ```
    #[must_use]
    fn with_current_trace_context(self) -> Self;
}

#[cfg(feature = "reqwest")]
impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_current_trace_context(self) -> Self {
        let mut headers = HeaderMap::new();
        match super::inject_current(&mut headers) {
            Some(_) => {
                headers
                    .entry(super::TRACESTATE)
                    .or_insert(http::HeaderValue::from_static(""));
                self.headers(headers)
            }
            None => self,
        }
    }
}
