//! Ids: validation of run ids, parsing of trace and span ids, generation and nesting.

use std::collections::HashSet;

use tracectx::{InvalidIdReason, RunId, SpanId, TraceContext, TraceId};

fn forbidden(input: &str) -> (&'static str, usize) {
    let err = TraceContext::new(input).expect_err(input);
    assert_eq!(err.kind(), "run id");
    match err.reason() {
        InvalidIdReason::Forbidden { class, at } => (class, at),
        other => panic!("{input:?}: expected a forbidden byte, got {other:?}"),
    }
}

#[test]
fn empty_run_id_is_refused() {
    let err = TraceContext::new("").unwrap_err();
    assert_eq!(err.reason(), InvalidIdReason::Empty);
    assert_eq!(err.to_string(), r#"invalid run id "": empty"#);
}

#[test]
fn over_long_run_id_is_refused() {
    assert!(TraceContext::new(&"a".repeat(128)).is_ok());
    let err = TraceContext::new(&"a".repeat(129)).unwrap_err();
    assert_eq!(
        err.reason(),
        InvalidIdReason::TooLong { len: 129, max: 128 }
    );
}

#[test]
fn whitespace_is_refused_with_its_offset() {
    for (input, at) in [("run 1", 3), ("\trun", 0), ("run\n", 3), ("a\rb", 1)] {
        assert_eq!(forbidden(input), ("whitespace", at), "{input:?}");
    }
    let err = TraceContext::new("run 1").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid run id "run 1": whitespace at byte 3"#
    );
}

#[test]
fn control_characters_are_refused() {
    for (input, at) in [("a\u{0}b", 1), ("ab\u{1b}[31m", 2), ("x\u{7f}", 1)] {
        assert_eq!(forbidden(input), ("a control character", at), "{input:?}");
    }
}

#[test]
fn brackets_quotes_and_backslash_are_refused() {
    for (input, class, at) in [
        ("run[1]", "a bracket", 3),
        ("run]", "a bracket", 3),
        ("(run)", "a bracket", 0),
        ("r{u}n", "a bracket", 1),
        ("run<", "a bracket", 3),
        ("say\"hi", "a quote", 3),
        ("it's", "a quote", 2),
        ("`run`", "a quote", 0),
        ("a\\b", "a backslash", 1),
    ] {
        assert_eq!(forbidden(input), (class, at), "{input:?}");
    }
}

#[test]
fn non_ascii_is_refused() {
    assert_eq!(forbidden("ünïcode"), ("a non-ASCII character", 0));
    assert_eq!(forbidden("run_é"), ("a non-ASCII character", 4));
}

#[test]
fn other_punctuation_is_refused() {
    for (input, at) in [("a=b", 1), ("a,b", 1), ("100%", 3), ("a;b", 1)] {
        let (class, pos) = forbidden(input);
        assert!(
            class.starts_with("a punctuation mark"),
            "{input:?}: {class}"
        );
        assert_eq!(pos, at);
    }
}

#[test]
fn run_id_without_a_letter_or_digit_is_refused() {
    // A log line with no context shows `-`: no run may look like that.
    for input in ["-", "--", "_", "...", "-_-", ":/", "@", "+"] {
        let err = RunId::new(input).unwrap_err();
        assert_eq!(err.reason(), InvalidIdReason::NoAlphanumeric, "{input:?}");
        assert!(err.to_string().contains("no letter or digit"), "{err}");
        assert!(TraceContext::new(input).is_err(), "{input:?}");
    }
    for input in ["-a", "_1", "a-", "x"] {
        assert!(RunId::new(input).is_ok(), "{input:?}");
    }
}

#[test]
fn accepted_set_round_trips() {
    for input in [
        "backtest_ab12cd34",
        "live-session.2024:01",
        "svc/orders@eu+1",
        "A",
        "0",
        "ABCxyz019_-.:/@+",
    ] {
        let ctx = TraceContext::new(input).expect(input);
        assert_eq!(ctx.run_id(), input);
        assert_eq!(ctx.run_id().to_string(), input);
        let again: RunId = ctx.run_id().parse().unwrap();
        assert_eq!(&again, ctx.run_id());
    }
}

#[test]
fn generated_run_ids_are_distinct_and_ordered() {
    let mut seen = HashSet::with_capacity(1_000_000);
    let mut last = String::new();
    for _ in 0..1_000_000 {
        let id = RunId::generate("backtest").unwrap();
        assert!(id.starts_with("backtest_"));
        assert_eq!(id.len(), "backtest_".len() + 32);
        assert!(*id > *last, "{id} after {last}");
        last = id.to_string();
        assert!(seen.insert(id), "duplicate run id");
    }
}

#[test]
fn generate_with_a_bad_prefix_still_gives_a_valid_id() {
    assert!(RunId::generate("bad prefix").is_err());
    let ctx = TraceContext::generate("bad prefix");
    assert!(ctx.run_id().starts_with("run_"));
}

#[test]
fn trace_id_parses_from_32_or_8_hex() {
    let full: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    assert_eq!(format!("{full:x}"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(full.to_string(), "0e0e4736");
    assert_eq!(&*full.short(), "0e0e4736");

    let short: TraceId = "A1B2C3D4".parse().unwrap();
    assert_eq!(short.to_string(), "a1b2c3d4");
    assert_eq!(format!("{short:x}").len(), 32);
    assert!(format!("{short:x}").ends_with("a1b2c3d4"));
}

#[test]
fn trace_id_errors_say_what_was_wrong() {
    let err = "abc".parse::<TraceId>().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid trace id "abc": expected 8 or 32 hex characters, got 3"#
    );
    let err = "a1b2c3dz".parse::<TraceId>().unwrap_err();
    assert_eq!(err.reason(), InvalidIdReason::NotHex { at: 7 });
    let err = "0".repeat(32).parse::<TraceId>().unwrap_err();
    assert_eq!(err.reason(), InvalidIdReason::Zero);
    assert!(TraceId::from_u128(0).is_none());
}

#[test]
fn span_id_parses_16_hex() {
    let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
    assert_eq!(id.to_string(), "00f067aa0ba902b7");
    assert_eq!(SpanId::from_bytes(id.to_bytes()), Some(id));
    assert!("00f067aa0ba902b".parse::<SpanId>().is_err());
    assert_eq!(
        "0000000000000000".parse::<SpanId>().unwrap_err().reason(),
        InvalidIdReason::Zero
    );
}

#[test]
fn with_methods_set_explicit_ids() {
    let trace: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    let parent: SpanId = "00f067aa0ba902b7".parse().unwrap();
    let ctx = TraceContext::new("job")
        .unwrap()
        .with_trace_id(trace)
        .with_parent_span_id(parent);
    assert_eq!(ctx.trace_id(), trace);
    assert_eq!(ctx.parent_span_id(), Some(parent));
}

#[test]
fn child_keeps_run_and_trace_and_links_spans() {
    let ctx = TraceContext::new("job").unwrap();
    assert_eq!(ctx.parent_span_id(), None);
    let child = ctx.child();
    let grandchild = child.child();
    assert_eq!(child.run_id(), ctx.run_id());
    assert_eq!(grandchild.trace_id(), ctx.trace_id());
    assert_ne!(child.span_id(), ctx.span_id());
    assert_eq!(child.parent_span_id(), Some(ctx.span_id()));
    assert_eq!(grandchild.parent_span_id(), Some(child.span_id()));
}

#[test]
fn display_and_debug_show_the_ids() {
    let ctx = TraceContext::new("job_x")
        .unwrap()
        .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap())
        .with_span_id("00f067aa0ba902b7".parse().unwrap());
    assert_eq!(
        ctx.to_string(),
        "run_id=job_x trace_id=0e0e4736 span_id=00f067aa0ba902b7"
    );
    let debug = format!("{ctx:?}");
    assert!(
        debug.contains("4bf92f3577b34da6a3ce929d0e0e4736"),
        "{debug}"
    );
}

#[test]
fn context_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<TraceContext>();
    let ctx = TraceContext::new("job").unwrap();
    let clone = ctx.clone();
    assert!(TraceContext::ptr_eq(&ctx, &clone));
}

#[test]
fn child_run_is_a_new_run_in_the_same_trace_under_the_parent_span() {
    let state = tracectx::propagation::TraceState::parse(["congo=t61rcWkgMzE"]).unwrap();
    let sweep = TraceContext::new("sweep_1")
        .unwrap()
        .with_trace_state(Some(state));
    let session = sweep.child_run("session_7").unwrap();
    assert_eq!(session.run_id(), "session_7");
    assert_eq!(session.trace_id(), sweep.trace_id());
    assert_eq!(session.parent_span_id(), Some(sweep.span_id()));
    assert_ne!(session.span_id(), sweep.span_id());
    assert_eq!(session.trace_flags(), sweep.trace_flags());
    assert_eq!(session.trace_state(), Some("congo=t61rcWkgMzE"));
    // A step of the nested run stays in it.
    let step = session.child();
    assert_eq!(
        (step.run_id(), step.trace_id()),
        (session.run_id(), sweep.trace_id())
    );
}

#[test]
fn child_run_refuses_an_invalid_run_id() {
    let sweep = TraceContext::new("sweep_1").unwrap();
    let err = sweep.child_run("session [7]").unwrap_err();
    assert_eq!(err.kind(), "run id");
    assert_eq!(err.position(), Some(7)); // the space
}

#[test]
fn with_parent_span_id_alone_does_not_join_the_parents_trace() {
    // Only the parent span id is set: the trace stays the new context's own. Nesting a run in
    // another's trace is `child_run`.
    let parent = TraceContext::new("parent").unwrap();
    let alone = TraceContext::new("child")
        .unwrap()
        .with_parent_span_id(parent.span_id());
    assert_eq!(alone.parent_span_id(), Some(parent.span_id()));
    assert_ne!(alone.trace_id(), parent.trace_id());
    let nested = parent.child_run("child").unwrap();
    assert_eq!(nested.trace_id(), parent.trace_id());
    assert_eq!(nested.parent_span_id(), Some(parent.span_id()));
}

#[test]
fn context_hashes_as_it_compares() {
    let ctx = TraceContext::new("sweep_1").unwrap();
    // Equal contexts that are not the same allocation hash alike; flags do not count.
    let same_ids = TraceContext::from_run_id(ctx.run_id().clone())
        .with_trace_id(ctx.trace_id())
        .with_span_id(ctx.span_id())
        .with_trace_flags(tracectx::TraceFlags::from_u8(0));
    assert!(ctx == same_ids && !TraceContext::ptr_eq(&ctx, &same_ids));
    let set: HashSet<TraceContext> = [ctx.clone(), same_ids, ctx.child(), ctx.child()]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 3);
    assert!(set.contains(&ctx));
}

#[test]
fn run_id_keys_are_found_by_str() {
    use std::collections::{BTreeMap, HashMap};
    let id = RunId::new("backtest_7").unwrap();
    let hashed: HashMap<_, _> = [(id.clone(), 1)].into();
    let ordered: BTreeMap<_, _> = [(id, 2)].into();
    assert_eq!(hashed.get("backtest_7"), Some(&1));
    assert_eq!(ordered.get("backtest_7"), Some(&2));
    assert_eq!(hashed.get("backtest_8"), None);
}
