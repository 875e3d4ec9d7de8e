//! NATS with async-nats: the `HeaderMap` carrier, `message_context` and `for_each_message` on
//! streams of real `async_nats::Message`s (a channel standing for the subscription; the
//! publisher and subscriber processes on a real nats-server are `scripts/nats.sh`).
#![cfg(feature = "nats")]

use std::collections::HashSet;

use async_nats::{HeaderMap, Message};
use tracectx::prelude::*;
use tracectx::propagation::{self, RunPolicy};

#[cfg(feature = "logging")]
mod support;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn message(headers: Option<HeaderMap>, payload: &str) -> Message {
    Message {
        subject: "fills".into(),
        reply: None,
        payload: payload.to_owned().into(),
        headers,
        status: None,
        description: None,
        length: 0,
    }
}

/// A message published from `ctx`: its headers carry a span of the publish's own.
fn published_from(ctx: &TraceContext, payload: &str) -> (Message, TraceContext) {
    let mut headers = HeaderMap::new();
    let sent = ctx
        .sync_scope(|| propagation::inject_current(&mut headers))
        .unwrap();
    (message(Some(headers), payload), sent)
}

#[test]
fn header_map_round_trips_a_context() {
    let state = propagation::TraceState::parse(["rojo=00f067aa0ba902b7"]).unwrap();
    let ctx = TraceContext::new("live_eu")
        .unwrap()
        .with_trace_state(Some(state));
    let mut headers = HeaderMap::new();
    propagation::inject(&ctx, &mut headers);
    let there = propagation::extract(&headers).unwrap();
    assert_eq!(there.run_id(), "live_eu");
    assert_eq!(there.trace_id(), ctx.trace_id());
    assert_eq!(there.parent_span_id(), Some(ctx.span_id()));
    assert_eq!(there.trace_state(), Some("rojo=00f067aa0ba902b7"));
}

#[test]
fn header_names_are_read_in_any_case_and_repeats_counted() {
    let mut headers = HeaderMap::new();
    headers.insert("TRACEPARENT", VALID);
    headers.insert("Baggage", "run_id=live_eu");
    let ctx = propagation::extract(&headers).unwrap();
    assert_eq!(ctx.run_id(), "live_eu");
    // A second traceparent under another case is still a second one.
    headers.insert("traceparent", VALID);
    assert!(propagation::extract(&headers).is_none());
}

#[test]
fn injector_skips_what_nats_headers_cannot_hold() {
    let mut headers = HeaderMap::new();
    propagation::Injector::set(&mut headers, "baggage", "run_id=a\r\nb");
    propagation::Injector::set(&mut headers, "bad:name", "v");
    assert!(headers.is_empty());
}

#[test]
fn message_context_by_policy() {
    let publisher = TraceContext::new("live_eu").unwrap();
    let (msg, sent) = published_from(&publisher, "fill");
    let trusted = propagation::message_context(&msg, RunPolicy::TrustCaller);
    assert_eq!(trusted.run_id(), "live_eu");
    assert_eq!(trusted.trace_id(), publisher.trace_id());
    assert_eq!(trusted.parent_span_id(), Some(sent.span_id()));
    assert_ne!(sent.span_id(), publisher.span_id());

    let own = propagation::message_context(&msg, RunPolicy::OwnRun);
    assert!(own.run_id().starts_with("message_"));
    assert_eq!(own.trace_id(), publisher.trace_id());

    let bare = propagation::message_context(&message(None, "x"), RunPolicy::TrustCaller);
    assert!(bare.run_id().starts_with("message_"));
    assert_eq!(bare.parent_span_id(), None);
}

#[test]
fn bad_headers_give_a_fresh_run_and_hostile_run_ids_are_not_used() {
    for (traceparent, baggage) in [
        ("garbage", "run_id=live_eu"),
        (&*VALID.to_uppercase(), "run_id=live_eu"),
        (&*VALID.replace(TRACE, &"0".repeat(32)), "run_id=live_eu"),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", traceparent);
        headers.insert("baggage", baggage);
        let ctx =
            propagation::message_context(&message(Some(headers), "x"), RunPolicy::TrustCaller);
        assert!(ctx.run_id().starts_with("message_"), "{traceparent}");
    }
    for baggage in ["run_id=-", "run_id=a%0Ab", "run_id=[other]"] {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", VALID);
        headers.insert("baggage", baggage);
        let ctx =
            propagation::message_context(&message(Some(headers), "x"), RunPolicy::TrustCaller);
        assert_eq!(ctx.run_id().as_str(), format!("trace_{TRACE}"), "{baggage}");
    }
}

/// Five thousand messages from fifty runs, interleaved, through a channel standing for the
/// subscription, on a multi-thread runtime: each handler (and the task it spawns) runs in its
/// own message's run and trace, with the message's span as parent; none sees another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_handler_runs_in_its_messages_context() {
    let runs: Vec<TraceContext> = (0..50)
        .map(|i| TraceContext::new(&format!("live_{i}")).unwrap())
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Message>(64);
    let mut expected = std::collections::HashMap::new();
    let mut messages = Vec::new();
    for i in 0..5_000 {
        let run = &runs[i % runs.len()];
        let (msg, sent) = published_from(run, &i.to_string());
        expected.insert(i.to_string(), sent);
        messages.push(msg);
    }
    let producer = tokio::spawn(async move {
        for msg in messages {
            tx.send(msg).await.unwrap();
        }
    });
    let stream =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|msg| (msg, rx)) },
        );
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let handled = tokio::spawn(propagation::for_each_message(
        stream,
        RunPolicy::TrustCaller,
        move |msg| {
            let seen_tx = seen_tx.clone();
            async move {
                tokio::task::yield_now().await;
                let here = tracectx::current().unwrap();
                // Work spawned from the handler keeps the context.
                let there = tracectx::spawn_traced(async { tracectx::current().unwrap() })
                    .await
                    .unwrap();
                let payload = String::from_utf8(msg.payload.to_vec()).unwrap();
                seen_tx.send((payload, here, there)).unwrap();
            }
        },
    ));
    producer.await.unwrap();
    handled.await.unwrap();
    let mut spans = HashSet::new();
    let mut count = 0;
    while let Ok((payload, here, there)) = seen_rx.try_recv() {
        let sent = &expected[&payload];
        assert_eq!(here.run_id(), sent.run_id());
        assert_eq!(here.trace_id(), sent.trace_id());
        assert_eq!(here.parent_span_id(), Some(sent.span_id()));
        assert_eq!(here, there);
        assert!(spans.insert(here.span_id()), "a span per message");
        count += 1;
    }
    assert_eq!(count, 5_000);
    assert!(tracectx::current().is_none());
}

#[cfg(feature = "logging")]
#[tokio::test(flavor = "current_thread")]
async fn handler_log_lines_are_stamped_with_the_messages_run() {
    use tracectx::logging::{self, FixedClock};

    let buf = support::Buffer::default();
    let subscriber = logging::builder()
        .with_writer(buf.clone())
        .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00.000000Z").unwrap())
        .build()
        .unwrap();
    let _guard = tracing::subscriber::set_default(subscriber);
    let publisher = TraceContext::new("live_eu").unwrap();
    let (msg, _) = published_from(&publisher, "fill 1");
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", "garbage");
    let bad = message(Some(headers), "fill 2");
    propagation::for_each_message(
        futures::stream::iter([msg, bad]),
        RunPolicy::TrustCaller,
        |msg| async move {
            let payload = String::from_utf8(msg.payload.to_vec()).unwrap();
            tracing::info!(target: "worker", "handled {payload}");
        },
    )
    .await;
    let lines = buf.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let short = publisher.trace_id().short();
    assert_eq!(
        lines[0],
        format!(
            "[2024-01-01T10:00:00.000000Z] [live_eu] [{}] INFO worker - handled fill 1",
            &*short
        )
    );
    assert!(lines[1].contains("] [message_"), "{}", lines[1]);
    assert!(
        !lines[1].contains(&*short),
        "a bad traceparent starts a new trace"
    );
}

#[test]
fn injecting_replaces_a_header_spelled_in_another_case() {
    let old = TraceContext::new("old_run").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "Traceparent",
        format!("00-{:x}-{}-01", old.trace_id(), old.span_id()).as_str(),
    );
    headers.insert("x-other", "kept");
    let ctx = TraceContext::new("new_run").unwrap();
    propagation::inject(&ctx, &mut headers);
    let back = propagation::extract(&headers).expect("one traceparent, the new one");
    assert_eq!(back.trace_id(), ctx.trace_id());
    assert_eq!(back.run_id(), "new_run");
    assert_eq!(headers.get("x-other").map(|v| v.as_str()), Some("kept"));
}

#[test]
fn injecting_a_context_without_state_empties_a_copied_tracestate() {
    // Headers copied from another message, re-published from a run with no tracestate.
    let mut headers = HeaderMap::new();
    headers.insert("tracestate", "rojo=00f067aa0ba902b7");
    propagation::inject(&TraceContext::new("live_eu").unwrap(), &mut headers);
    let states: Vec<&str> = propagation::Extractor::get_all(&headers, "tracestate").collect();
    assert_eq!(states, [""]);
    assert_eq!(propagation::extract(&headers).unwrap().trace_state(), None);
}
