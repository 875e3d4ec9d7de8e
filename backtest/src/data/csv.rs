//! The CSV form of bars: loading with every row checked, and writing what loads back.

use std::io::{self, BufWriter, Read, Write};
use std::sync::OnceLock;

use super::error::echo;
use super::number::parse_number;
use super::{
    Bars, DataError, DataErrorKind, Fingerprint, check_price, check_time, check_volume,
    high_below_low, not_increasing,
};
use crate::Timestamp;
use crate::time::{parse_timestamp, trim};

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
        let t = parse_timestamp(raw_time).ok_or_else(|| {
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
