//! The same ids on OpenTelemetry spans: conversions, a tracing-opentelemetry layer, OTLP
//! export.
//!
//! A [`TraceContext`]'s ids *are* OpenTelemetry ids: its 128-bit [`TraceId`] and 64-bit
//! [`SpanId`] convert to and from OpenTelemetry's with the same value (same bytes, same hex), so
//! the 8 characters a log line shows (`[a1b2c3d4]`) are the tail of the trace id a tracer's UI
//! shows (`…0e0e4736a1b2c3d4`).
//!
//! - Conversions: [`TraceContext::to_span_context`] / [`TraceContext::to_otel_context`] and
//!   [`TraceContext::from_span_context`] / [`TraceContext::from_otel_context`]; `From` / `TryFrom`
//!   between the id types. The all-zero ids OpenTelemetry uses for "invalid" are refused with an
//!   [`InvalidId`] whose reason is [`InvalidIdReason::Zero`].
//! - [`layer`] (or [`TraceContextOtelLayer::new`] around a configured
//!   `tracing_opentelemetry::OpenTelemetryLayer`): spans created inside a scope join the scope's
//!   trace and carry the attributes [`RUN_ID_ATTRIBUTE`] (`tracectx.run_id`) and
//!   [`SHORT_TRACE_ID_ATTRIBUTE`] (`tracectx.trace_id_short`).
//! - [`init_otlp`]: a tracer provider exporting over OTLP/HTTP (protobuf) to a collector, and
//!   an [`OtlpGuard`] that flushes the last spans when dropped.
//!
//! # Examples
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
//! use tracing_subscriber::prelude::*;
//! use tracectx::TraceContext;
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
//! let subscriber = tracing_subscriber::registry().with(tracectx::otel::layer(provider.tracer("app")));
//!
//! let ctx = TraceContext::new("backtest_ab12cd34")?;
//! tracing::subscriber::with_default(subscriber, || {
//!     ctx.sync_scope(|| tracing::info_span!("fill").in_scope(|| {}));
//! });
//!
//! let spans = exporter.get_finished_spans().unwrap();
//! assert_eq!(spans[0].span_context.trace_id().to_bytes(), ctx.trace_id().to_bytes());
//! assert_eq!(spans[0].parent_span_id.to_bytes(), ctx.span_id().to_bytes());
//! # Ok::<(), tracectx::InvalidId>(())
//! ```

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{self as ot, TraceContextExt as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::metadata::Kind;
use tracing_core::{Interest, LevelFilter};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{
    InvalidId, InvalidIdReason, RunId, SpanId, TraceContext, TraceFlags, TraceId,
};
use crate::propagation::TraceState;

/// The span attribute holding the run id (`backtest_ab12cd34`) on every span created inside a
/// scope under [`TraceContextOtelLayer`].
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::otel::RUN_ID_ATTRIBUTE, "tracectx.run_id");
/// ```
pub const RUN_ID_ATTRIBUTE: &str = "tracectx.run_id";

/// The span attribute holding the short trace id (the 8 hex characters log lines show) on
/// every span created inside a scope under [`TraceContextOtelLayer`].
///
/// It is the tail of the span's own trace id; it is there so a tracer's search box finds a
/// trace from what a log line says.
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::otel::SHORT_TRACE_ID_ATTRIBUTE, "tracectx.trace_id_short");
/// ```
pub const SHORT_TRACE_ID_ATTRIBUTE: &str = "tracectx.trace_id_short";

// === impl conversions ===

/// The same 128 bits.
impl From<TraceId> for ot::TraceId {
    fn from(id: TraceId) -> Self {
        ot::TraceId::from_bytes(id.to_bytes())
    }
}

/// The same 128 bits; OpenTelemetry's all-zero "invalid" id is refused.
impl TryFrom<ot::TraceId> for TraceId {
    type Error = InvalidId;

    fn try_from(id: ot::TraceId) -> Result<Self, InvalidId> {
        TraceId::from_bytes(id.to_bytes())
            .ok_or_else(|| InvalidId::new("trace id", &id.to_string(), InvalidIdReason::Zero))
    }
}

/// The same 64 bits.
impl From<SpanId> for ot::SpanId {
    fn from(id: SpanId) -> Self {
        ot::SpanId::from_bytes(id.to_bytes())
    }
}

/// The same 64 bits; OpenTelemetry's all-zero "invalid" id is refused.
impl TryFrom<ot::SpanId> for SpanId {
    type Error = InvalidId;

    fn try_from(id: ot::SpanId) -> Result<Self, InvalidId> {
        SpanId::from_bytes(id.to_bytes())
            .ok_or_else(|| InvalidId::new("span id", &id.to_string(), InvalidIdReason::Zero))
    }
}

/// The same flags byte.
impl From<TraceFlags> for ot::TraceFlags {
    fn from(flags: TraceFlags) -> Self {
        ot::TraceFlags::new(flags.to_u8())
    }
}

/// The same flags byte.
impl From<ot::TraceFlags> for TraceFlags {
    fn from(flags: ot::TraceFlags) -> Self {
        TraceFlags::from_u8(flags.to_u8())
    }
}

/// [`TraceContext::to_span_context`].
impl From<&TraceContext> for ot::SpanContext {
    fn from(ctx: &TraceContext) -> Self {
        ctx.to_span_context()
    }
}

// === impl TraceContext (OpenTelemetry) ===

impl TraceContext {
    /// This context as an OpenTelemetry [`SpanContext`](ot::SpanContext): the same trace id
    /// and span id, the same flags (sampled, random), and the `tracestate` when there is one.
    ///
    /// The span context is marked local (`is_remote() == false`): it names work of this
    /// process. It is always valid, since neither id of a `TraceContext` can be zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// let sc = ctx.to_span_context();
    /// assert_eq!(sc.trace_id().to_string(), format!("{:x}", ctx.trace_id()));
    /// assert!(sc.trace_id().to_string().ends_with(&*ctx.trace_id().short()));
    /// assert_eq!(sc.span_id().to_string(), ctx.span_id().to_string());
    /// assert!(sc.is_valid() && sc.is_sampled() && !sc.is_remote());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn to_span_context(&self) -> ot::SpanContext {
        // Our tracestate was validated against the W3C grammar when received; OpenTelemetry's
        // parser is stricter in places, and a value it refuses is left out, as W3C asks for a
        // `tracestate` that cannot be understood.
        let state = self
            .trace_state()
            .and_then(|s| s.parse::<ot::TraceState>().ok())
            .unwrap_or_default();
        ot::SpanContext::new(
            self.trace_id().into(),
            self.span_id().into(),
            self.trace_flags().into(),
            false,
            state,
        )
    }

    /// An OpenTelemetry [`Context`](opentelemetry::Context) whose span is this context's (see
    /// [`to_span_context`](Self::to_span_context)): a parent for spans started with an
    /// OpenTelemetry tracer directly, or a value to inject with an OpenTelemetry propagator.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt as _;
    ///
    /// let ctx = tracectx::TraceContext::new("job_2")?;
    /// let cx = ctx.to_otel_context();
    /// assert_eq!(cx.span().span_context(), &ctx.to_span_context());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn to_otel_context(&self) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(self.to_span_context())
    }

    /// The context for `run_id` whose trace id, span id, flags and `tracestate` are those of an
    /// OpenTelemetry span context: the inverse of [`to_span_context`](Self::to_span_context).
    ///
    /// The result has no parent span id (a span context does not say). Call
    /// [`child`](Self::child) on it for work nested under that span.
    ///
    /// # Errors
    ///
    /// [`InvalidId`] with reason [`InvalidIdReason::Zero`] when the trace id or span id is all
    /// zeros, as in OpenTelemetry's `SpanContext::empty_context()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::SpanContext;
    /// use tracectx::TraceContext;
    ///
    /// let ctx = TraceContext::new("job_3")?;
    /// let back = TraceContext::from_span_context(&ctx.to_span_context(), ctx.run_id().clone())?;
    /// assert_eq!(back, ctx.clone().with_span_id(ctx.span_id()));
    /// assert_eq!(back.trace_id(), ctx.trace_id());
    ///
    /// let err = TraceContext::from_span_context(&SpanContext::empty_context(), "job_3".parse()?);
    /// assert!(err.is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn from_span_context(span: &ot::SpanContext, run_id: RunId) -> Result<Self, InvalidId> {
        let trace_id = TraceId::try_from(span.trace_id())?;
        let span_id = SpanId::try_from(span.span_id())?;
        let header = span.trace_state().header();
        let state = if header.is_empty() {
            None
        } else {
            TraceState::parse([header.as_str()]).ok()
        };
        Ok(Self::from_parts(run_id, trace_id, span_id, None)
            .with_trace_flags(span.trace_flags().into())
            .with_trace_state(state))
    }

    /// The context for `run_id` whose ids are those of the span in an OpenTelemetry
    /// [`Context`](opentelemetry::Context) (see [`from_span_context`](Self::from_span_context)).
    ///
    /// # Errors
    ///
    /// [`InvalidId`] when the context holds no valid span.
    ///
    /// # Examples
    ///
    /// ```
    /// let ctx = tracectx::TraceContext::new("job_4")?;
    /// let back = tracectx::TraceContext::from_otel_context(&ctx.to_otel_context(), "job_4".parse()?)?;
    /// assert_eq!(back.trace_id(), ctx.trace_id());
    /// assert!(tracectx::TraceContext::from_otel_context(&opentelemetry::Context::new(), "job_4".parse()?).is_err());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn from_otel_context(
        cx: &opentelemetry::Context,
        run_id: RunId,
    ) -> Result<Self, InvalidId> {
        Self::from_span_context(cx.span().span_context(), run_id)
    }
}

// === impl TraceContextOtelLayer ===

/// A tracing-opentelemetry layer whose spans join the current scope's trace, with the tracer
/// `tracer`: `TraceContextOtelLayer::new(tracing_opentelemetry::layer().with_tracer(tracer))`.
///
/// Use [`TraceContextOtelLayer::new`] to wrap an `OpenTelemetryLayer` configured otherwise.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use tracing_subscriber::prelude::*;
///
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry().with(tracectx::otel::layer(provider.tracer("app")));
/// # drop(subscriber);
/// ```
pub fn layer<S, T>(
    tracer: T,
) -> TraceContextOtelLayer<tracing_opentelemetry::OpenTelemetryLayer<S, T>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: ot::Tracer + 'static,
    T::Span: Send + Sync,
{
    TraceContextOtelLayer::new(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// Wraps a `tracing_opentelemetry::OpenTelemetryLayer` so that spans created inside a scope
/// join the scope's trace and carry its run id.
///
/// For each new span, the layer finds the trace context it is created in (the task-local slot,
/// or else the context an enclosing span was created in) and, when there is one:
///
/// - **Parent.** If the span would otherwise start outside that context's trace (a root span,
///   or one under a span of another trace), its OpenTelemetry parent becomes the scope's span
///   ([`TraceContext::to_span_context`]): the exported span has the scope's 128-bit trace id
///   and, as parent span id, the scope's span id, the one log lines and `traceparent` carry.
///   A span whose parent is already in the trace keeps it, so nesting is untouched. The
///   scope's span itself is not exported (a scope has no start and end a tracer sees), so a
///   tracer UI shows the top spans of a scope under a parent it did not receive; open a span
///   at the edge of the work to have one.
/// - **Attributes.** [`RUN_ID_ATTRIBUTE`] (`tracectx.run_id`) and [`SHORT_TRACE_ID_ATTRIBUTE`]
///   (`tracectx.trace_id_short`), on every span created in the context.
///
/// Outside any context the inner layer works as it would alone. Everything else (events, span
/// ends, `OpenTelemetrySpanExt::set_parent` and `context()`) goes to the inner layer unchanged.
///
/// # A span belongs where it is created
///
/// Spans are placed when they are made, not when they are entered. In
/// `fut.instrument(info_span!("session")).in_trace_context(ctx)` the span is made *before* the
/// scope exists and starts a trace of its own; make it inside the scope instead:
///
/// ```
/// # use tracectx::prelude::*;
/// # use tracing::Instrument as _;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// # let ctx = TraceContext::new("job_6")?;
/// # let work = async {};
/// async { work.instrument(tracing::info_span!("session")).await }
///     .in_trace_context(ctx)
///     .await;
/// # Ok(()) }
/// ```
///
/// # Limits
///
/// The parent is chosen through OpenTelemetry's current context, which the inner layer reads
/// for spans with a contextual parent when context activation is on (its default). A span
/// with an explicit parent (`parent: ..` in the span macros) keeps that parent; with
/// activation off, so does a span created under an entered span of another trace.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use tracing_subscriber::prelude::*;
/// use tracectx::otel::{TraceContextOtelLayer, RUN_ID_ATTRIBUTE};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let otel = tracing_opentelemetry::layer()
///     .with_tracer(provider.tracer("app"))
///     .with_location(false);
/// let subscriber = tracing_subscriber::registry().with(TraceContextOtelLayer::new(otel));
///
/// let ctx = tracectx::TraceContext::new("job_5")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| {
///         let outer = tracing::info_span!("outer");
///         outer.in_scope(|| tracing::info_span!("inner").in_scope(|| {}));
///     });
/// });
///
/// let spans = exporter.get_finished_spans().unwrap();
/// let (inner, outer) = (&spans[0], &spans[1]);
/// assert_eq!(inner.parent_span_id, outer.span_context.span_id()); // nesting kept
/// assert_eq!(outer.parent_span_id.to_bytes(), ctx.span_id().to_bytes()); // joined the scope
/// assert!(inner.attributes.iter().any(|kv| kv.key.as_str() == RUN_ID_ATTRIBUTE
///     && kv.value.as_str() == "job_5"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub struct TraceContextOtelLayer<L> {
    inner: L,
}

impl<L> TraceContextOtelLayer<L> {
    /// Wraps `inner`, normally a `tracing_opentelemetry::OpenTelemetryLayer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let otel = tracing_opentelemetry::layer::<tracing_subscriber::Registry>()
    ///     .with_tracer(provider.tracer("app"))
    ///     .with_threads(false);
    /// let layer = tracectx::otel::TraceContextOtelLayer::new(otel);
    /// # drop(layer);
    /// ```
    pub fn new(inner: L) -> Self {
        Self { inner }
    }

    /// The wrapped layer.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The wrapped layer, unwrapped.
    pub fn into_inner(self) -> L {
        self.inner
    }
}

impl<L> fmt::Debug for TraceContextOtelLayer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContextOtelLayer")
            .finish_non_exhaustive()
    }
}

/// The context a span was created in, kept in its extensions for spans created under it where
/// the slot is empty. A private type, so no other layer's extensions collide with it.
struct Joined(TraceContext);

/// The field set through which the two attributes reach the inner layer, as a record of the
/// span's values (`on_record`), the one way a layer can add attributes to a span it did not
/// create.
struct AttributeCallsite;

static ATTRIBUTE_CALLSITE: AttributeCallsite = AttributeCallsite;
static ATTRIBUTE_METADATA: Metadata<'static> = Metadata::new(
    "tracectx.attributes",
    "tracectx::otel",
    tracing::Level::TRACE,
    None,
    None,
    None,
    FieldSet::new(
        &[RUN_ID_ATTRIBUTE, SHORT_TRACE_ID_ATTRIBUTE],
        Identifier(&ATTRIBUTE_CALLSITE),
    ),
    Kind::SPAN,
);

impl Callsite for AttributeCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &ATTRIBUTE_METADATA
    }
}

/// Whether `cx`'s span belongs to the trace `trace_id`.
fn in_trace(cx: &opentelemetry::Context, trace_id: TraceId) -> bool {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid() && sc.trace_id().to_bytes() == trace_id.to_bytes()
}

impl<L> TraceContextOtelLayer<L> {
    /// The context remembered by the span's parent (or its parent's, up to the root).
    fn inherited<S>(attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Option<TraceContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let parent = if attrs.is_contextual() {
            ctx.lookup_current()
        } else {
            attrs.parent().and_then(|id| ctx.span(id))
        }?;
        parent
            .scope()
            .find_map(|span| span.extensions().get::<Joined>().map(|j| j.0.clone()))
    }
}

impl<S, L> Layer<S> for TraceContextOtelLayer<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(scope) = crate::scope::current().or_else(|| Self::inherited(attrs, &ctx)) else {
            self.inner.on_new_span(attrs, id, ctx);
            return;
        };
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if extensions.get_mut::<Joined>().is_none() {
                extensions.insert(Joined(scope.clone()));
            }
        }

        let trace_id = scope.trace_id();
        let join = attrs.is_contextual()
            && !opentelemetry::Context::map_current(|cx| in_trace(cx, trace_id));
        if join {
            let parent = opentelemetry::Context::map_current(|cx| {
                cx.with_remote_span_context(scope.to_span_context())
            });
            let _attached = parent.attach();
            self.inner.on_new_span(attrs, id, ctx.clone());
        } else {
            self.inner.on_new_span(attrs, id, ctx.clone());
        }

        let fields = ATTRIBUTE_METADATA.fields();
        let short = trace_id.short();
        let (Some(run_field), Some(short_field)) = (
            fields.field(RUN_ID_ATTRIBUTE),
            fields.field(SHORT_TRACE_ID_ATTRIBUTE),
        ) else {
            return;
        };
        let run_id: &str = scope.run_id();
        let short: &str = &short;
        let values = [
            (&run_field, Some(&run_id as &dyn Value)),
            (&short_field, Some(&short as &dyn Value)),
        ];
        let values = fields.value_set(&values);
        self.inner.on_record(id, &Record::new(&values), ctx);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    // The one `unsafe` in the crate, as in every tracing-subscriber layer that wraps another
    // (`Filtered`, `reload::Layer`): the inner layer must stay reachable by downcasting, or
    // `OpenTelemetrySpanExt::set_parent` and `context()` cannot find it.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: forwarded as is; the inner layer answers for the pointers it returns, which
        // live as long as `self` does.
        unsafe { self.inner.downcast_raw(id) }
    }
}

// === impl OTLP export ===

/// Why OTLP export could not be set up or shut down.
///
/// # Examples
///
/// ```
/// let err = tracectx::otel::init_otlp("not a uri", "svc").unwrap_err();
/// assert!(err.to_string().starts_with("cannot build the otlp exporter for \"not a uri/v1/traces\""));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// The exporter could not be built (a malformed endpoint, the HTTP client failed).
    #[error("cannot build the otlp exporter for {endpoint:?}: {source}")]
    Build {
        /// The traces endpoint that was tried.
        endpoint: String,
        /// What went wrong.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// Flushing the last spans at shutdown failed (the collector did not answer in time).
    #[error("otlp shutdown failed: {0}")]
    Shutdown(#[source] opentelemetry_sdk::error::OTelSdkError),
    /// Some batches could not be delivered while the provider ran (the collector was down,
    /// refused them, or did not answer).
    #[error("otlp export to {endpoint:?} failed: {spans} spans not delivered, last error: {last}")]
    Export {
        /// The traces endpoint.
        endpoint: String,
        /// How many spans were dropped.
        spans: u64,
        /// The last failure, as the exporter reported it.
        last: String,
    },
}

/// The tracer provider made by [`init_otlp`]; shuts it down (exporting the spans still
/// queued) when dropped.
///
/// Keep it alive for as long as spans are made, typically as a local of `main`. Dropping it
/// blocks until the queued spans are sent or the export times out.
///
/// # Examples
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "my-service")?;
/// tracing_subscriber::registry().with(tracectx::otel::layer(otlp.tracer("my-service"))).init();
/// // ... work ...
/// otlp.shutdown()?; // or let it drop
/// # Ok::<(), tracectx::otel::OtlpError>(())
/// ```
#[derive(Debug)]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
    endpoint: String,
    failures: Arc<Mutex<Failures>>,
    shut_down: bool,
}

/// Export failures seen by [`Reporting`], for [`OtlpGuard::shutdown`].
#[derive(Debug, Default)]
struct Failures {
    spans: u64,
    last: Option<String>,
}

/// The OTLP exporter, keeping count of what it could not deliver: the SDK's batch processor
/// drops a failed batch and says so only in OpenTelemetry's internal log.
#[derive(Debug)]
struct Reporting {
    inner: opentelemetry_otlp::SpanExporter,
    failures: Arc<Mutex<Failures>>,
}

impl SpanExporter for Reporting {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let spans = batch.len() as u64;
        let sent = self.inner.export(batch);
        let failures = Arc::clone(&self.failures);
        async move {
            let result = sent.await;
            if let Err(err) = &result {
                let mut failures = failures.lock().unwrap_or_else(|e| e.into_inner());
                failures.spans += spans;
                failures.last = Some(err.to_string());
            }
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl OtlpGuard {
    /// A tracer of the provider, for [`layer`].
    ///
    /// # Examples
    ///
    /// ```
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:9", "svc")?;
    /// let layer = tracectx::otel::layer::<tracing_subscriber::Registry, _>(otlp.tracer("svc"));
    /// # drop(layer);
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn tracer(&self, name: impl Into<Cow<'static, str>>) -> SdkTracer {
        use opentelemetry::trace::TracerProvider as _;
        self.provider().tracer(name)
    }

    /// The tracer provider.
    ///
    /// # Examples
    ///
    /// ```
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:9", "svc")?;
    /// opentelemetry::global::set_tracer_provider(otlp.provider().clone());
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports the queued spans and shuts the provider down, reporting failure.
    ///
    /// # Errors
    ///
    /// [`OtlpError::Shutdown`] when the provider could not shut down (the last export timed
    /// out), else [`OtlpError::Export`] when any batch, then or earlier, was not delivered.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let otlp = tracectx::otel::init_otlp("http://127.0.0.1:4318", "svc")?;
    /// otlp.shutdown()?;
    /// # Ok::<(), tracectx::otel::OtlpError>(())
    /// ```
    pub fn shutdown(mut self) -> Result<(), OtlpError> {
        self.shut_down = true;
        self.provider.shutdown().map_err(OtlpError::Shutdown)?;
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match &failures.last {
            None => Ok(()),
            Some(last) => Err(OtlpError::Export {
                endpoint: self.endpoint.clone(),
                spans: failures.spans,
                last: last.clone(),
            }),
        }
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if !self.shut_down {
            // Nothing to report to from a destructor; `shutdown()` returns the error.
            let _ = self.provider.shutdown();
        }
    }
}

/// The OTLP/HTTP traces URL for a collector address: `<endpoint>/v1/traces`, unless the
/// address already ends with that path.
fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

/// A tracer provider that exports spans over OTLP/HTTP (protobuf) to the collector at
/// `endpoint`, with `service.name` = `service_name`.
///
/// `endpoint` is the collector's address, such as `http://127.0.0.1:4318` (the OTLP/HTTP
/// port); spans are POSTed to `<endpoint>/v1/traces` (an address that already ends with
/// `/v1/traces` is used as is). Spans are batched and sent from a background thread by
/// opentelemetry-otlp's blocking HTTP client, so any runtime (or none) works. No TLS: use an
/// `http://` collector, a local agent or sidecar.
///
/// Pass [`OtlpGuard::tracer`] to [`layer`]. The sampler is OpenTelemetry's default (parent
/// based, always on): spans of a context whose sampled flag is off are not exported.
///
/// # Errors
///
/// [`OtlpError::Build`] when the address is not a valid URI or the HTTP client could not be
/// made. Nothing is sent until the first batch: an unreachable collector shows up as
/// [`OtlpError::Export`] from [`OtlpGuard::shutdown`], with the number of spans lost.
///
/// # Examples
///
/// ```no_run
/// use tracectx::prelude::*;
/// use tracing_subscriber::prelude::*;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
///     .unwrap_or_else(|_| "http://127.0.0.1:4318".into());
/// let otlp = tracectx::otel::init_otlp(&endpoint, "backtester")?;
/// tracing_subscriber::registry().with(tracectx::otel::layer(otlp.tracer("backtester"))).init();
///
/// async { tracing::info_span!("session").in_scope(|| tracing::info!("started")) }
///     .in_trace_context(TraceContext::generate("backtest"))
///     .await;
/// otlp.shutdown()?;
/// # Ok(()) }
/// ```
pub fn init_otlp(endpoint: &str, service_name: &str) -> Result<OtlpGuard, OtlpError> {
    let url = traces_url(endpoint);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url.clone())
        .build()
        .map_err(|source| OtlpError::Build {
            endpoint: url.clone(),
            source,
        })?;
    let failures = Arc::new(Mutex::new(Failures::default()));
    let exporter = Reporting {
        inner: exporter,
        failures: Arc::clone(&failures),
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    Ok(OtlpGuard {
        provider,
        endpoint: url,
        failures,
        shut_down: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_appends_the_signal_path_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
