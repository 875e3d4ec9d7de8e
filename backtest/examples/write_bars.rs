//! Writes a deterministic synthetic series as CSV, for the command line and the benchmark
//! scripts.
//!
//! ```text
//! cargo run --release --example write_bars -- BARS SEED OUT.csv
//! ```

use std::process::ExitCode;

use tracectx_backtest::Bars;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, seed, out] = args.as_slice() else {
        eprintln!("usage: write_bars BARS SEED OUT.csv");
        return ExitCode::from(2);
    };
    let (Ok(n), Ok(seed)) = (n.parse::<usize>(), seed.parse::<u64>()) else {
        eprintln!("write_bars: BARS and SEED must be whole numbers");
        return ExitCode::from(2);
    };
    let written = std::fs::File::create(out).and_then(|f| Bars::synthetic(n, seed).write_csv(f));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write_bars: cannot write {out:?}: {e}");
            ExitCode::FAILURE
        }
    }
}
