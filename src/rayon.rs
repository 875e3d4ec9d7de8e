//! CPU-bound work on rayon's pool with the caller's trace context.
//!
//! A pool thread has no scope of its own, so a closure run there reads no context: the log
//! lines of a parameter sweep lose their run.
//! This module carries the caller's context onto the pool:
//!
//! - through the [prelude](crate::prelude), `in_current_trace_context()` (and
//!   `in_trace_context(ctx)`) on every [`ParallelIterator`]: the
//!   [`InTraceContext`] it returns is a parallel iterator (an indexed one when the inner one
//!   is) whose every item, and the closures of the adapters after it (`map`, `filter`,
//!   `flat_map`, `fold`, `reduce`, `for_each`, `collect`, `sum` ...), run with the context on
//!   whichever pool thread takes them;
//! - [`spawn`], [`scope`] and [`join`]: rayon's functions of the same names, carrying the
//!   caller's context into every closure they run.
//!
//! Two callers running parallel iterators in two runs at once on the same pool never see each
//! other's run: the context travels with each piece of work, not with the thread.
//!
//! # Where to put it
//!
//! Right after the source, `items.par_iter().in_current_trace_context()`, so that everything
//! after it runs in the context. Closures of adapters placed *before* it are not carried:
//! rayon runs them in folders of its own, outside this adapter's reach, so a `filter`,
//! `filter_map` or `flat_map` ahead of it judges its items on a pool thread with no context
//! (or, on a thread waiting inside another traced closure, with that closure's).
//!
//! The exception is the indexed adapters that rebuild the iterator of each piece themselves
//! (`enumerate`, `zip`, `rev`, `step_by`, `chunks`, `interleave`): where one of them comes
//! later in the chain, the items up to `in_current_trace_context()` are still made in the
//! context, but the closures after it run outside. Put `in_current_trace_context()` after the
//! last of those adapters (`items.par_iter().enumerate().in_current_trace_context().map(..)`).
//!
//! [`ThreadPool::install`](::rayon::ThreadPool::install) runs its closure on a pool thread,
//! where there is no context to capture: give it one with [`bind`](crate::bind),
//! `pool.install(tracectx::bind(|| ...))`.
//!
//! While a pool thread waits inside a traced closure (a nested `join` or parallel iterator),
//! rayon may have it run other queued work meanwhile. Work made by this module enters its own
//! context there; plain rayon work run that way sees the waiting closure's context, as a plain
//! `tokio::spawn` task sees the scope of whatever drives it. Carry every piece of work with
//! this module where that matters.
//!
//! # Examples
//!
//! ```
//! use rayon::prelude::*;
//! use tracectx::prelude::*;
//!
//! let ctx = TraceContext::new("sweep_1")?;
//! let runs: Vec<_> = ctx.sync_scope(|| {
//!     (0..1_000)
//!         .into_par_iter()
//!         .in_current_trace_context()
//!         .map(|_| tracectx::get_run_id())
//!         .collect()
//! });
//! assert!(runs.iter().all(|run| run.as_deref() == Some("sweep_1")));
//! # Ok::<(), tracectx::InvalidId>(())
//! ```

use std::fmt;

use ::rayon::iter::plumbing::{
    Consumer, Folder, Producer, ProducerCallback, Reducer, UnindexedConsumer,
};
use ::rayon::iter::{IndexedParallelIterator, ParallelIterator};

use crate::context::TraceContext;
use crate::future::InTraceContext;
use crate::scope;

/// The inner value of an `InTraceContext` is taken only by a future completing, and a parallel
/// iterator is not a future.
const TAKEN: &str = "`InTraceContext` driven as a parallel iterator after completing as a future";

// === impl InTraceContext (parallel iterator) ===

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<I: ParallelIterator> ParallelIterator for InTraceContext<I> {
    type Item = I::Item;

    fn drive_unindexed<C>(self, consumer: C) -> C::Result
    where
        C: UnindexedConsumer<Self::Item>,
    {
        let (inner, ctx) = self.into_parts();
        inner.expect(TAKEN).drive_unindexed(ContextConsumer {
            base: consumer,
            ctx,
        })
    }

    fn opt_len(&self) -> Option<usize> {
        self.inner().and_then(ParallelIterator::opt_len)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
impl<I: IndexedParallelIterator> IndexedParallelIterator for InTraceContext<I> {
    fn drive<C>(self, consumer: C) -> C::Result
    where
        C: Consumer<Self::Item>,
    {
        let (inner, ctx) = self.into_parts();
        inner.expect(TAKEN).drive(ContextConsumer {
            base: consumer,
            ctx,
        })
    }

    fn len(&self) -> usize {
        self.inner().map_or(0, IndexedParallelIterator::len)
    }

    fn with_producer<CB>(self, callback: CB) -> CB::Output
    where
        CB: ProducerCallback<Self::Item>,
    {
        let (inner, ctx) = self.into_parts();
        inner
            .expect(TAKEN)
            .with_producer(ContextCallback { callback, ctx })
    }
}

// === consumers: the work after the adapter ===

/// Hands every folder and reducer a clone of the context (one per split, none per item).
struct ContextConsumer<C> {
    base: C,
    ctx: Option<TraceContext>,
}

impl<T, C: Consumer<T>> Consumer<T> for ContextConsumer<C> {
    type Folder = ContextFolder<C::Folder>;
    type Reducer = ContextReducer<C::Reducer>;
    type Result = C::Result;

    fn split_at(self, index: usize) -> (Self, Self, Self::Reducer) {
        let (left, right, reducer) = self.base.split_at(index);
        (
            ContextConsumer {
                base: left,
                ctx: self.ctx.clone(),
            },
            ContextConsumer {
                base: right,
                ctx: self.ctx.clone(),
            },
            ContextReducer {
                base: reducer,
                ctx: self.ctx,
            },
        )
    }

    fn into_folder(self) -> Self::Folder {
        let Self { base, mut ctx } = self;
        // Making a folder may run user code (`fold`'s identity, `map_init`'s init).
        let base = scope::enter_slot(&mut ctx, || base.into_folder());
        ContextFolder { base, ctx }
    }

    fn full(&self) -> bool {
        self.base.full()
    }
}

impl<T, C: UnindexedConsumer<T>> UnindexedConsumer<T> for ContextConsumer<C> {
    fn split_off_left(&self) -> Self {
        ContextConsumer {
            base: self.base.split_off_left(),
            ctx: self.ctx.clone(),
        }
    }

    fn to_reducer(&self) -> Self::Reducer {
        ContextReducer {
            base: self.base.to_reducer(),
            ctx: self.ctx.clone(),
        }
    }
}

struct ContextFolder<F> {
    base: F,
    ctx: Option<TraceContext>,
}

impl<T, F: Folder<T>> Folder<T> for ContextFolder<F> {
    type Result = F::Result;

    fn consume(self, item: T) -> Self {
        let Self { base, mut ctx } = self;
        let base = scope::enter_slot(&mut ctx, || base.consume(item));
        Self { base, ctx }
    }

    fn consume_iter<I>(self, iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
    {
        // One scope for the whole piece: the items upstream are made lazily inside it.
        let Self { base, mut ctx } = self;
        let base = scope::enter_slot(&mut ctx, || base.consume_iter(iter));
        Self { base, ctx }
    }

    fn complete(self) -> F::Result {
        let Self { base, mut ctx } = self;
        scope::enter_slot(&mut ctx, || base.complete())
    }

    fn full(&self) -> bool {
        self.base.full()
    }
}

struct ContextReducer<R> {
    base: R,
    ctx: Option<TraceContext>,
}

impl<T, R: Reducer<T>> Reducer<T> for ContextReducer<R> {
    fn reduce(self, left: T, right: T) -> T {
        let Self { base, mut ctx } = self;
        scope::enter_slot(&mut ctx, || base.reduce(left, right))
    }
}

// === producers: the items themselves, for indexed adapters after this one ===

struct ContextCallback<CB> {
    callback: CB,
    ctx: Option<TraceContext>,
}

impl<T, CB: ProducerCallback<T>> ProducerCallback<T> for ContextCallback<CB> {
    type Output = CB::Output;

    fn callback<P>(self, base: P) -> CB::Output
    where
        P: Producer<Item = T>,
    {
        self.callback.callback(ContextProducer {
            base,
            ctx: self.ctx,
        })
    }
}

struct ContextProducer<P> {
    base: P,
    ctx: Option<TraceContext>,
}

impl<P: Producer> Producer for ContextProducer<P> {
    type Item = P::Item;
    type IntoIter = ContextIter<P::IntoIter>;

    fn into_iter(self) -> Self::IntoIter {
        let Self { base, mut ctx } = self;
        let base = scope::enter_slot(&mut ctx, || base.into_iter());
        ContextIter { base, ctx }
    }

    fn min_len(&self) -> usize {
        self.base.min_len()
    }

    fn max_len(&self) -> usize {
        self.base.max_len()
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let (left, right) = self.base.split_at(index);
        (
            ContextProducer {
                base: left,
                ctx: self.ctx.clone(),
            },
            ContextProducer {
                base: right,
                ctx: self.ctx,
            },
        )
    }

    fn fold_with<F>(self, folder: F) -> F
    where
        F: Folder<Self::Item>,
    {
        // Adapters that fold through their base (`map`, `filter`, `inspect` ...) run their
        // closures inside this scope.
        let Self { base, mut ctx } = self;
        scope::enter_slot(&mut ctx, || base.fold_with(folder))
    }
}

/// The items of one piece, each made with the context current.
struct ContextIter<I> {
    base: I,
    ctx: Option<TraceContext>,
}

impl<I: Iterator> Iterator for ContextIter<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let Self { base, ctx } = self;
        scope::enter_slot(ctx, || base.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.base.size_hint()
    }

    fn fold<B, G>(self, init: B, g: G) -> B
    where
        G: FnMut(B, I::Item) -> B,
    {
        let Self { base, mut ctx } = self;
        scope::enter_slot(&mut ctx, || base.fold(init, g))
    }
}

impl<I: DoubleEndedIterator> DoubleEndedIterator for ContextIter<I> {
    fn next_back(&mut self) -> Option<I::Item> {
        let Self { base, ctx } = self;
        scope::enter_slot(ctx, || base.next_back())
    }

    fn rfold<B, G>(self, init: B, g: G) -> B
    where
        G: FnMut(B, I::Item) -> B,
    {
        let Self { base, mut ctx } = self;
        scope::enter_slot(&mut ctx, || base.rfold(init, g))
    }
}

impl<I: ExactSizeIterator> ExactSizeIterator for ContextIter<I> {
    fn len(&self) -> usize {
        self.base.len()
    }
}

// === spawn, scope, join ===

/// Runs `f` on rayon's global pool with the caller's trace context, as
/// rayon's [`spawn`](::rayon::spawn).
///
/// Outside any scope `f` runs with explicitly no context.
///
/// # Examples
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// let ctx = tracectx::TraceContext::new("job_r")?;
/// ctx.sync_scope(|| tracectx::rayon::spawn(move || tx.send(tracectx::get_run_id()).unwrap()));
/// assert_eq!(rx.recv().unwrap().as_deref(), Some("job_r"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn spawn<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    ::rayon::spawn(crate::bind(f));
}

/// Runs `f` on rayon's global pool with the caller's trace context, as rayon's
/// [`spawn_fifo`](::rayon::spawn_fifo): first in, first out among the calling thread's
/// spawns.
///
/// Outside any scope `f` runs with explicitly no context.
///
/// # Examples
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// let ctx = tracectx::TraceContext::new("job_f")?;
/// ctx.sync_scope(|| tracectx::rayon::spawn_fifo(move || tx.send(tracectx::get_run_id()).unwrap()));
/// assert_eq!(rx.recv().unwrap().as_deref(), Some("job_f"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn spawn_fifo<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    ::rayon::spawn_fifo(crate::bind(f));
}

/// Runs `a` and `b`, potentially in parallel, both with the caller's trace context, as
/// rayon's [`join`](::rayon::join).
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_j")?;
/// let (a, b) = ctx.sync_scope(|| tracectx::rayon::join(tracectx::get_run_id, tracectx::get_run_id));
/// assert_eq!((a.as_deref(), b.as_deref()), (Some("job_j"), Some("job_j")));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // A closure that runs on the calling thread (`a` always, `b` unless stolen) is already in
    // the caller's context; only one that migrated to another thread enters it, with its own
    // clone. A `join` that migrates nothing then costs one clone of the handle, not three.
    let ctx = scope::current();
    let ctx = &ctx;
    ::rayon::join_context(
        move |here| {
            if here.migrated() {
                scope::enter(ctx.clone(), a)
            } else {
                a()
            }
        },
        move |here| {
            if here.migrated() {
                scope::enter(ctx.clone(), b)
            } else {
                b()
            }
        },
    )
}

/// Runs `op` with a [`Scope`] whose spawned work may borrow from the caller and whose every
/// closure runs with the trace context current where it was spawned, as
/// rayon's [`scope`](::rayon::scope). Returns once all of it has finished.
///
/// `op` itself runs with the caller's context (rayon may run it on a pool thread).
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_s")?;
/// let mut seen = [None, None];
/// ctx.sync_scope(|| {
///     let (left, right) = seen.split_at_mut(1);
///     tracectx::rayon::scope(|s| {
///         s.spawn(|_| left[0] = tracectx::get_run_id());
///         s.spawn(|_| right[0] = tracectx::get_run_id());
///     });
/// });
/// assert!(seen.iter().all(|run| run.as_deref() == Some("job_s")));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'_, 'scope>) -> R + Send,
    R: Send,
{
    let ctx = scope::current();
    ::rayon::scope(move |inner| scope::enter(ctx, || op(&Scope { inner })))
}

/// [`scope`], with `op` run on the calling thread rather than on the pool, as rayon's
/// [`in_place_scope`](::rayon::in_place_scope): its spawned closures run with the trace
/// context current where each was spawned.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_i")?;
/// let mut seen = [None, None];
/// ctx.sync_scope(|| {
///     let (left, right) = seen.split_at_mut(1);
///     tracectx::rayon::in_place_scope(|s| {
///         s.spawn(|_| left[0] = tracectx::get_run_id());
///         s.spawn(|_| right[0] = tracectx::get_run_id());
///     });
/// });
/// assert!(seen.iter().all(|run| run.as_deref() == Some("job_i")));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn in_place_scope<'scope, OP, R>(op: OP) -> R
where
    OP: FnOnce(&Scope<'_, 'scope>) -> R,
{
    // `op` runs here, in the caller's context already.
    ::rayon::in_place_scope(|inner| op(&Scope { inner }))
}

/// The scope of [`scope`] and [`in_place_scope`]: [`spawn`](Scope::spawn) carries the current trace context into
/// each spawned closure.
///
/// # Examples
///
/// ```
/// let ctx = tracectx::TraceContext::new("job_n")?;
/// let runs = std::sync::Mutex::new(Vec::new());
/// ctx.sync_scope(|| {
///     tracectx::rayon::scope(|s| {
///         s.spawn(|s| {
///             // Nested: the context of the spawning closure, carried on.
///             s.spawn(|_| runs.lock().unwrap().push(tracectx::get_run_id()));
///         });
///     })
/// });
/// assert_eq!(runs.into_inner().unwrap()[0].as_deref(), Some("job_n"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub struct Scope<'a, 'scope> {
    inner: &'a ::rayon::Scope<'scope>,
}

impl<'scope> Scope<'_, 'scope> {
    /// Spawns `body` into the scope with the trace context current now (outside any scope:
    /// explicitly none), as rayon's [`Scope::spawn`](::rayon::Scope::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_p")?;
    /// let mut run = None;
    /// tracectx::rayon::scope(|s| ctx.sync_scope(|| s.spawn(|_| run = tracectx::get_run_id())));
    /// assert_eq!(run.as_deref(), Some("job_p"));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn spawn<BODY>(&self, body: BODY)
    where
        BODY: FnOnce(&Scope<'_, 'scope>) + Send + 'scope,
    {
        let ctx = scope::current();
        self.inner
            .spawn(move |inner| scope::enter(ctx, || body(&Scope { inner })));
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}
