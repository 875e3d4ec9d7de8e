//! `in_trace_context` across `.await`: migration, nesting, join/select, cancellation, panics.

use std::time::Duration;

use tokio::sync::oneshot;
use tracectx::prelude::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_tasks_never_see_another_run() {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10_000u32 {
        let expected = format!("task_{i}");
        let ctx = ctx(&expected);
        let own_trace = ctx.trace_id().short().to_string();
        set.spawn(
            async move {
                let mut threads = std::collections::HashSet::new();
                for step in 0..20u32 {
                    if (i + step) % 3 == 0 {
                        tokio::time::sleep(Duration::from_micros(u64::from(i % 50))).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                    threads.insert(std::thread::current().id());
                    let seen = tracectx::get_run_id();
                    assert_eq!(seen.as_deref(), Some(expected.as_str()), "step {step}");
                    let short = tracectx::get_trace_id().unwrap();
                    assert_eq!(&*short, own_trace.as_str(), "step {step}");
                }
                (i, threads.len())
            }
            .in_trace_context(ctx),
        );
    }
    let mut done = vec![false; 10_000];
    let mut migrated = 0;
    while let Some(res) = set.join_next().await {
        let (i, threads) = res.expect("a task saw another run's id");
        assert!(
            !std::mem::replace(&mut done[i as usize], true),
            "task {i} twice"
        );
        migrated += usize::from(threads > 1);
    }
    assert!(done.iter().all(|d| *d));
    // The point of the test: tasks moved between workers while holding their context.
    assert!(migrated > 0, "no task ever ran on a second worker");
    assert!(tracectx::current().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_survives_worker_migration() {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..200 {
        let name = format!("migrant_{t}");
        set.spawn(
            async move {
                let mut threads = std::collections::HashSet::new();
                let mut ok = true;
                for _ in 0..100 {
                    threads.insert(std::thread::current().id());
                    ok &= run_id().as_deref() == Some(name.as_str());
                    tokio::time::sleep(Duration::from_micros(10)).await;
                }
                (ok, threads.len())
            }
            .in_trace_context(ctx(&format!("migrant_{t}"))),
        );
    }
    let mut moved = 0;
    while let Some(res) = set.join_next().await {
        let (ok, threads) = res.unwrap();
        assert!(ok, "a migrant saw another run's id");
        moved += usize::from(threads > 1);
    }
    assert!(moved > 0, "no task ever changed worker");
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_scopes_inner_wins_then_outer_is_back() {
    async {
        assert_eq!(run_id().as_deref(), Some("outer"));
        async {
            tokio::task::yield_now().await;
            assert_eq!(run_id().as_deref(), Some("inner"));
        }
        .in_trace_context(ctx("inner"))
        .await;
        assert_eq!(run_id().as_deref(), Some("outer"));
    }
    .in_trace_context(ctx("outer"))
    .await;
    assert_eq!(run_id(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn join_of_differently_scoped_futures_each_see_their_own() {
    let probe = |name: &'static str| {
        async move {
            let mut seen = Vec::new();
            for _ in 0..10 {
                seen.push(run_id());
                tokio::task::yield_now().await;
            }
            seen.into_iter().all(|s| s.as_deref() == Some(name))
        }
        .in_trace_context(ctx(name))
    };
    let outer = async { tokio::join!(probe("left"), probe("right"), async { run_id() }) }
        .in_trace_context(ctx("parent"));
    let (left, right, bare) = outer.await;
    assert!(left && right);
    assert_eq!(bare.as_deref(), Some("parent"));
}

#[tokio::test(flavor = "multi_thread")]
async fn select_branches_each_see_their_own() {
    let (loser_tx, loser_rx) = oneshot::channel();
    let slow = async {
        let _ = loser_tx.send(run_id());
        tokio::time::sleep(Duration::from_secs(10)).await;
        run_id()
    }
    .in_trace_context(ctx("slow"));
    let fast = async {
        tokio::task::yield_now().await;
        run_id()
    }
    .in_trace_context(ctx("fast"));
    let winner = tokio::select! {
        s = slow => s,
        f = fast => f,
    };
    assert_eq!(winner.as_deref(), Some("fast"));
    // select! polls every branch at least once: the loser saw its own context too.
    assert_eq!(loser_rx.await.unwrap().as_deref(), Some("slow"));
}

#[tokio::test(flavor = "multi_thread")]
async fn context_set_while_future_dropped_on_timeout() {
    let (tx, rx) = oneshot::channel();
    let fut = async move {
        let _probe = DropProbe(Some(tx));
        std::future::pending::<()>().await;
    }
    .in_trace_context(ctx("timed_out"));
    let (res, after) = async {
        let res = tokio::time::timeout(Duration::from_millis(5), fut).await;
        (res, run_id())
    }
    .in_trace_context(ctx("caller"))
    .await;
    assert!(res.is_err());
    assert_eq!(after.as_deref(), Some("caller"));
    assert_eq!(rx.await.unwrap().as_deref(), Some("timed_out"));
    assert_eq!(run_id(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_set_while_future_dropped_in_select_and_caller_intact() {
    let (tx, rx) = oneshot::channel();
    async {
        let loser = async move {
            let _probe = DropProbe(Some(tx));
            std::future::pending::<()>().await;
        }
        .in_trace_context(ctx("loser"));
        tokio::select! {
            _ = loser => unreachable!(),
            _ = tokio::task::yield_now() => {}
        }
        assert_eq!(run_id().as_deref(), Some("caller"));
    }
    .in_trace_context(ctx("caller"))
    .await;
    assert_eq!(rx.await.unwrap().as_deref(), Some("loser"));
}

#[tokio::test(flavor = "multi_thread")]
async fn context_set_while_future_dropped_on_abort() {
    let (tx, rx) = oneshot::channel();
    let (started_tx, started_rx) = oneshot::channel();
    let handle = tokio::spawn(
        async move {
            let _probe = DropProbe(Some(tx));
            let _ = started_tx.send(());
            std::future::pending::<()>().await;
        }
        .in_trace_context(ctx("aborted")),
    );
    let after = async {
        started_rx.await.unwrap();
        handle.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
        run_id()
    }
    .in_trace_context(ctx("caller"))
    .await;
    assert_eq!(after.as_deref(), Some("caller"));
    assert_eq!(rx.await.unwrap().as_deref(), Some("aborted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn never_polled_future_drops_in_its_context() {
    let (tx, rx) = oneshot::channel();
    let probe = DropProbe(Some(tx));
    let fut = async move {
        let _probe = probe;
    }
    .in_trace_context(ctx("never_polled"));
    drop(fut);
    assert_eq!(rx.await.unwrap().as_deref(), Some("never_polled"));
}

/// A future of run B dropped inside a `with_current` closure of run A: its destructor runs in
/// B (it ran in A: the slot was lent to the closure, so the scope could not be entered), and A
/// is current again after. Thousands of runs at once on a multi-thread runtime, each dropping
/// its partner's future while it runs and yields.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn future_dropped_inside_with_current_runs_its_destructor_in_its_own_run() {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..2_000u32 {
        set.spawn(
            async move {
                let (tx, rx) = oneshot::channel();
                let probe = DropProbe(Some(tx));
                let theirs = async move {
                    let _probe = probe;
                    std::future::pending::<()>().await;
                }
                .in_trace_context(ctx(&format!("b_{i}")));
                tokio::task::yield_now().await;
                // Also polled once first, so it holds its probe across an await.
                let mut theirs = Box::pin(theirs);
                assert!(futures::poll!(theirs.as_mut()).is_pending());
                let lender = tracectx::with_current(|c| {
                    let lender = c.map(|c| c.run_id().to_string());
                    drop(theirs);
                    lender
                });
                tokio::task::yield_now().await;
                (i, lender, rx.await.unwrap(), run_id())
            }
            .in_trace_context(ctx(&format!("a_{i}"))),
        );
    }
    let mut seen = 0;
    while let Some(res) = set.join_next().await {
        let (i, lender, dropped_in, after) = res.unwrap();
        assert_eq!(lender.as_deref(), Some(format!("a_{i}").as_str()));
        assert_eq!(dropped_in, Some(format!("b_{i}")), "run {i}");
        assert_eq!(after, Some(format!("a_{i}")), "run {i}");
        seen += 1;
    }
    assert_eq!(seen, 2_000);
}

/// Inside a `with_current` closure, another run's future is polled to the end in its own run:
/// entering its scope used to panic there.
#[test]
fn a_future_polled_inside_with_current_runs_in_its_own_run() {
    let (seen, lender) = ctx("lender").sync_scope(|| {
        tracectx::with_current(|c| {
            let seen = futures::executor::block_on(
                async {
                    tokio::task::yield_now().await;
                    run_id()
                }
                .in_trace_context(ctx("borrower")),
            );
            (seen, c.map(|c| c.run_id().to_string()))
        })
    });
    assert_eq!(seen.as_deref(), Some("borrower"));
    assert_eq!(lender.as_deref(), Some("lender"));
}

#[tokio::test(flavor = "multi_thread")]
async fn async_panic_is_caught_by_join_handle_and_leaves_no_context() {
    let handle = tokio::spawn(
        async {
            tokio::task::yield_now().await;
            panic!("strategy blew up");
        }
        .in_trace_context(ctx("panicking")),
    );
    assert!(handle.await.unwrap_err().is_panic());
    // Every worker thread is clean afterwards: many plain tasks see nothing.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..256 {
        set.spawn(async {
            tokio::task::yield_now().await;
            run_id()
        });
    }
    while let Some(seen) = set.join_next().await {
        assert_eq!(seen.unwrap(), None);
    }
}

#[test]
fn panic_in_poll_on_current_thread_leaves_no_context() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { panic!("boom") }.in_trace_context(ctx("gone")))
    }));
    assert!(caught.is_err());
    assert_eq!(run_id(), None);
    assert_eq!(rt.block_on(async { run_id() }), None);
}

#[tokio::test(flavor = "current_thread")]
// The async blocks are the point: the captured future is awaited inside another scope.
#[allow(clippy::redundant_async_block)]
async fn in_current_trace_context_captures_when_made() {
    let fut = ctx("captured").sync_scope(|| async { run_id() }.in_current_trace_context());
    let seen = fut.in_trace_context(ctx("elsewhere")).await;
    assert_eq!(seen.as_deref(), Some("captured"));

    // Made outside any scope: explicitly none, even when awaited inside another scope.
    let bare = async { run_id() }.in_current_trace_context();
    let seen = bare.in_trace_context(ctx("elsewhere")).await;
    assert_eq!(seen, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn block_in_place_keeps_the_run_before_inside_and_after() {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let run = format!("run_{i}");
        set.spawn(
            async move {
                tokio::task::yield_now().await;
                // The worker hands its core to another thread; this task goes on here.
                let inside = tokio::task::block_in_place(|| {
                    std::thread::yield_now();
                    run_id()
                });
                tokio::time::sleep(Duration::from_micros(i % 50)).await;
                (run, inside, run_id())
            }
            .in_trace_context(ctx(&format!("run_{i}"))),
        );
    }
    while let Some(done) = set.join_next().await {
        let (run, inside, after) = done.unwrap();
        assert_eq!(
            (inside.as_deref(), after.as_deref()),
            (Some(&*run), Some(&*run))
        );
    }
    assert_eq!(run_id(), None);
}

#[test]
fn a_future_made_on_one_runtime_keeps_its_run_when_another_polls_it() {
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Made and half-run on the first runtime, in runs of their own.
    let futures: Vec<_> = (0..100)
        .map(|i| {
            let (tx, rx) = oneshot::channel::<()>();
            let fut = async move {
                let before = run_id();
                let _ = rx.await;
                tokio::time::sleep(Duration::from_micros(10)).await;
                (i, before, run_id())
            }
            .in_trace_context(ctx(&format!("run_{i}")));
            (tx, fut)
        })
        .collect();
    let (senders, futures): (Vec<_>, Vec<_>) = futures.into_iter().unzip();
    let futures = first.block_on(async move {
        let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
        for fut in &mut futures {
            assert!(futures::poll!(fut.as_mut()).is_pending());
        }
        futures
    });
    drop(senders);
    // Finished on a current-thread runtime of another thread, inside another run's scope.
    let seen = std::thread::spawn(move || {
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        ctx("driver").sync_scope(|| second.block_on(futures::future::join_all(futures)))
    })
    .join()
    .unwrap();
    for (i, before, after) in seen {
        let run = Some(format!("run_{i}"));
        assert_eq!((before, after), (run.clone(), run));
    }
}

/// Panics in a destructor, after reporting the run it was dropped in.
struct PanicsOnDrop(std::sync::mpsc::Sender<Option<String>>);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(run_id());
        panic!("destructor of a wrapped future");
    }
}

/// What a hostile task does inside its run, checking its run after each step: a nested scope
/// unwound and caught, a wrapped future whose destructor panics dropped mid-way and caught, a
/// pending wrapper leaked with `mem::forget`, a completed wrapper polled again and caught, and
/// a `block_on` of another run's future inside a `sync_scope`.
async fn hostile_steps(i: usize) -> Result<(), String> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    let own = format!("task_{i}");
    let check = |step: &str| match run_id() {
        Some(run) if run == own => Ok(()),
        other => Err(format!("task {i} after {step}: {other:?}")),
    };

    let unwound = catch_unwind(|| ctx(&format!("nested_{i}")).sync_scope(|| panic!("nested")));
    assert!(unwound.is_err());
    check("a nested scope unwound")?;
    tokio::task::yield_now().await;

    let (tx, rx) = std::sync::mpsc::channel();
    let guard = PanicsOnDrop(tx);
    let mut doomed = Box::pin(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        }
        .in_trace_context(ctx(&format!("doomed_{i}"))),
    );
    assert!(poll_once(doomed.as_mut()).is_pending());
    assert!(catch_unwind(AssertUnwindSafe(|| drop(doomed))).is_err());
    let dropped_in = rx.recv().unwrap();
    if dropped_in != Some(format!("doomed_{i}")) {
        return Err(format!("task {i}: destructor ran in {dropped_in:?}"));
    }
    check("a panicking destructor")?;
    tokio::task::yield_now().await;

    let mut leaked =
        Box::pin(std::future::pending::<()>().in_trace_context(ctx(&format!("leaked_{i}"))));
    assert!(poll_once(leaked.as_mut()).is_pending());
    std::mem::forget(leaked);
    check("a forgotten wrapper")?;
    tokio::task::yield_now().await;

    let mut done = Box::pin(async { run_id() }.in_trace_context(ctx(&format!("done_{i}"))));
    assert_eq!(
        poll_once(done.as_mut()),
        Poll::Ready(Some(format!("done_{i}")))
    );
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(done.as_mut()))).is_err());
    check("a poll after completion")?;
    tokio::task::yield_now().await;

    let other = async { run_id() }.in_trace_context(ctx(&format!("other_{i}")));
    let (inside, polled) =
        ctx(&format!("blocking_{i}")).sync_scope(|| (run_id(), futures::executor::block_on(other)));
    if (inside, polled) != (Some(format!("blocking_{i}")), Some(format!("other_{i}"))) {
        return Err(format!("task {i}: block_on inside a scope mixed runs"));
    }
    check("a block_on inside a scope")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_hostile_tasks_each_keep_their_run_and_leave_none_behind() {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..3_000 {
        set.spawn(hostile_steps(i).in_trace_context(ctx(&format!("task_{i}"))));
        // Plain tasks on the same workers: they must never see what a hostile one left.
        set.spawn(async move {
            tokio::task::yield_now().await;
            match run_id() {
                None => Ok(()),
                Some(run) => Err(format!("a plain task saw {run}")),
            }
        });
    }
    let mut n = 0;
    while let Some(joined) = set.join_next().await {
        joined.unwrap().unwrap();
        n += 1;
    }
    assert_eq!(n, 6_000);
    assert_eq!(run_id(), None);
}
