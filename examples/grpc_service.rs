//! A gRPC server and client (tonic) that take part in a distributed trace: the server runs
//! each call in the context its metadata carry (`traceparent`, `tracestate`, `baggage`), the
//! client sends each call from a span of its own.
//!
//! ```sh
//! # Server: a service behind the edge (trusts the caller's run id); `--own-run` for a public one.
//! cargo run --example grpc_service --features grpc -- serve --port 50051 --log-file rpc.log
//! # Client: three calls in run `sweep_42`; prints what the server saw, as `key=value` lines.
//! cargo run --example grpc_service --features grpc -- call --addr http://127.0.0.1:50051 --run sweep_42 --calls 3
//! ```
//!
//! The service is `tracectx.echo.Echo` (`examples/support/echo.proto`): `Whoami` answers with
//! the run, trace and spans the server's handler ran in. The client prints its own context
//! (`run_id`, `trace_id`, `span_id`), then each reply as `reply.N.<field>`; with
//! `--interceptor` it writes the context with `InjectTraceContextInterceptor` instead of the
//! tower layer. Each call is a span of its own: a reply's `parent_span_id` is that call's span,
//! a child of the client's. `caller_run_id` is the run id a caller sent that a server started
//! with `--own-run` did not take (`-` when none). The server's lines logged outside any call
//! (`listening`, `stopped`) show `[-] [-]` where a run id and trace id would be; Ctrl-C or
//! SIGTERM stops it.

#[path = "support/echo.rs"]
mod echo;
mod support;

use echo::{EchoClient, EchoServer, WhoamiReply, WhoamiRequest};
use tower::ServiceBuilder;
use tracectx::TraceContext;
use tracectx::prelude::*;
use tracectx::propagation::{
    ClaimedRunId, ExtractTraceContextLayer, InjectGrpcTraceContextLayer,
    InjectTraceContextInterceptor, RunPolicy,
};

/// The handler: logs one line in the call's context and answers with it.
async fn whoami(
    req: tonic::Request<WhoamiRequest>,
) -> Result<tonic::Response<WhoamiReply>, tonic::Status> {
    let claimed = req.extensions().get::<ClaimedRunId>().cloned();
    let note = req.into_inner().note;
    tracing::info!(%note, "whoami");
    let reply =
        tracectx::with_current(|ctx| WhoamiReply::from_context(ctx, claimed.as_ref(), note));
    Ok(tonic::Response::new(reply))
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = support::arg("--port").map_or(Ok(50051), |p| p.parse())?;
    let policy = if std::env::args().any(|a| a == "--own-run") {
        RunPolicy::OwnRun
    } else {
        RunPolicy::TrustCaller
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, ?policy, "listening");
    tonic::transport::Server::builder()
        .layer(ExtractTraceContextLayer::new(policy))
        .add_service(EchoServer::new(whoami))
        .serve_with_incoming_shutdown(tokio_stream_listener(listener), support::shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// The listener's connections as the stream tonic serves.
fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let next = listener.accept().await.map(|(stream, _)| stream);
        Some((next, listener))
    })
}

async fn call() -> Result<(), Box<dyn std::error::Error>> {
    let addr = support::arg("--addr").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let calls: usize = support::arg("--calls").map_or(Ok(1), |n| n.parse())?;
    let ctx = match support::arg("--run") {
        Some(run) => TraceContext::new(&run)?,
        None => TraceContext::generate("run"),
    };
    println!("run_id={}", ctx.run_id());
    println!("trace_id={:x}", ctx.trace_id());
    println!("span_id={}", ctx.span_id());

    let channel = tonic::transport::Endpoint::from_shared(addr)?
        .connect()
        .await?;
    let interceptor = std::env::args().any(|a| a == "--interceptor");
    async {
        tracing::info!(calls, "calling");
        for i in 0..calls {
            let request = WhoamiRequest {
                note: format!("call {i}"),
            };
            let reply = if interceptor {
                EchoClient::with_interceptor(channel.clone(), InjectTraceContextInterceptor::new())
                    .whoami(request)
                    .await?
            } else {
                let layered = ServiceBuilder::new()
                    .layer(InjectGrpcTraceContextLayer::new())
                    .service(channel.clone());
                EchoClient::new(layered).whoami(request).await?
            }
            .into_inner();
            println!("reply.{i}.run_id={}", reply.run_id);
            println!("reply.{i}.trace_id={}", reply.trace_id);
            println!("reply.{i}.span_id={}", reply.span_id);
            println!("reply.{i}.parent_span_id={}", reply.parent_span_id);
            println!("reply.{i}.caller_run_id={}", reply.caller_run_id);
        }
        Ok::<_, tonic::Status>(())
    }
    .in_trace_context(ctx)
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), support::Failure> {
    support::init_logging()?;
    match std::env::args().nth(1).as_deref() {
        Some("serve") => Ok(serve().await?),
        Some("call") => Ok(call().await?),
        _ => Err("usage: grpc_service serve [--port P] [--own-run] [--log-file F] | call [--addr URL] [--run RUN] [--calls N] [--interceptor]".into()),
    }
}
