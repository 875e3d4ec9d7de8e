//! `tracectx::time` on arbitrary text: no panic; a time format either parses (and gives back
//! its text) or is refused with one printable line naming a byte of it; what a format writes
//! of what it read reads back as the same text (the same instant, for a format that shows
//! every field); RFC 3339 and the date forms of tabular data
//! read back from what `Display` and `rfc3339_micros` write.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::time::{TimeFormat, Timestamp};

/// Years 0000 to 9999: what a format (and RFC 3339) writes as it is.
fn writable(t: Timestamp) -> bool {
    let year_0 = Timestamp::from_date(0, 1, 1).expect("a date");
    t >= year_0 && t <= Timestamp::MAX
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (spec, value, rfc) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );

    match TimeFormat::parse(spec) {
        Ok(format) => {
            assert_eq!(format.as_str(), spec);
            assert_eq!(spec.parse::<TimeFormat>().as_ref(), Ok(&format));
            if let Some((t, len)) = format.read_prefix(value.as_bytes()) {
                assert!(len <= value.len());
                if writable(t) {
                    // What a format writes of what it read reads back to the same text (a
                    // format that leaves fields out writes less than it read: an offset
                    // without the time of day, `%z` alone), and to the same instant when the
                    // format shows every field to the microsecond.
                    let written = format.display(t).to_string();
                    let (again, len) = format
                        .read_prefix(written.as_bytes())
                        .unwrap_or_else(|| panic!("{spec:?} wrote {written:?}, unread"));
                    assert_eq!(len, written.len(), "{spec:?} wrote {written:?}");
                    assert_eq!(format.display(again).to_string(), written, "{spec:?}");
                    let all = |ds: &[&str]| ds.iter().all(|d| spec.contains(d));
                    if all(&["%Y", "%m", "%d", "%H", "%M", "%S", "%f"]) || all(&["%s", "%f"]) {
                        assert_eq!(again, t, "{spec:?} wrote {written:?}");
                    }
                }
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            assert!(e.position() <= spec.len());
            assert!(spec.is_char_boundary(e.position()));
        }
    }

    let strict = Timestamp::parse_rfc3339(rfc);
    let loose = Timestamp::parse_date_time(rfc.as_bytes());
    match &strict {
        Ok(t) => {
            assert!(writable(*t), "{rfc:?}");
            assert_eq!(
                loose.as_ref(),
                Ok(t),
                "every RFC 3339 instant is a date-time"
            );
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()).as_ref(), Ok(t));
            let micros = t.rfc3339_micros();
            assert_eq!(Timestamp::parse_rfc3339(micros.as_str()).as_ref(), Ok(t));
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            assert!(e.position() <= rfc.len());
        }
    }
    match loose {
        Ok(t) if writable(t) => {
            assert_eq!(Timestamp::parse_date_time(t.to_string().as_bytes()), Ok(t));
        }
        Ok(_) => {}
        Err(e) => assert!(!e.to_string().chars().any(is_escaped)),
    }
});
