//! W3C Trace Context, Level 2 editor's draft (w3c/trace-context, `spec/`), rule by rule: one
//! test per rule, named for it, with the rule's words above it. The rules a peer service sees
//! are tried as a peer would: a real server behind `ExtractTraceContextLayer` that calls a
//! real recording server through `InjectTraceContextLayer`, the shape the W3C test harness
//! drives.
#![cfg(feature = "http")]

use std::collections::HashMap;

use tracectx::propagation::{
    self, RunPolicy, TraceParent, TraceParentError, TraceState, TraceStateError,
};
use tracectx::{TraceContext, TraceFlags};

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
/// The harness's `traceparent`.
const HARNESS: &str = "00-12345678901234567890123456789012-1234567890123456-00";
const HARNESS_TRACE: &str = "12345678901234567890123456789012";

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

/// A header map holding exactly these headers, in order, names as given.
fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

/// The `tracestate` a request with these headers passes on, as the harness reads it.
fn passed_on_tracestate(pairs: &[(&str, &str)]) -> Option<String> {
    let ctx = propagation::extract(&headers(pairs))?;
    let mut out = HashMap::new();
    propagation::inject(&ctx.child(), &mut out);
    out.remove("tracestate")
}

/// The value of `key` in a passed-on `tracestate`, as the harness's `tracestate[key]` does.
fn member<'a>(state: &'a Option<String>, key: &str) -> Option<&'a str> {
    state
        .as_deref()?
        .split(',')
        .filter_map(|m| m.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

mod peer {
    //! A service as the W3C harness drives it: `POST /` with a list of URLs, each called once
    //! while the request is handled; a recorder answers the calls and keeps their headers.

    use std::convert::Infallible;
    use std::net::SocketAddr;

    use axum::{Json, Router, routing::post};
    use http_body_util::{BodyExt as _, Empty, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tower::{Service as _, ServiceBuilder, ServiceExt as _};
    use tracectx::propagation::{ExtractTraceContextLayer, InjectTraceContextLayer, RunPolicy};

    /// Starts the recorder: every request's headers go out on the channel.
    async fn recorder() -> (
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

    /// Starts the service under test, behind the server layer with `policy`; it calls every
    /// URL of the request's JSON list through the client layer.
    async fn service(policy: RunPolicy) -> SocketAddr {
        let client = ServiceBuilder::new()
            .layer(InjectTraceContextLayer::new())
            .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
        let app = Router::new()
            .route(
                "/",
                post(move |Json(urls): Json<Vec<String>>| async move {
                    for url in urls {
                        let req = http::Request::post(url).body(Empty::new()).unwrap();
                        let mut client = client.clone();
                        client.ready().await.unwrap().call(req).await.unwrap();
                    }
                }),
            )
            .layer(ExtractTraceContextLayer::new(policy));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// Sends one request with `headers` to a trusting service, which makes `calls` calls; the
    /// headers of each call, in order.
    pub(crate) async fn calls(headers: &[(&str, &str)], calls: usize) -> Vec<http::HeaderMap> {
        calls_with(RunPolicy::TrustCaller, headers, calls).await
    }

    pub(crate) async fn calls_with(
        policy: RunPolicy,
        headers: &[(&str, &str)],
        calls: usize,
    ) -> Vec<http::HeaderMap> {
        let (sink, mut received) = recorder().await;
        let svc = service(policy).await;
        let urls: Vec<String> = (0..calls)
            .map(|i| format!("\"http://{sink}/{i}\""))
            .collect();
        let mut req = http::Request::post(format!("http://{svc}/"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!("[{}]", urls.join(",")))))
            .unwrap();
        for (k, v) in headers {
            req.headers_mut().append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        // The recorder's headers arrive in the service's order of calls: it awaits each.
        let resp = Client::builder(TokioExecutor::new())
            .build_http::<Full<Bytes>>()
            .request(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), http::StatusCode::OK);
        resp.into_body().collect().await.unwrap();
        let mut out = Vec::new();
        for _ in 0..calls {
            out.push(received.recv().await.unwrap());
        }
        out
    }

    /// The one `traceparent` of a call, parsed.
    pub(crate) fn traceparent(headers: &http::HeaderMap) -> tracectx::propagation::TraceParent {
        let values: Vec<_> = headers.get_all("traceparent").iter().collect();
        assert_eq!(values.len(), 1, "one traceparent per call: {headers:?}");
        tracectx::propagation::TraceParent::parse(values[0].to_str().unwrap()).unwrap()
    }
}

// === traceparent: header name ===

/// "Vendors MUST expect the header name in any case (upper, lower, mixed)."
#[test]
fn traceparent_header_name_is_read_in_any_case() {
    for name in ["traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        let map = HashMap::from([(name.to_owned(), VALID.to_owned())]);
        let ctx = propagation::extract(&map).expect(name);
        assert_eq!(format!("{:x}", ctx.trace_id()), TRACE, "{name}");
        let ctx = propagation::extract(&headers(&[(name, VALID)])).expect(name);
        assert_eq!(format!("{:x}", ctx.trace_id()), TRACE, "{name}");
    }
}

/// "... and SHOULD send the header name in lowercase."
#[test]
fn trace_context_header_names_are_sent_lowercase() {
    let state = TraceState::parse(["rojo=1"]).unwrap();
    let ctx = TraceContext::new("job_1")
        .unwrap()
        .with_trace_state(Some(state));
    let mut out: HashMap<String, String> = HashMap::new();
    propagation::inject(&ctx, &mut out);
    let mut names: Vec<&str> = out.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["baggage", "traceparent", "tracestate"]);
}

/// "The header name is a single word without any delimiters": `trace-parent` and
/// `trace.parent` are other headers, and the trace restarts.
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_under_another_name_is_not_read() {
    for name in ["trace-parent", "trace.parent"] {
        let calls = peer::calls(&[(name, HARNESS)], 1).await;
        let sent = peer::traceparent(&calls[0]);
        assert_ne!(format!("{:x}", sent.trace_id()), HARNESS_TRACE, "{name}");
    }
}

// === traceparent: version ===

/// "version = 2HEXDIGLC": two lowercase hex digits.
#[test]
fn traceparent_version_is_two_lowercase_hex_digits() {
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
    // Three or four digits, or one: every later field is off.
    for bad in [
        format!("0{VALID}"),
        format!("00{VALID}"),
        VALID[1..].to_owned(),
    ] {
        assert!(tp(&bad).is_err(), "{bad}");
    }
}

/// "Version `ff` is invalid."
#[test]
fn traceparent_version_ff_is_invalid() {
    assert_eq!(tp(&splice(0, "ff")), Err(TraceParentError::Version));
}

/// "When the version prefix cannot be parsed (it's not 2 hex characters followed by a dash
/// (`-`)), the implementation should restart the trace."
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_unparsable_version_restarts_the_trace() {
    for bad in [
        ".0-12345678901234567890123456789012-1234567890123456-01",
        "0.-12345678901234567890123456789012-1234567890123456-01",
        "000-12345678901234567890123456789012-1234567890123456-01",
        "0-12345678901234567890123456789012-1234567890123456-01",
        "ff-12345678901234567890123456789012-1234567890123456-01",
    ] {
        let calls = peer::calls(&[("traceparent", bad)], 1).await;
        let sent = peer::traceparent(&calls[0]);
        assert_ne!(format!("{:x}", sent.trace_id()), HARNESS_TRACE, "{bad}");
    }
}

/// Version `00` is `version "-" trace-id "-" parent-id "-" trace-flags`: 55 characters, nothing
/// after them.
#[test]
fn traceparent_version_00_is_exactly_55_characters() {
    assert_eq!(tp(&VALID[..54]), Err(TraceParentError::Length { got: 54 }));
    assert_eq!(
        tp(&format!("{VALID}-what-the-future-will-be-like")),
        Err(TraceParentError::Length { got: 84 })
    );
    assert_eq!(
        tp(&format!("{VALID}.")),
        Err(TraceParentError::Length { got: 56 })
    );
}

/// "If a higher version is detected ... Parse `trace-id` ... `parent-id` ... the `sampled` bit
/// of `flags` (2 characters from the third dash). Vendors MUST check that the 2 characters are
/// either at the end of the string or followed by a dash."
#[test]
fn traceparent_higher_version_is_read_by_its_first_55_characters() {
    let p = tp(&splice(0, "cc")).unwrap();
    assert_eq!(p.version(), 0xcc);
    let p = tp(&format!("{}-what-the-future-will-be-like", splice(0, "cc"))).unwrap();
    assert_eq!(format!("{:x}", p.trace_id()), TRACE);
    assert_eq!(
        tp(&format!("{}.what-the-future-will-be-like", splice(0, "cc"))),
        Err(TraceParentError::Delimiter { at: 55 })
    );
}

/// "If the size of the header is shorter than 55 characters, the vendor should not parse the
/// header and should restart the trace."
#[test]
fn traceparent_higher_version_shorter_than_55_is_not_parsed() {
    let short = &splice(0, "cc")[..54];
    assert_eq!(tp(short), Err(TraceParentError::Length { got: 54 }));
}

/// "Vendors MUST use these fields to construct the new `traceparent` field according to the
/// highest version of the specification known to the implementation" (`00`).
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_higher_version_is_sent_on_as_version_00() {
    let future =
        "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like";
    let calls = peer::calls(&[("traceparent", future)], 1).await;
    let sent = calls[0]["traceparent"].to_str().unwrap().to_owned();
    assert!(
        sent.starts_with("00-12345678901234567890123456789012-"),
        "{sent}"
    );
    assert_eq!(sent.len(), 55);
}

// === traceparent: trace-id, parent-id ===

/// "trace-id = 32HEXDIGLC ... If the `trace-id` value is invalid (for example if it contains
/// non-allowed characters or all zeros), vendors MUST ignore the `traceparent`."
#[test]
fn traceparent_trace_id_is_32_lowercase_hex_digits() {
    assert_eq!(
        tp(&VALID.replace(TRACE, &TRACE.to_uppercase())),
        Err(TraceParentError::NotHex { at: 4 })
    );
    assert_eq!(tp(&splice(3, ".")), Err(TraceParentError::NotHex { at: 3 }));
    assert_eq!(
        tp(&splice(34, ".")),
        Err(TraceParentError::NotHex { at: 34 })
    );
    assert_eq!(
        tp(&splice(10, "é")),
        Err(TraceParentError::NotHex { at: 10 })
    );
    for bad in [
        "00-123456789012345678901234567890123-1234567890123456-01",
        "00-1234567890123456789012345678901-1234567890123456-01",
    ] {
        assert!(tp(bad).is_err(), "{bad}");
    }
}

/// "All bytes as zero (`00000000000000000000000000000000`) is considered an invalid value."
#[test]
fn traceparent_trace_id_of_all_zeros_is_invalid() {
    assert_eq!(
        tp(&VALID.replace(TRACE, &"0".repeat(32))),
        Err(TraceParentError::ZeroTraceId)
    );
}

/// "parent-id = 16HEXDIGLC ... Vendors MUST ignore the `traceparent` when the `parent-id` is
/// invalid (for example, if it contains non-lowercase hex characters)."
#[test]
fn traceparent_parent_id_is_16_lowercase_hex_digits() {
    assert!(tp(&VALID.replace(PARENT, &PARENT.to_uppercase())).is_err());
    assert_eq!(
        tp(&splice(36, ".")),
        Err(TraceParentError::NotHex { at: 36 })
    );
    assert_eq!(
        tp(&splice(51, ".")),
        Err(TraceParentError::NotHex { at: 51 })
    );
    for bad in [
        "00-12345678901234567890123456789012-12345678901234567-01",
        "00-12345678901234567890123456789012-123456789012345-01",
    ] {
        assert!(tp(bad).is_err(), "{bad}");
    }
}

/// "All bytes as zero (`0000000000000000`) is considered an invalid value."
#[test]
fn traceparent_parent_id_of_all_zeros_is_invalid() {
    assert_eq!(
        tp(&VALID.replace(PARENT, &"0".repeat(16))),
        Err(TraceParentError::ZeroParentId)
    );
}

/// The dash (`-`) is the delimiter between fields.
#[test]
fn traceparent_fields_are_delimited_by_dashes() {
    for at in [2, 35, 52] {
        assert_eq!(
            tp(&splice(at, "_")),
            Err(TraceParentError::Delimiter { at })
        );
    }
}

// === traceparent: trace-flags ===

/// "trace-flags = 2HEXDIGLC".
#[test]
fn traceparent_trace_flags_are_two_lowercase_hex_digits() {
    assert_eq!(
        tp(&splice(53, ".0")),
        Err(TraceParentError::NotHex { at: 53 })
    );
    assert_eq!(
        tp(&splice(53, "0.")),
        Err(TraceParentError::NotHex { at: 54 })
    );
    assert!(tp(&splice(53, "0A")).is_err());
    for bad in [
        "00-12345678901234567890123456789012-1234567890123456-001",
        "00-12345678901234567890123456789012-1234567890123456-1",
        "00-12345678901234567890123456789012-1234567890123456-",
    ] {
        assert!(tp(bad).is_err(), "{bad}");
    }
}

/// "As this is a bit field, you cannot interpret flags by decoding the hex value and looking
/// at the resulting number. For example, a flag `00000001` could be encoded as `01` in hex, or
/// `09` in hex if present with the flag `00001000`."
#[test]
fn traceparent_sampled_flag_is_read_through_a_mask() {
    for (flags, sampled) in [("00", false), ("01", true), ("09", true), ("08", false)] {
        let p = tp(&splice(53, flags)).unwrap();
        assert_eq!(p.flags().is_sampled(), sampled, "{flags}");
    }
}

/// "The behavior of other flags, such as (`00000100`) is not defined and is reserved for
/// future use. Vendors MUST set those to zero."
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_reserved_flags_are_sent_as_zero() {
    let calls = peer::calls(&[("traceparent", &splice(53, "ff"))], 1).await;
    assert!(calls[0]["traceparent"].to_str().unwrap().ends_with("-03"));
    let calls = peer::calls(&[("traceparent", &splice(53, "fc"))], 1).await;
    assert!(calls[0]["traceparent"].to_str().unwrap().ends_with("-00"));
}

/// Random trace-id flag: "A participant that continues a trace started upstream ... MUST set
/// the random-trace-id flag in the traceparent header for outgoing requests to the same value
/// that was found in the incoming traceparent header."
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_random_flag_is_passed_on_unchanged() {
    for flags in ["00", "01", "02", "03"] {
        let calls = peer::calls(&[("traceparent", &splice(53, flags))], 1).await;
        let sent = peer::traceparent(&calls[0]);
        assert_eq!(format!("{:x}", sent.trace_id()), TRACE);
        assert_eq!(
            sent.flags().to_u8(),
            TraceFlags::from_u8(u8::from_str_radix(flags, 16).unwrap()).to_u8(),
            "{flags}"
        );
    }
}

/// Random trace-id flag, starting a trace: set it when at least the right-most 7 bytes of the
/// trace id were chosen at random, and only then.
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_random_flag_is_set_on_traces_started_here() {
    // A trace this side starts (no traceparent came): its ids are random.
    let calls = peer::calls(&[], 1).await;
    assert!(peer::traceparent(&calls[0]).flags().is_random());
    assert!(TraceContext::generate("job").trace_flags().is_random());
    // A trace id that came from elsewhere is not vouched for.
    let given = TraceContext::new("job")
        .unwrap()
        .with_trace_id("a1b2c3d4".parse().unwrap());
    assert!(!given.trace_flags().is_random());
}

// === traceparent: receiving ===

/// Optional whitespace (RFC 7230 `OWS`) around the value is not part of it.
#[test]
fn traceparent_optional_whitespace_around_the_value_is_ignored() {
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

/// Two `traceparent` headers cannot both describe the request: the trace restarts, whether
/// they agree or not.
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_repeated_restarts_the_trace() {
    let other = "00-12345678901234567890123456789011-1234567890123456-01";
    for second in [other, HARNESS] {
        let calls = peer::calls(&[("traceparent", HARNESS), ("traceparent", second)], 1).await;
        let sent = peer::traceparent(&calls[0]);
        assert_ne!(format!("{:x}", sent.trace_id()), HARNESS_TRACE);
        assert_ne!(
            format!("{:x}", sent.trace_id()),
            "12345678901234567890123456789011"
        );
    }
}

/// "A vendor receiving a `traceparent` request header MUST send it to outgoing requests."
#[tokio::test(flavor = "multi_thread")]
async fn traceparent_received_is_sent_on_with_its_trace_id() {
    let calls = peer::calls(&[("traceparent", HARNESS)], 1).await;
    let sent = peer::traceparent(&calls[0]);
    assert_eq!(format!("{:x}", sent.trace_id()), HARNESS_TRACE);
    assert_ne!(sent.parent_id().to_string(), "1234567890123456");
}

// === traceparent: for each outgoing request ===

/// "For each outgoing request the vendor performs the following steps: The vendor MUST modify
/// the `traceparent` header: Update `parent-id`: The value of property `parent-id` MUST be set
/// to a value representing the ID of the current operation." Three calls made while handling
/// one request are three operations: three parent ids, one trace.
#[tokio::test(flavor = "multi_thread")]
async fn every_outgoing_request_gets_a_new_parent_id() {
    for incoming in [
        vec![("traceparent", HARNESS)],
        vec![],
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-1234567890123456-01",
        )],
    ] {
        let calls = peer::calls(&incoming, 3).await;
        let sent: Vec<TraceParent> = calls.iter().map(peer::traceparent).collect();
        let traces: std::collections::HashSet<_> = sent.iter().map(|p| p.trace_id()).collect();
        let parents: std::collections::HashSet<_> = sent.iter().map(|p| p.parent_id()).collect();
        assert_eq!(traces.len(), 1, "{incoming:?}");
        assert_eq!(parents.len(), 3, "{incoming:?}");
        assert!(!parents.iter().any(|p| p.to_string() == "1234567890123456"));
        if incoming.first().is_some_and(|(_, v)| *v == HARNESS) {
            assert_eq!(format!("{:x}", sent[0].trace_id()), HARNESS_TRACE);
        } else {
            assert_ne!(
                format!("{:x}", sent[0].trace_id()),
                "0".repeat(32),
                "{incoming:?}"
            );
        }
    }
}

/// Each outgoing call's span is a child of the span handling the request: the same for every
/// call of one request, and the parent id the request came with is that span's parent.
#[test]
fn outgoing_call_span_is_a_child_of_the_current_span() {
    let incoming = propagation::extract(&headers(&[("traceparent", VALID)])).unwrap();
    let calls: Vec<TraceContext> = (0..3)
        .map(|_| {
            let mut out = HashMap::new();
            incoming
                .sync_scope(|| propagation::inject_current(&mut out))
                .unwrap()
        })
        .collect();
    for call in &calls {
        assert_eq!(call.parent_span_id(), Some(incoming.span_id()));
        assert_eq!(call.trace_id(), incoming.trace_id());
        assert_eq!(call.run_id(), incoming.run_id());
    }
    assert_ne!(calls[0].span_id(), calls[1].span_id());
    assert_eq!(
        incoming.parent_span_id().map(|p| p.to_string()).as_deref(),
        Some(PARENT)
    );
}

/// "The `sampled` flag has no restriction on its mutations except that it can only be mutated
/// when parent-id is updated": the flag goes on as it came, with the new parent id.
#[tokio::test(flavor = "multi_thread")]
async fn sampled_flag_goes_on_with_a_new_parent_id() {
    for flags in ["00", "01"] {
        let incoming = HARNESS.replace("-00", &format!("-{flags}"));
        let calls = peer::calls(&[("traceparent", &incoming)], 1).await;
        let sent = peer::traceparent(&calls[0]);
        assert_eq!(sent.flags().is_sampled(), flags == "01");
        assert_ne!(sent.parent_id().to_string(), "1234567890123456");
    }
}

// === tracestate: with traceparent ===

/// "If the vendor failed to parse `traceparent`, it MUST NOT attempt to parse `tracestate`."
/// A trace started anew does not carry the old trace's `tracestate`.
#[tokio::test(flavor = "multi_thread")]
async fn tracestate_without_a_valid_traceparent_is_not_passed_on() {
    for incoming in [
        vec![("tracestate", "foo=1")],
        vec![("tracestate", "foo=1,bar=2")],
        vec![("traceparent", "garbage"), ("tracestate", "foo=1")],
    ] {
        assert!(propagation::extract(&headers(&incoming)).is_none());
        let calls = peer::calls(&incoming, 1).await;
        assert!(calls[0].get("tracestate").is_none(), "{incoming:?}");
    }
}

/// "Failure to parse `tracestate` MUST NOT affect the parsing of `traceparent`."
#[test]
fn tracestate_that_fails_to_parse_leaves_traceparent_alone() {
    let ctx = propagation::extract(&headers(&[
        ("traceparent", VALID),
        ("tracestate", "Bad Key=1"),
    ]))
    .unwrap();
    assert_eq!(format!("{:x}", ctx.trace_id()), TRACE);
    assert_eq!(ctx.trace_state(), None);
}

/// "Vendors MUST expect the header name in any case (upper, lower, mixed)."
#[test]
fn tracestate_header_name_is_read_in_any_case() {
    for name in ["tracestate", "TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let state = passed_on_tracestate(&[("traceparent", HARNESS), (name, "foo=1")]);
        assert_eq!(member(&state, "foo"), Some("1"), "{name}");
        let map = HashMap::from([
            ("traceparent".to_owned(), HARNESS.to_owned()),
            (name.to_owned(), "foo=1".to_owned()),
        ]);
        assert_eq!(
            propagation::extract(&map).unwrap().trace_state(),
            Some("foo=1")
        );
    }
}

/// A `tracestate` under another name (`trace-state`, `trace.state`) is another header.
#[test]
fn tracestate_under_another_name_is_not_read() {
    for name in ["trace-state", "trace.state"] {
        let state = passed_on_tracestate(&[("traceparent", HARNESS), (name, "foo=1")]);
        assert_eq!(state, None, "{name}");
    }
}

// === tracestate: list ===

/// "When receiving multiple `tracestate` header fields, they MUST be combined into a single
/// header according to RFC7230."
#[test]
fn tracestate_headers_are_combined_in_order() {
    let state = passed_on_tracestate(&[
        ("traceparent", HARNESS),
        ("tracestate", "foo=1,bar=2"),
        ("tracestate", "rojo=1,congo=2"),
        ("tracestate", "baz=3"),
    ]);
    assert_eq!(state.as_deref(), Some("foo=1,bar=2,rojo=1,congo=2,baz=3"));
}

/// "Vendors MUST accept empty `tracestate` headers but SHOULD avoid sending them."
#[test]
fn tracestate_empty_header_is_accepted_and_not_sent() {
    for value in ["", " ", " , ,\t,", ",,,"] {
        assert!(ts(&[value]).unwrap().is_empty(), "{value:?}");
        assert_eq!(
            passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", value)]),
            None,
            "{value:?}"
        );
    }
    for pair in [["foo=1", ""], ["", "foo=1"]] {
        let state = passed_on_tracestate(&[
            ("traceparent", HARNESS),
            ("tracestate", pair[0]),
            ("tracestate", pair[1]),
        ]);
        assert_eq!(state.as_deref(), Some("foo=1"));
    }
}

/// "Empty and whitespace-only list members are allowed."
#[test]
fn tracestate_empty_list_members_are_allowed() {
    assert_eq!(
        ts(&["rojo=1,,congo=2,"]).unwrap().as_str(),
        "rojo=1,congo=2"
    );
    assert_eq!(
        ts(&["rojo=1, \t ,congo=2"]).unwrap().as_str(),
        "rojo=1,congo=2"
    );
}

/// "Spaces and horizontal tabs surrounding `list-member`s are ignored."
#[test]
fn tracestate_spaces_and_tabs_around_members_are_ignored() {
    for value in [
        "foo=1 \t , \t bar=2, \t baz=3",
        "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
    ] {
        let state = ts(&[value]).unwrap();
        assert_eq!(state.as_str(), "foo=1,bar=2,baz=3", "{value:?}");
    }
    for value in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
        assert_eq!(ts(&[value]).unwrap().get("foo"), Some("1"), "{value:?}");
    }
}

/// "There can be a maximum of 32 `list-member`s in a `list`."
#[test]
fn tracestate_holds_at_most_32_members() {
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let header = |range: std::ops::Range<usize>| members[range].join(",");
    let at_limit = ts(&[
        &header(0..10),
        &header(10..20),
        &header(20..30),
        &header(30..32),
    ])
    .unwrap();
    assert_eq!(at_limit.as_str().split(',').count(), 32);
    assert_eq!(at_limit.get("bar01"), Some("01"));
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

// === tracestate: key ===

/// "key = ( lcalpha / DIGIT ) 0*255 ( keychar )": a key begins with a lowercase letter or a
/// digit.
#[test]
fn tracestate_key_begins_with_a_lowercase_letter_or_a_digit() {
    for ok in ["foo=1", "1abc=1", "0=1", "a=1"] {
        assert!(ts(&[ok]).is_ok(), "{ok}");
    }
    for bad in [
        "Foo=1", "_foo=1", "-foo=1", "*foo=1", "/foo=1", "@foo=1", "=1",
    ] {
        assert!(ts(&[bad]).is_err(), "{bad}");
    }
}

/// "keychar = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@"": `@` may appear anywhere but
/// first, any number of times (the older `tenant@system` rule no longer applies).
#[test]
fn tracestate_key_may_hold_at_signs_anywhere_but_first() {
    for (value, key) in [
        ("foo@=1,bar=2", "foo@"),
        ("foo@@bar=1,bar=2", "foo@@bar"),
        ("foo@bar@baz=1,bar=2", "foo@bar@baz"),
        ("tenant@vendor=1,bar=2", "tenant@vendor"),
        ("1tenant@v=1,bar=2", "1tenant@v"),
    ] {
        let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", value)]);
        assert_eq!(member(&state, key), Some("1"), "{value}");
        assert_eq!(member(&state, "bar"), Some("2"), "{value}");
    }
    let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", "@foo=1,bar=2")]);
    assert_eq!(state, None, "a key cannot begin with @");
}

/// "A `key` ... contain[s] up to 256 characters": 256 is valid, 257 is not, wherever the `@`
/// are; as the harness sends it, the long key on a second `tracestate` line.
#[test]
fn tracestate_key_holds_up_to_256_characters() {
    let keys_of_256 = [
        "z".repeat(256),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
        format!("{}@v", "t".repeat(254)),
        format!("t@{}", "v".repeat(254)),
        format!("{}@{}", "t".repeat(100), "v".repeat(155)),
        format!("a{}", "@".repeat(255)),
    ];
    for key in &keys_of_256 {
        assert_eq!(key.len(), 256);
        let state = passed_on_tracestate(&[
            ("traceparent", HARNESS),
            ("tracestate", "foo=1"),
            ("tracestate", &format!("{key}=1")),
        ]);
        assert_eq!(member(&state, "foo"), Some("1"), "{key}");
        assert_eq!(member(&state, key), Some("1"), "{key}");
    }
    for key in [
        "z".repeat(257),
        format!("{}@{}", "t".repeat(242), "v".repeat(14)),
    ] {
        assert_eq!(key.len(), 257);
        let state = passed_on_tracestate(&[
            ("traceparent", HARNESS),
            ("tracestate", "foo=1"),
            ("tracestate", &format!("{key}=1")),
        ]);
        assert_eq!(state, None, "{key}");
    }
}

/// A key holds lowercase letters, digits and `_ - * / @` only.
#[test]
fn tracestate_key_characters_are_lowercase_letters_digits_and_five_marks() {
    for bad in [
        "foo =1",
        "FOO=1",
        "foo.bar=1",
        "fo o=1",
        "foé=1",
        "foo+bar=1",
    ] {
        let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", bad)]);
        assert_eq!(state, None, "{bad:?}");
    }
    let key: String = ('a'..='z')
        .chain('0'..='9')
        .chain("_-*/@".chars())
        .collect();
    assert!(ts(&[&format!("{key}=1")]).is_ok());
}

// === tracestate: value ===

/// "The value is an opaque string containing up to 256 printable ASCII characters (i.e., the
/// range 0x20 to 0x7E) except comma (,) and (=)": every such character is kept.
#[test]
fn tracestate_value_is_printable_ascii_but_comma_and_equals() {
    let value: String = (0x20u8..=0x7e)
        .filter(|&b| b != b',' && b != b'=')
        .map(char::from)
        .collect();
    for key in [
        ('a'..='z')
            .chain('0'..='9')
            .chain("_-*/".chars())
            .collect::<String>(),
        format!(
            "{}@a-z0-9_-*/",
            ('a'..='z')
                .chain('0'..='9')
                .chain("_-*/".chars())
                .collect::<String>()
        ),
    ] {
        let state = ts(&[&format!("{key}={value}")]).unwrap();
        assert_eq!(state.get(&key), Some(value.as_str()));
    }
    for bad in [
        "foo=bar=baz",
        "k=tab\tvalue",
        "k=a\u{7f}b",
        "k=a\u{1}b",
        "k=é",
    ] {
        assert!(ts(&[bad]).is_err(), "{bad:?}");
    }
}

/// "value = 0*255(chr) nblk-chr": 1 to 256 characters.
#[test]
fn tracestate_value_holds_1_to_256_characters() {
    assert!(ts(&[&format!("foo={}", "v".repeat(256))]).is_ok());
    assert!(ts(&[&format!("foo={}", "v".repeat(257))]).is_err());
    let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", "foo=,bar=3")]);
    assert_eq!(state, None, "an empty value is malformed");
}

/// "All leading spaces MUST be preserved as part of the value and all trailing spaces are
/// considered to be optional whitespace characters not part of the value."
#[test]
fn tracestate_value_keeps_leading_spaces_and_drops_trailing_ones() {
    assert_eq!(ts(&["foo= a b"]).unwrap().get("foo"), Some(" a b"));
    assert_eq!(ts(&["foo=a b  ,bar=2"]).unwrap().get("foo"), Some("a b"));
    assert_eq!(ts(&["foo=1 "]).unwrap().as_str(), "foo=1");
    assert!(ts(&["foo=   "]).is_err(), "only spaces: no nblk-chr");
}

// === tracestate: one entry per key ===

/// "Only one entry per key is allowed because the entry represents that last position in the
/// trace." A repeated key does not drop the header: the first (left-most, most recent) entry
/// is kept, the later ones are left out, and the rest of the list goes on.
#[test]
fn tracestate_repeated_key_keeps_the_first_entry() {
    for (values, expected) in [
        (&["foo=1,foo=1"][..], "foo=1"),
        (&["foo=1,foo=2"][..], "foo=1"),
        (&["foo=1", "foo=1"][..], "foo=1"),
        (&["foo=1", "foo=2"][..], "foo=1"),
        (
            &["rojo=1,foo=1,congo=2,foo=2,rojo=3"][..],
            "rojo=1,foo=1,congo=2",
        ),
    ] {
        let mut pairs = vec![("traceparent", HARNESS)];
        pairs.extend(values.iter().map(|v| ("tracestate", *v)));
        let state = passed_on_tracestate(&pairs);
        assert_eq!(state.as_deref(), Some(expected), "{values:?}");
        assert_eq!(ts(values).unwrap().as_str(), expected);
    }
}

// === tracestate: what drops it ===

/// "If the `tracestate` header cannot be parsed the vendor MAY discard the entire header": a
/// member that breaks the grammar (no `=`, an invalid key or value) or a 33rd member drops it;
/// nothing else does.
#[test]
fn tracestate_that_cannot_be_parsed_is_dropped_whole() {
    for bad in ["novalue", "foo=1,=2", "foo=1,Bar=2", "foo=1,bar=a,b=c=d"] {
        assert!(matches!(ts(&[bad]), Err(TraceStateError::Member { .. })));
        let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", bad)]);
        assert_eq!(state, None, "{bad}");
    }
    assert_eq!(
        ts(&["rojo=1", "congo"]),
        Err(TraceStateError::Member { index: 1 })
    );
}

// === tracestate: passing on ===

/// "Vendors receiving a `tracestate` request header MUST send it to outgoing requests ... the
/// order of unmodified key/value pairs MUST be preserved."
#[tokio::test(flavor = "multi_thread")]
async fn tracestate_received_is_sent_on_in_order() {
    let calls = peer::calls(
        &[
            ("traceparent", HARNESS),
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", "rojo=1,congo=2"),
        ],
        2,
    )
    .await;
    for call in &calls {
        assert_eq!(call["tracestate"], "foo=1,bar=2,rojo=1,congo=2");
    }
}

/// "Vendors SHOULD propagate at least 512 characters of a combined header."
#[test]
fn tracestate_of_more_than_512_characters_goes_on_whole() {
    let members: Vec<String> = (0..32)
        .map(|i| format!("k{i:02}={}", "v".repeat(60)))
        .collect();
    let value = members.join(",");
    assert!(value.len() > 2_000);
    let state = passed_on_tracestate(&[("traceparent", HARNESS), ("tracestate", &value)]);
    assert_eq!(state.as_deref(), Some(value.as_str()));
}

// === the edge ===

/// "Restart trace ... This mutation is used in services that are defined as a front gate into
/// secure networks": a public edge may also keep the trace; this crate's edge policy keeps the
/// caller's trace (a tracer links up) but never its run.
#[tokio::test(flavor = "multi_thread")]
async fn public_edge_keeps_the_trace_and_sends_a_run_of_its_own() {
    let calls = peer::calls_with(
        RunPolicy::OwnRun,
        &[
            ("traceparent", HARNESS),
            ("baggage", "run_id=backtest_victim"),
        ],
        2,
    )
    .await;
    let runs: Vec<String> = calls
        .iter()
        .map(|c| {
            propagation::extract(c)
                .unwrap()
                .run_id()
                .as_str()
                .to_owned()
        })
        .collect();
    assert!(runs[0].starts_with("request_"), "{runs:?}");
    assert_eq!(runs[0], runs[1], "one run for the request's calls");
    for call in &calls {
        assert_eq!(
            format!("{:x}", peer::traceparent(call).trace_id()),
            HARNESS_TRACE
        );
        assert_eq!(call.get_all("baggage").iter().count(), 1);
    }
}
