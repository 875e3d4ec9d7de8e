//! `Runs` (what `tracectx runs` prints) on arbitrary bytes: no panic; each row is a valid run
//! id with as many lines as a query of that run matches, sorted, bounded trace ids of 8 hex
//! digits, and times that read back; the rows are in their documented order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::logging::query::{parse_line, Query, Runs, MAX_TRACE_IDS};
use tracectx::time::Timestamp;
use tracectx::RunId;

fuzz_target!(|data: &[u8]| {
    let mut runs = Runs::new();
    runs.read(data).expect("reading memory");
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop();
    }
    let stamped = lines.iter().filter(|l| parse_line(l).is_some()).count();
    assert_eq!(runs.stamped_lines() as usize, stamped);
    assert_eq!(runs.too_long_lines(), 0);
    let in_runs = lines
        .iter()
        .filter(|l| parse_line(l).is_some_and(|s| s.run_id.is_some()))
        .count();

    let rows = runs.finish();
    assert_eq!(
        rows.iter().map(|r| r.lines as usize).sum::<usize>(),
        in_runs
    );
    for pair in rows.windows(2) {
        let key = |r: &tracectx::logging::query::RunSummary| (r.first.is_none(), r.first.clone());
        assert!(
            (key(&pair[0]), &pair[0].run_id) < (key(&pair[1]), &pair[1].run_id),
            "rows out of order or a run twice"
        );
    }
    for row in &rows {
        assert!(RunId::new(&row.run_id).is_ok(), "{:?}", row.run_id);
        let query = Query::new(&row.run_id).expect("a valid run id");
        let matched = lines.iter().filter(|l| query.matches(l)).count();
        assert_eq!(row.lines as usize, matched, "{:?}", row.run_id);
        assert!(row.warn + row.error <= row.lines);
        assert!(row.trace_ids.len() <= MAX_TRACE_IDS);
        assert!(
            row.trace_ids.windows(2).all(|w| w[0] < w[1]),
            "sorted, once each"
        );
        for t in &row.trace_ids {
            assert!(
                t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()),
                "{t:?}"
            );
        }
        match (&row.first, &row.last, row.duration_secs) {
            (Some(first), Some(last), Some(secs)) => {
                let f = Timestamp::parse_rfc3339(first).expect("a shown time reads back");
                let l = Timestamp::parse_rfc3339(last).expect("a shown time reads back");
                assert!(f <= l && secs >= 0.0, "{first} {last} {secs}");
                assert!(row.duration().is_some());
            }
            (None, None, None) => assert!(row.duration().is_none()),
            other => panic!("times half there: {other:?}"),
        }
        serde_json::to_string(row).expect("a row serializes");
    }
});
