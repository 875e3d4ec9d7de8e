//! Conversions between the crate's ids and OpenTelemetry's: the same values, the same bytes.

use opentelemetry::trace::{self as ot, TraceContextExt as _};

use crate::context::{
    InvalidId, InvalidIdReason, RunId, SpanId, TraceContext, TraceFlags, TraceId,
};
use crate::propagation::TraceState;

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
