//! The blocking workers of a batch: each takes the next session as soon as it finishes one
//! and hands its outcome over a channel.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{BacktestJob, BatchOptions, Progress};
use crate::session::{self, SessionSpec};
use crate::{BacktestError, BacktestErrorKind, BacktestResult, BacktestSettings};
use tracectx::TraceContext;

/// Runs the jobs on `options.concurrency` blocking workers, each session under a new run
/// in `parent`'s trace; outcomes in the jobs' order.
///
/// Each worker takes the next job as soon as it finishes one and hands the outcome over a
/// channel, so a worker never waits for this task (which reports progress) between two
/// sessions. When this future is dropped, the workers stop after their current session.
pub(super) async fn drive(
    settings: BacktestSettings,
    jobs: Vec<BacktestJob>,
    mut options: BatchOptions,
    what: &'static str,
    parent: TraceContext,
) -> Vec<Result<BacktestResult, BacktestError>> {
    let total = jobs.len();
    let concurrency = options.concurrency.max(1).min(total.max(1));
    tracing::info!(sessions = total, concurrency, "{what} started");
    let mut outcomes: Vec<Option<Result<BacktestResult, BacktestError>>> =
        (0..total).map(|_| None).collect();
    // What a session that never ran is reported as (it has no run).
    let names: Vec<String> = jobs
        .iter()
        .map(|j| j.strategy.name().into_owned())
        .collect();
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate()));
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let (finished, mut outcomes_in) = mpsc::unbounded_channel();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (queue, stop, finished) = (Arc::clone(&queue), Arc::clone(&stop.0), finished.clone());
        let (parent, keep_equity) = (parent.clone(), options.keep_equity);
        workers.spawn_blocking(move || {
            while !stop.load(AtomicOrdering::Relaxed) {
                // The lock is held only to take the next job.
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((index, job)) = next else {
                    break;
                };
                let ctx = parent.child_for_run(TraceContext::generate("backtest").run_id().clone());
                let spec = SessionSpec {
                    parent_run_id: Some(parent.run_id().clone()),
                    keep_equity,
                    alone: false,
                    ..SessionSpec::new(ctx)
                };
                let session = session::job(settings, job.data, job.strategy, job.params, spec);
                if finished.send((index, session())).is_err() {
                    break;
                }
            }
        });
    }
    drop(finished);
    let mut done = 0;
    while let Some((index, outcome)) = outcomes_in.recv().await {
        done += 1;
        if let Some(progress) = options.progress.as_mut() {
            progress(&Progress {
                done,
                total,
                outcome: &outcome,
            });
        }
        outcomes[index] = Some(outcome);
    }
    // Every worker has dropped its sender: they are done (a session the runtime never
    // ran, cancelling its worker, is filled in as cancelled below).
    while workers.join_next().await.is_some() {}
    let failed = outcomes
        .iter()
        .filter(|o| !matches!(o, Some(Ok(_))))
        .count();
    tracing::info!(ok = total - failed, failed, "{what} finished");
    outcomes
        .into_iter()
        .zip(names)
        .map(|(outcome, strategy)| {
            outcome.unwrap_or_else(|| {
                Err(BacktestError::new(
                    None,
                    strategy,
                    BacktestErrorKind::Aborted("cancelled".to_owned()),
                ))
            })
        })
        .collect()
}

/// Tells a batch's workers to stop taking sessions when the batch's future ends, finished or
/// dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, AtomicOrdering::Relaxed);
    }
}
