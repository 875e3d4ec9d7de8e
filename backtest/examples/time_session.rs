//! Times whole backtest sessions in one process, for `benches/compare_python.sh`: loads a
//! CSV file once, then runs `sma-cross` 10/20 (long-short, 10,000 cash, no commission) on it
//! `RUNS` times with [`BacktestEngine::run`], as a program that backtests many times would,
//! and prints one JSON object: the number of bars, each session's wall time (the first one
//! pays for the fresh memory of its results), the number of closed trades and the final
//! equity.
//!
//! ```text
//! cargo run --release --example time_session -- FILE.csv [RUNS]
//! ```

use std::process::ExitCode;

use tracectx_backtest::{BacktestEngine, BacktestSettings, Bars, Params, sma_cross};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, runs) = match args.as_slice() {
        [path] => (path, Ok(6)),
        [path, runs] => (path, runs.parse::<usize>()),
        _ => {
            eprintln!("usage: time_session FILE.csv [RUNS]");
            return ExitCode::from(2);
        }
    };
    let Ok(runs @ 1..) = runs else {
        eprintln!("time_session: RUNS must be a whole number, at least 1");
        return ExitCode::from(2);
    };
    let bars = match Bars::from_csv_path(path) {
        Ok(bars) => bars,
        Err(e) => {
            eprintln!("time_session: {e}");
            return ExitCode::FAILURE;
        }
    };
    let params = Params::new().with("fast", 10).with("slow", 20);
    let engine = BacktestEngine::new(BacktestSettings::new(10_000.0));
    let mut secs = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        match engine.run(&bars, &sma_cross, &params) {
            Ok(result) => {
                secs.push(result.metadata.wall_time_secs);
                last = Some(result);
            }
            Err(e) => {
                eprintln!("time_session: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(result) = last else {
        return ExitCode::FAILURE;
    };
    let report = serde_json::json!({
        "bars": bars.len(),
        "wall_time_secs": secs,
        "trades": result.stats.trades,
        "equity_final": result.stats.equity_final,
    });
    println!("{report}");
    ExitCode::SUCCESS
}
