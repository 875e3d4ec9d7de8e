//! The tables the command line prints: a sweep's ranking (the command line's, the
//! quickstart's and a merge's), and the aligned columns every table is written in.

use std::io::{self, Write};

use crate::{Params, Statistic, Stats};

/// The statistics a ranked table shows after the one it is ranked by.
const COLUMNS: [Statistic; 5] = [
    Statistic::ReturnPct,
    Statistic::Sharpe,
    Statistic::MaxDrawdownPct,
    Statistic::Trades,
    Statistic::WinRatePct,
];

/// Writes ranked sessions as aligned columns: `RANK RUN_ID PARAMS`, the statistic ranked by,
/// then `RETURN_PCT SHARPE MAX_DRAWDOWN_PCT TRADES WIN_RATE_PCT` (each once; headers are
/// [`Statistic::label`]s in capitals, values [`Stats::format`]). Rows are `(run id,
/// parameters, statistics)`, best first.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{sma_cross, write_ranked_table, BacktestEngine, Bars, Params, Statistic};
///
/// let params = Params::new().with("fast", 10).with("slow", 20);
/// let result = BacktestEngine::default().run(&Bars::synthetic(500, 1), &sma_cross, &params)?;
/// let mut out = Vec::new();
/// write_ranked_table(&mut out, Statistic::AvgTradeDurationSecs, [("backtest_1", &params, &result.stats)])?;
/// let text = String::from_utf8(out)?;
/// let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
/// assert_eq!(header[..5], ["RANK", "RUN_ID", "PARAMS", "AVG_TRADE_DURATION", "RETURN_PCT"]);
/// assert!(text.lines().nth(1).unwrap().starts_with("1     backtest_1  fast=10 slow=20"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_ranked_table<'a, W: Write + ?Sized>(
    out: &mut W,
    ranked_by: Statistic,
    rows: impl IntoIterator<Item = (&'a str, &'a Params, &'a Stats)>,
) -> io::Result<()> {
    let mut columns = vec![ranked_by];
    columns.extend(COLUMNS.iter().filter(|&&s| s != ranked_by));
    let mut table = vec![{
        let mut header = vec!["RANK".to_owned(), "RUN_ID".to_owned(), "PARAMS".to_owned()];
        header.extend(columns.iter().map(|s| s.label().to_uppercase()));
        header
    }];
    for (i, (run_id, params, stats)) in rows.into_iter().enumerate() {
        let mut row = vec![(i + 1).to_string(), run_id.to_owned(), params.to_string()];
        row.extend(columns.iter().map(|&s| stats.format(s)));
        table.push(row);
    }
    // RANK right-aligned would split it from its header; keep the first three left-aligned.
    write_columns(out, &table, 3)
}

/// Writes rows as aligned columns, two spaces apart: the first `left` columns left-aligned,
/// the others right-aligned (numbers), no trailing spaces. The layout of every table the
/// command line prints ([`write_ranked_table`]'s, a session's statistics, the strategies).
///
/// # Examples
///
/// ```
/// let rows = [vec!["NAME".to_owned(), "VALUE".to_owned()], vec!["sharpe".to_owned(), "1.25".to_owned()]];
/// let mut out = Vec::new();
/// tracectx_backtest::write_columns(&mut out, &rows, 1)?;
/// assert_eq!(String::from_utf8(out)?, "NAME    VALUE\nsharpe   1.25\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_columns<W: Write + ?Sized>(
    out: &mut W,
    rows: &[Vec<String>],
    left: usize,
) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            if c < left {
                line.push_str(&format!("{cell:<w$}"));
            } else {
                line.push_str(&format!("{cell:>w$}"));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
