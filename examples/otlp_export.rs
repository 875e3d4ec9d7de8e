//! Traced sessions exported over OTLP/HTTP: every span made inside a session's scope is in
//! the session's trace (the trace id its log lines end with) and carries `tracectx.run_id`;
//! every event is a log record with the session's trace id, span id and run id.
//!
//! ```sh
//! # a collector (or anything accepting OTLP/HTTP protobuf) on 127.0.0.1:4318
//! cargo run --example otlp_export --features opentelemetry -- --endpoint http://127.0.0.1:4318
//! ```
//!
//! The collector address comes from `--endpoint`, else `$OTEL_EXPORTER_OTLP_ENDPOINT`, else
//! `http://127.0.0.1:4318`; spans go to `<endpoint>/v1/traces`, log records to
//! `<endpoint>/v1/logs`. `--runs N` (default 3) sessions run at once, each with run id
//! `<--run-prefix>_<i>` (default prefix `otlp`). For each, one line is printed before it
//! starts, `run_id=<id> trace_id=<32 hex> span_id=<16 hex>`; the spans of a session are
//! `session` > `load_bars`, `simulate` > `fill` × 3, and its events `session started` (INFO),
//! `filled` × 3 (INFO, field `qty`) and `session finished` (WARN). One event, `exporting`,
//! is logged outside any run. No level filter is set: the HTTP client's own debug and trace
//! events happen too, and are not exported. At the end every span and record is sent; when
//! the collector did not take them all, it says how many on stderr and exits 1.

mod support;

use std::time::Duration;

use tracectx::prelude::*;
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

async fn session() {
    tracing::info!("session started");
    async { tokio::time::sleep(Duration::from_millis(5)).await }
        .instrument(tracing::info_span!("load_bars", bars = 390))
        .await;
    async {
        for qty in [10, 20, 30] {
            // A traced task: same run, same trace; its span is made here, in the scope.
            tracectx::spawn_traced(
                async move {
                    tokio::task::yield_now().await;
                    tracing::info!(qty, "filled");
                }
                .instrument(tracing::info_span!("fill", qty)),
            )
            .await
            .expect("fill task");
        }
    }
    .instrument(tracing::info_span!("simulate"))
    .await;
    tracing::warn!(pnl = -12.5, "session finished");
}

#[tokio::main]
async fn main() -> Result<(), support::Failure> {
    let endpoint = support::arg("--endpoint")
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
        .unwrap_or_else(|| "http://127.0.0.1:4318".to_owned());
    let runs: usize = support::arg("--runs").map_or(Ok(3), |v| v.parse())?;
    let prefix = support::arg("--run-prefix").unwrap_or_else(|| "otlp".to_owned());

    let otlp = tracectx::otel::init_otlp(&endpoint, "otlp_export")?;
    let logs = tracectx::otel::init_otlp_logs(&endpoint, "otlp_export")?;
    tracing_subscriber::registry()
        .with(tracectx::otel::layer(otlp.tracer("otlp_export")))
        .with(logs.layer())
        .try_init()?;
    tracing::info!("exporting");

    let mut sessions = tokio::task::JoinSet::new();
    for i in 0..runs {
        let ctx = TraceContext::new(&format!("{prefix}_{i}"))?;
        println!(
            "run_id={} trace_id={:x} span_id={}",
            ctx.run_id(),
            ctx.trace_id(),
            ctx.span_id()
        );
        // The `session` span is made inside the scope, so it joins the run's trace.
        sessions.spawn(
            async { session().instrument(tracing::info_span!("session")).await }
                .in_trace_context(ctx),
        );
    }
    while let Some(done) = sessions.join_next().await {
        done?;
    }
    // Send what is queued, and say so if the collector did not take it.
    let results = [otlp.shutdown(), logs.shutdown()];
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {err}");
    }
    if results.iter().any(Result::is_err) {
        std::process::exit(1);
    }
    Ok(())
}
