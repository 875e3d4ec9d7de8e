//! The OpenTelemetry bridge (feature `opentelemetry`): id conversions both ways, and spans
//! made under `otel::layer` joining the trace of the scope they are created in.
#![cfg(feature = "opentelemetry")]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use opentelemetry::trace::{self as ot, TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracectx::otel::{self, RUN_ID_ATTRIBUTE, SHORT_TRACE_ID_ATTRIBUTE};
use tracectx::prelude::*;
use tracectx::{InvalidIdReason, RunId, SpanId, TraceFlags, TraceId};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::prelude::*;

/// The spans `exporter` received, by name.
fn spans_by_name(exporter: &InMemorySpanExporter) -> HashMap<String, SpanData> {
    exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .map(|s| (s.name.to_string(), s))
        .collect()
}

fn setup() -> (InMemorySpanExporter, SdkTracerProvider, tracing::Dispatch) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(otel::layer(provider.tracer("test")));
    (exporter, provider, tracing::Dispatch::new(subscriber))
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn trace_of(span: &SpanData) -> [u8; 16] {
    span.span_context.trace_id().to_bytes()
}

thread_local! {
    static DEFAULT: RefCell<Option<tracing::subscriber::DefaultGuard>> = const { RefCell::new(None) };
}

/// A multi-thread runtime whose every worker (and blocking thread) has `dispatch` as its
/// default subscriber, so the test needs no global one.
fn runtime_with(dispatch: tracing::Dispatch) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&dispatch);
            DEFAULT.with(|d| *d.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| DEFAULT.with(|d| d.borrow_mut().take()).map_or((), drop))
        .build()
        .unwrap()
}

// === conversions ===

#[test]
fn trace_id_converts_both_ways_with_the_same_value() {
    let ours = TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).unwrap();
    let theirs = ot::TraceId::from(ours);
    assert_eq!(theirs.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(theirs.to_bytes(), ours.to_bytes());
    assert!(theirs.to_string().ends_with(&*ours.short()));
    assert_eq!(TraceId::try_from(theirs).unwrap(), ours);
}

#[test]
fn span_id_converts_both_ways_with_the_same_value() {
    let ours: SpanId = "00f067aa0ba902b7".parse().unwrap();
    let theirs = ot::SpanId::from(ours);
    assert_eq!(theirs.to_string(), "00f067aa0ba902b7");
    assert_eq!(SpanId::try_from(theirs).unwrap(), ours);
}

#[test]
fn extreme_ids_convert_both_ways() {
    for v in [1u128, u128::MAX, 1 << 127, 0xffff_ffff] {
        let id = TraceId::from_u128(v).unwrap();
        assert_eq!(TraceId::try_from(ot::TraceId::from(id)).unwrap(), id);
    }
    for v in [1u64, u64::MAX, 1 << 63] {
        let id = SpanId::from_u64(v).unwrap();
        assert_eq!(SpanId::try_from(ot::SpanId::from(id)).unwrap(), id);
    }
}

#[test]
fn all_zero_ids_are_refused() {
    let err = TraceId::try_from(ot::TraceId::INVALID).unwrap_err();
    assert_eq!(err.reason(), InvalidIdReason::Zero);
    assert_eq!(err.kind(), "trace id");
    assert_eq!(
        err.to_string(),
        r#"invalid trace id "00000000000000000000000000000000": all zeros, which is not a valid id"#
    );
    let err = SpanId::try_from(ot::SpanId::INVALID).unwrap_err();
    assert_eq!(err.reason(), InvalidIdReason::Zero);
    assert_eq!(err.kind(), "span id");
}

#[test]
fn invalid_span_contexts_make_no_trace_context() {
    let run: RunId = "job_1".parse().unwrap();
    let empty = ot::SpanContext::empty_context();
    assert!(TraceContext::from_span_context(&empty, run.clone()).is_err());

    let zero_span = ot::SpanContext::new(
        ot::TraceId::from_bytes([7; 16]),
        ot::SpanId::INVALID,
        ot::TraceFlags::SAMPLED,
        false,
        ot::TraceState::default(),
    );
    let err = TraceContext::from_span_context(&zero_span, run.clone()).unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        ("span id", InvalidIdReason::Zero)
    );

    let zero_trace = ot::SpanContext::new(
        ot::TraceId::INVALID,
        ot::SpanId::from_bytes([9; 8]),
        ot::TraceFlags::SAMPLED,
        true,
        ot::TraceState::default(),
    );
    let err = TraceContext::from_span_context(&zero_trace, run.clone()).unwrap_err();
    assert_eq!(
        (err.kind(), err.reason()),
        ("trace id", InvalidIdReason::Zero)
    );

    assert!(TraceContext::from_otel_context(&opentelemetry::Context::new(), run).is_err());
}

#[test]
fn span_context_round_trip_keeps_ids_flags_and_tracestate() {
    let state =
        tracectx::propagation::TraceState::parse(["rojo=00f067aa0ba902b7,congo=t61"]).unwrap();
    let ctx = TraceContext::new("job_2")
        .unwrap()
        .with_trace_flags(TraceFlags::SAMPLED.with(TraceFlags::RANDOM))
        .with_trace_state(Some(state));
    let sc = ctx.to_span_context();
    assert!(sc.is_valid());
    assert!(!sc.is_remote());
    assert_eq!(sc.trace_flags().to_u8(), 0x03);
    assert_eq!(sc.trace_state().header(), "rojo=00f067aa0ba902b7,congo=t61");
    assert_eq!(ot::SpanContext::from(&ctx), sc);

    let back = TraceContext::from_span_context(&sc, ctx.run_id().clone()).unwrap();
    assert_eq!(back.trace_id(), ctx.trace_id());
    assert_eq!(back.span_id(), ctx.span_id());
    assert_eq!(back.parent_span_id(), None);
    assert_eq!(back.trace_flags(), ctx.trace_flags());
    assert_eq!(back.trace_state(), ctx.trace_state());
    assert_eq!(back.run_id(), "job_2");
}

#[test]
fn unsampled_flag_crosses_both_ways() {
    let ctx = TraceContext::new("job_3")
        .unwrap()
        .with_trace_flags(TraceFlags::NONE);
    let sc = ctx.to_span_context();
    assert!(!sc.is_sampled());
    let back = TraceContext::from_span_context(&sc, "job_3".parse().unwrap()).unwrap();
    assert!(!back.trace_flags().is_sampled());
}

#[test]
fn otel_context_holds_the_span_context() {
    let ctx = TraceContext::new("job_4").unwrap();
    let cx = ctx.to_otel_context();
    assert!(cx.has_active_span());
    assert_eq!(cx.span().span_context(), &ctx.to_span_context());
    let back = TraceContext::from_otel_context(&cx, ctx.run_id().clone()).unwrap();
    assert_eq!(back.trace_id(), ctx.trace_id());
}

// === the layer ===

#[test]
fn root_span_in_scope_joins_the_scope_trace_with_attributes() {
    let (exporter, _provider, dispatch) = setup();
    let ctx = TraceContext::new("backtest_ab12cd34").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        ctx.sync_scope(|| tracing::info_span!("session").in_scope(|| {}));
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "session");
    assert_eq!(trace_of(span), ctx.trace_id().to_bytes());
    assert_eq!(span.parent_span_id.to_bytes(), ctx.span_id().to_bytes());
    assert_eq!(
        attribute(span, RUN_ID_ATTRIBUTE).as_deref(),
        Some("backtest_ab12cd34")
    );
    assert_eq!(
        attribute(span, SHORT_TRACE_ID_ATTRIBUTE).as_deref(),
        Some(&*ctx.trace_id().short())
    );
    assert!(
        span.span_context
            .trace_id()
            .to_string()
            .ends_with(&*ctx.trace_id().short())
    );
}

#[test]
fn nested_spans_keep_their_parents() {
    let (exporter, _provider, dispatch) = setup();
    let ctx = TraceContext::new("job_5").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        ctx.sync_scope(|| {
            tracing::info_span!("a").in_scope(|| {
                tracing::info_span!("b").in_scope(|| tracing::info_span!("c").in_scope(|| {}))
            })
        });
    });
    let spans = spans_by_name(&exporter);
    assert_eq!(spans["c"].parent_span_id, spans["b"].span_context.span_id());
    assert_eq!(spans["b"].parent_span_id, spans["a"].span_context.span_id());
    assert_eq!(
        spans["a"].parent_span_id.to_bytes(),
        ctx.span_id().to_bytes()
    );
    for s in spans.values() {
        assert_eq!(trace_of(s), ctx.trace_id().to_bytes());
        assert_eq!(attribute(s, RUN_ID_ATTRIBUTE).as_deref(), Some("job_5"));
    }
}

#[test]
fn spans_outside_any_scope_are_left_alone() {
    let (exporter, _provider, dispatch) = setup();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("plain").in_scope(|| {});
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent_span_id, ot::SpanId::INVALID);
    assert_eq!(attribute(&spans[0], RUN_ID_ATTRIBUTE), None);
}

#[test]
fn span_in_scope_under_a_span_of_another_trace_joins_the_scope() {
    let (exporter, _provider, dispatch) = setup();
    let ctx = TraceContext::new("job_6").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("foreign").in_scope(|| {
            ctx.sync_scope(|| tracing::info_span!("mine").in_scope(|| {}));
        });
    });
    let spans = spans_by_name(&exporter);
    assert_eq!(trace_of(&spans["mine"]), ctx.trace_id().to_bytes());
    assert_ne!(trace_of(&spans["foreign"]), ctx.trace_id().to_bytes());
}

#[test]
fn span_made_in_a_scope_and_its_children_keep_the_run_on_a_thread_without_scope() {
    let (exporter, _provider, dispatch) = setup();
    let ctx = TraceContext::new("job_7").unwrap();
    let span = tracing::dispatcher::with_default(&dispatch, || {
        ctx.sync_scope(|| tracing::info_span!("made_in_scope"))
    });
    let d = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&d, || {
            assert!(tracectx::current().is_none());
            span.in_scope(|| tracing::info_span!("child_elsewhere").in_scope(|| {}));
        })
    })
    .join()
    .unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2);
    for s in &spans {
        assert_eq!(trace_of(s), ctx.trace_id().to_bytes(), "{}", s.name);
        assert_eq!(attribute(s, RUN_ID_ATTRIBUTE).as_deref(), Some("job_7"));
    }
}

#[test]
fn set_parent_still_reaches_the_wrapped_layer() {
    let (exporter, _provider, dispatch) = setup();
    let upstream = TraceContext::new("upstream_1").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("remote_child");
        span.set_parent(upstream.to_otel_context()).unwrap();
        assert!(span.context().span().span_context().is_valid());
        span.in_scope(|| {});
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(trace_of(&spans[0]), upstream.trace_id().to_bytes());
    assert_eq!(
        spans[0].parent_span_id.to_bytes(),
        upstream.span_id().to_bytes()
    );
}

#[test]
fn unsampled_context_exports_nothing() {
    let (exporter, _provider, dispatch) = setup();
    let ctx = TraceContext::new("job_8")
        .unwrap()
        .with_trace_flags(TraceFlags::NONE);
    tracing::dispatcher::with_default(&dispatch, || {
        ctx.sync_scope(|| tracing::info_span!("dropped").in_scope(|| {}));
    });
    assert!(exporter.get_finished_spans().unwrap().is_empty());
}

#[test]
fn spans_of_many_concurrent_traced_tasks_land_in_their_own_traces() {
    const TASKS: usize = 64;
    let (exporter, provider, dispatch) = setup();
    let rt = runtime_with(dispatch);
    let expected: HashMap<String, TraceContext> = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        let mut expected = HashMap::new();
        for i in 0..TASKS {
            let ctx = TraceContext::new(&format!("run_{i}")).unwrap();
            expected.insert(ctx.run_id().to_string(), ctx.clone());
            set.spawn(
                async move {
                    // The span is made inside the scope: a span made before the scope is
                    // entered belongs to no run.
                    async move {
                        async {
                            tokio::task::yield_now().await;
                            tokio::time::sleep(Duration::from_millis((i % 5) as u64)).await;
                            // A traced child task: same run, same trace.
                            tracectx::spawn_traced(
                                async { tokio::task::yield_now().await }
                                    .instrument(tracing::info_span!("child_task")),
                            )
                            .await
                            .unwrap();
                            tracing::info_span!("leaf").in_scope(|| {});
                        }
                        .instrument(tracing::info_span!("step"))
                        .await;
                        tokio::task::yield_now().await;
                    }
                    .instrument(tracing::info_span!("session"))
                    .await
                }
                .in_trace_context(ctx),
            );
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        expected
    });
    drop(rt);
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), TASKS * 4);
    let mut traces = HashSet::new();
    let by_id: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    for s in &spans {
        let run = attribute(s, RUN_ID_ATTRIBUTE).expect("every span carries its run");
        let ctx = &expected[&run];
        assert_eq!(
            trace_of(s),
            ctx.trace_id().to_bytes(),
            "{} of {run}",
            s.name
        );
        assert_eq!(
            attribute(s, SHORT_TRACE_ID_ATTRIBUTE).as_deref(),
            Some(&*ctx.trace_id().short())
        );
        // Every parent is a span of the same run, or the scope's own span.
        match by_id.get(&s.parent_span_id) {
            Some(parent) => assert_eq!(attribute(parent, RUN_ID_ATTRIBUTE), Some(run.clone())),
            None => assert_eq!(s.parent_span_id.to_bytes(), ctx.span_id().to_bytes()),
        }
        traces.insert(trace_of(s));
    }
    assert_eq!(traces.len(), TASKS);
}

#[test]
fn otlp_rejects_a_malformed_endpoint() {
    let err = otel::init_otlp("http://bad host:4318", "svc").unwrap_err();
    assert!(matches!(err, otel::OtlpError::Build { .. }));
    assert!(
        err.to_string()
            .starts_with(r#"cannot build the otlp exporter for "http://bad host:4318/v1/traces""#),
        "{err}"
    );
}

#[test]
fn otlp_refuses_endpoints_that_can_never_work() {
    let cases = [
        ("", "empty address"),
        ("  ", "empty address"),
        ("127.0.0.1:4318", "no scheme"),
        ("ftp://x", r#"scheme "ftp" is not http"#),
        (
            "https://collector:4318",
            "https needs TLS, and this exporter links none",
        ),
        ("HTTPS://collector:4318", "https needs TLS"),
        ("http://", "no host"),
        ("http:///v1/logs", "no host"),
        ("http://c:4318?a=1", "a query or fragment"),
    ];
    for (endpoint, reason) in cases {
        let spans = otel::init_otlp(endpoint, "svc").map(drop);
        let logs = otel::init_otlp_logs(endpoint, "svc").map(drop);
        for (err, signal) in [(spans, "traces"), (logs, "logs")] {
            let err = err.expect_err(endpoint);
            assert!(matches!(err, otel::OtlpError::Build { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with("cannot build the otlp exporter for ")
                    && text.contains(&format!("/v1/{signal}"))
                    && text.contains(&format!("endpoint {endpoint:?}: {reason}")),
                "{text}"
            );
        }
    }
    // What can work is taken, whatever the case of the scheme.
    for endpoint in [
        "http://127.0.0.1:4318",
        "HTTP://localhost:4318/",
        "http://[::1]:4318",
    ] {
        drop(otel::init_otlp(endpoint, "svc").unwrap());
        drop(otel::init_otlp_logs(endpoint, "svc").unwrap());
    }
}

/// One HTTP/1.1 request read off `reader`: its head (request line and headers, each line
/// with its CRLF) and its body (`content-length` bytes); `None` when the peer closed first.
fn read_request(reader: &mut impl std::io::BufRead) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push_str(&line),
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A one-shot OTLP/HTTP receiver on loopback: answers every request 200 and hands back what
/// it read (head and body).
fn receiver() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some((head, body)) = read_request(&mut reader) else {
                continue;
            };
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            if tx.send((head, body)).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[test]
fn otlp_posts_protobuf_to_the_traces_path() {
    let (endpoint, received) = receiver();
    let otlp = otel::init_otlp(&endpoint, "svc").unwrap();
    let subscriber = tracing_subscriber::registry().with(otel::layer(otlp.tracer("svc")));
    let ctx = TraceContext::new("otlp_job").unwrap();
    tracing::subscriber::with_default(subscriber, || {
        ctx.sync_scope(|| tracing::info_span!("exported").in_scope(|| {}));
    });
    otlp.shutdown().unwrap();
    let (head, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("POST /v1/traces HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-protobuf"),
        "{head}"
    );
    // The protobuf carries the trace id's 16 bytes, the span name and the run id as they are.
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(has(&ctx.trace_id().to_bytes()));
    assert!(has(b"exported"));
    assert!(has(b"otlp_job"));
    assert!(has(RUN_ID_ATTRIBUTE.as_bytes()));
}

#[test]
fn otlp_shutdown_reports_spans_it_could_not_deliver() {
    // Nothing listens on the discard port of loopback: every export is refused.
    let otlp = otel::init_otlp("http://127.0.0.1:9", "svc").unwrap();
    let subscriber = tracing_subscriber::registry().with(otel::layer(otlp.tracer("svc")));
    tracing::subscriber::with_default(subscriber, || {
        TraceContext::new("lost_job")
            .unwrap()
            .sync_scope(|| tracing::info_span!("lost").in_scope(|| {}));
    });
    match otlp.shutdown() {
        Err(otel::OtlpError::Export {
            spans, endpoint, ..
        }) => {
            assert_eq!(spans, 1);
            assert_eq!(endpoint, "http://127.0.0.1:9/v1/traces");
        }
        other => panic!("expected an export error, got {other:?}"),
    }
}

// === attribute names ===

#[test]
fn attribute_prefix_is_settable_default_unchanged() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let guide = otel::layer(provider.tracer("guide"))
        .with_attribute_prefix("peak_trade.")
        .unwrap();
    assert_eq!(guide.attribute_names().run_id(), "peak_trade.run_id");
    let ctx = TraceContext::new("backtest_abc123").unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(guide), || {
        ctx.sync_scope(|| tracing::info_span!("session").in_scope(|| {}));
    });
    let (_, _, dispatch) = setup_with_exporter(exporter.clone());
    tracing::dispatcher::with_default(&dispatch, || {
        ctx.sync_scope(|| tracing::info_span!("default").in_scope(|| {}));
    });
    let spans = exporter.get_finished_spans().unwrap();
    let session = spans.iter().find(|s| s.name == "session").unwrap();
    assert_eq!(
        attribute(session, "peak_trade.run_id").as_deref(),
        Some("backtest_abc123")
    );
    assert_eq!(
        attribute(session, "peak_trade.trace_id_short").as_deref(),
        Some(&*ctx.trace_id().short())
    );
    assert_eq!(attribute(session, RUN_ID_ATTRIBUTE), None);
    let default = spans.iter().find(|s| s.name == "default").unwrap();
    assert_eq!(
        attribute(default, RUN_ID_ATTRIBUTE).as_deref(),
        Some("backtest_abc123")
    );
    assert_eq!(
        attribute(default, SHORT_TRACE_ID_ATTRIBUTE).as_deref(),
        Some(&*ctx.trace_id().short())
    );
}

#[test]
fn attribute_names_are_made_once_per_prefix_and_checked() {
    let a = otel::AttributeNames::new("svc-a.").unwrap();
    let b = otel::AttributeNames::new("svc-a.").unwrap();
    assert!(std::ptr::eq(a, b));
    assert_eq!(a.short_trace_id(), "svc-a.trace_id_short");
    assert_eq!(otel::AttributeNames::new("").unwrap().run_id(), "run_id");
    for bad in ["a b", "a=b", "é.", "x\n"] {
        assert!(otel::AttributeNames::new(bad).is_err(), "{bad:?}");
    }
    assert!(otel::AttributeNames::new(&"a".repeat(65)).is_err());
}

fn setup_with_exporter(
    exporter: InMemorySpanExporter,
) -> (InMemorySpanExporter, SdkTracerProvider, tracing::Dispatch) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(otel::layer(provider.tracer("test")));
    (exporter, provider, tracing::Dispatch::new(subscriber))
}

// === log records ===

mod logs {
    use super::*;
    use opentelemetry::logs::{AnyValue, Severity};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::logs::{
        InMemoryLogExporter, LogBatch, LogExporter, SdkLogRecord, SdkLoggerProvider,
    };
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    fn attr(record: &SdkLogRecord, key: &str) -> Option<AnyValue> {
        record
            .attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    }

    fn capture(f: impl FnOnce()) -> Vec<SdkLogRecord> {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracectx::logging::SpanContextLayer::new())
            .with(otel::log_layer(&provider));
        tracing::subscriber::with_default(subscriber, f);
        exporter
            .get_emitted_logs()
            .unwrap()
            .into_iter()
            .map(|l| l.record)
            .collect()
    }

    #[test]
    fn each_event_is_a_record_with_the_contexts_ids_and_run() {
        let ctx = TraceContext::new("backtest_abc123").unwrap().child();
        let records = capture(|| {
            ctx.sync_scope(|| {
                tracing::warn!(target: "engine", qty = 10, px = 101.25, ok = true, side = "buy", big = u64::MAX, "slow fill")
            });
        });
        assert_eq!(records.len(), 1);
        let r = &records[0];
        let tc = r.trace_context().unwrap();
        assert_eq!(tc.trace_id.to_bytes(), ctx.trace_id().to_bytes());
        assert_eq!(tc.span_id.to_bytes(), ctx.span_id().to_bytes());
        assert_eq!(tc.trace_flags.map(|f| f.is_sampled()), Some(true));
        assert_eq!(
            attr(r, RUN_ID_ATTRIBUTE),
            Some(AnyValue::from("backtest_abc123".to_owned()))
        );
        assert_eq!(r.body(), Some(&AnyValue::from("slow fill".to_owned())));
        assert_eq!(r.severity_number(), Some(Severity::Warn));
        assert_eq!(r.severity_text(), Some("WARN"));
        assert_eq!(r.target().map(|t| t.as_ref()), Some("engine"));
        assert!(r.timestamp().is_some());
        assert_eq!(attr(r, "qty"), Some(AnyValue::Int(10)));
        assert_eq!(attr(r, "px"), Some(AnyValue::Double(101.25)));
        assert_eq!(attr(r, "ok"), Some(AnyValue::Boolean(true)));
        assert_eq!(attr(r, "side"), Some(AnyValue::from("buy".to_owned())));
        assert_eq!(attr(r, "big"), Some(AnyValue::from(u64::MAX.to_string())));
        assert_eq!(attr(r, "message"), None);
    }

    #[test]
    fn outside_any_run_a_record_has_no_ids() {
        let records = capture(|| tracing::info!("idle"));
        assert_eq!(records.len(), 1);
        assert!(records[0].trace_context().is_none());
        assert_eq!(attr(&records[0], RUN_ID_ATTRIBUTE), None);
    }

    #[test]
    fn a_log_crate_record_keeps_its_own_target_and_level() {
        let ctx = TraceContext::new("backtest_log").unwrap();
        let records = capture(|| {
            ctx.sync_scope(|| {
                // What `tracing_log::LogTracer` does with every `log` record.
                tracing_log::format_trace(
                    &log::Record::builder()
                        .target("exchange::fix")
                        .level(log::Level::Warn)
                        .args(format_args!("order rejected"))
                        .build(),
                )
                .unwrap();
            });
        });
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.target().map(|t| t.as_ref()), Some("exchange::fix"));
        assert_eq!(r.severity_number(), Some(Severity::Warn));
        assert_eq!(r.body(), Some(&AnyValue::from("order rejected".to_owned())));
        assert_eq!(
            attr(r, RUN_ID_ATTRIBUTE),
            Some(AnyValue::from("backtest_log".to_owned()))
        );
    }

    #[test]
    fn a_span_remembered_run_is_on_the_record_and_the_prefix_settable() {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = otel::log_layer(&provider)
            .with_attribute_prefix("peak_trade.")
            .unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(tracectx::logging::SpanContextLayer::new())
            .with(layer);
        let ctx = TraceContext::new("job_9").unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = ctx.sync_scope(|| tracing::info_span!("work"));
            span.in_scope(|| tracing::error!("in the span"));
        });
        let logs = exporter.get_emitted_logs().unwrap();
        let r = &logs[0].record;
        assert_eq!(
            r.trace_context().unwrap().trace_id.to_bytes(),
            ctx.trace_id().to_bytes()
        );
        assert_eq!(
            attr(r, "peak_trade.run_id"),
            Some(AnyValue::from("job_9".to_owned()))
        );
    }

    /// Every attribute of `record` named `key`, in order.
    fn all(record: &SdkLogRecord, key: &str) -> Vec<AnyValue> {
        record
            .attributes_iter()
            .filter(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn s(v: &str) -> AnyValue {
        AnyValue::from(v.to_owned())
    }

    /// Records of `emit`, run in the run `job_1` and then outside any, under `prefix`.
    fn records_under(prefix: &str, emit: fn()) -> Vec<SdkLogRecord> {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = otel::log_layer(&provider)
            .with_attribute_prefix(prefix)
            .unwrap();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            TraceContext::new("job_1").unwrap().sync_scope(emit);
            emit();
        });
        let logs = exporter.get_emitted_logs().unwrap();
        logs.into_iter().map(|l| l.record).collect()
    }

    #[test]
    fn a_field_named_like_the_run_id_attribute_is_renamed_in_and_out_of_runs() {
        let cases: [(&str, fn()); 3] = [
            ("tracectx.", || {
                tracing::info!(tracectx.run_id = "spoofed", fields.tracectx.run_id = 7, "e")
            }),
            ("peak_trade.", || {
                tracing::info!(
                    peak_trade.run_id = "spoofed",
                    fields.peak_trade.run_id = 7,
                    "e"
                )
            }),
            ("", || {
                tracing::info!(run_id = "spoofed", fields.run_id = 7, "e")
            }),
        ];
        for (prefix, emit) in cases {
            let key = format!("{prefix}run_id");
            let records = records_under(prefix, emit);
            assert_eq!(records.len(), 2, "{prefix:?}");
            for (record, run) in records.iter().zip([Some("job_1"), None]) {
                // One run id attribute in a run, the run's; none outside any run.
                let expected: Vec<AnyValue> = run.into_iter().map(s).collect();
                assert_eq!(all(record, &key), expected, "{prefix:?} {run:?}");
                // The fields are kept, one `fields.` further away each.
                assert_eq!(all(record, &format!("fields.{key}")), [s("spoofed")]);
                assert_eq!(
                    all(record, &format!("fields.fields.{key}")),
                    [AnyValue::Int(7)],
                    "{prefix:?} {run:?}"
                );
                assert_eq!(record.attributes_iter().count(), 2 + expected.len());
            }
        }
        // A field named like another prefix's key is the application's own.
        let records = records_under("peak_trade.", || tracing::info!(tracectx.run_id = "x", "e"));
        assert_eq!(all(&records[1], "tracectx.run_id"), [s("x")]);
    }

    /// Exports on the event's thread and logs while it does, as a blocking HTTP client does:
    /// the pattern of opentelemetry-rust#1745.
    #[derive(Debug, Clone, Default)]
    struct LogsWhileExporting(Arc<Mutex<Vec<SdkLogRecord>>>);

    impl LogExporter for LogsWhileExporting {
        fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
            tracing::info!("the exporter's own event");
            tracing::debug!(target: "reqwest::connect", "starting new connection");
            self.0
                .lock()
                .unwrap()
                .extend(batch.iter().map(|(r, _)| r.clone()));
            std::future::ready(Ok(()))
        }
    }

    #[test]
    fn an_exporter_that_logs_on_the_events_thread_neither_deadlocks_nor_loops() {
        let exporter = LogsWhileExporting::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(otel::log_layer(&provider));
        let ctx = TraceContext::new("job_1").unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..100 {
                ctx.sync_scope(|| tracing::info!(i, "application"));
            }
        });
        let records = exporter.0.lock().unwrap();
        assert_eq!(records.len(), 100);
        assert!(
            records
                .iter()
                .all(|r| r.body() == Some(&AnyValue::from("application".to_owned())))
        );
    }

    /// An exporter stuck until released, as one waiting on a collector that does not answer.
    #[derive(Debug, Clone)]
    struct Stuck {
        release: Arc<(Mutex<bool>, std::sync::Condvar)>,
        exported: Arc<Mutex<usize>>,
    }

    impl LogExporter for Stuck {
        fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
            let (lock, cvar) = &*self.release;
            let mut released = lock.lock().unwrap();
            while !*released {
                released = cvar.wait(released).unwrap();
            }
            *self.exported.lock().unwrap() += batch.iter().count();
            std::future::ready(Ok(()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_collector_that_never_answers_never_blocks_the_application() {
        let exporter = Stuck {
            release: Arc::new((Mutex::new(false), std::sync::Condvar::new())),
            exported: Arc::new(Mutex::new(0)),
        };
        let provider = SdkLoggerProvider::builder()
            .with_batch_exporter(exporter.clone())
            .build();
        let dispatch =
            tracing::Dispatch::new(tracing_subscriber::registry().with(otel::log_layer(&provider)));
        // 2,000 tasks log 50 events each while the export is stuck: far more than the batch
        // queue holds. Every task finishes (the records past the queue are dropped).
        let mut set = tokio::task::JoinSet::new();
        for t in 0..2_000 {
            let dispatch = dispatch.clone();
            set.spawn(
                async move {
                    for i in 0..50 {
                        tokio::task::yield_now().await;
                        tracing::dispatcher::with_default(&dispatch, || tracing::info!(t, i, "e"));
                    }
                }
                .in_trace_context(TraceContext::new(&format!("task_{t}")).unwrap()),
            );
        }
        while let Some(done) = set.join_next().await {
            done.unwrap();
        }
        let (lock, cvar) = &*exporter.release;
        *lock.lock().unwrap() = true;
        cvar.notify_all();
        tokio::task::spawn_blocking(move || provider.shutdown())
            .await
            .unwrap()
            .unwrap();
        let exported = *exporter.exported.lock().unwrap();
        assert!(exported > 0 && exported < 100_000, "{exported}");
    }
}

// === what OTLP export loses, counted ===

mod loss {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message as _;
    use std::io::{BufReader, Write as _};
    use std::sync::{Arc, Condvar, Mutex};

    /// An OTLP/HTTP collector on loopback: a thread per connection, keep-alive, every
    /// request decoded with the OTLP messages. It holds every answer until `open`, as a
    /// collector slower than the application does, so the batch processor's queue fills.
    struct Collector {
        endpoint: String,
        gate: Arc<(Mutex<bool>, Condvar)>,
        /// The `n` of every record body or span attribute `marker` `flood:<n>` received.
        arrived: Arc<Mutex<Vec<u64>>>,
    }

    fn flood_id(text: &str) -> Option<u64> {
        text.strip_prefix("flood:")?.parse().ok()
    }

    /// The flood ids of one request's body.
    fn ids_in(path: &str, body: &[u8]) -> Vec<u64> {
        let text = |v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match v
            .as_ref()
            .and_then(|v| v.value.as_ref())
        {
            Some(Value::StringValue(s)) => flood_id(s),
            _ => None,
        };
        match path {
            "/v1/logs" => ExportLogsServiceRequest::decode(body)
                .unwrap()
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .flat_map(|s| &s.log_records)
                .filter_map(|r| text(&r.body))
                .collect(),
            "/v1/traces" => ExportTraceServiceRequest::decode(body)
                .unwrap()
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .filter_map(|s| {
                    s.attributes
                        .iter()
                        .find(|kv| kv.key == "marker")
                        .and_then(|kv| text(&kv.value))
                })
                .collect(),
            other => panic!("unexpected path {other}"),
        }
    }

    impl Collector {
        fn start() -> Self {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let endpoint = format!("http://{}", listener.local_addr().unwrap());
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let arrived = Arc::new(Mutex::new(Vec::new()));
            let (g, a) = (Arc::clone(&gate), Arc::clone(&arrived));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let (gate, arrived) = (Arc::clone(&g), Arc::clone(&a));
                    std::thread::spawn(move || serve(stream, &gate, &arrived));
                }
            });
            Collector {
                endpoint,
                gate,
                arrived,
            }
        }

        fn open(&self) {
            let (lock, cvar) = &*self.gate;
            *lock.lock().unwrap() = true;
            cvar.notify_all();
        }

        /// The ids received, each once (panics on one received twice).
        fn arrived(&self) -> HashSet<u64> {
            let all = self.arrived.lock().unwrap();
            let set: HashSet<u64> = all.iter().copied().collect();
            assert_eq!(set.len(), all.len(), "a record arrived twice");
            set
        }
    }

    fn serve(
        stream: std::net::TcpStream,
        gate: &(Mutex<bool>, Condvar),
        arrived: &Mutex<Vec<u64>>,
    ) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        loop {
            let Some((head, body)) = super::read_request(&mut reader) else {
                return;
            };
            let path = head.split(' ').nth(1).unwrap().to_owned();
            let (lock, cvar) = gate;
            drop(
                cvar.wait_while(lock.lock().unwrap(), |open| !*open)
                    .unwrap(),
            );
            arrived.lock().unwrap().extend(ids_in(&path, &body));
            let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if stream.write_all(ok).is_err() {
                return;
            }
        }
    }

    const TASKS: u64 = 1_000;

    /// Runs `per_task` in each of `TASKS` tasks of a multi-thread runtime, each in a run of
    /// its own, under `dispatch`.
    fn flood(dispatch: tracing::Dispatch, per_task: fn(u64)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for t in 0..TASKS {
                let dispatch = dispatch.clone();
                set.spawn(
                    async move {
                        tokio::task::yield_now().await;
                        tracing::dispatcher::with_default(&dispatch, || per_task(t));
                    }
                    .in_trace_context(TraceContext::new(&format!("flood_{t}")).unwrap()),
                );
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
        });
    }

    const RECORDS_PER_TASK: u64 = 50;

    #[test]
    fn log_records_a_full_queue_dropped_are_counted_at_shutdown() {
        let collector = Collector::start();
        let otlp = otel::init_otlp_logs(&collector.endpoint, "svc").unwrap();
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(otlp.layer()));
        // 50,000 records while the collector holds its first answer: far more than the
        // queue (2,048) and a batch (512) hold.
        flood(dispatch, |t| {
            for i in 0..RECORDS_PER_TASK {
                tracing::info!("flood:{}", t * RECORDS_PER_TASK + i);
            }
        });
        let total = TASKS * RECORDS_PER_TASK;
        assert_eq!(otlp.stats().accepted, total);
        collector.open();
        let err = otlp.shutdown().unwrap_err();
        let arrived = collector.arrived();
        assert!(arrived.iter().all(|&id| id < total));
        let arrived = arrived.len() as u64;
        match &err {
            otel::OtlpError::LogsLost {
                stats,
                endpoint,
                last,
                shutdown,
            } => {
                assert_eq!(endpoint, &format!("{}/v1/logs", collector.endpoint));
                assert_eq!(stats.accepted, total);
                assert_eq!(stats.exported, arrived);
                // What is reported lost is exactly what did not arrive, all of it dropped.
                assert_eq!(stats.lost(), total - arrived);
                assert_eq!(stats.dropped, total - arrived);
                assert_eq!((stats.failed, stats.pending), (0, 0));
                assert!(stats.dropped >= total - 2_048 - 512, "{stats:?}");
                assert!(last.is_none() && shutdown.is_none(), "{err:?}");
            }
            other => panic!("expected lost records, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "otlp log export to \"{}/v1/logs\" lost {} of {total} records: {total} accepted, \
                 {arrived} exported, {} dropped (queue full)",
                collector.endpoint,
                total - arrived,
                total - arrived
            )
        );
    }

    const SPANS_PER_TASK: u64 = 10;

    #[test]
    fn spans_a_full_queue_dropped_are_counted_at_shutdown() {
        let collector = Collector::start();
        let otlp = otel::init_otlp(&collector.endpoint, "svc").unwrap();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry().with(otel::layer(otlp.tracer("svc"))),
        );
        flood(dispatch, |t| {
            for i in 0..SPANS_PER_TASK {
                let marker = format!("flood:{}", t * SPANS_PER_TASK + i);
                tracing::info_span!("flooded", marker = marker.as_str()).in_scope(|| {});
            }
        });
        let total = TASKS * SPANS_PER_TASK;
        assert_eq!(otlp.stats().accepted, total);
        collector.open();
        let err = otlp.shutdown().unwrap_err();
        let arrived = collector.arrived().len() as u64;
        match &err {
            otel::OtlpError::SpansLost { stats, .. } => {
                assert_eq!((stats.accepted, stats.exported), (total, arrived));
                assert_eq!(stats.lost(), total - arrived);
                assert_eq!(stats.dropped, total - arrived);
                assert!(stats.dropped >= total - 2_048 - 512, "{stats:?}");
            }
            other => panic!("expected lost spans, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&format!(
                "lost {} of {total} spans: {total} accepted, {arrived} exported, {} dropped \
                 (queue full)",
                total - arrived,
                total - arrived
            )),
            "{err}"
        );
    }

    #[test]
    fn nothing_lost_nothing_reported() {
        let collector = Collector::start();
        collector.open();
        let otlp = otel::init_otlp_logs(&collector.endpoint, "svc").unwrap();
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(otlp.layer()));
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..100 {
                tracing::info!("flood:{i}");
            }
        });
        otlp.shutdown().unwrap();
        assert_eq!(collector.arrived().len(), 100);
    }

    /// Set in the child process of the test below.
    const DROP_CHILD: &str = "TRACECTX_TEST_OTLP_DROP_CHILD";

    #[test]
    fn guards_dropped_without_shutdown_say_what_they_lost_on_stderr() {
        if std::env::var_os(DROP_CHILD).is_some() {
            // Nothing listens on the discard port of loopback: every export is refused.
            let logs = otel::init_otlp_logs("http://127.0.0.1:9", "svc").unwrap();
            let spans = otel::init_otlp("http://127.0.0.1:9", "svc").unwrap();
            let subscriber = tracing_subscriber::registry()
                .with(logs.layer())
                .with(otel::layer(spans.tracer("svc")));
            tracing::subscriber::with_default(subscriber, || {
                TraceContext::new("dropped_job").unwrap().sync_scope(|| {
                    for _ in 0..3 {
                        tracing::info_span!("lost").in_scope(|| tracing::info!("lost"));
                    }
                });
            });
            drop(logs);
            drop(spans);
            return;
        }
        let test = "loss::guards_dropped_without_shutdown_say_what_they_lost_on_stderr";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(DROP_CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("tracectx: "))
            .collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        assert!(
            lines[0].starts_with(
                "tracectx: otlp log export to \"http://127.0.0.1:9/v1/logs\" failed: 3 records \
                 not delivered, last error: "
            ),
            "{stderr}"
        );
        assert!(
            lines[1].starts_with(
                "tracectx: otlp export to \"http://127.0.0.1:9/v1/traces\" failed: 3 spans not \
                 delivered, last error: "
            ),
            "{stderr}"
        );
    }

    #[test]
    fn a_collector_that_never_answers_leaves_a_count_when_shutdown_gives_up() {
        // Connections are taken (the kernel's backlog), nothing is ever read or answered.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let otlp = otel::init_otlp_logs(&endpoint, "svc").unwrap();
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(otlp.layer()));
        tracing::dispatcher::with_default(&dispatch, || {
            TraceContext::new("stuck_job").unwrap().sync_scope(|| {
                for i in 0..10 {
                    tracing::info!(i, "never answered");
                }
            });
        });
        let err = otlp
            .shutdown_with_timeout(Duration::from_millis(100))
            .unwrap_err();
        match &err {
            otel::OtlpError::LogsLost {
                stats, shutdown, ..
            } => {
                assert_eq!((stats.accepted, stats.exported), (10, 0));
                assert_eq!(stats.lost(), 10);
                assert_eq!(stats.failed + stats.pending, 10, "{stats:?}");
                // The provider's shutdown gathers its processors' errors: a timeout here.
                let shutdown = shutdown.as_ref().expect("the shutdown gave up");
                assert!(
                    format!("{shutdown:?}").contains("Timeout(100ms)"),
                    "{shutdown:?}"
                );
            }
            other => panic!("expected lost records, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "otlp log export to \"{endpoint}/v1/logs\" lost 10 of 10 records: 10 accepted, 0 exported"
            )) && text.contains("; shutdown did not complete: "),
            "{text}"
        );
        drop(listener);
    }
}

// === explicit parents ===

/// The attributes say the run and short trace id of the trace the span is exported in: a
/// span with an explicit parent takes them from that parent, never from the scope it happens
/// to be made in.
#[test]
fn span_with_an_explicit_parent_of_another_run_carries_that_runs_ids() {
    let (exporter, _provider, dispatch) = setup();
    let a = TraceContext::new("run_a").unwrap();
    let b = TraceContext::new("run_b").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let in_a = a.sync_scope(|| tracing::info_span!("made_in_a"));
        b.sync_scope(|| {
            tracing::info_span!(parent: &in_a, "child_of_a").in_scope(|| {
                tracing::info_span!("grandchild").in_scope(|| {});
            });
        });
    });
    let spans = spans_by_name(&exporter);
    let child = &spans["child_of_a"];
    assert_eq!(trace_of(child), a.trace_id().to_bytes());
    assert_eq!(
        child.parent_span_id,
        spans["made_in_a"].span_context.span_id()
    );
    assert_eq!(attribute(child, RUN_ID_ATTRIBUTE).as_deref(), Some("run_a"));
    assert_eq!(
        attribute(child, SHORT_TRACE_ID_ATTRIBUTE),
        Some(a.trace_id().short().to_string())
    );
    // A span made under it in b's scope is b's again, in b's trace.
    let grandchild = &spans["grandchild"];
    assert_eq!(trace_of(grandchild), b.trace_id().to_bytes());
    assert_eq!(
        attribute(grandchild, RUN_ID_ATTRIBUTE).as_deref(),
        Some("run_b")
    );
}

/// Every exported span whose attributes name a short trace id is in a trace that ends with
/// it: an explicit root (`parent: None`), which starts a trace of its own, and a span under an
/// explicit parent made outside any scope carry no run's ids.
#[test]
fn spans_outside_the_scopes_trace_carry_no_run_attributes() {
    let (exporter, _provider, dispatch) = setup();
    let a = TraceContext::new("run_a").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let outside = tracing::info_span!("outside");
        a.sync_scope(|| {
            tracing::info_span!(parent: None, "explicit_root").in_scope(|| {});
            tracing::info_span!(parent: &outside, "under_outside").in_scope(|| {});
            tracing::info_span!("contextual").in_scope(|| {});
        });
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 4);
    for span in &spans {
        let trace = span.span_context.trace_id().to_string();
        match attribute(span, SHORT_TRACE_ID_ATTRIBUTE) {
            Some(short) => assert!(trace.ends_with(&short), "{}: {short} in {trace}", span.name),
            None => assert_eq!(attribute(span, RUN_ID_ATTRIBUTE), None, "{}", span.name),
        }
        let in_a = trace_of(span) == a.trace_id().to_bytes();
        assert_eq!(in_a, span.name == "contextual", "{}", span.name);
        assert_eq!(
            attribute(span, RUN_ID_ATTRIBUTE).is_some(),
            in_a,
            "{}",
            span.name
        );
    }
}
