//! The shape of the public API, checked at compile time. The auto traits, as tokio's
//! `tests/async_send_sync.rs` checks them: every error is `Send + Sync + 'static`, every
//! wrapper is `Send`, `Sync` and `Unpin` exactly when what it wraps is, and nothing is `Send`
//! by accident. And the constructors that can be `const` are, so statics can hold them.
//!
//! A failed check is a build error of this file, named for the type and the trait.

#![allow(dead_code, clippy::extra_unused_type_parameters)]

use std::cell::Cell;
use std::error::Error as StdError;
use std::marker::PhantomPinned;
use std::rc::Rc;

/// Neither `Send` nor `Sync`.
type NotSend = Rc<()>;
/// `Send` but not `Sync`.
type NotSync = Cell<()>;
/// `Send` and `Sync` but not `Unpin`.
type NotUnpin = PhantomPinned;

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}
fn error<E: StdError + Send + Sync + 'static>() {}

/// Does not compile when `$ty` implements `$trait` (two blanket impls become ambiguous).
macro_rules! assert_not_impl {
    ($ty:ty, $trait:path) => {{
        trait AmbiguousIfImpl<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
        impl<T: ?Sized + $trait> AmbiguousIfImpl<u8> for T {}
        <$ty as AmbiguousIfImpl<_>>::check();
    }};
}

/// `$ty<$inner>` is `Send`/`Sync`/`Unpin` with an inner that is, and not with one that is not.
macro_rules! assert_wrapper {
    ($wrapper:ident) => {{
        send::<$wrapper<()>>();
        sync::<$wrapper<()>>();
        unpin::<$wrapper<()>>();
        assert_not_impl!($wrapper<NotSend>, Send);
        assert_not_impl!($wrapper<NotSync>, Sync);
        assert_not_impl!($wrapper<NotUnpin>, Unpin);
    }};
}

#[test]
fn errors_are_send_sync_static() {
    error::<tracectx::Error>();
    error::<tracectx::InvalidId>();
    error::<tracectx::InvalidIdReason>();
    error::<tracectx::Traced<std::io::Error>>();
    error::<tracectx::propagation::TraceParentError>();
    error::<tracectx::propagation::TraceStateError>();
    error::<tracectx::time::TimeFormatError>();
    error::<tracectx::time::ParseTimestampError>();
}

#[cfg(feature = "logging")]
#[test]
fn logging_errors_are_send_sync_static() {
    error::<tracectx::logging::InitError>();
    error::<tracectx::logging::TemplateError>();
}

#[cfg(feature = "query")]
#[test]
fn query_errors_are_send_sync_static() {
    error::<tracectx::logging::query::FormatError>();
}

#[cfg(feature = "repro")]
#[test]
fn repro_errors_are_send_sync_static() {
    error::<tracectx::repro::ReproError>();
}

#[cfg(feature = "opentelemetry")]
#[test]
fn otel_errors_are_send_sync_static() {
    error::<tracectx::otel::OtlpError>();
    error::<tracectx::otel::InvalidAttributePrefix>();
}

#[cfg(feature = "prometheus")]
#[test]
fn metrics_errors_are_send_sync_static() {
    error::<tracectx::metrics::InvalidName>();
    error::<tracectx::metrics::GlobalAlreadySet>();
}

#[test]
fn ids_and_context_are_send_sync_unpin() {
    fn all<T: Send + Sync + Unpin + 'static>() {}
    all::<tracectx::TraceContext>();
    all::<tracectx::RunId>();
    all::<tracectx::TraceId>();
    all::<tracectx::ShortTraceId>();
    all::<tracectx::SpanId>();
    all::<tracectx::TraceFlags>();
    all::<tracectx::ErrorContext>();
    all::<tracectx::propagation::TraceParent>();
    all::<tracectx::propagation::TraceState>();
    all::<tracectx::propagation::Baggage>();
    all::<tracectx::propagation::Environment>();
    all::<tracectx::propagation::Received>();
    all::<tracectx::propagation::ClaimedRunId>();
    all::<tracectx::time::Timestamp>();
    all::<tracectx::time::TimeFormat>();
}

#[test]
fn in_trace_context_follows_its_inner_value() {
    use tracectx::InTraceContext;
    assert_wrapper!(InTraceContext);
}

#[test]
fn in_trace_context_per_item_follows_its_inner_stream() {
    use tracectx::InTraceContextPerItem;
    assert_wrapper!(InTraceContextPerItem);
}

#[test]
fn envelope_follows_its_message() {
    use tracectx::Envelope;
    assert_wrapper!(Envelope);
}

#[test]
fn traced_follows_its_error() {
    use tracectx::Traced;
    send::<Traced<()>>();
    sync::<Traced<()>>();
    unpin::<Traced<()>>();
    assert_not_impl!(Traced<NotSend>, Send);
    assert_not_impl!(Traced<NotSync>, Sync);
}

#[test]
fn channels_are_send_and_sync_as_tokio_s_are() {
    use tracectx::sync::{mpsc, oneshot};
    fn both<T: Send + Sync>() {}
    both::<mpsc::Sender<NotSync>>();
    both::<mpsc::Receiver<NotSync>>();
    both::<mpsc::UnboundedSender<NotSync>>();
    both::<mpsc::UnboundedReceiver<NotSync>>();
    both::<mpsc::Permit<'static, NotSync>>();
    both::<oneshot::Sender<NotSync>>();
    both::<oneshot::Receiver<NotSync>>();
    assert_not_impl!(mpsc::Sender<NotSend>, Send);
    assert_not_impl!(mpsc::Receiver<NotSend>, Send);
    assert_not_impl!(oneshot::Sender<NotSend>, Send);
    assert_not_impl!(oneshot::Receiver<NotSend>, Send);
}

#[test]
fn traced_futures_are_send_when_their_future_is() {
    use tracectx::prelude::*;
    fn is_send<T: Send>(_: &T) {}
    let fut = async {}.in_trace_context(TraceContext::generate("job"));
    is_send(&fut);
    let spawned = async { tracectx::spawn_traced(async {}).await };
    is_send(&spawned);
}

#[cfg(feature = "logging")]
#[test]
fn logging_parts_are_send_sync() {
    use tracectx::logging::*;
    fn both<T: Send + Sync + 'static>() {}
    both::<Builder>();
    both::<TextFormat>();
    both::<JsonFormat>();
    both::<Stamped<TextFormat>>();
    both::<SpanContextLayer>();
    both::<FileWriter>();
    both::<NonBlocking>();
    both::<NonBlockingBuilder>();
    both::<WorkerGuard>();
    both::<PerRunFiles>();
    both::<PerRunFilesBuilder>();
    both::<FixedClock>();
    both::<SystemClock>();
    both::<WriterStats>();
}

#[cfg(feature = "query")]
#[test]
fn query_parts_are_send_sync() {
    use tracectx::logging::query::*;
    fn both<T: Send + Sync>() {}
    both::<Query>();
    both::<LineParser>();
    both::<Runs>();
    both::<RunSummary>();
    both::<LineStamp<'static>>();
}

#[cfg(feature = "http")]
#[test]
fn http_middleware_follows_its_service() {
    use tracectx::propagation::*;
    fn both<T: Send + Sync>() {}
    both::<ExtractTraceContextLayer>();
    both::<InjectTraceContextLayer>();
    both::<ExtractTraceContext<()>>();
    both::<InjectTraceContext<()>>();
    send::<ExtractTraceContextFuture<()>>();
    unpin::<ExtractTraceContextFuture<()>>();
    assert_not_impl!(ExtractTraceContext<NotSend>, Send);
    assert_not_impl!(InjectTraceContext<NotSend>, Send);
    assert_not_impl!(ExtractTraceContextFuture<NotSend>, Send);
    assert_not_impl!(ExtractTraceContextFuture<NotUnpin>, Unpin);
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_middleware_follows_its_service() {
    use tracectx::propagation::*;
    fn both<T: Send + Sync>() {}
    both::<InjectTraceContextInterceptor>();
    both::<InjectGrpcTraceContextLayer>();
    both::<InjectGrpcTraceContext<()>>();
    assert_not_impl!(InjectGrpcTraceContext<NotSend>, Send);
}

#[cfg(feature = "hyper")]
#[test]
fn traced_executor_follows_its_executor() {
    use tracectx::TracedExecutor;
    assert_wrapper!(TracedExecutor);
}

#[cfg(feature = "repro")]
#[test]
fn repro_parts_are_send_sync() {
    use tracectx::repro::*;
    fn both<T: Send + Sync + 'static>() {}
    both::<ReproContext>();
    both::<ReproRng>();
    both::<Difference>();
}

#[cfg(feature = "opentelemetry")]
#[test]
fn otel_parts_are_send_sync() {
    use tracectx::otel::*;
    fn both<T: Send + Sync + 'static>() {}
    both::<AttributeNames>();
    both::<TraceContextOtelLayer<()>>();
    both::<OtelLogLayer>();
    both::<OtlpGuard>();
    both::<OtlpLogs>();
    both::<ExportStats>();
    assert_not_impl!(TraceContextOtelLayer<NotSend>, Send);
}

#[cfg(feature = "prometheus")]
#[test]
fn metrics_parts_are_send_sync() {
    use tracectx::metrics::*;
    fn both<T: Send + Sync + 'static>() {}
    both::<Metrics>();
    both::<MetricsConfig>();
    both::<Timer>();
}

#[test]
fn constructors_are_const() {
    const TRACE_ID: Option<tracectx::TraceId> = tracectx::TraceId::from_u128(1);
    const SPAN_ID: Option<tracectx::SpanId> = tracectx::SpanId::from_u64(1);
    const FLAGS: tracectx::TraceFlags = tracectx::TraceFlags::from_u8(1);
    const AT: tracectx::time::Timestamp = tracectx::time::Timestamp::from_micros(0);
    assert_eq!(TRACE_ID.map(tracectx::TraceId::to_u128), Some(1));
    assert_eq!(SPAN_ID.map(tracectx::SpanId::to_u64), Some(1));
    assert!(FLAGS.is_sampled());
    assert_eq!(AT.as_micros(), 0);
}

#[cfg(feature = "logging")]
#[test]
fn logging_constructors_are_const() {
    use tracectx::logging::{FixedClock, JsonFormat, SpanContextLayer};
    static LAYER: SpanContextLayer = SpanContextLayer::new();
    static FORMAT: JsonFormat = JsonFormat::new();
    const EPOCH: FixedClock = FixedClock::new(std::time::SystemTime::UNIX_EPOCH);
    let line = format!("{LAYER:?} {FORMAT:?} {EPOCH:?}");
    assert!(
        line.contains("SpanContextLayer") && line.contains("JsonFormat"),
        "{line}"
    );
}

#[cfg(feature = "http")]
#[test]
fn http_constructors_are_const() {
    use tracectx::propagation::{ExtractTraceContextLayer, InjectTraceContextLayer, RunPolicy};
    static EXTRACT: ExtractTraceContextLayer = ExtractTraceContextLayer::new(RunPolicy::OwnRun);
    static INJECT: InjectTraceContextLayer = InjectTraceContextLayer::new();
    let line = format!("{EXTRACT:?} {INJECT:?}");
    assert!(line.contains("OwnRun"), "{line}");
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_constructors_are_const() {
    use tracectx::propagation::{InjectGrpcTraceContextLayer, InjectTraceContextInterceptor};
    static LAYER: InjectGrpcTraceContextLayer = InjectGrpcTraceContextLayer::new();
    static INTERCEPTOR: InjectTraceContextInterceptor = InjectTraceContextInterceptor::new();
    let line = format!("{LAYER:?} {INTERCEPTOR:?}");
    assert!(line.contains("InjectGrpcTraceContextLayer"), "{line}");
}

#[cfg(feature = "opentelemetry")]
#[test]
fn otel_layer_constructor_is_const() {
    use tracectx::otel::TraceContextOtelLayer;
    const LAYER: TraceContextOtelLayer<()> = TraceContextOtelLayer::new(());
    assert!(format!("{LAYER:?}").contains("TraceContextOtelLayer"));
}
