//! Where the formats read the time of an event: the system clock, a fixed one for tests, or
//! any `Fn() -> SystemTime`.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::time::{ParseTimestampError, Timestamp};

/// Where a format reads the time of an event.
///
/// [`SystemClock`] is the real one; [`FixedClock`] always says the same instant, so tests can
/// compare whole lines. Any `Fn() -> SystemTime` is a clock too.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tracectx::logging::{Clock, FixedClock};
///
/// let clock = FixedClock::new(UNIX_EPOCH + Duration::from_secs(1_704_103_200));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_704_103_200));
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time, as this clock tells it.
    ///
    /// # Examples
    ///
    /// A clock of its own type, one second after the epoch whenever it is read:
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use tracectx::logging::Clock;
    ///
    /// struct OneSecond;
    ///
    /// impl Clock for OneSecond {
    ///     fn now(&self) -> SystemTime {
    ///         UNIX_EPOCH + Duration::from_secs(1)
    ///     }
    /// }
    ///
    /// assert_eq!(OneSecond.now(), UNIX_EPOCH + Duration::from_secs(1));
    /// ```
    fn now(&self) -> SystemTime;
}

/// The system's wall clock ([`SystemTime::now`]).
///
/// # Examples
///
/// ```
/// use tracectx::logging::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant, for tests that compare whole lines.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{builder, file_writer, FixedClock};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let clock = FixedClock::rfc3339("2024-01-01T10:00:00.000000Z").unwrap();
/// let subscriber = builder().with_clock(clock).with_writer(file_writer(&path)?).build()?;
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("first");
///     tracing::info!("second");
/// });
/// let text = std::fs::read_to_string(&path)?;
/// assert!(text.lines().all(|line| line.starts_with("[2024-01-01T10:00:00.000000Z] ")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(SystemTime);

impl FixedClock {
    /// A clock that always says `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tracectx::logging::{builder, file_writer, FixedClock};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("app.log");
    /// let clock = FixedClock::new(UNIX_EPOCH + Duration::from_secs(1_704_103_200));
    /// let subscriber = builder()
    ///     .with_format("{timestamp:%F %T} {message}")
    ///     .with_clock(clock)
    ///     .with_writer(file_writer(&path)?)
    ///     .build()?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info!("first");
    ///     tracing::info!("second");
    /// });
    /// let log = std::fs::read_to_string(&path)?;
    /// assert_eq!(log, "2024-01-01 10:00:00 first\n2024-01-01 10:00:00 second\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn new(at: SystemTime) -> Self {
        Self(at)
    }

    /// A clock that always says the instant written in RFC 3339
    /// (`2024-01-01T10:00:00.000000Z`, fraction optional; see
    /// [`Timestamp::parse_rfc3339`]).
    ///
    /// # Errors
    ///
    /// The [`ParseTimestampError`] of `text`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tracectx::logging::{Clock, FixedClock};
    ///
    /// let clock = FixedClock::rfc3339("2024-01-01T11:00:00.5+01:00")?;
    /// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_millis(1_704_103_200_500));
    /// assert!(FixedClock::rfc3339("2024-02-30T10:00:00Z").is_err());
    /// # Ok::<(), tracectx::time::ParseTimestampError>(())
    /// ```
    pub fn rfc3339(text: &str) -> Result<Self, ParseTimestampError> {
        Timestamp::parse_rfc3339(text).map(|t| Self(t.to_system_time()))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

impl Clock for Arc<dyn Clock> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
