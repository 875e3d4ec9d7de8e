//! The non-blocking writer under faults: a sink that stalls, fails, panics or blocks for good.
//! Its queue stays bounded in bytes, and every line is written, dropped, failed or pending, as
//! its guard tells.
#![cfg(feature = "logging")]

use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracectx::logging::{self, DEFAULT_BUFFERED_BYTES_LIMIT, NonBlocking, WriterStats};
use tracing_subscriber::fmt::MakeWriter;

/// A sink that takes nothing until it is opened, then takes everything, counting bytes.
#[derive(Clone, Default)]
struct Gate {
    state: Arc<(Mutex<(bool, usize)>, Condvar)>,
}

impl Gate {
    fn open(&self) {
        self.state.0.lock().unwrap().0 = true;
        self.state.1.notify_all();
    }

    fn bytes(&self) -> usize {
        self.state.0.lock().unwrap().1
    }
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (lock, opened) = &*self.state;
        let mut state = opened.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
        state.1 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const MIB: usize = 1 << 20;

/// 100 lines of 1 MiB into a sink that stalls: logging waits once the default 64 MiB are
/// queued (the queue was bounded in lines only: 100 MiB and more were held), and no line is
/// lost when the sink moves again.
#[test]
fn a_stalled_sink_holds_at_most_the_byte_bound_and_logging_waits() {
    let gate = Gate::default();
    let (writer, guard) = logging::non_blocking(gate.clone()).unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let logger = std::thread::spawn({
        let sent = sent.clone();
        move || {
            let line = vec![b'x'; MIB];
            for _ in 0..100 {
                writer.make_writer().write_all(&line).unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let bound = (DEFAULT_BUFFERED_BYTES_LIMIT / MIB) as u64;
    // The queue fills to its bound, and stays there while the sink is stalled.
    let mut most = 0;
    while guard.stats().pending < bound {
        most = most.max(guard.stats().pending);
        std::thread::yield_now();
    }
    for _ in 0..1000 {
        most = most.max(guard.stats().pending);
        std::thread::yield_now();
    }
    assert_eq!(most, bound, "more than the bound was queued");
    assert!(sent.load(Ordering::SeqCst) <= bound as usize);
    gate.open();
    logger.join().unwrap();
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.dropped, stats.failed, stats.pending),
        (100, 0, 0, 0)
    );
    assert_eq!(gate.bytes(), 100 * MIB);
}

/// A lossy writer drops, and counts, what does not fit: exactly the lines past the bound.
#[test]
fn a_lossy_writer_drops_and_counts_what_does_not_fit() {
    let gate = Gate::default();
    let (writer, guard) = NonBlocking::builder()
        .lossy(true)
        .buffered_bytes_limit(8 * MIB)
        .finish(gate.clone())
        .unwrap();
    let line = vec![b'x'; MIB];
    for _ in 0..100 {
        writer.make_writer().write_all(&line).unwrap();
    }
    // The sink holds the first line; the bytes stay counted until it returns.
    assert_eq!((guard.stats().pending, guard.stats().dropped), (8, 92));
    gate.open();
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.dropped, stats.failed, stats.pending),
        (8, 92, 0, 0)
    );
    assert_eq!(gate.bytes(), 8 * MIB);
}

/// A line larger than the whole bound still goes through, alone.
#[test]
fn a_line_larger_than_the_bound_is_written_alone() {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (writer, guard) = NonBlocking::builder()
        .buffered_bytes_limit(1024)
        .finish(SharedVec(buf.clone()))
        .unwrap();
    for len in [10, 5000, 10] {
        writer.make_writer().write_all(&vec![b'y'; len]).unwrap();
    }
    assert_eq!(guard.finish().written, 3);
    assert_eq!(buf.lock().unwrap().len(), 5020);
}

#[derive(Clone)]
struct SharedVec(Arc<Mutex<Vec<u8>>>);

impl Write for SharedVec {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn log_lines(writer: impl for<'w> MakeWriter<'w> + Send + Sync + 'static, n: usize) {
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    let ctx = tracectx::TraceContext::new("job_1").unwrap();
    tracing::subscriber::with_default(subscriber, || {
        ctx.sync_scope(|| {
            for i in 0..n {
                tracing::info!(i, "line");
            }
        })
    });
}

/// A full disk: every line failed, and counted (they used to vanish without a word).
#[cfg(target_os = "linux")]
#[test]
fn lines_to_a_full_disk_are_counted_as_failed() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (writer, guard) = logging::non_blocking(full).unwrap();
    log_lines(writer, 1000);
    let stats = guard.finish();
    assert_eq!((stats.written, stats.failed, stats.lost()), (0, 1000, 1000));
    assert_eq!(stats.to_string(), "0 lines written, 1000 failed");
}

/// Takes `lines` whole lines, then fails (or panics) on every write.
struct FailsAfter {
    lines: usize,
    panic: bool,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.lines == 0 {
            if self.panic {
                panic!("the sink gave up");
            }
            return Err(io::Error::other("the sink gave up"));
        }
        // Up to the end of the last line it still takes.
        let mut take = 0;
        for (i, _) in buf.iter().enumerate().filter(|&(_, &b)| b == b'\n') {
            take = i + 1;
            self.lines -= 1;
            if self.lines == 0 {
                break;
            }
        }
        let take = if take == 0 { buf.len() } else { take };
        self.out.lock().unwrap().extend_from_slice(&buf[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that fails, or panics, after 10 lines: the 90 others are counted as failed (a
/// panicking sink used to end the writer thread and lose them without a word), and the writer
/// goes on trying the lines after.
#[test]
fn a_sink_that_fails_or_panics_after_10_lines_loses_the_other_90_with_a_count() {
    for panic in [false, true] {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = FailsAfter {
            lines: 10,
            panic,
            out: out.clone(),
        };
        let (writer, guard) = logging::non_blocking(sink).unwrap();
        log_lines(writer.clone(), 100);
        let stats = guard.finish();
        assert_eq!(
            (stats.written, stats.failed, stats.pending),
            (10, 90, 0),
            "panic: {panic}"
        );
        let out = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 10);
        assert!(out.ends_with("line i=9\n"), "{out}");
        // The writer is finished: lines are refused, not lost silently.
        let refused = writer.make_writer().write_all(b"late\n").unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::BrokenPipe);
    }
}

/// Takes `room` bytes, then fails once (a disk filling up part-way through a line), then
/// takes everything.
struct FillsOnce {
    room: usize,
    failed: bool,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for FillsOnce {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = match (self.room, self.failed) {
            (0, false) => {
                self.failed = true;
                return Err(io::ErrorKind::StorageFull.into());
            }
            (0, true) => buf.len(),
            (room, _) => {
                let take = buf.len().min(room);
                self.room -= take;
                take
            }
        };
        self.out.lock().unwrap().extend_from_slice(&buf[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A write cut short part-way through a line (a full disk, then room again) left the start of
/// that line in the file, and the next line was glued to it: read back, it was the cut line's,
/// another run's id and all. The cut line is ended first.
#[test]
fn a_line_cut_short_by_a_failed_write_is_ended_before_the_next() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = FillsOnce {
        room: 100,
        failed: false,
        out: out.clone(),
    };
    let (writer, guard) = logging::non_blocking(sink).unwrap();
    // A line larger than a batch is written as it is, in a call of its own: cut at byte 100.
    let mut big = b"[2024-01-01T10:00:00.000000Z] [run_a] [a1b2c3d4] INFO t - ".to_vec();
    big.resize(100_000, b'a');
    big.push(b'\n');
    writer.make_writer().write_all(&big).unwrap();
    let small = b"[2024-01-01T10:00:01.000000Z] [run_b] [0badcafe] INFO t - mine\n";
    writer.make_writer().write_all(small).unwrap();
    let stats = guard.finish();
    assert_eq!((stats.written, stats.failed), (1, 1));
    let out = out.lock().unwrap().clone();
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&out));
    assert_eq!(lines[0], &big[..100]);
    assert_eq!(lines[1], &small[..small.len() - 1]);
    assert!(lines[2].is_empty());
}

/// A pipe nobody reads blocks the sink for good: a bounded wait returns, and says how many
/// lines it left unwritten.
#[cfg(unix)]
#[test]
fn the_guard_waits_a_bounded_time_on_a_pipe_nobody_reads() {
    let mut reader = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = reader.stdin.take().unwrap();
    let (writer, guard) = NonBlocking::builder()
        .shutdown_timeout(Duration::from_millis(200))
        .finish(pipe)
        .unwrap();
    // Far more than a pipe holds (64 KiB on Linux).
    log_lines(writer, 20_000);
    let stats: WriterStats = guard.finish();
    let _ = reader.kill();
    let _ = reader.wait();
    assert_eq!(stats.failed, 0);
    assert!(stats.pending > 0, "{stats:?}");
    assert_eq!(stats.written + stats.pending, 20_000, "{stats:?}");

    // The same with `finish_timeout`, on a writer whose default waits without a limit.
    let mut reader = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let (writer, guard) = logging::non_blocking(reader.stdin.take().unwrap()).unwrap();
    log_lines(writer, 20_000);
    let stats = guard.finish_timeout(Duration::from_millis(200));
    let _ = reader.kill();
    let _ = reader.wait();
    assert!(stats.pending > 0 && stats.written + stats.pending == 20_000);
}

/// A sink slower than the loggers, which keep logging while the guard finishes: finishing
/// refuses new lines, so the queue runs empty and the guard returns (it waited for good, the
/// writer never seeing an empty queue).
#[test]
fn the_guard_finishes_while_other_threads_keep_logging() {
    struct Slow;
    impl Write for Slow {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            std::thread::sleep(Duration::from_millis(5));
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let (writer, guard) = NonBlocking::builder()
        .buffered_lines_limit(4)
        .finish(Slow)
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loggers: Vec<_> = (0..4)
        .map(|_| {
            let (w, stop) = (writer.clone(), stop.clone());
            std::thread::spawn(move || {
                let line = vec![b'x'; 70 * 1024];
                while !stop.load(Ordering::Relaxed) {
                    if w.make_writer().write_all(&line).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(guard.finish()));
    let finished = rx.recv_timeout(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let stats = finished.expect("finish returned while the loggers kept logging");
    assert_eq!(stats.pending, 0, "{stats:?}");
    assert!(stats.written > 0, "{stats:?}");
    for logger in loggers {
        logger.join().unwrap();
    }
}

/// A sink whose every write waits until the test lets it go (drops the sender).
struct Gated(std::sync::mpsc::Receiver<()>);

impl Write for Gated {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let _ = self.0.recv();
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Logs `line` from another thread, where it waits, then gives up on the guard: whether that
/// logger was refused (an error if it was neither woken nor refused within 10 s), and the
/// guard's counts.
fn log_while_the_guard_gives_up(
    writer: &NonBlocking,
    guard: logging::WorkerGuard,
    line: &'static [u8],
) -> (Result<bool, std::sync::mpsc::RecvTimeoutError>, WriterStats) {
    let (tx, rx) = std::sync::mpsc::channel();
    let waiting = writer.clone();
    std::thread::spawn(move || {
        let refused = waiting.make_writer().write_all(line).is_err();
        let _ = tx.send(refused);
    });
    std::thread::sleep(Duration::from_millis(200));
    let stats = guard.finish_timeout(Duration::from_millis(50));
    (rx.recv_timeout(Duration::from_secs(10)), stats)
}

/// A logger waiting for room in front of a stuck sink is refused when the guard gives up
/// (`finish_timeout`), not left waiting for good, nor let in later.
#[test]
fn a_logger_waiting_for_room_is_refused_when_the_guard_gives_up() {
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let (writer, guard) = NonBlocking::builder()
        .buffered_bytes_limit(1)
        .finish(Gated(gate))
        .unwrap();
    writer.make_writer().write_all(b"first\n").unwrap();
    let (refused, stats) = log_while_the_guard_gives_up(&writer, guard, b"second\n");
    drop(go);
    assert_eq!(
        refused,
        Ok(true),
        "the waiting logger was neither woken nor refused"
    );
    assert_eq!(stats.written, 0, "{stats:?}");
}

/// The same with the bound on lines: a logger waiting for a place in a queue full of lines
/// in front of a stuck sink is refused when the guard gives up.
#[test]
fn a_logger_waiting_for_a_place_in_line_is_refused_when_the_guard_gives_up() {
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let (writer, guard) = NonBlocking::builder()
        .buffered_lines_limit(1)
        .finish(Gated(gate))
        .unwrap();
    // The writer thread takes the first line and is stuck writing it; the second fills the
    // queue's one place.
    writer.make_writer().write_all(b"first\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    writer.make_writer().write_all(b"second\n").unwrap();
    let (refused, stats) = log_while_the_guard_gives_up(&writer, guard, b"third\n");
    drop(go);
    assert_eq!(
        refused,
        Ok(true),
        "the waiting logger was neither woken nor refused"
    );
    assert_eq!((stats.written, stats.pending), (0, 2), "{stats:?}");
}

/// A queue limit as large as `usize::MAX` ("no limit") is taken, not a panic.
#[test]
fn the_largest_line_limit_is_taken() {
    let (writer, guard) = NonBlocking::builder()
        .buffered_lines_limit(usize::MAX)
        .finish(io::sink())
        .unwrap();
    writer.make_writer().write_all(b"one\n").unwrap();
    assert_eq!(guard.finish().written, 1);
}

/// Set in the environment of this test binary run again as a child, whose stderr is read.
const LATE_CHILD: &str = "TRACECTX_TEST_LATE_LINE_CHILD";

/// The program's global subscriber writes through a non-blocking writer; `main` drops the
/// guard, then the runtime is shut down and a task's destructor logs, as happens at exit.
/// The line cannot be written any more, and the fmt layer drops the writer's error without a
/// word: it used to vanish unsaid. The first such line is now said on stderr, once.
#[test]
fn a_line_logged_after_the_guard_dropped_is_said_on_stderr() {
    const TEST: &str = "a_line_logged_after_the_guard_dropped_is_said_on_stderr";
    let Some(path) = std::env::var_os(LATE_CHILD) else {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture"])
            .env(LATE_CHILD, &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let said = "tracectx: log file app.log: a log line came after the writer stopped";
        assert_eq!(stderr.matches(said).count(), 1, "{stderr}");
        let log = std::fs::read_to_string(&path).unwrap();
        assert!(
            log.contains("[job_1]") && log.ends_with("before the guard\n"),
            "{log}"
        );
        return;
    };
    use tracectx::prelude::*;
    struct LogsOnDrop;
    impl Drop for LogsOnDrop {
        fn drop(&mut self) {
            tracing::info!("from a destructor at shutdown");
        }
    }
    let (writer, guard) = NonBlocking::builder()
        .sink_name("log file app.log")
        .finish(std::fs::File::create(path).unwrap())
        .unwrap();
    logging::builder().with_writer(writer).init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = tracectx::TraceContext::new("job_1").unwrap();
    rt.block_on(
        async {
            tracing::info!("before the guard");
            // Each task says it holds its `LogsOnDrop` (a task never polled before the
            // runtime drops it has none to drop).
            let (started, mut all_started) = tokio::sync::mpsc::channel::<()>(3);
            for _ in 0..3 {
                let started = started.clone();
                tracectx::spawn_traced(async move {
                    let _drops = LogsOnDrop;
                    let _ = started.send(()).await;
                    std::future::pending::<()>().await;
                });
            }
            for _ in 0..3 {
                all_started.recv().await;
            }
        }
        .in_trace_context(ctx),
    );
    assert_eq!(guard.finish().written, 1);
    drop(rt);
}
