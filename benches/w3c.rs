//! W3C `traceparent` / `tracestate` / baggage over an `http::HeaderMap`: extract and inject
//! with `tracectx::propagation`, against `opentelemetry_sdk`'s `TraceContextPropagator` and
//! `BaggagePropagator` (composed, as a service would install them) in the same run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracectx::{propagation, TraceContext};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
const BAGGAGE: &str = "run_id=backtest_ab12cd34";

/// The adapter opentelemetry-http would provide, written out so both sides read the same map.
struct OtelHeaders<'a>(&'a HeaderMap);

impl Extractor for OtelHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct OtelHeadersMut<'a>(&'a mut HeaderMap);

impl Injector for OtelHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

fn incoming() -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
    map.insert("tracestate", HeaderValue::from_static(TRACESTATE));
    map.insert("baggage", HeaderValue::from_static(BAGGAGE));
    map.insert("content-type", HeaderValue::from_static("application/json"));
    map
}

fn otel_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

fn extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("w3c_extract");
    let map = incoming();
    let otel = otel_propagator();
    g.bench_function("tracectx", |b| {
        b.iter(|| black_box(propagation::extract(black_box(&map))))
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| black_box(otel.extract(&OtelHeaders(black_box(&map)))))
    });
    g.bench_function("tracectx_traceparent_only", |b| {
        b.iter(|| black_box(propagation::TraceParent::parse(black_box(TRACEPARENT))))
    });
    g.finish();
}

fn inject(c: &mut Criterion) {
    let mut g = c.benchmark_group("w3c_inject");
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let otel = otel_propagator();
    let span = SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(ctx.trace_id().to_bytes()),
        opentelemetry::trace::SpanId::from_bytes(ctx.span_id().to_bytes()),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new()
        .with_remote_span_context(span)
        .with_baggage(vec![KeyValue::new("run_id", "backtest_ab12cd34")]);
    g.bench_function("tracectx", |b| {
        b.iter(|| {
            let mut map = HeaderMap::new();
            propagation::inject(black_box(&ctx), &mut map);
            black_box(map)
        })
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let mut map = HeaderMap::new();
            otel.inject_context(black_box(&cx), &mut OtelHeadersMut(&mut map));
            black_box(map)
        })
    });
    g.finish();
}

criterion_group!(benches, extract, inject);
criterion_main!(benches);
