//! Handing lines to a dedicated writer thread: the non-blocking and rolling-file writers.

use std::any::Any;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;

use super::queue::{self, Msg, Options, Queue, WorkerGuard};
use super::shown;

/// A [`MakeWriter`] that hands lines to a dedicated writer thread, made by [`non_blocking`],
/// [`rolling_file`] or a [`NonBlockingBuilder`].
///
/// Logging costs a copy of the line and a send on a queue; the thread writes through a 64 KiB
/// buffer that it flushes whenever the queue runs empty.
///
/// # When the queue is full
///
/// The queue holds at most 128,000 lines ([`DEFAULT_BUFFERED_LINES_LIMIT`]) and 64 MiB of them
/// ([`DEFAULT_BUFFERED_BYTES_LIMIT`]), so a sink that stalls holds the memory of its queue
/// bounded, whatever the size of the lines. When either bound is reached, logging *waits* for
/// room by default: a log that silently loses lines of a run is worse than a slow one. A
/// [lossy](NonBlockingBuilder::lossy) writer drops the line instead, and counts it.
///
/// # When the sink fails
///
/// A write that fails (a full disk, a closed pipe) or panics does not stop the writer: the
/// lines it carried are counted as failed, the first failure is said on stderr, once, and the
/// next lines are tried. What became of every line is in [`WorkerGuard::stats`] and
/// [`WorkerGuard::finish`]; a guard dropped with lines failed, dropped or unwritten says how
/// many on stderr.
///
/// [`DEFAULT_BUFFERED_LINES_LIMIT`]: crate::logging::DEFAULT_BUFFERED_LINES_LIMIT
/// [`DEFAULT_BUFFERED_BYTES_LIMIT`]: crate::logging::DEFAULT_BUFFERED_BYTES_LIMIT
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let (writer, guard) = tracectx::logging::non_blocking(std::fs::File::create(&path)?)?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// tracing::subscriber::with_default(subscriber, || {
///     for i in 0..100 {
///         tracing::info!(i, "queued");
///     }
/// });
/// let stats = guard.finish(); // every accepted line is in the file now
/// assert_eq!((stats.written, stats.lost()), (100, 0));
/// assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 100);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NonBlocking {
    queue: Queue,
}

impl NonBlocking {
    /// A [`NonBlockingBuilder`] with the defaults of [`non_blocking`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::NonBlocking;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let (writer, guard) = NonBlocking::builder().finish(std::fs::File::create(&path)?)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("through the builder"));
    /// drop(guard);
    /// assert!(std::fs::read_to_string(&path)?.ends_with("through the builder\n"));
    /// # Ok(()) }
    /// ```
    pub fn builder() -> NonBlockingBuilder {
        NonBlockingBuilder::default()
    }
}

/// Configures a [`NonBlocking`] writer: the bounds of its queue, what to do when it is full,
/// how long its guard waits at shutdown.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tracectx::logging::NonBlocking;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let (writer, guard) = NonBlocking::builder()
///     .buffered_lines_limit(10_000)
///     .buffered_bytes_limit(8 << 20)
///     .lossy(true) // drop (and count) lines rather than wait when the queue is full
///     .shutdown_timeout(Duration::from_secs(5))
///     .finish(std::fs::File::create(&path)?)?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| (0..3).for_each(|i| tracing::info!(i, "tick")));
/// });
/// let stats = guard.finish(); // waits (at most 5 s) for the queued lines
/// assert_eq!((stats.written, stats.dropped, stats.lost()), (3, 0, 0));
/// let text = std::fs::read_to_string(&path)?;
/// assert_eq!(text.lines().filter(|l| l.contains("[job_1]")).count(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NonBlockingBuilder {
    options: Options,
    thread_name: String,
    sink_name: Option<String>,
}

impl Default for NonBlockingBuilder {
    fn default() -> Self {
        Self {
            options: Options::default(),
            thread_name: "tracectx-log-writer".into(),
            sink_name: None,
        }
    }
}

impl NonBlockingBuilder {
    /// At most `lines` lines wait for the writer thread (at least 1, at most 1,048,576, whose
    /// slots are made when the writer starts; default
    /// [`DEFAULT_BUFFERED_LINES_LIMIT`](crate::logging::DEFAULT_BUFFERED_LINES_LIMIT),
    /// 128,000).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let file = std::fs::File::create(dir.path().join("app.log"))?;
    /// // A queue of one line: logging waits for the writer, and nothing is lost.
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .buffered_lines_limit(1)
    ///     .finish(file)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for i in 0..1_000 {
    ///         tracing::info!(i, "tick");
    ///     }
    /// });
    /// let stats = guard.finish();
    /// assert_eq!((stats.written, stats.dropped), (1_000, 0));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn buffered_lines_limit(mut self, lines: usize) -> Self {
        self.options.lines = lines.clamp(1, super::queue::MAX_BUFFERED_LINES);
        self
    }

    /// At most `bytes` of lines wait for the writer thread (default
    /// [`DEFAULT_BUFFERED_BYTES_LIMIT`](crate::logging::DEFAULT_BUFFERED_BYTES_LIMIT), 64 MiB).
    /// A line larger than the bound is accepted when nothing else waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// // 64 bytes: less than one line, so each line waits for the one before to be written.
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .buffered_bytes_limit(64)
    ///     .finish(std::fs::File::create(&path)?)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for i in 0..10 {
    ///         tracing::info!(i, "a line longer than the whole bound of the queue");
    ///     }
    /// });
    /// assert_eq!(guard.finish().written, 10);
    /// assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 10);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn buffered_bytes_limit(mut self, bytes: usize) -> Self {
        self.options.bytes = bytes;
        self
    }

    /// When the queue is full, drop the line (and count it in
    /// [`WriterStats::dropped`](crate::logging::WriterStats::dropped)) instead of waiting for
    /// room. Off by default: logging waits, and no line is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// /// A sink that holds its first write until told to go on.
    /// struct Gated(mpsc::Receiver<()>);
    /// impl std::io::Write for Gated {
    ///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    ///         let _ = self.0.recv();
    ///         Ok(buf.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (go, gate) = mpsc::channel();
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .buffered_bytes_limit(1) // room for one line
    ///     .lossy(true)
    ///     .finish(Gated(gate))?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for _ in 0..10 {
    ///         tracing::info!("burst"); // returns at once, the sink stuck or not
    ///     }
    /// });
    /// drop(go);
    /// let stats = guard.finish();
    /// assert_eq!((stats.written, stats.dropped), (1, 9));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn lossy(mut self, lossy: bool) -> Self {
        self.options.lossy = lossy;
        self
    }

    /// How long dropping the [`WorkerGuard`] (or [`WorkerGuard::finish`]) waits for the lines
    /// accepted before to be written. The default, `None`, waits without a limit, so that no
    /// accepted line is lost; a sink that may block for good (a pipe nobody reads) blocks the
    /// drop for good then. With a limit, the lines not written in time are counted as pending
    /// and said.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// /// A sink that never returns, as a pipe nobody reads.
    /// struct Stuck;
    /// impl std::io::Write for Stuck {
    ///     fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
    ///         loop { std::thread::park() }
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .shutdown_timeout(Duration::from_millis(50))
    ///     .finish(Stuck)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("never written"));
    /// let stats = guard.finish(); // gives up instead of waiting for good
    /// assert_eq!((stats.written, stats.pending), (0, 1));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.options.shutdown_timeout = timeout.into();
        self
    }

    /// The name of the writer thread (default `tracectx-log-writer`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// /// A sink that notes which thread writes to it.
    /// struct Noting(Arc<Mutex<Option<String>>>);
    /// impl std::io::Write for Noting {
    ///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    ///         *self.0.lock().unwrap() = std::thread::current().name().map(String::from);
    ///         Ok(buf.len())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let seen = Arc::new(Mutex::new(None));
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .thread_name("app-log-writer")
    ///     .finish(Noting(Arc::clone(&seen)))?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// drop(guard);
    /// assert_eq!(seen.lock().unwrap().as_deref(), Some("app-log-writer"));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// How messages on stderr name the sink: a file name, say (default `log writer`).
    ///
    /// # Examples
    ///
    /// ```
    /// /// A sink whose every write fails, as a full disk does.
    /// struct Full;
    /// impl std::io::Write for Full {
    ///     fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
    ///         Err(std::io::Error::other("no space left on device"))
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .sink_name("/var/log/app/audit.log")
    ///     .finish(Full)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// // stderr says "tracectx: /var/log/app/audit.log: cannot write log lines: no space ...".
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("lost"));
    /// assert_eq!(guard.finish().failed, 1);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn sink_name(mut self, name: impl Into<String>) -> Self {
        self.sink_name = Some(name.into());
        self
    }

    /// Starts the writer thread writing to `writer`; returns the [`MakeWriter`] to log through
    /// and the guard that ends it.
    ///
    /// # Errors
    ///
    /// The I/O error when the thread cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let (writer, guard) = tracectx::logging::NonBlocking::builder()
    ///     .thread_name("app-log")
    ///     .finish(std::fs::File::create(&path)?)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// let ctx = tracectx::TraceContext::new("job_9")?;
    /// tracing::subscriber::with_default(subscriber, || ctx.sync_scope(|| tracing::info!("done")));
    /// assert_eq!(guard.finish().written, 1);
    /// assert!(std::fs::read_to_string(&path)?.contains("] [job_9] ["));
    /// # Ok(()) }
    /// ```
    pub fn finish<W>(self, writer: W) -> io::Result<(NonBlocking, WorkerGuard)>
    where
        W: Write + Send + 'static,
    {
        let what = self.sink_name.unwrap_or_else(|| "log writer".into());
        let (queue, guard) = queue::start(self.options, &self.thread_name, what, move |worker| {
            write_lines(worker, writer);
        })?;
        Ok((NonBlocking { queue }, guard))
    }

    /// Starts the writer thread writing to a file in `directory` that starts anew every
    /// `rotation` period; see [`rolling_file`].
    ///
    /// # Errors
    ///
    /// The I/O error when the directory or file cannot be created, or the thread not started.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{NonBlocking, Rotation};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let (writer, guard) = NonBlocking::builder()
    ///     .buffered_lines_limit(10_000)
    ///     .rolling_file(dir.path().join("logs"), "app.log", Rotation::NEVER)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("rolled"));
    /// drop(guard);
    /// // `Rotation::NEVER`: the prefix is the whole name (else `app.log.2024-01-01`, ...).
    /// assert!(std::fs::read_to_string(dir.path().join("logs/app.log"))?.ends_with("rolled\n"));
    /// # Ok(()) }
    /// ```
    pub fn rolling_file(
        self,
        directory: impl AsRef<Path>,
        file_name_prefix: &str,
        rotation: Rotation,
    ) -> io::Result<(NonBlocking, WorkerGuard)> {
        let directory = directory.as_ref();
        let appender = RollingFileAppender::builder()
            .rotation(rotation)
            .filename_prefix(file_name_prefix)
            .build(directory)
            .map_err(|e| {
                io::Error::other(format!(
                    "cannot open a rolling log file in {}: {e}",
                    shown(directory)
                ))
            })?;
        let this = match self.sink_name {
            Some(_) => self,
            None => self.sink_name(format!(
                "log file {}",
                shown(&directory.join(file_name_prefix))
            )),
        };
        this.finish(appender)
    }
}

/// Writes lines to `writer` on a dedicated thread; returns the [`MakeWriter`] to log through
/// and the guard that flushes on drop. The defaults: a queue of at most 128,000 lines and
/// 64 MiB, logging waits when it is full, the guard waits for every line without a time limit;
/// [`NonBlocking::builder`] sets others.
///
/// # Errors
///
/// The I/O error when the thread cannot be started.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("app.log"))?;
/// let (writer, guard) = tracectx::logging::non_blocking(file)?;
/// let subscriber = tracectx::logging::builder()
///     .with_level(tracing::Level::INFO)
///     .with_writer(writer)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// drop(guard); // waits until the line is in the file
/// assert!(std::fs::read_to_string(dir.path().join("app.log"))?.ends_with("queued\n"));
/// # Ok(()) }
/// ```
pub fn non_blocking<W>(writer: W) -> io::Result<(NonBlocking, WorkerGuard)>
where
    W: Write + Send + 'static,
{
    NonBlockingBuilder::default().finish(writer)
}

/// A non-blocking writer to a file in `directory` that starts a new file every `rotation`
/// period, named `<file_name_prefix>.<date>` (or just `<file_name_prefix>` with
/// [`Rotation::NEVER`]); the rolling file is tracing-appender's. The queue and guard are
/// [`non_blocking`]'s; [`NonBlockingBuilder::rolling_file`] sets others.
///
/// # Errors
///
/// The I/O error when the directory or file cannot be created, or the thread not started.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{self, Rotation};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let (writer, guard) = logging::rolling_file(dir.path(), "app.log", Rotation::DAILY)?;
/// let subscriber = logging::builder().with_writer(writer).build()?;
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || ctx.sync_scope(|| tracing::info!("rolled")));
/// assert_eq!(guard.finish().written, 1);
///
/// // Today's file, `app.log.2024-01-01` say: the date is the rotation's.
/// let file = std::fs::read_dir(dir.path())?.next().ok_or("no log file")??;
/// assert!(file.file_name().to_string_lossy().starts_with("app.log.20"));
/// let text = std::fs::read_to_string(file.path())?;
/// assert!(text.contains("[job_1]") && text.ends_with("rolled\n"));
/// # Ok(()) }
/// ```
pub fn rolling_file(
    directory: impl AsRef<Path>,
    file_name_prefix: &str,
    rotation: Rotation,
) -> io::Result<(NonBlocking, WorkerGuard)> {
    NonBlockingBuilder::default().rolling_file(directory, file_name_prefix, rotation)
}

// === the writer thread ===

/// Lines are gathered up to this many bytes, then written in one call.
const BATCH: usize = 64 * 1024;

fn write_lines<W: Write>(worker: &queue::Worker, inner: W) {
    let mut sink = Sink::new(inner);
    loop {
        let msg = match worker.try_recv() {
            Some(msg) => msg,
            None => {
                // The queue ran empty: what was gathered goes out now.
                sink.flush(worker);
                match worker.recv() {
                    Some(msg) => msg,
                    None => break,
                }
            }
        };
        let queued = msg.bytes();
        match &msg {
            Msg::Line(line) => sink.add(worker, line, queued),
            Msg::RunLine(msg) => sink.add(worker, super::per_run::decode(msg).1, queued),
            Msg::Shutdown => {}
        }
    }
    sink.flush(worker);
}

/// The writer thread's buffer in front of the sink, keeping count of the lines in it so that a
/// failed write is counted line by line.
struct Sink<W> {
    inner: W,
    buf: Vec<u8>,
    /// Where each line in `buf` ends.
    ends: Vec<usize>,
    /// Queue bytes of the lines in `buf`, released once they are written (or failed).
    queued: usize,
    /// Lines written to `inner` since its last flush.
    unflushed: u64,
    /// A write failed part-way through a line (a disk filling up): the sink ends with the
    /// start of a line, which the next line must not be glued to (it would read as the cut
    /// line's, run id and all).
    cut: bool,
}

impl<W: Write> Sink<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(BATCH),
            ends: Vec::new(),
            queued: 0,
            unflushed: 0,
            cut: false,
        }
    }

    /// Ends the line a failed write cut short, before anything else is written; the error
    /// when even that fails (the lines to be written then fail with it).
    fn end_cut_line(&mut self) -> Option<io::Error> {
        if !self.cut {
            return None;
        }
        match write_counted(&mut self.inner, b"\n") {
            (1, None) => {
                self.cut = false;
                None
            }
            (_, error) => Some(error.unwrap_or_else(|| io::ErrorKind::WriteZero.into())),
        }
    }

    fn add(&mut self, worker: &queue::Worker, line: &[u8], queued: usize) {
        if line.len() >= BATCH {
            // Written as it is, not copied.
            self.write_out(worker);
            let (written, error) = match self.end_cut_line() {
                Some(e) => (0, Some(e)),
                None => write_counted(&mut self.inner, line),
            };
            self.count(worker, &[line.len()], written, error);
            worker.release(queued);
            return;
        }
        self.buf.extend_from_slice(line);
        self.ends.push(self.buf.len());
        self.queued += queued;
        if self.buf.len() >= BATCH {
            self.write_out(worker);
        }
    }

    /// Writes `buf` to the sink.
    fn write_out(&mut self, worker: &queue::Worker) {
        if self.buf.is_empty() {
            return;
        }
        let (written, error) = match self.end_cut_line() {
            Some(e) => (0, Some(e)),
            None => write_counted(&mut self.inner, &self.buf),
        };
        let ends = std::mem::take(&mut self.ends);
        self.count(worker, &ends, written, error);
        self.ends = ends;
        self.ends.clear();
        self.buf.clear();
        worker.release(std::mem::take(&mut self.queued));
    }

    /// Lines ending at `ends` were written up to byte `written`: those before are written,
    /// the others (a line cut short among them) failed.
    fn count(
        &mut self,
        worker: &queue::Worker,
        ends: &[usize],
        written: usize,
        error: Option<io::Error>,
    ) {
        let whole = ends.iter().take_while(|&&end| end <= written).count();
        self.unflushed += whole as u64;
        if let Some(e) = error {
            // Part of a line went in before the error: the sink holds a line with no end.
            let last_end = whole.checked_sub(1).map_or(0, |i| ends[i]);
            self.cut |= written != last_end;
            worker.failed((ends.len() - whole) as u64, &e);
        }
    }

    /// Writes `buf` and flushes the sink: the lines written since the last flush are counted
    /// written when it succeeds, failed when it does not.
    fn flush(&mut self, worker: &queue::Worker) {
        self.write_out(worker);
        if self.unflushed == 0 {
            return;
        }
        let lines = std::mem::take(&mut self.unflushed);
        match catch_unwind(AssertUnwindSafe(|| self.inner.flush())) {
            Ok(Ok(())) => worker.written(lines),
            Ok(Err(e)) => worker.failed(lines, &e),
            Err(panic) => worker.failed(lines, &panicked(panic.as_ref())),
        }
    }
}

/// Writes `bytes` to `inner` as `write_all` does, but says how many bytes went in before an
/// error, and catches a panic of the sink as an error.
fn write_counted(inner: &mut impl Write, bytes: &[u8]) -> (usize, Option<io::Error>) {
    let mut done = 0;
    while done < bytes.len() {
        match catch_unwind(AssertUnwindSafe(|| inner.write(&bytes[done..]))) {
            Ok(Ok(0)) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "the sink took no bytes");
                return (done, Some(e));
            }
            Ok(Ok(n)) => done = (done + n).min(bytes.len()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return (done, Some(e)),
            Err(panic) => return (done, Some(panicked(panic.as_ref()))),
        }
    }
    (done, None)
}

/// The error of a sink that panicked, with the panic's message.
fn panicked(panic: &(dyn Any + Send)) -> io::Error {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    io::Error::other(format!("the sink panicked: {message}"))
}

// === the logging side ===

/// The writer [`NonBlocking`] makes for each event.
///
/// Each `write` hands its bytes to the writer thread as one line, as the fmt layer writes an
/// event.
///
/// # Examples
///
/// ```
/// use std::io::Write as _;
/// use tracing_subscriber::fmt::MakeWriter as _;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let (writer, guard) = tracectx::logging::non_blocking(std::fs::File::create(&path)?)?;
/// let mut line: tracectx::logging::NonBlockingWriter<'_> = writer.make_writer();
/// line.write_all(b"written by hand\n")?;
/// drop(guard);
/// assert_eq!(std::fs::read_to_string(&path)?, "written by hand\n");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NonBlockingWriter<'a> {
    queue: &'a Queue,
}

impl Write for NonBlockingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.queue.send(Msg::Line(buf.to_vec()))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = NonBlockingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        NonBlockingWriter { queue: &self.queue }
    }
}
