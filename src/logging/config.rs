//! The subscriber builder, and the writers it can write to: stdout, a file, a non-blocking
//! (rolling) file.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use tracing::Subscriber;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::util::{SubscriberInitExt as _, TryInitError};

use super::format::{Clock, JsonFormat, LogFormat, SystemClock, TemplateError, TextFormat};
use super::layer::TraceContextLayer;

// === impl Builder ===

/// Configures the logging subscriber: level, layout (text template or JSON), writer, clock.
///
/// Made by [`builder`](super::builder); the words are tracing-subscriber's. Without settings
/// it is what [`configure_logging`](super::configure_logging) installs: stdout, the level from
/// `RUST_LOG` when set (else INFO), the text layout [`DEFAULT_TEMPLATE`](super::DEFAULT_TEMPLATE).
///
/// A template is parsed once, in [`build`](Self::build), never per event: a mistake is an
/// error at start-up that names it.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{self, TemplateError};
///
/// let subscriber = logging::builder()
///     .with_level(tracing::Level::DEBUG)
///     .with_format("{level} [{run_id}] {message} {fields}")
///     .with_writer(std::io::stderr)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::debug!("to stderr"));
///
/// let err = logging::builder().with_format("{lvl} {message}").build().err().unwrap();
/// assert!(matches!(err, TemplateError::UnknownPlaceholder { ref name, .. } if name == "lvl"));
/// # Ok::<(), TemplateError>(())
/// ```
pub struct Builder<W = fn() -> io::Stdout> {
    filter: Filter,
    format: Format,
    writer: W,
    clock: Arc<dyn Clock>,
}

enum Filter {
    /// `RUST_LOG` when set, else INFO.
    FromEnv,
    Level(LevelFilter),
    Env(Box<EnvFilter>),
}

enum Format {
    Text(Option<String>),
    Json,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            filter: Filter::FromEnv,
            format: Format::Text(None),
            writer: io::stdout,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> Builder<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Keeps events at `level` and above (`RUST_LOG` is then not read).
    pub fn with_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.filter = Filter::Level(level.into());
        self
    }

    /// Filters with `filter`, in `RUST_LOG`'s syntax (`"info,my_crate=debug"`).
    pub fn with_env_filter(mut self, filter: impl Into<EnvFilter>) -> Self {
        self.filter = Filter::Env(Box::new(filter.into()));
        self
    }

    /// Writes text lines laid out by `template` (see [`TextFormat`] for the placeholders).
    ///
    /// The template is checked by [`build`](Self::build). The last of `with_format` and
    /// [`json`](Self::json) wins.
    pub fn with_format(mut self, template: impl Into<String>) -> Self {
        self.format = Format::Text(Some(template.into()));
        self
    }

    /// Writes one JSON object per line (see [`JsonFormat`]).
    pub fn json(mut self) -> Self {
        self.format = Format::Json;
        self
    }

    /// Reads the time of each event from `clock` (a [`FixedClock`](super::FixedClock) in
    /// tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Writes to `writer`: any [`MakeWriter`], such as `std::io::stderr`, a
    /// [`file_writer`](super::file_writer), or a [`non_blocking`](super::non_blocking) /
    /// [`rolling_file`](super::rolling_file) writer.
    pub fn with_writer<W2>(self, writer: W2) -> Builder<W2>
    where
        W2: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        Builder {
            filter: self.filter,
            format: self.format,
            writer,
            clock: self.clock,
        }
    }

    /// The subscriber: a registry with the level filter, a [`TraceContextLayer`] and a fmt
    /// layer with the chosen format and writer. Not installed: use it with
    /// `tracing::subscriber::with_default`, or [`try_init`](Self::try_init).
    ///
    /// # Errors
    ///
    /// [`TemplateError`] when the template given to [`with_format`](Self::with_format) is not
    /// valid.
    pub fn build(
        self,
    ) -> Result<impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static, TemplateError>
    {
        let format = match self.format {
            Format::Text(None) => LogFormat::Text(TextFormat::new().with_clock(self.clock)),
            Format::Text(Some(template)) => {
                LogFormat::Text(TextFormat::from_template(&template)?.with_clock(self.clock))
            }
            Format::Json => LogFormat::Json(JsonFormat::new().with_clock(self.clock)),
        };
        // A bare level is a `LevelFilter`, not an `EnvFilter` with one directive: the same
        // decisions, without the directive matching on every new call site and span.
        let filter: Box<dyn Layer<Registry> + Send + Sync> = match self.filter {
            Filter::FromEnv => Box::new(
                EnvFilter::builder()
                    .with_default_directive(LevelFilter::INFO.into())
                    .from_env_lossy(),
            ),
            Filter::Level(level) => Box::new(level),
            Filter::Env(filter) => filter,
        };
        Ok(tracing_subscriber::registry()
            .with(filter)
            .with(TraceContextLayer::new())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .event_format(format)
                    .with_writer(self.writer),
            ))
    }

    /// The same as [`build`](Self::build), in tracing-subscriber's word.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn finish(
        self,
    ) -> Result<impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static, TemplateError>
    {
        self.build()
    }

    /// Builds the subscriber and installs it as the global default (and routes the `log`
    /// crate's records to it).
    ///
    /// # Errors
    ///
    /// [`InitError`] when the template is not valid, or when a global subscriber (or a `log`
    /// logger) is already installed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{self, InitError};
    ///
    /// logging::builder().try_init()?;
    /// // Only once per process:
    /// assert!(matches!(logging::builder().try_init(), Err(InitError::Install(_))));
    /// # Ok::<(), InitError>(())
    /// ```
    pub fn try_init(self) -> Result<(), InitError> {
        self.build()?.try_init().map_err(InitError::Install)
    }

    /// Builds the subscriber and installs it as the global default.
    ///
    /// # Panics
    ///
    /// When the template is not valid, or a global subscriber is already installed; use
    /// [`try_init`](Self::try_init) to handle these.
    #[track_caller]
    pub fn init(self) {
        if let Err(err) = self.try_init() {
            panic!(
                "tracectx logging could not be installed: {err}; install it once, at the start \
                 of main, or call `logging::builder().try_init()` to handle the error"
            );
        }
    }
}

impl<W> fmt::Debug for Builder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filter = match &self.filter {
            Filter::FromEnv => "RUST_LOG or INFO".to_owned(),
            Filter::Level(level) => level.to_string(),
            Filter::Env(filter) => filter.to_string(),
        };
        let format = match &self.format {
            Format::Text(t) => t.as_deref().unwrap_or(super::DEFAULT_TEMPLATE),
            Format::Json => "json",
        };
        f.debug_struct("Builder")
            .field("filter", &filter)
            .field("format", &format)
            .field("writer", &std::any::type_name::<W>())
            .finish()
    }
}

/// Why installing the logging subscriber failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The template given to [`Builder::with_format`] was refused.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A global subscriber (or `log` logger) was already installed.
    #[error("could not install the global subscriber: {0}")]
    Install(TryInitError),
}

// === impl FileWriter ===

/// A [`MakeWriter`] that appends each line to a file, unbuffered.
///
/// The fmt layer hands over each event as one whole line, which goes to the file in one
/// `write` call on a file opened for appending: lines of concurrent writers (threads, even
/// processes) never interleave within a line, and nothing sits in a buffer to be lost at exit.
/// It is a system call per event, though: for heavy logging use [`rolling_file`] or
/// [`non_blocking`].
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let writer = tracectx::logging::file_writer(&path)?;
/// let subscriber = tracectx::logging::builder()
///     .with_level(tracing::Level::INFO)
///     .with_writer(writer)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("to the file"));
/// assert!(std::fs::read_to_string(&path)?.ends_with("to the file\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileWriter {
    file: Arc<File>,
}

/// Opens (creating it if needed) `path` for appending log lines; see [`FileWriter`].
///
/// # Errors
///
/// The I/O error from opening the file.
pub fn file_writer(path: impl AsRef<Path>) -> io::Result<FileWriter> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path.as_ref())?;
    Ok(FileWriter {
        file: Arc::new(file),
    })
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = &'a File;

    fn make_writer(&'a self) -> Self::Writer {
        &self.file
    }
}

// === impl NonBlocking ===

/// How many lines may wait for the writer thread before logging blocks.
const QUEUE_LINES: usize = 128_000;

enum Msg {
    Line(Vec<u8>),
    Shutdown,
}

/// A [`MakeWriter`] that hands lines to a dedicated writer thread, made by [`non_blocking`] or
/// [`rolling_file`].
///
/// Logging costs a copy of the line and a channel send; the thread writes through a buffer
/// that it flushes whenever the queue runs empty. When the queue is full (128,000 lines)
/// logging waits instead of dropping lines: a log that silently loses lines of a run is worse
/// than a slow one. Lines are written until the [`WorkerGuard`] is dropped.
#[derive(Debug, Clone)]
pub struct NonBlocking {
    sender: SyncSender<Msg>,
}

/// Flushes every accepted line and stops the writer thread of a [`NonBlocking`] when dropped.
///
/// Keep it alive for as long as the program logs (`let _guard = ...` in `main`; not `let _ =`,
/// which drops it at once). Dropping it waits, without a time limit, until every line accepted
/// before the drop is written and flushed: unlike tracing-appender's guard, which gives up
/// after about a second, nothing accepted is lost at shutdown. Lines logged after the drop are
/// refused (the writer reports a broken pipe, which the fmt layer ignores).
#[must_use = "dropping the guard stops the writer thread; keep it alive while logging"]
pub struct WorkerGuard {
    sender: SyncSender<Msg>,
    worker: Option<JoinHandle<()>>,
}

/// Writes lines to `writer` on a dedicated thread; returns the [`MakeWriter`] to log through
/// and the guard that flushes on drop.
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
    let (sender, receiver) = mpsc::sync_channel(QUEUE_LINES);
    let worker = std::thread::Builder::new()
        .name("tracectx-log-writer".into())
        .spawn(move || write_lines(receiver, BufWriter::with_capacity(64 * 1024, writer)))?;
    Ok((
        NonBlocking {
            sender: sender.clone(),
        },
        WorkerGuard {
            sender,
            worker: Some(worker),
        },
    ))
}

/// A non-blocking writer to a file in `directory` that starts a new file every `rotation`
/// period, named `<file_name_prefix>.<date>` (or just `<file_name_prefix>` with
/// [`Rotation::NEVER`]); the rolling file is tracing-appender's.
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
/// let (writer, _guard) = logging::rolling_file(dir.path(), "app.log", Rotation::DAILY)?;
/// let subscriber = logging::builder().with_writer(writer).build()?;
/// # drop(subscriber);
/// # Ok(()) }
/// ```
pub fn rolling_file(
    directory: impl AsRef<Path>,
    file_name_prefix: &str,
    rotation: Rotation,
) -> io::Result<(NonBlocking, WorkerGuard)> {
    let appender = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix(file_name_prefix)
        .build(directory.as_ref())
        .map_err(|e| {
            io::Error::other(format!(
                "cannot open a rolling log file in {}: {e}",
                directory.as_ref().display()
            ))
        })?;
    non_blocking(appender)
}

fn write_lines<W: Write>(receiver: Receiver<Msg>, mut out: BufWriter<W>) {
    loop {
        let msg = match receiver.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                let _ = out.flush();
                match receiver.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Line(line) => {
                let _ = out.write_all(&line);
            }
            Msg::Shutdown => {
                // Lines sent while the guard was being dropped were accepted too.
                while let Ok(Msg::Line(line)) = receiver.try_recv() {
                    let _ = out.write_all(&line);
                }
                break;
            }
        }
    }
    let _ = out.flush();
}

/// The writer [`NonBlocking`] makes for each event.
#[derive(Debug)]
pub struct NonBlockingWriter<'a> {
    sender: &'a SyncSender<Msg>,
}

impl Write for NonBlockingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sender
            .send(Msg::Line(buf.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "log writer thread stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = NonBlockingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        NonBlockingWriter {
            sender: &self.sender,
        }
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        // Queued behind every line already accepted; a send error means the thread is gone.
        let _ = self.sender.send(Msg::Shutdown);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl fmt::Debug for WorkerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerGuard").finish_non_exhaustive()
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "Line({} bytes)", line.len()),
            Self::Shutdown => f.write_str("Shutdown"),
        }
    }
}
