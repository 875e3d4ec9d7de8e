//! The subscriber builder: level, layout (text template or JSON), writer and clock.

use std::fmt;
use std::io;
use std::sync::Arc;

use tracing::Subscriber;
use tracing_subscriber::filter::{Directive, EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::util::{SubscriberInitExt as _, TryInitError};

use super::format::{JsonFormat, LogFormat, TemplateError, TextFormat};
use super::layer::SpanContextLayer;
use super::time::{Clock, SystemClock};

/// Configures the logging subscriber: level, layout (text template or JSON), writer, clock.
///
/// Made by [`builder`](crate::logging::builder); the words are tracing-subscriber's. Without settings
/// it is what [`configure_logging`](crate::logging::configure_logging) installs: stdout, the level from
/// `RUST_LOG` when set (else INFO), the text layout [`DEFAULT_TEMPLATE`](crate::logging::DEFAULT_TEMPLATE).
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let subscriber = builder()
    ///     .with_level(tracing::Level::WARN)
    ///     .with_writer(file_writer(&path)?)
    ///     .build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info!("left out");
    ///     tracing::warn!("kept");
    /// });
    /// let log = std::fs::read_to_string(&path)?;
    /// assert!(log.contains("WARN") && log.contains("kept") && !log.contains("left out"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.filter = Filter::Level(level.into());
        self
    }

    /// Filters with `filter`, in `RUST_LOG`'s syntax (`"info,my_crate=debug"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let subscriber = builder()
    ///     .with_env_filter("warn,engine=debug")
    ///     .with_writer(file_writer(&path)?)
    ///     .build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::debug!(target: "engine", "order book rebuilt");
    ///     tracing::debug!(target: "http", "request parsed");
    /// });
    /// let log = std::fs::read_to_string(&path)?;
    /// assert!(log.contains("order book rebuilt") && !log.contains("request parsed"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_env_filter(mut self, filter: impl Into<EnvFilter>) -> Self {
        self.filter = Filter::Env(Box::new(filter.into()));
        self
    }

    /// Writes text lines laid out by `template` (see [`TextFormat`] for the placeholders).
    ///
    /// The template is checked by [`build`](Self::build). The last of `with_format` and
    /// [`json`](Self::json) wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let subscriber = builder()
    ///     .with_format("{level} [{run_id}] {message} {fields}")
    ///     .with_writer(file_writer(&path)?)
    ///     .build()?;
    /// let ctx = tracectx::TraceContext::new("job_7")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info!(qty = 10, "filled"));
    /// });
    /// assert_eq!(std::fs::read_to_string(&path)?, "INFO [job_7] filled qty=10\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_format(mut self, template: impl Into<String>) -> Self {
        self.format = Format::Text(Some(template.into()));
        self
    }

    /// Writes one JSON object per line (see [`JsonFormat`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.jsonl");
    /// let subscriber = builder().json().with_writer(file_writer(&path)?).build()?;
    /// let ctx = tracectx::TraceContext::new("job_7")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info!(qty = 10, "filled"));
    /// });
    /// let line: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    /// assert_eq!((line["run_id"].as_str(), line["qty"].as_u64()), (Some("job_7"), Some(10)));
    /// assert_eq!(line["message"], "filled");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn json(mut self) -> Self {
        self.format = Format::Json;
        self
    }

    /// Reads the time of each event from `clock` (a [`FixedClock`](crate::logging::FixedClock) in
    /// tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer, FixedClock};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let subscriber = builder()
    ///     .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z")?)
    ///     .with_format("{timestamp} {message}")
    ///     .with_writer(file_writer(&path)?)
    ///     .build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("tick"));
    /// assert_eq!(std::fs::read_to_string(&path)?, "2024-01-01T10:00:00.000000Z tick\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Writes to `writer`: any [`MakeWriter`], such as `std::io::stderr`, a
    /// [`file_writer`](crate::logging::file_writer), or a [`non_blocking`](crate::logging::non_blocking) /
    /// [`rolling_file`](crate::logging::rolling_file) writer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// // Any `Fn() -> impl io::Write` is a writer: here, lines gathered in memory.
    /// #[derive(Clone, Default)]
    /// struct Lines(Arc<Mutex<Vec<u8>>>);
    /// impl std::io::Write for Lines {
    ///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
    ///         self.0.lock().unwrap().write(buf)
    ///     }
    ///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let lines = Lines::default();
    /// let writer = lines.clone();
    /// let subscriber = tracectx::logging::builder().with_writer(move || writer.clone()).build()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("in memory"));
    /// assert!(String::from_utf8(lines.0.lock().unwrap().clone())?.ends_with("in memory\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
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

    /// The subscriber: a registry with the level filter, a [`SpanContextLayer`] and a fmt
    /// layer with the chosen format and writer. Not installed: use it with
    /// `tracing::subscriber::with_default`, or [`try_init`](Self::try_init).
    ///
    /// # Errors
    ///
    /// [`TemplateError`] when the template given to [`with_format`](Self::with_format) is not
    /// valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::logging::{builder, file_writer};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let subscriber = builder().with_writer(file_writer(&path)?).build()?;
    /// let ctx = tracectx::TraceContext::new("backtest_abc123")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info!("session started"));
    ///     tracing::info!("idle");
    /// });
    /// let log = std::fs::read_to_string(&path)?;
    /// let lines: Vec<&str> = log.lines().collect();
    /// let short = ctx.trace_id().short();
    /// assert!(lines[0].contains(&format!("] [backtest_abc123] [{short}] INFO ")));
    /// assert!(lines[1].contains("] [-] [-] INFO ") && lines[1].ends_with("idle"));
    /// assert!(builder().with_format("{message").build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
            Filter::FromEnv => Box::new(env_filter()),
            Filter::Level(level) => Box::new(level),
            Filter::Env(filter) => filter,
        };
        Ok(tracing_subscriber::registry()
            .with(filter)
            .with(SpanContextLayer::new())
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
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing::Level;
    ///
    /// let subscriber = tracectx::logging::builder().with_level(Level::INFO).finish()?;
    /// let enabled = tracing::subscriber::with_default(subscriber, || {
    ///     (tracing::enabled!(Level::INFO), tracing::enabled!(Level::DEBUG))
    /// });
    /// assert_eq!(enabled, (true, false));
    /// # Ok::<(), tracectx::logging::TemplateError>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// tracectx::logging::builder().with_level(tracing::Level::DEBUG).init();
    /// assert!(tracing::enabled!(tracing::Level::DEBUG));
    /// assert!(!tracing::enabled!(tracing::Level::TRACE));
    /// // A second `init` would panic: the subscriber is installed once per process.
    /// assert!(tracectx::logging::builder().try_init().is_err());
    /// ```
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

/// The filter `RUST_LOG` sets, INFO when it is unset or empty; its invalid directives are left
/// out and said on stderr, escaped.
///
/// Not tracing-subscriber's `from_env_lossy`, which prints what it leaves out as it is (an
/// escape sequence in the variable reached the terminal) and takes a value that is not UTF-8
/// for an empty one without a word.
fn env_filter() -> EnvFilter {
    let builder = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    let Some(var) = std::env::var_os(EnvFilter::DEFAULT_ENV) else {
        return builder.parse_lossy("");
    };
    let Some(value) = var.to_str() else {
        eprintln!(
            "tracectx: ignoring {}, which is not UTF-8: \"{}\"",
            EnvFilter::DEFAULT_ENV,
            crate::escape::text(&var.to_string_lossy())
        );
        return builder.parse_lossy("");
    };
    // Split as tracing-subscriber splits: the directives kept mean what they meant.
    let valid: Vec<&str> = value
        .split(',')
        .filter(|d| !d.is_empty())
        .filter(|d| match d.parse::<Directive>() {
            Ok(_) => true,
            Err(e) => {
                eprintln!(
                    "tracectx: ignoring the {} directive \"{}\": {}",
                    EnvFilter::DEFAULT_ENV,
                    crate::escape::text(d),
                    crate::escape::text(&e.to_string())
                );
                false
            }
        })
        .collect();
    builder.parse_lossy(valid.join(","))
}

impl<W> fmt::Debug for Builder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filter = match &self.filter {
            Filter::FromEnv => "RUST_LOG or INFO".to_owned(),
            Filter::Level(level) => level.to_string(),
            Filter::Env(filter) => filter.to_string(),
        };
        let format = match &self.format {
            Format::Text(t) => t.as_deref().unwrap_or(crate::logging::DEFAULT_TEMPLATE),
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
///
/// # Examples
///
/// ```
/// use tracectx::logging::{self, InitError};
///
/// let err = logging::builder().with_format("{lvl}").try_init().unwrap_err();
/// assert!(matches!(err, InitError::Template(_)));
/// assert!(err.to_string().starts_with("unknown placeholder {lvl} at byte 0 of the log template"));
/// ```
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
