//! Civil time: the one calendar of the workspace.
//!
//! Log lines, log queries, reproduction records and backtest bars all name instants as
//! [`Timestamp`]s: microseconds since `1970-01-01T00:00:00Z`, UTC, in the proleptic Gregorian
//! calendar. This module is the only place that converts between such a count and a civil
//! date, formats one as RFC 3339 and parses one back.
//!
//! The conversions are hand-written (Howard Hinnant's `days_from_civil` and its inverse)
//! rather than taken from `time` or `jiff`, for two reasons: the core of the crate stays free
//! of a date library, and the two hot paths (stamping every log line, reading a date on every
//! row of a CSV file) cost a few integer operations and never allocate. The test suite checks
//! both directions, the formats and the parser against the `time` crate.
//!
//! # Examples
//!
//! ```
//! use tracectx::time::Timestamp;
//!
//! let t = Timestamp::parse_rfc3339("2024-01-01T12:30:00.25+02:00")?;
//! assert_eq!(t.to_string(), "2024-01-01T10:30:00.25Z");
//! assert_eq!(t.rfc3339_micros().as_str(), "2024-01-01T10:30:00.250000Z");
//! assert_eq!(t.date(), (2024, 1, 1));
//! # Ok::<(), tracectx::time::ParseTimestampError>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds in one second.
///
/// # Examples
///
/// ```
/// use tracectx::time::{Timestamp, MICROS_PER_SEC};
///
/// let t = Timestamp::from_micros(90 * MICROS_PER_SEC);
/// assert_eq!(t.to_string(), "1970-01-01T00:01:30Z");
/// ```
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one day (a Unix day: 86,400 seconds, no leap seconds).
///
/// # Examples
///
/// ```
/// use tracectx::time::{Timestamp, MICROS_PER_DAY};
///
/// let t = Timestamp::parse_rfc3339("2024-02-28T10:00:00Z")?;
/// // 2024 is a leap year: the next day is the 29th.
/// assert_eq!(Timestamp::from_micros(t.as_micros() + MICROS_PER_DAY).date(), (2024, 2, 29));
/// assert_eq!(t.as_micros().rem_euclid(MICROS_PER_DAY), 10 * 3_600 * 1_000_000);
/// # Ok::<(), tracectx::time::ParseTimestampError>(())
/// ```
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// Days from `0001-01-01` to `1970-01-01`.
const DAYS_TO_YEAR_1: i64 = -719_162;
/// Days from `1970-01-01` to `10000-01-01`.
const DAYS_TO_YEAR_10000: i64 = 2_932_897;

// === impl Timestamp ===

/// An instant: microseconds since `1970-01-01T00:00:00Z` (UTC), before it when negative.
///
/// `Display` writes RFC 3339 with the shortest exact fraction (`2004-08-19T00:00:00Z`,
/// `1970-01-01T00:00:01.5Z`); [`rfc3339_micros`](Self::rfc3339_micros) writes the fixed-width
/// form log lines use (`2024-01-01T10:00:00.000000Z`). Any `i64` is a timestamp; the years
/// `0001` to `9999` ([`MIN`](Self::MIN) to [`MAX`](Self::MAX)) are the range of four-digit
/// dates, which [`is_in_range`](Self::is_in_range) checks.
///
/// # Examples
///
/// ```
/// use tracectx::time::Timestamp;
///
/// let t = Timestamp::from_micros(1_500_000);
/// assert_eq!(t.to_string(), "1970-01-01T00:00:01.5Z");
/// assert_eq!(t.as_micros(), 1_500_000);
/// assert_eq!(Timestamp::from_date(1970, 1, 2), Some(Timestamp::from_micros(86_400_000_000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// `1970-01-01T00:00:00Z`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
    /// ```
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// `0001-01-01T00:00:00Z`, the first instant of a four-digit year.
    ///
    /// Ten thousand years are about 3.2 × 10^17 µs of the 9.2 × 10^18 an `i64` holds, so any
    /// difference of two timestamps in range fits an `i64` with room to spare.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
    /// ```
    pub const MIN: Timestamp = Timestamp(DAYS_TO_YEAR_1 * MICROS_PER_DAY);

    /// `9999-12-31T23:59:59.999999Z`, the last instant of a four-digit year.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
    /// ```
    pub const MAX: Timestamp = Timestamp(DAYS_TO_YEAR_10000 * MICROS_PER_DAY - 1);

    /// The timestamp `micros` microseconds after the Unix epoch (before it, if negative).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::from_micros(0), Timestamp::UNIX_EPOCH);
    /// ```
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::from_micros(42).as_micros(), 42);
    /// ```
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whether the timestamp lies in the years `0001` to `9999`, [`MIN`](Self::MIN) to
    /// [`MAX`](Self::MAX) inclusive.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert!(Timestamp::UNIX_EPOCH.is_in_range());
    /// assert!(!Timestamp::from_micros(i64::MAX).is_in_range());
    /// ```
    pub const fn is_in_range(self) -> bool {
        self.0 >= Self::MIN.0 && self.0 <= Self::MAX.0
    }

    /// The system's wall clock, now.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert!(Timestamp::now() > Timestamp::from_date(2024, 1, 1).unwrap());
    /// ```
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// The timestamp of `at`, truncated to the microsecond (toward the past) and saturated at
    /// the ends of the `i64` range.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tracectx::time::Timestamp;
    ///
    /// let at = UNIX_EPOCH + Duration::from_nanos(1_500);
    /// assert_eq!(Timestamp::from_system_time(at).as_micros(), 1);
    /// let before = UNIX_EPOCH - Duration::from_nanos(1_500);
    /// assert_eq!(Timestamp::from_system_time(before).as_micros(), -2);
    /// ```
    pub fn from_system_time(at: SystemTime) -> Self {
        match at.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_micros()).unwrap_or(i64::MAX)),
            Err(before) => {
                let d = before.duration();
                // Toward the past: a partial microsecond before the epoch counts as a whole.
                let whole = d.as_micros() + u128::from(d.subsec_nanos() % 1_000 != 0);
                Self(i64::try_from(whole).map_or(i64::MIN, |m| -m))
            }
        }
    }

    /// The [`SystemTime`] of this timestamp.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use tracectx::time::Timestamp;
    ///
    /// let t = Timestamp::from_micros(-1);
    /// assert_eq!(t.to_system_time(), UNIX_EPOCH - Duration::from_micros(1));
    /// ```
    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_micros(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// Midnight (UTC) of the date `year-month-day`, or `None` when there is no such date in
    /// the years `0000` to `9999` (month 13, February 30).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    ///
    /// assert_eq!(Timestamp::from_date(2024, 2, 29).unwrap().to_string(), "2024-02-29T00:00:00Z");
    /// assert_eq!(Timestamp::from_date(2023, 2, 29), None);
    /// ```
    pub fn from_date(year: i64, month: u32, day: u32) -> Option<Self> {
        if !(0..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self(days_from_civil(year, month, day) * MICROS_PER_DAY))
    }

    /// Days since `1970-01-01`, counting the day this instant falls on (negative before).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::from_micros(-1).days_since_epoch(), -1);
    /// ```
    pub const fn days_since_epoch(self) -> i64 {
        self.0.div_euclid(MICROS_PER_DAY)
    }

    /// The civil date `(year, month, day)` this instant falls on, in UTC.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::from_micros(-1).date(), (1969, 12, 31));
    /// ```
    pub const fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.days_since_epoch())
    }

    /// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    ///
    /// Strict where the crate's own lines are concerned: the day must exist in its month,
    /// hours run to 23, minutes and seconds to 59 (a leap second `:60` is refused, as Unix
    /// time has none), and the offset is `Z`, `z` or `±HH:MM` with hours to 23. `T` may also
    /// be `t` or a space (RFC 3339, section 5.6). A fraction of any length is truncated to
    /// the microsecond. The instant must lie in the years `0000` to `9999` in UTC too (an
    /// offset can move `9999-12-31T23:59:59-01:00` past them), so that what `Display` writes
    /// of any parsed timestamp parses back.
    ///
    /// # Errors
    ///
    /// [`ParseTimestampError`], saying what was wrong and at which byte.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    ///
    /// let t = Timestamp::parse_rfc3339("2024-01-01T10:00:00Z")?;
    /// assert_eq!(Timestamp::parse_rfc3339("2024-01-01t11:30:00+01:30")?, t);
    /// let err = Timestamp::parse_rfc3339("2024-02-31T10:00:00Z").unwrap_err();
    /// assert_eq!(err.to_string(), "invalid timestamp: day 31 does not exist in 2024-02 at byte 8");
    /// assert!(Timestamp::parse_rfc3339("2024-01-01").is_err()); // no time, no offset
    /// # Ok::<(), tracectx::time::ParseTimestampError>(())
    /// ```
    pub fn parse_rfc3339(text: &str) -> Result<Self, ParseTimestampError> {
        parse(text.as_bytes(), Rules::RFC3339)
    }

    /// Parses a date, a date and time, or an RFC 3339 date-time: `YYYY-MM-DD`, optionally
    /// followed by `[T ]HH:MM:SS[.fraction]`, optionally followed by `Z` or `±HH:MM`; without
    /// an offset the time is UTC. The forms of tabular data (CSV files, pandas' output).
    ///
    /// The same rules as [`parse_rfc3339`](Self::parse_rfc3339) otherwise, but an instant that
    /// an offset moves out of the years `0000` to `9999` in UTC is returned, for the caller
    /// to refuse as out of its range ([`is_in_range`](Self::is_in_range)) with the instant in
    /// hand. It takes bytes, which is what a CSV reader hands over.
    ///
    /// # Errors
    ///
    /// [`ParseTimestampError`], saying what was wrong and at which byte.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    ///
    /// let day = Timestamp::parse_date_time(b"2024-03-01")?;
    /// assert_eq!(Timestamp::parse_date_time(b"2024-03-01 02:00:00+02:00")?, day);
    /// assert_eq!(Timestamp::parse_date_time(b"2024-03-01T00:00:00")?, day);
    /// assert!(Timestamp::parse_date_time(b"2024-03-01 25:00:00").is_err());
    /// # Ok::<(), tracectx::time::ParseTimestampError>(())
    /// ```
    pub fn parse_date_time(text: &[u8]) -> Result<Self, ParseTimestampError> {
        parse(text, Rules::DATE_TIME)
    }

    /// The fixed-width RFC 3339 form of log lines, `2024-01-01T10:00:00.000000Z`, rendered
    /// on the stack.
    ///
    /// Always 27 characters: an instant outside the years `0000` to `9999` is written as the
    /// nearest instant inside them, since RFC 3339 has no other year.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    ///
    /// assert_eq!(Timestamp::UNIX_EPOCH.rfc3339_micros().as_str(), "1970-01-01T00:00:00.000000Z");
    /// assert_eq!(
    ///     Timestamp::from_micros(i64::MAX).rfc3339_micros().as_str(),
    ///     "9999-12-31T23:59:59.999999Z"
    /// );
    /// ```
    pub fn rfc3339_micros(self) -> Rfc3339Micros {
        Rfc3339Micros::new(self)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with the shortest exact fraction; years past `9999` (or before
    /// `0000`) are written with as many digits as they need.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.date();
        let in_day = self.0.rem_euclid(MICROS_PER_DAY);
        let secs = in_day / MICROS_PER_SEC;
        let frac = in_day % MICROS_PER_SEC;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if frac != 0 {
            let mut digits = [0u8; 6];
            put_digits(&mut digits, frac as u32);
            let len = 6 - digits.iter().rev().take_while(|&&c| c == b'0').count();
            f.write_str(".")?;
            // Only ASCII digits were written.
            f.write_str(std::str::from_utf8(&digits[..len]).map_err(|_| fmt::Error)?)?;
        }
        f.write_str("Z")
    }
}

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl serde::Serialize for Timestamp {
    /// As its `Display`: RFC 3339 text.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> serde::Deserialize<'de> for Timestamp {
    /// From RFC 3339 text ([`Timestamp::parse_rfc3339`]).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

// === impl Rfc3339Micros ===

/// A timestamp written as `2024-01-01T10:00:00.000000Z`, on the stack; see
/// [`Timestamp::rfc3339_micros`].
///
/// # Examples
///
/// ```
/// use tracectx::time::Timestamp;
///
/// let line = format!("[{}] started", Timestamp::from_micros(1).rfc3339_micros());
/// assert_eq!(line, "[1970-01-01T00:00:00.000001Z] started");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339Micros([u8; 27]);

impl Rfc3339Micros {
    fn new(at: Timestamp) -> Self {
        // Saturate to the years RFC 3339 can write.
        let micros =
            at.0.clamp(days_from_civil(0, 1, 1) * MICROS_PER_DAY, Timestamp::MAX.0);
        let days = micros.div_euclid(MICROS_PER_DAY);
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let sod = (in_day / MICROS_PER_SEC) as u32;
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        put_digits(&mut b[0..4], y as u32);
        put_digits(&mut b[5..7], m);
        put_digits(&mut b[8..10], d);
        put_digits(&mut b[11..13], sod / 3600);
        put_digits(&mut b[14..16], sod / 60 % 60);
        put_digits(&mut b[17..19], sod % 60);
        put_digits(&mut b[20..26], (in_day % MICROS_PER_SEC) as u32);
        Self(b)
    }

    /// The 27 characters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::UNIX_EPOCH.rfc3339_micros().as_str().len(), 27);
    /// ```
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation were written.
        std::str::from_utf8(&self.0).unwrap_or("0000-00-00T00:00:00.000000Z")
    }
}

impl fmt::Display for Rfc3339Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Rfc3339Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Writes `v` in decimal into all of `out`, zero-padded on the left (the high digits are cut
/// when `v` does not fit).
fn put_digits(out: &mut [u8], mut v: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

// === impl TimeFormat ===

/// A timestamp layout in a subset of `strftime`, always in UTC: `%Y-%m-%d %H:%M:%S`.
///
/// Parsed once ([`TimeFormat::parse`]); then [`write`](Self::write) lays out a timestamp with
/// no allocation, and [`read_prefix`](Self::read_prefix) reads one back from the start of a
/// line, which is how logs written with it are searched.
///
/// | directive | writes | example |
/// | --- | --- | --- |
/// | `%Y` | the year, 4 digits | `2024` |
/// | `%m`, `%d` | month, day of month, 2 digits | `01`, `31` |
/// | `%H`, `%M`, `%S` | hour (00–23), minute, second, 2 digits | `10`, `00`, `59` |
/// | `%f` or `%6f` | microseconds, 6 digits | `000120` |
/// | `%3f` | milliseconds, 3 digits | `000` |
/// | `%F` | `%Y-%m-%d` | `2024-01-01` |
/// | `%T` | `%H:%M:%S` | `10:00:00` |
/// | `%s` | seconds since the Unix epoch | `1704103200` |
/// | `%z`, `%Z` | the offset, the zone: always UTC | `+0000`, `UTC` |
/// | `%%` | a `%` | `%` |
///
/// Any other character is written as it is; a `%` before anything else is an error. `%f` is
/// microseconds as in Python's `strftime` (so Python's `%Y-%m-%d %H:%M:%S,%f` reads the same
/// here); `%3f` gives Python `logging`'s default milliseconds (`%Y-%m-%d %H:%M:%S,%3f`).
///
/// # Examples
///
/// ```
/// use tracectx::time::{TimeFormat, Timestamp};
///
/// let format = TimeFormat::parse("%Y-%m-%d %H:%M:%S")?;
/// let t = Timestamp::parse_rfc3339("2024-01-01T10:00:00.25Z").unwrap();
/// assert_eq!(format.display(t).to_string(), "2024-01-01 10:00:00");
/// assert_eq!(format.read_prefix(b"2024-01-01 10:00:00 INFO"), Some((Timestamp::from_micros(t.as_micros() - 250_000), 19)));
/// assert!(TimeFormat::parse("%Y-%q").is_err());
/// # Ok::<(), tracectx::time::TimeFormatError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    items: Box<[TimeItem]>,
    source: Box<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeItem {
    Literal(Box<str>),
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Micros,
    Millis,
    UnixSeconds,
    Offset,
    Zone,
}

/// A time format that was refused: a `%` directive outside the subset, a lone `%`, a format
/// with no directive at all (which would read any text as the epoch), or a `%s` written right
/// after the digits of another (`%s%s`, `%s%H%s`: the two numbers could not be told apart).
///
/// # Examples
///
/// ```
/// let err = tracectx::time::TimeFormat::parse("%Y-%b").unwrap_err();
/// assert_eq!(err.to_string(), "unknown time format directive \"%b\" at byte 3");
/// assert_eq!(err.position(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {at}")]
pub struct TimeFormatError {
    reason: TimeFormatReason,
    at: usize,
}

/// Why a time format was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeFormatReason {
    LonePercent,
    Unknown(char),
    NoDirective,
    EpochAfterDigits,
}

impl fmt::Display for TimeFormatReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LonePercent => f.write_str("a lone \"%\" (write %% for a percent sign)"),
            Self::Unknown(c) => {
                // A format may come from a configuration or the command line: shown escaped.
                let mut buf = [0; 4];
                let c = crate::escape::text(c.encode_utf8(&mut buf));
                write!(f, "unknown time format directive \"%{c}\"")
            }
            Self::NoDirective => f.write_str("a time format with no directive (such as %F %T)"),
            Self::EpochAfterDigits => f.write_str(
                "\"%s\" right after the digits of another \"%s\" (put a separator between \
                 them: the two numbers could not be told apart when read)",
            ),
        }
    }
}

impl TimeFormatError {
    /// The byte offset, in the format, of the refused directive.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::TimeFormat;
    ///
    /// let spec = "%Y-%m-%d %H:%M:%S,%L";
    /// let err = TimeFormat::parse(spec).unwrap_err();
    /// assert_eq!(&spec[err.position()..], "%L");
    /// assert_eq!(TimeFormat::parse("%F 100%").unwrap_err().position(), 6);
    /// ```
    pub fn position(&self) -> usize {
        self.at
    }

    /// The same error, its offset counted from `offset` bytes earlier (the format's place in
    /// a longer text).
    #[cfg_attr(not(feature = "logging"), allow(dead_code))]
    pub(crate) fn offset_by(mut self, offset: usize) -> Self {
        self.at += offset;
        self
    }
}

impl TimeFormat {
    /// Parses `spec` (see the table above).
    ///
    /// # Errors
    ///
    /// [`TimeFormatError`] naming the first directive outside the subset and its byte offset.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::{TimeFormat, Timestamp};
    ///
    /// // Python `logging`'s default layout of the time.
    /// let format = TimeFormat::parse("%Y-%m-%d %H:%M:%S,%3f")?;
    /// let t = Timestamp::parse_rfc3339("2024-01-01T10:00:00.123456Z").unwrap();
    /// assert_eq!(format.display(t).to_string(), "2024-01-01 10:00:00,123");
    /// assert!(TimeFormat::parse("no directive").is_err());
    /// # Ok::<(), tracectx::time::TimeFormatError>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Self, TimeFormatError> {
        let mut items = Vec::new();
        let mut literal = String::new();
        let mut chars = spec.char_indices().peekable();
        // Whether only digits have been written since a `%s`: a second one here would run
        // its digits into the first's, and `read_prefix` could not tell where either ends.
        let mut after_epoch = false;
        while let Some((at, c)) = chars.next() {
            if c != '%' {
                after_epoch &= c.is_ascii_digit();
                literal.push(c);
                continue;
            }
            let Some((_, d)) = chars.next() else {
                return Err(TimeFormatError {
                    reason: TimeFormatReason::LonePercent,
                    at,
                });
            };
            if d == 's' && after_epoch {
                return Err(TimeFormatError {
                    reason: TimeFormatReason::EpochAfterDigits,
                    at,
                });
            }
            let item = match d {
                '%' => {
                    after_epoch = false;
                    literal.push('%');
                    continue;
                }
                'Y' => vec![TimeItem::Year],
                'm' => vec![TimeItem::Month],
                'd' => vec![TimeItem::Day],
                'H' => vec![TimeItem::Hour],
                'M' => vec![TimeItem::Minute],
                'S' => vec![TimeItem::Second],
                'f' => vec![TimeItem::Micros],
                's' => vec![TimeItem::UnixSeconds],
                'z' => vec![TimeItem::Offset],
                'Z' => vec![TimeItem::Zone],
                'F' => vec![
                    TimeItem::Year,
                    TimeItem::Literal("-".into()),
                    TimeItem::Month,
                    TimeItem::Literal("-".into()),
                    TimeItem::Day,
                ],
                'T' => vec![
                    TimeItem::Hour,
                    TimeItem::Literal(":".into()),
                    TimeItem::Minute,
                    TimeItem::Literal(":".into()),
                    TimeItem::Second,
                ],
                '3' | '6' if chars.peek().map(|&(_, c)| c) == Some('f') => {
                    chars.next();
                    vec![if d == '3' {
                        TimeItem::Millis
                    } else {
                        TimeItem::Micros
                    }]
                }
                other => {
                    return Err(TimeFormatError {
                        reason: TimeFormatReason::Unknown(other),
                        at,
                    });
                }
            };
            if !literal.is_empty() {
                items.push(TimeItem::Literal(std::mem::take(&mut literal).into()));
            }
            // Items that write digits only keep a `%s` before them running on.
            after_epoch = match item[..] {
                [TimeItem::UnixSeconds] => true,
                [
                    TimeItem::Year
                    | TimeItem::Month
                    | TimeItem::Day
                    | TimeItem::Hour
                    | TimeItem::Minute
                    | TimeItem::Second
                    | TimeItem::Micros
                    | TimeItem::Millis,
                ] => after_epoch,
                _ => false,
            };
            items.extend(item);
        }
        if !literal.is_empty() {
            items.push(TimeItem::Literal(literal.into()));
        }
        if items.iter().all(|i| matches!(i, TimeItem::Literal(_))) {
            return Err(TimeFormatError {
                reason: TimeFormatReason::NoDirective,
                at: 0,
            });
        }
        Ok(Self {
            items: items.into(),
            source: spec.into(),
        })
    }

    /// The format as it was given.
    ///
    /// # Examples
    ///
    /// ```
    /// let format = tracectx::time::TimeFormat::parse("%F %T")?;
    /// assert_eq!(format.as_str(), "%F %T");
    /// # Ok::<(), tracectx::time::TimeFormatError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Writes `t`, in UTC, laid out by this format. As in
    /// [`rfc3339_micros`](Timestamp::rfc3339_micros), an instant outside the years `0000` to
    /// `9999` is written as the nearest instant inside them, so what is written can be read
    /// back.
    ///
    /// # Errors
    ///
    /// Only those of `out`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::{TimeFormat, Timestamp};
    ///
    /// let format = TimeFormat::parse("%F %T.%f %Z")?;
    /// let mut line = String::from("at ");
    /// format.write(Timestamp::from_micros(1_704_103_200_000_120), &mut line).unwrap();
    /// assert_eq!(line, "at 2024-01-01 10:00:00.000120 UTC");
    /// # Ok::<(), tracectx::time::TimeFormatError>(())
    /// ```
    pub fn write(&self, t: Timestamp, out: &mut (impl fmt::Write + ?Sized)) -> fmt::Result {
        let t = Timestamp(t.0.clamp(days_from_civil(0, 1, 1) * MICROS_PER_DAY, Timestamp::MAX.0));
        let micros = t.as_micros();
        let (y, m, d) = t.date();
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let sod = (in_day / MICROS_PER_SEC) as u32;
        let frac = (in_day % MICROS_PER_SEC) as u32;
        let two = |out: &mut (dyn fmt::Write + '_), v: u32| {
            let mut b = [0u8; 2];
            put_digits(&mut b, v);
            out.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
        };
        let out: &mut dyn fmt::Write = &mut FmtAdapter(out);
        for item in &self.items {
            match item {
                TimeItem::Literal(text) => out.write_str(text)?,
                TimeItem::Year => {
                    // In 0..=9999 after the clamp above.
                    let mut b = [0u8; 4];
                    put_digits(&mut b, y as u32);
                    out.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)?;
                }
                TimeItem::Month => two(out, m)?,
                TimeItem::Day => two(out, d)?,
                TimeItem::Hour => two(out, sod / 3600)?,
                TimeItem::Minute => two(out, sod / 60 % 60)?,
                TimeItem::Second => two(out, sod % 60)?,
                TimeItem::Micros => {
                    let mut b = [0u8; 6];
                    put_digits(&mut b, frac);
                    out.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)?;
                }
                TimeItem::Millis => {
                    let mut b = [0u8; 3];
                    put_digits(&mut b, frac / 1000);
                    out.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)?;
                }
                TimeItem::UnixSeconds => write!(out, "{}", micros.div_euclid(MICROS_PER_SEC))?,
                TimeItem::Offset => out.write_str("+0000")?,
                TimeItem::Zone => out.write_str("UTC")?,
            }
        }
        Ok(())
    }

    /// `t` laid out by this format, as a `Display` value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::{TimeFormat, Timestamp};
    ///
    /// let format = TimeFormat::parse("%s")?;
    /// let t = Timestamp::parse_rfc3339("2024-01-01T10:00:00Z").unwrap();
    /// assert_eq!(format!("started at {}", format.display(t)), "started at 1704103200");
    /// # Ok::<(), tracectx::time::TimeFormatError>(())
    /// ```
    pub fn display(&self, t: Timestamp) -> impl fmt::Display + '_ {
        struct Shown<'a>(&'a TimeFormat, Timestamp);
        impl fmt::Display for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write(self.1, f)
            }
        }
        Shown(self, t)
    }

    /// Reads a timestamp laid out by this format from the start of `text`; returns it and how
    /// many bytes it took, or `None` when `text` does not start with one.
    ///
    /// Fields the format leaves out take the values of `1970-01-01T00:00:00Z` (a format with
    /// no date reads as a time on that day), but for the year of a format that has a month or
    /// a day and no year (`%m-%d %T`, as syslog-like lines show the time): 1972, the first
    /// leap year after 1970, so that a line of February 29 is read. A day that does not exist
    /// in its month is not a timestamp. `%z` reads any `±HHMM` offset and applies it to the date and time of day
    /// (not to `%s`, the same in every zone). `%s` takes the digits up to
    /// those of the directives written right after it, so epoch milliseconds (`%s%3f`) and
    /// microseconds (`%s%f`) read back.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::TimeFormat;
    ///
    /// let format = TimeFormat::parse("%F %T %z")?;
    /// let (t, len) = format.read_prefix(b"2024-01-01 12:00:00 +0200 INFO started").unwrap();
    /// assert_eq!((t.to_string().as_str(), len), ("2024-01-01T10:00:00Z", 25));
    /// assert_eq!(format.read_prefix(b"2024-02-30 12:00:00 +0000"), None);
    /// assert_eq!(format.read_prefix(b"INFO started"), None);
    /// # Ok::<(), tracectx::time::TimeFormatError>(())
    /// ```
    pub fn read_prefix(&self, text: &[u8]) -> Option<(Timestamp, usize)> {
        let (mut year, mut month, mut day) = (self.default_year(), 1u32, 1u32);
        let (mut hour, mut minute, mut second, mut frac) = (0u32, 0u32, 0u32, 0u32);
        let mut unix: Option<i64> = None;
        let mut offset = 0i64;
        let mut at = 0;
        let digits = |at: &mut usize, n: usize| -> Option<u32> {
            let d = text.get(*at..*at + n)?;
            if !d.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *at += n;
            Some(
                d.iter()
                    .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
            )
        };
        for (i, item) in self.items.iter().enumerate() {
            match item {
                TimeItem::Literal(lit) => {
                    if !text.get(at..)?.starts_with(lit.as_bytes()) {
                        return None;
                    }
                    at += lit.len();
                }
                TimeItem::Year => year = i64::from(digits(&mut at, 4)?),
                TimeItem::Month => month = digits(&mut at, 2)?,
                TimeItem::Day => day = digits(&mut at, 2)?,
                TimeItem::Hour => hour = digits(&mut at, 2)?,
                TimeItem::Minute => minute = digits(&mut at, 2)?,
                TimeItem::Second => second = digits(&mut at, 2)?,
                TimeItem::Micros => frac = digits(&mut at, 6)?,
                TimeItem::Millis => frac = digits(&mut at, 3)? * 1000,
                TimeItem::UnixSeconds => {
                    let negative = text.get(at) == Some(&b'-');
                    let start = at + usize::from(negative);
                    let run = text
                        .get(start..)?
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    // The seconds have no fixed width: the digits written right after them
                    // (`%s%3f`, epoch milliseconds) are left to the items that wrote them.
                    let len = run.checked_sub(digits_after(&self.items[i + 1..]))?;
                    if len == 0 || len > 12 {
                        return None;
                    }
                    let value = std::str::from_utf8(&text[start..start + len])
                        .ok()?
                        .parse::<i64>()
                        .ok()?;
                    unix = Some(if negative { -value } else { value });
                    at = start + len;
                }
                TimeItem::Offset => {
                    let sign = match text.get(at)? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    at += 1;
                    let (h, m) = (digits(&mut at, 2)?, digits(&mut at, 2)?);
                    if h > 23 || m > 59 {
                        return None;
                    }
                    offset = sign * i64::from(h * 3600 + m * 60) * MICROS_PER_SEC;
                }
                TimeItem::Zone => {
                    if !text.get(at..)?.starts_with(b"UTC") {
                        return None;
                    }
                    at += 3;
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let base = match unix {
            Some(secs) => secs.checked_mul(MICROS_PER_SEC)?,
            None => Timestamp::from_date(year, month, day)?.as_micros(),
        };
        let micros = if unix.is_some() {
            // Seconds since the epoch are the same in every zone: no offset applies to them.
            base + i64::from(frac)
        } else {
            let local = i64::from(hour * 3600 + minute * 60 + second) * MICROS_PER_SEC;
            base + local + i64::from(frac) - offset
        };
        Some((Timestamp(micros), at))
    }
}

impl TimeFormat {
    /// The year a date read without one falls in: 1970, or 1972 for a format with a month or
    /// a day and no year (a leap year, so that every day it can show exists).
    fn default_year(&self) -> i64 {
        let has = |f: fn(&TimeItem) -> bool| self.items.iter().any(f);
        if !has(|i| matches!(i, TimeItem::Year))
            && has(|i| matches!(i, TimeItem::Month | TimeItem::Day))
        {
            1972
        } else {
            1970
        }
    }
}

/// How many digits `items` write before anything else: what `%s` in front of them must leave.
fn digits_after(items: &[TimeItem]) -> usize {
    let mut n = 0;
    for item in items {
        n += match item {
            TimeItem::Year => 4,
            TimeItem::Month | TimeItem::Day => 2,
            TimeItem::Hour | TimeItem::Minute | TimeItem::Second => 2,
            TimeItem::Micros => 6,
            TimeItem::Millis => 3,
            TimeItem::Literal(lit) => {
                let lead = lit.bytes().take_while(u8::is_ascii_digit).count();
                if lead < lit.len() {
                    return n + lead;
                }
                lead
            }
            TimeItem::UnixSeconds | TimeItem::Offset | TimeItem::Zone => return n,
        };
    }
    n
}

impl FromStr for TimeFormat {
    type Err = TimeFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `dyn fmt::Write` over any writer, so the digits helpers take one type.
struct FmtAdapter<'a, W: fmt::Write + ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for FmtAdapter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

// === the calendar ===

/// Days since `1970-01-01` of the proleptic Gregorian date `year-month-day`.
///
/// The arithmetic alone, for callers that have checked the date (see
/// [`Timestamp::from_date`]); an impossible date such as February 30 gives the day it would
/// count to (March 1 or 2).
///
/// # Examples
///
/// ```
/// use tracectx::time::days_from_civil;
///
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// ```
#[inline(always)]
pub const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` that is `days` days after `1970-01-01`.
///
/// # Examples
///
/// ```
/// use tracectx::time::civil_from_days;
///
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// ```
#[inline]
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// The day of the week of the day `days` days after `1970-01-01`: 0 for Monday to 6 for
/// Sunday.
///
/// # Examples
///
/// ```
/// use tracectx::time::weekday;
///
/// assert_eq!(weekday(0), 3); // 1970-01-01 was a Thursday
/// assert_eq!(weekday(-4), 6); // and 1969-12-28 a Sunday
/// ```
#[inline]
pub const fn weekday(days: i64) -> u32 {
    (days + 3).rem_euclid(7) as u32
}

/// Whether `year` is a leap year of the Gregorian calendar.
const fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1 to 12) of `year`.
const fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// === parsing ===

/// A date or time that could not be parsed, with what was wrong and where.
///
/// # Examples
///
/// ```
/// use tracectx::time::Timestamp;
///
/// let err = Timestamp::parse_rfc3339("2024-01-01T10:61:00Z").unwrap_err();
/// assert_eq!(err.position(), 14);
/// assert_eq!(err.to_string(), "invalid timestamp: minute 61 out of range at byte 14");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp: {reason} at byte {at}")]
pub struct ParseTimestampError {
    // Small on purpose (eight bytes), so a parse's `Result` is returned in registers: the
    // CSV loader parses a date on every row.
    reason: Reason,
    at: u32,
}

impl ParseTimestampError {
    /// The byte offset, in the parsed text, of what was wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::time::Timestamp;
    /// assert_eq!(Timestamp::parse_date_time(b"2024-13-01").unwrap_err().position(), 5);
    /// ```
    pub fn position(&self) -> usize {
        self.at as usize
    }
}

/// A part of a timestamp's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    Offset,
    OffsetHour,
    OffsetMinute,
}

impl Part {
    /// What was expected where this part should be.
    fn expected(self) -> &'static str {
        match self {
            Self::Year => "a four-digit year",
            Self::Month => "a two-digit month",
            Self::Day => "a two-digit day",
            Self::Hour => "a two-digit hour",
            Self::Minute => "two-digit minutes",
            Self::Second => "two-digit seconds",
            Self::Fraction => "digits after \".\"",
            Self::Offset => "\"Z\" or an offset",
            Self::OffsetHour => "a two-digit offset hour",
            Self::OffsetMinute => "two-digit offset minutes",
        }
    }

    /// The part's name in "... out of range".
    fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
            Self::OffsetHour => "offset hour",
            Self::OffsetMinute => "offset minute",
            _ => "field",
        }
    }
}

/// A separator of a timestamp's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Separator {
    AfterYear,
    AfterMonth,
    BeforeTime,
    AfterHour,
    AfterMinute,
    InOffset,
}

impl Separator {
    fn expected(self) -> &'static str {
        match self {
            Self::AfterYear => "\"-\" after the year",
            Self::AfterMonth => "\"-\" after the month",
            Self::BeforeTime => "\"T\" before the time",
            Self::AfterHour => "\":\" after the hour",
            Self::AfterMinute => "\":\" after the minutes",
            Self::InOffset => "\":\" in the offset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    Expected(Part),
    ExpectedSeparator(Separator),
    Month(u8),
    Day {
        year: u16,
        month: u8,
        day: u8,
    },
    OutOfRange(Part, u8),
    /// The offset moves the instant outside the years `0000` to `9999` in UTC.
    BeyondYears,
    TrailingInput,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expected(part) => write!(f, "expected {}", part.expected()),
            Self::ExpectedSeparator(sep) => write!(f, "expected {}", sep.expected()),
            Self::Month(m) => write!(f, "month {m} out of range"),
            Self::Day { year, month, day } => {
                write!(f, "day {day} does not exist in {year:04}-{month:02}")
            }
            Self::OutOfRange(part, value) => write!(f, "{} {value} out of range", part.name()),
            Self::BeyondYears => {
                f.write_str("the instant falls outside the years 0000 to 9999 in UTC")
            }
            Self::TrailingInput => f.write_str("unexpected text after the timestamp"),
        }
    }
}

/// What [`parse`] requires beyond the date.
#[derive(Clone, Copy)]
struct Rules {
    /// A time of day must follow the date.
    time: bool,
    /// An offset must follow the time.
    offset: bool,
    /// The instant, in UTC, must lie in the years `0000` to `9999`.
    utc_years: bool,
}

impl Rules {
    const RFC3339: Self = Self {
        time: true,
        offset: true,
        utc_years: true,
    };
    const DATE_TIME: Self = Self {
        time: false,
        offset: false,
        utc_years: false,
    };
}

/// `Err` of `reason` at byte `at`.
fn fail<T>(reason: Reason, at: usize) -> Result<T, ParseTimestampError> {
    let at = u32::try_from(at).unwrap_or(u32::MAX);
    Err(ParseTimestampError { reason, at })
}

/// `n` ASCII digits of `b` from `at`, as a number, or the error saying `part` was expected.
#[inline(always)]
fn digits(b: &[u8], at: usize, n: usize, part: Part) -> Result<u32, ParseTimestampError> {
    let Some(d) = b.get(at..at + n) else {
        return fail(Reason::Expected(part), at);
    };
    let mut v = 0u32;
    for &c in d {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            return fail(Reason::Expected(part), at);
        }
        v = v * 10 + u32::from(digit);
    }
    Ok(v)
}

/// Two digits of `b` from `at`, at most `max`.
#[inline(always)]
fn two_digits(b: &[u8], at: usize, max: u32, part: Part) -> Result<u32, ParseTimestampError> {
    let v = digits(b, at, 2, part)?;
    if v > max {
        // Two digits fit a `u8`.
        return fail(Reason::OutOfRange(part, v as u8), at);
    }
    Ok(v)
}

/// Checks that byte `at` of `b` is one that `ok` accepts.
#[inline(always)]
fn separator(
    b: &[u8],
    at: usize,
    ok: impl Fn(u8) -> bool,
    sep: Separator,
) -> Result<(), ParseTimestampError> {
    match b.get(at) {
        Some(&c) if ok(c) => Ok(()),
        _ => fail(Reason::ExpectedSeparator(sep), at),
    }
}

/// The one parser: a date, a time of day and an offset, as `rules` require.
fn parse(b: &[u8], rules: Rules) -> Result<Timestamp, ParseTimestampError> {
    let year = digits(b, 0, 4, Part::Year)?;
    separator(b, 4, |c| c == b'-', Separator::AfterYear)?;
    let month = digits(b, 5, 2, Part::Month)?;
    if !(1..=12).contains(&month) {
        return fail(Reason::Month(month as u8), 5);
    }
    separator(b, 7, |c| c == b'-', Separator::AfterMonth)?;
    let day = digits(b, 8, 2, Part::Day)?;
    let year_ = i64::from(year);
    if day == 0 || day > days_in_month(year_, month) {
        let (year, month, day) = (year as u16, month as u8, day as u8);
        return fail(Reason::Day { year, month, day }, 8);
    }
    let mut micros = days_from_civil(year_, month, day) * MICROS_PER_DAY;
    if b.len() == 10 && !rules.time {
        return Ok(Timestamp(micros));
    }

    let space_or_t = |c| matches!(c, b'T' | b't' | b' ');
    separator(b, 10, space_or_t, Separator::BeforeTime)?;
    let hour = two_digits(b, 11, 23, Part::Hour)?;
    separator(b, 13, |c| c == b':', Separator::AfterHour)?;
    let minute = two_digits(b, 14, 59, Part::Minute)?;
    separator(b, 16, |c| c == b':', Separator::AfterMinute)?;
    let second = two_digits(b, 17, 59, Part::Second)?;
    micros += i64::from(hour * 3600 + minute * 60 + second) * MICROS_PER_SEC;

    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut frac = 0i64;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            if i - start < 6 {
                frac = frac * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return fail(Reason::Expected(Part::Fraction), i);
        }
        for _ in (i - start)..6 {
            frac *= 10;
        }
        micros += frac;
    }

    match b.get(i) {
        None if !rules.offset => Ok(Timestamp(micros)),
        Some(b'Z' | b'z') if i + 1 == b.len() => Ok(Timestamp(micros)),
        Some(&sign @ (b'+' | b'-')) => {
            let hours = two_digits(b, i + 1, 23, Part::OffsetHour)?;
            separator(b, i + 3, |c| c == b':', Separator::InOffset)?;
            let minutes = two_digits(b, i + 4, 59, Part::OffsetMinute)?;
            if i + 6 != b.len() {
                return fail(Reason::TrailingInput, i + 6);
            }
            let offset = i64::from(hours * 3600 + minutes * 60) * MICROS_PER_SEC;
            let utc = if sign == b'+' {
                micros - offset
            } else {
                micros + offset
            };
            // Only an offset can take a date of four digits out of them; what Display writes
            // of such an instant would not parse back.
            let years = days_from_civil(0, 1, 1) * MICROS_PER_DAY..=Timestamp::MAX.0;
            if rules.utc_years && !years.contains(&utc) {
                return fail(Reason::BeyondYears, i);
            }
            Ok(Timestamp(utc))
        }
        Some(b'Z' | b'z') => fail(Reason::TrailingInput, i + 1),
        _ if rules.offset => fail(Reason::Expected(Part::Offset), i),
        _ => fail(Reason::TrailingInput, i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ends_are_the_first_and_last_microsecond_of_four_digit_years() {
        assert_eq!(days_from_civil(1, 1, 1), DAYS_TO_YEAR_1);
        assert_eq!(days_from_civil(10_000, 1, 1), DAYS_TO_YEAR_10000);
        assert!(!Timestamp(Timestamp::MIN.0 - 1).is_in_range());
        assert!(!Timestamp(Timestamp::MAX.0 + 1).is_in_range());
        assert!(
            (Timestamp::MAX.0 - Timestamp::MIN.0)
                .checked_mul(28)
                .is_some()
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..3_000_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
    }

    #[test]
    fn trailing_input_is_refused() {
        for bad in [
            &b"2024-01-01T10:00:00Zx"[..],
            b"2024-01-01T10:00:00+01:00x",
            b"2024-01-01x",
            b"2024-01-01T10:00:00.",
            b"2024-01-01T10:00",
        ] {
            assert!(parse(bad, Rules::DATE_TIME).is_err(), "{bad:?}");
            assert!(parse(bad, Rules::RFC3339).is_err(), "{bad:?}");
        }
    }
}
