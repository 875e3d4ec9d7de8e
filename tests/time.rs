//! The crate's calendar, RFC 3339 formats and parser, checked against the `time` crate on
//! random instants, dates and strings.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, UtcOffset};
use tracectx::time::{TimeFormat, Timestamp, civil_from_days, days_from_civil, weekday};

/// The Julian day of 1970-01-01.
const UNIX_JULIAN_DAY: i64 = 2_440_588;

fn odt(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).unwrap()
}

/// Instants from 0000-01-01 to 9999-12-31, spread over the whole range and crowded near the
/// ends of days, months and years.
fn random_micros(rng: &mut fastrand::Rng) -> i64 {
    let first = days_from_civil(0, 1, 1) * 86_400_000_000;
    let last = Timestamp::MAX.as_micros();
    match rng.u8(0..4) {
        0 => rng.i64(first..=last),
        1 => rng.i64(-100 * 86_400_000_000..100 * 86_400_000_000),
        // The last second of some day.
        2 => {
            let day = rng.i64(days_from_civil(0, 1, 2)..=days_from_civil(9999, 12, 31));
            day * 86_400_000_000 - rng.i64(1..=1_000_000)
        }
        _ => rng.i64(first..first + 400 * 86_400_000_000),
    }
}

#[test]
fn calendar_agrees_with_time() {
    let mut rng = fastrand::Rng::with_seed(1);
    for _ in 0..200_000 {
        let year = rng.i32(0..=9999);
        let month = rng.u8(1..=12);
        let last = time::util::days_in_month(Month::try_from(month).unwrap(), year);
        let day = rng.u8(1..=last);
        let date = Date::from_calendar_date(year, Month::try_from(month).unwrap(), day).unwrap();
        let days = i64::from(date.to_julian_day()) - UNIX_JULIAN_DAY;
        assert_eq!(
            days_from_civil(i64::from(year), u32::from(month), u32::from(day)),
            days,
            "{date}"
        );
        assert_eq!(
            civil_from_days(days),
            (i64::from(year), u32::from(month), u32::from(day))
        );
        assert_eq!(
            weekday(days),
            u32::from(date.weekday().number_days_from_monday())
        );
        let ours = Timestamp::from_date(i64::from(year), u32::from(month), u32::from(day));
        assert_eq!(ours.map(Timestamp::days_since_epoch), Some(days));
    }
    // Dates that do not exist: time refuses them, and so does `from_date`.
    for (y, m, d) in [(2023, 2, 29), (2024, 2, 30), (2024, 4, 31), (1900, 2, 29)] {
        assert!(Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).is_err());
        assert_eq!(
            Timestamp::from_date(i64::from(y), u32::from(m), u32::from(d)),
            None
        );
    }
    assert_eq!(
        Timestamp::from_date(2000, 2, 29).unwrap().date(),
        (2000, 2, 29)
    );
}

#[test]
fn formats_agree_with_time() {
    let micros_format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    let mut rng = fastrand::Rng::with_seed(2);
    for _ in 0..200_000 {
        let micros = random_micros(&mut rng);
        let theirs = odt(micros);
        let t = Timestamp::from_micros(micros);
        assert_eq!(
            t.rfc3339_micros().as_str(),
            theirs.format(&micros_format).unwrap()
        );
        assert_eq!(t.to_string(), theirs.format(&Rfc3339).unwrap());
        assert_eq!(t.date().0, i64::from(theirs.year()));
    }
}

#[test]
fn rfc3339_micros_saturates_outside_four_digit_years() {
    let after = Timestamp::MAX.as_micros() + 1;
    for micros in [after, after + 86_400_000_000 * 400, i64::MAX] {
        assert_eq!(
            Timestamp::from_micros(micros).rfc3339_micros().as_str(),
            "9999-12-31T23:59:59.999999Z"
        );
    }
    assert_eq!(
        Timestamp::from_micros(i64::MIN).rfc3339_micros().as_str(),
        "0000-01-01T00:00:00.000000Z"
    );
    // `Display` writes the year it is, with the digits it needs.
    assert_eq!(
        Timestamp::from_micros(after).to_string(),
        "10000-01-01T00:00:00Z"
    );
}

/// An RFC 3339 string for `micros`, written with a random fraction length, separator case and
/// offset, and the instant it names.
fn random_rfc3339(rng: &mut fastrand::Rng, micros: i64) -> String {
    let offset_minutes = match rng.u8(0..3) {
        0 => 0,
        _ => rng.i32(-(23 * 60 + 59)..=23 * 60 + 59),
    };
    let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
    let local = odt(micros).to_offset(offset);
    let digits = rng.usize(0..=9);
    let nanos = local.nanosecond();
    let mut s = format!(
        "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        if rng.bool() { 'T' } else { 't' },
        local.hour(),
        local.minute(),
        local.second()
    );
    if digits > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(&frac[..digits]);
    }
    if offset_minutes == 0 && rng.bool() {
        s.push(if rng.bool() { 'Z' } else { 'z' });
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let abs = offset_minutes.unsigned_abs();
        s.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
    }
    s
}

/// time's value for `text`, truncated to the microsecond as ours is.
fn time_micros(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1_000)).unwrap())
}

#[test]
fn rfc3339_parse_agrees_with_time_on_valid_strings() {
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..200_000 {
        let micros = random_micros(&mut rng);
        let text = random_rfc3339(&mut rng, micros);
        let Some(theirs) = time_micros(&text) else {
            // time refuses local years outside 0000..=9999 that an offset can produce.
            continue;
        };
        let ours = Timestamp::parse_rfc3339(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(ours.as_micros(), theirs, "{text}");
        assert_eq!(
            Timestamp::parse_date_time(text.as_bytes()).unwrap(),
            ours,
            "{text}"
        );
    }
}

#[test]
fn rfc3339_parse_refuses_what_time_refuses() {
    let mut rng = fastrand::Rng::with_seed(4);
    let alphabet = b"0123456789-:TtZz+. x9";
    let mut checked_refusals = 0;
    for _ in 0..300_000 {
        let micros = random_micros(&mut rng);
        let mut text = random_rfc3339(&mut rng, micros).into_bytes();
        // One to three random edits: replace, insert or remove a byte.
        for _ in 0..rng.usize(1..=3) {
            let at = rng.usize(0..=text.len());
            match rng.u8(0..3) {
                0 if at < text.len() => text[at] = alphabet[rng.usize(0..alphabet.len())],
                1 => text.insert(at, alphabet[rng.usize(0..alphabet.len())]),
                _ if at < text.len() => {
                    text.remove(at);
                }
                _ => {}
            }
        }
        let text = String::from_utf8(text).unwrap();
        // time accepts only `T`/`t` between date and time; ours also takes a space.
        let for_time = if text.as_bytes().get(10) == Some(&b' ') {
            format!("{}T{}", &text[..10], &text[11..])
        } else {
            text.clone()
        };
        let theirs = time_micros(&for_time);
        match Timestamp::parse_rfc3339(&text) {
            Ok(ours) => assert_eq!(Some(ours.as_micros()), theirs, "{text:?}"),
            Err(e) => {
                checked_refusals += 1;
                // Where the crate is stricter than time: time takes a leap second (`:60`),
                // which Unix time, and so the crate, has none of; and any byte between date
                // and time, where RFC 3339 allows `T`, `t` or a space.
                let leap = text.get(17..19) == Some("60");
                let separator = !matches!(text.as_bytes().get(10), Some(b'T' | b't' | b' '));
                // And an instant an offset moves out of the years 0000 to 9999 in UTC.
                let first = days_from_civil(0, 1, 1) * 86_400_000_000;
                let beyond = theirs.is_some_and(|t| t < first || t > Timestamp::MAX.as_micros());
                assert!(
                    theirs.is_none() || leap || separator || beyond,
                    "{text:?} refused ({e}), time took it"
                );
            }
        }
    }
    assert!(checked_refusals > 100_000, "{checked_refusals}");
}

#[test]
fn errors_say_what_and_where() {
    let cases = [
        (
            "2024-1-01T00:00:00Z",
            "expected a two-digit month at byte 5",
        ),
        (
            "2024-02-30T00:00:00Z",
            "day 30 does not exist in 2024-02 at byte 8",
        ),
        ("2024-01-01T24:00:00Z", "hour 24 out of range at byte 11"),
        ("2024-01-01T23:59:60Z", "second 60 out of range at byte 17"),
        (
            "2024-01-01T23:59:59",
            "expected \"Z\" or an offset at byte 19",
        ),
        (
            "2024-01-01T23:59:59+24:00",
            "offset hour 24 out of range at byte 20",
        ),
        (
            "2024-01-01T23:59:59.Z",
            "expected digits after \".\" at byte 20",
        ),
        (
            "2024-01-01T23:59:59Z ",
            "unexpected text after the timestamp at byte 20",
        ),
    ];
    for (text, message) in cases {
        let err = Timestamp::parse_rfc3339(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid timestamp: {message}"),
            "{text}"
        );
    }
}

#[test]
fn system_time_round_trips_to_the_microsecond() {
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..10_000 {
        let micros = random_micros(&mut rng);
        let t = Timestamp::from_micros(micros);
        assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
    }
    let now = std::time::SystemTime::now();
    let t = Timestamp::from_system_time(now);
    let back = t.to_system_time();
    assert!(back <= now && now.duration_since(back).unwrap().as_micros() < 1);
}

#[test]
fn time_formats_write_what_time_writes_and_read_it_back() {
    let ours = TimeFormat::parse("%Y-%m-%d %H:%M:%S.%f").unwrap();
    let theirs = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    let millis = TimeFormat::parse("%FT%T,%3f%z").unwrap();
    let unix = TimeFormat::parse("%s.%f").unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..10_000 {
        let micros = random_micros(&mut rng);
        let t = Timestamp::from_micros(micros);
        if !t.is_in_range() {
            continue;
        }
        let text = ours.display(t).to_string();
        let expected = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .unwrap()
            .format(&theirs)
            .unwrap();
        assert_eq!(text, expected, "{micros}");
        assert_eq!(ours.read_prefix(text.as_bytes()), Some((t, text.len())));
        let text = millis.display(t).to_string();
        let floor = Timestamp::from_micros(micros.div_euclid(1000) * 1000);
        assert_eq!(
            millis.read_prefix(text.as_bytes()),
            Some((floor, text.len()))
        );
        let text = unix.display(t).to_string();
        if micros >= 0 {
            assert_eq!(unix.read_prefix(text.as_bytes()), Some((t, text.len())));
        }
    }
}

#[test]
fn time_formats_refuse_what_they_cannot_write_or_read() {
    for bad in ["%", "%Y %", "%b", "%3d", "%E"] {
        assert!(TimeFormat::parse(bad).is_err(), "{bad:?}");
    }
    let f = TimeFormat::parse("%Y-%m-%d").unwrap();
    assert_eq!(f.read_prefix(b"2023-02-29"), None, "no such day");
    assert_eq!(f.read_prefix(b"2023-02-2"), None, "cut short");
    let hm = TimeFormat::parse("%H:%M").unwrap();
    assert_eq!(hm.read_prefix(b"24:00"), None);
    assert_eq!(
        hm.read_prefix(b"10:30 rest"),
        Some((Timestamp::from_micros(37_800_000_000), 5)),
        "a time alone reads as on 1970-01-01"
    );
    let z = TimeFormat::parse("%F %T %z").unwrap();
    assert_eq!(
        z.read_prefix(b"2024-01-01 12:00:00 +0200").map(|(t, _)| t),
        Timestamp::parse_rfc3339("2024-01-01T10:00:00Z").ok()
    );
}

#[test]
fn a_time_format_needs_a_directive() {
    use tracectx::time::TimeFormat;
    for spec in ["", "at ", "%%"] {
        let err = TimeFormat::parse(spec).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("a time format with no directive"),
            "{spec:?}: {err}"
        );
    }
    #[cfg(feature = "logging")]
    assert!(tracectx::logging::TextFormat::from_template("{timestamp:} {message}").is_err());
}

#[test]
fn time_formats_write_what_they_read_back_whatever_the_year() {
    use tracectx::time::TimeFormat;
    let format = TimeFormat::parse("%Y-%m-%d %H:%M:%S.%f").unwrap();
    for micros in [
        i64::MIN,
        -62_200_000_000_000_000,
        0,
        Timestamp::MAX.as_micros() + 1,
        i64::MAX,
    ] {
        let written = format.display(Timestamp::from_micros(micros)).to_string();
        let (read, len) = format
            .read_prefix(written.as_bytes())
            .unwrap_or_else(|| panic!("{written}"));
        assert_eq!(len, written.len());
        assert_eq!(format.display(read).to_string(), written);
    }
    assert_eq!(
        format.display(Timestamp::from_micros(i64::MAX)).to_string(),
        "9999-12-31 23:59:59.999999"
    );
}

/// A format with a month and a day but no year (syslog-like `%m-%d %T`) reads every day it can
/// show, February 29 among them, in order: in 1972, a leap year.
#[test]
fn a_format_without_a_year_reads_february_29() {
    let format = TimeFormat::parse("%m-%d %T").unwrap();
    let leap_day = Timestamp::parse_rfc3339("2024-02-29T23:05:09Z").unwrap();
    let written = format.display(leap_day).to_string();
    assert_eq!(written, "02-29 23:05:09");
    let read = |text: &str| {
        format
            .read_prefix(text.as_bytes())
            .map(|(t, _)| t.to_string())
    };
    assert_eq!(read(&written).as_deref(), Some("1972-02-29T23:05:09Z"));
    assert_eq!(
        read("02-28 23:00:00").as_deref(),
        Some("1972-02-28T23:00:00Z")
    );
    assert_eq!(
        read("03-01 00:00:00").as_deref(),
        Some("1972-03-01T00:00:00Z")
    );
    assert_eq!(read("02-30 00:00:00"), None);
    let day_only = TimeFormat::parse("%d %T").unwrap();
    assert_eq!(
        day_only
            .read_prefix(b"31 10:00:00")
            .map(|(t, _)| t.to_string())
            .as_deref(),
        Some("1972-01-31T10:00:00Z")
    );
    // With no date at all, a time is on 1970-01-01; with a year, the year is the line's.
    let time_only = TimeFormat::parse("%T").unwrap();
    assert_eq!(
        time_only
            .read_prefix(b"10:00:00")
            .map(|(t, _)| t.to_string())
            .as_deref(),
        Some("1970-01-01T10:00:00Z")
    );
    let dated = TimeFormat::parse("%F").unwrap();
    assert_eq!(dated.read_prefix(b"2023-02-29"), None);
}

/// `%s` then digits, with nothing between: epoch milliseconds (`%s%3f`) and microseconds
/// (`%s%f`), as many log shippers write them.
#[test]
fn epoch_seconds_followed_by_digits_read_back() {
    let mut rng = fastrand::Rng::with_seed(7);
    for spec in ["%s%3f", "%s%f", "%s%3f %z", "%s%H%M"] {
        let format = TimeFormat::parse(spec).unwrap();
        let mut cases = vec![0, 1_000, 999_000, -1_000, -1_500_000, 1_704_103_200_123_000];
        cases.extend((0..2_000).map(|_| random_micros(&mut rng) / 1_000 * 1_000));
        cases.extend([
            Timestamp::MAX.as_micros() / 1_000 * 1_000,
            Timestamp::MIN.as_micros(),
        ]);
        for micros in cases {
            let t = Timestamp::from_micros(micros);
            let written = format.display(t).to_string();
            let line = format!("{written} INFO started");
            let (read, len) = format
                .read_prefix(line.as_bytes())
                .unwrap_or_else(|| panic!("{spec}: {written:?} not read back"));
            assert_eq!(len, written.len(), "{spec}: {written:?}");
            if spec == "%s%H%M" {
                // The hour and minute repeat what `%s` says.
                assert_eq!(
                    read.as_micros(),
                    micros.div_euclid(1_000_000) * 1_000_000,
                    "{spec}: {written:?}"
                );
            } else {
                assert_eq!(read, t, "{spec}: {written:?}");
            }
        }
        // Too few digits for the fraction after the seconds: not a timestamp.
        assert_eq!(format.read_prefix(b"12 INFO"), None, "{spec}");
    }
}

/// Two `%s` with only digits between them write one run of digits that no reader can split:
/// such a format is refused when it is parsed, at the second `%s`, rather than writing lines
/// that never read back. With a separator, both read back.
#[test]
fn a_second_epoch_right_after_the_digits_of_the_first_is_refused() {
    for (spec, at) in [
        ("%s%s", 2),
        ("%H%s%H%s", 6),
        ("%s1%3f%s", 6),
        ("x%s%Y%m%d%s", 9),
    ] {
        let err = TimeFormat::parse(spec).unwrap_err();
        assert_eq!(err.position(), at, "{spec}");
        assert_eq!(&spec[at..at + 2], "%s");
        assert!(
            err.to_string()
                .starts_with("\"%s\" right after the digits of another \"%s\"")
        );
    }
    for spec in ["%s %s", "%s-%s", "%s%z%s", "%s%%%s", "%s%F%s", "%s%Z%s"] {
        let format = TimeFormat::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let t = Timestamp::parse_rfc3339("2024-02-29T23:05:09Z").unwrap();
        let written = format.display(t).to_string();
        assert_eq!(
            format.read_prefix(written.as_bytes()),
            Some((t, written.len())),
            "{spec}: {written}"
        );
    }
    #[cfg(feature = "logging")]
    assert!(tracectx::logging::TextFormat::from_template("{timestamp:%s%s} {message}").is_err());
}

#[test]
fn refused_time_format_directives_are_shown_escaped() {
    let err = TimeFormat::parse("%F %\u{1b}[2J").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unknown time format directive "%\u{1b}" at byte 3"#
    );
    for c in ['\n', '\r', '\u{9b}', '\u{202e}'] {
        let shown = TimeFormat::parse(&format!("%Y %{c}"))
            .unwrap_err()
            .to_string();
        assert!(!shown.contains(c), "{shown:?}");
    }
    let err = TimeFormat::parse("%Y %é").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unknown time format directive "%é" at byte 3"#
    );
}

/// Display writes the years `0000` to `9999` only in four digits: an offset that moves an
/// instant out of them in UTC would give text that does not parse back (`10000-01-01...`).
#[test]
fn instants_an_offset_moves_past_the_four_digit_years_are_refused() {
    for (text, at) in [
        ("9999-12-31T23:59:59-00:01", 19),
        ("0000-01-01T00:00:00+00:01", 19),
        ("9999-12-31t23:30:00.5-01:00", 21),
        ("0000-01-01 00:59:59.999999+01:00", 26),
    ] {
        let err = Timestamp::parse_rfc3339(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid timestamp: the instant falls outside the years 0000 to 9999 in UTC \
                 at byte {at}"
            ),
            "{text}"
        );
        assert_eq!(err.position(), at, "{text}");
        // Tabular data gets the instant, to say which is out of its range.
        let t = Timestamp::parse_date_time(text.as_bytes()).unwrap();
        assert!(!t.is_in_range(), "{text}");
    }
    for text in [
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59.999999-00:00",
        "9999-12-31T22:59:59-01:00",
        "0000-01-01T00:00:00Z",
        "0000-01-01T01:00:00+01:00",
    ] {
        let t = Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t), "{text}");
    }
}

/// Every directive, in formats that name the instant to their precision, reads back what it
/// wrote, over the whole range of four-digit years.
#[test]
fn every_directive_reads_back_what_it_wrote() {
    let mut rng = fastrand::Rng::with_seed(12);
    for (spec, precision) in [
        ("%Y-%m-%dT%H:%M:%S.%fZ", 1),
        ("%Y%m%d%H%M%S%f", 1),
        ("%F %T,%3f %z", 1_000),
        ("%d/%m/%Y %H:%M:%S %Z", 1_000_000),
        ("%%%F%%%T%%%6f%%", 1),
        ("%s", 1_000_000),
        ("%s.%6f", 1),
        ("[%H:%M:%S] %Y-%m-%d", 1_000_000),
    ] {
        let format = TimeFormat::parse(spec).unwrap();
        for _ in 0..2_000 {
            let micros = random_micros(&mut rng);
            let t = Timestamp::from_micros(micros.div_euclid(precision) * precision);
            let written = format.display(t).to_string();
            let line = format!("{written}INFO");
            assert_eq!(
                format.read_prefix(line.as_bytes()),
                Some((t, written.len())),
                "{spec}: {written}"
            );
        }
    }
}

#[test]
fn time_formats_read_no_garbage() {
    let format = TimeFormat::parse("%F %T %z").unwrap();
    for bad in [
        "２０２４-01-01 10:00:00 +0000",
        "2024-01-01 10:00:00 +2400",
        "2024-01-01 10:00:00 +0060",
        "2024-01-01 10:00:60 +0000",
        "2024-01-01 10:00:00 0000",
        "2024-01-01 10:00:00 +00",
        " 2024-01-01 10:00:00 +0000",
        "2024-1-01 10:00:00 +0000",
        "",
    ] {
        assert_eq!(format.read_prefix(bad.as_bytes()), None, "{bad:?}");
    }
    let unix = TimeFormat::parse("%s").unwrap();
    for bad in ["", "-", "+1", "9999999999999", "-9999999999999", "x1"] {
        assert_eq!(unix.read_prefix(bad.as_bytes()), None, "{bad:?}");
    }
    // The widest offsets are applied.
    assert_eq!(
        format
            .read_prefix(b"2024-01-01 00:00:00 +2359")
            .map(|(t, _)| t),
        Timestamp::parse_rfc3339("2023-12-31T00:01:00Z").ok()
    );
    // A template of a megabyte is read in one pass.
    let long = format!("%F{}", " ".repeat(1 << 20));
    let format = TimeFormat::parse(&long).unwrap();
    let text = format!("2024-01-01{}", " ".repeat(1 << 20));
    assert_eq!(
        format.read_prefix(text.as_bytes()).map(|(_, n)| n),
        Some(text.len())
    );
}

/// Seconds since the epoch name one instant whatever the zone: an offset beside them (a
/// foreign log's `%s %z`) does not move it.
#[test]
fn epoch_seconds_are_not_moved_by_an_offset_beside_them() {
    let format = TimeFormat::parse("%s.%3f %z").unwrap();
    for text in [
        "1704103200.250 +0200",
        "1704103200.250 -0530",
        "1704103200.250 +0000",
    ] {
        assert_eq!(
            format.read_prefix(text.as_bytes()),
            Some((Timestamp::from_micros(1_704_103_200_250_000), text.len())),
            "{text}"
        );
    }
    // Civil fields are local to the offset, as before.
    let civil = TimeFormat::parse("%F %T %z").unwrap();
    assert_eq!(
        civil
            .read_prefix(b"2024-01-01 12:00:00 +0200")
            .map(|(t, _)| t),
        Timestamp::parse_rfc3339("2024-01-01T10:00:00Z").ok()
    );
}

#[test]
fn the_ends_of_i64_are_shown_and_converted_without_panicking() {
    for micros in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
        let t = Timestamp::from_micros(micros);
        let shown = t.to_string();
        assert!(shown.ends_with('Z'), "{shown}");
        assert_eq!(t.rfc3339_micros().as_str().len(), 27);
        assert_eq!(
            Timestamp::from_system_time(t.to_system_time()),
            t,
            "{shown}"
        );
        // What is not a four-digit year is not read back as one.
        if !(0..=Timestamp::MAX.as_micros()).contains(&micros) && micros != -1 {
            assert!(Timestamp::parse_rfc3339(&shown).is_err(), "{shown}");
        }
    }
    assert_eq!(
        Timestamp::from_micros(i64::MAX).to_string(),
        "294247-01-10T04:00:54.775807Z"
    );
}
