//! Id parsing on arbitrary input: no panic, and an accepted run id never holds a byte that
//! could break a log line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracectx::{RunId, SpanId, TraceId};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match RunId::new(&text) {
        Ok(id) => {
            assert!(!id.is_empty() && id.len() <= tracectx::MAX_RUN_ID_LEN);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:/@+".contains(&b)));
        }
        Err(err) => {
            let shown = err.to_string();
            assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
        }
    }
    if let Ok(id) = text.parse::<TraceId>() {
        assert_ne!(id.to_u128(), 0);
        assert_eq!(id.short().len(), 8);
    }
    if let Ok(id) = text.parse::<SpanId>() {
        assert_eq!(id.to_string().parse::<SpanId>().ok(), Some(id));
    }
});
