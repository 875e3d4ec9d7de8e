//! Span creation inside a scope (create, enter, exit, close) with the bridge,
//! `tracectx::otel::layer`, against plain tracing-opentelemetry (`OpenTelemetryLayer` alone)
//! on the same SDK tracer, in the same run, with a scoped subscriber (a global one can be set
//! once per process, so not for both). Spans go to a processor that drops them, so what is
//! measured is the layers and the SDK span, not an exporter.
//!
//! - `root_span_in_scope/*`: a span with no parent, made inside a scope (the bridge joins it to
//!   the scope's trace and adds two attributes).
//! - `child_span_in_scope/*`: a span under an entered span already in the trace (the bridge
//!   adds the attributes only).
//! - `span_outside_scope/*`: no scope: the bridge's cost when it has nothing to do.
//! - `*/no_subscriber`: the same code with no subscriber, the floor.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use tracectx::TraceContext;
use tracing_subscriber::prelude::*;

/// Keeps nothing.
#[derive(Debug)]
struct Discard;

impl SpanProcessor for Discard {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_span_processor(Discard)
        .build()
}

fn subscribers(p: &SdkTracerProvider) -> [(&'static str, Option<tracing::Dispatch>); 3] {
    [
        ("no_subscriber", None),
        (
            "tracing_opentelemetry",
            Some(tracing::Dispatch::new(tracing_subscriber::registry().with(
                tracing_opentelemetry::layer().with_tracer(p.tracer("bench")),
            ))),
        ),
        (
            "tracectx_otel_layer",
            Some(tracing::Dispatch::new(
                tracing_subscriber::registry().with(tracectx::otel::layer(p.tracer("bench"))),
            )),
        ),
    ]
}

fn with_dispatch<R>(dispatch: &Option<tracing::Dispatch>, f: impl FnOnce() -> R) -> R {
    match dispatch {
        Some(d) => tracing::dispatcher::with_default(d, f),
        None => tracing::dispatcher::with_default(&tracing::Dispatch::none(), f),
    }
}

fn spans(c: &mut Criterion) {
    let p = provider();
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();

    let mut g = c.benchmark_group("root_span_in_scope");
    for (name, dispatch) in subscribers(&p) {
        g.bench_function(name, |b| {
            with_dispatch(&dispatch, || {
                ctx.sync_scope(|| b.iter(|| tracing::info_span!("fill").in_scope(|| black_box(1))))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("child_span_in_scope");
    for (name, dispatch) in subscribers(&p) {
        g.bench_function(name, |b| {
            with_dispatch(&dispatch, || {
                ctx.sync_scope(|| {
                    tracing::info_span!("session").in_scope(|| {
                        b.iter(|| tracing::info_span!("fill").in_scope(|| black_box(1)))
                    })
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("span_outside_scope");
    for (name, dispatch) in subscribers(&p) {
        g.bench_function(name, |b| {
            with_dispatch(&dispatch, || {
                b.iter(|| tracing::info_span!("fill").in_scope(|| black_box(1)))
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = spans
}
criterion_main!(benches);
