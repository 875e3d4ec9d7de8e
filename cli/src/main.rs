//! The `tracectx` command line.
//!
//! ```text
//! tracectx logs RUN_ID [FILE...] [--format TEMPLATE] [--trace-id ID] [--level LEVEL] [--count]
//!     [--raw] [--merge]
//! tracectx trace TRACE_ID [FILE...] [--format TEMPLATE] [--level LEVEL] [--count] [--raw]
//!     [--merge]
//! tracectx runs [FILE...] [--format TEMPLATE] [--json]
//! tracectx backtest --data FILE.csv [--strategy sma-cross] [--param NAME=VALUE]... [--long-only]
//!     [--cash C] [--commission F] [--spread F] [--slippage F] [--fractional-units]
//!     [--close-at-end] [--json] [--trades OUT.csv] [--equity OUT.csv] [--html OUT.html]
//!     [--log-file F]
//! tracectx sweep --data FILE.csv [--strategy sma-cross] --grid NAME=START:STOP:STEP...
//!     [--param NAME=VALUE]... [--constraint COND]... [--rank-by KEY] [--ascending] [--top N]
//!     [--concurrency N] [--shard K/N] [--output FILE.jsonl] [--html OUT.html] [--json]
//!     [--log-file F] (and the settings of backtest)
//! tracectx merge FILE.jsonl... [--rank-by KEY] [--ascending] [--top N] [--json]
//! tracectx strategies [--json]
//! ```
//!
//! Each subcommand is an `Args` struct with a `run` method returning the exit code; adding one
//! is a variant of [`Command`] and an arm in `main`. `logs`, `trace` and `runs` exit as grep
//! does: 0 something was found, 1 nothing was, 2 an error: usage; an input that could not be
//! read (the message names it; the other inputs are still read; a compressed input found
//! corrupt or cut short part-way is read up to the damage, and a file truncated while it is
//! read, as by copytruncate log rotation, up to the truncation: its whole lines before are
//! printed); or standard output that could not be written (the message says so; nothing more
//! is read). A closed
//! pipe (`| head`) is not an error: the output just ends, quietly. An input in which no line at
//! all is in a layout the reader knows (the default line, JSON, or the `--format` template) is
//! named on stderr, with the hint to pass its template (an empty one, as empty), and counts as
//! one where nothing was found. A line longer than 64 MiB is not a log line: it is skipped,
//! and the count of such lines is said on stderr. Files are read, never mapped in memory (a
//! mapped file truncated by another process kills the reader with SIGBUS): a plain file in
//! blocks by two threads, each searching the blocks it read; standard input and gzip read
//! ahead on one thread and searched on the other.
//!
//! Whatever tracectx prints that it did not write itself (log lines, run and trace ids read
//! from logs, file names) goes through the crate's one escaper, `tracectx::escape`: control
//! characters, line separators and bidirectional controls never reach the terminal as they
//! are. A log line that holds none (every line tracectx's formats write) is printed unchanged;
//! `logs --raw` prints every line byte for byte. `backtest`, `sweep` and `merge` exit 0
//! when they ran, 1 when the data, a parameter or every session fails (the message says what
//! and where), 2 on a usage error; a sweep stopped by SIGTERM or SIGINT exits 143 or 130, its
//! `--output` holding whole lines only, their count said. `merge` ranks the whole lines of a
//! shard whose last line was cut short (the shard stopped while writing it), names the cut
//! line and the shards short of sessions. Each command's `--help` ends with its exit status.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tracectx::TraceFutureExt;
use tracectx::escape;
use tracectx::logging::WorkerGuard;
use tracectx::logging::query::{self, LineFormat, LineParser, Query, RunSummary, Runs};
use tracectx_backtest::{
    BUILTIN_STRATEGIES, BacktestEngine, BacktestResult, BacktestSettings, Bars, BatchOptions,
    Builtin, Leaderboard, Named, ParamGrid, Params, RankBy, SessionRecord, Shard, SignalFn,
    Statistic, SweepReport, write_columns, write_ranked_table,
};

/// `eprintln!` that cannot panic: a closed or full standard error loses the message, never
/// the exit code.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

#[derive(Debug, Parser)]
#[command(
    name = "tracectx",
    version,
    about = "Backtests whose every log line names its run, and logs read back by run",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the lines of one run (text and JSON lines alike)
    Logs(LogsArgs),
    /// Print the lines of every run of one trace: a sweep's shards, a call chain's services
    Trace(TraceArgs),
    /// One row per run: lines, first and last timestamp, duration, trace ids, warnings, errors
    Runs(RunsArgs),
    /// Run one backtest session on a CSV file and print its statistics
    Backtest(BacktestArgs),
    /// Run a strategy over a parameter grid, sessions in parallel, and rank the results
    Sweep(SweepArgs),
    /// Rank the sessions of a sweep's shards (`sweep --shard K/N --output FILE`) as one sweep
    Merge(MergeArgs),
    /// List the strategies with their parameters, types and defaults
    Strategies(StrategiesArgs),
}

fn main() -> ExitCode {
    // First, before any thread starts: a strategy's panic fails its session (and is logged
    // under its run) instead of printing over the table or the progress bar.
    tracectx_backtest::quiet_strategy_panics();
    let cli = Cli::parse();
    match cli.command {
        Command::Logs(args) => args.run(),
        Command::Trace(args) => args.run(),
        Command::Runs(args) => args.run(),
        Command::Backtest(args) => args.run(),
        Command::Sweep(args) => args.run(),
        Command::Merge(args) => args.run(),
        Command::Strategies(args) => args.run(),
    }
}

/// The exit status of `logs`, as `--help` states it.
const LOGS_EXIT: &str = "Exit status: 0 when a line was found, 1 when none was, 2 on an error \
    (a bad argument, an input that could not be read, an output that could not be written), as grep.";

/// The exit status of `runs`, as `--help` states it.
const RUNS_EXIT: &str = "Exit status: 0 when a run was found, 1 when none was, 2 on an error \
    (a bad argument, an input that could not be read, an output that could not be written), as grep.";

/// The exit status of `backtest`, `sweep` and `merge`, as `--help` states it, given what
/// makes the command fail (a macro, for `concat!`).
macro_rules! ran_exit {
    ($why:literal) => {
        concat!(
            "Exit status: 0 when it ran, 1 when it could not (",
            $why,
            "; the reason on stderr), 2 when the command line does not parse."
        )
    };
}

/// Said after the options of `backtest` and `sweep`.
const SESSION_AFTER_HELP: &str = concat!(
    "`tracectx strategies` lists each strategy's parameters, their types and defaults.\n\n",
    ran_exit!("bad data, a parameter or grid refused, every session failed")
);

/// Said after the options of `sweep`.
const SWEEP_AFTER_HELP: &str = concat!(
    "`tracectx strategies` lists each strategy's parameters, their types and defaults.\n\n",
    ran_exit!(
        "bad data, a parameter or grid refused, every session failed, the --output \
        could not be written or was removed"
    ),
    "\nStopped by SIGTERM (a scheduler's time limit) or SIGINT (Ctrl-C): 143 or 130, the \
     --output's lines written whole and counted on stderr."
);

/// Said after the options of `merge`.
const MERGE_AFTER_HELP: &str = ran_exit!(
    "a file unreadable or not a shard's, shards of different sweeps or splits of the grid, a \
     combination read twice, every session failed"
);

/// Exit codes, as grep's.
const FOUND: u8 = 0;
const NOT_FOUND: u8 = 1;
const ERROR: u8 = 2;

/// Why reading the inputs stopped early.
enum Stop {
    /// Standard output is closed (`| head`): stop quietly.
    BrokenPipe,
    /// Writing standard output failed otherwise (a full disk): stop, and say so.
    Output(io::Error),
}

/// Standard output behind a buffer, remembering whether a write to it failed, so that an
/// error surfacing from a search is blamed on the output and not on the input being read.
struct Output {
    inner: io::StdoutLock<'static>,
    failed: bool,
}

impl Output {
    fn stdout() -> io::BufWriter<Self> {
        io::BufWriter::with_capacity(
            256 * 1024,
            Self {
                inner: io::stdout().lock(),
                failed: false,
            },
        )
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.failed |= r.is_err();
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.failed |= r.is_err();
        r
    }
}

/// Sorts an error from handling one input into the output's (it stops everything) or the
/// input's (reported, naming the input, and the next input is read).
fn blame(out: &io::BufWriter<Output>, e: io::Error) -> Result<io::Error, Stop> {
    if !out.get_ref().failed {
        Ok(e)
    } else if e.kind() == io::ErrorKind::BrokenPipe {
        Err(Stop::BrokenPipe)
    } else {
        Err(Stop::Output(e))
    }
}

/// A path as messages show it, unquoted: escaped as every text the program did not write
/// itself is ([`tracectx::escape`]), whatever bytes it holds. A message that quotes a path
/// writes the path's `{:?}` (which escapes the same, and quotes and backslashes too), never
/// this one's: its escapes would show with their backslashes doubled.
fn shown(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        escape::bytes(path.as_os_str().as_bytes()).to_string()
    }
    #[cfg(not(unix))]
    {
        escape::text(&path.to_string_lossy()).to_string()
    }
}

/// Writes a kept log line, and its newline, as a terminal can show it safely: unchanged when
/// it holds nothing to escape (every line tracectx's formats write), else escaped
/// ([`tracectx::escape`]): a JSON line with `\u` escapes inside its strings (the same JSON
/// value), any other line with `\u{..}` and `\x..` escapes. A CRLF line end is printed as it
/// is: a carriage return right before the newline cannot hide anything the line showed.
fn write_line(out: &mut impl Write, line: &[u8], parser: &LineParser) -> io::Result<()> {
    let (line, end): (_, &[u8]) = match line.strip_suffix(b"\r") {
        Some(line) => (line, b"\r\n"),
        None => (line, b"\n"),
    };
    if line.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        out.write_all(line)?;
    } else {
        let json = parser.parse(line).map(|s| s.format) == Some(LineFormat::Json);
        match std::str::from_utf8(line) {
            Ok(text) if json => out.write_all(escape::json(text).as_bytes())?,
            _ => write!(out, "{}", escape::bytes(line))?,
        }
    }
    out.write_all(end)
}

/// One input named on the command line.
enum Source<'a> {
    /// `-`, or no input named.
    Stdin,
    File(&'a Path),
}

impl<'a> Source<'a> {
    /// The input a path on the command line names (`-`: standard input), and its name in
    /// messages.
    fn named(path: &'a Path) -> (Self, String) {
        if path.as_os_str() == "-" {
            (Source::Stdin, "(standard input)".to_owned())
        } else {
            (Source::File(path), shown(path))
        }
    }

    /// The input as a stream (gzip decoded).
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        match self {
            Source::Stdin => query::decode(io::stdin()),
            Source::File(path) => query::open(path),
        }
    }

    /// Whether the input can be read once only: standard input, or a path that is not a
    /// regular file (a FIFO, `/dev/stdin`, `<(zcat app.log.gz)`); opened again, a pipe is
    /// empty, or waits for a writer that never comes.
    fn read_once(&self) -> bool {
        match self {
            Source::Stdin => true,
            Source::File(path) => std::fs::metadata(path).is_ok_and(|m| !m.is_file()),
        }
    }
}

/// Hands each input in turn (`-` or none: stdin) to `each`. An input that cannot be read is
/// reported on stderr, naming it, and the others are still read; an output error (`each` says
/// which errors are the output's) stops at once. Returns whether every input was read without
/// error.
fn for_each_input(
    files: &[PathBuf],
    mut each: impl FnMut(Source<'_>, &str) -> Result<(), Result<io::Error, Stop>>,
) -> Result<bool, Stop> {
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut ok = true;
    for path in files {
        let (source, name) = Source::named(path);
        match each(source, &name) {
            Ok(()) => {}
            Err(Err(stop)) => return Err(stop),
            Err(Ok(e)) => {
                say!("tracectx: {name}: {e}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

/// The exit code of `logs` or `runs`: grep's, from whether every input was read, whether
/// anything was found, and how writing the output went (a closed pipe ends quietly; any other
/// output error is reported as such and is exit 2).
fn finish(read: Result<bool, Stop>, written: io::Result<()>, found: bool) -> ExitCode {
    let failure = match (read, written) {
        (Err(stop), _) => Some(stop),
        (Ok(_), Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Some(Stop::BrokenPipe),
        (Ok(_), Err(e)) => Some(Stop::Output(e)),
        (Ok(all_read), Ok(())) => return exit(all_read, found),
    };
    match failure {
        Some(Stop::Output(e)) => {
            say!("tracectx: cannot write the output (standard output): {e}");
            ExitCode::from(ERROR)
        }
        _ => ExitCode::from(if found { FOUND } else { NOT_FOUND }),
    }
}

// === logs ===

/// The `--format` option of `logs` and `runs`.
#[derive(Debug, Args)]
struct FormatArg {
    /// The template the log was written with (the string given to `with_format`, such as
    /// "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}"); the
    /// default line and JSON lines are read in any case
    #[arg(long, value_name = "TEMPLATE")]
    format: Option<String>,
}

impl FormatArg {
    /// The reader of the lines: the default layout and JSON, and the `--format` template. A
    /// `--format` with no placeholder at all (`json`, `text`: a format's name, as other tools
    /// take one) is refused saying what the option takes.
    fn parser(&self) -> Result<LineParser, String> {
        let Some(template) = &self.format else {
            return Ok(LineParser::new());
        };
        // `{{` and `}}` are literal braces, not placeholders.
        if !template.replace("{{", "").replace("}}", "").contains('{') {
            return Err(format!(
                "--format {template:?} is not a log template: give the template the log was written \
                 with, such as \"[{{timestamp}}] [{{run_id}}] [{{trace_id}}] {{level}} - \
                 {{message}}\"; JSON lines and the default layout are read without --format"
            ));
        }
        LineParser::with_format(template).map_err(|e| e.to_string())
    }

    /// Says on stderr that `name` holds no line the reader knows: none at all, or none in a
    /// layout it reads.
    fn no_stamped_line(&self, name: &str, layout: Layout) {
        if layout == Layout::Empty {
            say!("tracectx: {name}: empty, no line to read");
            return;
        }
        match &self.format {
            None => say!(
                "tracectx: {name}: no line in tracectx's default layout or JSON; for a log \
                 written with another template, pass it: --format '<the with_format template>'"
            ),
            Some(template) => say!(
                "tracectx: {name}: no line in the template {template:?}, the default layout \
                 or JSON"
            ),
        }
    }
}

/// Reads through to `inner`, watching the lines go by until one is stamped (in a layout
/// `parser` reads): only the first lines of a normal log are looked at.
struct Watch<'p, R> {
    inner: R,
    parser: &'p LineParser,
    line: Vec<u8>,
    /// The line being gathered is longer than any stamped line is read: skip to its end.
    skipping: bool,
    stamped: bool,
    /// A byte other than white space went by.
    nonblank: bool,
}

/// What an input's lines were, as far as what is said of it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// At least one line in a layout the reader knows.
    Stamped,
    /// Lines, none in a layout the reader knows.
    Unknown,
    /// No line at all, or blank ones only.
    Empty,
}

/// Lines longer than this are not looked at by [`Watch`].
const WATCH_LINE: usize = 64 * 1024;

impl<'p, R: Read> Watch<'p, R> {
    fn new(inner: R, parser: &'p LineParser) -> Self {
        Self {
            inner,
            parser,
            line: Vec::new(),
            skipping: false,
            stamped: false,
            nonblank: false,
        }
    }

    /// This watch without looking at the lines: only whether a byte other than white space
    /// went by ([`nonblank`](Self::nonblank)), for a reader that parses every line itself.
    fn blank_only(mut self) -> Self {
        self.stamped = true;
        self
    }

    fn look(&mut self, mut bytes: &[u8]) {
        while !self.stamped && !bytes.is_empty() {
            let (piece, ends_line) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            if !self.skipping {
                if self.line.len() + piece.len() > WATCH_LINE {
                    self.skipping = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(piece);
                }
            }
            if ends_line {
                self.stamped = !self.skipping && self.parser.parse(&self.line).is_some();
                self.line.clear();
                self.skipping = false;
                bytes = &bytes[piece.len() + 1..];
            } else {
                bytes = &[];
            }
        }
    }

    /// Whether a stamped line went by (the last line, without a newline, included).
    fn saw_stamped(&self) -> bool {
        self.stamped || (!self.skipping && self.parser.parse(&self.line).is_some())
    }

    /// What the lines that went by were.
    fn layout(&self) -> Layout {
        if self.saw_stamped() {
            Layout::Stamped
        } else if self.nonblank {
            Layout::Unknown
        } else {
            Layout::Empty
        }
    }
}

impl<R: Read> Read for Watch<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.nonblank {
            self.nonblank = buf[..n].iter().any(|b| !b.is_ascii_whitespace());
        }
        if !self.stamped {
            self.look(&buf[..n]);
        }
        Ok(n)
    }
}

/// What the lines of the file `source` are: whether one is stamped (in a layout `parser`
/// reads); reads up to the first one. Not for an input read once only
/// ([`Source::read_once`]).
fn layout_of(source: &Source<'_>, parser: &LineParser) -> io::Result<Layout> {
    let mut watch = Watch::new(source.open()?, parser);
    let mut buf = vec![0u8; 64 * 1024];
    while !watch.stamped {
        match watch.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(watch.layout())
}

/// Says on stderr that `name` held lines too long to be log lines, which were skipped.
fn too_long(name: &str, lines: u64) {
    say!(
        "tracectx: {name}: skipped {lines} line{} longer than {} MiB",
        if lines == 1 { "" } else { "s" },
        query::MAX_LINE_LEN >> 20
    );
}

#[derive(Debug, Args)]
#[command(after_help = LOGS_EXIT)]
struct LogsArgs {
    /// The run id to print (matched exactly)
    run_id: String,
    #[command(flatten)]
    lines: LineArgs,
    /// Only lines of this trace id (8 hex, or the full 32)
    #[arg(long, value_name = "ID")]
    trace_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = LOGS_EXIT)]
struct TraceArgs {
    /// The trace id to print (8 hex as a line shows it, or the full 32 of a traceparent)
    trace_id: String,
    #[command(flatten)]
    lines: LineArgs,
}

/// What `logs` and `trace` read and how they print it.
#[derive(Debug, Args)]
struct LineArgs {
    /// Log files (text or JSON lines, `.gz` too); none or `-` reads standard input
    files: Vec<PathBuf>,
    #[command(flatten)]
    format: FormatArg,
    /// Only lines at this level or more severe (trace, debug, info, warn, error)
    #[arg(long, value_name = "LEVEL")]
    level: Option<String>,
    /// Print how many lines match instead of the lines
    #[arg(long, short = 'c')]
    count: bool,
    /// Print the lines byte for byte, control characters and all (by default, what could
    /// move the cursor or reorder a terminal line, which tracectx's own formats never write,
    /// is printed escaped)
    #[arg(long)]
    raw: bool,
    /// Interleave the lines of all the files by their timestamps, as one log (a run's or a
    /// trace's lines from the logs of several processes); each file's lines keep their order
    #[arg(long)]
    merge: bool,
    /// Accepted for compatibility: files are always read, never mapped in memory
    #[arg(long, hide = true)]
    no_mmap: bool,
}

fn parse_level(s: &str) -> Result<tracing::Level, String> {
    s.parse()
        .map_err(|_| format!("unknown level {s:?}: expected trace, debug, info, warn or error"))
}

/// Said after an id refused: where the ids of a log are found (typed from an example, a
/// placeholder such as `backtest_0193…` is not one).
const IDS_HINT: &str = "`tracectx runs FILE...` lists the run and trace ids a log holds";

impl LogsArgs {
    fn run(self) -> ExitCode {
        let mut query = match Query::new(&self.run_id) {
            Ok(q) => q,
            Err(e) => return usage_error(format_args!("{e} ({IDS_HINT})")),
        };
        if let Some(trace_id) = &self.trace_id {
            query = match query.trace_id(trace_id) {
                Ok(q) => q,
                Err(e) => return usage_error(format_args!("{e} ({IDS_HINT})")),
            };
        }
        self.lines.print(query)
    }
}

impl TraceArgs {
    fn run(self) -> ExitCode {
        // A template's lines are found by their trace only when they show it; one the
        // writer refuses is refused first, for its own reason.
        if let Err(e) = self.lines.format.parser() {
            return usage_error(e);
        }
        if let Some(template) = &self.lines.format.format {
            // `{{` and `}}` are literal braces, not placeholders.
            let placeholders = template.replace("{{", "").replace("}}", "");
            if !placeholders.contains("{trace_id}") {
                return usage_error(
                    "the --format template has no {trace_id}: its lines cannot be found by \
                     their trace (read them by run with `tracectx logs`)",
                );
            }
        }
        match Query::for_trace(&self.trace_id) {
            Ok(query) => self.lines.print(query),
            Err(e) => usage_error(format_args!("{e} ({IDS_HINT})")),
        }
    }
}

impl LineArgs {
    /// Prints (or counts) the lines `query` keeps of every input, as grep would.
    fn print(self, mut query: Query) -> ExitCode {
        if let Some(level) = &self.level {
            query = match parse_level(level) {
                Ok(level) => query.min_level(level),
                Err(e) => return usage_error(e),
            };
        }
        let parser = match self.format.parser() {
            Ok(parser) => parser,
            Err(e) => return usage_error(e),
        };
        query = query.with_parser(parser.clone());
        let mut out = Output::stdout();
        let mut matched = 0u64;
        let read = if self.merge && !self.count && self.files.len() > 1 {
            self.merged(&query, &parser, &mut out, &mut matched)
        } else {
            self.one_by_one(&query, &parser, &mut out, &mut matched)
        };
        // Lines are written only when they match: a search cut short by a failed write had
        // found some (its count is lost with the error).
        let found = matched > 0 || out.get_ref().failed;
        let written = match &read {
            // Nothing more can be written.
            Err(_) => Ok(()),
            Ok(_) if self.count => writeln!(out, "{matched}").and_then(|()| out.flush()),
            Ok(_) => out.flush(),
        };
        finish(read, written, found)
    }

    /// Prints (or counts) the kept lines of each input in turn, as grep does.
    fn one_by_one(
        &self,
        query: &Query,
        parser: &LineParser,
        out: &mut io::BufWriter<Output>,
        matched: &mut u64,
    ) -> Result<bool, Stop> {
        for_each_input(&self.files, |source, name| {
            let mut keep = |line: &[u8]| {
                *matched += 1;
                if self.count {
                    Ok(())
                } else {
                    self.write(out, line, parser)
                }
            };
            // A pipe (standard input, a FIFO, `<(zcat ..)`) can be read once only: watched
            // for stamped lines as it goes by.
            let once = source.read_once();
            let (found, watched) = match source {
                Source::File(path) if !once => (query.search_path(path, &mut keep), None),
                _ => {
                    let mut watch = Watch::new(source.open().map_err(Ok)?, parser);
                    let found = query.search_with(&mut watch, &mut keep);
                    (found, Some(watch.layout()))
                }
            };
            let found = match found {
                Ok(found) => found,
                Err(e) => return Err(blame(out, e)),
            };
            self.notices(&source, name, &found, watched, parser)
                .map_err(Ok)
        })
    }

    /// Writes a kept line: escaped (see [`write_line`]), or byte for byte with `--raw`.
    fn write(&self, out: &mut impl Write, line: &[u8], parser: &LineParser) -> io::Result<()> {
        if self.raw {
            out.write_all(line)?;
            out.write_all(b"\n")
        } else {
            write_line(out, line, parser)
        }
    }

    /// What a search of one input says beside its lines: lines too long to be log lines, and,
    /// when nothing was found, an empty log or one with no stamped line. `watched` is what
    /// the search saw of the lines, if it watched them; else the file is looked through once
    /// more.
    fn notices(
        &self,
        source: &Source<'_>,
        name: &str,
        found: &query::Found,
        watched: Option<Layout>,
        parser: &LineParser,
    ) -> io::Result<()> {
        if found.too_long > 0 {
            too_long(name, found.too_long);
        }
        if found.lines == 0 {
            let layout = match watched {
                Some(layout) => layout,
                // A pipe cannot be read again; it was watched.
                None if source.read_once() => Layout::Unknown,
                None => layout_of(source, parser)?,
            };
            if layout != Layout::Stamped {
                self.format.no_stamped_line(name, layout);
            }
        }
        Ok(())
    }

    /// `--merge`: the kept lines of all inputs interleaved by their timestamps (the earliest
    /// first; on a tie, the input named first), each input's lines in their order. Each input
    /// is searched on a thread of its own, at most [`MERGE_AHEAD`] kept lines ahead of the
    /// output, so memory stays bounded however long the logs. A line whose layout shows no
    /// timestamp goes with the line before it in its input.
    fn merged(
        &self,
        query: &Query,
        parser: &LineParser,
        out: &mut io::BufWriter<Output>,
        matched: &mut u64,
    ) -> Result<bool, Stop> {
        std::thread::scope(|scope| {
            let mut names = Vec::new();
            let mut lines = Vec::new();
            let mut searches = Vec::new();
            for path in &self.files {
                let (source, name) = Source::named(path);
                let (kept, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(MERGE_AHEAD);
                searches.push(scope.spawn(move || {
                    let mut watch = Watch::new(source.open()?, parser);
                    let found = query.search_with(&mut watch, |line| {
                        // The merge stopped (its output failed): so does the search.
                        kept.send(line.to_vec())
                            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
                    })?;
                    Ok::<_, io::Error>((source, found, watch.layout()))
                }));
                names.push(name);
                lines.push(receive);
            }
            // Each input's next line, keyed by its time (the time of the line before it in
            // that input when it shows none) and the input's place: the earliest pops first.
            let mut last = vec![i64::MIN; lines.len()];
            let mut pull = |k: usize| {
                let line = lines[k].recv().ok()?;
                if let Some(t) = parser.parse(&line).and_then(|s| s.timestamp_micros()) {
                    last[k] = t;
                }
                Some(std::cmp::Reverse((last[k], k, line)))
            };
            let mut heads: std::collections::BinaryHeap<_> =
                (0..names.len()).filter_map(&mut pull).collect();
            let mut stopped = None;
            while let Some(std::cmp::Reverse((_, k, line))) = heads.pop() {
                *matched += 1;
                if let Err(e) = self.write(out, &line, parser) {
                    stopped = Some(e);
                    break;
                }
                heads.extend(pull(k));
            }
            // No more lines are taken: searches still under way end at their next line.
            drop(lines);
            let mut all_read = true;
            for (search, name) in searches.into_iter().zip(&names) {
                let outcome = search
                    .join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
                if stopped.is_some() {
                    continue;
                }
                let reported = outcome.and_then(|(source, found, layout)| {
                    self.notices(&source, name, &found, Some(layout), parser)
                });
                if let Err(e) = reported {
                    say!("tracectx: {name}: {e}");
                    all_read = false;
                }
            }
            match stopped {
                Some(e) => blame(out, e).map_or_else(Err, |e| Err(Stop::Output(e))),
                None => Ok(all_read),
            }
        })
    }
}

/// How many kept lines the search of one input of `--merge` may run ahead of the output.
const MERGE_AHEAD: usize = 256;

/// Said when standard output could not be written (a closed pipe aside): exit 1.
fn stdout_failed(e: io::Error) -> ExitCode {
    failed(format!("cannot write standard output: {e}"))
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    say!("tracectx: {e}");
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
#[command(after_help = RUNS_EXIT)]
struct RunsArgs {
    /// Log files (text or JSON lines, `.gz` too); none or `-` reads standard input
    files: Vec<PathBuf>,
    #[command(flatten)]
    format: FormatArg,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

impl RunsArgs {
    fn run(self) -> ExitCode {
        let parser = match self.format.parser() {
            Ok(parser) => parser,
            Err(e) => return usage_error(e),
        };
        let mut runs = Runs::with_parser(parser.clone());
        let read = for_each_input(&self.files, |source, name| {
            let (before, skipped) = (runs.stamped_lines(), runs.too_long_lines());
            // `runs` reads every line itself: only whether any was not blank is watched.
            let mut watch = Watch::new(source.open().map_err(Ok)?, &parser).blank_only();
            runs.read(&mut watch).map_err(Ok)?;
            if runs.too_long_lines() > skipped {
                too_long(name, runs.too_long_lines() - skipped);
            }
            if runs.stamped_lines() == before {
                let layout = if watch.nonblank {
                    Layout::Unknown
                } else {
                    Layout::Empty
                };
                self.format.no_stamped_line(name, layout);
            }
            Ok(())
        });
        let rows = runs.finish();
        let mut out = Output::stdout();
        // Run and trace ids come from the logs, as any program may have written them.
        let written = if self.json {
            serde_json::to_string_pretty(&rows)
                .map_err(io::Error::from)
                .and_then(|json| writeln!(out, "{}", escape::json(&json)))
        } else {
            write_table(&mut out, &rows)
        }
        .and_then(|()| out.flush());
        finish(read, written, !rows.is_empty())
    }
}

fn write_table(out: &mut impl Write, rows: &[RunSummary]) -> io::Result<()> {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                escape::text(&r.run_id).to_string(),
                r.lines.to_string(),
                r.first.clone().unwrap_or_else(|| "-".into()),
                r.last.clone().unwrap_or_else(|| "-".into()),
                r.duration_secs
                    .map_or_else(|| "-".into(), |s| format!("{s:.6}s")),
                if r.trace_ids.is_empty() {
                    "-".into()
                } else if r.more_trace_ids {
                    format!("{},…", escape::text(&r.trace_ids.join(",")))
                } else {
                    escape::text(&r.trace_ids.join(",")).to_string()
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
            *w = (*w).max(cell.chars().count());
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

// === backtest and sweep: shared ===

/// Exit code of a backtest or sweep that failed (bad data, parameter or session).
const FAILED: u8 = 1;

/// Creates the output file at `path` before any session runs, so that a path that cannot be
/// written is refused at once rather than after the work (see [`check_outputs`] for the
/// paths refused before).
fn create_output(path: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("cannot write {path:?}: {e}"))
}

/// Refuses, before anything is opened, outputs that would destroy the input or each other:
/// an output that is the `--data` file, two outputs that are one file (the same path, a link
/// to it), and `-` (standard output holds the command's own report). `outputs` pairs each
/// option with its path, if given.
fn check_outputs(data: &Path, outputs: &[(&str, Option<&Path>)]) -> Result<(), String> {
    let input = FileId::of(data);
    let mut seen: Vec<(&str, FileId)> = Vec::new();
    for &(option, path) in outputs {
        let Some(path) = path else { continue };
        if path == Path::new("-") {
            return Err(format!(
                "{option} -: give a file name (standard output holds the report)"
            ));
        }
        let Some(id) = FileId::of(path) else { continue };
        if input.as_ref() == Some(&id) {
            return Err(format!(
                "{path:?} is the --data file: writing it would destroy the input"
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, seen)| *seen == id) {
            return Err(format!(
                "{other} and {option} name the same file {path:?}: one would overwrite the other"
            ));
        }
        seen.push((option, id));
    }
    Ok(())
}

/// What makes two paths one file: its device and inode when it exists, else its directory's
/// canonical path and its name.
#[derive(PartialEq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        if let Ok(meta) = std::fs::metadata(path) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                return Some(FileId::Inode(meta.dev(), meta.ino()));
            }
            #[cfg(not(unix))]
            {
                let _ = meta;
                return std::fs::canonicalize(path).ok().map(FileId::Path);
            }
        }
        let name = path.file_name()?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::canonicalize(dir)
            .ok()
            .map(|dir| FileId::Path(dir.join(name)))
    }
}

/// The inputs `backtest` and `sweep` share: data, strategy, fixed parameters, settings, log.
#[derive(Debug, Args)]
struct SessionArgs {
    /// Bars as CSV: a date or time column (or a date and a time-of-day column), open, high,
    /// low, close, optionally volume (`-` reads standard input)
    #[arg(long, value_name = "FILE.csv")]
    data: PathBuf,
    /// The strategy (`tracectx strategies` lists them with their parameters)
    #[arg(long, default_value = "sma-cross")]
    strategy: String,
    /// A strategy parameter, NAME=VALUE (repeatable): --param fast=10 --param slow=20;
    /// parameters left out take their defaults (`tracectx strategies` lists them)
    #[arg(long = "param", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    params: Vec<String>,
    /// Long only: exit on the sell signal instead of going short (sets long_only=true)
    #[arg(long)]
    long_only: bool,
    /// Starting cash
    #[arg(long, default_value_t = 10_000.0, allow_negative_numbers = true)]
    cash: f64,
    /// Commission per fill, as a fraction of its value (0.002 is 0.2%; negative for a rebate)
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    commission: f64,
    /// Bid-ask spread as a fraction of the price, paid on entries
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    spread: f64,
    /// Slippage as a fraction of the price, on every fill
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    slippage: f64,
    /// Size entries in fractional units instead of whole units
    #[arg(long)]
    fractional_units: bool,
    /// Close trades still open at the last close
    #[arg(long)]
    close_at_end: bool,
    /// Append stamped log lines (INFO and above, or what RUST_LOG selects) to this file; read
    /// one run back with `tracectx logs RUN_ID FILE`
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
}

/// What a session needs, read from the arguments.
struct Inputs {
    data: Arc<Bars>,
    strategy: Named<SignalFn>,
    builtin: &'static Builtin,
    /// The parameters given (and `long_only`), their names checked.
    params: Params,
    engine: BacktestEngine,
}

impl SessionArgs {
    /// The strategy, the parameters given (names checked) and the settings, before any data
    /// is read.
    fn strategy_and_params(&self) -> Result<(&'static Builtin, Params), String> {
        let builtin = Builtin::find(&self.strategy).ok_or_else(|| {
            format!(
                "unknown strategy {:?}: expected one of {} (`tracectx strategies` lists them)",
                self.strategy,
                BUILTIN_STRATEGIES.join(", ")
            )
        })?;
        // A parameter set twice is refused: which one would run is not for the reader of
        // the command to guess.
        let mut params = Params::new();
        for assignment in &self.params {
            let one = Params::from_assignments([assignment]).map_err(|e| e.to_string())?;
            for (name, value) in one.iter() {
                if params.get(name).is_some() {
                    return Err(format!("--param {name} is given twice: give it once"));
                }
                params.insert(name, value.clone());
            }
        }
        if self.long_only {
            if params.get("long_only").is_some() {
                return Err(
                    "--long-only and --param long_only both set long_only: give one".into(),
                );
            }
            params.insert("long_only", true);
        }
        builtin
            .check_names(params.iter().map(|(k, _)| k))
            .map_err(|e| e.to_string())?;
        // A fixed value of the wrong kind would fail every session: refused once.
        for (name, value) in params.iter() {
            if let Some(spec) = builtin.params.iter().find(|p| p.name == name) {
                spec.check_kind(value)
                    .map_err(|e| format!("{e} (see `tracectx strategies`)"))?;
            }
        }
        Ok((builtin, params))
    }

    fn inputs(&self) -> Result<Inputs, String> {
        let (builtin, params) = self.strategy_and_params()?;
        let settings = BacktestSettings::new(self.cash)
            .with_commission(self.commission)
            .with_spread(self.spread)
            .with_slippage(self.slippage)
            .with_fractional_units(self.fractional_units)
            .with_close_at_end(self.close_at_end);
        settings.validate().map_err(|e| e.to_string())?;
        let data = if self.data == Path::new("-") {
            Bars::from_csv_reader(io::stdin().lock()).map_err(|e| format!("standard input: {e}"))?
        } else {
            Bars::from_csv_path(&self.data).map_err(|e| e.to_string())?
        };
        Ok(Inputs {
            data: Arc::new(data),
            strategy: Named::new(self.strategy.clone(), builtin.signals),
            builtin,
            params,
            engine: BacktestEngine::new(settings),
        })
    }
}

/// Installs the stamping subscriber: INFO and above to `log_file` through a non-blocking
/// writer (the guard, dropped before exit, writes every line), else warnings and errors on
/// stderr, the engine's own left out: a failed session's error is what the command prints,
/// once (`RUST_LOG` overrides the level and the filter).
fn init_logging(log_file: Option<&Path>) -> Result<Option<WorkerGuard>, String> {
    let builder = tracectx::logging::builder();
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    format!("cannot open log file {:?}: {e}", path.display().to_string())
                })?;
            let (writer, guard) = tracectx::logging::NonBlocking::builder()
                .sink_name(format!("log file {}", shown(path)))
                .finish(file)
                .map_err(|e| e.to_string())?;
            let builder = builder.with_writer(writer);
            let builder = if std::env::var_os("RUST_LOG").is_some() {
                builder
            } else {
                builder.with_level(tracing::Level::INFO)
            };
            builder.try_init().map_err(|e| e.to_string())?;
            Ok(Some(guard))
        }
        None => {
            let builder = builder.with_writer(io::stderr);
            let builder = if std::env::var_os("RUST_LOG").is_some() {
                builder
            } else {
                builder.with_env_filter("warn,tracectx_backtest=off")
            };
            builder.try_init().map_err(|e| e.to_string())?;
            Ok(None)
        }
    }
}

/// Writes the log lines still queued and stops the log writer; a log file that did not take
/// every line makes a command that succeeded fail, saying how many were lost.
fn finish_logging(guard: Option<WorkerGuard>, file: Option<&Path>, code: ExitCode) -> ExitCode {
    let (Some(guard), Some(file)) = (guard, file) else {
        return code;
    };
    let stats = guard.finish();
    if stats.lost() == 0 {
        return code;
    }
    say!(
        "tracectx: log file {}: not every line was written: {stats}",
        shown(file)
    );
    if code == ExitCode::SUCCESS {
        ExitCode::from(FAILED)
    } else {
        code
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // Sessions run on the blocking pool; one thread drives them. The IO driver receives the
    // signals that stop a sweep.
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn failed(e: impl std::fmt::Display) -> ExitCode {
    say!("tracectx: {e}");
    ExitCode::from(FAILED)
}

/// A new run (`<prefix>_<suffix>`) in the trace this process was started in (`TRACEPARENT`,
/// `TRACESTATE`, `BAGGAGE` in its environment, as a launcher or a job scheduler sets them),
/// its parent span the launcher's; `None` outside any. A `TRACEPARENT` that cannot be read
/// is said on stderr (the run then starts a trace of its own), not followed silently.
fn launcher_run(prefix: &str) -> Option<tracectx::TraceContext> {
    match tracectx::propagation::extract_env() {
        Some(launcher) => Some(match tracectx::RunId::generate(prefix) {
            Ok(run) => launcher.child_for_run(run),
            Err(_) => launcher.child(),
        }),
        None => {
            if let Some(value) = std::env::var_os("TRACEPARENT") {
                let reason = match value.to_str() {
                    Some(value) => tracectx::propagation::TraceParent::parse(value)
                        .err()
                        .map_or_else(|| "it was not read".to_owned(), |e| e.to_string()),
                    None => "it is not UTF-8".to_owned(),
                };
                say!(
                    "tracectx: TRACEPARENT ignored ({reason}): this run starts a trace of its own"
                );
            }
            None
        }
    }
}

// === strategies ===

#[derive(Debug, Args)]
struct StrategiesArgs {
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

impl StrategiesArgs {
    fn run(self) -> ExitCode {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = if self.json {
            let list: Vec<serde_json::Value> = Builtin::ALL
                .iter()
                .map(|b| {
                    let params: Vec<serde_json::Value> = b
                        .params
                        .iter()
                        .map(|p| {
                            serde_json::json!({
                                "name": p.name,
                                "type": p.kind.to_string(),
                                "default": p.default_value(),
                                "description": p.description,
                            })
                        })
                        .collect();
                    serde_json::json!({"name": b.name, "summary": b.summary, "params": params})
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(list))
        } else {
            write_strategies(&mut out)
        }
        .and_then(|()| out.flush());
        match written {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => stdout_failed(e),
            _ => ExitCode::SUCCESS,
        }
    }
}

fn write_strategies(out: &mut impl Write) -> io::Result<()> {
    for (i, b) in Builtin::ALL.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}: {}", b.name, b.summary)?;
        let mut rows = vec![vec![
            "  PARAM".to_owned(),
            "TYPE".to_owned(),
            "DEFAULT".to_owned(),
            "DESCRIPTION".to_owned(),
        ]];
        for p in b.params {
            rows.push(vec![
                format!("  {}", p.name),
                p.kind.to_string(),
                p.default.unwrap_or("(required)").to_owned(),
                p.description.to_owned(),
            ]);
        }
        write_columns(out, &rows, 4)?;
    }
    writeln!(
        out,
        "\nSet one with --param NAME=VALUE, or sweep it with --grid NAME=START:STOP:STEP (numbers)\n\
         or --grid NAME=V1,V2,... (any type)."
    )
}

// === backtest ===

#[derive(Debug, Args)]
#[command(after_help = SESSION_AFTER_HELP)]
struct BacktestArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Print one JSON object {"stats", "trades", "open_trades", "metadata"} instead of a table
    #[arg(long)]
    json: bool,
    /// Write the closed trades to this CSV file
    #[arg(long, value_name = "OUT.csv")]
    trades: Option<PathBuf>,
    /// Write the equity curve (date,equity per bar) to this CSV file
    #[arg(long, value_name = "OUT.csv")]
    equity: Option<PathBuf>,
    /// Write a self-contained HTML report (equity, drawdown, price with trades, statistics)
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
}

impl BacktestArgs {
    fn run(self) -> ExitCode {
        let outputs = [
            ("--log-file", self.session.log_file.as_deref()),
            ("--trades", self.trades.as_deref()),
            ("--equity", self.equity.as_deref()),
            ("--html", self.html.as_deref()),
        ];
        if let Err(e) = check_outputs(&self.session.data, &outputs) {
            return failed(e);
        }
        let guard = match init_logging(self.session.log_file.as_deref()) {
            Ok(guard) => guard,
            Err(e) => return failed(e),
        };
        let code = self.session_and_report();
        // Every accepted log line is in the file before the process exits, or said lost.
        finish_logging(guard, self.session.log_file.as_deref(), code)
    }

    fn session_and_report(&self) -> ExitCode {
        let inputs = match self.session.inputs() {
            Ok(inputs) => inputs,
            Err(e) => return failed(e),
        };
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return failed(e),
        };
        let Inputs {
            data,
            strategy,
            builtin,
            params,
            engine,
        } = inputs;
        let mut outputs =
            [&self.trades, &self.equity, &self.html].map(|path| path.as_deref().map(create_output));
        for output in &mut outputs {
            if let Some(Err(e)) = output {
                return failed(std::mem::take(e));
            }
        }
        let [trades_file, equity_file, html_file] =
            outputs.map(|output| output.and_then(Result::ok));
        // Every parameter, the defaults filled in: what ran is what the result says.
        let params = match builtin.check(&params) {
            Ok(params) => params,
            Err(e) => return failed(e),
        };
        let session = engine.run_realistic(&data, strategy, params);
        // Inside a launcher's trace, the session is a run of its own in that trace.
        let result = match launcher_run("backtest") {
            Some(ctx) => rt.block_on(session.in_trace_context(ctx)),
            None => rt.block_on(session),
        };
        let result = match result {
            Ok(result) => result,
            Err(e) => return failed(e),
        };
        // Each file is written before the statistics, which are printed whatever became of
        // it: a file that could not be written costs that file, not the session's figures.
        let html = |file| {
            let mut w = io::BufWriter::new(file);
            result.write_html(&data, &mut w).and_then(|()| w.flush())
        };
        let written = [
            (&self.trades, trades_file.map(|f| write_trades(f, &result))),
            (
                &self.equity,
                equity_file.map(|f| write_equity(f, &data, &result)),
            ),
            (&self.html, html_file.map(html)),
        ];
        let mut file_failed = None;
        for (path, written) in written {
            if let (Some(path), Some(Err(e))) = (path, written) {
                say!("tracectx: cannot write {path:?}: {e}");
                file_failed = Some(ExitCode::from(FAILED));
            }
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = if self.json {
            writeln!(out, "{}", result.to_json())
        } else {
            write_stats(&mut out, &result)
        }
        .and_then(|()| out.flush());
        match written {
            Ok(()) => file_failed.unwrap_or(ExitCode::SUCCESS),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                file_failed.unwrap_or(ExitCode::SUCCESS)
            }
            Err(e) => stdout_failed(e),
        }
    }
}

fn write_stats(out: &mut impl Write, result: &BacktestResult) -> io::Result<()> {
    let m = &result.metadata;
    writeln!(
        out,
        "run {}  trace {}  strategy {} {}  bars {}  data {}",
        m.run_id.as_deref().unwrap_or("-"),
        m.trace_id.map(|t| t.short()).as_deref().unwrap_or("-"),
        m.strategy,
        m.params,
        m.bars,
        m.data_fingerprint
    )?;
    let rows: Vec<Vec<String>> = Statistic::ALL
        .iter()
        .map(|&statistic| vec![statistic.label().to_owned(), result.stats.format(statistic)])
        .collect();
    write_columns(out, &rows, 1)?;
    if !result.open_trades.is_empty() {
        writeln!(out, "open_trades  {}", result.open_trades.len())?;
    }
    Ok(())
}

fn write_trades(file: std::fs::File, result: &BacktestResult) -> io::Result<()> {
    let mut w = io::BufWriter::new(file);
    writeln!(
        w,
        "size,entry_bar,exit_bar,entry_price,exit_price,entry_time,exit_time,pnl,return_frac,commission,duration_secs"
    )?;
    for t in &result.trades {
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{}",
            t.size,
            t.entry_bar,
            t.exit_bar,
            t.entry_price,
            t.exit_price,
            t.entry_time,
            t.exit_time,
            t.pnl,
            t.return_frac,
            t.commission,
            t.duration_secs
        )?;
    }
    w.flush()
}

fn write_equity(file: std::fs::File, data: &Bars, result: &BacktestResult) -> io::Result<()> {
    let mut w = io::BufWriter::new(file);
    writeln!(w, "date,equity")?;
    for (&t, e) in data.timestamps().iter().zip(&result.equity) {
        writeln!(w, "{},{e}", tracectx_backtest::Timestamp::from_micros(t))?;
    }
    w.flush()
}

// === sweep ===

#[derive(Debug, Args)]
#[command(after_help = SWEEP_AFTER_HELP)]
struct SweepArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// A parameter axis, NAME=START:STOP:STEP (inclusive) or NAME=V1,V2,... (repeatable)
    #[arg(
        long = "grid",
        value_name = "NAME=SPEC",
        required = true,
        allow_hyphen_values = true
    )]
    grid: Vec<String>,
    /// Skip the combinations that break a condition: comparisons of parameters and numbers
    /// joined by `,` ('fast<slow', 'fast>=5, slow<=200'); repeatable
    #[arg(long, value_name = "COND", allow_hyphen_values = true)]
    constraint: Vec<String>,
    /// Run only shard K of N of the grid (the same part on every machine); merge the shards'
    /// --output files with `tracectx merge`
    #[arg(
        long,
        value_name = "K/N",
        value_parser = parse_shard,
        allow_hyphen_values = true
    )]
    shard: Option<Shard>,
    /// Write every session's result as one JSON line, as it finishes, to this file (a write
    /// that fails stops the sweep)
    #[arg(long, value_name = "FILE.jsonl")]
    output: Option<PathBuf>,
    /// The statistic to rank by (a key of `backtest --json`'s stats)
    #[arg(long, default_value = "sharpe", value_parser = parse_statistic)]
    rank_by: Statistic,
    /// Rank the lowest value first
    #[arg(long)]
    ascending: bool,
    /// How many of the best sessions to show (and keep in memory)
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    top: usize,
    /// Sessions run at once (default: one per core)
    #[arg(
        long,
        value_name = "N",
        value_parser = parse_at_least_one,
        allow_negative_numbers = true
    )]
    concurrency: Option<usize>,
    /// Print the ranked sessions as one JSON object instead of a table
    #[arg(long)]
    json: bool,
    /// Write a self-contained HTML page: the ranked statistic over the first two grid axes
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
}

/// The one place where text becomes the [`Statistic`] to rank by; an unknown name's error
/// lists the known ones. The data's start, end and duration are refused: every session of a
/// sweep has the same, so a ranking by them would be the grid's order under another name.
fn parse_statistic(s: &str) -> Result<Statistic, String> {
    let statistic: Statistic = s
        .parse()
        .map_err(|e: tracectx_backtest::UnknownStatistic| e.to_string())?;
    match statistic {
        Statistic::Start | Statistic::End | Statistic::DurationSecs => Err(format!(
            "every session of a sweep has the same {statistic} (the data's): rank by a \
             statistic of the results, such as sharpe or return_pct"
        )),
        _ => Ok(statistic),
    }
}

fn parse_at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("expected 1 or more".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
        .map_err(|e: tracectx_backtest::GridError| e.to_string())
}

/// The most failures a sweep keeps for its JSON output; each is printed as it happens.
const KEEP_FAILURES: usize = 100;

/// The most distinct causes of failure a sweep counts instead of printing again (beyond,
/// every failure is printed).
const SAID_CAUSES: usize = 100;

/// How long a finished session's line may wait in `sweep --output`'s buffer.
const OUTPUT_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// The longest line `tracectx merge` reads: a session record is a few kilobytes.
const MAX_RECORD_LINE: usize = SessionRecord::MAX_JSON_LINE;

impl SweepArgs {
    fn run(self) -> ExitCode {
        let outputs = [
            ("--log-file", self.session.log_file.as_deref()),
            ("--output", self.output.as_deref()),
            ("--html", self.html.as_deref()),
        ];
        if let Err(e) = check_outputs(&self.session.data, &outputs) {
            return failed(e);
        }
        let guard = match init_logging(self.session.log_file.as_deref()) {
            Ok(guard) => guard,
            Err(e) => return failed(e),
        };
        let code = self.sweep_and_report();
        finish_logging(guard, self.session.log_file.as_deref(), code)
    }

    fn grid(&self, builtin: &Builtin, fixed: &Params) -> Result<ParamGrid, String> {
        let mut grid = ParamGrid::new();
        for (name, value) in fixed.iter() {
            grid = grid.fixed(name, value.clone());
        }
        for axis in &self.grid {
            let before: Vec<String> = grid.names().map(str::to_owned).collect();
            grid = grid.parse_axis(axis).map_err(|e| e.to_string())?;
            // An axis of a name already swept or fixed would replace it unseen: refused.
            let name = axis.split_once('=').map_or("", |(name, _)| name.trim());
            if before.iter().any(|b| b == name) {
                return Err(if fixed.get(name).is_some() {
                    format!(
                        "{name} is both fixed (--param or --long-only) and swept (--grid): give one"
                    )
                } else {
                    format!("--grid {name} is given twice: give one axis of all its values")
                });
            }
        }
        builtin
            .check_names(grid.names())
            .map_err(|e| e.to_string())?;
        // A value of the wrong kind would fail every session it is in, one error each: the
        // grid is refused once instead, naming the axis.
        for (a, (name, len)) in grid.axes().enumerate() {
            let Some(spec) = builtin.params.iter().find(|p| p.name == name) else {
                continue;
            };
            // Named as written: in `fast=5:50:2.5` every value is a float, the first one too.
            let written = self
                .grid
                .iter()
                .rfind(|a| a.split_once('=').is_some_and(|(n, _)| n.trim() == name))
                .map_or(name, String::as_str);
            for value in (0..len).filter_map(|k| grid.axis_value(a, k)) {
                spec.check_kind(&value).map_err(|e| {
                    format!("grid axis {written:?}: {e} (see `tracectx strategies`)")
                })?;
            }
        }
        // An axis of one value (`fast=7`, or a range mistyped `fast=5-50`) is fixed in the
        // grid, not an axis: checked the same way, in any combination.
        let swept: Vec<&str> = grid.axes().map(|(name, _)| name).collect();
        if let Some(any) = grid.combinations().next() {
            for axis in &self.grid {
                let name = axis.split_once('=').map_or("", |(name, _)| name.trim());
                let spec = builtin.params.iter().find(|p| p.name == name);
                if let (false, Some(spec), Some(value)) =
                    (swept.contains(&name), spec, any.get(name))
                {
                    spec.check_kind(value).map_err(|e| {
                        format!("grid axis {axis:?}: {e} (see `tracectx strategies`)")
                    })?;
                }
            }
        }
        // Every parameter left out runs at its default: fixed in the grid, so that the
        // results show what ran (as `backtest` does) and a constraint may name it (`fast<slow`
        // with only `fast` swept).
        let named: Vec<String> = grid.names().map(str::to_owned).collect();
        for spec in builtin.params {
            if let Some(value) = spec.default_value() {
                if !named.iter().any(|n| n == spec.name) {
                    grid = grid.fixed(spec.name, value);
                }
            }
        }
        for constraint in &self.constraint {
            grid = grid
                .parse_constraint(constraint)
                .map_err(|e| e.to_string())?;
        }
        if let Some(shard) = self.shard {
            grid = grid.shard(shard);
        }
        Ok(grid)
    }

    fn sweep_and_report(&self) -> ExitCode {
        let (builtin, fixed) = match self.session.strategy_and_params() {
            Ok(found) => found,
            Err(e) => return failed(e),
        };
        let grid = match self.grid(builtin, &fixed) {
            Ok(grid) => grid,
            Err(e) => return failed(e),
        };
        if !self.constraint.is_empty() && grid.checked_len().is_ok() {
            let all = grid.clone().shard(Shard::ALL);
            if all.selected() == 0 {
                return failed(format!(
                    "the constraints leave none of the grid's {} combinations to run",
                    all.len()
                ));
            }
        }
        let inputs = match self.session.inputs() {
            Ok(inputs) => inputs,
            Err(e) => return failed(e),
        };
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return failed(e),
        };
        if self.html.is_some() && grid.axes().next().is_none() {
            return failed(
                "--html draws the ranked statistic over the grid's axes: give a --grid axis \
                 of two or more values",
            );
        }
        let output = match &self.output {
            Some(path) => match create_output(path) {
                Ok(file) => Some(Arc::new(std::sync::Mutex::new(io::BufWriter::new(file)))),
                Err(e) => return failed(e),
            },
            None => None,
        };
        let html_file = match &self.html {
            Some(path) => match create_output(path) {
                Ok(file) => Some(file),
                Err(e) => return failed(e),
            },
            None => None,
        };
        let rank_by = RankBy::new(self.rank_by);
        let rank_by = if self.ascending {
            rank_by.ascending()
        } else {
            rank_by
        };
        let mut options = BatchOptions::new()
            .keep_equity(false)
            .keep_top(self.top)
            .keep_failures(KEEP_FAILURES)
            .keep_heatmap(self.html.is_some());
        if let Some(n) = self.concurrency {
            options = options.concurrency(n);
        }
        let concurrency = options.get_concurrency();
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(grid.selected() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} sweep [{bar:40}] {pos}/{len} sessions  {elapsed_precise}  eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        let write_error = Arc::new(std::sync::Mutex::new(None::<io::Error>));
        // Told when the output fails: the sessions after it would be written nowhere, so the
        // sweep stops. And how many sessions had finished by then.
        let output_failed = Arc::new(tokio::sync::Notify::new());
        let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // The causes of failed sessions said so far, and how many sessions failed of each.
        let causes = Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
        // What every shard of this sweep writes on each line, so that a merge of shards of
        // different sweeps is refused.
        // And how many sessions the whole sweep runs, so that a merge missing a shard says so.
        // And the shard and its size, so that it names a shard missing or unfinished.
        let sweep_sessions = grid.clone().shard(Shard::ALL).selected();
        let shard = grid.get_shard();
        let shard_sessions = output.as_ref().map(|_| grid.selected());
        let fingerprint = SessionRecord::sweep_fingerprint(
            &inputs.data,
            &tracectx_backtest::Strategy::name(&inputs.strategy),
            &grid,
            inputs.engine.settings(),
        );
        {
            let (bar, output, write_error) = (bar.clone(), output.clone(), write_error.clone());
            let (output_failed, finished) = (output_failed.clone(), finished.clone());
            let written = written.clone();
            let causes = causes.clone();
            let mut flushed_at = std::time::Instant::now();
            options = options.on_progress(move |p| {
                // Each failure as it happens, once; a cause already said (a parameter every
                // session rejects) is counted and summed up at the end instead.
                if let Err(e) = p.outcome {
                    let cause = e.kind().to_string();
                    let mut causes = causes.lock().unwrap_or_else(|e| e.into_inner());
                    let new = match causes.iter_mut().find(|(c, _)| *c == cause) {
                        Some((_, n)) => {
                            *n += 1;
                            false
                        }
                        None => {
                            if causes.len() < SAID_CAUSES {
                                causes.push((cause, 1));
                            }
                            true
                        }
                    };
                    if new {
                        match &bar {
                            Some(bar) => bar.println(format!("tracectx: {e}")),
                            None => say!("tracectx: {e}"),
                        }
                    }
                }
                finished.fetch_max(p.done, std::sync::atomic::Ordering::Relaxed);
                if let (Some(output), Some(shard_sessions)) = (&output, shard_sessions) {
                    let mut line = SessionRecord::from_progress(p)
                        .with_sweep_fingerprint(fingerprint.clone())
                        .with_sweep_sessions(sweep_sessions)
                        .with_shard(shard, shard_sessions)
                        .to_json_line();
                    line.push('\n');
                    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                    // In the file within a fifth of a second of the session's end (a job
                    // stopped by its scheduler keeps what it finished), without a write call
                    // per session; the line and its newline in one write, so that the
                    // buffer never leaves a record without its end in the file.
                    let result = out.write_all(line.as_bytes()).and_then(|()| {
                        if flushed_at.elapsed() < OUTPUT_FLUSH_EVERY {
                            return Ok(());
                        }
                        flushed_at = std::time::Instant::now();
                        out.flush()
                    });
                    match result {
                        Ok(()) => {
                            written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => {
                            let mut first = write_error.lock().unwrap_or_else(|e| e.into_inner());
                            if first.is_none() {
                                *first = Some(e);
                                output_failed.notify_one();
                            }
                        }
                    }
                }
                if let Some(bar) = &bar {
                    bar.set_position(p.done as u64);
                }
            });
        }
        let sweep = inputs
            .engine
            .sweep(&inputs.data, inputs.strategy, &grid, rank_by, options);
        // Inside a launcher's trace (a scheduler's job array), this shard is a run of its own
        // in that trace.
        // Stopped by its scheduler (SIGTERM: a time limit, `scancel`) or by Ctrl-C, the
        // sweep ends as when its output fails: the lines written are whole and said.
        let signals = {
            let _rt = rt.enter();
            StopSignals::new()
        };
        let report = match launcher_run("sweep") {
            Some(shard) => rt.block_on(until(
                sweep.in_trace_context(shard),
                &output_failed,
                signals,
            )),
            None => rt.block_on(until(sweep, &output_failed, signals)),
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let report = match report {
            Ok(report) => Some(report),
            Err(Stopped::Output) => None,
            Err(Stopped::Signal(name, code)) => {
                // The sweep, and its progress callback with it, was dropped by `until`: no
                // line comes after this flush.
                let flushed = output
                    .as_ref()
                    .map(|output| output.lock().unwrap_or_else(|e| e.into_inner()).flush());
                let done = finished.load(std::sync::atomic::Ordering::Relaxed);
                let total = shard_sessions.unwrap_or_else(|| grid.selected());
                let again = if shard == Shard::ALL {
                    "run the sweep again".to_owned()
                } else {
                    format!("run shard {shard} again")
                };
                match (&self.output, flushed) {
                    (Some(path), Some(Ok(()))) => say!(
                        "tracectx: stopped by {name} after {done} of {total} sessions: {path:?} \
                         holds the {} written, whole lines only; {again} to have them all",
                        written.load(std::sync::atomic::Ordering::Relaxed)
                    ),
                    (Some(path), Some(Err(e))) => say!(
                        "tracectx: stopped by {name} after {done} of {total} sessions, and \
                         cannot write {path:?}: {e}"
                    ),
                    _ => say!("tracectx: stopped by {name} after {done} of {total} sessions"),
                }
                return ExitCode::from(code);
            }
        };
        let Some(report) = report else {
            // Dropped: the workers stop after the session each is running.
            let e = write_error.lock().unwrap_or_else(|e| e.into_inner()).take();
            let path = self.output.as_deref().unwrap_or(Path::new(""));
            return failed(format!(
                "cannot write {path:?}: {}: the sweep stopped after {} of {} sessions",
                e.map_or_else(|| "failed".to_owned(), |e| e.to_string()),
                finished.load(std::sync::atomic::Ordering::Relaxed),
                shard_sessions.unwrap_or_else(|| grid.selected())
            ));
        };
        for (cause, n) in causes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if *n > 1 {
                say!("tracectx: {n} sessions failed with: {cause}");
            }
        }
        if let (Some(path), Some(output)) = (&self.output, output) {
            let flushed = output.lock().unwrap_or_else(|e| e.into_inner()).flush();
            let error = write_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map_or(flushed, Err);
            if let Err(e) = error {
                return failed(format!("cannot write {path:?}: {e}"));
            }
            // A file removed (its directory too) or replaced while written: its lines went
            // to a file no name reaches.
            if let Err(e) = still_named(
                path,
                output.lock().unwrap_or_else(|e| e.into_inner()).get_ref(),
            ) {
                return failed(format!(
                    "{path:?} {e} while the sweep wrote it: its {} session lines are lost; \
                     run the sweep again",
                    written.load(std::sync::atomic::Ordering::Relaxed)
                ));
            }
        }
        if report.sessions == 0 {
            // Refused before any session (a grid over the cap) or nothing selected.
            for e in &report.failed {
                say!("tracectx: {e}");
            }
        }
        // The page is written before the table, which is printed whatever became of it: a
        // page that could not be written costs the page, not the sweep's ranking.
        let html_failed = match (&self.html, html_file) {
            (Some(path), Some(file)) => {
                let mut w = io::BufWriter::new(file);
                report
                    .write_html(&mut w)
                    .and_then(|()| w.flush())
                    .err()
                    .map(|e| format!("cannot write {path:?}: {e}"))
            }
            _ => None,
        };
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = if self.json {
            write_sweep_json(&mut out, &report, self.top)
        } else {
            write_ranked(&mut out, &report, self.top, concurrency)
        }
        .and_then(|()| out.flush());
        if let Err(e) = written {
            if e.kind() != io::ErrorKind::BrokenPipe {
                return stdout_failed(e);
            }
        }
        if let (Some(file), Some(best)) = (&self.session.log_file, report.best()) {
            say!(
                "one session's log lines: tracectx logs {} {}",
                best.metadata.run_id.as_deref().unwrap_or("-"),
                shown(file)
            );
        }
        if let Some(e) = html_failed {
            return failed(e);
        }
        if report.sessions == 0 && report.failed.is_empty() {
            // A shard of fewer combinations than shards: nothing to do is not a failure (the
            // other shards of the job array hold them).
            say!(
                "tracectx: shard {} has no combination to run: the other shards hold them all",
                report.shard
            );
            return ExitCode::SUCCESS;
        }
        if report.ranked.is_empty() && report.succeeded == 0 {
            return ExitCode::from(FAILED);
        }
        ExitCode::SUCCESS
    }
}

/// Why a sweep stopped before its end.
enum Stopped {
    /// Its output failed (the error is kept by the caller).
    Output,
    /// A signal, by name, and the exit code it ends the command with (128 + its number).
    Signal(&'static str, u8),
}

/// The signals that stop a sweep: SIGTERM (a scheduler's time limit or `scancel`) and SIGINT
/// (Ctrl-C). Created inside the runtime; from then on, and to the end of the process, they
/// no longer kill it. SIGXFSZ (a file over `ulimit -f`) no longer kills it either: the write
/// fails instead, and is said as any output that cannot be written.
struct StopSignals {
    #[cfg(unix)]
    signals: Vec<(tokio::signal::unix::Signal, &'static str, u8)>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // With a handler for SIGXFSZ (a write past `ulimit -f`), that write fails with
            // EFBIG and is said as any output that cannot be written; by default the signal
            // kills the process without a word. The handler stays when the stream drops.
            let _ = signal(SignalKind::from_raw(libc::SIGXFSZ));
            let signals = [
                (SignalKind::terminate(), "SIGTERM", 143),
                (SignalKind::interrupt(), "SIGINT", 130),
            ]
            .into_iter()
            .filter_map(|(kind, name, code)| Some((signal(kind).ok()?, name, code)))
            .collect();
            StopSignals { signals }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Stopped> {
        #[cfg(unix)]
        for (signal, name, code) in &mut self.signals {
            if signal.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(Stopped::Signal(name, *code));
            }
        }
        let _ = cx;
        std::task::Poll::Pending
    }
}

/// `work`'s output, or why it stopped first: `stop` told (its output failed) or a signal
/// received (`work` is then dropped).
async fn until<T>(
    work: impl Future<Output = T>,
    stop: &tokio::sync::Notify,
    mut signals: StopSignals,
) -> Result<T, Stopped> {
    let (mut work, mut stopped) = (std::pin::pin!(work), std::pin::pin!(stop.notified()));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Ok(out));
        }
        if stopped.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Err(Stopped::Output));
        }
        signals.poll(cx).map(Err)
    })
    .await
}

/// Whether `path` still names `file` (opened from it): `Err` says what became of it.
fn still_named(path: &Path, file: &std::fs::File) -> Result<(), &'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(named) = std::fs::metadata(path) else {
            return Err("was removed");
        };
        let Ok(open) = file.metadata() else {
            return Ok(());
        };
        // A character device (`/dev/null`) may be opened as another inode: only files count.
        if open.is_file() && (named.dev(), named.ino()) != (open.dev(), open.ino()) {
            return Err("was replaced");
        }
    }
    let _ = (path, file);
    Ok(())
}

/// The plural ending of a count's noun in the summary lines: "1 session", "2 sessions".
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A wall time as people read it: milliseconds under a second (a small sweep takes a few),
/// seconds above.
fn wall_time(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

fn write_ranked(
    out: &mut impl Write,
    report: &SweepReport,
    top: usize,
    concurrency: usize,
) -> io::Result<()> {
    let shard = if report.shard == Shard::ALL {
        String::new()
    } else {
        format!(" (shard {})", report.shard)
    };
    writeln!(
        out,
        "sweep {}{shard}: {} session{} ({} ok, {} failed) in {}, {concurrency} at once; ranked by {}",
        report.sweep_id,
        report.sessions,
        plural(report.sessions),
        report.succeeded,
        report.sessions - report.succeeded,
        wall_time(report.wall_time_secs),
        report.rank_by
    )?;
    if report.ranked.is_empty() || top == 0 {
        // No session to show: no table of none (the line above says why).
        return Ok(());
    }
    report.write_table(out, top)
}

fn write_sweep_json(out: &mut impl Write, report: &SweepReport, top: usize) -> io::Result<()> {
    let results = report.top(top).iter().enumerate().map(|(i, r)| {
        serde_json::json!({
            "rank": i + 1,
            "run_id": r.metadata.run_id.as_deref(),
            "params": r.metadata.params,
            "stats": r.stats,
        })
    });
    let failed: Vec<serde_json::Value> = report
        .failed
        .iter()
        .map(|e| serde_json::json!({"run_id": e.run_id(), "error": e.to_string()}))
        .collect();
    write_ranking_json(
        out,
        &[
            ("ascending", report.rank_by.is_ascending().into()),
            ("failed", failed.into()),
            ("failures", (report.sessions - report.succeeded).into()),
            ("rank_by", report.rank_by.statistic().name().into()),
        ],
        results,
        &[
            ("sessions", report.sessions.into()),
            ("sweep_id", report.sweep_id.clone().into()),
        ],
    )
}

/// One JSON object on a line: the fields `before`, then `"results"`, an array written a
/// result at a time (a large `--top` is never held as one JSON tree), then the fields
/// `after`.
fn write_ranking_json(
    out: &mut impl Write,
    before: &[(&str, serde_json::Value)],
    results: impl Iterator<Item = serde_json::Value>,
    after: &[(&str, serde_json::Value)],
) -> io::Result<()> {
    let field = |out: &mut dyn Write, name: &str| -> io::Result<()> {
        serde_json::to_writer(&mut *out, name)?;
        out.write_all(b":")
    };
    out.write_all(b"{")?;
    for (name, value) in before {
        field(out, name)?;
        serde_json::to_writer(&mut *out, value)?;
        out.write_all(b",")?;
    }
    field(out, "results")?;
    out.write_all(b"[")?;
    for (i, result) in results.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &result)?;
    }
    out.write_all(b"]")?;
    for (name, value) in after {
        out.write_all(b",")?;
        field(out, name)?;
        serde_json::to_writer(&mut *out, value)?;
    }
    out.write_all(b"}\n")
}

// === merge ===

#[derive(Debug, Args)]
#[command(after_help = MERGE_AFTER_HELP)]
struct MergeArgs {
    /// The shards' JSON-lines files (`sweep --output`); `-` reads standard input
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The statistic to rank by (a key of `backtest --json`'s stats)
    #[arg(long, default_value = "sharpe", value_parser = parse_statistic)]
    rank_by: Statistic,
    /// Rank the lowest value first
    #[arg(long)]
    ascending: bool,
    /// How many of the best sessions to show
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    top: usize,
    /// Print the ranked sessions as one JSON object instead of a table
    #[arg(long)]
    json: bool,
}

impl MergeArgs {
    fn run(self) -> ExitCode {
        let rank_by = RankBy::new(self.rank_by);
        let rank_by = if self.ascending {
            rank_by.ascending()
        } else {
            rank_by
        };
        let statistic = rank_by.statistic();
        let mut board = Leaderboard::new(rank_by, self.top);
        let (mut sessions, mut failures) = (0usize, 0usize);
        let mut failures_kept = Vec::new();
        let mut sweeps: Vec<String> = Vec::new();
        let mut traces: Vec<String> = Vec::new();
        // The sweep of the first record that names one, and where it was read.
        let mut fingerprint: Option<(String, String)> = None;
        let mut sweep_sessions: Option<usize> = None;
        // Whether the first record named its sweep, and where it was read.
        let mut named: Option<(bool, String)> = None;
        // The number of shards the first record of a shard split the grid in, and where it
        // was read; and for each shard read (from 1), its lines and the sessions it runs.
        let mut split: Option<(usize, String)> = None;
        let mut shards: std::collections::BTreeMap<usize, (usize, Option<usize>)> =
            Default::default();
        // The combinations read so far, one bit each (at most 125 KB: a grid's cap).
        let mut seen: Vec<u64> = Vec::new();
        // The last lines cut short (a shard stopped while writing), where each was read.
        let mut cut: Vec<String> = Vec::new();
        // The files that held no record (a shard that wrote none, a file given by mistake).
        let mut empty: Vec<String> = Vec::new();
        for path in &self.files {
            let name = path.display().to_string();
            let input: Box<dyn io::BufRead + '_> = if path.as_os_str() == "-" {
                Box::new(io::BufReader::new(io::stdin()))
            } else {
                match std::fs::File::open(path) {
                    Ok(file) => Box::new(io::BufReader::with_capacity(1 << 16, file)),
                    Err(e) => return failed(format!("cannot read {name:?}: {e}")),
                }
            };
            let mut input = input;
            let mut line = Vec::new();
            let (before, cut_before) = (sessions, cut.len());
            for n in 1.. {
                // One line at a time, never more than MAX_RECORD_LINE bytes of it in memory:
                // a file that is not a shard's (no newline in gigabytes) is refused at once.
                line.clear();
                let read = (&mut input)
                    .take(MAX_RECORD_LINE as u64 + 1)
                    .read_until(b'\n', &mut line);
                match read {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return failed(format!("cannot read {name:?}: {e}")),
                }
                let whole = line.last() == Some(&b'\n');
                if whole {
                    line.pop();
                } else if line.len() > MAX_RECORD_LINE {
                    return failed(format!(
                        "{name:?} line {n}: not a sweep's session record: longer than \
                         {MAX_RECORD_LINE} bytes"
                    ));
                }
                if line.trim_ascii().is_empty() {
                    continue;
                }
                // What reaches the table or the JSON came from a file: ids must be ids,
                // and no text may hold what could disguise the output on a terminal.
                let record = match SessionRecord::from_json_line(&line) {
                    Ok(record) => record,
                    // The last line of a file, cut short with no newline: a shard stopped
                    // while writing it (killed, its disk full). The lines before are whole;
                    // the session is left out, counted, and its shard named below as short.
                    Err(_) if !whole && cut_short(&line) => {
                        cut.push(format!("{name:?} line {n} ({} bytes)", line.len()));
                        break;
                    }
                    Err(e) => return failed(format!("{name:?} line {n}: {e}")),
                };
                // Shards of one sweep: another grid, strategy, data or settings would rank
                // sessions that do not compare.
                let here = || format!("{name:?} line {n}");
                match &named {
                    None => named = Some((record.sweep_fingerprint.is_some(), here())),
                    Some((first, at)) if *first != record.sweep_fingerprint.is_some() => {
                        let (with, without) = if *first {
                            (at.clone(), here())
                        } else {
                            (here(), at.clone())
                        };
                        return failed(format!(
                            "{without}: a session record without a sweep fingerprint, while \
                             {with} has one: shards to merge must be written the same way \
                             (`tracectx sweep --output`)"
                        ));
                    }
                    Some(_) => {}
                }
                if let Some(theirs) = &record.sweep_fingerprint {
                    match &fingerprint {
                        None => fingerprint = Some((theirs.clone(), format!("{name:?} line {n}"))),
                        Some((first, at)) if first != theirs => {
                            return failed(format!(
                                "{name:?} line {n}: a session of another sweep (sweep \
                                 fingerprint {theirs}, while {at} is of sweep {first}): shards \
                                 to merge must run the same data, strategy, grid and settings"
                            ));
                        }
                        Some(_) => {}
                    }
                }
                if let Some(total) = record.sweep_sessions {
                    match sweep_sessions {
                        None => sweep_sessions = Some(total),
                        Some(first) if first != total => {
                            return failed(format!(
                                "{name:?} line {n}: a session of a sweep of {total} sessions, \
                                 while the lines before are of a sweep of {first}: shards to \
                                 merge must run the same grid"
                            ));
                        }
                        Some(_) => {}
                    }
                }
                // Each combination once: a shard given twice, or shards of different
                // sweeps, would rank a session twice (the index is within the largest grid).
                let (word, bit) = (record.index / 64, 1u64 << (record.index % 64));
                if seen.len() <= word {
                    seen.resize(word + 1, 0);
                }
                if seen[word] & bit != 0 {
                    return failed(format!(
                        "{name:?} line {n}: combination {} ({}) was already read: the same \
                         shard given twice, or shards of different sweeps",
                        record.index, record.params
                    ));
                }
                seen[word] |= bit;
                if let Err(why) = check_shard(&record, &mut split, &mut shards, here) {
                    return failed(format!("{name:?} line {n}: {why}"));
                }
                // Shards of one sweep hold each of its sessions once: one more is forged, or
                // of another sweep.
                if let Some(total) = record.sweep_sessions.filter(|&total| sessions >= total) {
                    return failed(format!(
                        "{name:?} line {n}: more sessions than the sweep's {total}: the line \
                         is of no shard of it"
                    ));
                }
                sessions += 1;
                for (seen, id) in [
                    (&mut sweeps, record.sweep_id.as_deref()),
                    (&mut traces, record.trace_id.as_deref()),
                ] {
                    if let Some(id) = id {
                        if !seen.iter().any(|s| s == id) && seen.len() < 1_000 {
                            seen.push(id.to_owned());
                        }
                    }
                }
                match &record.stats {
                    Some(stats) => {
                        let value = stats.get(statistic);
                        board.push(record.index, value, record);
                    }
                    None => {
                        failures += 1;
                        if failures_kept.len() < KEEP_FAILURES {
                            failures_kept.push(record);
                        }
                    }
                }
            }
            // A file cut short in its first line is said as such, not as empty.
            if sessions == before && cut_before == cut.len() && empty.len() < KEEP_FAILURES {
                empty.push(format!("{name:?}"));
            }
        }
        for at in &empty {
            say!("tracectx: {at} holds no session record");
        }
        for at in &cut {
            say!(
                "tracectx: {at} is cut short (no newline, no whole record: its shard stopped \
                 while writing it): the session is left out"
            );
        }
        if sessions == 0 {
            say!("tracectx: no session record in the files given");
            return ExitCode::from(FAILED);
        }
        if let Some(total) = sweep_sessions.filter(|&total| sessions < total) {
            // A shard missing (a job of the array that failed or still runs): the ranking
            // is of what was read, and says so.
            let which = match &split {
                Some((count, _)) => missing_shards(*count, &shards),
                None => "a shard is missing or did not finish".to_owned(),
            };
            say!(
                "tracectx: the files hold {sessions} of the sweep's {total} sessions ({which}): \
                 the ranking is of the {sessions} read; run the shards named again (each to \
                 its own --output) to rank them all"
            );
        }
        let ranked = board.into_sorted();
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let written = if self.json {
            let results = ranked.iter().enumerate().map(|(i, r)| {
                serde_json::json!({
                    "rank": i + 1,
                    "run_id": r.run_id,
                    "params": r.params,
                    "stats": r.stats,
                })
            });
            let failed: Vec<serde_json::Value> = failures_kept
                .iter()
                .map(|r| serde_json::json!({"run_id": r.run_id, "error": r.error}))
                .collect();
            write_ranking_json(
                &mut out,
                &[
                    ("ascending", rank_by.is_ascending().into()),
                    ("failed", failed.into()),
                    ("failures", failures.into()),
                    ("rank_by", rank_by.statistic().name().into()),
                ],
                results,
                &[
                    ("sessions", sessions.into()),
                    ("sweep_ids", sweeps.clone().into()),
                    ("trace_ids", traces.clone().into()),
                ],
            )
        } else {
            writeln!(
                out,
                "merge of {} file{}: {sessions} session{} ({} ok, {failures} failed) from sweep{} {}; trace {}; ranked by {rank_by}",
                self.files.len(),
                plural(self.files.len()),
                plural(sessions),
                sessions - failures,
                plural(sweeps.len()),
                sweeps.join(", "),
                traces.join(", "),
            )
            .and_then(|()| {
                let rows = ranked.iter().filter_map(|r| {
                    Some((r.run_id.as_deref().unwrap_or("-"), &r.params, r.stats.as_ref()?))
                });
                write_ranked_table(&mut out, statistic, rows)
            })
        }
        .and_then(|()| out.flush());
        if let Err(e) = written {
            if e.kind() != io::ErrorKind::BrokenPipe {
                return stdout_failed(e);
            }
        }
        // Failed only when no session succeeded: `--top 0` ranks none and is no failure.
        if sessions == failures {
            return ExitCode::from(FAILED);
        }
        ExitCode::SUCCESS
    }
}

/// Whether `line`, the last of a file with no newline after it, is the start of a session
/// record cut short: JSON that ends early (serde's "EOF while parsing"), not text of another
/// kind, which is refused as any line that is not a record.
fn cut_short(line: &[u8]) -> bool {
    line.starts_with(b"{")
        && serde_json::from_slice::<serde_json::Value>(line).is_err_and(|e| e.is_eof())
}

/// Holds `record` to the shard split of the records before it (`split`: the number of shards
/// and where it was first read) and counts it in its shard's entry of `shards` (lines read,
/// sessions the shard runs): a record of another split, a combination outside its shard, or
/// a shard's size said two ways is refused, with why.
fn check_shard(
    record: &SessionRecord,
    split: &mut Option<(usize, String)>,
    shards: &mut std::collections::BTreeMap<usize, (usize, Option<usize>)>,
    here: impl Fn() -> String,
) -> Result<(), String> {
    let Some(shard) = record.shard else {
        return Ok(());
    };
    match split {
        None => *split = Some((shard.count(), here())),
        Some((count, at)) if *count != shard.count() => {
            return Err(format!(
                "a session of shard {shard}, while {at} is of one of {count} shards: shards \
                 to merge must split the grid the same way"
            ));
        }
        Some(_) => {}
    }
    if !shard.holds(record.index) {
        return Err(format!(
            "not a sweep's session record: combination {} is not of shard {shard} (it is of \
             shard {}/{})",
            record.index,
            record.index % shard.count() + 1,
            shard.count()
        ));
    }
    let (lines, of) = shards
        .entry(shard.index())
        .or_insert((0, record.shard_sessions));
    if let Some(runs) = record.shard_sessions {
        match *of {
            None => *of = Some(runs),
            Some(said) if said != runs => {
                return Err(format!(
                    "a session of shard {shard} said to run {runs} sessions, while the lines \
                     before say {said}: shards to merge must run the same grid"
                ));
            }
            Some(_) => {}
        }
        if *lines >= runs {
            return Err(format!(
                "more sessions than shard {shard}'s {runs}: the line is of no run of it"
            ));
        }
    }
    *lines += 1;
    Ok(())
}

/// Which of `count` shards the records read lack (none read, or fewer lines than the shard
/// runs), for the warning of a merge that holds fewer sessions than its sweep: at most eight
/// named, then how many more.
fn missing_shards(
    count: usize,
    shards: &std::collections::BTreeMap<usize, (usize, Option<usize>)>,
) -> String {
    const NAMED: usize = 8;
    let mut said: Vec<String> = Vec::new();
    let mut more = 0usize;
    // The shards with no line, walked a run at a time between the ones read (the count of
    // shards may be large), then the ones read short.
    let mut next = 1;
    let read = shards.iter().map(|(&k, &entry)| (k, entry));
    for (k, (lines, runs)) in read.chain([(count + 1, (0, None))]) {
        let absent = next..k.min(count + 1);
        let named = absent.len().min(NAMED.saturating_sub(said.len()));
        said.extend(
            absent
                .clone()
                .take(named)
                .map(|a| format!("shard {a}/{count} is missing")),
        );
        more += absent.len() - named;
        if let Some(runs) = runs.filter(|&runs| k <= count && lines < runs) {
            if said.len() < NAMED {
                said.push(format!(
                    "shard {k}/{count} holds {lines} of its {runs} sessions"
                ));
            } else {
                more += 1;
            }
        }
        next = k + 1;
    }
    if said.is_empty() {
        return "a shard is missing or did not finish".to_owned();
    }
    let mut text = said.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}
