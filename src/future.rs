//! Carrying a [`TraceContext`] across `.await` and along streams and sinks: the
//! [`TraceFutureExt`], [`TraceStreamExt`] and [`TraceSinkExt`] traits and the
//! [`InTraceContext`] and [`InTraceContextPerItem`] wrappers they return.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedFuture, FusedStream, Stream};
use futures_sink::Sink;

use crate::context::TraceContext;
use crate::scope;

/// Attaches a [`TraceContext`] to a future, a stream or a sink, so that every poll of it (and
/// its drop) runs with that context current.
///
/// Implemented for every type; the [`InTraceContext`] it returns is a [`Future`], a
/// [`Stream`], a [`Sink`] or (feature `rayon`) a parallel iterator when the wrapped value is
/// one. Named `TraceFutureExt`, not `FutureExt`, so it never clashes with `futures::FutureExt`
/// or OpenTelemetry's `FutureExt`; the [prelude](crate::prelude) re-exports it.
///
/// # One trait for futures, streams and sinks
///
/// The trait is implemented for every type, as tracing's `Instrument` and OpenTelemetry's
/// `FutureExt` are, rather than one trait per kind: that keeps the call unambiguous for the
/// many types that are two kinds at once. A framed socket or a WebSocket is both a `Stream`
/// and a `Sink`, and `framed.in_trace_context(ctx)` gives one wrapper that is both, with every
/// read and every write in the context; two traits with the same method names would make that
/// call an error ("multiple applicable items in scope").
///
/// # A context for the stream, or one per item
///
/// - [`in_trace_context`](TraceFutureExt::in_trace_context): every `poll_next` of the stream
///   (and its drop) runs in one context. Right for a stream that *is* one piece of work: the
///   bars of one live session, the rows of one query, the frames of one connection.
/// - [`in_trace_context_per_item`](TraceStreamExt::in_trace_context_per_item): the work of each
///   item runs in a child of the context, a new span per item in the same run and trace. Right
///   where each item is an operation of its own that a trace should show apart (a request
///   read off a connection, a chunk an operator processes), at the cost of making one child
///   context (an allocation) per item.
/// - [`in_trace_context_per_send`](TraceSinkExt::in_trace_context_per_send): the same for a
///   sink, each item's `start_send` in a child of its own (an order sent to a gateway, a fill
///   written to a store); readiness, flushing and closing stay in the context. (Its own name,
///   since a stream that is also a sink would otherwise meet two methods of one name.)
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
pub trait TraceFutureExt: Sized {
    /// Runs this future, stream or sink with `ctx` as the current context: on every poll,
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
    ///
    /// A stream: every item is produced in the context, wherever the stream is polled.
    ///
    /// ```
    /// use futures::StreamExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let bars = futures::stream::iter(1..=3).map(|bar| (bar, tracectx::get_run_id()));
    /// let seen: Vec<_> = bars.in_trace_context(TraceContext::new("live_1")?).collect().await;
    /// assert!(seen.iter().all(|(_, run)| run.as_deref() == Some("live_1")));
    /// # Ok(()) }
    /// ```
    fn in_trace_context(self, ctx: TraceContext) -> InTraceContext<Self> {
        InTraceContext::new(self, Some(ctx))
    }

    /// Runs this future, stream or sink with the caller's current context, captured now.
    ///
    /// Outside any scope the captured context is "none", and the wrapped value then runs with
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

impl<T> TraceFutureExt for T {}

pin_project_lite::pin_project! {
    /// A future, stream or sink that runs its inner value with a [`TraceContext`] current (or,
    /// made outside any scope by `in_current_trace_context`, explicitly none); made by
    /// [`TraceFutureExt`].
    ///
    /// The context is in place on every poll (`poll`, `poll_next`, and a sink's `poll_ready`,
    /// `start_send`, `poll_flush` and `poll_close`) and while the inner value is dropped, so
    /// destructors of a cancelled future (timeout, `select!`, `abort()`) or of a stream dropped
    /// half-read still see their run. A completed inner future is dropped inside the scope, at
    /// once.
    ///
    /// That holds wherever the wrapper is dropped: inside another run's scope, or inside a
    /// [`with_current`](crate::with_current) closure of another run (which lends a clone of
    /// the context, not the thread's slot, so the scope can always be entered; with tokio's
    /// own `task_local!`, a scope is skipped while its slot is lent, and the destructor runs
    /// in the lender's run). What the crate cannot reach: where the thread's locals are being
    /// destroyed (a future dropped by another thread-local's destructor at thread exit), no
    /// scope can be entered, and the inner value is dropped with no context rather than a
    /// wrong one; and a future the crate did not wrap (a plain `async` block, or one scoped by
    /// another crate's `task_local!`) runs its destructor in whatever context is current where
    /// it is dropped. Wrap it with [`in_trace_context`](TraceFutureExt::in_trace_context) to
    /// give it its own. Closures made with [`bind`](crate::bind) (and the blocking tasks and
    /// threads spawned with it) are dropped in their context too when never called.
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
    #[must_use = "futures and streams do nothing unless you `.await` or poll them"]
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
    /// let stream = futures::stream::iter([1, 2]).in_trace_context(TraceContext::new("job_1")?);
    /// assert_eq!(futures::Stream::size_hint(stream.inner().unwrap()), (2, Some(2)));
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
    /// let mut buffer = Vec::<u8>::new().in_trace_context(TraceContext::new("job_1")?);
    /// buffer.inner_mut().unwrap().push(7);
    /// assert_eq!(buffer.inner(), Some(&vec![7]));
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
    /// use futures::StreamExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let run_ids = futures::stream::repeat_with(tracectx::get_run_id).take(2);
    /// let mut stream = run_ids.in_trace_context(TraceContext::new("job_1")?);
    /// assert_eq!(stream.next().await.flatten().as_deref(), Some("job_1"));
    /// let mut bare = stream.into_inner().expect("a stream is never completed");
    /// assert_eq!(bare.next().await, Some(None)); // polled outside the context now
    /// # Ok(()) }
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.inner.take()
    }

    /// The inner value and the context, for adapters (such as the parallel iterator's) that
    /// consume the wrapper.
    #[cfg(feature = "rayon")]
    pub(crate) fn into_parts(mut self) -> (Option<T>, Option<TraceContext>) {
        (self.inner.take(), self.ctx.take())
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

impl<F: Future> FusedFuture for InTraceContext<F> {
    fn is_terminated(&self) -> bool {
        self.inner.is_none()
    }
}

impl<S: Stream> Stream for InTraceContext<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || match inner.as_pin_mut() {
            Some(stream) => stream.poll_next(cx),
            None => Poll::Ready(None),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), Stream::size_hint)
    }
}

impl<S: FusedStream> FusedStream for InTraceContext<S> {
    fn is_terminated(&self) -> bool {
        self.inner.as_ref().is_none_or(FusedStream::is_terminated)
    }
}

impl<S: Sink<Item>, Item> Sink<Item> for InTraceContext<S> {
    type Error = S::Error;

    #[track_caller]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || sink(inner).poll_ready(cx))
    }

    #[track_caller]
    fn start_send(self: Pin<&mut Self>, item: Item) -> Result<(), S::Error> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || sink(inner).start_send(item))
    }

    #[track_caller]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || sink(inner).poll_flush(cx))
    }

    #[track_caller]
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || sink(inner).poll_close(cx))
    }
}

/// An HTTP body (feature `http`) whose every `poll_frame`, and its drop, run in the context:
/// the frames of a streamed response (a gRPC server-streaming reply, a chunked download) are
/// made in the request's run, though the server's connection polls them after the handler
/// has returned. [`ExtractTraceContextLayer`](crate::propagation::ExtractTraceContextLayer)
/// wraps every response body so.
///
/// # Examples
///
/// ```
/// use std::task::Poll;
/// use http_body::{Body as _, Frame};
/// use http_body_util::{BodyExt as _, StreamBody};
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Each frame is made when the body is polled: here, in the run's context.
/// let mut left = 2;
/// let frames = futures::stream::poll_fn(move |_| {
///     let run = tracectx::get_run_id().map_or("-".to_owned(), |r| r.to_string());
///     left -= 1;
///     let frame = Frame::data(std::io::Cursor::new(run + ";"));
///     Poll::Ready((left >= 0).then_some(Ok::<_, std::convert::Infallible>(frame)))
/// });
/// let body = StreamBody::new(frames).in_trace_context(TraceContext::new("job_1")?);
/// assert!(!body.is_end_stream());
/// assert_eq!(body.collect().await?.to_bytes(), "job_1;job_1;");
/// # Ok(()) }
/// ```
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl<B: http_body::Body> http_body::Body for InTraceContext<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.ctx, || match inner.as_pin_mut() {
            Some(body) => body.poll_frame(cx),
            None => Poll::Ready(None),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map_or_else(
            || http_body::SizeHint::with_exact(0),
            http_body::Body::size_hint,
        )
    }
}

/// The inner sink. It is gone only when the same value was also a future and completed as one.
#[track_caller]
fn sink<S>(inner: Pin<&mut Option<S>>) -> Pin<&mut S> {
    inner
        .as_pin_mut()
        .expect("`InTraceContext` used as a sink after completing as a future")
}

impl<T> std::fmt::Debug for InTraceContext<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTraceContext")
            .field("context", &self.ctx)
            .finish_non_exhaustive()
    }
}

// === TraceStreamExt ===

/// Gives each item of a [`Stream`] its own child span: [`in_trace_context_per_item`] and
/// [`in_current_trace_context_per_item`].
///
/// For one context over the whole stream use [`TraceFutureExt::in_trace_context`]; its docs
/// say when to use which. The [prelude](crate::prelude) re-exports this trait.
///
/// [`in_trace_context_per_item`]: TraceStreamExt::in_trace_context_per_item
/// [`in_current_trace_context_per_item`]: TraceStreamExt::in_current_trace_context_per_item
///
/// # Examples
///
/// ```
/// use futures::StreamExt as _;
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// let session = TraceContext::new("live_1")?;
/// let spans: Vec<_> = futures::stream::iter(0..3)
///     .map(|_| tracectx::current().expect("in a child of the session"))
///     .in_trace_context_per_item(session.clone())
///     .collect()
///     .await;
/// for child in &spans {
///     assert_eq!(child.run_id(), "live_1");
///     assert_eq!(child.parent_span_id(), Some(session.span_id()));
/// }
/// assert_ne!(spans[0].span_id(), spans[1].span_id());
/// # Ok(()) }
/// ```
pub trait TraceStreamExt: Stream + Sized {
    /// Runs the work of each item of this stream in a fresh [`child`](TraceContext::child) of
    /// `ctx`: the same run and trace, a span of its own whose parent is `ctx`'s span.
    ///
    /// A child is made when work on an item begins (the first `poll_next` after the previous
    /// item) and stays current for every `poll_next` until that item is ready, so an item that
    /// takes several polls is one span. The items themselves are unchanged. Closures of
    /// adapters *inside* the wrapped stream run in the item's span, so put the handling there
    /// (`.then(handle).in_trace_context_per_item(ctx)`) for the handling to be part of the
    /// item's span. The stream is dropped in the span of the item in progress, if any (the
    /// work cancelled is that item's), else with `ctx` current.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let conn = TraceContext::new("conn_1")?;
    /// let handled: Vec<_> = futures::stream::iter(["GET /a", "GET /b"])
    ///     .then(|req| async move {
    ///         tokio::task::yield_now().await; // one span across the awaits of one request
    ///         (req, tracectx::current().unwrap().span_id())
    ///     })
    ///     .in_trace_context_per_item(conn.clone())
    ///     .collect()
    ///     .await;
    /// assert_ne!(handled[0].1, handled[1].1);
    /// assert!(handled.iter().all(|(_, span)| *span != conn.span_id()));
    /// # Ok(()) }
    /// ```
    fn in_trace_context_per_item(self, ctx: TraceContext) -> InTraceContextPerItem<Self> {
        InTraceContextPerItem::new(self, Some(ctx))
    }

    /// [`in_trace_context_per_item`](TraceStreamExt::in_trace_context_per_item) with the
    /// caller's current context, captured now. Made outside any scope, the items run with
    /// explicitly no context.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let ctx = TraceContext::new("feed_1")?;
    /// let items = ctx.sync_scope(|| {
    ///     futures::stream::iter(0..2)
    ///         .map(|_| tracectx::current().unwrap())
    ///         .in_current_trace_context_per_item()
    /// });
    /// let seen: Vec<_> = items.collect().await;
    /// assert!(seen.iter().all(|c| c.parent_span_id() == Some(ctx.span_id())));
    /// # Ok(()) }
    /// ```
    fn in_current_trace_context_per_item(self) -> InTraceContextPerItem<Self> {
        InTraceContextPerItem::new(self, scope::current())
    }
}

impl<S: Stream> TraceStreamExt for S {}

// === TraceSinkExt ===

/// Gives each item sent into a [`Sink`] its own child span: [`in_trace_context_per_send`] and
/// [`in_current_trace_context_per_send`].
///
/// A sink's work per item is its [`start_send`](Sink::start_send) (encoding, buffering,
/// routing the item): that call runs in a fresh [`child`](TraceContext::child) of the
/// context, so what it logs is filed under that item's span; readiness, flushing and closing
/// (which no one item owns) and the drop run in the context itself. For one context over the
/// whole sink use [`TraceFutureExt::in_trace_context`]. The [prelude](crate::prelude)
/// re-exports this trait.
///
/// [`in_trace_context_per_send`]: TraceSinkExt::in_trace_context_per_send
/// [`in_current_trace_context_per_send`]: TraceSinkExt::in_current_trace_context_per_send
///
/// # Examples
///
/// ```
/// use futures::SinkExt as _;
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = TraceContext::new("live_2")?;
/// let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// let seen = spans.clone();
/// let sink = futures::sink::drain().with(move |order: u32| {
///     seen.lock().unwrap().push(tracectx::current().expect("a child of the session"));
///     std::future::ready(Ok::<_, std::convert::Infallible>(order))
/// });
/// let mut sink = std::pin::pin!(sink.in_trace_context_per_send(orders.clone()));
/// sink.send(1).await?;
/// sink.send(2).await?;
/// let spans = spans.lock().unwrap();
/// assert!(spans.iter().all(|c| c.parent_span_id() == Some(orders.span_id())));
/// assert_ne!(spans[0].span_id(), spans[1].span_id());
/// # Ok(()) }
/// ```
pub trait TraceSinkExt<Item>: Sink<Item> + Sized {
    /// Sends each item of this sink in a fresh [`child`](TraceContext::child) of `ctx`: the
    /// same run and trace, a span of its own whose parent is `ctx`'s span. Readiness,
    /// flushing, closing and the drop run in `ctx`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::SinkExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ctx = TraceContext::new("fills_1")?;
    /// let mut sink = futures::sink::drain()
    ///     .with(|fill: u32| {
    ///         let span = tracectx::current().unwrap();
    ///         std::future::ready(Ok::<_, std::convert::Infallible>((fill, span)))
    ///     })
    ///     .in_trace_context_per_send(ctx.clone());
    /// sink.send(7).await?;
    /// assert_eq!(sink.context(), Some(&ctx));
    /// # Ok(()) }
    /// ```
    fn in_trace_context_per_send(self, ctx: TraceContext) -> InTraceContextPerItem<Self> {
        InTraceContextPerItem::new(self, Some(ctx))
    }

    /// [`in_trace_context_per_send`](TraceSinkExt::in_trace_context_per_send) with the
    /// caller's current context, captured now. Made outside any scope, the items are sent
    /// with explicitly no context.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::SinkExt as _;
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ctx = TraceContext::new("fills_2")?;
    /// let mut sink = ctx.sync_scope(|| {
    ///     futures::sink::drain()
    ///         .with(|fill: u32| {
    ///             assert_eq!(tracectx::get_run_id().as_deref(), Some("fills_2"));
    ///             std::future::ready(Ok::<_, std::convert::Infallible>(fill))
    ///         })
    ///         .in_current_trace_context_per_send()
    /// });
    /// sink.send(1).await?;
    /// # Ok(()) }
    /// ```
    fn in_current_trace_context_per_send(self) -> InTraceContextPerItem<Self> {
        InTraceContextPerItem::new(self, scope::current())
    }
}

impl<S: Sink<Item>, Item> TraceSinkExt<Item> for S {}

pin_project_lite::pin_project! {
    /// A stream whose every item is produced in its own child of a [`TraceContext`], or a sink
    /// whose every item is sent in one; made by [`TraceStreamExt`] and [`TraceSinkExt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt as _;
    /// use tracectx::{prelude::*, InTraceContextPerItem};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let ctx = TraceContext::new("feed_2")?;
    /// let stream: InTraceContextPerItem<_> = futures::stream::iter(0..2)
    ///     .map(|_| tracectx::current().unwrap().parent_span_id())
    ///     .in_trace_context_per_item(ctx.clone());
    /// assert_eq!(stream.collect::<Vec<_>>().await, [Some(ctx.span_id()); 2]);
    /// # Ok(()) }
    /// ```
    #[must_use = "streams and sinks do nothing unless polled"]
    pub struct InTraceContextPerItem<S> {
        parent: Option<TraceContext>,
        // The child of the item in progress; `None` between items (and with no parent).
        item: Option<TraceContext>,
        #[pin]
        inner: Option<S>,
    }

    impl<S> PinnedDrop for InTraceContextPerItem<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if std::mem::needs_drop::<S>() && this.inner.is_some() {
                let mut inner = this.inner;
                // An item in progress is dropped in its own span, as it was polled.
                let slot = if this.item.is_some() {
                    this.item
                } else {
                    this.parent
                };
                let _ = scope::try_enter(slot, || inner.set(None));
            }
        }
    }
}

// === impl InTraceContextPerItem ===

impl<S> InTraceContextPerItem<S> {
    fn new(inner: S, parent: Option<TraceContext>) -> Self {
        Self {
            parent,
            item: None,
            inner: Some(inner),
        }
    }

    /// The context whose children the items run in; `None` when they run with explicitly
    /// none.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let ctx = TraceContext::new("feed_3")?;
    /// let stream = futures::stream::iter([1]).in_trace_context_per_item(ctx.clone());
    /// assert_eq!(stream.context(), Some(&ctx));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn context(&self) -> Option<&TraceContext> {
        self.parent.as_ref()
    }

    /// A reference to the inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// let stream = futures::stream::iter([1, 2]).in_current_trace_context_per_item();
    /// assert_eq!(futures::Stream::size_hint(stream.inner()), (2, Some(2)));
    /// ```
    pub fn inner(&self) -> &S {
        self.inner
            .as_ref()
            .expect("the stream is only taken by `into_inner`")
    }

    /// A mutable reference to the inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt as _, executor::block_on};
    /// use tracectx::prelude::*;
    ///
    /// let mut stream = futures::stream::iter([1, 2]).in_current_trace_context_per_item();
    /// let bare: &mut futures::stream::Iter<_> = stream.inner_mut();
    /// assert_eq!(block_on(bare.next()), Some(1));
    /// assert_eq!(block_on(stream.next()), Some(2)); // what was taken through it is gone
    /// ```
    pub fn inner_mut(&mut self) -> &mut S {
        self.inner
            .as_mut()
            .expect("the stream is only taken by `into_inner`")
    }

    /// A pinned mutable reference to the inner stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    ///
    /// use futures::{StreamExt as _, executor::block_on};
    /// use tracectx::prelude::*;
    ///
    /// let mut stream = pin!(futures::stream::iter([1, 2]).in_current_trace_context_per_item());
    /// assert_eq!(block_on(stream.as_mut().inner_pin_mut().next()), Some(1));
    /// assert_eq!(block_on(stream.next()), Some(2));
    /// ```
    pub fn inner_pin_mut(self: Pin<&mut Self>) -> Pin<&mut S> {
        self.project()
            .inner
            .as_pin_mut()
            .expect("the stream is only taken by `into_inner`")
    }

    /// The inner stream, without its context.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt as _, executor::block_on};
    /// use tracectx::prelude::*;
    ///
    /// let stream = futures::stream::iter([1, 2]).in_current_trace_context_per_item();
    /// let bare: futures::stream::Iter<_> = stream.into_inner();
    /// assert_eq!(block_on(bare.collect::<Vec<_>>()), [1, 2]);
    /// ```
    pub fn into_inner(mut self) -> S {
        self.inner
            .take()
            .expect("the stream is only taken by `into_inner`")
    }
}

impl<S: Stream> Stream for InTraceContextPerItem<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if this.item.is_none() {
            *this.item = this.parent.as_ref().map(TraceContext::child);
        }
        let inner = this.inner;
        let res = scope::enter_slot(this.item, || match inner.as_pin_mut() {
            Some(stream) => stream.poll_next(cx),
            None => Poll::Ready(None),
        });
        if res.is_ready() {
            // The next item gets a span of its own.
            *this.item = None;
        }
        res
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.as_ref().map_or((0, Some(0)), Stream::size_hint)
    }
}

/// As a sink, each item is sent ([`start_send`](Sink::start_send)) in a fresh child of the
/// context, a span of its own per item; readiness, flushing and closing run in the context
/// itself, since they belong to no one item.
impl<S: Sink<Item>, Item> Sink<Item> for InTraceContextPerItem<S> {
    type Error = S::Error;

    #[track_caller]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.parent, || per_item_sink(inner).poll_ready(cx))
    }

    #[track_caller]
    fn start_send(self: Pin<&mut Self>, item: Item) -> Result<(), S::Error> {
        let this = self.project();
        let inner = this.inner;
        let mut child = this.parent.as_ref().map(TraceContext::child);
        scope::enter_slot(&mut child, || per_item_sink(inner).start_send(item))
    }

    #[track_caller]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.parent, || per_item_sink(inner).poll_flush(cx))
    }

    #[track_caller]
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        let this = self.project();
        let inner = this.inner;
        scope::enter_slot(this.parent, || per_item_sink(inner).poll_close(cx))
    }
}

/// The inner sink of an [`InTraceContextPerItem`]: taken only by `into_inner`, which consumes
/// the wrapper.
#[track_caller]
fn per_item_sink<S>(inner: Pin<&mut Option<S>>) -> Pin<&mut S> {
    inner
        .as_pin_mut()
        .expect("the sink is only taken by `into_inner`")
}

impl<S: FusedStream> FusedStream for InTraceContextPerItem<S> {
    fn is_terminated(&self) -> bool {
        self.inner.as_ref().is_none_or(FusedStream::is_terminated)
    }
}

impl<S> std::fmt::Debug for InTraceContextPerItem<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InTraceContextPerItem")
            .field("context", &self.parent)
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}
