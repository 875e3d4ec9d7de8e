//! The `tracectx` command line.
//!
//! ```text
//! tracectx logs RUN_ID [FILE...] [--trace-id ID] [--level LEVEL] [--count]
//! tracectx runs [FILE...] [--json]
//! ```
//!
//! Each subcommand is an `Args` struct with a `run` method returning the exit code; adding one
//! is a variant of [`Command`] and an arm in `main`. Exit codes follow grep: 0 something was
//! found, 1 nothing was, 2 an error (usage, or an input that could not be read: the message
//! names it; the other inputs are still read).

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracectx::logging::query::{self, Query, RunSummary, Runs};

#[derive(Debug, Parser)]
#[command(name = "tracectx", version, about = "Read logs back by run", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the lines of one run, unchanged (text and JSON lines alike)
    Logs(LogsArgs),
    /// One row per run: lines, first and last timestamp, duration, trace ids, warnings, errors
    Runs(RunsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Logs(args) => args.run(),
        Command::Runs(args) => args.run(),
    }
}

/// Exit codes, as grep's.
const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const ERROR: u8 = 2;

/// Opens each input in turn (`-` or none: stdin; gzip read transparently) and hands it to
/// `each`. An input that cannot be read is reported on stderr, naming it, and the others are
/// still read. Returns whether every input was read without error.
fn for_each_input(
    files: &[PathBuf],
    mut each: impl FnMut(Box<dyn Read + Send>) -> io::Result<()>,
) -> Result<bool, io::Error> {
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut ok = true;
    for path in files {
        let input = if path.as_os_str() == "-" {
            query::decode(io::stdin())
        } else {
            query::open(path)
        };
        let name = if path.as_os_str() == "-" {
            "(standard input)".into()
        } else {
            path.display().to_string()
        };
        let result = input.and_then(&mut each);
        match result {
            Ok(()) => {}
            // A closed pipe (`| head`) ends the output, quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(e),
            Err(e) => {
                eprintln!("tracectx: {name}: {e}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

// === logs ===

#[derive(Debug, Args)]
struct LogsArgs {
    /// The run id to print (matched exactly)
    run_id: String,
    /// Log files (text or JSON lines, `.gz` too); none or `-` reads standard input
    files: Vec<PathBuf>,
    /// Only lines of this trace id (8 hex, or the full 32)
    #[arg(long, value_name = "ID")]
    trace_id: Option<String>,
    /// Only lines at this level or more severe (trace, debug, info, warn, error)
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    level: Option<tracing::Level>,
    /// Print how many lines match instead of the lines
    #[arg(long, short = 'c')]
    count: bool,
}

fn parse_level(s: &str) -> Result<tracing::Level, String> {
    s.parse()
        .map_err(|_| format!("unknown level {s:?}: expected trace, debug, info, warn or error"))
}

impl LogsArgs {
    fn run(self) -> ExitCode {
        let mut query = match Query::new(&self.run_id) {
            Ok(q) => q,
            Err(e) => return usage_error(e),
        };
        if let Some(trace_id) = &self.trace_id {
            query = match query.trace_id(trace_id) {
                Ok(q) => q,
                Err(e) => return usage_error(e),
            };
        }
        if let Some(level) = self.level {
            query = query.min_level(level);
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        let mut matched = 0u64;
        let read = for_each_input(&self.files, |input| {
            matched += if self.count {
                query.count(input)?
            } else {
                query.search(input, &mut out)?
            };
            Ok(())
        });
        let flushed = if self.count {
            writeln!(out, "{matched}").and_then(|()| out.flush())
        } else {
            out.flush()
        };
        let ok = match (read, flushed) {
            (Err(_), _) | (_, Err(_)) => {
                return ExitCode::from(if matched > 0 { FOUND } else { NOT_FOUND })
            }
            (Ok(ok), Ok(())) => ok,
        };
        exit(ok, matched > 0)
    }
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("tracectx: {e}");
    ExitCode::from(ERROR)
}

fn exit(all_read: bool, found: bool) -> ExitCode {
    ExitCode::from(match (all_read, found) {
        (false, _) => ERROR,
        (true, true) => FOUND,
        (true, false) => NOT_FOUND,
    })
}

// === runs ===

#[derive(Debug, Args)]
struct RunsArgs {
    /// Log files (text or JSON lines, `.gz` too); none or `-` reads standard input
    files: Vec<PathBuf>,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

impl RunsArgs {
    fn run(self) -> ExitCode {
        let mut runs = Runs::new();
        let read = for_each_input(&self.files, |input| runs.read(input));
        let rows = runs.finish();
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = if self.json {
            serde_json::to_writer_pretty(&mut out, &rows)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            write_table(&mut out, &rows)
        }
        .and_then(|()| out.flush());
        match (read, written) {
            (Ok(ok), Ok(())) => exit(ok, !rows.is_empty()),
            _ => ExitCode::from(if rows.is_empty() { NOT_FOUND } else { FOUND }),
        }
    }
}

fn write_table(out: &mut impl Write, rows: &[RunSummary]) -> io::Result<()> {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.run_id.clone(),
                r.lines.to_string(),
                r.first.clone().unwrap_or_else(|| "-".into()),
                r.last.clone().unwrap_or_else(|| "-".into()),
                r.duration_secs
                    .map_or_else(|| "-".into(), |s| format!("{s:.6}s")),
                if r.trace_ids.is_empty() {
                    "-".into()
                } else {
                    r.trace_ids.join(",")
                },
                r.warn.to_string(),
                r.error.to_string(),
            ]
        })
        .collect();
    let header = [
        "RUN_ID",
        "LINES",
        "FIRST",
        "LAST",
        "DURATION",
        "TRACE_IDS",
        "WARN",
        "ERROR",
    ];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut line = |row: [&str; 8]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            // Numbers right-aligned, text left-aligned; no trailing spaces.
            let numeric = matches!(i, 1 | 6 | 7);
            match (numeric, i == 7) {
                (true, _) => text.push_str(&format!("{cell:>w$}")),
                (false, true) => text.push_str(cell),
                (false, false) => text.push_str(&format!("{cell:<w$}")),
            }
            if i < 7 {
                text.push_str("  ");
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(header)?;
    for row in &cells {
        line(std::array::from_fn(|i| row[i].as_str()))?;
    }
    Ok(())
}
