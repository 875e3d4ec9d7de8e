//! The tracing-opentelemetry layer under which spans made inside a scope join its trace.

use std::any::TypeId;
use std::fmt;

use opentelemetry::trace::{self as ot, TraceContextExt as _};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::metadata::Kind;
use tracing_core::{Interest, LevelFilter};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{TraceContext, TraceId};

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

/// The prefix of the attributes [`RUN_ID_ATTRIBUTE`] and [`SHORT_TRACE_ID_ATTRIBUTE`]; see
/// [`TraceContextOtelLayer::with_attribute_prefix`] for another.
///
/// # Examples
///
/// ```
/// assert_eq!(tracectx::otel::DEFAULT_ATTRIBUTE_PREFIX, "tracectx.");
/// ```
pub const DEFAULT_ATTRIBUTE_PREFIX: &str = "tracectx.";

/// An attribute prefix that was refused; see [`TraceContextOtelLayer::with_attribute_prefix`].
///
/// # Examples
///
/// ```
/// let err = tracectx::otel::AttributeNames::new("peak trade.").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"invalid attribute prefix "peak trade.": ' ' at byte 4 is not a letter, digit, '_', '-' or '.'"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute prefix {prefix:?}: {reason}")]
pub struct InvalidAttributePrefix {
    prefix: String,
    reason: String,
}

/// The two attribute keys a run is written under (`<prefix>run_id`,
/// `<prefix>trace_id_short`), made once per prefix.
///
/// The keys reach tracing-opentelemetry as the fields of a `tracing` callsite, whose names
/// are `&'static str`: each distinct prefix is made into such a callsite once per process and
/// kept (a few hundred bytes), however many layers use it.
///
/// # Examples
///
/// ```
/// use tracectx::otel::AttributeNames;
///
/// let names = AttributeNames::new("peak_trade.")?;
/// assert_eq!(names.run_id(), "peak_trade.run_id");
/// assert_eq!(names.short_trace_id(), "peak_trade.trace_id_short");
/// assert!(std::ptr::eq(names, AttributeNames::new("peak_trade.")?));
/// let default = AttributeNames::new(tracectx::otel::DEFAULT_ATTRIBUTE_PREFIX)?;
/// assert_eq!(default.run_id(), tracectx::otel::RUN_ID_ATTRIBUTE);
/// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
/// ```
pub struct AttributeNames {
    prefix: &'static str,
    callsite: &'static NamesCallsite,
}

impl AttributeNames {
    /// The keys under `prefix` (letters, digits, `_`, `-` and `.`; empty for bare `run_id`).
    ///
    /// # Errors
    ///
    /// [`InvalidAttributePrefix`] naming the first character outside that set, or a prefix
    /// longer than 64 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::otel::AttributeNames;
    ///
    /// assert_eq!(AttributeNames::new("")?.run_id(), "run_id");
    /// assert_eq!(AttributeNames::new("app-1.")?.run_id(), "app-1.run_id");
    /// assert!(AttributeNames::new("peak/trade.").is_err());
    /// assert!(AttributeNames::new(&"p".repeat(65)).is_err());
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn new(prefix: &str) -> Result<&'static AttributeNames, InvalidAttributePrefix> {
        check_prefix(prefix)?;
        if prefix == DEFAULT_ATTRIBUTE_PREFIX {
            return Ok(&DEFAULT_NAMES);
        }
        static MADE: std::sync::Mutex<Vec<&'static AttributeNames>> =
            std::sync::Mutex::new(Vec::new());
        let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(names) = made.iter().find(|n| n.prefix == prefix) {
            return Ok(names);
        }
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let keys: &'static [&'static str] = Box::leak(Box::new([
            leak(format!("{prefix}run_id")),
            leak(format!("{prefix}trace_id_short")),
        ]));
        let callsite: &'static NamesCallsite = Box::leak(Box::new(NamesCallsite {
            metadata: std::sync::OnceLock::new(),
        }));
        let metadata = Metadata::new(
            "tracectx.attributes",
            "tracectx::otel",
            tracing::Level::TRACE,
            None,
            None,
            None,
            FieldSet::new(keys, Identifier(callsite)),
            Kind::SPAN,
        );
        let _ = callsite.metadata.set(metadata);
        let names: &'static AttributeNames = Box::leak(Box::new(AttributeNames {
            prefix: leak(prefix.to_owned()),
            callsite,
        }));
        made.push(names);
        Ok(names)
    }

    /// The key of the run id: `<prefix>run_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// let names = tracectx::otel::AttributeNames::new("peak_trade.")?;
    /// assert_eq!(names.run_id(), "peak_trade.run_id");
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn run_id(&self) -> &'static str {
        self.keys()[0]
    }

    /// The key of the short trace id: `<prefix>trace_id_short`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::otel::{AttributeNames, DEFAULT_ATTRIBUTE_PREFIX, SHORT_TRACE_ID_ATTRIBUTE};
    ///
    /// let names = AttributeNames::new(DEFAULT_ATTRIBUTE_PREFIX)?;
    /// assert_eq!(names.short_trace_id(), SHORT_TRACE_ID_ATTRIBUTE);
    /// assert_eq!(AttributeNames::new("app.")?.short_trace_id(), "app.trace_id_short");
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn short_trace_id(&self) -> &'static str {
        self.keys()[1]
    }

    /// The prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// let names = tracectx::otel::AttributeNames::new("peak_trade.")?;
    /// assert_eq!(names.prefix(), "peak_trade.");
    /// assert!(names.run_id().starts_with(names.prefix()));
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    fn keys(&self) -> [&'static str; 2] {
        let fields = self.callsite.fields();
        let mut names = fields.iter().map(|f| f.name());
        [
            names.next().unwrap_or(RUN_ID_ATTRIBUTE),
            names.next().unwrap_or(SHORT_TRACE_ID_ATTRIBUTE),
        ]
    }
}

impl fmt::Debug for AttributeNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttributeNames")
            .field("run_id", &self.run_id())
            .field("short_trace_id", &self.short_trace_id())
            .finish()
    }
}

/// OpenTelemetry attribute keys are any text; these are what a dashboard's query language
/// takes without quoting.
fn check_prefix(prefix: &str) -> Result<(), InvalidAttributePrefix> {
    let fail = |reason: String| {
        Err(InvalidAttributePrefix {
            prefix: prefix.chars().take(64).collect(),
            reason,
        })
    };
    if prefix.len() > 64 {
        return fail(format!("{} bytes, more than the 64 allowed", prefix.len()));
    }
    match prefix
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some((at, c)) => fail(format!(
            "{c:?} at byte {at} is not a letter, digit, '_', '-' or '.'"
        )),
        None => Ok(()),
    }
}

/// A tracing-opentelemetry layer whose spans join the current scope's trace, with the tracer
/// `tracer`: `TraceContextOtelLayer::new(tracing_opentelemetry::layer().with_tracer(tracer))`.
///
/// Use [`TraceContextOtelLayer::new`] to wrap an `OpenTelemetryLayer` configured otherwise.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use tracing_subscriber::prelude::*;
/// use tracectx::otel::{RUN_ID_ATTRIBUTE, SHORT_TRACE_ID_ATTRIBUTE};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// let subscriber = tracing_subscriber::registry().with(tracectx::otel::layer(provider.tracer("app")));
///
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// tracing::subscriber::with_default(subscriber, || {
///     ctx.sync_scope(|| tracing::info_span!("fill").in_scope(|| {}));
/// });
///
/// let span = &exporter.get_finished_spans().unwrap()[0];
/// assert_eq!(span.span_context.trace_id().to_bytes(), ctx.trace_id().to_bytes());
/// let attributes: Vec<_> =
///     span.attributes.iter().map(|kv| (kv.key.as_str(), kv.value.to_string())).collect();
/// assert!(attributes.contains(&(RUN_ID_ATTRIBUTE, "job_1".to_owned())));
/// assert!(attributes.contains(&(SHORT_TRACE_ID_ATTRIBUTE, ctx.trace_id().to_string())));
/// # Ok::<(), tracectx::InvalidId>(())
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
/// A span with an explicit parent (`parent: &span` in the span macros) is exported in that
/// parent's trace, so it belongs to the context its parent was created in, whatever scope it
/// is made in: it carries that context's run id and short trace id, or none when the parent
/// was made outside every context. An explicit root (`parent: None`) starts a trace of its
/// own and carries no run's ids. The attributes so always name the trace the span is in.
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
    names: &'static AttributeNames,
}

impl<L> TraceContextOtelLayer<L> {
    /// Wraps `inner`, normally a `tracing_opentelemetry::OpenTelemetryLayer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemorySpanExporter::default();
    /// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    /// let otel = tracing_opentelemetry::layer()
    ///     .with_tracer(provider.tracer("app"))
    ///     .with_threads(false);
    /// let layer = tracectx::otel::TraceContextOtelLayer::new(otel);
    ///
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     ctx.sync_scope(|| tracing::info_span!("fill").in_scope(|| {}));
    /// });
    /// let span = &exporter.get_finished_spans().unwrap()[0];
    /// assert_eq!(span.span_context.trace_id().to_bytes(), ctx.trace_id().to_bytes());
    /// let keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    /// assert!(keys.contains(&"tracectx.run_id")); // the ids added
    /// assert!(!keys.contains(&"thread.id")); // the inner layer's own settings kept
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub const fn new(inner: L) -> Self {
        Self {
            inner,
            names: &DEFAULT_NAMES,
        }
    }

    /// Writes the run id and short trace id under `prefix` instead of
    /// [`DEFAULT_ATTRIBUTE_PREFIX`]: `peak_trade.` gives `peak_trade.run_id` and
    /// `peak_trade.trace_id_short`.
    ///
    /// # Errors
    ///
    /// [`InvalidAttributePrefix`]: see [`AttributeNames::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemorySpanExporter::default();
    /// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    /// let layer = tracectx::otel::layer(provider.tracer("app")).with_attribute_prefix("peak_trade.")?;
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracectx::TraceContext::new("backtest_abc123")
    ///         .unwrap()
    ///         .sync_scope(|| tracing::info_span!("session").in_scope(|| {}));
    /// });
    /// let span = &exporter.get_finished_spans().unwrap()[0];
    /// assert!(span.attributes.iter().any(|kv| kv.key.as_str() == "peak_trade.run_id"
    ///     && kv.value.as_str() == "backtest_abc123"));
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn with_attribute_prefix(self, prefix: &str) -> Result<Self, InvalidAttributePrefix> {
        Ok(Self {
            inner: self.inner,
            names: AttributeNames::new(prefix)?,
        })
    }

    /// The attribute keys this layer writes.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let layer = tracectx::otel::layer::<tracing_subscriber::Registry, _>(provider.tracer("app"));
    /// assert_eq!(layer.attribute_names().run_id(), tracectx::otel::RUN_ID_ATTRIBUTE);
    /// let layer = layer.with_attribute_prefix("app.")?;
    /// assert_eq!(layer.attribute_names().short_trace_id(), "app.trace_id_short");
    /// # Ok::<(), tracectx::otel::InvalidAttributePrefix>(())
    /// ```
    pub fn attribute_names(&self) -> &'static AttributeNames {
        self.names
    }

    /// The wrapped layer.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use tracectx::otel::TraceContextOtelLayer;
    ///
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let otel = tracing_opentelemetry::layer::<tracing_subscriber::Registry>()
    ///     .with_tracer(provider.tracer("app"))
    ///     .with_threads(false);
    /// let layer = TraceContextOtelLayer::new(otel);
    /// let inner: &tracing_opentelemetry::OpenTelemetryLayer<_, _> = layer.inner();
    /// assert!(std::any::type_name_of_val(inner).contains("OpenTelemetryLayer"));
    /// ```
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The wrapped layer, unwrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemorySpanExporter::default();
    /// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    /// let layer = tracectx::otel::layer(provider.tracer("app"));
    /// // tracing-opentelemetry's layer alone: spans no longer join the scope's trace.
    /// let subscriber = tracing_subscriber::registry().with(layer.into_inner());
    /// let ctx = tracectx::TraceContext::new("job_1")?;
    /// tracing::subscriber::with_default(subscriber, || {
    ///     ctx.sync_scope(|| tracing::info_span!("work").in_scope(|| {}));
    /// });
    /// let span = &exporter.get_finished_spans().unwrap()[0];
    /// assert_ne!(span.span_context.trace_id().to_bytes(), ctx.trace_id().to_bytes());
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
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

/// The callsite of another prefix's keys, made (and kept) by [`AttributeNames::new`].
struct NamesCallsite {
    metadata: std::sync::OnceLock<Metadata<'static>>,
}

impl Callsite for NamesCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        // Set as soon as the callsite is made, before anything can see it.
        self.metadata.get().unwrap_or(&ATTRIBUTE_METADATA)
    }
}

/// The keys under [`DEFAULT_ATTRIBUTE_PREFIX`].
pub(crate) fn default_attribute_names() -> &'static AttributeNames {
    &DEFAULT_NAMES
}

/// The default prefix's keys, on the static callsite.
static DEFAULT_NAMES: AttributeNames = AttributeNames {
    prefix: DEFAULT_ATTRIBUTE_PREFIX,
    callsite: &DEFAULT_CALLSITE,
};

static DEFAULT_CALLSITE: NamesCallsite = NamesCallsite {
    metadata: std::sync::OnceLock::new(),
};

impl NamesCallsite {
    fn fields(&'static self) -> &'static FieldSet {
        match self.metadata.get() {
            Some(m) => m.fields(),
            None => ATTRIBUTE_METADATA.fields(),
        }
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
        // A span with an explicit parent is exported in that parent's trace: it takes the
        // context the parent is in (none for an explicit root, which starts a trace of its
        // own, or a parent outside every context), never the one it happens to be made in,
        // or its attributes would name a run and trace it is not part of.
        let scope = if attrs.is_contextual() {
            crate::scope::current().or_else(|| Self::inherited(attrs, &ctx))
        } else {
            Self::inherited(attrs, &ctx)
        };
        let Some(scope) = scope else {
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

        let fields = self.names.callsite.fields();
        let short = trace_id.short();
        let mut each = fields.iter();
        let (Some(run_field), Some(short_field)) = (each.next(), each.next()) else {
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

    // `unsafe`, as in every tracing-subscriber layer that wraps another (`Filtered`,
    // `reload::Layer`): the inner layer must stay reachable by downcasting, or
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
