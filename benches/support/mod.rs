//! Fixtures shared by the benchmarks: runtimes, a leaf future and a no-op poll loop.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

/// A future that returns `Pending` `n` times (waking itself) before `Ready`: the shape of a
/// leaf that awaits `n` times, so a wrapper's per-poll cost is multiplied by `n`.
pub struct Leaf {
    left: u32,
}

impl Leaf {
    pub fn new(polls: u32) -> Self {
        Self { left: polls }
    }
}

impl Future for Leaf {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.left == 0 {
            Poll::Ready(7)
        } else {
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Polls `fut` to completion on this thread with a no-op waker: no runtime in the way, so the
/// measurement is the future's own cost.
pub fn drive<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// A current-thread tokio runtime, as spawn benchmarks use to keep thread hops out.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
