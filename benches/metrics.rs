//! `Metrics::record_duration` (run label read from the current context, cap check, trace-id
//! exemplar) against prometheus-client observations in the same run: a plain `Histogram`, a
//! `Family` of histograms labelled by operation and run id (the same series, no exemplar, no
//! context), and a `HistogramWithExemplars` family given the labels and exemplar by hand.
//!
//! - `observe/*`: one observation of an existing series.
//! - `observe_folded/tracectx_*`: an observation of a run past the run-id cap, one of an
//!   operation past the operation cap (each folded into `(other)`), and one outside any
//!   context.
//! - `timer/tracectx`: `Metrics::timer` started and dropped.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tracectx::TraceContext;
use tracectx::metrics::{DEFAULT_BUCKETS, Metrics, MetricsConfig};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    operation: &'static str,
    run_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Exemplar {
    trace_id: String,
}

const DURATION: Duration = Duration::from_micros(1_234);

fn observe(c: &mut Criterion) {
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let mut g = c.benchmark_group("observe");

    let plain = Histogram::new(DEFAULT_BUCKETS);
    g.bench_function("prometheus_client_histogram", |b| {
        b.iter(|| plain.observe(black_box(DURATION).as_secs_f64()))
    });

    let family =
        Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(DEFAULT_BUCKETS));
    let labels = Labels {
        operation: "fill",
        run_id: ctx.run_id().to_string(),
    };
    g.bench_function("prometheus_client_family", |b| {
        b.iter(|| {
            family
                .get_or_create(black_box(&labels))
                .observe(black_box(DURATION).as_secs_f64())
        })
    });

    let exemplars =
        Family::<Labels, HistogramWithExemplars<Exemplar>>::new_with_constructor(|| {
            HistogramWithExemplars::new(DEFAULT_BUCKETS.into_iter())
        });
    let trace_id = format!("{:x}", ctx.trace_id());
    g.bench_function("prometheus_client_family_with_exemplar", |b| {
        b.iter(|| {
            exemplars.get_or_create(black_box(&labels)).observe(
                black_box(DURATION).as_secs_f64(),
                Some(Exemplar {
                    trace_id: trace_id.clone(),
                }),
                None,
            )
        })
    });

    let metrics = Metrics::default();
    g.bench_function("tracectx_record_duration", |b| {
        ctx.sync_scope(|| b.iter(|| metrics.record_duration("fill", black_box(DURATION))))
    });
    g.finish();

    let mut g = c.benchmark_group("observe_folded");
    let capped = Metrics::new(MetricsConfig::default().max_run_ids(0));
    g.bench_function("tracectx_past_the_cap", |b| {
        ctx.sync_scope(|| b.iter(|| capped.record_duration("fill", black_box(DURATION))))
    });
    let ops_capped = Metrics::new(MetricsConfig::default().max_operations(0));
    g.bench_function("tracectx_operation_past_the_cap", |b| {
        ctx.sync_scope(|| b.iter(|| ops_capped.record_duration("fill", black_box(DURATION))))
    });
    g.bench_function("tracectx_no_context", |b| {
        b.iter(|| metrics.record_duration("fill", black_box(DURATION)))
    });
    g.finish();

    let mut g = c.benchmark_group("timer");
    g.bench_function("tracectx", |b| {
        ctx.sync_scope(|| b.iter(|| drop(black_box(metrics.timer("fill")))))
    });
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
    targets = observe
}
criterion_main!(benches);
