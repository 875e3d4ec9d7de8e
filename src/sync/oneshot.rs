//! A channel for one value, which carries its sender's trace context: tokio's
//! [`oneshot`](tokio::sync::oneshot) with the value in an [`Envelope`]. The usual reply
//! channel of a request to an actor.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot as tokio_oneshot;

use crate::envelope::Envelope;

/// The errors of this module's channel: tokio's own.
pub mod error {
    pub use tokio::sync::oneshot::error::{RecvError, TryRecvError};
}

use error::{RecvError, TryRecvError};

/// A channel for one value, as tokio's [`channel`](tokio::sync::oneshot::channel).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = tracectx::sync::oneshot::channel();
/// let ctx = tracectx::TraceContext::new("reply_1")?;
/// ctx.sync_scope(|| tx.send("done")).expect("the receiver is alive");
/// let env = rx.await?;
/// assert_eq!(env.context(), Some(&ctx));
/// assert_eq!(env.into_inner(), "done");
/// # Ok(()) }
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tokio_oneshot::channel();
    (Sender { inner: tx }, Receiver { inner: rx })
}

// === impl Sender ===

/// Sends the one value of a [`channel`], with the context current where it is sent.
///
/// # Examples
///
/// ```
/// let (tx, rx) = tracectx::sync::oneshot::channel::<u8>();
/// drop(rx);
/// assert!(tx.is_closed());
/// ```
pub struct Sender<T> {
    inner: tokio_oneshot::Sender<Envelope<T>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.inner.is_closed())
            .finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Sends `value` with the current context.
    ///
    /// # Errors
    ///
    /// `value` back, when the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(3), Err(3));
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        self.inner
            .send(Envelope::capture(value))
            .map_err(Envelope::into_inner)
    }

    /// Completes when the receiver has been closed or dropped (the request was abandoned).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (mut tx, rx) = tracectx::sync::oneshot::channel::<()>();
    /// drop(rx);
    /// tx.closed().await;
    /// # }
    /// ```
    pub async fn closed(&mut self) {
        self.inner.closed().await
    }

    /// Whether the receiver has been closed or dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::oneshot::channel::<()>();
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Polls for the receiver being closed or dropped, for hand-written futures.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (mut tx, rx) = tracectx::sync::oneshot::channel::<()>();
    /// drop(rx);
    /// std::future::poll_fn(|cx| tx.poll_closed(cx)).await;
    /// # }
    /// ```
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_closed(cx)
    }
}

// === impl Receiver ===

/// Receives the one value of a [`channel`]: a future of `Result<Envelope<T>, RecvError>`.
/// The awaiting task stays in its own context.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (tx, rx) = tracectx::sync::oneshot::channel::<()>();
/// drop(tx);
/// assert!(rx.await.is_err()); // the sender is gone without sending
/// # }
/// ```
pub struct Receiver<T> {
    inner: tokio_oneshot::Receiver<Envelope<T>>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The value if it has been sent.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when not yet sent, [`TryRecvError::Closed`] when the sender is
    /// gone or the value was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use tracectx::sync::oneshot::{channel, error::TryRecvError};
    ///
    /// let (tx, mut rx) = channel();
    /// assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv().unwrap().into_inner(), 1);
    /// ```
    pub fn try_recv(&mut self) -> Result<Envelope<T>, TryRecvError> {
        self.inner.try_recv()
    }

    /// Waits for the value from synchronous code, blocking the thread.
    ///
    /// # Errors
    ///
    /// [`RecvError`] when the sender is gone without sending.
    ///
    /// # Panics
    ///
    /// When called inside an asynchronous execution context, as tokio's.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = tracectx::sync::oneshot::channel();
    /// std::thread::spawn(move || tx.send(2));
    /// assert_eq!(rx.blocking_recv().unwrap().into_inner(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_recv(self) -> Result<Envelope<T>, RecvError> {
        self.inner.blocking_recv()
    }

    /// Closes the channel: the sender can no longer send (and sees
    /// [`is_closed`](Sender::is_closed)); a value already sent can still be taken with
    /// [`try_recv`](Receiver::try_recv).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = tracectx::sync::oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn close(&mut self) {
        self.inner.close()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<Envelope<T>, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}
