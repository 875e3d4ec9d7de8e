//! Backtest throughput against backtesting.py 0.6.6 and vectorbt (PyPI; the Python side is
//! `benches/compare_python.sh`, which runs both peers and this crate's command line on the
//! same series in one go): one 1,000,000-bar session (signals, simulation, statistics) in
//! bars per second, CSV loading in bytes per second, and a 200-combination sweep on two
//! cores against one. Goals: 500 times backtesting.py on the session, 200 MB/s for the CSV
//! load, 1.7 times the one-core sweep on two cores.
//!
//! The session is `sma-cross` 10/20, long-short, 10,000 cash, no commission, on
//! `Bars::synthetic(1_000_000, 42)`; it runs out of cash for one unit after about 11% of the
//! bars and holds no position from there, in every engine alike.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tracectx::backtest::{
    simulate, sma_cross, BacktestEngine, BacktestSettings, Bars, BatchOptions, ParamGrid, Params,
    RankBy, Stats,
};

const BARS: usize = 1_000_000;

fn session(c: &mut Criterion) {
    let bars = Bars::synthetic(BARS, 42);
    let params = Params::new().with("fast", 10).with("slow", 20);
    let settings = BacktestSettings::new(10_000.0);
    let mut group = c.benchmark_group("backtest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BARS as u64));
    group.bench_function("session_1m_bars", |b| {
        b.iter(|| {
            let signals = sma_cross(black_box(&bars), &params).unwrap();
            let run = simulate(&bars, &signals, &settings).unwrap();
            Stats::compute(&bars, &run.equity, &run.trades, signals.warmup()).unwrap()
        })
    });
    let signals = sma_cross(&bars, &params).unwrap();
    group.bench_function("simulate_1m_bars", |b| {
        b.iter(|| simulate(black_box(&bars), &signals, &settings).unwrap())
    });
    group.finish();
}

fn csv_load(c: &mut Criterion) {
    let mut csv = Vec::new();
    Bars::synthetic(BARS, 42).write_csv(&mut csv).unwrap();
    let mut group = c.benchmark_group("csv");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(csv.len() as u64));
    group.bench_function("load_1m_bars", |b| {
        b.iter(|| Bars::from_csv_reader(black_box(&csv[..])).unwrap())
    });
    group.finish();
}

/// 200 sessions of 50,000 bars (fast 5..50 by 5, slow 20..210 by 10), one or two at once.
fn sweep(c: &mut Criterion) {
    let data = Arc::new(Bars::synthetic(50_000, 7));
    let grid = ParamGrid::new()
        .parse_axis("fast=5:50:5")
        .and_then(|g| g.parse_axis("slow=20:210:10"))
        .unwrap();
    assert_eq!(grid.len(), 200);
    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.001));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("sweep_200");
    group.sample_size(10);
    group.throughput(Throughput::Elements(200));
    for concurrency in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("concurrency", concurrency),
            &concurrency,
            |b, &n| {
                b.iter(|| {
                    let options = BatchOptions::new().concurrency(n).keep_equity(false);
                    rt.block_on(engine.sweep(&data, sma_cross, &grid, RankBy::default(), options))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, session, csv_load, sweep);
criterion_main!(benches);
