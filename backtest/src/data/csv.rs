//! The CSV form of bars: loading with every row checked, and writing what loads back.

use std::io::{self, BufWriter, Read, Write};
use std::sync::OnceLock;

use super::error::echo;
use super::number::{parse_number, trim};
use super::{
    Bars, DataError, DataErrorKind, Fingerprint, check_price, check_time, check_volume,
    high_below_low, not_increasing,
};
use tracectx::time::{MICROS_PER_SEC, Timestamp};

// === bar times ===

/// Parses one of the date forms the CSV loader accepts: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`
/// (or with a `T`, an optional fraction, and an optional `Z` or `±HH:MM` offset, which covers
/// RFC 3339; see [`Timestamp::parse_date_time`]), or an integer number of seconds or, from
/// 10^11 in magnitude, milliseconds since the epoch. Leading and trailing spaces are ignored;
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
/// assert_eq!(parse_bar_time("2024-02-30"), None);
/// // Epoch milliseconds that parse but name the year 287,000-odd:
/// assert!(!parse_bar_time("9000000000000000").unwrap().is_in_range());
/// ```
pub fn parse_bar_time(text: &str) -> Option<Timestamp> {
    parse_time_bytes(text.as_bytes()).map(Timestamp::from_micros)
}

/// [`parse_bar_time`] of a CSV field's bytes, in microseconds since the epoch.
pub(crate) fn parse_time_bytes(text: &[u8]) -> Option<i64> {
    let text = trim(text);
    if text.len() >= 10 && text[4] == b'-' && text[7] == b'-' {
        return Timestamp::parse_date_time(text)
            .ok()
            .map(Timestamp::as_micros);
    }
    parse_epoch(text)
}

/// Epoch seconds, or milliseconds from 10^11 in magnitude.
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

// === loading ===

const TIME_NAMES: [&str; 4] = ["date", "datetime", "time", "timestamp"];

fn csv_error(e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line());
    let kind = match e.into_kind() {
        csv::ErrorKind::Io(e) => DataErrorKind::Io(e),
        other => DataErrorKind::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{other:?}"),
        )),
    };
    let mut err = DataError::new(kind);
    err.row = line;
    err
}

/// Column positions resolved from the header, with the header's spelling for messages.
struct Columns {
    index: [usize; 6],
    names: [String; 6],
    has_volume: bool,
}

fn resolve_columns(header: &csv::ByteRecord) -> Result<Columns, DataError> {
    const WANTED: [&str; 5] = ["open", "high", "low", "close", "volume"];
    let mut index = [usize::MAX; 6];
    let mut names: [String; 6] = Default::default();
    for (i, raw) in header.iter().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw)
        } else {
            raw
        };
        let name = trim(raw).to_ascii_lowercase();
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
                if slot == 0 {
                    // `Date` and `Time` both present: keep the first time column.
                    continue;
                }
                return Err(DataError::new(DataErrorKind::DuplicateColumn(echo(raw))));
            }
            index[slot] = i;
            names[slot] = echo(trim(raw));
        }
    }
    for (slot, name) in ["date", "open", "high", "low", "close"].iter().enumerate() {
        if index[slot] == usize::MAX {
            return Err(DataError::new(DataErrorKind::MissingColumn(name)));
        }
    }
    let has_volume = index[5] != usize::MAX;
    Ok(Columns {
        index,
        names,
        has_volume,
    })
}

/// Loads bars from CSV text; `size_hint` is the length of the input in bytes, when known.
pub(super) fn load<R: Read>(reader: R, size_hint: u64) -> Result<Bars, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let header = rdr.byte_headers().map_err(csv_error)?.clone();
    if header.is_empty() || (header.len() == 1 && trim(&header[0]).is_empty()) {
        return Err(DataError::new(DataErrorKind::Empty));
    }
    let cols = resolve_columns(&header)?;
    // About 48 bytes a daily bar; capped so a huge hint cannot reserve absurd memory.
    let cap = (size_hint / 48).min(1 << 26) as usize;
    let mut timestamps: Vec<i64> = Vec::with_capacity(cap);
    let mut prices: [Vec<f64>; 4] = std::array::from_fn(|_| Vec::with_capacity(cap));
    let mut volume: Vec<f64> = Vec::with_capacity(if cols.has_volume { cap } else { 0 });
    let mut fingerprint = Fingerprint::default();
    let mut record = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        // A blank line reads as one empty field; skip it, as pandas does.
        if record.len() == 1 && trim(&record[0]).is_empty() && header.len() > 1 {
            continue;
        }
        let field = |slot: usize| -> Result<&[u8], DataError> {
            record.get(cols.index[slot]).ok_or_else(|| {
                DataError::new(DataErrorKind::MissingValue).at(line, &cols.names[slot])
            })
        };
        let raw_time = field(0)?;
        let t = parse_time_bytes(raw_time).ok_or_else(|| {
            let kind = if trim(raw_time).is_empty() {
                DataErrorKind::EmptyValue
            } else {
                DataErrorKind::UnparsableDate(echo(raw_time))
            };
            DataError::new(kind).at(line, &cols.names[0])
        })?;
        check_time(t).map_err(|k| DataError::new(k).at(line, &cols.names[0]))?;
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
