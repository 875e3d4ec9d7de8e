//! Carrying a [`TraceContext`] to other processes: W3C Trace Context (`traceparent`,
//! `tracestate`) and W3C Baggage (the run id, under the key [`RUN_ID_KEY`]).
//!
//! [`inject`] writes a context's ids into a carrier (HTTP headers, a message's metadata, a
//! child process's environment); [`extract`] reads them on the other side and makes the
//! context for the work done there: same run id and trace id, a new span id, and the sender's
//! span id as its parent. Anything invalid or hostile in the incoming headers is ignored as
//! the specifications say (a new trace starts); nothing here panics on input.
//!
//! Every outgoing call is a span of its own: [`inject_current`], the client layer, the
//! `reqwest` and `Command` helpers send a child of the current span ([`TraceContext::child`]),
//! so the calls made while handling one request each carry a new parent id, as W3C Trace
//! Context asks ("for each outgoing request ... the value of property `parent-id` MUST be set
//! to a value representing the ID of the current operation").
//!
//! A receiving side chooses whether the caller may pick the run its work is filed under: see
//! [`RunPolicy`] (trust the caller behind one edge, a run of its own at a public edge).
//!
//! # Carriers
//!
//! A carrier is anything that implements [`Extractor`] / [`Injector`]. These come with the
//! crate:
//!
//! | carrier | feature | helpers |
//! |---|---|---|
//! | `HashMap<String, String>` | | |
//! | a child process's environment (`TRACEPARENT`, `TRACESTATE`, `BAGGAGE`): [`Environment`], `std::process::Command` | (`tokio-process` for `tokio::process::Command`) | [`CommandExt`], [`extract_env`] |
//! | `http::HeaderMap` | `http` | `ExtractTraceContextLayer`, `InjectTraceContextLayer`, `RequestBuilderExt` (`reqwest`) |
//! | `tonic::metadata::MetadataMap` (gRPC) | `grpc` | `ExtractTraceContextLayer` on tonic servers, `InjectGrpcTraceContextLayer` on channels, `InjectTraceContextInterceptor` |
//! | `async_nats::HeaderMap` (NATS) | `nats` | `message_context`, `for_each_message` |
//!
//! ## Other transports: Kafka, AMQP, Redis streams
//!
//! A transport whose messages carry string headers needs only a small adapter; the names are
//! the W3C header names, lowercase (`traceparent`, `tracestate`, `baggage`), as OpenTelemetry's
//! instrumentations of these transports write them, so both sides interoperate with them.
//!
//! - **Kafka** record headers (rdkafka's `OwnedHeaders`/`BorrowedHeaders`, each a key and
//!   bytes): inject by adding one header per name; extract by reporting the value of every
//!   header whose key matches, as text ([`UNREADABLE`] when the bytes are not UTF-8). Kafka
//!   keeps repeated keys, so a second `traceparent` is seen and refused, as it must be.
//! - **AMQP 0-9-1** message properties (lapin's `BasicProperties::with_headers`, a
//!   `FieldTable` of `ShortString` keys): inject each value as an `AMQPValue::LongString`;
//!   extract the `LongString` (or `ShortString`) under the name. A field table holds one value
//!   per key.
//! - **Redis streams** (`XADD key * field value ...`): write the three names as fields of the
//!   entry beside the payload; on `XREAD`/`XREADGROUP`, read them back from the entry's
//!   field/value pairs (a field can repeat in an entry: report every value).
//!
//! Then `inject_current(&mut headers)` before sending, and on receipt
//! `RunPolicy::TrustCaller.receive(&headers, "message")` (or [`extract`]) and
//! `.in_trace_context(ctx)` around the handler. An adapter in the shape of Kafka's headers:
//!
//! ```
//! use tracectx::prelude::*;
//! use tracectx::propagation::{self, Extractor, Injector, RunPolicy, UNREADABLE};
//!
//! /// Record headers as Kafka keeps them: ordered, keys may repeat, values are bytes.
//! #[derive(Default)]
//! struct RecordHeaders(Vec<(String, Vec<u8>)>);
//!
//! impl Injector for RecordHeaders {
//!     fn set(&mut self, name: &'static str, value: &str) {
//!         self.0.retain(|(k, _)| k != name);
//!         self.0.push((name.to_owned(), value.as_bytes().to_vec()));
//!     }
//! }
//!
//! impl Extractor for RecordHeaders {
//!     fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
//!         self.0
//!             .iter()
//!             .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
//!             .map(|(_, v)| std::str::from_utf8(v).unwrap_or(UNREADABLE))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
//! // Producer: inside the run, each record is sent from a span of its own.
//! let run = TraceContext::new("backtest_ab12cd34")?;
//! let mut headers = RecordHeaders::default();
//! let producer = run.sync_scope(|| propagation::inject_current(&mut headers)).unwrap();
//! assert_eq!(producer.parent_span_id(), Some(run.span_id()));
//!
//! // Consumer, in another process: the handler runs in the producer's run and trace.
//! let ctx = RunPolicy::TrustCaller.receive(&headers, "message").into_context();
//! let seen = async { tracectx::get_run_id() }.in_trace_context(ctx.clone()).await;
//! assert_eq!(seen.as_deref(), Some("backtest_ab12cd34"));
//! assert_eq!(ctx.trace_id(), run.trace_id());
//! assert_eq!(ctx.parent_span_id(), Some(producer.span_id()));
//! # Ok(()) }
//! ```
//!
//! # Examples
//!
//! ```
//! use std::collections::HashMap;
//! use tracectx::{propagation, TraceContext};
//!
//! let ctx = TraceContext::new("backtest_ab12cd34")?;
//! let mut headers = HashMap::new();
//! propagation::inject(&ctx, &mut headers);
//! assert!(headers["traceparent"].contains(&format!("{:x}", ctx.trace_id())));
//!
//! let there = propagation::extract(&headers).expect("valid headers");
//! assert_eq!(there.run_id(), "backtest_ab12cd34");
//! assert_eq!(there.trace_id(), ctx.trace_id());
//! assert_eq!(there.parent_span_id(), Some(ctx.span_id()));
//! # Ok::<(), tracectx::InvalidId>(())
//! ```

// === shared by the parsers ===

/// A table saying, for each byte value, whether `$test` holds: one lookup per byte in the
/// parsers' loops.
macro_rules! byte_class {
    (|$b:ident| $test:expr_2021) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            table[i] = $test;
            i += 1;
        }
        table
    }};
}

/// Where `s` starts and ends without the spaces and tabs (HTTP's optional whitespace) around
/// it.
fn ows_bounds(s: &[u8]) -> (usize, usize) {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    (start, end)
}

/// `s` without the optional whitespace around it.
fn trim_ows(s: &[u8]) -> &[u8] {
    let (start, end) = ows_bounds(s);
    &s[start..end]
}

/// [`trim_ows`] for text: the cuts fall next to ASCII bytes, so on character boundaries.
fn trim_ows_str(s: &str) -> &str {
    let (start, end) = ows_bounds(s.as_bytes());
    s.get(start..end).unwrap_or("")
}

mod baggage;
mod env;
#[cfg(feature = "grpc")]
mod grpc;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "nats")]
mod nats;
mod policy;
mod traceparent;
mod tracestate;

use std::collections::HashMap;

use crate::context::{RunId, SpanId, TraceContext, TraceFlags};

pub use baggage::{
    Baggage, MAX_BYTES as MAX_BAGGAGE_BYTES, MAX_MEMBERS as MAX_BAGGAGE_MEMBERS, RUN_ID_KEY,
};
pub use env::{CommandExt, Environment, extract_env};
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub use grpc::{
    InjectGrpcTraceContext, InjectGrpcTraceContextLayer, InjectTraceContextInterceptor,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use http::RequestBuilderExt;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use http::{
    ExtractTraceContext, ExtractTraceContextFuture, ExtractTraceContextLayer, InjectTraceContext,
    InjectTraceContextLayer,
};
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use nats::{for_each_message, message_context};
pub use policy::{ClaimedRunId, Received, RunPolicy};
pub use traceparent::{TraceParent, TraceParentError};
pub use tracestate::{MAX_MEMBERS as MAX_TRACESTATE_MEMBERS, TraceState, TraceStateError};

/// The `traceparent` header name.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, TRACEPARENT};
///
/// let mut headers = HashMap::new();
/// propagation::inject(&tracectx::TraceContext::new("job_1")?, &mut headers);
/// assert_eq!(headers[TRACEPARENT].len(), 55);
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, TraceState, TRACESTATE};
///
/// let state = TraceState::parse(["rojo=00f067aa0ba902b7"])?;
/// let ctx = tracectx::TraceContext::generate("request").with_trace_state(Some(state));
/// let mut headers = HashMap::new();
/// propagation::inject(&ctx, &mut headers);
/// assert_eq!(headers[TRACESTATE], "rojo=00f067aa0ba902b7");
/// # Ok::<(), tracectx::propagation::TraceStateError>(())
/// ```
pub const TRACESTATE: &str = "tracestate";
/// The `baggage` header name.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, BAGGAGE};
///
/// let mut headers = HashMap::new();
/// propagation::inject(&tracectx::TraceContext::new("job_1")?, &mut headers);
/// assert_eq!(headers[BAGGAGE], "run_id=job_1");
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub const BAGGAGE: &str = "baggage";

/// The prefix of a run id made for an incoming trace that carries none: `trace_<32 hex>`, the
/// same on every service that receives that trace.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, DERIVED_RUN_ID_PREFIX};
///
/// // A `traceparent` and no `baggage`: the run id is derived from the trace id.
/// let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let headers = HashMap::from([("traceparent".to_owned(), tp.to_owned())]);
/// let ctx = propagation::extract(&headers).expect("valid traceparent");
/// let expected = format!("{DERIVED_RUN_ID_PREFIX}_4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(ctx.run_id().as_str(), expected);
/// ```
pub const DERIVED_RUN_ID_PREFIX: &str = "trace";

/// What a carrier reports for a header value it cannot read as text: U+FFFD, the replacement
/// character, which no parser here accepts.
///
/// A carrier must report such a value rather than leave it out: [`extract`] refuses a message
/// with more than one `traceparent`, and a second one that vanished would let the first
/// through. An unreadable `tracestate` makes the whole `tracestate` invalid (it is dropped); an
/// unreadable `baggage` value is a malformed member (skipped).
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{Baggage, TraceParent, TraceState, UNREADABLE};
///
/// assert!(TraceParent::parse(UNREADABLE).is_err());
/// assert!(TraceState::parse(["rojo=1", UNREADABLE]).is_err());
/// assert!(Baggage::parse([UNREADABLE]).is_empty());
/// ```
pub const UNREADABLE: &str = "\u{FFFD}";

/// A carrier that headers can be read from.
///
/// Implement it for your own carrier (a queue message's metadata, gRPC metadata) to use
/// [`extract`] with it. Report every value, including those that are not text (as
/// [`UNREADABLE`]): leaving one out could hide a duplicate `traceparent`.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{self, Extractor};
///
/// struct Metadata(Vec<(String, String)>);
///
/// impl Extractor for Metadata {
///     fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
///         self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
///     }
/// }
///
/// let msg = Metadata(vec![("traceparent".into(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into())]);
/// let ctx = propagation::extract(&msg).expect("valid traceparent");
/// assert_eq!(format!("{:x}", ctx.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
/// ```
pub trait Extractor {
    /// Every value of the header `name` (case-insensitive for HTTP), in order. A value that is
    /// not text is reported as [`UNREADABLE`], never left out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::Extractor;
    ///
    /// let headers = HashMap::from([("Baggage".to_owned(), "run_id=job_1".to_owned())]);
    /// let values: Vec<&str> = headers.get_all("baggage").collect();
    /// assert_eq!(values, ["run_id=job_1"]);
    /// ```
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str>;
}

/// A carrier that headers can be written to.
///
/// Implement it for your own carrier (a queue message's metadata, gRPC metadata) to use
/// [`inject`] with it.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{self, Injector};
///
/// #[derive(Default)]
/// struct Metadata(Vec<(&'static str, String)>);
///
/// impl Injector for Metadata {
///     fn set(&mut self, name: &'static str, value: &str) {
///         self.0.retain(|(k, _)| *k != name);
///         self.0.push((name, value.to_owned()));
///     }
/// }
///
/// let mut msg = Metadata::default();
/// propagation::inject(&tracectx::TraceContext::new("job_1")?, &mut msg);
/// assert!(msg.0.iter().any(|(k, v)| *k == "baggage" && v == "run_id=job_1"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub trait Injector {
    /// Sets the header `name` to `value`, replacing earlier values.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::Injector;
    ///
    /// let mut headers: HashMap<String, String> = HashMap::new();
    /// headers.set("baggage", "run_id=a");
    /// headers.set("baggage", "run_id=b");
    /// assert_eq!(headers["baggage"], "run_id=b"); // replaced, not appended
    /// ```
    fn set(&mut self, name: &'static str, value: &str);

    /// The values the header `name` already has in the carrier, joined by `,`; `None` when it
    /// has none. [`inject`] reads `baggage` through it to keep the members the application
    /// set itself (a tenant, a feature flag) beside the run id's, and `tracestate` to empty
    /// one that the context does not carry. The default, `None`, makes `inject` replace
    /// `baggage` and leave a `tracestate` as it is, as it did before a carrier implemented
    /// this.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::{self, Injector};
    ///
    /// let mut headers: HashMap<String, String> = HashMap::new();
    /// headers.set("baggage", "tenant=acme");
    /// assert_eq!(headers.existing("baggage").as_deref(), Some("tenant=acme"));
    /// propagation::inject(&tracectx::TraceContext::new("job_1")?, &mut headers);
    /// assert_eq!(headers["baggage"], "run_id=job_1,tenant=acme");
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    fn existing(&self, name: &'static str) -> Option<String> {
        let _ = name;
        None
    }
}

/// [`Injector::existing`] for a carrier that is also an [`Extractor`]: its values of `name`,
/// joined by `,`.
pub(crate) fn existing_values(carrier: &impl Extractor, name: &str) -> Option<String> {
    let values: Vec<&str> = carrier.get_all(name).collect();
    (!values.is_empty()).then(|| values.join(","))
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    /// Sets `name`, replacing a value under any spelling of it (the extractor matches names in
    /// any case, so a `Traceparent` left beside a new `traceparent` would be read as two).
    fn set(&mut self, name: &'static str, value: &str) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value.to_owned());
    }

    fn existing(&self, name: &'static str) -> Option<String> {
        existing_values(self, name)
    }
}

/// Writes `ctx` into `carrier`: `traceparent` (`ctx`'s span id as the parent id),
/// `tracestate` when the context carries one (a `tracestate` the carrier already had is
/// emptied when it does not: it is no part of this trace), and `baggage` with the run id.
///
/// `ctx` is written as it is. For an outgoing call, write a span of the call's own,
/// `ctx.child()`, as [`inject_current`] and the client helpers do: two calls that sent the same
/// span id would look like one to the receivers' tracers. The run id's member goes first in
/// `baggage` (a receiver that keeps the members within W3C's limits keeps it); the members the
/// carrier already had there ([`Injector::existing`]) follow, an earlier `run_id` left out
/// and malformed members dropped; then the members the context passes on from upstream
/// ([`TraceContext::baggage`]) whose keys the carrier's do not set, as long as the list stays
/// within W3C's limits.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::{propagation, TraceContext};
///
/// let ctx = TraceContext::new("job_1")?.with_span_id("00f067aa0ba902b7".parse()?);
/// let mut headers = HashMap::new();
/// propagation::inject(&ctx, &mut headers);
/// assert!(headers["traceparent"].ends_with("-00f067aa0ba902b7-03")); // this side's span
/// assert_eq!(headers["baggage"], "run_id=job_1");
///
/// // A `tracestate` copied from another request does not go out beside this trace.
/// headers.insert("tracestate".to_owned(), "rojo=00f067aa0ba902b7".to_owned());
/// propagation::inject(&ctx, &mut headers);
/// assert_eq!(headers["tracestate"], "");
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn inject(ctx: &TraceContext, carrier: &mut impl Injector) {
    let parent = TraceParent::new(ctx.trace_id(), ctx.span_id(), ctx.trace_flags());
    carrier.set(TRACEPARENT, parent.encode(&mut [0; 55]));
    match ctx.trace_state() {
        Some(state) => carrier.set(TRACESTATE, state),
        // A `tracestate` the carrier already holds (headers copied from an incoming request, as
        // a proxy does) belongs to another trace, or was refused: it must not go out beside
        // this `traceparent`. It is emptied, as OpenTelemetry's propagator sends it when there
        // is no state ("no state" to a receiver).
        None if carrier.existing(TRACESTATE).is_some() => carrier.set(TRACESTATE, ""),
        None => {}
    }
    // The run id's member, encoded on the stack: a run id has at most `MAX_RUN_ID_LEN` bytes,
    // each at most 3 encoded, so it always fits (and a valid one needs no encoding).
    let mut member =
        baggage::StackText::<{ RUN_ID_KEY.len() + 1 + 3 * crate::MAX_RUN_ID_LEN }>::new();
    if baggage::encode_member(&mut member, RUN_ID_KEY, ctx.run_id()).is_ok() {
        let existing = carrier.existing(BAGGAGE);
        match (existing.as_deref(), ctx.baggage()) {
            (None, None) => carrier.set(BAGGAGE, member.as_str()),
            (existing, inherited) => {
                let outgoing = baggage::outgoing(member.as_str(), existing, inherited);
                carrier.set(BAGGAGE, &outgoing);
            }
        }
    }
}

/// Writes an outgoing call's context into `carrier`: a child of the current context (same run
/// and trace, a new span whose parent is the current span), so every call carries a parent id
/// of its own. Outside any scope nothing is written.
///
/// Returns the call's context (the client span), to log with or to run the call in; `None`
/// outside any scope.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::{self, TraceParent};
///
/// let mut headers = HashMap::new();
/// assert!(propagation::inject_current(&mut headers).is_none()); // outside any scope
/// assert!(headers.is_empty());
///
/// let ctx = tracectx::TraceContext::new("job_1")?;
/// let call = ctx.sync_scope(|| propagation::inject_current(&mut headers)).unwrap();
/// assert_eq!(call.parent_span_id(), Some(ctx.span_id()));
/// let sent = TraceParent::parse(&headers["traceparent"]).unwrap();
/// assert_eq!(sent.parent_id(), call.span_id()); // the call's own span, not the caller's
/// assert_eq!(headers["baggage"], "run_id=job_1");
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn inject_current(carrier: &mut impl Injector) -> Option<TraceContext> {
    let call = crate::scope::read(TraceContext::child)?;
    inject(&call, carrier);
    Some(call)
}

/// Reads the context sent by the other side, and makes this side's context from it.
///
/// `None` unless exactly one valid `traceparent` is present. The run id comes from the
/// baggage member [`RUN_ID_KEY`] when it is a valid [`RunId`]; otherwise it is
/// `trace_<32 hex trace id>`, derived from the trace so that every receiver agrees on it. An
/// invalid `tracestate` is dropped; a valid one is passed on, and so are the other valid
/// `baggage` members ([`TraceContext::baggage`]).
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation;
///
/// let mut headers = HashMap::from([
///     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
///     ("baggage".to_owned(), "run_id=backtest_ab12cd34".to_owned()),
/// ]);
/// let ctx = propagation::extract(&headers).expect("valid headers");
/// assert_eq!(ctx.run_id(), "backtest_ab12cd34");
/// assert_eq!(ctx.parent_span_id().map(|id| id.to_string()).as_deref(), Some("00f067aa0ba902b7"));
///
/// headers.insert("traceparent".to_owned(), "garbage".to_owned());
/// assert!(propagation::extract(&headers).is_none()); // the caller starts a new trace
/// ```
pub fn extract(carrier: &impl Extractor) -> Option<TraceContext> {
    let mut values = carrier.get_all(TRACEPARENT);
    let first = values.next()?;
    if values.next().is_some() {
        // Several `traceparent` headers: the specification says to start a new trace.
        return None;
    }
    let parent = TraceParent::parse(first).ok()?;
    let state = TraceState::parse(carrier.get_all(TRACESTATE)).ok();
    let mut received = Baggage::parse(carrier.get_all(BAGGAGE));
    let run_id = received
        .remove(RUN_ID_KEY)
        .and_then(|r| RunId::new(&r).ok())
        .or_else(|| RunId::new(&format!("{DERIVED_RUN_ID_PREFIX}_{:x}", parent.trace_id())).ok())?;
    let flags = TraceFlags::from_u8(parent.flags().to_u8() & 0x03);
    Some(
        TraceContext::from_parts(
            run_id,
            parent.trace_id(),
            SpanId::random(),
            Some(parent.parent_id()),
        )
        .with_trace_flags(flags)
        .with_trace_state(state)
        .with_baggage(Some(received)),
    )
}
