//! The [`Layer`] that remembers, on each span created inside a scope, the trace context it was
//! created in.
//!
//! The task-local slot says which run is current *where the code runs*. A span can travel:
//! handed to a thread pool, entered by a callback, kept in a struct and entered later, in code
//! that never set a scope. Events inside such a span still belong to the run that created it,
//! and this layer is how the formats find it: it stores the context in the span's extensions
//! when the span is created, and the formats walk the event's span scope, leaf to root, when the
//! slot is empty. The slot wins when both are present: it is the more precise answer.

use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Scope};

use crate::context::TraceContext;

/// The context a span was created in, kept in its extensions. A private type, so no other
/// layer's extensions can collide with it.
struct Remembered(TraceContext);

/// A [`Layer`] that remembers the current trace context on every span created inside a scope.
///
/// Compose it with a `tracing_subscriber::fmt` layer using [`TextFormat`](super::TextFormat)
/// or [`JsonFormat`](super::JsonFormat): events inside such a span are then stamped with the
/// span's run even on a thread whose task-local slot is empty. The subscriber made by
/// [`builder`](super::builder) includes it.
///
/// The layer costs one handle clone (an atomic increment) per span created inside a scope and
/// nothing per event; it never panics (a span it cannot find is left alone, and a layer added
/// twice stores the context once).
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracectx::logging::{file_writer, SpanContextLayer, TextFormat};
/// use tracectx::TraceContext;
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.log");
/// let fmt = tracing_subscriber::fmt::layer().event_format(TextFormat::new());
/// let subscriber = tracing_subscriber::registry()
///     .with(SpanContextLayer::new())
///     .with(fmt.with_writer(file_writer(&path)?));
/// let ctx = TraceContext::new("backtest_ab12")?;
/// tracing::subscriber::with_default(subscriber, || {
///     let span = ctx.sync_scope(|| tracing::info_span!("work"));
///     // No scope here, yet the line says [backtest_ab12]: the span remembers.
///     span.in_scope(|| tracing::info!("inside the span"));
/// });
/// let line = std::fs::read_to_string(&path)?;
/// assert!(line.contains(&format!("] [backtest_ab12] [{}] INFO", ctx.trace_id())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanContextLayer {
    _private: (),
}

impl SpanContextLayer {
    /// The layer.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tracectx::logging::{file_writer, SpanContextLayer, TextFormat};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.log");
    /// let fmt = tracing_subscriber::fmt::layer()
    ///     .event_format(TextFormat::from_template("[{run_id}] {message}")?);
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(SpanContextLayer::new())
    ///     .with(fmt.with_writer(file_writer(&path)?));
    /// let ctx = tracectx::TraceContext::new("job_3")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     let span = ctx.sync_scope(|| tracing::info_span!("work"));
    ///     span.in_scope(|| tracing::info!("entered later, outside the scope"));
    /// });
    /// assert_eq!(std::fs::read_to_string(&path)?, "[job_3] entered later, outside the scope\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl<S> Layer<S> for SpanContextLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(current) = crate::scope::current() else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Remembered>().is_none() {
            extensions.insert(Remembered(current));
        }
    }
}

/// `f` of the context remembered by the innermost span in `scope` that remembers one.
///
/// [`span_context`] without the clone: the formats copy the ids they need out of it.
pub(crate) fn with_remembered<'a, S, R>(
    scope: Scope<'a, S>,
    f: impl FnOnce(&TraceContext) -> R,
) -> Option<R>
where
    S: LookupSpan<'a>,
{
    let span = scope
        .into_iter()
        .find(|span| span.extensions().get::<Remembered>().is_some())?;
    let extensions = span.extensions();
    extensions.get::<Remembered>().map(|r| f(&r.0))
}

/// The trace context remembered by the innermost span in `scope`, if any.
///
/// For your own layers: the same lookup the formats do when the task-local slot is empty.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use tracing_subscriber::layer::Context;
/// use tracectx::logging::{span_context, SpanContextLayer};
///
/// struct Audit;
/// impl<S> tracing_subscriber::Layer<S> for Audit
/// where
///     S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
/// {
///     fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
///         let run = tracectx::current()
///             .or_else(|| ctx.event_scope(event).and_then(span_context))
///             .map(|c| c.run_id().to_string());
///         assert_eq!(run.as_deref(), Some("job_9"));
///     }
/// }
///
/// let subscriber = tracing_subscriber::registry().with(SpanContextLayer::new()).with(Audit);
/// tracing::subscriber::with_default(subscriber, || {
///     let ctx = tracectx::TraceContext::new("job_9")?;
///     let span = ctx.sync_scope(|| tracing::info_span!("work"));
///     span.in_scope(|| tracing::info!("seen by Audit"));
///     Ok::<(), tracectx::InvalidId>(())
/// })?;
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn span_context<'a, S>(scope: Scope<'a, S>) -> Option<TraceContext>
where
    S: LookupSpan<'a>,
{
    scope
        .into_iter()
        .find_map(|span| span.extensions().get::<Remembered>().map(|r| r.0.clone()))
}
