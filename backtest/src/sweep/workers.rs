//! The blocking workers of a batch or sweep: each takes the next session from a shared source
//! as soon as it finishes one and hands its outcome over a bounded channel.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{BacktestJob, BatchOptions, Progress};
use crate::session::{self, SessionSpec};
use crate::{BacktestError, BacktestResult, BacktestSettings, Params};
use tracectx::TraceContext;

/// Where the workers take their sessions from: the next job with its index (its place in
/// the batch, or its combination's in the grid), made when it is taken.
pub(super) type Source = Box<dyn Iterator<Item = (usize, BacktestJob)> + Send>;

/// How many outcomes per worker may wait for this task. A worker that finds the channel full
/// sleeps until this task takes one, and each outcome then costs two thread switches (about
/// as long as a session of a few hundred bars): room for a few dozen lets the task take them
/// in runs, while a slow consumer still holds up the workers after that many.
const OUTCOMES_IN_FLIGHT: usize = 32;

/// Runs the jobs of `source` (`total` of them) on `options.concurrency` blocking workers,
/// each session under a new run in `parent`'s trace, and hands each outcome, as it completes,
/// to the progress callback and then to `sink` (on this task, inside the caller's scope).
///
/// Each worker takes the next job as soon as it finishes one and sends the outcome over a
/// channel of [`OUTCOMES_IN_FLIGHT`] places per worker: a worker waits for this task only
/// when outcomes pile up, so memory holds the sessions in flight, at most that many outcomes
/// per worker and what `sink` keeps, whatever the number of jobs.
/// When this future is dropped, the workers stop after their current session. Returns the
/// number of sessions that ran.
///
/// # Panics
///
/// When a worker panicked outside a session (taking a job from `source`), with its payload,
/// once the other workers are done.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drive(
    settings: BacktestSettings,
    shared: Option<Arc<session::Shared>>,
    source: Source,
    total: usize,
    mut options: BatchOptions,
    what: &'static str,
    parent: TraceContext,
    mut sink: impl FnMut(usize, Result<BacktestResult, BacktestError>),
) -> usize {
    let concurrency = options.concurrency.max(1).min(total.max(1));
    tracing::info!(sessions = total, concurrency, "{what} started");
    let queue = Arc::new(Mutex::new(source));
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let (finished, mut outcomes_in) =
        mpsc::channel::<(usize, Params, Result<BacktestResult, BacktestError>)>(
            OUTCOMES_IN_FLIGHT * concurrency,
        );
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (queue, stop, finished) = (Arc::clone(&queue), Arc::clone(&stop.0), finished.clone());
        let (parent, keep_equity) = (parent.clone(), options.keep_equity);
        let shared = shared.clone();
        workers.spawn_blocking(move || {
            while !stop.load(AtomicOrdering::Relaxed) {
                // The lock is held only to take (and make) the next job.
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((index, job)) = next else {
                    break;
                };
                let ctx = parent.child_for_run(TraceContext::generate("backtest").run_id().clone());
                let spec = SessionSpec {
                    parent_run_id: Some(parent.run_id().clone()),
                    keep_equity,
                    alone: false,
                    shared: shared.clone(),
                    ..SessionSpec::new(ctx)
                };
                let params = job.params.clone();
                let session = session::job(settings, job.data, job.strategy, job.params, spec);
                if finished.blocking_send((index, params, session())).is_err() {
                    break;
                }
            }
        });
    }
    drop(finished);
    let mut done = 0;
    let (mut ok, mut failed) = (0usize, 0usize);
    while let Some((index, params, outcome)) = outcomes_in.recv().await {
        done += 1;
        if outcome.is_ok() {
            ok += 1;
        } else {
            failed += 1;
        }
        if let Some(progress) = options.progress.as_mut() {
            progress(&Progress {
                done,
                total,
                index,
                params: &params,
                outcome: &outcome,
            });
        }
        sink(index, outcome);
    }
    // Every worker has dropped its sender: they are done. A worker ends early only by a panic
    // (a session's own panics are caught as its error): from the caller's code that makes the
    // jobs (a grid's constraint), passed on to the caller as a scope passes on its threads'
    // panics, rather than sessions left out without a word.
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    tracing::info!(ok, failed, "{what} finished");
    done
}

/// Tells a batch's workers to stop taking sessions when the batch's future ends, finished or
/// dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, AtomicOrdering::Relaxed);
    }
}
