//! Bars: CSV loading (header matching, date forms), the in-memory constructor, the synthetic
//! generator, and a typed error with file, line and column for each kind of bad data.
#![cfg(feature = "backtest")]

use std::path::PathBuf;

use tracectx::backtest::{Bars, DataError, DataErrorKind, Timestamp};

const DAY: i64 = 86_400_000_000;

fn load(csv: &str) -> Result<Bars, DataError> {
    Bars::from_csv_reader(csv.as_bytes())
}

fn err(csv: &str) -> DataError {
    load(csv).expect_err("bad data was accepted")
}

fn ts(text: &str) -> i64 {
    Timestamp::parse(text).unwrap().as_micros()
}

const GOOD: &str = "Date,Open,High,Low,Close,Volume\n\
                    2024-01-02,100,101,99,100.5,1200\n\
                    2024-01-03,100.5,103,100,102,900\n";

// === loading ===

#[test]
fn loads_columns_in_any_order_and_case() {
    let bars = load(
        "VOLUME,close,LOW,High,open,DATE,extra\n\
         1200,100.5,99,101,100,2024-01-02,x\n\
         900,102,100,103,100.5,2024-01-03,y\n",
    )
    .unwrap();
    assert_eq!(bars, load(GOOD).unwrap());
    assert_eq!(bars.open(), &[100.0, 100.5]);
    assert_eq!(bars.high(), &[101.0, 103.0]);
    assert_eq!(bars.low(), &[99.0, 100.0]);
    assert_eq!(bars.timestamps(), &[ts("2024-01-02"), ts("2024-01-03")]);
}

#[test]
fn volume_is_optional() {
    let bars = load("date,open,high,low,close\n2024-01-02,1,1,1,1\n").unwrap();
    assert_eq!(bars.volume(), None);
    assert_eq!(bars.get(0).unwrap().volume, None);
}

#[test]
fn accepts_every_date_form() {
    let day = ts("2024-01-02");
    for (header, value, expected) in [
        ("date", "2024-01-02", day),
        (
            "datetime",
            "2024-01-02 09:30:00",
            day + 9 * 3_600_000_000 + 30 * 60_000_000,
        ),
        ("time", "2024-01-02T09:30:00Z", day + 34_200_000_000),
        (
            "timestamp",
            "2024-01-02T10:30:00.5+01:00",
            day + 34_200_500_000,
        ),
        ("Date", "1704153600", day),
        ("Date", "1704153600000", day),
    ] {
        let bars = load(&format!("{header},open,high,low,close\n{value},1,1,1,1\n")).unwrap();
        assert_eq!(bars.timestamps(), &[expected], "{value}");
    }
}

#[test]
fn accepts_pandas_index_column_bom_quotes_and_crlf() {
    let bars = load(
        "\u{feff},Open,High,Low,Close\r\n\"2017-04-19 09:00:00\",\"1.0716\",1.0722,1.07083,1.07219\r\n\r\n",
    )
    .unwrap();
    assert_eq!(bars.len(), 1);
    assert_eq!(bars.close(), &[1.07219]);
    assert_eq!(
        bars.get(0).unwrap().timestamp.to_string(),
        "2017-04-19T09:00:00Z"
    );
}

#[test]
fn loads_from_a_path() {
    let path = temp("good.csv", GOOD);
    let bars = Bars::from_csv_path(&path).unwrap();
    assert_eq!(bars.len(), 2);
    std::fs::remove_file(path).unwrap();
}

fn temp(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tracectx_test_{}_{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

// === bad data: one typed error each, with where ===

#[test]
fn missing_column() {
    let e = err("date,open,high,close\n2024-01-02,1,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::MissingColumn("low")));
    assert_eq!((e.row(), e.column()), (None, None));
    assert_eq!(e.to_string(), r#"invalid bar data: missing column "low""#);
    let e = err("open,high,low,close\n1,1,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::MissingColumn("date")));
}

#[test]
fn duplicate_column() {
    let e = err("date,open,high,low,close,Close\n2024-01-02,1,1,1,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::DuplicateColumn(c) if c == "Close"));
}

#[test]
fn unparsable_number() {
    let e = err("date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-03,1,1.2.3,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::UnparsableNumber(t) if t == "1.2.3"));
    assert_eq!((e.row(), e.column()), (Some(3), Some("high")));
    assert_eq!(
        e.to_string(),
        r#"invalid bar data at line 3, column "high": unparsable number "1.2.3""#
    );
}

#[test]
fn empty_and_missing_values() {
    let e = err("date,open,high,low,close\n2024-01-02,1,,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::EmptyValue));
    assert_eq!(e.column(), Some("high"));
    let e = err("date,open,high,low,close\n2024-01-02,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::MissingValue));
    assert_eq!((e.row(), e.column()), (Some(2), Some("low")));
}

#[test]
fn unparsable_date() {
    for bad in [
        "2024-13-01",
        "2024-02-30",
        "02/01/2024",
        "2024-01-02 25:00:00",
        "yesterday",
    ] {
        let e = err(&format!("date,open,high,low,close\n{bad},1,1,1,1\n"));
        assert!(
            matches!(e.kind(), DataErrorKind::UnparsableDate(t) if t == bad),
            "{bad}"
        );
        assert_eq!((e.row(), e.column()), (Some(2), Some("date")));
    }
}

#[test]
fn nan_price() {
    let e = err("date,open,high,low,close\n2024-01-02,1,1,1,NaN\n");
    assert!(matches!(e.kind(), DataErrorKind::NanPrice));
    assert_eq!(e.column(), Some("close"));
}

#[test]
fn infinite_price() {
    let e = err("date,open,high,low,close\n2024-01-02,inf,1,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::InfinitePrice));
}

#[test]
fn non_positive_price() {
    let e = err("date,open,high,low,close\n2024-01-02,1,1,0,1\n");
    assert!(matches!(e.kind(), DataErrorKind::NonPositivePrice(v) if *v == 0.0));
    assert_eq!(e.column(), Some("low"));
    let e = err("date,open,high,low,close\n2024-01-02,-3,1,1,1\n");
    assert!(matches!(e.kind(), DataErrorKind::NonPositivePrice(v) if *v == -3.0));
    assert_eq!(
        e.to_string(),
        r#"invalid bar data at line 2, column "open": non-positive price -3"#
    );
}

#[test]
fn high_below_low() {
    let e = err("date,open,high,low,close\n2024-01-02,10,9,11,10\n");
    assert!(
        matches!(e.kind(), DataErrorKind::HighBelowLow { high, low } if *high == 9.0 && *low == 11.0)
    );
    assert_eq!((e.row(), e.column()), (Some(2), Some("high")));
}

#[test]
fn invalid_volume() {
    let e = err("date,open,high,low,close,volume\n2024-01-02,1,1,1,1,-5\n");
    assert!(matches!(e.kind(), DataErrorKind::InvalidVolume(v) if *v == -5.0));
    assert_eq!(e.column(), Some("volume"));
}

#[test]
fn timestamps_not_strictly_increasing() {
    for second in ["2024-01-02", "2024-01-01"] {
        let e = err(&format!(
            "date,open,high,low,close\n2024-01-02,1,1,1,1\n{second},1,1,1,1\n"
        ));
        assert!(
            matches!(e.kind(), DataErrorKind::NotIncreasing { .. }),
            "{second}"
        );
        assert_eq!((e.row(), e.column()), (Some(3), Some("date")));
    }
    let e = err("date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-02,1,1,1,1\n");
    assert_eq!(
        e.to_string(),
        "invalid bar data at line 3, column \"date\": \
         timestamp 2024-01-02T00:00:00Z not after the previous 2024-01-02T00:00:00Z"
    );
}

#[test]
fn empty_file_and_header_only() {
    for csv in [
        "",
        "\n",
        "date,open,high,low,close\n",
        "date,open,high,low,close",
    ] {
        let e = err(csv);
        assert!(matches!(e.kind(), DataErrorKind::Empty), "{csv:?}");
        assert_eq!(e.to_string(), "invalid bar data: no bars");
    }
}

#[test]
fn errors_from_a_path_name_the_file() {
    let path = temp("bad.csv", "date,open,high,low,close\n2024-01-02,1,x,1,1\n");
    let e = Bars::from_csv_path(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.as_path()));
    assert_eq!(
        e.to_string(),
        format!(
            r#"invalid bar data in {:?} at line 2, column "high": unparsable number "x""#,
            path.display().to_string()
        )
    );
    std::fs::remove_file(&path).unwrap();

    let e = Bars::from_csv_path("/definitely/not/here.csv").unwrap_err();
    assert!(matches!(e.kind(), DataErrorKind::Io(_)));
    assert!(std::error::Error::source(&e).is_some());
    assert!(e
        .to_string()
        .starts_with(r#"invalid bar data in "/definitely/not/here.csv": cannot read: "#));
}

// === in memory ===

#[test]
fn in_memory_checks_name_the_bar_and_column() {
    let ok = |n: usize| vec![1.0; n];
    let e = Bars::new(vec![0, DAY], ok(2), ok(2), ok(1), ok(2), None).unwrap_err();
    assert!(matches!(
        e.kind(),
        DataErrorKind::LengthMismatch {
            expected: 2,
            found: 1
        }
    ));
    assert_eq!(
        e.to_string(),
        r#"invalid bar data in column "low": 1 values, expected 2 like the timestamps"#
    );

    let e = Bars::new(vec![0, DAY], ok(2), vec![1.0, 0.5], ok(2), ok(2), None).unwrap_err();
    assert!(matches!(e.kind(), DataErrorKind::HighBelowLow { .. }));
    assert_eq!(
        e.to_string(),
        r#"invalid bar data at bar 1, column "high": high 0.5 below low 1"#
    );

    let e = Bars::new(vec![], vec![], vec![], vec![], vec![], None).unwrap_err();
    assert!(matches!(e.kind(), DataErrorKind::Empty));

    let e = Bars::new(vec![0], ok(1), ok(1), ok(1), ok(1), Some(vec![f64::NAN])).unwrap_err();
    assert!(matches!(e.kind(), DataErrorKind::InvalidVolume(_)));
    assert_eq!((e.row(), e.column()), (Some(0), Some("volume")));
}

// === synthetic ===

#[test]
fn synthetic_is_deterministic_valid_and_on_weekdays() {
    let a = Bars::synthetic(5_000, 7);
    assert_eq!(a, Bars::synthetic(5_000, 7));
    assert_eq!(a.fingerprint(), Bars::synthetic(5_000, 7).fingerprint());
    assert_ne!(a.fingerprint(), Bars::synthetic(5_000, 8).fingerprint());
    // Re-validating through the public constructor accepts it.
    let again = Bars::new(
        a.timestamps().to_vec(),
        a.open().to_vec(),
        a.high().to_vec(),
        a.low().to_vec(),
        a.close().to_vec(),
        a.volume().map(<[f64]>::to_vec),
    )
    .unwrap();
    assert_eq!(again, a);
    for &t in a.timestamps() {
        let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7);
        assert!(weekday < 5);
    }
    assert_eq!(Bars::synthetic(0, 1).len(), 1);
}

// === nothing panics ===

/// A tiny deterministic generator for the fuzz loop.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn no_input_makes_the_loader_panic() {
    let alphabet = b"0123456789-.,:TZ+ \n\r\"eEnaNidf\xff\xc3date,open,high,low,close,volume";
    let mut state = 0x2545_f491_4f6c_dd1d;
    // Random bytes from a CSV-ish alphabet.
    for _ in 0..3_000 {
        let len = (xorshift(&mut state) % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(xorshift(&mut state) % alphabet.len() as u64) as usize])
            .collect();
        let _ = Bars::from_csv_reader(&bytes[..]);
    }
    // Valid data with one byte changed, removed or duplicated.
    let good = GOOD.as_bytes();
    for _ in 0..3_000 {
        let mut bytes = good.to_vec();
        let at = (xorshift(&mut state) % bytes.len() as u64) as usize;
        match xorshift(&mut state) % 3 {
            0 => bytes[at] = alphabet[(xorshift(&mut state) % alphabet.len() as u64) as usize],
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, bytes[at]),
        }
        if let Ok(bars) = Bars::from_csv_reader(&bytes[..]) {
            assert!(!bars.is_empty());
            assert!(bars.timestamps().windows(2).all(|w| w[0] < w[1]));
        }
    }
}
