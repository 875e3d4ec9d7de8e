//! Who chooses the run an incoming request is filed under: the receiving side's policy.

use std::fmt;
use std::sync::Arc;

use super::{BAGGAGE, Extractor, RUN_ID_KEY, TRACEPARENT, TraceParent, TraceState, baggage};
use crate::context::{SpanId, TraceContext, TraceFlags};

/// The longest claimed run id kept, in characters; longer ones are cut and marked with `…`.
const MAX_CLAIM_CHARS: usize = crate::MAX_RUN_ID_LEN;

/// Whether a receiving side (a server layer, a message consumer) lets the caller choose the
/// run its work is filed under.
///
/// The run id travels in `baggage` as `run_id`, and whoever can send a request can write any
/// baggage. Behind one edge, where every caller is a service of the same system, taking the
/// caller's run id is what makes one run span many services: choose
/// [`TrustCaller`](Self::TrustCaller). At a public edge, taking it would let any client file
/// its requests' log lines under any run (`baggage: run_id=backtest_victim`): choose
/// [`OwnRun`](Self::OwnRun), which starts a run for each request and keeps what the caller
/// claimed as a [`ClaimedRunId`], escaped, for the record. The services behind the edge,
/// trusting it, then carry the edge's run on.
///
/// Both continue the caller's W3C trace (trace id, parent id, flags, `tracestate`), as the
/// specification asks of every participant: a trace id groups spans for a tracer; it does not
/// choose which run's log a line is filed in. The caller's other baggage members (a tenant,
/// a flag) are passed on downstream ([`TraceContext::baggage`]) by a trusting side only: at a
/// public edge they are anyone's text, and the services behind it would take them as the
/// edge's. (A handler that copies the incoming request's headers onto its own calls, as a
/// proxy does, passes them on itself: `inject` keeps the members a carrier already has.)
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::RunPolicy;
///
/// let headers = HashMap::from([
///     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
///     ("baggage".to_owned(), "run_id=backtest_victim".to_owned()),
/// ]);
///
/// let inside = RunPolicy::TrustCaller.receive(&headers, "request");
/// assert_eq!(inside.context().run_id(), "backtest_victim");
///
/// let edge = RunPolicy::OwnRun.receive(&headers, "request");
/// assert!(edge.context().run_id().starts_with("request_"));
/// assert_eq!(edge.claimed_run_id().map(|c| c.as_str()), Some("backtest_victim"));
/// // The trace goes on either way.
/// assert_eq!(edge.context().trace_id(), inside.context().trace_id());
///
/// // Other baggage is passed on behind the edge, not at it.
/// let mut headers = headers;
/// headers.insert("baggage".to_owned(), "run_id=job_1,tenant=acme".to_owned());
/// let inside = RunPolicy::TrustCaller.receive(&headers, "request");
/// assert_eq!(inside.context().baggage().and_then(|b| b.get("tenant")), Some("acme"));
/// assert!(RunPolicy::OwnRun.receive(&headers, "request").context().baggage().is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunPolicy {
    /// Take the caller's run id (its baggage member `run_id`, when it is a valid
    /// [`RunId`](crate::RunId)), for services behind the same edge. A request with a
    /// `traceparent` and no run id runs as `trace_<32 hex trace id>`, the same on every service
    /// of the trace; one with no valid `traceparent` starts a run of its own.
    TrustCaller,
    /// Start a run of this side's own for every request, `<prefix>_<unique suffix>`, for a
    /// public edge. A run id the caller sent is not used: it is kept, escaped, as the
    /// request's [`ClaimedRunId`] and recorded in an `INFO` event (target
    /// `tracectx::propagation`, field `caller_run_id`) logged in the new run (when the crate
    /// is built with `tracing`: any of the features `logging`, `http`, `nats`,
    /// `opentelemetry`, `prometheus`).
    OwnRun,
}

impl RunPolicy {
    /// The context to handle an incoming request or message in, by this policy: read from
    /// `carrier` (W3C `traceparent`, `tracestate`, `baggage`), or fresh, `<new_run_prefix>_<id>`,
    /// when the carrier holds no valid `traceparent` or the policy is
    /// [`OwnRun`](Self::OwnRun).
    ///
    /// Never fails: what is invalid in the carrier is ignored as the specifications say. A
    /// `new_run_prefix` that is not a valid run id becomes `run`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// // No trace headers: a run of its own, whatever the policy.
    /// let none: HashMap<String, String> = HashMap::new();
    /// let received = RunPolicy::TrustCaller.receive(&none, "message");
    /// assert!(received.context().run_id().starts_with("message_"));
    /// assert_eq!(received.context().parent_span_id(), None);
    /// assert!(received.claimed_run_id().is_none());
    /// ```
    pub fn receive(self, carrier: &impl Extractor, new_run_prefix: &str) -> Received {
        match self {
            Self::TrustCaller => Received {
                context: super::extract(carrier)
                    .unwrap_or_else(|| TraceContext::generate(new_run_prefix)),
                claimed_run_id: None,
            },
            Self::OwnRun => {
                let own = TraceContext::generate(new_run_prefix);
                let context = match single_traceparent(carrier) {
                    Some(parent) => TraceContext::from_parts(
                        own.run_id().clone(),
                        parent.trace_id(),
                        SpanId::random(),
                        Some(parent.parent_id()),
                    )
                    .with_trace_flags(TraceFlags::from_u8(parent.flags().to_u8() & 0x03))
                    .with_trace_state(TraceState::parse(carrier.get_all(super::TRACESTATE)).ok()),
                    None => own,
                };
                let claimed_run_id = baggage::find(carrier.get_all(BAGGAGE), RUN_ID_KEY)
                    .map(|claimed| ClaimedRunId::new(&claimed));
                if let Some(claimed) = &claimed_run_id {
                    record(&context, claimed);
                }
                Received {
                    context,
                    claimed_run_id,
                }
            }
        }
    }
}

/// The one valid `traceparent` of a carrier, as [`extract`](super::extract) reads it.
fn single_traceparent(carrier: &impl Extractor) -> Option<TraceParent> {
    let mut values = carrier.get_all(TRACEPARENT);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceParent::parse(first).ok()
}

/// Logs that `claimed` was not trusted, inside the new run.
#[cfg(any(
    feature = "logging",
    feature = "http",
    feature = "nats",
    feature = "opentelemetry",
    feature = "prometheus"
))]
fn record(ctx: &TraceContext, claimed: &ClaimedRunId) {
    ctx.sync_scope(|| {
        tracing::info!(
            target: "tracectx::propagation",
            caller_run_id = %claimed,
            "the caller's run id is recorded, not used: this request runs as its own run"
        );
    });
}

#[cfg(not(any(
    feature = "logging",
    feature = "http",
    feature = "nats",
    feature = "opentelemetry",
    feature = "prometheus"
)))]
fn record(_: &TraceContext, _: &ClaimedRunId) {}

// === impl Received ===

/// What a receiving side runs an incoming request in: the context, and the run id the caller
/// claimed when the policy did not let it choose. Made by [`RunPolicy::receive`].
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::RunPolicy;
///
/// let headers = HashMap::from([("baggage".to_owned(), "run_id=someone_else".to_owned())]);
/// let received = RunPolicy::OwnRun.receive(&headers, "request");
/// assert_eq!(received.claimed_run_id().unwrap().as_str(), "someone_else");
/// let ctx = received.into_context();
/// assert!(ctx.run_id().starts_with("request_"));
/// ```
#[derive(Clone, Debug)]
pub struct Received {
    context: TraceContext,
    claimed_run_id: Option<ClaimedRunId>,
}

impl Received {
    /// The context to run the request's work in.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    /// let headers = HashMap::from([("traceparent".to_owned(), tp.to_owned())]);
    /// let received = RunPolicy::OwnRun.receive(&headers, "request");
    /// let parent = received.context().parent_span_id().unwrap();
    /// assert_eq!(parent.to_string(), "00f067aa0ba902b7");
    /// ```
    pub fn context(&self) -> &TraceContext {
        &self.context
    }

    /// The run id the caller sent and was not trusted with ([`RunPolicy::OwnRun`]), if it sent
    /// one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// let headers = HashMap::from([("baggage".to_owned(), "run_id=job_1".to_owned())]);
    /// assert!(RunPolicy::TrustCaller.receive(&headers, "request").claimed_run_id().is_none());
    /// assert!(RunPolicy::OwnRun.receive(&headers, "request").claimed_run_id().is_some());
    /// ```
    pub fn claimed_run_id(&self) -> Option<&ClaimedRunId> {
        self.claimed_run_id.as_ref()
    }

    /// The context, dropping the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// let none: HashMap<String, String> = HashMap::new();
    /// let ctx = RunPolicy::OwnRun.receive(&none, "job").into_context();
    /// assert!(ctx.run_id().starts_with("job_"));
    /// ```
    pub fn into_context(self) -> TraceContext {
        self.context
    }

    /// Both parts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// let headers = HashMap::from([("baggage".to_owned(), "run_id=x%0Ay".to_owned())]);
    /// let (ctx, claimed) = RunPolicy::OwnRun.receive(&headers, "request").into_parts();
    /// assert!(ctx.run_id().starts_with("request_"));
    /// assert_eq!(claimed.unwrap().as_str(), r#""x\ny""#); // escaped, quoted
    /// ```
    pub fn into_parts(self) -> (TraceContext, Option<ClaimedRunId>) {
        (self.context, self.claimed_run_id)
    }
}

// === impl ClaimedRunId ===

/// A run id a caller sent but was not allowed to choose ([`RunPolicy::OwnRun`]), kept for the
/// record in a form safe to print anywhere.
///
/// The caller's text is cut to 128 characters (marked with `…`), and shown bare when it is
/// letters, digits and punctuation other than `" = [ ] \`; otherwise it is put in double quotes
/// with quotes, backslashes, control characters, line and paragraph separators and
/// bidirectional controls escaped, as the crate's log lines escape values. It is never a
/// [`RunId`](crate::RunId) and never files a line.
///
/// The server layers put it in the request's extensions, beside the [`TraceContext`].
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use tracectx::propagation::RunPolicy;
///
/// let claim = |baggage: &str| {
///     let headers = HashMap::from([("baggage".to_owned(), baggage.to_owned())]);
///     RunPolicy::OwnRun.receive(&headers, "request").claimed_run_id().unwrap().to_string()
/// };
/// assert_eq!(claim("run_id=backtest_ab12"), "backtest_ab12");
/// assert_eq!(claim("run_id=%5Bother%5D%0A"), r#""[other]\n""#);
/// assert_eq!(claim(&format!("run_id={}", "a".repeat(500))).chars().count(), 128 + 3);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimedRunId(Arc<str>);

impl ClaimedRunId {
    fn new(claimed: &str) -> Self {
        let text = match claimed.char_indices().nth(MAX_CLAIM_CHARS) {
            Some((end, _)) => format!("{}", crate::escape::Value(&format!("{}…", &claimed[..end]))),
            None => format!("{}", crate::escape::Value(claimed)),
        };
        Self(Arc::from(text))
    }

    /// The escaped text.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tracectx::propagation::RunPolicy;
    ///
    /// let headers = HashMap::from([("baggage".to_owned(), "run_id=a%20b".to_owned())]);
    /// let received = RunPolicy::OwnRun.receive(&headers, "request");
    /// assert_eq!(received.claimed_run_id().unwrap().as_str(), r#""a b""#);
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClaimedRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClaimedRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClaimedRunId").field(&&*self.0).finish()
    }
}
