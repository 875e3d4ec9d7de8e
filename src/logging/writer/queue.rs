//! The queue between the threads that log and a writer thread, shared by the non-blocking and
//! per-run writers: bounded in lines and in bytes, blocking or dropping when full, and keeping
//! count of what became of every line; and the [`WorkerGuard`] that ends it.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The default bound on lines waiting for a writer thread: 128,000, tracing-appender's.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{NonBlocking, DEFAULT_BUFFERED_LINES_LIMIT};
///
/// assert_eq!(DEFAULT_BUFFERED_LINES_LIMIT, 128_000);
/// // A smaller queue for a small service:
/// let builder = NonBlocking::builder().buffered_lines_limit(DEFAULT_BUFFERED_LINES_LIMIT / 8);
/// let (_writer, guard) = builder.finish(std::io::sink())?;
/// assert_eq!(guard.finish().written, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_BUFFERED_LINES_LIMIT: usize = 128_000;

/// The most lines a writer's queue holds, whatever its setting: the queue's slots are made when
/// the writer starts.
pub(super) const MAX_BUFFERED_LINES: usize = 1 << 20;

/// The default bound on the bytes of the lines waiting for a writer thread: 64 MiB.
///
/// A line larger than the whole bound is accepted when nothing else is waiting, so that it can
/// be written at all.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{PerRunFiles, DEFAULT_BUFFERED_BYTES_LIMIT};
///
/// assert_eq!(DEFAULT_BUFFERED_BYTES_LIMIT, 64 * 1024 * 1024);
/// # let dir = tempfile::tempdir()?;
/// let (_writer, guard) = PerRunFiles::builder(dir.path())
///     .buffered_bytes_limit(DEFAULT_BUFFERED_BYTES_LIMIT / 16)
///     .build()?;
/// assert_eq!(guard.finish().written, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_BUFFERED_BYTES_LIMIT: usize = 64 << 20;

/// How often a logger waiting for a place in a queue full of lines looks again.
const LINE_ROOM_POLL: Duration = Duration::from_millis(1);

/// A message to the writer thread.
pub(super) enum Msg {
    Line(Vec<u8>),
    /// A line of a run, for the per-run writer: `[run id length][run id][line]`.
    RunLine(Vec<u8>),
    /// Wakes the writer thread to see that the guard is finishing.
    Shutdown,
}

impl Msg {
    /// The bytes it holds, as the queue counts them.
    pub(super) fn bytes(&self) -> usize {
        match self {
            Self::Line(b) | Self::RunLine(b) => b.len(),
            Self::Shutdown => 0,
        }
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "Line({} bytes)", line.len()),
            Self::RunLine(msg) => write!(f, "RunLine({} bytes)", msg.len()),
            Self::Shutdown => f.write_str("Shutdown"),
        }
    }
}

// === Options ===

/// How a queue is bounded and ended: the settings [`NonBlockingBuilder`] and
/// [`PerRunFilesBuilder`] share.
///
/// [`NonBlockingBuilder`]: super::NonBlockingBuilder
/// [`PerRunFilesBuilder`]: super::PerRunFilesBuilder
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub(super) lines: usize,
    pub(super) bytes: usize,
    pub(super) lossy: bool,
    pub(super) shutdown_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lines: DEFAULT_BUFFERED_LINES_LIMIT,
            bytes: DEFAULT_BUFFERED_BYTES_LIMIT,
            lossy: false,
            shutdown_timeout: None,
        }
    }
}

// === WriterStats ===

/// What became of the lines handed to a non-blocking or per-run writer, from
/// [`WorkerGuard::stats`] and [`WorkerGuard::finish`].
///
/// Every line logged is, at any moment, in exactly one of these counts (lines logged after the
/// guard began finishing are refused with an error to the logging thread, counted nowhere, and
/// said on stderr the first time).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (writer, guard) = tracectx::logging::non_blocking(std::io::sink())?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("one line"));
/// let stats = guard.finish();
/// assert_eq!((stats.written, stats.lost()), (1, 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Lines written to the sink (and flushed).
    pub written: u64,
    /// Lines refused because the queue was full: lossy writers only
    /// ([`NonBlockingBuilder::lossy`](super::NonBlockingBuilder::lossy)); the others wait for
    /// room instead.
    pub dropped: u64,
    /// Lines the sink did not take: it returned an error (a full disk, a closed pipe) or
    /// panicked.
    pub failed: u64,
    /// Lines accepted and not written yet: waiting in the queue or being written. After
    /// [`WorkerGuard::finish`] gave up waiting (its shutdown timeout), the lines it left
    /// behind.
    pub pending: u64,
}

impl WriterStats {
    /// The lines that are not (or not yet) in the sink: dropped, failed or pending.
    ///
    /// # Examples
    ///
    /// ```
    /// /// A sink whose every write fails, as a closed pipe does.
    /// struct Closed;
    /// impl std::io::Write for Closed {
    ///     fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
    ///         Err(std::io::ErrorKind::BrokenPipe.into())
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (writer, guard) = tracectx::logging::non_blocking(Closed)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("nowhere to go"));
    /// let stats = guard.finish();
    /// assert_eq!((stats.written, stats.failed, stats.lost()), (0, 1, 1));
    /// # Ok(()) }
    /// ```
    pub fn lost(&self) -> u64 {
        self.dropped + self.failed + self.pending
    }
}

impl fmt::Display for WriterStats {
    /// `1000 lines written, 3 failed, 2 dropped (queue full), 1 not written`, naming only the
    /// counts that are not zero beside `written`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        write!(f, "{} line{} written", self.written, plural(self.written))?;
        if self.failed > 0 {
            write!(f, ", {} failed", self.failed)?;
        }
        if self.dropped > 0 {
            write!(f, ", {} dropped (queue full)", self.dropped)?;
        }
        if self.pending > 0 {
            write!(f, ", {} not written", self.pending)?;
        }
        Ok(())
    }
}

// === Shared ===

/// What the logging threads, the writer thread and the guard share.
struct Shared {
    options: Options,
    /// Bytes of the lines accepted and not yet handed to the sink.
    ///
    /// Every change of it and of `waiting` is `SeqCst`: a logger counts itself in `waiting`
    /// and then reads `queued_bytes`, a release changes `queued_bytes` and then reads
    /// `waiting`; with all four in one total order, at least one of them sees the other's
    /// change, so a logger that found no room is always woken.
    queued_bytes: AtomicUsize,
    /// Logging threads waiting for room: in bytes, or for a place in a queue full of lines.
    waiting: AtomicUsize,
    room: Mutex<()>,
    room_freed: Condvar,
    /// The guard has begun to finish: the writer thread drains the queue and stops.
    stopping: AtomicBool,
    /// No line is accepted any more: the guard finished or the writer thread ended.
    closed: AtomicBool,
    accepted: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// The first failure was said on stderr.
    said: AtomicBool,
    /// The first line refused because the writer had stopped was said on stderr.
    refusal_said: AtomicBool,
    /// The writer thread has ended.
    done: Mutex<bool>,
    ended: Condvar,
    /// Names the sink in messages: "log file app.log", "per-run log files in runs/".
    what: String,
}

impl Shared {
    fn stats(&self) -> WriterStats {
        // `accepted` first: every other count only grows from lines it already counted.
        let accepted = self.accepted.load(Ordering::Acquire);
        let written = self.written.load(Ordering::Acquire);
        let failed = self.failed.load(Ordering::Acquire);
        WriterStats {
            written,
            dropped: self.dropped.load(Ordering::Acquire),
            failed,
            pending: accepted.saturating_sub(written + failed),
        }
    }

    fn wake_waiting(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _lock = self.room.lock().unwrap_or_else(PoisonError::into_inner);
            self.room_freed.notify_all();
        }
    }
}

// === Queue (the logging side) ===

/// The sending end, held by every `MakeWriter` of a writer and by its guard.
#[derive(Clone)]
pub(super) struct Queue {
    sender: SyncSender<Msg>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the log writer has stopped")
}

impl Queue {
    /// Queues `msg`, waiting for room (or, lossy, dropping it when there is none); refused
    /// once the writer has stopped, which is said on stderr the first time: the fmt layer
    /// drops the error without a word, and the line would be gone unsaid.
    pub(super) fn send(&self, msg: Msg) -> io::Result<()> {
        let sent = self.queue(msg);
        if sent.is_err() && !self.shared.refusal_said.swap(true, Ordering::AcqRel) {
            eprintln!(
                "tracectx: {}: a log line came after the writer stopped (its guard was dropped \
                 or finished) and was not written; nor will any later one be",
                self.shared.what
            );
        }
        sent
    }

    fn queue(&self, msg: Msg) -> io::Result<()> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(stopped());
        }
        let bytes = msg.bytes();
        if !self.reserve(bytes)? {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        // Counted before the line can be written, so `pending` never goes below zero.
        shared.accepted.fetch_add(1, Ordering::AcqRel);
        let refused = if shared.options.lossy {
            match self.sender.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(_)) => None,
                Err(TrySendError::Disconnected(_)) => Some(stopped()),
            }
        } else {
            match self.send_waiting(msg) {
                Ok(()) => return Ok(()),
                Err(e) => Some(e),
            }
        };
        shared.accepted.fetch_sub(1, Ordering::AcqRel);
        self.release(bytes);
        match refused {
            Some(e) => Err(e),
            None => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Sends `msg`, waiting while the queue holds as many lines as it may; refused once the
    /// guard is finishing. Not the channel's own blocking send: a logger waiting there stayed
    /// there for good when the guard gave up on a stuck sink, which no longer took lines.
    fn send_waiting(&self, mut msg: Msg) -> io::Result<()> {
        let shared = &*self.shared;
        loop {
            match self.sender.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(stopped()),
                Err(TrySendError::Full(back)) => msg = back,
            }
            // The writer thread frees places as it takes lines, and wakes waiting loggers
            // as it writes them; between the two a logger looks again every millisecond.
            let lock = shared.room.lock().unwrap_or_else(PoisonError::into_inner);
            shared.waiting.fetch_add(1, Ordering::SeqCst);
            if !shared.closed.load(Ordering::Acquire) {
                let _ = shared
                    .room_freed
                    .wait_timeout(lock, LINE_ROOM_POLL)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            if shared.closed.load(Ordering::Acquire) {
                return Err(stopped());
            }
        }
    }

    /// Counts `bytes` into the queue: at once when they fit (or the queue is empty), else after
    /// waiting for room; `false` when lossy and there is none.
    fn reserve(&self, bytes: usize) -> io::Result<bool> {
        let shared = &*self.shared;
        let limit = shared.options.bytes;
        let fits = |queued: usize| queued == 0 || queued.saturating_add(bytes) <= limit;
        let try_add = || {
            shared
                .queued_bytes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                    fits(q).then(|| q + bytes)
                })
                .is_ok()
        };
        if try_add() {
            return Ok(true);
        }
        if shared.options.lossy {
            return Ok(false);
        }
        let mut lock = shared.room.lock().unwrap_or_else(PoisonError::into_inner);
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        let reserved = loop {
            // Closed first: room freed after the guard began finishing takes no new line.
            if shared.closed.load(Ordering::Acquire) {
                break Err(stopped());
            }
            if try_add() {
                break Ok(true);
            }
            lock = shared
                .room_freed
                .wait(lock)
                .unwrap_or_else(PoisonError::into_inner);
        };
        shared.waiting.fetch_sub(1, Ordering::SeqCst);
        reserved
    }

    /// `bytes` left the queue: room for waiting lines.
    fn release(&self, bytes: usize) {
        self.shared.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
        self.shared.wake_waiting();
    }
}

// === Worker (the writer thread's side) ===

/// The receiving end, owned by the writer thread: hands out messages, and keeps the counts of
/// what became of them.
pub(super) struct Worker {
    receiver: Receiver<Msg>,
    shared: Arc<Shared>,
}

impl Worker {
    /// The next message, waiting for one; `None` once the guard is finishing and the queue is
    /// empty, or every sender is gone.
    pub(super) fn recv(&self) -> Option<Msg> {
        match self.try_recv() {
            Some(msg) => Some(msg),
            None if self.stopping() => None,
            None => match self.receiver.recv() {
                Ok(Msg::Shutdown) => self.try_recv(),
                Ok(msg) => Some(msg),
                Err(_) => None,
            },
        }
    }

    /// The next message if one is waiting (a `Shutdown` skipped).
    pub(super) fn try_recv(&self) -> Option<Msg> {
        loop {
            match self.receiver.try_recv() {
                Ok(Msg::Shutdown) => continue,
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
            }
        }
    }

    /// The next message, waiting at most until `deadline`; `None` at once when the guard
    /// starts finishing, so that a writer gathering lines writes them out then, not when its
    /// wait would have ended.
    pub(super) fn recv_until(&self, deadline: Instant) -> Option<Msg> {
        let left = deadline.checked_duration_since(Instant::now())?;
        match self.receiver.recv_timeout(left) {
            Ok(Msg::Shutdown) | Err(_) => None,
            Ok(msg) => Some(msg),
        }
    }

    /// Whether loggers wait for room, or soon may: half the byte bound or more is queued (or
    /// held in a batch not written yet). A writer that gathers lines must not wait for more
    /// then, since only its writing frees room.
    pub(super) fn room_short(&self) -> bool {
        let shared = &*self.shared;
        shared.waiting.load(Ordering::SeqCst) > 0
            || shared.queued_bytes.load(Ordering::SeqCst) >= shared.options.bytes / 2
    }

    /// Whether the guard is finishing: drain what is queued and stop.
    pub(super) fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    /// `bytes` of lines left the queue (handed to the sink, or failed).
    pub(super) fn release(&self, bytes: usize) {
        self.shared.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
        self.shared.wake_waiting();
    }

    /// `lines` are in the sink.
    pub(super) fn written(&self, lines: u64) {
        self.shared.written.fetch_add(lines, Ordering::AcqRel);
    }

    /// `lines` could not be written, because of `why`; the first failure is said on stderr,
    /// once (there is nowhere else to say it), the rest only counted.
    pub(super) fn failed(&self, lines: u64, why: &dyn fmt::Display) {
        if lines == 0 {
            return;
        }
        self.shared.failed.fetch_add(lines, Ordering::AcqRel);
        if !self.shared.said.swap(true, Ordering::AcqRel) {
            eprintln!(
                "tracectx: {}: cannot write log lines: {why} (every line lost is counted; \
                 the count is reported when the writer stops)",
                self.shared.what
            );
        }
    }
}

/// Ends the writer thread's side: no line accepted any more, waiting loggers woken, the guard
/// told. Runs when the thread's function returns or unwinds.
struct Ended(Arc<Shared>);

impl Drop for Ended {
    fn drop(&mut self) {
        let shared = &*self.0;
        shared.closed.store(true, Ordering::Release);
        {
            let _lock = shared.room.lock().unwrap_or_else(PoisonError::into_inner);
            shared.room_freed.notify_all();
        }
        *shared.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        shared.ended.notify_all();
    }
}

/// Starts a writer thread named `name` running `work` on the receiving end of a new queue;
/// returns the sending end and the guard. `what` names the sink in messages.
pub(super) fn start(
    options: Options,
    name: &str,
    what: String,
    work: impl FnOnce(&Worker) + Send + 'static,
) -> io::Result<(Queue, WorkerGuard)> {
    let (sender, receiver) = mpsc::sync_channel(options.lines.clamp(1, MAX_BUFFERED_LINES));
    let shared = Arc::new(Shared {
        options,
        queued_bytes: AtomicUsize::new(0),
        waiting: AtomicUsize::new(0),
        room: Mutex::new(()),
        room_freed: Condvar::new(),
        stopping: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        accepted: AtomicU64::new(0),
        written: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        said: AtomicBool::new(false),
        refusal_said: AtomicBool::new(false),
        done: Mutex::new(false),
        ended: Condvar::new(),
        what,
    });
    let worker = Worker {
        receiver,
        shared: shared.clone(),
    };
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ended = Ended(worker.shared.clone());
            work(&worker);
        })?;
    let queue = Queue { sender, shared };
    let guard = WorkerGuard {
        queue: queue.clone(),
        thread: Some(thread),
        finished: false,
    };
    Ok((queue, guard))
}

// === WorkerGuard ===

/// Ends the writer thread of a [`NonBlocking`](super::NonBlocking) or
/// [`PerRunFiles`](super::PerRunFiles) writer, writing every line accepted before, and tells
/// what became of the lines.
///
/// Keep it alive for as long as the program logs (`let _guard = ...` in `main`; not
/// `let _ =`, which drops it at once). Dropping it (or [`finish`](Self::finish)) waits until
/// every line accepted before is written, or failed, and flushed. By default the wait has no
/// time limit: unlike tracing-appender's guard, which gives up after about a second, nothing
/// accepted is lost at shutdown. A sink that blocks for good (a pipe nobody reads, a hung
/// network file system) then blocks the drop for good too: give the writer a
/// [`shutdown_timeout`](super::NonBlockingBuilder::shutdown_timeout), or call
/// [`finish_timeout`](Self::finish_timeout), to bound the wait; what was not written in time
/// is then counted as `pending` and said. Lines logged after the guard began finishing are refused
/// (the writer returns a broken pipe error, which the fmt layer ignores), and the first one is
/// said on stderr.
///
/// When the drop leaves lines unwritten (failed, dropped or still pending), it says how many
/// on stderr: nothing is lost without a word. [`finish`](Self::finish) returns the counts
/// instead, for the program to report as it sees fit.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("app.log"))?;
/// let (writer, guard) = tracectx::logging::non_blocking(file)?;
/// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("queued"));
/// let stats = guard.finish(); // waits until the line is in the file
/// if stats.lost() > 0 {
///     eprintln!("app.log: {stats}");
///     std::process::exit(1);
/// }
/// # Ok(()) }
/// ```
#[must_use = "dropping the guard stops the writer thread; keep it alive while logging"]
pub struct WorkerGuard {
    queue: Queue,
    thread: Option<JoinHandle<()>>,
    finished: bool,
}

impl WorkerGuard {
    /// What became of the lines so far. Counts move on while the program logs.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (writer, guard) = tracectx::logging::non_blocking(std::io::sink())?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for _ in 0..3 {
    ///         tracing::info!("counted");
    ///     }
    /// });
    /// // Each line is written or still waiting, wherever the writer thread is.
    /// let now = guard.stats();
    /// assert_eq!((now.written + now.pending, now.dropped, now.failed), (3, 0, 0));
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> WriterStats {
        self.queue.shared.stats()
    }

    /// Writes every line accepted before and stops the writer thread, waiting as long as the
    /// writer's shutdown timeout allows (by default without a limit); returns what became of
    /// the lines. Says nothing on stderr: the caller reports what the counts call for.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let (writer, guard) = tracectx::logging::non_blocking(std::fs::File::create(&path)?)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("before"));
    /// let stats = guard.finish();
    /// assert_eq!((stats.written, stats.lost()), (1, 0));
    /// assert_eq!(stats.to_string(), "1 line written");
    /// assert!(std::fs::read_to_string(&path)?.ends_with("before\n"));
    /// # Ok(()) }
    /// ```
    pub fn finish(mut self) -> WriterStats {
        let timeout = self.queue.shared.options.shutdown_timeout;
        self.shut_down(timeout)
    }

    /// [`finish`](Self::finish), giving up after `timeout`: the lines not written by then are
    /// the `pending` of the result, and the writer thread is left to finish (or block) on its
    /// own.
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
    /// let (writer, guard) = tracectx::logging::non_blocking(Stuck)?;
    /// let subscriber = tracectx::logging::builder().with_writer(writer).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("never written"));
    /// let stats = guard.finish_timeout(Duration::from_millis(50));
    /// assert_eq!((stats.written, stats.pending), (0, 1));
    /// # Ok(()) }
    /// ```
    pub fn finish_timeout(mut self, timeout: Duration) -> WriterStats {
        self.shut_down(Some(timeout))
    }

    fn shut_down(&mut self, timeout: Option<Duration>) -> WriterStats {
        self.finished = true;
        let shared = &*self.queue.shared;
        shared.stopping.store(true, Ordering::Release);
        // From now on, lines are refused: with loggers that keep logging into a sink slower
        // than they are, the queue would never run empty and the writer never stop. Lines
        // already being sent still arrive and are written. Loggers waiting for room are woken
        // to be refused.
        shared.closed.store(true, Ordering::Release);
        {
            let _lock = shared.room.lock().unwrap_or_else(PoisonError::into_inner);
            shared.room_freed.notify_all();
        }
        // Wakes the writer thread if it waits for lines; when the queue is full it is busy,
        // and sees `stopping` after the lines ahead.
        let _ = self.queue.sender.try_send(Msg::Shutdown);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut done = shared.done.lock().unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = match deadline.map(|d| d.checked_duration_since(Instant::now())) {
                None => shared
                    .ended
                    .wait(done)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(Some(left)) => {
                    shared
                        .ended
                        .wait_timeout(done, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                Some(None) => break,
            };
        }
        let ended = *done;
        drop(done);
        if ended {
            if let Some(thread) = self.thread.take() {
                // Its function returned (or unwound, which `Ended` saw): this does not wait.
                let _ = thread.join();
            }
        }
        shared.stats()
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let timeout = self.queue.shared.options.shutdown_timeout;
        let stats = self.shut_down(timeout);
        if stats.lost() > 0 {
            eprintln!("tracectx: {}: {stats}", self.queue.shared.what);
        }
    }
}

impl fmt::Debug for WorkerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerGuard")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
