//! Quick start, the main job: a parameter sweep of concurrent backtest sessions, each a run of
//! its own, every log line stamped with its run, then one run's lines read back.
//!
//! ```text
//! cargo run --release --example quickstart                 # logs to quickstart.log
//! cargo run --release --example quickstart -- other.log   # or to another file
//! cargo run -p tracectx-cli -- logs <run_id> quickstart.log
//! ```
//!
//! The bars are synthetic, made by the crate from a seed (no data file needed), so every run of
//! this example trades the same. 100 combinations of `sma-cross` run on every core at once;
//! the sessions' lines interleave in the log file, yet each is stamped with its session's run
//! id, and `tracectx logs` pulls one session's lines back out. The example's own lines also go
//! to stdout: those logged by `main` outside any run show `[-] [-]` where a run id and trace id
//! would be, and the progress lines, logged inside the sweep's run, show the sweep's.

use std::sync::Arc;

use tracectx_backtest::{
    BacktestEngine, BacktestSettings, Bars, BatchOptions, Named, ParamGrid, RankBy, Statistic,
    sma_cross,
};
use tracing::info;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

const BARS: usize = 5_000;
const SEED: u64 = 42;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log_path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "quickstart.log".into());
    // Every line to the log file (through a writer thread); this example's own lines to stdout.
    let (file, guard) = tracectx::logging::non_blocking(std::fs::File::create(&log_path)?)?;
    let stdout = std::io::stdout.with_filter(|meta| meta.target() == "quickstart");
    tracectx::logging::builder()
        .with_level(tracing::Level::INFO)
        .with_writer(file.and(stdout))
        .init();

    let data = Arc::new(Bars::synthetic(BARS, SEED)); // shared by all sessions, never copied
    let grid = ParamGrid::new()
        .parse_axis("fast=5:50:5")?
        .parse_axis("slow=60:240:20")?; // every fast below every slow
    info!(
        bars = BARS,
        seed = SEED,
        combinations = grid.len(),
        "sweep of sma-cross on synthetic daily bars"
    );

    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.001));
    let quarter = grid.len().div_ceil(4);
    let options = BatchOptions::new() // one session per core
        .keep_equity(false)
        .on_progress(move |p| {
            // Called inside the sweep's run: this line is stamped with the sweep's id.
            if p.done % quarter == 0 || p.done == p.total {
                info!(done = p.done, total = p.total, "progress");
            }
        });
    let report = engine
        .sweep(
            &data,
            Named::new("sma-cross", sma_cross),
            &grid,
            RankBy::new(Statistic::Sharpe),
            options,
        )
        .await;
    let best = report.best().ok_or("every session failed")?;
    let best_run = best.metadata.run_id.as_deref().unwrap_or_default();
    info!(best_run = %best_run, sharpe = best.stats.sharpe, "sweep done");
    drop(guard); // every line is in the file from here on

    println!(
        "\nsweep {}: {} sessions ({} ok) in {:.1} ms on {} cores, ranked by {}\n",
        report.sweep_id,
        report.sessions,
        report.succeeded,
        report.wall_time_secs * 1e3,
        std::thread::available_parallelism().map_or(1, usize::from),
        report.rank_by,
    );
    // The table `tracectx sweep` prints, with its column names.
    report.write_table(&mut std::io::stdout().lock(), 10)?;
    let query = "cargo run -p tracectx-cli --";
    println!(
        "\nThe lines above the table marked [-] [-] were logged by main, outside any run (no run\n\
         id, no trace id); the progress lines carry the sweep's run.\n\
         Every line logged inside a run names it in {log_path}. Read one session's lines back:\n  \
         {query} logs {best_run} {log_path}\n\
         and one row per run (the sweep and each session):\n  \
         {query} runs {log_path}"
    );
    Ok(())
}
