//! Cost of carrying and reading a trace context, against the peers a user would otherwise
//! pick, in the same run: a raw `tokio::task_local!` scope of a one-pointer `Arc` (the floor
//! any task-local context can reach), `tracing::Instrument` (registry subscriber) and
//! OpenTelemetry's `with_context`.
//!
//! - `poll_64/*`: a leaf future that is `Pending` 64 times before `Ready`, wrapped, driven by a
//!   no-op-waker poll loop; `tracing::Instrument` with no subscriber and with a scoped one, and
//!   (`poll_64_global_subscriber/*`, last) with a global one. `task_local_option_arc` is a raw
//!   slot of `Option<Arc<_>>`, whose scope moves a tagged two-word value: what a slot that
//!   must hold "no context" costs when it is a `task_local!`.
//! - `read_current/*`: reading the current run id (or the peer's current value) in a scope.
//! - `spawn_join_10k/*`: spawning 10,000 tasks on a current-thread runtime and joining them.
//! - last, `alternating ...` lines: the ratios against the raw one-pointer slot, each side timed
//!   in alternating blocks (median of 31 rounds), so a noisy machine's drift stays out of them.

mod support;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use support::{Leaf, alternate, current_thread, drive};
use tracectx::prelude::*;
use tracing::Instrument as _;

const POLLS: u32 = 64;
const TASKS: usize = 10_000;

/// What a hand-rolled context would hold: a sized struct behind one `Arc`.
struct RawIds {
    run_id: Arc<str>,
    _trace_id: u128,
    _span_id: u64,
}

tokio::task_local! {
    static RAW: Arc<RawIds>;
    static RAW_OPTION: Option<Arc<RawIds>>;
}

fn raw_ids() -> Arc<RawIds> {
    Arc::new(RawIds {
        run_id: Arc::from("backtest_ab12cd34"),
        _trace_id: 7,
        _span_id: 9,
    })
}

fn otel_context() -> opentelemetry::Context {
    let span = SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes([7; 16]),
        opentelemetry::trace::SpanId::from_bytes([9; 8]),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(span)
}

fn poll_64(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll_64");
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let raw = raw_ids();
    let otel = otel_context();

    g.bench_function("bare", |b| b.iter(|| drive(Leaf::new(black_box(POLLS)))));
    g.bench_function("task_local_arc", |b| {
        b.iter(|| drive(RAW.scope(raw.clone(), Leaf::new(black_box(POLLS)))))
    });
    g.bench_function("task_local_option_arc", |b| {
        b.iter(|| drive(RAW_OPTION.scope(Some(raw.clone()), Leaf::new(black_box(POLLS)))))
    });
    g.bench_function("in_trace_context", |b| {
        b.iter(|| drive(Leaf::new(black_box(POLLS)).in_trace_context(ctx.clone())))
    });
    g.bench_function("tracing_instrument_no_subscriber", |b| {
        let span = tracing::info_span!("session", run_id = "backtest_ab12cd34");
        b.iter(|| drive(Leaf::new(black_box(POLLS)).instrument(span.clone())))
    });
    g.bench_function("tracing_instrument", |b| {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("session", run_id = "backtest_ab12cd34");
            b.iter(|| drive(Leaf::new(black_box(POLLS)).instrument(span.clone())))
        })
    });
    g.bench_function("otel_with_context", |b| {
        b.iter(|| drive(Leaf::new(black_box(POLLS)).with_context(otel.clone())))
    });
    g.finish();
}

fn read_current(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_current");
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();

    g.bench_function("get_run_id", |b| {
        ctx.sync_scope(|| b.iter(|| black_box(tracectx::get_run_id())))
    });
    g.bench_function("get_trace_id", |b| {
        ctx.sync_scope(|| b.iter(|| black_box(tracectx::get_trace_id())))
    });
    g.bench_function("current", |b| {
        ctx.sync_scope(|| b.iter(|| black_box(tracectx::current())))
    });
    g.bench_function("task_local_try_with", |b| {
        RAW.sync_scope(raw_ids(), || {
            b.iter(|| black_box(RAW.try_with(|v| v.run_id.clone()).ok()))
        })
    });
    g.bench_function("tracing_span_current", |b| {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("session", run_id = "backtest_ab12cd34");
            let _entered = span.enter();
            b.iter(|| black_box(tracing::Span::current()))
        })
    });
    g.bench_function("otel_context_current", |b| {
        let _guard = otel_context().attach();
        b.iter(|| black_box(opentelemetry::Context::current()))
    });
    g.finish();
}

/// Spawns 10,000 tasks made by `spawn` and joins them, on `rt`.
fn spawn_join_10k<H>(rt: &tokio::runtime::Runtime, spawn: impl Fn(usize) -> H)
where
    H: std::future::Future<Output = Result<usize, tokio::task::JoinError>>,
{
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS).map(&spawn).collect();
        for h in handles {
            black_box(h.await.unwrap());
        }
    })
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join_10k");
    g.sample_size(30);
    let rt = current_thread();
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let raw = raw_ids();

    g.bench_function("tokio_spawn", |b| {
        b.iter(|| spawn_join_10k(&rt, |i| tokio::spawn(async move { i })))
    });
    g.bench_function("spawn_traced", |b| {
        b.iter(|| {
            ctx.sync_scope(|| spawn_join_10k(&rt, |i| tracectx::spawn_traced(async move { i })))
        })
    });
    g.bench_function("spawn_task_local_arc", |b| {
        b.iter(|| {
            spawn_join_10k(&rt, |i| {
                tokio::spawn(RAW.scope(raw.clone(), async move { i }))
            })
        })
    });
    g.finish();
}

/// The last group: a global subscriber, once set, stays for the rest of the process.
fn poll_64_global(c: &mut Criterion) {
    let mut g = c.benchmark_group("poll_64_global_subscriber");
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let span = tracing::info_span!("session", run_id = "backtest_ab12cd34");
    g.bench_function("in_trace_context", |b| {
        b.iter(|| drive(Leaf::new(black_box(POLLS)).in_trace_context(ctx.clone())))
    });
    g.bench_function("tracing_instrument", |b| {
        b.iter(|| drive(Leaf::new(black_box(POLLS)).instrument(span.clone())))
    });
    g.finish();
}

/// The ratios the crate's goals are stated in, each against the raw one-pointer slot.
fn alternating() {
    const ROUNDS: usize = 31;
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let raw = raw_ids();

    alternate(
        "poll_64 in_trace_context / task_local_arc",
        ROUNDS,
        20_000,
        || {
            black_box(drive(
                Leaf::new(black_box(POLLS)).in_trace_context(ctx.clone()),
            ));
        },
        || {
            black_box(drive(RAW.scope(raw.clone(), Leaf::new(black_box(POLLS)))));
        },
    );
    alternate(
        "poll_64 task_local_option_arc / task_local_arc",
        ROUNDS,
        20_000,
        || {
            black_box(drive(
                RAW_OPTION.scope(Some(raw.clone()), Leaf::new(black_box(POLLS))),
            ));
        },
        || {
            black_box(drive(RAW.scope(raw.clone(), Leaf::new(black_box(POLLS)))));
        },
    );
    ctx.sync_scope(|| {
        RAW.sync_scope(raw.clone(), || {
            alternate(
                "read get_run_id / task_local_try_with",
                ROUNDS,
                2_000_000,
                || {
                    black_box(tracectx::get_run_id());
                },
                || {
                    black_box(RAW.try_with(|v| v.run_id.clone()).ok());
                },
            )
        })
    });
    let rt = current_thread();
    let spawn_traced =
        || ctx.sync_scope(|| spawn_join_10k(&rt, |i| tracectx::spawn_traced(async move { i })));
    let spawn_raw = || {
        spawn_join_10k(&rt, |i| {
            tokio::spawn(RAW.scope(raw.clone(), async move { i }))
        })
    };
    alternate(
        "spawn_join_10k spawn_traced / spawn_task_local_arc",
        ROUNDS,
        20,
        spawn_traced,
        spawn_raw,
    );
    alternate(
        "spawn_join_10k spawn_traced / tokio_spawn",
        ROUNDS,
        20,
        spawn_traced,
        || spawn_join_10k(&rt, |i| tokio::spawn(async move { i })),
    );
    alternate(
        "spawn_join_10k spawn_task_local_arc / tokio_spawn",
        ROUNDS,
        20,
        spawn_raw,
        || spawn_join_10k(&rt, |i| tokio::spawn(async move { i })),
    );
}

criterion_group!(benches, poll_64, read_current, spawn_join, poll_64_global);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::alternating_requested() {
        alternating();
    }
}
