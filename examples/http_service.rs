//! An HTTP service that takes part in a distributed trace: every request runs in the context
//! its `traceparent` and `baggage` headers carry, its log lines are stamped with that run, and
//! the calls it makes carry the context on.
//!
//! `POST /test` takes a JSON list of `{"url": ..., "arguments": ...}` and POSTs each
//! `arguments` to its `url` with the propagated headers before answering 200: the shape the W3C
//! Trace Context interoperability harness drives.
//!
//! ```sh
//! cargo run --example http_service --features http,reqwest,cli -- --port 8080 --log-file svc.log
//! curl -X POST localhost:8080/test -H 'content-type: application/json' \
//!      -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//!      -H 'baggage: run_id=backtest_ab12cd34' -d '[]'
//! tracectx logs backtest_ab12cd34 svc.log
//! ```
//!
//! The port comes from `--port` or `$PORT` (default 8080); logs go to `--log-file` or stdout.

mod support;

use axum::{Json, Router, http::StatusCode, routing::post};
use serde::Deserialize;
use tracectx::propagation::{ExtractTraceContextLayer, RequestBuilderExt as _};

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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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

    let app = Router::new()
        .route("/test", post(test))
        .layer(ExtractTraceContextLayer::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(support::shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
