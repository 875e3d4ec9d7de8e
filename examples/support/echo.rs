//! The `tracectx.echo.Echo` service of `echo.proto`, written out by hand as tonic-build would
//! generate it (messages, a client, a server), so that building needs no `protoc`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::{Body, Bytes, StdError};

/// The service's name, as routed.
pub const SERVICE: &str = "tracectx.echo.Echo";
/// The path of `Whoami`.
pub const WHOAMI: &str = "/tracectx.echo.Echo/Whoami";

#[derive(Clone, PartialEq, prost::Message)]
pub struct WhoamiRequest {
    #[prost(string, tag = "1")]
    pub note: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WhoamiReply {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(string, tag = "2")]
    pub trace_id: String,
    #[prost(string, tag = "3")]
    pub span_id: String,
    #[prost(string, tag = "4")]
    pub parent_span_id: String,
    #[prost(string, tag = "5")]
    pub caller_run_id: String,
    #[prost(string, tag = "6")]
    pub note: String,
}

impl WhoamiReply {
    /// What a handler running in `ctx` answers (everything `-` outside any context).
    pub fn from_context(
        ctx: Option<&tracectx::TraceContext>,
        caller_run_id: Option<&tracectx::propagation::ClaimedRunId>,
        note: String,
    ) -> Self {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        Self {
            run_id: show(ctx.map(|c| c.run_id().to_string())),
            trace_id: show(ctx.map(|c| format!("{:x}", c.trace_id()))),
            span_id: show(ctx.map(|c| c.span_id().to_string())),
            parent_span_id: show(ctx.and_then(|c| c.parent_span_id()).map(|p| p.to_string())),
            caller_run_id: show(caller_run_id.map(|c| c.to_string())),
            note,
        }
    }
}

// === client ===

/// A client of the service over any gRPC transport (a `Channel`, a layered one).
#[derive(Clone, Debug)]
pub struct EchoClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> EchoClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    pub fn new(inner: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    pub fn with_interceptor<F>(
        inner: T,
        interceptor: F,
    ) -> EchoClient<tonic::service::interceptor::InterceptedService<T, F>>
    where
        F: tonic::service::Interceptor,
        T: tonic::codegen::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<T::ResponseBody>,
            >,
        <T as tonic::codegen::Service<http::Request<tonic::body::Body>>>::Error:
            Into<StdError> + Send + Sync,
    {
        EchoClient::new(tonic::service::interceptor::InterceptedService::new(
            inner,
            interceptor,
        ))
    }

    pub async fn whoami(
        &mut self,
        request: impl tonic::IntoRequest<WhoamiRequest>,
    ) -> Result<tonic::Response<WhoamiReply>, tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unknown(format!("service was not ready: {}", e.into())))?;
        let path = http::uri::PathAndQuery::from_static(WHOAMI);
        self.inner
            .unary(
                request.into_request(),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
    }
}

// === server ===

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The server: `Whoami` calls `handler`; other paths answer `UNIMPLEMENTED`.
#[derive(Clone, Debug)]
pub struct EchoServer<F> {
    handler: F,
}

impl<F, Fut> EchoServer<F>
where
    F: Fn(tonic::Request<WhoamiRequest>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<WhoamiReply>, tonic::Status>> + Send + 'static,
{
    pub fn new(handler: F) -> Self {
        Self { handler }
    }
}

impl<F, Fut, B> tower::Service<http::Request<B>> for EchoServer<F>
where
    F: Fn(tonic::Request<WhoamiRequest>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<WhoamiReply>, tonic::Status>> + Send + 'static,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != WHOAMI {
            return Box::pin(async {
                Ok(tonic::Status::unimplemented("no such method").into_http())
            });
        }
        let handler = self.handler.clone();
        Box::pin(async move {
            let method = tower::service_fn(handler);
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(method, req).await)
        })
    }
}

impl<F> tonic::server::NamedService for EchoServer<F> {
    const NAME: &'static str = SERVICE;
}
