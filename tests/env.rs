//! Child processes: a parent's context in `TRACEPARENT`, `TRACESTATE` and `BAGGAGE`, set by
//! `CommandExt` and read by `extract_env` in real child processes. The child is this test
//! binary run again, filtered to the test that launched it, with `TRACECTX_TEST_CHILD` saying
//! what to do there instead of the test's own body.

use std::collections::HashMap;
use std::process::{Command, Output};

use tracectx::prelude::*;
use tracectx::propagation::{self, CommandExt as _, Environment, Extractor as _, TraceParent};

/// The variable that makes a run of this binary a child, and says which part it plays.
const ROLE: &str = "TRACECTX_TEST_CHILD";

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// === the child's side ===

/// What a child saw: `extract_env()` and the three variables as they were.
#[derive(Debug, Default)]
struct Report(HashMap<String, String>);

impl Report {
    fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("-", String::as_str)
    }

    /// The report of the line `REPORT <tag> k=v ...` in `text`.
    fn find(text: &str, tag: &str) -> Self {
        let prefix = format!("REPORT {tag} ");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {tag} report in:\n{text}"));
        Self(
            line.split(' ')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

/// Prints what this process sees, as one `REPORT <tag>` line.
fn report(tag: &str) {
    let ctx = propagation::extract_env();
    let var = |name| std::env::var(name).unwrap_or_else(|_| "-".into());
    // Values with spaces or `=` would break the line: the variables' values have none that the
    // tests set but baggage's `=`, which the split at the first `=` keeps.
    println!(
        "\nREPORT {tag} run={} trace={} span={} parent={} state={} TRACEPARENT={} TRACESTATE={} BAGGAGE={}",
        ctx.as_ref().map_or("-".into(), |c| c.run_id().to_string()),
        ctx.as_ref()
            .map_or("-".into(), |c| format!("{:x}", c.trace_id())),
        ctx.as_ref().map_or("-".into(), |c| c.span_id().to_string()),
        ctx.as_ref()
            .and_then(|c| c.parent_span_id())
            .map_or("-".into(), |p| p.to_string()),
        ctx.as_ref().and_then(|c| c.trace_state()).unwrap_or("-"),
        var("TRACEPARENT"),
        var("TRACESTATE"),
        var("BAGGAGE"),
    );
}

/// If this process is a child, does its part and returns `true`: the calling test then
/// returns at once.
fn child_part() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    match role.as_str() {
        "report" => report("child"),
        // Reports what it inherited, then launches a grandchild outside any scope, relaying
        // its report.
        "launch-outside-scope" => {
            report("child");
            let out = this_test_as_child("report")
                .with_current_trace_context()
                .output()
                .unwrap();
            print!(
                "{}",
                String::from_utf8_lossy(&out.stdout).replace("REPORT child", "REPORT grandchild")
            );
        }
        // Launches a grandchild from a run of its own (which carries no tracestate).
        "launch-in-own-run" => {
            report("child");
            let ctx = TraceContext::new("child_run").unwrap();
            let out = ctx
                .sync_scope(|| {
                    this_test_as_child("report")
                        .with_current_trace_context()
                        .output()
                })
                .unwrap();
            print!(
                "{}",
                String::from_utf8_lossy(&out.stdout).replace("REPORT child", "REPORT grandchild")
            );
        }
        other => panic!("unknown child role {other:?}"),
    }
    true
}

// === the parent's side ===

/// This test binary, filtered to the test running now, as a child playing `role`.
fn this_test_as_child(role: &str) -> Command {
    let name = std::thread::current()
        .name()
        .expect("libtest names test threads")
        .to_owned();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role);
    cmd
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The `TRACEPARENT` a command was given, parsed.
fn sent_traceparent(cmd: &Command) -> TraceParent {
    let value = cmd
        .get_envs()
        .find(|(k, _)| *k == "TRACEPARENT")
        .and_then(|(_, v)| v)
        .expect("TRACEPARENT set");
    TraceParent::parse(value.to_str().unwrap()).unwrap()
}

fn context_with_state(run: &str) -> TraceContext {
    let state =
        propagation::TraceState::parse(["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]).unwrap();
    TraceContext::new(run)
        .unwrap()
        .with_trace_state(Some(state))
}

// === std::process::Command ===

#[test]
fn std_child_continues_the_parents_run_and_trace() {
    if child_part() {
        return;
    }
    let ctx = context_with_state("sweep_7");
    let mut cmd = this_test_as_child("report");
    ctx.sync_scope(|| cmd.with_current_trace_context());
    let sent = sent_traceparent(&cmd);
    let child = Report::find(&stdout(&cmd.output().unwrap()), "child");

    assert_eq!(child.get("run"), "sweep_7");
    assert_eq!(child.get("trace"), format!("{:x}", ctx.trace_id()));
    assert_eq!(
        child.get("state"),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    assert_eq!(child.get("BAGGAGE"), "run_id=sweep_7");
    // The launch is a span of its own, a child of the parent's: the child's parent.
    assert_eq!(child.get("parent"), sent.parent_id().to_string());
    assert_ne!(sent.parent_id(), ctx.span_id());
    assert_ne!(child.get("span"), sent.parent_id().to_string());
    assert_ne!(child.get("span"), ctx.span_id().to_string());
}

#[test]
fn std_child_launched_with_an_explicit_context_gets_that_context() {
    if child_part() {
        return;
    }
    let ctx = TraceContext::new("explicit_run").unwrap();
    let other = TraceContext::new("current_run").unwrap();
    let mut cmd = this_test_as_child("report");
    // Inside another scope: the explicit context wins.
    other.sync_scope(|| cmd.with_trace_context(&ctx));
    let child = Report::find(&stdout(&cmd.output().unwrap()), "child");
    assert_eq!(child.get("run"), "explicit_run");
    assert_eq!(child.get("trace"), format!("{:x}", ctx.trace_id()));
    assert_eq!(child.get("TRACESTATE"), "-", "none to pass, none set");
}

#[test]
fn child_launched_outside_any_scope_joins_no_inherited_trace() {
    if child_part() {
        return;
    }
    // The child is given a trace in its environment; it launches a grandchild outside any
    // scope, which must not inherit it.
    let out = this_test_as_child("launch-outside-scope")
        .env("TRACEPARENT", VALID)
        .env("TRACESTATE", "rojo=1")
        .env("BAGGAGE", "run_id=inherited_run")
        .output()
        .unwrap();
    let text = stdout(&out);
    let child = Report::find(&text, "child");
    assert_eq!(
        child.get("run"),
        "inherited_run",
        "the child did inherit it"
    );
    let grandchild = Report::find(&text, "grandchild");
    for key in ["run", "trace", "TRACEPARENT", "TRACESTATE", "BAGGAGE"] {
        assert_eq!(grandchild.get(key), "-", "{key}: {text}");
    }
}

#[test]
fn child_launched_from_a_run_without_tracestate_does_not_inherit_one() {
    if child_part() {
        return;
    }
    let out = this_test_as_child("launch-in-own-run")
        .env("TRACEPARENT", VALID)
        .env("TRACESTATE", "rojo=1")
        .env("BAGGAGE", "run_id=inherited_run")
        .output()
        .unwrap();
    let text = stdout(&out);
    let grandchild = Report::find(&text, "grandchild");
    assert_eq!(grandchild.get("run"), "child_run");
    assert_ne!(grandchild.get("trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(grandchild.get("TRACESTATE"), "-");
    assert_eq!(grandchild.get("state"), "-");
    // Nor the baggage of the environment it was itself launched with.
    assert_eq!(grandchild.get("BAGGAGE"), "run_id=child_run");
}

#[test]
fn baggage_set_on_the_command_is_kept_beside_the_run_id() {
    if child_part() {
        return;
    }
    let ctx = TraceContext::new("sweep_7").unwrap();
    for set_after in [false, true] {
        let mut cmd = this_test_as_child("report");
        if !set_after {
            cmd.env("BAGGAGE", "tenant=acme,run_id=someone_else");
        }
        ctx.sync_scope(|| cmd.with_current_trace_context());
        if set_after {
            // Set after: the application's own value wins, as `env` always does.
            cmd.env("BAGGAGE", "tenant=acme");
        }
        let child = Report::find(&stdout(&cmd.output().unwrap()), "child");
        if set_after {
            assert_eq!(child.get("BAGGAGE"), "tenant=acme");
        } else {
            assert_eq!(child.get("BAGGAGE"), "run_id=sweep_7,tenant=acme");
            assert_eq!(child.get("run"), "sweep_7");
        }
    }
}

#[test]
fn child_with_invalid_variables_starts_no_trace() {
    if child_part() {
        return;
    }
    for (traceparent, baggage) in [
        ("garbage", "run_id=job_1"),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "run_id=job_1",
        ),
        (&*format!("{VALID}\u{1b}[31m"), "run_id=job_1"),
    ] {
        let out = this_test_as_child("report")
            .env("TRACEPARENT", traceparent)
            .env("BAGGAGE", baggage)
            .output()
            .unwrap();
        let child = Report::find(&stdout(&out), "child");
        assert_eq!(child.get("run"), "-", "{traceparent:?}");
    }
    // A valid trace with a run id a log line could not hold: the run is derived.
    let out = this_test_as_child("report")
        .env("TRACEPARENT", VALID)
        .env("BAGGAGE", "run_id=a%0Ab")
        .output()
        .unwrap();
    let child = Report::find(&stdout(&out), "child");
    assert_eq!(child.get("run"), "trace_4bf92f3577b34da6a3ce929d0e0e4736");
}

#[cfg(unix)]
#[test]
fn child_with_huge_or_unreadable_variables_reads_what_the_limits_allow() {
    if child_part() {
        return;
    }
    use std::os::unix::ffi::OsStrExt as _;
    // Close to Linux's 128 KiB limit on one variable.
    let filler: Vec<String> = (0..12_000).map(|i| format!("k{i}=v")).collect();
    let filler = filler.join(",");
    let child = |vars: &[(&str, &std::ffi::OsStr)]| {
        let mut cmd = this_test_as_child("report");
        cmd.envs(vars.iter().copied());
        Report::find(&stdout(&cmd.output().unwrap()), "child")
    };
    let os = |s: &str| std::ffi::OsString::from(s);

    // The run id first: kept, whatever follows.
    let first = os(&format!("run_id=sweep_7,{filler}"));
    let got = child(&[("TRACEPARENT", VALID.as_ref()), ("BAGGAGE", &first)]);
    assert_eq!(got.get("run"), "sweep_7");
    // The run id past the limits: dropped, the run derived from the trace.
    let last = os(&format!("{filler},run_id=sweep_7"));
    let got = child(&[("TRACEPARENT", VALID.as_ref()), ("BAGGAGE", &last)]);
    assert_eq!(got.get("run"), "trace_4bf92f3577b34da6a3ce929d0e0e4736");
    // A tracestate past its limits is dropped; the trace goes on.
    let state = os(&filler);
    let got = child(&[("TRACEPARENT", VALID.as_ref()), ("TRACESTATE", &state)]);
    assert_eq!(got.get("trace"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(got.get("state"), "-");
    // A TRACEPARENT that is not UTF-8: no context, no panic.
    let mut bytes = VALID.as_bytes().to_vec();
    bytes[3] = 0xff;
    let got = child(&[
        ("TRACEPARENT", std::ffi::OsStr::from_bytes(&bytes)),
        ("BAGGAGE", "run_id=sweep_7".as_ref()),
    ]);
    assert_eq!(got.get("run"), "-");
}

// === tokio::process::Command ===

#[cfg(feature = "tokio-process")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_children_of_many_runs_each_continue_their_own_run() {
    if child_part() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let name = std::thread::current().name().unwrap().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (exe, name) = (exe.clone(), name.clone());
        let ctx = TraceContext::new(&format!("sweep_{i}")).unwrap();
        tasks.spawn(
            async move {
                tokio::task::yield_now().await;
                let mut cmd = tokio::process::Command::new(exe);
                cmd.args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
                    .env(ROLE, "report")
                    .with_current_trace_context();
                let out = cmd.output().await.unwrap();
                let ctx = tracectx::current().unwrap();
                (ctx, String::from_utf8(out.stdout).unwrap())
            }
            .in_trace_context(ctx),
        );
    }
    let mut parents = std::collections::HashSet::new();
    while let Some(done) = tasks.join_next().await {
        let (ctx, text) = done.unwrap();
        let child = Report::find(&text, "child");
        assert_eq!(child.get("run"), ctx.run_id().as_str());
        assert_eq!(child.get("trace"), format!("{:x}", ctx.trace_id()));
        assert_ne!(child.get("parent"), ctx.span_id().to_string());
        assert!(parents.insert(child.get("parent").to_owned()));
    }
    assert_eq!(parents.len(), 12);
}

#[cfg(feature = "tokio-process")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_command_keeps_the_baggage_set_on_it() {
    let ctx = TraceContext::new("sweep_7").unwrap();
    let mut cmd = tokio::process::Command::new("worker");
    cmd.env("BAGGAGE", "tenant=acme");
    async { cmd.with_current_trace_context() }
        .in_trace_context(ctx)
        .await;
    let baggage = cmd
        .as_std()
        .get_envs()
        .find(|(k, _)| *k == "BAGGAGE")
        .and_then(|(_, v)| v.map(|v| v.to_owned()));
    assert_eq!(
        baggage.as_deref(),
        Some(std::ffi::OsStr::new("run_id=sweep_7,tenant=acme"))
    );
}

#[cfg(feature = "tokio-process")]
#[tokio::test(flavor = "current_thread")]
async fn tokio_child_launched_outside_any_scope_gets_no_variables() {
    if child_part() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let name = std::thread::current().name().unwrap().to_owned();
    let out = tokio::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, "report")
        .env("TRACEPARENT", VALID)
        .with_current_trace_context()
        .output()
        .await
        .unwrap();
    let child = Report::find(&String::from_utf8(out.stdout).unwrap(), "child");
    assert_eq!(child.get("TRACEPARENT"), "-");
    assert_eq!(child.get("run"), "-");
}

// === the carrier ===

#[test]
fn environment_carrier_maps_header_names_to_variables() {
    let ctx = context_with_state("job_1");
    let mut env = Environment::new();
    propagation::inject(&ctx, &mut env);
    let vars: Vec<(&str, &str)> = env.iter().collect();
    assert_eq!(vars[0].0, "TRACEPARENT");
    assert_eq!(
        vars[1],
        ("TRACESTATE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    );
    assert_eq!(vars[2], ("BAGGAGE", "run_id=job_1"));
    // Read back by header name, in any case.
    assert_eq!(env.get_all("Baggage").collect::<Vec<_>>(), ["run_id=job_1"]);
    let there = propagation::extract(&env).unwrap();
    assert_eq!(there.parent_span_id(), Some(ctx.span_id()));
}

#[test]
fn environment_carrier_keeps_only_exact_variable_names() {
    let env = Environment::from_vars([
        ("traceparent", VALID),
        ("TraceParent", VALID),
        ("HOME", "/root"),
        ("BAGGAGE", "run_id=job_1"),
    ]);
    assert_eq!(
        env.iter().collect::<Vec<_>>(),
        [("BAGGAGE", "run_id=job_1")]
    );
    assert!(propagation::extract(&env).is_none(), "no TRACEPARENT");
}

#[cfg(unix)]
#[test]
fn environment_carrier_reports_values_that_are_not_text() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;

    let env = Environment::from_vars([
        (OsStr::new("TRACEPARENT"), OsStr::from_bytes(b"00-\xff")),
        (OsStr::new("BAGGAGE"), OsStr::new("run_id=job_1")),
    ]);
    assert_eq!(
        env.get_all("traceparent").collect::<Vec<_>>(),
        [propagation::UNREADABLE]
    );
    assert!(propagation::extract(&env).is_none());
}
