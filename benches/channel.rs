//! Cost per message of `tracectx::sync::mpsc` (send captures the sender's context, receive
//! hands back an `Envelope`) against tokio's `mpsc`, the channel a user would otherwise pick,
//! in the same run.
//!
//! - `mpsc_1k/*`: 1,000 messages, each `send(..).await` then `recv().await`, on a current-
//!   thread runtime (no thread hops), bounded (capacity 1,024) and unbounded; tracectx's
//!   inside a scope (an atomic increment and decrement per message) and outside any.

mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::current_thread;
use tracectx::TraceContext;

const MESSAGES: u64 = 1_000;

fn mpsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("mpsc_1k");
    g.throughput(Throughput::Elements(MESSAGES));
    let rt = current_thread();
    let ctx = TraceContext::new("live_ab12cd34").unwrap();

    g.bench_function("tokio_bounded", |b| {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1_024);
        b.iter(|| {
            rt.block_on(async {
                for i in 0..MESSAGES {
                    tx.send(black_box(i)).await.unwrap();
                    black_box(rx.recv().await.unwrap());
                }
            })
        })
    });
    g.bench_function("tracectx_bounded", |b| {
        let (tx, mut rx) = tracectx::sync::mpsc::channel(1_024);
        b.iter(|| {
            ctx.sync_scope(|| {
                rt.block_on(async {
                    for i in 0..MESSAGES {
                        tx.send(black_box(i)).await.unwrap();
                        black_box(rx.recv().await.unwrap());
                    }
                })
            })
        })
    });
    g.bench_function("tracectx_bounded_no_context", |b| {
        let (tx, mut rx) = tracectx::sync::mpsc::channel(1_024);
        b.iter(|| {
            rt.block_on(async {
                for i in 0..MESSAGES {
                    tx.send(black_box(i)).await.unwrap();
                    black_box(rx.recv().await.unwrap());
                }
            })
        })
    });
    g.bench_function("tokio_unbounded", |b| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        b.iter(|| {
            rt.block_on(async {
                for i in 0..MESSAGES {
                    tx.send(black_box(i)).unwrap();
                    black_box(rx.recv().await.unwrap());
                }
            })
        })
    });
    g.bench_function("tracectx_unbounded", |b| {
        let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
        b.iter(|| {
            ctx.sync_scope(|| {
                rt.block_on(async {
                    for i in 0..MESSAGES {
                        tx.send(black_box(i)).unwrap();
                        black_box(rx.recv().await.unwrap());
                    }
                })
            })
        })
    });
    g.finish();
}

criterion_group!(benches, mpsc);
criterion_main!(benches);
