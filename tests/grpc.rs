//! gRPC with tonic: a real tonic server behind `ExtractTraceContextLayer` and real channels
//! behind `InjectTraceContextLayer`, `InjectGrpcTraceContextLayer` (client streams too) or
//! `InjectTraceContextInterceptor`, on loopback; the `MetadataMap` carrier; bad metadata never
//! failing a call.
#![cfg(all(feature = "grpc", feature = "logging"))]

#[path = "../examples/support/echo.rs"]
mod echo;

use std::net::SocketAddr;

use echo::{EchoClient, EchoServer, WhoamiReply, WhoamiRequest};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::Routes;
use tonic::transport::Channel;
use tower::ServiceBuilder;
use tracectx::prelude::*;
use tracectx::propagation::{
    self, ClaimedRunId, ExtractTraceContextLayer, InjectGrpcTraceContextLayer,
    InjectTraceContextInterceptor, InjectTraceContextLayer, RunPolicy, TraceParent, UNREADABLE,
};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn whoami(
    req: tonic::Request<WhoamiRequest>,
) -> Result<tonic::Response<WhoamiReply>, tonic::Status> {
    let claimed = req.extensions().get::<ClaimedRunId>().cloned();
    // The context is in the request's extensions too: the same as the current one.
    let given = req.extensions().get::<TraceContext>().cloned();
    let note = req.into_inner().note;
    tokio::task::yield_now().await;
    let reply = tracectx::with_current(|ctx| {
        assert_eq!(ctx, given.as_ref());
        WhoamiReply::from_context(ctx, claimed.as_ref(), note)
    });
    Ok(tonic::Response::new(reply))
}

/// A tonic server of `Echo` behind the server layer with `policy`, on a free loopback port.
async fn serve(policy: RunPolicy) -> SocketAddr {
    serve_routes(policy, Routes::new(EchoServer::new(whoami))).await
}

/// A tonic server of `routes` behind the server layer with `policy`, on a free loopback port.
async fn serve_routes(policy: RunPolicy, routes: Routes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = futures::stream::unfold(listener, |listener| async move {
        Some((listener.accept().await.map(|(s, _)| s), listener))
    });
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(ExtractTraceContextLayer::new(policy))
            .add_routes(routes)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}

async fn channel(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn layered(channel: Channel) -> EchoClient<propagation::InjectTraceContext<Channel>> {
    EchoClient::new(
        ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(channel),
    )
}

fn request(note: &str) -> tonic::Request<WhoamiRequest> {
    tonic::Request::new(WhoamiRequest {
        note: note.to_owned(),
    })
}

// === client and server layers ===

#[tokio::test(flavor = "multi_thread")]
async fn tonic_client_and_server_share_the_run_and_trace() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let mut client = layered(channel(addr).await);
    let ctx = TraceContext::new("sweep_42").unwrap();
    let replies = async {
        let mut replies = Vec::new();
        for i in 0..3 {
            let resp = client.whoami(request(&format!("call {i}"))).await.unwrap();
            // The server names its span in the response's metadata.
            let named = resp
                .metadata()
                .get("traceparent")
                .unwrap()
                .to_str()
                .unwrap();
            let named = TraceParent::parse(named).unwrap();
            let reply = resp.into_inner();
            assert_eq!(named.parent_id().to_string(), reply.span_id);
            replies.push(reply);
        }
        replies
    }
    .in_trace_context(ctx.clone())
    .await;
    let mut parents = std::collections::HashSet::new();
    for reply in &replies {
        assert_eq!(reply.run_id, "sweep_42");
        assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()));
        assert_ne!(reply.parent_span_id, ctx.span_id().to_string());
        assert_eq!(reply.caller_run_id, "-");
        assert!(parents.insert(reply.parent_span_id.clone()));
    }
    assert_eq!(parents.len(), 3, "a span of its own for every call");
}

#[tokio::test(flavor = "multi_thread")]
async fn interceptor_client_carries_the_run_and_trace() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let mut client =
        EchoClient::with_interceptor(channel(addr).await, InjectTraceContextInterceptor::new());
    let ctx = TraceContext::new("sweep_43").unwrap();
    let reply = async { client.whoami(request("x")).await }
        .in_trace_context(ctx.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.run_id, "sweep_43");
    assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()));
    assert_ne!(reply.parent_span_id, ctx.span_id().to_string());

    // Outside any scope the call goes out without a context: the server starts one.
    let reply = client.whoami(request("y")).await.unwrap().into_inner();
    assert!(reply.run_id.starts_with("request_"), "{reply:?}");
    assert_eq!(reply.parent_span_id, "-");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_layer_outside_any_scope_sends_no_context() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let mut client = layered(channel(addr).await);
    let reply = client.whoami(request("x")).await.unwrap().into_inner();
    assert!(reply.run_id.starts_with("request_"), "{reply:?}");
    assert_eq!(reply.parent_span_id, "-");
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_server_runs_calls_in_a_run_of_its_own_and_records_the_claim() {
    let addr = serve(RunPolicy::OwnRun).await;
    let mut client = layered(channel(addr).await);
    let ctx = TraceContext::new("backtest_victim").unwrap();
    let reply = async { client.whoami(request("x")).await }
        .in_trace_context(ctx.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(reply.run_id.starts_with("request_"), "{reply:?}");
    assert_eq!(reply.caller_run_id, "backtest_victim");
    assert_eq!(
        reply.trace_id,
        format!("{:x}", ctx.trace_id()),
        "the trace goes on"
    );
}

/// A thousand calls at once, each from a run of its own, over one channel, on a multi-thread
/// runtime: every handler runs in its own caller's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_each_run_in_their_callers_run() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let client = layered(channel(addr).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let mut client = client.clone();
        let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
        tasks.spawn(
            async move {
                tokio::task::yield_now().await;
                let reply = client.whoami(request("x")).await.unwrap().into_inner();
                let ctx = tracectx::current().unwrap();
                (ctx, reply)
            }
            .in_trace_context(ctx),
        );
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (ctx, reply) = joined.unwrap();
        assert_eq!(reply.run_id, ctx.run_id().as_str());
        assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()));
        done += 1;
    }
    assert_eq!(done, 1_000);
}

// === bad metadata ===

/// A call with these metadata (and no client layer): the reply, which must come.
async fn call_with(addr: SocketAddr, pairs: &[(&'static str, &[u8])]) -> WhoamiReply {
    let mut client = EchoClient::new(channel(addr).await);
    let mut req = request("x");
    for (k, v) in pairs {
        req.metadata_mut()
            .append(*k, AsciiMetadataValue::try_from(*v).unwrap());
    }
    client
        .whoami(req)
        .await
        .expect("bad metadata never fails a call")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_metadata_starts_a_new_trace_and_never_fails_the_call() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let zero_trace = VALID.replace(TRACE, &"0".repeat(32));
    let long = "0".repeat(8_000);
    for pairs in [
        vec![("traceparent", b"garbage".as_slice())],
        vec![("traceparent", zero_trace.as_bytes())],
        vec![
            ("traceparent", VALID.as_bytes()),
            ("traceparent", VALID.as_bytes()),
        ],
        vec![
            ("traceparent", VALID.as_bytes()),
            ("traceparent", b"\xff\x80"),
        ],
        vec![("traceparent", long.as_bytes())],
        vec![
            ("traceparent", b"\xff".as_slice()),
            ("baggage", b"run_id=backtest_ab12cd34"),
        ],
    ] {
        let reply = call_with(addr, &pairs).await;
        assert!(reply.run_id.starts_with("request_"), "{pairs:?}: {reply:?}");
        assert_ne!(reply.trace_id, TRACE, "{pairs:?}");
        assert_eq!(reply.parent_span_id, "-", "{pairs:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tracestate_and_baggage_are_dropped_and_the_trace_kept() {
    let addr = serve(RunPolicy::TrustCaller).await;
    for (tracestate, baggage) in [
        (b"Bad Key=1".as_slice(), b"run_id=a%0Ab".as_slice()),
        (b"\xff\xfe", b"run_id=[other_run]"),
        (b"a=1", b"run_id=-"),
    ] {
        let reply = call_with(
            addr,
            &[
                ("traceparent", VALID.as_bytes()),
                ("tracestate", tracestate),
                ("baggage", baggage),
            ],
        )
        .await;
        assert_eq!(reply.trace_id, TRACE);
        assert_eq!(reply.run_id, format!("trace_{TRACE}"), "{baggage:?}");
    }
}

// === the carrier ===

#[test]
fn metadata_map_round_trips_a_context() {
    let state = propagation::TraceState::parse(["rojo=00f067aa0ba902b7"]).unwrap();
    let ctx = TraceContext::new("job_1")
        .unwrap()
        .with_trace_state(Some(state));
    let mut md = MetadataMap::new();
    propagation::inject(&ctx, &mut md);
    assert_eq!(md.get("tracestate").unwrap(), "rojo=00f067aa0ba902b7");
    let there = propagation::extract(&md).unwrap();
    assert_eq!(there.run_id(), "job_1");
    assert_eq!(there.trace_id(), ctx.trace_id());
    assert_eq!(there.parent_span_id(), Some(ctx.span_id()));
    assert_eq!(there.trace_state(), Some("rojo=00f067aa0ba902b7"));
}

#[test]
fn metadata_map_reports_values_that_are_not_text() {
    let mut md = MetadataMap::new();
    md.append("traceparent", VALID.parse().unwrap());
    md.append(
        "traceparent",
        AsciiMetadataValue::try_from(b"\xff\x80".as_slice()).unwrap(),
    );
    let values: Vec<&str> = propagation::Extractor::get_all(&md, "traceparent").collect();
    assert_eq!(values, [VALID, UNREADABLE]);
    assert!(propagation::extract(&md).is_none());
}

#[test]
fn metadata_map_skips_what_metadata_cannot_hold() {
    let mut md = MetadataMap::new();
    propagation::Injector::set(&mut md, "bad key", "v");
    propagation::Injector::set(&mut md, "baggage", "a\nb");
    assert!(md.is_empty());
    // A binary key is no text carrier's.
    assert_eq!(propagation::Extractor::get_all(&md, "trace-bin").count(), 0);
}

#[test]
fn injecting_a_context_without_state_empties_a_copied_tracestate() {
    // Metadata copied from another call, sent on from a run with no tracestate.
    let mut md = MetadataMap::new();
    md.insert("tracestate", "rojo=00f067aa0ba902b7".parse().unwrap());
    propagation::inject(&TraceContext::new("job_1").unwrap(), &mut md);
    let states: Vec<&str> = propagation::Extractor::get_all(&md, "tracestate").collect();
    assert_eq!(states, [""]);
    assert_eq!(propagation::extract(&md).unwrap().trace_state(), None);
}

// === server streaming ===

/// A tonic service of one streaming method written by hand (the test proto has only unary
/// ones): `$name` serves `$handler` through `tonic::server::Grpc::$kind` as `$service`.
macro_rules! hand_written_service {
    ($name:ident, $service:literal, $kind:ident, $handler:ident) => {
        #[derive(Clone, Debug)]
        struct $name;

        impl<B> tower::Service<http::Request<B>> for $name
        where
            B: tonic::codegen::Body + Send + 'static,
            B::Error: Into<tonic::codegen::StdError> + Send + 'static,
        {
            type Response = http::Response<tonic::body::Body>;
            type Error = std::convert::Infallible;
            type Future = std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
            >;

            fn poll_ready(
                &mut self,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: http::Request<B>) -> Self::Future {
                Box::pin(async move {
                    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                    Ok(grpc.$kind(tower::service_fn($handler), req).await)
                })
            }
        }

        impl tonic::server::NamedService for $name {
            const NAME: &'static str = $service;
        }
    };
}

// `Watch`: a server-streaming method whose every reply says the context current while the
// response stream is polled (by the server's connection, after the handler returned).
hand_written_service!(WatchServer, "tracectx.echo.Watch", server_streaming, watch);

const WATCH: &str = "/tracectx.echo.Watch/Watch";

type ReplyStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<WhoamiReply, tonic::Status>> + Send>>;

async fn watch(
    req: tonic::Request<WhoamiRequest>,
) -> Result<tonic::Response<ReplyStream>, tonic::Status> {
    let note = req.into_inner().note;
    let replies = futures::StreamExt::then(futures::stream::iter(0..3), move |i| {
        let note = format!("{note} {i}");
        async move {
            tokio::task::yield_now().await;
            Ok(tracectx::with_current(|ctx| {
                WhoamiReply::from_context(ctx, None, note)
            }))
        }
    });
    Ok(tonic::Response::new(Box::pin(replies) as ReplyStream))
}

/// A tonic server of `Watch` behind the server layer with `policy`, on a free loopback port.
async fn serve_watch(policy: RunPolicy) -> SocketAddr {
    serve_routes(policy, Routes::new(WatchServer)).await
}

/// Every reply of one `Watch` call over `channel`.
async fn watch_call<T>(channel: T, note: &str) -> Vec<WhoamiReply>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(Into::into).unwrap();
    let mut replies = grpc
        .server_streaming(
            request(note),
            http::uri::PathAndQuery::from_static(WATCH),
            tonic_prost::ProstCodec::<WhoamiRequest, WhoamiReply>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    let mut all = Vec::new();
    while let Some(reply) = replies.message().await.unwrap() {
        all.push(reply);
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn server_streaming_replies_are_made_in_the_calls_context() {
    let addr = serve_watch(RunPolicy::TrustCaller).await;
    let ctx = TraceContext::new("backtest_stream").unwrap();
    let channel = ServiceBuilder::new()
        .layer(InjectTraceContextLayer::new())
        .service(channel(addr).await);
    let replies = watch_call(channel, "x").in_trace_context(ctx.clone()).await;
    assert_eq!(replies.len(), 3);
    for reply in &replies {
        assert_eq!(reply.run_id, "backtest_stream", "{reply:?}");
        assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()), "{reply:?}");
    }
    // One call, one server span: every reply names the same one.
    assert!(replies.iter().all(|r| r.span_id == replies[0].span_id));
}

/// Two thousand streaming calls at once over one channel, each from a run of its own, on a
/// multi-thread runtime: every reply of every stream is made in its own caller's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_streams_each_reply_in_their_callers_run() {
    let addr = serve_watch(RunPolicy::TrustCaller).await;
    let channel = ServiceBuilder::new()
        .layer(InjectTraceContextLayer::new())
        .service(channel(addr).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2_000 {
        let channel = channel.clone();
        let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
        tasks.spawn(
            async move {
                let replies = watch_call(channel, &i.to_string()).await;
                (tracectx::current().unwrap(), i, replies)
            }
            .in_trace_context(ctx),
        );
    }
    let mut server_spans = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (ctx, i, replies) = joined.unwrap();
        assert_eq!(replies.len(), 3);
        for (n, reply) in replies.iter().enumerate() {
            assert_eq!(reply.note, format!("{i} {n}"));
            assert_eq!(reply.run_id, ctx.run_id().as_str(), "{reply:?}");
            assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()), "{reply:?}");
            assert_eq!(reply.span_id, replies[0].span_id);
        }
        assert!(server_spans.insert(replies[0].span_id.clone()));
    }
    assert_eq!(server_spans.len(), 2_000);
}

// === client streaming ===

// A client-streaming method, `Upload`: takes the caller's messages and answers with one
// reply whose note is theirs joined by `,`. The caller's stream is read by the client's
// connection, a task of its own.
hand_written_service!(
    UploadServer,
    "tracectx.echo.Upload",
    client_streaming,
    upload
);

const UPLOAD: &str = "/tracectx.echo.Upload/Upload";

async fn upload(
    req: tonic::Request<tonic::Streaming<WhoamiRequest>>,
) -> Result<tonic::Response<WhoamiReply>, tonic::Status> {
    let mut notes = Vec::new();
    let mut messages = req.into_inner();
    while let Some(message) = messages.message().await? {
        notes.push(message.note);
    }
    let reply = tracectx::with_current(|ctx| WhoamiReply::from_context(ctx, None, notes.join(",")));
    Ok(tonic::Response::new(reply))
}

/// One `Upload` call over `channel` of `n` messages, each made when the connection polls the
/// stream for it: its note is the run current then (`-` for none) and its number.
async fn upload_call<T>(channel: T, n: usize) -> WhoamiReply
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let messages = futures::StreamExt::then(futures::stream::iter(0..n), |i| async move {
        tokio::task::yield_now().await;
        let run = tracectx::get_run_id().map_or("-".to_owned(), |r| r.to_string());
        WhoamiRequest {
            note: format!("{run}:{i}"),
        }
    });
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(Into::into).unwrap();
    grpc.client_streaming(
        tonic::Request::new(messages),
        http::uri::PathAndQuery::from_static(UPLOAD),
        tonic_prost::ProstCodec::<WhoamiRequest, WhoamiReply>::default(),
    )
    .await
    .unwrap()
    .into_inner()
}

/// The caller's messages of a client-streaming call are made in its context behind
/// `InjectGrpcTraceContextLayer` (the connection reads the stream after `call` returned,
/// outside the caller's task: behind `InjectTraceContextLayer` they are made in none).
#[tokio::test(flavor = "multi_thread")]
async fn client_streaming_messages_are_made_in_the_callers_context() {
    let addr = serve_routes(RunPolicy::TrustCaller, Routes::new(UploadServer)).await;
    let ctx = TraceContext::new("backtest_upload").unwrap();
    let grpc = ServiceBuilder::new()
        .layer(InjectGrpcTraceContextLayer::new())
        .service(channel(addr).await);
    let reply = upload_call(grpc, 3).in_trace_context(ctx.clone()).await;
    assert_eq!(
        reply.note,
        "backtest_upload:0,backtest_upload:1,backtest_upload:2"
    );
    assert_eq!(reply.run_id, "backtest_upload");
    assert_eq!(reply.trace_id, format!("{:x}", ctx.trace_id()));
    // The layer for plain HTTP clients carries the metadata but not the messages.
    let http = ServiceBuilder::new()
        .layer(InjectTraceContextLayer::new())
        .service(channel(addr).await);
    let reply = upload_call(http, 3).in_trace_context(ctx.clone()).await;
    assert_eq!(reply.run_id, "backtest_upload");
    assert!(
        reply.note.split(',').any(|n| n.starts_with("-:")),
        "{}",
        reply.note
    );
    // A unary call goes through the layer as through the other.
    let addr = serve(RunPolicy::TrustCaller).await;
    let mut client = EchoClient::new(
        ServiceBuilder::new()
            .layer(InjectGrpcTraceContextLayer::new())
            .service(channel(addr).await),
    );
    let reply = client
        .whoami(request("unary"))
        .in_trace_context(ctx.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (reply.run_id.as_str(), reply.note.as_str()),
        ("backtest_upload", "unary")
    );
}

/// Two thousand client-streaming calls over one channel, each from a run of its own, 200 at
/// a time, on a multi-thread runtime: every message of every call is made in its caller's
/// run, though one connection reads them all. (Thousands of client streams at once on one
/// HTTP/2 connection make hyper's client fail some with "broken pipe", with or without the
/// layer.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_each_message_in_their_callers_run() {
    let addr = serve_routes(RunPolicy::TrustCaller, Routes::new(UploadServer)).await;
    let grpc = ServiceBuilder::new()
        .layer(InjectGrpcTraceContextLayer::new())
        .service(channel(addr).await);
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2_000 {
        let (grpc, at_once) = (grpc.clone(), at_once.clone());
        let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
        tasks.spawn(
            async move {
                let _turn = at_once.acquire().await.unwrap();
                (i, upload_call(grpc, 3).await)
            }
            .in_trace_context(ctx),
        );
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, reply) = joined.unwrap();
        assert_eq!(reply.note, format!("run_{i}:0,run_{i}:1,run_{i}:2"));
        assert_eq!(reply.run_id, format!("run_{i}"));
    }
}

/// Metadata a hostile or foreign client may send beside (or instead of) a valid context:
/// uppercase hex, a binary `-bin` key of the same name, baggage split over several values,
/// a run id past W3C's baggage limits. The call always succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_metadata_is_read_as_w3c_says() {
    let addr = serve(RunPolicy::TrustCaller).await;
    let call_bin = |pairs: Vec<(&'static str, Vec<u8>)>, bin: Option<&'static [u8]>| async move {
        let mut client = EchoClient::new(channel(addr).await);
        let mut req = request("x");
        for (k, v) in &pairs {
            req.metadata_mut()
                .append(*k, AsciiMetadataValue::try_from(v.as_slice()).unwrap());
        }
        if let Some(bytes) = bin {
            req.metadata_mut().append_bin(
                "traceparent-bin",
                tonic::metadata::BinaryMetadataValue::from_bytes(bytes),
            );
        }
        client
            .whoami(req)
            .await
            .expect("never fails the call")
            .into_inner()
    };

    // Uppercase hex is no valid traceparent: a new trace.
    let reply = call_bin(
        vec![("traceparent", VALID.to_uppercase().into_bytes())],
        None,
    )
    .await;
    assert!(reply.run_id.starts_with("request_"), "{reply:?}");
    assert_ne!(reply.trace_id, TRACE);

    // A binary key of the same name is another key: alone it starts a new trace ...
    let reply = call_bin(vec![], Some(VALID.as_bytes())).await;
    assert!(reply.run_id.starts_with("request_"), "{reply:?}");
    // ... and beside a valid traceparent it is no second one.
    let pairs = vec![("traceparent", VALID.as_bytes().to_vec())];
    let reply = call_bin(pairs, Some(b"\x00\xff garbage")).await;
    assert_eq!(reply.trace_id, TRACE);
    assert_eq!(reply.parent_span_id, "00f067aa0ba902b7");

    // Baggage over several values is one list.
    let pairs = vec![
        ("traceparent", VALID.as_bytes().to_vec()),
        ("baggage", b"tenant=acme".to_vec()),
        ("baggage", b"run_id=backtest_ab12cd34".to_vec()),
    ];
    assert_eq!(call_bin(pairs, None).await.run_id, "backtest_ab12cd34");

    // A run id after `MAX_BAGGAGE_MEMBERS` others is past the limits: dropped, the run derived.
    let members: Vec<String> = (0..propagation::MAX_BAGGAGE_MEMBERS)
        .map(|i| format!("k{i}=v"))
        .collect();
    let baggage = format!("{},run_id=backtest_late", members.join(","));
    let pairs = vec![
        ("traceparent", VALID.as_bytes().to_vec()),
        ("baggage", baggage.into_bytes()),
    ];
    let reply = call_bin(pairs, None).await;
    assert_eq!(reply.run_id, format!("trace_{TRACE}"));
    assert_eq!(reply.trace_id, TRACE);
}
