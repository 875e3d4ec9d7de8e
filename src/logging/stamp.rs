//! The ids an event is stamped with, found where the event fires.

use tracing::Subscriber;
use tracing_subscriber::fmt::{FmtContext, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{MAX_RUN_ID_LEN, SpanId, TraceContext, TraceId};

/// What the text format prints for an id when the event has no trace context.
pub const NO_CONTEXT: &str = "-";

/// The ids of one event's context, copied onto the stack.
///
/// Copying (a run id is at most 128 bytes) instead of cloning the handle keeps the hot path
/// free of atomic operations, and lets the event be formatted *outside* the
/// [`with_current`](crate::with_current) closure: formatting runs user `Debug` code, which must
/// not run while the task-local slot is borrowed.
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
    pub(crate) fn for_event<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<Self>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        crate::scope::with_current(|c| c.map(Self::of))
            .or_else(|| super::layer::with_remembered(ctx.event_scope()?, Self::of))
    }

    pub(crate) fn run_id(&self) -> &str {
        // Run ids are validated ASCII, so this never fails.
        std::str::from_utf8(&self.run[..self.run_len]).unwrap_or(NO_CONTEXT)
    }
}
