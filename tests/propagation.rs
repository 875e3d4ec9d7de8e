//! Baggage and the run id, round trips, the receiving side's run policy, hostile input, and the
//! tower layers on loopback. The W3C Trace Context rules, one test each, are `tests/w3c.rs`.
#![cfg(feature = "http")]

use std::collections::HashMap;

use tracectx::TraceContext;
use tracectx::propagation::{
    self, Baggage, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, RunPolicy, TraceParent, UNREADABLE,
};

mod support;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const DERIVED_RUN: &str = "trace_4bf92f3577b34da6a3ce929d0e0e4736";

// === helpers ===

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

/// Runs a request through the server `ExtractTraceContextLayer` (trusting the caller) and
/// returns the context the handler ran in.
async fn handler_context(req: http::Request<()>) -> TraceContext {
    handler_context_with(RunPolicy::TrustCaller, req).await.0
}

/// Runs a request through the server layer with `policy`: the context the handler ran in, and
/// the claimed run id it found in the request's extensions.
async fn handler_context_with(
    policy: RunPolicy,
    req: http::Request<()>,
) -> (TraceContext, Option<propagation::ClaimedRunId>) {
    use tower::{Layer as _, ServiceExt as _};
    let svc = propagation::ExtractTraceContextLayer::new(policy).layer(tower::service_fn(
        |req: http::Request<()>| async move {
            let claimed = req.extensions().get::<propagation::ClaimedRunId>().cloned();
            Ok::<_, std::convert::Infallible>(http::Response::new((tracectx::current(), claimed)))
        },
    ));
    let resp = svc.oneshot(req).await.unwrap();
    let (ctx, claimed) = resp.into_body().into_inner().unwrap();
    (
        ctx.expect("the layer runs the handler in a context"),
        claimed,
    )
}

/// The handler made a new trace: a `request_` run, no parent, none of the sender's ids.
fn assert_fresh_trace(ctx: &TraceContext) {
    assert!(ctx.run_id().starts_with("request_"), "{}", ctx.run_id());
    assert_eq!(ctx.parent_span_id(), None);
    assert_ne!(format!("{:x}", ctx.trace_id()), TRACE);
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
    // Octets that are not UTF-8 become U+FFFD (W3C Baggage), the member kept.
    assert_eq!(
        b.iter().collect::<Vec<_>>(),
        vec![("run_id", "ok"), ("z", "\u{FFFD}")]
    );
    assert_eq!(
        Baggage::parse(["k=a%ffb%C3"]).get("k"),
        Some("a\u{FFFD}b\u{FFFD}")
    );
}

#[test]
fn baggage_later_member_replaces_an_earlier_one() {
    let b = Baggage::parse(["run_id=a", "run_id=b"]);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![("run_id", "b")]);
}

#[test]
fn baggage_past_8192_bytes_is_dropped_by_whole_members() {
    let at_limit = format!("run_id=a,pad={}", "x".repeat(8192 - 13));
    assert_eq!(at_limit.len(), 8192);
    assert_eq!(Baggage::parse([at_limit.as_str()]).iter().count(), 2);
    let over = format!("{at_limit}x");
    let kept = Baggage::parse([over.as_str()]);
    assert_eq!(kept.iter().collect::<Vec<_>>(), vec![("run_id", "a")]);
    // The run id sent first survives a third party's oversized member after it.
    assert_eq!(extract_with_baggage(&over).run_id(), "a");
    let first = format!("pad={},run_id=a", "x".repeat(8192));
    assert!(Baggage::parse([first.as_str()]).is_empty());
    assert_eq!(
        extract_with_baggage(&first).run_id(),
        DERIVED_RUN,
        "extract applies the same limit"
    );
}

#[test]
fn baggage_past_180_members_is_dropped() {
    let many: Vec<String> = (0..180).map(|i| format!("k{i}=v")).collect();
    assert_eq!(
        Baggage::parse([many.join(",").as_str()]).iter().count(),
        180
    );
    let over = format!("run_id=job_1,{}", many.join(","));
    let kept = Baggage::parse([over.as_str()]);
    assert_eq!(kept.iter().count(), 180);
    assert_eq!(kept.get("k178"), Some("v"));
    assert_eq!(kept.get("k179"), None);
    assert_eq!(extract_with_baggage(&over).run_id(), "job_1");
    let last = format!("{},run_id=job_1", many.join(","));
    assert_eq!(extract_with_baggage(&last).run_id(), DERIVED_RUN);
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
fn inject_keeps_the_applications_baggage_and_puts_the_run_first() {
    let ctx = TraceContext::new("job_1").unwrap();
    let mut map = http::HeaderMap::new();
    map.insert(
        "baggage",
        http::HeaderValue::from_static("tenant=acme;ttl=5, run_id=stale,not a member"),
    );
    map.append("baggage", http::HeaderValue::from_static("flag=on"));
    propagation::inject(&ctx, &mut map);
    let sent: Vec<&str> = map
        .get_all("baggage")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(sent, ["run_id=job_1,tenant=acme;ttl=5,flag=on"]);
    let back = Baggage::parse(sent.iter().copied());
    assert_eq!(back.get("run_id"), Some("job_1"));
    assert_eq!(back.get("tenant"), Some("acme"));
    // A header that is not UTF-8 leaves nothing behind but the run id.
    let mut map = http::HeaderMap::new();
    map.insert("baggage", http::HeaderValue::from_bytes(b"k=\xff").unwrap());
    propagation::inject(&ctx, &mut map);
    assert_eq!(map["baggage"], "run_id=job_1");
    // With no baggage before, the run id alone, as ever.
    let mut map = http::HeaderMap::new();
    propagation::inject(&ctx, &mut map);
    assert_eq!(map["baggage"], "run_id=job_1");
}

/// A service in the middle of a call chain passes on the baggage it received (W3C Baggage
/// asks it of a system that receives baggage): every call of the run and of its nested runs
/// sends the members beside the run id; malformed ones and properties are left out.
#[test]
fn received_baggage_is_passed_on_by_the_runs_calls() {
    let ctx = extract_with_baggage("run_id=job_1, tenant=acme;p=1, bad member, user=alice%20b,=x");
    let kept = ctx.baggage().expect("members besides the run id");
    assert_eq!(kept.to_string(), "tenant=acme,user=alice%20b");
    assert_eq!(kept.get("run_id"), None);

    let mut out = http::HeaderMap::new();
    let call = ctx
        .sync_scope(|| propagation::inject_current(&mut out))
        .unwrap();
    assert_eq!(out["baggage"], "run_id=job_1,tenant=acme,user=alice%20b");
    // The call's context, a child, and a nested run of it carry the members on.
    for (nested, run) in [
        (call.child(), "job_1"),
        (ctx.child_run("session_2").unwrap(), "session_2"),
    ] {
        let mut out = http::HeaderMap::new();
        propagation::inject(&nested, &mut out);
        assert_eq!(
            out["baggage"],
            format!("run_id={run},tenant=acme,user=alice%20b")
        );
    }
    // A context made here has none; an empty or run-only baggage is none.
    assert!(TraceContext::new("job_1").unwrap().baggage().is_none());
    assert!(extract_with_baggage("run_id=job_1").baggage().is_none());
    let only_run = Baggage::parse(["run_id=x"]);
    assert!(ctx.clone().with_baggage(Some(only_run)).baggage().is_none());
}

/// A member whose key a downstream reader would decode to `run_id` (the OpenTelemetry
/// Python SDK percent-decodes keys, `+` as a space, and trims them) is never passed on: the
/// run id sent is the context's own, whatever was received or set on the carrier.
#[test]
fn a_key_that_reads_as_run_id_is_never_passed_on() {
    let ctx =
        extract_with_baggage("run_id=sweep_1,run%5Fid=victim,run_id+=victim,%20run_id=victim,k=v");
    assert_eq!(ctx.baggage().unwrap().to_string(), "k=v");
    let session = ctx.child_run("session_2").unwrap();
    let mut out: HashMap<String, String> = HashMap::new();
    out.insert("baggage".into(), "run%5fid=victim2, tenant=acme".into());
    propagation::inject(&session, &mut out);
    assert_eq!(out["baggage"], "run_id=session_2,tenant=acme,k=v");
    let mut set = Baggage::new();
    set.insert("run%5Fid", "victim");
    set.insert("t", "1");
    let ctx = TraceContext::new("job_1").unwrap().with_baggage(Some(set));
    assert_eq!(ctx.baggage().unwrap().to_string(), "t=1");
}

/// A member of the carrier whose properties hold a byte no header may hold (a raw `é`) would
/// make the header unsendable, the run id with it: it goes without its properties.
#[test]
fn a_carrier_member_with_unsendable_properties_goes_without_them() {
    let ctx = TraceContext::new("job_1").unwrap();
    let mut out: HashMap<String, String> = HashMap::new();
    out.insert(
        "baggage".into(),
        "tenant=acme;note=caf\u{e9}, flag=on;p=1".into(),
    );
    propagation::inject(&ctx, &mut out);
    assert_eq!(out["baggage"], "run_id=job_1,tenant=acme,flag=on;p=1");
    assert!(http::HeaderValue::from_str(&out["baggage"]).is_ok());
}

/// The carrier's own members (the application's, for this call) win over the ones passed on
/// from upstream under the same key, and the list sent stays within W3C's limits however
/// much was received and added.
#[test]
fn the_callers_members_win_and_the_list_stays_within_the_limits() {
    let ctx = extract_with_baggage("run_id=job_1,tenant=acme,user=alice");
    let mut out = http::HeaderMap::new();
    out.insert(
        "baggage",
        http::HeaderValue::from_static("tenant=globex, flag=on"),
    );
    propagation::inject(&ctx, &mut out);
    assert_eq!(
        out["baggage"],
        "run_id=job_1,tenant=globex,flag=on,user=alice"
    );

    // 179 members received, 5 of the application's: 180 sent, the run id first.
    let many: Vec<String> = (0..179).map(|i| format!("k{i}=v")).collect();
    let ctx = extract_with_baggage(&format!("run_id=job_1,{}", many.join(",")));
    assert_eq!(ctx.baggage().unwrap().iter().count(), 179);
    let mut out = http::HeaderMap::new();
    out.insert(
        "baggage",
        http::HeaderValue::from_static("a=1,b=2,c=3,d=4,e=5"),
    );
    propagation::inject(&ctx, &mut out);
    let sent = out["baggage"].to_str().unwrap();
    assert_eq!(sent.split(',').count(), MAX_BAGGAGE_MEMBERS);
    assert!(sent.starts_with("run_id=job_1,a=1,b=2,c=3,d=4,e=5,k0=v,"));
    // Members of 3,000 bytes: those that would pass 8,192 bytes are left out, whole.
    let big = "x".repeat(3_000);
    let ctx = extract_with_baggage(&format!("run_id=job_1,p={big},q={big},r={big}"));
    let mut out = http::HeaderMap::new();
    propagation::inject(&ctx, &mut out);
    let sent = out["baggage"].to_str().unwrap();
    assert!(sent.len() <= MAX_BAGGAGE_BYTES, "{}", sent.len());
    assert_eq!(sent, format!("run_id=job_1,p={big},q={big}"));
    assert_eq!(extract_with_baggage(sent).run_id(), "job_1");
}

/// A proxy that copies a huge `baggage` onto its calls (100,000 members, 10 MB): the list
/// sent is the first that fit, the members received upstream never replace the carrier's
/// own, even those past what fits, and none of them is sent once the list is full.
#[test]
fn a_carrier_of_a_hundred_thousand_members_is_cut_and_still_wins() {
    let mut received: Vec<String> = (0..150).map(|i| format!("up{i}=v")).collect();
    // Keys the carrier also sets, past the first members that fit.
    received.extend((0..20).map(|i| format!("c{}=upstream", 99_000 + i)));
    let ctx = extract_with_baggage(&format!("run_id=job_1,{}", received.join(",")));
    assert_eq!(ctx.baggage().unwrap().iter().count(), 170);
    let members = |n: usize, pad: usize| -> String {
        (0..n)
            .map(|i| format!("c{i}={}", "y".repeat(pad)))
            .collect::<Vec<_>>()
            .join(",")
    };
    // Members of 100 bytes: about 80 fit the 8,192 bytes; the rest, the 20 keys received
    // too among them, are cut; of the received members, only short ones still fit.
    let mut out: HashMap<String, String> = HashMap::new();
    out.insert("baggage".into(), members(100_000, 94));
    propagation::inject(&ctx, &mut out);
    let sent = &out["baggage"];
    assert!(sent.len() <= MAX_BAGGAGE_BYTES, "{}", sent.len());
    let keys: Vec<&str> = sent
        .split(',')
        .map(|m| m.split('=').next().unwrap())
        .collect();
    assert_eq!(keys[0], "run_id");
    let carrier = keys.iter().filter(|k| k.starts_with('c')).count();
    assert!((75..=85).contains(&carrier), "{carrier}");
    assert!(
        keys[1..=carrier]
            .iter()
            .enumerate()
            .all(|(i, k)| *k == format!("c{i}"))
    );
    assert!(
        keys[carrier + 1..].iter().all(|k| k.starts_with("up")),
        "{keys:?}"
    );
    assert!(!sent.contains("upstream"));
    // Short members: the list fills at 180 with the carrier's alone.
    out.insert("baggage".into(), members(100_000, 1));
    propagation::inject(&ctx, &mut out);
    let sent = &out["baggage"];
    assert_eq!(sent.split(',').count(), MAX_BAGGAGE_MEMBERS);
    assert!(sent.ends_with(",c178=y"), "{sent:.100}");
}

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
        // What a line with no context shows, or could be taken for it.
        "run_id=-",
        "run_id=--",
        "run_id=_",
        "run_id=%2D",
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

// === the receiving side's run policy ===

fn request(pairs: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder();
    for (k, v) in pairs {
        builder = builder.header(*k, *v);
    }
    builder.body(()).unwrap()
}

#[tokio::test]
async fn trusting_server_runs_the_request_in_the_callers_run() {
    let (ctx, claimed) = handler_context_with(
        RunPolicy::TrustCaller,
        request(&[
            ("traceparent", VALID),
            ("baggage", "run_id=backtest_ab12cd34"),
        ]),
    )
    .await;
    assert_eq!(ctx.run_id(), "backtest_ab12cd34");
    assert_eq!(format!("{:x}", ctx.trace_id()), TRACE);
    assert_eq!(ctx.parent_span_id().unwrap().to_string(), PARENT);
    assert!(claimed.is_none());
}

#[tokio::test]
async fn edge_server_runs_the_request_in_a_run_of_its_own_and_keeps_the_trace() {
    let (ctx, claimed) = handler_context_with(
        RunPolicy::OwnRun,
        request(&[
            ("traceparent", VALID),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("baggage", "run_id=backtest_victim"),
        ]),
    )
    .await;
    assert!(ctx.run_id().starts_with("request_"), "{}", ctx.run_id());
    assert_eq!(format!("{:x}", ctx.trace_id()), TRACE);
    assert_eq!(ctx.parent_span_id().unwrap().to_string(), PARENT);
    assert_eq!(ctx.trace_state(), Some("rojo=00f067aa0ba902b7"));
    assert_eq!(claimed.unwrap().as_str(), "backtest_victim");
}

#[tokio::test]
async fn edge_server_gives_every_request_its_own_run_whatever_it_claims() {
    let mut runs = std::collections::HashSet::new();
    for claim in ["backtest_victim", "backtest_victim", "-", "request_0"] {
        let (ctx, claimed) = handler_context_with(
            RunPolicy::OwnRun,
            request(&[
                ("traceparent", VALID),
                ("baggage", &format!("run_id={claim}")),
            ]),
        )
        .await;
        assert_ne!(ctx.run_id(), claim);
        assert_eq!(claimed.unwrap().as_str(), claim);
        assert!(runs.insert(ctx.run_id().clone()), "a new run per request");
    }
}

#[tokio::test]
async fn edge_server_records_a_claim_without_traceparent_and_starts_a_trace() {
    let (ctx, claimed) = handler_context_with(
        RunPolicy::OwnRun,
        request(&[("baggage", "run_id=backtest_victim")]),
    )
    .await;
    assert_fresh_trace(&ctx);
    assert_eq!(claimed.unwrap().as_str(), "backtest_victim");
}

#[tokio::test]
async fn edge_server_claimed_run_id_is_escaped_and_bounded() {
    for (baggage, shown) in [
        (
            "run_id=x%0A[2024]%20[other_run]",
            r#""x\n[2024] [other_run]""#.to_owned(),
        ),
        ("run_id=%E2%80%AEevil", r#""\u{202e}evil""#.to_owned()),
        ("run_id=%22q%22", r#""\"q\"""#.to_owned()),
        (
            &*format!("run_id={}", "a".repeat(9_000)),
            String::new(), // over the baggage limit: no claim at all
        ),
        (
            &*format!("run_id={}", "b".repeat(1_000)),
            format!("\"{}…\"", "b".repeat(128)),
        ),
    ] {
        let (_, claimed) = handler_context_with(
            RunPolicy::OwnRun,
            request(&[("traceparent", VALID), ("baggage", baggage)]),
        )
        .await;
        let claimed = claimed.map(|c| c.as_str().to_owned()).unwrap_or_default();
        assert_eq!(claimed, shown, "{baggage:.40}");
        assert!(!claimed.contains('\n') && !claimed.contains('\u{202e}'));
    }
}

#[tokio::test]
async fn both_policies_start_a_new_trace_for_an_invalid_traceparent() {
    for policy in [RunPolicy::TrustCaller, RunPolicy::OwnRun] {
        let (ctx, _) = handler_context_with(
            policy,
            request(&[
                ("traceparent", &VALID.replace(TRACE, &"0".repeat(32))),
                ("tracestate", "rojo=1"),
                ("baggage", "run_id=backtest_ab12cd34"),
            ]),
        )
        .await;
        assert_fresh_trace(&ctx);
        assert_eq!(ctx.trace_state(), None, "{policy:?}");
    }
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
fn thousand_baggage_headers_are_read_up_to_the_limit() {
    let mut map = headers(&[("traceparent", VALID.as_bytes())]);
    for _ in 0..1_000 {
        map.append(
            "baggage",
            http::HeaderValue::from_static("run_id=backtest_ab12cd34"),
        );
    }
    assert_eq!(map.get_all("baggage").iter().count(), 1_000);
    let ctx = propagation::extract(&map).unwrap();
    // The first 180 members are read, the others dropped unread.
    assert_eq!(ctx.run_id(), "backtest_ab12cd34");
    let mut map = headers(&[("traceparent", VALID.as_bytes())]);
    for i in 0..1_000 {
        let member = format!("run_id=backtest_{i:04}");
        map.append("baggage", http::HeaderValue::from_str(&member).unwrap());
    }
    assert_eq!(
        propagation::extract(&map).unwrap().run_id(),
        "backtest_0179"
    );
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

    #[tokio::test]
    async fn edge_records_the_claimed_run_id_escaped_in_its_own_run() {
        let buf = Buffer::default();
        let subscriber = logging::builder()
            .with_writer(buf.clone())
            .with_clock(FixedClock::rfc3339(TS).unwrap())
            .with_level(tracing::Level::INFO)
            .build()
            .unwrap();
        let _guard = tracing::subscriber::set_default(subscriber);
        let forged = "x%0A[2024-01-01T10:00:00.000000Z]%20[backtest_victim]%20INFO%20-%20forged";
        let (ctx, _) = super::handler_context_with(
            RunPolicy::OwnRun,
            super::request(&[
                ("traceparent", VALID),
                ("baggage", &format!("run_id={forged}")),
            ]),
        )
        .await;
        let lines = buf.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert!(
            line.starts_with(&format!(
                "[{TS}] [{}] [0e0e4736] INFO tracectx::propagation - ",
                ctx.run_id()
            )),
            "{line}"
        );
        // One escape, made when the claim was kept: the value is quoted, its newline escaped.
        assert!(
            line.ends_with(r#" caller_run_id="x\n[2024-01-01T10:00:00.000000Z] [backtest_victim] INFO - forged""#),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[tokio::test]
    async fn trusting_server_records_nothing() {
        let buf = Buffer::default();
        let subscriber = logging::builder()
            .with_writer(buf.clone())
            .with_clock(FixedClock::rfc3339(TS).unwrap())
            .build()
            .unwrap();
        let _guard = tracing::subscriber::set_default(subscriber);
        super::handler_context_with(
            RunPolicy::TrustCaller,
            super::request(&[("traceparent", VALID), ("baggage", "run_id=job_1")]),
        )
        .await;
        assert_eq!(buf.text(), "");
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
    use tracectx::propagation::{
        ExtractTraceContextLayer, InjectTraceContextLayer, RunPolicy, TraceParent,
    };

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
            .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// A plain hyper server (no axum): a `service_fn` handler behind `ExtractTraceContextLayer`,
    /// served connection by connection with hyper's HTTP/1 server.
    async fn serve_hyper() -> SocketAddr {
        let svc = ServiceBuilder::new()
            .layer(ExtractTraceContextLayer::new(RunPolicy::TrustCaller))
            .service_fn(|req: http::Request<Incoming>| async move {
                let current = tracectx::current().expect("the layer sets a context");
                let given = req.extensions().get::<TraceContext>().expect("and a value");
                assert_eq!(&current, given);
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(describe(
                    &current,
                )))))
            });
        serve_tower(svc).await
    }

    /// Serves the tower service `svc` on a loopback port, connection by connection with
    /// hyper's HTTP/1 server.
    async fn serve_tower<S, B>(svc: S) -> SocketAddr
    where
        S: tower::Service<http::Request<Incoming>, Response = http::Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
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
        let fields: Vec<&str> = body.split(' ').collect();
        assert_eq!(
            [fields[0], fields[1], fields[3], fields[4]],
            [
                "backtest_ab12cd34",
                &format!("{:x}", ctx.trace_id()),
                &echoed.parent_id().to_string(),
                "-"
            ],
            "the server runs in its own span, named in the response: {body}"
        );
        // The server's parent is the call's span: a child of the caller's, not the caller's.
        assert_ne!(fields[2], ctx.span_id().to_string());
        assert_eq!(fields[2].len(), 16);
        assert_ne!(echoed.parent_id(), ctx.span_id());
    }

    /// Two thousand requests at once, each from a run of its own, through the client and server
    /// layers on a multi-thread runtime: every handler sees its own caller's run, never
    /// another's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_each_run_in_their_callers_run() {
        let addr = serve_axum().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let client = ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(client);
        // At most 64 connections at a time: the tasks still interleave on every worker.
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..2_000 {
            let mut client = client.clone();
            let permits = permits.clone();
            let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
            tasks.spawn(
                async move {
                    let _permit = permits.acquire().await.unwrap();
                    tokio::task::yield_now().await;
                    let req = http::Request::get(format!("http://{addr}/"))
                        .body(Empty::new())
                        .unwrap();
                    let resp = client.ready().await.unwrap().call(req).await.unwrap();
                    let body = body_text(resp).await;
                    let ctx = tracectx::current().unwrap();
                    (
                        ctx.run_id().to_string(),
                        format!("{:x}", ctx.trace_id()),
                        body,
                    )
                }
                .in_trace_context(ctx),
            );
        }
        let mut seen = 0;
        while let Some(done) = tasks.join_next().await {
            let (run, trace, body) = done.unwrap();
            let fields: Vec<&str> = body.split(' ').collect();
            assert_eq!((fields[0], fields[1]), (run.as_str(), trace.as_str()));
            seen += 1;
        }
        assert_eq!(seen, 2_000);
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
        assert_ne!(sent.parent_id(), ctx.span_id(), "the call's own span");
        assert_eq!(got["tracestate"], "rojo=00f067aa0ba902b7");
        assert_eq!(got["baggage"], "run_id=backtest_ab12cd34");
    }

    /// A service that calls the recorder at `next` for every request it gets, through the
    /// client layer, behind the server layer with `policy`.
    async fn serve_middle(policy: RunPolicy, next: SocketAddr) -> SocketAddr {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let client = ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(client);
        let svc = ServiceBuilder::new()
            .layer(ExtractTraceContextLayer::new(policy))
            .service_fn(move |_req: http::Request<Incoming>| {
                let mut client = client.clone();
                async move {
                    let call = http::Request::get(format!("http://{next}/"))
                        .body(Empty::new())
                        .unwrap();
                    client.ready().await.unwrap().call(call).await.unwrap();
                    Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new()))
                }
            });
        serve_tower(svc).await
    }

    /// Three services on loopback: a caller sends its run and a tenant in `baggage`; a
    /// trusting service in the middle calls the last one, which receives both, in the same
    /// trace. A public edge in the middle passes neither on: its own run, no tenant.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_service_in_the_middle_passes_the_callers_baggage_on() {
        for policy in [RunPolicy::TrustCaller, RunPolicy::OwnRun] {
            let (last, mut received) = serve_recorder().await;
            let middle = serve_middle(policy, last).await;
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let req = http::Request::get(format!("http://{middle}/"))
                .header("traceparent", VALID)
                .header("baggage", "run_id=backtest_ab12cd34, tenant=acme;p=1")
                .body(Empty::new())
                .unwrap();
            assert!(client.request(req).await.unwrap().status().is_success());
            let got = received.recv().await.unwrap();
            let sent = TraceParent::parse(got["traceparent"].to_str().unwrap()).unwrap();
            assert_eq!(format!("{:x}", sent.trace_id()), TRACE, "{policy:?}");
            let baggage = got["baggage"].to_str().unwrap();
            match policy {
                RunPolicy::TrustCaller => {
                    assert_eq!(baggage, "run_id=backtest_ab12cd34,tenant=acme");
                }
                _ => {
                    assert!(baggage.starts_with("run_id=request_"), "{baggage}");
                    assert!(!baggage.contains("tenant"), "{baggage}");
                }
            }
        }
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
        assert_ne!(
            sent.parent_id(),
            ctx.span_id(),
            "the request's own span, a child of this side's, is the parent"
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

#[test]
fn injecting_into_a_map_replaces_a_key_spelled_in_another_case() {
    let old = TraceContext::new("old_run").unwrap();
    let mut map = HashMap::new();
    map.insert(
        "Traceparent".to_owned(),
        format!("00-{:x}-{}-01", old.trace_id(), old.span_id()),
    );
    let ctx = TraceContext::new("new_run").unwrap();
    propagation::inject(&ctx, &mut map);
    assert_eq!(
        map.keys()
            .filter(|k| k.eq_ignore_ascii_case("traceparent"))
            .count(),
        1
    );
    let back = propagation::extract(&map).expect("one traceparent, the new one");
    assert_eq!(back.trace_id(), ctx.trace_id());
}
