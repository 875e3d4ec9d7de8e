//! One identity per run of an async program.
//!
//! `tracectx` gives every unit of work (a backtest session, a live session, an HTTP request, a
//! CLI command) a [`TraceContext`]: a validated run id such as `backtest_ab12cd34`, a 128-bit
//! trace id shown as 8 hex characters, and span ids for nesting. Code sets it once at the edge
//! of the work; from then on everything that runs for that work, across `.await`, worker
//! threads, spawned tasks, blocking threads and plain threads, can read it, with no argument
//! threaded by hand and nothing leaking into other work.
//!
//! # Quick start
//!
//! ```
//! use tracectx::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async fn step() -> String {
//!     // No argument: the run is found, not passed.
//!     format!("working for {}", tracectx::get_run_id().as_deref().unwrap_or("-"))
//! }
//!
//! let ctx = TraceContext::generate("backtest");
//! let run_id = ctx.run_id().clone();
//! let said = async {
//!     let here = step().await;
//!     // A spawned task keeps the run; plain `tokio::spawn` would not.
//!     let there = tracectx::spawn_traced(step()).await?;
//!     assert_eq!(here, there);
//!     Ok::<_, tokio::task::JoinError>(here)
//! }
//! .in_trace_context(ctx)
//! .await?;
//! assert_eq!(said, format!("working for {run_id}"));
//! assert!(tracectx::current().is_none()); // the scope has ended
//! # Ok(()) }
//! ```
//!
//! # Where the context lives
//!
//! The context sits in a task-local slot that works as a [`tokio::task_local!`] does, one
//! pointer wide. [`TraceFutureExt::in_trace_context`] puts it in place on every poll of a
//! future, stream or sink (and while it is dropped), [`TraceContext::sync_scope`] for a
//! synchronous closure; [`TraceStreamExt::in_trace_context_per_item`] gives each item of a
//! stream a child span, [`TraceSinkExt::in_trace_context_per_send`] each item sent into a
//! sink. [`spawn_traced`], [`spawn_blocking_traced`], [`spawn_local_traced`],
//! [`JoinSetExt::spawn_traced`] and [`thread::spawn`] carry it into new tasks and threads; an
//! [`Envelope`] and the channels of [`sync`] carry it with a message to another task. With
//! the `rayon` feature, parallel iterators and
//! `tracectx::rayon::{spawn, spawn_fifo, scope, in_place_scope, join}` carry it onto rayon's
//! pool; with the `hyper` feature, `TracedExecutor` into the tasks hyper spawns.
//! Outside any scope the accessors ([`current`], [`with_current`], [`get_run_id`],
//! [`get_trace_id`]) return `None`; nothing panics.
//!
//! # Outside any scope, explicitly none
//!
//! Work that the crate's helpers spawn outside any scope runs with no context, on every poll,
//! even when the thread that polls it is inside a scope. That happens more than it seems: a
//! `LocalSet` whose `run_until` is awaited inside a run polls its tasks inside that run's
//! scope, and so does a current-thread runtime driven by `ctx.sync_scope(|| rt.block_on(..))`.
//! A task spawned there with plain `tokio::spawn` or `spawn_local` has no scope of its own, so
//! it reads the run of whatever drives it at that moment (run A on one poll, run B on the
//! next; on a multi-thread runtime's workers, nothing): ids that are not its own. The same
//! holds for futures made with [`in_current_trace_context`](TraceFutureExt::in_current_trace_context)
//! outside any scope.
//!
//! Code bases that want every spawn traced can forbid the plain functions with clippy's
//! [`disallowed-methods`] in `clippy.toml`:
//!
//! ```toml
//! disallowed-methods = [
//!     { path = "tokio::spawn", reason = "use tracectx::spawn_traced, which carries the run" },
//!     { path = "tokio::task::spawn_local", reason = "use tracectx::spawn_local_traced" },
//!     { path = "tokio::task::spawn_blocking", reason = "use tracectx::spawn_blocking_traced" },
//!     { path = "tokio::task::JoinSet::spawn", reason = "use tracectx::JoinSetExt::spawn_traced" },
//!     { path = "std::thread::spawn", reason = "use tracectx::thread::spawn" },
//! ]
//! ```
//!
//! [`disallowed-methods`]: https://rust-lang.github.io/rust-clippy/master/index.html#disallowed_methods
//!
//! # Errors and reproducible runs
//!
//! An [`Error`] built inside a scope captures the run and trace ids and shows them in its
//! message, so it names its run after it has left it (returned through a `JoinHandle`, logged
//! later); [`Traced<E>`] does the same for any error type ([`TracedErrorExt::in_current_trace`]),
//! and [`enrich_error_with_trace`] adds the ids to an error made outside any scope. See
//! [`error`]. With the `repro` feature, `repro::ReproContext` records a run's seed,
//! configuration and environment, gives it a generator whose sequence never changes for a
//! seed, and saves it as JSON; see the `repro` module.
//!
//! # Logs
//!
//! With the `logging` feature (on by default), `logging::configure_logging()` stamps every
//! `tracing` event with its run:
//! `[2024-01-01T10:00:00.000000Z] [backtest_abc123] [a1b2c3d4] INFO target - message k=v`, and
//! `tracectx logs <run_id> app.log` (the `tracectx-cli` package) reads one run's lines back.
//! See the `logging` module.
//!
//! # Across processes
//!
//! [`propagation`] carries the context to other processes as W3C Trace Context and Baggage
//! (the run id in `baggage`): HTTP and gRPC through tower layers, NATS message headers, a child
//! process's environment ([`propagation::CommandExt`], [`propagation::extract_env`]), and any
//! other transport through its `Injector`/`Extractor`. Every outgoing call is a span of its
//! own; a receiving side decides with a [`propagation::RunPolicy`] whether a caller may choose
//! the run its work is filed under.
//!
//! # Traces and metrics
//!
//! The ids are OpenTelemetry's: with the `opentelemetry` feature, `otel::layer` makes the
//! `tracing` spans of a scope join its trace (the 8 characters of a log line are the tail of
//! the trace id a tracer shows) with the run id as an attribute, and `otel::init_otlp` exports
//! them to a collector. With the `prometheus` feature, `metrics::Metrics` records operation
//! durations labelled with the run id (under a cap on distinct runs) and the trace id as an
//! OpenMetrics exemplar.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod context;
mod envelope;
pub mod error;
pub mod escape;
#[cfg(feature = "hyper")]
mod executor;
mod future;
pub mod propagation;
#[cfg(feature = "rayon")]
#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
pub mod rayon;
#[cfg(feature = "repro")]
#[cfg_attr(docsrs, doc(cfg(feature = "repro")))]
pub mod repro;
mod scope;
mod spawn;
pub mod sync;
pub mod time;

#[cfg(feature = "logging")]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
pub mod logging;

#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub mod otel;

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod metrics;

pub use context::{
    InvalidId, InvalidIdReason, MAX_RUN_ID_LEN, RunId, ShortTraceId, SpanId, TraceContext,
    TraceFlags, TraceId,
};
pub use envelope::Envelope;
pub use error::{
    Error, ErrorContext, ErrorKind, ExtractErrorContext, Traced, TracedErrorExt, TracedResultExt,
    enrich_error_with_trace,
};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use executor::TracedExecutor;
pub use future::{
    InTraceContext, InTraceContextPerItem, TraceFutureExt, TraceSinkExt, TraceStreamExt,
};
#[cfg(feature = "repro")]
#[cfg_attr(docsrs, doc(cfg(feature = "repro")))]
pub use repro::ReproContext;
pub use scope::{current, get_run_id, get_trace_id, with_current};
pub use spawn::{
    JoinSetExt, bind, spawn_blocking_traced, spawn_local_traced, spawn_traced, thread,
};

/// What user code needs in one line: `use tracectx::prelude::*;`.
///
/// The context type and the extension traits, imported without their names so they never
/// clash with other `FutureExt`s.
pub mod prelude {
    pub use crate::context::TraceContext;
    pub use crate::error::{ExtractErrorContext as _, TracedErrorExt as _, TracedResultExt as _};
    pub use crate::future::{TraceFutureExt as _, TraceSinkExt as _, TraceStreamExt as _};
    pub use crate::spawn::JoinSetExt as _;
}

/// The README's example runs as a doctest, so it cannot drift from the crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
