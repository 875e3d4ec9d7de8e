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
//!   [`SHORT_TRACE_ID_ATTRIBUTE`] (`tracectx.trace_id_short`), or the same keys under another
//!   prefix ([`TraceContextOtelLayer::with_attribute_prefix`]).
//! - [`init_otlp`]: a tracer provider exporting over OTLP/HTTP (protobuf) to a collector, and
//!   an [`OtlpGuard`] that flushes the last spans when dropped.
//! - Logs: [`log_layer`] ([`OtelLogLayer`]) turns each `tracing` event into an OpenTelemetry
//!   log record with the context's trace id and span id and the run id as an attribute;
//!   [`init_otlp_logs`] exports them over OTLP/HTTP without ever making the application wait,
//!   and never exports the export's own logs.
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

#[cfg(doc)]
use crate::{InvalidId, InvalidIdReason, SpanId, TraceContext, TraceId};

mod convert;
mod layer;
mod logs;
mod otlp;

pub use layer::{
    AttributeNames, DEFAULT_ATTRIBUTE_PREFIX, InvalidAttributePrefix, RUN_ID_ATTRIBUTE,
    SHORT_TRACE_ID_ATTRIBUTE, TraceContextOtelLayer, layer,
};
pub use logs::{OtelLogLayer, OtlpLogs, init_otlp_logs, log_layer};
pub use otlp::{ExportStats, OtlpError, OtlpGuard, init_otlp};
