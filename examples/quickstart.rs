//! Several units of work run at once, each in its own trace context, and show what they see
//! from async tasks, the blocking pool and a plain thread.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::time::Duration;

use tracectx::prelude::*;

/// One unit of work: it never receives its run id, it finds it.
async fn session(steps: u32) -> Vec<String> {
    let mut seen = Vec::new();
    for step in 0..steps {
        tokio::time::sleep(Duration::from_millis(5)).await;
        seen.push(format!("async step {step}: {}", here()));
    }
    let child = tracectx::spawn_traced(async { format!("spawned task: {}", here()) });
    let blocking = tracectx::spawn_blocking_traced(|| format!("blocking pool: {}", here()));
    let thread = tracectx::thread::spawn(|| format!("plain thread: {}", here()));
    let untraced = tokio::spawn(async { format!("plain tokio::spawn: {}", here()) });
    seen.push(child.await.expect("task"));
    seen.push(blocking.await.expect("blocking task"));
    seen.push(thread.join().expect("thread"));
    seen.push(untraced.await.expect("task"));
    seen
}

/// What the current context says, as a log line would show it.
fn here() -> String {
    match tracectx::current() {
        Some(ctx) => format!("[{}] [{}]", ctx.run_id(), ctx.trace_id()),
        None => "[-] [-] (no context)".to_owned(),
    }
}

#[tokio::main]
async fn main() {
    let mut sessions = tokio::task::JoinSet::new();
    for steps in [2, 3, 4] {
        let ctx = TraceContext::generate("backtest");
        let run_id = ctx.run_id().clone();
        sessions.spawn(async move { (run_id, session(steps).await) }.in_trace_context(ctx));
    }
    while let Some(done) = sessions.join_next().await {
        let (run_id, seen) = done.expect("session");
        println!("{run_id}");
        for line in seen {
            println!("    {line}");
        }
    }
    println!("outside any session: {}", here());
}
