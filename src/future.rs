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
    /// Runs this future with `ctx` as the current context: on every poll, across every
    /// `.await`, on whichever worker thread polls it, and while it is dropped.
    ///
    /// Futures this one spawns with plain `tokio::spawn` do **not** inherit the context; use
    /// [`spawn_traced`](crate::spawn_traced).
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
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct InTraceContext<F> {
        // `None` only once the inner future has been dropped (in `drop`) or taken out (in
        // `into_inner`); neither can be followed by a poll.
        #[pin]
        inner: Option<F>,
        ctx: Option<TraceContext>,
    }

    impl<F> PinnedDrop for InTraceContext<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let mut inner = this.inner.as_mut();
            scope::enter(this.ctx, move || inner.set(None));
        }
    }
}

// === impl InTraceContext ===

impl<F> InTraceContext<F> {
    fn new(inner: F, ctx: Option<TraceContext>) -> Self {
        Self {
            inner: Some(inner),
            ctx,
        }
    }

    /// The context this future runs in (`None`: explicitly none).
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.ctx.as_ref()
    }

    /// The wrapped future.
    pub fn inner(&self) -> &F {
        match &self.inner {
            Some(inner) => inner,
            None => gone(),
        }
    }

    /// The wrapped future, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        match &mut self.inner {
            Some(inner) => inner,
            None => gone(),
        }
    }

    /// The wrapped future, pinned.
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => inner,
            None => gone(),
        }
    }

    /// Takes the wrapped future out, dropping the context.
    pub fn into_inner(mut self) -> F {
        match self.inner.take() {
            Some(inner) => inner,
            None => gone(),
        }
    }
}

#[cold]
#[track_caller]
fn gone() -> ! {
    // `inner` is `None` only inside `drop` or `into_inner`, which consume the wrapper: no
    // caller can observe it.
    unreachable!("InTraceContext: the inner future is gone")
}

impl<F: Future> Future for InTraceContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner.as_pin_mut();
        scope::enter(this.ctx, move || {
            inner.map_or(Poll::Pending, |f| f.poll(cx))
        })
    }
}

impl<F> std::fmt::Debug for InTraceContext<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTraceContext")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}
