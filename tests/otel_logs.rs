//! OpenTelemetry log records (feature `opentelemetry`): the export's own events are never
//! exported, with a subscriber installed for the whole process as an application would.
#![cfg(feature = "opentelemetry")]

use std::future::Future;
use std::sync::{Arc, Mutex};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord, SdkLoggerProvider};
use tracectx::prelude::*;
use tracing_subscriber::prelude::*;

/// An exporter that keeps what it is given and, like an HTTP client, logs while exporting: on
/// the processor's thread, under OpenTelemetry's own target and its transport's.
#[derive(Debug, Clone, Default)]
struct Chatty {
    records: Arc<Mutex<Vec<SdkLogRecord>>>,
}

impl LogExporter for Chatty {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        tracing::info!(target: "hyper_util::client", "connecting to the collector");
        tracing::warn!(target: "opentelemetry_sdk", "a batch is being exported");
        tracing::info!("an exporter's event with the application's target");
        let mut records = self.records.lock().unwrap();
        records.extend(batch.iter().map(|(r, _)| r.clone()));
        std::future::ready(Ok(()))
    }
}

#[test]
fn the_exports_own_events_are_never_exported() {
    let exporter = Chatty::default();
    let provider = SdkLoggerProvider::builder()
        .with_batch_exporter(exporter.clone())
        .build();
    tracing_subscriber::registry()
        .with(tracectx::otel::log_layer(&provider))
        .init();

    let runs: Vec<TraceContext> = (0..4)
        .map(|i| TraceContext::new(&format!("run_{i}")).unwrap())
        .collect();
    for round in 0..5 {
        for ctx in &runs {
            ctx.sync_scope(|| tracing::info!(round, "application event"));
        }
        // Several exports: a feedback loop would grow the count each time.
        provider.force_flush().unwrap();
    }
    // Events of OpenTelemetry's crates on the application's thread are not exported either.
    tracing::warn!(target: "opentelemetry_otlp", "dropped a batch");
    provider.shutdown().unwrap();

    let records = exporter.records.lock().unwrap();
    let bodies: Vec<String> = records
        .iter()
        .map(|r| match r.body() {
            Some(opentelemetry::logs::AnyValue::String(s)) => s.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(records.len(), 20, "{bodies:?}");
    assert!(
        bodies.iter().all(|b| b == "application event"),
        "{bodies:?}"
    );
}
