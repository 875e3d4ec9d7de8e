//! Carrying a [`TraceContext`] to other processes: W3C Trace Context (`traceparent`,
//! `tracestate`) and W3C Baggage (the run id, under the key [`RUN_ID_KEY`]).
//!
//! [`inject`] writes the current side's ids into a carrier (HTTP headers, a message's
//! metadata); [`extract`] reads them on the other side and makes the context for the work done
//! there: same run id and trace id, a new span id, and the sender's span id as its parent.
//! Anything invalid or hostile in the incoming headers is ignored as the specifications say
//! (a new trace starts); nothing here panics on input.
//!
//! A carrier is anything that implements [`Extractor`] / [`Injector`]: `http::HeaderMap`
//! (feature `http`) and `HashMap<String, String>` come with the crate.
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

mod baggage;
#[cfg(feature = "http")]
mod http;
mod traceparent;
mod tracestate;

use std::collections::HashMap;

use crate::context::{RunId, SpanId, TraceContext, TraceFlags};

pub use baggage::{
    Baggage, MAX_BYTES as MAX_BAGGAGE_BYTES, MAX_MEMBERS as MAX_BAGGAGE_MEMBERS, RUN_ID_KEY,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use http::RequestBuilderExt;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use http::{
    InjectTraceContext, InjectTraceContextLayer, TraceContextLayer, TraceContextResponseFuture,
    TraceContextService,
};
pub use traceparent::{TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError, MAX_MEMBERS as MAX_TRACESTATE_MEMBERS};

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";
/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// The prefix of a run id made for an incoming trace that carries none: `trace_<32 hex>`, the
/// same on every service that receives that trace.
pub const DERIVED_RUN_ID_PREFIX: &str = "trace";

/// A carrier that headers can be read from.
pub trait Extractor {
    /// Every value of the header `name` (case-insensitive for HTTP), in order. Values that are
    /// not text are left out.
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str>;
}

/// A carrier that headers can be written to.
pub trait Injector {
    /// Sets the header `name` to `value`, replacing earlier values.
    fn set(&mut self, name: &'static str, value: &str);
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &'static str, value: &str) {
        self.insert(name.to_owned(), value.to_owned());
    }
}

/// Writes `ctx` into `carrier`: `traceparent` (this side's span id as the parent id),
/// `tracestate` when the context carries one, and `baggage` with the run id.
///
/// The `baggage` header is replaced, not merged.
pub fn inject(ctx: &TraceContext, carrier: &mut impl Injector) {
    let parent = TraceParent::new(ctx.trace_id(), ctx.span_id(), ctx.trace_flags());
    carrier.set(TRACEPARENT, parent.encode(&mut [0; 55]));
    if let Some(state) = ctx.trace_state() {
        carrier.set(TRACESTATE, state);
    }
    let run_id: &str = ctx.run_id();
    if baggage::is_plain_value(run_id) {
        // Every valid run id is: no encoding, no allocation.
        let mut buf = [0u8; RUN_ID_KEY.len() + 1 + crate::MAX_RUN_ID_LEN];
        let len = RUN_ID_KEY.len() + 1 + run_id.len();
        buf[..RUN_ID_KEY.len()].copy_from_slice(RUN_ID_KEY.as_bytes());
        buf[RUN_ID_KEY.len()] = b'=';
        buf[RUN_ID_KEY.len() + 1..len].copy_from_slice(run_id.as_bytes());
        if let Ok(value) = std::str::from_utf8(&buf[..len]) {
            carrier.set(BAGGAGE, value);
        }
    } else {
        let mut baggage = Baggage::new();
        baggage.insert(RUN_ID_KEY, run_id);
        carrier.set(BAGGAGE, &baggage.to_string());
    }
}

/// Writes the current context into `carrier`, if there is one; see [`inject`].
///
/// Returns whether a context was written.
pub fn inject_current(carrier: &mut impl Injector) -> bool {
    match crate::current() {
        Some(ctx) => {
            inject(&ctx, carrier);
            true
        }
        None => false,
    }
}

/// Reads the context sent by the other side, and makes this side's context from it.
///
/// `None` unless exactly one valid `traceparent` is present. The run id comes from the
/// baggage member [`RUN_ID_KEY`] when it is a valid [`RunId`]; otherwise it is
/// `trace_<32 hex trace id>`, derived from the trace so that every receiver agrees on it. An
/// invalid `tracestate` is dropped; a valid one is passed on.
pub fn extract(carrier: &impl Extractor) -> Option<TraceContext> {
    let mut values = carrier.get_all(TRACEPARENT);
    let first = values.next()?;
    if values.next().is_some() {
        // Several `traceparent` headers: the specification says to start a new trace.
        return None;
    }
    let parent = TraceParent::parse(first).ok()?;
    let state = TraceState::parse(carrier.get_all(TRACESTATE)).ok();
    let run_id = baggage::find(carrier.get_all(BAGGAGE), RUN_ID_KEY)
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
        .with_trace_state(state),
    )
}
