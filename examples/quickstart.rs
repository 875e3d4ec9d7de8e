//! Quick start: give each run an identity once, and every log line says which run wrote it.
//!
//! ```text
//! cargo run --release --example quickstart                    # lines on stdout
//! cargo run --release --example quickstart > quickstart.log   # then read one run back:
//! cargo run --features cli --bin tracectx -- logs <run_id> quickstart.log
//! ```
//!
//! Three backtests run at once. Each does async work in a spawned task, CPU-bound work on the
//! blocking pool and writes a report on a plain thread; their lines interleave on stdout, yet
//! each is stamped with its own run id, and `tracectx logs` pulls one run's lines back out.
//! The hint at the end goes to stderr, so it stays on the terminal when stdout is redirected.

use std::io::IsTerminal;
use std::time::Duration;

use tracectx::prelude::*;
use tracing::{info, warn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracectx::logging::configure_logging();
    info!("quickstart: starting three backtests"); // outside any run: stamped [-] [-]

    let mut runs = Vec::new();
    let mut sessions = Vec::new();
    for (strategy, bars) in [
        ("momentum", 390),
        ("mean_reversion", 780),
        ("breakout", 1170),
    ] {
        // Set once, at the edge of the unit of work; found (never passed) inside it.
        let ctx = TraceContext::generate("backtest");
        runs.push(ctx.run_id().clone());
        sessions.push(tokio::spawn(backtest(strategy, bars).in_trace_context(ctx)));
    }
    for session in sessions {
        session.await??;
    }
    info!("quickstart: all backtests done");

    let run = &runs[0];
    let query = "cargo run --features cli --bin tracectx --";
    if std::io::stdout().is_terminal() {
        eprintln!(
            "\nEach line above says its run. To read one run back, save the log and query it:\n  \
             cargo run --release --example quickstart > quickstart.log\n  \
             {query} runs quickstart.log\n  \
             {query} logs <run_id> quickstart.log   (this time it would have been {run})"
        );
    } else {
        eprintln!(
            "\nRead one run back from the log you saved (quickstart.log here):\n  \
             {query} logs {run} quickstart.log\n  \
             {query} logs {run} quickstart.log --level warn\n  \
             {query} runs quickstart.log"
        );
    }
    Ok(())
}

/// One backtest session: no run id in sight, yet every line it causes is stamped.
async fn backtest(strategy: &'static str, bars: usize) -> Result<(), tokio::task::JoinError> {
    info!(strategy, bars, "session started");

    // Async work in its own task: `spawn_traced` carries the run (plain `tokio::spawn` would
    // log `[-]`).
    let prices = tracectx::spawn_traced(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let prices: Vec<f64> = (0..bars).map(|i| 100.0 + (i as f64 * 0.1).sin()).collect();
        info!(bars = prices.len(), "market data loaded");
        prices
    })
    .await?;

    // CPU-bound work off the async workers, still in the run.
    let pnl = tracectx::spawn_blocking_traced(move || {
        let pnl: f64 = prices.windows(2).map(|w| w[1] - w[0]).sum();
        info!(pnl = format_args!("{pnl:.4}"), "simulation finished");
        pnl
    })
    .await?;
    if pnl < 0.0 {
        warn!(pnl, "strategy lost money");
    }

    // A plain OS thread, still in the run.
    let report = tracectx::thread::spawn(move || {
        info!(strategy, "report written");
    });
    tokio::task::spawn_blocking(move || report.join())
        .await?
        .ok();

    info!(strategy, "session finished");
    Ok(())
}
