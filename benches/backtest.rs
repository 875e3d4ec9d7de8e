//! Backtest throughput against backtesting.py 0.6.6 and vectorbt (PyPI; the Python side is
//! `benches/compare_python.sh`, which runs both peers and this crate's command line on the
//! same series in one go): one 1,000,000-bar session (signals, simulation, statistics) in
//! bars per second, CSV loading in bytes per second, and a 200-combination sweep on two
//! cores against one, whose ratio of medians is printed after its group (vectorbt's own
//! broadcast sweep of the same grid is timed by `compare_python.sh`); the HTML report of a
//! 1,000,000-bar session, and the merge of 1,000,000 shard lines (`tracectx merge`: parse each
//! JSON line, keep the ten best). Goals: 500 times backtesting.py on the session, 200 MB/s for
//! the CSV load, 1.7 times the one-core sweep on two cores, the report under a second.
//!
//! `cargo bench --bench backtest -- --warm-up-time 1 --measurement-time 5`
//!
//! The session is `sma-cross` 10/20, long-short, 10,000 cash, no commission, on
//! `tradeable_bars`: `Bars::synthetic(1_000_000, 42)` with its moves scaled down tenfold
//! around 100 (daily volatility about 0.1%, prices 94 to 122), so that the strategy, which
//! loses to the volatility drag, still has cash for a few units at the end: it trades all
//! the way through (about 55,000 closed trades, a quarter of them in each quarter of the
//! bars), as checked and printed before the measurement. `compare_python.py` makes the same
//! series from the same CSV for the peers.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tracectx_backtest::{
    BacktestEngine, BacktestSettings, Bars, BatchOptions, Leaderboard, ParamGrid, Params, RankBy,
    SessionRecord, Statistic, Stats, simulate, sma_cross,
};

const BARS: usize = 1_000_000;

/// `Bars::synthetic(n, seed)` with every price `p` replaced by
/// `floor((100 + (p - 100) * 0.1) * 10^4 + 0.5) / 10^4`: the same path with a tenth of the
/// moves, to four decimals. Every step is one correctly rounded IEEE operation, so numpy
/// (`compare_python.py`'s `tradeable`) gives the same bits.
fn tradeable_bars(n: usize, seed: u64) -> Bars {
    let raw = Bars::synthetic(n, seed);
    let damp = |prices: &[f64]| -> Vec<f64> {
        prices
            .iter()
            .map(|&p| ((100.0 + (p - 100.0) * 0.1) * 10_000.0 + 0.5).floor() / 10_000.0)
            .collect()
    };
    Bars::new(
        raw.timestamps().to_vec(),
        damp(raw.open()),
        damp(raw.high()),
        damp(raw.low()),
        damp(raw.close()),
        raw.volume().map(<[f64]>::to_vec),
    )
    .expect("a monotone map of valid bars is valid")
}

/// Checks that the session trades through the whole series (closed trades in every quarter
/// of the bars, each quarter within 20% of a fourth of them) and prints the counts.
fn check_workload(bars: &Bars, params: &Params, settings: &BacktestSettings) {
    let signals = sma_cross(bars, params).unwrap();
    let run = simulate(bars, &signals, settings).unwrap();
    let n = bars.len();
    let mut quarters = [0usize; 4];
    for t in &run.trades {
        quarters[t.entry_bar * 4 / n] += 1;
    }
    let total = run.trades.len();
    let last_exit = run.trades.last().map_or(0, |t| t.exit_bar);
    let low = run.equity.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "session workload: {n} bars, {total} closed trades (per quarter of the bars: {quarters:?}), \
         last exit at bar {last_exit}, {} open at the end, lowest equity {low:.2}",
        run.open_trades.len()
    );
    let even = quarters
        .iter()
        .all(|&q| (q as f64 - total as f64 / 4.0).abs() <= 0.2 * total as f64 / 4.0);
    assert!(
        even && last_exit + n / 100 >= n,
        "the benchmark session stops trading before the end of the bars: \
         {total} trades, per quarter {quarters:?}, last exit {last_exit} of {n}"
    );
}

fn session(c: &mut Criterion) {
    let bars = tradeable_bars(BARS, 42);
    let params = Params::new().with("fast", 10).with("slow", 20);
    let settings = BacktestSettings::new(10_000.0);
    check_workload(&bars, &params, &settings);
    let mut group = c.benchmark_group("backtest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BARS as u64));
    // The whole session as `BacktestEngine::run` runs it alone: on two threads (the
    // statistics read the equity curve while the simulation writes it).
    let engine = BacktestEngine::new(settings);
    group.bench_function("session_1m_bars", |b| {
        b.iter(|| engine.run(black_box(&bars), &sma_cross, &params).unwrap())
    });
    // The same steps one after another on one thread, as a batch's sessions run.
    group.bench_function("session_1m_bars_one_thread", |b| {
        b.iter(|| {
            let signals = sma_cross(black_box(&bars), &params).unwrap();
            let run = simulate(&bars, &signals, &settings).unwrap();
            Stats::compute(&bars, &run.equity, &run.trades, signals.warmup()).unwrap()
        })
    });
    let signals = sma_cross(&bars, &params).unwrap();
    group.bench_function("signals_1m_bars", |b| {
        b.iter(|| sma_cross(black_box(&bars), &params).unwrap())
    });
    group.bench_function("simulate_1m_bars", |b| {
        b.iter(|| simulate(black_box(&bars), &signals, &settings).unwrap())
    });
    let run = simulate(&bars, &signals, &settings).unwrap();
    group.bench_function("stats_1m_bars", |b| {
        b.iter(|| {
            Stats::compute(black_box(&bars), &run.equity, &run.trades, signals.warmup()).unwrap()
        })
    });
    // Building bars from columns: every check and the fingerprint, which a session's
    // metadata reads (computed here, not in the session).
    group.bench_function("new_1m_bars", |b| {
        b.iter_batched(
            || {
                let c = |v: &[f64]| v.to_vec();
                let volume = bars.volume().map(<[f64]>::to_vec);
                let t = bars.timestamps().to_vec();
                (
                    t,
                    c(bars.open()),
                    c(bars.high()),
                    c(bars.low()),
                    c(bars.close()),
                    volume,
                )
            },
            |(t, o, h, l, c, v)| Bars::new(t, o, h, l, c, v).unwrap(),
            BatchSize::LargeInput,
        )
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

/// 200 sessions of 50,000 bars (fast 5..50 by 5, slow 20..210 by 10), one or two at once;
/// then the ratio of the two medians.
fn sweep(c: &mut Criterion) {
    let started = SystemTime::now();
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
    print_sweep_ratio(started);
}

/// Where criterion keeps its results: as criterion itself decides, short of asking
/// `cargo metadata` (`cargo bench` runs benches from the package root).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("criterion"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/criterion"),
    }
}

/// The median time of a benchmark measured by this run (after `since`), in seconds.
fn median_secs(id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_home().join(id).join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let ns = estimates["median"]["point_estimate"].as_f64()?;
    fresh.then_some(ns / 1e9)
}

fn print_sweep_ratio(since: SystemTime) {
    match (
        median_secs("sweep_200/concurrency/1", since),
        median_secs("sweep_200/concurrency/2", since),
    ) {
        (Some(one), Some(two)) => println!(
            "sweep_200: median {:.1} ms on 1 core, {:.1} ms on 2 cores: {:.2}x (goal: 1.7x; {} cores here)",
            one * 1e3,
            two * 1e3,
            one / two,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        _ => println!(
            "sweep_200: no ratio (both cases must run; criterion's results not found under {})",
            criterion_home().display()
        ),
    }
}

/// The HTML page of a 1,000,000-bar session (curves thinned for display), and the merge of
/// 1,000,000 shard lines.
fn report_and_merge(c: &mut Criterion) {
    let bars = tradeable_bars(BARS, 42);
    let params = Params::new().with("fast", 10).with("slow", 20);
    let result = BacktestEngine::default()
        .run(&bars, &sma_cross, &params)
        .unwrap();
    let mut page = Vec::new();
    result.write_html(&bars, &mut page).unwrap();
    println!(
        "report of {BARS} bars, {} trades: {} bytes",
        result.trades.len(),
        page.len()
    );
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("write_html_1m_bars", |b| {
        b.iter(|| {
            let mut page = Vec::with_capacity(1 << 20);
            result.write_html(black_box(&bars), &mut page).unwrap();
            page
        })
    });
    group.finish();

    // A million lines as shards write them, each the same session with its own index and
    // Sharpe ratio.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&lines);
    let grid = ParamGrid::new()
        .parse_axis("fast=5:6:1")
        .unwrap()
        .fixed("slow", 20);
    let options = BatchOptions::new().on_progress(move |p| {
        kept.lock().unwrap().push(SessionRecord::from_progress(p));
    });
    rt.block_on(BacktestEngine::default().sweep(
        &Arc::new(Bars::synthetic(2_000, 1)),
        sma_cross,
        &grid,
        RankBy::default(),
        options,
    ));
    let record = lines.lock().unwrap()[0].clone();
    let mut text = Vec::new();
    for i in 0..1_000_000usize {
        let mut r = record.clone();
        r.index = i;
        if let Some(stats) = &mut r.stats {
            stats.sharpe = Some((i * 7_919 % 1_000_003) as f64 / 1e6);
        }
        text.extend_from_slice(r.to_json_line().as_bytes());
        text.push(b'\n');
    }
    let mut group = c.benchmark_group("merge");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("1m_shard_lines_top_10", |b| {
        b.iter(|| {
            let mut board = Leaderboard::new(RankBy::default(), 10);
            for line in black_box(&text[..]).split(|&c| c == b'\n') {
                if line.is_empty() {
                    continue;
                }
                let r: SessionRecord = serde_json::from_slice(line).unwrap();
                let value = r.stats.as_ref().and_then(|s| s.get(Statistic::Sharpe));
                board.push(r.index, value, r);
            }
            board.into_sorted()
        })
    });
    group.finish();
}

criterion_group!(benches, session, csv_load, sweep, report_and_merge);
criterion_main!(benches);
