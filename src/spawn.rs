//! Carrying the current [`TraceContext`] into new tasks and threads.
//!
//! Plain `tokio::spawn`, `spawn_blocking` and `std::thread::spawn` start with an empty
//! task-local slot: the new work does not know its run. The functions here capture the
//! caller's context and install it in the new task or thread.
//!
//! **Same span, not a child span.** The spawned work gets the caller's context itself (same run
//! id, trace id and span id), as `tracing`'s `in_current_span` gives a spawned task the caller's
//! span: spawning is how one operation uses concurrency, not a new operation. Where the new
//! task *is* a new step of the run, say so explicitly:
//! `tokio::spawn(fut.in_trace_context(ctx.child()))`. Keeping the handle also makes a spawn
//! cost one atomic increment instead of an allocation.
//!
//! **Outside any scope, explicitly none**: see the crate docs' section on it.
//!
//! **What a task returns leaves its scope.** Awaited through its `JoinHandle`, a task's output
//! is the awaiting code's. A detached task's (its handle dropped) is dropped by the runtime
//! right after the task's last poll, outside the task's scope, in whatever context the polling
//! thread has: none on a multi-thread runtime's workers and on the blocking pool, but the
//! driver's run on a current-thread runtime driven by `ctx.sync_scope(|| rt.block_on(..))` or
//! in a `LocalSet` whose `run_until` is awaited inside a scope. A detached task whose result
//! logs or reports when dropped (a connection, a guard) should drop it itself and return `()`.

use std::future::Future;

use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use crate::context::TraceContext;
use crate::future::InTraceContext;
use crate::scope;

/// Spawns `future` on the current tokio runtime with the caller's trace context.
///
/// The tokio counterpart that *forgets* the context is `tokio::spawn`; everything else
/// (panics, `JoinHandle`, abort) is the same. Called outside any scope, the task runs with
/// explicitly no context (see [the crate docs](crate#outside-any-scope-explicitly-none)).
///
/// # Panics
///
/// As `tokio::spawn`, when called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = TraceContext::new("backtest_ab12cd34")?;
/// async {
///     let traced = tracectx::spawn_traced(async { tracectx::get_run_id() });
///     let plain = tokio::spawn(async { tracectx::get_run_id() });
///     assert_eq!(traced.await?.as_deref(), Some("backtest_ab12cd34"));
///     assert_eq!(plain.await?, None); // plain tokio::spawn loses the context
///     Ok::<_, tokio::task::JoinError>(())
/// }
/// .in_trace_context(ctx)
/// .await?;
/// # Ok(()) }
/// ```
#[track_caller]
pub fn spawn_traced<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(InTraceContext::new(future, scope::current()))
}

/// Runs the blocking closure `f` on tokio's blocking pool with the caller's trace context.
///
/// # Panics
///
/// As `tokio::task::spawn_blocking`, when called outside a tokio runtime.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = tracectx::TraceContext::new("job_b")?;
/// let handle = ctx.sync_scope(|| tracectx::spawn_blocking_traced(tracectx::get_run_id));
/// assert_eq!(handle.await?.as_deref(), Some("job_b"));
/// # Ok(()) }
/// ```
#[track_caller]
pub fn spawn_blocking_traced<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(bind(f))
}

/// Spawns a `!Send` future on the current [`LocalSet`](tokio::task::LocalSet) with the
/// caller's trace context.
///
/// # Panics
///
/// As `tokio::task::spawn_local`, when called outside a `LocalSet`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = tracectx::TraceContext::new("job_l")?;
/// let local = tokio::task::LocalSet::new();
/// let run = local
///     .run_until(async move {
///         let rc = std::rc::Rc::new(()); // !Send is fine here
///         ctx.sync_scope(|| tracectx::spawn_local_traced(async move {
///             let _rc = rc;
///             tracectx::get_run_id()
///         }))
///         .await
///     })
///     .await?;
/// assert_eq!(run.as_deref(), Some("job_l"));
/// # Ok(()) }
/// ```
#[track_caller]
pub fn spawn_local_traced<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::spawn_local(InTraceContext::new(future, scope::current()))
}

/// Adds [`spawn_traced`](JoinSetExt::spawn_traced),
/// [`spawn_blocking_traced`](JoinSetExt::spawn_blocking_traced) and
/// [`spawn_local_traced`](JoinSetExt::spawn_local_traced) to tokio's [`JoinSet`].
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = TraceContext::new("sweep_1")?;
/// let mut set = tokio::task::JoinSet::new();
/// ctx.sync_scope(|| {
///     for _ in 0..3 {
///         set.spawn_traced(async { tracectx::get_run_id() });
///     }
/// });
/// while let Some(run) = set.join_next().await {
///     assert_eq!(run?.as_deref(), Some("sweep_1"));
/// }
/// # Ok(()) }
/// ```
pub trait JoinSetExt<T> {
    /// Spawns `future` into the set with the caller's trace context.
    ///
    /// # Panics
    ///
    /// As [`JoinSet::spawn`], when called outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut set = tokio::task::JoinSet::new();
    /// async { set.spawn_traced(async { tracectx::get_run_id() }) }
    ///     .in_trace_context(TraceContext::new("sweep_2")?)
    ///     .await;
    /// let run = set.join_next().await.expect("one task")?;
    /// assert_eq!(run.as_deref(), Some("sweep_2"));
    /// # Ok(()) }
    /// ```
    fn spawn_traced<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send;

    /// Runs `f` on tokio's blocking pool with the caller's trace context and adds it to the
    /// set, as [`JoinSet::spawn_blocking`].
    ///
    /// # Panics
    ///
    /// As [`JoinSet::spawn_blocking`], when called outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut set = tokio::task::JoinSet::new();
    /// TraceContext::new("sweep_3")?.sync_scope(|| set.spawn_blocking_traced(tracectx::get_run_id));
    /// let run = set.join_next().await.expect("one job")?;
    /// assert_eq!(run.as_deref(), Some("sweep_3"));
    /// # Ok(()) }
    /// ```
    fn spawn_blocking_traced<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send;

    /// Spawns a `!Send` `future` into the set, on the current
    /// [`LocalSet`](tokio::task::LocalSet), with the caller's trace context, as
    /// [`JoinSet::spawn_local`].
    ///
    /// # Panics
    ///
    /// As [`JoinSet::spawn_local`], when called outside a `LocalSet`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ctx = TraceContext::new("sweep_4")?;
    /// let local = tokio::task::LocalSet::new();
    /// let run = local
    ///     .run_until(async move {
    ///         let mut set = tokio::task::JoinSet::new();
    ///         let rc = std::rc::Rc::new(()); // !Send is fine here
    ///         ctx.sync_scope(|| {
    ///             set.spawn_local_traced(async move {
    ///                 let _rc = rc;
    ///                 tracectx::get_run_id()
    ///             })
    ///         });
    ///         set.join_next().await.expect("one task")
    ///     })
    ///     .await?;
    /// assert_eq!(run.as_deref(), Some("sweep_4"));
    /// # Ok(()) }
    /// ```
    fn spawn_local_traced<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static;
}

impl<T: 'static> JoinSetExt<T> for JoinSet<T> {
    #[track_caller]
    fn spawn_traced<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        self.spawn(InTraceContext::new(future, scope::current()))
    }

    #[track_caller]
    fn spawn_blocking_traced<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        self.spawn_blocking(bind(f))
    }

    #[track_caller]
    fn spawn_local_traced<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        self.spawn_local(InTraceContext::new(future, scope::current()))
    }
}

/// `std::thread` counterparts that carry the caller's trace context into the new thread.
///
/// A thread started with plain `std::thread::spawn` starts with no context.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_t")?;
/// let (traced, plain) = ctx.sync_scope(|| {
///     let traced = tracectx::thread::spawn(tracectx::get_run_id);
///     (traced, std::thread::spawn(tracectx::get_run_id))
/// });
/// assert_eq!(traced.join().unwrap().as_deref(), Some("job_t"));
/// assert_eq!(plain.join().unwrap(), None); // plain `std::thread::spawn` loses the context
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub mod thread {
    use std::io;
    use std::thread::{Builder, JoinHandle};

    /// Spawns an OS thread that runs `f` with the caller's trace context.
    ///
    /// # Panics
    ///
    /// As `std::thread::spawn`, when the OS cannot create a thread; use [`spawn_with`] to get
    /// the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_t")?;
    /// let handle = ctx.sync_scope(|| tracectx::thread::spawn(tracectx::get_run_id));
    /// assert_eq!(handle.join().unwrap().as_deref(), Some("job_t"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        std::thread::spawn(crate::bind(f))
    }

    /// Spawns an OS thread configured by `builder` (name, stack size) that runs `f` with the
    /// caller's trace context.
    ///
    /// # Errors
    ///
    /// The OS error when the thread cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_w")?;
    /// let builder = std::thread::Builder::new().name("worker".into());
    /// let handle = ctx.sync_scope(|| tracectx::thread::spawn_with(builder, tracectx::get_run_id))?;
    /// assert_eq!(handle.join().unwrap().as_deref(), Some("job_w"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_with<F, T>(builder: Builder, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        builder.spawn(crate::bind(f))
    }
}

/// Wraps a closure so that it runs with the caller's trace context, wherever it is called
/// later (a thread pool, a callback registry, `rayon`).
///
/// A closure dropped without being called (a blocking task cancelled before it started, a
/// callback never fired) is dropped in that context too: the destructors of what it captured
/// see its run, not whatever run was current where it was dropped.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_c")?;
/// let task = ctx.sync_scope(|| tracectx::bind(|| tracectx::get_run_id()));
/// assert_eq!(task().as_deref(), Some("job_c")); // called outside the scope
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
#[must_use = "the bound closure does nothing unless called"]
pub fn bind<F, R>(f: F) -> impl FnOnce() -> R
where
    F: FnOnce() -> R,
{
    let bound = Bound {
        ctx: scope::current(),
        f: Some(f),
    };
    move || bound.call()
}

/// A closure and the context it runs in, made by [`bind`].
struct Bound<F> {
    ctx: Option<TraceContext>,
    /// `None` once called.
    f: Option<F>,
}

impl<F> Bound<F> {
    fn call<R>(mut self) -> R
    where
        F: FnOnce() -> R,
    {
        let Some(f) = self.f.take() else {
            unreachable!("a bound closure is called once, and holds its closure until then")
        };
        scope::enter(self.ctx.take(), f)
    }
}

impl<F> Drop for Bound<F> {
    fn drop(&mut self) {
        // Never called: its captures are dropped in its context. Where no scope can be entered
        // (the thread's locals are being destroyed), they are dropped without one.
        if let Some(f) = self.f.take() {
            if std::mem::needs_drop::<F>() {
                let _ = scope::try_enter(&mut self.ctx, move || drop(f));
            }
        }
    }
}
