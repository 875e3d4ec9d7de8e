//! The `tracectx` command line, run as a real process on real files.
#![cfg(feature = "cli")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tracectx::logging::{self, FixedClock};
use tracectx::TraceContext;

const A1: &str = "[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO engine - start";
const A12: &str = "[2024-01-01T10:00:00.500000Z] [backtest_ab12] [0badcafe] INFO engine - start";
const A1_WARN: &str =
    "[2024-01-01T10:00:01.000000Z] [backtest_ab1] [a1b2c3d4] WARN engine - slow fill ms=250";
const A1_JSON: &str = r#"{"timestamp":"2024-01-01T10:00:02.000000Z","level":"ERROR","run_id":"backtest_ab1","trace_id":"feedf00d","target":"engine","message":"rejected"}"#;
const MENTION: &str =
    "[2024-01-01T10:00:03.000000Z] [-] [-] INFO engine - retrying backtest_ab1 [backtest_ab1]";
const JSON_MENTION: &str = r#"{"timestamp":"2024-01-01T10:00:04.000000Z","level":"INFO","run_id":"backtest_ab12","message":"\"run_id\":\"backtest_ab1\""}"#;

fn tracectx(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracectx"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
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

#[test]
fn logs_reads_gzip_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(gz, "{A12}\n{A1}").unwrap();
    gz.finish().unwrap();
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
    assert_eq!(stdout(&out), format!("{A1}\n{A1_WARN}\n"));
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
    // The text line is the run's even with a stray byte in its message: printed unchanged.
    assert_eq!(
        out.stdout,
        b"[2024-01-01T10:00:00.000000Z] [backtest_ab1] [a1b2c3d4] INFO t - caf\xe9\n"
    );
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
