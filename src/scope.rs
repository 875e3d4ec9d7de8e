//! The task-local slot that holds the current [`TraceContext`], and the ways to read it.
//!
//! The slot behaves as a [`tokio::task_local!`]: a value is in place while a scoped future is
//! polled (or dropped) and while a [`TraceContext::sync_scope`] closure runs, on whichever
//! thread that happens, and the outer value is back afterwards, also when the scope unwinds.
//! Outside any scope every accessor returns `None`; nothing here panics for want of a scope.
//!
//! What a scope moves in and out on every poll is an `Option<TraceContext>`: one pointer, the
//! same as a raw `task_local!` of an `Arc`, with "no context" a `None` rather than a tag.

use std::cell::RefCell;
use std::mem;

use crate::context::{RunId, ShortTraceId, TraceContext};

thread_local! {
    /// The current context, `None` outside any scope.
    ///
    /// A scope swaps its `Option<TraceContext>` in for the duration of a poll (or a closure)
    /// and back out afterwards, exactly as tokio's `task_local!` does with its value. The slot
    /// is the crate's own rather than a `task_local!` so that "no context" needs no tag: a
    /// `task_local!` must tell "no scope" (an access error) from a scope, so a scope of *no*
    /// context would be a `task_local!` of `Option<TraceContext>`, whose scope moves a tagged
    /// `Option<Option<_>>` (two words) on every poll. Here "no scope" and "a scope of no
    /// context" are the same `None`, and what moves on every poll is one pointer, as in a raw
    /// `task_local!` of an `Arc`.
    static CURRENT: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

/// Why a scope could not be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeError {
    /// The slot is lent to one of the crate's own readers ([`read`]), whose closures never
    /// enter a scope: unreachable from user code.
    Borrowed,
    /// The thread's locals are being destroyed.
    Destroyed,
}

impl ScopeError {
    #[cold]
    #[track_caller]
    fn panic(self) -> ! {
        panic!(
            "cannot enter a trace context scope while the context is being read ({self:?}): \
             this is a bug in tracectx, please report it"
        )
    }
}

/// Puts the outer context back when dropped, also while unwinding: made by [`swap_in`].
struct Restore<'a>(&'a mut Option<TraceContext>);

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        // Neither call can fail: the slot was reachable and free when the scope was entered,
        // the thread's locals cannot have been destroyed since, and no borrow made by `read`
        // outlives its (crate-internal) closure.
        CURRENT.with(|current| mem::swap(self.0, &mut *current.borrow_mut()));
    }
}

/// Moves `slot`'s context into the thread's slot and the previous one into `slot`; the
/// [`Restore`] swaps them back.
#[inline]
fn swap_in(slot: &mut Option<TraceContext>) -> Result<Restore<'_>, ScopeError> {
    CURRENT
        .try_with(|current| {
            current
                .try_borrow_mut()
                .map(|mut current| mem::swap(slot, &mut *current))
                .map_err(|_| ScopeError::Borrowed)
        })
        .map_err(|_| ScopeError::Destroyed)??;
    Ok(Restore(slot))
}

/// Runs `f` with the context in `slot` (`None`: explicitly none) as the current one; where no
/// scope can be entered, returns the error without calling `f`.
///
/// The slot's value is moved into the thread's slot and the previous one into `slot`, then
/// back when `f` returns or unwinds: what a `task_local!` scope does, without a clone.
#[inline]
pub(crate) fn try_enter<R>(
    slot: &mut Option<TraceContext>,
    f: impl FnOnce() -> R,
) -> Result<R, ScopeError> {
    let restore = swap_in(slot)?;
    let r = f();
    drop(restore);
    Ok(r)
}

/// [`try_enter`], or `f` without a scope where the thread's slot is already destroyed.
///
/// Once the slot is destroyed (a thread-local destroyed after it, at thread exit, runs traced
/// work: a queue of [`bind`](crate::bind) closures flushed, a future polled), nothing on this
/// thread can read a context any more: `f` runs with none, as every accessor then says, never
/// with a wrong one. Panicking instead would abort the process, a panic in a thread-local's
/// destructor being fatal.
#[inline]
#[track_caller]
pub(crate) fn enter_slot<R>(slot: &mut Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    match swap_in(slot) {
        Ok(restore) => {
            let r = f();
            drop(restore);
            r
        }
        Err(ScopeError::Destroyed) => f(),
        Err(e @ ScopeError::Borrowed) => e.panic(),
    }
}

/// Runs `f` with `ctx` as the current context (`None`: explicitly none), restoring the
/// previous one when `f` returns or unwinds.
#[inline]
#[track_caller]
pub(crate) fn enter<R>(ctx: Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    let mut slot = ctx;
    enter_slot(&mut slot, f)
}

/// The current trace context, if any.
///
/// Returns a clone of the handle (an atomic increment). Use [`with_current`] to look without
/// cloning, or [`get_run_id`] / [`get_trace_id`] for just one id.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// assert!(tracectx::current().is_none());
///
/// let ctx = TraceContext::new("job_1")?;
/// async {
///     let seen = tracectx::current().expect("inside a scope");
///     assert_eq!(seen.run_id(), "job_1");
/// }
/// .in_trace_context(ctx)
/// .await;
/// # Ok(()) }
/// ```
pub fn current() -> Option<TraceContext> {
    read(TraceContext::clone)
}

/// `f` applied to the current context, if any, in place: no clone, in the fewest steps (this
/// is what every log line pays).
///
/// `f` runs while the slot is borrowed: it must be the crate's own code, which never enters a
/// scope nor drops a value that could (a scoped future), so that no scope is ever refused for
/// it. User code gets [`with_current`], which lends a clone instead.
#[inline]
pub(crate) fn read<R>(f: impl FnOnce(&TraceContext) -> R) -> Option<R> {
    // Borrowed mutably only while a scope swaps its context in or out, never while user code
    // runs: `try_borrow` cannot fail where `f` could observe it. Outside any scope, or during
    // thread-local teardown, there is nothing to read.
    CURRENT
        .try_with(|ctx| ctx.try_borrow().ok()?.as_ref().map(f))
        .ok()
        .flatten()
}

/// Calls `f` with a reference to the current context (or `None`).
///
/// The context is cloned for the call (one atomic increment: the handle is one pointer) and
/// the thread's slot is free while `f` runs, so `f` may do anything: enter another scope
/// ([`TraceContext::sync_scope`]), poll a scoped future, or drop one, whose destructor then
/// runs in *its* context. (tokio's [`LocalKey::with`] lends the slot itself instead: a scope
/// entered inside panics, and a scoped future dropped inside runs its destructor in the
/// lender's context, the wrong run.) To read one id, [`get_run_id`] and [`get_trace_id`]
/// clone less.
///
/// [`LocalKey::with`]: tokio::task::LocalKey::with
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_2")?;
/// let len = ctx.sync_scope(|| tracectx::with_current(|c| c.map(|c| c.run_id().len())));
/// assert_eq!(len, Some(5));
/// assert_eq!(tracectx::with_current(|c| c.is_some()), false);
///
/// // Inside the closure, another run's scope is entered as anywhere else.
/// let other = tracectx::TraceContext::new("job_3")?;
/// ctx.sync_scope(|| {
///     tracectx::with_current(|_| {
///         assert_eq!(other.sync_scope(tracectx::get_run_id).as_deref(), Some("job_3"));
///     })
/// });
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn with_current<R>(f: impl FnOnce(Option<&TraceContext>) -> R) -> R {
    let ctx = current();
    f(ctx.as_ref())
}

/// The current run id, if any. Allocates nothing: the id's text is shared with the context.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_3")?;
/// ctx.sync_scope(|| assert_eq!(tracectx::get_run_id().as_deref(), Some("job_3")));
/// assert!(tracectx::get_run_id().is_none());
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn get_run_id() -> Option<RunId> {
    read(|ctx| ctx.run_id().clone())
}

/// The current trace id in its short form (8 lowercase hex characters), if any. Allocates
/// nothing.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_4")?.with_trace_id("a1b2c3d4".parse()?);
/// ctx.sync_scope(|| assert_eq!(tracectx::get_trace_id().as_deref(), Some("a1b2c3d4")));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn get_trace_id() -> Option<ShortTraceId> {
    read(|ctx| ctx.trace_id().short())
}

// === impl TraceContext (scopes) ===

impl TraceContext {
    /// Runs the synchronous `f` with this context as the current one, on the calling thread.
    ///
    /// Works on any thread, inside or outside a tokio runtime. The previous context (or none)
    /// is back when `f` returns or unwinds. For async code use
    /// [`in_trace_context`](crate::TraceFutureExt::in_trace_context): a context set here is not
    /// seen by futures spawned or polled elsewhere later.
    ///
    /// Where the thread's locals are already destroyed (work run by another thread-local's
    /// destructor at thread exit), no context can be read on the thread any more, and `f` runs
    /// with none.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("sync_job")?;
    /// let run = ctx.sync_scope(|| tracectx::get_run_id());
    /// assert_eq!(run.as_deref(), Some("sync_job"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[track_caller]
    pub fn sync_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        enter(Some(self.clone()), f)
    }
}
