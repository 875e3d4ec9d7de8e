//! Backtest throughput: one 1,000,000-bar session (signals, simulation, statistics) in bars
//! per second, and CSV loading in bytes per second. backtesting.py 0.6.6 is the peer
//! (`scripts/crosscheck.sh` checks that both compute the same figures); the goals are 500
//! times its speed on the session and 200 MB/s or more for the CSV load.
//!
//! The session trades without commission so that it keeps trading over the whole million
//! bars (with costs, a crossover strategy runs out of cash long before the end and the rest
//! is idle); the peer figure is backtesting.py on the same CSV with the same settings.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tracectx::backtest::{simulate, sma_cross, BacktestSettings, Bars, Params, Stats};

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

criterion_group!(benches, session, csv_load);
criterion_main!(benches);
