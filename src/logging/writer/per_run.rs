//! A file per run: each line to `<dir>/<run_id>.log`, on a writer thread.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use super::queue::{self, Msg, Options, Queue, WorkerGuard};
use super::shown;
use crate::RunId;

/// The file that lines written outside any run go to, in the directory of
/// [`per_run_files`]: `(none).log`. No run's file can have this name: encoded run ids never
/// hold a parenthesis.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{per_run_files, OUTSIDE_RUNS_FILE};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, guard) = per_run_files(dir.path())?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("starting up"));
/// drop(guard);
/// let outside = std::fs::read_to_string(dir.path().join(OUTSIDE_RUNS_FILE))?;
/// assert!(outside.contains("] [-] [-] INFO") && outside.ends_with("starting up\n"));
/// # Ok(()) }
/// ```
pub const OUTSIDE_RUNS_FILE: &str = "(none).log";

/// The default bound on files the writer thread keeps open at once; see
/// [`PerRunFilesBuilder::max_open_files`].
///
/// # Examples
///
/// ```
/// use tracectx::logging::{PerRunFiles, DEFAULT_MAX_OPEN_FILES};
///
/// assert_eq!(DEFAULT_MAX_OPEN_FILES, 256);
/// # let dir = tempfile::tempdir()?;
/// // A service with thousands of runs at once, and the file descriptors for them:
/// let (_writer, guard) = PerRunFiles::builder(dir.path())
///     .max_open_files(DEFAULT_MAX_OPEN_FILES * 8)
///     .build()?;
/// assert_eq!(guard.finish().lost(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// A writer thread gathers at most this many bytes of lines before writing them out...
const BATCH_BYTES: usize = 8 << 20;

/// ... and at most this many lines.
const BATCH_LINES: usize = 1 << 16;

/// How long a writer thread gathers lines (while any arrive) before writing them out...
const LINGER: Duration = Duration::from_millis(5);

/// ... or longer, up to this, while the batch holds less than [`RUN_BYTES`] a run on average:
/// many runs logging at once then cost one write per run every few kilobytes, not per line.
const MAX_LINGER: Duration = Duration::from_millis(50);

/// See [`MAX_LINGER`].
const RUN_BYTES: usize = 4096;

/// How often, at most, the writer thread checks that the path of a file it keeps open still
/// names it (see [`PerRunFiles`]): two `stat`s a second per file written, not per write.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The most bytes of the buffer a run's lines are gathered in that stay allocated between
/// batches.
const SCRATCH_KEPT: usize = 1 << 20;

/// A [`MakeWriter`] that sends each line to the file of its run, `<dir>/<run_id>.log`, made by
/// [`per_run_files`].
///
/// The run of a line is taken on the thread of the event, when the line is handed over: the
/// task-local context's, or else, for an event formatted by one of this crate's formats
/// ([`TextFormat`](crate::logging::TextFormat), [`JsonFormat`](crate::logging::JsonFormat),
/// [`Stamped`](crate::logging::Stamped)), the one a span remembered
/// ([`SpanContextLayer`](crate::logging::SpanContextLayer)). Lines outside any run go to
/// [`OUTSIDE_RUNS_FILE`].
///
/// Logging costs what [`non_blocking`](crate::logging::non_blocking) costs: a copy of the line
/// and a send on a queue bounded as its queue is (128,000 lines and 64 MiB by default; when it
/// is full logging waits, or with [`lossy`](PerRunFilesBuilder::lossy) the line is dropped and
/// counted). A file that cannot be opened or written is said on stderr, and its lines counted
/// as failed ([`WorkerGuard::stats`]). The writer thread gathers lines while they keep
/// arriving, for 5 ms, or for up to 50 ms while its runs have less than 4 KiB each to write
/// (and at most 8 MiB or 65,536 lines), then appends each run's lines to its file in one
/// write: a run's lines stay in order,
/// a file is touched once per batch however many runs interleave, and a line is in its file
/// about 50 ms after it was logged at the latest. It keeps at most
/// [`max_open_files`](PerRunFilesBuilder::max_open_files) files open, closing the least
/// recently written one when it needs another; a file closed and reopened is appended to.
/// When the process runs out of file descriptors (`ulimit -n` below that bound), it closes
/// half of the files it keeps open, as often as need be, and keeps that many fewer open from
/// then on: a line is lost for want of a descriptor only when no file at all can be opened.
/// Dropping the [`WorkerGuard`] writes every line accepted before the drop at once (the last
/// batch on a thread per core, up to 4, within the same bound on open files).
///
/// # Files removed or replaced
///
/// A file may be removed, or renamed away and another made at its path (by a cleanup job or
/// a log rotator), while the writer thread keeps it open. At most once a second per open
/// file, before writing to it, the writer thread checks that its path still names it (on Unix
/// the device and inode numbers of the path and of the open file; elsewhere only that the path
/// exists); when the path is gone or names another file, the file is closed and the path
/// opened anew, created if need be (the directory too). So the lines of a run go to the file
/// at its path again at most a second after it was removed or replaced: the lines written
/// before that are appended to the file removed or renamed away, and counted as written, as
/// with any writer that keeps its files open. A write that fails on an open file is also tried
/// once more on the path opened anew.
///
/// # File names
///
/// A run id is the file name, `.log` added, when it holds only `[A-Za-z0-9._-]` and does not
/// start with `.`. Any other byte (run ids may also hold `: / @ +`), and a leading `.`, is
/// written as `%` and two uppercase hex digits: `live:eu/42` is `live%3Aeu%2F42.log`. A run id
/// never holds `%`, so the name reads back to exactly one run id ([`run_id_from_file_name`]).
/// A name that would be longer than 255 bytes, the longest most file systems allow, is made
/// another way (see [`run_log_file_name`]). Names keep the letter case of their run ids.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, guard) = tracectx::logging::per_run_files(dir.path())?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// let ctx = tracectx::TraceContext::new("live:eu/42")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info!("order sent"));
/// });
/// drop(guard);
/// let file = dir.path().join("live%3Aeu%2F42.log");
/// assert!(std::fs::read_to_string(file)?.contains("[live:eu/42]"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PerRunFiles {
    queue: Queue,
}

/// Configures [`per_run_files`]: the most files open at once and the file for lines outside
/// any run.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
///     .max_open_files(1024)
///     .outside_runs_file("app.log")
///     .build()?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("starting up");
///     ctx.sync_scope(|| tracing::info!("order sent"));
/// });
/// assert_eq!(guard.finish().written, 2);
/// let read = |name| std::fs::read_to_string(dir.path().join(name));
/// assert!(read("app.log")?.ends_with("starting up\n")); // outside any run
/// assert!(read("job_1.log")?.ends_with("order sent\n"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PerRunFilesBuilder {
    dir: PathBuf,
    max_open: usize,
    outside: String,
    options: Options,
}

/// Writes each line to `<dir>/<run_id>.log` on a writer thread, lines outside any run to
/// `<dir>/(none).log`; returns the [`MakeWriter`] and the guard that writes every accepted
/// line when dropped. The directory is created if needed. See [`PerRunFiles`].
///
/// # Errors
///
/// The I/O error when the directory cannot be created or the thread not started.
///
/// # Examples
///
/// ```
/// use tracectx::logging;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, guard) = logging::per_run_files(dir.path().join("runs"))?;
/// let subscriber = logging::builder().with_writer(writer).build()?;
/// tracing::subscriber::with_default(subscriber, || {
///     for run in ["backtest_1", "backtest_2"] {
///         tracectx::TraceContext::new(run)?.sync_scope(|| tracing::info!("session started"));
///     }
///     tracing::info!("between runs");
///     Ok::<(), tracectx::InvalidId>(())
/// })?;
/// drop(guard); // every line is in its file
/// let one = std::fs::read_to_string(dir.path().join("runs/backtest_1.log"))?;
/// assert!(one.contains("[backtest_1]") && !one.contains("[backtest_2]"));
/// assert!(std::fs::read_to_string(dir.path().join("runs/(none).log"))?.contains("between runs"));
/// # Ok(()) }
/// ```
pub fn per_run_files(dir: impl AsRef<Path>) -> io::Result<(PerRunFiles, WorkerGuard)> {
    PerRunFiles::builder(dir).build()
}

impl PerRunFiles {
    /// A [`PerRunFilesBuilder`] writing into `dir`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let runs = dir.path().join("runs");
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(&runs).build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// let ctx = tracectx::TraceContext::new("backtest_1")?;
    /// tracing::subscriber::with_default(subscriber, || ctx.sync_scope(|| tracing::info!("bar")));
    /// assert_eq!(guard.finish().written, 1);
    /// assert!(std::fs::read_to_string(runs.join("backtest_1.log"))?.ends_with("bar\n"));
    /// # Ok(()) }
    /// ```
    pub fn builder(dir: impl AsRef<Path>) -> PerRunFilesBuilder {
        PerRunFilesBuilder {
            dir: dir.as_ref().to_owned(),
            max_open: DEFAULT_MAX_OPEN_FILES,
            outside: OUTSIDE_RUNS_FILE.to_owned(),
            options: Options::default(),
        }
    }
}

impl PerRunFilesBuilder {
    /// Keeps at most `max` files open at once (at least 1; default
    /// [`DEFAULT_MAX_OPEN_FILES`]). More runs than that logging at once cost a close and an
    /// open per run per batch of lines. Fewer are kept open once the process runs out of file
    /// descriptors (see [`PerRunFiles`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// // One file open at a time: three runs take turns, each file keeps its lines in order.
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .max_open_files(1)
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// let runs = ["run_a", "run_b", "run_c"].map(|r| tracectx::TraceContext::new(r).unwrap());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for step in 0..20 {
    ///         runs[step % 3].sync_scope(|| tracing::info!(step, "step"));
    ///     }
    /// });
    /// drop(guard);
    /// let b = std::fs::read_to_string(dir.path().join("run_b.log"))?;
    /// let steps: Vec<&str> = b.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    /// assert_eq!(steps, ["step=1", "step=4", "step=7", "step=10", "step=13", "step=16", "step=19"]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn max_open_files(mut self, max: usize) -> Self {
        self.max_open = max.max(1);
        self
    }

    /// The name, in the directory, of the file for lines outside any run (default
    /// [`OUTSIDE_RUNS_FILE`]). A name that is also a run's file name would share it with that
    /// run: pick one that [`run_log_file_name`] cannot make (with a parenthesis or a space, say)
    /// or accept the sharing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .outside_runs_file("service log.txt")
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("listening"));
    /// drop(guard);
    /// let outside = std::fs::read_to_string(dir.path().join("service log.txt"))?;
    /// assert!(outside.ends_with("listening\n"));
    /// assert!(!dir.path().join("(none).log").exists());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn outside_runs_file(mut self, name: impl Into<String>) -> Self {
        self.outside = name.into();
        self
    }

    /// At most `lines` lines wait for the writer thread (at least 1; default
    /// [`DEFAULT_BUFFERED_LINES_LIMIT`](crate::logging::DEFAULT_BUFFERED_LINES_LIMIT)); see
    /// [`NonBlockingBuilder::buffered_lines_limit`](crate::logging::NonBlockingBuilder::buffered_lines_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// // Logging waits for room in a queue of 16 lines; no line is lost.
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .buffered_lines_limit(16)
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| (0..500).for_each(|i| tracing::info!(i, "tick")));
    /// });
    /// assert_eq!(guard.finish().written, 500);
    /// assert_eq!(std::fs::read_to_string(dir.path().join("job_1.log"))?.lines().count(), 500);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn buffered_lines_limit(mut self, lines: usize) -> Self {
        self.options.lines = lines.clamp(1, super::queue::MAX_BUFFERED_LINES);
        self
    }

    /// At most `bytes` of lines wait for the writer thread (default
    /// [`DEFAULT_BUFFERED_BYTES_LIMIT`](crate::logging::DEFAULT_BUFFERED_BYTES_LIMIT)); see
    /// [`NonBlockingBuilder::buffered_bytes_limit`](crate::logging::NonBlockingBuilder::buffered_bytes_limit).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// // At most 4 KiB of lines wait; each line still fits, whatever its size.
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .buffered_bytes_limit(4096)
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let big = "x".repeat(10_000);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| (0..5).for_each(|_| tracing::info!(%big, "large")));
    /// });
    /// assert_eq!(guard.finish().written, 5);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn buffered_bytes_limit(mut self, bytes: usize) -> Self {
        self.options.bytes = bytes;
        self
    }

    /// Drop (and count) lines instead of waiting when the queue is full; see
    /// [`NonBlockingBuilder::lossy`](crate::logging::NonBlockingBuilder::lossy).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .lossy(true)
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("kept"));
    /// // Far from the 128,000 lines of the queue: nothing was dropped.
    /// let stats = guard.finish();
    /// assert_eq!((stats.written, stats.dropped), (1, 0));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn lossy(mut self, lossy: bool) -> Self {
        self.options.lossy = lossy;
        self
    }

    /// How long dropping the guard waits for the lines accepted before (default: without a
    /// limit); see
    /// [`NonBlockingBuilder::shutdown_timeout`](crate::logging::NonBlockingBuilder::shutdown_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let (writer, guard) = tracectx::logging::PerRunFiles::builder(dir.path())
    ///     .shutdown_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("bye"));
    /// // A local disk takes far less than the limit: every line is written.
    /// assert_eq!(guard.finish().pending, 0);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.options.shutdown_timeout = timeout.into();
        self
    }

    /// Creates the directory and starts the writer thread.
    ///
    /// # Errors
    ///
    /// - The name for the outside file is refused as [`io::ErrorKind::InvalidInput`] unless it
    ///   is a plain file name: not empty, `.` or `..`, without a path separator or a NUL byte,
    ///   at most 255 bytes.
    /// - The directory cannot be created (a path to a file, or under one, say): the I/O error
    ///   of its kind, its message naming the directory.
    /// - The thread cannot be started: the I/O error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use tracectx::logging::PerRunFiles;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let (writer, guard) = PerRunFiles::builder(dir.path().join("a/b")).build()?;
    /// assert!(dir.path().join("a/b").is_dir());
    /// # drop((writer, guard));
    /// for bad in ["../app.log", "logs/app.log", "", "..", "app\0.log"] {
    ///     let builder = PerRunFiles::builder(dir.path()).outside_runs_file(bad);
    ///     assert_eq!(builder.build().unwrap_err().kind(), ErrorKind::InvalidInput);
    /// }
    ///
    /// std::fs::write(dir.path().join("app.log"), "")?;
    /// let err = PerRunFiles::builder(dir.path().join("app.log/runs")).build().unwrap_err();
    /// assert!(err.to_string().contains("app.log/runs"), "{err}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<(PerRunFiles, WorkerGuard)> {
        if let Some(problem) = outside_name_problem(&self.outside) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the file for lines outside any run must be a plain file name, \
                     not \"{}\": {problem}",
                    crate::escape::text(&self.outside)
                ),
            ));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            let not_dir = match e.kind() {
                io::ErrorKind::AlreadyExists => ", and is not a directory",
                _ => "",
            };
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create the directory of per-run log files {}: {e}{not_dir}",
                    shown(&self.dir)
                ),
            )
        })?;
        let what = format!("per-run log files in {}", shown(&self.dir));
        let files = Files {
            dir: self.dir,
            outside: self.outside,
            max_open: self.max_open,
            open: ByRun::default(),
            tick: 0,
            failed: Vec::new(),
            cut: ByRun::default(),
            closing_threads: closing_threads(self.max_open),
        };
        let (queue, guard) = queue::start(
            self.options,
            "tracectx-per-run-writer",
            what,
            move |worker| write_runs(worker, files),
        )?;
        Ok((PerRunFiles { queue }, guard))
    }
}

/// What keeps `name` from being the name of a file in the directory, if anything.
fn outside_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it names a directory")
    } else if name.contains('\0') {
        Some("it holds a NUL byte")
    } else if name.len() > MAX_FILE_NAME {
        Some("it is longer than 255 bytes")
    } else if Path::new(name).file_name().is_none_or(|n| n != name) || name.contains('/') {
        Some("it holds a path separator")
    } else {
        None
    }
}

/// The file name (in the directory of [`per_run_files`]) of the lines of `run_id`:
/// `<run_id>.log`, with bytes outside `[A-Za-z0-9._-]` (and a leading `.`) written as `%XX`.
///
/// A name so made is at most 255 bytes long, the longest most file systems allow (ext4, XFS,
/// Btrfs, APFS, NTFS): when the one above would be longer (a run id of 128 bytes, most of them
/// escaped, makes up to 388), the name is instead `%%`, then the run id's bytes in base32hex
/// (RFC 4648, section 7: `0-9A-V`, five bits a character, unpadded), then `.log`: at most 211
/// bytes. The escapes above never make `%%`, so either form reads back to exactly one run id
/// ([`run_id_from_file_name`]). Base32hex has a single letter case (unlike base64, whose
/// names could differ by case alone), so no two such names share a file anywhere.
///
/// Names keep the letter case of their run ids: `Job_1` and `job_1` have two files on a
/// case-sensitive file system (Linux's ext4, XFS, Btrfs) but share one on a case-insensitive
/// one, such as the defaults of macOS (APFS) and Windows (NTFS), where their lines interleave
/// in one file. Pick run ids that differ in more than case if the files may live there.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{run_id_from_file_name, run_log_file_name};
///
/// assert_eq!(run_log_file_name("backtest_ab12"), "backtest_ab12.log");
/// assert_eq!(run_log_file_name("live:eu/42"), "live%3Aeu%2F42.log");
/// assert_eq!(run_log_file_name(".."), "%2E..log");
/// assert_eq!(run_id_from_file_name("live%3Aeu%2F42.log").as_deref(), Some("live:eu/42"));
///
/// // Too long escaped: base32hex instead, and back.
/// let long = format!("a{}", "/".repeat(127));
/// let name = run_log_file_name(&long);
/// assert!(name.starts_with("%%") && name.ends_with(".log") && name.len() == 211);
/// assert_eq!(run_id_from_file_name(&name), Some(long));
/// ```
pub fn run_log_file_name(run_id: &str) -> String {
    let escaped = run_id
        .bytes()
        .enumerate()
        .filter(|&(i, b)| !is_plain(i, b))
        .count();
    if run_id.len() + 2 * escaped + ".log".len() > MAX_FILE_NAME {
        let mut name = String::with_capacity(
            LONG_NAME_MARK.len() + (run_id.len() * 8).div_ceil(5) + ".log".len(),
        );
        name.push_str(LONG_NAME_MARK);
        base32hex(run_id.as_bytes(), &mut name);
        name.push_str(".log");
        return name;
    }
    let mut name = String::with_capacity(run_id.len() + 2 * escaped + 4);
    for (i, b) in run_id.bytes().enumerate() {
        if is_plain(i, b) {
            name.push(char::from(b));
        } else {
            name.push('%');
            name.push(char::from(HEX[usize::from(b >> 4)]));
            name.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    name.push_str(".log");
    name
}

/// Whether the byte `b`, at `at` in a run id, is written as it is in its file name.
fn is_plain(at: usize, b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && at > 0)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The longest file name, in bytes, of most file systems (`NAME_MAX` on Linux).
const MAX_FILE_NAME: usize = 255;

/// The start of a file name that holds its run id in base32hex: never made by `%XX` escapes.
const LONG_NAME_MARK: &str = "%%";

// The longest run id fits in a name of the long form.
const _: () = assert!(
    LONG_NAME_MARK.len() + (crate::MAX_RUN_ID_LEN * 8).div_ceil(5) + ".log".len() <= MAX_FILE_NAME
);

/// The base32hex alphabet (RFC 4648, section 7): its order is the order of the values, and it
/// has a single letter case.
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// Appends `bytes` in base32hex, unpadded: five bits a character, the last one's low bits 0.
fn base32hex(bytes: &[u8], out: &mut String) {
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32HEX[(acc >> bits) as usize & 31]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32HEX[(acc << (5 - bits)) as usize & 31]));
    }
}

/// The bytes of unpadded base32hex `text`, or `None` when it holds another character. Bits
/// left over at the end are dropped: the caller encodes the result again to refuse a text
/// [`base32hex`] does not make.
fn from_base32hex(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = BASE32HEX.iter().position(|&d| d == c)?;
        acc = (acc << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The run id whose lines [`run_log_file_name`] puts in the file `name`, or `None` for a name
/// it does not make.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{run_id_from_file_name, run_log_file_name, OUTSIDE_RUNS_FILE};
///
/// assert_eq!(run_id_from_file_name("backtest_ab12.log").as_deref(), Some("backtest_ab12"));
/// assert_eq!(run_id_from_file_name("user%40eu.log").as_deref(), Some("user@eu"));
/// assert_eq!(run_id_from_file_name(&run_log_file_name("a/b:c")).as_deref(), Some("a/b:c"));
/// // "a/b:c" in base32hex: not a name it makes, the escaped one being short enough.
/// assert_eq!(run_id_from_file_name("%%C4NM4EJ3.log"), None);
/// assert_eq!(run_id_from_file_name(OUTSIDE_RUNS_FILE), None);
/// assert_eq!(run_id_from_file_name("job_1.txt"), None);
/// assert_eq!(run_id_from_file_name("job%5f1.log"), None); // not a name it makes
/// ```
pub fn run_id_from_file_name(name: &str) -> Option<String> {
    if name.len() > MAX_FILE_NAME {
        return None;
    }
    let stem = name.strip_suffix(".log")?;
    let id = match stem.strip_prefix(LONG_NAME_MARK) {
        Some(encoded) => from_base32hex(encoded)?,
        None => {
            let mut out = Vec::with_capacity(stem.len());
            let mut bytes = stem.bytes();
            while let Some(b) = bytes.next() {
                if b == b'%' {
                    let hi = (bytes.next()? as char).to_digit(16)?;
                    let lo = (bytes.next()? as char).to_digit(16)?;
                    out.push((hi * 16 + lo) as u8);
                } else {
                    out.push(b);
                }
            }
            out
        }
    };
    let id = String::from_utf8(id).ok()?;
    // Only the names it makes: the same id makes the same name back.
    (RunId::new(&id).is_ok() && run_log_file_name(&id) == name).then_some(id)
}

// === the writer ===

/// The writer [`PerRunFiles`] makes for each event: the line and its run, sent on write.
///
/// The run id's bytes travel in front of the line, in the one allocation the line needs
/// anyway: no reference count of the run is shared between the event's thread and the writer
/// thread.
///
/// # Examples
///
/// ```
/// use std::io::Write as _;
/// use tracing_subscriber::fmt::MakeWriter as _;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (files, guard) = tracectx::logging::per_run_files(dir.path())?;
/// // The run is taken where the writer is made: here, in `job_4`'s scope.
/// let mut writer: tracectx::logging::PerRunWriter<'_> =
///     tracectx::TraceContext::new("job_4")?.sync_scope(|| files.make_writer());
/// writer.write_all(b"a line of job_4\n")?;
/// drop(guard);
/// assert_eq!(std::fs::read_to_string(dir.path().join("job_4.log"))?, "a line of job_4\n");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PerRunWriter<'a> {
    queue: &'a Queue,
    run: RunKey,
}

/// A run id's bytes on the stack (empty: outside any run).
#[derive(Clone, Copy)]
struct RunKey {
    bytes: [u8; crate::MAX_RUN_ID_LEN],
    len: u8,
}

impl RunKey {
    const NONE: Self = Self {
        bytes: [0; crate::MAX_RUN_ID_LEN],
        len: 0,
    };

    fn of(run: &str) -> Self {
        let mut key = Self::NONE;
        let len = run.len().min(crate::MAX_RUN_ID_LEN);
        key.bytes[..len].copy_from_slice(&run.as_bytes()[..len]);
        key.len = len as u8;
        key
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// `[run id length][run id][line]`, the form of a [`Msg::RunLine`].
fn encode(run: &[u8], line: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(1 + run.len() + line.len());
    msg.push(run.len() as u8);
    msg.extend_from_slice(run);
    msg.extend_from_slice(line);
    msg
}

/// The run id (empty outside any run) and the line of a [`Msg::RunLine`].
pub(super) fn decode(msg: &[u8]) -> (&[u8], &[u8]) {
    let len = msg.first().map_or(0, |&n| usize::from(n));
    let rest = msg.get(1..).unwrap_or_default();
    rest.split_at(len.min(rest.len()))
}

impl Write for PerRunWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.queue
            .send(Msg::RunLine(encode(self.run.as_bytes(), buf)))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for PerRunFiles {
    type Writer = PerRunWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        PerRunWriter {
            queue: &self.queue,
            run: crate::scope::read(|c| RunKey::of(c.run_id())).unwrap_or(RunKey::NONE),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        let run = crate::scope::read(|c| RunKey::of(c.run_id()))
            .or_else(|| crate::logging::stamp::span_run_for(meta).map(|r| RunKey::of(&r)))
            .unwrap_or(RunKey::NONE);
        PerRunWriter {
            queue: &self.queue,
            run,
        }
    }
}

/// FNV-1a: run ids are short, and the writer thread hashes one per line.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type ByRun<V> = HashMap<Box<[u8]>, V, std::hash::BuildHasherDefault<Fnv>>;

/// The open files of the writer thread, at most `max_open`, the least recently written closed
/// first.
struct Files {
    dir: PathBuf,
    outside: String,
    max_open: usize,
    open: ByRun<Open>,
    tick: u64,
    /// Files that could not be opened, said once each (at most a few hundred remembered).
    failed: Vec<PathBuf>,
    /// The runs whose file ends in a line a failed write cut short (a disk filling up): the
    /// run's next line must not be glued to it. At most [`CUT_KEPT`] remembered.
    cut: ByRun<()>,
    /// Threads that write the last batch when the guard finishes.
    closing_threads: usize,
}

/// A file the writer thread keeps open.
struct Open {
    file: File,
    /// The last write's tick: the least recently written file is closed first.
    used: u64,
    /// When its path was last known to name it (opened or checked).
    checked: Instant,
}

impl Open {
    /// Whether the file can be written to as it is: its path was checked less than
    /// [`CHECK_EVERY`] ago, or is checked now and still names it.
    fn current(&mut self, path: impl FnOnce() -> PathBuf, now: Instant) -> bool {
        if now.saturating_duration_since(self.checked) < CHECK_EVERY {
            return true;
        }
        self.checked = now;
        names(&path(), &self.file)
    }
}

/// Whether `path` still names the open `file`: false when the path is gone or (on Unix) is
/// another file, its device and inode numbers not the file's. When either cannot be read for
/// another reason the file is kept: opening the path anew would not do better.
fn names(path: &Path, file: &File) -> bool {
    let at_path = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return e.kind() != io::ErrorKind::NotFound,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        file.metadata().map_or(true, |open| {
            (open.dev(), open.ino()) == (at_path.dev(), at_path.ino())
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (at_path, file);
        true
    }
}

/// Threads that write the last batch when the guard finishes: one a core, up to 4, and
/// each leaving room for the others in `max_open` files.
fn closing_threads(max_open: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.min(4).min(max_open / 2).max(1)
}

impl Files {
    /// Appends `bytes`, `lines` lines of `run`, to the run's file, and counts them written or
    /// failed, `now` being about the time of the batch. A file kept open whose path was not
    /// checked for [`CHECK_EVERY`] is checked first, and opened anew if it was removed or
    /// replaced. A write that fails on a file kept open is tried once more on the file opened
    /// anew, from where it stopped.
    fn write(
        &mut self,
        worker: &queue::Worker,
        run: &[u8],
        bytes: &[u8],
        lines: u64,
        now: Instant,
    ) {
        self.tick += 1;
        let tick = self.tick;
        let mut done = 0;
        // Whether the run's file ends in a line cut short, until it is ended.
        let mut cut = self.cut.remove(run).is_some();
        if let Some(open) = self.open.get_mut(run) {
            open.used = tick;
            let (dir, outside) = (&self.dir, &self.outside);
            if open.current(|| run_path(dir, outside, run), now)
                && end_cut_line(&mut open.file, &mut cut).is_ok()
                && write_all_from(&mut open.file, bytes, &mut done).is_ok()
            {
                worker.written(lines);
                return;
            }
            self.open.remove(run);
        }
        if self.open.len() >= self.max_open {
            self.close_oldest(self.open.len() + 1 - self.max_open);
        }
        let path = self.path(run);
        let opened = loop {
            match open_append(&path) {
                // The process is out of file descriptors (its limit is below `max_open`, or
                // the program holds many): the files kept open give theirs back, half at a
                // time, and that many fewer are kept open from now on.
                Err(e) if out_of_descriptors(&e) && !self.open.is_empty() => {
                    let keep = self.open.len() / 2;
                    self.close_oldest(self.open.len() - keep);
                    self.max_open = self.max_open.min(keep + 1);
                }
                opened => break opened,
            }
        };
        match opened {
            Ok(mut file) => {
                // Before the first byte of the batch only: past it, the write goes on from
                // where it stopped.
                let ended = if done == 0 {
                    end_cut_line(&mut file, &mut cut)
                } else {
                    Ok(())
                };
                match ended.and_then(|()| write_all_from(&mut file, bytes, &mut done)) {
                    Ok(()) => worker.written(lines),
                    Err(e) => {
                        // A line cut short is ended before the run's next line.
                        if cut || done > 0 && bytes[done - 1] != b'\n' {
                            self.cut_short(run);
                        }
                        worker.failed(lines, &format_args!("{}: {e}", shown(&path)));
                    }
                }
                let open = Open {
                    file,
                    used: tick,
                    checked: now,
                };
                self.open.insert(run.into(), open);
            }
            Err(e) => {
                if cut {
                    self.cut_short(run);
                }
                self.open_failed(worker, path, &e, lines);
            }
        }
    }

    /// Remembers that `run`'s file ends in a line cut short, while fewer than [`CUT_KEPT`]
    /// are (past that, a run's next line may be glued to its cut one).
    fn cut_short(&mut self, run: &[u8]) {
        if self.cut.len() < CUT_KEPT {
            self.cut.insert(run.into(), ());
        }
    }

    /// Closes the `n` files least recently written.
    fn close_oldest(&mut self, n: usize) {
        if n == 1 {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, open)| open.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.open.remove(&oldest);
            }
            return;
        }
        let mut by_use: Vec<(u64, Box<[u8]>)> = self
            .open
            .iter()
            .map(|(run, open)| (open.used, run.clone()))
            .collect();
        by_use.sort_unstable();
        for (_, run) in by_use.into_iter().take(n) {
            self.open.remove(&run);
        }
    }

    /// The path of `run`'s file (the outside file for the empty run).
    fn path(&self, run: &[u8]) -> PathBuf {
        run_path(&self.dir, &self.outside, run)
    }

    /// `lines` lost because `path` could not be opened: counted, and said on stderr (nowhere
    /// else to log to) once per file.
    fn open_failed(&mut self, worker: &queue::Worker, path: PathBuf, e: &io::Error, lines: u64) {
        if !self.failed.contains(&path) && self.failed.len() < 256 {
            eprintln!("tracectx: cannot open log file {}: {e}", shown(&path));
            self.failed.push(path.clone());
        }
        worker.failed(lines, &format_args!("{}: {e}", shown(&path)));
    }

    /// Writes each run's lines of a batch and closes every file, on `threads` threads at
    /// once: what the guard's drop waits for when many runs logged until the end. Each run's
    /// lines go to its file from one thread, in order; at most `max_open` files are open at
    /// any time, as ever.
    fn write_closing(
        &mut self,
        worker: &queue::Worker,
        runs: Vec<Closing<'_>>,
        threads: usize,
        now: Instant,
    ) {
        // The files of other runs close now; those of the batch's runs are written to, then
        // closed, but only as many as leave room for the threads to open one more each.
        let mut open = std::mem::take(&mut self.open);
        let mut room = self.max_open.saturating_sub(threads);
        let jobs: Vec<Mutex<Closing<'_>>> = runs
            .into_iter()
            .map(|mut job| {
                job.file = open
                    .remove(job.run)
                    .filter(|_| room > 0)
                    .inspect(|_| room -= 1);
                Mutex::new(job)
            })
            .collect();
        drop(open);
        // Each thread takes the next run not taken yet; this one too, so that a thread that
        // cannot be started only leaves more to the others.
        let next = AtomicUsize::new(0);
        let this = &*self;
        let write = || {
            let mut scratch = Vec::new();
            while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                let job = &mut *job.lock().unwrap_or_else(PoisonError::into_inner);
                let path = this.path(job.run);
                let kept = job
                    .file
                    .take()
                    .and_then(|mut open| open.current(|| path.clone(), now).then_some(open.file));
                job.outcome = match kept.map_or_else(|| open_append(&path), Ok) {
                    Ok(mut file) => {
                        Batch::gather(job.msgs, job.lines, &mut scratch);
                        let mut cut = this.cut.contains_key(job.run);
                        end_cut_line(&mut file, &mut cut)
                            .and_then(|()| write_all_from(&mut file, &scratch, &mut 0))
                            .map_err(|e| (path, e, false))
                    }
                    Err(e) => Err((path, e, true)),
                };
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                let _ = std::thread::Builder::new()
                    .name("tracectx-per-run-closer".into())
                    .spawn_scoped(scope, write);
            }
            write();
        });
        for job in jobs {
            let job = job.into_inner().unwrap_or_else(PoisonError::into_inner);
            let lines = job.lines.len() as u64;
            match job.outcome {
                Ok(()) => worker.written(lines),
                Err((path, e, true)) => self.open_failed(worker, path, &e, lines),
                Err((path, e, false)) => {
                    worker.failed(lines, &format_args!("{}: {e}", shown(&path)));
                }
            }
        }
    }
}

/// The path of `run`'s file in `dir` (the file named `outside` for the empty run).
fn run_path(dir: &Path, outside: &str, run: &[u8]) -> PathBuf {
    let name = match std::str::from_utf8(run) {
        Ok("") => outside.to_owned(),
        Ok(run) => run_log_file_name(run),
        // Run ids are ASCII; nothing else is ever sent.
        Err(_) => outside.to_owned(),
    };
    dir.join(name)
}

/// Opens `path` to append, creating it if need be, and its directory if that was removed. An
/// existing file is opened without `O_CREAT`, which would lock the directory against every
/// other open in it.
fn open_append(path: &Path) -> io::Result<File> {
    match OpenOptions::new().append(true).open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let create = || OpenOptions::new().create(true).append(true).open(path);
            match create() {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match path.parent().map(std::fs::create_dir_all) {
                        Some(Ok(())) => create(),
                        _ => Err(e),
                    }
                }
                created => created,
            }
        }
        opened => opened,
    }
}

/// Whether opening a file failed for want of a file descriptor: the process's limit
/// (`EMFILE`) or the system's (`ENFILE`).
fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE is 24 and ENFILE 23 on Linux, macOS and the BSDs; Windows has
    // ERROR_TOO_MANY_OPEN_FILES, 4.
    let codes: &[i32] = if cfg!(unix) {
        &[23, 24]
    } else if cfg!(windows) {
        &[4]
    } else {
        &[]
    };
    e.raw_os_error().is_some_and(|code| codes.contains(&code))
}

/// How many runs whose file ends in a line cut short [`Files`] remembers.
const CUT_KEPT: usize = 1_024;

/// Ends the line a failed write left cut short at the end of `file`, when `cut` says there
/// is one and the file still holds it (a file emptied or replaced since does not); `cut` is
/// cleared once it is.
fn end_cut_line(file: &mut File, cut: &mut bool) -> io::Result<()> {
    if *cut && file.metadata().map_or(true, |meta| meta.len() > 0) {
        write_all_from(file, b"\n", &mut 0)?;
    }
    *cut = false;
    Ok(())
}

/// Writes `bytes[*done..]`, counting in `done` what was written (also when it fails part
/// way, so that a retry goes on from there).
fn write_all_from(file: &mut File, bytes: &[u8], done: &mut usize) -> io::Result<()> {
    while let Some(rest) = bytes.get(*done..).filter(|rest| !rest.is_empty()) {
        match file.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A run's lines of the last batch, as [`Files::write_closing`] writes them.
struct Closing<'b> {
    run: &'b [u8],
    msgs: &'b [Msg],
    lines: &'b [u32],
    file: Option<Open>,
    /// The path and error when the file could not be opened (`true`) or written.
    outcome: Result<(), (PathBuf, io::Error, bool)>,
}

/// A batch of lines: the messages as they arrived, and for each run the places of its lines
/// among them, in the order the run wrote them. At the write, a run's lines are gathered into
/// one buffer, reused run after run: each line is copied once on the writer thread, and the
/// kernel copies one buffer a run, still in the cache, instead of a piece a line.
#[derive(Default)]
struct Batch {
    msgs: Vec<Msg>,
    /// Each run's slot in `slots`.
    runs: ByRun<usize>,
    /// The runs in the order they first wrote in this batch; slots past `used` are kept
    /// (their lists empty) for the next batches' runs, as many as one batch has had.
    slots: Vec<Slot>,
    used: usize,
    bytes: usize,
    /// Queue bytes of the messages gathered, released once they are written.
    queued: usize,
    /// A run's lines, gathered for its write.
    scratch: Vec<u8>,
}

/// A run's lines in a [`Batch`]: their messages' places (never empty while in use; the run
/// is read from the first).
#[derive(Default)]
struct Slot {
    lines: Vec<u32>,
}

impl Batch {
    fn add(&mut self, msg: Msg) {
        let (run, line) = match &msg {
            Msg::RunLine(msg) => decode(msg),
            Msg::Line(line) => (&b""[..], &line[..]),
            Msg::Shutdown => return,
        };
        self.bytes += line.len();
        self.queued += msg.bytes();
        let at = self.msgs.len() as u32;
        let slot = match self.runs.get(run) {
            Some(&slot) => slot,
            None => {
                let slot = self.used;
                self.used += 1;
                if slot == self.slots.len() {
                    self.slots.push(Slot::default());
                }
                self.runs.insert(run.into(), slot);
                slot
            }
        };
        self.slots[slot].lines.push(at);
        self.msgs.push(msg);
    }

    fn is_full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.msgs.len() >= BATCH_LINES
    }

    /// The run of `slot`'s lines: its first message's.
    fn run<'m>(msgs: &'m [Msg], slot: &Slot) -> &'m [u8] {
        match slot.lines.first().map(|&at| &msgs[at as usize]) {
            Some(Msg::RunLine(msg)) => decode(msg).0,
            _ => b"",
        }
    }

    /// The lines of `msgs` at `lines`, one after the other in `out`.
    fn gather(msgs: &[Msg], lines: &[u32], out: &mut Vec<u8>) {
        out.clear();
        for &at in lines {
            match &msgs[at as usize] {
                Msg::RunLine(msg) => out.extend_from_slice(decode(msg).1),
                Msg::Line(line) => out.extend_from_slice(line),
                Msg::Shutdown => {}
            }
        }
    }

    fn write_out(&mut self, files: &mut Files, worker: &queue::Worker) {
        // One clock read a batch, for the checks of files kept open.
        let now = Instant::now();
        let slots = &self.slots[..self.used];
        let threads = files.closing_threads;
        if worker.stopping() && threads > 1 && slots.len() >= 2 * threads {
            // The guard is finishing: the loggers are done, the cores free, and the drop
            // waits for this batch. Its runs are written on several threads.
            let runs = slots
                .iter()
                .map(|slot| Closing {
                    run: Self::run(&self.msgs, slot),
                    msgs: &self.msgs,
                    lines: &slot.lines,
                    file: None,
                    outcome: Ok(()),
                })
                .collect();
            files.write_closing(worker, runs, threads, now);
        } else {
            // The runs whose files are open first: when more runs log at once than files
            // may be open, the ones written last stay open for the next batch instead of
            // being closed by runs that need reopening anyway.
            let (open, closed): (Vec<&Slot>, Vec<&Slot>) = slots
                .iter()
                .partition(|slot| files.open.contains_key(Self::run(&self.msgs, slot)));
            for slot in open.into_iter().chain(closed) {
                Self::gather(&self.msgs, &slot.lines, &mut self.scratch);
                let run = Self::run(&self.msgs, slot);
                files.write(worker, run, &self.scratch, slot.lines.len() as u64, now);
            }
        }
        for slot in &mut self.slots[..self.used] {
            slot.lines.clear();
        }
        self.used = 0;
        self.runs.clear();
        self.msgs.clear();
        if self.scratch.capacity() > SCRATCH_KEPT {
            // One run wrote most of a batch: its buffer is not kept for every write after.
            self.scratch = Vec::new();
        }
        self.bytes = 0;
        worker.release(std::mem::take(&mut self.queued));
    }
}

fn write_runs(worker: &queue::Worker, mut files: Files) {
    let mut batch = Batch::default();
    while let Some(first) = worker.recv() {
        let started = Instant::now();
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            batch.add(msg);
            if batch.is_full() {
                batch.write_out(&mut files, worker);
            }
            next = match worker.try_recv() {
                Some(msg) => Some(msg),
                // The queue ran empty: wait for more while the batch is young, so that many
                // runs logging at once cost a write per run per batch, not per line; not when
                // the guard is finishing.
                None if !worker.stopping() && !worker.room_short() => {
                    let linger = if batch.bytes < batch.used * RUN_BYTES {
                        MAX_LINGER
                    } else {
                        LINGER
                    };
                    worker.recv_until(started + linger)
                }
                None => None,
            };
        }
        batch.write_out(&mut files, worker);
    }
}
