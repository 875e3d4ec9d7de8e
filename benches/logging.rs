//! Logging: the cost of stamping each event with its run (tracectx's text and JSON formats)
//! against `tracing_subscriber::fmt` as users run it today (a plain event, and an event in a
//! span carrying `run_id` and `trace_id`), all writing to `io::sink` behind the same
//! `LevelFilter`; with no subscriber, a scoped one and a global one, as tracing's own benches
//! do. `Stamped<F>` around tracing-subscriber's compact and JSON formats against the same
//! formats unwrapped. A file per run (`per_run_files`) under 1,000 runs logging at once against
//! one file written by the same non-blocking writer thread. Then the library's throughput at
//! reading one run back out of a log held in memory, in the default layout and in a template.
//!
//! Last, `alternating ...` lines give the goals' ratios (per-run files against one file,
//! `Stamped<Compact>` against compact) from alternating blocks, as `benches/propagation.rs`.
//!
//! `cargo bench --features query --bench logging -- --warm-up-time 1 --measurement-time 3`
//!
//! Reading a run back out of gigabyte files against `grep -F` and `rg -F` is
//! `benches/extract.sh`.

mod support;

use std::fmt::Write as _;
use std::hint::black_box;
use std::io;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use support::{alternate, alternate_after};
use tracectx::TraceContext;
use tracectx::TraceFutureExt as _;
use tracectx::logging::{self, SpanContextLayer, TextFormat, query};
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::prelude::*;

// === fixtures ===

/// Every subscriber here keeps INFO and above with the same filter.
const LEVEL: LevelFilter = LevelFilter::INFO;

fn ctx() -> TraceContext {
    TraceContext::generate("backtest")
}

/// The span users open today to get the ids on their lines.
fn run_span(ctx: &TraceContext) -> tracing::Span {
    tracing::info_span!(
        "run",
        run_id = %ctx.run_id(),
        trace_id = %ctx.trace_id().short()
    )
}

fn fmt_text() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(io::sink)
        .with_ansi(false)
        .with_max_level(LEVEL)
        .finish()
}

fn fmt_json() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .json()
        .with_writer(io::sink)
        .with_max_level(LEVEL)
        .finish()
}

fn stamped(json: bool) -> impl tracing::Subscriber + Send + Sync {
    let b = logging::builder().with_writer(io::sink).with_level(LEVEL);
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

/// The five cases of the comparison, in this order, then two more of ours.
fn scoped(c: &mut Criterion) {
    let mut g = c.benchmark_group("event/scoped");
    let ctx = ctx();
    g.bench_function("fmt_plain", |b| {
        tracing::subscriber::with_default(fmt_text(), || b.iter(event))
    });
    g.bench_function("fmt_in_span", |b| {
        tracing::subscriber::with_default(fmt_text(), || run_span(&ctx).in_scope(|| b.iter(event)))
    });
    g.bench_function("tracectx_text", |b| {
        tracing::subscriber::with_default(stamped(false), || ctx.sync_scope(|| b.iter(event)))
    });
    g.bench_function("fmt_json_in_span", |b| {
        tracing::subscriber::with_default(fmt_json(), || run_span(&ctx).in_scope(|| b.iter(event)))
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
        .with(LEVEL)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(io::sink)
                .with_ansi(false)
                .with_filter(filter_fn(|m| m.target() == "plain")),
        )
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::new())
                .with_writer(io::sink)
                .with_filter(filter_fn(|m| m.target() == "stamped")),
        )
        .init();
    let mut g = c.benchmark_group("event/global");
    let ctx = ctx();
    g.bench_function("fmt_in_span", |b| {
        run_span(&ctx).in_scope(|| {
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

// === Stamped<F>: the ids on the user's own format ===

/// `format` (with fmt's default field formatting) over the registry, the level filter and the
/// span layer, writing to `io::sink`: both sides of `Stamped<F>` against `F`.
fn compact<E>(format: E) -> impl tracing::Subscriber + Send + Sync
where
    E: tracing_subscriber::fmt::FormatEvent<
            tracing_subscriber::layer::Layered<
                SpanContextLayer,
                tracing_subscriber::layer::Layered<LevelFilter, tracing_subscriber::Registry>,
            >,
            tracing_subscriber::fmt::format::DefaultFields,
        > + Send
        + Sync
        + 'static,
{
    tracing_subscriber::registry()
        .with(LEVEL)
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(format)
                .with_writer(io::sink),
        )
}

fn stamped_formats(c: &mut Criterion) {
    use tracectx::logging::Stamped;
    use tracing_subscriber::fmt::format::{self, format};

    fn json<E>(format: E) -> impl tracing::Subscriber + Send + Sync
    where
        E: tracing_subscriber::fmt::FormatEvent<
                tracing_subscriber::layer::Layered<
                    SpanContextLayer,
                    tracing_subscriber::layer::Layered<LevelFilter, tracing_subscriber::Registry>,
                >,
                format::JsonFields,
            > + Send
            + Sync
            + 'static,
    {
        tracing_subscriber::registry()
            .with(LEVEL)
            .with(SpanContextLayer::new())
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(format)
                    .with_writer(io::sink),
            )
    }

    let mut g = c.benchmark_group("event/stamped");
    let ctx = ctx();
    g.bench_function("fmt_compact", |b| {
        tracing::subscriber::with_default(compact(format().compact()), || b.iter(event))
    });
    g.bench_function("fmt_compact_in_span", |b| {
        tracing::subscriber::with_default(compact(format().compact()), || {
            run_span(&ctx).in_scope(|| b.iter(event))
        })
    });
    g.bench_function("stamped_compact", |b| {
        tracing::subscriber::with_default(compact(Stamped::new(format().compact())), || {
            ctx.sync_scope(|| b.iter(event))
        })
    });
    g.bench_function("fmt_json", |b| {
        tracing::subscriber::with_default(json(format().json()), || b.iter(event))
    });
    g.bench_function("fmt_json_in_span", |b| {
        tracing::subscriber::with_default(json(format().json()), || {
            run_span(&ctx).in_scope(|| b.iter(event))
        })
    });
    g.bench_function("stamped_json", |b| {
        tracing::subscriber::with_default(json(Stamped::new(format().json())), || {
            ctx.sync_scope(|| b.iter(event))
        })
    });
    g.finish();
}

// === a file per run ===

/// 1,000 runs at once, each a task writing 100 lines across `.await`s; the time includes
/// opening the writer (1,000 files for the per-run one) and every line reaching its file (the
/// guard is dropped, which waits for the writer thread).
/// 1,000 runs logging at once, 100 lines each, through `writer`; the guard dropped at the end,
/// so every line is written when it returns.
const WRITER_RUNS: usize = 1_000;
const WRITER_LINES: usize = 100;

fn run_all<W>(rt: &tokio::runtime::Runtime, writer: W, guard: logging::WorkerGuard)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_level(LEVEL)
        .build()
        .expect("default template");
    let dispatch = tracing::Dispatch::new(subscriber);
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..WRITER_RUNS {
            let ctx = TraceContext::new(&format!("backtest_{i:04}")).expect("run id");
            let dispatch = dispatch.clone();
            set.spawn(
                async move {
                    for step in 0..WRITER_LINES {
                        tokio::task::yield_now().await;
                        tracing::dispatcher::with_default(
                            &dispatch,
                            || tracing::info!(target: "engine", step, qty = 10, "bar processed"),
                        );
                    }
                }
                .in_trace_context(ctx),
            );
        }
        while set.join_next().await.is_some() {}
    });
    drop(dispatch);
    drop(guard);
}

/// Empties every file in `dir`, so that the disk holds one block's lines at most.
fn empty_files(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(entry.expect("entry").path())
            .expect("open");
        file.set_len(0).expect("truncate");
    }
}

fn per_run_files(c: &mut Criterion) {
    const RUNS: usize = WRITER_RUNS;
    const LINES: usize = WRITER_LINES;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("writer/1000_runs");
    g.sample_size(10)
        .throughput(Throughput::Elements((RUNS * LINES) as u64));
    // The files exist (a run's file is made once, when it starts): each iteration finds them
    // emptied, outside the timing, so the disk holds one iteration's lines at most.
    let dir = tempfile::tempdir().expect("temp dir");
    let one_file = dir.path().join("one");
    std::fs::create_dir_all(&one_file).expect("dir");
    g.bench_function("non_blocking_one_file", |b| {
        b.iter_batched(
            || empty_files(&one_file),
            |()| {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(one_file.join("all.log"))
                    .expect("log file");
                let (writer, guard) = logging::non_blocking(file).expect("writer");
                run_all(&rt, writer, guard);
            },
            BatchSize::PerIteration,
        )
    });
    for (name, max_open) in [
        ("per_run_files", logging::DEFAULT_MAX_OPEN_FILES),
        ("per_run_files_1024_open", 1024),
    ] {
        let runs = dir.path().join(name);
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    std::fs::create_dir_all(&runs).expect("dir");
                    empty_files(&runs)
                },
                |()| {
                    let (writer, guard) = logging::PerRunFiles::builder(&runs)
                        .max_open_files(max_open)
                        .build()
                        .expect("writer");
                    run_all(&rt, writer, guard);
                },
                BatchSize::PerIteration,
            )
        });
    }
    // The first lines of 1,000 new runs: each file is made, which on some file systems costs
    // far more than the lines (0.35 ms a file here).
    g.bench_function("per_run_files_new_files", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temp dir"),
            |fresh| {
                let (writer, guard) = logging::per_run_files(fresh.path()).expect("writer");
                run_all(&rt, writer, guard);
                fresh
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

// === reading one run back, in memory ===

const LINES: usize = 120_000;
const RUNS: usize = 500;

/// Run ids as `RunId::generate` makes them (a UUIDv7 in hex: runs started close together share
/// their first digits, which the substring search has to look past), but the same every time,
/// so that runs of the benchmark compare.
fn run_ids() -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..RUNS as u64)
        .map(|k| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let millis = 0x0190_5f3a_2b00 + k * 197;
            format!("backtest_{millis:012x}7{:019x}", state >> 1)
        })
        .collect()
}

/// About 16 MB of log from `RUNS` interleaved runs, one line in twenty JSON; and one run id,
/// which wrote `LINES / RUNS` of the lines.
fn log_in_memory() -> (Vec<u8>, String) {
    let runs = run_ids();
    let mut log = String::with_capacity(LINES * 140);
    for i in 0..LINES {
        let run = &runs[i % RUNS];
        let (m, s, us) = (i / 60_000 % 60, i / 1000 % 60, i % 1000);
        if i % 20 == 0 {
            let _ = writeln!(
                log,
                r#"{{"timestamp":"2024-01-01T10:{m:02}:{s:02}.{us:06}Z","level":"INFO","run_id":"{run}","trace_id":"a1b2c3d4","span_id":"00000000000000aa","target":"engine","message":"bar processed","i":{i}}}"#
            );
        } else {
            let _ = writeln!(
                log,
                "[2024-01-01T10:{m:02}:{s:02}.{us:06}Z] [{run}] [a1b2c3d4] INFO engine - bar processed i={i} px=101.25"
            );
        }
    }
    (log.into_bytes(), runs[RUNS / 2].clone())
}

/// The library's own speed, with no file system or process in the way; the gigabyte
/// comparison with grep and ripgrep is `benches/extract.sh`.
fn query_in_memory(c: &mut Criterion) {
    let (log, run) = log_in_memory();
    let q = query::Query::new(&run).expect("run id");
    let expected = (LINES / RUNS) as u64;
    let mut out = Vec::new();
    assert_eq!(q.search(&log[..], &mut out).expect("read"), expected);
    assert_eq!(q.count(&log[..]).expect("read"), expected);
    assert_eq!(
        out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64,
        expected
    );

    let mut g = c.benchmark_group("query");
    g.sample_size(20)
        .throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("search", |b| {
        b.iter(|| black_box(q.search(&log[..], &mut io::sink()).expect("read")))
    });
    g.bench_function("count", |b| {
        b.iter(|| black_box(q.count(&log[..]).expect("read")))
    });
    g.bench_function("runs", |b| {
        b.iter(|| {
            let mut runs = query::Runs::new();
            runs.read(&log[..]).expect("read");
            black_box(runs.finish().len())
        })
    });

    // The same lines written with the guide's template, read with `with_format`.
    let guide = String::from_utf8(log.clone())
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            // [2024-01-01T10:MM:SS.UUUUUUZ] [run] [trace] INFO engine - message
            let rest = l.strip_prefix("[2024-01-01T")?;
            let (time, rest) = rest.split_once(".")?;
            let (_, rest) = rest.split_once("] ")?;
            let rest = rest.replacen(" engine - ", " - ", 1);
            Some(format!("[2024-01-01 {time}] {rest}\n"))
        })
        .collect::<String>()
        .into_bytes();
    let template = "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}";
    let q = q.with_format(template).expect("template");
    let expected = q.count(&guide[..]).expect("read");
    assert!(expected > 0);
    g.throughput(Throughput::Bytes(guide.len() as u64));
    g.bench_function("search_template", |b| {
        b.iter(|| black_box(q.search(&guide[..], &mut io::sink()).expect("read")))
    });
    g.bench_function("runs_template", |b| {
        b.iter(|| {
            let mut runs = query::Runs::with_format(template).expect("template");
            runs.read(&guide[..]).expect("read");
            black_box(runs.finish().len())
        })
    });
    g.finish();
}

/// The ratios the goals are stated in, each side timed in alternating blocks (median of the
/// per-round ratios), so a noisy machine's drift stays out of them.
fn alternating() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (one, runs) = (dir.path().join("one"), dir.path().join("runs"));
    std::fs::create_dir_all(&one).expect("dir");
    let per_run = |max_open: usize| {
        let (writer, guard) = logging::PerRunFiles::builder(&runs)
            .max_open_files(max_open)
            .build()
            .expect("writer");
        run_all(&rt, writer, guard);
    };
    let one_file = || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(one.join("all.log"))
            .expect("log file");
        let (writer, guard) = logging::non_blocking(file).expect("writer");
        run_all(&rt, writer, guard);
    };
    // The lines of the last block written back to the disk before each block: one side's
    // dirty pages are not written back in the other's block.
    let empty = || {
        let _ = std::process::Command::new("sync").status();
    };
    let rounds = 31;
    alternate_after(
        "writer/1000_runs per_run_files / non_blocking_one_file (time; goal <= 1.11x)",
        rounds,
        1,
        empty,
        || per_run(logging::DEFAULT_MAX_OPEN_FILES),
        one_file,
    );
    alternate_after(
        "writer/1000_runs per_run_files_1024_open / non_blocking_one_file (time)",
        rounds,
        1,
        empty,
        || per_run(1024),
        one_file,
    );
    // As `event/stamped` builds them: the same registry, filter and span layer on both sides.
    let plain = tracing::Dispatch::new(compact(tracing_subscriber::fmt::format().compact()));
    let wrapped = tracing::Dispatch::new(compact(logging::Stamped::new(
        tracing_subscriber::fmt::format().compact(),
    )));
    let events = |dispatch: &tracing::Dispatch| {
        tracing::dispatcher::with_default(dispatch, || (0..20_000).for_each(|_| event()))
    };
    ctx().sync_scope(|| {
        alternate(
            "event Stamped<Compact> / Compact, 20,000 events a call (goal <= 1.10x)",
            31,
            1,
            || events(&wrapped),
            || events(&plain),
        )
    });
}

criterion_group!(
    benches,
    no_subscriber,
    scoped,
    global,
    stamped_formats,
    per_run_files,
    query_in_memory
);
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if support::alternating_requested() {
        alternating();
    }
}
