//! Runs one backtest on a CSV file and prints its statistics and trades as one JSON object.
//!
//! ```text
//! cargo run --release --example backtest_json -- \
//!     --data goog.csv --strategy sma-cross --param fast=10 --param slow=20 \
//!     [--long-only] --cash 10000 --commission 0.002 \
//!     [--spread 0.0002] [--slippage 0.0005] [--fractional-units] [--close-at-end]
//! ```
//!
//! The output is `{"stats": {...}, "trades": [...], "open_trades": [...], "metadata": {...}}`
//! with undefined statistics as `null`; `scripts/crosscheck.sh` compares it with
//! backtesting.py. The session runs under its own trace context (`backtest_<suffix>`), whose
//! ids are in the metadata.

use std::process::ExitCode;

use tracectx::backtest::{builtin, BacktestEngine, BacktestSettings, Bars, Named, Params};
use tracectx::TraceContext;

fn usage() -> &'static str {
    "usage: backtest_json --data FILE [--strategy sma-cross] [--param NAME=VALUE]... \
     [--long-only] [--cash AMOUNT] [--commission FRACTION] [--spread FRACTION] \
     [--slippage FRACTION] [--fractional-units] [--close-at-end]"
}

fn number(flag: &str, value: Option<String>) -> Result<f64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: not a number: {value:?}"))
}

fn run() -> Result<String, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    let mut strategy = "sma-cross".to_owned();
    let mut params = Params::new();
    let mut settings = BacktestSettings::default();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--data" => data = Some(args.next().ok_or("--data needs a file")?),
            "--strategy" => strategy = args.next().ok_or("--strategy needs a name")?,
            "--param" => {
                params.insert_assignment(&args.next().ok_or("--param needs NAME=VALUE")?)?
            }
            "--long-only" => {
                params.insert("long_only", true);
            }
            "--cash" => settings = settings.with_cash(number("--cash", args.next())?),
            "--commission" => {
                settings = settings.with_commission(number("--commission", args.next())?)
            }
            "--spread" => settings = settings.with_spread(number("--spread", args.next())?),
            "--slippage" => settings = settings.with_slippage(number("--slippage", args.next())?),
            "--fractional-units" => settings = settings.with_fractional_units(true),
            "--close-at-end" => settings = settings.with_close_at_end(true),
            "-h" | "--help" => return Ok(usage().to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    let data = data.ok_or_else(|| format!("--data is required\n{}", usage()))?;
    let signal_fn = builtin(&strategy).ok_or_else(|| format!("unknown strategy {strategy:?}"))?;
    let bars = Bars::from_csv_path(&data)?;
    let engine = BacktestEngine::new(settings);
    let strategy = Named::new(strategy, signal_fn);
    let ctx = TraceContext::generate("backtest");
    let result = ctx.sync_scope(|| engine.run(&bars, &strategy, &params))?;
    Ok(result.to_json())
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
