//! The CSV form of bars: loading with every row checked, and writing what loads back.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::sync::OnceLock;

use super::error::echo;
use super::number::{parse_number, trim};
use super::{
    Bars, DataError, DataErrorKind, Fingerprint, check_price, check_range, check_time,
    check_volume, high_below_low, not_increasing,
};
use tracectx::time::{MICROS_PER_SEC, Timestamp};

// === bar times ===

/// Parses one of the date forms the CSV loader accepts: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`
/// (or with a `T`, an optional fraction, and an optional `Z` or `±HH:MM` offset, which covers
/// RFC 3339; see [`Timestamp::parse_date_time`]), `YYYYMMDD` (eight digits naming a day of
/// the years 1000 to 9999, as pandas reads them; other eight-digit numbers are seconds), or an
/// integer number of seconds or, from 10^11 in magnitude, milliseconds since the epoch. Leading and trailing spaces are ignored;
/// dates without an offset are UTC; fractions finer than a microsecond are truncated.
///
/// Returns `None` when the text is none of these or names a time outside the `i64`
/// microsecond range. A time that parses may still lie outside the years bars accept
/// ([`Timestamp::is_in_range`]).
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{parse_bar_time, Timestamp};
///
/// let day = parse_bar_time("2024-03-01").unwrap();
/// assert_eq!(day, Timestamp::from_date(2024, 3, 1).unwrap());
/// assert_eq!(parse_bar_time("2024-03-01T02:00:00+02:00"), Some(day));
/// assert_eq!(parse_bar_time("1709251200"), Some(day));
/// assert_eq!(parse_bar_time("1709251200000"), Some(day));
/// assert_eq!(parse_bar_time("20240301"), Some(day));
/// assert_eq!(parse_bar_time("2024-02-30"), None);
/// // Epoch milliseconds that parse but name the year 287,000-odd:
/// assert!(!parse_bar_time("9000000000000000").unwrap().is_in_range());
/// ```
pub fn parse_bar_time(text: &str) -> Option<Timestamp> {
    parse_time_bytes(text.as_bytes()).map(Timestamp::from_micros)
}

/// [`parse_bar_time`] of a CSV field's bytes, in microseconds since the epoch.
pub(crate) fn parse_time_bytes(text: &[u8]) -> Option<i64> {
    parse_time_form(text).map(|(t, _)| t)
}

/// [`parse_time_bytes`], and the form the time is written in.
fn parse_time_form(text: &[u8]) -> Option<(i64, TimeForm)> {
    let text = trim(text);
    if text.len() >= 10 && text[4] == b'-' && text[7] == b'-' {
        let t = Timestamp::parse_date_time(text).ok()?.as_micros();
        // What parsed ends in `Z` or `±HH:MM` when it has an offset; a date alone is ten
        // bytes, and a time of day holds no sign.
        let offset = match text {
            [.., b'Z' | b'z'] => true,
            [.., sign, _, _, b':', _, _] => text.len() > 10 && matches!(sign, b'+' | b'-'),
            _ => false,
        };
        let form = if offset {
            TimeForm::Offset
        } else {
            TimeForm::Naive
        };
        return Some((t, form));
    }
    if let Some(t) = parse_compact_date(text) {
        return Some((t, TimeForm::Naive));
    }
    parse_epoch(text)
}

/// `YYYYMMDD` with a year from 1000, as data vendors write dates (and pandas reads them):
/// eight digits that name a calendar day. Others are left to [`parse_epoch`].
fn parse_compact_date(text: &[u8]) -> Option<i64> {
    let [y @ b'1'..=b'9', rest @ ..] = text else {
        return None;
    };
    if rest.len() != 7 || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'))
    };
    let year = i64::from(number(&[*y, rest[0], rest[1], rest[2]]));
    let date = Timestamp::from_date(year, number(&rest[3..5]), number(&rest[5..7]))?;
    Some(date.as_micros())
}

/// Epoch seconds, or milliseconds from 10^11 in magnitude.
fn parse_epoch(text: &[u8]) -> Option<(i64, TimeForm)> {
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
        Some((v.checked_mul(1_000)?, TimeForm::EpochMillis))
    } else {
        Some((v.checked_mul(MICROS_PER_SEC)?, TimeForm::EpochSeconds))
    }
}

/// The form a bar's time is written in: every record of a file keeps the first one's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeForm {
    /// A date, or a date and time, without a UTC offset (`YYYY-MM-DD`, `YYYYMMDD`,
    /// `YYYY-MM-DD HH:MM:SS`).
    Naive,
    /// A date and time with a UTC offset (`Z`, `+01:00`).
    Offset,
    EpochSeconds,
    EpochMillis,
    /// A day in the `Date` column beside a time of day in the `Time` column.
    DayAndTime,
    /// A day in the `Date` column beside a time of day with a UTC offset in the `Time`
    /// column (`09:30:00-05:00`).
    DayAndTimeOffset,
}

impl TimeForm {
    fn words(self) -> &'static str {
        match self {
            TimeForm::Naive => "a date without a UTC offset",
            TimeForm::Offset => "a date with a UTC offset",
            TimeForm::EpochSeconds => "epoch seconds",
            TimeForm::EpochMillis => "epoch milliseconds",
            TimeForm::DayAndTime => "a day and a time of day in two columns",
            TimeForm::DayAndTimeOffset => {
                "a day and a time of day with a UTC offset in two columns"
            }
        }
    }
}

// === reading records ===

/// The most bytes one line (one record) of CSV may hold, its end of line left out: 1 MiB.
/// A bar's line is some tens of bytes; a file with no newline at all is refused at the first
/// mebibyte instead of being read whole into memory.
pub(super) const MAX_LINE_BYTES: usize = 1 << 20;

/// The most bytes a field the loader reads (the time, a price, the volume) may hold: 256.
pub(super) const MAX_FIELD_BYTES: usize = 256;

/// The UTF-8 byte-order mark some programs write at the start of a file. (A UTF-16 one,
/// `FF FE` or `FE FF`, is refused: those bytes start no UTF-8 text.)
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// How many bytes the loader reads at a time.
const READ_BYTES: usize = 1 << 16;

/// CSV records read one at a time from a stream, each held in a buffer of at most
/// [`MAX_LINE_BYTES`]: RFC 4180 fields (`,`-separated, optionally `"`-quoted with `""` for a
/// quote inside, a quoted field may span lines); a line ends with `\n`, `\r\n` or a bare `\r`
/// (as Excel's "CSV (Macintosh)" writes, and pandas reads), each line whichever.
struct Records<R> {
    reader: io::BufReader<R>,
    /// The last line ended with a `\r` that was the last byte read: a `\n` first in the next
    /// read is the rest of its `\r\n`.
    after_cr: bool,
    /// The raw bytes of the current record.
    raw: Vec<u8>,
    /// The current record's fields with their quotes removed, when it has quotes.
    unquoted: Vec<u8>,
    /// Where each field of the current record lies, in `raw` or in `unquoted`.
    fields: Vec<(u32, u32)>,
    quoted: bool,
    /// The line the current record starts on, 1-based.
    line: u64,
    /// The line the next record starts on.
    next_line: u64,
}

impl<R: Read> Records<R> {
    fn new(reader: R) -> Self {
        Records {
            reader: io::BufReader::with_capacity(READ_BYTES, reader),
            after_cr: false,
            raw: Vec::new(),
            unquoted: Vec::new(),
            fields: Vec::new(),
            quoted: false,
            line: 0,
            next_line: 1,
        }
    }

    /// Appends the next line (without its line end) to `raw`; `false` at the end of the input
    /// with nothing read. Refuses a record that grows past [`MAX_LINE_BYTES`] before
    /// reading more of it.
    fn read_line(&mut self) -> Result<bool, DataError> {
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(DataError::new(DataErrorKind::Io(e)).at_line(self.line)),
            };
            if buf.is_empty() {
                return Ok(any);
            }
            if std::mem::take(&mut self.after_cr) && buf[0] == b'\n' {
                self.reader.consume(1);
                continue;
            }
            any = true;
            let (take, end) = match memchr::memchr2(b'\n', b'\r', buf) {
                Some(i) => (i, Some(buf[i])),
                None => (buf.len(), None),
            };
            if self.raw.len() + take > MAX_LINE_BYTES {
                let kind = DataErrorKind::LineTooLong {
                    limit: MAX_LINE_BYTES,
                };
                return Err(DataError::new(kind).at_line(self.line));
            }
            self.raw.extend_from_slice(&buf[..take]);
            let ends = match (end, buf.get(take + 1)) {
                (None, _) => {
                    self.reader.consume(take);
                    continue;
                }
                (Some(b'\r'), Some(b'\n')) => 2,
                (Some(b'\r'), None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            self.reader.consume(take + ends);
            self.next_line += 1;
            return Ok(true);
        }
    }

    /// Reads the next record; `false` at the end of the input.
    fn next(&mut self) -> Result<bool, DataError> {
        self.raw.clear();
        self.fields.clear();
        self.line = self.next_line;
        if !self.read_line()? {
            return Ok(false);
        }
        // A byte-order mark opens the input, not the first field: strip it before a quote
        // after it is looked at.
        if self.line == 1 && self.raw.starts_with(UTF8_BOM) {
            self.raw.drain(..UTF8_BOM.len());
        }
        if self.line == 1
            && (self.raw.starts_with(b"\xff\xfe") || self.raw.starts_with(b"\xfe\xff"))
        {
            return Err(DataError::new(DataErrorKind::Utf16).at_line(1));
        }
        if memchr::memchr(b'"', &self.raw).is_none() {
            self.quoted = false;
            let mut start = 0;
            for end in memchr::memchr_iter(b',', &self.raw) {
                self.fields.push((start as u32, end as u32));
                start = end + 1;
            }
            self.fields.push((start as u32, self.raw.len() as u32));
            return Ok(true);
        }
        self.quoted = true;
        // A quoted field may hold line ends: read on until every quote is closed, each
        // line looked at once.
        let (mut in_quotes, mut at_start) = quote_state(&self.raw, false, true);
        while in_quotes {
            self.raw.push(b'\n');
            let from = self.raw.len();
            if !self.read_line()? {
                let kind = DataErrorKind::UnterminatedQuote;
                return Err(DataError::new(kind).at_line(self.line));
            }
            (in_quotes, at_start) = quote_state(&self.raw[from..], true, at_start);
        }
        self.split_quoted();
        Ok(true)
    }

    /// Splits `raw`, whose quotes are all closed, into unquoted fields.
    fn split_quoted(&mut self) {
        self.unquoted.clear();
        self.fields.clear();
        let raw = &self.raw[..];
        let mut start = 0;
        let mut i = 0;
        let mut in_quotes = false;
        let mut at_field_start = true;
        while i < raw.len() {
            let c = raw[i];
            if in_quotes {
                if c == b'"' {
                    if raw.get(i + 1) == Some(&b'"') {
                        self.unquoted.push(b'"');
                        i += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    self.unquoted.push(c);
                }
            } else if c == b',' {
                self.fields.push((start as u32, self.unquoted.len() as u32));
                start = self.unquoted.len();
                at_field_start = true;
                i += 1;
                continue;
            } else if c == b'"' && at_field_start {
                in_quotes = true;
            } else {
                self.unquoted.push(c);
            }
            at_field_start = false;
            i += 1;
        }
        self.fields.push((start as u32, self.unquoted.len() as u32));
    }

    /// The number of fields of the current record.
    fn len(&self) -> usize {
        self.fields.len()
    }

    /// Field `i` of the current record.
    fn get(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.fields.get(i)?;
        let text = if self.quoted {
            &self.unquoted
        } else {
            &self.raw
        };
        Some(&text[start as usize..end as usize])
    }
}

/// Whether `bytes`, read from a state inside quotes or not and at a field's start or not,
/// end inside quotes, and at a field's start. A quote opens quoting only at a field's start
/// (elsewhere it is a character of the field); inside quotes, `""` is a quote.
fn quote_state(bytes: &[u8], mut in_quotes: bool, mut at_start: bool) -> (bool, bool) {
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_quotes {
            if c == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
            at_start = false;
        } else if c == b',' {
            at_start = true;
        } else {
            in_quotes = c == b'"' && at_start;
            at_start = false;
        }
        i += 1;
    }
    (in_quotes, at_start)
}

/// A time of day, [`parse_local_time_of_day`]'s forms, with or without a UTC offset after it
/// (`Z`, `+HH:MM`, `-HHMM`, `+HH`): microseconds from midnight UTC of the day (below 0 or
/// past a day when the offset moves it), and whether it had an offset.
fn parse_time_of_day(text: &[u8]) -> Option<(i64, TimeForm)> {
    let text = trim(text);
    // A time of day holds no sign and no letter: an offset starts at the first one.
    let Some(at) = text
        .iter()
        .position(|c| matches!(c, b'Z' | b'z' | b'+' | b'-'))
    else {
        return Some((parse_local_time_of_day(text)?, TimeForm::DayAndTime));
    };
    let (local, offset) = text.split_at(at);
    let local = parse_local_time_of_day(local)?;
    let digits = |d: &[u8]| -> Option<i64> {
        (d.len() == 2 && d.iter().all(u8::is_ascii_digit))
            .then(|| i64::from(d[0] - b'0') * 10 + i64::from(d[1] - b'0'))
    };
    let east = match offset {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [h0, h1] => (digits(&[*h0, *h1])?, 0),
                [h0, h1, b':', m0, m1] | [h0, h1, m0, m1] => {
                    (digits(&[*h0, *h1])?, digits(&[*m0, *m1])?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    Some((
        local - east * 60 * MICROS_PER_SEC,
        TimeForm::DayAndTimeOffset,
    ))
}

/// A time of day, `H:MM`, `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (any number of fraction
/// digits, those finer than a microsecond truncated), in microseconds from midnight.
fn parse_local_time_of_day(text: &[u8]) -> Option<i64> {
    let colon = text.iter().position(|&c| c == b':')?;
    let (hours, rest) = (&text[..colon], &text[colon + 1..]);
    let two = |d: &[u8]| -> Option<i64> {
        (matches!(d.len(), 1 | 2) && d.iter().all(u8::is_ascii_digit))
            .then(|| d.iter().fold(0, |n, &c| n * 10 + i64::from(c - b'0')))
    };
    let h = two(hours)?;
    let (m, rest) = rest.split_at_checked(2)?;
    let m = two(m).filter(|_| m.len() == 2)?;
    let (s, fraction) = match rest {
        [] => (0, 0),
        [b':', s0, s1, tail @ ..] => {
            let s = two(&[*s0, *s1])?;
            let fraction = match tail {
                [] => 0,
                [b'.', digits @ ..]
                    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) =>
                {
                    let mut micros = 0;
                    for k in 0..6 {
                        micros = micros * 10 + digits.get(k).map_or(0, |&c| i64::from(c - b'0'));
                    }
                    micros
                }
                _ => return None,
            };
            (s, fraction)
        }
        _ => return None,
    };
    (h < 24 && m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * MICROS_PER_SEC + fraction)
}

/// The start of the day a `YYYY-MM-DD` or `YYYYMMDD` field names, in microseconds; `None` for
/// any other text (a time with the day included).
fn parse_day(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    let day = (text.len() == 10 && text[4] == b'-' && text[7] == b'-')
        || (text.len() == 8 && text.iter().all(u8::is_ascii_digit));
    day.then(|| parse_time_bytes(text)).flatten()
}

/// Whether the record's `date` and `time` columns (`pair`) hold a day and a time of day.
fn holds_day_and_time<R: Read>(records: &Records<R>, pair: &[(usize, String); 2]) -> bool {
    day_and_time_form(records, pair).is_some()
}

/// The form of the record's `date` and `time` columns (`pair`) when they hold a day and a
/// time of day.
fn day_and_time_form<R: Read>(
    records: &Records<R>,
    pair: &[(usize, String); 2],
) -> Option<TimeForm> {
    let [(date, _), (time, _)] = pair;
    records.get(*date).and_then(parse_day)?;
    records
        .get(*time)
        .and_then(parse_time_of_day)
        .map(|(_, form)| form)
}

/// The bar time of a record whose `date` and `time` columns hold a day and a time of day,
/// and its form, or the error naming the column that does not.
fn joined<R: Read>(
    records: &Records<R>,
    pair: &[(usize, String); 2],
    line: u64,
) -> Result<(i64, TimeForm), DataError> {
    fn part<R: Read, T>(
        records: &Records<R>,
        (column, name): &(usize, String),
        line: u64,
        parse: fn(&[u8]) -> Option<T>,
        bad: fn(String) -> DataErrorKind,
    ) -> Result<T, DataError> {
        let text = field(records, *column, name, line)?;
        parse(text).ok_or_else(|| {
            let kind = if trim(text).is_empty() {
                DataErrorKind::EmptyValue
            } else {
                bad(echo(text))
            };
            DataError::new(kind).at(line, name)
        })
    }
    let day = part(
        records,
        &pair[0],
        line,
        parse_day,
        DataErrorKind::UnparsableDate,
    )?;
    let (time, form) = part(
        records,
        &pair[1],
        line,
        parse_time_of_day,
        DataErrorKind::UnparsableTimeOfDay,
    )?;
    // Days are whole multiples of a day within the years bars accept, so no overflow.
    Ok((day.saturating_add(time), form))
}

/// The field of the record's `column` (called `name`, on `line`), at most
/// [`MAX_FIELD_BYTES`] long.
fn field<'r, R: Read>(
    records: &'r Records<R>,
    column: usize,
    name: &str,
    line: u64,
) -> Result<&'r [u8], DataError> {
    let at = |kind| DataError::new(kind).at(line, name);
    let text = records
        .get(column)
        .ok_or_else(|| at(DataErrorKind::MissingValue))?;
    if text.len() > MAX_FIELD_BYTES {
        return Err(at(DataErrorKind::FieldTooLong {
            limit: MAX_FIELD_BYTES,
        }));
    }
    Ok(text)
}

// === loading ===

const TIME_NAMES: [&str; 4] = ["date", "datetime", "time", "timestamp"];

/// Column positions resolved from the header, with the header's spelling for messages.
struct Columns {
    index: [usize; 6],
    names: [String; 6],
    has_volume: bool,
    /// A `date` column and a `time` column both present: where each is, with its spelling.
    date_and_time: Option<[(usize, String); 2]>,
}

fn resolve_columns<R: Read>(header: &Records<R>) -> Result<Columns, DataError> {
    const WANTED: [&str; 5] = ["open", "high", "low", "close", "volume"];
    let mut index = [usize::MAX; 6];
    let mut names: [String; 6] = Default::default();
    let (mut date, mut time) = (None, None);
    // The time columns' names, in lowercase.
    let mut times: Vec<Vec<u8>> = Vec::new();
    for i in 0..header.len() {
        let raw = header.get(i).unwrap_or_default();
        let name = trim(raw).to_ascii_lowercase();
        match &name[..] {
            b"date" if date.is_none() => date = Some((i, echo(trim(raw)))),
            b"time" if time.is_none() => time = Some((i, echo(trim(raw)))),
            _ => {}
        }
        let slot = if (i == 0 && name.is_empty()) || TIME_NAMES.iter().any(|t| t.as_bytes() == name)
        {
            Some(0)
        } else {
            WANTED
                .iter()
                .position(|w| w.as_bytes() == name)
                .map(|p| p + 1)
        };
        if let Some(slot) = slot {
            if index[slot] != usize::MAX {
                // Two time columns of different names (`Date` and `Time`): the first, unless
                // the records hold a day and a time of day (`date_and_time`). Of one name
                // (`date` and `Date`), neither is more the time than the other.
                if slot == 0 && !times.contains(&name) {
                    times.push(name);
                    continue;
                }
                return Err(DataError::new(DataErrorKind::DuplicateColumn(echo(raw))));
            }
            index[slot] = i;
            names[slot] = echo(trim(raw));
            if slot == 0 {
                times.push(name);
            }
        }
    }
    for (slot, name) in ["date", "open", "high", "low", "close"].iter().enumerate() {
        if index[slot] == usize::MAX {
            // One field holding another separator: the file is not comma-separated.
            let only = (header.len() == 1).then(|| header.get(0).unwrap_or_default());
            if let Some(sep) =
                only.and_then(|f| [b';', b'\t', b'|'].into_iter().find(|s| f.contains(s)))
            {
                return Err(DataError::new(DataErrorKind::NotCommaSeparated(
                    char::from(sep),
                )));
            }
            return Err(DataError::new(DataErrorKind::MissingColumn(name)));
        }
    }
    let has_volume = index[5] != usize::MAX;
    Ok(Columns {
        index,
        names,
        has_volume,
        date_and_time: date.zip(time).map(|(d, t)| [d, t]),
    })
}

/// Loads bars from CSV text, a record at a time; `size_hint` is the length of the input in
/// bytes, when known. Memory is the bars read so far and one record of at most
/// [`MAX_LINE_BYTES`], whatever the input.
pub(super) fn load<R: Read>(reader: R, size_hint: u64) -> Result<Bars, DataError> {
    let mut records = Records::new(reader);
    if !records.next()?
        || (records.len() == 1 && trim(records.get(0).unwrap_or_default()).is_empty())
    {
        return Err(DataError::new(DataErrorKind::Empty));
    }
    let header_len = records.len();
    let cols = resolve_columns(&records)?;
    let mut timestamps: Vec<i64> = Vec::new();
    let mut prices: [Vec<f64>; 4] = Default::default();
    let mut volume: Vec<f64> = Vec::new();
    let mut fingerprint = Fingerprint::default();
    // With a `date` and a `time` column: whether a bar's time is the two joined, as the
    // first record tells (a day alone beside a time of day), or the first column alone.
    let mut join = None;
    // The form of the first record's time, which every record keeps.
    let mut form = None;
    while records.next()? {
        let line = records.line;
        // A blank line reads as one empty field; skip it, as pandas does.
        if records.len() == 1
            && trim(records.get(0).unwrap_or_default()).is_empty()
            && header_len > 1
        {
            continue;
        }
        if records.len() > header_len {
            let kind = DataErrorKind::TooManyFields {
                expected: header_len,
                found: records.len(),
            };
            return Err(DataError::new(kind).at_line(line));
        }
        if timestamps.is_empty() {
            // About 48 bytes a daily bar; capped so a huge hint cannot reserve absurd
            // memory, and only once a first record has been read.
            let cap = (size_hint / 48).min(1 << 26) as usize;
            timestamps.reserve(cap);
            for column in &mut prices {
                column.reserve(cap);
            }
            if cols.has_volume {
                volume.reserve(cap);
            }
        }
        let field = |slot: usize| field(&records, cols.index[slot], &cols.names[slot], line);
        // The time, and its form, which must be the first record's.
        let (t, this) = match &cols.date_and_time {
            Some(pair) if *join.get_or_insert_with(|| holds_day_and_time(&records, pair)) => {
                joined(&records, pair, line)?
            }
            pair => {
                let raw_time = field(0)?;
                let (t, form_of_text) = parse_time_form(raw_time).ok_or_else(|| {
                    let kind = if trim(raw_time).is_empty() {
                        DataErrorKind::EmptyValue
                    } else {
                        DataErrorKind::UnparsableDate(echo(raw_time))
                    };
                    DataError::new(kind).at(line, &cols.names[0])
                })?;
                // A day beside a time of day, when the first record's `Date` held whole
                // times, would lose its time of day: another form.
                let this = match pair
                    .as_ref()
                    .and_then(|pair| day_and_time_form(&records, pair))
                {
                    Some(form) => form,
                    None => form_of_text,
                };
                (t, this)
            }
        };
        check_time(t).map_err(|k| DataError::new(k).at(line, &cols.names[0]))?;
        let first = *form.get_or_insert(this);
        if this != first {
            let kind = DataErrorKind::MixedTimeForms {
                first: first.words(),
                found: this.words(),
            };
            let column = match (&cols.date_and_time, join) {
                (Some([_, (_, time)]), Some(true)) => time,
                _ => &cols.names[0],
            };
            return Err(DataError::new(kind).at(line, column));
        }
        if let Some(&prev) = timestamps.last() {
            if t <= prev {
                return Err(DataError::new(not_increasing(prev, t)).at(line, &cols.names[0]));
            }
        }
        let mut bar = [0.0; 4];
        for (k, v) in bar.iter_mut().enumerate() {
            let slot = k + 1;
            let at = |kind| DataError::new(kind).at(line, &cols.names[slot]);
            *v = parse_number(field(slot)?).map_err(at)?;
            check_price(*v).map_err(at)?;
        }
        if bar[1] < bar[2] {
            return Err(DataError::new(high_below_low(bar[1], bar[2])).at(line, &cols.names[2]));
        }
        check_range(bar).map_err(|(kind, price)| {
            let slot = if price == "open" { 1 } else { 4 };
            DataError::new(kind).at(line, &cols.names[slot])
        })?;
        let mut v = None;
        if cols.has_volume {
            let at = |kind| DataError::new(kind).at(line, &cols.names[5]);
            let parsed = parse_number(field(5)?).map_err(at)?;
            check_volume(parsed).map_err(at)?;
            volume.push(parsed);
            v = Some(parsed);
        }
        fingerprint.push(t, bar, v);
        timestamps.push(t);
        for (column, v) in prices.iter_mut().zip(bar) {
            column.push(v);
        }
    }
    if timestamps.is_empty() {
        return Err(DataError::new(DataErrorKind::Empty));
    }
    let [open, high, low, close] = prices;
    Ok(Bars {
        timestamps,
        open,
        high,
        low,
        close,
        volume: cols.has_volume.then_some(volume),
        fingerprint: fingerprint.finish(cols.has_volume),
        calendar: OnceLock::new(),
        max_close: OnceLock::new(),
    })
}

/// [`Bars::write_csv`]: the bars as CSV that [`load`] reads back unchanged.
pub(super) fn write<W: Write>(bars: &Bars, writer: W) -> io::Result<()> {
    let mut w = BufWriter::new(writer);
    w.write_all(b"date,open,high,low,close")?;
    let header_end: &[u8] = if bars.volume.is_some() {
        b",volume\n"
    } else {
        b"\n"
    };
    w.write_all(header_end)?;
    for i in 0..bars.len() {
        write!(
            w,
            "{},{},{},{},{}",
            Timestamp::from_micros(bars.timestamps[i]),
            bars.open[i],
            bars.high[i],
            bars.low[i],
            bars.close[i]
        )?;
        match &bars.volume {
            Some(v) => writeln!(w, ",{}", v[i])?,
            None => writeln!(w)?,
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracectx::time::MICROS_PER_DAY;

    #[test]
    fn every_accepted_date_form() {
        let base = Timestamp::from_date(2017, 4, 19).unwrap().as_micros();
        let h9 = base + 9 * 3_600_000_000;
        assert_eq!(parse_time_bytes(b"2017-04-19"), Some(base));
        assert_eq!(parse_time_bytes(b" 2017-04-19 "), Some(base));
        assert_eq!(parse_time_bytes(b"2017-04-19 09:00:00"), Some(h9));
        assert_eq!(parse_time_bytes(b"2017-04-19T09:00:00Z"), Some(h9));
        assert_eq!(parse_time_bytes(b"2017-04-19T10:30:00+01:30"), Some(h9));
        assert_eq!(
            parse_time_bytes(b"2017-04-19T09:00:00.25"),
            Some(h9 + 250_000)
        );
        assert_eq!(
            parse_time_bytes(b"2017-04-19T09:00:00.1234567Z"),
            Some(h9 + 123_456)
        );
        assert_eq!(parse_time_bytes(b"1492592400"), Some(h9));
        assert_eq!(parse_time_bytes(b"1492592400000"), Some(h9));
        assert_eq!(parse_time_bytes(b"-86400"), Some(-MICROS_PER_DAY));
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
                parse_time_bytes(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
