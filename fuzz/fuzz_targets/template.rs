//! The reader of lines written with a template (`tracectx logs --format`), on an arbitrary
//! template and arbitrary lines: no panic and no runaway time (each line has a bounded
//! budget); a refused template's message is one printable line; a line's stamp holds only a
//! valid run id and an 8-hex trace id, and a query of that run matches the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::logging::query::{LineParser, Query, Runs};
use tracectx::RunId;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == b'\n');
    let template = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let log = parts.next().unwrap_or_default();
    let parser = match LineParser::with_format(&template) {
        Ok(parser) => parser,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            return;
        }
    };
    let mut runs = Runs::with_parser(parser.clone());
    runs.read(log).expect("reading memory");
    let rows = runs.finish();
    for line in log.split(|&b| b == b'\n') {
        let Some(stamp) = parser.parse(line) else {
            continue;
        };
        if let Some(trace) = &stamp.trace_id {
            assert!(
                trace.len() == 8 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
                "{trace:?}"
            );
        }
        let _ = stamp.timestamp_micros();
        let Some(run) = &stamp.run_id else { continue };
        assert!(RunId::new(run).is_ok(), "{run:?}");
        let query = Query::new(run)
            .expect("a valid run id")
            .with_parser(parser.clone());
        assert!(query.matches(line));
        assert!(rows.iter().any(|r| r.run_id == **run));
    }
});
