//! NATS (async-nats): message headers as carriers, and a subscriber loop that runs each
//! handler in its message's context.
//!
//! A publisher writes a message's context with [`inject_current`](super::inject_current) into
//! an `async_nats::HeaderMap` and sends it with `publish_with_headers`; each message is a
//! span of its own, a child of the publisher's. A subscriber, in the same process or another,
//! reads it back with [`message_context`] or runs its handler in it with
//! [`for_each_message`]: same run, same trace, the message's span as parent. The header names
//! are W3C's (`traceparent`, `tracestate`, `baggage`), as OpenTelemetry's NATS
//! instrumentations write them.

use std::future::{Future, poll_fn};
use std::pin::pin;

use async_nats::{HeaderMap, HeaderName, HeaderValue, Message};
use futures_core::Stream;

use super::{Extractor, Injector, RunPolicy};
use crate::context::TraceContext;
use crate::future::TraceFutureExt;

/// Reports every value of the header, whatever the case of its name (NATS keeps header names
/// as sent).
///
/// # Examples
///
/// ```
/// use async_nats::HeaderMap;
/// use tracectx::propagation;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// headers.insert("baggage", "run_id=backtest_ab12cd34");
/// let ctx = propagation::extract(&headers).expect("valid headers");
/// assert_eq!(ctx.run_id(), "backtest_ab12cd34");
///
/// headers.append("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert!(propagation::extract(&headers).is_none()); // two traceparents: a new trace
/// ```
impl Extractor for HeaderMap {
    fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(move |(key, _)| AsRef::<str>::as_ref(*key).eq_ignore_ascii_case(name))
            .flat_map(|(_, values)| values.iter())
            .map(HeaderValue::as_str)
    }
}

/// Sets the header, replacing earlier values; a name or value NATS cannot carry is skipped
/// (the crate's own are always valid).
///
/// # Examples
///
/// ```
/// use async_nats::HeaderMap;
/// use tracectx::propagation;
///
/// let ctx = tracectx::TraceContext::new("backtest_ab12cd34")?;
/// let mut headers = HeaderMap::new();
/// let sent = ctx.sync_scope(|| propagation::inject_current(&mut headers)).unwrap();
/// assert_eq!(headers.get("baggage").unwrap().as_str(), "run_id=backtest_ab12cd34");
/// assert!(headers.get("traceparent").unwrap().as_str().contains(&sent.span_id().to_string()));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
impl Injector for HeaderMap {
    fn set(&mut self, name: &'static str, value: &str) {
        let (Ok(header), Ok(value)) = (name.parse::<HeaderName>(), value.parse::<HeaderValue>())
        else {
            return;
        };
        // The extractor matches names in any case, so a `Traceparent` already there would
        // make a second `traceparent`, and the pair would be refused: drop other spellings.
        // NATS's map has no `remove`, so it is rebuilt, which happens only when one is found.
        let other_case = |key: &HeaderName| {
            let key: &str = key.as_ref();
            key != name && key.eq_ignore_ascii_case(name)
        };
        if self.iter().any(|(key, _)| other_case(key)) {
            let mut kept = HeaderMap::new();
            for (key, values) in self.iter().filter(|(key, _)| !other_case(key)) {
                for v in values {
                    kept.append(key.clone(), v.clone());
                }
            }
            *self = kept;
        }
        self.insert(header, value);
    }

    fn existing(&self, name: &'static str) -> Option<String> {
        super::existing_values(self, name)
    }
}

/// The context to handle `message` in, by `policy`: the one its headers carry, or a fresh
/// `message_<id>` run when they carry no valid `traceparent` (or the policy is
/// [`RunPolicy::OwnRun`]).
///
/// Inside one system, where every publisher is a service of that system, trust the
/// publisher; for subjects outsiders can publish to, start a run of their own.
///
/// # Examples
///
/// ```
/// use tracectx::propagation::{self, RunPolicy};
///
/// let ctx = tracectx::TraceContext::new("backtest_ab12cd34")?;
/// let mut headers = async_nats::HeaderMap::new();
/// let sent = ctx.sync_scope(|| propagation::inject_current(&mut headers)).unwrap();
/// let message = async_nats::Message {
///     subject: "fills".into(),
///     reply: None,
///     payload: "fill 1".into(),
///     headers: Some(headers),
///     status: None,
///     description: None,
///     length: 0,
/// };
/// let there = propagation::message_context(&message, RunPolicy::TrustCaller);
/// assert_eq!(there.run_id(), "backtest_ab12cd34");
/// assert_eq!(there.parent_span_id(), Some(sent.span_id()));
///
/// let own = propagation::message_context(&message, RunPolicy::OwnRun);
/// assert!(own.run_id().starts_with("message_"));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn message_context(message: &Message, policy: RunPolicy) -> TraceContext {
    match &message.headers {
        Some(headers) => policy.receive(headers, "message").into_context(),
        None => policy.receive(&HeaderMap::new(), "message").into_context(),
    }
}

/// Runs `handler` for each message of `messages` (an `async_nats::Subscriber`, or any stream
/// of messages), one at a time, inside the context the message carries (see
/// [`message_context`]): the handler's log lines are stamped with the publisher's run and
/// trace, and so are those of the tasks it spawns with [`spawn_traced`](crate::spawn_traced).
/// Returns when the stream ends (the subscription is drained or unsubscribed).
///
/// For messages handled concurrently, spawn the work from the handler with
/// [`spawn_traced`](crate::spawn_traced): the context goes with it.
///
/// # Examples
///
/// ```no_run
/// use tracectx::propagation::{self, RunPolicy};
///
/// # #[allow(dead_code)] async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("127.0.0.1:4222").await?;
///
/// // Subscriber:
/// let fills = client.subscribe("fills").await?;
/// let worker = tokio::spawn(propagation::for_each_message(fills, RunPolicy::TrustCaller, |msg| async move {
///     tracing::info!(subject = %msg.subject, "fill"); // stamped with the publisher's run
/// }));
///
/// // Publisher, in a run:
/// let ctx = tracectx::TraceContext::generate("live");
/// let mut headers = async_nats::HeaderMap::new();
/// ctx.sync_scope(|| propagation::inject_current(&mut headers));
/// client.publish_with_headers("fills", headers, "fill 1".into()).await?;
/// # drop(worker); Ok(()) }
/// ```
///
/// A stream of messages from anywhere works the same:
///
/// ```
/// use tracectx::propagation::{self, RunPolicy};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
/// let ctx = tracectx::TraceContext::new("live_eu")?;
/// let mut headers = async_nats::HeaderMap::new();
/// ctx.sync_scope(|| propagation::inject_current(&mut headers));
/// let message = async_nats::Message {
///     subject: "fills".into(),
///     reply: None,
///     payload: "fill 1".into(),
///     headers: Some(headers),
///     status: None,
///     description: None,
///     length: 0,
/// };
/// let mut seen = Vec::new();
/// let messages = futures::stream::iter([message]);
/// propagation::for_each_message(messages, RunPolicy::TrustCaller, |msg| {
///     seen.push((msg.subject.to_string(), tracectx::get_run_id()));
///     async {}
/// })
/// .await;
/// assert_eq!(seen[0].0, "fills");
/// assert_eq!(seen[0].1.as_deref(), Some("live_eu")); // the handler ran in the message's run
/// # Ok(()) }
/// ```
pub async fn for_each_message<S, F, Fut>(messages: S, policy: RunPolicy, mut handler: F)
where
    S: Stream<Item = Message>,
    F: FnMut(Message) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut messages = pin!(messages);
    while let Some(message) = poll_fn(|cx| messages.as_mut().poll_next(cx)).await {
        let ctx = message_context(&message, policy);
        // The handler's synchronous start runs in the context too.
        let work = ctx.sync_scope(|| handler(message));
        work.in_trace_context(ctx).await;
    }
}
