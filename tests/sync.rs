//! `tracectx::sync`: channels whose values carry their sender's context, on real multi-thread
//! runtimes with many senders in many runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tracectx::prelude::*;
use tracectx::sync::mpsc::error::{TryRecvError, TrySendError};
use tracectx::sync::{mpsc, oneshot};
use tracectx::{Envelope, TraceId};

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

const SENDERS: usize = 1_000;
const PER_SENDER: usize = 5;

/// The context sender `i` runs in: none for every seventh, a run of its own for the others.
/// Spawns `work` on `set` in `context`; `None`: explicitly in none (spawned outside any scope).
fn spawn_in(
    set: &mut tokio::task::JoinSet<()>,
    context: &Option<TraceContext>,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) {
    match context {
        Some(c) => set.spawn(work.in_trace_context(c.clone())),
        None => set.spawn(work.in_current_trace_context()),
    };
}

fn sender_context(i: usize) -> Option<TraceContext> {
    (i % 7 != 0).then(|| ctx(&format!("sender_{i}")))
}

/// Checks one received envelope against the context its sender ran in, in the receiver's run.
fn check(env: Envelope<(usize, usize)>, contexts: &[Option<TraceContext>]) -> (usize, usize) {
    let (i, _) = *env.get_ref();
    match (&contexts[i], env.context()) {
        (None, None) => {}
        (Some(sent), Some(got)) => assert!(TraceContext::ptr_eq(sent, got), "sender {i}"),
        (sent, got) => panic!("sender {i}: sent in {sent:?}, received {got:?}"),
    }
    // Handled in a child of the sender's context (or in none), whatever the receiver's run.
    let handled = env.sync_scope(|msg| (msg, tracectx::current()));
    match (&contexts[i], &handled.1) {
        (None, None) => {}
        (Some(sent), Some(child)) => {
            assert_eq!(child.run_id(), sent.run_id());
            assert_eq!(child.trace_id(), sent.trace_id());
            assert_eq!(child.parent_span_id(), Some(sent.span_id()));
        }
        (sent, seen) => panic!("sender {i}: sent in {sent:?}, handled in {seen:?}"),
    }
    assert_eq!(tracectx::get_run_id().as_deref(), Some("receiver"));
    handled.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_senders_in_different_runs_into_one_channel() {
    let contexts: Arc<Vec<Option<TraceContext>>> =
        Arc::new((0..SENDERS).map(sender_context).collect());
    // A small buffer: senders wait for capacity, so sends interleave across runs and workers.
    let (tx, mut rx) = mpsc::channel::<(usize, usize)>(16);
    let receiver = {
        let contexts = contexts.clone();
        tokio::spawn(
            async move {
                let mut got = HashMap::<usize, Vec<usize>>::new();
                while let Some(env) = rx.recv().await {
                    let (i, k) = check(env, &contexts);
                    got.entry(i).or_default().push(k);
                }
                got
            }
            .in_trace_context(ctx("receiver")),
        )
    };
    let mut senders = tokio::task::JoinSet::new();
    for (i, context) in contexts.iter().enumerate() {
        let tx = tx.clone();
        let work = async move {
            for k in 0..PER_SENDER {
                match (i + k) % 3 {
                    0 => tx.send((i, k)).await.unwrap(),
                    1 => tx.reserve().await.unwrap().send((i, k)),
                    _ => {
                        // From a blocking thread, carried there by the crate's helper.
                        let tx = tx.clone();
                        tracectx::spawn_blocking_traced(move || tx.blocking_send((i, k)))
                            .await
                            .unwrap()
                            .unwrap()
                    }
                }
                if k % 2 == 0 {
                    tokio::time::sleep(Duration::from_micros((i % 20) as u64)).await;
                } else {
                    tokio::task::yield_now().await;
                }
            }
        };
        spawn_in(&mut senders, context, work);
    }
    drop(tx);
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    let got = receiver
        .await
        .expect("an envelope carried the wrong context");
    assert_eq!(got.len(), SENDERS);
    for (i, mut ks) in got {
        ks.sort_unstable();
        assert_eq!(ks, (0..PER_SENDER).collect::<Vec<_>>(), "sender {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_senders_into_one_unbounded_channel() {
    let contexts: Arc<Vec<Option<TraceContext>>> =
        Arc::new((0..SENDERS).map(sender_context).collect());
    let (tx, rx) = mpsc::unbounded_channel::<(usize, usize)>();
    let receiver = {
        let contexts = contexts.clone();
        tokio::spawn(
            async move {
                // The receiver as a stream of envelopes.
                rx.map(|env| check(env, &contexts))
                    .collect::<Vec<_>>()
                    .await
            }
            .in_trace_context(ctx("receiver")),
        )
    };
    let mut senders = tokio::task::JoinSet::new();
    for (i, context) in contexts.iter().enumerate() {
        let tx = tx.clone();
        let work = async move {
            for k in 0..PER_SENDER {
                tx.send((i, k)).unwrap();
                tokio::task::yield_now().await;
            }
        };
        spawn_in(&mut senders, context, work);
    }
    drop(tx);
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    let got = receiver
        .await
        .expect("an envelope carried the wrong context");
    assert_eq!(got.len(), SENDERS * PER_SENDER);
}

#[tokio::test(flavor = "current_thread")]
async fn send_captures_when_called_not_when_polled() {
    let (tx, mut rx) = mpsc::channel(1);
    let pending = ctx("caller").sync_scope(|| tx.send(1));
    pending.in_trace_context(ctx("poller")).await.unwrap();
    let env = rx.recv().await.unwrap();
    assert_eq!(env.context().unwrap().run_id(), "caller");
}

#[tokio::test(flavor = "current_thread")]
async fn errors_give_the_value_back_as_tokios_do() {
    let (tx, mut rx) = mpsc::channel::<String>(1);
    tx.try_send("first".into()).unwrap();
    match tx.try_send("second".into()) {
        Err(TrySendError::Full(v)) => assert_eq!(v, "second"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!((tx.capacity(), tx.max_capacity()), (0, 1));
    rx.close();
    match tx.try_send("third".into()) {
        Err(TrySendError::Closed(v)) => assert_eq!(v, "third"),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(tx.send("fourth".into()).await.unwrap_err().0, "fourth");
    assert!(tx.is_closed());
    // What was sent before closing is still there, then the end.
    assert_eq!(rx.recv().await.unwrap().into_inner(), "first");
    assert!(rx.recv().await.is_none());
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);

    let (tx, rx) = mpsc::unbounded_channel::<u8>();
    drop(rx);
    assert_eq!(tx.send(9).unwrap_err().0, 9);
}

#[tokio::test(flavor = "current_thread")]
async fn every_sender_dropped_ends_the_channel_and_clones_share_it() {
    let (tx, mut rx) = mpsc::channel::<u8>(4);
    let clone = tx.clone();
    assert!(tx.same_channel(&clone));
    clone.send(1).await.unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    drop(clone);
    assert_eq!(rx.recv().await.map(Envelope::into_inner), Some(1));
    assert!(rx.recv().await.is_none());
    assert!(rx.is_closed());
}

#[test]
fn a_zero_capacity_channel_panics_as_tokios_does() {
    let caught = std::panic::catch_unwind(|| mpsc::channel::<()>(0));
    assert!(caught.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_response_to_an_actor_replies_from_a_child_of_each_request() {
    type Request = (u32, oneshot::Sender<(u32, Option<TraceId>)>);
    let (tx, mut rx) = mpsc::channel::<Request>(32);
    let actor = tokio::spawn(
        async move {
            let mut handled = 0;
            while let Some(env) = rx.recv().await {
                env.scope(|(n, reply)| async move {
                    tokio::task::yield_now().await;
                    let trace = tracectx::current().map(|c| c.trace_id());
                    let _ = reply.send((n * 2, trace));
                })
                .await;
                // Between messages the actor is in its own run.
                assert_eq!(tracectx::get_run_id().as_deref(), Some("actor"));
                handled += 1;
            }
            handled
        }
        .in_trace_context(ctx("actor")),
    );
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..500u32 {
        let tx = tx.clone();
        let caller = ctx(&format!("request_{n}"));
        let span = caller.span_id();
        requests.spawn(
            async move {
                let (reply_tx, reply_rx) = oneshot::channel();
                tx.send((n, reply_tx)).await.unwrap();
                let reply = reply_rx.await.unwrap();
                // The requester stays in its own span while it waits.
                assert_eq!(tracectx::current().unwrap().span_id(), span);
                (reply, span)
            }
            .in_trace_context(caller),
        );
    }
    drop(tx);
    let mut replies = 0;
    while let Some(reply) = requests.join_next().await {
        let (reply, request_span) = reply.unwrap();
        let handler = reply
            .context()
            .expect("the reply was sent inside the handling")
            .clone();
        let (doubled, trace) = reply.into_inner();
        let n = doubled / 2;
        assert_eq!(handler.run_id(), format!("request_{n}").as_str());
        assert_eq!(Some(handler.trace_id()), trace);
        assert_eq!(handler.parent_span_id(), Some(request_span));
        replies += 1;
    }
    assert_eq!(replies, 500);
    assert_eq!(actor.await.unwrap(), 500);
}

#[tokio::test(flavor = "current_thread")]
async fn oneshot_mirrors_tokios_closing_and_errors() {
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert!(rx.await.is_err());

    let (tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));

    let (mut tx, rx) = oneshot::channel::<u8>();
    drop(rx);
    tx.closed().await;

    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(
        rx.try_recv().unwrap_err(),
        oneshot::error::TryRecvError::Empty
    );
    ctx("replier").sync_scope(|| tx.send(4)).unwrap();
    let env = rx.try_recv().unwrap();
    assert_eq!(env.context().unwrap().run_id(), "replier");
}

/// A message whose destructor reports the run it was dropped in, as an actor's request that
/// answers "cancelled" or logs when it is dropped unhandled.
struct Request {
    sender: usize,
    dropped: std::sync::mpsc::Sender<(usize, Option<String>)>,
}

impl Drop for Request {
    fn drop(&mut self) {
        let run = tracectx::get_run_id().map(|r| r.to_string());
        let _ = self.dropped.send((self.sender, run));
    }
}

/// Every report of `dropped`, checked against the run each sender ran in.
fn each_dropped_in_its_senders_run(
    dropped: std::sync::mpsc::Receiver<(usize, Option<String>)>,
    contexts: &[Option<TraceContext>],
) {
    let mut seen = vec![false; contexts.len()];
    for (i, run) in dropped.try_iter() {
        let sent = contexts[i].as_ref().map(|c| c.run_id().to_string());
        assert_eq!(
            run, sent,
            "the message of sender {i} was dropped in another run"
        );
        assert!(
            !std::mem::replace(&mut seen[i], true),
            "sender {i} dropped twice"
        );
    }
    assert!(seen.iter().all(|&s| s), "a message was never dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_a_dropped_receiver_never_took_drop_in_their_senders_runs() {
    let contexts: Vec<Option<TraceContext>> = (0..SENDERS).map(sender_context).collect();
    let (dropped_tx, dropped) = std::sync::mpsc::channel();
    let (tx, rx) = mpsc::channel::<Request>(SENDERS);
    let (utx, urx) = mpsc::unbounded_channel::<Request>();
    let mut senders = tokio::task::JoinSet::new();
    for (i, context) in contexts.iter().enumerate() {
        let (tx, utx, dropped) = (tx.clone(), utx.clone(), dropped_tx.clone());
        let work = async move {
            tokio::task::yield_now().await;
            let request = Request { sender: i, dropped };
            if i % 2 == 0 {
                tx.send(request).await.map_err(drop).unwrap();
            } else {
                utx.send(request).map_err(drop).unwrap();
            }
        };
        spawn_in(&mut senders, context, work);
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    drop(dropped_tx);
    // The actor stops, in a run of its own, with every request still queued.
    ctx("receiver").sync_scope(|| drop((rx, urx)));
    each_dropped_in_its_senders_run(dropped, &contexts);
    assert_eq!(tracectx::current(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_oneshot_value_never_received_drops_in_its_senders_run() {
    let contexts: Vec<Option<TraceContext>> = (0..SENDERS).map(sender_context).collect();
    let (dropped_tx, dropped) = std::sync::mpsc::channel();
    let mut receivers = Vec::new();
    let mut senders = tokio::task::JoinSet::new();
    for (i, context) in contexts.iter().enumerate() {
        let (tx, rx) = oneshot::channel::<Request>();
        receivers.push(rx);
        let dropped = dropped_tx.clone();
        let work = async move {
            tokio::task::yield_now().await;
            tx.send(Request { sender: i, dropped })
                .map_err(drop)
                .unwrap();
        };
        spawn_in(&mut senders, context, work);
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    drop(dropped_tx);
    // Each caller gave up on its reply, in the run of whoever holds the receivers.
    ctx("receiver").sync_scope(|| drop(receivers));
    each_dropped_in_its_senders_run(dropped, &contexts);
}
