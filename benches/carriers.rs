//! The context on carriers other than HTTP, `tracectx::propagation` against OpenTelemetry's
//! equivalents (`opentelemetry_sdk`'s `TraceContextPropagator` and `BaggagePropagator`
//! composed) in the same run, each pair doing the same work on the same carrier:
//!
//! - `env_inject/*`: a child process's variables, `TRACEPARENT` and `BAGGAGE` (the run id),
//!   written for a launch. `environment`: into a fresh carrier, ours `Environment` against the
//!   propagators through an environment setter (a `HashMap`, names uppercased as
//!   OpenTelemetry's environment carriers do; opentelemetry-rust has none yet, #3285).
//!   `command`: onto a `std::process::Command`, ours `CommandExt::with_trace_context` (it also
//!   makes the launch's span) against the propagators' map passed to `Command::envs`.
//! - `env_extract/*`: a child reading the three variables (a snapshot of them is taken in
//!   both), ours `extract(&Environment::from_vars(..))` against the propagators through an
//!   environment getter over a `HashMap` of them.
//! - `grpc_inject/*`, `grpc_extract/*`: a call's `tonic::metadata::MetadataMap`, ours (the
//!   crate's `MetadataMap` carrier, `inject`/`extract`) against the propagators through the
//!   metadata adapter opentelemetry-rust's tonic example writes.

use std::collections::HashMap;
use std::hint::black_box;
use std::process::Command;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracectx::TraceContext;
use tracectx::propagation::{self, CommandExt as _, Environment};

const RUN_ID: &str = "backtest_ab12cd34";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn otel_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The same context on both sides: trace, span, sampled, the run id in baggage.
fn contexts() -> (TraceContext, opentelemetry::Context) {
    let ctx = TraceContext::new(RUN_ID).unwrap();
    let span = SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes(ctx.trace_id().to_bytes()),
        opentelemetry::trace::SpanId::from_bytes(ctx.span_id().to_bytes()),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let cx = opentelemetry::Context::new()
        .with_remote_span_context(span)
        .with_baggage(vec![KeyValue::new(propagation::RUN_ID_KEY, RUN_ID)]);
    (ctx, cx)
}

// === the environment ===

/// OpenTelemetry's environment setter: names uppercased, other characters made `_`.
struct EnvSetter<'a>(&'a mut HashMap<String, String>);

impl Injector for EnvSetter<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        self.0.insert(name, value);
    }
}

/// OpenTelemetry's environment getter over a copy of the variables.
struct EnvGetter<'a>(&'a HashMap<String, String>);

impl Extractor for EnvGetter<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(&key.to_ascii_uppercase()).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

fn env_inject(c: &mut Criterion) {
    let mut g = c.benchmark_group("env_inject");
    let (ctx, cx) = contexts();
    let otel = otel_propagator();
    g.bench_function("environment/tracectx", |b| {
        b.iter_batched_ref(
            Environment::new,
            |env| propagation::inject(black_box(&ctx), env),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("environment/opentelemetry_sdk", |b| {
        b.iter_batched_ref(
            HashMap::new,
            |env| otel.inject_context(black_box(&cx), &mut EnvSetter(env)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("command/tracectx", |b| {
        b.iter_batched_ref(
            || Command::new("worker"),
            |cmd| {
                cmd.with_trace_context(black_box(&ctx));
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("command/opentelemetry_sdk", |b| {
        b.iter_batched_ref(
            || Command::new("worker"),
            |cmd| {
                let mut env = HashMap::new();
                otel.inject_context(black_box(&cx), &mut EnvSetter(&mut env));
                cmd.envs(env);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn env_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("env_extract");
    let vars = [
        ("TRACEPARENT", TRACEPARENT),
        ("TRACESTATE", "rojo=00f067aa0ba902b7"),
        ("BAGGAGE", "run_id=backtest_ab12cd34"),
    ];
    let otel = otel_propagator();
    assert_eq!(
        propagation::extract(&Environment::from_vars(vars))
            .unwrap()
            .run_id(),
        RUN_ID
    );
    g.bench_function("tracectx", |b| {
        b.iter(|| {
            black_box(propagation::extract(&Environment::from_vars(black_box(
                vars,
            ))))
        })
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let env: HashMap<String, String> = black_box(vars)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            black_box(otel.extract(&EnvGetter(&env)))
        })
    });
    g.finish();
}

// === gRPC metadata ===

/// The adapters opentelemetry-rust's tonic example writes.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let Ok(key) = MetadataKey::from_bytes(key.as_bytes()) {
            if let Ok(value) = MetadataValue::try_from(&value) {
                self.0.insert(key, value);
            }
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => k.as_str(),
                tonic::metadata::KeyRef::Binary(k) => k.as_str(),
            })
            .collect()
    }
}

fn grpc_inject(c: &mut Criterion) {
    let mut g = c.benchmark_group("grpc_inject");
    let (ctx, cx) = contexts();
    let otel = otel_propagator();
    g.bench_function("tracectx", |b| {
        b.iter_batched_ref(
            MetadataMap::new,
            |md| propagation::inject(black_box(&ctx), md),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter_batched_ref(
            MetadataMap::new,
            |md| otel.inject_context(black_box(&cx), &mut MetadataInjector(md)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn grpc_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("grpc_extract");
    let mut md = MetadataMap::new();
    md.insert("traceparent", TRACEPARENT.parse().unwrap());
    md.insert("baggage", "run_id=backtest_ab12cd34".parse().unwrap());
    md.insert("grpc-timeout", "10S".parse().unwrap());
    md.insert("content-type", "application/grpc".parse().unwrap());
    let otel = otel_propagator();
    assert_eq!(propagation::extract(&md).unwrap().run_id(), RUN_ID);
    assert_eq!(otel.extract(&MetadataExtractor(&md)).baggage().len(), 1);
    g.bench_function("tracectx", |b| {
        b.iter(|| black_box(propagation::extract(black_box(&md))))
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| black_box(otel.extract(&MetadataExtractor(black_box(&md)))))
    });
    g.finish();
}

criterion_group!(benches, env_inject, env_extract, grpc_inject, grpc_extract);
criterion_main!(benches);
