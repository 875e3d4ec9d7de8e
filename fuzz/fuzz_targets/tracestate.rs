//! W3C `tracestate` on arbitrary input: no panic; several headers read as their values joined
//! by `,`; a kept state is canonical (no empty member, no space around one, one entry per key,
//! at most 32), keeps each key's first entry, round-trips and is sent on unchanged; a refusal's
//! message is one printable line.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tracectx::escape::is_escaped;
use tracectx::propagation::{self, TraceState, MAX_TRACESTATE_MEMBERS};
use tracectx::TraceContext;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let parsed = TraceState::parse(values.iter().copied());
    assert_eq!(
        TraceState::parse([values.join(",").as_str()]),
        parsed,
        "several headers read as one list"
    );
    let state = match parsed {
        Ok(state) => state,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.chars().any(is_escaped), "{shown:?}");
            return;
        }
    };
    let s = state.as_str();
    assert_eq!(
        TraceState::parse([s]).as_ref(),
        Ok(&state),
        "a kept state parses to itself"
    );
    assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "{s:?}");
    assert_eq!(state.is_empty(), s.is_empty());
    let members: Vec<&str> = if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').collect()
    };
    assert!(members.len() <= MAX_TRACESTATE_MEMBERS);
    // The first entry of each key in what was received, as the specification keeps it.
    let mut first: HashMap<&str, &str> = HashMap::new();
    for member in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
    {
        let (k, v) = member
            .split_once('=')
            .expect("a kept state's members have a '='");
        first.entry(k).or_insert(v);
    }
    assert_eq!(
        first.len(),
        members.len(),
        "one entry per key received, none made up"
    );
    for member in &members {
        assert!(!member.is_empty() && member.trim_matches([' ', '\t']) == *member);
        let (k, v) = member.split_once('=').expect("a member has a '='");
        assert_eq!(first.get(k), Some(&v), "{k:?} keeps its first entry");
        assert_eq!(state.get(k), Some(v));
    }

    // Passed on by a context as it was received.
    let ctx = TraceContext::new("job_1")
        .expect("a valid run id")
        .with_trace_state(Some(state.clone()));
    let mut headers = HashMap::new();
    propagation::inject(&ctx, &mut headers);
    assert_eq!(
        headers.get("tracestate").map(String::as_str),
        (!s.is_empty()).then_some(s)
    );
    let there = propagation::extract(&headers).expect("injected headers extract");
    assert_eq!(there.trace_state(), (!s.is_empty()).then_some(s));
});
