//! Cost of carrying a trace context onto rayon's pool, against plain rayon (the peer a user
//! would otherwise pick: it carries nothing), in the same run.
//!
//! - `par_iter_1us/*`: 10,000 items of about a microsecond of work each, summed; the goal is
//!   `in_current_trace_context` within 1.10x of plain rayon.
//! - `par_iter_tiny/*`: 100,000 items of almost no work, where the adapter's per-item cost
//!   (two moves of the context in and out of the slot per item) is all there is to see.
//! - `join_tree/*`: a binary tree of 2^12 `join`s, `tracectx::rayon::join` against
//!   `rayon::join`.
//! - last, `alternating ...` lines: the same pairs timed in alternating blocks (median of 31
//!   rounds), the ratios to quote on a machine whose load moves.

mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use rayon::prelude::*;
use support::alternate;
use tracectx::prelude::*;

/// About a microsecond of arithmetic on this machine's cores.
fn work(i: u64) -> u64 {
    let mut x = i;
    for _ in 0..400 {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

fn par_iter(c: &mut Criterion) {
    let ctx = TraceContext::new("sweep_ab12cd34").unwrap();
    let items: Vec<u64> = (0..10_000).collect();
    let mut g = c.benchmark_group("par_iter_1us");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("rayon", |b| {
        b.iter(|| items.par_iter().map(|&i| work(i)).sum::<u64>())
    });
    g.bench_function("in_current_trace_context", |b| {
        ctx.sync_scope(|| {
            b.iter(|| {
                items
                    .par_iter()
                    .in_current_trace_context()
                    .map(|&i| work(i))
                    .sum::<u64>()
            })
        })
    });
    g.finish();

    let items: Vec<u64> = (0..100_000).collect();
    let mut g = c.benchmark_group("par_iter_tiny");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("rayon", |b| {
        b.iter(|| items.par_iter().map(|&i| black_box(i) * 3).sum::<u64>())
    });
    g.bench_function("in_current_trace_context", |b| {
        ctx.sync_scope(|| {
            b.iter(|| {
                items
                    .par_iter()
                    .in_current_trace_context()
                    .map(|&i| black_box(i) * 3)
                    .sum::<u64>()
            })
        })
    });
    g.finish();
}

fn tree_rayon(depth: u32) -> u64 {
    if depth == 0 {
        return black_box(1);
    }
    let (a, b) = rayon::join(|| tree_rayon(depth - 1), || tree_rayon(depth - 1));
    a + b
}

fn tree_traced(depth: u32) -> u64 {
    if depth == 0 {
        return black_box(1);
    }
    let (a, b) = tracectx::rayon::join(|| tree_traced(depth - 1), || tree_traced(depth - 1));
    a + b
}

fn join(c: &mut Criterion) {
    let ctx = TraceContext::new("sweep_ab12cd34").unwrap();
    let mut g = c.benchmark_group("join_tree");
    g.bench_function("rayon", |b| b.iter(|| tree_rayon(12)));
    g.bench_function("tracectx", |b| {
        ctx.sync_scope(|| b.iter(|| tree_traced(12)))
    });
    g.finish();
}

fn alternating() {
    const ROUNDS: usize = 31;
    let ctx = TraceContext::new("sweep_ab12cd34").unwrap();
    let items: Vec<u64> = (0..10_000).collect();
    ctx.sync_scope(|| {
        alternate(
            "par_iter_1us in_current_trace_context / rayon",
            ROUNDS,
            20,
            || {
                black_box(
                    items
                        .par_iter()
                        .in_current_trace_context()
                        .map(|&i| work(i))
                        .sum::<u64>(),
                );
            },
            || {
                black_box(items.par_iter().map(|&i| work(i)).sum::<u64>());
            },
        );
        let tiny: Vec<u64> = (0..100_000).collect();
        alternate(
            "par_iter_tiny in_current_trace_context / rayon",
            ROUNDS,
            200,
            || {
                black_box(
                    tiny.par_iter()
                        .in_current_trace_context()
                        .map(|&i| black_box(i) * 3)
                        .sum::<u64>(),
                );
            },
            || {
                black_box(tiny.par_iter().map(|&i| black_box(i) * 3).sum::<u64>());
            },
        );
        alternate(
            "join_tree tracectx / rayon",
            ROUNDS,
            200,
            || {
                black_box(tree_traced(12));
            },
            || {
                black_box(tree_rayon(12));
            },
        );
    });
}

criterion_group!(benches, par_iter, join);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::alternating_requested() {
        alternating();
    }
}
