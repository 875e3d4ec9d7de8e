//! Runs that can be reproduced: the seed, the configuration and the environment of a run,
//! saved beside its results.
//!
//! A [`ReproContext`] is made once at the start of a run ([`ReproContext::create`]) and
//! records what is needed to run it again and get the same result:
//!
//! - the run's identity: run id, trace id, span id, W3C flags and, for a run nested in another,
//!   its parent span ([`trace_context`](ReproContext::trace_context)), so its logs and errors
//!   can be found again and a replay sits where the original ran in the trace;
//! - the seed, and a generator made from it ([`rng`](ReproContext::rng)) whose sequence is the
//!   same on every platform and every release of this crate's 0.x line;
//! - the configuration (parameters), and a hash of it that does not depend on the order the
//!   parameters were given in, nor on the platform;
//! - the environment: creation time (UTC), crate version, OS and architecture, hostname and
//!   git commit, so two runs that disagree can be told apart
//!   ([`compare`](ReproContext::compare)).
//!
//! It saves to and loads from a JSON file; a file that is truncated, corrupt, of another
//! format version, or has a missing or ill-typed field is refused with a [`ReproError`] that
//! names the file and the field.
//!
//! # A reproducible, traced run
//!
//! ```
//! use rand::Rng;
//! use tracectx::prelude::*;
//! use tracectx::ReproContext;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async fn simulate(repro: &ReproContext) -> f64 {
//!     let mut rng = repro.rng();
//!     // Everything here logs and raises errors under the run's id.
//!     assert_eq!(tracectx::get_run_id().as_deref(), Some(&**repro.run_id()));
//!     (0..1_000).map(|_| rng.random::<f64>()).sum()
//! }
//!
//! let repro = ReproContext::create(42).with_param("fast", 10).with_param("slow", 30);
//! let first = simulate(&repro).in_trace_context(repro.trace_context()).await;
//!
//! # let dir = std::env::temp_dir().join(format!("tracectx-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("run.repro.json");
//! repro.save(&path)?;
//!
//! // Later, elsewhere: the same seed and parameters give the same result.
//! let again = ReproContext::load(&path)?;
//! assert_eq!(again.config_hash(), repro.config_hash());
//! let second = simulate(&again).in_trace_context(again.trace_context()).await;
//! assert_eq!(first, second);
//! for difference in repro.compare(&again) {
//!     println!("environment differs: {difference}"); // nothing, on the same machine
//! }
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::context::{RunId, SpanId, TraceContext, TraceFlags, TraceId};
use crate::time::Timestamp;

/// The version of the JSON record written by [`ReproContext::save`]; a file with another
/// version is refused by [`ReproContext::load`].
///
/// # Examples
///
/// ```
/// use tracectx::repro::{ReproContext, ReproError, FORMAT_VERSION};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("run.repro.json");
/// ReproContext::create(1).save(&path)?;
/// let mut record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
/// assert_eq!(record["format_version"], FORMAT_VERSION);
///
/// // A record of another version is refused, not misread.
/// record["format_version"] = (FORMAT_VERSION + 1).into();
/// std::fs::write(&path, record.to_string())?;
/// assert!(matches!(
///     ReproContext::load(&path),
///     Err(ReproError::UnsupportedVersion { supported: FORMAT_VERSION, .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const FORMAT_VERSION: u64 = 1;

/// The most bytes [`ReproContext::load`] reads of a file: 16 MiB. A record is a few kilobytes
/// (a large configuration some hundreds); a longer file is not one, and is refused
/// ([`ReproError::TooLarge`]) before it is parsed, so loading the wrong path never holds more
/// than this much of it in memory.
///
/// # Examples
///
/// ```
/// use tracectx::repro::{ReproContext, ReproError, MAX_FILE_BYTES};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("prices.csv");
/// std::fs::write(&path, "x".repeat(MAX_FILE_BYTES as usize + 1))?;
/// let err = ReproContext::load(&path).unwrap_err();
/// assert!(matches!(err, ReproError::TooLarge { limit: MAX_FILE_BYTES, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The environment variable that, when set, gives the git commit recorded in a
/// [`ReproContext`] (for builds deployed without a `.git` directory).
///
/// It is read once per process, by the first [`ReproContext::create`], and trimmed; it takes
/// precedence over `git rev-parse HEAD`.
///
/// # Examples
///
/// ```
/// use tracectx::repro::{ReproContext, GIT_COMMIT_ENV};
///
/// assert_eq!(GIT_COMMIT_ENV, "TRACECTX_GIT_COMMIT");
/// // As a deploy script would set it, before the first record is made.
/// // SAFETY: no other thread of this program reads or writes the environment.
/// unsafe { std::env::set_var(GIT_COMMIT_ENV, "4f2a9c1e0d3b\n") };
/// assert_eq!(ReproContext::create(1).git_commit(), Some("4f2a9c1e0d3b"));
/// ```
pub const GIT_COMMIT_ENV: &str = "TRACECTX_GIT_COMMIT";

// === impl ReproContext ===

/// What is needed to run a run again and get the same result: seed, configuration, identity
/// and environment.
///
/// # Examples
///
/// ```
/// use tracectx::ReproContext;
///
/// let repro = ReproContext::create(7).with_param("symbol", "ES").with_param("window", 20);
/// assert_eq!(repro.seed(), 7);
/// assert!(repro.run_id().starts_with("run_"));
/// assert_eq!(repro.config_hash().len(), 64);
/// assert_eq!(repro.crate_version(), env!("CARGO_PKG_VERSION"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReproContext {
    trace: TraceContext,
    seed: u64,
    created_at: Timestamp,
    crate_version: String,
    os: String,
    arch: String,
    hostname: Option<String>,
    git_commit: Option<String>,
    config: Map<String, Value>,
}

impl ReproContext {
    /// Starts recording a new run with `seed`: a fresh run id (`run_<time-ordered suffix>`)
    /// and trace id, the time now, and this machine's environment.
    ///
    /// The environment (hostname, git commit) is looked up once per process and never makes
    /// this fail: what cannot be found is recorded as absent. The git commit is
    /// `$TRACECTX_GIT_COMMIT` if set, else `git rev-parse HEAD` in the current directory.
    ///
    /// A `ReproContext` marks the start of a run, so it makes its own identity rather than
    /// borrowing the caller's; give it another with
    /// [`with_trace_context`](Self::with_trace_context).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let first = ReproContext::create(42);
    /// let second = ReproContext::create(42);
    /// assert_ne!(first.run_id(), second.run_id()); // each run has its own identity
    /// assert_eq!(first.seed(), 42);
    /// assert!(first.config().is_empty());
    /// assert!(first.compare(&second).is_empty()); // same seed, config and machine
    /// ```
    pub fn create(seed: u64) -> Self {
        let env = Environment::get();
        Self {
            trace: TraceContext::generate("run"),
            seed,
            created_at: Timestamp::now(),
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            hostname: env.hostname.clone(),
            git_commit: env.git_commit.clone(),
            config: Map::new(),
        }
    }

    /// The same record for the run `ctx` (its run id, trace id, span id, parent span id and
    /// W3C flags).
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::generate("backtest");
    /// let repro = tracectx::ReproContext::create(1).with_trace_context(ctx.clone());
    /// assert_eq!(repro.trace_context(), ctx);
    /// ```
    #[must_use]
    pub fn with_trace_context(mut self, ctx: TraceContext) -> Self {
        self.trace = ctx;
        self
    }

    /// Adds one parameter to the configuration, replacing an earlier value under `key`.
    ///
    /// Takes anything `serde_json::Value` converts from: numbers, strings, booleans, vectors.
    /// Note that `10` and `10.0` are different values (and hash differently).
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tracectx::ReproContext;
    ///
    /// let repro = ReproContext::create(1)
    ///     .with_param("symbols", vec!["ES", "NQ"])
    ///     .with_param("fast", 5)
    ///     .with_param("fast", 10); // replaces 5
    /// assert_eq!(repro.param("fast"), Some(&json!(10)));
    /// assert_eq!(repro.param("symbols"), Some(&json!(["ES", "NQ"])));
    ///
    /// let int = ReproContext::create(1).with_param("fast", 10);
    /// let float = ReproContext::create(1).with_param("fast", 10.0);
    /// assert_ne!(int.config_hash(), float.config_hash());
    /// ```
    #[must_use]
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Adds every field of `config` (a struct or a map, serialized with serde) to the
    /// configuration, replacing earlier values under the same keys.
    ///
    /// # Errors
    ///
    /// [`ReproError::Config`] when `config` does not serialize to a JSON object (a number, a
    /// list) or cannot be serialized (a map with non-string keys).
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Params { fast: u32, slow: u32 }
    ///
    /// let repro = tracectx::ReproContext::create(1).with_config(&Params { fast: 10, slow: 30 })?;
    /// assert_eq!(repro.param("slow"), Some(&serde_json::json!(30)));
    /// # Ok::<(), tracectx::repro::ReproError>(())
    /// ```
    pub fn with_config<T: Serialize + ?Sized>(mut self, config: &T) -> Result<Self, ReproError> {
        match serde_json::to_value(config) {
            Ok(Value::Object(map)) => {
                self.config.extend(map);
                Ok(self)
            }
            Ok(other) => Err(ReproError::Config {
                message: format!("expected a struct or a map, found {}", describe(&other)),
            }),
            Err(e) => Err(ReproError::Config {
                message: e.to_string(),
            }),
        }
    }

    /// The run id.
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1);
    /// assert!(repro.run_id().starts_with("run_"));
    /// assert_eq!(repro.run_id(), repro.trace_context().run_id());
    /// ```
    pub fn run_id(&self) -> &RunId {
        self.trace.run_id()
    }

    /// The run's trace context: run the work inside it
    /// ([`in_trace_context`](crate::TraceFutureExt::in_trace_context)) so its logs and errors
    /// carry the recorded ids.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    /// use tracectx::ReproContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let repro = ReproContext::create(1);
    /// let seen = async { tracectx::get_run_id() }
    ///     .in_trace_context(repro.trace_context())
    ///     .await;
    /// assert_eq!(seen.as_ref(), Some(repro.run_id()));
    /// # }
    /// ```
    pub fn trace_context(&self) -> TraceContext {
        self.trace.clone()
    }

    /// The seed.
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(20240101);
    /// assert_eq!(repro.seed(), 20240101);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A generator seeded with [`seed`](Self::seed); see [`ReproRng`].
    ///
    /// Each call starts the same sequence from the beginning. Concurrent parts of a run that
    /// need their own sequences, independent of scheduling, take
    /// [`rng_stream`](Self::rng_stream) with a fixed number each.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::Rng;
    ///
    /// let repro = tracectx::ReproContext::create(42);
    /// let a: Vec<u64> = repro.rng().random_iter().take(3).collect();
    /// let b: Vec<u64> = tracectx::ReproContext::create(42).rng().random_iter().take(3).collect();
    /// assert_eq!(a, b);
    /// ```
    pub fn rng(&self) -> ReproRng {
        self.rng_stream(0)
    }

    /// A generator seeded with [`seed`](Self::seed) on the numbered ChaCha stream `stream`:
    /// streams of one seed do not overlap. Stream 0 is [`rng`](Self::rng).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::Rng;
    ///
    /// let repro = tracectx::ReproContext::create(42);
    /// let first = |stream: u64| -> u64 { repro.rng_stream(stream).random() };
    /// assert_eq!(first(0), repro.rng().random::<u64>());
    /// assert_eq!(first(3), first(3)); // each stream is reproducible on its own
    /// assert_ne!(first(3), first(4));
    /// ```
    pub fn rng_stream(&self, stream: u64) -> ReproRng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        ReproRng(rng)
    }

    /// The configuration, keys in sorted order.
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1).with_param("slow", 30).with_param("fast", 10);
    /// let keys: Vec<&str> = repro.config().keys().map(String::as_str).collect();
    /// assert_eq!(keys, ["fast", "slow"]);
    /// ```
    pub fn config(&self) -> &Map<String, Value> {
        &self.config
    }

    /// One parameter of the configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1).with_param("symbol", "ES");
    /// assert_eq!(repro.param("symbol").and_then(|v| v.as_str()), Some("ES"));
    /// assert_eq!(repro.param("window"), None);
    /// ```
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.config.get(key)
    }

    /// The SHA-256 of the configuration in canonical JSON, as 64 lowercase hex characters.
    ///
    /// Canonical JSON here is: no whitespace; object keys sorted by their UTF-8 bytes, at
    /// every depth; strings with only `"`, `\` and control characters escaped (control
    /// characters as `\u00xx`); numbers as serde_json writes them (integers in decimal, floats
    /// in their shortest round-trip form). So the same parameters give the same hash in any
    /// order, on every platform, and whether the map type keeps insertion order or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let a = ReproContext::create(1).with_param("fast", 10).with_param("slow", 30);
    /// let b = ReproContext::create(2).with_param("slow", 30).with_param("fast", 10);
    /// assert_eq!(a.config_hash(), b.config_hash());
    /// ```
    pub fn config_hash(&self) -> String {
        let mut canonical = String::new();
        write_canonical(&mut canonical, &Value::Object(self.config.clone()));
        hex(&Sha256::digest(canonical.as_bytes()))
    }

    /// When the record was created, to the microsecond.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    ///
    /// let repro = tracectx::ReproContext::create(1);
    /// let age = SystemTime::now().duration_since(repro.created_at())?;
    /// assert!(age < Duration::from_secs(60));
    /// # Ok::<(), std::time::SystemTimeError>(())
    /// ```
    pub fn created_at(&self) -> SystemTime {
        self.created_at.to_system_time()
    }

    /// [`created_at`](Self::created_at) in RFC 3339, UTC: `2024-01-01T10:00:00.000000Z`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::UNIX_EPOCH;
    ///
    /// let repro = tracectx::ReproContext::create(1);
    /// let text = repro.created_at_rfc3339();
    /// assert_eq!(text.len(), "2024-01-01T10:00:00.000000Z".len());
    /// assert!(text.ends_with('Z'));
    /// // The same instant: its microseconds are the fraction shown.
    /// let micros = repro.created_at().duration_since(UNIX_EPOCH)?.subsec_micros();
    /// assert!(text.ends_with(&format!(".{micros:06}Z")));
    /// # Ok::<(), std::time::SystemTimeError>(())
    /// ```
    pub fn created_at_rfc3339(&self) -> String {
        self.created_at.rfc3339_micros().to_string()
    }

    /// The version of `tracectx` that made the record.
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1);
    /// assert_eq!(repro.crate_version(), env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn crate_version(&self) -> &str {
        &self.crate_version
    }

    /// The operating system (`std::env::consts::OS`: `linux`, `macos`, `windows`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1);
    /// assert_eq!(repro.os(), std::env::consts::OS);
    /// ```
    pub fn os(&self) -> &str {
        &self.os
    }

    /// The CPU architecture (`std::env::consts::ARCH`: `x86_64`, `aarch64`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let repro = tracectx::ReproContext::create(1);
    /// assert_eq!(repro.arch(), std::env::consts::ARCH);
    /// ```
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// The machine's hostname, when one could be found.
    ///
    /// Looked up once per process; what is recorded is one trimmed, non-empty line.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let (a, b) = (ReproContext::create(1), ReproContext::create(2));
    /// assert_eq!(a.hostname(), b.hostname()); // one machine, one answer
    /// if let Some(name) = a.hostname() {
    ///     assert!(!name.is_empty() && name.trim() == name && !name.contains('\n'));
    /// }
    /// ```
    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }

    /// The git commit, when one could be found.
    ///
    /// `$TRACECTX_GIT_COMMIT` ([`GIT_COMMIT_ENV`]) if set, else `git rev-parse HEAD` in the
    /// current directory, else none.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// // A build deployed without its `.git` directory is told its commit.
    /// // SAFETY: no other thread of this program reads or writes the environment.
    /// unsafe { std::env::set_var("TRACECTX_GIT_COMMIT", "4f2a9c1e0d3b") };
    /// let repro = ReproContext::create(1);
    /// assert_eq!(repro.git_commit(), Some("4f2a9c1e0d3b"));
    /// ```
    pub fn git_commit(&self) -> Option<&str> {
        self.git_commit.as_deref()
    }

    /// What differs between this run's record and `other`'s, in the fields that decide a
    /// run's result or describe where it ran: seed, configuration (each differing parameter,
    /// as `config.<key>`), git commit, crate version, OS, architecture and hostname.
    ///
    /// Run id, trace id and creation time differ between any two runs and are not listed.
    /// An empty list means the two runs should give the same result.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let a = ReproContext::create(1).with_param("fast", 10);
    /// let b = ReproContext::create(2).with_param("fast", 12);
    /// let fields: Vec<_> = a.compare(&b).iter().map(|d| d.field().to_owned()).collect();
    /// assert_eq!(fields, ["seed", "config.fast"]);
    /// assert_eq!(a.compare(&b)[1].to_string(), "config.fast: 10 != 12");
    /// ```
    pub fn compare(&self, other: &Self) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut check = |field: String, this: Option<String>, other: Option<String>| {
            if this != other {
                out.push(Difference { field, this, other });
            }
        };
        check(
            "seed".into(),
            Some(self.seed.to_string()),
            Some(other.seed.to_string()),
        );
        let mut keys: Vec<&String> = self.config.keys().chain(other.config.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let show = |config: &Map<String, Value>| {
                config.get(key).map(|v| {
                    let mut s = String::new();
                    write_canonical(&mut s, v);
                    s
                })
            };
            check(
                format!("config.{key}"),
                show(&self.config),
                show(&other.config),
            );
        }
        let text = |s: &str| Some(s.to_owned());
        check(
            "git_commit".into(),
            self.git_commit.clone(),
            other.git_commit.clone(),
        );
        check(
            "crate_version".into(),
            text(&self.crate_version),
            text(&other.crate_version),
        );
        check("os".into(), text(&self.os), text(&other.os));
        check("arch".into(), text(&self.arch), text(&other.arch));
        check(
            "hostname".into(),
            self.hostname.clone(),
            other.hostname.clone(),
        );
        out
    }

    /// Writes the record to `path` as pretty-printed JSON.
    ///
    /// The file is written beside its final name and then renamed into place, so a reader
    /// (or a crash) never sees half a record.
    ///
    /// # Errors
    ///
    /// [`ReproError::Write`] naming `path` when the file cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let repro = ReproContext::create(42).with_param("fast", 10);
    /// let dir = std::env::temp_dir().join(format!("tracectx-doc-save-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("run.repro.json");
    ///
    /// repro.save(&path)?;
    /// assert_eq!(ReproContext::load(&path)?, repro); // the whole record comes back
    ///
    /// // A directory that does not exist: the error names the file.
    /// let err = repro.save(dir.join("missing/run.repro.json")).unwrap_err();
    /// assert_eq!(err.path(), Some(dir.join("missing/run.repro.json").as_path()));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ReproError> {
        let path = path.as_ref();
        let write_error = |source| ReproError::Write {
            path: path.to_owned(),
            source,
        };
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| write_error(e.into()))?;
        json.push(b'\n');
        // Unique per process and per call, so concurrent saves never share a temporary file.
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, json)
            .and_then(|()| fs::rename(&tmp, path))
            .map_err(|source| {
                let _ = fs::remove_file(&tmp);
                write_error(source)
            })
    }

    /// Reads a record written by [`save`](Self::save).
    ///
    /// Unknown fields are ignored (a newer writer of the same format version may add some);
    /// every known field must be present with the right type, and the recorded
    /// `config_hash` must match the recorded configuration.
    ///
    /// # Errors
    ///
    /// A [`ReproError`] naming `path`: [`Read`](ReproError::Read) when the file cannot be
    /// read, [`TooLarge`](ReproError::TooLarge) when it is longer than [`MAX_FILE_BYTES`],
    /// [`Truncated`](ReproError::Truncated) or [`Corrupt`](ReproError::Corrupt) (with
    /// line and column) when it is not complete JSON,
    /// [`UnsupportedVersion`](ReproError::UnsupportedVersion) for another `format_version`,
    /// and [`MissingField`](ReproError::MissingField) or
    /// [`InvalidField`](ReproError::InvalidField) naming the field.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::repro::{ReproContext, ReproError};
    ///
    /// # let path = std::env::temp_dir().join(format!("tracectx-doc-load-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"format_version": 1, "run_id": "run_1", "seed": "#)?;
    /// match ReproContext::load(&path) {
    ///     Err(ReproError::Truncated { line: 1, .. }) => {}
    ///     other => panic!("expected a truncation error, got {other:?}"),
    /// }
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ReproError> {
        let path = path.as_ref();
        let read_error = |source| ReproError::Read {
            path: path.to_owned(),
            source,
        };
        // At most one byte past the limit is read: a wrong path (a data file of gigabytes, a
        // device that never ends) costs no more memory than a record may take.
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ReproError::TooLarge {
                path: path.to_owned(),
                limit: MAX_FILE_BYTES,
            });
        }
        Self::from_json_bytes(&bytes, path)
    }

    fn from_json_bytes(bytes: &[u8], path: &Path) -> Result<Self, ReproError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| json_error(path, &e))?;
        let Value::Object(map) = value else {
            return Err(ReproError::Corrupt {
                path: path.to_owned(),
                line: 1,
                column: 1,
                message: format!("expected a JSON object, found {}", describe(&value)),
            });
        };
        let mut fields = Fields { path, map };

        // The version first: a file of another version may lack or retype any other field.
        let version: u64 = fields.take("format_version")?;
        if version != FORMAT_VERSION {
            return Err(ReproError::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }

        let run_id: String = fields.take("run_id")?;
        let run_id = RunId::new(&run_id).map_err(|e| fields.invalid("run_id", e.to_string()))?;
        let trace_id: String = fields.take("trace_id")?;
        // Only the full form: parsing 8 characters would fill the rest with random bits.
        let trace_id = match trace_id.len() {
            32 => trace_id.parse::<TraceId>().map_err(|e| e.to_string()),
            got => Err(format!("expected 32 hex characters, got {got}")),
        }
        .map_err(|e| fields.invalid("trace_id", e))?;
        let span_id: String = fields.take("span_id")?;
        let span_id = span_id
            .parse::<SpanId>()
            .map_err(|e| fields.invalid("span_id", e.to_string()))?;
        // Absent from records written before it was kept: those load as a root, as they did.
        let parent_span_id = fields
            .take_optional::<Option<String>>("parent_span_id")?
            .flatten()
            .map(|id| id.parse::<SpanId>())
            .transpose()
            .map_err(|e| fields.invalid("parent_span_id", e.to_string()))?;
        // Absent from records written before it was kept: those load as sampled, as they did.
        let trace_flags = fields
            .take_optional::<String>("trace_flags")?
            .map(|flags| parse_flags(&flags).ok_or(flags))
            .transpose()
            .map_err(|flags| {
                fields.invalid(
                    "trace_flags",
                    format!("expected 2 lowercase hex characters, got {flags:?}"),
                )
            })?;
        let seed: u64 = fields.take("seed")?;
        let created_at: String = fields.take("created_at")?;
        let created_at = Timestamp::parse_rfc3339(&created_at)
            .map_err(|e| fields.invalid("created_at", format!("{created_at:?}: {e}")))?;
        let crate_version: String = fields.take("crate_version")?;
        let os: String = fields.take("os")?;
        let arch: String = fields.take("arch")?;
        let hostname: Option<String> = fields.take("hostname")?;
        let git_commit: Option<String> = fields.take("git_commit")?;
        let config: Map<String, Value> = fields.take("config")?;
        let config_hash: String = fields.take("config_hash")?;

        let trace = TraceContext::from_parts(run_id, trace_id, span_id, parent_span_id);
        let repro = Self {
            trace: match trace_flags {
                Some(flags) => trace.with_trace_flags(flags),
                None => trace,
            },
            seed,
            created_at,
            crate_version,
            os,
            arch,
            hostname,
            git_commit,
            config,
        };
        let computed = repro.config_hash();
        if !config_hash.eq_ignore_ascii_case(&computed) {
            return Err(fields.invalid(
                "config_hash",
                format!("{config_hash:?} does not match the config, whose hash is {computed}"),
            ));
        }
        Ok(repro)
    }
}

impl Serialize for ReproContext {
    /// The record [`save`](ReproContext::save) writes, for embedding in other JSON (a
    /// backtest result's metadata).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Record<'a> {
            format_version: u64,
            run_id: &'a str,
            trace_id: String,
            span_id: String,
            parent_span_id: Option<String>,
            trace_flags: String,
            seed: u64,
            created_at: String,
            crate_version: &'a str,
            os: &'a str,
            arch: &'a str,
            hostname: Option<&'a str>,
            git_commit: Option<&'a str>,
            config: Sorted<'a>,
            config_hash: String,
        }

        let config = Value::Object(self.config.clone());
        Record {
            format_version: FORMAT_VERSION,
            run_id: self.trace.run_id(),
            trace_id: format!("{:x}", self.trace.trace_id()),
            span_id: self.trace.span_id().to_string(),
            parent_span_id: self.trace.parent_span_id().map(|id| id.to_string()),
            trace_flags: self.trace.trace_flags().to_string(),
            seed: self.seed,
            created_at: self.created_at.rfc3339_micros().to_string(),
            crate_version: &self.crate_version,
            os: &self.os,
            arch: &self.arch,
            hostname: self.hostname.as_deref(),
            git_commit: self.git_commit.as_deref(),
            config: Sorted(&config),
            config_hash: self.config_hash(),
        }
        .serialize(serializer)
    }
}

/// W3C trace flags as `traceparent` writes them: two lowercase hex characters.
fn parse_flags(s: &str) -> Option<TraceFlags> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (s.len() == 2 && s.bytes().all(lower_hex))
        .then(|| u8::from_str_radix(s, 16).ok())
        .flatten()
        .map(TraceFlags::from_u8)
}

/// The fields of a record being loaded, taken one at a time so each error names its field.
struct Fields<'a> {
    path: &'a Path,
    map: Map<String, Value>,
}

impl Fields<'_> {
    fn take<T: DeserializeOwned>(&mut self, field: &'static str) -> Result<T, ReproError> {
        let value = self
            .map
            .remove(field)
            .ok_or_else(|| ReproError::MissingField {
                path: self.path.to_owned(),
                field,
            })?;
        serde_json::from_value(value).map_err(|e| self.invalid(field, e.to_string()))
    }

    /// [`take`](Self::take) for a field that records written before it existed lack.
    fn take_optional<T: DeserializeOwned>(
        &mut self,
        field: &'static str,
    ) -> Result<Option<T>, ReproError> {
        if self.map.contains_key(field) {
            self.take(field).map(Some)
        } else {
            Ok(None)
        }
    }

    fn invalid(&self, field: &'static str, message: String) -> ReproError {
        ReproError::InvalidField {
            path: self.path.to_owned(),
            field,
            message,
        }
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> ReproError {
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Eof => ReproError::Truncated {
            path: path.to_owned(),
            line,
            column,
        },
        _ => {
            // serde_json ends its message with " at line L column C"; we show those apart.
            let message = e.to_string();
            let suffix = format!(" at line {line} column {column}");
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
            ReproError::Corrupt {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        }
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// === impl ReproRng ===

/// The generator of a [`ReproContext`]: ChaCha with 8 rounds, seeded from a `u64`.
///
/// Its sequence for a given seed is the same on every platform (it uses no floating point
/// and fixes its byte order) and in every release of this crate's 0.x line: it is
/// `rand_chacha::ChaCha8Rng::seed_from_u64(seed)` from rand_chacha 0.9, whose authors treat
/// any change to either as a breaking change, and a test here pins its first 1,000 outputs.
/// `rand::rngs::StdRng` makes no such promise, which is why it is not used.
///
/// Eight rounds rather than twenty: the output is statistically indistinguishable from random
/// for simulation, and twice as fast to make as ChaCha20's, which matters to a Monte Carlo
/// run drawing millions of numbers. Not for keys or tokens.
///
/// It implements [`rand::RngCore`], so every [`rand::Rng`] method works on it.
///
/// # Examples
///
/// ```
/// use rand::Rng;
///
/// let repro = tracectx::ReproContext::create(7);
/// let mut rng = repro.rng();
/// let rolls: Vec<u8> = (0..5).map(|_| rng.random_range(1..=6)).collect();
/// assert!(rolls.iter().all(|r| (1..=6).contains(r)));
///
/// // The same seed gives the same rolls, and a clone continues where the original is.
/// let mut again = repro.rng();
/// assert_eq!((0..5).map(|_| again.random_range(1..=6)).collect::<Vec<u8>>(), rolls);
/// let mut fork = rng.clone();
/// assert_eq!(fork.random::<u64>(), rng.random::<u64>());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReproRng(ChaCha8Rng);

impl RngCore for ReproRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst);
    }
}

// === impl Difference ===

/// One field in which two runs' records differ; made by [`ReproContext::compare`].
///
/// `Display` gives `field: this != other`, with `(none)` for an absent value, on one line:
/// what could break or disguise it is escaped ([`escape`](crate::escape)).
///
/// # Examples
///
/// ```
/// use tracectx::ReproContext;
///
/// let a = ReproContext::create(1).with_param("fee", 0.5);
/// let b = ReproContext::create(1);
/// let differences = a.compare(&b);
/// assert_eq!(differences.len(), 1);
/// assert_eq!(differences[0].to_string(), "config.fee: 0.5 != (none)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    field: String,
    this: Option<String>,
    other: Option<String>,
}

impl Difference {
    /// The field: `seed`, `config.<key>`, `git_commit`, `crate_version`, `os`, `arch` or
    /// `hostname`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let a = ReproContext::create(1).with_param("slow", 30);
    /// let b = ReproContext::create(2).with_param("slow", 40);
    /// let fields: Vec<String> = a.compare(&b).iter().map(|d| d.field().to_owned()).collect();
    /// assert_eq!(fields, ["seed", "config.slow"]);
    /// ```
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The value in the record `compare` was called on (`None`: absent). Parameters are shown
    /// as canonical JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let a = ReproContext::create(1).with_param("symbols", vec!["ES", "NQ"]);
    /// let b = ReproContext::create(1);
    /// assert_eq!(a.compare(&b)[0].this(), Some(r#"["ES","NQ"]"#));
    /// assert_eq!(b.compare(&a)[0].this(), None); // absent from `b`
    /// ```
    pub fn this(&self) -> Option<&str> {
        self.this.as_deref()
    }

    /// The value in the other record (`None`: absent).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let a = ReproContext::create(1);
    /// let b = ReproContext::create(9);
    /// let seed = &a.compare(&b)[0];
    /// assert_eq!((seed.this(), seed.other()), (Some("1"), Some("9")));
    /// ```
    pub fn other(&self) -> Option<&str> {
        self.other.as_deref()
    }
}

impl fmt::Display for Difference {
    /// `field: this != other`, escaped ([`escape::text`](crate::escape::text)): the values
    /// come from records that may have been loaded from files, and a hostname or a parameter
    /// holding a newline or a terminal's escape sequence must not forge or hide a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::escape::text;
        write!(
            f,
            "{}: {} != {}",
            text(&self.field),
            text(self.this.as_deref().unwrap_or("(none)")),
            text(self.other.as_deref().unwrap_or("(none)"))
        )
    }
}

// === impl ReproError ===

/// A record that could not be saved or loaded, or a configuration that could not be recorded.
///
/// Every file error names the file; every field error names the field.
///
/// # Examples
///
/// ```
/// use tracectx::repro::{ReproContext, ReproError};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("no-such.repro.json");
/// let err = ReproContext::load(&path).unwrap_err();
/// assert!(matches!(err, ReproError::Read { .. }));
/// assert_eq!(err.to_string(), format!("cannot read repro file {path:?}"));
///
/// let err = ReproContext::create(1).with_config(&[1, 2, 3]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "cannot record the run's config: expected a struct or a map, found an array"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproError {
    /// The file could not be read.
    #[error("cannot read repro file {path:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write repro file {path:?}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file ends before the JSON does (empty, or cut short).
    #[error(
        "repro file {path:?} is truncated: the JSON ends early at line {line}, column {column}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the text ended, from 1.
        line: usize,
        /// Where the text ended, from 1.
        column: usize,
    },
    /// The file is not JSON, or not a JSON object.
    #[error("repro file {path:?} is corrupt at line {line}, column {column}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the fault is, from 1.
        line: usize,
        /// Where the fault is, from 1.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The file was written in a format version this release does not read.
    #[error(
        "repro file {path:?} has format_version {found}, but this version of tracectx reads only format_version {supported}"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The version this release reads.
        supported: u64,
    },
    /// A required field is absent.
    #[error("repro file {path:?} has no field `{field}`")]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong type or an invalid value.
    #[error("repro file {path:?} has an invalid field `{field}`: {message}")]
    InvalidField {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong with it (`invalid type: string "x", expected u64`).
        message: String,
    },
    /// The file is longer than any record ([`MAX_FILE_BYTES`]): not a repro file.
    #[error("repro file {path:?} is longer than {limit} bytes: not a repro record")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most bytes a record file may hold ([`MAX_FILE_BYTES`]).
        limit: u64,
    },
    /// The configuration given to [`ReproContext::with_config`] cannot be recorded.
    #[error("cannot record the run's config: {message}")]
    Config {
        /// Why.
        message: String,
    },
}

impl ReproError {
    /// The file the error is about, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("run.repro.json");
    /// std::fs::write(&path, "not json")?;
    /// assert_eq!(ReproContext::load(&path).unwrap_err().path(), Some(path.as_path()));
    ///
    /// let config_err = ReproContext::create(1).with_config(&42).unwrap_err();
    /// assert_eq!(config_err.path(), None); // no file involved
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Read { path, .. }
            | Self::Write { path, .. }
            | Self::Truncated { path, .. }
            | Self::Corrupt { path, .. }
            | Self::UnsupportedVersion { path, .. }
            | Self::MissingField { path, .. }
            | Self::InvalidField { path, .. }
            | Self::TooLarge { path, .. } => Some(path),
            Self::Config { .. } => None,
        }
    }

    /// The field the error is about, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::ReproContext;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("run.repro.json");
    /// std::fs::write(&path, r#"{"format_version": 1, "run_id": "run_1"}"#)?;
    /// let err = ReproContext::load(&path).unwrap_err();
    /// assert_eq!(err.field(), Some("trace_id")); // the first field missing
    ///
    /// std::fs::write(&path, r#"{"format_version": "1"}"#)?;
    /// assert_eq!(ReproContext::load(&path).unwrap_err().field(), Some("format_version"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::MissingField { field, .. } | Self::InvalidField { field, .. } => Some(field),
            Self::UnsupportedVersion { .. } => Some("format_version"),
            _ => None,
        }
    }
}

// === canonical JSON ===

/// Writes `value` as canonical JSON (see [`ReproContext::config_hash`]).
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;

    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{0}'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A map's entries sorted by key bytes, whatever order the map keeps.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Serializes a value with object keys sorted at every depth, so saved files read (and diff)
/// the same whatever order the parameters were given in.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in sorted(map) {
                    out.serialize_entry(key, &Sorted(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

// === the environment ===

/// What `create` records about the machine, looked up once per process.
struct Environment {
    hostname: Option<String>,
    git_commit: Option<String>,
}

impl Environment {
    fn get() -> &'static Self {
        static ENV: OnceLock<Environment> = OnceLock::new();
        ENV.get_or_init(|| Self {
            hostname: hostname(),
            git_commit: git_commit(),
        })
    }
}

/// Trimmed, non-empty, one line: what can be recorded of a looked-up name.
fn clean(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && !s.contains(char::is_control)).then(|| s.to_owned())
}

/// The hostname: the kernel's (Linux), `/etc/hostname`, `$HOSTNAME` / `%COMPUTERNAME%`, then
/// the `hostname` command (macOS, BSDs). Read this way rather than through `gethostname(2)` to
/// stay free of FFI; any step that fails just passes to the next.
fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| fs::read_to_string(file).ok().as_deref().and_then(clean))
        .or_else(|| {
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .find_map(|var| std::env::var(var).ok().as_deref().and_then(clean))
        })
        .or_else(|| run("hostname", &[]))
}

/// The git commit: `$TRACECTX_GIT_COMMIT`, else `git rev-parse HEAD` if git is installed and
/// the current directory is in a repository, else none.
fn git_commit() -> Option<String> {
    if let Some(commit) = std::env::var(GIT_COMMIT_ENV)
        .ok()
        .as_deref()
        .and_then(clean)
    {
        return Some(commit);
    }
    run("git", &["rev-parse", "--verify", "HEAD"])
        .filter(|s| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The first line of a command's standard output, when it runs and succeeds.
fn run(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    clean(String::from_utf8_lossy(&output.stdout).lines().next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v: Value = serde_json::from_str(r#"{"b":[{"y":1,"x":"a\nb"}],"a":1.5}"#).unwrap();
        let mut s = String::new();
        write_canonical(&mut s, &v);
        assert_eq!(s, r#"{"a":1.5,"b":[{"x":"a\u000ab","y":1}]}"#);
    }
}
