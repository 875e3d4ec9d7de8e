//! Streams and sinks in a context: every `poll_next`, every sink call and the drop run with
//! the wrapper's context, whichever task and worker poll them; per-item child spans.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt as _, Stream, StreamExt as _};
use tokio::sync::oneshot;
use tracectx::prelude::*;
use tracectx::{InTraceContext, SpanId};

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

fn run_id() -> Option<String> {
    tracectx::get_run_id().map(|r| r.to_string())
}

/// Sends the run id seen in its destructor.
struct DropProbe(Option<oneshot::Sender<Option<String>>>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(run_id());
        }
    }
}

/// Items of a [`producer`]: the item's index and the runs seen while making it.
type Produced = (u32, Vec<Option<String>>);
type Producer = Pin<Box<dyn Stream<Item = Produced> + Send>>;

/// A stream of `n` items, each made over a few awaits (so producing one takes several polls
/// and tasks migrate), each carrying the run seen at every await.
fn producer(n: u32, salt: u32) -> Producer {
    Box::pin(futures::stream::unfold(0u32, move |i| async move {
        if i == n {
            return None;
        }
        let mut seen = vec![run_id()];
        if (i + salt) % 4 == 0 {
            tokio::time::sleep(Duration::from_micros(u64::from((i + salt) % 30))).await;
        } else {
            tokio::task::yield_now().await;
        }
        seen.push(run_id());
        Some(((i, seen), i + 1))
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_streams_in_two_hundred_runs_each_item_sees_its_own() {
    const STREAMS: usize = 200;
    const ITEMS: u32 = 50;
    // 20 consumer tasks, each merging 10 streams of 10 different runs: one poll of a consumer
    // polls several runs' streams in turn, on whichever worker it is on.
    let mut consumers = tokio::task::JoinSet::new();
    for group in 0..20 {
        let streams: Vec<_> = (0..STREAMS / 20)
            .map(|k| {
                let s = group * (STREAMS / 20) + k;
                producer(ITEMS, s as u32)
                    .map(move |item| (s, item))
                    .in_trace_context(ctx(&format!("stream_{s}")))
            })
            .collect();
        let consumer_run = format!("consumer_{group}");
        consumers.spawn(
            async move {
                let mut merged = futures::stream::select_all(streams);
                let mut got = Vec::new();
                let mut threads = HashSet::new();
                while let Some((s, (i, seen))) = merged.next().await {
                    threads.insert(std::thread::current().id());
                    // The consumer itself stays in its own run between items.
                    assert_eq!(run_id().as_deref(), Some(consumer_run.as_str()));
                    got.push((s, i, seen));
                }
                (got, threads.len())
            }
            .in_trace_context(ctx(&format!("consumer_{group}"))),
        );
    }
    let mut items = 0;
    let mut per_stream = vec![0u32; STREAMS];
    let mut migrated = 0;
    while let Some(res) = consumers.join_next().await {
        let (got, threads) = res.expect("a consumer saw a run not its own");
        migrated += usize::from(threads > 1);
        for (s, i, seen) in got {
            let expected = format!("stream_{s}");
            for run in seen {
                assert_eq!(
                    run.as_deref(),
                    Some(expected.as_str()),
                    "stream {s} item {i}"
                );
            }
            assert_eq!(i, per_stream[s], "stream {s} out of order");
            per_stream[s] += 1;
            items += 1;
        }
    }
    assert_eq!(items, STREAMS * ITEMS as usize);
    assert!(per_stream.iter().all(|n| *n == ITEMS));
    assert!(migrated > 0, "no consumer ever changed worker");
    assert_eq!(run_id(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_dropped_half_read_reads_its_run_in_the_destructor() {
    let (tx, rx) = oneshot::channel();
    let probe = DropProbe(Some(tx));
    let mut stream = futures::stream::iter(0..10)
        .map(move |i| {
            let _keep = &probe;
            i
        })
        .in_trace_context(ctx("half_read"));
    let first_two = async {
        let a = stream.next().await;
        let b = stream.next().await;
        (a, b, run_id())
    }
    .in_trace_context(ctx("reader"))
    .await;
    assert_eq!(first_two, (Some(0), Some(1), Some("reader".to_owned())));
    drop(stream);
    assert_eq!(rx.await.unwrap().as_deref(), Some("half_read"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_made_outside_any_scope_stays_without_context() {
    let bare = futures::stream::iter(0..3)
        .map(|_| run_id())
        .in_current_trace_context();
    assert_eq!(bare.context(), None);
    let seen: Vec<_> = bare.collect().in_trace_context(ctx("elsewhere")).await;
    assert_eq!(seen, vec![None, None, None]);

    let captured = ctx("captured").sync_scope(|| {
        futures::stream::iter(0..3)
            .map(|_| run_id())
            .in_current_trace_context()
    });
    let seen: Vec<_> = captured.collect().in_trace_context(ctx("elsewhere")).await;
    assert_eq!(seen, vec![Some("captured".to_owned()); 3]);
}

/// What a [`Recorder`] saw: the call and the run current during it.
type Log = Arc<Mutex<Vec<(&'static str, Option<String>)>>>;

/// A sink (and, for `Duplex`, a stream) that records the run current in every call and in its
/// destructor; it reports ready after one `Pending` so every call can take two polls.
struct Recorder {
    log: Log,
    queue: VecDeque<u32>,
    ready: bool,
}

impl Recorder {
    fn new(log: Log) -> Self {
        Self {
            log,
            queue: VecDeque::new(),
            ready: false,
        }
    }

    fn note(&self, call: &'static str) {
        self.log.lock().unwrap().push((call, run_id()));
    }

    fn gate(&mut self, call: &'static str, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.note(call);
        let ready = self.ready;
        self.ready = !ready;
        if ready {
            Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.note("drop");
    }
}

impl futures::Sink<u32> for Recorder {
    type Error = String;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.gate("poll_ready", cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: u32) -> Result<(), String> {
        self.note("start_send");
        self.queue.push_back(item);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.gate("poll_flush", cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.gate("poll_close", cx)
    }
}

/// Both a stream and a sink, like a framed socket: what is sent comes back.
impl Stream for Recorder {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        self.note("poll_next");
        Poll::Ready(self.queue.pop_front())
    }
}

fn calls(log: &Log) -> HashSet<&'static str> {
    log.lock().unwrap().iter().map(|(call, _)| *call).collect()
}

fn runs(log: &Log) -> HashSet<Option<String>> {
    log.lock()
        .unwrap()
        .iter()
        .map(|(_, run)| run.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sink_call_and_the_drop_run_in_the_sinks_run() {
    let log = Log::default();
    let mut sink = Recorder::new(log.clone()).in_trace_context(ctx("writer"));
    let after = async {
        for i in 0..5 {
            sink.send(i).await.unwrap();
        }
        sink.close().await.unwrap();
        run_id()
    }
    .in_trace_context(ctx("caller"))
    .await;
    assert_eq!(after.as_deref(), Some("caller"));
    drop(sink);
    let expected: HashSet<_> = [
        "poll_ready",
        "start_send",
        "poll_flush",
        "poll_close",
        "drop",
    ]
    .into_iter()
    .collect();
    assert_eq!(calls(&log), expected);
    assert_eq!(runs(&log), HashSet::from([Some("writer".to_owned())]));
}

#[tokio::test(flavor = "multi_thread")]
async fn sink_dropped_mid_way_reads_its_run_in_the_destructor() {
    let log = Log::default();
    let mut sink = Recorder::new(log.clone()).in_trace_context(ctx("abandoned"));
    // Fed but never flushed or closed, then dropped (a cancelled writer task).
    sink.feed(1).in_trace_context(ctx("caller")).await.unwrap();
    drop(sink);
    let log = log.lock().unwrap();
    assert_eq!(log.last(), Some(&("drop", Some("abandoned".to_owned()))));
    assert!(
        log.iter()
            .all(|(_, run)| run.as_deref() == Some("abandoned"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_is_also_a_sink_gets_one_wrapper_that_is_both() {
    let log = Log::default();
    // `futures::StreamExt`, `futures::SinkExt` and the prelude are all in scope: the call is
    // not ambiguous, and the wrapper reads and writes in the context.
    let mut duplex: InTraceContext<Recorder> =
        Recorder::new(log.clone()).in_trace_context(ctx("duplex"));
    duplex.send(7).await.unwrap();
    assert_eq!(duplex.next().await, Some(7));
    drop(duplex);
    assert!(calls(&log).contains("poll_next"));
    assert!(calls(&log).contains("start_send"));
    assert_eq!(runs(&log), HashSet::from([Some("duplex".to_owned())]));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_item_gets_its_own_child_span_for_all_its_polls() {
    let session = ctx("live_session");
    let items: Vec<(SpanId, SpanId, Option<SpanId>, String)> = futures::stream::iter(0..100)
        .then(|_| async {
            let first = tracectx::current().expect("a child of the session");
            tokio::task::yield_now().await;
            let second = tracectx::current().expect("still the item's child");
            (
                first.span_id(),
                second.span_id(),
                first.parent_span_id(),
                first.run_id().to_string(),
            )
        })
        .in_trace_context_per_item(session.clone())
        .collect()
        .await;
    assert_eq!(items.len(), 100);
    let mut spans = HashSet::new();
    for (first, second, parent, run) in items {
        assert_eq!(first, second, "one item, one span across its polls");
        assert_eq!(parent, Some(session.span_id()));
        assert_eq!(run, "live_session");
        assert!(spans.insert(first), "two items shared a span");
    }
    assert!(!spans.contains(&session.span_id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_item_streams_in_many_runs_keep_their_runs_and_trace() {
    let mut set = tokio::task::JoinSet::new();
    for s in 0..200 {
        let parent = ctx(&format!("feed_{s}"));
        let trace = parent.trace_id();
        let stream = producer(20, s)
            .map(|(i, seen)| (i, seen, tracectx::current().map(|c| c.trace_id())))
            .in_trace_context_per_item(parent);
        set.spawn(async move { (s, trace, stream.collect::<Vec<_>>().await) });
    }
    while let Some(res) = set.join_next().await {
        let (s, trace, items) = res.unwrap();
        assert_eq!(items.len(), 20);
        let expected = format!("feed_{s}");
        for (_, seen, seen_trace) in items {
            assert!(seen.iter().all(|r| r.as_deref() == Some(expected.as_str())));
            assert_eq!(seen_trace, Some(trace));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_item_stream_dropped_mid_way_drops_in_the_parent_run() {
    let (tx, rx) = oneshot::channel();
    let probe = DropProbe(Some(tx));
    let mut stream = futures::stream::iter(0..10)
        .map(move |i| {
            let _keep = &probe;
            i
        })
        .in_trace_context_per_item(ctx("per_item_parent"));
    assert_eq!(stream.next().await, Some(0));
    drop(stream);
    assert_eq!(rx.await.unwrap().as_deref(), Some("per_item_parent"));
}

#[tokio::test(flavor = "current_thread")]
async fn per_item_made_outside_any_scope_runs_with_none() {
    let items = futures::stream::iter(0..3)
        .map(|_| run_id())
        .in_current_trace_context_per_item();
    let seen: Vec<_> = items.collect().in_trace_context(ctx("elsewhere")).await;
    assert_eq!(seen, vec![None, None, None]);
}

/// Every call of a [`SpanSink`] and its drop, with the context current during it.
type SpanLog = Arc<Mutex<Vec<(&'static str, Option<TraceContext>)>>>;

/// A sink that records, for every call and its drop, the context current during it.
struct SpanSink {
    log: SpanLog,
}

impl SpanSink {
    fn note(&self, call: &'static str) {
        self.log.lock().unwrap().push((call, tracectx::current()));
    }
}

impl Drop for SpanSink {
    fn drop(&mut self) {
        self.note("drop");
    }
}

impl futures::Sink<u32> for SpanSink {
    type Error = String;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.note("poll_ready");
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, _: u32) -> Result<(), String> {
        self.note("start_send");
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.note("poll_flush");
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        self.note("poll_close");
        Poll::Ready(Ok(()))
    }
}

/// 500 sinks in 500 runs on a multi-thread runtime, each sending 20 items from a task of
/// another run: every `start_send` runs in a span of its own, a child of its sink's context
/// (same run and trace), and readiness, flushing, closing and the drop in the context itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_item_sent_gets_its_own_child_span_in_its_sinks_run() {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..500u32 {
        set.spawn(
            async move {
                let log = SpanLog::default();
                let parent = ctx(&format!("orders_{i}"));
                let mut sink =
                    SpanSink { log: log.clone() }.in_trace_context_per_send(parent.clone());
                for item in 0..20 {
                    sink.send(item).await.unwrap();
                    tokio::task::yield_now().await;
                }
                sink.close().await.unwrap();
                assert_eq!(run_id(), Some(format!("sender_{i}")));
                drop(sink);
                let log = std::mem::take(&mut *log.lock().unwrap());
                (parent, log)
            }
            .in_trace_context(ctx(&format!("sender_{i}"))),
        );
    }
    let mut sinks = 0;
    while let Some(joined) = set.join_next().await {
        let (parent, log) = joined.unwrap();
        let mut item_spans = HashSet::new();
        for (call, seen) in &log {
            let seen = seen.as_ref().expect("every call has a context");
            assert_eq!(seen.run_id(), parent.run_id(), "{call}");
            assert_eq!(seen.trace_id(), parent.trace_id(), "{call}");
            if *call == "start_send" {
                assert_eq!(seen.parent_span_id(), Some(parent.span_id()));
                assert!(item_spans.insert(seen.span_id()), "a span reused");
            } else {
                assert_eq!(seen.span_id(), parent.span_id(), "{call}");
            }
        }
        assert_eq!(item_spans.len(), 20);
        assert_eq!(log.last().map(|(call, _)| *call), Some("drop"));
        sinks += 1;
    }
    assert_eq!(sinks, 500);
}

/// A stream that is also a sink takes either per-item method without ambiguity, and the
/// wrapper gives its writes a span each.
#[tokio::test(flavor = "current_thread")]
async fn a_duplex_sends_each_item_in_a_child_span() {
    let log = Log::default();
    let parent = ctx("duplex_items");
    let mut duplex = Recorder::new(log.clone()).in_trace_context_per_send(parent.clone());
    duplex.send(1).await.unwrap();
    assert_eq!(duplex.next().await, Some(1));
    drop(duplex);
    assert_eq!(runs(&log), HashSet::from([Some("duplex_items".to_owned())]));
}

#[test]
fn a_panic_in_a_stream_or_sink_restores_the_pollers_run_and_drops_in_its_own() {
    // Polled inside a task of run "poller": the wrapper's run while it runs, the poller's
    // again once the panic has unwound out of it, and the wrapper's for its drop.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for per_item in [false, true] {
        let (tx, dropped) = oneshot::channel();
        let probe = DropProbe(Some(tx));
        let items = futures::stream::iter(0..3).map(move |i| {
            let _keep = &probe;
            assert_eq!(run_id().as_deref(), Some("streamed"));
            assert!(i < 2, "item {i}");
            i
        });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(
                async {
                    let mut got = Vec::new();
                    let mut stream: Pin<Box<dyn Stream<Item = i32> + Send>> = if per_item {
                        Box::pin(items.in_trace_context_per_item(ctx("streamed")))
                    } else {
                        Box::pin(items.in_trace_context(ctx("streamed")))
                    };
                    loop {
                        let next = std::panic::AssertUnwindSafe(stream.next());
                        match futures::FutureExt::catch_unwind(next).await {
                            Ok(Some(i)) => got.push(i),
                            Ok(None) => unreachable!("the third item panics"),
                            Err(_) => break,
                        }
                    }
                    assert_eq!(run_id().as_deref(), Some("poller"));
                    drop(stream);
                    assert_eq!(run_id().as_deref(), Some("poller"));
                    got
                }
                .in_trace_context(ctx("poller")),
            )
        }));
        assert_eq!(caught.unwrap(), [0, 1], "per item: {per_item}");
        assert_eq!(
            dropped.blocking_recv().unwrap().as_deref(),
            Some("streamed")
        );
        assert_eq!(run_id(), None);
    }

    // A sink that panics in `start_send`: the panic reaches the sender as it would unwrapped.
    let sink = futures::sink::unfold((), |(), item: u32| async move {
        assert_eq!(run_id().as_deref(), Some("sunk"));
        assert!(item != 1, "sent {item}");
        Ok::<_, std::convert::Infallible>(())
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(
            async {
                let mut sink = Box::pin(sink.in_trace_context(ctx("sunk")));
                sink.send(0).await.unwrap();
                let sent =
                    futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(sink.send(1)))
                        .await;
                assert!(sent.is_err());
                run_id()
            }
            .in_trace_context(ctx("sender")),
        )
    }));
    assert_eq!(caught.unwrap().as_deref(), Some("sender"));
    assert_eq!(run_id(), None);
}

/// Sends the span current in its destructor.
struct SpanProbe(
    std::sync::mpsc::Sender<(&'static str, Option<SpanId>)>,
    &'static str,
);

impl Drop for SpanProbe {
    fn drop(&mut self) {
        let span = tracectx::current().map(|c| c.span_id());
        let _ = self.0.send((self.1, span));
    }
}

/// Per item, a stream dropped while an item is in progress is dropped in that item's own span
/// (the one its polls ran in), and one dropped between items in the parent's span; on the
/// workers of a multi-thread runtime, in 500 streams of 500 runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_item_stream_dropped_mid_item_drops_the_item_in_its_own_span() {
    let mut set = tokio::task::JoinSet::new();
    for s in 0..500 {
        set.spawn(async move {
            let parent = ctx(&format!("feed_{s}"));
            let (tx, rx) = std::sync::mpsc::channel();
            let held = SpanProbe(tx.clone(), "held between items");
            let mut stream = Box::pin(
                futures::stream::iter(0..3)
                    .then(move |i| {
                        let tx = tx.clone();
                        async move {
                            let started = tracectx::current().map(|c| c.span_id());
                            let _in_progress = SpanProbe(tx.clone(), "in progress");
                            tokio::task::yield_now().await;
                            if i == 1 {
                                tx.send(("started", started)).unwrap();
                                std::future::pending::<()>().await;
                            }
                            i
                        }
                    })
                    .map(move |i| {
                        let _keep = &held;
                        i
                    })
                    .in_trace_context_per_item(parent.clone()),
            );
            assert_eq!(stream.next().await, Some(0));
            // Item 1 starts, then stays pending: the stream is dropped with it in progress.
            let mut next = stream.next();
            for _ in 0..2 {
                assert!(futures::poll!(&mut next).is_pending(), "item 1 never ends");
            }
            drop(next);
            drop(stream);
            let seen: Vec<_> = rx.try_iter().collect();

            let (tx, between) = std::sync::mpsc::channel();
            let held = SpanProbe(tx, "held between items");
            let mut stream = futures::stream::iter(0..3)
                .map(move |i| {
                    let _keep = &held;
                    i
                })
                .in_trace_context_per_item(parent.clone());
            assert_eq!(stream.next().await, Some(0));
            drop(stream);
            let between = between.try_iter().collect::<Vec<_>>();
            (parent, seen, between)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (parent, seen, between) = joined.unwrap();
        let span_of = |what: &str| -> Vec<Option<SpanId>> {
            seen.iter()
                .filter(|(w, _)| *w == what)
                .map(|(_, span)| *span)
                .collect()
        };
        let started = span_of("started");
        let in_progress = span_of("in progress");
        // Item 0's probe dropped as it completed, item 1's when the stream was dropped.
        assert_eq!(in_progress.len(), 2, "{seen:?}");
        assert_eq!(started.len(), 1, "{seen:?}");
        assert_eq!(in_progress[1], started[0], "item 1 dropped in its own span");
        assert_ne!(in_progress[0], in_progress[1], "two items, two spans");
        assert!(
            in_progress
                .iter()
                .all(|span| span.is_some() && *span != Some(parent.span_id()))
        );
        // The whole stream went with item 1, in its span.
        assert_eq!(span_of("held between items"), started);
        assert_eq!(between, [("held between items", Some(parent.span_id()))]);
    }
}

/// Yields an item, an error, the end, and then (as a stream that is not fused may) more
/// errors, each carrying the run it was made in.
struct PastTheEnd(u32);

impl Stream for PastTheEnd {
    type Item = Result<Option<String>, Option<String>>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0 += 1;
        Poll::Ready(match self.0 {
            1 => Some(Ok(run_id())),
            3 => None,
            _ => Some(Err(run_id())),
        })
    }
}

/// A stream polled past an error and past its end, and a sink sent to past its close, behave
/// as the bare ones (the wrappers neither fuse nor swallow), and every call still runs in the
/// wrapper's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_their_end_and_sinks_past_their_close_keep_their_run() {
    let run = || Some("past".to_owned());
    for per_item in [false, true] {
        let mut stream: Pin<Box<dyn Stream<Item = _> + Send>> = if per_item {
            Box::pin(PastTheEnd(0).in_trace_context_per_item(ctx("past")))
        } else {
            Box::pin(PastTheEnd(0).in_trace_context(ctx("past")))
        };
        assert_eq!(stream.next().await, Some(Ok(run())));
        assert_eq!(stream.next().await, Some(Err(run())));
        assert_eq!(stream.next().await, None);
        assert_eq!(
            stream.next().await,
            Some(Err(run())),
            "per item: {per_item}"
        );
        assert_eq!(
            stream.next().await,
            Some(Err(run())),
            "per item: {per_item}"
        );
    }

    let (tx, mut rx) = futures::channel::mpsc::unbounded::<Option<String>>();
    let mut sink = Box::pin(
        tx.with(|()| std::future::ready(Ok::<_, futures::channel::mpsc::SendError>(run_id())))
            .in_trace_context(ctx("past")),
    );
    sink.send(()).await.unwrap();
    sink.close().await.unwrap();
    assert!(sink.send(()).await.unwrap_err().is_disconnected());
    assert!(
        sink.close().await.is_ok(),
        "closing twice is the bare sink's answer"
    );
    drop(sink);
    assert_eq!(rx.next().await, Some(run()));
    assert_eq!(rx.next().await, None);
    assert_eq!(run_id(), None);
}
