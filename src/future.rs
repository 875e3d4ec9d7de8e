//! Carrying a [`TraceContext`] across `.await`: the [`TraceFutureExt`] trait and the
//! [`InTraceContext`] future it returns.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    /// Runs this future with `ctx` as the current context: on every poll,
    /// across every `.await`, on whichever worker thread polls it, and while it is dropped.
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
    /// Outside any scope the captured context is "none", and the future then runs with
    /// no context even if it is later polled inside another scope, as OpenTelemetry's
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
    /// A future that runs its inner future with a [`TraceContext`] current (or, made outside
    /// any scope by `in_current_trace_context`, explicitly none); made by [`TraceFutureExt`].
    ///
    /// The context is in place on every poll and while the inner future is dropped, so
    /// destructors of a cancelled future (timeout, `select!`, `abort()`) still see their run.
    /// A completed inner future is dropped inside the scope, at once.
    ///
    /// A poll moves the context (one pointer) into the thread's slot and back, as a raw
    /// `tokio::task_local!` scope of an `Arc` does.
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
    pub struct InTraceContext<T> {
        // While a scope is entered, this holds the outer context instead.
        ctx: Option<TraceContext>,
        // `None` once a future has completed (dropped inside the scope at once).
        #[pin]
        inner: Option<T>,
    }

    impl<T> PinnedDrop for InTraceContext<T> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if std::mem::needs_drop::<T>() && this.inner.is_some() {
                let mut inner = this.inner;
                // Where no scope can be entered (the thread's locals are being destroyed), the
                // inner value is dropped without its context, when the field drops.
                let _ = scope::try_enter(this.ctx, || inner.set(None));
            }
        }
    }
}

// === impl InTraceContext ===

impl<T> InTraceContext<T> {
    pub(crate) fn new(inner: T, ctx: Option<TraceContext>) -> Self {
        Self {
            ctx,
            inner: Some(inner),
        }
    }

    /// The context the inner value runs with; `None` when it runs with explicitly none.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let fut = async {}.in_trace_context(ctx.clone());
    /// assert_eq!(fut.context(), Some(&ctx));
    /// assert_eq!(async {}.in_current_trace_context().context(), None);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn context(&self) -> Option<&TraceContext> {
        self.ctx.as_ref()
    }

    /// A reference to the inner value; `None` once a future has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let fut = std::future::ready(7).in_trace_context(TraceContext::new("job_1")?);
    /// assert!(fut.inner().is_some());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn inner(&self) -> Option<&T> {
        self.inner.as_ref()
    }

    /// A mutable reference to the inner value; `None` once a future has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let mut fut = std::future::ready(7).in_trace_context(TraceContext::new("job_1")?);
    /// assert!(fut.inner_mut().is_some());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn inner_mut(&mut self) -> Option<&mut T> {
        self.inner.as_mut()
    }

    /// A pinned mutable reference to the inner value; `None` once a future has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use tracectx::prelude::*;
    ///
    /// let fut = pin!(async { 7 }.in_trace_context(TraceContext::new("job_1")?));
    /// assert!(fut.inner_pin_mut().is_some());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Option<Pin<&mut T>> {
        self.project().inner.as_pin_mut()
    }

    /// The inner value, without its context; `None` once a future has completed.
    ///
    /// The value is then dropped, when it is, outside the context.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let fut = std::future::ready(7).in_trace_context(TraceContext::new("job_1")?);
    /// let bare: std::future::Ready<i32> = fut.into_inner().expect("never polled");
    /// # drop(bare);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.inner.take()
    }
}

impl<F: Future> Future for InTraceContext<F> {
    type Output = F::Output;

    #[inline]
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let polled = scope::enter_slot(this.ctx, || {
            let res = inner.as_mut().as_pin_mut()?.poll(cx);
            if res.is_ready() {
                // Dropped now, inside the scope, as tokio's `TaskLocalFuture` does.
                inner.set(None);
            }
            Some(res)
        });
        polled.expect("`InTraceContext` polled after completion")
    }
}

impl<T> std::fmt::Debug for InTraceContext<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTraceContext")
            .field("context", &self.ctx)
            .finish_non_exhaustive()
    }
}
