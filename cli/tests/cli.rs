//! The `tracectx` command line, run as a real process on real files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tracectx::TraceContext;
use tracectx::logging::{self, FixedClock};

const A1: &str = "[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO engine - start";
const A12: &str = "[2024-01-01T10:00:00.500000Z] [backtest_ab12] [0badcafe] INFO engine - start";
const A1_WARN: &str =
    "[2024-01-01T10:00:01.000000Z] [backtest_ab1] [a1b2c3d4] WARN engine - slow fill ms=250";
const A1_JSON: &str = r#"{"timestamp":"2024-01-01T10:00:02.000000Z","level":"ERROR","run_id":"backtest_ab1","trace_id":"feedf00d","target":"engine","message":"rejected"}"#;
const MENTION: &str =
    "[2024-01-01T10:00:03.000000Z] [-] [-] INFO engine - retrying backtest_ab1 [backtest_ab1]";
const JSON_MENTION: &str = r#"{"timestamp":"2024-01-01T10:00:04.000000Z","level":"INFO","run_id":"backtest_ab12","message":"\"run_id\":\"backtest_ab1\""}"#;

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The command exited with `code` and its standard error says `says`.
fn exits_saying(out: &Output, code: i32, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(says), "{err}");
}

/// The binary, run as if `RUST_LOG` were not set (`backtest` and `sweep` read it).
fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracectx"));
    cmd.env_remove("RUST_LOG");
    cmd
}

fn tracectx(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    // From a thread of its own: a large input and a large output would fill both pipes.
    let feeder = std::thread::spawn(move || {
        // The child may stop reading early (`| head`): a broken pipe here is not the test's.
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn write_log(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    path
}

fn mixed(dir: &Path) -> PathBuf {
    write_log(
        dir,
        "app.log",
        &[
            A1,
            A12,
            "garbage line",
            A1_WARN,
            MENTION,
            A1_JSON,
            JSON_MENTION,
            "{\"truncated\":",
        ],
    )
}

#[test]
fn logs_prints_exactly_the_runs_lines_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = mixed(dir.path());
    let out = tracectx(&["logs", "backtest_ab1", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{A1}\n{A1_WARN}\n{A1_JSON}\n"));
}

/// A log large enough to be read in blocks by two threads: the file, the same bytes on
/// standard input (read as a stream) and `--no-mmap` (accepted, and the same) print the same
/// lines, in order, and agree on the count, the last line lacking its newline included.
#[test]
fn logs_files_and_streams_give_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut text = String::new();
    let mut expected = String::new();
    let mut i = 0;
    while text.len() < 5 << 20 {
        for (line, kept) in [
            (A1, true),
            (A12, false),
            (MENTION, false),
            (A1_JSON, true),
            (JSON_MENTION, false),
            ("garbage", false),
        ] {
            let line = line.replace("engine", &format!("engine{i}"));
            if kept {
                expected.push_str(&line);
                expected.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
        }
        i += 1;
    }
    text.push_str(A1); // no final newline
    expected.push_str(A1);
    expected.push('\n');
    std::fs::write(&path, &text).unwrap();
    let file = path.to_str().unwrap();

    let read = tracectx(&["logs", "backtest_ab1", file], None);
    let piped = tracectx(&["logs", "backtest_ab1"], Some(text.as_bytes()));
    let compat = tracectx(&["logs", "--no-mmap", "backtest_ab1", file], None);
    for (how, out) in [("file", &read), ("stdin", &piped), ("--no-mmap", &compat)] {
        assert_eq!(out.status.code(), Some(0), "{how}");
        assert!(stdout(out) == expected, "{how}: other lines printed");
    }
    let n = expected.lines().count().to_string() + "\n";
    assert_eq!(
        stdout(&tracectx(&["logs", "-c", "backtest_ab1", file], None)),
        n
    );
    assert_eq!(
        stdout(&tracectx(
            &["logs", "-c", "backtest_ab1"],
            Some(text.as_bytes())
        )),
        n
    );
}

#[test]
fn logs_run_id_never_matches_a_longer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = mixed(dir.path());
    let out = tracectx(&["logs", "backtest_ab12", path.to_str().unwrap()], None);
    assert_eq!(stdout(&out), format!("{A12}\n{JSON_MENTION}\n"));
    let none = tracectx(&["logs", "backtest_a", path.to_str().unwrap()], None);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(stdout(&none), "");
}

#[test]
fn logs_filters_by_trace_id_level_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = mixed(dir.path());
    let p = p.to_str().unwrap();
    let trace = tracectx(&["logs", "backtest_ab1", p, "--trace-id", "feedf00d"], None);
    assert_eq!(stdout(&trace), format!("{A1_JSON}\n"));
    let full = tracectx(
        &[
            "logs",
            "backtest_ab1",
            p,
            "--trace-id",
            "000000000000000000000000a1b2c3d4",
        ],
        None,
    );
    assert_eq!(stdout(&full), format!("{A1}\n{A1_WARN}\n"));
    let warn = tracectx(&["logs", "backtest_ab1", p, "--level", "warn"], None);
    assert_eq!(stdout(&warn), format!("{A1_WARN}\n{A1_JSON}\n"));
    let count = tracectx(&["logs", "backtest_ab1", p, "--count"], None);
    assert_eq!(
        (stdout(&count).as_str(), count.status.code()),
        ("3\n", Some(0))
    );
    let zero = tracectx(&["logs", "nobody", p, "--count"], None);
    assert_eq!(
        (stdout(&zero).as_str(), zero.status.code()),
        ("0\n", Some(1))
    );
}

#[test]
fn logs_reads_stdin_when_no_file_or_dash() {
    let input = format!("{A12}\n{A1}\n{A1_JSON}");
    for args in [
        &["logs", "backtest_ab1"][..],
        &["logs", "backtest_ab1", "-"][..],
    ] {
        let out = tracectx(args, Some(input.as_bytes()));
        assert_eq!(stdout(&out), format!("{A1}\n{A1_JSON}\n"), "{args:?}");
    }
}

fn gzip(path: &Path, text: &str) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[test]
fn logs_reads_gzip_text_and_json_lines_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log.gz");
    gzip(&path, &format!("{A12}\n{A1}\n{JSON_MENTION}\n{A1_JSON}\n"));
    let plain = write_log(dir.path(), "app.log", &[A1_WARN]);
    let out = tracectx(
        &[
            "logs",
            "backtest_ab1",
            path.to_str().unwrap(),
            plain.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{A1}\n{A1_JSON}\n{A1_WARN}\n"));
    // From standard input too, whatever the name.
    let bytes = std::fs::read(&path).unwrap();
    let out = tracectx(&["logs", "backtest_ab12", "-"], Some(&bytes));
    assert_eq!(stdout(&out), format!("{A12}\n{JSON_MENTION}\n"));
}

#[test]
fn logs_reads_concatenated_gzip_members() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("1.gz"), dir.path().join("2.gz"));
    gzip(&first, &format!("{A1}\n"));
    gzip(&second, &format!("{A12}\n{A1_JSON}\n"));
    let mut both = std::fs::read(&first).unwrap();
    both.extend(std::fs::read(&second).unwrap());
    let path = dir.path().join("rotated.log.gz");
    std::fs::write(&path, both).unwrap();
    let out = tracectx(&["logs", "backtest_ab1", path.to_str().unwrap()], None);
    assert_eq!(stdout(&out), format!("{A1}\n{A1_JSON}\n"));
}

/// `n` lines of `backtest_ab1`, each different (so the gzip stream is not all repeats).
fn numbered_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let px = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) % 1_000_000;
            format!(
                "[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO engine - bar i={i} px={px}"
            )
        })
        .collect()
}

#[test]
fn logs_damaged_gzip_prints_the_lines_before_the_damage_then_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lines = numbered_lines(50_000);
    let full = dir.path().join("full.gz");
    gzip(&full, &(lines.join("\n") + "\n"));
    let bytes = std::fs::read(&full).unwrap();
    let truncated = dir.path().join("truncated.log.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0xff;
    let corrupt = dir.path().join("corrupt.log.gz");
    std::fs::write(&corrupt, flipped).unwrap();
    let good = write_log(dir.path(), "good.log", &[A1_WARN]);

    for damaged in [&truncated, &corrupt] {
        let out = tracectx(
            &[
                "logs",
                "backtest_ab1",
                damaged.to_str().unwrap(),
                good.to_str().unwrap(),
            ],
            None,
        );
        let name = damaged.display();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8(out.stderr.clone()).unwrap();
        assert!(err.contains(&format!("tracectx: {name}: ")), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        // Whole lines only, from the start: the first many lines as they were written (a
        // flipped byte may garble what follows it before the checksum catches it), then the
        // next input, still read.
        let text = stdout(&out);
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got.last(), Some(&A1_WARN), "{name}");
        let before = &got[..got.len() - 1];
        let intact = before
            .iter()
            .zip(&lines)
            .take_while(|(g, l)| *g == l)
            .count();
        assert!(intact > 10_000, "{name}: {intact} lines before the damage");
        assert!(before.len() < lines.len(), "{name}");
        if damaged == &truncated {
            assert_eq!(
                intact,
                before.len(),
                "{name}: the line cut short is not printed"
            );
        }
    }

    let runs = tracectx(&["runs", "--json", truncated.to_str().unwrap()], None);
    assert_eq!(runs.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let counted = v[0]["lines"].as_u64().unwrap() as usize;
    assert!(counted > 10_000 && counted < lines.len(), "{counted}");
}

#[test]
fn logs_unreadable_file_is_exit_2_naming_it_and_others_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_log(dir.path(), "good.log", &[A1]);
    let missing = dir.path().join("missing.log");
    let out = tracectx(
        &[
            "logs",
            "backtest_ab1",
            missing.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), format!("{A1}\n"));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("missing.log"), "{err}");
}

#[test]
fn logs_skips_non_utf8_truncated_and_garbage_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dirty.log");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"\xff\xfe[backtest_ab1] \x00\x01 binary\n");
    bytes.extend_from_slice(
        b"[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO t - caf\xe9\n",
    );
    bytes.extend_from_slice(b"{\"run_id\":\"backtest_ab1\",\"message\":\"\xff\"}\n");
    bytes.extend_from_slice(b"[2024-01-01T10:00:00.0000\n");
    bytes.extend_from_slice(b"{\"run_id\":\"backtest_ab1\",\"mess");
    std::fs::write(&path, &bytes).unwrap();
    let out = tracectx(&["logs", "backtest_ab1", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    // The text line is the run's even with a stray byte in its message: printed with the
    // byte escaped, or with `--raw` unchanged.
    assert_eq!(
        stdout(&out),
        "[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO t - caf\\xe9\n"
    );
    let raw = tracectx(
        &["logs", "--raw", "backtest_ab1", path.to_str().unwrap()],
        None,
    );
    assert_eq!(
        raw.stdout,
        b"[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO t - caf\xe9\n"
    );
}

/// `len` pseudo-random bytes, NULs and the run id among them, but never a newline.
fn binary_noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        match seed % 4096 {
            0 => out.extend_from_slice(b"[backtest_ab1]"),
            1 => out.extend_from_slice(b"\"run_id\":\"backtest_ab1\""),
            2..=200 => out.push(0),
            _ => out.extend(seed.to_le_bytes().iter().filter(|&&b| b != b'\n')),
        }
    }
    out.truncate(len);
    out
}

#[test]
fn logs_binary_file_is_not_fatal_and_its_one_valid_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    // Longer runs of bytes than one read block, without a newline, around one valid line.
    let mut bytes = binary_noise(3 << 20, 1);
    bytes.push(b'\n');
    bytes.extend_from_slice(A1.as_bytes());
    bytes.push(b'\n');
    bytes.extend(binary_noise(1 << 20, 2));
    let path = dir.path().join("app.bin");
    std::fs::write(&path, &bytes).unwrap();
    let p = path.to_str().unwrap();
    let out = tracectx(&["logs", "backtest_ab1", p], None);
    assert_eq!(
        (
            out.status.code(),
            stdout(&out),
            String::from_utf8(out.stderr)
        ),
        (Some(0), format!("{A1}\n"), Ok(String::new()))
    );
    let count = tracectx(&["logs", "backtest_ab1", p, "--count"], None);
    assert_eq!(stdout(&count), "1\n");
    let runs = tracectx(&["runs", "--json", p], None);
    assert_eq!(runs.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(
        (v[0]["run_id"].as_str(), v[0]["lines"].as_u64()),
        (Some("backtest_ab1"), Some(1))
    );

    // Noise alone: nothing found, and a word that no line was a log line.
    let noise = dir.path().join("noise.bin");
    std::fs::write(&noise, binary_noise(2 << 20, 3)).unwrap();
    let out = tracectx(&["logs", "backtest_ab1", noise.to_str().unwrap()], None);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(1), 0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "tracectx: {}: no line in tracectx's default layout or JSON",
            noise.display()
        )),
        "{err}"
    );
}

/// Runs the binary with its standard output going to `out`.
fn tracectx_to(args: &[&str], out: std::fs::File) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn output_that_cannot_be_written_is_exit_2_blamed_on_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = mixed(dir.path());
    let p = p.to_str().unwrap();
    for args in [
        &["logs", "backtest_ab1", p][..],
        &["logs", "backtest_ab1", p, "--count"][..],
        &["logs", "nobody", p, "--count"][..],
        &["runs", p][..],
        &["runs", "--json", p][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = tracectx_to(args, full);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("tracectx: cannot write the output"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("app.log"),
            "{args:?}: the input is not to blame: {err}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let lines = numbered_lines(100_000);
    let path = dir.path().join("big.log");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    head_1_ends_quietly(&["logs", "backtest_ab1", path.to_str().unwrap()], &lines[0]);
}

/// Runs the command, reads its first line (`| head -1`), which must be `first`, then closes
/// the pipe with more to come: the command must exit 0 and say nothing.
fn head_1_ends_quietly(args: &[&str], first: &str) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let mut read = vec![0u8; first.len() + 1];
    std::io::Read::read_exact(&mut pipe, &mut read).unwrap();
    assert_eq!(read, format!("{first}\n").as_bytes());
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8(out.stderr).unwrap()),
        (Some(0), String::new())
    );
}

/// A run that crosses processes leaves its lines in each process's log. Read file after file,
/// the story came back out of order; `--merge` interleaves the files by time, each file's
/// lines in their order, a tie going to the file named first.
#[test]
fn merge_interleaves_the_files_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = |s: u32, run: &str, trace: &str, m: &str| {
        format!("[2024-01-01T10:00:0{s}.000000Z] [{run}] [{trace}] INFO svc - {m}")
    };
    let json = |s: u32, m: &str| {
        format!(
            r#"{{"timestamp":"2024-01-01T10:00:0{s}.000000Z","level":"INFO","run_id":"backtest_ab1","trace_id":"a1b2c3d4","message":"{m}"}}"#
        )
    };
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    std::fs::write(
        &a,
        [
            text(1, "backtest_ab1", "a1b2c3d4", "a1"),
            text(2, "backtest_ab12", "0badcafe", "other"),
            text(3, "backtest_ab1", "a1b2c3d4", "a3"),
            text(5, "backtest_ab1", "a1b2c3d4", "a5"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    std::fs::write(&b, [json(0, "b0"), json(3, "b3"), json(4, "b4")].join("\n")).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let messages = |out: &Output| -> Vec<String> {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        String::from_utf8(out.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| {
                let m = l.rsplit_once(" - ").map_or_else(
                    || serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].to_string(),
                    |(_, m)| m.to_owned(),
                );
                m.trim_matches('"').to_owned()
            })
            .collect()
    };
    let merged = ["b0", "a1", "a3", "b3", "b4", "a5"];
    let out = tracectx(&["logs", "backtest_ab1", "--merge", a, b], None);
    assert_eq!(messages(&out), merged);
    let out = tracectx(&["trace", "a1b2c3d4", a, b, "--merge"], None);
    assert_eq!(messages(&out), merged);
    // Without it, file after file, as grep prints them.
    let out = tracectx(&["logs", "backtest_ab1", a, b], None);
    assert_eq!(messages(&out), ["a1", "a3", "a5", "b0", "b3", "b4"]);
    let out = tracectx(&["logs", "backtest_ab1", "--merge", "--count", a, b], None);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "6\n");
    // An input that cannot be read is named; the others are merged; exit 2, as grep's.
    let missing = dir.path().join("missing.log");
    let out = tracectx(
        &[
            "logs",
            "backtest_ab1",
            "--merge",
            a,
            missing.to_str().unwrap(),
            b,
        ],
        None,
    );
    exits_saying(&out, 2, "missing.log");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 6);
}

/// `--merge` reads every file at once, each a bounded number of lines ahead of the output:
/// a reader that stops after a line (`| head -1`) ends it quietly, with every search.
#[test]
fn merge_stops_quietly_when_the_pipe_closes() {
    let dir = tempfile::tempdir().unwrap();
    let lines = numbered_lines(100_000);
    let mut paths = Vec::new();
    for name in ["one.log", "two.log", "three.log"] {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        paths.push(path.to_str().unwrap().to_owned());
    }
    let mut args = vec!["logs", "backtest_ab1", "--merge"];
    args.extend(paths.iter().map(String::as_str));
    // All three files' lines share one time: the first named comes first.
    head_1_ends_quietly(&args, &lines[0]);
}

/// copytruncate log rotation under a running search: a large log whose every line matches,
/// its output read slowly, emptied in place part-way. Mapped in memory, the reader died of
/// SIGBUS (exit 135, no message); read, it prints the whole lines it read before, says what
/// happened, and exits 2.
#[test]
fn logs_survives_its_file_truncated_while_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let lines = numbered_lines(400_000);
    let text = lines.join("\n") + "\n";
    std::fs::write(&path, &text).unwrap();
    let mut child = bin()
        .args(["logs", "backtest_ab1", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdout.take().unwrap();
    // The search is under way, and soon waiting on the pipe, once its first line is out.
    let mut printed = vec![0u8; lines[0].len() + 1];
    std::io::Read::read_exact(&mut pipe, &mut printed).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::io::Read::read_to_end(&mut pipe, &mut printed).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{:?}, {err}",
        out.status
    );
    if out.status.code() == Some(2) {
        assert!(
            err.starts_with(&format!(
                "tracectx: {}: truncated while it was read",
                path.display()
            )),
            "{err}"
        );
    }
    // The file's first lines, whole, in order.
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.ends_with('\n'));
    assert!(
        text.starts_with(&printed),
        "not the file's first whole lines"
    );
}

/// A line over 64 MiB is no log line: skipped, whether the file is read in blocks or as a
/// stream, and said on stderr.
#[test]
fn logs_skips_lines_over_64_mib_on_every_path_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut long = A1.as_bytes().to_vec();
    long.resize((64 << 20) + 1, b'x');
    let mut log = long;
    log.extend_from_slice(format!("\n{A1}\n").as_bytes());
    std::fs::write(&path, &log).unwrap();
    let file = tracectx(
        &["logs", "-c", "backtest_ab1", path.to_str().unwrap()],
        None,
    );
    let piped = tracectx(&["logs", "-c", "backtest_ab1"], Some(&log));
    for (how, out, name) in [
        ("file", &file, path.display().to_string()),
        ("stdin", &piped, "(standard input)".to_owned()),
    ] {
        assert_eq!(
            (out.status.code(), stdout(out)),
            (Some(0), "1\n".into()),
            "{how}"
        );
        assert_eq!(
            String::from_utf8(out.stderr.clone()).unwrap(),
            format!("tracectx: {name}: skipped 1 line longer than 64 MiB\n"),
            "{how}"
        );
    }
}

/// Lines written by other programs can hold terminal escape sequences, carriage returns,
/// direction overrides and stray bytes, in a run's own lines or in their ids. Nothing of them
/// reaches the terminal as it is: every output escapes what tracectx did not write itself
/// (`runs` printed foreign run and trace ids as they were: ESC sequences and a forged table
/// row reached the terminal).
#[test]
fn foreign_text_is_escaped_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    // As JSON writes them: the escapes are the JSON's, the characters real once read.
    let forged_run = r"evil\u001b[2J\nFORGED_ROW  99  x";
    let json_run = format!(
        r#"{{"timestamp":"2024-01-01T10:00:00.000000Z","level":"ERROR","run_id":"{forged_run}","trace_id":"\u001b[31mdeadbeef","message":"m"}}"#
    );
    let bidi_json = "{\"timestamp\":\"2024-01-01T10:00:01.000000Z\",\"level\":\"INFO\",\
                     \"run_id\":\"backtest_ab1\",\"message\":\"pay \u{202e}100\u{202c} now\"}";
    let mut log = format!("{A1}\n{json_run}\n{bidi_json}\n").into_bytes();
    // A text line with an intact prefix and a hostile message.
    log.extend_from_slice(
        b"[2024-01-01T10:00:02.000000Z] [backtest_ab1] [a1b2c3d4] INFO x - \x1b]0;title\x07\rok \xff\n",
    );
    let path = dir.path().join("app.log");
    std::fs::write(&path, &log).unwrap();
    let p = path.to_str().unwrap();

    let shows_nothing_raw = |what: &str, bytes: &[u8]| {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            !text.contains(['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{202c}']),
            "{what}: {text:?}"
        );
        text
    };

    // A run id or trace id no tracectx writer makes is no id: not listed (before, it was
    // listed escaped, and its row could be as long as a line).
    let runs = tracectx(&["runs", p], None);
    assert_eq!(runs.status.code(), Some(0));
    let table = shows_nothing_raw("runs", &runs.stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains("backtest_ab1"), "{table}");
    assert!(
        !table.contains("FORGED_ROW") && !table.contains("deadbeef"),
        "{table}"
    );

    let runs = tracectx(&["runs", "--json", p], None);
    let json = shows_nothing_raw("runs --json", &runs.stdout);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(rows[0]["run_id"], "backtest_ab1");

    let logs = tracectx(&["logs", "backtest_ab1", p], None);
    let lines = shows_nothing_raw("logs", &logs.stdout);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], A1);
    // JSON stays JSON, with the same values.
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["message"], "pay \u{202e}100\u{202c} now");
    assert!(
        lines[1].contains(r"pay \u202e100\u202c now"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(r"INFO x - \u{1b}]0;title\u{7}\rok \xff"),
        "{}",
        lines[2]
    );
    // `--raw`: the bytes as they are.
    let raw = tracectx(&["logs", "--raw", "backtest_ab1", p], None);
    assert!(raw.stdout.ends_with(b"\x1b]0;title\x07\rok \xff\n"));

    // A file name in a message.
    let hostile = dir.path().join("no\u{1b}[31mne.log");
    let missing = tracectx(&["logs", "backtest_ab1", hostile.to_str().unwrap()], None);
    assert_eq!(missing.status.code(), Some(2));
    let err = shows_nothing_raw("stderr", &missing.stderr);
    assert!(err.contains("no\\u{1b}[31mne.log"), "{err}");
}

#[test]
fn logs_bad_arguments_are_exit_2() {
    assert_eq!(tracectx(&["logs", "bad run"], None).status.code(), Some(2));
    assert_eq!(
        tracectx(&["logs", "ok", "--trace-id", "xyz"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        tracectx(&["logs", "ok", "--level", "loud"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn forged_line_is_not_returned_for_the_forged_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let subscriber = logging::builder()
        .with_writer(logging::file_writer(&path).unwrap())
        .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z").unwrap())
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let ctx = TraceContext::new("real_run").unwrap();
        ctx.sync_scope(|| {
            tracing::info!("x\n[2024-01-01T10:00:00.000000Z] [other_run] [deadbeef] INFO - forged")
        });
    });
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1);
    let p = path.to_str().unwrap();
    let forged = tracectx(&["logs", "other_run", p], None);
    assert_eq!(
        (forged.status.code(), stdout(&forged)),
        (Some(1), String::new())
    );
    let real = tracectx(&["logs", "real_run", p], None);
    assert_eq!(stdout(&real), text);
}

/// A run whose lines name more traces than a summary keeps: the table ends its list with
/// `…`, the JSON says `more_trace_ids`, and neither grows with the log.
#[test]
fn runs_of_many_traces_say_there_were_more() {
    let log: String = (0..1_000u32)
        .map(|t| format!("[2024-01-01T10:00:00.000000Z] [live_1] [{t:08x}] INFO t - m\n"))
        .collect();
    let out = tracectx(&["runs"], Some(log.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    let table = stdout(&out);
    let row = table.lines().nth(1).unwrap();
    assert!(row.contains("00000000,00000001,"), "{row}");
    assert!(row.contains("0000003f,…"), "{row}");
    assert!(!row.contains("00000040"), "{row}");
    let json = tracectx(&["runs", "--json"], Some(log.as_bytes()));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["trace_ids"].as_array().unwrap().len(), 64);
    assert_eq!(v[0]["more_trace_ids"], true);
}

#[test]
fn runs_summarizes_each_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = mixed(dir.path());
    let out = tracectx(&["runs", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "\
RUN_ID         LINES  FIRST                        LAST                         DURATION   TRACE_IDS          WARN  ERROR
backtest_ab1       3  2024-01-01T10:00:00.000000Z  2024-01-01T10:00:02.000000Z  2.000000s  a1b2c3d4,feedf00d     1      1
backtest_ab12      2  2024-01-01T10:00:00.500000Z  2024-01-01T10:00:04.000000Z  3.500000s  0badcafe              0      0
"
    );
    let json = tracectx(&["runs", "--json", p.to_str().unwrap()], None);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["run_id"], "backtest_ab1");
    assert_eq!(v[0]["lines"], 3);
    assert_eq!(
        v[0]["trace_ids"],
        serde_json::json!(["a1b2c3d4", "feedf00d"])
    );
    assert_eq!(v[0]["duration_secs"], 2.0);
    assert_eq!(v[1]["first"], "2024-01-01T10:00:00.500000Z");
    let empty = tracectx(&["runs"], Some(b"nothing here\n"));
    assert_eq!(empty.status.code(), Some(1));
}

// === backtest and sweep ===

mod backtest_cli {
    use super::*;
    use tracectx_backtest::{
        BacktestEngine, BacktestSettings, Bars, Params, SessionRecord, Statistic, sma_cross,
    };

    fn bars_file(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("bars.csv");
        Bars::synthetic(n, 17)
            .write_csv(std::fs::File::create(&path).unwrap())
            .unwrap();
        path
    }

    /// Runs `sweep --data DATA ARGS... --output FILE`, which must succeed, and returns FILE.
    fn shard_file(data: &Path, args: &[&str], file: PathBuf) -> String {
        let file = file.to_str().unwrap().to_owned();
        let mut command = vec!["sweep", "--data", data.to_str().unwrap()];
        command.extend(args);
        command.extend(["--output", &file]);
        let out = tracectx(&command, None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        file
    }

    /// A log file that cannot be written (a full disk) fails the command, which said so once
    /// when it happened and counts the lines lost at the end (it exited 0, every line lost
    /// without a word).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_log_file_that_cannot_be_written_fails_backtest_and_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        let session = [
            "--data",
            data,
            "--param",
            "slow=20",
            "--log-file",
            "/dev/full",
        ];
        for args in [
            [&["backtest", "--param", "fast=5"][..], &session].concat(),
            [&["sweep", "--grid", "fast=5:7:1"][..], &session].concat(),
        ] {
            let out = tracectx(&args, None);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert_eq!(
                err.matches("tracectx: log file /dev/full: cannot write log lines: ")
                    .count(),
                1,
                "{err}"
            );
            let last = err.lines().last().unwrap();
            let lost = last
                .strip_prefix(
                    "tracectx: log file /dev/full: not every line was written: 0 lines written, ",
                )
                .and_then(|rest| rest.strip_suffix(" failed"))
                .unwrap_or_else(|| panic!("{err}"));
            assert!(lost.parse::<u64>().unwrap() > 0);
        }
        // The same commands with a log file that takes every line exit 0.
        let log = dir.path().join("ok.log");
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data,
                "--param",
                "fast=5",
                "--param",
                "slow=20",
                "--log-file",
                log.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    #[test]
    fn backtest_json_has_every_statistic_the_trades_and_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 3_000);
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--strategy",
                "sma-cross",
                "--param",
                "fast=10",
                "--param",
                "slow=20",
                "--cash",
                "10000",
                "--commission",
                "0.002",
                "--json",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "one JSON object");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let stats = json["stats"].as_object().unwrap();
        for key in Statistic::ALL.iter().map(|s| s.name()) {
            assert!(stats.contains_key(key), "missing {key}");
        }
        let run = json["metadata"]["run_id"].as_str().unwrap();
        assert!(run.starts_with("backtest_"));
        assert_eq!(
            json["metadata"]["params"],
            serde_json::json!({"fast": 10, "long_only": false, "slow": 20})
        );
        // The same trades as the library gives on the same file.
        let bars = Bars::from_csv_path(&data).unwrap();
        let engine = BacktestEngine::new(BacktestSettings::new(10_000.0).with_commission(0.002));
        let lib = engine
            .run(
                &bars,
                &sma_cross,
                &Params::new().with("fast", 10).with("slow", 20),
            )
            .unwrap();
        // Compared as text: the same shortest round-trip digits for every number.
        let trades = serde_json::to_string(&lib.trades).unwrap();
        let stats = serde_json::to_string(&lib.stats).unwrap();
        assert!(text.contains(&format!(r#""trades":{trades}"#)));
        assert!(text.starts_with(&format!(r#"{{"stats":{stats},"#)));
    }

    #[test]
    fn backtest_prints_a_table_and_writes_trades_equity_and_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 1_000);
        let (trades, equity, log) = (
            dir.path().join("trades.csv"),
            dir.path().join("equity.csv"),
            dir.path().join("bt.log"),
        );
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--param",
                "fast=5",
                "--param",
                "slow=15",
                "--long-only",
                "--trades",
                trades.to_str().unwrap(),
                "--equity",
                equity.to_str().unwrap(),
                "--log-file",
                log.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let table = stdout(&out);
        let first = table.lines().next().unwrap();
        assert!(first.starts_with("run backtest_"), "{first}");
        assert!(first.contains("long_only=true"));
        for key in Statistic::ALL.iter().map(|s| s.label()) {
            assert!(
                table.lines().any(|l| l.starts_with(&format!("{key} "))),
                "no row {key}"
            );
        }
        // Durations read as durations, under names without a unit.
        let duration = table.lines().find(|l| l.starts_with("duration ")).unwrap();
        assert!(duration.ends_with(" days"), "{duration}");
        assert!(!table.contains("_secs"), "{table}");
        let trades = std::fs::read_to_string(trades).unwrap();
        let n_trades: usize = table
            .lines()
            .find_map(|l| l.strip_prefix("trades "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(trades.lines().count(), n_trades + 1);
        assert!(trades.starts_with("size,entry_bar,exit_bar,"));
        assert!(
            trades.lines().skip(1).all(|l| !l.starts_with('-')),
            "long only"
        );
        let equity = std::fs::read_to_string(equity).unwrap();
        assert_eq!(equity.lines().count(), 1_001);
        let run = first.split_whitespace().nth(1).unwrap();
        let log = std::fs::read_to_string(log).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
        assert!(log.lines().all(|l| l.contains(&format!("[{run}]"))));
    }

    #[test]
    fn backtest_bad_input_exits_1_naming_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.csv");
        std::fs::write(
            &bad,
            "date,open,high,low,close\n2024-01-02,1,2,1,1\n2024-01-03,1,2,x,1\n",
        )
        .unwrap();
        let out = tracectx(&["backtest", "--data", bad.to_str().unwrap()], None);
        exits_saying(&out, 1, r#"at line 3, column "low": unparsable number "x""#);
        // A time without an offset after one with it: refused at its line, once.
        std::fs::write(
            &bad,
            "date,open,high,low,close\n2024-01-02T00:00:00Z,1,2,1,1\n2024-01-03T00:00:00,1,2,1,1\n",
        )
        .unwrap();
        let out = tracectx(&["backtest", "--data", bad.to_str().unwrap()], None);
        exits_saying(
            &out,
            1,
            "at line 3, column \"date\": a date without a UTC offset after a date with a UTC \
             offset on the first bar: write every time in one form",
        );
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));

        let data = bars_file(dir.path(), 100);
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--param",
                "fast=0",
                "--param",
                "slow=5",
            ],
            None,
        );
        exits_saying(&out, 1, r#"parameter "fast" must be at least 1, got 0"#);
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--strategy",
                "nope",
            ],
            None,
        );
        exits_saying(&out, 1, r#"unknown strategy "nope""#);
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--commission",
                "0.5",
            ],
            None,
        );
        exits_saying(&out, 1, "invalid setting commission = 0.5");
    }

    #[test]
    fn sweep_ranks_and_each_sessions_lines_come_back_with_logs() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 2_000);
        let log = dir.path().join("sweep.log");
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--strategy",
                "sma-cross",
                "--grid",
                "fast=5:20:5",
                "--grid",
                "slow=30:60:10",
                "--rank-by",
                "return_pct",
                "--top",
                "5",
                "--concurrency",
                "2",
                "--commission",
                "0.001",
                "--log-file",
                log.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("sweep sweep_"), "{text}");
        assert!(lines[0].contains("16 sessions (16 ok, 0 failed)"), "{text}");
        assert!(lines[1].starts_with("RANK  RUN_ID"), "{text}");
        assert_eq!(lines.len(), 2 + 5);
        // Every parameter shows, the defaults too: what ran.
        assert!(
            lines[2..].iter().all(|l| l.contains(" long_only=false ")),
            "{text}"
        );
        // RANK RUN_ID (PARAMS, cells with `=`) SHARPE RETURN_PCT ...
        let returns: Vec<f64> = lines[2..]
            .iter()
            .map(|l| {
                let mut cells = l.split_whitespace().filter(|c| !c.contains('='));
                cells.nth(3).unwrap().parse().unwrap()
            })
            .collect();
        assert!(returns.windows(2).all(|w| w[0] >= w[1]), "{returns:?}");
        // The hint names the best run and the log file.
        let best = lines[2].split_whitespace().nth(1).unwrap();
        assert!(
            stderr(&out).contains(&format!("tracectx logs {best} ")),
            "{}",
            stderr(&out)
        );

        let sweep_id = lines[0]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .trim_end_matches(':');
        for row in &lines[2..] {
            let run = row.split_whitespace().nth(1).unwrap();
            let got = tracectx(&["logs", run, log.to_str().unwrap()], None);
            assert_eq!(got.status.code(), Some(0));
            let session: Vec<String> = stdout(&got).lines().map(str::to_owned).collect();
            assert_eq!(session.len(), 2, "{session:?}");
            assert!(session[0].contains("session started"));
            assert!(session[0].contains(&format!("parent_run_id={sweep_id}")));
            assert!(session[1].contains("session finished"));
        }
        let all = std::fs::read_to_string(&log).unwrap();
        assert_eq!(all.lines().count(), 16 * 2 + 3);
    }

    #[test]
    fn sweep_json_and_bad_grid() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 800);
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=3,6",
                "--param",
                "slow=12",
                "--json",
                "--top",
                "1",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["sessions"], 2);
        assert_eq!(json["rank_by"], "sharpe");
        assert_eq!(json["results"].as_array().unwrap().len(), 1);
        assert_eq!(json["results"][0]["params"]["slow"], 12);

        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=9:3:1",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out)
                .contains(r#"invalid grid axis "fast=9:3:1": the stop is before the start"#)
        );
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=3,6",
                "--rank-by",
                "sharp",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(2));
        // The data's start, end and duration are the same for every session: refused by
        // sweep and merge alike, with the reason.
        for (command, key) in [
            ("sweep", "start"),
            ("sweep", "duration_secs"),
            ("merge", "end"),
        ] {
            let mut args = vec![command];
            if command == "sweep" {
                args.extend(["--data", data.to_str().unwrap(), "--grid", "fast=3,6"]);
            } else {
                args.push(data.to_str().unwrap());
            }
            args.extend(["--rank-by", key]);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(2), "{command} --rank-by {key}");
            assert!(
                stderr(&out).contains(&format!("every session of a sweep has the same {key}")),
                "{}",
                stderr(&out)
            );
        }
    }

    #[test]
    fn strategies_lists_parameters_types_and_defaults_and_help_points_to_it() {
        let out = tracectx(&["strategies"], None);
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        assert!(text.starts_with("sma-cross: "), "{text}");
        let row = |name: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no row {name} in {text}"))
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
        };
        assert_eq!(row("fast"), ["fast", "integer", "10"]);
        assert_eq!(row("slow"), ["slow", "integer", "20"]);
        assert_eq!(row("long_only"), ["long_only", "boolean", "false"]);
        // A boolean has no START:STOP:STEP: the way to sweep it is named too, and `--param`
        // serves `sweep` as well as `backtest`.
        assert!(
            text.ends_with(
                "\nSet one with --param NAME=VALUE, or sweep it with --grid NAME=START:STOP:STEP \
                 (numbers)\nor --grid NAME=V1,V2,... (any type).\n"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&tracectx(&["strategies", "--json"], None))).unwrap();
        assert_eq!(json[0]["params"][0]["default"], 10);
        let help = stdout(&tracectx(&["backtest", "--help"], None));
        assert!(help.contains("tracectx strategies"), "{help}");
    }

    #[test]
    fn parameters_default_unknown_names_are_refused_and_negatives_are_values() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        // Every parameter left out: the defaults, shown in the header.
        let out = tracectx(&["backtest", "--data", data], None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("fast=10 long_only=false slow=20"));
        // A misspelt name is refused by name, the known ones listed, once.
        for command in [
            &["backtest", "--data", data, "--param", "fsat=5"][..],
            &["sweep", "--data", data, "--grid", "fsat=2:5:1"][..],
        ] {
            let out = tracectx(command, None);
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(
                stderr(&out),
                "tracectx: unknown parameter \"fsat\" for sma-cross: expected one of fast, slow, long_only\n"
            );
        }
        // A grid value of the wrong kind is refused once, before any session, not once a
        // session.
        for (axis, message) in [
            (
                "fast=1.5:3:0.5",
                r#"grid axis "fast=1.5:3:0.5": parameter "fast" must be an integer, got a float: 1.5"#,
            ),
            (
                "long_only=1,0",
                r#"grid axis "long_only=1,0": parameter "long_only" must be a boolean, got an integer: 1"#,
            ),
            // An axis of one value (a range written `5-50`) too.
            (
                "fast=5-50",
                r#"grid axis "fast=5-50": parameter "fast" must be an integer, got a string: "5-50""#,
            ),
            (
                "slow=7.5:7.5:1",
                r#"grid axis "slow=7.5:7.5:1": parameter "slow" must be an integer, got a float: 7.5"#,
            ),
        ] {
            let out = tracectx(&["sweep", "--data", data, "--grid", axis], None);
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(
                stderr(&out),
                format!("tracectx: {message} (see `tracectx strategies`)\n")
            );
            assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        }
        // A negative number is a value: refused by the settings' check, not read as a flag.
        let out = tracectx(&["backtest", "--data", data, "--cash", "-5"], None);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "tracectx: invalid setting cash = -5: expected a finite amount above 0\n"
        );
        let out = tracectx(
            &["backtest", "--data", data, "--commission", "-0.001"],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        // So is a negative count or shard: refused by its option, by value (it was an
        // "unexpected argument '-1'", as if the option had no value).
        let sweep = ["sweep", "--data", data, "--grid", "fast=5:7:1"];
        for (args, says) in [
            (&["--top", "-1"][..], "invalid value '-1' for '--top <TOP>'"),
            (
                &["--concurrency", "-2"][..],
                "invalid value '-2' for '--concurrency <N>'",
            ),
            (
                &["--shard", "-1/3"][..],
                "invalid value '-1/3' for '--shard <K/N>': invalid shard \"-1/3\"",
            ),
        ] {
            let out = tracectx(&[&sweep[..], args].concat(), None);
            exits_saying(&out, 2, says);
        }
        let out = tracectx(&["merge", "x.jsonl", "--top", "-1"], None);
        exits_saying(&out, 2, "invalid value '-1' for '--top <TOP>'");
    }

    #[test]
    fn a_failed_sessions_error_is_printed_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--param",
                "fast=0",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(r#"parameter "fast" must be at least 1, got 0"#),
            "{err}"
        );
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=0,5",
                "--param",
                "slow=20",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(stdout(&out).contains("2 sessions (1 ok, 1 failed)"));
    }

    #[test]
    fn sweep_constraint_skips_inverted_crossovers() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 600);
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=10:100:10",
                "--grid",
                "slow=20:100:20",
                "--constraint",
                "fast<slow",
                "--top",
                "100",
                "--json",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["sessions"], 25);
        for r in json["results"].as_array().unwrap() {
            assert!(
                r["params"]["fast"].as_i64() < r["params"]["slow"].as_i64(),
                "{r}"
            );
        }
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=10:20:10",
                "--constraint",
                "fast<<slow",
            ],
            None,
        );
        exits_saying(&out, 1, r#"invalid constraint "fast<<slow""#);
        // Constraints that leave nothing are refused before any session, saying so.
        let data = data.to_str().unwrap();
        let sweep = |extra: &[&str]| {
            let mut args = vec!["sweep", "--data", data, "--grid", "fast=10:20:10"];
            args.extend(extra);
            tracectx(&args, None)
        };
        let out = sweep(&["--grid", "slow=5:10:5", "--constraint", "fast<slow"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "tracectx: the constraints leave none of the grid's 4 combinations to run\n"
        );
        assert!(stdout(&out).is_empty());
        // A shard left without a combination (2 combinations, 3 shards) has nothing to do:
        // not a failure of its job, and an empty file to merge.
        let file = std::path::Path::new(data).with_file_name("empty-shard.jsonl");
        let out = sweep(&["--shard", "3/3", "--output", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("shard 3/3 has no combination to run"));
        assert_eq!(std::fs::read(&file).unwrap().len(), 0);
    }

    /// A constraint may name a parameter left at its default: `fast<slow` with only `fast`
    /// swept compares with sma-cross's `slow=20`, which then shows in the table.
    #[test]
    fn a_constraint_on_a_default_parameter_uses_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 400);
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=5:30:5",
                "--constraint",
                "fast<slow",
                "--json",
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let mut fasts: Vec<i64> = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["params"]["slow"], 20, "{r}");
                r["params"]["fast"].as_i64().unwrap()
            })
            .collect();
        fasts.sort_unstable();
        assert_eq!(fasts, [5, 10, 15]);
    }

    /// Outputs are checked before any session runs: a page that cannot be written, a page
    /// with no axis to draw, and an output that names the `--data` file are refused at once,
    /// and the data file is left as it was.
    #[test]
    fn outputs_are_refused_before_the_sessions_run() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let before = std::fs::read(&data).unwrap();
        let data = data.to_str().unwrap();
        let log = dir.path().join("sweep.log");
        let log = log.to_str().unwrap();
        let missing = dir.path().join("no-such-dir").join("page.html");
        for (extra, expected) in [
            (
                vec!["--grid", "fast=5:15:5", "--html", missing.to_str().unwrap()],
                "cannot write",
            ),
            (
                vec![
                    "--grid",
                    "fast=5:15:5",
                    "--html",
                    dir.path().to_str().unwrap(),
                ],
                "cannot write",
            ),
            (
                vec!["--grid", "fast=5", "--html", "page.html"],
                "--html draws the ranked statistic over the grid's axes",
            ),
            (
                vec!["--grid", "fast=5:15:5", "--output", data],
                "is the --data file",
            ),
        ] {
            let mut args = vec!["sweep", "--data", data, "--log-file", log];
            args.extend(extra);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&out).contains(expected),
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty(), "{args:?}");
            // No session ran: the log holds no session's line.
            let logged = std::fs::read_to_string(log).unwrap_or_default();
            assert!(!logged.contains("backtest_"), "{args:?}: {logged}");
        }
        let out = tracectx(&["backtest", "--data", data, "--trades", data], None);
        exits_saying(&out, 1, "is the --data file");
        assert_eq!(
            std::fs::read(data).unwrap(),
            before,
            "the data file was overwritten"
        );
    }

    /// An output that is the input, two outputs that are one file, or `-` for an output:
    /// refused before anything is opened (the log file too), naming both.
    #[test]
    fn outputs_that_are_the_input_or_each_other_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let before = std::fs::read(&data).unwrap();
        let data_s = data.to_str().unwrap();
        let same = dir.path().join("same.out");
        let same = same.to_str().unwrap();
        let dotted = format!("{}/./{}", dir.path().display(), "bars.csv");
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let link = link.to_str().unwrap();
        for (args, expected) in [
            (
                vec!["sweep", "--grid", "fast=5,10", "--log-file", data_s],
                "is the --data file",
            ),
            (
                vec!["backtest", "--log-file", &dotted],
                "is the --data file",
            ),
            (vec!["backtest", "--equity", link], "is the --data file"),
            (
                vec![
                    "sweep",
                    "--grid",
                    "fast=5,10",
                    "--html",
                    same,
                    "--output",
                    same,
                ],
                "--output and --html name the same file",
            ),
            (
                vec!["backtest", "--log-file", same, "--html", same],
                "--log-file and --html name the same file",
            ),
            (
                vec![
                    "sweep",
                    "--grid",
                    "fast=5,10",
                    "--log-file",
                    same,
                    "--output",
                    same,
                ],
                "--log-file and --output name the same file",
            ),
            (
                vec!["sweep", "--grid", "fast=5,10", "--output", "-"],
                "--output -: give a file name",
            ),
            (
                vec!["backtest", "--trades", "-"],
                "--trades -: give a file name",
            ),
        ] {
            let mut args = args.clone();
            args.extend(["--data", data_s]);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                stderr(&out).contains(expected),
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty(), "{args:?}");
            assert!(!Path::new(same).exists(), "{args:?} created an output");
            assert!(!dir.path().join("-").exists(), "{args:?} created \"-\"");
        }
        assert_eq!(
            std::fs::read(&data).unwrap(),
            before,
            "the data file was written"
        );
        // `--data -` reads standard input.
        let out = tracectx(&["backtest", "--data", "-", "--json"], Some(&before));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["metadata"]["bars"], 300);
    }

    /// Options that say two things about one parameter are refused, naming it.
    #[test]
    fn a_parameter_set_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        for (args, expected) in [
            (
                vec!["backtest", "--param", "fast=5", "--param", "fast=6"],
                "--param fast is given twice",
            ),
            (
                vec!["backtest", "--param", "long_only=false", "--long-only"],
                "--long-only and --param long_only both set long_only",
            ),
            (
                vec!["sweep", "--grid", "fast=1,2", "--grid", "fast=3,4"],
                "--grid fast is given twice",
            ),
            (
                vec!["sweep", "--grid", "fast=1:3:1", "--param", "fast=2"],
                "fast is both fixed (--param or --long-only) and swept (--grid)",
            ),
            (
                vec!["sweep", "--long-only", "--grid", "long_only=true,false"],
                "long_only is both fixed",
            ),
            (
                vec!["sweep", "--grid", "slow=20:40:1", "--param", "fast=abc"],
                r#"parameter "fast" must be an integer"#,
            ),
        ] {
            let mut args = args.clone();
            args.extend(["--data", data]);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert_eq!(
                stderr(&out).lines().count(),
                1,
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains(expected),
                "{args:?}: {}",
                stderr(&out)
            );
            assert!(stdout(&out).is_empty(), "{args:?}");
        }
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data,
                "--grid",
                "fast=5,10",
                "--concurrency",
                "0",
            ],
            None,
        );
        exits_saying(&out, 2, "expected 1 or more");
    }

    /// Sessions failing of one cause: the first said, the others counted in one line.
    #[test]
    fn a_cause_every_session_fails_of_is_said_once_with_its_count() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let args = [
            "sweep",
            "--data",
            data.to_str().unwrap(),
            "--grid",
            "slow=20:59:1",
            "--param",
            "fast=-5",
        ];
        let out = tracectx(&args, None);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(
            lines[0].contains(
                r#"failed: strategy "sma-cross": parameter "fast" must be at least 1, got -5"#
            ),
            "{err}"
        );
        assert_eq!(
            lines[1],
            r#"tracectx: 40 sessions failed with: parameter "fast" must be at least 1, got -5"#
        );
    }

    /// Under a launcher's `TRACEPARENT`, each backtest is a run of its own in that trace; a
    /// `TRACEPARENT` that cannot be read is said, and the run starts its own trace.
    #[test]
    fn a_backtest_in_a_launchers_trace_is_a_run_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let run = |traceparent: &str, fast: &str| {
            let out = bin()
                .args(["backtest", "--data", data.to_str().unwrap(), "--json"])
                .args(["--param", fast])
                .env("TRACEPARENT", traceparent)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            (json["metadata"].clone(), stderr(&out))
        };
        let (a, err) = run(traceparent, "fast=5");
        assert!(err.is_empty(), "{err}");
        let (b, _) = run(traceparent, "fast=6");
        for m in [&a, &b] {
            assert!(
                m["run_id"].as_str().unwrap().starts_with("backtest_"),
                "{m}"
            );
            assert_eq!(
                m["trace_id_full"], "4bf92f3577b34da6a3ce929d0e0e4736",
                "{m}"
            );
        }
        assert_ne!(a["run_id"], b["run_id"]);
        let (c, err) = run("garbage", "fast=5");
        assert_eq!(
            err,
            "tracectx: TRACEPARENT ignored (invalid traceparent: 7 characters, expected 55): \
             this run starts a trace of its own\n"
        );
        assert_ne!(c["trace_id_full"], "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    /// A closed or full standard error costs the messages, never a panic (exit 101).
    #[test]
    fn a_full_standard_error_is_no_panic() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let full = || {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap()
        };
        let status = bin()
            .args(["merge", "/no/such/shard.jsonl"])
            .stdout(Stdio::null())
            .stderr(full())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        // Every session fails (fast=0), each said on stderr.
        let status = bin()
            .args([
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=0:0:1",
            ])
            .stdout(Stdio::null())
            .stderr(full())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
    }

    /// `merge --top 0` ranks none and succeeds, as `sweep --top 0` does; a merge of files with
    /// no record at all says so.
    #[test]
    fn merge_of_nothing_says_so_and_top_0_is_no_failure() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let shard = shard_file(
            &data,
            &["--grid", "fast=5:15:5"],
            dir.path().join("shard.jsonl"),
        );
        let out = tracectx(&["merge", &shard, "--top", "0"], None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = tracectx(&["merge", "-"], Some(b"\n\n"));
        exits_saying(&out, 1, "no session record in the files given");
        // A file with no record among shards (given by mistake, or a shard that wrote none)
        // is named, not passed over in silence.
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, "").unwrap();
        let out = tracectx(&["merge", empty.to_str().unwrap(), &shard], None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("tracectx: {empty:?} holds no session record\n")
        );
    }

    #[test]
    fn merge_refuses_a_combination_twice_and_lines_no_shard_writes() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 600);
        let shard = shard_file(
            &data,
            &["--grid", "fast=5:15:5"],
            dir.path().join("shard.jsonl"),
        );
        let shard = shard.as_str();
        // The same shard twice would rank each session twice.
        let out = tracectx(&["merge", shard, shard], None);
        assert_eq!(out.status.code(), Some(1));
        // (Lines are written as sessions finish: the first may be any combination.)
        let err = stderr(&out);
        assert!(
            err.contains("line 1: combination ")
                && err.contains(") was already read: the same shard given twice"),
            "{err}"
        );
        // A line with no end is refused after 1 MiB, naming it, not read whole.
        let long = dir.path().join("long.jsonl");
        std::fs::write(&long, vec![b'{'; 3 << 20]).unwrap();
        let out = tracectx(&["merge", long.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out)
                .contains("line 1: not a sweep's session record: longer than 1048576 bytes"),
            "{}",
            stderr(&out)
        );
        // An index past any grid. (Whichever combination the first line is.)
        let lines = std::fs::read_to_string(shard).unwrap();
        let record: serde_json::Value =
            serde_json::from_str(lines.lines().next().unwrap()).unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut record = record.clone();
            record[key] = value;
            record.to_string()
        };
        let far = with("index", 1_000_000.into());
        let out = tracectx(&["merge", "-"], Some(far.as_bytes()));
        exits_saying(&out, 1, "index 1000000 is past the largest grid");
        // More sessions than the sweep they say they are of (ranked as a sweep of fewer,
        // with no word): refused at the first session too many.
        let fewer: String = lines
            .lines()
            .map(|line| {
                let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(record["sweep_sessions"], 3);
                record["sweep_sessions"] = 2.into();
                format!("{record}\n")
            })
            .collect();
        let out = tracectx(&["merge", "-"], Some(fewer.as_bytes()));
        exits_saying(
            &out,
            1,
            r#""-" line 3: more sessions than the sweep's 2: the line is of no shard of it"#,
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        let none = with("sweep_sessions", 0.into());
        let out = tracectx(&["merge", "-"], Some(none.as_bytes()));
        exits_saying(
            &out,
            1,
            r#""-" line 1: more sessions than the sweep's 0: the line is of no shard of it"#,
        );
        // Text that would reach the table or the terminal as it is: a forged run id with an
        // escape sequence and a row of its own, a trace id that is not one, a parameter name
        // that splits a column, a value with a bidirectional override. Each is refused by
        // line and field, escaped in the message, and nothing is printed.
        for (forged, field) in [
            (
                with("run_id", "run\u{1b}[2J\n| 1 | forged".into()),
                "run_id run\\u{1b}[2J\\n",
            ),
            (with("sweep_id", "-".into()), "sweep_id -"),
            (with("trace_id", "ZZZZZZZZ".into()), "trace_id ZZZZZZZZ"),
            (
                with("params", serde_json::json!({"fast x": 1})),
                "parameter name fast x",
            ),
            (
                with("params", serde_json::json!({"mode": "a\u{202e}b"})),
                "parameter value a\\u{202e}b",
            ),
        ] {
            let out = tracectx(&["merge", "-"], Some(forged.as_bytes()));
            assert_eq!(out.status.code(), Some(1), "{forged}");
            let err = stderr(&out);
            assert!(
                err.contains("line 1: not a sweep's session record: ") && err.contains(field),
                "{err}"
            );
            assert!(
                !err.contains('\u{1b}') && !err.contains('\u{202e}'),
                "{err:?}"
            );
            assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        }
    }

    /// Shards of two sweeps of other settings (or grids) are refused by line, naming both
    /// sweeps, even though their combinations do not overlap.
    /// A shard killed while writing its last line (its file ends inside a record, with no
    /// newline) leaves the lines before whole: merge ranks them, names the cut line and the
    /// shard short of sessions, and exits 0 (it refused the whole merge, every whole line
    /// with it, for one cut line). A last line that is no record's start is still refused.
    #[test]
    fn merge_ranks_the_whole_lines_of_a_shard_cut_inside_a_line_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 600);
        let grid = ["--grid", "fast=5:20:5", "--grid", "slow=30:60:10"];
        let mut args = grid.to_vec();
        args.extend(["--shard", "1/2"]);
        let one = shard_file(&data, &args, dir.path().join("one.jsonl"));
        let last = args.len() - 1;
        args[last] = "2/2";
        let two = shard_file(&data, &args, dir.path().join("two.jsonl"));
        let text = std::fs::read_to_string(&one).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8);
        // Five whole lines, then half of the sixth: as a writer killed inside it leaves it.
        let whole: String = lines[..5].iter().map(|l| format!("{l}\n")).collect();
        let cut = dir.path().join("cut.jsonl");
        let half = &lines[5][..lines[5].len() / 2];
        std::fs::write(&cut, format!("{whole}{half}")).unwrap();
        let kept = dir.path().join("kept.jsonl");
        std::fs::write(&kept, &whole).unwrap();
        let cut = cut.to_str().unwrap();
        let out = tracectx(&["merge", cut, &two, "--json"], None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "tracectx: {cut:?} line 6 ({} bytes) is cut short (no newline, no whole \
                 record: its shard stopped while writing it): the session is left out\n\
                 tracectx: the files hold 13 of the sweep's 16 sessions (shard 1/2 holds 5 of \
                 its 8 sessions): the ranking is of the 13 read; run the shards named again \
                 (each to its own --output) to rank them all\n",
                half.len()
            )
        );
        let expected = tracectx(&["merge", kept.to_str().unwrap(), &two, "--json"], None);
        assert_eq!(stdout(&out), stdout(&expected));
        // Cut after the record's last byte, before its newline: the record is whole.
        let no_newline = dir.path().join("no-newline.jsonl");
        std::fs::write(&no_newline, text.trim_end()).unwrap();
        let out = tracectx(&["merge", no_newline.to_str().unwrap(), &two], None);
        assert_eq!((out.status.code(), stderr(&out)), (Some(0), String::new()));
        // A last line that is not the start of a record is refused, as any other line.
        let foreign = dir.path().join("foreign.jsonl");
        std::fs::write(&foreign, format!("{whole}date,open,high")).unwrap();
        let out = tracectx(&["merge", foreign.to_str().unwrap(), &two], None);
        exits_saying(
            &out,
            1,
            "line 6: not a sweep's session record: expected value",
        );
    }

    /// Shard 1/2 of a sweep of `fast` by 39 `slow` windows on `data` (long enough to be
    /// stopped part-way), its output at `file`, once the first of its lines is in the file
    /// (bounded wait).
    #[cfg(unix)]
    fn shard_under_way(data: &Path, fast: &str, file: &Path) -> std::process::Child {
        let mut child = bin()
            .args(["sweep", "--data", data.to_str().unwrap(), "--grid", fast])
            .args([
                "--grid",
                "slow=10:200:5",
                "--shard",
                "1/2",
                "--concurrency",
                "1",
            ])
            .arg("--output")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for _ in 0..3000 {
            if std::fs::read(file).is_ok_and(|b| b.contains(&b'\n')) {
                return child;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("no line written to {file:?} in 30 s: {}", stderr(&out));
    }

    #[cfg(unix)]
    fn signal(child: &std::process::Child, name: &str) {
        let sent = Command::new("kill")
            .args([name, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// SIGTERM (a scheduler's time limit, `scancel`) or SIGINT stops a shard with its output
    /// whole: every line written is a record, as many as said, and the exit code is 128 +
    /// the signal's (it died at once, saying nothing, its last fifth of a second of
    /// sessions never written).
    #[cfg(unix)]
    #[test]
    fn a_signal_stops_a_shard_with_whole_lines_said() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300_000);
        for (name, code) in [("-TERM", 143), ("-INT", 130)] {
            let file = dir.path().join(format!("shard{name}.jsonl"));
            let child = shard_under_way(&data, "fast=2:60:1", &file);
            signal(&child, name);
            let out = child.wait_with_output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(code), "{err}");
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(text.ends_with('\n'));
            let lines = text.lines().count();
            for line in text.lines() {
                SessionRecord::from_json_line(line.as_bytes()).unwrap();
            }
            let said = format!(
                "tracectx: stopped by SIG{} after {lines} of 1151 sessions: {file:?} holds the \
                 {lines} written, whole lines only; run shard 1/2 again to have them all\n",
                &name[1..]
            );
            assert_eq!(err, said);
        }
    }

    /// An --output over the file size limit (`ulimit -f`) fails the shard saying so (SIGXFSZ
    /// killed it, exit 153, no word); an --output whose directory is removed while the shard
    /// writes fails it saying its lines are lost (it exited 0, every line gone).
    #[cfg(target_os = "linux")]
    #[test]
    fn an_output_over_its_size_limit_or_removed_fails_the_shard_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300_000);
        let file = dir.path().join("limited.jsonl");
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 20; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_tracectx"))
            .args([
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=2:60:1",
            ])
            .args(["--grid", "slow=10:20:5", "--output", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        exits_saying(
            &out,
            1,
            &format!(
                "tracectx: cannot write {file:?}: File too large (os error 27): the sweep stopped after"
            ),
        );
        // What the limit let through ends inside a record: merge ranks the whole lines.
        let merged = tracectx(&["merge", file.to_str().unwrap()], None);
        assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
        assert!(
            stderr(&merged).contains("is cut short"),
            "{}",
            stderr(&merged)
        );

        let gone = dir.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let file = gone.join("shard.jsonl");
        let child = shard_under_way(&data, "fast=2:5:1", &file);
        signal(&child, "-STOP");
        std::fs::remove_dir_all(&gone).unwrap();
        signal(&child, "-CONT");
        let out = child.wait_with_output().unwrap();
        exits_saying(
            &out,
            1,
            &format!(
                "tracectx: {file:?} was removed while the sweep wrote it: its 78 session lines are lost; run the sweep again"
            ),
        );
    }

    #[test]
    fn merge_refuses_shards_of_different_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 600);
        let shard = |k: usize, cash: &str| {
            let file = dir.path().join(format!("shard-{k}-{cash}.jsonl"));
            let shard = format!("{k}/2");
            let args = ["--grid", "fast=5:30:5", "--shard", &shard, "--cash", cash];
            shard_file(&data, &args, file)
        };
        let (one, two, other) = (shard(1, "10000"), shard(2, "10000"), shard(2, "5000"));
        let merged = tracectx(&["merge", &one, &two], None);
        assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
        let out = tracectx(&["merge", &one, &other], None);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{other:?} line 1: a session of another sweep (sweep fingerprint "
            )) && err.contains(&format!("while {one:?} line 1 is of sweep "))
                && err.contains("must run the same data, strategy, grid and settings"),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        // A fingerprint that is not one is refused as the other fields are.
        let line = std::fs::read_to_string(&one).unwrap();
        let mut record: serde_json::Value =
            serde_json::from_str(line.lines().next().unwrap()).unwrap();
        assert_eq!(record["sweep_fingerprint"].as_str().map(str::len), Some(16));
        record["sweep_fingerprint"] = "\u{1b}[2J".into();
        let out = tracectx(&["merge", "-"], Some(record.to_string().as_bytes()));
        exits_saying(
            &out,
            1,
            "sweep_fingerprint \\u{1b}[2J: expected 16 hexadecimal digits",
        );
    }

    /// Each line names its shard: shards of two splits of the grid (1/2 beside 2/4, whose
    /// sessions do not overlap) are refused, a combination outside its shard too, and a merge
    /// short of sessions names the shards missing or unfinished, so that only those run again.
    #[test]
    fn merge_names_its_shards() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 600);
        let shard = |shard: &str| {
            let file = dir
                .path()
                .join(format!("shard-{}.jsonl", shard.replace('/', "-")));
            shard_file(&data, &["--grid", "fast=5:40:5", "--shard", shard], file)
        };
        let (half, quarter) = (shard("1/2"), shard("2/4"));
        let records = |file: &str| -> Vec<serde_json::Value> {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let lines = |records: &[serde_json::Value]| -> String {
            records.iter().map(|r| format!("{r}\n")).collect()
        };
        let first = records(&half);
        assert_eq!(first.len(), 4);
        assert!(
            first
                .iter()
                .all(|r| r["shard"] == "1/2" && r["shard_sessions"] == 4)
        );
        let out = tracectx(&["merge", &half, &quarter], None);
        exits_saying(
            &out,
            1,
            &format!(
                "{quarter:?} line 1: a session of shard 2/4, while {half:?} line 1 is of one of \
                 2 shards: shards to merge must split the grid the same way"
            ),
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        // A combination of shard 2/2 in a line of shard 1/2.
        let mut moved = first.clone();
        let index = moved[0]["index"].as_u64().unwrap();
        moved[0]["index"] = (index + 1).into();
        let out = tracectx(&["merge", "-"], Some(lines(&moved).as_bytes()));
        exits_saying(
            &out,
            1,
            &format!(
                "line 1: not a sweep's session record: combination {} is not of shard 1/2 (it \
                 is of shard 2/2)",
                index + 1
            ),
        );
        // A shard said to run fewer sessions than it has lines.
        let mut fewer = first.clone();
        for r in &mut fewer {
            r["shard_sessions"] = 3.into();
        }
        let out = tracectx(&["merge", "-"], Some(lines(&fewer).as_bytes()));
        exits_saying(
            &out,
            1,
            "line 4: more sessions than shard 1/2's 3: the line is of no run of it",
        );
        // Shard 1/2 cut short (its job stopped), shard 2/2 not run: both named.
        let out = tracectx(&["merge", "-"], Some(lines(&first[..3]).as_bytes()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "tracectx: the files hold 3 of the sweep's 8 sessions (shard 1/2 holds 3 of its 4 \
             sessions, shard 2/2 is missing): the ranking is of the 3 read; run the shards \
             named again (each to its own --output) to rank them all\n"
        );
        // Of many shards, eight are named and the rest counted.
        let mut many = first[0].clone();
        many["index"] = 12.into();
        many["shard"] = "13/40".into();
        many["shard_sessions"] = 1.into();
        many["sweep_sessions"] = 40.into();
        let out = tracectx(&["merge", "-"], Some(lines(&[many]).as_bytes()));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(
                "(shard 1/40 is missing, shard 2/40 is missing, shard 3/40 is missing, shard \
                 4/40 is missing, shard 5/40 is missing, shard 6/40 is missing, shard 7/40 is \
                 missing, shard 8/40 is missing and 31 more)"
            ),
            "{}",
            stderr(&out)
        );
        // A record without a sweep fingerprint beside one with: written some other way.
        let mut unnamed = first[1].clone();
        unnamed.as_object_mut().unwrap().remove("sweep_fingerprint");
        let mixed = lines(&[first[0].clone(), unnamed]);
        let out = tracectx(&["merge", "-"], Some(mixed.as_bytes()));
        exits_saying(
            &out,
            1,
            r#""-" line 2: a session record without a sweep fingerprint, while "-" line 1 has one"#,
        );
        // A shard that is not one.
        let mut bad = first[0].clone();
        bad["shard"] = "5/4".into();
        let out = tracectx(&["merge", "-"], Some(lines(&[bad]).as_bytes()));
        exits_saying(&out, 1, "invalid shard \"5/4\": K must be from 1 to N");
    }

    #[test]
    fn shards_merged_rank_as_the_local_sweep_in_one_trace() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 800);
        let data = data.to_str().unwrap();
        let grid = ["--grid", "fast=2:20:3", "--grid", "slow=10:50:8"];
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut files = Vec::new();
        for k in 1..=3 {
            let file = dir.path().join(format!("shard-{k}.jsonl"));
            let shard = format!("{k}/3");
            let log = dir.path().join(format!("shard-{k}.log"));
            let mut args = vec!["sweep", "--data", data, "--shard", &shard];
            args.extend(grid);
            args.extend(["--output", file.to_str().unwrap(), "--top", "3"]);
            args.extend(["--log-file", log.to_str().unwrap()]);
            let out = bin()
                .args(&args)
                .env("TRACEPARENT", traceparent)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert!(stdout(&out).contains(&format!("(shard {k}/3)")));
            files.push(file);
        }
        let lines: Vec<serde_json::Value> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lines.len(), 7 * 6);
        let mut indices: Vec<i64> = lines.iter().map(|l| l["index"].as_i64().unwrap()).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..42).collect::<Vec<_>>());
        // One trace, the launcher's, across every shard; a sweep run of its own per shard.
        assert!(
            lines
                .iter()
                .all(|l| l["trace_id_full"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let sweeps: std::collections::HashSet<&str> = lines
            .iter()
            .map(|l| l["sweep_id"].as_str().unwrap())
            .collect();
        assert_eq!(sweeps.len(), 3);
        // `tracectx trace` pulls the whole sweep back from the shards' logs: every line of
        // the three sweep runs and of the 42 sessions, in the launcher's trace.
        let logs: Vec<String> = (1..=3)
            .map(|k| {
                dir.path()
                    .join(format!("shard-{k}.log"))
                    .display()
                    .to_string()
            })
            .collect();
        let mut trace = vec!["trace", "4bf92f3577b34da6a3ce929d0e0e4736"];
        trace.extend(logs.iter().map(String::as_str));
        let out = tracectx(&trace, None);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let printed = stdout(&out);
        let runs: std::collections::HashSet<&str> = printed
            .lines()
            .map(|l| {
                assert!(l.contains("] [0e0e4736] "), "{l}");
                l.split("] [").nth(1).unwrap()
            })
            .collect();
        let mut want: std::collections::HashSet<&str> = lines
            .iter()
            .map(|l| l["run_id"].as_str().unwrap())
            .collect();
        want.extend(sweeps.iter().copied());
        assert_eq!(runs, want);
        let mut other = vec!["trace", "a1b2c3d4"];
        other.extend(logs.iter().map(String::as_str));
        assert_eq!(tracectx(&other, None).status.code(), Some(1));
        // A template without the trace cannot be searched by it; a bad id is a usage error.
        for args in [
            ["trace", "a1b2c3d4", "--format", "[{run_id}] {message}"],
            [
                "trace",
                "a1b2c3d4",
                "--format",
                "[{run_id}] {{trace_id}} {message}",
            ],
            [
                "trace",
                "not-hex",
                "--format",
                "[{run_id}] [{trace_id}] {message}",
            ],
        ] {
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(stderr(&out).starts_with("tracectx: "), "{}", stderr(&out));
        }

        let mut merge = vec!["merge"];
        merge.extend(files.iter().map(|f| f.to_str().unwrap()));
        merge.extend(["--rank-by", "return_pct", "--top", "8"]);
        let merged = tracectx(&merge, None);
        assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
        assert!(stderr(&merged).is_empty(), "{}", stderr(&merged));
        // A shard missing: ranked all the same, and said.
        let two = tracectx(&["merge", merge[1], merge[2]], None);
        assert_eq!(two.status.code(), Some(0), "{}", stderr(&two));
        let held = lines
            .iter()
            .filter(|l| l["index"].as_i64().unwrap() % 3 != 2)
            .count();
        assert_eq!(
            stderr(&two),
            format!(
                "tracectx: the files hold {held} of the sweep's 42 sessions (shard 3/3 is \
                 missing): the ranking is of the {held} read; run the shards named again (each \
                 to its own --output) to rank them all\n"
            )
        );
        let mut local = vec!["sweep", "--data", data];
        local.extend(grid);
        local.extend(["--rank-by", "return_pct", "--top", "8"]);
        let local = tracectx(&local, None);
        assert_eq!(local.status.code(), Some(0));
        // The same table, parameters and statistics, run ids apart.
        let without_run_ids = |text: &str| -> Vec<String> {
            text.lines()
                .skip(1)
                .map(|l| {
                    let mut cells: Vec<&str> = l.split_whitespace().collect();
                    cells.remove(1);
                    cells.join(" ")
                })
                .collect()
        };
        let merged_text = stdout(&merged);
        assert!(merged_text.starts_with("merge of 3 files: 42 sessions (42 ok, 0 failed)"));
        assert!(
            merged_text
                .lines()
                .next()
                .unwrap()
                .contains("trace 0e0e4736")
        );
        assert_eq!(
            without_run_ids(&merged_text),
            without_run_ids(&stdout(&local))
        );
        assert_eq!(without_run_ids(&merged_text).len(), 9);
        // And every statistic to the bit: the shards' lines read back exactly (`--json` of
        // both, run ids apart; every session, so that values written with 17 digits occur).
        let json = |mut args: Vec<&str>| -> Vec<String> {
            args.extend(["--json", "--top", "100"]);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            // The numbers as printed: parsing them again could hide a digit lost.
            let text = stdout(&out);
            let results = &text[text.find("\"results\":[").unwrap()..];
            results
                .split("{\"params\":")
                .skip(1)
                .map(|r| {
                    let (params, rest) = r.split_once(",\"rank\":").unwrap();
                    let stats = &rest[rest.find("\"stats\":").unwrap()..];
                    format!("{params} {}", &stats[..stats.find('}').unwrap()])
                })
                .collect()
        };
        let mut merge_json = vec!["merge"];
        merge_json.extend(files.iter().map(|f| f.to_str().unwrap()));
        let mut local_json = vec!["sweep", "--data", data];
        local_json.extend(grid);
        let (merged_json, local_json) = (json(merge_json), json(local_json));
        assert_eq!(merged_json.len(), 42);
        for (m, l) in merged_json.iter().zip(&local_json) {
            assert_eq!(m, l);
        }
        // A line that is not a record is refused naming file and line.
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, "{}\n").unwrap();
        let out = tracectx(&["merge", bad.to_str().unwrap()], None);
        exits_saying(&out, 1, "line 1: not a sweep's session record");
    }

    #[test]
    fn html_reports_are_self_contained_pages_with_their_charts() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 1_500);
        let page = dir.path().join("report.html");
        let out = tracectx(
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--html",
                page.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        for class in ["equity", "drawdown", "price"] {
            assert!(
                html.contains(&format!("<figure class=\"chart {class}\"><svg")),
                "{class}"
            );
        }
        // Nothing to run, nothing to fetch (the one address is the SVG namespace's name).
        for fetch in ["<script", "src=", "href=", "url(", "@import"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        let heat = dir.path().join("heatmap.html");
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=5:25:5",
                "--grid",
                "slow=30:90:15",
                "--html",
                heat.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let html = std::fs::read_to_string(&heat).unwrap();
        assert!(html.contains("<figure class=\"chart heatmap\"><svg"));
        assert!(html.contains("sharpe over fast and slow"));
        // 25 cells and 10 steps of the scale.
        assert!(html.matches("<rect").count() >= 35);
    }

    /// Standard output that cannot be written (a full disk) is named as what failed: the
    /// message was the system's error alone ("No space left on device").
    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_standard_output_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        let shard = shard_file(
            Path::new(data),
            &["--grid", "fast=5:7:1"],
            dir.path().join("shard.jsonl"),
        );
        for args in [
            &["backtest", "--data", data][..],
            &["backtest", "--data", data, "--json"],
            &["sweep", "--data", data, "--grid", "fast=5:7:1"],
            &["merge", &shard],
            &["strategies"],
        ] {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            let out = tracectx_to(args, full);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert_eq!(
                stderr(&out),
                "tracectx: cannot write standard output: No space left on device (os error 28)\n",
                "{args:?}"
            );
        }
    }

    /// A shard's output that fails part way (a full disk) stops the sweep: the sessions
    /// after it would be written nowhere. It ran every session of the grid first, then said
    /// the file could not be written.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sweep_stops_when_its_output_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 60);
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=1:200:1",
                "--grid",
                "slow=1:100:1",
                "--output",
                "/dev/full",
                "--concurrency",
                "2",
            ],
            None,
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        let rest = err
            .strip_prefix(
                "tracectx: cannot write \"/dev/full\": No space left on device (os error 28): \
                 the sweep stopped after ",
            )
            .unwrap_or_else(|| panic!("{err}"));
        let (done, rest) = rest.split_once(" of ").unwrap();
        assert_eq!(rest, "20000 sessions\n");
        assert!(done.parse::<usize>().unwrap() < 20_000, "{err}");
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }

    /// A log file's name reaches standard error escaped in the hint `sweep` prints after its
    /// table, as in every other message: an escape sequence or a right-to-left override in
    /// the name reached the terminal as it was.
    #[cfg(unix)]
    #[test]
    fn the_log_hint_escapes_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let log = dir.path().join("l\u{1b}[31m\u{202e}.log");
        let out = tracectx(
            &[
                "sweep",
                "--data",
                data.to_str().unwrap(),
                "--grid",
                "fast=5:7:1",
                "--log-file",
                log.to_str().unwrap(),
            ],
            None,
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.starts_with("one session's log lines: tracectx logs backtest_"),
            "{err}"
        );
        assert!(err.contains("l\\u{1b}[31m\\u{202e}.log"), "{err:?}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{202e}'),
            "{err:?}"
        );
    }

    /// Numbers far from 1 in messages read as numbers (`1e300`), not as 300 digits or zeros:
    /// a price, a volume, a setting, a parameter. And an integer parameter past the integers
    /// says so rather than calling the number typed a float.
    #[test]
    fn huge_and_tiny_numbers_in_messages_are_short() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.csv");
        let head = "date,open,high,low,close,volume\n";
        for (row, says) in [
            ("2024-01-02,-1e300,2,1,1,1", "non-positive price -1e300"),
            ("2024-01-02,1,2,1,1,-1e300", "invalid volume -1e300"),
            (
                "2024-01-02,1e-300,1e-300,2e-300,1e-300,1",
                "high 1e-300 below low 2e-300",
            ),
            (
                "2024-01-02,3e-300,2e-300,1e-300,1e-300,1",
                "open 3e-300 outside the bar's range from low 1e-300 to high 2e-300",
            ),
        ] {
            std::fs::write(&bad, format!("{head}{row}\n")).unwrap();
            let out = tracectx(&["backtest", "--data", bad.to_str().unwrap()], None);
            exits_saying(&out, 1, says);
            assert!(stderr(&out).len() < 200, "{}", stderr(&out));
        }
        let data = bars_file(dir.path(), 100);
        let data = data.to_str().unwrap();
        for (args, says) in [
            (
                &["--slippage", "1e308"][..],
                "invalid setting slippage = 1e308: expected",
            ),
            (&["--cash", "-1e300"][..], "invalid setting cash = -1e300:"),
            (
                &["--param", "fast=99999999999999999999"][..],
                "parameter \"fast\" must be an integer from -9223372036854775808 to \
                 9223372036854775807, got a float: 1e20",
            ),
            (
                &["--param", "fast=5.0"][..],
                "parameter \"fast\" must be an integer, got a float: 5 ",
            ),
        ] {
            let out = tracectx(&[&["backtest", "--data", data][..], args].concat(), None);
            exits_saying(&out, 1, says);
            assert!(stderr(&out).len() < 200, "{}", stderr(&out));
        }
    }

    /// An output whose name holds a control character, a right-to-left override, a quote and
    /// a byte that is not UTF-8 is named once escaped in the message that it cannot be
    /// written, by `backtest` and `sweep` alike, whether it could not be created or could not
    /// be written: `\u{1b}`, never `\\u{1b}` (escaped twice) nor the raw characters.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_output_that_cannot_be_written_is_named_escaped_once() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"a\x1bb\xe2\x80\xaec\"d\xffe.out");
        let missing = dir.path().join("no-such-dir").join(name);
        let full = dir.path().join(name);
        std::os::unix::fs::symlink("/dev/full", &full).unwrap();
        let shown = |path: &Path| {
            format!(
                "{}/a\\u{{1b}}b\\u{{202e}}c\\\"d\\xFFe.out",
                path.parent().unwrap().display()
            )
        };
        let grid = ["--grid", "fast=5,10", "--grid", "slow=20,30"];
        for (path, runs) in [
            (&missing, &["--html", "--trades", "--equity"][..]),
            (&full, &["--html", "--trades", "--equity"][..]),
        ] {
            for &option in runs {
                let mut cmd = bin();
                cmd.args(["backtest", "--data", data]).arg(option).arg(path);
                let out = cmd.output().unwrap();
                let err = stderr(&out);
                assert_eq!(out.status.code(), Some(1), "{option}: {err}");
                assert!(
                    err.starts_with(&format!("tracectx: cannot write \"{}\": ", shown(path))),
                    "backtest {option}: {err}"
                );
                assert!(
                    !err.contains('\u{1b}') && !err.contains('\u{202e}'),
                    "{err}"
                );
            }
            for option in ["--html", "--output"] {
                let mut cmd = bin();
                cmd.args(["sweep", "--data", data])
                    .args(grid)
                    .arg(option)
                    .arg(path);
                let out = cmd.output().unwrap();
                let err = stderr(&out);
                assert_eq!(out.status.code(), Some(1), "{option}: {err}");
                assert!(
                    err.contains(&format!("tracectx: cannot write \"{}\": ", shown(path))),
                    "sweep {option}: {err}"
                );
                assert!(
                    !err.contains('\u{1b}') && !err.contains('\u{202e}'),
                    "{err}"
                );
            }
        }
    }

    /// An output that cannot be written after the session ran (a full disk) costs that output,
    /// not the session's statistics: the table is printed, the failure said once, exit 1, as
    /// `sweep` does with its page. The statistics were lost with the file.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_backtest_output_that_cannot_be_written_still_prints_the_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let data = bars_file(dir.path(), 300);
        let data = data.to_str().unwrap();
        for output in ["--html", "--trades", "--equity"] {
            let out = tracectx(&["backtest", "--data", data, output, "/dev/full"], None);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{output}: {err}");
            assert_eq!(
                err,
                "tracectx: cannot write \"/dev/full\": No space left on device (os error 28)\n",
                "{output}"
            );
            let table = stdout(&out);
            assert!(table.starts_with("run backtest_"), "{output}: {table}");
            assert!(table.lines().any(|l| l.starts_with("sharpe ")), "{table}");
        }
    }
}

// === logs of other templates ===

const GUIDE: &str = "[{timestamp:%Y-%m-%d %H:%M:%S}] [{run_id}] [{trace_id}] {level} - {message}";

/// A log written by the real subscriber with `template`: `lines` events for each of three runs,
/// interleaved, plus one line outside any run and one message that imitates another run's
/// line. Returns the path and each run's lines, in order.
fn templated_log(
    dir: &Path,
    template: &str,
    lines: usize,
) -> (PathBuf, Vec<(String, Vec<String>)>) {
    let path = dir.join("templated.log");
    let subscriber = logging::builder()
        .with_format(template)
        .with_writer(logging::file_writer(&path).unwrap())
        .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z").unwrap())
        .with_level(tracing::Level::INFO)
        .build()
        .unwrap();
    let runs: Vec<TraceContext> = ["run_a", "run_ab", "run.b"]
        .iter()
        .map(|r| TraceContext::new(r).unwrap())
        .collect();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any run");
        for i in 0..lines {
            for ctx in &runs {
                ctx.sync_scope(|| tracing::info!(i, "step {i} of {}", ctx.run_id()));
            }
        }
        runs[0].sync_scope(|| tracing::warn!("x] [run_ab] [00000000] INFO - imitation"));
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let expected = runs
        .iter()
        .map(|ctx| {
            let mine: Vec<String> = text
                .lines()
                .filter(|l| {
                    l.contains(&format!("] [{}] [", ctx.run_id())) && !l.contains("imitation")
                        || (ctx.run_id() == "run_a" && l.contains("imitation"))
                })
                .map(str::to_owned)
                .collect();
            (ctx.run_id().to_string(), mine)
        })
        .collect();
    (path, expected)
}

#[test]
fn logs_reads_the_lines_of_a_template_given_with_format() {
    let dir = tempfile::tempdir().unwrap();
    // Large enough to be read in blocks by two threads; read too from stdin.
    let (path, runs) = templated_log(dir.path(), GUIDE, 12_000);
    let p = path.to_str().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 2 << 20);
    let stdin = std::fs::read(&path).unwrap();
    for (run, lines) in &runs {
        assert_eq!(lines.len(), 12_000 + usize::from(run == "run_a"));
        let expected = format!("{}\n", lines.join("\n"));
        for extra in [&[][..], &["--no-mmap"]] {
            let mut args = vec!["logs", run, p, "--format", GUIDE];
            args.extend_from_slice(extra);
            let out = tracectx(&args, None);
            assert_eq!(out.status.code(), Some(0), "{run} {extra:?}");
            assert!(stdout(&out) == expected, "{run} {extra:?}");
            assert!(out.stderr.is_empty());
        }
        let out = tracectx(&["logs", run, "--format", GUIDE], Some(&stdin));
        assert!(stdout(&out) == expected, "{run} from stdin");
        let count = tracectx(&["logs", "-c", run, p, "--format", GUIDE], None);
        assert_eq!(stdout(&count).trim(), lines.len().to_string());
    }
    let warn = tracectx(
        &["logs", "run_a", p, "--format", GUIDE, "--level", "warn"],
        None,
    );
    assert_eq!(stdout(&warn).lines().count(), 1);
    assert!(stdout(&warn).contains("imitation"));
}

#[test]
fn runs_reads_a_template_given_with_format() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = templated_log(dir.path(), GUIDE, 10);
    let out = tracectx(
        &["runs", "--json", path.to_str().unwrap(), "--format", GUIDE],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let lines: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap(), r["lines"].as_u64().unwrap()))
        .collect();
    assert_eq!(lines, [("run.b", 10), ("run_a", 11), ("run_ab", 10)]);
    assert_eq!(rows[1]["warn"], 1);
    assert_eq!(rows[0]["first"], "2024-01-01T10:00:00.000000Z");
}

#[test]
fn a_log_with_no_stamped_line_is_named_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = templated_log(dir.path(), GUIDE, 3);
    let p = path.to_str().unwrap();
    let text = std::fs::read(&path).unwrap();
    let gz = dir.path().join("templated.log.gz");
    gzip(&gz, std::str::from_utf8(&text).unwrap());
    for args in [
        vec!["logs", "run_a", p],
        vec!["logs", "--no-mmap", "run_a", p],
        vec!["logs", "-c", "run_a", gz.to_str().unwrap()],
        vec!["runs", p],
    ] {
        let out = tracectx(&args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("no line in tracectx's default layout or JSON")
                && err.contains("--format"),
            "{args:?}: {err}"
        );
        assert!(err.contains("templated.log"), "{err}");
    }
    let from_stdin = tracectx(&["logs", "run_a"], Some(&text));
    let err = String::from_utf8(from_stdin.stderr).unwrap();
    assert!(
        err.starts_with("tracectx: (standard input): no line"),
        "{err}"
    );
    // A log of stamped lines that holds no line of the run: exit 1, and nothing said.
    let dir2 = tempfile::tempdir().unwrap();
    let plain = mixed(dir2.path());
    let out = tracectx(&["logs", "nobody", plain.to_str().unwrap()], None);
    assert_eq!((out.status.code(), out.stderr.len()), (Some(1), 0));
    // A template without a run id cannot be read back: a usage error.
    let out = tracectx(&["logs", "run_a", p, "--format", "{level} {message}"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_format_that_is_no_template_says_what_format_takes() {
    let dir = tempfile::tempdir().unwrap();
    let log = mixed(dir.path());
    let p = log.to_str().unwrap();
    // `--format json` as other tools take it: JSON lines need no --format at all.
    for args in [
        vec!["logs", "backtest_ab1", p, "--format", "json"],
        vec!["trace", "a1b2c3d4", p, "--format", "text"],
        vec!["runs", p, "--format", "json"],
    ] {
        let out = tracectx(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("is not a log template")
                && err.contains("{run_id}")
                && err.contains("read without --format"),
            "{args:?}: {err}"
        );
    }
    // Literal braces are not placeholders either.
    let out = tracectx(&["runs", p, "--format", "{{json}}"], None);
    exits_saying(&out, 2, "is not a log template");
}

#[test]
fn an_empty_log_is_said_to_be_empty_not_of_another_layout() {
    // A log nothing was written to yet (or the wrong file named): "pass its template" would
    // send the reader looking for a layout problem that is not there.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let blank = dir.path().join("blank.log");
    std::fs::write(&blank, "\n\n").unwrap();
    let gz = dir.path().join("empty.log.gz");
    gzip(&gz, "");
    let log = mixed(dir.path());
    let (e, b, g, l) = (
        empty.to_str().unwrap(),
        blank.to_str().unwrap(),
        gz.to_str().unwrap(),
        log.to_str().unwrap(),
    );
    for (args, named) in [
        (vec!["logs", "backtest_ab1", e], e),
        (vec!["logs", "-c", "backtest_ab1", b], b),
        (vec!["logs", "backtest_ab1", g], g),
        (vec!["trace", "a1b2c3d4", e], e),
        (vec!["runs", e], e),
        (vec!["runs", g], g),
    ] {
        let out = tracectx(&args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&out),
            format!("tracectx: {named}: empty, no line to read\n"),
            "{args:?}"
        );
    }
    // Read from standard input, and beside a log that holds the run (with --merge too).
    let out = tracectx(&["logs", "backtest_ab1"], Some(b""));
    assert_eq!(
        stderr(&out),
        "tracectx: (standard input): empty, no line to read\n"
    );
    for merge in [&[][..], &["--merge"]] {
        let out = tracectx(&[&["logs", "backtest_ab1", e, l][..], merge].concat(), None);
        assert_eq!(out.status.code(), Some(0), "{merge:?}");
        assert_eq!(
            stderr(&out),
            format!("tracectx: {e}: empty, no line to read\n"),
            "{merge:?}"
        );
    }
    // A log with lines, none stamped, still gets the hint to pass its template.
    let out = tracectx(&["logs", "backtest_ab1"], Some(b"plain text\n"));
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));
}

#[test]
fn an_invalid_run_or_trace_id_points_to_the_ids_a_log_holds() {
    // The README's placeholders typed as they are, or a partial id: say where the ids are.
    let dir = tempfile::tempdir().unwrap();
    let log = mixed(dir.path());
    let l = log.to_str().unwrap();
    for (args, says) in [
        (
            vec!["logs", "backtest_0193…", l],
            "invalid run id \"backtest_0193…\": a non-ASCII character at byte 13",
        ),
        (
            vec!["logs", "<run_id>", l],
            "invalid run id \"<run_id>\": a bracket at byte 0",
        ),
        (
            vec!["logs", "backtest_ab1", l, "--trace-id", "a1b2c3"],
            "invalid trace id \"a1b2c3\"",
        ),
        (vec!["trace", "0e0e473", l], "invalid trace id \"0e0e473\""),
    ] {
        let out = tracectx(&args, None);
        exits_saying(&out, 2, says);
        let err = stderr(&out);
        assert!(
            err.contains("`tracectx runs FILE...` lists"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
}

// === a file per run ===

#[test]
fn per_run_files_of_a_sweep_are_what_logs_prints_from_the_combined_log() {
    use std::sync::Arc;
    use tracectx_backtest::{
        BacktestEngine, BacktestSettings, BatchOptions, Named, ParamGrid, RankBy, sma_cross,
    };
    use tracing_subscriber::fmt::writer::MakeWriterExt as _;

    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("runs");
    let combined = dir.path().join("combined.log");
    let (per_run, per_run_guard) = logging::per_run_files(&runs_dir).unwrap();
    let (single, single_guard) =
        logging::non_blocking(std::fs::File::create(&combined).unwrap()).unwrap();
    let subscriber = logging::builder()
        .with_writer(per_run.and(single))
        .with_clock(FixedClock::rfc3339("2024-01-01T10:00:00Z").unwrap())
        .with_level(tracing::Level::DEBUG)
        .build()
        .unwrap();
    // Sessions run on the runtime's blocking threads: each of its threads logs to the
    // subscriber, with no global default for the other tests to meet.
    let dispatch = tracing::Dispatch::new(subscriber);
    let on_start = dispatch.clone();
    thread_local! {
        static DEFAULT: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
            const { std::cell::RefCell::new(None) };
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&on_start);
            DEFAULT.with(|d| *d.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| DEFAULT.with(|d| d.borrow_mut().take()).map_or((), drop))
        .build()
        .unwrap();
    let grid = ParamGrid::new()
        .axis("fast", 1..=10_i64)
        .axis("slow", 20..=29_i64);
    assert_eq!(grid.len(), 100);
    let report = tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(BacktestEngine::new(BacktestSettings::default()).sweep(
            &Arc::new(tracectx_backtest::Bars::synthetic(500, 7)),
            Named::new("sma_cross", sma_cross),
            &grid,
            RankBy::default(),
            BatchOptions::new().concurrency(4),
        ))
    });
    // The runtime's threads hold the subscriber, and it the writers: all gone before the
    // guards wait for the writer threads.
    drop((rt, dispatch));
    drop((per_run_guard, single_guard));
    assert_eq!(report.ranked.len() + report.failed.len(), 100);

    let sessions: Vec<String> = report
        .ranked
        .iter()
        .map(|r| r.metadata.run_id.as_ref().unwrap().to_string())
        .chain(
            report
                .failed
                .iter()
                .map(|e| e.run_id().unwrap().to_string()),
        )
        .collect();
    let files: Vec<String> = std::fs::read_dir(&runs_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let session_files = files.iter().filter(|f| f.starts_with("backtest_")).count();
    assert_eq!(session_files, 100, "{files:?}");
    // Besides them: the sweep's own run.
    assert!(
        files.contains(&format!("{}.log", report.sweep_id)),
        "{files:?}"
    );
    let c = combined.to_str().unwrap();
    for run in &sessions {
        let file = runs_dir.join(logging::run_log_file_name(run));
        let own = std::fs::read(&file).unwrap();
        assert!(!own.is_empty(), "{run}");
        let out = tracectx(&["logs", run, c], None);
        assert_eq!(out.status.code(), Some(0), "{run}");
        assert!(
            out.stdout == own,
            "{run}: the file differs from `tracectx logs`"
        );
    }
}

// === inputs of every kind ===

#[test]
fn logs_prints_crlf_lines_byte_for_byte() {
    // A log written on Windows, or through a tool that ends lines with CRLF: the carriage
    // return before the newline is the line's end, printed as it is, not as `\r` text.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crlf.log");
    let text = format!("{A1}\r\n{A12}\r\n{A1_WARN}\r\n{A1_JSON}\r\n");
    std::fs::write(&path, &text).unwrap();
    let out = tracectx(&["logs", "backtest_ab1", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{A1}\r\n{A1_WARN}\r\n{A1_JSON}\r\n"));
    // A carriage return anywhere else could overwrite what the line showed: still escaped.
    let forged = format!("{A1} ok\rERROR forged\r\n");
    let out = tracectx(&["logs", "backtest_ab1"], Some(forged.as_bytes()));
    assert_eq!(stdout(&out), format!("{A1} ok\\rERROR forged\r\n"));
}

#[cfg(unix)]
#[test]
fn logs_reads_a_pipe_named_as_a_file_once() {
    // `tracectx logs RUN /dev/stdin` (or `<(zcat app.log.gz)`, or a FIFO): a pipe named by
    // path can be read once only. A log of stamped lines that holds no line of the run is
    // not "a log in no layout tracectx knows", and the pipe is not opened a second time
    // (a FIFO opened again waits for a writer that never comes).
    let log = format!("{A1}\n{A12}\n{A1_JSON}\n");
    let out = tracectx(&["logs", "nobody", "/dev/stdin"], Some(log.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
    let out = tracectx(
        &["logs", "backtest_ab1", "/dev/stdin"],
        Some(log.as_bytes()),
    );
    assert_eq!(stdout(&out), format!("{A1}\n{A1_JSON}\n"));
    // A pipe in no layout tracectx knows is still named, once.
    let out = tracectx(&["logs", "nobody", "/dev/stdin"], Some(b"plain text\n"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("tracectx: /dev/stdin: no line") && err.lines().count() == 1,
        "{err}"
    );
}

// === exit status, as --help states it ===

/// Each command's `--help` states its exit status, and each code it states is the one the
/// command returns.
#[test]
fn help_states_the_exit_status_each_command_returns() {
    let grep_like = ["Exit status: 0 when a", "1 when none was, 2 on an error"];
    let ran = [
        "Exit status: 0 when it ran, 1 when it could not",
        "2 when the command line does not parse",
    ];
    for (command, said) in [
        ("logs", grep_like),
        ("trace", grep_like),
        ("runs", grep_like),
        ("backtest", ran),
        ("sweep", ran),
        ("merge", ran),
        ("sweep", ["Stopped by SIGTERM", "143 or 130"]),
    ] {
        let help = tracectx(&[command, "--help"], None);
        assert_eq!(help.status.code(), Some(0), "{command} --help");
        let text = stdout(&help);
        for part in said {
            assert!(text.contains(part), "{command} --help:\n{text}");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let log = mixed(dir.path());
    let log = log.to_str().unwrap();
    let missing = dir.path().join("missing.log");
    let missing = missing.to_str().unwrap();
    let code = |args: &[&str]| tracectx(args, None).status.code();

    // logs and runs: found, nothing found, an input that cannot be read.
    assert_eq!(code(&["logs", "backtest_ab1", log]), Some(0));
    assert_eq!(code(&["logs", "backtest_zz9", log]), Some(1));
    assert_eq!(code(&["logs", "backtest_ab1", missing]), Some(2));
    assert_eq!(code(&["runs", log]), Some(0));
    assert_eq!(code(&["runs", missing]), Some(2));
    let plain = write_log(dir.path(), "plain.log", &["no stamp here"]);
    assert_eq!(code(&["runs", plain.to_str().unwrap()]), Some(1));

    // backtest, sweep, merge: ran, could not, did not parse.
    let bars = dir.path().join("bars.csv");
    tracectx_backtest::Bars::synthetic(300, 5)
        .write_csv(std::fs::File::create(&bars).unwrap())
        .unwrap();
    let bars = bars.to_str().unwrap();
    let shard = dir.path().join("shard.jsonl");
    let shard = shard.to_str().unwrap();
    assert_eq!(code(&["backtest", "--data", bars]), Some(0));
    assert_eq!(
        code(&["backtest", "--data", bars, "--param", "speed=3"]),
        Some(1)
    );
    assert_eq!(code(&["backtest", "--data", missing]), Some(1));
    assert_eq!(
        code(&["backtest", "--data", bars, "--no-such-option"]),
        Some(2)
    );
    let sweep = [
        "sweep",
        "--data",
        bars,
        "--grid",
        "fast=5:10:5",
        "--output",
        shard,
    ];
    assert_eq!(code(&sweep), Some(0));
    let one = tracectx(&["sweep", "--data", bars, "--grid", "fast=5"], None);
    assert_eq!(one.status.code(), Some(0));
    let one = stdout(&one);
    assert!(one.contains(": 1 session (1 ok, 0 failed) in "), "{one}");
    assert_eq!(
        code(&["sweep", "--data", bars, "--grid", "fast=10:5:5"]),
        Some(1)
    );
    assert_eq!(code(&["sweep", "--data", bars]), Some(2));
    let merged = tracectx(&["merge", shard], None);
    assert_eq!(merged.status.code(), Some(0));
    let merged = stdout(&merged);
    assert!(
        merged.starts_with("merge of 1 file: 2 sessions (2 ok, 0 failed) from sweep sweep_"),
        "{merged}"
    );
    assert_eq!(code(&["merge", missing]), Some(1));
    assert_eq!(code(&["merge"]), Some(2));
}

/// `--log-file` takes INFO and above, or what `RUST_LOG` selects, as `--help` says.
#[test]
fn log_file_level_is_info_unless_rust_log_selects_another() {
    let dir = tempfile::tempdir().unwrap();
    let bars = dir.path().join("bars.csv");
    tracectx_backtest::Bars::synthetic(300, 5)
        .write_csv(std::fs::File::create(&bars).unwrap())
        .unwrap();
    let run = |log: &Path, rust_log: Option<&str>| {
        let mut cmd = bin();
        cmd.args(["backtest", "--data", bars.to_str().unwrap(), "--log-file"])
            .arg(log)
            .stdout(Stdio::null());
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        assert!(cmd.status().unwrap().success());
        std::fs::read_to_string(log).unwrap()
    };
    let info = run(&dir.path().join("info.log"), None);
    assert!(info.lines().count() >= 2, "{info}");
    assert!(info.lines().all(|l| l.contains("] INFO ")), "{info}");
    let warn = run(&dir.path().join("warn.log"), Some("warn"));
    assert_eq!(warn, "");
}

// === trace ===

/// A JSON line carrying a full trace id is of that trace: `trace FULL` leaves out another
/// trace ending in the same 8 digits; `trace SHORT`, the form lines show, keeps every trace
/// ending in them. `logs RUN --trace-id FULL` agrees.
#[test]
fn trace_full_id_leaves_out_another_trace_with_the_same_last_8_digits() {
    let dir = tempfile::tempdir().unwrap();
    let mine =
        r#"{"run_id":"svc_a","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","message":"mine"}"#;
    let other =
        r#"{"run_id":"svc_b","trace_id":"ffff2f3577b34da6a3ce929d0e0e4736","message":"other"}"#;
    let short = "[2024-01-01T10:00:00.000000Z] [svc_c] [0e0e4736] INFO t - short";
    let path = write_log(dir.path(), "full.jsonl", &[mine, other, short]);
    let file = path.to_str().unwrap();
    let full = tracectx(&["trace", "4bf92f3577b34da6a3ce929d0e0e4736", file], None);
    assert_eq!(full.status.code(), Some(0));
    assert_eq!(stdout(&full), format!("{mine}\n{short}\n"));
    let tail = tracectx(&["trace", "0e0e4736", file], None);
    assert_eq!(stdout(&tail), format!("{mine}\n{other}\n{short}\n"));
    let b = tracectx(
        &[
            "logs",
            "svc_b",
            "--trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            file,
        ],
        None,
    );
    assert_eq!((b.status.code(), stdout(&b).as_str()), (Some(1), ""));
}

/// A `--format` template `trace` cannot use is refused for what is wrong with it: one the
/// writer would refuse, with the writer's reason (not as a template showing no trace id).
#[test]
fn trace_refuses_an_invalid_template_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), "app.log", &[A1]);
    let file = path.to_str().unwrap();
    for (template, says) in [
        (
            "[{run_id}] [{trace_id:x}] {message}",
            "placeholder {trace_id} at byte 12 of the log template takes no format",
        ),
        (
            "[{run_id}] {message}",
            "the --format template has no {trace_id}",
        ),
        ("[{trace_id}] {message}", "the log template has no {run_id}"),
    ] {
        let out = tracectx(&["trace", "a1b2c3d4", file, "--format", template], None);
        assert_eq!(out.status.code(), Some(2), "{template}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with(&format!("tracectx: {says}")),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), "");
    }
}

/// A JSON line of another writer, with a numeric `level` and `time` (pino's), is printed by
/// `trace` and by `logs` alike.
#[test]
fn trace_and_logs_print_a_json_line_with_a_numeric_level() {
    let dir = tempfile::tempdir().unwrap();
    let pino = r#"{"level":30,"timestamp":1704103200000,"run_id":"svc_a","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","msg":"pino"}"#;
    let path = write_log(dir.path(), "pino.log", &[pino]);
    let file = path.to_str().unwrap();
    for args in [["trace", "0e0e4736", file], ["logs", "svc_a", file]] {
        let out = tracectx(&args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(stdout(&out), format!("{pino}\n"), "{args:?}");
    }
}
