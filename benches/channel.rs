//! Cost per message of `tracectx::sync::mpsc` (send captures the sender's context, receive
//! hands back an `Envelope`) against tokio's `mpsc`, the channel a user would otherwise pick,
//! in the same run.
//!
//! - `mpsc_1k/*`: 1,000 messages, each `send(..).await` then `recv().await`, on a current-
//!   thread runtime (no thread hops), bounded (capacity 1,024) and unbounded; tracectx's
//!   inside a scope (an atomic increment and decrement per message) and outside any.
//! - last, `alternating ...` lines: tracectx's over tokio's, timed in alternating blocks
//!   (median of 31 rounds), the ratios to quote on a machine whose load moves.

mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use support::{alternate, current_thread};
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

fn alternating() {
    let rt = current_thread();
    let ctx = TraceContext::new("live_ab12cd34").unwrap();
    let (tokio_tx, mut tokio_rx) = tokio::sync::mpsc::channel(1_024);
    let (tx, mut rx) = tracectx::sync::mpsc::channel(1_024);
    let mut tokio_round = || {
        rt.block_on(async {
            for i in 0..MESSAGES {
                tokio_tx.send(black_box(i)).await.unwrap();
                black_box(tokio_rx.recv().await.unwrap());
            }
        })
    };
    let mut traced_round = || {
        rt.block_on(async {
            for i in 0..MESSAGES {
                tx.send(black_box(i)).await.unwrap();
                black_box(rx.recv().await.unwrap());
            }
        })
    };
    alternate(
        "mpsc_1k tracectx_bounded (in a scope) / tokio_bounded",
        31,
        200,
        || ctx.sync_scope(&mut traced_round),
        &mut tokio_round,
    );
    alternate(
        "mpsc_1k tracectx_bounded (no context) / tokio_bounded",
        31,
        200,
        &mut traced_round,
        &mut tokio_round,
    );
    let (tokio_tx, mut tokio_rx) = tokio::sync::mpsc::unbounded_channel();
    let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
    alternate(
        "mpsc_1k tracectx_unbounded (in a scope) / tokio_unbounded",
        31,
        200,
        || {
            ctx.sync_scope(|| {
                rt.block_on(async {
                    for i in 0..MESSAGES {
                        tx.send(black_box(i)).unwrap();
                        black_box(rx.recv().await.unwrap());
                    }
                })
            })
        },
        || {
            rt.block_on(async {
                for i in 0..MESSAGES {
                    tokio_tx.send(black_box(i)).unwrap();
                    black_box(tokio_rx.recv().await.unwrap());
                }
            })
        },
    );
}

criterion_group!(benches, mpsc);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::alternating_requested() {
        alternating();
    }
}
