//! A run that spans processes: a parent launches a child with its context in `TRACEPARENT`,
//! `TRACESTATE` and `BAGGAGE`; the child reads it in `main` and its log lines carry the
//! parent's run and trace, as a sweep's workers or a pipeline's steps would.
//!
//! ```sh
//! # A child: report the context found in the environment (stdout), log a stamped line (stderr).
//! cargo run --example child_process
//! # A parent: run `sweep_42` (or continue the run found in the environment when `--run` is not
//! # given) and launch a command with it; here, this example again as the child.
//! cargo run --example child_process -- --run sweep_42 -- target/debug/examples/child_process
//! # Launch outside any run: the child gets no trace variables, inherited or not.
//! cargo run --example child_process -- --outside -- env
//! ```
//!
//! Every process prints `key=value` lines on stdout: `run_id`, `trace_id` (32 hex), `span_id`
//! and `parent_span_id`, each `-` when there is none (no context in the environment, no parent
//! span); a parent then prints `sent_traceparent` (`-` when launched `--outside`), whose span id
//! is the launch's own span, a child of the parent's and the child's `parent_span_id`; then
//! what its child printed, each line prefixed with `child.`. Log lines go to stderr; one logged
//! outside any run shows `[-] [-]` where the run id and trace id would be. Any program can be
//! the child: an OpenTelemetry SDK reads the same variables.

mod support;

use std::process::{Command, ExitCode};

use tracectx::TraceContext;
use tracectx::propagation::{self, CommandExt as _};

/// Prints a context as `key=value` lines.
fn print_context(ctx: Option<&TraceContext>) {
    let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    println!("run_id={}", show(ctx.map(|c| c.run_id().to_string())));
    println!(
        "trace_id={}",
        show(ctx.map(|c| format!("{:x}", c.trace_id())))
    );
    println!("span_id={}", show(ctx.map(|c| c.span_id().to_string())));
    println!(
        "parent_span_id={}",
        show(ctx.and_then(|c| c.parent_span_id()).map(|p| p.to_string()))
    );
}

fn main() -> Result<ExitCode, support::Failure> {
    tracectx::logging::builder()
        .with_writer(std::io::stderr)
        .try_init()?;

    // What the parent passed, if anything: read once, first thing.
    let inherited = propagation::extract_env();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args
        .iter()
        .position(|a| a == "--")
        .map(|at| &args[at + 1..]);
    let Some([program, program_args @ ..]) = command else {
        // A child: say what it found, and log in it.
        print_context(inherited.as_ref());
        match &inherited {
            Some(ctx) => ctx.sync_scope(|| tracing::info!("child started in the parent's run")),
            None => tracing::info!("child started outside any run"),
        }
        return Ok(ExitCode::SUCCESS);
    };

    // A parent: the run to launch from.
    let ctx = if args.iter().any(|a| a == "--outside") {
        None
    } else {
        Some(match support::arg("--run") {
            Some(run) => TraceContext::new(&run)?,
            None => inherited.unwrap_or_else(|| TraceContext::generate("run")),
        })
    };
    print_context(ctx.as_ref());

    let mut cmd = Command::new(program);
    cmd.args(program_args);
    match &ctx {
        Some(ctx) => ctx.sync_scope(|| {
            tracing::info!(%program, "launching a child");
            cmd.with_current_trace_context()
        }),
        None => cmd.with_current_trace_context(),
    };
    let sent = cmd
        .get_envs()
        .find(|(k, _)| *k == "TRACEPARENT")
        .and_then(|(_, v)| v)
        .map(|v| v.to_string_lossy().into_owned());
    println!("sent_traceparent={}", sent.as_deref().unwrap_or("-"));

    let out = cmd.output()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("child.{line}");
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(if out.status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
