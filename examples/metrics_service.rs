//! A service whose operation durations Prometheus scrapes, labelled with their run and
//! carrying trace-id exemplars.
//!
//! A background session (one run, `--run-id`, default `metrics_service_<suffix>`) times two
//! operations every `--interval-ms` (default 200); `GET /work` runs one request in a run of
//! its own and answers with its run id; `GET /metrics` serves the OpenMetrics text of one registry holding two
//! [`Metrics`]: the operations' (default names) and the HTTP handlers'
//! (`metrics_service_http_duration_seconds`, whose fold counters take their names from it).
//!
//! ```sh
//! cargo run --example metrics_service --features prometheus -- --port 9898 --run-id demo_run
//! curl -s localhost:9898/metrics | grep 'run_id="demo_run"'
//! ```
//!
//! On start it prints one line, `listening=<addr> run_id=<run id> trace_id=<32 hex>`, so a
//! script can find what to look for. The port comes from `--port` or `$PORT` (default 9898);
//! Ctrl-C or SIGTERM stops it.

mod support;

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::{Router, extract::State, routing::get};
use prometheus_client::registry::Registry;
use tracectx::metrics::{Metrics, MetricsConfig};
use tracectx::prelude::*;

#[derive(Clone)]
struct App {
    /// The operations' durations.
    metrics: Metrics,
    /// The HTTP handlers' durations.
    http: Metrics,
    /// Both, served together.
    registry: Arc<Registry>,
}

async fn metrics(State(app): State<App>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let mut text = String::new();
    // Writing to a `String` cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &app.registry);
    ([(CONTENT_TYPE, tracectx::metrics::CONTENT_TYPE)], text)
}

/// One request, one run: its duration lands under its own run id until the cap is reached,
/// then under `(other)`.
async fn work(State(app): State<App>) -> String {
    let ctx = TraceContext::generate("request");
    let run_id = ctx.run_id().to_string();
    async {
        let _handler = app.http.timer("/work");
        let _timer = app.metrics.timer("request");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    .in_trace_context(ctx)
    .await;
    // A finished request's series are not needed once scraped; a real service would forget
    // them after the next scrape. Kept here so they can be seen.
    run_id
}

/// The background session: two operations, timed again and again, in one run.
async fn session(metrics: Metrics, interval: Duration) {
    let mut step: u64 = 0;
    loop {
        {
            let _timer = metrics.timer("simulate_step");
            tokio::time::sleep(Duration::from_millis(1 + step % 7)).await;
        }
        metrics.record_duration("fetch_bars", Duration::from_micros(200 + 50 * (step % 11)));
        step += 1;
        tokio::time::sleep(interval).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), support::Failure> {
    let port: u16 = support::arg("--port")
        .or_else(|| std::env::var("PORT").ok())
        .map_or(Ok(9898), |p| p.parse())?;
    let interval =
        Duration::from_millis(support::arg("--interval-ms").map_or(Ok(200), |v| v.parse())?);
    let ctx = match support::arg("--run-id") {
        Some(run_id) => TraceContext::new(&run_id)?,
        None => TraceContext::generate("metrics_service"),
    };

    // Caps on label values: past 100 run ids (each `/work` request is one) or 10 operation
    // names, new ones are recorded under `(other)`, counted by `tracectx_run_ids_folded_total`
    // and `tracectx_operations_folded_total`.
    let metrics = Metrics::new(MetricsConfig::default().max_run_ids(100).max_operations(10));
    // A second instance under its own name, in the same registry: its fold counters are
    // `metrics_service_http_duration_seconds_run_ids_folded_total` and so on, so no family is
    // registered twice.
    let http = Metrics::new(
        MetricsConfig::default()
            .metric_name("metrics_service_http_duration_seconds")?
            .max_run_ids(100)
            .max_operations(10),
    );
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    http.register(&mut registry);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "listening={} run_id={} trace_id={:x}",
        listener.local_addr()?,
        ctx.run_id(),
        ctx.trace_id()
    );
    std::io::stdout().flush()?;

    tokio::spawn(session(metrics.clone(), interval).in_trace_context(ctx));

    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .route("/work", get(work))
        .with_state(App {
            metrics,
            http,
            registry: Arc::new(registry),
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(support::shutdown())
        .await?;
    Ok(())
}
