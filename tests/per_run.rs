//! `per_run_files`: each line in the file of its run, under a thousand runs at once.
#![cfg(feature = "logging")]

use std::collections::HashMap;
use std::path::Path;

use tracectx::logging::{
    self, FixedClock, OUTSIDE_RUNS_FILE, PerRunFiles, SpanContextLayer, TextFormat,
    run_id_from_file_name, run_log_file_name,
};
use tracectx::prelude::*;
use tracing_subscriber::prelude::*;

fn read_dir(dir: &Path) -> HashMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_thousand_concurrent_runs_each_get_their_own_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // Fewer open files than runs: files are closed and reopened, and still nothing is lost.
    let (writer, guard) = PerRunFiles::builder(dir.path())
        .max_open_files(64)
        .build()
        .unwrap();
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z").unwrap())
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    let dispatch = tracing::Dispatch::new(subscriber);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    const RUNS: usize = 1_000;
    const STEPS: usize = 20;
    tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..RUNS {
                // Every kind of run id: some need encoding.
                let run = match i % 4 {
                    0 => format!("backtest_{i}"),
                    1 => format!("live:eu/{i}"),
                    2 => format!("job@{i}+x"),
                    _ => format!(".hidden.{i}"),
                };
                let ctx = TraceContext::new(&run).unwrap();
                let dispatch = dispatch.clone();
                set.spawn(
                    async move {
                        for step in 0..STEPS {
                            tokio::task::yield_now().await;
                            tracing::dispatcher::with_default(&dispatch, || {
                                tracing::info!(step, "run {i}")
                            });
                        }
                    }
                    .in_trace_context(ctx),
                );
            }
            tracing::info!("outside any run");
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
        })
    });
    drop(guard);
    let files = read_dir(dir.path());
    assert_eq!(files.len(), RUNS + 1);
    assert!(files[OUTSIDE_RUNS_FILE].contains("outside any run"));
    for (name, text) in &files {
        if name == OUTSIDE_RUNS_FILE {
            continue;
        }
        let run = run_id_from_file_name(name).unwrap_or_else(|| panic!("{name}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), STEPS, "{name}");
        for (step, line) in lines.iter().enumerate() {
            assert!(line.contains(&format!("] [{run}] [")), "{name}: {line}");
            assert!(line.ends_with(&format!("step={step}")), "{name}: {line}");
        }
    }
}

#[test]
fn a_span_remembered_run_is_written_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::new())
                .with_writer(writer),
        );
    tracing::subscriber::with_default(subscriber, || {
        let ctx = TraceContext::new("remembered").unwrap();
        let span = ctx.sync_scope(|| tracing::info_span!("work"));
        span.in_scope(|| tracing::info!("in the span, outside the scope"));
        tracing::info!("outside");
    });
    drop(guard);
    let files = read_dir(dir.path());
    assert!(files["remembered.log"].contains("in the span, outside the scope"));
    assert!(!files[OUTSIDE_RUNS_FILE].contains("in the span"));
    assert!(files[OUTSIDE_RUNS_FILE].contains("outside"));
}

#[test]
fn a_second_formatter_leaves_no_run_behind_for_the_next_event() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    // A console layer after the per-run one formats every event too, and its writer never
    // asks for the run a span remembered.
    let subscriber = tracing_subscriber::registry()
        .with(SpanContextLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::new())
                .with_writer(writer),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(TextFormat::new())
                .with_writer(std::io::sink),
        );
    tracing::subscriber::with_default(subscriber, || {
        let ctx = TraceContext::new("remembered").unwrap();
        let span = ctx.sync_scope(|| tracing::info_span!("work"));
        // One callsite: in the span first, then in no span and no run.
        let tick = |n: u32| tracing::info!(n, "tick");
        span.in_scope(|| tick(1));
        tick(2);
    });
    drop(guard);
    let files = read_dir(dir.path());
    assert!(files["remembered.log"].contains("n=1"));
    assert!(!files["remembered.log"].contains("n=2"), "{:?}", files);
    assert!(files[OUTSIDE_RUNS_FILE].contains("n=2"));
}

#[test]
fn every_accepted_line_is_written_when_the_guard_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = PerRunFiles::builder(dir.path())
        .outside_runs_file("app.log")
        .build()
        .unwrap();
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    let runs: Vec<TraceContext> = (0..7)
        .map(|i| TraceContext::new(&format!("r{i}")).unwrap())
        .collect();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..210_000 {
            runs[i % 7].sync_scope(|| tracing::info!(i, "line"));
        }
        tracing::info!("last");
    });
    drop(guard);
    let files = read_dir(dir.path());
    assert_eq!(files.len(), 8);
    for (i, ctx) in runs.iter().enumerate() {
        let text = &files[&run_log_file_name(ctx.run_id())];
        assert_eq!(text.lines().count(), 30_000);
        let mut expected = i;
        for line in text.lines() {
            assert!(line.ends_with(&format!(" i={expected}")), "{line}");
            expected += 7;
        }
    }
    assert!(files["app.log"].ends_with("last\n"));
}

#[test]
fn file_names_read_back_to_their_run_ids() {
    let mut rng = fastrand::Rng::with_seed(3);
    let alphabet: Vec<char> = ('a'..='z')
        .chain('A'..='Z')
        .chain('0'..='9')
        .chain("_-.:/@+".chars())
        .collect();
    let mut names = std::collections::HashSet::new();
    for _ in 0..20_000 {
        let len = rng.usize(1..=40);
        let id: String = (0..len)
            .map(|_| alphabet[rng.usize(..alphabet.len())])
            .collect();
        if tracectx::RunId::new(&id).is_err() {
            continue; // punctuation alone is not a run id
        }
        let name = run_log_file_name(&id);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b)),
            "{name}"
        );
        assert!(!name.starts_with('.'), "{name}");
        assert_ne!(name, OUTSIDE_RUNS_FILE);
        assert_eq!(run_id_from_file_name(&name).as_deref(), Some(&*id), "{id}");
        names.insert((name, id));
    }
    let distinct_names: std::collections::HashSet<_> = names.iter().map(|(n, _)| n).collect();
    assert_eq!(distinct_names.len(), names.len(), "one name per run id");
    assert_eq!(
        run_id_from_file_name("a%2fb.log"),
        None,
        "not a name it makes"
    );
    assert_eq!(run_id_from_file_name("a b.log"), None);
    assert_eq!(run_id_from_file_name(OUTSIDE_RUNS_FILE), None);
}

/// Names that are not plain file names are refused when the writer is built, before the
/// directory is made, and shown escaped.
#[test]
fn the_outside_file_must_be_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let long = "a".repeat(256);
    for (name, problem) in [
        ("../escape.log", "path separator"),
        ("logs/app.log", "path separator"),
        ("app.log/", "path separator"),
        ("/app.log", "path separator"),
        ("", "empty"),
        (".", "directory"),
        ("..", "directory"),
        ("app\0.log", "NUL"),
        ("\u{1b}[31m\0", "NUL"),
        (&long, "255 bytes"),
    ] {
        let err = PerRunFiles::builder(&runs)
            .outside_runs_file(name)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{name:?}");
        let message = err.to_string();
        assert!(message.contains(problem), "{message}");
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
    let err = PerRunFiles::builder(&runs)
        .outside_runs_file("app\0.log")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("\"app\\u{0}.log\""), "{err}");
    assert!(!runs.exists());
    // Any other name is fine, escaped or not.
    let (_writer, guard) = PerRunFiles::builder(&runs)
        .outside_runs_file("app\t(é).log")
        .build()
        .unwrap();
    drop(guard);
}

/// Per-run files in `dir`, and the crate's subscriber at INFO writing to them.
fn per_run_dispatch(dir: impl AsRef<Path>) -> (tracing::Dispatch, logging::WorkerGuard) {
    let (writer, guard) = logging::per_run_files(dir).unwrap();
    let subscriber = logging::builder()
        .with_writer(writer)
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    (tracing::Dispatch::new(subscriber), guard)
}

/// A run whose file cannot be opened (its name is taken by a directory): its lines are
/// counted as failed, the other runs' written, as the non-blocking writer counts them.
#[test]
fn lines_of_a_run_whose_file_cannot_be_opened_are_counted_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(run_log_file_name("job_1"))).unwrap();
    let (dispatch, guard) = per_run_dispatch(dir.path());
    tracing::dispatcher::with_default(&dispatch, || {
        for (run, n) in [("job_1", 5), ("job_2", 3)] {
            TraceContext::new(run).unwrap().sync_scope(|| {
                for i in 0..n {
                    tracing::info!(i, "line");
                }
            });
        }
    });
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.failed, stats.dropped, stats.pending),
        (3, 5, 0, 0)
    );
    let job_2 = std::fs::read_to_string(dir.path().join("job_2.log")).unwrap();
    assert_eq!(job_2.lines().count(), 3);
}

/// A lossy per-run writer with a small byte bound, fed a line a millisecond: the writer
/// writes its batch out as soon as the queue is half full instead of lingering for more lines
/// (which only its writing can make room for). Lingering, it dropped about a line in five.
#[test]
fn a_writer_short_of_room_writes_at_once_instead_of_lingering() {
    use std::io::Write as _;
    use tracing_subscriber::fmt::MakeWriter as _;

    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = PerRunFiles::builder(dir.path())
        .buffered_bytes_limit(4096)
        .lossy(true)
        .build()
        .unwrap();
    let line = format!("{}\n", "x".repeat(99));
    for _ in 0..600 {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let stats = guard.finish();
    assert_eq!(stats.written + stats.dropped, 600, "{stats:?}");
    assert!(stats.dropped <= 20, "{stats:?}");
}

/// The last batch, written on several threads when the guard drops: runs whose files cannot
/// be opened are counted as failed, every other run's lines are in its file in order, with
/// fewer files allowed open than runs.
#[test]
fn the_last_batch_of_many_runs_counts_each_failure_and_writes_the_rest() {
    use std::io::Write as _;
    use tracing_subscriber::fmt::MakeWriter as _;

    const RUNS: usize = 200;
    const LINES: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    // Every tenth run's file name is taken by a directory.
    for i in (0..RUNS).step_by(10) {
        std::fs::create_dir(dir.path().join(run_log_file_name(&format!("job_{i}")))).unwrap();
    }
    let (writer, guard) = PerRunFiles::builder(dir.path())
        .max_open_files(8)
        .build()
        .unwrap();
    let runs: Vec<TraceContext> = (0..RUNS)
        .map(|i| TraceContext::new(&format!("job_{i}")).unwrap())
        .collect();
    // Interleaved, and all within the writer's wait for more: one batch when the guard drops.
    for line in 0..LINES {
        for run in &runs {
            let mut w = run.sync_scope(|| writer.make_writer());
            w.write_all(format!("{} line {line}\n", run.run_id()).as_bytes())
                .unwrap();
        }
    }
    let stats = guard.finish();
    let failed = (RUNS / 10 * LINES) as u64;
    assert_eq!(
        (stats.written, stats.failed, stats.pending),
        ((RUNS * LINES) as u64 - failed, failed, 0)
    );
    for (i, run) in runs.iter().enumerate() {
        let path = dir.path().join(run_log_file_name(run.run_id()));
        if i % 10 == 0 {
            assert!(path.is_dir());
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: String = (0..LINES)
            .map(|line| format!("{} line {line}\n", run.run_id()))
            .collect();
        assert_eq!(text, expected, "{}", path.display());
    }
}

/// Writes `lines` lines `<run> line <i>` (`i` from `from`) as `run`'s, through `writer`.
fn write_lines(writer: &PerRunFiles, run: &TraceContext, from: usize, lines: usize) {
    use std::io::Write as _;
    use tracing_subscriber::fmt::MakeWriter as _;

    for i in from..from + lines {
        let mut w = run.sync_scope(|| writer.make_writer());
        w.write_all(format!("{} line {i}\n", run.run_id()).as_bytes())
            .unwrap();
    }
}

/// The lines `<run> line <i>` for `i` in `range`, as [`write_lines`] writes them.
fn lines_of(run: &TraceContext, range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("{} line {i}\n", run.run_id()))
        .collect()
}

/// Waits (ten seconds at most) until the file at `path` holds `expected`: the writer thread
/// has written a batch.
fn wait_for(path: &Path, expected: &str) {
    for _ in 0..2000 {
        if std::fs::read_to_string(path).is_ok_and(|text| text == expected) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!(
        "{} never held {expected:?}: {:?}",
        path.display(),
        std::fs::read_to_string(path)
    );
}

/// Longer than the writer thread's interval between checks of a file's path.
const PAST_CHECK: std::time::Duration = std::time::Duration::from_millis(1100);

/// Run files removed while the writer keeps them open, between two batches: the lines of
/// the batch before are in the removed file (read through a descriptor kept open), the lines
/// after it (the last batch, written as the guard finishes, maybe on several threads) in a
/// new file at the same path, every line counted written once.
#[test]
fn a_run_file_removed_while_open_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    let runs: Vec<TraceContext> = (0..8)
        .map(|i| TraceContext::new(&format!("job_{i}")).unwrap())
        .collect();
    let path = |run: &TraceContext| dir.path().join(run_log_file_name(run.run_id()));
    for run in &runs {
        write_lines(&writer, run, 0, 10);
    }
    let mut removed = Vec::new();
    for run in &runs[..6] {
        wait_for(&path(run), &lines_of(run, 0..10));
        removed.push(std::fs::File::open(path(run)).unwrap());
        std::fs::remove_file(path(run)).unwrap();
    }
    std::thread::sleep(PAST_CHECK);
    for run in &runs {
        write_lines(&writer, run, 10, 20);
    }
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.failed, stats.dropped, stats.pending),
        (240, 0, 0, 0),
        "{stats:?}"
    );
    for (run, mut old) in runs.iter().zip(removed) {
        use std::io::Read as _;
        let mut text = String::new();
        old.read_to_string(&mut text).unwrap();
        assert_eq!(text, lines_of(run, 0..10), "{}", run.run_id());
        let new = std::fs::read_to_string(path(run)).unwrap();
        assert_eq!(new, lines_of(run, 10..30), "{}", run.run_id());
    }
    // The run whose file stayed has all its lines in it.
    let kept = std::fs::read_to_string(path(&runs[7])).unwrap();
    assert_eq!(kept, lines_of(&runs[7], 0..30));
}

/// A run file renamed away and another made at its path, as a log rotator does: the lines
/// after the check go to the new file, after what it held; the renamed file keeps the lines
/// written before. Also for the outside file, and once more in the last batch.
#[test]
fn a_run_file_replaced_while_open_is_left_for_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    let run = TraceContext::new("live:eu/42").unwrap();
    let path = dir.path().join(run_log_file_name(run.run_id()));
    let outside = dir.path().join(OUTSIDE_RUNS_FILE);
    let outside_line = |i: usize| {
        use std::io::Write as _;
        use tracing_subscriber::fmt::MakeWriter as _;
        writer
            .make_writer()
            .write_all(format!("outside {i}\n").as_bytes())
            .unwrap();
    };
    write_lines(&writer, &run, 0, 10);
    outside_line(0);
    wait_for(&path, &lines_of(&run, 0..10));
    wait_for(&outside, "outside 0\n");
    let rotate = |to: &str| {
        std::fs::rename(&path, dir.path().join(to)).unwrap();
        std::fs::write(&path, "rotated\n").unwrap();
    };
    rotate("rotated.1");
    std::fs::rename(&outside, dir.path().join("outside.1")).unwrap();
    std::thread::sleep(PAST_CHECK);
    write_lines(&writer, &run, 10, 20);
    outside_line(1);
    wait_for(&path, &format!("rotated\n{}", lines_of(&run, 10..30)));
    wait_for(&outside, "outside 1\n");
    // Again, the new lines written as the guard finishes.
    rotate("rotated.2");
    std::thread::sleep(PAST_CHECK);
    write_lines(&writer, &run, 30, 5);
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.failed, stats.dropped, stats.pending),
        (37, 0, 0, 0),
        "{stats:?}"
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("rotated.1"), lines_of(&run, 0..10));
    assert_eq!(
        read("rotated.2"),
        format!("rotated\n{}", lines_of(&run, 10..30))
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("rotated\n{}", lines_of(&run, 30..35))
    );
    assert_eq!(read("outside.1"), "outside 0\n");
}

/// The directory removed with its files: it is made again, and the lines after the check are
/// in it.
#[test]
fn a_removed_directory_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("runs");
    let (writer, guard) = logging::per_run_files(&runs_dir).unwrap();
    let run = TraceContext::new("job_1").unwrap();
    let path = runs_dir.join("job_1.log");
    write_lines(&writer, &run, 0, 3);
    wait_for(&path, &lines_of(&run, 0..3));
    std::fs::remove_dir_all(&runs_dir).unwrap();
    std::thread::sleep(PAST_CHECK);
    write_lines(&writer, &run, 3, 4);
    let stats = guard.finish();
    assert_eq!((stats.written, stats.failed), (7, 0), "{stats:?}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        lines_of(&run, 3..7)
    );
}

/// Ids too long to escape in 255 bytes, of every kind of byte a run id may hold: names of
/// at most 255 bytes, of the characters of escaped names, one per id (also ignoring letter
/// case, for ids that differ in more than case), that read back to their ids.
#[test]
fn long_run_ids_get_names_that_fit_and_read_back() {
    let max = tracectx::MAX_RUN_ID_LEN;
    let mut ids: Vec<String> = Vec::new();
    for punct in ["/", ":", "@", "+", ".", "-", "_"] {
        ids.push(format!("a{}", punct.repeat(max - 1)));
        ids.push(format!("{}Z", punct.repeat(max - 1)));
    }
    ids.push(format!(".{}", "/".repeat(max - 2)) + "9");
    ids.push("a".repeat(max));
    ids.push("Zz".repeat(max / 2));
    // Around the limit: 255 bytes escaped, and one more.
    ids.push(format!("{}{}", "a".repeat(65), "/".repeat(62)));
    ids.push(format!("{}{}", "a".repeat(66), "/".repeat(62)));
    ids.push(format!("{}{}", "/".repeat(62), "b".repeat(65)));
    let mut rng = fastrand::Rng::with_seed(7);
    // Mostly bytes that are escaped, so that about half the ids are too long to escape.
    let alphabet: Vec<char> = "aZ9_-.:/@+:/@+:/@+".chars().collect();
    for _ in 0..20_000 {
        let len = rng.usize(60..=max);
        ids.push(
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect(),
        );
    }
    let mut by_name = HashMap::new();
    let mut by_folded_name = HashMap::new();
    let mut long = 0;
    for id in ids {
        if tracectx::RunId::new(&id).is_err() {
            continue; // punctuation alone is not a run id
        }
        let name = run_log_file_name(&id);
        let escaped_len = id.len()
            + 4
            + 2 * id.bytes().filter(|b| b"/:@+".contains(b)).count()
            + 2 * usize::from(id.starts_with('.'));
        assert!(name.len() <= 255, "{id}: {name}");
        assert_eq!(name.starts_with("%%"), escaped_len > 255, "{id}: {name}");
        long += usize::from(name.starts_with("%%"));
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b)),
            "{name}"
        );
        assert!(name.ends_with(".log") && !name.starts_with('.'), "{name}");
        assert_eq!(run_id_from_file_name(&name).as_deref(), Some(&*id), "{id}");
        if let Some(other) = by_name.insert(name.clone(), id.clone()) {
            assert_eq!(other, id, "{name}");
        }
        if let Some(other) = by_folded_name.insert(name.to_lowercase(), id.to_lowercase()) {
            assert_eq!(other, id.to_lowercase(), "{name}");
        }
    }
    assert!(long > 1000, "{long} long names");
    // Not a name it makes: the long form of an id short enough to escape, a long form with
    // a character outside base32hex or one more character.
    let short = run_log_file_name(&format!("a{}", "/".repeat(127)));
    assert_eq!(run_id_from_file_name(&short.to_lowercase()), None);
    assert_eq!(run_id_from_file_name(&short.replace(".log", "0.log")), None);
    assert_eq!(run_id_from_file_name("%%C4NM4EJ3.log"), None); // "a/b:c"
    assert_eq!(
        run_id_from_file_name(&format!("%%{}.log", "0".repeat(300))),
        None
    );
}

/// Real files for the longest ids, written and read back by their names.
#[test]
fn long_run_ids_have_their_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, guard) = logging::per_run_files(dir.path()).unwrap();
    let max = tracectx::MAX_RUN_ID_LEN;
    let runs: Vec<TraceContext> = ["/", ":", "@", "+", "./:@+-_"]
        .iter()
        .flat_map(|p| {
            [
                format!("a{}", p.repeat(max))[..max].to_owned(),
                format!("b{}", p.repeat(max))[..max].to_owned(),
                format!(".{}", p.repeat(max))[..max - 1].to_owned() + "A",
            ]
        })
        .chain([format!("{}{}", "a".repeat(66), "/".repeat(62))])
        .map(|id| TraceContext::new(&id).unwrap())
        .collect();
    for (i, run) in runs.iter().enumerate() {
        write_lines(&writer, run, 0, i + 1);
    }
    let stats = guard.finish();
    let total = runs.len() * (runs.len() + 1) / 2;
    assert_eq!(
        (stats.written, stats.failed),
        (total as u64, 0),
        "{stats:?}"
    );
    let files = read_dir(dir.path());
    assert_eq!(files.len(), runs.len());
    for (i, run) in runs.iter().enumerate() {
        let name = run_log_file_name(run.run_id());
        assert!(name.starts_with("%%"), "{name}");
        assert_eq!(files[&name], lines_of(run, 0..i + 1), "{}", run.run_id());
    }
    for name in files.keys() {
        let id = run_id_from_file_name(name).unwrap_or_else(|| panic!("{name}"));
        assert!(runs.iter().any(|r| r.run_id().as_str() == id), "{id}");
    }
}

/// A directory path that is a file, or under one: the error keeps its kind and names the
/// path.
#[test]
fn a_directory_that_cannot_be_made_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    std::fs::write(&file, "").unwrap();
    for path in [file.clone(), file.join("runs")] {
        let expected = std::fs::create_dir_all(&path).unwrap_err().kind();
        let err = logging::per_run_files(&path).unwrap_err();
        assert_eq!(err.kind(), expected, "{err}");
        let message = err.to_string();
        assert!(message.contains(&*path.to_string_lossy()), "{message}");
        assert!(message.contains("os error"), "{message}");
    }
}

/// Set in the environment of this test binary run again, as a child with few file descriptors.
const FEW_FDS_CHILD: &str = "TRACECTX_TEST_FEW_FDS_CHILD";

/// A thousand runs logging at once in a process whose limit is 64 file descriptors, the
/// writer keeping up to 256 files open (its default): it used to lose the lines of every run
/// whose file it opened past the limit (`Too many open files`, thousands of lines counted
/// failed); it now closes files it keeps open and writes every line. The runs log in 5
/// rounds, each written out before the next, so that files are opened while others are open.
#[cfg(unix)]
#[test]
fn a_thousand_runs_under_a_low_file_descriptor_limit_lose_no_line() {
    const TEST: &str = "a_thousand_runs_under_a_low_file_descriptor_limit_lose_no_line";
    const RUNS: usize = 1_000;
    const ROUNDS: usize = 5;
    let Some(dir) = std::env::var_os(FEW_FDS_CHILD) else {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                "ulimit -n 64 && exec \"$0\" --exact \"$1\" --nocapture",
            ])
            .arg(std::env::current_exe().unwrap())
            .arg(TEST)
            .env(FEW_FDS_CHILD, dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("cannot"), "{stderr}");
        let files = read_dir(dir.path());
        assert_eq!(files.len(), RUNS);
        for (name, text) in &files {
            let run = run_id_from_file_name(name).unwrap_or_else(|| panic!("{name}"));
            let rounds: Vec<String> = (0..ROUNDS).map(|r| format!("round={r}")).collect();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), ROUNDS, "{name}");
            for (line, round) in lines.iter().zip(&rounds) {
                assert!(line.contains(&format!("] [{run}] [")), "{name}: {line}");
                assert!(line.ends_with(round.as_str()), "{name}: {line}");
            }
        }
        return;
    };
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) {
        assert!(line.contains(" 64 "), "{line}");
    }
    let (dispatch, guard) = per_run_dispatch(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runs: Vec<TraceContext> = (0..RUNS)
        .map(|i| TraceContext::new(&format!("run_{i}")).unwrap())
        .collect();
    for round in 0..ROUNDS {
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for run in &runs {
                let dispatch = dispatch.clone();
                set.spawn(
                    async move {
                        tokio::task::yield_now().await;
                        tracing::dispatcher::with_default(&dispatch, || {
                            tracing::info!(round, "step")
                        });
                    }
                    .in_trace_context(run.clone()),
                );
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
        });
        // Written out (or failed) before the next round: not all in the guard's last batch.
        while guard.stats().pending > 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let stats = guard.finish();
    assert_eq!(
        (stats.written, stats.lost()),
        ((RUNS * ROUNDS) as u64, 0),
        "{stats}"
    );
}

/// Set in the environment of this test binary run again, as a child whose files may not
/// grow past a few kilobytes.
const SMALL_FILES_CHILD: &str = "TRACECTX_TEST_SMALL_FILES_CHILD";

/// Sets the soft limit on the size of the files this process writes (`None`: as high as the
/// hard limit), with the signal a write past it raises ignored, so the write fails instead.
#[cfg(unix)]
#[allow(unsafe_code)] // the C calls: std has no way to set a resource limit
fn limit_file_size(bytes: Option<u64>) {
    // SAFETY: plain calls with a valid pointer to a local `rlimit`; ignoring SIGXFSZ
    // touches no handler of this program.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.map_or(limit.rlim_max, |b| b as libc::rlim_t);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// A disk that fills up in the middle of a run's line, then has room again: the write cut
/// the line short (the part written stays in the file, the line counted failed), and the
/// run's next line used to be glued to it, reading back as one line that was neither. It
/// now starts a line of its own, after the cut one is ended: for a line written while the
/// program runs (`run_a`) and for one in the last batch, written as the guard finishes
/// (`run_b`). The first write and the retry on the file opened anew both fail, as they do
/// on a full disk.
#[cfg(unix)]
#[test]
fn a_line_cut_short_by_a_full_disk_is_ended_before_the_runs_next_line() {
    const TEST: &str = "a_line_cut_short_by_a_full_disk_is_ended_before_the_runs_next_line";
    let Some(dir) = std::env::var_os(SMALL_FILES_CHILD) else {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture"])
            .env(SMALL_FILES_CHILD, dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("cannot write log lines"), "{stderr}");
        let files = read_dir(dir.path());
        for run in ["run_a", "run_b"] {
            let text = &files[&run_log_file_name(run)];
            let lines: Vec<&str> = text.split('\n').collect();
            let stamp = format!("] [{run}] [");
            assert_eq!(lines.len(), 3, "{run}: {text:.300}");
            assert_eq!(lines[0].len(), 4_096);
            assert!(lines[0].contains(&stamp), "{:.100}", lines[0]);
            assert!(lines[1].contains(&stamp) && lines[1].ends_with("after"));
            assert!(lines[1].starts_with('['), "glued: {:.100}", lines[1]);
            assert!(lines[2].is_empty());
        }
        return;
    };
    let (dispatch, guard) = per_run_dispatch(&dir);
    let log = |run: &str, message: &str| {
        TraceContext::new(run).unwrap().sync_scope(|| {
            tracing::dispatcher::with_default(&dispatch, || tracing::info!("{message}"))
        });
    };
    let written_out = || {
        while guard.stats().pending > 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    limit_file_size(Some(4_096));
    log("run_a", &"x".repeat(10_000));
    log("run_b", &"x".repeat(10_000));
    written_out();
    let stats = guard.stats();
    assert_eq!((stats.written, stats.failed), (0, 2), "{stats}");
    limit_file_size(None);
    log("run_a", "after");
    written_out();
    log("run_b", "after");
    let stats = guard.finish();
    assert_eq!((stats.written, stats.failed), (2, 2), "{stats}");
}
