//! The task-local slot that holds the current [`TraceContext`], and the ways to read it.
//!
//! The slot is a [`tokio::task_local!`]: a value is in place while a scoped future is polled
//! (or dropped) and while a [`TraceContext::sync_scope`] closure runs, on whichever thread that
//! happens. Outside any scope every accessor returns `None`; nothing here panics for want of a
//! scope.

use crate::context::{RunId, ShortTraceId, TraceContext};

tokio::task_local! {
    /// The current context. `Some(None)` (a scope of "no context") hides an outer context, as
    /// a future captured outside any scope must when it is later polled inside one.
    pub(crate) static CURRENT: Option<TraceContext>;
}

/// Runs `f` with `ctx` as the current context (`None`: explicitly none), restoring the
/// previous one when `f` returns or unwinds.
pub(crate) fn enter<R>(ctx: Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(ctx, f)
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
    with_current(|ctx| ctx.cloned())
}

/// Calls `f` with a reference to the current context (or `None`), without cloning it.
///
/// # Panics
///
/// `f` runs while the task-local slot is borrowed, as in tokio's [`LocalKey::with`]: entering
/// a new scope from inside `f` (polling a scoped future, calling
/// [`TraceContext::sync_scope`]) panics in tokio. Read what you need and return it; do the work
/// outside.
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
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn with_current<R>(f: impl FnOnce(Option<&TraceContext>) -> R) -> R {
    let mut f = Some(f);
    let inside = CURRENT.try_with(|ctx| f.take().map(|f| f(ctx.as_ref())));
    match (inside, f) {
        (Ok(Some(r)), _) => r,
        // Outside any scope, or during thread-local teardown: there is no context to show.
        (_, Some(f)) => f(None),
        // `f` is taken only when it runs, and then `inside` is `Ok(Some(_))`.
        (_, None) => unreachable!("with_current: the closure was taken but gave no result"),
    }
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
    with_current(|ctx| ctx.map(|ctx| ctx.run_id().clone()))
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
    with_current(|ctx| ctx.map(|ctx| ctx.trace_id().short()))
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
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("sync_job")?;
    /// let run = ctx.sync_scope(|| tracectx::get_run_id());
    /// assert_eq!(run.as_deref(), Some("sync_job"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn sync_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        enter(Some(self.clone()), f)
    }
}
