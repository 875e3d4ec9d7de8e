//! Channels that carry the sender's trace context with every value.
//!
//! [`mpsc`] and [`oneshot`] mirror tokio's channels of the same names (capacity, errors,
//! closing, `try_send`, blocking calls), with one difference: every value is sent in an
//! [`Envelope`](crate::Envelope) that records the context current where it was sent, and the
//! receiving end gets the envelope back (`recv().await` is `Option<Envelope<T>>`). The
//! receiving task stays in its own context; it handles each value in its sender's with
//! [`Envelope::sync_scope`](crate::Envelope::sync_scope) or
//! [`Envelope::scope`](crate::Envelope::scope). A value never received (still queued when
//! the receiver is dropped, a reply no one awaited, a `send` cancelled while it waited) is
//! dropped in its sender's context, wherever the channel is dropped.
//!
//! Capturing costs an atomic increment per value (the context is a shared handle); nothing is
//! allocated beyond what tokio's channel allocates.
//!
//! # Examples
//!
//! An actor with request/response: the reply comes back in an envelope too, from the span in
//! which the actor handled the request.
//!
//! ```
//! use tracectx::prelude::*;
//! use tracectx::sync::{mpsc, oneshot};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! type Request = (u32, oneshot::Sender<u32>);
//! let (tx, mut rx) = mpsc::channel::<Request>(16);
//! tokio::spawn(async move {
//!     while let Some(env) = rx.recv().await {
//!         env.sync_scope(|(n, reply)| reply.send(n * 2)).ok();
//!     }
//! });
//!
//! let caller = TraceContext::new("order_7")?;
//! let reply = async {
//!     let (reply_tx, reply_rx) = oneshot::channel();
//!     tx.send((21, reply_tx)).await?;
//!     Ok::<_, Box<dyn std::error::Error>>(reply_rx.await?)
//! }
//! .in_trace_context(caller.clone())
//! .await?;
//! let handler = reply.context().unwrap();
//! assert_eq!(handler.run_id(), "order_7");
//! assert_eq!(handler.parent_span_id(), Some(caller.span_id()));
//! assert_eq!(reply.into_inner(), 42);
//! # Ok(()) }
//! ```

pub mod mpsc;
pub mod oneshot;
