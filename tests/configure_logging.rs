//! `configure_logging()`: the global subscriber as a program installs it, stdout, level from
//! `RUST_LOG` else INFO.
//!
//! A global subscriber can be set once per process, and reads `RUST_LOG` when it is set: so
//! the one test here runs this same test binary again as a child process, once per
//! environment, and reads the child's standard output.
#![cfg(feature = "logging")]

use std::ffi::OsStr;
use std::process::Command;

use tracectx::TraceContext;
use tracectx::logging::{self, InitError, query};

/// Set in the child's environment: the test then installs and logs instead.
const CHILD: &str = "TRACECTX_TEST_CONFIGURE_LOGGING_CHILD";
const TEST: &str = "configure_logging_writes_default_lines_at_info_unless_rust_log_says";

const RUN: &str = "backtest_cfg1";
const TRACE: &str = "0123456789abcdef0123456789abcdef";

/// In the child: the real global set-up, then one event at each level inside a run, and one
/// outside any.
fn child() {
    logging::configure_logging();
    assert!(
        matches!(logging::builder().try_init(), Err(InitError::Install(_))),
        "a second global subscriber must be refused"
    );
    let ctx = TraceContext::new(RUN)
        .unwrap()
        .with_trace_id(TRACE.parse().unwrap());
    ctx.sync_scope(|| {
        tracing::trace!(target: "cfg", "trace line");
        tracing::debug!(target: "cfg", step = 1, "debug line");
        tracing::info!(target: "cfg", step = 2, "info line");
        tracing::warn!(target: "cfg", "warn line");
    });
    tracing::info!(target: "cfg", "outside");
}

/// Runs the child with `RUST_LOG` set to `rust_log` (or unset), returns its `cfg` lines with
/// the timestamp checked and cut off.
fn lines_of_child(rust_log: Option<&str>) -> Vec<String> {
    child_output(rust_log.map(OsStr::new)).0
}

/// Runs the child with `RUST_LOG` set to `rust_log` (or unset), returns its `cfg` lines with
/// the timestamp checked and cut off, and its stderr.
fn child_output(rust_log: Option<&OsStr>) -> (Vec<String>, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        TEST,
        "--nocapture",
        "--quiet",
        "--test-threads=1",
    ])
    .env(CHILD, "1");
    match rust_log {
        Some(value) => cmd.env("RUST_LOG", value),
        None => cmd.env_remove("RUST_LOG"),
    };
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "child with RUST_LOG={rust_log:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout
        .lines()
        .filter(|l| l.contains(" cfg - "))
        .map(|line| {
            // The default layout: `[timestamp] [run] [trace] LEVEL target - message fields`.
            let stamp = query::parse_line(line.as_bytes())
                .unwrap_or_else(|| panic!("not a default line: {line:?}"));
            let micros = stamp.timestamp_micros().expect("an RFC 3339 timestamp");
            assert!(micros > 1_700_000_000_000_000, "{line}");
            let ts = stamp.timestamp.as_deref().unwrap();
            assert_eq!(ts.len(), "2024-01-01T10:00:00.000000Z".len(), "{line}");
            assert!(ts.ends_with('Z'), "{line}");
            line.strip_prefix(&format!("[{ts}] "))
                .unwrap_or_else(|| panic!("no timestamp first: {line:?}"))
                .to_owned()
        })
        .collect();
    (lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn configure_logging_writes_default_lines_at_info_unless_rust_log_says() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let info = [
        "[backtest_cfg1] [89abcdef] INFO cfg - info line step=2",
        "[backtest_cfg1] [89abcdef] WARN cfg - warn line",
        "[-] [-] INFO cfg - outside",
    ];
    // No `RUST_LOG` (or an empty one): INFO and above.
    assert_eq!(lines_of_child(None), info);
    assert_eq!(lines_of_child(Some("")), info);
    // `RUST_LOG` when set: DEBUG comes through, or only warnings.
    let mut debug = vec!["[backtest_cfg1] [89abcdef] DEBUG cfg - debug line step=1"];
    debug.extend(info);
    assert_eq!(lines_of_child(Some("debug")), debug);
    assert_eq!(
        lines_of_child(Some("warn")),
        ["[backtest_cfg1] [89abcdef] WARN cfg - warn line"]
    );
}

/// `RUST_LOG` from outside, garbage in part: the valid directives still apply, and each one
/// left out is said on stderr, escaped (tracing-subscriber printed it as it was, a terminal
/// sequence reaching the terminal). A value that is not UTF-8 is said too, not taken for an
/// empty one without a word.
#[test]
fn garbage_in_rust_log_is_left_out_and_said_escaped() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let (lines, stderr) = child_output(Some(OsStr::new("warn,\u{1b}[2Jcfg=loud,=,cfg[{x=")));
    assert_eq!(lines, ["[backtest_cfg1] [89abcdef] WARN cfg - warn line"]);
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    for left_out in ["\\u{1b}[2Jcfg=loud", "=", "cfg[{x="] {
        let said = format!("tracectx: ignoring the RUST_LOG directive \"{left_out}\": ");
        assert!(stderr.contains(&said), "{said}: {stderr}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let (lines, stderr) = child_output(Some(OsStr::from_bytes(b"debug\xff")));
        assert_eq!(lines.len(), 3, "INFO and above: {lines:?}");
        assert!(
            stderr.contains("tracectx: ignoring RUST_LOG, which is not UTF-8: \"debug"),
            "{stderr}"
        );
    }
}
