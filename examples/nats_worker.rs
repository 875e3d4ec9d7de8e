//! A run that crosses a message bus: a publisher sends messages over NATS with its context in
//! their headers (`traceparent`, `tracestate`, `baggage`), each message a span of its own; a
//! subscriber in another process handles every message in that context, so its log lines are
//! stamped with the publisher's run and trace.
//!
//! ```sh
//! nats-server -a 127.0.0.1 -p 4222 &
//! cargo run --example nats_worker --features nats -- subscribe --subject fills --count 3 --log-file worker.log &
//! cargo run --example nats_worker --features nats -- publish --subject fills --run live_eu --count 3
//! tracectx logs live_eu worker.log
//! ```
//!
//! Both print `key=value` lines on stdout. The publisher: its `run_id`, `trace_id`, `span_id`,
//! then `sent.N=<traceparent>` per message. The subscriber: `ready` once subscribed, then per
//! message `message.N.<field>` (`run_id`, `trace_id`, `span_id`, `parent_span_id`, `payload`).
//! `--server URL` (default `127.0.0.1:4222`); the subscriber trusts the publishers' run ids
//! unless started with `--own-run` (for subjects outsiders can publish to), and handles each
//! message in a task of its own (`spawn_traced`), many at once, with `--spawn`. The publisher
//! with `--runs K` publishes from K runs at once over its one connection, `<run>_<k>` each,
//! `--count` messages each, the payload naming the run (`fill <i> <run>`), and prints
//! `run_id.<k>` and `trace_id.<k>` instead of the single run's lines. A message's
//! `parent_span_id` is the span it was sent from (the span id in `sent.N`). The NATS client's
//! own lines (`connected`) are logged outside any run and show `[-] [-]` where a run id and
//! trace id would be.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt as _;
use tracectx::prelude::*;
use tracectx::propagation::{self, RunPolicy};

async fn subscribe(client: async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
    let subject = support::arg("--subject").unwrap_or_else(|| "fills".to_owned());
    let count: usize = support::arg("--count").map_or(Ok(1), |n| n.parse())?;
    let policy = if std::env::args().any(|a| a == "--own-run") {
        RunPolicy::OwnRun
    } else {
        RunPolicy::TrustCaller
    };
    let messages = client.subscribe(subject).await?;
    client.flush().await?;
    println!("ready");

    let spawn = std::env::args().any(|a| a == "--spawn");
    let seen = AtomicUsize::new(0);
    let tasks = std::sync::Mutex::new(tokio::task::JoinSet::new());
    propagation::for_each_message(messages.take(count), policy, |message| {
        let i = seen.fetch_add(1, Ordering::Relaxed);
        let handle = async move {
            // Handed to another task and worker thread: the context goes along.
            tokio::task::yield_now().await;
            let payload = String::from_utf8_lossy(&message.payload).into_owned();
            tracing::info!(subject = %message.subject, %payload, "message handled");
            let ctx = tracectx::current().expect("the handler runs in a context");
            // One write per message, so that concurrent handlers' lines never interleave.
            println!(
                "message.{i}.run_id={}\nmessage.{i}.trace_id={:x}\nmessage.{i}.span_id={}\n\
                 message.{i}.parent_span_id={}\nmessage.{i}.payload={payload}",
                ctx.run_id(),
                ctx.trace_id(),
                ctx.span_id(),
                ctx.parent_span_id().map_or("-".into(), |p| p.to_string())
            );
        };
        let inline = if spawn {
            let mut tasks = tasks.lock().unwrap_or_else(|e| e.into_inner());
            tracectx::JoinSetExt::spawn_traced(&mut *tasks, handle);
            None
        } else {
            Some(handle)
        };
        async move {
            if let Some(handle) = inline {
                handle.await;
            }
        }
    })
    .await;
    let mut tasks = tasks.into_inner().unwrap_or_else(|e| e.into_inner());
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(())
}

async fn publish(client: async_nats::Client) -> Result<(), Box<dyn std::error::Error>> {
    let subject = support::arg("--subject").unwrap_or_else(|| "fills".to_owned());
    let count: usize = support::arg("--count").map_or(Ok(1), |n| n.parse())?;
    let runs: usize = support::arg("--runs").map_or(Ok(1), |n| n.parse())?;
    if runs > 1 {
        return publish_from_runs(client, &subject, runs, count).await;
    }
    let ctx = match support::arg("--run") {
        Some(run) => TraceContext::new(&run)?,
        None => TraceContext::generate("live"),
    };
    println!("run_id={}", ctx.run_id());
    println!("trace_id={:x}", ctx.trace_id());
    println!("span_id={}", ctx.span_id());
    for i in 0..count {
        let mut headers = async_nats::HeaderMap::new();
        // Each message from a span of its own, a child of the run's.
        let sent = ctx.sync_scope(|| {
            tracing::info!(i, "publishing");
            propagation::inject_current(&mut headers)
        });
        let traceparent = headers.get("traceparent").map(|v| v.as_str().to_owned());
        println!("sent.{i}={}", traceparent.as_deref().unwrap_or("-"));
        debug_assert!(sent.is_some());
        client
            .publish_with_headers(subject.clone(), headers, format!("fill {i}").into())
            .await?;
    }
    client.flush().await?;
    Ok(())
}

/// `runs` runs publishing at once over one connection, `count` messages each.
async fn publish_from_runs(
    client: async_nats::Client,
    subject: &str,
    runs: usize,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = support::arg("--run").unwrap_or_else(|| "live".to_owned());
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..runs {
        let ctx = TraceContext::new(&format!("{base}_{k}"))?;
        println!("run_id.{k}={}", ctx.run_id());
        println!("trace_id.{k}={:x}", ctx.trace_id());
        let (client, subject) = (client.clone(), subject.to_owned());
        let publish = async move {
            for i in 0..count {
                tokio::task::yield_now().await;
                let mut headers = async_nats::HeaderMap::new();
                propagation::inject_current(&mut headers);
                let run = tracectx::get_run_id()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                client
                    .publish_with_headers(
                        subject.clone(),
                        headers,
                        format!("fill {i} {run}").into(),
                    )
                    .await?;
            }
            Ok::<_, async_nats::PublishError>(())
        };
        tasks.spawn(publish.in_trace_context(ctx));
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    client.flush().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), support::Failure> {
    support::init_logging()?;
    let server = support::arg("--server").unwrap_or_else(|| "127.0.0.1:4222".to_owned());
    let client = async_nats::connect(server).await?;
    match std::env::args().nth(1).as_deref() {
        Some("subscribe") => Ok(subscribe(client).await?),
        Some("publish") => Ok(publish(client).await?),
        _ => Err("usage: nats_worker subscribe|publish [--server URL] [--subject S] [--count N] [--run RUN] [--runs K] [--own-run] [--spawn] [--log-file F]".into()),
    }
}
