//! Reading the current context allocates nothing: counted by a global allocator on this
//! thread only, so other threads of the test harness cannot disturb the count.
// A counting global allocator is an `unsafe impl` that forwards to the system's.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tracectx::prelude::*;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn the_counter_sees_an_allocation() {
    // The probe itself must be able to fail.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[test]
fn reading_the_current_context_allocates_nothing() {
    let ctx = TraceContext::generate("alloc_probe");
    ctx.sync_scope(|| {
        let n = allocations_in(|| {
            for _ in 0..1_000 {
                let run = tracectx::get_run_id();
                let trace = tracectx::get_trace_id();
                assert_eq!(
                    std::hint::black_box(run).map(|r| r.len()),
                    Some(ctx.run_id().len())
                );
                assert_eq!(std::hint::black_box(trace).map(|t| t.len()), Some(8));
                let len = tracectx::with_current(|c| c.map(|c| c.run_id().len()));
                assert!(std::hint::black_box(len).is_some());
            }
        });
        assert_eq!(n, 0, "reading the context allocated {n} times");
    });
}

#[tokio::test(flavor = "current_thread")]
async fn reading_inside_a_traced_future_allocates_nothing() {
    let n = async {
        allocations_in(|| {
            for _ in 0..1_000 {
                assert!(std::hint::black_box(tracectx::get_run_id()).is_some());
                assert!(std::hint::black_box(tracectx::get_trace_id()).is_some());
            }
        })
    }
    .in_trace_context(TraceContext::generate("alloc_async"))
    .await;
    assert_eq!(n, 0, "reading the context allocated {n} times");
}
