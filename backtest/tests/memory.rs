//! Memory stays bounded whatever the input: the CSV loader on malformed input of any size,
//! and a sweep whatever the size of its grid. Measured by a global allocator that keeps the
//! peak of the bytes allocated; the tests of this file run one at a time so that each sees
//! its own peak.
// A counting global allocator is an `unsafe impl` that forwards to the system's.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracectx_backtest::{Bars, DataErrorKind};

struct Peak;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// One test at a time: each holds this from its start, so that no other test allocates
/// while it measures.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// What `f` returns and the most bytes allocated at once while it ran, above what was
/// allocated when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

const MIB: usize = 1 << 20;

/// `head`, then `len` bytes repeating `pattern`: a large input made as it is read, never
/// held whole.
struct Generated {
    head: io::Cursor<Vec<u8>>,
    pattern: &'static [u8],
    left: usize,
    at: usize,
}

impl Generated {
    fn new(head: &str, pattern: &'static [u8], len: usize) -> Self {
        Generated {
            head: io::Cursor::new(head.as_bytes().to_vec()),
            pattern,
            left: len,
            at: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        let n = buf.len().min(self.left);
        for b in &mut buf[..n] {
            *b = self.pattern[self.at % self.pattern.len()];
            self.at += 1;
        }
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn the_probe_sees_an_allocation() {
    let _alone = alone();
    let (_, peak) = peak_of(|| drop(std::hint::black_box(vec![1u8; 4 * MIB])));
    // Less by what the test harness's own threads freed meanwhile (53 bytes once, under load).
    assert!(peak >= 4 * MIB - 64 * 1024, "{peak}");
}

#[test]
fn a_file_without_a_newline_is_refused_at_line_1_in_bounded_memory() {
    let _alone = alone();
    let input = Generated::new("", b"a", 64 * MIB);
    let (result, peak) = peak_of(|| Bars::from_csv_reader(input));
    let err = result.unwrap_err();
    assert!(
        matches!(err.kind(), DataErrorKind::LineTooLong { limit } if *limit == Bars::MAX_CSV_LINE_BYTES),
        "{err}"
    );
    assert_eq!(err.row(), Some(1));
    assert!(peak < 4 * MIB, "peak {peak} bytes on a 64 MiB line");
}

#[test]
fn a_field_of_64_mib_is_refused_naming_its_line_in_bounded_memory() {
    let _alone = alone();
    let head = "date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-03,";
    let input = Generated::new(head, b"1", 64 * MIB);
    let (result, peak) = peak_of(|| Bars::from_csv_reader(input));
    let err = result.unwrap_err();
    assert!(
        matches!(err.kind(), DataErrorKind::LineTooLong { .. }),
        "{err}"
    );
    assert_eq!(err.row(), Some(3));
    assert_eq!(
        err.to_string(),
        "invalid bar data at line 3: line longer than 1048576 bytes"
    );
    assert!(peak < 4 * MIB, "peak {peak} bytes on a 64 MiB field");
}

#[test]
fn a_quote_left_open_over_many_lines_is_refused_in_bounded_memory() {
    let _alone = alone();
    let head = "date,open,high,low,close\n2024-01-02,\"1";
    let input = Generated::new(head, b"1,2,3\n", 64 * MIB);
    let (result, peak) = peak_of(|| Bars::from_csv_reader(input));
    let err = result.unwrap_err();
    assert!(
        matches!(err.kind(), DataErrorKind::LineTooLong { .. }),
        "{err}"
    );
    assert_eq!(err.row(), Some(2));
    assert!(peak < 4 * MIB, "peak {peak} bytes");
    // Closed in time, a quoted field may hold line ends (the column is ignored here).
    let csv =
        "date,open,high,low,close,note\n2024-01-02,1,1,1,1,\"two\nlines\"\n2024-01-03,2,2,2,2,x\n";
    let bars = Bars::from_csv_reader(csv.as_bytes()).unwrap();
    assert_eq!(bars.close(), [1.0, 2.0]);
    let open = "date,open,high,low,close\n2024-01-02,\"1,1,1,1\n";
    let err = Bars::from_csv_reader(open.as_bytes()).unwrap_err();
    assert!(
        matches!(err.kind(), DataErrorKind::UnterminatedQuote),
        "{err}"
    );
    assert_eq!(err.row(), Some(2));
}

#[test]
fn a_valid_file_loads_in_memory_proportional_to_its_bars() {
    let _alone = alone();
    let bars = Bars::synthetic(100_000, 3);
    let mut csv = Vec::new();
    bars.write_csv(&mut csv).unwrap();
    let (loaded, peak) = peak_of(|| Bars::from_csv_reader(&csv[..]).unwrap());
    assert_eq!(loaded, bars);
    // Six columns of 8 bytes a bar, grown by doubling: at most twice that, and the buffers.
    assert!(peak < 2 * 48 * 100_000 + 2 * MIB, "peak {peak} bytes");
}

/// The peak memory of a sweep of `combinations` sessions of `sma-cross` on 500 bars, keeping
/// the 5 best, and its report.
fn sweep_peak(combinations: usize) -> (tracectx_backtest::SweepReport, usize) {
    use std::sync::Arc;
    use tracectx_backtest::{BacktestEngine, BatchOptions, ParamGrid, RankBy, sma_cross};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let data = Arc::new(Bars::synthetic(500, 1));
    let grid = ParamGrid::new()
        .parse_axis(&format!("fast=1:{combinations}:1"))
        .unwrap()
        .fixed("slow", 5);
    // The indicators the sessions share stay within a budget of their own, 1 MiB here.
    let options = BatchOptions::new()
        .concurrency(2)
        .keep_top(5)
        .indicator_memory(MIB);
    let engine = BacktestEngine::default();
    peak_of(|| rt.block_on(engine.sweep(&data, sma_cross, &grid, RankBy::default(), options)))
}

#[test]
fn a_sweeps_memory_does_not_grow_with_its_grid() {
    let _alone = alone();
    let (small, small_peak) = sweep_peak(1_000);
    let (large, large_peak) = sweep_peak(10_000);
    assert_eq!((small.sessions, large.sessions), (1_000, 10_000));
    assert_eq!((small.ranked.len(), large.ranked.len()), (5, 5));
    assert_eq!(large.succeeded, 10_000);
    // Ten times the combinations, the same memory (sessions in flight, the five kept and the
    // shared indicators' budget), give or take the allocator's rounding.
    assert!(
        large_peak < small_peak * 2 + MIB,
        "peak {small_peak} bytes for 1,000 combinations, {large_peak} for 10,000"
    );
}

/// A session's page is drawn from its curves as they are thinned: writing the page of a
/// 1,000,000-bar session takes a few megabytes whatever its length (the page's charts and
/// the thinned curves), not copies of its times and drawdown (16 MB here, 160 MB for ten
/// million bars).
#[cfg(feature = "report")]
#[test]
fn a_session_page_is_written_in_memory_that_does_not_grow_with_its_bars() {
    use tracectx_backtest::{BacktestEngine, Params, sma_cross};
    let _alone = alone();
    // On a thread of its own, joined before the next test measures: what the session keeps
    // per thread is freed with the thread, not during another test's measurement.
    let peak = std::thread::spawn(|| {
        let bars = Bars::synthetic(1_000_000, 5);
        let params = Params::new().with("fast", 20).with("slow", 50);
        let result = BacktestEngine::default()
            .run(&bars, &sma_cross, &params)
            .unwrap();
        let (written, peak) = peak_of(|| result.write_html(&bars, &mut io::sink()));
        written.unwrap();
        peak
    })
    .join()
    .unwrap();
    assert!(
        peak < 4 * MIB,
        "{peak} bytes to write the page of 1,000,000 bars"
    );
}
