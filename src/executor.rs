//! [`TracedExecutor`]: an executor for libraries that spawn for you (hyper's connection tasks
//! and HTTP/2 streams) whose tasks keep the trace context in force where they were started.

use std::future::Future;

use crate::future::InTraceContext;
use crate::scope;

/// A [`hyper::rt::Executor`] around any executor `E`, which runs every future it is given with
/// the trace context current where hyper handed it over.
///
/// hyper spawns through an executor: a client's connection tasks, a server's HTTP/2 streams
/// (where the request handlers run). A plain executor spawns them bare, and their log lines
/// lose the run. Wrapped in `TracedExecutor`, each task is spawned as
/// [`in_current_trace_context`](crate::TraceFutureExt::in_current_trace_context) of it: the
/// context of the code that was running when hyper spawned (the server's connection task, the
/// client call that opened a connection), or explicitly none outside any scope. Opt-in, as
/// hyper-util's maintainers want it: wrap the executor you already pass.
///
/// A pooled client connection is started by the call that first needed it and outlives it:
/// its task keeps that call's context for its whole life, while later calls that reuse the
/// connection keep their own in their own tasks. For a connection per run, give each run a
/// client of its own.
///
/// # Examples
///
/// A server whose HTTP/2 request handlers (run in tasks hyper spawns) read the connection's
/// run:
///
/// ```no_run
/// use hyper_util::rt::{TokioExecutor, TokioIo};
/// use hyper_util::server::conn::auto;
/// use tracectx::prelude::*;
/// use tracectx::TracedExecutor;
///
/// # #[allow(dead_code)]
/// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let conn = TraceContext::generate("conn");
///     tokio::spawn(
///         async move {
///             let service = hyper::service::service_fn(|_req| async {
///                 let run = tracectx::get_run_id().map(|r| r.to_string()).unwrap_or_default();
///                 Ok::<_, std::convert::Infallible>(hyper::Response::new(run))
///             });
///             auto::Builder::new(TracedExecutor::new(TokioExecutor::new()))
///                 .serve_connection(TokioIo::new(stream), service)
///                 .await
///         }
///         .in_trace_context(conn),
///     );
/// }
/// # }
/// ```
///
/// Spawning through it:
///
/// ```
/// use hyper::rt::Executor as _;
/// use hyper_util::rt::TokioExecutor;
/// use tracectx::TracedExecutor;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let exec = TracedExecutor::new(TokioExecutor::new());
/// let ctx = tracectx::TraceContext::new("conn_1")?;
/// ctx.sync_scope(|| exec.execute(async move { tx.send(tracectx::get_run_id()).ok(); }));
/// assert_eq!(rx.await?.as_deref(), Some("conn_1"));
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TracedExecutor<E> {
    inner: E,
}

// === impl TracedExecutor ===

impl<E> TracedExecutor<E> {
    /// Wraps `inner`, the executor that does the spawning.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::rt::Executor as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let exec = tracectx::TracedExecutor::new(hyper_util::rt::TokioExecutor::new());
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let ctx = tracectx::TraceContext::new("conn_2")?;
    /// // Handed over in the scope, run later by the runtime: still in conn_2.
    /// ctx.sync_scope(|| exec.execute(async move { tx.send(tracectx::get_run_id()).ok(); }));
    /// assert_eq!(rx.await?.as_deref(), Some("conn_2"));
    /// # Ok(()) }
    /// ```
    pub const fn new(inner: E) -> Self {
        Self { inner }
    }

    /// The wrapped executor.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = tracectx::TracedExecutor::new(hyper_util::rt::TokioExecutor::new());
    /// let _inner: &hyper_util::rt::TokioExecutor = exec.inner();
    /// ```
    pub const fn inner(&self) -> &E {
        &self.inner
    }

    /// The wrapped executor, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = tracectx::TracedExecutor::new(hyper_util::rt::TokioExecutor::new());
    /// let _inner: hyper_util::rt::TokioExecutor = exec.into_inner();
    /// ```
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E, F> hyper::rt::Executor<F> for TracedExecutor<E>
where
    E: hyper::rt::Executor<InTraceContext<F>>,
    F: Future,
{
    fn execute(&self, fut: F) {
        self.inner
            .execute(InTraceContext::new(fut, scope::current()));
    }
}
