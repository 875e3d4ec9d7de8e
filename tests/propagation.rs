//! W3C Trace Context and Baggage: each parsing rule, round trips, hostile input, and the tower
//! layers on loopback.
#![cfg(feature = "http")]

use std::collections::HashMap;

use tracectx::propagation::{
    self, Baggage, TraceParent, TraceParentError, TraceState, TraceStateError, UNREADABLE,
};
use tracectx::{TraceContext, TraceFlags};

mod support;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const DERIVED_RUN: &str = "trace_4bf92f3577b34da6a3ce929d0e0e4736";

// === helpers ===

fn tp(s: &str) -> Result<TraceParent, TraceParentError> {
    TraceParent::parse(s)
}

/// `VALID` with `with` written over the same number of bytes from `at`: the length stays 55,
/// so the parser reports the character, not the length.
fn splice(at: usize, with: &str) -> String {
    let mut s = VALID.to_owned();
    s.replace_range(at..at + with.len(), with);
    assert_eq!(s.len(), VALID.len());
    s
}

fn ts(values: &[&str]) -> Result<TraceState, TraceStateError> {
    TraceState::parse(values.iter().copied())
}

/// A header map holding exactly these values (raw bytes: obs-text reaches the map).
fn headers(pairs: &[(&str, &[u8])]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(v).unwrap(),
        );
    }
    map
}

fn extract_with_baggage(baggage: &str) -> TraceContext {
    propagation::extract(&headers(&[
        ("traceparent", VALID.as_bytes()),
        ("baggage", baggage.as_bytes()),
    ]))
    .expect("the traceparent is valid")
}

/// Runs a request through the server `ExtractTraceContextLayer` and returns the context the handler
/// ran in.
async fn handler_context(req: http::Request<()>) -> TraceContext {
    use tower::{Layer as _, ServiceExt as _};
    let svc = propagation::ExtractTraceContextLayer::new().layer(tower::service_fn(
        |_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(tracectx::current()))
        },
    ));
    let resp = svc.oneshot(req).await.unwrap();
    resp.into_body()
        .expect("the layer runs the handler in a context")
}

/// The handler made a new trace: a `request_` run, no parent, none of the sender's ids.
fn assert_fresh_trace(ctx: &TraceContext) {
    assert!(ctx.run_id().starts_with("request_"), "{}", ctx.run_id());
    assert_eq!(ctx.parent_span_id(), None);
    assert_ne!(format!("{:x}", ctx.trace_id()), TRACE);
}

// === traceparent: valid ===

#[test]
fn traceparent_valid_example_parses_and_formats_back() {
    let p = tp(VALID).unwrap();
    assert_eq!(format!("{:x}", p.trace_id()), TRACE);
    assert_eq!(p.parent_id().to_string(), PARENT);
    assert!(p.flags().is_sampled());
    assert_eq!(p.to_string(), VALID);
}

#[test]
fn traceparent_unsampled_flag_is_read() {
    let unsampled = tp(&splice(53, "00")).unwrap();
    assert!(!unsampled.flags().is_sampled());
    assert_eq!(unsampled.to_string(), splice(53, "00"));
}

#[test]
fn traceparent_surrounding_whitespace_is_ignored() {
    for padded in [
        format!(" {VALID}"),
        format!("\t{VALID}"),
        format!("{VALID} "),
        format!("{VALID}\t"),
        format!("\t {VALID} \t"),
    ] {
        assert_eq!(tp(&padded).unwrap().to_string(), VALID, "{padded:?}");
    }
}

// === traceparent: version ===

#[test]
fn traceparent_version_ff_is_refused() {
    assert_eq!(tp(&splice(0, "ff")), Err(TraceParentError::Version));
}

#[test]
fn traceparent_version_non_hex_is_refused() {
    assert_eq!(
        tp(&splice(0, ".0")),
        Err(TraceParentError::NotHex { at: 0 })
    );
    assert_eq!(
        tp(&splice(0, "0.")),
        Err(TraceParentError::NotHex { at: 1 })
    );
    assert_eq!(
        tp(&splice(0, "0A")),
        Err(TraceParentError::NotHex { at: 1 })
    );
}

#[test]
fn traceparent_version_of_wrong_width_is_refused() {
    // Three or one digit: every later field is off by one.
    assert!(tp(&format!("0{VALID}")).is_err());
    assert!(tp(&VALID[1..]).is_err());
}

#[test]
fn traceparent_version_00_must_be_exactly_55() {
    assert_eq!(tp(&VALID[..54]), Err(TraceParentError::Length { got: 54 }));
    assert_eq!(
        tp(&format!("{VALID}-extra")),
        Err(TraceParentError::Length { got: 61 })
    );
    assert_eq!(
        tp(&format!("{VALID}.")),
        Err(TraceParentError::Length { got: 56 })
    );
}

#[test]
fn traceparent_future_version_reads_the_first_55() {
    let p = tp(&format!("{}-what-the-future-holds", splice(0, "cc"))).unwrap();
    assert_eq!(p.version(), 0xcc);
    assert_eq!(p.to_string(), VALID, "formatted as version 00");
    assert!(tp(&splice(0, "cc")).is_ok());
}

#[test]
fn traceparent_future_version_needs_a_dash_after_55() {
    assert_eq!(
        tp(&format!("{}.what", splice(0, "cc"))),
        Err(TraceParentError::Delimiter { at: 55 })
    );
}

// === traceparent: fields ===

#[test]
fn traceparent_uppercase_hex_is_refused() {
    assert_eq!(
        tp(&VALID.replace(TRACE, &TRACE.to_uppercase())),
        Err(TraceParentError::NotHex { at: 4 })
    );
    assert!(tp(&VALID.replace(PARENT, &PARENT.to_uppercase())).is_err());
    assert!(tp(&splice(53, "0A")).is_err());
}

#[test]
fn traceparent_trace_id_with_non_hex_characters_is_refused() {
    assert_eq!(tp(&splice(8, "g")), Err(TraceParentError::NotHex { at: 8 }));
    assert_eq!(tp(&splice(3, ".")), Err(TraceParentError::NotHex { at: 3 }));
    assert_eq!(
        tp(&splice(34, ".")),
        Err(TraceParentError::NotHex { at: 34 })
    );
    // 'é' is two bytes: written over two digits, the length stays 55.
    assert_eq!(
        tp(&splice(10, "é")),
        Err(TraceParentError::NotHex { at: 10 })
    );
}

#[test]
fn traceparent_parent_id_with_non_hex_characters_is_refused() {
    assert_eq!(
        tp(&splice(36, "g")),
        Err(TraceParentError::NotHex { at: 36 })
    );
    assert_eq!(
        tp(&splice(51, ".")),
        Err(TraceParentError::NotHex { at: 51 })
    );
    assert_eq!(
        tp(&splice(40, "é")),
        Err(TraceParentError::NotHex { at: 40 })
    );
}

#[test]
fn traceparent_flags_with_non_hex_characters_are_refused() {
    assert_eq!(
        tp(&splice(53, "g1")),
        Err(TraceParentError::NotHex { at: 53 })
    );
    assert_eq!(
        tp(&splice(53, ".0")),
        Err(TraceParentError::NotHex { at: 53 })
    );
    assert_eq!(
        tp(&splice(53, "0.")),
        Err(TraceParentError::NotHex { at: 54 })
    );
    assert_eq!(
        tp(&splice(53, "é")),
        Err(TraceParentError::NotHex { at: 53 })
    );
}

#[test]
fn traceparent_fields_of_wrong_width_are_refused() {
    for bad in [
        "00-123456789012345678901234567890123-1234567890123456-01", // trace id 33
        "00-1234567890123456789012345678901-1234567890123456-01",   // trace id 31
        "00-12345678901234567890123456789012-12345678901234567-01", // parent id 17
        "00-12345678901234567890123456789012-123456789012345-01",   // parent id 15
        "00-12345678901234567890123456789012-1234567890123456-001", // flags 3
        "00-12345678901234567890123456789012-1234567890123456-1",   // flags 1
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     // no flags
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",    // empty flags
    ] {
        assert!(tp(bad).is_err(), "{bad}");
        assert!(tp(&format!("cc{}", &bad[2..])).is_err(), "cc{}", &bad[2..]);
    }
}

#[test]
fn traceparent_zero_trace_id_is_refused() {
    assert_eq!(
        tp(&VALID.replace(TRACE, &"0".repeat(32))),
        Err(TraceParentError::ZeroTraceId)
    );
}

#[test]
fn traceparent_zero_parent_id_is_refused() {
    assert_eq!(
        tp(&VALID.replace(PARENT, &"0".repeat(16))),
        Err(TraceParentError::ZeroParentId)
    );
}

#[test]
fn traceparent_bad_delimiters_are_refused() {
    assert_eq!(
        tp(&splice(2, "_")),
        Err(TraceParentError::Delimiter { at: 2 })
    );
    assert_eq!(
        tp(&splice(35, "_")),
        Err(TraceParentError::Delimiter { at: 35 })
    );
    assert_eq!(
        tp(&splice(52, "_")),
        Err(TraceParentError::Delimiter { at: 52 })
    );
}

#[test]
fn traceparent_reserved_flags_are_not_passed_on() {
    let p = tp(&splice(53, "ff")).unwrap();
    assert_eq!(p.flags().to_u8(), 0xff);
    assert!(p.to_string().ends_with("-03"));
}

#[test]
fn traceparent_random_flag_is_carried_through_extract() {
    // Level 2: bit 0x02 says the trace id is random; it travels with the trace id.
    for (flags, sampled) in [("02", false), ("03", true)] {
        let value = splice(53, flags);
        let map = headers(&[("traceparent", value.as_bytes())]);
        let ctx = propagation::extract(&map).unwrap();
        assert!(ctx.trace_flags().is_random(), "{flags}");
        assert_eq!(ctx.trace_flags().is_sampled(), sampled, "{flags}");
        let mut out = HashMap::new();
        propagation::inject(&ctx, &mut out);
        assert!(
            out["traceparent"].ends_with(&format!("-{flags}")),
            "{out:?}"
        );
    }
}

#[test]
fn traceparent_reserved_flags_are_dropped_by_extract_and_random_kept() {
    let map = headers(&[("traceparent", splice(53, "fe").as_bytes())]);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.trace_flags(), TraceFlags::RANDOM);
}

// === tracestate: accepted ===

#[test]
fn tracestate_members_are_kept_in_order() {
    let ok = ts(&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).unwrap();
    assert_eq!(ok.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    assert_eq!(ok.get("rojo"), Some("00f067aa0ba902b7"));
    assert_eq!(ok.get("congo"), Some("t61rcWkgMzE"));
}

#[test]
fn tracestate_several_headers_are_one_list() {
    let ok = ts(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).unwrap();
    assert_eq!(ok.as_str(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
}

#[test]
fn tracestate_empty_header_among_others_is_ignored() {
    assert_eq!(ts(&["foo=1", ""]).unwrap().as_str(), "foo=1");
    assert_eq!(ts(&["", "foo=1"]).unwrap().as_str(), "foo=1");
}

#[test]
fn tracestate_empty_members_are_ignored() {
    assert_eq!(
        ts(&["rojo=1,,congo=2,"]).unwrap().as_str(),
        "rojo=1,congo=2"
    );
}

#[test]
fn tracestate_of_only_spaces_and_commas_is_empty_and_not_passed_on() {
    // Empty list members are allowed; the list is then empty, and an empty `tracestate` is
    // not sent on.
    for value in ["", " ", " , ,\t,", ",,,"] {
        assert!(ts(&[value]).unwrap().is_empty(), "{value:?}");
        let map = headers(&[
            ("traceparent", VALID.as_bytes()),
            ("tracestate", value.as_bytes()),
        ]);
        let ctx = propagation::extract(&map).unwrap();
        assert_eq!(ctx.trace_state(), None, "{value:?}");
        let mut out = HashMap::new();
        propagation::inject(&ctx, &mut out);
        assert!(!out.contains_key("tracestate"), "{value:?}");
    }
}

#[test]
fn tracestate_whitespace_around_members_is_dropped() {
    for value in [
        "foo=1 \t , \t bar=2",
        "foo=1\t \t,\t \tbar=2",
        " foo=1,bar=2\t",
    ] {
        assert_eq!(ts(&[value]).unwrap().as_str(), "foo=1,bar=2", "{value:?}");
    }
}

#[test]
fn tracestate_value_trailing_space_is_whitespace_around_the_member() {
    // `value` cannot end in a space (`0*255(chr) nblk-chr`), but a space after it is the
    // list's optional whitespace: the member is kept, the space dropped.
    let ok = ts(&["foo=1 "]).unwrap();
    assert_eq!(ok.as_str(), "foo=1");
    assert_eq!(ok.get("foo"), Some("1"));
    let ok = ts(&["foo=a b  ,bar=2"]).unwrap();
    assert_eq!(ok.get("foo"), Some("a b"));
}

#[test]
fn tracestate_value_inner_and_leading_spaces_are_kept() {
    let ok = ts(&["foo= a b"]).unwrap();
    assert_eq!(ok.get("foo"), Some(" a b"));
}

#[test]
fn tracestate_value_of_only_spaces_is_refused() {
    assert!(ts(&["foo=   "]).is_err());
}

#[test]
fn tracestate_all_allowed_characters_are_kept() {
    let key: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
    let value: String = (0x20u8..=0x7e)
        .filter(|&b| b != b',' && b != b'=')
        .map(char::from)
        .collect();
    for key in [key.clone(), format!("{key}@a-z0-9_-*/")] {
        let ok = ts(&[&format!("{key}={value}")]).unwrap();
        assert_eq!(ok.get(&key), Some(value.as_str()), "{key}");
    }
}

#[test]
fn tracestate_multi_tenant_key_is_accepted() {
    let ok = ts(&["tenant@vendor=a b,1tenant@v=2"]).unwrap();
    assert_eq!(ok.get("tenant@vendor"), Some("a b"));
    assert_eq!(ok.get("1tenant@v"), Some("2"));
}

// === tracestate: refused ===

#[test]
fn tracestate_member_without_equals_is_refused() {
    assert_eq!(ts(&["novalue"]), Err(TraceStateError::Member { index: 0 }));
    assert_eq!(
        ts(&["rojo=1", "congo"]),
        Err(TraceStateError::Member { index: 1 })
    );
}

#[test]
fn tracestate_empty_key_is_refused() {
    assert!(ts(&["=v"]).is_err());
}

#[test]
fn tracestate_empty_value_is_refused() {
    assert!(ts(&["foo="]).is_err());
    assert!(ts(&["foo=,bar=3"]).is_err(), "the whole list goes");
}

#[test]
fn tracestate_key_uppercase_is_refused() {
    assert!(ts(&["Upper=1"]).is_err());
    assert!(ts(&["FOO=1"]).is_err());
}

#[test]
fn tracestate_key_may_start_with_a_digit() {
    assert_eq!(ts(&["1abc=v"]).unwrap().get("1abc"), Some("v"));
}

#[test]
fn tracestate_key_illegal_characters_are_refused() {
    for bad in ["foo =1", "foo.bar=1", "fo o=1", "foé=1"] {
        assert!(ts(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn tracestate_key_over_256_chars_is_refused() {
    let at_limit = format!("{}=1", "z".repeat(256));
    assert!(ts(&["foo=1", &at_limit]).is_ok());
    let over = format!("{}=1", "z".repeat(257));
    assert!(ts(&["foo=1", &over]).is_err());
}

#[test]
fn tracestate_key_of_256_characters_may_hold_at_signs_anywhere() {
    // Level 2: `key = ( lcalpha / DIGIT ) 0*255( keychar )`, `@` a keychar; the older
    // `tenant@system` limits (241 and 14) are gone.
    for key in [
        format!("{}@v", "t".repeat(254)),
        format!("t@{}", "v".repeat(254)),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
    ] {
        assert!(ts(&["foo=1", &format!("{key}=1")]).is_ok(), "{key}");
    }
    let over = format!("t@{}=1", "v".repeat(255));
    assert!(ts(&["foo=1", &over]).is_err());
}

#[test]
fn tracestate_at_sign_is_a_key_character_but_not_the_first() {
    for ok in ["foo@=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"] {
        assert_eq!(ts(&[ok]).unwrap().get("bar"), Some("2"), "{ok:?}");
    }
    assert!(ts(&["@foo=1,bar=2"]).is_err());
}

#[test]
fn tracestate_value_over_256_chars_is_refused() {
    let at_limit = format!("foo={}", "v".repeat(256));
    assert!(ts(&[&at_limit]).is_ok());
    let over = format!("foo={}", "v".repeat(257));
    assert!(ts(&[&over]).is_err());
}

#[test]
fn tracestate_value_with_equals_is_refused() {
    assert!(ts(&["foo=bar=baz"]).is_err());
}

#[test]
fn tracestate_value_control_and_non_ascii_characters_are_refused() {
    for bad in ["k=tab\tvalue", "k=a\u{7f}b", "k=a\u{1}b", "k=é", "k=a\nb"] {
        assert!(ts(&[bad]).is_err(), "{bad:?}");
    }
}

#[test]
fn tracestate_repeated_key_keeps_the_first_entry() {
    assert_eq!(ts(&["foo=1,foo=2"]).unwrap().as_str(), "foo=1");
    assert_eq!(ts(&["foo=1,foo=1"]).unwrap().as_str(), "foo=1");
    assert_eq!(
        ts(&["foo=1", "bar=2,foo=2"]).unwrap().as_str(),
        "foo=1,bar=2",
        "across headers too"
    );
}

#[test]
fn tracestate_more_than_32_members_is_refused() {
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let header = |range: std::ops::Range<usize>| members[range].join(",");
    let at_limit = ts(&[
        &header(0..10),
        &header(10..20),
        &header(20..30),
        &header(30..32),
    ]);
    assert_eq!(at_limit.unwrap().get("bar01"), Some("01"));
    assert_eq!(
        ts(&[
            &header(0..10),
            &header(10..20),
            &header(20..30),
            &header(30..33)
        ]),
        Err(TraceStateError::TooManyMembers)
    );
}

#[test]
fn extract_passes_tracestate_on_and_drops_an_invalid_one() {
    let map = headers(&[
        ("traceparent", VALID.as_bytes()),
        ("tracestate", b"rojo=00f067aa0ba902b7"),
    ]);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.trace_state(), Some("rojo=00f067aa0ba902b7"));
    let mut out = HashMap::new();
    propagation::inject(&ctx, &mut out);
    assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7");

    let map = headers(&[
        ("traceparent", VALID.as_bytes()),
        ("tracestate", b"a=1,B=2"),
    ]);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.trace_state(), None);
    assert_eq!(format!("{:x}", ctx.trace_id()), TRACE, "the trace is kept");
}

// === baggage ===

#[test]
fn baggage_whitespace_and_properties_are_read_past() {
    let b = Baggage::parse(["run_id = job_1 ;prop; k=v"]);
    assert_eq!(b.get("run_id"), Some("job_1"));
    assert_eq!(b.iter().count(), 1, "properties are not members");
}

#[test]
fn baggage_percent_encoded_values_are_decoded() {
    let b = Baggage::parse(["other=%E2%9C%93,note=a%20b"]);
    assert_eq!(b.get("other"), Some("✓"));
    assert_eq!(b.get("note"), Some("a b"));
}

#[test]
fn baggage_malformed_members_are_skipped_and_the_rest_kept() {
    let b = Baggage::parse(["bad key=1,run_id=ok,x=%ZZ,y=\"q\",z=%FF,noequals"]);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![("run_id", "ok")]);
}

#[test]
fn baggage_later_member_replaces_an_earlier_one() {
    let b = Baggage::parse(["run_id=a", "run_id=b"]);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![("run_id", "b")]);
}

#[test]
fn baggage_over_8192_bytes_is_ignored_whole() {
    let at_limit = format!("run_id=a,pad={}", "x".repeat(8192 - 13));
    assert_eq!(at_limit.len(), 8192);
    assert_eq!(Baggage::parse([at_limit.as_str()]).get("run_id"), Some("a"));
    let over = format!("{at_limit}x");
    assert!(Baggage::parse([over.as_str()]).is_empty());
    assert_eq!(
        extract_with_baggage(&over).run_id(),
        DERIVED_RUN,
        "extract applies the same limit"
    );
}

#[test]
fn baggage_over_180_members_is_ignored_whole() {
    let many: Vec<String> = (0..180).map(|i| format!("k{i}=v")).collect();
    assert_eq!(
        Baggage::parse([many.join(",").as_str()]).iter().count(),
        180
    );
    let over = format!("run_id=job_1,{}", many.join(","));
    assert!(Baggage::parse([over.as_str()]).is_empty());
    assert_eq!(extract_with_baggage(&over).run_id(), DERIVED_RUN);
}

#[test]
fn baggage_encoding_round_trips() {
    let mut b = Baggage::new();
    b.insert("note", "a b,c;d%\n\"é");
    let again = Baggage::parse([b.to_string().as_str()]);
    assert_eq!(again.get("note"), Some("a b,c;d%\n\"é"));
}

// === extract: run id ===

#[test]
fn inject_extract_round_trip_over_header_map() {
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    let mut map = http::HeaderMap::new();
    propagation::inject(&ctx, &mut map);
    assert_eq!(map["baggage"], "run_id=backtest_ab12cd34");
    let there = propagation::extract(&map).unwrap();
    assert_eq!(there.run_id(), ctx.run_id());
    assert_eq!(there.trace_id(), ctx.trace_id());
    assert_eq!(there.parent_span_id(), Some(ctx.span_id()));
    assert_ne!(there.span_id(), ctx.span_id());
    assert_eq!(there.trace_flags(), ctx.trace_flags());
}

#[test]
fn extract_without_baggage_derives_the_run_from_the_trace() {
    let ctx = propagation::extract(&headers(&[("traceparent", VALID.as_bytes())])).unwrap();
    assert_eq!(ctx.run_id(), DERIVED_RUN);
}

#[test]
fn extract_run_id_at_the_length_limit_is_kept() {
    let run = "r".repeat(tracectx::MAX_RUN_ID_LEN);
    assert_eq!(
        extract_with_baggage(&format!("run_id={run}")).run_id(),
        run.as_str()
    );
}

#[test]
fn extract_over_long_run_id_falls_back_to_the_derived_run() {
    let run = "r".repeat(tracectx::MAX_RUN_ID_LEN + 1);
    assert_eq!(
        extract_with_baggage(&format!("run_id={run}")).run_id(),
        DERIVED_RUN
    );
}

#[test]
fn extract_invalid_run_id_falls_back_to_the_derived_run() {
    for baggage in [
        "run_id=",
        "run_id=a%20b",
        "run_id=%5Bother_run%5D",
        "run_id=[other_run]",
        "run_id=%22quoted%22",
        "run_id='quoted'",
        "run_id=a%0Ab",
        "run_id=a%0Db",
        "run_id=a%00b",
        "run_id=%C3%A9",
        "run_id=%FF",
        "run_id=a%2",
    ] {
        assert_eq!(
            extract_with_baggage(baggage).run_id(),
            DERIVED_RUN,
            "{baggage}"
        );
    }
}

// === extract: duplicate traceparent ===

#[test]
fn extract_refuses_missing_or_invalid_traceparent() {
    assert!(propagation::extract(&headers(&[])).is_none());
    assert!(propagation::extract(&headers(&[("traceparent", b"garbage")])).is_none());
}

#[test]
fn extract_refuses_two_traceparent_headers() {
    let other = VALID.replace(TRACE, "12345678901234567890123456789012");
    let map = headers(&[
        ("traceparent", VALID.as_bytes()),
        ("traceparent", other.as_bytes()),
    ]);
    assert!(propagation::extract(&map).is_none());
    let map = headers(&[
        ("traceparent", VALID.as_bytes()),
        ("traceparent", VALID.as_bytes()),
    ]);
    assert!(propagation::extract(&map).is_none(), "even identical ones");
}

#[test]
fn header_map_reports_values_that_are_not_text() {
    let map = headers(&[
        ("traceparent", VALID.as_bytes()),
        ("traceparent", b"\x80\xff"),
        ("traceparent", "é".as_bytes()),
    ]);
    // The trait's `get_all`, not `HeaderMap`'s own.
    let values: Vec<&str> = propagation::Extractor::get_all(&map, "traceparent").collect();
    assert_eq!(values, [VALID, UNREADABLE, "é"]);
}

#[test]
fn extract_refuses_a_second_traceparent_that_is_not_text() {
    // obs-text (bytes 0x80-0xff) is a legal header byte: the second value is unreadable, but it
    // is still a second `traceparent`.
    for second in [
        b"\xff".to_vec(),
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\x80".to_vec(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é".into(),
    ] {
        let map = headers(&[("traceparent", VALID.as_bytes()), ("traceparent", &second)]);
        assert_eq!(map.get_all("traceparent").iter().count(), 2);
        assert!(propagation::extract(&map).is_none(), "{second:?}");
        let map = headers(&[("traceparent", &second), ("traceparent", VALID.as_bytes())]);
        assert!(propagation::extract(&map).is_none(), "{second:?} first");
    }
}

#[tokio::test]
async fn server_layer_starts_a_new_trace_for_a_valid_and_an_unreadable_traceparent() {
    let req = http::Request::builder()
        .header("traceparent", VALID)
        .header(
            "traceparent",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        )
        .header("baggage", "run_id=backtest_ab12cd34")
        .body(())
        .unwrap();
    assert_fresh_trace(&handler_context(req).await);
}

#[test]
fn hash_map_carrier_is_case_insensitive_on_read() {
    let mut map = HashMap::new();
    map.insert("TraceParent".to_string(), VALID.to_string());
    assert!(propagation::extract(&map).is_some());
    map.insert("TRACEPARENT".to_string(), VALID.to_string());
    assert!(
        propagation::extract(&map).is_none(),
        "two names differing in case are two headers"
    );
}

// === hostile input ===

/// Values no valid header holds, all of which `http::HeaderValue` accepts: over-long, obs-text
/// (invalid UTF-8 and valid non-ASCII UTF-8), spaces and tabs inside.
fn hostile_header_values() -> Vec<Vec<u8>> {
    vec![
        "0".repeat(1 << 20).into_bytes(),
        format!("{VALID}{}x", " ".repeat(1 << 16)).into_bytes(),
        format!("00-{}-00f067aa0ba902b7-01", "é".repeat(16)).into_bytes(),
        vec![0xff; 55],
        vec![0x80; 1 << 16],
        [&VALID.as_bytes()[..54], b"\x81"].concat(),
        VALID.replace('-', "\u{2011}").into_bytes(), // non-breaking hyphens
        VALID.replace('-', "\t").into_bytes(),
        format!("{VALID},{VALID}").into_bytes(),
    ]
}

#[tokio::test]
async fn hostile_traceparent_in_a_header_map_starts_a_new_trace() {
    for value in hostile_header_values() {
        let value = http::HeaderValue::from_bytes(&value).expect("a legal header value");
        let mut map = http::HeaderMap::new();
        map.insert("traceparent", value.clone());
        map.insert("baggage", http::HeaderValue::from_static("run_id=job_1"));
        assert_eq!(map["traceparent"], value, "the value reached the map");
        assert!(propagation::extract(&map).is_none(), "{value:?}");

        let req = http::Request::builder()
            .header("traceparent", value.clone())
            .body(())
            .unwrap();
        assert_fresh_trace(&handler_context(req).await);
    }
}

#[test]
fn hostile_traceparent_with_control_characters_is_refused() {
    // `http::HeaderValue` refuses control characters; other carriers (queue metadata) do not.
    for value in [
        format!("{VALID}\r\nbaggage: run_id=other_run"),
        format!("\n{VALID}"),
        format!("{}\u{1}", &VALID[..54]),
        format!("{}\0", &VALID[..54]),
        format!("\u{1b}[31m{VALID}"),
        VALID.replace('-', "\u{7f}"),
        VALID.replace('-', "\n"),
        "\0".repeat(55),
    ] {
        let map = HashMap::from([("traceparent".to_owned(), value.clone())]);
        assert_eq!(map["traceparent"], value);
        assert!(propagation::extract(&map).is_none(), "{value:?}");
        assert!(TraceParent::parse(&value).is_err(), "{value:?}");
    }
}

#[test]
fn hostile_tracestate_and_baggage_are_dropped_and_the_trace_kept() {
    for value in hostile_header_values() {
        let map = headers(&[
            ("traceparent", VALID.as_bytes()),
            ("tracestate", &value),
            ("baggage", &value),
        ]);
        assert_eq!(map["tracestate"].as_bytes(), value.as_slice());
        let ctx = propagation::extract(&map).unwrap();
        assert_eq!(format!("{:x}", ctx.trace_id()), TRACE);
        assert_eq!(ctx.trace_state(), None);
        assert_eq!(ctx.run_id(), DERIVED_RUN);
    }
    for value in [
        "rojo=1\r\nbaggage: run_id=other_run",
        "rojo=1\0",
        "rojo=\u{1b}[31m",
        "rojo=1,\n[other_run]=1",
    ] {
        let map = HashMap::from([
            ("traceparent".to_owned(), VALID.to_owned()),
            ("tracestate".to_owned(), value.to_owned()),
            ("baggage".to_owned(), format!("run_id={value}")),
        ]);
        let ctx = propagation::extract(&map).unwrap();
        assert_eq!(ctx.trace_state(), None, "{value:?}");
        assert_eq!(ctx.run_id(), DERIVED_RUN, "{value:?}");
    }
}

#[test]
fn thousand_duplicate_traceparent_headers_start_a_new_trace() {
    let mut map = http::HeaderMap::new();
    for _ in 0..1_000 {
        map.append("traceparent", http::HeaderValue::from_static(VALID));
    }
    assert_eq!(map.get_all("traceparent").iter().count(), 1_000);
    assert!(propagation::extract(&map).is_none());
}

#[test]
fn thousand_tracestate_headers_are_dropped_and_the_trace_kept() {
    let mut distinct = headers(&[("traceparent", VALID.as_bytes())]);
    let mut same = distinct.clone();
    for i in 0..1_000 {
        let member = http::HeaderValue::from_str(&format!("k{i}=v")).unwrap();
        distinct.append("tracestate", member);
        same.append("tracestate", http::HeaderValue::from_static("rojo=1"));
    }
    for map in [distinct, same] {
        assert_eq!(map.get_all("tracestate").iter().count(), 1_000);
        let ctx = propagation::extract(&map).unwrap();
        assert_eq!(format!("{:x}", ctx.trace_id()), TRACE);
        assert_eq!(ctx.trace_state(), None, "over 32 members");
    }
}

#[test]
fn thousand_baggage_headers_are_ignored_and_the_run_derived() {
    let mut map = headers(&[("traceparent", VALID.as_bytes())]);
    for _ in 0..1_000 {
        map.append(
            "baggage",
            http::HeaderValue::from_static("run_id=backtest_ab12cd34"),
        );
    }
    assert_eq!(map.get_all("baggage").iter().count(), 1_000);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.run_id(), DERIVED_RUN, "over 180 members: ignored whole");
}

#[cfg(feature = "logging")]
mod log_injection {
    //! Hostile baggage, then a log line through the crate's logging: one event, one line.

    use tracectx::logging::{self, FixedClock};

    use super::*;

    const TS: &str = "2024-01-01T10:00:00.000000Z";

    use crate::support::Buffer;

    #[test]
    fn hostile_baggage_cannot_forge_a_log_line() {
        let forged = "[2024-01-01T10:00:00.000000Z] [other_run] [deadbeef] INFO - forged";
        let hostile = [
            format!("run_id=x%0A{}", forged.replace(' ', "%20")),
            format!("run_id=x%0D{}", forged.replace(' ', "%20")),
            format!("run_id=x%0D%0A{}", forged.replace(' ', "%20")),
            "run_id=%5Bother_run%5D".to_owned(),
            "run_id=[other_run]".to_owned(),
            "run_id=x]%20[other_run".to_owned(),
            "run_id=%22other_run%22".to_owned(),
            "run_id=%27other_run%27".to_owned(),
            "run_id=other_run%0A".to_owned(),
        ];
        for baggage in &hostile {
            let buf = Buffer::default();
            let subscriber = logging::builder()
                .with_writer(buf.clone())
                .with_clock(FixedClock::rfc3339(TS).unwrap())
                .with_level(tracing::Level::INFO)
                .build()
                .unwrap();
            let ctx = extract_with_baggage(baggage);
            tracing::subscriber::with_default(subscriber, || {
                ctx.sync_scope(|| tracing::info!(target: "svc", "handled"));
            });
            let out = buf.text();
            assert_eq!(
                out,
                format!("[{TS}] [{DERIVED_RUN}] [0e0e4736] INFO svc - handled\n"),
                "{baggage}"
            );
            assert!(!out.contains("other_run"), "{baggage}");
        }
    }
}

mod loopback {
    //! The tower layers on real servers and clients, on loopback.

    use std::convert::Infallible;
    use std::net::SocketAddr;

    use axum::{Router, routing::get};
    use http_body_util::{BodyExt as _, Empty, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    use tower::{Service as _, ServiceBuilder, ServiceExt as _};
    use tracectx::prelude::*;
    use tracectx::propagation::{ExtractTraceContextLayer, InjectTraceContextLayer, TraceParent};

    use super::{PARENT, TRACE, VALID};

    /// The ids the handler runs with, as `run_id trace_id parent_span_id span_id tracestate`.
    fn describe(ctx: &TraceContext) -> String {
        format!(
            "{} {:x} {} {} {}",
            ctx.run_id(),
            ctx.trace_id(),
            ctx.parent_span_id()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            ctx.span_id(),
            ctx.trace_state().unwrap_or("-"),
        )
    }

    async fn whoami() -> String {
        describe(&tracectx::current().expect("the layer sets a context"))
    }

    async fn serve_axum() -> SocketAddr {
        let app = Router::new()
            .route("/", get(whoami))
            .layer(ExtractTraceContextLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// A plain hyper server (no axum): a `service_fn` handler behind `ExtractTraceContextLayer`,
    /// served connection by connection with hyper's HTTP/1 server.
    async fn serve_hyper() -> SocketAddr {
        let svc = ServiceBuilder::new()
            .layer(ExtractTraceContextLayer::new())
            .service_fn(|req: http::Request<Incoming>| async move {
                let current = tracectx::current().expect("the layer sets a context");
                let given = req.extensions().get::<TraceContext>().expect("and a value");
                assert_eq!(&current, given);
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(describe(
                    &current,
                )))))
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = TowerToHyperService::new(svc.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    }

    /// A plain hyper server that sends the request's headers out on a channel and answers 200.
    async fn serve_recorder() -> (
        SocketAddr,
        tokio::sync::mpsc::UnboundedReceiver<http::HeaderMap>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let tx = tx.clone();
                let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let _ = tx.send(req.headers().clone());
                    async { Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new())) }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (addr, rx)
    }

    async fn body_text(resp: http::Response<Incoming>) -> String {
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn client_and_server_layers_carry_the_run_over_http() {
        let addr = serve_axum().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut client = ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(client);

        let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
        let req = http::Request::get(format!("http://{addr}/"))
            .body(Empty::new())
            .unwrap();
        // The context is read when `call` is made: call inside the scope.
        let resp = async { client.ready().await.unwrap().call(req).await }
            .in_trace_context(ctx.clone())
            .await
            .unwrap();
        let echoed = TraceParent::parse(resp.headers()["traceparent"].to_str().unwrap()).unwrap();
        assert_eq!(echoed.trace_id(), ctx.trace_id());
        let body = body_text(resp).await;
        assert_eq!(
            body,
            format!(
                "backtest_ab12cd34 {:x} {} {} -",
                ctx.trace_id(),
                ctx.span_id(),
                echoed.parent_id()
            ),
            "the server runs in its own span, named in the response"
        );
        assert_ne!(echoed.parent_id(), ctx.span_id());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn server_starts_a_new_run_for_a_request_without_context() {
        let addr = serve_axum().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut runs = std::collections::HashSet::new();
        for _ in 0..20 {
            let req = http::Request::get(format!("http://{addr}/"))
                .header("traceparent", "garbage")
                .body(Empty::new())
                .unwrap();
            let body = body_text(client.clone().oneshot(req).await.unwrap()).await;
            assert!(body.starts_with("request_"), "{body}");
            let run = body.split(' ').next().unwrap().to_owned();
            assert!(runs.insert(run), "every request gets its own run");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hyper_service_behind_the_server_layer_continues_the_trace() {
        let addr = serve_hyper().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let req = http::Request::get(format!("http://{addr}/"))
            .header("traceparent", VALID)
            .header("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
            .header("baggage", "run_id=backtest_ab12cd34,user=alice")
            .body(Empty::new())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), http::StatusCode::OK);
        let echoed = TraceParent::parse(resp.headers()["traceparent"].to_str().unwrap()).unwrap();
        let body = body_text(resp).await;
        assert_eq!(
            body,
            format!(
                "backtest_ab12cd34 {TRACE} {PARENT} {} rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
                echoed.parent_id()
            )
        );
        assert_eq!(format!("{:x}", echoed.trace_id()), TRACE);
        assert_ne!(
            echoed.parent_id().to_string(),
            PARENT,
            "a new span this side"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hyper_service_starts_a_new_trace_for_a_second_unreadable_traceparent() {
        let addr = serve_hyper().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let req = http::Request::get(format!("http://{addr}/"))
            .header("traceparent", VALID)
            .header(
                "traceparent",
                http::HeaderValue::from_bytes(b"\xff\x80").unwrap(),
            )
            .header("baggage", "run_id=backtest_ab12cd34")
            .body(Empty::new())
            .unwrap();
        let resp = client.request(req).await.unwrap();
        let body = body_text(resp).await;
        let fields: Vec<&str> = body.split(' ').collect();
        assert!(fields[0].starts_with("request_"), "{body}");
        assert_ne!(fields[1], TRACE, "{body}");
        assert_eq!(fields[2], "-", "no parent: {body}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn hyper_client_layer_sends_the_current_context() {
        let (addr, mut received) = serve_recorder().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut client = ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(client);
        let state = tracectx::propagation::TraceState::parse(["rojo=00f067aa0ba902b7"]).unwrap();
        let ctx = TraceContext::new("backtest_ab12cd34")
            .unwrap()
            .with_trace_state(Some(state));
        let req = http::Request::get(format!("http://{addr}/"))
            .body(Empty::new())
            .unwrap();
        async { client.ready().await.unwrap().call(req).await }
            .in_trace_context(ctx.clone())
            .await
            .unwrap();
        let got = received.recv().await.unwrap();
        let sent = TraceParent::parse(got["traceparent"].to_str().unwrap()).unwrap();
        assert_eq!(sent.trace_id(), ctx.trace_id());
        assert_eq!(sent.parent_id(), ctx.span_id());
        assert_eq!(got["tracestate"], "rojo=00f067aa0ba902b7");
        assert_eq!(got["baggage"], "run_id=backtest_ab12cd34");
    }

    #[cfg(feature = "reqwest")]
    #[tokio::test(flavor = "multi_thread")]
    async fn reqwest_helper_sends_the_current_context() {
        use tracectx::propagation::RequestBuilderExt as _;

        let (addr, mut received) = serve_recorder().await;
        // A context continued from an incoming request: its tracestate is passed on.
        let incoming = super::headers(&[
            ("traceparent", VALID.as_bytes()),
            ("tracestate", b"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            ("baggage", b"run_id=backtest_ab12cd34"),
        ]);
        let ctx = tracectx::propagation::extract(&incoming).unwrap();
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/test");
        let resp = async { client.post(&url).with_current_trace_context().send().await }
            .in_trace_context(ctx.clone())
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK);

        let got = received.recv().await.unwrap();
        let sent = TraceParent::parse(got["traceparent"].to_str().unwrap()).unwrap();
        assert_eq!(format!("{:x}", sent.trace_id()), TRACE);
        assert_eq!(
            sent.parent_id(),
            ctx.span_id(),
            "this side's span is the parent"
        );
        assert_ne!(sent.parent_id().to_string(), PARENT);
        assert!(sent.flags().is_sampled());
        assert_eq!(got["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(got["baggage"], "run_id=backtest_ab12cd34");
        assert_eq!(got.get_all("traceparent").iter().count(), 1);
        let there = tracectx::propagation::extract(&got).unwrap();
        assert_eq!(there.run_id(), "backtest_ab12cd34");

        // Outside any scope the request goes out unchanged.
        client
            .post(&url)
            .with_current_trace_context()
            .send()
            .await
            .unwrap();
        let got = received.recv().await.unwrap();
        assert!(got.get("traceparent").is_none());
        assert!(got.get("baggage").is_none());
    }
}
