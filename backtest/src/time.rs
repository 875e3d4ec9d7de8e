//! Timestamps: microseconds since the Unix epoch in UTC, civil-date conversion and parsing.
//!
//! The engine keeps bar times as `i64` microseconds since `1970-01-01T00:00:00Z`, the unit
//! pandas 2+ gives dates read from CSV, so durations and their means truncate exactly as the
//! reference does. Civil dates use Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (proleptic Gregorian calendar, UTC).

use std::fmt;

/// Microseconds in one second.
pub(crate) const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;
/// `0001-01-01T00:00:00Z` in microseconds since the epoch: the earliest time bars accept.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// `9999-12-31T23:59:59.999999Z` in microseconds since the epoch: the latest time bars accept.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

// === impl Timestamp ===

/// A point in time: microseconds since `1970-01-01T00:00:00Z` (UTC).
///
/// Bars store their times as plain `i64` microseconds ([`Bars::timestamps`]); a `Timestamp`
/// wraps one where a result names a time (a trade's entry, the first bar), so that it prints
/// and serializes as RFC 3339 (`2004-08-19T00:00:00Z`, with a fraction only when there is one).
///
/// [`Bars::timestamps`]: crate::Bars::timestamps
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Timestamp;
///
/// let t = Timestamp::from_micros(1_500_000);
/// assert_eq!(t.to_string(), "1970-01-01T00:00:01.5Z");
/// assert_eq!(t.as_micros(), 1_500_000);
/// assert_eq!(Timestamp::parse("2024-01-02 03:04:05").unwrap().to_string(), "2024-01-02T03:04:05Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// `0001-01-01T00:00:00Z`, the earliest time [`Bars`] accept.
    ///
    /// Bars are limited to the years 0001 to 9999 (UTC), the range of four-digit dates, so
    /// that every difference of two bar times (durations of trades, drawdowns, the data)
    /// fits an `i64` with room to spare: 10,000 years are about 3.2 × 10^17 µs of the
    /// 9.2 × 10^18 an `i64` holds.
    ///
    /// [`Bars`]: crate::Bars
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    /// assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
    /// assert_eq!(Timestamp::parse("0001-01-01"), Some(Timestamp::MIN));
    /// ```
    pub const MIN: Timestamp = Timestamp(MIN_MICROS);

    /// `9999-12-31T23:59:59.999999Z`, the latest time [`Bars`] accept; see
    /// [`MIN`](Self::MIN).
    ///
    /// [`Bars`]: crate::Bars
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    /// assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
    /// ```
    pub const MAX: Timestamp = Timestamp(MAX_MICROS);

    /// Whether the timestamp lies in the years 0001 to 9999 (UTC), from
    /// [`MIN`](Self::MIN) to [`MAX`](Self::MAX) inclusive: the times bars accept.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    /// assert!(Timestamp::parse("2024-01-02").unwrap().is_in_range());
    /// // Epoch milliseconds that parse but name the year 287,000-odd:
    /// assert!(!Timestamp::parse("9000000000000000").unwrap().is_in_range());
    /// ```
    pub const fn is_in_range(self) -> bool {
        self.0 >= MIN_MICROS && self.0 <= MAX_MICROS
    }

    /// The timestamp `micros` microseconds after the Unix epoch (before it, if negative).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    /// assert_eq!(Timestamp::from_micros(0).to_string(), "1970-01-01T00:00:00Z");
    /// ```
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    /// assert_eq!(Timestamp::from_micros(42).as_micros(), 42);
    /// ```
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Parses one of the date forms the CSV loader accepts: `YYYY-MM-DD`,
    /// `YYYY-MM-DD HH:MM:SS` (or with a `T`, an optional fraction, and an optional `Z` or
    /// `±HH:MM` offset, which covers RFC 3339), or an integer number of seconds or, from
    /// 10^11 in magnitude, milliseconds since the epoch. Dates without an offset are UTC.
    /// Fractions finer than a microsecond are truncated. Returns `None` when the text is none
    /// of these or names a time outside the `i64` microsecond range. A time that parses may
    /// still lie outside the years bars accept ([`is_in_range`](Self::is_in_range)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Timestamp;
    ///
    /// let day = Timestamp::parse("2024-03-01").unwrap();
    /// assert_eq!(Timestamp::parse("2024-03-01T02:00:00+02:00"), Some(day));
    /// assert_eq!(Timestamp::parse("1709251200"), Some(day));
    /// assert_eq!(Timestamp::parse("1709251200000"), Some(day));
    /// assert_eq!(Timestamp::parse("2024-02-30"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        parse_timestamp(text.as_bytes()).map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MICROS_PER_DAY);
        let rem = self.0.rem_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = rem / MICROS_PER_SEC;
        let frac = rem % MICROS_PER_SEC;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if frac != 0 {
            let digits = format!("{frac:06}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

// === civil dates ===

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d`.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of `days` since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day of the week of `days` since 1970-01-01: Monday is 0, Sunday is 6.
pub(crate) fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

/// The calendar day (days since the epoch) of a timestamp.
pub(crate) fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

// === parsing ===

/// `text` without leading and trailing ASCII whitespace (`<[u8]>::trim_ascii` needs a newer
/// Rust than the crate's minimum).
pub(crate) fn trim(mut text: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = text {
        if !first.is_ascii_whitespace() {
            break;
        }
        text = rest;
    }
    while let [rest @ .., last] = text {
        if !last.is_ascii_whitespace() {
            break;
        }
        text = rest;
    }
    text
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        b.iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')),
    )
}

/// Parses a timestamp in one of the accepted forms into microseconds since the epoch.
pub(crate) fn parse_timestamp(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    if text.is_empty() {
        return None;
    }
    if text.len() >= 10 && text[4] == b'-' && text[7] == b'-' {
        return parse_iso(text);
    }
    parse_epoch(text)
}

fn parse_epoch(text: &[u8]) -> Option<i64> {
    let (neg, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() || body.len() > 19 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in body {
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    let v = if neg { -v } else { v };
    if v.unsigned_abs() >= 100_000_000_000 {
        v.checked_mul(1_000)
    } else {
        v.checked_mul(MICROS_PER_SEC)
    }
}

fn parse_iso(text: &[u8]) -> Option<i64> {
    let y = i64::from(digits(&text[0..4])?);
    let m = digits(&text[5..7])?;
    let d = digits(&text[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let mut micros = days * MICROS_PER_DAY;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(micros);
    }
    // Time of day: `[T ]HH:MM:SS[.f+]`.
    if rest.len() < 9
        || !matches!(rest[0], b'T' | b't' | b' ')
        || rest[3] != b':'
        || rest[6] != b':'
    {
        return None;
    }
    let hh = digits(&rest[1..3])?;
    let mm = digits(&rest[4..6])?;
    let ss = digits(&rest[7..9])?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    micros += i64::from(hh * 3600 + mm * 60 + ss) * MICROS_PER_SEC;
    let mut rest = &rest[9..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut us: i64 = 0;
        for i in 0..6 {
            us = us * 10
                + frac
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |&c| i64::from(c - b'0'));
        }
        micros += us;
        rest = &frac[n..];
    }
    // Offset: nothing (UTC), `Z`, or `±HH:MM`.
    match rest {
        [] | [b'Z' | b'z'] => Some(micros),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = i64::from(oh * 3600 + om * 60) * MICROS_PER_SEC;
            Some(if *sign == b'+' {
                micros - offset
            } else {
                micros + offset
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ends_are_the_first_and_last_microsecond_of_four_digit_years() {
        assert_eq!(days_from_civil(1, 1, 1) * MICROS_PER_DAY, MIN_MICROS);
        assert_eq!(
            days_from_civil(10_000, 1, 1) * MICROS_PER_DAY - 1,
            MAX_MICROS
        );
        assert_eq!(
            parse_timestamp(b"9999-12-31T23:59:59.999999Z"),
            Some(MAX_MICROS)
        );
        assert!(!Timestamp::from_micros(MIN_MICROS - 1).is_in_range());
        assert!(!Timestamp::from_micros(MAX_MICROS + 1).is_in_range());
        // Any difference of two times in range, even times 28, fits an i64.
        assert!((MAX_MICROS - MIN_MICROS).checked_mul(28).is_some());
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(weekday(0), 3); // a Thursday
    }

    #[test]
    fn forms() {
        let base = days_from_civil(2017, 4, 19) * MICROS_PER_DAY;
        let h9 = base + 9 * 3_600_000_000;
        assert_eq!(parse_timestamp(b"2017-04-19"), Some(base));
        assert_eq!(parse_timestamp(b"2017-04-19 09:00:00"), Some(h9));
        assert_eq!(parse_timestamp(b"2017-04-19T09:00:00Z"), Some(h9));
        assert_eq!(parse_timestamp(b"2017-04-19T10:30:00+01:30"), Some(h9));
        assert_eq!(
            parse_timestamp(b"2017-04-19T09:00:00.25"),
            Some(h9 + 250_000)
        );
        assert_eq!(
            parse_timestamp(b"2017-04-19T09:00:00.1234567Z"),
            Some(h9 + 123_456)
        );
        assert_eq!(parse_timestamp(b"1492592400"), Some(h9));
        assert_eq!(parse_timestamp(b"1492592400000"), Some(h9));
        for bad in [
            &b"2017-13-01"[..],
            b"2017-04-31",
            b"2017-04-19 24:00:00",
            b"2017-04-19 09:00",
            b"2017-04-19T09:00:00.",
            b"2017-04-19T09:00:00+1",
            b"abc",
            b"99999999999999999999",
            b"-",
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
