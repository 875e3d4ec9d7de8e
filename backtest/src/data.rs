//! Columnar OHLCV bars: CSV loading, an in-memory constructor and a synthetic generator.
//!
//! [`Bars`] keeps one `Vec` per column (times as `i64` microseconds since the Unix epoch in
//! UTC, prices and volume as `f64`), so a strategy or the simulation walks contiguous memory.
//! Every constructor checks the data once; afterwards the engine can rely on it: at least one
//! bar, strictly increasing times in the years 0001 to 9999 (so that no duration overflows),
//! finite positive prices, `high >= low`. Bad data is a
//! [`DataError`] naming the file, the line and the column; no input makes the loader panic.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::Timestamp;
use super::time::{MICROS_PER_DAY, parse_timestamp, trim};

// === impl DataError ===

/// Bad bar data: what was wrong and where (file, line or bar, column).
///
/// For data read from a file or reader, [`row`](Self::row) is the 1-based line of the record
/// (the header is line 1); for data built in memory it is the 0-based bar index.
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Bars, DataErrorKind};
///
/// let csv = "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10.5\n2024-01-03,10,9,11,10\n";
/// let err = Bars::from_csv_reader(csv.as_bytes()).unwrap_err();
/// assert_eq!(err.row(), Some(3));
/// assert_eq!(err.column(), Some("High"));
/// assert!(matches!(err.kind(), DataErrorKind::HighBelowLow { .. }));
/// assert_eq!(err.to_string(), r#"invalid bar data at line 3, column "High": high 9 below low 11"#);
/// ```
#[derive(Debug)]
pub struct DataError {
    file: Option<PathBuf>,
    in_memory: bool,
    row: Option<u64>,
    column: Option<String>,
    kind: DataErrorKind,
}

/// What was wrong with bar data; see [`DataError::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
    /// There were no bars: an empty file, or a header and nothing else.
    #[error("no bars")]
    Empty,
    /// A required column is absent from the header.
    #[error("missing column {0:?}")]
    MissingColumn(&'static str),
    /// Two header fields name the same column.
    #[error("column {0:?} appears twice")]
    DuplicateColumn(String),
    /// A record has fewer fields than the header, so a column has no value.
    #[error("missing value")]
    MissingValue,
    /// A field is empty.
    #[error("empty value")]
    EmptyValue,
    /// A field is not a number.
    #[error("unparsable number {0:?}")]
    UnparsableNumber(String),
    /// A field is not a date in an accepted form (see [`Timestamp::parse`]).
    #[error("unparsable date {0:?}")]
    UnparsableDate(String),
    /// A time before the year 1 or after the year 9999 (UTC), outside
    /// [`Timestamp::MIN`]`..=`[`Timestamp::MAX`]: durations between such times could
    /// overflow, so bars refuse them.
    #[error("timestamp {0} outside the years 0001 to 9999")]
    TimestampOutOfRange(Timestamp),
    /// A price is NaN.
    #[error("price is NaN")]
    NanPrice,
    /// A price is infinite.
    #[error("price is infinite")]
    InfinitePrice,
    /// A price is zero or negative.
    #[error("non-positive price {0}")]
    NonPositivePrice(f64),
    /// A volume is NaN, infinite or negative.
    #[error("invalid volume {0}")]
    InvalidVolume(f64),
    /// A bar's high is below its low.
    #[error("high {high} below low {low}")]
    HighBelowLow {
        /// The bar's high.
        high: f64,
        /// The bar's low.
        low: f64,
    },
    /// A bar's time is not after the previous bar's.
    #[error("timestamp {current} not after the previous {previous}")]
    NotIncreasing {
        /// The previous bar's time.
        previous: Timestamp,
        /// This bar's time.
        current: Timestamp,
    },
    /// Some bars have a volume and others do not (bars pushed one at a time; see
    /// [`BarsBuilder`]).
    #[error("volume given on some bars and not on others")]
    InconsistentVolume,
    /// In-memory columns of different lengths.
    #[error("{found} values, expected {expected} like the timestamps")]
    LengthMismatch {
        /// The number of timestamps.
        expected: usize,
        /// The number of values in this column.
        found: usize,
    },
}

impl DataError {
    /// What was wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::{Bars, DataErrorKind};
    /// let err = Bars::from_csv_reader(&b""[..]).unwrap_err();
    /// assert!(matches!(err.kind(), DataErrorKind::Empty));
    /// ```
    pub fn kind(&self) -> &DataErrorKind {
        &self.kind
    }

    /// The file the data came from, when it came from a path.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let err = Bars::from_csv_path("no/such/file.csv").unwrap_err();
    /// assert_eq!(err.file().unwrap().to_str(), Some("no/such/file.csv"));
    /// ```
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line of the record in a file, or the 0-based bar index for data built in
    /// memory; `None` when the problem is not in one record (a missing column, no bars).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let err = Bars::new(vec![0, 1], vec![1.0, 1.0], vec![1.0, 1.0], vec![1.0, 1.0], vec![1.0, f64::NAN], None)
    ///     .unwrap_err();
    /// assert_eq!(err.row(), Some(1));
    /// ```
    pub fn row(&self) -> Option<u64> {
        self.row
    }

    /// The column, as the header spells it (lowercase for data built in memory).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx_backtest::Bars;
    /// let err = Bars::from_csv_reader(&b"date,open,high,low\n2024-01-01,1,1,1\n"[..]).unwrap_err();
    /// assert_eq!(err.column(), None);
    /// assert_eq!(err.to_string(), r#"invalid bar data: missing column "close""#);
    /// ```
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    fn new(kind: DataErrorKind) -> Self {
        DataError {
            file: None,
            in_memory: false,
            row: None,
            column: None,
            kind,
        }
    }

    fn at(mut self, row: u64, column: &str) -> Self {
        self.row = Some(row);
        self.column = Some(column.to_owned());
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid bar data")?;
        if let Some(file) = &self.file {
            write!(f, " in {:?}", file.display().to_string())?;
        }
        if let Some(row) = self.row {
            let what = if self.in_memory { "bar" } else { "line" };
            write!(f, " at {what} {row}")?;
        }
        if let Some(column) = &self.column {
            let sep = if self.row.is_some() { "," } else { " in" };
            write!(f, "{sep} column {column:?}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DataErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

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
    /// let bar = Bar::new(Timestamp::parse("2024-01-02").unwrap(), 10.0, 11.0, 9.5, 10.5).with_volume(1_200.0);
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
/// in the years 0001 to 9999 and after the previous bar's, finite positive prices, `high >= low`, volume on every bar or on
/// none) and refuses it with a [`DataError`] naming the 0-based bar index and the column; a
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
/// positive prices with `high >= low`, and, when present, finite non-negative volumes.
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
        load_csv(file, hint).map_err(with_file)
    }

    /// Loads bars from CSV text.
    ///
    /// The header names the columns, matched case-insensitively and in any order: the time
    /// (`date`, `datetime`, `time` or `timestamp`; also an unnamed first column, as pandas'
    /// `to_csv` writes an index), `open`, `high`, `low`, `close`, and optionally `volume`.
    /// Other columns are ignored. Times are `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, RFC 3339, or
    /// integer epoch seconds or milliseconds (see [`Timestamp::parse`]), in the years 0001 to
    /// 9999 (UTC; [`DataErrorKind::TimestampOutOfRange`] otherwise).
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
    /// # Ok::<(), tracectx_backtest::DataError>(())
    /// ```
    pub fn from_csv_reader<R: Read>(reader: R) -> Result<Bars, DataError> {
        load_csv(reader, 0)
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
        let n = n.clamp(1, Bars::SYNTHETIC_MAX_BARS);
        let mut rng = SplitMix64(seed);
        // Sum of four uniforms, centred and scaled to unit variance.
        let mut normal = || {
            let s: f64 = (0..4).map(|_| rng.next_f64()).sum();
            (s - 2.0) * 3f64.sqrt()
        };
        let cents = |x: f64| ((x * 100.0).round() / 100.0).max(0.01);
        let mut timestamps = Vec::with_capacity(n);
        let mut open = Vec::with_capacity(n);
        let mut high = Vec::with_capacity(n);
        let mut low = Vec::with_capacity(n);
        let mut close = Vec::with_capacity(n);
        let mut volume = Vec::with_capacity(n);
        // Monday 2000-01-03.
        let mut day = super::time::days_from_civil(2000, 1, 3);
        let mut last = 100.0_f64;
        for _ in 0..n {
            timestamps.push(day * MICROS_PER_DAY);
            day += if super::time::weekday(day) == 4 { 3 } else { 1 };
            // A weak pull towards 100 keeps long series in a realistic range (a pure
            // geometric walk drifts to zero or to the moon over a million bars).
            let pull = 0.001 * (100.0 / last - 1.0);
            let o = cents(last * (1.0 + 0.002 * normal()));
            let c = cents(o * (1.0 + 0.01 * normal() + pull));
            let h = cents(o.max(c) * (1.0 + 0.004 * normal().abs()));
            let l = cents(o.min(c) * (1.0 - 0.004 * normal().abs()).max(0.5));
            open.push(o);
            high.push(h.max(o).max(c));
            low.push(l.min(o).min(c));
            close.push(c);
            volume.push((1_000_000.0 * (1.0 + 0.3 * normal()).max(0.05)).round());
            last = c;
        }
        let fingerprint =
            Fingerprint::of_columns(&timestamps, [&open, &high, &low, &close], Some(&volume));
        Bars {
            timestamps,
            open,
            high,
            low,
            close,
            volume: Some(volume),
            fingerprint,
            calendar: OnceLock::new(),
        }
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
        let mut w = BufWriter::new(writer);
        w.write_all(b"date,open,high,low,close")?;
        let header_end: &[u8] = if self.volume.is_some() {
            b",volume\n"
        } else {
            b"\n"
        };
        w.write_all(header_end)?;
        for i in 0..self.len() {
            write!(
                w,
                "{},{},{},{},{}",
                Timestamp::from_micros(self.timestamps[i]),
                self.open[i],
                self.high[i],
                self.low[i],
                self.close[i]
            )?;
            match &self.volume {
                Some(v) => writeln!(w, ",{}", v[i])?,
                None => writeln!(w)?,
            }
        }
        w.flush()
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

    /// The number of bars on a Saturday or Sunday when every bar is on a calendar day (UTC)
    /// of its own, else `None`: what the statistics ask of the times alone, worked out on the
    /// first question and kept.
    pub(crate) fn weekend_bars_if_daily(&self) -> Option<usize> {
        *self
            .calendar
            .get_or_init(|| super::stats::one_bar_a_day(&self.timestamps))
    }
}

// === fingerprint ===

/// [`Bars::fingerprint`]'s hash, fed a bar at a time ([`push`](Self::push)) or a column at a
/// time ([`of_columns`](Self::of_columns)), with the same result: column `c`'s value `i`
/// goes into its lane `i % 4` (independent lanes, so that the multiplications overlap).
#[derive(Debug, Clone)]
struct Fingerprint {
    /// The lanes of the time, open, high, low, close and volume columns.
    lanes: [[u64; 4]; 6],
    rows: u64,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            lanes: std::array::from_fn(|c| std::array::from_fn(|k| (4 * c + k) as u64)),
            rows: 0,
        }
    }
}

impl Fingerprint {
    /// Adds one bar (a missing volume adds nothing that [`finish`](Self::finish) without
    /// volume reads).
    #[inline]
    fn push(&mut self, time: i64, prices: [f64; 4], volume: Option<f64>) {
        let k = (self.rows % 4) as usize;
        let [o, h, l, c] = prices.map(f64::to_bits);
        let words = [time as u64, o, h, l, c, volume.map_or(0, f64::to_bits)];
        for (lanes, word) in self.lanes.iter_mut().zip(words) {
            lanes[k] = fx_step(lanes[k], word);
        }
        self.rows += 1;
    }

    /// The hash of whole columns of equal length.
    fn of_columns(times: &[i64], prices: [&[f64]; 4], volume: Option<&[f64]>) -> u64 {
        let mut f = Fingerprint::default();
        f.lanes[0] = fx_column(f.lanes[0], times, |t| t as u64);
        for (lanes, column) in f.lanes[1..].iter_mut().zip(prices) {
            *lanes = fx_column(*lanes, column, f64::to_bits);
        }
        if let Some(v) = volume {
            f.lanes[5] = fx_column(f.lanes[5], v, f64::to_bits);
        }
        f.rows = times.len() as u64;
        f.finish(volume.is_some())
    }

    fn finish(&self, has_volume: bool) -> u64 {
        let columns = if has_volume { 6 } else { 5 };
        let mut h = fx_step(u64::from(has_volume), self.rows);
        for &lane in self.lanes[..columns].iter().flatten() {
            h = fx_step(h, lane);
        }
        // SplitMix64's finalizer, so that every input bit reaches every output bit.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

fn fx_step(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Hashes a column into four lanes, value `i` into lane `i % 4`.
fn fx_column<T: Copy>(mut lanes: [u64; 4], values: &[T], bits: impl Fn(T) -> u64) -> [u64; 4] {
    let chunks = values.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = fx_step(*lane, bits(v));
        }
    }
    for (lane, &v) in lanes.iter_mut().zip(rest) {
        *lane = fx_step(*lane, bits(v));
    }
    lanes
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

fn high_below_low(high: f64, low: f64) -> DataErrorKind {
    DataErrorKind::HighBelowLow { high, low }
}

fn not_increasing(previous: i64, current: i64) -> DataErrorKind {
    DataErrorKind::NotIncreasing {
        previous: Timestamp::from_micros(previous),
        current: Timestamp::from_micros(current),
    }
}

// === CSV ===

const TIME_NAMES: [&str; 4] = ["date", "datetime", "time", "timestamp"];

/// Up to 40 characters of a field, for an error message.
fn echo(field: &[u8]) -> String {
    String::from_utf8_lossy(field).chars().take(40).collect()
}

/// Exact powers of ten up to the largest one an `f64` holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The common case of a price, `[+-]digits[.digits]` with at most 2^53 as the digits read
/// as an integer and at most 22 decimals, parsed without the general algorithm: an exact
/// integer divided by an exact power of ten is correctly rounded (Clinger's fast path), so
/// the result is the one `str::parse` gives. `None` for anything else.
fn parse_plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut decimals = 0usize;
    let mut seen_dot = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                if count == 18 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
                decimals += usize::from(seen_dot);
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if count == 0 || mantissa > 1 << 53 || decimals >= POW10.len() {
        return None;
    }
    let v = mantissa as f64 / POW10[decimals];
    Some(if negative { -v } else { v })
}

fn parse_number(field: &[u8]) -> Result<f64, DataErrorKind> {
    let text = trim(field);
    if text.is_empty() {
        return Err(DataErrorKind::EmptyValue);
    }
    if let Some(v) = parse_plain_decimal(text) {
        return Ok(v);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| DataErrorKind::UnparsableNumber(echo(field)))
}

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

fn load_csv<R: Read>(reader: R, size_hint: u64) -> Result<Bars, DataError> {
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

// === synthetic data ===

/// SplitMix64: a tiny, well-mixed, exactly specified generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_parse_as_std_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let int = state >> 40;
            let decimals = (state >> 8) % 12;
            let text = format!("{}", int as f64 / 10f64.powi(decimals as i32));
            let text = format!("{text}{}", "0".repeat((state % 3) as usize));
            let text = if text.contains('.') {
                text
            } else {
                format!("{text}.5")
            };
            assert_eq!(
                parse_number(text.as_bytes()).unwrap(),
                text.parse::<f64>().unwrap(),
                "{text}"
            );
        }
        for text in [
            "0",
            "-0",
            "+1.5",
            "1.",
            ".5",
            "007",
            "123456789012345678",
            "9007199254740993",
        ] {
            let std: f64 = text.parse().unwrap();
            assert_eq!(
                parse_number(text.as_bytes()).unwrap().to_bits(),
                std.to_bits(),
                "{text}"
            );
        }
        for text in ["1e5", "-", ".", "1.2.3", "nan", "1_0"] {
            assert!(parse_plain_decimal(text.as_bytes()).is_none(), "{text}");
        }
    }
}
