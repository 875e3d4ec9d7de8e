//! A multi-producer, single-consumer queue whose values carry their sender's trace context:
//! tokio's [`mpsc`](tokio::sync::mpsc) with every value in an [`Envelope`].
//!
//! The sending methods capture the context current when they are *called* (not when a
//! pending `send` completes), so a `send` future handed to another task still sends with the
//! caller's context. [`Permit::send`] captures when the permit is used.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc as tokio_mpsc;

use crate::envelope::Envelope;

/// The errors of this module's channels: tokio's own, holding the value that was not sent
/// (without its envelope).
pub mod error {
    pub use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};
}

use error::{SendError, TryRecvError, TrySendError};

/// A bounded channel holding at most `buffer` values, as tokio's
/// [`channel`](tokio::sync::mpsc::channel).
///
/// # Panics
///
/// When `buffer` is 0 or more than [`Semaphore::MAX_PERMITS`], as tokio's.
///
/// [`Semaphore::MAX_PERMITS`]: tokio::sync::Semaphore::MAX_PERMITS
///
/// # Examples
///
/// ```
/// use tracectx::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = tracectx::sync::mpsc::channel(64);
/// async { tx.send("bar 1").await }.in_trace_context(TraceContext::new("live_1")?).await?;
/// let env = rx.recv().await.expect("one value");
/// assert_eq!(env.context().map(|c| c.run_id().as_str()), Some("live_1"));
/// assert_eq!(tracectx::current(), None); // the receiver stays in its own context
/// assert_eq!(env.into_inner(), "bar 1");
/// # Ok(()) }
/// ```
#[track_caller]
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tokio_mpsc::channel(buffer);
    (Sender { inner: tx }, Receiver { inner: rx })
}

/// An unbounded channel, as tokio's
/// [`unbounded_channel`](tokio::sync::mpsc::unbounded_channel).
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
/// let ctx = tracectx::TraceContext::new("job_u")?;
/// ctx.sync_scope(|| tx.send(1)).expect("the receiver is alive");
/// let env = rx.try_recv().expect("one value");
/// assert_eq!(env.context(), Some(&ctx));
/// # Ok::<(), tracectx::InvalidId>(())
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = tokio_mpsc::unbounded_channel();
    (
        UnboundedSender { inner: tx },
        UnboundedReceiver { inner: rx },
    )
}

fn unwrap_send<T>(e: tokio_mpsc::error::SendError<Envelope<T>>) -> SendError<T> {
    SendError(e.0.into_inner())
}

fn unwrap_try_send<T>(e: tokio_mpsc::error::TrySendError<Envelope<T>>) -> TrySendError<T> {
    match e {
        TrySendError::Full(env) => TrySendError::Full(env.into_inner()),
        TrySendError::Closed(env) => TrySendError::Closed(env.into_inner()),
    }
}

// === impl Sender ===

/// Sends values, each with the context current where it is sent; made by [`channel`].
///
/// Cloning makes another sender of the same channel.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = tracectx::sync::mpsc::channel(8);
/// let tx2 = tx.clone();
/// tracectx::TraceContext::new("a")?.sync_scope(|| tx.try_send(1))?;
/// tracectx::TraceContext::new("b")?.sync_scope(|| tx2.try_send(2))?;
/// let runs: Vec<String> = [rx.recv().await, rx.recv().await]
///     .into_iter()
///     .map(|env| env.unwrap().context().unwrap().run_id().to_string())
///     .collect();
/// assert_eq!(runs, ["a", "b"]);
/// # Ok(()) }
/// ```
pub struct Sender<T> {
    inner: tokio_mpsc::Sender<Envelope<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.inner.capacity())
            .field("max_capacity", &self.inner.max_capacity())
            .finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Sends `value` with the current context, waiting for capacity, as tokio's
    /// [`send`](tokio::sync::mpsc::Sender::send). The context is captured now, when `send` is
    /// called.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `value` when the receiver is closed or dropped.
    ///
    /// # Cancel safety
    ///
    /// As tokio's: a cancelled `send` loses its place in the queue, and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, rx) = tracectx::sync::mpsc::channel(1);
    /// drop(rx);
    /// let err = tx.send("lost").await.unwrap_err();
    /// assert_eq!(err.0, "lost");
    /// # }
    /// ```
    pub fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        let env = Envelope::capture(value);
        async move { self.inner.send(env).await.map_err(unwrap_send) }
    }

    /// Sends `value` with the current context if there is capacity now, as tokio's
    /// [`try_send`](tokio::sync::mpsc::Sender::try_send).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::sync::mpsc::{channel, error::TrySendError};
    ///
    /// let (tx, _rx) = channel(1);
    /// tx.try_send(1).unwrap();
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner
            .try_send(Envelope::capture(value))
            .map_err(unwrap_try_send)
    }

    /// Sends `value` with the current context from synchronous code, blocking the thread
    /// until there is capacity, as tokio's
    /// [`blocking_send`](tokio::sync::mpsc::Sender::blocking_send).
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `value` when the receiver is closed or dropped.
    ///
    /// # Panics
    ///
    /// When called inside an asynchronous execution context, as tokio's.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// let ctx = tracectx::TraceContext::new("sync_worker")?;
    /// let worker = ctx.sync_scope(|| tracectx::thread::spawn(move || tx.blocking_send(5)));
    /// let env = rx.recv().await.unwrap();
    /// assert_eq!(env.context(), Some(&ctx));
    /// assert_eq!(env.into_inner(), 5);
    /// worker.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner
            .blocking_send(Envelope::capture(value))
            .map_err(unwrap_send)
    }

    /// Waits for capacity and reserves one slot, as tokio's
    /// [`reserve`](tokio::sync::mpsc::Sender::reserve); [`Permit::send`] captures the context
    /// current when it is called.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiver is closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// let permit = tx.reserve().await?;
    /// tracectx::TraceContext::new("reserved")?.sync_scope(|| permit.send("fill"));
    /// let env = rx.recv().await.unwrap();
    /// assert_eq!(env.context().unwrap().run_id(), "reserved");
    /// # Ok(()) }
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        self.inner.reserve().await.map(|inner| Permit { inner })
    }

    /// Reserves one slot if there is capacity now, as tokio's
    /// [`try_reserve`](tokio::sync::mpsc::Sender::try_reserve).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = tracectx::sync::mpsc::channel::<u8>(1);
    /// let permit = tx.try_reserve().unwrap();
    /// assert!(tx.try_reserve().is_err()); // the one slot is taken
    /// permit.send(1);
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.inner.try_reserve().map(|inner| Permit { inner })
    }

    /// Completes when the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// drop(rx);
    /// tx.closed().await;
    /// assert!(tx.is_closed());
    /// # }
    /// ```
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The number of values that can be sent now without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = tracectx::sync::mpsc::channel(4);
    /// tx.try_send(()).unwrap();
    /// assert_eq!((tx.capacity(), tx.max_capacity()), (3, 4));
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The capacity the channel was made with.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = tracectx::sync::mpsc::channel::<()>(4);
    /// assert_eq!(tx.max_capacity(), 4);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Whether both senders send to the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// let (other, _other_rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

/// One reserved slot of a [`channel`]; made by [`Sender::reserve`] and
/// [`Sender::try_reserve`]. Dropping it gives the slot back.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
/// let permit = tx.try_reserve().unwrap();
/// permit.send("queued");
/// assert_eq!(rx.try_recv().unwrap().into_inner(), "queued");
/// ```
pub struct Permit<'a, T> {
    inner: tokio_mpsc::Permit<'a, Envelope<T>>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` in the reserved slot, with the context current now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// let permit = tx.try_reserve().unwrap();
    /// let ctx = tracectx::TraceContext::new("job_p")?;
    /// ctx.sync_scope(|| permit.send(1));
    /// assert_eq!(rx.try_recv().unwrap().context(), Some(&ctx));
    /// # Ok::<(), tracectx::InvalidId>(())
    /// ```
    pub fn send(self, value: T) {
        self.inner.send(Envelope::capture(value));
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

// === impl Receiver ===

/// Receives the values of a [`channel`], each in the [`Envelope`] of its sender's context.
///
/// Also a [`Stream`] of envelopes.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = tracectx::sync::mpsc::channel(8);
/// tx.send(1).await?;
/// drop(tx);
/// assert_eq!(rx.recv().await.map(|env| env.into_inner()), Some(1));
/// assert!(rx.recv().await.is_none()); // every sender is gone
/// # Ok(()) }
/// ```
pub struct Receiver<T> {
    inner: tokio_mpsc::Receiver<Envelope<T>>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.inner.len())
            .finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The next value in its envelope, or `None` once the channel is closed and empty, as
    /// tokio's [`recv`](tokio::sync::mpsc::Receiver::recv). The receiving task stays in its
    /// own context.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as tokio's: a cancelled `recv` loses no value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// tracectx::TraceContext::new("sender")?.sync_scope(|| tx.try_send(()))?;
    /// let env = rx.recv().await.unwrap();
    /// assert_eq!(env.context().unwrap().run_id(), "sender");
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Option<Envelope<T>> {
        self.inner.recv().await
    }

    /// Appends up to `limit` waiting values to `buffer` and returns how many, waiting for at
    /// least one, as tokio's [`recv_many`](tokio::sync::mpsc::Receiver::recv_many); 0 once the
    /// channel is closed and empty (or when `limit` is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(4);
    /// for i in 0..3 { tx.try_send(i).unwrap(); }
    /// let mut batch = Vec::new();
    /// assert_eq!(rx.recv_many(&mut batch, 10).await, 3);
    /// # }
    /// ```
    pub async fn recv_many(&mut self, buffer: &mut Vec<Envelope<T>>, limit: usize) -> usize {
        self.inner.recv_many(buffer, limit).await
    }

    /// The next value if one is waiting, as tokio's
    /// [`try_recv`](tokio::sync::mpsc::Receiver::try_recv).
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is waiting, [`TryRecvError::Disconnected`] when the
    /// channel is closed and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::sync::mpsc::{channel, error::TryRecvError};
    ///
    /// let (tx, mut rx) = channel::<u8>(1);
    /// assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    /// drop(tx);
    /// assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Disconnected);
    /// ```
    pub fn try_recv(&mut self) -> Result<Envelope<T>, TryRecvError> {
        self.inner.try_recv()
    }

    /// [`recv`](Receiver::recv) for synchronous code, blocking the thread.
    ///
    /// # Panics
    ///
    /// When called inside an asynchronous execution context, as tokio's.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// let consumer = std::thread::spawn(move || rx.blocking_recv().map(|e| e.into_inner()));
    /// tx.blocking_send(3).unwrap();
    /// assert_eq!(consumer.join().unwrap(), Some(3));
    /// ```
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<Envelope<T>> {
        self.inner.blocking_recv()
    }

    /// Closes the channel to new values; those already sent can still be received.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(2);
    /// tx.try_send(1).unwrap();
    /// rx.close();
    /// assert!(tx.try_send(2).is_err());
    /// assert_eq!(rx.try_recv().unwrap().into_inner(), 1);
    /// ```
    pub fn close(&mut self) {
        self.inner.close()
    }

    /// Whether the channel is closed (by [`close`](Receiver::close) or by every sender
    /// being dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether no value is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = tracectx::sync::mpsc::channel::<()>(1);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The number of values waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::channel(2);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// The number of values that can be sent now without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = tracectx::sync::mpsc::channel::<()>(2);
    /// assert_eq!((rx.capacity(), rx.max_capacity()), (2, 2));
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The capacity the channel was made with.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = tracectx::sync::mpsc::channel::<()>(2);
    /// assert_eq!(rx.max_capacity(), 2);
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.inner.max_capacity()
    }

    /// Polls for the next value, for hand-written futures and streams, as tokio's
    /// [`poll_recv`](tokio::sync::mpsc::Receiver::poll_recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, mut rx) = tracectx::sync::mpsc::channel(1);
    /// tx.try_send(9).unwrap();
    /// let env = std::future::poll_fn(|cx| rx.poll_recv(cx)).await;
    /// assert_eq!(env.map(|e| e.into_inner()), Some(9));
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Envelope<T>>> {
        self.inner.poll_recv(cx)
    }
}

impl<T> Stream for Receiver<T> {
    type Item = Envelope<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Envelope<T>>> {
        self.inner.poll_recv(cx)
    }
}

// === impl UnboundedSender ===

/// Sends values without waiting, each with the context current where it is sent; made by
/// [`unbounded_channel`].
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
/// tx.clone().send("from a clone").unwrap();
/// assert_eq!(rx.try_recv().unwrap().into_inner(), "from a clone");
/// ```
pub struct UnboundedSender<T> {
    inner: tokio_mpsc::UnboundedSender<Envelope<T>>,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender").finish_non_exhaustive()
    }
}

impl<T> UnboundedSender<T> {
    /// Sends `value` with the current context, as tokio's
    /// [`send`](tokio::sync::mpsc::UnboundedSender::send).
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `value` when the receiver is closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::unbounded_channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5).unwrap_err().0, 5);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner
            .send(Envelope::capture(value))
            .map_err(unwrap_send)
    }

    /// Completes when the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// rx.close();
    /// tx.closed().await;
    /// # }
    /// ```
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether both senders send to the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &Self) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

// === impl UnboundedReceiver ===

/// Receives the values of an [`unbounded_channel`], each in the [`Envelope`] of its sender's
/// context. Also a [`Stream`] of envelopes.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv().await.map(|e| e.into_inner()), Some(1));
/// assert!(rx.recv().await.is_none());
/// # }
/// ```
pub struct UnboundedReceiver<T> {
    inner: tokio_mpsc::UnboundedReceiver<Envelope<T>>,
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("len", &self.inner.len())
            .finish_non_exhaustive()
    }
}

impl<T> UnboundedReceiver<T> {
    /// The next value in its envelope, or `None` once the channel is closed and empty.
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tracectx::InvalidId> {
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
    /// tracectx::TraceContext::new("u")?.sync_scope(|| tx.send(())).unwrap();
    /// assert_eq!(rx.recv().await.unwrap().context().unwrap().run_id(), "u");
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Option<Envelope<T>> {
        self.inner.recv().await
    }

    /// Appends up to `limit` waiting values to `buffer` and returns how many, waiting for at
    /// least one; 0 once the channel is closed and empty (or when `limit` is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// let mut batch = Vec::new();
    /// assert_eq!(rx.recv_many(&mut batch, 2).await, 2);
    /// # }
    /// ```
    pub async fn recv_many(&mut self, buffer: &mut Vec<Envelope<T>>, limit: usize) -> usize {
        self.inner.recv_many(buffer, limit).await
    }

    /// The next value if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, mut rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn try_recv(&mut self) -> Result<Envelope<T>, TryRecvError> {
        self.inner.try_recv()
    }

    /// [`recv`](UnboundedReceiver::recv) for synchronous code, blocking the thread.
    ///
    /// # Panics
    ///
    /// When called inside an asynchronous execution context, as tokio's.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
    /// tx.send(4).unwrap();
    /// assert_eq!(rx.blocking_recv().map(|e| e.into_inner()), Some(4));
    /// ```
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<Envelope<T>> {
        self.inner.blocking_recv()
    }

    /// Closes the channel to new values; those already sent can still be received.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// rx.close();
    /// assert!(tx.send(()).is_err());
    /// ```
    pub fn close(&mut self) {
        self.inner.close()
    }

    /// Whether the channel is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether no value is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = tracectx::sync::mpsc::unbounded_channel::<()>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The number of values waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::mpsc::unbounded_channel();
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Polls for the next value, for hand-written futures and streams.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (tx, mut rx) = tracectx::sync::mpsc::unbounded_channel();
    /// tx.send(9).unwrap();
    /// let env = std::future::poll_fn(|cx| rx.poll_recv(cx)).await;
    /// assert_eq!(env.map(|e| e.into_inner()), Some(9));
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Envelope<T>>> {
        self.inner.poll_recv(cx)
    }
}

impl<T> Stream for UnboundedReceiver<T> {
    type Item = Envelope<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Envelope<T>>> {
        self.inner.poll_recv(cx)
    }
}
