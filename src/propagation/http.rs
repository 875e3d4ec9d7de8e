//! `http::HeaderMap` carriers and tower middleware for servers and clients.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tower_layer::Layer;
use tower_service::Service;

use super::{Extractor, Injector, TRACEPARENT, extract, inject};
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
}

// === impl ExtractTraceContextLayer ===

/// Server middleware: runs each request's handler inside the context the request carries
/// (or a fresh `request_<id>` context when it carries none or an invalid one), and answers
/// with a `traceparent` naming this side's span.
///
/// The context is also put in the request's extensions, for handlers that want it as a value.
/// Works with any `tower::Service<http::Request<B>>`: axum routers, hyper services.
///
/// # Examples
///
/// ```
/// use tower::{ServiceBuilder, ServiceExt as _};
/// use tracectx::propagation::ExtractTraceContextLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let svc = ServiceBuilder::new()
///     .layer(ExtractTraceContextLayer::new())
///     .service_fn(|_req: http::Request<()>| async {
///         let run = tracectx::get_run_id().map(|r| r.to_string());
///         Ok::<_, std::convert::Infallible>(http::Response::new(run))
///     });
/// let req = http::Request::builder()
///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .header("baggage", "run_id=backtest_ab12cd34")
///     .body(())?;
/// let resp = svc.oneshot(req).await?;
/// assert_eq!(resp.body().as_deref(), Some("backtest_ab12cd34"));
/// assert!(resp.headers()["traceparent"].to_str()?.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ExtractTraceContextLayer {
    _private: (),
}

impl ExtractTraceContextLayer {
    /// Makes the layer; it has no settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, ServiceExt as _};
    /// use tracectx::propagation::ExtractTraceContextLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let svc = ExtractTraceContextLayer::new().layer(tower::service_fn(|_req: http::Request<()>| async {
    ///     let run = tracectx::get_run_id().map(|r| r.to_string());
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(run))
    /// }));
    /// // No trace headers: the handler runs in a fresh `request_…` context.
    /// let resp = svc.oneshot(http::Request::new(())).await?;
    /// assert!(resp.body().as_deref().is_some_and(|run| run.starts_with("request_")));
    /// # Ok(()) }
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ExtractTraceContextLayer {
    type Service = ExtractTraceContext<S>;

    fn layer(&self, inner: S) -> ExtractTraceContext<S> {
        ExtractTraceContext { inner }
    }
}

/// The service made by [`ExtractTraceContextLayer`]: extracts the request's context and runs the
/// inner service in it.
///
/// # Examples
///
/// ```
/// use tower::{Layer as _, ServiceExt as _};
/// use tracectx::propagation::{ExtractTraceContextLayer, ExtractTraceContext};
/// use tracectx::TraceContext;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let svc: ExtractTraceContext<_> = ExtractTraceContextLayer::new().layer(tower::service_fn(
///     // The context is also in the request's extensions, as a value.
///     |req: http::Request<()>| async move {
///         let ctx = req.extensions().get::<TraceContext>().cloned();
///         Ok::<_, std::convert::Infallible>(http::Response::new(ctx))
///     },
/// ));
/// let req = http::Request::builder().header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").body(())?;
/// let ctx = svc.oneshot(req).await?.into_body().expect("put there by the layer");
/// assert_eq!(ctx.parent_span_id().map(|id| id.to_string()).as_deref(), Some("00f067aa0ba902b7"));
/// assert!(ctx.run_id().starts_with("trace_")); // no run id in the baggage: derived
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ExtractTraceContext<S> {
    inner: S,
}

impl<S, B, RB> Service<http::Request<B>> for ExtractTraceContext<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = ExtractTraceContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let ctx = extract(req.headers()).unwrap_or_else(|| TraceContext::generate("request"));
        req.extensions_mut().insert(ctx.clone());
        // `call` itself may do work synchronously: it runs in the context too.
        let fut = ctx.sync_scope(|| self.inner.call(req));
        ExtractTraceContextFuture {
            traceparent: super::TraceParent::new(ctx.trace_id(), ctx.span_id(), ctx.trace_flags())
                .to_string(),
            inner: fut.in_trace_context(ctx),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ExtractTraceContext`]: runs the handler in the request's
    /// context, then adds a `traceparent` naming this side's span to the response.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower::{Layer as _, Service as _, ServiceExt as _};
    /// use tracectx::propagation::{ExtractTraceContextLayer, ExtractTraceContextFuture};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut svc = ExtractTraceContextLayer::new().layer(tower::service_fn(|_req: http::Request<()>| async {
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
    type Output = Result<http::Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut resp = std::task::ready!(this.inner.poll(cx))?;
        if let Ok(value) = HeaderValue::try_from(std::mem::take(this.traceparent)) {
            resp.headers_mut()
                .insert(HeaderName::from_static(TRACEPARENT), value);
        }
        Poll::Ready(Ok(resp))
    }
}

// === impl InjectTraceContextLayer ===

/// Client middleware: writes the caller's current context (`traceparent`, `tracestate`,
/// `baggage` with the run id) into each outgoing request. Outside any scope the request goes
/// out unchanged.
///
/// The context is read when `Service::call` runs, which is synchronous: make the call inside
/// the scope (`async { client.call(req).await }.in_trace_context(ctx)`), not
/// `client.call(req).in_trace_context(ctx)`, whose `call` has already run outside it.
///
/// Usable with any `tower::Service<http::Request<B>>` client, hyper's included; for `reqwest`,
/// inject into a `HeaderMap` with [`inject_current`](super::inject_current) and pass it to
/// `RequestBuilder::headers`.
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
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for InjectTraceContextLayer {
    type Service = InjectTraceContext<S>;

    fn layer(&self, inner: S) -> InjectTraceContext<S> {
        InjectTraceContext { inner }
    }
}

/// The service made by [`InjectTraceContextLayer`]: writes the current context into each
/// request when [`Service::call`] runs.
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
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        crate::with_current(|ctx| {
            if let Some(ctx) = ctx {
                inject(ctx, req.headers_mut());
            }
        });
        self.inner.call(req)
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
    /// Adds the current context's `traceparent`, `tracestate` and `baggage` headers; outside
    /// any scope the request is unchanged.
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
        if super::inject_current(&mut headers) {
            self.headers(headers)
        } else {
            self
        }
    }
}
