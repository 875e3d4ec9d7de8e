//! The ids an event is stamped with, found where the event fires.

use std::cell::RefCell;

use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::{FmtContext, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{MAX_RUN_ID_LEN, RunId, SpanId, TraceContext, TraceId};

thread_local! {
    /// The run a span remembered for the event being formatted on this thread, keyed by the
    /// event's metadata: set by the formats, taken by the per-run writer right after.
    static SPAN_RUN: RefCell<Option<(usize, RunId)>> = const { RefCell::new(None) };
}

fn metadata_key(meta: &Metadata<'_>) -> usize {
    meta as *const Metadata<'_> as usize
}

/// The run of the event with `meta` being written on this thread: the task-local context's,
/// else the one a span remembered for it (when one of the crate's formats formatted it).
pub(crate) fn span_run_for(meta: &Metadata<'_>) -> Option<RunId> {
    if let Some(run) = crate::scope::read(|c| c.run_id().clone()) {
        return Some(run);
    }
    SPAN_RUN
        .try_with(|cell| {
            let mut slot = cell.borrow_mut();
            match slot.take() {
                Some((key, run)) if key == metadata_key(meta) => Some(run),
                _ => None,
            }
        })
        .ok()
        .flatten()
}

/// What the text format prints for an id when the event has no trace context.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{builder, file_writer, NO_CONTEXT};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let subscriber = builder()
///     .with_format("[{run_id}] [{trace_id}] {message}")
///     .with_writer(file_writer(&path)?)
///     .build()?;
/// tracing::subscriber::with_default(subscriber, || tracing::info!("outside any run"));
/// let line = std::fs::read_to_string(&path)?;
/// assert_eq!(line, format!("[{NO_CONTEXT}] [{NO_CONTEXT}] outside any run\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const NO_CONTEXT: &str = "-";

/// The ids of one event's context, copied onto the stack.
///
/// Copying (a run id is at most 128 bytes) instead of cloning the handle keeps the hot path
/// free of atomic operations, and lets the event be formatted *after* the slot was read in
/// place ([`read`](crate::scope::read)): formatting runs user `Debug` code, which must not run
/// while the task-local slot is borrowed.
pub(crate) struct Stamp {
    run: [u8; MAX_RUN_ID_LEN],
    run_len: usize,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: Option<SpanId>,
}

impl Stamp {
    pub(crate) fn of(ctx: &TraceContext) -> Self {
        let id = ctx.run_id().as_bytes();
        let run_len = id.len().min(MAX_RUN_ID_LEN);
        let mut run = [0u8; MAX_RUN_ID_LEN];
        run[..run_len].copy_from_slice(&id[..run_len]);
        Self {
            run,
            run_len,
            trace_id: ctx.trace_id(),
            span_id: ctx.span_id(),
            parent_span_id: ctx.parent_span_id(),
        }
    }

    /// The stamp for `event`: the task-local context, else the one remembered on its spans.
    ///
    /// A run found on a span is also left for the writer of this very event
    /// ([`span_run_for`]): [`per_run_files`](super::per_run_files) sees only the task-local
    /// slot otherwise.
    pub(crate) fn for_event<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Option<Self>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        // Whatever happens below, nothing is left from an earlier event whose writer never
        // took it (another layer's writer, a format that failed): it would send a later
        // event of the same callsite to that run's file.
        let _ = SPAN_RUN.try_with(|cell| cell.borrow_mut().take());
        if let Some(stamp) = crate::scope::read(Self::of) {
            return Some(stamp);
        }
        let found = super::layer::with_remembered(ctx.event_scope()?, |c| {
            (Self::of(c), c.run_id().clone())
        });
        let _ = SPAN_RUN.try_with(|cell| {
            *cell.borrow_mut() = found
                .as_ref()
                .map(|(_, run)| (metadata_key(event.metadata()), run.clone()));
        });
        found.map(|(stamp, _)| stamp)
    }

    pub(crate) fn run_id(&self) -> &str {
        // Run ids are validated ASCII, so this never fails.
        std::str::from_utf8(&self.run[..self.run_len]).unwrap_or(NO_CONTEXT)
    }
}
