//! Bad bar data: what was wrong, and where.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::Timestamp;
use crate::quote::Number;

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
    pub(super) file: Option<PathBuf>,
    pub(super) in_memory: bool,
    pub(super) row: Option<u64>,
    pub(super) column: Option<String>,
    pub(super) kind: DataErrorKind,
}

/// What was wrong with bar data; see [`DataError::kind`].
///
/// # Examples
///
/// ```
/// use tracectx_backtest::{Bars, DataErrorKind};
///
/// let err = Bars::from_csv_reader("Date,Open,High,Low,Close\n".as_bytes()).unwrap_err();
/// assert!(matches!(err.kind(), DataErrorKind::Empty));
/// assert_eq!(err.kind().to_string(), "no bars");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
    /// There were no bars: an empty file, or a header and nothing else.
    #[error("no bars")]
    Empty,
    /// The input starts with a UTF-16 byte-order mark (as Windows PowerShell's `>` and
    /// spreadsheets' "Unicode text" write): the loader reads UTF-8 (or ASCII) text.
    #[error("UTF-16 text (byte-order mark), expected UTF-8")]
    Utf16,
    /// A required column is absent from the header: `open`, `high`, `low`, `close`, or
    /// `date` for the time column, whichever of its names the header would give it.
    #[error("{}", missing_column(.0))]
    MissingColumn(&'static str),
    /// The header is one field holding a semicolon, a tab or a bar: the file separates its
    /// fields with that character (as spreadsheets set to some locales export CSV), while the
    /// loader reads comma-separated values.
    #[error("the header is one column holding {0:?}: separate the fields with commas")]
    NotCommaSeparated(char),
    /// Two header fields name the same column.
    #[error("column {0:?} appears twice")]
    DuplicateColumn(String),
    /// A line (a record) is longer than the loader reads, its end of line left out: the
    /// file is not CSV of bars (a file with no newline, say). The error names the line it
    /// starts on.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The most bytes a line may hold ([`Bars::MAX_CSV_LINE_BYTES`](crate::Bars::MAX_CSV_LINE_BYTES)).
        limit: usize,
    },
    /// A field of a column the loader reads (the time, a price, the volume) is longer than
    /// any such value.
    #[error("field longer than {limit} bytes")]
    FieldTooLong {
        /// The most bytes such a field may hold ([`Bars::MAX_CSV_FIELD_BYTES`](crate::Bars::MAX_CSV_FIELD_BYTES)).
        limit: usize,
    },
    /// A quoted field is still open at the end of the input.
    #[error("quoted field not closed before the end of the input")]
    UnterminatedQuote,
    /// A record has more fields than the header: a separator inside an unquoted value
    /// (`1,200`) would shift every later column, so the record is refused rather than read
    /// with its tail dropped.
    #[error("{found} fields, the header has {expected}")]
    TooManyFields {
        /// The number of fields of the header.
        expected: usize,
        /// The number of fields of the record.
        found: usize,
    },
    /// A record has fewer fields than the header, so a column has no value.
    #[error("missing value")]
    MissingValue,
    /// A field is empty.
    #[error("empty value")]
    EmptyValue,
    /// A field is not a number.
    #[error("unparsable number {0:?}")]
    UnparsableNumber(String),
    /// A field is not a date in an accepted form (see [`parse_bar_time`](crate::parse_bar_time)),
    /// or, where a `Date` and a `Time` column are joined, not a day alone (`YYYY-MM-DD` or
    /// `YYYYMMDD`).
    #[error("unparsable date {0:?}")]
    UnparsableDate(String),
    /// Where a `Date` and a `Time` column are joined, a `Time` field is not a time of day
    /// (`HH:MM`, `HH:MM:SS`, `HH:MM:SS.fff`, each with or without a UTC offset: `Z`,
    /// `+HH:MM`, `-HHMM`, `+HH`).
    #[error("unparsable time of day {0:?}")]
    UnparsableTimeOfDay(String),
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
    #[error("non-positive price {}", Number(*.0))]
    NonPositivePrice(f64),
    /// A volume is NaN, infinite or negative.
    #[error("invalid volume {}", Number(*.0))]
    InvalidVolume(f64),
    /// A bar's high is below its low.
    #[error("high {} below low {}", Number(*.high), Number(*.low))]
    HighBelowLow {
        /// The bar's high.
        high: f64,
        /// The bar's low.
        low: f64,
    },
    /// A bar's open or close lies outside its low to high range.
    #[error(
        "{price} {} outside the bar's range from low {} to high {}",
        Number(*.value),
        Number(*.low),
        Number(*.high)
    )]
    OutsideRange {
        /// Which price: `"open"` or `"close"`.
        price: &'static str,
        /// The price.
        value: f64,
        /// The bar's low.
        low: f64,
        /// The bar's high.
        high: f64,
    },
    /// A bar's time is not after the previous bar's.
    #[error("timestamp {current} not after the previous {previous}")]
    NotIncreasing {
        /// The previous bar's time.
        previous: Timestamp,
        /// This bar's time.
        current: Timestamp,
    },
    /// A record's time is written in another form than the first record's: without a UTC
    /// offset after one with it (or the other way round), epoch seconds or milliseconds after
    /// dates or after each other, or a day beside a time of day in a `Date` and a `Time`
    /// column after whole times. Each form alone is read, but a column that mixes them is
    /// ambiguous (is a time without an offset UTC, or local?), so, as pandas reads a column in
    /// the form of its first date, the loader refuses the first record of another form.
    #[error("{found} after {first} on the first bar: write every time in one form")]
    MixedTimeForms {
        /// The form of the first record's time, in words.
        first: &'static str,
        /// The form of this record's time, in words.
        found: &'static str,
    },
    /// Some bars have a volume and others do not (bars pushed one at a time; see
    /// [`BarsBuilder`](super::BarsBuilder)).
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

/// What [`DataErrorKind::MissingColumn`] says: the time column by every name the loader
/// takes for it, so that a header naming it otherwise (`day`) is put right at once.
fn missing_column(name: &str) -> String {
    if name == "date" {
        "missing time column: expected one named date, datetime, time or timestamp (or a first \
         column with no name)"
            .to_owned()
    } else {
        format!("missing column {name:?}")
    }
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

    pub(super) fn new(kind: DataErrorKind) -> Self {
        DataError {
            file: None,
            in_memory: false,
            row: None,
            column: None,
            kind,
        }
    }

    /// This error at line `line` of a file, in no column in particular.
    pub(super) fn at_line(mut self, line: u64) -> Self {
        self.row = Some(line);
        self
    }

    pub(super) fn at(mut self, row: u64, column: &str) -> Self {
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

/// Up to 40 characters of a field, for an error message.
pub(super) fn echo(field: &[u8]) -> String {
    String::from_utf8_lossy(field).chars().take(40).collect()
}
