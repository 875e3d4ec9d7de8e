//! The task-local slot: accessors inside and outside scopes, nesting, drops and panics.

use std::panic::{self, AssertUnwindSafe};

use tracectx::TraceContext;
use tracectx::TraceFutureExt as _;

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

fn assert_no_context() {
    assert!(tracectx::current().is_none());
    assert!(tracectx::get_run_id().is_none());
    assert!(tracectx::get_trace_id().is_none());
    assert!(tracectx::with_current(|c| c.is_none()));
}

#[test]
fn accessors_are_none_outside_any_scope() {
    assert_no_context();
}

#[test]
fn accessors_see_the_scope_and_none_after_it() {
    let outer = ctx("sync_outer");
    outer.sync_scope(|| {
        assert_eq!(tracectx::current().as_ref(), Some(&outer));
        assert_eq!(tracectx::get_run_id().as_deref(), Some("sync_outer"));
        let short = outer.trace_id().short();
        assert_eq!(tracectx::get_trace_id().as_deref(), Some(&*short));
        assert_eq!(tracectx::get_trace_id().unwrap().len(), 8);
        tracectx::with_current(|c| assert!(TraceContext::ptr_eq(c.unwrap(), &outer)));
    });
    assert_no_context();
}

#[test]
fn nested_sync_scopes_restore_the_outer() {
    let outer = ctx("outer");
    let inner = outer.child();
    outer.sync_scope(|| {
        inner.sync_scope(|| {
            assert_eq!(tracectx::current().unwrap().span_id(), inner.span_id());
        });
        assert_eq!(tracectx::current().unwrap().span_id(), outer.span_id());
    });
    assert_no_context();
}

struct ReportOnDrop(std::sync::mpsc::Sender<Option<String>>);

impl Drop for ReportOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(tracectx::get_run_id().map(|r| r.to_string()));
    }
}

#[test]
fn context_is_readable_in_drop_during_unwinding() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        ctx("unwinding").sync_scope(|| {
            let _guard = ReportOnDrop(tx);
            panic!("boom");
        })
    }));
    assert!(result.is_err());
    assert_eq!(rx.recv().unwrap().as_deref(), Some("unwinding"));
    assert_no_context();
}

#[test]
fn sync_panic_leaves_no_context_behind() {
    let outer = ctx("survivor");
    outer.sync_scope(|| {
        let result = panic::catch_unwind(|| ctx("panicker").sync_scope(|| panic!("boom")));
        assert!(result.is_err());
        assert_eq!(tracectx::get_run_id().as_deref(), Some("survivor"));
    });
    assert_no_context();
}

#[test]
fn bind_runs_a_closure_in_the_context_it_was_made_in() {
    let job = ctx("bound").sync_scope(|| tracectx::bind(tracectx::get_run_id));
    assert_no_context();
    let seen = ctx("other").sync_scope(job);
    assert_eq!(seen.as_deref(), Some("bound"));

    // Bound outside any scope: runs with none, even inside another scope.
    let unbound = tracectx::bind(tracectx::get_run_id);
    assert_eq!(ctx("other").sync_scope(unbound), None);
}

#[test]
fn sync_scope_works_on_a_plain_thread_without_a_runtime() {
    let seen = std::thread::spawn(|| ctx("no_runtime").sync_scope(tracectx::get_run_id))
        .join()
        .unwrap();
    assert_eq!(seen.as_deref(), Some("no_runtime"));
}

#[test]
fn reading_again_inside_with_current_sees_the_same_context() {
    let outer = ctx("lent");
    outer.sync_scope(|| {
        tracectx::with_current(|c| {
            assert_eq!(c.map(|c| c.run_id().to_string()).as_deref(), Some("lent"));
            assert_eq!(tracectx::get_run_id().as_deref(), Some("lent"));
        })
    });
}

/// `with_current` lends a clone, not the slot: a scope entered inside its closure is the
/// current one until it ends (it panicked, as tokio's `LocalKey::with` does), then the outer
/// run is back.
#[test]
fn entering_a_scope_inside_with_current_works_and_the_outer_run_is_back() {
    let outer = ctx("lender");
    outer.sync_scope(|| {
        let (inside, lent) = tracectx::with_current(|c| {
            let inside = ctx("borrower").sync_scope(|| {
                // Nested once more, and read while the lent clone is still held.
                let nested = ctx("nested").sync_scope(tracectx::get_run_id);
                (tracectx::get_run_id(), nested)
            });
            (inside, c.map(|c| c.run_id().to_string()))
        });
        assert_eq!(inside.0.as_deref(), Some("borrower"));
        assert_eq!(inside.1.as_deref(), Some("nested"));
        assert_eq!(lent.as_deref(), Some("lender"));
        assert_eq!(tracectx::get_run_id().as_deref(), Some("lender"));
    });
    assert_no_context();
}

/// A thread-local whose destructor runs the jobs queued on it, as a per-thread batch or
/// callback registry flushes at thread exit.
struct AtExit(Vec<Box<dyn FnOnce()>>);

impl Drop for AtExit {
    fn drop(&mut self) {
        for job in self.0.drain(..) {
            job();
        }
    }
}

thread_local! {
    static AT_EXIT: std::cell::RefCell<AtExit> = const { std::cell::RefCell::new(AtExit(Vec::new())) };
}

type Outcome<T> = Result<T, String>;

fn outcome<T>(f: impl FnOnce() -> T) -> Outcome<T> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Once the thread's slot is destroyed (a thread-local destroyed later, at thread exit, runs
/// traced work), no context can be read on that thread any more: scopes run their work with
/// none instead of panicking (a panic in a thread-local's destructor aborts the process).
#[test]
fn scopes_entered_after_the_slot_is_destroyed_run_with_none_instead_of_panicking() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Registered before the slot, so destroyed after it.
        AT_EXIT.with(|_| {});
        let job = ctx("at_exit_bound").sync_scope(|| tracectx::bind(tracectx::get_run_id));
        let mut fut =
            Box::pin(async { tracectx::get_run_id() }.in_trace_context(ctx("at_exit_polled")));
        let scoped = ctx("at_exit_scoped");
        AT_EXIT.with(|jobs| {
            jobs.borrow_mut().0.push(Box::new(move || {
                let called = outcome(job);
                let polled = outcome(|| {
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    std::future::Future::poll(fut.as_mut(), &mut cx)
                });
                let in_scope = outcome(|| scoped.sync_scope(tracectx::get_run_id));
                tx.send((called, polled, in_scope, tracectx::current().is_none()))
                    .unwrap();
            }))
        });
    })
    .join()
    .unwrap();
    let (called, polled, in_scope, none_after) = rx.recv().unwrap();
    assert_eq!(called, Ok(None));
    assert_eq!(polled, Ok(std::task::Poll::Ready(None)));
    assert_eq!(in_scope, Ok(None));
    assert!(none_after);
}

/// Enters a scope of its own from its destructor and reports what it saw there and around it.
struct ScopesInDrop(std::sync::mpsc::Sender<[Option<String>; 3]>);

impl Drop for ScopesInDrop {
    fn drop(&mut self) {
        let run = || tracectx::get_run_id().map(|r| r.to_string());
        let before = run();
        let inside = ctx("from_drop").sync_scope(run);
        let _ = self.0.send([before, inside, run()]);
    }
}

/// A destructor that enters a scope of its own, run inside another scope, as a scoped future's
/// inner value being dropped, and while a panicking scope unwinds: the drop's scope is current
/// inside it, and the run around it is back after, each time.
#[test]
fn a_scope_entered_from_a_destructor_nests_and_restores() {
    use tracectx::TraceFutureExt as _;

    let (tx, rx) = std::sync::mpsc::channel();
    let want = |around: &str| {
        [
            Some(around.to_owned()),
            Some("from_drop".to_owned()),
            Some(around.to_owned()),
        ]
    };

    let guard = ScopesInDrop(tx.clone());
    ctx("dropper").sync_scope(|| drop(guard));
    assert_eq!(rx.recv().unwrap(), want("dropper"));

    let guard = ScopesInDrop(tx.clone());
    let fut = async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }
    .in_trace_context(ctx("wrapped"));
    ctx("dropper").sync_scope(|| drop(fut));
    assert_eq!(rx.recv().unwrap(), want("wrapped"));

    let guard = ScopesInDrop(tx);
    let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
        ctx("outer").sync_scope(|| {
            ctx("unwinding").sync_scope(|| {
                let _guard = guard;
                panic!("boom")
            })
        })
    }));
    assert!(unwound.is_err());
    assert_eq!(rx.recv().unwrap(), want("unwinding"));
    assert_no_context();
}
