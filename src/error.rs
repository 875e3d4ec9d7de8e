//! Errors that know which run they belong to.
//!
//! An error raised inside a run often outlives the run's scope: it is returned through a
//! `JoinHandle` to code that has no context, wrapped by `anyhow`, or logged much later. The
//! task-local slot is gone by then, so the error has to carry the ids itself. This module gives
//! two ways to do that:
//!
//! - [`Error`], the crate's own error family ([`ErrorKind`]: configuration, data, validation,
//!   network, timeout, I/O, internal, and kinds a domain names itself), whose
//!   [`ErrorContext`] captures `run_id` and `trace_id` when the error is built inside a scope
//!   and holds any other key/value pairs the raiser adds;
//! - [`Traced<E>`], which wraps *any* error type (`std::io::Error`, your own thiserror enum, an
//!   `anyhow::Error`) with a snapshot of the current context, made by
//!   [`TracedErrorExt::in_current_trace`] / [`TracedResultExt::in_current_trace`] the way
//!   tracing-error's `in_current_span` wraps an error with a span trace.
//!
//! Both put the ids in their `Display`, so wherever the message goes, the run goes with it:
//!
//! ```text
//! config error: missing key "slow" [run_id=backtest_ab12cd34 trace_id=a1b2c3d4 file=cfg.toml]
//! ```
//!
//! # Errors raised inside a traced task
//!
//! ```
//! use tracectx::prelude::*;
//! use tracectx::Error;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = TraceContext::new("backtest_ab12cd34")?.with_trace_id("a1b2c3d4".parse()?);
//! let handle = tokio::spawn(
//!     async {
//!         // Built inside the scope: the run and trace ids are captured here.
//!         Err::<(), _>(Error::config("missing key \"slow\"").with("file", "cfg.toml"))
//!     }
//!     .in_trace_context(ctx),
//! );
//! // Out here there is no context, but the error still knows its run.
//! let err = handle.await?.unwrap_err();
//! assert!(tracectx::current().is_none());
//! assert_eq!(
//!     err.to_string(),
//!     r#"config error: missing key "slow" [run_id=backtest_ab12cd34 trace_id=a1b2c3d4 file=cfg.toml]"#
//! );
//! # Ok(()) }
//! ```
//!
//! # Enrichment in a handler
//!
//! An error made where no scope was set (a library callback, a parser, a thread that was
//! started with plain `std::thread::spawn`) has no ids. The handler that receives it inside a
//! run adds them with [`enrich_error_with_trace`] or [`Error::enrich_with_trace`]; ids already
//! captured are never replaced, so the run where the error was *raised* wins.
//!
//! ```
//! use tracectx::{enrich_error_with_trace, Error, TraceContext};
//!
//! fn parse_bar(line: &str) -> Result<f64, Error> {
//!     line.parse().map_err(|e| Error::data("bad close price").with("line", line).with_source(e))
//! }
//!
//! let mut err = parse_bar("12,5").unwrap_err(); // made outside any scope: no ids
//! assert_eq!(err.run_id(), None);
//!
//! let ctx = TraceContext::new("live_7")?;
//! ctx.sync_scope(|| enrich_error_with_trace(&mut err)); // the handler's run
//! assert_eq!(err.run_id(), Some("live_7"));
//! assert!(err.to_string().starts_with("data error: bad close price [run_id=live_7 trace_id="));
//! # Ok::<(), tracectx::InvalidId>(())
//! ```
//!
//! # Logging an error after its run has ended
//!
//! Because the ids are part of the message, a log line written outside any scope (where the
//! log layer has no context to stamp) still names the run: record the error with `%`.
//!
//! ```
//! use tracectx::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
//! let ctx = TraceContext::new("backtest_ab12cd34")?;
//! let result: Result<(), tracectx::Error> = async {
//!     Err(tracectx::Error::data("bar out of order").with("bar", 17))
//! }
//! .in_trace_context(ctx)
//! .await;
//!
//! if let Err(e) = result {
//!     // No scope here; the line still reads
//!     // `... data error: bar out of order [run_id=backtest_ab12cd34 trace_id=… bar=17]`.
//!     tracing::error!(error = %e, "session failed");
//!     assert!(e.to_string().contains("run_id=backtest_ab12cd34"));
//! }
//! # Ok(()) }
//! ```
//!
//! Code that only has a `&dyn Error` (a log layer, an `anyhow` chain) finds the ids with
//! [`find_context`] or [`ExtractErrorContext::error_context`].

use std::any::TypeId;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt::{self, Debug, Display, Write as _};
use std::sync::{PoisonError, RwLock};

use crate::context::TraceContext;
use crate::escape::{Escaper, Text, Value};
use crate::scope;

/// A `Result` whose error defaults to the crate's [`Error`].
///
/// # Examples
///
/// ```
/// use tracectx::Error;
///
/// fn window(bars: usize) -> tracectx::error::Result<usize> {
///     if bars == 0 {
///         return Err(Error::validation("window must be positive").with("bars", bars));
///     }
///     Ok(bars)
/// }
///
/// assert_eq!(window(20)?, 20);
/// assert_eq!(
///     window(0).unwrap_err().to_string(),
///     "validation error: window must be positive [bars=0]"
/// );
/// # Ok::<(), Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The key under which an [`ErrorContext`] holds the run id.
///
/// # Examples
///
/// ```
/// use tracectx::error::RUN_ID_KEY;
///
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// let err = ctx.sync_scope(|| tracectx::Error::data("empty bar file"));
/// assert_eq!(RUN_ID_KEY, "run_id");
/// assert_eq!(err.context().get(RUN_ID_KEY), Some("job_1"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const RUN_ID_KEY: &str = "run_id";

/// The key under which an [`ErrorContext`] holds the short (8 hex characters) trace id.
///
/// # Examples
///
/// ```
/// use tracectx::error::TRACE_ID_KEY;
///
/// let ctx = tracectx::TraceContext::new("job_1")?
///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
/// let err = ctx.sync_scope(|| tracectx::Error::data("empty bar file"));
/// assert_eq!(TRACE_ID_KEY, "trace_id");
/// assert_eq!(err.context().get(TRACE_ID_KEY), Some("0e0e4736"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const TRACE_ID_KEY: &str = "trace_id";

/// The longest `source()` chain [`find_context`] walks before giving up.
const MAX_CHAIN: usize = 64;

// === impl ErrorKind ===

/// What went wrong, in words any service uses; a domain adds its own with
/// [`ErrorKind::Custom`].
///
/// `Display` gives the short lowercase name that starts the error's message (`config`,
/// `i/o`, ...). New kinds may be added in minor releases, so matches need a `_` arm.
///
/// # Examples
///
/// ```
/// use tracectx::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Timeout, "no fill within 5s");
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert_eq!(err.to_string(), "timeout error: no fill within 5s");
///
/// const RISK: ErrorKind = ErrorKind::Custom("risk");
/// let err = Error::new(RISK, "position limit of 100 lots exceeded");
/// assert_eq!(err.to_string(), "risk error: position limit of 100 lots exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration that is missing, malformed or inconsistent.
    Config,
    /// Market or reference data that is missing, malformed or out of order.
    Data,
    /// An input refused by a check (a parameter out of range, an invalid id).
    Validation,
    /// A remote service (an exchange, a broker, a data vendor) that could not be reached.
    Network,
    /// An operation that took longer than allowed.
    Timeout,
    /// A file or stream that could not be read or written.
    Io,
    /// A bug: a state the code should never reach.
    Internal,
    /// A kind named by the domain that raises it, in its own words: `strategy`, `risk`
    /// (tracectx-backtest names its kinds this way). The name is the first word of the
    /// message, so keep it short, lowercase and free of spaces.
    Custom(&'static str),
}

impl ErrorKind {
    /// The short lowercase name that starts the error's message.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tracectx::ErrorKind::Io.as_str(), "i/o");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Data => "data",
            Self::Validation => "validation",
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::Io => "i/o",
            Self::Internal => "internal",
            Self::Custom(name) => name,
        }
    }
}

impl Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

// === impl ErrorContext ===

/// Ordered key/value pairs attached to an error: the run and trace ids first, then whatever
/// the code that raised the error added (`file=cfg.toml`, `bar=17`).
///
/// `Display` gives `key=value` pairs separated by spaces. A value is written bare when it is
/// made only of letters, digits and ASCII punctuation other than `" = [ ] \`; any other value
/// (empty, with spaces, newlines, control characters, quotes or brackets) is written quoted with
/// Rust's string escapes, so no value can break a log line or fake another pair.
///
/// The ids live under [`RUN_ID_KEY`] and [`TRACE_ID_KEY`] and, once present, are never
/// replaced: an error keeps the run it was raised in, however often it is enriched later. Any
/// other key set twice keeps its place and takes the new value.
///
/// # Examples
///
/// ```
/// use tracectx::{ErrorContext, TraceContext};
///
/// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
/// let mut fields = ErrorContext::new().with("file", "my cfg.toml").with("line", 3);
/// fields.enrich_with(&ctx);
/// assert_eq!(fields.to_string(), r#"run_id=job_1 trace_id=a1b2c3d4 file="my cfg.toml" line=3"#);
/// assert_eq!(fields.get("line"), Some("3"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ErrorContext {
    /// The context the ids were taken from, when they were taken from a live one (not set
    /// through [`ErrorContext::insert`]).
    trace: Option<TraceContext>,
    /// Invariant: `run_id`, if present, is first; `trace_id`, if present, follows it (or is
    /// first); each key appears once.
    pairs: Vec<(Cow<'static, str>, String)>,
}

impl ErrorContext {
    /// An empty context: no ids, no pairs.
    ///
    /// It does not look at the current scope (that is [`current`](Self::current)), and it is
    /// `const`, so it can start a `static` or a `const`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// const EMPTY: ErrorContext = ErrorContext::new();
    /// let fields = TraceContext::new("job_1")?.sync_scope(ErrorContext::new);
    /// assert!(fields.is_empty()); // no ids, even inside a scope
    /// assert_eq!(fields, EMPTY);
    /// assert_eq!(EMPTY.to_string(), "");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn new() -> Self {
        Self {
            trace: None,
            pairs: Vec::new(),
        }
    }

    /// A context holding the current run and trace ids, or an empty one outside any scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_2")?;
    /// let fields = ctx.sync_scope(tracectx::ErrorContext::current);
    /// assert_eq!(fields.run_id(), Some("job_2"));
    /// assert!(tracectx::ErrorContext::current().is_empty());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn current() -> Self {
        let mut fields = Self::new();
        fields.enrich_with_trace();
        fields
    }

    /// Adds `key=value` and returns the context, for building in one expression.
    ///
    /// See [`insert`](Self::insert) for what happens when the key is already there.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ErrorContext;
    ///
    /// let fields = ErrorContext::new()
    ///     .with("symbol", "ES")
    ///     .with("note", "two words")
    ///     .with("run_id", "job_1"); // the run id goes first whenever it is added
    /// assert_eq!(fields.to_string(), r#"run_id=job_1 symbol=ES note="two words""#);
    /// ```
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Display) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`.
    ///
    /// A new key goes last, except the ids: `run_id` goes first and `trace_id` right after it.
    /// A key already present keeps its place and takes the new value, except the ids, which
    /// are never replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut fields = tracectx::ErrorContext::new();
    /// fields.insert("attempt", 1);
    /// fields.insert("run_id", "job_3");
    /// fields.insert("attempt", 2);
    /// fields.insert("run_id", "another_job"); // ignored: the run id is already set
    /// assert_eq!(fields.to_string(), "run_id=job_3 attempt=2");
    /// ```
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Display) {
        let key = key.into();
        match &*key {
            RUN_ID_KEY => {
                if self.run_id().is_none() {
                    self.pairs.insert(0, (key, value.to_string()));
                }
            }
            TRACE_ID_KEY => {
                if self.trace_id().is_none() {
                    let at = usize::from(self.run_id().is_some());
                    self.pairs.insert(at, (key, value.to_string()));
                }
            }
            _ => match self.pairs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, slot)) => *slot = value.to_string(),
                None => self.pairs.push((key, value.to_string())),
            },
        }
    }

    /// Adds the current run and trace ids, when inside a scope and when not already present.
    ///
    /// Returns whether anything was added. Calling it again, in the same scope or another,
    /// changes nothing: the ids of the first scope stay.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// let mut fields = ErrorContext::new();
    /// assert!(!fields.enrich_with_trace()); // outside any scope: nothing to add
    /// assert!(TraceContext::new("first")?.sync_scope(|| fields.enrich_with_trace()));
    /// assert!(!TraceContext::new("second")?.sync_scope(|| fields.enrich_with_trace()));
    /// assert_eq!(fields.run_id(), Some("first"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn enrich_with_trace(&mut self) -> bool {
        // Read in place, without cloning it; `enrich_with` clones it only when the ids are
        // actually missing.
        scope::read(|ctx| self.enrich_with(ctx)).unwrap_or(false)
    }

    /// Adds `ctx`'s run and trace ids where they are not already present.
    ///
    /// Ids of two runs are never paired: when only one of the two ids is present and it is
    /// not `ctx`'s, nothing is added. Returns whether anything was added.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// let job = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let mut fields = ErrorContext::new().with("attempt", 2);
    /// assert!(fields.enrich_with(&job));
    /// assert!(!fields.enrich_with(&job)); // both ids are there already
    /// assert_eq!(fields.to_string(), "run_id=job_1 trace_id=a1b2c3d4 attempt=2");
    ///
    /// // A run id set by hand is completed only with its own run's trace id.
    /// let mut partial = ErrorContext::new().with("run_id", "job_1");
    /// assert!(!partial.enrich_with(&TraceContext::new("job_2")?));
    /// assert_eq!(partial.trace_id(), None);
    /// assert!(partial.enrich_with(&job));
    /// assert_eq!(partial.trace_id(), Some("a1b2c3d4"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn enrich_with(&mut self, ctx: &TraceContext) -> bool {
        let had_run = self.run_id().is_some();
        let had_trace = self.trace_id().is_some();
        if had_run && had_trace {
            return false;
        }
        if had_run && self.run_id() != Some(ctx.run_id().as_str()) {
            return false;
        }
        if had_trace && self.trace_id() != Some(&*ctx.trace_id().short()) {
            return false;
        }
        self.insert(RUN_ID_KEY, ctx.run_id());
        self.insert(TRACE_ID_KEY, ctx.trace_id().short());
        if !had_run && !had_trace {
            self.trace = Some(ctx.clone());
        }
        true
    }

    /// The value under `key`, if any.
    ///
    /// Values are kept as the text their `Display` gave when they were added.
    ///
    /// # Examples
    ///
    /// ```
    /// let fields = tracectx::ErrorContext::new().with("file", "cfg.toml").with("line", 3);
    /// assert_eq!(fields.get("file"), Some("cfg.toml"));
    /// assert_eq!(fields.get("line"), Some("3"));
    /// assert_eq!(fields.get("column"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The run id the error was raised (or enriched) in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// let fields = TraceContext::new("job_1")?.sync_scope(ErrorContext::current);
    /// assert_eq!(fields.run_id(), Some("job_1"));
    /// assert_eq!(ErrorContext::new().with("file", "cfg.toml").run_id(), None);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn run_id(&self) -> Option<&str> {
        self.get(RUN_ID_KEY)
    }

    /// The short trace id (8 hex characters) the error was raised (or enriched) in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// let ctx = TraceContext::new("job_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
    /// let fields = ctx.sync_scope(ErrorContext::current);
    /// assert_eq!(fields.trace_id(), Some("0e0e4736")); // the last 8 of the 32
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_id(&self) -> Option<&str> {
        self.get(TRACE_ID_KEY)
    }

    /// Whether a run id or a trace id is present.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut fields = tracectx::ErrorContext::new().with("file", "cfg.toml");
    /// assert!(!fields.has_trace_ids()); // pairs, but no ids
    /// fields.insert("trace_id", "a1b2c3d4");
    /// assert!(fields.has_trace_ids()); // one id is enough
    /// ```
    pub fn has_trace_ids(&self) -> bool {
        self.run_id().is_some() || self.trace_id().is_some()
    }

    /// The whole context the ids were captured from (with the full 128-bit trace id and the
    /// span id), when they were captured from a live one rather than set by hand.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{ErrorContext, TraceContext};
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let captured = ctx.sync_scope(ErrorContext::current);
    /// assert_eq!(captured.trace_context(), Some(&ctx));
    ///
    /// let by_hand = ErrorContext::new().with("run_id", "job_1");
    /// assert_eq!(by_hand.run_id(), Some("job_1"));
    /// assert_eq!(by_hand.trace_context(), None);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// The pairs in display order: ids first.
    ///
    /// # Examples
    ///
    /// ```
    /// let fields = tracectx::ErrorContext::new().with("file", "cfg.toml").with("run_id", "job_1");
    /// let pairs: Vec<(&str, &str)> = fields.iter().collect();
    /// assert_eq!(pairs, [("run_id", "job_1"), ("file", "cfg.toml")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// The number of pairs, ids included.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let fields = ctx.sync_scope(|| tracectx::ErrorContext::current().with("bar", 17));
    /// assert_eq!(fields.len(), 3); // run_id, trace_id, bar
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ErrorContext;
    ///
    /// assert!(ErrorContext::new().is_empty());
    /// assert!(ErrorContext::current().is_empty()); // outside any scope
    /// assert!(!ErrorContext::new().with("bar", 17).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Takes the ids of `found` (the context of an error this one wraps), with the context
    /// they were captured from when there is one.
    fn inherit(&mut self, found: &ErrorContext) {
        let (run_id, trace_id) = (found.run_id(), found.trace_id());
        match found.trace_context() {
            Some(ctx) if run_id.is_some() && trace_id.is_some() => {
                self.enrich_with(ctx);
            }
            _ => {
                if let Some(run_id) = run_id {
                    self.insert(RUN_ID_KEY, run_id.to_owned());
                }
                if let Some(trace_id) = trace_id {
                    self.insert(TRACE_ID_KEY, trace_id.to_owned());
                }
            }
        }
    }

    /// The context of a wrapper of `error`: the ids of the nearest error in its chain that
    /// carries some (it was raised in that run), else what `fresh` adds.
    fn wrapping(
        error: &(dyn StdError + 'static),
        fresh: impl FnOnce(&mut ErrorContext) -> bool,
    ) -> Self {
        let mut context = Self::new();
        match find_context(error) {
            Some(found) => context.inherit(found),
            None => drop(fresh(&mut context)),
        }
        context
    }

    /// Writes the pairs for which `keep` holds, space-separated; returns whether any was
    /// written.
    fn write_pairs(
        &self,
        f: &mut fmt::Formatter<'_>,
        prefix: &str,
        mut keep: impl FnMut(&str, &str) -> bool,
    ) -> std::result::Result<bool, fmt::Error> {
        let mut wrote = false;
        for (key, value) in self.iter().filter(|(k, v)| keep(k, v)) {
            f.write_str(if wrote { " " } else { prefix })?;
            write!(f, "{}={}", Value(key), Value(value))?;
            wrote = true;
        }
        Ok(wrote)
    }
}

impl Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_pairs(f, "", |_, _| true).map(drop)
    }
}

impl Debug for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// ` [pairs]`, or nothing for an empty context.
struct Bracketed<'a>(&'a ErrorContext);

impl Display for Bracketed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.write_pairs(f, " [", |_, _| true)? {
            f.write_str("]")?;
        }
        Ok(())
    }
}

// === impl Error ===

/// The crate's error: a kind, a message, an [`ErrorContext`] and an optional source.
///
/// Built inside a scope, it captures the run and trace ids at once, so it names its run
/// wherever it travels afterwards. `Display` gives `<kind> error: <message> [<context>]`
/// (control characters in the message escaped); the source is reached through
/// [`source()`](std::error::Error::source), not repeated in the message, as the Rust API
/// guidelines ask, so `anyhow`'s `{:#}` or a chain walker shows each cause once.
///
/// The error is one pointer wide (its parts are boxed, like `std::io::Error`), so
/// `Result<T, Error>` stays small on the happy path.
///
/// # Examples
///
/// ```
/// use tracectx::{Error, ErrorKind, TraceContext};
///
/// let ctx = TraceContext::new("backtest_ab12cd34")?.with_trace_id("a1b2c3d4".parse()?);
/// let err = ctx.sync_scope(|| Error::config("missing key \"slow\"").with("file", "cfg.toml"));
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert_eq!(
///     err.to_string(),
///     r#"config error: missing key "slow" [run_id=backtest_ab12cd34 trace_id=a1b2c3d4 file=cfg.toml]"#
/// );
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error {
    inner: Box<ErrorImpl>,
}

#[derive(Debug, thiserror::Error)]
#[error("{} error: {}{}", .kind, Text(.message), Bracketed(.context))]
struct ErrorImpl {
    kind: ErrorKind,
    message: Cow<'static, str>,
    context: ErrorContext,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

macro_rules! kind_constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<Cow<'static, str>>) -> Self {
                Self::new(ErrorKind::$kind, message)
            }
        )*
    };
}

impl Error {
    /// An error of `kind` with `message`, capturing the current run and trace ids (none
    /// outside a scope).
    ///
    /// The message says what went wrong, lowercase, without a trailing period; put the
    /// details that vary (file, symbol, bar) in the context with [`with`](Self::with).
    /// Each kind also has its own constructor ([`Error::timeout`], ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Error, ErrorKind, TraceContext};
    ///
    /// let err = Error::new(ErrorKind::Timeout, "no fill within 5s");
    /// assert_eq!(err.to_string(), "timeout error: no fill within 5s"); // no scope, no ids
    ///
    /// let ctx = TraceContext::new("live_1")?;
    /// let err = ctx.sync_scope(|| Error::new(ErrorKind::Timeout, "no fill within 5s"));
    /// assert_eq!(err.run_id(), Some("live_1"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            inner: Box::new(ErrorImpl {
                kind,
                message: message.into(),
                context: ErrorContext::current(),
                source: None,
            }),
        }
    }

    kind_constructors! {
        /// A [`ErrorKind::Config`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::config("missing key \"slow\"").with("file", "cfg.toml");
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Config);
        /// assert_eq!(err.to_string(), r#"config error: missing key "slow" [file=cfg.toml]"#);
        /// ```
        config => Config,
        /// A [`ErrorKind::Data`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::data("bars out of order").with("row", 118);
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Data);
        /// assert_eq!(err.to_string(), "data error: bars out of order [row=118]");
        /// ```
        data => Data,
        /// A [`ErrorKind::Validation`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::validation("fast window must be shorter than slow");
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Validation);
        /// assert_eq!(err.to_string(), "validation error: fast window must be shorter than slow");
        /// ```
        validation => Validation,
        /// A [`ErrorKind::Network`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::network("exchange closed the connection");
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Network);
        /// assert_eq!(err.to_string(), "network error: exchange closed the connection");
        /// ```
        network => Network,
        /// A [`ErrorKind::Timeout`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::timeout("no fill within 5s").with("order_id", 42);
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Timeout);
        /// assert_eq!(err.to_string(), "timeout error: no fill within 5s [order_id=42]");
        /// ```
        timeout => Timeout,
        /// A [`ErrorKind::Io`] error; see [`Error::new`]. `From<std::io::Error>` makes one
        /// from an I/O error with `?`.
        ///
        /// # Examples
        ///
        /// ```
        /// use tracectx::{Error, ErrorKind};
        ///
        /// let err = Error::io("cannot write the equity curve").with("path", "out/equity.csv");
        /// assert_eq!(err.kind(), ErrorKind::Io);
        /// assert_eq!(
        ///     err.to_string(),
        ///     "i/o error: cannot write the equity curve [path=out/equity.csv]"
        /// );
        ///
        /// fn open() -> Result<std::fs::File, Error> {
        ///     Ok(std::fs::File::open("/no/such/bars.csv")?)
        /// }
        /// assert_eq!(open().unwrap_err().to_string(), "i/o error: entity not found");
        /// ```
        io => Io,
        /// A [`ErrorKind::Internal`] error; see [`Error::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// let err = tracectx::Error::internal("negative position on a long-only book");
        /// assert_eq!(err.kind(), tracectx::ErrorKind::Internal);
        /// assert_eq!(err.to_string(), "internal error: negative position on a long-only book");
        /// ```
        internal => Internal,
    }

    /// Adds `key=value` to the error's context (see [`ErrorContext::insert`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = tracectx::Error::validation("order rejected").with("symbol", "ES").with("qty", 3);
    /// assert_eq!(err.to_string(), "validation error: order rejected [symbol=ES qty=3]");
    /// assert_eq!(err.message(), "order rejected"); // the pairs are not part of the message
    /// ```
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Display) -> Self {
        self.inner.context.insert(key, value);
        self
    }

    /// Sets the error that caused this one, returned by [`source()`](StdError::source).
    ///
    /// Accepts any `Error + Send + Sync + 'static`, an `anyhow::Error`, a boxed error or a
    /// string. When this error has no ids of its own but the source's chain does (a traced
    /// error that came back from a task and is wrapped outside any scope), the ids are
    /// copied from the source, so the outer message names the run too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::error::Error as _;
    /// use tracectx::Error;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "bars.csv");
    /// let err = Error::data("cannot load bars").with_source(io);
    /// assert_eq!(err.source().unwrap().to_string(), "bars.csv");
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let source = source.into();
        if !self.inner.context.has_trace_ids() {
            if let Some(found) = find_context(&*source) {
                self.inner.context.inherit(found);
            }
        }
        self.inner.source = Some(source);
        self
    }

    /// What kind of error this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Error, ErrorKind};
    ///
    /// fn worth_retrying(err: &Error) -> bool {
    ///     matches!(err.kind(), ErrorKind::Network | ErrorKind::Timeout)
    /// }
    /// assert!(worth_retrying(&Error::timeout("no fill within 5s")));
    /// assert!(!worth_retrying(&Error::validation("position limit exceeded")));
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without the kind and the context.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = tracectx::Error::data("bars out of order").with("row", 118);
    /// assert_eq!(err.message(), "bars out of order");
    /// assert_eq!(err.to_string(), "data error: bars out of order [row=118]");
    /// ```
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The key/value pairs, ids first.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let err = ctx.sync_scope(|| tracectx::Error::config("bad window").with("file", "cfg.toml"));
    /// let keys: Vec<&str> = err.context().iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["run_id", "trace_id", "file"]);
    /// assert_eq!(err.context().get("file"), Some("cfg.toml"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn context(&self) -> &ErrorContext {
        &self.inner.context
    }

    /// The key/value pairs, to add to them in place.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut err = tracectx::Error::network("exchange closed the connection").with("attempt", 1);
    /// err.context_mut().insert("attempt", 2); // keeps its place, takes the new value
    /// err.context_mut().insert("venue", "CME");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "network error: exchange closed the connection [attempt=2 venue=CME]"
    /// );
    /// ```
    pub fn context_mut(&mut self) -> &mut ErrorContext {
        &mut self.inner.context
    }

    /// The run id the error was raised (or enriched) in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Error, TraceContext};
    ///
    /// let err = TraceContext::new("backtest_1")?.sync_scope(|| Error::data("no bars"));
    /// assert_eq!(err.run_id(), Some("backtest_1"));
    /// assert_eq!(Error::data("no bars").run_id(), None); // made outside any scope
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn run_id(&self) -> Option<&str> {
        self.inner.context.run_id()
    }

    /// The short trace id the error was raised (or enriched) in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("backtest_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
    /// let err = ctx.sync_scope(|| tracectx::Error::data("no bars"));
    /// assert_eq!(err.trace_id(), Some("0e0e4736"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_id(&self) -> Option<&str> {
        self.inner.context.trace_id()
    }

    /// Adds the current run and trace ids if the error has none yet; see
    /// [`enrich_error_with_trace`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Error, TraceContext};
    ///
    /// let (raised_in, handled_in) = (TraceContext::new("run_a")?, TraceContext::new("run_b")?);
    /// let mut orphan = Error::network("exchange closed the connection"); // no scope: no ids
    /// let mut raised = raised_in.sync_scope(|| Error::network("exchange closed the connection"));
    /// handled_in.sync_scope(|| {
    ///     orphan.enrich_with_trace();
    ///     raised.enrich_with_trace();
    /// });
    /// assert_eq!(orphan.run_id(), Some("run_b")); // takes the handler's run
    /// assert_eq!(raised.run_id(), Some("run_a")); // keeps the run it was raised in
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn enrich_with_trace(&mut self) -> &mut Self {
        self.inner.context.enrich_with_trace();
        self
    }

    /// [`enrich_with_trace`](Self::enrich_with_trace) by value, for `map_err`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn load() -> Result<(), tracectx::Error> { Err(tracectx::Error::io("disk full")) }
    /// let ctx = tracectx::TraceContext::new("job_5")?;
    /// let err = ctx.sync_scope(|| load().map_err(tracectx::Error::enriched)).unwrap_err();
    /// assert_eq!(err.run_id(), Some("job_5"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn enriched(mut self) -> Self {
        self.enrich_with_trace();
        self
    }
}

impl Debug for Error {
    /// The kind, message and context, then `sources`: the chain below, each of the crate's
    /// errors in it shown without its own sources (so a chain of any length is written
    /// without recursion), up to the first other error, shown with its own `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// One link: the error without its sources.
        struct Link<'a>(&'a ErrorImpl);
        impl Debug for Link<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Error")
                    .field("kind", &self.0.kind)
                    .field("message", &self.0.message)
                    .field("context", &self.0.context)
                    .finish_non_exhaustive()
            }
        }
        struct Sources<'a>(&'a ErrorImpl);
        impl Debug for Sources<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut list = f.debug_list();
                let mut next = self.0.source.as_deref();
                while let Some(source) = next {
                    match source.downcast_ref::<Error>() {
                        Some(err) => {
                            list.entry(&Link(&err.inner));
                            next = err.inner.source.as_deref();
                        }
                        None => {
                            list.entry(&source);
                            break;
                        }
                    }
                }
                list.finish()
            }
        }
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("context", &self.inner.context)
            .field("sources", &Sources(&self.inner))
            .finish()
    }
}

impl Drop for Error {
    /// Drops the chain below one link at a time: a chain as long as a retry loop's attempts
    /// would overflow the stack if each error dropped its source recursively. Links of the
    /// crate's errors and of I/O errors (`?` makes one of each other) are taken apart here;
    /// any other error drops what it holds itself.
    fn drop(&mut self) {
        let mut next = self.inner.source.take();
        while let Some(source) = next {
            next = match source.downcast::<Error>() {
                Ok(mut err) => err.inner.source.take(),
                Err(other) => match other.downcast::<std::io::Error>() {
                    Ok(io) => io.into_inner(),
                    Err(_) => None,
                },
            };
        }
    }
}

impl From<std::io::Error> for Error {
    /// An [`ErrorKind::Io`] error whose message is the I/O error's kind (`entity not found`)
    /// and whose source is the I/O error itself.
    ///
    /// It takes the current run and trace ids, unless the I/O error holds an error that
    /// carries some (a reader that failed in another run): a conversion keeps the run the
    /// error was raised in, as [`Traced`] does.
    fn from(err: std::io::Error) -> Self {
        let context = ErrorContext::wrapping(&err, ErrorContext::enrich_with_trace);
        Self {
            inner: Box::new(ErrorImpl {
                kind: ErrorKind::Io,
                message: err.kind().to_string().into(),
                context,
                source: Some(Box::new(err)),
            }),
        }
    }
}

/// Adds the current run and trace ids to `err` if it has none yet.
///
/// For errors made where no scope was set, handled inside one. Ids already captured (the
/// error was raised inside a run) are never replaced, and enriching twice adds nothing the
/// second time. Outside any scope it does nothing. The method form is
/// [`Error::enrich_with_trace`]; [`Traced::enrich_with_trace`] does the same for a wrapped
/// error.
///
/// # Examples
///
/// ```
/// use tracectx::{enrich_error_with_trace, Error, TraceContext};
///
/// let mut err = Error::network("exchange closed the connection"); // no scope: no ids
/// let ctx = TraceContext::new("live_session_1")?;
/// ctx.sync_scope(|| {
///     enrich_error_with_trace(&mut err);
///     enrich_error_with_trace(&mut err); // a no-op
/// });
/// assert_eq!(err.run_id(), Some("live_session_1"));
/// assert_eq!(err.context().len(), 2);
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn enrich_error_with_trace(err: &mut Error) {
    err.enrich_with_trace();
}

// === impl Traced ===

/// Any error, with a snapshot of the trace context it was raised in.
///
/// An error that already names its run (a crate [`Error`] or a `Traced` raised in a run,
/// anywhere in its `source()` chain) keeps that run when it is wrapped again, in another run's
/// handler or with another context: the wrapper takes the ids from the chain, as enrichment
/// never replaces them. Only an error with no ids takes the context in force (or given).
///
/// Made by [`TracedErrorExt::in_current_trace`], [`TracedResultExt::in_current_trace`], by `?`
/// into a `Result<_, Traced<E>>` (the `From<E>` impl), or by [`Traced::new_dyn`] for
/// `anyhow::Error`, `eyre::Report` and boxed errors. Like tracing-error's `TracedError`, it
/// keeps the inner error's type, so the caller can still match on it ([`inner`](Self::inner),
/// [`into_inner`](Self::into_inner)).
///
/// - `Display`: the inner error's message, then the ids: `<message> [run_id=… trace_id=…]`
///   (nothing added outside any scope; pairs the inner error already shows are not repeated).
///   The message is escaped as the crate's own are (see [`escape`](crate::escape)), so an
///   inner error's newlines or terminal sequences cannot break or forge a line.
/// - [`source()`](StdError::source): the inner error, so a chain walk reaches the original
///   and `downcast_ref` finds it.
/// - `Traced<E>` is `Error + Send + Sync + 'static` when `E` is, so it passes through `?`,
///   `Box<dyn Error + Send + Sync>`, `anyhow` and `eyre` unchanged, and [`find_context`] finds
///   its ids again from a `&dyn Error`.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use tracectx::prelude::*;
/// use tracectx::Traced;
///
/// fn open(path: &str) -> Result<std::fs::File, Traced<std::io::Error>> {
///     Ok(std::fs::File::open(path)?) // `?` captures the current context
/// }
///
/// let ctx = TraceContext::new("backtest_ab12cd34")?.with_trace_id("a1b2c3d4".parse()?);
/// let err = ctx.sync_scope(|| open("/no/such/file")).unwrap_err();
/// assert_eq!(err.run_id(), Some("backtest_ab12cd34"));
/// assert!(err.to_string().ends_with(" [run_id=backtest_ab12cd34 trace_id=a1b2c3d4]"));
/// assert_eq!(err.inner().kind(), std::io::ErrorKind::NotFound);
/// assert!(err.source().unwrap().downcast_ref::<std::io::Error>().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Traced<E> {
    context: ErrorContext,
    inner: E,
    /// How to see `inner` as a `dyn Error`: a plain unsizing for `E: Error`, `as_ref` for the
    /// dynamic error types (`anyhow::Error`), which are not `Error` themselves. Set by the
    /// constructor that knew which one applies, so one `Error` impl serves both.
    as_error: fn(&E) -> &(dyn StdError + 'static),
}

impl<E> Traced<E>
where
    E: StdError + Send + Sync + 'static,
{
    /// Wraps `error` with the current context (no ids outside any scope), or with the ids
    /// its chain already carries (see [`Traced`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{TraceContext, Traced};
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let err = ctx.sync_scope(|| Traced::new(std::io::Error::other("disk full")));
    /// assert_eq!(err.to_string(), "disk full [run_id=job_1 trace_id=a1b2c3d4]");
    ///
    /// let outside = Traced::new(std::io::Error::other("disk full"));
    /// assert_eq!(outside.to_string(), "disk full"); // nothing to add outside any scope
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(error: E) -> Self {
        let context = ErrorContext::wrapping(&error, ErrorContext::enrich_with_trace);
        Self::build(error, context, |e| e)
    }

    /// Wraps `error` with `ctx`'s ids, wherever it is called, unless its chain already carries
    /// ids (see [`Traced`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{TraceContext, Traced};
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// // No scope is set here: the ids come from `ctx` alone.
    /// let err = Traced::with_trace_context(std::io::Error::other("disk full"), &ctx);
    /// assert_eq!(err.to_string(), "disk full [run_id=job_1 trace_id=a1b2c3d4]");
    /// assert!(tracectx::current().is_none());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn with_trace_context(error: E, ctx: &TraceContext) -> Self {
        let context = ErrorContext::wrapping(&error, |c| c.enrich_with(ctx));
        Self::build(error, context, |e| e)
    }
}

impl<E> Traced<E>
where
    E: AsRef<dyn StdError + Send + Sync + 'static> + Debug + Display + Send + Sync + 'static,
{
    /// Wraps a dynamic error (`anyhow::Error`, `eyre::Report`,
    /// `Box<dyn Error + Send + Sync>`) with the current context.
    ///
    /// These types are not `std::error::Error` themselves (they convert *from* every error),
    /// so the extension traits do not apply to them; this constructor does. `source()` then
    /// returns the error the dynamic one holds. Ids already in its chain are kept, as in
    /// [`Traced::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::error::Error as _;
    /// use tracectx::Traced;
    ///
    /// let ctx = tracectx::TraceContext::new("research_9")?;
    /// let err = ctx.sync_scope(|| Traced::new_dyn(anyhow::anyhow!("no fills")));
    /// assert_eq!(err.run_id(), Some("research_9"));
    /// assert_eq!(err.source().unwrap().to_string(), "no fills");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new_dyn(error: E) -> Self {
        let context = ErrorContext::wrapping(error.as_ref(), ErrorContext::enrich_with_trace);
        Self::build(error, context, |e| e.as_ref())
    }
}

impl<E> Traced<E>
where
    E: Debug + Display + 'static,
{
    fn build(
        inner: E,
        context: ErrorContext,
        as_error: fn(&E) -> &(dyn StdError + 'static),
    ) -> Self {
        register_traced::<E>();
        Self {
            context,
            inner,
            as_error,
        }
    }
}

impl<E> Traced<E> {
    /// The run id of the context the error was wrapped in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// assert_eq!(std::io::Error::other("disk full").in_trace(&ctx).run_id(), Some("job_1"));
    /// assert_eq!(std::io::Error::other("disk full").in_current_trace().run_id(), None);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn run_id(&self) -> Option<&str> {
        self.context.run_id()
    }

    /// The short trace id of the context the error was wrapped in, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
    /// let err = std::io::Error::other("disk full").in_trace(&ctx);
    /// assert_eq!(err.trace_id(), Some("0e0e4736"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_id(&self) -> Option<&str> {
        self.context.trace_id()
    }

    /// The ids and any pairs added with [`with`](Self::with).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let err = std::io::Error::other("disk full").in_trace(&ctx).with("path", "/data");
    /// assert_eq!(err.context().run_id(), Some("job_1"));
    /// assert_eq!(err.context().get("path"), Some("/data"));
    /// assert_eq!(err.context().len(), 3);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn context(&self) -> &ErrorContext {
        &self.context
    }

    /// The whole context the error was wrapped in (full trace id, span id), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
    /// let err = std::io::Error::other("disk full").in_trace(&ctx);
    /// let full = err.trace_context().expect("wrapped with a context");
    /// assert_eq!(format!("{:x}", full.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert_eq!(full.span_id(), ctx.span_id());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.context.trace_context()
    }

    /// Adds `key=value` to the context (see [`ErrorContext::insert`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let err = std::io::Error::other("disk full").in_trace(&ctx).with("path", "/data/bars.csv");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "disk full [run_id=job_1 trace_id=a1b2c3d4 path=/data/bars.csv]"
    /// );
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Display) -> Self {
        self.context.insert(key, value);
        self
    }

    /// Adds the current run and trace ids if the error has none yet (it was wrapped outside
    /// any scope); see [`enrich_error_with_trace`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// // Wrapped on a plain thread, where no scope is set.
    /// let mut err = std::thread::spawn(|| std::io::Error::other("disk full").in_current_trace())
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(err.run_id(), None);
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// ctx.sync_scope(|| {
    ///     err.enrich_with_trace();
    /// });
    /// assert_eq!(err.run_id(), Some("job_1"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn enrich_with_trace(&mut self) -> &mut Self {
        self.context.enrich_with_trace();
        self
    }

    /// The wrapped error.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let err = std::fs::File::open("/no/such/bars.csv").in_current_trace().unwrap_err();
    /// assert_eq!(err.inner().kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The wrapped error, mutably.
    ///
    /// The context stays as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let mut err = std::io::Error::other("disk full").in_trace(&ctx);
    /// *err.inner_mut() = std::io::Error::other("disk full on /data");
    /// assert_eq!(err.to_string(), "disk full on /data [run_id=job_1 trace_id=a1b2c3d4]");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn inner_mut(&mut self) -> &mut E {
        &mut self.inner
    }

    /// The wrapped error, dropping the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let err = std::io::Error::other("disk full").in_trace(&ctx);
    /// let io: std::io::Error = err.into_inner();
    /// assert_eq!(io.to_string(), "disk full"); // the ids went with the wrapper
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: Display> Display for Traced<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The inner error's text is foreign: escaped as the crate's own messages are, so it
        // cannot end the line or forge another one (with anyhow's `{:#}` chain kept).
        let mut text = Escaper::new(&mut *f);
        if text.inner().alternate() {
            write!(text, "{:#}", self.inner)?;
        } else {
            write!(text, "{}", self.inner)?;
        }
        // Pairs the inner error already prints (a crate `Error` raised in the same scope)
        // are not printed twice.
        let inner = (self.as_error)(&self.inner);
        // An I/O error displays the error it holds.
        let shown = context_of(inner).or_else(|| {
            let held = inner.downcast_ref::<std::io::Error>()?.get_ref()?;
            context_of(held)
        });
        let repeated = |k: &str, v: &str| shown.is_some_and(|s| s.get(k) == Some(v));
        if self.context.write_pairs(f, " [", |k, v| !repeated(k, v))? {
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl<E: Debug> Debug for Traced<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traced")
            .field("context", &self.context)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<E> StdError for Traced<E>
where
    E: Debug + Display + 'static,
{
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some((self.as_error)(&self.inner))
    }
}

impl<E> From<E> for Traced<E>
where
    E: StdError + Send + Sync + 'static,
{
    /// Wraps `error` with the current context, so `?` into a `Result<_, Traced<E>>` traces.
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

// === impl TracedErrorExt ===

/// Wraps any error with a trace context: [`in_current_trace`](Self::in_current_trace) /
/// [`in_trace`](Self::in_trace).
///
/// Named after tracing-error's `InstrumentError::in_current_span`, which does the same with a
/// span trace, and not `traced()`: the name says *which* context is captured, and pairs with
/// the explicit [`in_trace`](Self::in_trace) as `in_current_span` pairs with `instrument`.
/// Implemented for every `Error + Send + Sync + 'static`; the [prelude](crate::prelude)
/// imports it.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// let ctx = TraceContext::new("job_6")?;
/// let err = std::io::Error::other("disk full").in_trace(&ctx);
/// assert_eq!(err.run_id(), Some("job_6"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub trait TracedErrorExt: StdError + Send + Sync + Sized + 'static {
    /// Wraps the error with the current context (no ids outside any scope), unless its chain
    /// already carries ids (see [`Traced`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let err = ctx.sync_scope(|| std::io::Error::other("disk full").in_current_trace());
    /// assert_eq!(err.run_id(), Some("job_1"));
    ///
    /// // Handled in another run, it still names the run it was raised in.
    /// let again = TraceContext::new("job_2")?.sync_scope(|| err.in_current_trace());
    /// assert_eq!(again.run_id(), Some("job_1"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn in_current_trace(self) -> Traced<Self> {
        Traced::new(self)
    }

    /// Wraps the error with `ctx`'s ids, unless its chain already carries ids (see
    /// [`Traced`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let err = std::io::Error::other("disk full").in_trace(&ctx); // no scope needed
    /// assert_eq!(err.to_string(), "disk full [run_id=job_1 trace_id=a1b2c3d4]");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn in_trace(self, ctx: &TraceContext) -> Traced<Self> {
        Traced::with_trace_context(self, ctx)
    }
}

impl<E> TracedErrorExt for E where E: StdError + Send + Sync + 'static {}

// === impl TracedResultExt ===

/// Wraps the error of a `Result` with a trace context, leaving `Ok` untouched (nothing is
/// captured on the happy path).
///
/// Named after tracing-error's `InstrumentResult::in_current_span`; see [`TracedErrorExt`].
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
/// use tracectx::Traced;
///
/// fn read_config() -> Result<String, Traced<std::io::Error>> {
///     std::fs::read_to_string("/no/such/cfg.toml").in_current_trace()
/// }
///
/// let ctx = TraceContext::new("backtest_1")?;
/// let err = ctx.sync_scope(read_config).unwrap_err();
/// assert_eq!(err.run_id(), Some("backtest_1"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub trait TracedResultExt<T, E> {
    /// Wraps an `Err` with the current context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let parsed = ctx.sync_scope(|| "17".parse::<u32>().in_current_trace());
    /// assert_eq!(parsed.unwrap(), 17); // `Ok` passes through untouched
    /// let err = ctx.sync_scope(|| "x".parse::<u32>().in_current_trace()).unwrap_err();
    /// assert_eq!(err.run_id(), Some("job_1"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn in_current_trace(self) -> std::result::Result<T, Traced<E>>;

    /// Wraps an `Err` with `ctx`'s ids.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?.with_trace_id("a1b2c3d4".parse()?);
    /// let err = "x".parse::<u32>().in_trace(&ctx).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid digit found in string [run_id=job_1 trace_id=a1b2c3d4]"
    /// );
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn in_trace(self, ctx: &TraceContext) -> std::result::Result<T, Traced<E>>;
}

impl<T, E> TracedResultExt<T, E> for std::result::Result<T, E>
where
    E: StdError + Send + Sync + 'static,
{
    fn in_current_trace(self) -> std::result::Result<T, Traced<E>> {
        self.map_err(Traced::new)
    }

    fn in_trace(self, ctx: &TraceContext) -> std::result::Result<T, Traced<E>> {
        self.map_err(|e| Traced::with_trace_context(e, ctx))
    }
}

// === finding the context of a `dyn Error` ===

/// The [`ErrorContext`] holding run or trace ids that is nearest the top of `error`'s
/// `source()` chain: `error` itself, then its source, and so on.
///
/// Finds the crate's [`Error`] and every [`Traced<E>`], whatever `E`, wherever they sit in the
/// chain: inside `anyhow` or `eyre`, behind a `Box<dyn Error>`, under another library's error.
/// An `std::io::Error` made around one of them (`io::Error::other(err)`) is looked into too,
/// though its own `source()` skips the error it holds.
/// For a log layer or an error reporter that has only a `&dyn Error`.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// let ctx = TraceContext::new("backtest_ab12cd34")?;
/// let err: anyhow::Error = ctx.sync_scope(|| std::io::Error::other("disk full").in_current_trace()).into();
/// let err = err.context("saving the equity curve");
///
/// let found = tracectx::error::find_context(err.as_ref()).expect("a traced error in the chain");
/// assert_eq!(found.run_id(), Some("backtest_ab12cd34"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn find_context<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ErrorContext> {
    let mut node = Some(error);
    for _ in 0..MAX_CHAIN {
        let error = node?;
        if let Some(found) = context_of(error).filter(|c| c.has_trace_ids()) {
            return Some(found);
        }
        // An I/O error's `source()` skips the error it holds (its Display shows that one's
        // message), so that error is looked at next.
        node = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => error.source(),
        };
    }
    None
}

/// [`find_context`] as a method on `dyn Error`, as tracing-error's `ExtractSpanTrace` is.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// let ctx = TraceContext::new("job_8")?;
/// let err: Box<dyn std::error::Error + Send + Sync> =
///     ctx.sync_scope(|| Box::new(tracectx::Error::internal("no signal")));
/// assert_eq!(err.error_context().and_then(|c| c.run_id()), Some("job_8"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub trait ExtractErrorContext {
    /// The nearest [`ErrorContext`] with ids in this error's `source()` chain; see
    /// [`find_context`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let traced: Box<dyn std::error::Error> =
    ///     Box::new(std::io::Error::other("disk full").in_trace(&ctx));
    /// let plain: Box<dyn std::error::Error> = Box::new(std::io::Error::other("disk full"));
    /// assert_eq!(traced.error_context().and_then(|c| c.run_id()), Some("job_1"));
    /// assert!(plain.error_context().is_none());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn error_context(&self) -> Option<&ErrorContext>;
}

impl ExtractErrorContext for dyn StdError + 'static {
    fn error_context(&self) -> Option<&ErrorContext> {
        find_context(self)
    }
}

impl ExtractErrorContext for dyn StdError + Send + 'static {
    fn error_context(&self) -> Option<&ErrorContext> {
        find_context(self)
    }
}

impl ExtractErrorContext for dyn StdError + Send + Sync + 'static {
    fn error_context(&self) -> Option<&ErrorContext> {
        find_context(self)
    }
}

/// The context `error` itself carries (not its sources), if it is one of ours.
fn context_of<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a ErrorContext> {
    if let Some(err) = error.downcast_ref::<Error>() {
        return Some(err.context());
    }
    let probes = TRACED_TYPES.read().unwrap_or_else(PoisonError::into_inner);
    probes.iter().find_map(|(_, probe)| probe(error))
}

/// Looks through a `dyn Error` for a `Traced<E>` of one particular `E`.
type Probe = for<'a> fn(&'a (dyn StdError + 'static)) -> Option<&'a ErrorContext>;

/// One probe for every `E` a `Traced<E>` has been built with in this process.
///
/// `downcast_ref` needs the concrete type, and `Traced<io::Error>` and `Traced<MyError>` are
/// different types. tracing-error solves this with an unsafe type-erased layout; this crate
/// forbids `unsafe`, so instead each constructor records (once per type) a probe that
/// downcasts to its own `Traced<E>`. A `Traced<E>` can only be made through a constructor, so
/// every one that exists has its probe here. The list grows with the number of error *types*
/// traced, not of errors; building a traced error costs one uncontended read lock.
static TRACED_TYPES: RwLock<Vec<(TypeId, Probe)>> = RwLock::new(Vec::new());

fn probe<'a, E: Debug + Display + 'static>(
    error: &'a (dyn StdError + 'static),
) -> Option<&'a ErrorContext> {
    error.downcast_ref::<Traced<E>>().map(Traced::context)
}

fn register_traced<E: Debug + Display + 'static>() {
    let id = TypeId::of::<E>();
    let known = |types: &[(TypeId, Probe)]| types.iter().any(|(t, _)| *t == id);
    if known(&TRACED_TYPES.read().unwrap_or_else(PoisonError::into_inner)) {
        return;
    }
    let mut types = TRACED_TYPES.write().unwrap_or_else(PoisonError::into_inner);
    if !known(&types) {
        types.push((id, probe::<E>));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn values_that_would_break_a_line_are_quoted() {
        let fields = ErrorContext::new()
            .with("a", "x\ny")
            .with("b", "")
            .with("c", "k=v")
            .with("d", "]")
            .with("e", "naïve");
        assert_eq!(fields.to_string(), r#"a="x\ny" b="" c="k=v" d="]" e=naïve"#);
    }

    #[test]
    fn messages_stay_on_one_line() {
        let err = Error::data("line one\nline two\r\u{1b}[31m");
        assert_eq!(
            err.to_string(),
            r"data error: line one\nline two\r\u{1b}[31m"
        );
    }

    #[test]
    fn trace_id_goes_after_run_id_whatever_the_order() {
        let mut fields = ErrorContext::new().with("k", 1);
        fields.insert(TRACE_ID_KEY, "a1b2c3d4");
        fields.insert(RUN_ID_KEY, "job");
        assert_eq!(fields.to_string(), "run_id=job trace_id=a1b2c3d4 k=1");
    }
}
