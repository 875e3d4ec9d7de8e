//! A sweep's session record read from an arbitrary line, as `tracectx merge` reads a shard's
//! file (`SessionRecord::from_json_line`): no panic; a refusal is one printable line; a record
//! that is read holds only valid ids and printable text, writes back as a line that reads the
//! same, and the ranked table `merge` prints of it is printable lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx_backtest::{write_ranked_table, ParamGrid, SessionRecord, Statistic};

fn printable(text: &str) {
    assert!(!text.chars().any(is_escaped), "{text:?}");
}

fuzz_target!(|data: &[u8]| {
    let record = match SessionRecord::from_json_line(data) {
        Ok(record) => record,
        Err(e) => {
            printable(&e.to_string());
            return;
        }
    };
    assert!(record.index < ParamGrid::MAX_COMBINATIONS);
    for id in [&record.sweep_id, &record.run_id].into_iter().flatten() {
        assert!(tracectx::RunId::new(id).is_ok(), "{id:?}");
    }
    printable(&record.strategy);
    printable(&record.params.to_string());
    if let Some(error) = &record.error {
        printable(error);
    }
    let line = record.to_json_line();
    assert!(!line.contains('\n'));
    let again = SessionRecord::from_json_line(line.as_bytes())
        .unwrap_or_else(|e| panic!("{line} does not read back: {e}"));
    assert_eq!(again.to_json_line(), line);
    if let Some(stats) = &record.stats {
        for statistic in Statistic::ALL.iter().copied() {
            let _ = stats.get(statistic);
            let shown = stats.format(statistic);
            printable(&shown);
            let mut table = Vec::new();
            let run = record.run_id.as_deref().unwrap_or("-");
            write_ranked_table(&mut table, statistic, [(run, &record.params, stats)])
                .expect("writing to memory");
            let table = String::from_utf8(table).expect("a table is text");
            assert_eq!(table.lines().count(), 2, "{table:?}");
            for row in table.lines() {
                printable(row);
            }
        }
    }
});
