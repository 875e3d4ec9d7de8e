//! Many runs over one connection: the server and client layers on real hyper connections on
//! loopback, where requests of different runs share a connection (HTTP/2 streams interleaved
//! on one connection, HTTP/1 requests in turn on one kept-alive connection), some cancelled
//! half way, some hostile. Each handler, its log lines, its outgoing calls and its response
//! carry its own run, never another's.
#![cfg(all(feature = "http", feature = "logging"))]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tower::{Service as _, ServiceBuilder, ServiceExt as _};
use tracectx::prelude::*;
use tracectx::propagation::{ExtractTraceContextLayer, InjectTraceContextLayer, RunPolicy};

mod support;
use support::log;

/// Every wait of these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(60);

async fn bounded<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {LIMIT:?}"))
}

/// A server that answers every request with the values of its header `name`, joined by `,`.
async fn serve_echo(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| async move {
                let values = req
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(",");
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(values))))
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// What a handler saw, sent back as its response body: `run_at_start run_after_yields
/// baggage_the_downstream_call_carried`.
async fn handle(req: http::Request<Incoming>, downstream: SocketAddr) -> String {
    let tag = req.uri().path().trim_start_matches('/').to_owned();
    let at_start = run();
    tracing::info!("conn handler {tag}");
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let after = run();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut client = ServiceBuilder::new()
        .layer(InjectTraceContextLayer::new())
        .service(client);
    let call = http::Request::get(format!("http://{downstream}/"))
        .body(Empty::new())
        .unwrap();
    let resp = client.ready().await.unwrap().call(call).await.unwrap();
    let sent = resp.into_body().collect().await.unwrap().to_bytes();
    tracing::info!("conn handler {tag} done");
    format!("{at_start} {after} {}", String::from_utf8_lossy(&sent))
}

fn run() -> String {
    tracectx::get_run_id().map_or_else(|| "-".to_owned(), |r| r.to_string())
}

/// Serves `svc` on a loopback port, each connection with hyper's HTTP/2 server when `http2`,
/// else its HTTP/1 server (keep-alive).
async fn serve_tower<S, B>(http2: bool, svc: S) -> SocketAddr
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = TowerToHyperService::new(svc.clone());
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                let _ = if http2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await
                };
            });
        }
    });
    addr
}

/// The trusting server layer and [`handle`], over HTTP/2 or HTTP/1.
async fn serve(http2: bool) -> SocketAddr {
    let downstream = serve_echo("baggage").await;
    let svc = ServiceBuilder::new()
        .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller))
        .service_fn(move |req: http::Request<Incoming>| async move {
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(
                handle(req, downstream).await,
            ))))
        });
    serve_tower(http2, svc).await
}

/// One HTTP/2 connection to `addr`, shared by every caller of the returned sender.
async fn h2_connection(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// Two thousand requests, each from a run of its own, as concurrent streams of one HTTP/2
/// connection: every handler runs in its caller's run from start to end, its log lines are
/// stamped with it, its downstream call carries it, and the response names its trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interleaved_http2_streams_each_keep_their_own_run() {
    const REQUESTS: usize = 2_000;
    log();
    let addr = serve(true).await;
    let sender = h2_connection(addr).await;
    // At most 64 outgoing calls at a time: the streams still interleave on every worker.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let sender = sender.clone();
        let permits = permits.clone();
        let ctx = TraceContext::new(&format!("h2run_{i}")).unwrap();
        tasks.spawn(
            async move {
                let _permit = permits.acquire().await.unwrap();
                let mut client = ServiceBuilder::new()
                    .layer(InjectTraceContextLayer::new())
                    .service_fn(move |req| {
                        let mut sender = sender.clone();
                        async move { sender.send_request(req).await }
                    });
                let req = http::Request::get(format!("http://{addr}/h2run_{i}"))
                    .body(Empty::new())
                    .unwrap();
                let resp = client.ready().await.unwrap().call(req).await.unwrap();
                let echoed = resp.headers()["traceparent"].to_str().unwrap().to_owned();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                let ctx = tracectx::current().unwrap();
                (ctx, echoed, String::from_utf8(body.to_vec()).unwrap())
            }
            .in_trace_context(ctx),
        );
    }
    let mut seen = 0;
    while let Some(done) = bounded("the streams", tasks.join_next()).await {
        let (ctx, echoed, body) = done.unwrap();
        let run = ctx.run_id().to_string();
        assert_eq!(
            body,
            format!("{run} {run} run_id={run}"),
            "a handler saw another run"
        );
        assert!(
            echoed.contains(&format!("{:x}", ctx.trace_id())),
            "{run}: {echoed}"
        );
        seen += 1;
    }
    assert_eq!(seen, REQUESTS);
    let mut lines = 0;
    for line in log()
        .lines()
        .iter()
        .filter(|l| l.contains("conn handler h2run_"))
    {
        let (stamp, message) = line.split_once("] ").unwrap();
        let tag = message.split(' ').nth(2).unwrap();
        assert_eq!(stamp.trim_start_matches('['), tag, "{line}");
        lines += 1;
    }
    assert_eq!(lines, 2 * REQUESTS);
}

/// Sends `path` in the current run (a call of its own, as the client layer makes it) on
/// `sender`; the response body as text.
async fn send(
    mut sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    path: String,
) -> String {
    let mut req = http::Request::get(format!("http://127.0.0.1/{path}"))
        .body(Empty::new())
        .unwrap();
    tracectx::propagation::inject_current(req.headers_mut());
    let resp = sender.send_request(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Reports its handler's tag and the run it is dropped in.
struct ReportOnDrop(mpsc::UnboundedSender<(String, String)>, String);

impl Drop for ReportOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send((self.1.clone(), run()));
    }
}

/// Handlers cancelled half way (their caller gives up; hyper resets the stream and drops the
/// handler's future) on a connection that goes on serving other runs: each is dropped in its
/// own run, and the streams around them keep theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_http2_streams_drop_in_their_run_and_the_connection_goes_on() {
    // Below hyper's limit of 200 concurrent streams a connection, the hanging ones included.
    const EACH: usize = 150;
    let (started_tx, mut started) = mpsc::unbounded_channel::<String>();
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel::<(String, String)>();
    let svc = ServiceBuilder::new()
        .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller))
        .service_fn(move |req: http::Request<Incoming>| {
            let (started, dropped) = (started_tx.clone(), dropped_tx.clone());
            async move {
                let tag = req.uri().path().trim_start_matches('/').to_owned();
                let _guard = ReportOnDrop(dropped, tag.clone());
                tokio::task::yield_now().await;
                if tag.starts_with("hang_") {
                    let _ = started.send(tag);
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(run()))))
            }
        });
    let addr = serve_tower(true, svc).await;
    let sender = h2_connection(addr).await;
    let ctx = |tag: &str| TraceContext::new(tag).unwrap();

    let mut hanging = Vec::new();
    let mut answered = tokio::task::JoinSet::new();
    for i in 0..EACH {
        let tag = format!("hang_{i}");
        hanging.push(tokio::spawn(
            send(sender.clone(), tag.clone()).in_trace_context(ctx(&tag)),
        ));
        let tag = format!("next_{i}");
        answered.spawn(send(sender.clone(), tag.clone()).in_trace_context(ctx(&tag)));
    }
    for _ in 0..EACH {
        bounded("a hanging handler starts", started.recv())
            .await
            .unwrap();
    }
    // Cancelled in an order unrelated to the one they were sent in.
    for i in (0..EACH).step_by(2).chain((1..EACH).step_by(2)) {
        hanging[i].abort();
    }
    let mut bodies = Vec::new();
    while let Some(body) = bounded("the answered streams", answered.join_next()).await {
        bodies.push(body.unwrap());
    }
    bodies.sort();
    let mut expected: Vec<String> = (0..EACH).map(|i| format!("next_{i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);

    let mut reports = Vec::new();
    while reports.len() < 2 * EACH {
        let (tag, run) = bounded("a handler is dropped", dropped.recv())
            .await
            .unwrap();
        assert_eq!(tag, run, "a handler was dropped in another run");
        reports.push(tag);
    }
    assert_eq!(
        reports.iter().filter(|t| t.starts_with("hang_")).count(),
        EACH
    );

    // The connection still serves, each stream in its own run.
    let after = send(sender.clone(), "after".into())
        .in_trace_context(ctx("after_all"))
        .await;
    assert_eq!(after, "after_all");
}

/// Requests in turn on one kept-alive HTTP/1 connection, valid and hostile mixed: what a
/// request's handler and its downstream call run in comes from that request alone, never from
/// the one before it on the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_requests_in_turn_on_one_http1_connection_never_inherit_a_run() {
    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const DERIVED: &str = "trace_4bf92f3577b34da6a3ce929d0e0e4736";
    let addr = serve(false).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);

    let pad = "x".repeat(200_000);
    let upper = TP.to_uppercase();
    let future = format!("cc{}-extra-fields", &TP[2..]);
    // (headers, the run the handler must see: exact, or a prefix ending in `_`)
    type Case<'a> = (Vec<(&'a str, Vec<u8>)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"run_id=valid_1".to_vec()),
            ],
            "valid_1",
        ),
        (vec![], "request_"),
        (
            vec![
                ("traceparent", TP.into()),
                ("traceparent", TP.into()),
                ("baggage", b"run_id=twice".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                ("traceparent", upper.into_bytes()),
                ("baggage", b"run_id=upper".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                ("traceparent", format!("ff{}", &TP[2..]).into_bytes()),
                ("baggage", b"run_id=ff".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                ("traceparent", future.into_bytes()),
                ("baggage", b"run_id=later_version".to_vec()),
            ],
            "later_version",
        ),
        (
            vec![
                (
                    "traceparent",
                    b"00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_vec(),
                ),
                ("baggage", b"run_id=zero_trace".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                (
                    "traceparent",
                    b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01".to_vec(),
                ),
                ("baggage", b"run_id=zero_parent".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"run_id=obs\xfftext".to_vec()),
            ],
            DERIVED,
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("traceparent", b"\xff".to_vec()),
                ("baggage", b"run_id=obs".to_vec()),
            ],
            "request_",
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"tenant=acme".to_vec()),
                ("baggage", b"run_id=second_line".to_vec()),
            ],
            "second_line",
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", format!("run_id=first,pad={pad}").into_bytes()),
            ],
            "first",
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", format!("pad={pad},run_id=late").into_bytes()),
            ],
            DERIVED,
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"run%5Fid=encoded_key".to_vec()),
            ],
            DERIVED,
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"run_id=%76alid%5F2".to_vec()),
            ],
            "valid_2",
        ),
        (
            vec![
                ("traceparent", TP.into()),
                ("baggage", b"run_id=bad%zz".to_vec()),
            ],
            DERIVED,
        ),
        (
            vec![("baggage", b"run_id=no_traceparent".to_vec())],
            "request_",
        ),
    ];
    for round in 0..20 {
        for (i, (headers, expected)) in cases.iter().enumerate() {
            let mut req = http::Request::get(format!("http://{addr}/h1_{round}_{i}"));
            for (name, value) in headers {
                req = req.header(*name, http::HeaderValue::from_bytes(value).unwrap());
            }
            let req = req.body(Empty::<Bytes>::new()).unwrap();
            bounded("the connection", sender.ready()).await.unwrap();
            let resp = bounded("a response", sender.send_request(req))
                .await
                .unwrap();
            assert_eq!(resp.status(), http::StatusCode::OK, "case {i}");
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            let fields: Vec<&str> = body.split(' ').collect();
            let handler_run = fields[0];
            if let Some(prefix) = expected.strip_suffix('_') {
                assert!(
                    handler_run.starts_with(&format!("{prefix}_")),
                    "case {i}: {body}"
                );
            } else {
                assert_eq!(handler_run, *expected, "case {i}: {body}");
            }
            // Start to end in one run, and the downstream call's baggage leads with it (the
            // caller's other members follow).
            let sent = format!("{handler_run} {handler_run} run_id={handler_run}");
            assert!(
                body == sent || body.starts_with(&format!("{sent},")),
                "case {i}: {body}"
            );
        }
    }
}

/// A proxy copies the request's headers onto its own call, and the client layer writes the
/// call's context over them. A `tracestate` belongs to the `traceparent` beside it: when the
/// context has none (the incoming one was refused, or its trace was not continued), the one
/// copied from the request must not go out beside the new `traceparent`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_proxy_never_sends_a_tracestate_its_context_does_not_carry() {
    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let downstream = serve_echo("tracestate").await;
    let svc = ServiceBuilder::new()
        .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller))
        .service_fn(move |req: http::Request<Incoming>| async move {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let mut client = ServiceBuilder::new()
                .layer(InjectTraceContextLayer::new())
                .service(client);
            let mut call = http::Request::get(format!("http://{downstream}/"))
                .body(Empty::new())
                .unwrap();
            *call.headers_mut() = req.headers().clone();
            let resp = client.ready().await.unwrap().call(call).await.unwrap();
            let sent = resp.into_body().collect().await.unwrap().to_bytes();
            let own = tracectx::current().unwrap();
            let body = format!(
                "{}|{}",
                own.trace_state().unwrap_or(""),
                String::from_utf8_lossy(&sent)
            );
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
        });
    let addr = serve_tower(false, svc).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();

    let cases: [(&[(&str, &str)], &str); 6] = [
        // Continued with a valid state: it goes on.
        (&[("traceparent", TP), ("tracestate", "rojo=1")], "rojo=1"),
        // A state that cannot be parsed is dropped, not sent on raw.
        (&[("traceparent", TP), ("tracestate", "Bad Key=1")], ""),
        (&[("traceparent", TP), ("tracestate", "rojo=1,@x=1")], ""),
        // No valid traceparent: a new trace, which has no state yet.
        (&[("tracestate", "rojo=1")], ""),
        (&[("traceparent", "garbage"), ("tracestate", "rojo=1")], ""),
        (
            &[
                ("traceparent", TP),
                ("traceparent", TP),
                ("tracestate", "rojo=1"),
            ],
            "",
        ),
    ];
    for (headers, expected) in cases {
        let mut req = http::Request::get(format!("http://{addr}/"));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = bounded("the proxy", client.request(req.body(Empty::new()).unwrap()))
            .await
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        // The handler's state, and what its call sent: the same.
        assert_eq!(body, format!("{expected}|{expected}"), "{headers:?}");
    }
}
