//! `Envelope`: capturing the sender's context, handling in a child of it, and the parts.

use std::collections::HashSet;

use tracectx::prelude::*;
use tracectx::{Envelope, SpanId};

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

#[test]
fn capture_records_the_current_context_or_none() {
    let sender = ctx("sender");
    let env = sender.sync_scope(|| Envelope::capture(1));
    assert!(TraceContext::ptr_eq(env.context().unwrap(), &sender));
    assert_eq!(Envelope::capture(1).context(), None);
}

#[test]
fn sync_scope_runs_in_a_child_of_the_sender_and_restores_the_receiver() {
    let sender = ctx("sender");
    let receiver = ctx("receiver");
    let env = sender.sync_scope(|| Envelope::capture("msg"));
    let (msg, seen, after) = receiver.sync_scope(|| {
        let (msg, seen) = env.sync_scope(|msg| (msg, tracectx::current().unwrap()));
        (msg, seen, tracectx::current().unwrap())
    });
    assert_eq!(msg, "msg");
    assert_eq!(seen.run_id(), "sender");
    assert_eq!(seen.trace_id(), sender.trace_id());
    assert_eq!(seen.parent_span_id(), Some(sender.span_id()));
    assert_ne!(seen.span_id(), sender.span_id());
    assert!(TraceContext::ptr_eq(&after, &receiver));
}

#[test]
fn each_handling_is_a_span_of_its_own() {
    let sender = ctx("fan_out");
    let envs: Vec<_> = sender.sync_scope(|| (0..100).map(Envelope::capture).collect());
    let spans: HashSet<SpanId> = envs
        .into_iter()
        .map(|env| env.sync_scope(|_| tracectx::current().unwrap().span_id()))
        .collect();
    assert_eq!(spans.len(), 100);
}

#[test]
fn a_value_sent_outside_any_scope_is_handled_with_none_even_inside_the_receivers() {
    let env = Envelope::capture(7);
    let seen = ctx("receiver").sync_scope(|| env.sync_scope(|_| tracectx::current()));
    assert_eq!(seen, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_runs_the_call_and_every_poll_in_one_child() {
    let sender = ctx("async_sender");
    let env = sender.sync_scope(|| Envelope::capture(3));
    let (at_call, polls, after) = async {
        let at_call = std::cell::Cell::new(None);
        let polls = env
            .scope(|n| {
                at_call.set(tracectx::current().map(|c| c.span_id()));
                async move {
                    let mut spans = Vec::new();
                    for _ in 0..n {
                        tokio::task::yield_now().await;
                        spans.push(tracectx::current().unwrap());
                    }
                    spans
                }
            })
            .await;
        (at_call.get(), polls, tracectx::get_run_id())
    }
    .in_trace_context(ctx("actor"))
    .await;
    assert_eq!(after.as_deref(), Some("actor"));
    assert_eq!(polls.len(), 3);
    for c in &polls {
        assert_eq!(c.run_id(), "async_sender");
        assert_eq!(c.parent_span_id(), Some(sender.span_id()));
        assert_eq!(Some(c.span_id()), at_call);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn scope_of_a_value_sent_outside_any_scope_runs_with_none() {
    let env = Envelope::capture(());
    let seen = async { env.scope(|()| async { tracectx::current() }).await }
        .in_trace_context(ctx("actor"))
        .await;
    assert_eq!(seen, None);
}

#[test]
fn parts_map_and_clone_keep_the_context() {
    let sender = ctx("parts");
    let env = sender.sync_scope(|| Envelope::capture(vec![1, 2]));
    let copy = env.clone();
    let mapped = env.map(|v| v.len());
    assert_eq!(*mapped.get_ref(), 2);
    assert_eq!(mapped.context(), Some(&sender));
    let (value, context) = copy.into_parts();
    assert_eq!((value, context), (vec![1, 2], Some(sender.clone())));
    let mut explicit = Envelope::new(0, None);
    *explicit.get_mut() += 5;
    assert_eq!(explicit.context(), None);
    assert_eq!(explicit.into_inner(), 5);
}

#[test]
fn debug_shows_the_value_and_the_context() {
    let env = ctx("debugged").sync_scope(|| Envelope::capture("v"));
    let shown = format!("{env:?}");
    assert!(
        shown.starts_with("Envelope { value: \"v\", context: Some("),
        "{shown}"
    );
    assert!(shown.contains("debugged"), "{shown}");
}

/// A value that counts its drops and says in which run each happened.
struct Counted(std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>, bool);

impl Drop for Counted {
    fn drop(&mut self) {
        let run = tracectx::get_run_id().map(|r| r.to_string());
        self.0.lock().unwrap().push(run);
        if self.1 {
            panic!("a destructor that panics");
        }
    }
}

#[tokio::test]
async fn a_value_is_dropped_once_whether_taken_handled_or_left_in_its_envelope() {
    let drops = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sender = ctx("sender");
    let env = || sender.sync_scope(|| Envelope::capture(Counted(drops.clone(), false)));
    let dropper = ctx("dropper");
    dropper.sync_scope(|| {
        drop(env().into_inner());
        drop(env().into_parts());
        drop(env().map(|v| v));
        env().sync_scope(drop);
        drop(env());
    });
    env().scope(|v| async move { drop(v) }).await;
    let seen = drops.lock().unwrap().clone();
    let runs = |r: &str| Some(r.to_owned());
    // Taken out: dropped where the taker dropped it; handled: in the handler's child of the
    // sender; left in the envelope: in the sender's run. Once each, never twice.
    assert_eq!(
        seen,
        [
            runs("dropper"),
            runs("dropper"),
            runs("sender"),
            runs("sender"),
            runs("sender"),
            runs("sender"),
        ]
    );
}

#[test]
fn a_value_whose_destructor_panics_is_dropped_once_and_the_run_is_back() {
    let drops = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let env = ctx("sender").sync_scope(|| Envelope::capture(Counted(drops.clone(), true)));
    ctx("dropper").sync_scope(|| {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(env)));
        assert!(unwound.is_err());
        assert_eq!(tracectx::get_run_id().as_deref(), Some("dropper"));
    });
    assert_eq!(tracectx::current(), None);
    assert_eq!(*drops.lock().unwrap(), [Some("sender".to_owned())]);
}
