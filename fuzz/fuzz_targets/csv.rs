//! The CSV bars loader on arbitrary bytes: no panic, memory bounded by the line and field
//! limits; a refusal's message is one printable line naming a line that exists; bars that load
//! hold what bars promise (increasing times in range, finite positive prices within each bar's
//! range, a valid volume) and write back as CSV that loads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::time::Timestamp;
use tracectx_backtest::Bars;

fuzz_target!(|data: &[u8]| {
    let bars = match Bars::from_csv_reader(data) {
        Ok(bars) => bars,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            if let Some(row) = e.row() {
                // Lines end with \n, \r\n or \r; the line of a record is where it starts.
                let lines = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64 + 1;
                assert!(row >= 1 && row <= lines, "line {row} of {lines}");
            }
            return;
        }
    };
    assert!(!bars.is_empty());
    let t = bars.timestamps();
    assert!(t.windows(2).all(|w| w[0] < w[1]), "times increase");
    assert!(t.iter().all(|&t| Timestamp::from_micros(t).is_in_range()));
    for i in 0..bars.len() {
        let (o, h, l, c) = (
            bars.open()[i],
            bars.high()[i],
            bars.low()[i],
            bars.close()[i],
        );
        for p in [o, h, l, c] {
            assert!(p.is_finite() && p > 0.0, "price {p}");
        }
        assert!(l <= o && o <= h && l <= c && c <= h, "{o} {h} {l} {c}");
        if let Some(v) = bars.volume() {
            assert!(v[i].is_finite() && v[i] >= 0.0);
        }
    }
    let mut written = Vec::new();
    bars.write_csv(&mut written).expect("writing to memory");
    let again = Bars::from_csv_reader(&written[..]).expect("written bars load");
    assert!(again == bars, "written bars load the same");
    assert_eq!(again.fingerprint(), bars.fingerprint());
});
