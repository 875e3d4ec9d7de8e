//! The W3C parsers on arbitrary input: no panic, and what parses round-trips and can never
//! carry a run id that would break a log line; a kept `tracestate` never holds a key twice; a
//! run id claimed at an edge is kept escaped and bounded.
#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::fuzz_target;
use tracectx::propagation::{self, Baggage, Environment, RunPolicy, TraceParent, TraceState};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (tp, ts, bg) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );

    if let Ok(parsed) = TraceParent::parse(tp) {
        let again =
            TraceParent::parse(&parsed.to_string()).expect("a formatted traceparent parses");
        assert_eq!(again.trace_id(), parsed.trace_id());
        assert_eq!(again.parent_id(), parsed.parent_id());
    }
    if let Ok(state) = TraceState::parse([ts]) {
        let again = TraceState::parse([state.as_str()]).expect("a kept tracestate parses");
        assert_eq!(again, state);
        let keys: Vec<&str> = state
            .as_str()
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| m.split_once('=').expect("a kept member has a key").0)
            .collect();
        let unique: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(unique.len(), keys.len(), "one entry per key");
        assert!(keys.len() <= propagation::MAX_TRACESTATE_MEMBERS);
    }
    let baggage = Baggage::parse([bg]);
    let again = Baggage::parse([baggage.to_string().as_str()]);
    assert_eq!(again, baggage, "baggage encoding round-trips");
    let mut carried = HashMap::new();
    baggage.inject(&mut carried);
    match carried.get("baggage") {
        Some(value) => assert_eq!(
            value,
            &baggage.to_string(),
            "inject writes what Display does"
        ),
        None => assert!(baggage.is_empty()),
    }

    let mut headers = HashMap::new();
    headers.insert("traceparent".to_string(), tp.to_string());
    headers.insert("tracestate".to_string(), ts.to_string());
    headers.insert("baggage".to_string(), bg.to_string());
    if let Some(ctx) = propagation::extract(&headers) {
        let run: &str = ctx.run_id();
        assert!(run
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"[]\"'\\".contains(&b)));
        let mut out = HashMap::new();
        propagation::inject(&ctx, &mut out);
        let back = propagation::extract(&out).expect("injected headers extract");
        assert_eq!(back.run_id(), ctx.run_id());
        assert_eq!(back.trace_id(), ctx.trace_id());
    }

    // At an edge the run is never the caller's, and what it claimed is kept printable.
    let received = RunPolicy::OwnRun.receive(&headers, "request");
    assert!(received.context().run_id().starts_with("request_"));
    if let Some(claimed) = received.claimed_run_id() {
        let text = claimed.as_str();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        // At most 128 characters and `…`, each escaped in at most 8 (`\u{feff}`), and quotes.
        assert!(text.chars().count() <= 129 * 8 + 2, "{text:?}");
    }

    // The same values as a child process's environment read the same.
    let env = Environment::from_vars([("TRACEPARENT", tp), ("TRACESTATE", ts), ("BAGGAGE", bg)]);
    let from_env = propagation::extract(&env);
    let from_headers = propagation::extract(&headers);
    assert_eq!(
        from_env.as_ref().map(|c| (c.run_id().clone(), c.trace_id())),
        from_headers.as_ref().map(|c| (c.run_id().clone(), c.trace_id()))
    );

    // A second `traceparent`, whatever it holds, refuses the message.
    let twice = Pairs(vec![("traceparent", tp), ("traceparent", ts)]);
    assert!(propagation::extract(&twice).is_none());
});

/// A carrier that keeps repeated headers, as HTTP does.
struct Pairs<'a>(Vec<(&'static str, &'a str)>);

impl propagation::Extractor for Pairs<'_> {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_owned();
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(&name))
            .map(|(_, v)| *v)
    }
}
