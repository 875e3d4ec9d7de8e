//! Spawning: tasks, blocking tasks, local tasks, JoinSet and threads carry the caller's ids.

use tokio::task::{JoinSet, LocalSet};
use tracectx::prelude::*;
use tracectx::{ShortTraceId, SpanId};

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

type Seen = Option<(String, ShortTraceId, SpanId)>;

fn seen() -> Seen {
    tracectx::current().map(|c| (c.run_id().to_string(), c.trace_id().short(), c.span_id()))
}

fn expected(ctx: &TraceContext) -> Seen {
    Some((
        ctx.run_id().to_string(),
        ctx.trace_id().short(),
        ctx.span_id(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn spawn_traced_sees_the_callers_ids_and_plain_spawn_none() {
    let parent = ctx("spawner");
    let (traced, plain) = async {
        let traced = tracectx::spawn_traced(async {
            tokio::task::yield_now().await;
            seen()
        });
        let plain = tokio::spawn(async { seen() });
        (traced.await.unwrap(), plain.await.unwrap())
    }
    .in_trace_context(parent.clone())
    .await;
    assert_eq!(traced, expected(&parent));
    assert_eq!(plain, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn spawn_traced_outside_a_scope_is_plain() {
    assert_eq!(
        tracectx::spawn_traced(async { seen() }).await.unwrap(),
        None
    );
    assert_eq!(tracectx::spawn_blocking_traced(seen).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn spawn_blocking_traced_sees_the_callers_ids() {
    let parent = ctx("blocking");
    let (traced, plain) = async {
        let traced = tracectx::spawn_blocking_traced(seen);
        let plain = tokio::task::spawn_blocking(seen);
        (traced.await.unwrap(), plain.await.unwrap())
    }
    .in_trace_context(parent.clone())
    .await;
    assert_eq!(traced, expected(&parent));
    assert_eq!(plain, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn join_set_spawn_traced_sees_the_callers_ids() {
    let parent = ctx("join_set");
    let mut set = JoinSet::new();
    async {
        for _ in 0..100 {
            set.spawn_traced(async {
                tokio::task::yield_now().await;
                seen()
            });
        }
        set.spawn(async { seen() });
    }
    .in_trace_context(parent.clone())
    .await;
    let (mut traced, mut plain) = (0, 0);
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            None => plain += 1,
            s => {
                assert_eq!(s, expected(&parent));
                traced += 1;
            }
        }
    }
    assert_eq!((traced, plain), (100, 1));
}

/// A `JoinSet`'s blocking jobs and local tasks: 2,000 of each, in 2,000 runs, on four workers
/// and the blocking pool, each sees its own run; plain ones beside them see none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_set_blocking_and_local_spawns_keep_their_own_runs() {
    const RUNS: usize = 2_000;
    let mut blocking = JoinSet::new();
    for r in 0..RUNS {
        let run = format!("blocking_{r}");
        ctx(&run).sync_scope(|| {
            blocking.spawn_blocking_traced(move || {
                std::thread::yield_now();
                (Some(run), tracectx::get_run_id().map(|r| r.to_string()))
            })
        });
        blocking.spawn_blocking(|| (None, tracectx::get_run_id().map(|r| r.to_string())));
    }
    let mut n = 0;
    while let Some(done) = blocking.join_next().await {
        let (want, got) = done.unwrap();
        assert_eq!(got, want);
        n += 1;
    }
    assert_eq!(n, 2 * RUNS);

    let local = LocalSet::new();
    let seen = local
        .run_until(async {
            let mut set = JoinSet::new();
            for r in 0..RUNS {
                let run = format!("local_{r}");
                let rc = std::rc::Rc::new(run.clone()); // !Send
                ctx(&run).sync_scope(|| {
                    set.spawn_local_traced(async move {
                        tokio::task::yield_now().await;
                        (
                            Some(rc.to_string()),
                            tracectx::get_run_id().map(|r| r.to_string()),
                        )
                    })
                });
                set.spawn_local(async { (None, tracectx::get_run_id().map(|r| r.to_string())) });
            }
            let mut seen = Vec::new();
            while let Some(done) = set.join_next().await {
                seen.push(done.unwrap());
            }
            seen
        })
        .await;
    assert_eq!(seen.len(), 2 * RUNS);
    for (want, got) in seen {
        assert_eq!(got, want);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn spawn_local_traced_sees_the_callers_ids() {
    let parent = ctx("local");
    let local = LocalSet::new();
    let p = parent.clone();
    let (traced, plain) = local
        .run_until(async move {
            async {
                let rc = std::rc::Rc::new(1);
                let traced = tracectx::spawn_local_traced(async move {
                    tokio::task::yield_now().await;
                    let _keep = rc;
                    seen()
                });
                let plain = tokio::task::spawn_local(async { seen() });
                (traced.await.unwrap(), plain.await.unwrap())
            }
            .in_trace_context(p)
            .await
        })
        .await;
    assert_eq!(traced, expected(&parent));
    assert_eq!(plain, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn thread_helpers_see_the_callers_ids() {
    let parent = ctx("threaded");
    let (traced, named, plain) = parent.sync_scope(|| {
        let traced = tracectx::thread::spawn(seen);
        let named =
            tracectx::thread::spawn_with(std::thread::Builder::new().name("named".into()), || {
                (seen(), std::thread::current().name().map(String::from))
            })
            .unwrap();
        let plain = std::thread::spawn(seen);
        (
            traced.join().unwrap(),
            named.join().unwrap(),
            plain.join().unwrap(),
        )
    });
    assert_eq!(traced, expected(&parent));
    assert_eq!(named.0, expected(&parent));
    assert_eq!(named.1.as_deref(), Some("named"));
    assert_eq!(plain, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_traced_spawns_keep_their_own_runs() {
    let mut outer = JoinSet::new();
    for i in 0..2_000u32 {
        let name = format!("parent_{i}");
        outer.spawn(
            async move {
                let task = tracectx::spawn_traced(async {
                    tokio::task::yield_now().await;
                    tracectx::get_run_id()
                });
                let blocking = tracectx::spawn_blocking_traced(tracectx::get_run_id);
                let thread = if i % 100 == 0 {
                    tracectx::thread::spawn(tracectx::get_run_id)
                        .join()
                        .unwrap()
                } else {
                    tracectx::get_run_id()
                };
                let task = task.await.unwrap();
                let blocking = blocking.await.unwrap();
                for s in [task, blocking, thread] {
                    assert_eq!(s.as_deref(), Some(name.as_str()));
                }
            }
            .in_trace_context(ctx(&format!("parent_{i}"))),
        );
    }
    let mut n = 0;
    while let Some(r) = outer.join_next().await {
        r.expect("a spawned task saw another run");
        n += 1;
    }
    assert_eq!(n, 2_000);
}

/// The phase the driver is in ("A", "B", "after"), shared with the tasks it drives.
type Phase = std::sync::Arc<std::sync::Mutex<&'static str>>;

/// Reads `(phase, run id)` at four points, yielding between them so the task is polled four
/// times, by whatever drives it.
async fn four_reads(phase: Phase) -> Vec<(&'static str, Option<String>)> {
    let mut seen = Vec::new();
    for _ in 0..4 {
        let now = *phase.lock().unwrap();
        seen.push((now, tracectx::get_run_id().map(|r| r.to_string())));
        tokio::task::yield_now().await;
    }
    seen
}

/// Some reads happened while the driver was inside run A and some inside run B.
fn polled_in_both_runs(seen: &[(&'static str, Option<String>)]) -> bool {
    seen.iter().any(|(p, _)| *p == "A") && seen.iter().any(|(p, _)| *p == "B")
}

/// Plain tasks see the driver's scope: the pitfall the helpers avoid.
fn saw_the_drivers_runs(seen: &[(&'static str, Option<String>)]) -> bool {
    seen.iter().all(|(p, run)| match *p {
        "A" => run.as_deref() == Some("run_A"),
        "B" => run.as_deref() == Some("run_B"),
        _ => run.is_none(),
    })
}

async fn drive_a_little() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn local_tasks_spawned_outside_a_scope_never_borrow_the_drivers_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = LocalSet::new();
    let phase = Phase::default();
    *phase.lock().unwrap() = "before";
    // Spawned outside any scope; the LocalSet is then driven inside run_A, then run_B.
    let (traced, plain) = {
        let _in_local_set = local.enter();
        (
            tracectx::spawn_local_traced(four_reads(phase.clone())),
            tokio::task::spawn_local(four_reads(phase.clone())),
        )
    };
    rt.block_on(async {
        for (name, run) in [("A", "run_A"), ("B", "run_B")] {
            *phase.lock().unwrap() = name;
            local
                .run_until(drive_a_little())
                .in_trace_context(ctx(run))
                .await;
        }
        *phase.lock().unwrap() = "after";
        local.await;
    });
    let traced = rt.block_on(traced).unwrap();
    assert!(polled_in_both_runs(&traced), "{traced:?}");
    assert!(traced.iter().all(|(_, run)| run.is_none()), "{traced:?}");
    let plain = rt.block_on(plain).unwrap();
    assert!(polled_in_both_runs(&plain), "{plain:?}");
    assert!(saw_the_drivers_runs(&plain), "{plain:?}");
}

#[test]
fn tasks_spawned_outside_a_scope_never_borrow_a_block_on_scope() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let phase = Phase::default();
    *phase.lock().unwrap() = "before";
    let mut set = JoinSet::new();
    let (traced, plain) = {
        let _in_runtime = rt.enter();
        set.spawn_traced(four_reads(phase.clone()));
        (
            tracectx::spawn_traced(four_reads(phase.clone())),
            tokio::spawn(four_reads(phase.clone())),
        )
    };
    for (name, run) in [("A", "run_A"), ("B", "run_B")] {
        *phase.lock().unwrap() = name;
        ctx(run).sync_scope(|| rt.block_on(drive_a_little()));
    }
    *phase.lock().unwrap() = "after";
    let (traced, in_set, plain) = rt.block_on(async {
        let in_set = set.join_next().await.unwrap().unwrap();
        (traced.await.unwrap(), in_set, plain.await.unwrap())
    });
    for seen in [&traced, &in_set] {
        assert!(polled_in_both_runs(seen), "{seen:?}");
        assert!(seen.iter().all(|(_, run)| run.is_none()), "{seen:?}");
    }
    assert!(polled_in_both_runs(&plain), "{plain:?}");
    assert!(saw_the_drivers_runs(&plain), "{plain:?}");
}

#[test]
fn blocking_and_thread_helpers_outside_a_scope_run_with_none() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = {
        let _in_runtime = rt.enter();
        tracectx::spawn_blocking_traced(tracectx::get_run_id)
    };
    let thread = tracectx::thread::spawn(tracectx::get_run_id);
    let seen = ctx("run_A").sync_scope(|| rt.block_on(handle)).unwrap();
    assert_eq!(seen, None);
    assert_eq!(thread.join().unwrap(), None);
}

/// Records, when dropped, the run current at that moment.
struct DropProbe(std::sync::mpsc::Sender<Option<String>>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        let _ = self.0.send(tracectx::get_run_id().map(|r| r.to_string()));
    }
}

/// A bound closure never called (a blocking task cancelled before it ran, a callback that
/// never fires) drops what it captured in its own run, wherever it is dropped; called, it runs
/// there, and its captures drop there as it returns.
#[test]
fn a_bound_closure_dropped_uncalled_drops_its_captures_in_its_run() {
    let (tx, rx) = std::sync::mpsc::channel();
    let bound = ctx("bound_b").sync_scope(|| {
        let probe = DropProbe(tx.clone());
        tracectx::bind(move || drop(probe))
    });
    ctx("dropper_a").sync_scope(|| drop(bound));
    assert_eq!(rx.recv().unwrap().as_deref(), Some("bound_b"));

    let called = ctx("bound_c").sync_scope(|| {
        let probe = DropProbe(tx.clone());
        tracectx::bind(move || drop(probe))
    });
    ctx("caller_d").sync_scope(called);
    assert_eq!(rx.recv().unwrap().as_deref(), Some("bound_c"));

    // Inside a `with_current` closure of another run, too.
    let bound = ctx("bound_e").sync_scope(|| {
        let probe = DropProbe(tx);
        tracectx::bind(move || drop(probe))
    });
    ctx("lender_f").sync_scope(|| tracectx::with_current(|_| drop(bound)));
    assert_eq!(rx.recv().unwrap().as_deref(), Some("bound_e"));
}

/// A blocking task cancelled before it starts (aborted while the pool was busy) drops its
/// closure in the run that spawned it, not in the aborter's nor with no run at all.
#[test]
fn a_blocking_task_cancelled_before_it_ran_drops_in_its_run() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let joined = rt.block_on(async {
        // Holds the only blocking thread.
        let holder = tokio::task::spawn_blocking(move || {
            let _ = started_tx.send(());
            let _ = release_rx.recv();
        });
        started_rx.recv().unwrap();
        let probe = DropProbe(tx);
        let queued =
            ctx("queued_run").sync_scope(|| tracectx::spawn_blocking_traced(move || drop(probe)));
        ctx("aborter").sync_scope(|| queued.abort());
        drop(release_tx);
        holder.await.unwrap();
        queued.await
    });
    assert!(joined.unwrap_err().is_cancelled(), "the task ran");
    assert_eq!(rx.recv().unwrap().as_deref(), Some("queued_run"));
}

/// The message of a panic payload, as `panic!` with a literal or a format makes it.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_panic_in_a_blocking_task_reaches_its_handle_and_the_thread_is_clean_after() {
    // One blocking thread: the task after the panic runs on the thread it unwound.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let job = ctx("blocking_panic");
        let (thread, err) = async {
            let panicked = tracectx::spawn_blocking_traced(|| -> () {
                assert_eq!(seen().map(|s| s.0).as_deref(), Some("blocking_panic"));
                panic!("job {} failed", 7)
            });
            let err = panicked.await.unwrap_err();
            (tracectx::current(), err)
        }
        .in_trace_context(job.clone())
        .await;
        // The caller's context is untouched, and the panic is tokio's, payload and all.
        assert_eq!(thread.as_ref(), Some(&job));
        assert!(err.is_panic());
        assert_eq!(message(&*err.into_panic()), "job 7 failed");
        for _ in 0..64 {
            let after = tokio::task::spawn_blocking(seen).await.unwrap();
            assert_eq!(after, None);
        }
    });
}

#[test]
fn a_panic_in_a_traced_thread_reaches_join_with_its_payload() {
    let run = ctx("thread_panic");
    let want = expected(&run);
    let handle = run.sync_scope(|| {
        tracectx::thread::spawn(move || -> () {
            assert_eq!(seen(), want);
            std::panic::panic_any(42_u32)
        })
    });
    let payload = handle.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
    assert_eq!(seen(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_panicking_and_plain_tasks_never_leave_a_run_behind() {
    // Traced tasks, some of which panic after a yield, and plain tasks spawned among them
    // (outside any scope) on the same workers: a plain task never sees a run, a traced one
    // only its own, whatever unwound on its worker before.
    let mut set = JoinSet::new();
    for i in 0..4_000 {
        if i % 2 == 0 {
            let run = format!("task_{i}");
            let task = {
                let run = run.clone();
                async move {
                    tokio::task::yield_now().await;
                    let seen = tracectx::get_run_id().map(|r| r.to_string());
                    assert_eq!(seen.as_deref(), Some(run.as_str()));
                    if i % 40 == 0 {
                        panic!("task {i}");
                    }
                    seen
                }
            };
            ctx(&run).sync_scope(|| set.spawn_traced(task));
        } else {
            set.spawn(async {
                tokio::task::yield_now().await;
                tracectx::get_run_id().map(|r| r.to_string())
            });
        }
    }
    let (mut panics, mut plain, mut traced) = (0, 0, 0);
    while let Some(joined) = set.join_next().await {
        match joined {
            Err(e) => {
                assert!(message(&*e.into_panic()).starts_with("task "));
                panics += 1;
            }
            Ok(None) => plain += 1,
            Ok(Some(run)) => {
                assert!(run.starts_with("task_"));
                traced += 1;
            }
        }
    }
    assert_eq!((panics, plain, traced), (100, 2_000, 1_900));
    assert_eq!(seen(), None);
}

/// A guard whose destructor reports the run it was dropped in, for task `i`.
struct Reports(usize, std::sync::mpsc::Sender<(usize, Option<String>)>);

impl Drop for Reports {
    fn drop(&mut self) {
        let _ = self
            .1
            .send((self.0, tracectx::get_run_id().map(|r| r.to_string())));
    }
}

/// The run task `i` was spawned in: none for every fifth, spawned outside any scope.
fn spawned_in(i: usize) -> Option<String> {
    (i % 5 != 0).then(|| format!("run_{i}"))
}

/// Spawns, with `spawn`, a task per `i` in `0..n` that holds a [`Reports`] and never ends.
fn spawn_pending(
    n: usize,
    tx: &std::sync::mpsc::Sender<(usize, Option<String>)>,
    mut spawn: impl FnMut(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>),
) {
    for i in 0..n {
        let guard = Reports(i, tx.clone());
        let task = Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        match spawned_in(i) {
            Some(run) => ctx(&run).sync_scope(|| spawn(task)),
            None => spawn(task),
        }
    }
}

fn each_dropped_in_its_run(rx: std::sync::mpsc::Receiver<(usize, Option<String>)>, n: usize) {
    let mut dropped = 0;
    for (i, run) in rx.try_iter() {
        assert_eq!(run, spawned_in(i), "task {i}");
        dropped += 1;
    }
    assert_eq!(dropped, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_set_shutdown_in_another_run_drops_each_task_in_its_own() {
    const TASKS: usize = 2_000;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut set = JoinSet::new();
    spawn_pending(TASKS, &tx, |task| {
        set.spawn_traced(task);
    });
    drop(tx);
    tokio::task::yield_now().await;
    async { set.shutdown().await }
        .in_trace_context(ctx("shutdown"))
        .await;
    each_dropped_in_its_run(rx, TASKS);
}

#[test]
fn a_runtime_shut_down_in_another_run_drops_each_task_in_its_own() {
    const TASKS: usize = 2_000;
    let current_thread = tokio::runtime::Builder::new_current_thread().build();
    let multi_thread = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build();
    for rt in [current_thread, multi_thread] {
        let rt = rt.unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.block_on(async {
            spawn_pending(TASKS, &tx, |task| {
                tracectx::spawn_traced(task);
            });
            tokio::task::yield_now().await;
        });
        drop(tx);
        // A current-thread runtime drops its tasks right here, inside this run's scope; a
        // multi-thread one on its workers.
        ctx("shutdown").sync_scope(|| drop(rt));
        each_dropped_in_its_run(rx, TASKS);
    }
}

/// Blocking jobs outlive their runtime: shut down (in another run) while some run and more
/// wait for a thread, the running ones finish in their own runs after the runtime is gone, and
/// the waiting ones, dropped unrun, drop what they hold in theirs.
#[test]
fn blocking_jobs_outliving_their_runtime_keep_their_runs() {
    const RUNNING: usize = 4;
    const QUEUED: usize = 1_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(RUNNING)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let release = std::sync::Arc::new(std::sync::Barrier::new(RUNNING + 1));
    rt.block_on(async {
        for i in 0..RUNNING {
            let (tx, started_tx, release) = (tx.clone(), started_tx.clone(), release.clone());
            ctx(&format!("running_{i}")).sync_scope(|| {
                tracectx::spawn_blocking_traced(move || {
                    started_tx.send(()).unwrap();
                    release.wait();
                    // The runtime is gone by now.
                    let _ = tx.send((i, tracectx::get_run_id().map(|r| r.to_string())));
                })
            });
        }
        for _ in 0..RUNNING {
            started_rx.recv().unwrap();
        }
        for i in RUNNING..RUNNING + QUEUED {
            let report = Reports(i, tx.clone());
            ctx(&format!("queued_{i}"))
                .sync_scope(|| tracectx::spawn_blocking_traced(move || drop(report)));
        }
    });
    drop(tx);
    ctx("shutdown").sync_scope(|| rt.shutdown_background());
    release.wait();
    let mut reported = 0;
    while let Ok((i, run)) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let want = if i < RUNNING {
            format!("running_{i}")
        } else {
            format!("queued_{i}")
        };
        assert_eq!(run.as_deref(), Some(want.as_str()), "job {i}");
        reported += 1;
    }
    assert_eq!(
        reported,
        RUNNING + QUEUED,
        "every job reported, run or dropped"
    );
    assert_eq!(seen(), None);
}

/// A `LocalSet` dropped inside another run (with 2,000 of its tasks pending, spawned in
/// runs of their own or outside any) drops each task in its own run, or with none.
#[test]
fn a_local_set_dropped_in_another_run_drops_each_task_in_its_own() {
    const TASKS: usize = 2_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let local = LocalSet::new();
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let _in_local_set = local.enter();
        spawn_pending(TASKS, &tx, |task| {
            tracectx::spawn_local_traced(task);
        });
    }
    drop(tx);
    // Driven a little inside a driver's run (some tasks polled, none finished), then dropped.
    rt.block_on(
        local
            .run_until(tokio::task::yield_now())
            .in_trace_context(ctx("driver")),
    );
    ctx("dropper").sync_scope(|| drop(local));
    each_dropped_in_its_run(rx, TASKS);
}
