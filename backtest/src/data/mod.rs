//! Columnar OHLCV bars: CSV loading, an in-memory constructor and a synthetic generator.
//!
//! [`Bars`] keeps one `Vec` per column (times as `i64` microseconds since the Unix epoch in
//! UTC, prices and volume as `f64`), so a strategy or the simulation walks contiguous memory.
//! Every constructor checks the data once; afterwards the engine can rely on it: at least one
//! bar, strictly increasing times in the years 0001 to 9999 (so that no duration overflows),
//! finite positive prices, `low <= open, close <= high`. Bad data is a
//! [`DataError`] naming the file, the line and the column; no input makes the loader panic.
//!
//! The pieces, a file each: the bars and the rules they keep (here), their errors (`error`),
//! the CSV format read and written (`csv`), prices read from text (`number`), the
//! fingerprint computed as bars are built (`fingerprint`), the synthetic series
//! (`synthetic`) and the calendar days of the bars' times (`calendar`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::OnceLock;

use crate::Timestamp;

mod calendar;
mod csv;
mod error;
mod fingerprint;
mod number;
mod synthetic;

pub(crate) use calendar::DayCursor;
#[cfg(test)]
pub(crate) use calendar::one_bar_a_day;
pub use csv::parse_bar_time;
pub use error::{DataError, DataErrorKind};

use fingerprint::Fingerprint;

// === impl Bar ===

/// One bar, as [`Bars::get`] returns it.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Bars;
/// let bars = Bars::synthetic(3, 7);
/// let bar = bars.get(2).unwrap();
/// assert_eq!(bar.close, bars.close()[2]);
/// assert!(bars.get(3).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Bar {
    /// The bar's time.
    pub timestamp: Timestamp,
    /// Opening price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Closing price.
    pub close: f64,
    /// Traded volume, when the data has a volume column.
    pub volume: Option<f64>,
}

impl Bar {
    /// A bar without volume; checked when it is added to bars ([`BarsBuilder::push`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bar, Timestamp};
    /// let bar = Bar::new(Timestamp::from_date(2024, 1, 2).unwrap(), 10.0, 11.0, 9.5, 10.5).with_volume(1_200.0);
    /// assert_eq!((bar.close, bar.volume), (10.5, Some(1_200.0)));
    /// ```
    pub fn new(timestamp: Timestamp, open: f64, high: f64, low: f64, close: f64) -> Self {
        Bar {
            timestamp,
            open,
            high,
            low,
            close,
            volume: None,
        }
    }

    /// This bar with traded volume `volume`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bar, Timestamp};
    /// let bar = Bar::new(Timestamp::from_micros(0), 1.0, 1.0, 1.0, 1.0).with_volume(5.0);
    /// assert_eq!(bar.volume, Some(5.0));
    /// ```
    #[must_use]
    pub fn with_volume(self, volume: f64) -> Self {
        Bar {
            volume: Some(volume),
            ..self
        }
    }
}

// === impl BarsBuilder ===

/// Builds [`Bars`] one bar at a time, checking each as it comes, as a live or paper session
/// receives them.
///
/// Each [`push`](Self::push) checks the bar against the same rules as [`Bars::new`] (time
/// in the years 0001 to 9999 and after the previous bar's, finite positive prices,
/// `low <= open, close <= high`, volume on every bar or on none) and refuses it with a [`DataError`] naming the 0-based bar index and the column; a
/// refused bar is not added. Pushing is amortised O(1), so a stream of a million bars costs
/// what loading them at once does.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Bar, BarsBuilder, Timestamp};
///
/// let day = 86_400_000_000;
/// let mut builder = BarsBuilder::new();
/// builder.push(Bar::new(Timestamp::from_micros(0), 10.0, 11.0, 9.0, 10.5))?;
/// builder.push(Bar::new(Timestamp::from_micros(day), 10.5, 12.0, 10.0, 11.5))?;
/// let late = builder.push(Bar::new(Timestamp::from_micros(day), 11.0, 11.0, 11.0, 11.0)).unwrap_err();
/// assert_eq!(late.row(), Some(2));
/// let bars = builder.finish()?;
/// assert_eq!(bars.close(), &[10.5, 11.5]);
/// # Ok::<(), tracectx_backtest::DataError>(())
/// ```
#[derive(Debug, Default)]
pub struct BarsBuilder {
    timestamps: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    fingerprint: Fingerprint,
}

impl BarsBuilder {
    /// No bars yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BarsBuilder;
    /// assert_eq!(BarsBuilder::new().len(), 0);
    /// ```
    pub fn new() -> Self {
        BarsBuilder::default()
    }

    /// The number of bars pushed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bar, BarsBuilder, Timestamp};
    /// let mut b = BarsBuilder::new();
    /// b.push(Bar::new(Timestamp::from_micros(0), 1.0, 1.0, 1.0, 1.0))?;
    /// assert_eq!(b.len(), 1);
    /// # Ok::<(), tracectx_backtest::DataError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether no bar was pushed yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::BarsBuilder;
    /// assert!(BarsBuilder::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The last bar pushed, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bar, BarsBuilder, Timestamp};
    /// let mut b = BarsBuilder::new();
    /// let bar = Bar::new(Timestamp::from_micros(0), 1.0, 2.0, 1.0, 2.0);
    /// b.push(bar)?;
    /// assert_eq!(b.last(), Some(bar));
    /// # Ok::<(), tracectx_backtest::DataError>(())
    /// ```
    pub fn last(&self) -> Option<Bar> {
        let i = self.len().checked_sub(1)?;
        Some(Bar {
            timestamp: Timestamp::from_micros(self.timestamps[i]),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume.get(i).copied(),
        })
    }

    /// Checks `bar` and adds it after the others.
    ///
    /// # Errors
    ///
    /// A [`DataError`] at the bar's 0-based index and column when the bar breaks a rule of
    /// [`Bars`]; the bar is then not added and the builder is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bar, BarsBuilder, DataErrorKind, Timestamp};
    /// let mut b = BarsBuilder::new();
    /// let err = b.push(Bar::new(Timestamp::from_micros(0), 1.0, 1.0, 2.0, 1.0)).unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::HighBelowLow { .. }));
    /// assert_eq!(err.to_string(), r#"invalid bar data at bar 0, column "high": high 1 below low 2"#);
    /// assert!(b.is_empty());
    /// ```
    pub fn push(&mut self, bar: Bar) -> Result<(), DataError> {
        let i = self.len();
        let at = |kind, column| DataError {
            in_memory: true,
            ..DataError::new(kind).at(i as u64, column)
        };
        let t = bar.timestamp.as_micros();
        check_time(t).map_err(|k| at(k, "timestamp"))?;
        if let Some(&prev) = self.timestamps.last() {
            if t <= prev {
                return Err(at(not_increasing(prev, t), "timestamp"));
            }
        }
        let prices = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
        ];
        for (name, v) in prices {
            check_price(v).map_err(|k| at(k, name))?;
        }
        if bar.high < bar.low {
            return Err(at(high_below_low(bar.high, bar.low), "high"));
        }
        check_range([bar.open, bar.high, bar.low, bar.close])
            .map_err(|(kind, column)| at(kind, column))?;
        match bar.volume {
            Some(v) if i == 0 || self.volume.len() == i => {
                check_volume(v).map_err(|k| at(k, "volume"))?;
                self.volume.push(v);
            }
            None if self.volume.is_empty() => {}
            _ => return Err(at(DataErrorKind::InconsistentVolume, "volume")),
        }
        self.fingerprint
            .push(t, [bar.open, bar.high, bar.low, bar.close], bar.volume);
        self.timestamps.push(t);
        self.open.push(bar.open);
        self.high.push(bar.high);
        self.low.push(bar.low);
        self.close.push(bar.close);
        Ok(())
    }

    /// The bars pushed so far.
    ///
    /// # Errors
    ///
    /// [`DataErrorKind::Empty`] when no bar was pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{BarsBuilder, DataErrorKind};
    /// let err = BarsBuilder::new().finish().unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::Empty));
    /// ```
    pub fn finish(self) -> Result<Bars, DataError> {
        if self.timestamps.is_empty() {
            return Err(DataError {
                in_memory: true,
                ..DataError::new(DataErrorKind::Empty)
            });
        }
        let has_volume = !self.volume.is_empty();
        Ok(Bars {
            timestamps: self.timestamps,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: has_volume.then_some(self.volume),
            fingerprint: self.fingerprint.finish(has_volume),
            calendar: OnceLock::new(),
            max_close: OnceLock::new(),
        })
    }
}

// === impl Bars ===

/// Columnar OHLCV bars with timestamps, checked once when built.
///
/// Times are `i64` microseconds since `1970-01-01T00:00:00Z` (the unit pandas gives dates read
/// from CSV, so durations match the reference engine to the microsecond). Every `Bars` holds
/// at least one bar, strictly increasing times from [`Timestamp::MIN`] to [`Timestamp::MAX`]
/// (the years 0001 to 9999, UTC: no difference of two bar times can overflow), finite
/// positive prices with `low <= open, close <= high`, and, when present, finite non-negative volumes.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::Bars;
///
/// let csv = "\
/// Date,Open,High,Low,Close,Volume
/// 2024-01-02,100,101,99,100.5,1200
/// 2024-01-03,100.5,103,100,102,900
/// ";
/// let bars = Bars::from_csv_reader(csv.as_bytes())?;
/// assert_eq!(bars.len(), 2);
/// assert_eq!(bars.close(), &[100.5, 102.0]);
/// assert_eq!(bars.volume(), Some(&[1200.0, 900.0][..]));
/// # Ok::<(), tracectx_backtest::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bars {
    timestamps: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Option<Vec<f64>>,
    /// [`Bars::fingerprint`]'s hash, computed as the bars are built.
    fingerprint: u64,
    /// [`Bars::weekend_bars_if_daily`], worked out once: every session of a sweep asks.
    calendar: OnceLock<Option<usize>>,
    /// [`Bars::max_close`], worked out once.
    max_close: OnceLock<f64>,
}

impl PartialEq for Bars {
    /// Equal columns (different fingerprints tell unequal bars apart without a look at them).
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
            && self.timestamps == other.timestamps
            && self.open == other.open
            && self.high == other.high
            && self.low == other.low
            && self.close == other.close
            && self.volume == other.volume
    }
}

impl Bars {
    /// The most bars [`synthetic`](Self::synthetic) makes: the weekdays from Monday
    /// 2000-01-03 to Friday 9999-12-31, the last day bars accept ([`Timestamp::MAX`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, Timestamp};
    /// assert_eq!(Bars::SYNTHETIC_MAX_BARS, 2_087_100);
    /// assert!(Bars::SYNTHETIC_MAX_BARS as i64 * 7 / 5 * 86_400_000_000 < Timestamp::MAX.as_micros());
    /// ```
    pub const SYNTHETIC_MAX_BARS: usize = 2_087_100;

    /// The most bytes a line (a record) of CSV may hold, its end of line left out: 1 MiB.
    /// The loader reads a record at a time and refuses a longer one before reading more of
    /// it ([`DataErrorKind::LineTooLong`], naming the line), so a file that is not CSV of
    /// bars (one with no newline, say) costs a mebibyte of memory, not its size.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, DataErrorKind};
    ///
    /// let mut csv = b"date,open,high,low,close\n2024-01-02,".to_vec();
    /// csv.resize(csv.len() + Bars::MAX_CSV_LINE_BYTES, b'1');
    /// let err = Bars::from_csv_reader(&csv[..]).unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::LineTooLong { .. }));
    /// assert_eq!(err.row(), Some(2));
    /// assert_eq!(err.to_string(), "invalid bar data at line 2: line longer than 1048576 bytes");
    /// ```
    pub const MAX_CSV_LINE_BYTES: usize = csv::MAX_LINE_BYTES;

    /// The most bytes a CSV field the loader reads (the time, a price, the volume) may hold:
    /// 256. Other columns are bounded by the line alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, DataErrorKind};
    ///
    /// let csv = format!("date,open,high,low,close\n2024-01-02,1,1,1,{}\n", "1".repeat(300));
    /// let err = Bars::from_csv_reader(csv.as_bytes()).unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::FieldTooLong { limit: 256 }));
    /// assert_eq!(err.to_string(), r#"invalid bar data at line 2, column "close": field longer than 256 bytes"#);
    /// ```
    pub const MAX_CSV_FIELD_BYTES: usize = csv::MAX_FIELD_BYTES;

    /// Builds bars from columns in memory, checking them as the CSV loader does (times in
    /// the years 0001 to 9999 and strictly increasing, prices finite and positive, ...).
    ///
    /// Errors name the 0-based bar index and the column (`"timestamp"`, `"open"`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, DataErrorKind};
    ///
    /// let day = 86_400_000_000; // microseconds
    /// let bars = Bars::new(vec![0, day], vec![1.0, 2.0], vec![1.5, 2.5], vec![0.5, 1.5], vec![1.2, 2.2], None)?;
    /// assert_eq!(bars.len(), 2);
    ///
    /// let err = Bars::new(vec![day, 0], vec![1.0; 2], vec![1.0; 2], vec![1.0; 2], vec![1.0; 2], None).unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::NotIncreasing { .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid bar data at bar 1, column \"timestamp\": \
    ///      timestamp 1970-01-01T00:00:00Z not after the previous 1970-01-02T00:00:00Z"
    /// );
    /// # Ok::<(), tracectx_backtest::DataError>(())
    /// ```
    pub fn new(
        timestamps: Vec<i64>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Option<Vec<f64>>,
    ) -> Result<Bars, DataError> {
        let in_memory = |e: DataError| DataError {
            in_memory: true,
            ..e
        };
        let n = timestamps.len();
        if n == 0 {
            return Err(in_memory(DataError::new(DataErrorKind::Empty)));
        }
        let columns: [(&str, Option<usize>); 5] = [
            ("open", Some(open.len())),
            ("high", Some(high.len())),
            ("low", Some(low.len())),
            ("close", Some(close.len())),
            ("volume", volume.as_ref().map(Vec::len)),
        ];
        for (name, len) in columns {
            if let Some(found) = len.filter(|&len| len != n) {
                let mut e = DataError::new(DataErrorKind::LengthMismatch { expected: n, found });
                e.column = Some(name.to_owned());
                return Err(in_memory(e));
            }
        }
        for i in 0..n {
            let row = i as u64;
            let at = |kind, column| in_memory(DataError::new(kind).at(row, column));
            check_time(timestamps[i]).map_err(|k| at(k, "timestamp"))?;
            if i > 0 && timestamps[i] <= timestamps[i - 1] {
                return Err(at(
                    not_increasing(timestamps[i - 1], timestamps[i]),
                    "timestamp",
                ));
            }
            let prices = [
                ("open", open[i]),
                ("high", high[i]),
                ("low", low[i]),
                ("close", close[i]),
            ];
            for (name, v) in prices {
                check_price(v).map_err(|k| at(k, name))?;
            }
            if high[i] < low[i] {
                return Err(at(high_below_low(high[i], low[i]), "high"));
            }
            check_range([open[i], high[i], low[i], close[i]])
                .map_err(|(kind, column)| at(kind, column))?;
            if let Some(v) = &volume {
                check_volume(v[i]).map_err(|k| at(k, "volume"))?;
            }
        }
        let fingerprint =
            Fingerprint::of_columns(&timestamps, [&open, &high, &low, &close], volume.as_deref());
        Ok(Bars {
            timestamps,
            open,
            high,
            low,
            close,
            volume,
            fingerprint,
            calendar: OnceLock::new(),
            max_close: OnceLock::new(),
        })
    }

    /// Loads bars from a CSV file; see [`from_csv_reader`](Self::from_csv_reader) for the
    /// format. Errors carry the path.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    ///
    /// let path = std::env::temp_dir().join("tracectx_doc_bars.csv");
    /// std::fs::write(&path, "time,open,high,low,close\n1700000000,1,2,1,2\n1700003600,2,3,2,3\n")?;
    /// let bars = Bars::from_csv_path(&path)?;
    /// assert_eq!(bars.timestamps()[1] - bars.timestamps()[0], 3_600_000_000);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Bars, DataError> {
        let path = path.as_ref();
        let with_file = |e: DataError| DataError {
            file: Some(path.to_owned()),
            ..e
        };
        let file = File::open(path).map_err(|e| with_file(DataError::new(DataErrorKind::Io(e))))?;
        let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
        csv::load(file, hint).map_err(with_file)
    }

    /// Loads bars from CSV text.
    ///
    /// The header names the columns, matched case-insensitively and in any order: the time
    /// (`date`, `datetime`, `time` or `timestamp`; also an unnamed first column, as pandas'
    /// `to_csv` writes an index), `open`, `high`, `low`, `close`, and optionally `volume`.
    /// A UTF-8 byte-order mark at the start of the input is skipped; a UTF-16 one is refused
    /// ([`DataErrorKind::Utf16`]).
    /// Other columns are ignored. Fields may be quoted (`"..."`, `""` for a quote inside);
    /// a record may have fewer fields than the header but not more
    /// ([`DataErrorKind::TooManyFields`]: an unquoted `1,200` would shift the columns).
    /// A line ends with `\n`, `\r\n` or a bare `\r` (as Excel's "CSV (Macintosh)" writes).
    /// The input is read a record at a time; a line longer than
    /// [`MAX_CSV_LINE_BYTES`](Self::MAX_CSV_LINE_BYTES) or a field read longer than
    /// [`MAX_CSV_FIELD_BYTES`](Self::MAX_CSV_FIELD_BYTES) is an error naming its line. Times
    /// are `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, RFC 3339, `YYYYMMDD`, or integer epoch
    /// seconds or milliseconds (see [`parse_bar_time`]), in the years 0001 to 9999 (UTC;
    /// [`DataErrorKind::TimestampOutOfRange`] otherwise). A `date` column of days
    /// (`YYYY-MM-DD`, `YYYYMMDD`) beside a `time` column of times of day (`HH:MM`,
    /// `HH:MM:SS`, `HH:MM:SS.fff`, with or without a UTC offset after it: `Z`, `-05:00`,
    /// `+0100`, `+01`), as intraday data often comes, is joined into one time, as the first
    /// record tells; then every record must hold both
    /// ([`DataErrorKind::UnparsableTimeOfDay`] otherwise). Every record's time keeps the
    /// form of the first one's (with or without a UTC offset, epoch seconds or milliseconds,
    /// a day beside a time of day with or without an offset;
    /// [`DataErrorKind::MixedTimeForms`] otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    ///
    /// let csv = ",Open,High,Low,Close\n2017-04-19 09:00:00,1.0716,1.0722,1.0708,1.0721\n";
    /// let bars = Bars::from_csv_reader(csv.as_bytes())?;
    /// assert_eq!(bars.get(0).unwrap().timestamp.to_string(), "2017-04-19T09:00:00Z");
    /// assert!(bars.volume().is_none());
    ///
    /// let csv = "Date,Time,Open,High,Low,Close\n2024-01-02,09:30,1,1,1,1\n2024-01-02,09:31,1,1,1,1\n";
    /// let bars = Bars::from_csv_reader(csv.as_bytes())?;
    /// assert_eq!(bars.get(1).unwrap().timestamp.to_string(), "2024-01-02T09:31:00Z");
    /// # Ok::<(), tracectx_backtest::DataError>(())
    /// ```
    pub fn from_csv_reader<R: Read>(reader: R) -> Result<Bars, DataError> {
        csv::load(reader, 0)
    }

    /// A deterministic synthetic series of `n` daily bars (at least one) on weekdays from
    /// Monday 2000-01-03, made from `seed`: a geometric random walk starting at 100 with
    /// about 1% daily volatility and a weak pull back towards 100 (so that a million bars
    /// stay between roughly 30 and 300), prices rounded to cents.
    ///
    /// At most [`SYNTHETIC_MAX_BARS`](Self::SYNTHETIC_MAX_BARS) bars (2,087,100, the
    /// weekdays up to Friday 9999-12-31, the last day bars accept): a larger `n` gives that
    /// many.
    ///
    /// The generator (SplitMix64 and sums of uniforms) uses only exactly rounded IEEE
    /// operations, so a seed gives the same bars on every platform and every version of this
    /// crate.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    ///
    /// let a = Bars::synthetic(1_000, 42);
    /// assert_eq!(a, Bars::synthetic(1_000, 42));
    /// assert_ne!(a, Bars::synthetic(1_000, 43));
    /// assert!(a.close().iter().all(|&c| c > 0.0));
    /// ```
    pub fn synthetic(n: usize, seed: u64) -> Bars {
        synthetic::bars(n, seed)
    }

    /// Writes the bars as CSV that [`from_csv_reader`](Self::from_csv_reader) reads back
    /// unchanged: a `date,open,high,low,close[,volume]` header, times in RFC 3339, numbers in
    /// their shortest exact form.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    ///
    /// let bars = Bars::synthetic(100, 3);
    /// let mut csv = Vec::new();
    /// bars.write_csv(&mut csv)?;
    /// assert!(csv.starts_with(b"date,open,high,low,close,volume\n2000-01-03T00:00:00Z,"));
    /// assert_eq!(Bars::from_csv_reader(&csv[..])?, bars);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_csv<W: Write>(&self, writer: W) -> io::Result<()> {
        csv::write(self, writer)
    }

    /// The number of bars (never zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert_eq!(Bars::synthetic(10, 1).len(), 10);
    /// ```
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Always `false`: every `Bars` holds at least one bar. Here for the `len` convention.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert!(!Bars::synthetic(0, 1).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Bar times, microseconds since the Unix epoch (UTC), strictly increasing.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let bars = Bars::synthetic(3, 1);
    /// assert!(bars.timestamps().windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub fn timestamps(&self) -> &[i64] {
        &self.timestamps
    }

    /// Opening prices.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert_eq!(Bars::synthetic(5, 1).open().len(), 5);
    /// ```
    pub fn open(&self) -> &[f64] {
        &self.open
    }

    /// Highest prices.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let bars = Bars::synthetic(5, 1);
    /// assert!(bars.high().iter().zip(bars.low()).all(|(h, l)| h >= l));
    /// ```
    pub fn high(&self) -> &[f64] {
        &self.high
    }

    /// Lowest prices.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert!(Bars::synthetic(5, 1).low().iter().all(|&l| l > 0.0));
    /// ```
    pub fn low(&self) -> &[f64] {
        &self.low
    }

    /// Closing prices.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert_eq!(Bars::synthetic(5, 1).close().len(), 5);
    /// ```
    pub fn close(&self) -> &[f64] {
        &self.close
    }

    /// Volumes, when the data has a volume column.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// assert!(Bars::synthetic(5, 1).volume().is_some());
    /// ```
    pub fn volume(&self) -> Option<&[f64]> {
        self.volume.as_deref()
    }

    /// Bar `i`, or `None` past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let bars = Bars::synthetic(2, 1);
    /// assert_eq!(bars.get(0).unwrap().open, bars.open()[0]);
    /// ```
    pub fn get(&self, i: usize) -> Option<Bar> {
        Some(Bar {
            timestamp: Timestamp::from_micros(*self.timestamps.get(i)?),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume.as_ref().map(|v| v[i]),
        })
    }

    /// A fingerprint of the data: 16 hex characters of a 64-bit hash over every column's
    /// bits (each column in four interleaved lanes of an FxHash-style multiply-rotate over
    /// 64-bit words, then the lanes, the number of bars and whether there is volume folded
    /// together and mixed by the SplitMix64 finalizer). Equal data gives equal fingerprints on
    /// every platform; it tells runs on different data apart in result metadata. It is not a
    /// cryptographic hash. It is computed as the bars are built (row by row while a CSV file
    /// is parsed or bars are pushed, column by column once [`new`](Self::new) has checked
    /// them), so a session never reads the data again for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let a = Bars::synthetic(100, 1);
    /// assert_eq!(a.fingerprint(), a.clone().fingerprint());
    /// assert_eq!(a.fingerprint().len(), 16);
    /// assert_ne!(a.fingerprint(), Bars::synthetic(100, 2).fingerprint());
    /// // The same bars from CSV text have the same fingerprint.
    /// let mut csv = Vec::new();
    /// a.write_csv(&mut csv)?;
    /// assert_eq!(Bars::from_csv_reader(&csv[..])?.fingerprint(), a.fingerprint());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }

    /// The highest close, worked out on the first question and kept.
    pub(crate) fn max_close(&self) -> f64 {
        *self
            .max_close
            .get_or_init(|| self.close.iter().fold(0.0, |m: f64, &c| m.max(c)))
    }

    /// The number of bars on a Saturday or Sunday when every bar is on a calendar day (UTC)
    /// of its own, else `None`: what the statistics ask of the times alone, worked out on the
    /// first question and kept.
    pub(crate) fn weekend_bars_if_daily(&self) -> Option<usize> {
        *self
            .calendar
            .get_or_init(|| calendar::one_bar_a_day(&self.timestamps))
    }
}

// === checks ===

fn check_time(t: i64) -> Result<(), DataErrorKind> {
    let t = Timestamp::from_micros(t);
    if t.is_in_range() {
        Ok(())
    } else {
        Err(DataErrorKind::TimestampOutOfRange(t))
    }
}

fn check_price(v: f64) -> Result<(), DataErrorKind> {
    if v.is_nan() {
        Err(DataErrorKind::NanPrice)
    } else if v.is_infinite() {
        Err(DataErrorKind::InfinitePrice)
    } else if v <= 0.0 {
        Err(DataErrorKind::NonPositivePrice(v))
    } else {
        Ok(())
    }
}

fn check_volume(v: f64) -> Result<(), DataErrorKind> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(DataErrorKind::InvalidVolume(v))
    }
}

/// Checks `low <= open <= high` and `low <= close <= high` of a bar whose `high >= low`;
/// the error names the price's column.
fn check_range([open, high, low, close]: [f64; 4]) -> Result<(), (DataErrorKind, &'static str)> {
    for (price, value) in [("open", open), ("close", close)] {
        if !(low <= value && value <= high) {
            return Err((
                DataErrorKind::OutsideRange {
                    price,
                    value,
                    low,
                    high,
                },
                price,
            ));
        }
    }
    Ok(())
}

fn high_below_low(high: f64, low: f64) -> DataErrorKind {
    DataErrorKind::HighBelowLow { high, low }
}

fn not_increasing(previous: i64, current: i64) -> DataErrorKind {
    DataErrorKind::NotIncreasing {
        previous: Timestamp::from_micros(previous),
        current: Timestamp::from_micros(current),
    }
}
