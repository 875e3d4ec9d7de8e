//! [`Envelope<T>`]: a value with the trace context of the code that sent it.

use std::fmt;
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::ptr;

use crate::context::TraceContext;
use crate::future::InTraceContext;
use crate::scope;

/// A value sent to another task (an actor, a connection task, a writer task) together with the
/// trace context of its sender, or with none.
///
/// A channel carries values, not the context of whoever sent them: the task that receives a
/// request works in its own context, and its log lines lose the request's run. An envelope
/// keeps the two together. [`capture`](Envelope::capture) records the sender's context (or
/// none); the receiver reads it with [`context`](Envelope::context), or handles the value
/// inside it with [`sync_scope`](Envelope::sync_scope) or [`scope`](Envelope::scope). The
/// receiving task itself stays in its own context. [`tracectx::sync`](crate::sync) has
/// channels that put every value in an envelope for you.
///
/// # A child span per message
///
/// `sync_scope` and `scope` run the handling in a [`child`](TraceContext::child) of the
/// sender's context (the same run and trace, a new span whose parent is the sender's), not in
/// the sender's span itself. Handling a message is a new operation of the run, done later, on
/// another task, possibly more than once (a retry, a fan-out to several workers): as a span of
/// its own it shows in a trace as a step after the send, and no two handlings share a span id.
/// An actor that handles messages of many runs for its whole life never grows one endless
/// span either. To work in the sender's span itself, take the parts:
/// `let (msg, ctx) = env.into_parts();` then [`in_trace_context`] with `ctx`.
///
/// [`in_trace_context`]: crate::TraceFutureExt::in_trace_context
///
/// # Dropped unhandled, in the sender's context
///
/// An envelope dropped with its value still in it (a message queued when the receiver stops,
/// a reply no one waited for, a `send` cancelled while waiting for capacity) drops the value
/// with the sender's context current, wherever that happens: the destructor of a request
/// that answers "cancelled" or logs that it was never handled belongs to the request's run,
/// not to the run of the task that happened to drop the queue. This is what
/// [`InTraceContext`] does for a future dropped before it completes.
///
/// ```
/// use tracectx::{Envelope, TraceContext};
///
/// struct Request(std::sync::mpsc::Sender<Option<tracectx::RunId>>);
/// impl Drop for Request {
///     fn drop(&mut self) { let _ = self.0.send(tracectx::get_run_id()); }
/// }
///
/// let (tx, rx) = std::sync::mpsc::channel();
/// let env = TraceContext::new("request_7")?.sync_scope(|| Envelope::capture(Request(tx)));
/// TraceContext::new("actor")?.sync_scope(|| drop(env)); // never handled
/// assert_eq!(rx.recv().unwrap().as_deref(), Some("request_7"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
/// use tracectx::Envelope;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = tokio::sync::mpsc::channel::<Envelope<&str>>(8);
///
/// // The writer task has no run of its own; each line it writes belongs to its sender's.
/// let writer = tokio::spawn(async move {
///     let mut written = Vec::new();
///     while let Some(env) = rx.recv().await {
///         written.push(env.sync_scope(|line| format!("[{}] {line}", tracectx::get_run_id().unwrap())));
///     }
///     written
/// });
/// let request = TraceContext::new("request_42")?;
/// async { tx.send(Envelope::capture("accepted")).await }.in_trace_context(request).await?;
/// drop(tx);
/// assert_eq!(writer.await?, ["[request_42] accepted"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Envelope<T> {
    /// Dropped by hand, in the sender's context, or moved out by the methods that consume the
    /// envelope ([`Envelope::take`]): never both.
    value: ManuallyDrop<T>,
    ctx: Option<TraceContext>,
}

// `unsafe`, as tracing's `Instrumented` has it for the same job: a value that must be dropped
// inside a scope and can also be taken out by value. An `Option` would do it safely, but makes
// every message of a type without a niche (an integer, a tuple of them) a word larger, which
// costs a tenth of a channel's round trip.
#[allow(unsafe_code)]
impl<T> Drop for Envelope<T> {
    fn drop(&mut self) {
        if !mem::needs_drop::<T>() {
            return;
        }
        let value = &mut self.value;
        let mut drop_value = || {
            // SAFETY: the value is dropped here once and never used again: `drop` runs at most
            // once, and never for an envelope whose value `take` moved out.
            unsafe { ManuallyDrop::drop(value) }
        };
        // Where no scope can be entered (the thread's locals are being destroyed), the value
        // is dropped without its context.
        if scope::try_enter(&mut self.ctx, &mut drop_value).is_err() {
            drop_value();
        }
    }
}

// === impl Envelope ===

impl<T> Envelope<T> {
    /// Puts `value` in an envelope with the current context, or with none outside any scope.
    ///
    /// Cloning the context is an atomic increment; nothing is allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Envelope, TraceContext};
    ///
    /// let ctx = TraceContext::new("job_1")?;
    /// let env = ctx.sync_scope(|| Envelope::capture(7));
    /// assert_eq!(env.context(), Some(&ctx));
    /// assert_eq!(Envelope::capture(7).context(), None);
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn capture(value: T) -> Self {
        Self::new(value, scope::current())
    }

    /// Puts `value` in an envelope with `ctx` (`None`: explicitly no context).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Envelope, TraceContext};
    ///
    /// let ctx = TraceContext::new("job_2")?;
    /// let env = Envelope::new("order", Some(ctx.child()));
    /// assert_eq!(env.context().unwrap().parent_span_id(), Some(ctx.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn new(value: T, ctx: Option<TraceContext>) -> Self {
        Self {
            value: ManuallyDrop::new(value),
            ctx,
        }
    }

    /// The value and the context, moved out of the envelope, whose `Drop` then never runs.
    #[allow(unsafe_code)]
    fn take(self) -> (T, Option<TraceContext>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped nor used again, so each field is moved out once.
        unsafe { (ManuallyDrop::take(&mut this.value), ptr::read(&this.ctx)) }
    }

    /// The context the value was sent with; `None` when it was sent outside any scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_3")?;
    /// let env = ctx.sync_scope(|| tracectx::Envelope::capture(()));
    /// assert_eq!(env.context().map(|c| c.run_id().as_str()), Some("job_3"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn context(&self) -> Option<&TraceContext> {
        self.ctx.as_ref()
    }

    /// A reference to the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let env = tracectx::Envelope::capture(7);
    /// assert_eq!(*env.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// A mutable reference to the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut env = tracectx::Envelope::capture(7);
    /// *env.get_mut() += 1;
    /// assert_eq!(env.into_inner(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The value, without its context.
    ///
    /// # Examples
    ///
    /// ```
    /// let env = tracectx::Envelope::capture("fill");
    /// assert_eq!(env.into_inner(), "fill");
    /// ```
    pub fn into_inner(self) -> T {
        self.take().0
    }

    /// The value and the context it was sent with.
    ///
    /// # Examples
    ///
    /// Handling a message in the sender's own span rather than a child of it:
    ///
    /// ```
    /// use tracectx::prelude::*;
    /// use tracectx::Envelope;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let sender = TraceContext::new("job_4")?;
    /// let env = sender.sync_scope(|| Envelope::capture("ping"));
    /// let (msg, ctx) = env.into_parts();
    /// let span = match ctx {
    ///     Some(ctx) => async { tracectx::current().map(|c| c.span_id()) }.in_trace_context(ctx).await,
    ///     None => None,
    /// };
    /// assert_eq!((msg, span), ("ping", Some(sender.span_id())));
    /// # Ok(()) }
    /// ```
    pub fn into_parts(self) -> (T, Option<TraceContext>) {
        self.take()
    }

    /// The envelope of `f(value)`, with the same context.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_5")?;
    /// let env = ctx.sync_scope(|| tracectx::Envelope::capture(2)).map(|n| n * 10);
    /// assert_eq!((env.get_ref(), env.context()), (&20, Some(&ctx)));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Envelope<U> {
        let (value, ctx) = self.take();
        Envelope::new(f(value), ctx)
    }

    /// Runs the synchronous `f` on the value in a child span of the sender's context (see
    /// [the type's docs](Envelope#a-child-span-per-message) for why a child), on the calling
    /// thread. A value sent outside any scope is handled with explicitly no context, even
    /// where the caller is inside one. The caller's own context is back afterwards.
    ///
    /// # Panics
    ///
    /// As [`TraceContext::sync_scope`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Envelope, TraceContext};
    ///
    /// let sender = TraceContext::new("job_6")?;
    /// let env = sender.sync_scope(|| Envelope::capture(3));
    /// let receiver = TraceContext::new("actor")?;
    /// let (n, seen) = receiver.sync_scope(|| env.sync_scope(|n| (n, tracectx::current().unwrap())));
    /// assert_eq!((n, seen.run_id().as_str()), (3, "job_6"));
    /// assert_eq!(seen.parent_span_id(), Some(sender.span_id()));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[track_caller]
    pub fn sync_scope<R>(self, f: impl FnOnce(T) -> R) -> R {
        let (value, ctx) = self.take();
        scope::enter(ctx.as_ref().map(TraceContext::child), || f(value))
    }

    /// Calls `f` with the value and runs the future it returns in a child span of the
    /// sender's context (the same child for the call and every poll of the future). A value
    /// sent outside any scope is handled with explicitly no context.
    ///
    /// # Panics
    ///
    /// As [`TraceContext::sync_scope`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::{Envelope, TraceContext};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let env = TraceContext::new("job_7")?.sync_scope(|| Envelope::capture("order"));
    /// let run = env
    ///     .scope(|order| async move {
    ///         tokio::task::yield_now().await;
    ///         format!("{order} for {}", tracectx::get_run_id().unwrap())
    ///     })
    ///     .await;
    /// assert_eq!(run, "order for job_7");
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn scope<F, Fut>(self, f: F) -> InTraceContext<Fut>
    where
        F: FnOnce(T) -> Fut,
        Fut: Future,
    {
        let (value, ctx) = self.take();
        let mut child = ctx.as_ref().map(TraceContext::child);
        let fut = scope::enter_slot(&mut child, || f(value));
        InTraceContext::new(fut, child)
    }
}

impl<T: fmt::Debug> fmt::Debug for Envelope<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("value", &*self.value)
            .field("context", &self.ctx)
            .finish()
    }
}
