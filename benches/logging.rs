//! Logging: the cost of stamping each event with its run (tracectx text and JSON formats)
//! against plain `tracing_subscriber::fmt`, with no subscriber, a scoped one and a global one
//! (as tracing's own benches do); and reading one run back (`logging::query`, the `tracectx
//! logs` binary) against `grep -F` and `rg -F` on the same large file.
//!
//! `cargo bench --features cli --bench logging` (without `cli` the binary case is skipped; `rg`
//! is skipped where it is not installed).

use std::hint::black_box;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tracectx::logging::{self, query, TextFormat, TraceContextLayer};
use tracectx::TraceContext;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

// === fixtures ===

fn ctx() -> TraceContext {
    TraceContext::generate("backtest")
}

fn plain_fmt() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(io::sink)
        .with_ansi(false)
        .finish()
}

fn stamped(json: bool) -> impl tracing::Subscriber + Send + Sync {
    let b = logging::builder()
        .with_writer(io::sink)
        .with_level(tracing::Level::INFO);
    let b = if json { b.json() } else { b };
    b.build().expect("default template")
}

fn event() {
    tracing::info!(target: "bench", qty = 10, price = 101.25, "order filled");
}

// === stamping ===

fn no_subscriber(c: &mut Criterion) {
    let mut g = c.benchmark_group("event/no_subscriber");
    g.bench_function("plain", |b| b.iter(event));
    let ctx = ctx();
    g.bench_function("in_scope", |b| ctx.sync_scope(|| b.iter(event)));
    g.finish();
}

fn scoped(c: &mut Criterion) {
    let mut g = c.benchmark_group("event/scoped");
    let ctx = ctx();
    g.bench_function("fmt", |b| {
        tracing::subscriber::with_default(plain_fmt(), || ctx.sync_scope(|| b.iter(event)))
    });
    g.bench_function("tracectx_text", |b| {
        tracing::subscriber::with_default(stamped(false), || ctx.sync_scope(|| b.iter(event)))
    });
    g.bench_function("tracectx_json", |b| {
        tracing::subscriber::with_default(stamped(true), || ctx.sync_scope(|| b.iter(event)))
    });
    g.bench_function("tracectx_text_outside_context", |b| {
        tracing::subscriber::with_default(stamped(false), || b.iter(event))
    });
    g.bench_function("tracectx_text_from_span", |b| {
        tracing::subscriber::with_default(stamped(false), || {
            // The slot is empty; the stamp comes from the span's extensions.
            let span = ctx.sync_scope(|| tracing::info_span!("work"));
            span.in_scope(|| b.iter(event))
        })
    });
    g.finish();
}

fn global(c: &mut Criterion) {
    // One global subscriber per process: plain fmt and tracectx's text format side by side,
    // each taking only its own target (per-layer filters, decided once per call site).
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(io::sink)
                .with_ansi(false)
                .with_filter(filter_fn(|m| m.target() == "plain")),
        )
        .with(TraceContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::new())
                .with_writer(io::sink)
                .with_filter(filter_fn(|m| m.target() == "stamped")),
        )
        .init();
    let mut g = c.benchmark_group("event/global");
    let ctx = ctx();
    g.bench_function("fmt", |b| {
        ctx.sync_scope(|| {
            b.iter(|| tracing::info!(target: "plain", qty = 10, price = 101.25, "order filled"))
        })
    });
    g.bench_function("tracectx_text", |b| {
        ctx.sync_scope(|| {
            b.iter(|| tracing::info!(target: "stamped", qty = 10, price = 101.25, "order filled"))
        })
    });
    g.finish();
}

// === reading one run back ===

const LINES: usize = 1_000_000;
const RUNS: usize = 1_000;

/// A log of `LINES` lines (about 130 MB) from `RUNS` interleaved runs, one in twenty a JSON
/// line; returns the file and a run id that wrote `LINES / RUNS` of them.
fn big_log(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("big.log");
    let mut out = io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
    let runs: Vec<String> = (0..RUNS)
        .map(|_| TraceContext::generate("backtest").run_id().to_string())
        .collect();
    for i in 0..LINES {
        let run = &runs[i % RUNS];
        let (s, us) = (i / 1000, i % 1000);
        if i % 20 == 0 {
            writeln!(
                out,
                r#"{{"timestamp":"2024-01-01T10:{:02}:{:02}.{us:06}Z","level":"INFO","run_id":"{run}","trace_id":"a1b2c3d4","span_id":"00000000000000aa","target":"engine","message":"bar processed","i":{i}}}"#,
                s / 60 % 60,
                s % 60
            )
        } else {
            writeln!(
                out,
                "[2024-01-01T10:{:02}:{:02}.{us:06}Z] [{run}] [a1b2c3d4] INFO engine - bar processed i={i} px=101.25",
                s / 60 % 60,
                s % 60
            )
        }
        .expect("write");
    }
    out.flush().expect("flush");
    (path, runs[RUNS / 2].clone())
}

/// Runs a search tool with its output to a real file: GNU grep stops at the first match when
/// its output is `/dev/null`, which would measure nothing.
fn run_to(out: &Path, cmd: &mut Command) {
    let file = std::fs::File::create(out).expect("output file");
    let status = cmd
        .stdout(file)
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.code() == Some(0), "{cmd:?} failed: {status}");
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn query_speed(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (path, run) = big_log(dir.path());
    let q = query::Query::new(&run).expect("run id");
    // Sanity: every tool finds the same lines.
    let found = q.count(query::open(&path).expect("open")).expect("read");
    assert_eq!(found, (LINES / RUNS) as u64);

    let out = dir.path().join("out.log");
    let mut g = c.benchmark_group("query");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("tracectx_library", |b| {
        b.iter(|| {
            let input = query::open(&path).expect("open");
            black_box(q.search(input, &mut io::sink()).expect("read"))
        })
    });
    if let Some(bin) = option_env!("CARGO_BIN_EXE_tracectx") {
        g.bench_function("tracectx_logs", |b| {
            b.iter(|| run_to(&out, Command::new(bin).arg("logs").arg(&run).arg(&path)))
        });
    }
    g.bench_function("grep_F", |b| {
        b.iter(|| {
            run_to(
                &out,
                Command::new("grep")
                    .env("LC_ALL", "C")
                    .arg("-F")
                    .arg(&run)
                    .arg(&path),
            )
        })
    });
    if have("rg") {
        g.bench_function("rg_F", |b| {
            b.iter(|| run_to(&out, Command::new("rg").arg("-F").arg(&run).arg(&path)))
        });
    }
    g.bench_function("tracectx_runs_library", |b| {
        b.iter(|| {
            let mut runs = query::Runs::new();
            runs.read(query::open(&path).expect("open")).expect("read");
            black_box(runs.finish().len())
        })
    });
    g.finish();
    let lines = std::fs::read_to_string(&out)
        .expect("output")
        .lines()
        .count();
    assert_eq!(
        lines,
        LINES / RUNS,
        "the last tool found another number of lines"
    );
}

criterion_group!(benches, no_subscriber, scoped, global, query_speed);
criterion_main!(benches);
