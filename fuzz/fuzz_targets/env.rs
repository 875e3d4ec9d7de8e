//! The environment carrier on arbitrary variables (names and values as raw bytes, not always
//! UTF-8): no panic; only `TRACEPARENT`, `TRACESTATE` and `BAGGAGE` are kept, each with its
//! last value (a value that is not text as `UNREADABLE`); they read as the same headers would;
//! and what a child is launched with (the command's own `BAGGAGE` among it) is printable
//! ASCII that the child reads back as the same run and trace.
#![no_main]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use libfuzzer_sys::fuzz_target;
use tracectx::propagation::{self, CommandExt, Environment, TraceParent, UNREADABLE};

const VARS: [&str; 3] = ["TRACEPARENT", "TRACESTATE", "BAGGAGE"];

fuzz_target!(|data: &[u8]| {
    // `NAME=VALUE` a line.
    let vars: Vec<(&OsStr, &OsStr)> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let eq = line.iter().position(|&b| b == b'=')?;
            Some((
                OsStr::from_bytes(&line[..eq]),
                OsStr::from_bytes(&line[eq + 1..]),
            ))
        })
        .collect();
    let env = Environment::from_vars(vars.iter().copied());
    let names: Vec<&str> = env.iter().map(|(k, _)| k).collect();
    assert!(
        names.len() <= 3 && names.iter().all(|n| VARS.contains(n)),
        "{names:?}"
    );
    for var in VARS {
        let last = vars
            .iter()
            .rev()
            .find(|(k, _)| k.as_bytes() == var.as_bytes())
            .map(|(_, v)| v.to_str().unwrap_or(UNREADABLE));
        let kept: Vec<&str> = env
            .iter()
            .filter(|(k, _)| *k == var)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(kept.first().copied(), last, "{var}");
        assert!(kept.len() <= 1, "{var} twice");
    }

    // The same values as HTTP headers read the same.
    let headers: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    let ids = |c: &tracectx::TraceContext| {
        (
            c.run_id().to_string(),
            c.trace_id(),
            c.parent_span_id(),
            c.trace_flags(),
            c.trace_state().map(str::to_owned),
            c.baggage().map(ToString::to_string),
        )
    };
    let from_env = propagation::extract(&env);
    assert_eq!(
        from_env.as_ref().map(ids),
        propagation::extract(&headers).as_ref().map(ids)
    );
    let Some(ctx) = from_env else { return };

    // This process launches a child, with the `BAGGAGE` the command was given as well.
    let mut cmd = Command::new("worker");
    if let Some((_, v)) = vars.iter().rev().find(|(k, _)| k.as_bytes() == b"BAGGAGE") {
        cmd.env("BAGGAGE", v);
    }
    cmd.with_trace_context(&ctx);
    let mut child_vars = Vec::new();
    for (k, v) in cmd.get_envs() {
        let Some(v) = v else { continue };
        let v = v.to_str().expect("a variable set for a child is text");
        assert!(
            v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)),
            "{k:?}={v:?}"
        );
        child_vars.push((k.to_owned(), v.to_owned()));
    }
    let child_env = Environment::from_vars(child_vars);
    let there = propagation::extract(&child_env).expect("the child reads its parent's context");
    assert_eq!(there.run_id(), ctx.run_id());
    assert_eq!(there.trace_id(), ctx.trace_id());
    assert_eq!(there.trace_state(), ctx.trace_state());
    let sent = child_env
        .iter()
        .find(|(k, _)| *k == "TRACEPARENT")
        .expect("TRACEPARENT set")
        .1;
    let parent = TraceParent::parse(sent).expect("a sent traceparent parses");
    assert_ne!(
        parent.parent_id(),
        ctx.span_id(),
        "the launch is a span of its own"
    );
    assert_eq!(there.parent_span_id(), Some(parent.parent_id()));
});
