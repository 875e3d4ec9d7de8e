//! W3C baggage on arbitrary input: no panic; what is read stays within W3C's limits, reads the
//! same as one list or as several headers, and round-trips; what an outgoing call sends (the
//! run id's member, the carrier's own members, the members passed on from upstream) is one
//! header value any HTTP stack can send, with the context's run id as its only `run_id`.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use tracectx::propagation::{self, Baggage, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, RUN_ID_KEY};
use tracectx::TraceContext;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The received headers, one a line; after a blank line, the outgoing carrier's own value.
    let (received, carrier) = text.split_once("\n\n").unwrap_or((&text, ""));
    let values: Vec<&str> = received.split('\n').collect();

    let baggage = Baggage::parse(values.iter().copied());
    assert_eq!(
        Baggage::parse([values.join(",").as_str()]),
        baggage,
        "several headers read as one list"
    );
    let keys: Vec<&str> = baggage.iter().map(|(k, _)| k).collect();
    assert!(keys.len() <= MAX_BAGGAGE_MEMBERS);
    assert_eq!(
        keys.iter().collect::<HashSet<_>>().len(),
        keys.len(),
        "one member per key"
    );
    for (k, v) in baggage.iter() {
        assert!(
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()),
            "{k:?}"
        );
        assert_eq!(baggage.get(k), Some(v));
    }
    let shown = baggage.to_string();
    assert!(shown.bytes().all(|b| b.is_ascii_graphic()), "{shown:?}");
    assert_eq!(
        Baggage::parse([shown.as_str()]),
        baggage,
        "Display round-trips"
    );

    // A context passing these members on, injected into a carrier that has its own.
    let ctx = TraceContext::new("job_1")
        .expect("a valid run id")
        .with_baggage(Some(baggage.clone()));
    assert!(ctx.baggage().is_none_or(|b| b.get(RUN_ID_KEY).is_none()));
    let mut headers = HashMap::new();
    if !carrier.is_empty() {
        headers.insert("baggage".to_owned(), carrier.to_owned());
    }
    propagation::inject(&ctx, &mut headers);
    let sent = &headers["baggage"];
    assert!(sent.len() <= MAX_BAGGAGE_BYTES, "{} bytes", sent.len());
    assert!(
        sent.bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
        "an unsendable header: {sent:?}"
    );
    assert!(
        sent == "run_id=job_1" || sent.starts_with("run_id=job_1,"),
        "{sent:?}"
    );
    let back = Baggage::parse([sent.as_str()]);
    assert_eq!(back.get(RUN_ID_KEY), Some("job_1"), "{sent:?}");
    assert!(back.iter().count() <= MAX_BAGGAGE_MEMBERS);
    let there = propagation::extract(&headers).expect("injected headers extract");
    assert_eq!(there.run_id(), "job_1");
    assert_eq!(there.trace_id(), ctx.trace_id());
});
