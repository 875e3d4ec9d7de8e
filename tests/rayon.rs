//! rayon: parallel iterators, `join`, `spawn` and `scope` carry the caller's context onto the
//! pool, with several runs sharing the pool at once.
#![cfg(feature = "rayon")]

use std::collections::HashSet;
use std::sync::{Barrier, Mutex};
use std::thread::ThreadId;

use rayon::prelude::*;
use tracectx::prelude::*;

fn ctx(run: &str) -> TraceContext {
    TraceContext::new(run).unwrap()
}

fn run_id() -> Option<String> {
    tracectx::get_run_id().map(|r| r.to_string())
}

/// The tests share rayon's global pool and check that no pool thread is left with a context
/// afterwards: they run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// About a microsecond of work, so that pieces of different runs interleave on the pool.
fn work(i: u64) -> u64 {
    let mut x = i;
    for _ in 0..200 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

/// Runs `f` in each of `runs` runs at once, on threads of their own started together.
fn in_runs_at_once<R: Send>(runs: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let start = Barrier::new(runs);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..runs)
            .map(|r| {
                let (start, f) = (&start, &f);
                s.spawn(move || {
                    ctx(&format!("run_{r}")).sync_scope(|| {
                        start.wait();
                        f(r)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// No pool thread is left with a context.
fn pool_is_clean() {
    let leftovers = rayon::broadcast(|_| run_id());
    assert!(leftovers.iter().all(Option::is_none), "{leftovers:?}");
}

#[test]
fn four_runs_of_twenty_thousand_items_at_once_never_see_each_other() {
    let _serial = serial();
    let results = in_runs_at_once(4, |_| {
        let items: Vec<u64> = (0..20_000).collect();
        items
            .par_iter()
            .in_current_trace_context()
            .map(|&i| (i, work(i), run_id(), std::thread::current().id()))
            .collect::<Vec<_>>()
    });
    let mut threads = HashSet::<ThreadId>::new();
    for (r, items) in results.into_iter().enumerate() {
        let expected = format!("run_{r}");
        assert_eq!(items.len(), 20_000);
        for (n, (i, _, run, thread)) in items.into_iter().enumerate() {
            assert_eq!(i, n as u64, "indexed order kept");
            assert_eq!(run.as_deref(), Some(expected.as_str()), "run {r} item {i}");
            threads.insert(thread);
        }
    }
    assert!(threads.len() > 1, "the items never left one thread");
    pool_is_clean();
}

#[test]
fn unindexed_adapters_folds_and_reductions_run_in_the_context() {
    let _serial = serial();
    let results = in_runs_at_once(4, |r| {
        let expected = format!("run_{r}");
        let here = |what: &str| {
            assert_eq!(run_id().as_deref(), Some(expected.as_str()), "{what}");
        };
        let filtered: Vec<u64> = (0..10_000u64)
            .into_par_iter()
            .in_current_trace_context()
            .filter(|i| {
                here("filter");
                i % 3 == 0
            })
            .flat_map_iter(|i| {
                here("flat_map_iter");
                [i, i + 1]
            })
            .collect();
        let total = (0..10_000u64)
            .into_par_iter()
            .in_current_trace_context()
            .fold(
                || {
                    here("fold identity");
                    0u64
                },
                |acc, i| {
                    here("fold op");
                    acc + work(i) % 7
                },
            )
            .reduce(
                || {
                    here("reduce identity");
                    0
                },
                |a, b| {
                    here("reduce op");
                    a + b
                },
            );
        (0..10_000u64)
            .into_par_iter()
            .in_current_trace_context()
            .for_each(|_| here("for_each"));
        let sum: u64 = (0..10_000u64)
            .into_par_iter()
            .in_current_trace_context()
            .map(|i| {
                here("map before sum");
                i
            })
            .sum();
        (filtered.len(), total, sum)
    });
    for (filtered, total, sum) in results {
        assert_eq!(filtered, 2 * 3_334);
        assert_eq!(total, (0..10_000u64).map(|i| work(i) % 7).sum::<u64>());
        assert_eq!(sum, (0..10_000u64).sum::<u64>());
    }
    pool_is_clean();
}

#[test]
fn indexed_iterators_stay_indexed() {
    let _serial = serial();
    let ctx = ctx("indexed");
    let iter = ctx.sync_scope(|| (0..1_000u32).into_par_iter().in_current_trace_context());
    // `IndexedParallelIterator` methods: len, collect_into_vec, zip, enumerate, rev.
    assert_eq!(iter.len(), 1_000);
    let mut out = Vec::new();
    iter.map(|i| (i, run_id())).collect_into_vec(&mut out);
    assert_eq!(out.len(), 1_000);
    assert!(
        out.iter()
            .enumerate()
            .all(|(n, (i, run))| *i as usize == n && run.as_deref() == Some("indexed"))
    );

    // Items made before `in_current_trace_context` are made in the context even when an
    // indexed adapter that rebuilds the iterator comes after it.
    let zipped: Vec<_> = ctx.sync_scope(|| {
        (0..1_000u32)
            .into_par_iter()
            .map(|i| (i, run_id()))
            .in_current_trace_context()
            .zip(0..1_000u32)
            .rev()
            .collect()
    });
    assert_eq!(zipped.len(), 1_000);
    assert_eq!(zipped[0].1, 999);
    assert!(
        zipped
            .iter()
            .all(|((_, run), _)| run.as_deref() == Some("indexed"))
    );

    // And placed after such adapters, every closure after it runs in the context.
    let enumerated: Vec<_> = ctx.sync_scope(|| {
        (0..1_000u32)
            .into_par_iter()
            .enumerate()
            .step_by(2)
            .in_current_trace_context()
            .map(|(n, i)| (n, i, run_id()))
            .collect()
    });
    assert_eq!(enumerated.len(), 500);
    assert!(
        enumerated
            .iter()
            .all(|(n, i, run)| *n == *i as usize && run.as_deref() == Some("indexed"))
    );
    pool_is_clean();
}

#[test]
fn a_par_iter_made_outside_any_scope_runs_with_none_inside_one() {
    let _serial = serial();
    let bare = (0..1_000u32).into_par_iter().in_current_trace_context();
    // Driven from a pool thread inside a run: the pieces that thread runs itself still see
    // none.
    let seen: Vec<_> = ctx("driver").sync_scope(|| {
        tracectx::rayon::join(|| bare.map(|_| run_id()).collect::<Vec<_>>(), || ()).0
    });
    assert!(seen.iter().all(Option::is_none));
    pool_is_clean();
}

fn fib(n: u32, expected: &str) -> u64 {
    assert_eq!(run_id().as_deref(), Some(expected));
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = tracectx::rayon::join(|| fib(n - 1, expected), || fib(n - 2, expected));
    a + b
}

#[test]
fn join_carries_the_context_through_deep_recursion_in_four_runs() {
    let _serial = serial();
    let results = in_runs_at_once(4, |r| fib(18, &format!("run_{r}")));
    assert!(results.iter().all(|f| *f == 2_584));
    // Plain rayon::join loses it.
    let plain = ctx("plain").sync_scope(|| rayon::join(run_id, run_id));
    assert_eq!(plain, (None, None));
    pool_is_clean();
}

#[test]
fn spawn_carries_the_context_and_outside_any_scope_none() {
    let _serial = serial();
    let (tx, rx) = std::sync::mpsc::channel();
    for r in 0..100 {
        let tx = tx.clone();
        ctx(&format!("spawner_{r}"))
            .sync_scope(|| tracectx::rayon::spawn(move || tx.send((r, run_id())).unwrap()));
    }
    let tx2 = tx.clone();
    tracectx::rayon::spawn(move || tx2.send((usize::MAX, run_id())).unwrap());
    drop(tx);
    let mut n = 0;
    for (r, run) in rx {
        if r == usize::MAX {
            assert_eq!(run, None);
        } else {
            assert_eq!(run, Some(format!("spawner_{r}")));
        }
        n += 1;
    }
    assert_eq!(n, 101);
}

/// `spawn_fifo` as `spawn`: 1,000 jobs from 1,000 runs on the pool, each in its own run, and
/// one spawned outside any scope in none; `in_place_scope`'s spawns in four runs at once,
/// each in the run it was spawned in.
#[test]
fn spawn_fifo_and_in_place_scope_carry_the_context() {
    let _serial = serial();
    let (tx, rx) = std::sync::mpsc::channel();
    for r in 0..1_000 {
        let tx = tx.clone();
        ctx(&format!("fifo_{r}")).sync_scope(|| {
            tracectx::rayon::spawn_fifo(move || tx.send((Some(r), run_id())).unwrap())
        });
    }
    let outside = tx.clone();
    tracectx::rayon::spawn_fifo(move || outside.send((None, run_id())).unwrap());
    drop(tx);
    let seen: Vec<_> = rx.into_iter().collect();
    assert_eq!(seen.len(), 1_001);
    for (r, run) in seen {
        assert_eq!(run, r.map(|r| format!("fifo_{r}")));
    }

    let runs = in_runs_at_once(4, |r| {
        let seen = std::sync::Mutex::new(Vec::new());
        tracectx::rayon::in_place_scope(|s| {
            for i in 0..500u64 {
                let seen = &seen;
                s.spawn(move |s| {
                    std::hint::black_box(work(i));
                    seen.lock().unwrap().push(run_id());
                    // Nested, and spawned under another run: that run.
                    ctx("inner")
                        .sync_scope(|| s.spawn(move |_| seen.lock().unwrap().push(run_id())));
                });
            }
        });
        let seen = seen.into_inner().unwrap();
        let mine = seen
            .iter()
            .filter(|run| **run == Some(format!("run_{r}")))
            .count();
        let inner = seen
            .iter()
            .filter(|run| run.as_deref() == Some("inner"))
            .count();
        (mine, inner, seen.len())
    });
    assert!(
        runs.iter().all(|&counts| counts == (500, 500, 1_000)),
        "{runs:?}"
    );
    pool_is_clean();
}

#[test]
fn scope_spawns_carry_the_context_of_where_they_were_spawned() {
    let _serial = serial();
    let results = in_runs_at_once(4, |r| {
        let seen = Mutex::new(Vec::new());
        tracectx::rayon::scope(|s| {
            assert_eq!(run_id(), Some(format!("run_{r}")), "op");
            for k in 0..50 {
                s.spawn(|s| {
                    seen.lock().unwrap().push(run_id());
                    // A child span for one piece, and what it spawns in turn inherits it.
                    let child = tracectx::current().unwrap().child();
                    let span = child.span_id();
                    child.sync_scope(|| {
                        s.spawn(move |_| {
                            assert_eq!(tracectx::current().unwrap().span_id(), span);
                        })
                    });
                    let _ = k;
                });
            }
        });
        seen.into_inner().unwrap()
    });
    for (r, seen) in results.into_iter().enumerate() {
        assert_eq!(seen.len(), 50);
        assert!(
            seen.iter()
                .all(|s| s.as_deref() == Some(format!("run_{r}").as_str()))
        );
    }
    pool_is_clean();
}

#[test]
fn install_on_a_pool_with_bind_keeps_the_context() {
    let _serial = serial();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (bound, plain) = ctx("installed").sync_scope(|| {
        let bound = pool.install(tracectx::bind(|| {
            (0..100)
                .into_par_iter()
                .in_current_trace_context()
                .map(|_| run_id())
                .collect::<Vec<_>>()
        }));
        (bound, pool.install(run_id))
    });
    assert!(bound.iter().all(|r| r.as_deref() == Some("installed")));
    assert_eq!(plain, None);
}

#[test]
fn a_panic_on_the_pool_reaches_the_caller_and_leaves_every_thread_clean() {
    let _serial = serial();
    let message = |payload: Box<dyn std::any::Any + Send>| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    };
    let outer = ctx("outer");
    outer.sync_scope(|| {
        let iter = std::panic::catch_unwind(|| {
            ctx("par_panic").sync_scope(|| {
                (0..10_000u64)
                    .into_par_iter()
                    .in_current_trace_context()
                    .map(|i| {
                        assert_eq!(run_id().as_deref(), Some("par_panic"));
                        if i == 7_777 {
                            panic!("item {i}");
                        }
                        work(i)
                    })
                    .max()
            })
        });
        assert_eq!(message(iter.unwrap_err()), "item 7777");
        assert_eq!(run_id().as_deref(), Some("outer"));

        let joined = std::panic::catch_unwind(|| {
            ctx("join_panic").sync_scope(|| {
                tracectx::rayon::join(|| work(1), || -> u64 { panic!("right side") })
            })
        });
        assert_eq!(message(joined.unwrap_err()), "right side");
        assert_eq!(run_id().as_deref(), Some("outer"));

        let scoped = std::panic::catch_unwind(|| {
            ctx("scope_panic").sync_scope(|| {
                tracectx::rayon::scope(|s| {
                    s.spawn(|_| panic!("scoped"));
                })
            })
        });
        assert_eq!(message(scoped.unwrap_err()), "scoped");
        assert_eq!(run_id().as_deref(), Some("outer"));
    });
    pool_is_clean();
}

/// Work stolen across threads at three levels at once: a `join` inside a `scope` inside every
/// item of a parallel iterator, in four runs sharing the pool, with one run's items panicking
/// half-way. Every closure sees its own run; the panic reaches only its caller; no pool thread
/// keeps a run afterwards.
#[test]
fn join_in_scope_in_par_iter_in_four_runs_with_a_panicking_one_never_mix() {
    let _serial = serial();
    let results = in_runs_at_once(4, |r| {
        let expected = format!("run_{r}");
        let expected = expected.as_str();
        let check = |at: &str| {
            let seen = run_id();
            assert_eq!(seen.as_deref(), Some(expected), "{at}");
        };
        let per_item = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (0..2_000u64)
                .into_par_iter()
                .in_current_trace_context()
                .map(|i| {
                    check("item");
                    if r == 3 && i == 1_234 {
                        panic!("item {i} of run 3");
                    }
                    let sum = std::sync::atomic::AtomicU64::new(0);
                    tracectx::rayon::scope(|s| {
                        check("scope");
                        for k in 0..2 {
                            let sum = &sum;
                            s.spawn(move |_| {
                                check("scope spawn");
                                let (a, b) = tracectx::rayon::join(
                                    || {
                                        check("join left");
                                        work(i + k)
                                    },
                                    || {
                                        check("join right");
                                        work(i + k + 1)
                                    },
                                );
                                sum.fetch_add(a ^ b, std::sync::atomic::Ordering::Relaxed);
                            });
                        }
                    });
                    check("after scope");
                    sum.into_inner()
                })
                .count()
        }));
        check("after par_iter");
        per_item.map_err(|_| ())
    });
    for (r, counted) in results.into_iter().enumerate() {
        if r == 3 {
            assert_eq!(counted, Err(()), "run 3's panic reached its caller");
        } else {
            assert_eq!(counted, Ok(2_000), "run {r}");
        }
    }
    pool_is_clean();
}
