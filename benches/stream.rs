//! Cost per item of a stream in a trace context, against the peers a user would otherwise
//! pick, in the same run: the bare stream, tracing-futures' `Instrumented` stream (registry
//! subscriber) and OpenTelemetry's `WithContext` stream.
//!
//! - `stream_1k/*`: 1,000 items that are ready at once (`futures::stream::iter`), each polled
//!   with a no-op waker, so the wrapper's per-`poll_next` cost is what is measured;
//!   `per_item` makes a child context for every item.
//! - `stream_1k_pending/*`: the same items, each `Pending` once before it is ready (two polls
//!   an item), the shape of a stream fed by I/O.
//! - last, `alternating ...` lines: `in_trace_context` against each peer and the bare stream,
//!   timed in alternating blocks (median of 31 rounds).

mod support;

use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use criterion::{Criterion, Throughput, criterion_group};
use futures::Stream;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use support::alternate;
use tracectx::prelude::*;
use tracing_futures::Instrument as _;

const ITEMS: u64 = 1_000;

/// Drains `stream` with a no-op waker, summing its items.
fn drain<S: Stream<Item = u64>>(stream: S) -> u64 {
    let mut stream = pin!(stream);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut sum = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(v)) => sum += black_box(v),
            Poll::Ready(None) => return sum,
            Poll::Pending => {}
        }
    }
}

/// `n` items, each `Pending` once (waking itself) before it is ready.
struct Pending {
    next: u64,
    n: u64,
    parked: bool,
}

impl Stream for Pending {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.next == self.n {
            return Poll::Ready(None);
        }
        if !std::mem::replace(&mut self.parked, true) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.parked = false;
        self.next += 1;
        Poll::Ready(Some(self.next))
    }
}

fn ready() -> impl Stream<Item = u64> {
    futures::stream::iter(0..black_box(ITEMS))
}

fn pending() -> Pending {
    Pending {
        next: 0,
        n: black_box(ITEMS),
        parked: false,
    }
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

fn per_item<S: Stream<Item = u64>>(c: &mut Criterion, group: &str, make: impl Fn() -> S) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(ITEMS));
    let ctx = TraceContext::new("live_ab12cd34").unwrap();
    let otel = otel_context();

    g.bench_function("bare", |b| b.iter(|| drain(make())));
    g.bench_function("in_trace_context", |b| {
        b.iter(|| drain(make().in_trace_context(ctx.clone())))
    });
    g.bench_function("per_item", |b| {
        b.iter(|| drain(make().in_trace_context_per_item(ctx.clone())))
    });
    g.bench_function("tracing_instrumented", |b| {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            let span = tracing::info_span!("session", run_id = "live_ab12cd34");
            b.iter(|| drain(make().instrument(span.clone())))
        })
    });
    g.bench_function("otel_with_context", |b| {
        b.iter(|| drain(make().with_context(otel.clone())))
    });
    g.finish();
}

fn streams(c: &mut Criterion) {
    per_item(c, "stream_1k", ready);
    per_item(c, "stream_1k_pending", pending);
}

fn alternating() {
    let ctx = TraceContext::new("live_ab12cd34").unwrap();
    let otel = otel_context();
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry());
    let span = tracing::info_span!("session", run_id = "live_ab12cd34");
    let ours = || {
        black_box(drain(pending().in_trace_context(ctx.clone())));
    };
    alternate(
        "stream_1k_pending in_trace_context / bare",
        31,
        2_000,
        ours,
        || {
            black_box(drain(pending()));
        },
    );
    alternate(
        "stream_1k_pending in_trace_context / tracing_instrumented",
        31,
        2_000,
        ours,
        || {
            black_box(drain(pending().instrument(span.clone())));
        },
    );
    alternate(
        "stream_1k_pending in_trace_context / otel_with_context",
        31,
        500,
        ours,
        || {
            black_box(drain(pending().with_context(otel.clone())));
        },
    );
}

criterion_group!(benches, streams);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::alternating_requested() {
        alternating();
    }
}
