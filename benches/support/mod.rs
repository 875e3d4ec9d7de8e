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

/// Whether the alternating ratio section of a bench binary should run: with no filter on the
/// command line, or a filter that names it (`cargo bench --bench propagation -- alternating`).
pub fn alternating_requested() -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    match filter {
        None => true,
        Some(f) => "alternating".contains(f.as_str()) || f.contains("alternating"),
    }
}

/// Times `a` and `b` in alternating blocks of `iters` calls each (`a b`, then `b a`, ...),
/// `rounds` times, and prints the median time per call of each and the median of the per-round
/// ratios `a / b`. Alternating keeps a noisy machine's drift out of the ratio: both sides of
/// one round ran under the same load.
pub fn alternate(label: &str, rounds: usize, iters: u32, a: impl FnMut(), b: impl FnMut()) {
    alternate_after(label, rounds, iters, || {}, a, b);
}

/// [`alternate`], with `setup` run before each block, outside its timing (to empty the files
/// the last block wrote, say).
pub fn alternate_after(
    label: &str,
    rounds: usize,
    iters: u32,
    mut setup: impl FnMut(),
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) {
    use std::time::Instant;

    let mut time = |f: &mut dyn FnMut()| {
        setup();
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
    };
    // Warm up both.
    time(&mut a);
    time(&mut b);
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (x, y) = if round % 2 == 0 {
            let x = time(&mut a);
            (x, time(&mut b))
        } else {
            let y = time(&mut b);
            (time(&mut a), y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(x / y);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "alternating {label}: {:.1} ns vs {:.1} ns per call, ratio {:.3}x (median of {rounds} rounds)",
        median(&mut ta),
        median(&mut tb),
        median(&mut ratios),
    );
}
