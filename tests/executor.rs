//! `TracedExecutor` under hyper-util's server and client on loopback: the tasks hyper spawns
//! (HTTP/2 streams, where handlers run; a client's connection task) write log lines stamped
//! with the run in force where they were started, through the crate's own log layer.
#![cfg(all(feature = "hyper", feature = "logging"))]

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::rt::{Executor, Read, ReadBufCursor, Write};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tracectx::TracedExecutor;
use tracectx::prelude::*;

mod support;
use support::log;

/// `(run, message)` of every line that mentions `tag`.
fn stamped(tag: &str) -> Vec<(String, String)> {
    log()
        .lines()
        .into_iter()
        .filter(|l| l.contains(tag))
        .map(|l| {
            let (run, message) = l
                .strip_prefix('[')
                .and_then(|l| l.split_once("] "))
                .unwrap_or_else(|| panic!("not a stamped line: {l:?}"));
            (run.to_owned(), message.to_owned())
        })
        .collect()
}

/// The value of `key=` in `message`.
fn field<'a>(message: &'a str, key: &str) -> &'a str {
    message
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {message:?}"))
}

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

// === server: HTTP/2 streams, where handlers run, are tasks hyper spawns ===

/// Serves one HTTP/2 connection in the current run, with hyper spawning through the traced
/// executor or the plain one.
async fn serve_connection(stream: TcpStream, tag: &'static str, traced: bool) {
    let port = stream.peer_addr().unwrap().port();
    tracing::info!("{tag} connection port={port}");
    let service =
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| async move {
            tokio::task::yield_now().await;
            tracing::info!("{tag} handler port={port} path={}", req.uri().path());
            Ok::<_, Infallible>(Response::new(req.uri().path().to_owned()))
        });
    let io = TokioIo::new(stream);
    let served = if traced {
        auto::Builder::new(TracedExecutor::new(TokioExecutor::new()))
            .http2_only()
            .serve_connection(io, service)
            .await
    } else {
        auto::Builder::new(TokioExecutor::new())
            .http2_only()
            .serve_connection(io, service)
            .await
    };
    tracing::info!("{tag} closed port={port} ok={}", served.is_ok());
}

/// Accepts `connections` connections, each served in a run named for its peer's port.
async fn server(listener: TcpListener, connections: usize, tag: &'static str, traced: bool) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (stream, peer) = listener.accept().await.unwrap();
        let run = ctx(&format!("{tag}_conn_{}", peer.port()));
        tasks.spawn(serve_connection(stream, tag, traced).in_trace_context(run));
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// `requests` concurrent HTTP/2 requests on one connection of its own, outside any run.
async fn h2_client(addr: std::net::SocketAddr, tag: &str, requests: usize) {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let call = |k: usize| {
        let client = client.clone();
        let uri: Uri = format!("http://{addr}/{tag}/{k}").parse().unwrap();
        async move {
            let response = client.get(uri).await.unwrap_or_else(|e| panic!("{e:?}"));
            let body = response.into_body().collect().await;
            body.unwrap_or_else(|e| panic!("{e:?}")).to_bytes()
        }
    };
    // The first call alone, so the connection exists before the others race for it: the
    // server accepts exactly one connection per client.
    assert!(call(0).await.starts_with(format!("/{tag}/").as_bytes()));
    let mut calls = tokio::task::JoinSet::new();
    for k in 1..requests {
        calls.spawn(call(k));
    }
    while let Some(body) = calls.join_next().await {
        assert!(body.unwrap().starts_with(format!("/{tag}/").as_bytes()));
    }
}

async fn serve_and_call(tag: &'static str, traced: bool, connections: usize, requests: usize) {
    log(); // installed before anything logs
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(server(listener, connections, tag, traced));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..connections {
        clients.spawn(async move { h2_client(addr, tag, requests).await });
    }
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    // Clients dropped: every connection closes and the server returns.
    tokio::time::timeout(std::time::Duration::from_secs(30), server)
        .await
        .expect("the server ends once every client is gone")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_handlers_in_spawned_streams_carry_their_connections_run() {
    const CONNECTIONS: usize = 20;
    const REQUESTS: usize = 25;
    serve_and_call("traced_server", true, CONNECTIONS, REQUESTS).await;
    let lines = stamped("traced_server");
    let handlers: Vec<_> = lines
        .iter()
        .filter(|(_, m)| m.contains(" handler "))
        .collect();
    assert_eq!(handlers.len(), CONNECTIONS * REQUESTS);
    for (run, message) in &lines {
        // Handler lines (in the tasks hyper spawned) and the connection task's own lines.
        let port = field(message, "port");
        assert_eq!(run, &format!("traced_server_conn_{port}"), "{message}");
    }
    let closed = lines.iter().filter(|(_, m)| m.contains(" closed ")).count();
    assert_eq!(closed, CONNECTIONS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_plain_executor_the_handlers_lose_the_run() {
    serve_and_call("plain_server", false, 4, 5).await;
    let lines = stamped("plain_server");
    let handlers: Vec<_> = lines
        .iter()
        .filter(|(_, m)| m.contains(" handler "))
        .collect();
    assert_eq!(handlers.len(), 20);
    assert!(handlers.iter().all(|(run, _)| run == "-"), "{handlers:?}");
    // The connection task itself is in its run: only the spawned streams lost it.
    let connection = lines.iter().filter(|(_, m)| m.contains(" connection "));
    assert!(connection.clone().count() == 4);
    assert!(
        connection
            .into_iter()
            .all(|(run, _)| run.starts_with("plain_server_conn_"))
    );
}

// === client: the connection task is a task hyper spawns ===

/// A socket that logs, with the run current, every write made on it: the writes of a
/// client connection happen in the connection task.
struct LoggedIo {
    inner: TokioIo<TcpStream>,
    tag: &'static str,
    port: u16,
}

impl Read for LoggedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for LoggedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            tracing::info!("{} write port={} bytes={n}", self.tag, self.port);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Connection for LoggedIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<LoggedIo>> + Send>>;

/// A connector that logs each connection it opens (in the calling request's task).
fn connector(
    tag: &'static str,
) -> impl tower::Service<Uri, Response = LoggedIo, Error = io::Error, Future = Connecting> + Clone {
    tower::service_fn(move |uri: Uri| -> Connecting {
        Box::pin(async move {
            let host = uri.host().unwrap_or("127.0.0.1");
            let stream = TcpStream::connect((host, uri.port_u16().unwrap_or(80))).await?;
            let port = stream.local_addr()?.port();
            tracing::info!("{tag} connect port={port}");
            Ok(LoggedIo {
                inner: TokioIo::new(stream),
                tag,
                port,
            })
        })
    })
}

/// A plain HTTP/1 server on loopback for the client tests; ends with the test's runtime.
async fn plain_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        Ok::<_, Infallible>(Response::new(req.uri().path().to_owned()))
                    });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Runs `runs` callers at once, each in a run of its own with a client of its own, each
/// making `requests` requests one after another (one pooled connection per client).
async fn call_in_runs(tag: &'static str, traced: bool, runs: usize, requests: usize) {
    log(); // installed before anything logs
    let addr = plain_server().await;
    let mut callers = tokio::task::JoinSet::new();
    for r in 0..runs {
        let run = ctx(&format!("{tag}_run_{r}"));
        callers.spawn(
            async move {
                macro_rules! calls {
                    ($client:expr) => {{
                        let client = $client;
                        for k in 0..requests {
                            let uri: Uri = format!("http://{addr}/{k}").parse().unwrap();
                            let res = client.get(uri).await.unwrap();
                            res.into_body().collect().await.unwrap();
                        }
                    }};
                }
                if traced {
                    calls!(
                        Client::builder(TracedExecutor::new(TokioExecutor::new()))
                            .build::<_, Empty<Bytes>>(connector(tag))
                    )
                } else {
                    calls!(
                        Client::builder(TokioExecutor::new())
                            .build::<_, Empty<Bytes>>(connector(tag))
                    )
                }
            }
            .in_trace_context(run),
        );
    }
    while let Some(done) = callers.join_next().await {
        done.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_connection_tasks_carry_the_run_that_opened_them() {
    const RUNS: usize = 10;
    call_in_runs("traced_client", true, RUNS, 5).await;
    let lines = stamped("traced_client");
    // Which run opened the connection on each local port (the connector runs in the caller).
    let opened: std::collections::HashMap<String, String> = lines
        .iter()
        .filter(|(_, m)| m.contains(" connect "))
        .map(|(run, m)| (field(m, "port").to_owned(), run.clone()))
        .collect();
    // One pooled connection per client, or more where a request did not wait for the pool.
    assert!(opened.len() >= RUNS, "{opened:?}");
    let runs: std::collections::HashSet<_> = opened.values().collect();
    assert_eq!(runs.len(), RUNS);
    let writes: Vec<_> = lines
        .iter()
        .filter(|(_, m)| m.contains(" write "))
        .collect();
    assert!(writes.len() >= RUNS * 5, "{} writes", writes.len());
    for (run, message) in writes {
        assert_eq!(Some(run), opened.get(field(message, "port")), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_plain_executor_the_connection_task_loses_the_run() {
    call_in_runs("plain_client", false, 3, 2).await;
    let lines = stamped("plain_client");
    let connects = lines.iter().filter(|(_, m)| m.contains(" connect "));
    assert!(
        connects
            .into_iter()
            .all(|(run, _)| run.starts_with("plain_client_run_"))
    );
    let writes: Vec<_> = lines
        .iter()
        .filter(|(_, m)| m.contains(" write "))
        .collect();
    assert!(!writes.is_empty());
    assert!(writes.iter().all(|(run, _)| run == "-"), "{writes:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn outside_any_scope_tasks_run_with_none_even_when_driven_inside_one() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let exec = TracedExecutor::new(TokioExecutor::new());
    exec.execute(async move {
        tokio::task::yield_now().await;
        let _ = tx.send(tracectx::get_run_id());
    });
    // Driven from inside a run on this current-thread runtime: the task still has none.
    let seen = rx.in_trace_context(ctx("driver")).await.unwrap();
    assert_eq!(seen, None);
}
