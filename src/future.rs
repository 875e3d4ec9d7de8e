//! Carrying a [`TraceContext`] across `.await`: the [`TraceFutureExt`] trait and the
//! [`InTraceContext`] future it returns.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;

use crate::context::TraceContext;
use crate::scope;

/// Attaches a [`TraceContext`] to a future, so that every poll of it (and its drop) runs with
/// that context current.
///
/// Implemented for every [`Future`]. Named `TraceFutureExt`, not `FutureExt`, so it never
/// clashes with `futures::FutureExt` or OpenTelemetry's `FutureExt`; the
/// [prelude](crate::prelude) re-exports it.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// let ctx = TraceContext::new("backtest_ab12cd34")?;
/// let run = async {
///     tokio::task::yield_now().await;
///     tracectx::get_run_id()
/// }
/// .in_trace_context(ctx)
/// .await;
/// assert_eq!(run.as_deref(), Some("backtest_ab12cd34"));
/// # Ok(()) }
/// ```
pub trait TraceFutureExt: Future + Sized {
    /// Runs this future with `ctx` as the current context: on every poll, across every
    /// `.await`, on whichever worker thread polls it, and while it is dropped.
    ///
    /// Futures this one spawns with plain `tokio::spawn` do **not** inherit the context; use
    /// [`spawn_traced`](crate::spawn_traced).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ctx = TraceContext::new("job_1")?;
    /// // A new step of the run in its own task: give it a child context explicitly.
    /// let step = tokio::spawn(async { tracectx::current() }.in_trace_context(ctx.child()));
    /// let seen = step.await?.expect("inside the scope");
    /// assert_eq!(seen.parent_span_id(), Some(ctx.span_id()));
    /// assert!(tracectx::current().is_none()); // the caller is not in the scope
    /// # Ok(()) }
    /// ```
    fn in_trace_context(self, ctx: TraceContext) -> InTraceContext<Self> {
        InTraceContext::new(self, Some(ctx))
    }

    /// Runs this future with the caller's current context, captured now.
    ///
    /// Outside any scope the captured context is "none", and the future then runs with no
    /// context even if it is later polled inside another scope, as OpenTelemetry's
    /// `with_current_context` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let ctx = TraceContext::new("job_9")?;
    /// let fut = ctx.sync_scope(|| async { tracectx::get_run_id() }.in_current_trace_context());
    /// // Awaited here, outside the scope, it still sees the context it was made in.
    /// assert_eq!(fut.await.as_deref(), Some("job_9"));
    /// # Ok(()) }
    /// ```
    fn in_current_trace_context(self) -> InTraceContext<Self> {
        InTraceContext::new(self, scope::current())
    }
}

impl<F: Future> TraceFutureExt for F {}

pin_project_lite::pin_project! {
    /// A future that runs its inner future with a [`TraceContext`] current; made by
    /// [`TraceFutureExt`].
    ///
    /// The context is in place on every poll and while the inner future is dropped, so
    /// destructors of a cancelled future (timeout, `select!`, `abort()`) still see their run.
    /// A completed inner future is dropped inside the scope, at once.
    ///
    /// This wraps tokio's [`TaskLocalFuture`], so a poll costs what a raw `task_local` scope
    /// costs: the handle (one pointer) is moved into the slot and back. For the same reason
    /// the inner future is not reachable from outside: tokio's future does not expose it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use tracectx::{prelude::*, InTraceContext, RunId};
    ///
    /// struct Report(mpsc::Sender<Option<RunId>>);
    /// impl Drop for Report {
    ///     fn drop(&mut self) { let _ = self.0.send(tracectx::get_run_id()); }
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = mpsc::channel();
    /// let report = Report(tx);
    /// let ctx = TraceContext::new("job_1")?;
    /// let fut: InTraceContext<_> = async move { drop(report) }.in_trace_context(ctx);
    /// drop(fut); // cancelled, as by a timeout: the destructor still sees its run
    /// assert_eq!(rx.recv()?.as_deref(), Some("job_1"));
    /// # Ok(()) }
    /// ```
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct InTraceContext<F> {
        #[pin]
        inner: TaskLocalFuture<Option<TraceContext>, F>,
    }
}

// === impl InTraceContext ===

impl<F: Future> InTraceContext<F> {
    fn new(inner: F, ctx: Option<TraceContext>) -> Self {
        Self {
            inner: scope::CURRENT.scope(ctx, inner),
        }
    }
}

impl<F: Future> Future for InTraceContext<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F> std::fmt::Debug for InTraceContext<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTraceContext").finish_non_exhaustive()
    }
}
