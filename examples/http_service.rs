//! An HTTP service that takes part in a distributed trace: every request runs in a context
//! continued from its `traceparent`, its log lines are stamped with the request's run, and the
//! calls it makes carry the context on, each from a span of its own.
//!
//! It is a public edge by default: a caller cannot choose the run its requests are filed
//! under (`RunPolicy::OwnRun`). Each request runs as its own run, `request_<id>`; a run id the
//! caller sent in `baggage` is recorded, escaped, in the request's first log line. Started
//! with `--trust-caller`, it is a service behind the edge and runs each request in the caller's
//! run (`RunPolicy::TrustCaller`): an edge in front of it passes its own run on.
//!
//! `POST /test` takes a JSON list of `{"url": ..., "arguments": ...}` and POSTs each
//! `arguments` to its `url` with the propagated headers before answering 200: the shape the W3C
//! Trace Context interoperability harness drives.
//!
//! ```sh
//! cargo run --example http_service --features http,reqwest -- --port 8080 --log-file edge.log
//! cargo run --example http_service --features http,reqwest -- --port 8081 --log-file svc.log --trust-caller
//! curl -X POST localhost:8080/test -H 'content-type: application/json' \
//!      -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//!      -d '[{"url": "http://127.0.0.1:8081/test", "arguments": []}]'
//! tracectx logs request_0193… edge.log svc.log   # the run the edge started, on both services
//! ```
//!
//! The port comes from `--port` or `$PORT` (default 8080); logs go to `--log-file` or stdout.
//! The lines logged outside any request (`listening`, `stopped`) show `[-] [-]` where a run id
//! and trace id would be. Ctrl-C or SIGTERM stops the service after the requests in flight.

mod support;

use axum::{Json, Router, http::StatusCode, routing::post};
use serde::Deserialize;
use tracectx::propagation::{ExtractTraceContextLayer, RequestBuilderExt as _, RunPolicy};

#[derive(Debug, Deserialize)]
struct Call {
    url: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

async fn test(Json(calls): Json<Vec<Call>>) -> StatusCode {
    tracing::info!(calls = calls.len(), "test request");
    let client = reqwest::Client::new();
    for call in calls {
        let sent = client
            .post(&call.url)
            .json(&call.arguments)
            .with_current_trace_context()
            .send()
            .await;
        match sent {
            Ok(resp) => tracing::info!(url = %call.url, status = resp.status().as_u16(), "called"),
            Err(err) => tracing::warn!(url = %call.url, error = %err, "call failed"),
        }
    }
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), support::Failure> {
    let port: u16 = support::arg("--port")
        .or_else(|| std::env::var("PORT").ok())
        .map_or(Ok(8080), |p| p.parse())?;
    match support::arg("--log-file") {
        Some(path) => {
            let file = tracectx::logging::file_writer(path)?;
            tracectx::logging::builder().with_writer(file).try_init()?;
        }
        None => tracectx::logging::builder().try_init()?,
    }

    // A public edge unless told it sits behind one.
    let policy = if std::env::args().any(|a| a == "--trust-caller") {
        RunPolicy::TrustCaller
    } else {
        RunPolicy::OwnRun
    };
    let app = Router::new()
        .route("/test", post(test))
        .layer(ExtractTraceContextLayer::new(policy));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, ?policy, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(support::shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
