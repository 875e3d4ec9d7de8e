//! W3C Trace Context and Baggage: each parsing rule, round trips, hostile input.
#![cfg(feature = "http")]

use std::collections::HashMap;

use tracectx::propagation::{
    self, Baggage, TraceParent, TraceParentError, TraceState, TraceStateError,
};
use tracectx::TraceContext;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn tp(s: &str) -> Result<TraceParent, TraceParentError> {
    TraceParent::parse(s)
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    map
}

#[test]
fn traceparent_valid_example_parses_and_formats_back() {
    let p = tp(VALID).unwrap();
    assert_eq!(
        format!("{:x}", p.trace_id()),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(p.parent_id().to_string(), "00f067aa0ba902b7");
    assert!(p.flags().is_sampled());
    assert_eq!(p.to_string(), VALID);
    let unsampled = tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!unsampled.flags().is_sampled());
}

#[test]
fn traceparent_surrounding_whitespace_is_ignored() {
    assert!(tp(&format!(" \t{VALID} ")).is_ok());
}

#[test]
fn traceparent_uppercase_hex_is_refused() {
    assert_eq!(
        tp("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        Err(TraceParentError::NotHex { at: 4 })
    );
    assert!(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01").is_err());
    assert!(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A").is_err());
    assert!(tp("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_err());
}

#[test]
fn traceparent_zero_ids_are_refused() {
    assert_eq!(
        tp("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        Err(TraceParentError::ZeroTraceId)
    );
    assert_eq!(
        tp("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        Err(TraceParentError::ZeroParentId)
    );
}

#[test]
fn traceparent_version_ff_is_refused() {
    assert_eq!(
        tp("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Err(TraceParentError::Version)
    );
}

#[test]
fn traceparent_version_00_must_be_exactly_55() {
    assert_eq!(tp(&VALID[..54]), Err(TraceParentError::Length { got: 54 }));
    assert_eq!(
        tp(&format!("{VALID}-extra")),
        Err(TraceParentError::Length { got: 61 })
    );
}

#[test]
fn traceparent_future_version_reads_the_first_55() {
    let p = tp("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
        .unwrap();
    assert_eq!(p.version(), 0xcc);
    assert_eq!(p.to_string(), VALID, "formatted as version 00");
    assert_eq!(
        tp("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"),
        Err(TraceParentError::Delimiter { at: 55 })
    );
    assert!(tp("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_ok());
}

#[test]
fn traceparent_bad_delimiters_are_refused() {
    assert_eq!(
        tp("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Err(TraceParentError::Delimiter { at: 2 })
    );
    assert_eq!(
        tp("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
        Err(TraceParentError::Delimiter { at: 35 })
    );
}

#[test]
fn traceparent_reserved_flags_are_not_passed_on() {
    let p = tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").unwrap();
    assert_eq!(p.flags().to_u8(), 0xff);
    assert!(p.to_string().ends_with("-03"));
}

#[test]
fn tracestate_rules() {
    let ok = TraceState::parse(["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).unwrap();
    assert_eq!(ok.get("rojo"), Some("00f067aa0ba902b7"));
    // Multi-tenant keys, values with inner spaces, empty members, several headers.
    let ok = TraceState::parse(["tenant@vendor=a b", ",,", "x1=2"]).unwrap();
    assert_eq!(ok.as_str(), "tenant@vendor=a b,x1=2");
    // Broken members.
    for bad in [
        "novalue",
        "=v",
        "Upper=1",
        "k=a,b=",
        "k=v=w",
        "1abc=v",
        "k=tab\tvalue",
        "a@toolongsystemid1=v",
    ] {
        assert!(TraceState::parse([bad]).is_err(), "{bad:?}");
    }
    assert_eq!(
        TraceState::parse(["a=1", "a=2"]),
        Err(TraceStateError::DuplicateKey("a".into()))
    );
    let at_limit: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    assert!(TraceState::parse([at_limit.join(",").as_str()]).is_ok());
    let over: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    assert_eq!(
        TraceState::parse([over.join(",").as_str()]),
        Err(TraceStateError::TooManyMembers)
    );
}

#[test]
fn baggage_rules() {
    let b = Baggage::parse(["run_id = job_1 ;prop; k=v", "other=%E2%9C%93"]);
    assert_eq!(b.get("run_id"), Some("job_1"));
    assert_eq!(b.get("other"), Some("✓"));
    // Bad members are skipped, the rest kept.
    let b = Baggage::parse(["bad key=1,run_id=ok,x=%ZZ,y=\"q\""]);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![("run_id", "ok")]);
    // Over-size or over-count is ignored whole.
    let big = format!("run_id=a,pad={}", "x".repeat(9000));
    assert!(Baggage::parse([big.as_str()]).is_empty());
    let many: Vec<String> = (0..181).map(|i| format!("k{i}=v")).collect();
    assert!(Baggage::parse([many.join(",").as_str()]).is_empty());
    // Encoding round trip.
    let mut b = Baggage::new();
    b.insert("note", "a b,c;d%\n");
    let again = Baggage::parse([b.to_string().as_str()]);
    assert_eq!(again.get("note"), Some("a b,c;d%\n"));
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
fn extract_passes_tracestate_on_and_drops_an_invalid_one() {
    let map = headers(&[
        ("traceparent", VALID),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ]);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.trace_state(), Some("rojo=00f067aa0ba902b7"));
    let mut out = HashMap::new();
    propagation::inject(&ctx, &mut out);
    assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7");

    let map = headers(&[("traceparent", VALID), ("tracestate", "a=1,a=2")]);
    assert_eq!(propagation::extract(&map).unwrap().trace_state(), None);
}

#[test]
fn extract_without_baggage_derives_the_run_from_the_trace() {
    let ctx = propagation::extract(&headers(&[("traceparent", VALID)])).unwrap();
    assert_eq!(ctx.run_id(), "trace_4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn extract_refuses_missing_invalid_or_duplicate_traceparent() {
    assert!(propagation::extract(&headers(&[])).is_none());
    assert!(propagation::extract(&headers(&[("traceparent", "garbage")])).is_none());
    assert!(
        propagation::extract(&headers(&[("traceparent", VALID), ("traceparent", VALID)])).is_none()
    );
}

#[test]
fn hostile_headers_never_panic_nor_reach_the_run_id() {
    // Percent-encoded newline and brackets in the run id: refused, run id derived instead.
    let map = headers(&[
        ("traceparent", VALID),
        ("baggage", "run_id=x%0A%5B2024-01-01%5D%20%5Bother_run%5D"),
    ]);
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(ctx.run_id(), "trace_4bf92f3577b34da6a3ce929d0e0e4736");

    // Over-long, non-ASCII, control characters.
    let long = "0".repeat(1 << 20);
    let hostile: Vec<Vec<u8>> = vec![
        long.clone().into_bytes(),
        format!("00-{}-00f067aa0ba902b7-01", "é".repeat(16)).into_bytes(),
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\x01".to_vec(),
        vec![0xff; 55],
    ];
    for value in hostile {
        let mut map = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            map.insert("traceparent", v.clone());
            map.insert("tracestate", v.clone());
            map.insert("baggage", v);
        }
        assert!(propagation::extract(&map).is_none());
        let s = String::from_utf8_lossy(&value);
        assert!(TraceParent::parse(&s).is_err());
        let _ = TraceState::parse([s.as_ref()]);
        let _ = Baggage::parse([s.as_ref()]);
    }

    // 1,000 duplicate headers of each kind.
    let mut map = http::HeaderMap::new();
    for i in 0..1_000 {
        map.append("traceparent", http::HeaderValue::from_static(VALID));
        map.append(
            "tracestate",
            http::HeaderValue::from_str(&format!("k{i}=v")).unwrap(),
        );
        map.append(
            "baggage",
            http::HeaderValue::from_str(&format!("k{i}=v")).unwrap(),
        );
    }
    assert!(propagation::extract(&map).is_none());
    map.remove("traceparent");
    map.insert("traceparent", http::HeaderValue::from_static(VALID));
    let ctx = propagation::extract(&map).unwrap();
    assert_eq!(
        ctx.trace_state(),
        None,
        "more than 32 tracestate members are dropped"
    );
}

#[test]
fn hash_map_carrier_is_case_insensitive_on_read() {
    let mut map = HashMap::new();
    map.insert("TraceParent".to_string(), VALID.to_string());
    assert!(propagation::extract(&map).is_some());
}

mod loopback {
    //! The tower layers on a real axum server and a real hyper client, on loopback.

    use axum::{routing::get, Router};
    use http_body_util::{BodyExt as _, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tower::{Service as _, ServiceBuilder, ServiceExt as _};
    use tracectx::prelude::*;
    use tracectx::propagation::{InjectTraceContextLayer, TraceContextLayer, TraceParent};

    /// Answers with the ids the handler sees, as `run_id trace_id parent_span_id`.
    async fn whoami() -> String {
        let ctx = tracectx::current().expect("the layer sets a context");
        format!(
            "{} {:x} {}",
            ctx.run_id(),
            ctx.trace_id(),
            ctx.parent_span_id()
                .map(|p| p.to_string())
                .unwrap_or_default()
        )
    }

    async fn serve() -> std::net::SocketAddr {
        let app = Router::new()
            .route("/", get(whoami))
            .layer(TraceContextLayer::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn client_and_server_layers_carry_the_run_over_http() {
        let addr = serve().await;
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
        assert_ne!(
            echoed.parent_id(),
            ctx.span_id(),
            "the server names its own span"
        );
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            format!("backtest_ab12cd34 {:x} {}", ctx.trace_id(), ctx.span_id())
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn server_starts_a_new_run_for_a_request_without_context() {
        let addr = serve().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let mut runs = std::collections::HashSet::new();
        for _ in 0..20 {
            let req = http::Request::get(format!("http://{addr}/"))
                .header("traceparent", "garbage")
                .body(Empty::new())
                .unwrap();
            let resp = client.clone().oneshot(req).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(body.starts_with("request_"), "{body}");
            assert!(runs.insert(body), "every request gets its own run");
        }
    }
}
