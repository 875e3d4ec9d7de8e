//! The trace context and its ids: creation, validation and nesting.
//!
//! A [`TraceContext`] names one unit of work (a backtest session, a live session, an HTTP
//! request, a CLI command). It holds:
//!
//! - a [`RunId`]: the human-chosen, validated name of the run (`backtest_0193…`), safe to
//!   print inside a log line;
//! - a [`TraceId`]: 128 random bits, as W3C Trace Context and OpenTelemetry need, shown in logs
//!   as its right-most 8 lowercase hex characters ([`ShortTraceId`]);
//! - a [`SpanId`] for this piece of the run and, for nested pieces, the parent's span id.
//!
//! A `TraceContext` is a handle one pointer wide (an `Arc` to the ids): cloning it is an atomic
//! increment, and moving it into tokio's task-local slot on every poll costs what moving a raw
//! `Arc` costs.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

/// The longest run id accepted, in bytes.
///
/// # Examples
///
/// ```
/// use tracectx::{RunId, MAX_RUN_ID_LEN};
///
/// assert!(RunId::new(&"a".repeat(MAX_RUN_ID_LEN)).is_ok());
/// assert!(RunId::new(&"a".repeat(MAX_RUN_ID_LEN + 1)).is_err());
/// ```
pub const MAX_RUN_ID_LEN: usize = 128;

/// The longest input echoed back inside an [`InvalidId`] message, in characters.
const MAX_ECHO: usize = 64;

// === random ids ===

thread_local! {
    /// Each thread's generator of trace and span ids: wyrand (fastrand), seeded once per thread
    /// from the operating system's random source (through uuid's v4 generation, which reads
    /// it), with the number of forks it was seeded after. Ids need to be unpredictable across
    /// processes and cheap to make, not secret.
    static IDS: std::cell::Cell<Option<(u32, fastrand::Rng)>> = const { std::cell::Cell::new(None) };
}

/// 128 random bits from this thread's id generator.
fn random_u128() -> u128 {
    IDS.with(|cell| {
        let forks = fork::count();
        let mut rng = match cell.take() {
            Some((seeded_after, rng)) if seeded_after == forks => rng,
            // A new thread, or the child of a fork holding a copy of its parent's generator,
            // which would make the parent's next ids.
            _ => {
                fork::watch();
                fastrand::Rng::with_seed(uuid::Uuid::new_v4().as_u64_pair().0)
            }
        };
        let v = rng.u128(..);
        cell.set(Some((forks, rng)));
        v
    })
}

/// Forks of the process (without exec): each child counts one more, so that a thread's id
/// generator, copied from the parent, is seeded again there (as rand's thread generator
/// does).
#[cfg(unix)]
mod fork {
    use std::sync::Once;
    use std::sync::atomic::{AtomicU32, Ordering};

    static FORKS: AtomicU32 = AtomicU32::new(0);

    /// Forks into the process this one is, so far.
    pub(super) fn count() -> u32 {
        FORKS.load(Ordering::Relaxed)
    }

    /// Counts the forks from now on (once per process; a child inherits the handler).
    pub(super) fn watch() {
        static WATCH: Once = Once::new();
        extern "C" fn forked() {
            // Async-signal-safe: a child of a multi-threaded parent may do little more.
            FORKS.fetch_add(1, Ordering::Relaxed);
        }
        WATCH.call_once(|| {
            #[allow(unsafe_code)]
            // SAFETY: registers a handler that only increments an atomic; failure (ENOMEM)
            // leaves forks uncounted, as before.
            unsafe {
                libc::pthread_atfork(None, None, Some(forked))
            };
        });
    }
}

#[cfg(not(unix))]
mod fork {
    pub(super) fn count() -> u32 {
        0
    }

    pub(super) fn watch() {}
}

// === impl InvalidId ===

/// An id (run id, trace id or span id) that was refused, with what was wrong and where.
///
/// # Examples
///
/// ```
/// use tracectx::TraceContext;
///
/// let err = TraceContext::new("run 1").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid run id "run 1": whitespace at byte 3"#);
/// assert_eq!(err.position(), Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct InvalidId {
    what: &'static str,
    input: String,
    reason: InvalidIdReason,
}

/// Why an id was refused; see [`InvalidId::reason`].
///
/// The enum is `#[non_exhaustive]`: a `match` on it needs a `_` arm.
///
/// # Examples
///
/// ```
/// use tracectx::{InvalidIdReason, SpanId};
///
/// let err = "00f067aa".parse::<SpanId>().unwrap_err();
/// assert_eq!(err.reason(), InvalidIdReason::Length { expected: "16", got: 8 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidIdReason {
    /// The id was empty.
    #[error("empty")]
    Empty,
    /// The id was longer than allowed.
    #[error("{len} bytes, more than the {max} allowed")]
    TooLong {
        /// The length of the input, in bytes.
        len: usize,
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// A byte outside the accepted set.
    #[error("{class} at byte {at}")]
    Forbidden {
        /// What kind of character was found (`"whitespace"`, `"a bracket"`, ...).
        class: &'static str,
        /// Its byte offset in the input.
        at: usize,
    },
    /// A hex id of the wrong length.
    #[error("expected {expected} hex characters, got {got}")]
    Length {
        /// The accepted lengths, in words (`"8 or 32"`).
        expected: &'static str,
        /// The length of the input, in bytes.
        got: usize,
    },
    /// A character that is not a hex digit.
    #[error("not a hex digit at byte {at}")]
    NotHex {
        /// Its byte offset in the input.
        at: usize,
    },
    /// An id whose value is zero, which W3C Trace Context reserves as invalid.
    #[error("all zeros, which is not a valid id")]
    Zero,
    /// A run id with no letter or digit (`-`, `_`, `..`), which a reader could take for the
    /// `-` a log line shows when it has no context.
    #[error("no letter or digit, so it could be taken for the \"-\" of a line with no context")]
    NoAlphanumeric,
}

impl InvalidId {
    pub(crate) fn new(what: &'static str, input: &str, reason: InvalidIdReason) -> Self {
        let input = match input.char_indices().nth(MAX_ECHO) {
            Some((end, _)) => format!("{}…", &input[..end]),
            None => input.to_owned(),
        };
        Self {
            what,
            input,
            reason,
        }
    }

    /// What kind of id was refused: `"run id"`, `"trace id"` or `"span id"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = "xyz".parse::<tracectx::TraceId>().unwrap_err();
    /// assert_eq!(err.kind(), "trace id");
    /// ```
    pub fn kind(&self) -> &'static str {
        self.what
    }

    /// Why the id was refused, as a value to match on.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{InvalidIdReason, RunId};
    ///
    /// let err = RunId::new("").unwrap_err();
    /// assert_eq!(err.reason(), InvalidIdReason::Empty);
    /// ```
    pub fn reason(&self) -> InvalidIdReason {
        self.reason
    }

    /// The byte offset of the offending character, when one character was at fault.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::RunId;
    ///
    /// assert_eq!(RunId::new("run[1]").unwrap_err().position(), Some(3));
    /// assert_eq!(RunId::new("").unwrap_err().position(), None);
    /// ```
    pub fn position(&self) -> Option<usize> {
        match self.reason {
            InvalidIdReason::Forbidden { at, .. } | InvalidIdReason::NotHex { at } => Some(at),
            _ => None,
        }
    }
}

// === impl RunId ===

/// The validated name of a run, such as `backtest_ab12cd34`.
///
/// A run id is printed inside log lines, error messages and metric labels, so it is checked
/// once, when made, to be unable to break any of them. Accepted: 1 to 128 bytes of ASCII
/// letters, digits and `_ - . : / @ +`, at least one of them a letter or digit. Refused, with
/// the offending byte's offset: whitespace, control characters, brackets (`[] () {} <>`),
/// quotes (`" ' `` ` ``), backslash, non-ASCII and every other punctuation mark (`=`, `,`,
/// `%`, ...). An id of punctuation alone (`-`, `_`, `..`) is refused too: a log line shows
/// `-` where it has no context, and a run must never be mistaken for that.
///
/// Cloning is an atomic increment (the text is shared), and a `RunId` derefs to `str`.
///
/// # Examples
///
/// ```
/// use tracectx::RunId;
///
/// let id: RunId = "backtest_ab12cd34".parse()?;
/// assert_eq!(&*id, "backtest_ab12cd34");
/// assert!("backtest [1]".parse::<RunId>().is_err());
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(Arc<str>);

impl RunId {
    /// Validates `id` as a run id.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] naming the first offending byte, or the empty or over-long input.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::RunId;
    ///
    /// let id = RunId::new("live:eu-west/42")?;
    /// assert_eq!(id.as_str(), "live:eu-west/42");
    /// assert!(RunId::new("a;b").is_err());
    /// assert!(RunId::new("-").is_err()); // what a line with no context shows
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(id: &str) -> Result<Self, InvalidId> {
        validate_run_id(id)?;
        Ok(Self(Arc::from(id)))
    }

    /// Makes `prefix_<suffix>`, where the suffix is a time-ordered UUID (v7) in 32 lowercase
    /// hex characters: unique in practice, and run ids made later sort after earlier ones.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] if the prefix holds a refused character or is too long.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::RunId;
    ///
    /// let first = RunId::generate("backtest")?;
    /// let second = RunId::generate("backtest")?;
    /// assert_eq!(first.len(), "backtest_".len() + 32);
    /// assert!(first.starts_with("backtest_") && first < second);
    /// assert!(RunId::generate("back test").is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn generate(prefix: &str) -> Result<Self, InvalidId> {
        let mut id = String::with_capacity(prefix.len() + 33);
        id.push_str(prefix);
        id.push('_');
        id.push_str(
            uuid::Uuid::now_v7()
                .simple()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
        Self::new(&id)
    }

    /// The run id as text.
    ///
    /// # Examples
    ///
    /// ```
    /// let id: tracectx::RunId = "job_1".parse()?;
    /// assert_eq!(id.as_str(), "job_1");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `b` may appear in a run id: ASCII letters, digits and `_ - . : / @ +`.
pub(crate) fn is_run_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/' | b'@' | b'+')
}

pub(crate) fn validate_run_id(id: &str) -> Result<(), InvalidId> {
    let refuse = |reason| Err(InvalidId::new("run id", id, reason));
    if id.is_empty() {
        return refuse(InvalidIdReason::Empty);
    }
    // The length first, so a huge input costs nothing to refuse.
    if id.len() > MAX_RUN_ID_LEN {
        return refuse(InvalidIdReason::TooLong {
            len: id.len(),
            max: MAX_RUN_ID_LEN,
        });
    }
    for (at, b) in id.bytes().enumerate() {
        if is_run_id_byte(b) {
            continue;
        }
        let class = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => "whitespace",
            0..=0x1f | 0x7f => "a control character",
            b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'<' | b'>' => "a bracket",
            b'"' | b'\'' | b'`' => "a quote",
            b'\\' => "a backslash",
            0x80.. => "a non-ASCII character",
            _ => "a punctuation mark outside `_ - . : / @ +`",
        };
        return refuse(InvalidIdReason::Forbidden { class, at });
    }
    if !id.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return refuse(InvalidIdReason::NoAlphanumeric);
    }
    Ok(())
}

impl Deref for RunId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A run id hashes and compares as its text, so maps keyed by run look one up by `&str`.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::RunId;
///
/// let mut lines: HashMap<RunId, usize> = HashMap::new();
/// *lines.entry(RunId::new("backtest_1")?).or_default() += 1;
/// assert_eq!(lines.get("backtest_1"), Some(&1));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
impl Borrow<str> for RunId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for RunId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::new(s)
    }
}

impl TryFrom<&str> for RunId {
    type Error = InvalidId;

    fn try_from(s: &str) -> Result<Self, InvalidId> {
        Self::new(s)
    }
}

impl TryFrom<String> for RunId {
    type Error = InvalidId;

    fn try_from(s: String) -> Result<Self, InvalidId> {
        validate_run_id(&s)?;
        Ok(Self(Arc::from(s)))
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

// === impl TraceId ===

/// A 128-bit trace id, as W3C Trace Context and OpenTelemetry define it (never zero).
///
/// Logs show its right-most 8 lowercase hex characters ([`TraceId::short`], and `Display`);
/// `{:x}` gives all 32, as `traceparent` carries them. Both forms name the same value
/// everywhere: the short id in a log line is the tail of the id a tracer shows.
///
/// Parsing accepts 32 hex characters (the full id) or 8 (the short form). From 8, the
/// remaining 96 bits are filled at random, as the W3C specification advises for systems that
/// work with a shorter id: the short form, and so every log line, stays what was given.
///
/// # Examples
///
/// ```
/// use tracectx::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
/// assert_eq!(id.to_string(), "0e0e4736");
/// assert_eq!(format!("{id:x}"), "4bf92f3577b34da6a3ce929d0e0e4736");
///
/// let short: TraceId = "a1b2c3d4".parse()?;
/// assert_eq!(&*short.short(), "a1b2c3d4");
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

impl TraceId {
    /// A fresh random trace id (never zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceId;
    ///
    /// let (a, b) = (TraceId::random(), TraceId::random());
    /// assert_ne!(a, b);
    /// assert_ne!(a.to_u128(), 0);
    /// ```
    pub fn random() -> Self {
        loop {
            let v = random_u128();
            if v != 0 {
                return Self(v);
            }
        }
    }

    /// The id with this value, or `None` for zero (invalid in W3C Trace Context).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceId;
    ///
    /// let id = TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).expect("not zero");
    /// assert_eq!(format!("{id:x}"), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(TraceId::from_u128(0).is_none());
    /// ```
    pub const fn from_u128(value: u128) -> Option<Self> {
        if value == 0 { None } else { Some(Self(value)) }
    }

    /// The id from its 16 big-endian bytes, as `traceparent` and OpenTelemetry carry it;
    /// `None` for all zeros.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceId;
    ///
    /// let mut bytes = [0; 16];
    /// bytes[15] = 42;
    /// assert_eq!(TraceId::from_bytes(bytes).map(TraceId::to_u128), Some(42));
    /// assert!(TraceId::from_bytes([0; 16]).is_none());
    /// ```
    pub const fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        Self::from_u128(u128::from_be_bytes(bytes))
    }

    /// The 128-bit value.
    ///
    /// # Examples
    ///
    /// ```
    /// let id: tracectx::TraceId = "0000000000000000000000000000002a".parse()?;
    /// assert_eq!(id.to_u128(), 42);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn to_u128(self) -> u128 {
        self.0
    }

    /// The 16 big-endian bytes, as `traceparent` and OpenTelemetry carry them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceId;
    ///
    /// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
    /// assert_eq!(id.to_bytes()[0], 0x4b);
    /// assert_eq!(TraceId::from_bytes(id.to_bytes()), Some(id));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// The right-most 8 lowercase hex characters, as logs show them.
    ///
    /// # Examples
    ///
    /// ```
    /// let id: tracectx::TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
    /// assert_eq!(id.short().as_str(), "0e0e4736");
    /// assert_eq!(id.to_string(), "0e0e4736"); // `Display` shows the same
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn short(self) -> ShortTraceId {
        ShortTraceId(hex_lower::<8>(u64::from(self.0 as u32)))
    }
}

impl FromStr for TraceId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let refuse = |reason| InvalidId::new("trace id", s, reason);
        match s.len() {
            32 => {
                let v = parse_hex(s).map_err(refuse)?;
                Self::from_u128(v).ok_or_else(|| refuse(InvalidIdReason::Zero))
            }
            8 => {
                let low = parse_hex(s).map_err(refuse)?;
                let high: u128 = random_u128() << 32;
                // The high bits are random and so almost surely non-zero; make sure.
                Ok(Self(low | high | if high == 0 { 1 << 127 } else { 0 }))
            }
            got => Err(refuse(InvalidIdReason::Length {
                expected: "8 or 32",
                got,
            })),
        }
    }
}

impl fmt::Display for TraceId {
    /// The short form: the right-most 8 lowercase hex characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.short())
    }
}

impl fmt::LowerHex for TraceId {
    /// The full form: 32 lowercase hex characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}

/// The short form of a [`TraceId`]: 8 lowercase hex characters, on the stack.
///
/// Derefs to `str`; making one allocates nothing.
///
/// # Examples
///
/// ```
/// let id = tracectx::TraceId::from_u128(0xdead_beef).unwrap();
/// assert_eq!(&*id.short(), "deadbeef");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShortTraceId([u8; 8]);

impl ShortTraceId {
    /// The 8 characters as text.
    ///
    /// # Examples
    ///
    /// ```
    /// let id = tracectx::TraceId::from_u128(0xa1b2_c3d4).expect("not zero");
    /// assert_eq!(id.short().as_str(), "a1b2c3d4");
    /// ```
    pub fn as_str(&self) -> &str {
        // Always ASCII hex digits, so this never fails; an empty string would be the answer
        // if it ever did.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Deref for ShortTraceId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortTraceId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ShortTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for ShortTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

// === impl SpanId ===

/// A 64-bit span id, as W3C Trace Context and OpenTelemetry define it (never zero).
///
/// Shown as 16 lowercase hex characters.
///
/// # Examples
///
/// ```
/// use tracectx::SpanId;
///
/// let id: SpanId = "00f067aa0ba902b7".parse()?;
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert!("0000000000000000".parse::<SpanId>().is_err());
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl SpanId {
    /// A fresh random span id (never zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::SpanId;
    ///
    /// let (a, b) = (SpanId::random(), SpanId::random());
    /// assert_ne!(a, b);
    /// assert_eq!(a.to_string().len(), 16);
    /// ```
    pub fn random() -> Self {
        loop {
            let v = random_u128() as u64;
            if v != 0 {
                return Self(v);
            }
        }
    }

    /// The id with this value, or `None` for zero (invalid in W3C Trace Context).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::SpanId;
    ///
    /// let id = SpanId::from_u64(0x00f0_67aa_0ba9_02b7).expect("not zero");
    /// assert_eq!(id.to_string(), "00f067aa0ba902b7");
    /// assert!(SpanId::from_u64(0).is_none());
    /// ```
    pub const fn from_u64(value: u64) -> Option<Self> {
        if value == 0 { None } else { Some(Self(value)) }
    }

    /// The id from its 8 big-endian bytes, as `traceparent` and OpenTelemetry carry it;
    /// `None` for all zeros.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::SpanId;
    ///
    /// let id = SpanId::from_bytes([0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]).expect("not zero");
    /// assert_eq!(id.to_string(), "00f067aa0ba902b7");
    /// assert!(SpanId::from_bytes([0; 8]).is_none());
    /// ```
    pub const fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        Self::from_u64(u64::from_be_bytes(bytes))
    }

    /// The 64-bit value.
    ///
    /// # Examples
    ///
    /// ```
    /// let id: tracectx::SpanId = "000000000000002a".parse()?;
    /// assert_eq!(id.to_u64(), 42);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// The 8 big-endian bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::SpanId;
    ///
    /// let id: SpanId = "00f067aa0ba902b7".parse()?;
    /// assert_eq!(id.to_bytes()[1], 0xf0);
    /// assert_eq!(SpanId::from_bytes(id.to_bytes()), Some(id));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl FromStr for SpanId {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let refuse = |reason| InvalidId::new("span id", s, reason);
        if s.len() != 16 {
            return Err(refuse(InvalidIdReason::Length {
                expected: "16",
                got: s.len(),
            }));
        }
        let v = parse_hex(s).map_err(refuse)?;
        Self::from_u64(v as u64).ok_or_else(|| refuse(InvalidIdReason::Zero))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::LowerHex for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

/// Parses up to 32 hex digits (either case) into a number.
fn parse_hex(s: &str) -> Result<u128, InvalidIdReason> {
    let mut v: u128 = 0;
    for (at, b) in s.bytes().enumerate() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(InvalidIdReason::NotHex { at }),
        };
        v = (v << 4) | u128::from(d);
    }
    Ok(v)
}

/// The low `N * 4` bits of `v` as `N` lowercase hex digits.
fn hex_lower<const N: usize>(v: u64) -> [u8; N] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = (N - 1 - i) * 4;
        *slot = DIGITS[((v >> shift) & 0xf) as usize];
    }
    out
}

// === impl TraceFlags ===

/// The W3C Trace Context flags byte: bit 0 "sampled", bit 1 "random" (Level 2: the right-most
/// 7 bytes of the trace id are random).
///
/// # Examples
///
/// ```
/// use tracectx::TraceFlags;
///
/// let flags = TraceFlags::SAMPLED.with(TraceFlags::RANDOM);
/// assert!(flags.is_sampled() && flags.is_random());
/// assert_eq!(format!("{flags}"), "03");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set: not sampled, trace id not vouched random.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::default(), TraceFlags::NONE);
    /// assert!(!TraceFlags::NONE.is_sampled());
    /// ```
    pub const NONE: Self = Self(0);
    /// The caller may have recorded the trace (bit 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::SAMPLED.to_u8(), 0x01);
    /// assert!(TraceFlags::SAMPLED.is_sampled());
    /// ```
    pub const SAMPLED: Self = Self(0x01);
    /// The trace id's right-most 7 bytes are random (bit 1, W3C Trace Context Level 2).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::RANDOM.to_string(), "02");
    /// assert!(TraceFlags::RANDOM.is_random() && !TraceFlags::RANDOM.is_sampled());
    /// ```
    pub const RANDOM: Self = Self(0x02);

    /// The flags held in this byte, reserved bits included.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::from_u8(0x01), TraceFlags::SAMPLED);
    /// assert_eq!(TraceFlags::from_u8(0x83).to_u8(), 0x83);
    /// ```
    pub const fn from_u8(bits: u8) -> Self {
        Self(bits)
    }

    /// The flags as one byte, as `traceparent` carries them.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert_eq!(TraceFlags::SAMPLED.with(TraceFlags::RANDOM).to_u8(), 0x03);
    /// ```
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// These flags with `other`'s set as well (a bitwise or).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// let flags = TraceFlags::NONE.with(TraceFlags::SAMPLED);
    /// assert_eq!(flags, TraceFlags::SAMPLED);
    /// assert_eq!(flags.with(TraceFlags::SAMPLED), flags);
    /// ```
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the sampled bit is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert!(TraceFlags::from_u8(0x03).is_sampled());
    /// assert!(!TraceFlags::RANDOM.is_sampled());
    /// ```
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the random bit is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceFlags;
    ///
    /// assert!(TraceFlags::from_u8(0x02).is_random());
    /// assert!(!TraceFlags::SAMPLED.is_random());
    /// ```
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM.0 != 0
    }
}

impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

// === impl TraceContext ===

/// The identity of one unit of work: run id, trace id, span id and parent span id.
///
/// Set it once at the edge of the work ([`TraceFutureExt::in_trace_context`],
/// [`TraceContext::sync_scope`]) and read it anywhere inside with [`crate::current`],
/// [`crate::get_run_id`] or [`crate::get_trace_id`]. It is a handle one pointer wide: clones
/// share the ids.
///
/// [`TraceFutureExt::in_trace_context`]: crate::TraceFutureExt::in_trace_context
///
/// # Examples
///
/// ```
/// use tracectx::TraceContext;
///
/// let ctx = TraceContext::new("backtest_ab12cd34")?;
/// assert_eq!(ctx.run_id(), "backtest_ab12cd34");
/// assert_eq!(ctx.trace_id().short().len(), 8);
///
/// let child = ctx.child();
/// assert_eq!(child.run_id(), ctx.run_id());
/// assert_eq!(child.trace_id(), ctx.trace_id());
/// assert_eq!(child.parent_span_id(), Some(ctx.span_id()));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[derive(Clone)]
pub struct TraceContext {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    run_id: RunId,
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    flags: TraceFlags,
    /// A validated W3C `tracestate` received from upstream, passed on unchanged.
    trace_state: Option<Arc<str>>,
    /// The W3C `baggage` members received from upstream but the run id's, passed on.
    baggage: Option<Arc<crate::propagation::Baggage>>,
}

impl TraceContext {
    /// A context for the run `run_id`, with a fresh trace id and span id and no parent.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when `run_id` is not a valid [`RunId`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::TraceContext;
    ///
    /// let ctx = TraceContext::new("backtest_ab12cd34")?;
    /// assert_eq!(ctx.run_id(), "backtest_ab12cd34");
    /// assert_eq!(ctx.parent_span_id(), None);
    /// assert!(TraceContext::new("back test").is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(run_id: &str) -> Result<Self, InvalidId> {
        Ok(Self::from_run_id(RunId::new(run_id)?))
    }

    /// A context for an already validated run id, with a fresh trace id and span id, marked
    /// sampled and random.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{RunId, TraceContext};
    ///
    /// let run_id = RunId::generate("live")?;
    /// let ctx = TraceContext::from_run_id(run_id.clone());
    /// assert_eq!(ctx.run_id(), &run_id);
    /// assert!(ctx.trace_flags().is_sampled() && ctx.trace_flags().is_random());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn from_run_id(run_id: RunId) -> Self {
        Self::from_parts(run_id, TraceId::random(), SpanId::random(), None)
            .with_trace_flags(TraceFlags::SAMPLED.with(TraceFlags::RANDOM))
    }

    /// A context whose run id is `prefix_<time-ordered unique suffix>` (see
    /// [`RunId::generate`]).
    ///
    /// A prefix that is not a valid run id on its own is replaced by `run`, so this never
    /// fails; use [`RunId::generate`] to get the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::generate("backtest");
    /// assert!(ctx.run_id().starts_with("backtest_"));
    /// ```
    pub fn generate(prefix: &str) -> Self {
        let run_id = RunId::generate(prefix)
            .or_else(|_| RunId::generate("run"))
            .unwrap_or_else(|_| RunId(Arc::from("run")));
        Self::from_run_id(run_id)
    }

    /// Builds a context from all of its ids, marked sampled (not random: the ids come from
    /// elsewhere).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{TraceContext, TraceFlags};
    ///
    /// let ctx = TraceContext::from_parts(
    ///     "job_1".parse()?,
    ///     "4bf92f3577b34da6a3ce929d0e0e4736".parse()?,
    ///     "00f067aa0ba902b7".parse()?,
    ///     None,
    /// );
    /// assert_eq!(ctx.to_string(), "run_id=job_1 trace_id=0e0e4736 span_id=00f067aa0ba902b7");
    /// assert_eq!(ctx.trace_flags(), TraceFlags::SAMPLED);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn from_parts(
        run_id: RunId,
        trace_id: TraceId,
        span_id: SpanId,
        parent_span_id: Option<SpanId>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                run_id,
                trace_id,
                span_id,
                parent_span_id,
                flags: TraceFlags::SAMPLED,
                trace_state: None,
                baggage: None,
            }),
        }
    }

    /// The run id, shared by every child of this context.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// assert_eq!(ctx.run_id().as_str(), "job_1");
    /// assert_eq!(ctx.child().run_id(), ctx.run_id());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn run_id(&self) -> &RunId {
        &self.inner.run_id
    }

    /// The trace id (`Display` gives the short, 8-character form; `{:x}` all 32).
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?);
    /// assert_eq!(ctx.trace_id().to_string(), "0e0e4736");
    /// assert_eq!(format!("{:x}", ctx.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_id(&self) -> TraceId {
        self.inner.trace_id
    }

    /// This context's span id: new for every [`child`](Self::child).
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let child = ctx.child();
    /// assert_ne!(child.span_id(), ctx.span_id());
    /// assert_eq!(child.parent_span_id(), Some(ctx.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn span_id(&self) -> SpanId {
        self.inner.span_id
    }

    /// The parent's span id: that of the context this one was made from by
    /// [`child`](Self::child), or the sender's when continued from another process; `None`
    /// for a root context.
    ///
    /// # Examples
    ///
    /// ```
    /// let root = tracectx::TraceContext::new("job_1")?;
    /// assert_eq!(root.parent_span_id(), None);
    /// assert_eq!(root.child().parent_span_id(), Some(root.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.inner.parent_span_id
    }

    /// The W3C trace flags (sampled, random) this context carries across processes.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// assert!(ctx.trace_flags().is_sampled() && ctx.trace_flags().is_random());
    /// // An id from elsewhere: the crate no longer vouches that it is random.
    /// let ctx = ctx.with_trace_id("a1b2c3d4".parse()?);
    /// assert!(!ctx.trace_flags().is_random());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn trace_flags(&self) -> TraceFlags {
        self.inner.flags
    }

    /// The W3C `tracestate` received from upstream, if any, passed on unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{propagation::TraceState, TraceContext};
    ///
    /// let ctx = TraceContext::generate("request");
    /// assert_eq!(ctx.trace_state(), None);
    /// let ctx = ctx.with_trace_state(Some(TraceState::parse(["congo=t61rcWkgMzE"])?));
    /// assert_eq!(ctx.trace_state(), Some("congo=t61rcWkgMzE"));
    /// # Ok::<(), tracectx::propagation::TraceStateError>(())
    /// ```
    pub fn trace_state(&self) -> Option<&str> {
        self.inner.trace_state.as_deref()
    }

    /// A nested context: same run and trace (and flags, `tracestate` and baggage), a new span
    /// id, and this context's span id as its parent.
    ///
    /// # Examples
    ///
    /// ```
    /// let run = tracectx::TraceContext::new("job_1")?;
    /// let step = run.child();
    /// assert_eq!((step.run_id(), step.trace_id()), (run.run_id(), run.trace_id()));
    /// assert_ne!(step.span_id(), run.span_id());
    /// assert_eq!(step.parent_span_id(), Some(run.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn child(&self) -> Self {
        Self {
            inner: Arc::new(Inner {
                run_id: self.inner.run_id.clone(),
                trace_id: self.inner.trace_id,
                span_id: SpanId::random(),
                parent_span_id: Some(self.inner.span_id),
                flags: self.inner.flags,
                trace_state: self.inner.trace_state.clone(),
                baggage: self.inner.baggage.clone(),
            }),
        }
    }

    /// A new run nested in this one: the run id `run_id`, the same trace (and flags,
    /// `tracestate` and baggage), a new span id, and this context's span id as its parent.
    ///
    /// This is the nested operation of a run that is a run of its own (a session of a sweep,
    /// a job of a batch): its lines are pulled out alone by its run id, and the whole trace by
    /// the trace id. Use [`child`](Self::child) for a step of the same run.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when `run_id` is not a valid [`RunId`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sweep = tracectx::TraceContext::new("sweep_1")?;
    /// let session = sweep.child_run("session_7")?;
    /// assert_eq!(session.run_id(), "session_7");
    /// assert_eq!(session.trace_id(), sweep.trace_id());
    /// assert_eq!(session.parent_span_id(), Some(sweep.span_id()));
    /// assert_ne!(session.span_id(), sweep.span_id());
    /// assert!(sweep.child_run("session 8").is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn child_run(&self, run_id: &str) -> Result<TraceContext, InvalidId> {
        Ok(self.child_for_run(RunId::new(run_id)?))
    }

    /// [`child_run`](Self::child_run) for an already validated run id: it cannot fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{RunId, TraceContext};
    ///
    /// let sweep = TraceContext::generate("sweep");
    /// let session = sweep.child_for_run(RunId::generate("backtest")?);
    /// assert!(session.run_id().starts_with("backtest_"));
    /// assert_eq!(session.trace_id(), sweep.trace_id());
    /// assert_eq!(session.parent_span_id(), Some(sweep.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn child_for_run(&self, run_id: RunId) -> TraceContext {
        Self {
            inner: Arc::new(Inner {
                run_id,
                trace_id: self.inner.trace_id,
                span_id: SpanId::random(),
                parent_span_id: Some(self.inner.span_id),
                flags: self.inner.flags,
                trace_state: self.inner.trace_state.clone(),
                baggage: self.inner.baggage.clone(),
            }),
        }
    }

    /// The same context with another trace id.
    ///
    /// The W3C "random" flag is cleared: this crate cannot vouch for the randomness of an id it
    /// did not make.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_7")?.with_trace_id("a1b2c3d4".parse()?);
    /// assert_eq!(ctx.trace_id().to_string(), "a1b2c3d4");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with_trace_id(self, trace_id: TraceId) -> Self {
        self.map(|inner| {
            inner.trace_id = trace_id;
            inner.flags = TraceFlags(inner.flags.0 & !TraceFlags::RANDOM.0);
        })
    }

    /// The same context with another span id.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?.with_span_id("00f067aa0ba902b7".parse()?);
    /// assert_eq!(ctx.span_id().to_string(), "00f067aa0ba902b7");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with_span_id(self, span_id: SpanId) -> Self {
        self.map(|inner| inner.span_id = span_id)
    }

    /// The same context with a parent span id: only the parent span id changes.
    ///
    /// This is one of the pieces of a context continued from elsewhere, set together with
    /// that trace's id ([`with_trace_id`](Self::with_trace_id)): a span id names a span
    /// *within* a trace, so it does not bring its trace along. On a fresh context
    /// (`TraceContext::new("child")`) the trace stays the fresh one, and the result is a root
    /// of a new trace that merely points at a span it is not in. To nest a new run under a
    /// context, in its trace, use [`child_run`](Self::child_run).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{SpanId, TraceContext};
    ///
    /// let upstream: SpanId = "00f067aa0ba902b7".parse()?;
    /// let ctx = TraceContext::new("job_1")?
    ///     .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse()?)
    ///     .with_parent_span_id(upstream);
    /// assert_eq!(ctx.parent_span_id(), Some(upstream));
    ///
    /// // Not a way to nest: the trace is not the parent's.
    /// let parent = TraceContext::new("job_2")?;
    /// let alone = TraceContext::new("child")?.with_parent_span_id(parent.span_id());
    /// assert_ne!(alone.trace_id(), parent.trace_id());
    /// let nested = parent.child_run("child")?;
    /// assert_eq!(nested.trace_id(), parent.trace_id());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with_parent_span_id(self, parent: SpanId) -> Self {
        self.map(|inner| inner.parent_span_id = Some(parent))
    }

    /// The same context with other W3C trace flags.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{TraceContext, TraceFlags};
    ///
    /// let unsampled = TraceContext::new("job_1")?.with_trace_flags(TraceFlags::NONE);
    /// assert!(!unsampled.trace_flags().is_sampled());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[must_use]
    pub fn with_trace_flags(self, flags: TraceFlags) -> Self {
        self.map(|inner| inner.flags = flags)
    }

    pub(crate) fn with_trace_state_raw(self, state: Option<Arc<str>>) -> Self {
        self.map(|inner| inner.trace_state = state)
    }

    pub(crate) fn with_baggage_raw(
        self,
        baggage: Option<Arc<crate::propagation::Baggage>>,
    ) -> Self {
        self.map(|inner| inner.baggage = baggage)
    }

    pub(crate) fn baggage_raw(&self) -> Option<&crate::propagation::Baggage> {
        self.inner.baggage.as_deref()
    }

    fn map(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Whether two handles are the very same context (same allocation), not merely equal ids.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{TraceContext, TraceFlags};
    ///
    /// let a = TraceContext::new("job_1")?;
    /// let b = a.clone();
    /// let c = a.clone().with_trace_flags(TraceFlags::NONE); // a copy, with the same ids
    /// assert!(TraceContext::ptr_eq(&a, &b));
    /// assert!(a == c && !TraceContext::ptr_eq(&a, &c));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

/// Two contexts are equal when their ids (run, trace, span, parent span) are; the W3C flags,
/// `tracestate` and baggage they carry for transport are not compared.
impl PartialEq for TraceContext {
    fn eq(&self, other: &Self) -> bool {
        Self::ptr_eq(self, other)
            || (self.inner.run_id == other.inner.run_id
                && self.inner.trace_id == other.inner.trace_id
                && self.inner.span_id == other.inner.span_id
                && self.inner.parent_span_id == other.inner.parent_span_id)
    }
}

impl Eq for TraceContext {}

/// Hashes the ids that [`PartialEq`] compares (run, trace, span, parent span), so a context
/// can key a map or fill a set.
///
/// # Examples
///
/// ```
/// use std::collections::HashSet;
/// use tracectx::TraceContext;
///
/// let ctx = TraceContext::new("sweep_1")?;
/// let seen: HashSet<TraceContext> = [ctx.clone(), ctx.clone(), ctx.child()].into_iter().collect();
/// assert_eq!(seen.len(), 2);
/// assert!(seen.contains(&ctx));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
impl Hash for TraceContext {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.run_id.hash(state);
        self.inner.trace_id.hash(state);
        self.inner.span_id.hash(state);
        self.inner.parent_span_id.hash(state);
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("run_id", &self.inner.run_id)
            .field("trace_id", &format_args!("{:x}", self.inner.trace_id))
            .field("span_id", &self.inner.span_id)
            .field("parent_span_id", &self.inner.parent_span_id)
            .field("flags", &self.inner.flags)
            .field("trace_state", &self.inner.trace_state)
            .field("baggage", &self.inner.baggage)
            .finish()
    }
}

impl fmt::Display for TraceContext {
    /// `run_id=<run id> trace_id=<8 hex> span_id=<16 hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "run_id={} trace_id={} span_id={}",
            self.inner.run_id, self.inner.trace_id, self.inner.span_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_one_pointer_wide() {
        assert_eq!(
            std::mem::size_of::<TraceContext>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<Option<TraceContext>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn short_is_the_tail_of_the_full_id() {
        let id = TraceId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677).unwrap();
        assert_eq!(format!("{id:x}"), "0123456789abcdef0011223344556677");
        assert_eq!(&*id.short(), "44556677");
    }

    #[test]
    fn too_long_input_is_echoed_truncated() {
        let long = "a".repeat(500);
        let err = RunId::new(&long).unwrap_err();
        assert!(err.to_string().len() < 150, "{err}");
        assert_eq!(
            err.reason(),
            InvalidIdReason::TooLong { len: 500, max: 128 }
        );
    }
}
