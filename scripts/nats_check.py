"""NATS: examples/nats_worker.rs publishers and subscribers in separate processes share the
run and the trace through a real nats-server; and interop with nats-py plus the OpenTelemetry
Python SDK's propagators, both ways.

Usage: nats_check.py BINARY SERVER_URL WORKDIR
Prints "N passed, N failed" and exits non-zero on any failure.
"""

import asyncio
import os
import re
import subprocess
import sys

import nats
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, readline, run_bounded, run_checks, stop  # noqa: E402

BINARY, SERVER, WORKDIR = sys.argv[1], sys.argv[2], sys.argv[3]
check = Checks()
trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("nats_check")
STAMP = re.compile(r"^\[[^\]]+\] \[([^\]]+)\] \[([0-9a-f]{8}|-)\] ")
procs = []
subject_number = 0


def subject():
    global subject_number
    subject_number += 1
    return f"tracectx.check.{subject_number}"


def start_subscriber(subj, count, *flags):
    """A Rust subscriber process, ready (subscribed) when this returns."""
    log = os.path.join(WORKDIR, f"{subj}.log")
    proc = subprocess.Popen(
        [BINARY, "subscribe", "--server", SERVER, "--subject", subj, "--count", str(count), "--log-file", log, *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    line = readline(proc.stdout, timeout=30)
    if line is None or line.strip() != "ready":
        raise RuntimeError(f"the subscriber did not get ready: {line!r}")
    return proc, log


def finish_subscriber(proc):
    """The subscriber's key=value lines, once it handled its messages and left."""
    out, _ = proc.communicate(timeout=30)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def rust_publish(subj, run, count):
    out = run_bounded(
        [BINARY, "publish", "--server", SERVER, "--subject", subj, "--run", run, "--count", str(count)], timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"publisher failed: {out.stdout}\n{out.stderr}")
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def stamped(log, run_id, trace_id):
    with open(log, encoding="utf-8", errors="replace") as f:
        return [l for l in f if (m := STAMP.match(l)) and m.group(1) == run_id and m.group(2) == trace_id[-8:]]


async def py_publish(subj, headers_list):
    nc = await nats.connect(SERVER)
    try:
        for i, headers in enumerate(headers_list):
            await nc.publish(subj, f"py {i}".encode(), headers=headers)
        await nc.flush(timeout=10)
    finally:
        await nc.close()


async def py_subscribe_then(subj, count, publish):
    """Subscribes with nats-py, runs `publish()` (blocking, in a thread), and returns the
    context the OpenTelemetry propagators extract from each message's headers."""
    nc = await nats.connect(SERVER)
    try:
        sub = await nc.subscribe(subj)
        await nc.flush(timeout=10)
        published = await asyncio.to_thread(publish)
        got = []
        for _ in range(count):
            msg = await sub.next_msg(timeout=10)
            ctx = propagate.extract(msg.headers or {})
            sc = trace.get_current_span(ctx).get_span_context()
            got.append(
                {
                    "trace_id": format(sc.trace_id, "032x") if sc.is_valid else "-",
                    "parent_span_id": format(sc.span_id, "016x") if sc.is_valid else "-",
                    "run_id": baggage.get_baggage("run_id", ctx) or "-",
                    "traceparent": (msg.headers or {}).get("traceparent", "-"),
                }
            )
        return published, got
    finally:
        await nc.close()


def otel_headers(run_id):
    """Headers as an OpenTelemetry-instrumented publisher writes them, from a span of its own."""
    token = context.attach(baggage.set_baggage("run_id", run_id)) if run_id else None
    try:
        with tracer.start_as_current_span("publish") as span:
            headers = {}
            propagate.inject(headers)
            return headers, format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x")
    finally:
        if token is not None:
            context.detach(token)


def body():
    # 1. Rust publisher and Rust subscriber, two processes.
    subj = subject()
    sub, log = start_subscriber(subj, 3)
    pub = rust_publish(subj, "live_eu", 3)
    got = finish_subscriber(sub)
    msgs = [{k.split(".", 2)[2]: v for k, v in got.items() if k.startswith(f"message.{i}.")} for i in range(3)]
    check("Rust subscriber handles every message in the publisher's run", all(m["run_id"] == "live_eu" for m in msgs), got)
    check("and in its trace", all(m["trace_id"] == pub["trace_id"] for m in msgs), (pub, got))
    sent_parents = [pub[f"sent.{i}"].split("-")[2] for i in range(3)]
    check(
        "each message's parent is its own publish span",
        [m["parent_span_id"] for m in msgs] == sent_parents and len(set(sent_parents)) == 3 and pub["span_id"] not in sent_parents,
        (pub, got),
    )
    check("the handler's log lines are stamped with the run and trace", len(stamped(log, "live_eu", pub["trace_id"])) == 3)

    # 2. nats-py publisher with the OpenTelemetry propagators, Rust subscriber.
    subj = subject()
    sub, log = start_subscriber(subj, 2)
    headers, trace_id, span_id = otel_headers("live_py")
    asyncio.run(py_publish(subj, [headers, headers]))
    got = finish_subscriber(sub)
    check(
        "Rust subscriber continues the Python publisher's run and trace",
        got["message.0.run_id"] == "live_py" and got["message.0.trace_id"] == trace_id,
        got,
    )
    check("with the Python publish span as parent", got["message.0.parent_span_id"] == span_id, got)
    check("and logs in it", len(stamped(log, "live_py", trace_id)) == 2)

    # 3. Rust publisher, nats-py subscriber extracting with the OpenTelemetry propagators.
    subj = subject()
    pub, got = asyncio.run(py_subscribe_then(subj, 2, lambda: rust_publish(subj, "live_rs", 2)))
    check("Python subscriber reads the Rust publisher's trace", all(g["trace_id"] == pub["trace_id"] for g in got), (pub, got))
    check("and the run id from baggage", all(g["run_id"] == "live_rs" for g in got), got)
    check(
        "each message's parent is its publish span",
        [g["parent_span_id"] for g in got] == [pub[f"sent.{i}"].split("-")[2] for i in range(2)],
        (pub, got),
    )

    # 4. Bad headers: the handler still runs, in a fresh run; a hostile run id files nothing.
    subj = subject()
    sub, log = start_subscriber(subj, 3)
    good, trace_id, _ = otel_headers(None)
    asyncio.run(
        py_publish(
            subj,
            [
                {"traceparent": "garbage", "baggage": "run_id=live_bad"},
                {"traceparent": good["traceparent"].upper(), "baggage": "run_id=live_bad"},
                {"traceparent": good["traceparent"], "baggage": "run_id=x%0A%5Bforged%5D"},
            ],
        )
    )
    got = finish_subscriber(sub)
    check(
        "bad traceparents: handled in fresh message_ runs",
        got["message.0.run_id"].startswith("message_") and got["message.1.run_id"].startswith("message_"),
        got,
    )
    check(
        "a run id that could break a log line is not used",
        got["message.2.run_id"] == f"trace_{trace_id}",
        got,
    )
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    check("no forged line", "[forged]" not in text and all(STAMP.match(l) for l in text.splitlines()))

    # 5. A subscriber for a subject outsiders publish to: runs of its own, claims recorded.
    subj = subject()
    sub, log = start_subscriber(subj, 1, "--own-run")
    headers, trace_id, _ = otel_headers("backtest_victim")
    asyncio.run(py_publish(subj, [headers]))
    got = finish_subscriber(sub)
    check(
        "own-run subscriber: a run of its own, the trace kept",
        got["message.0.run_id"].startswith("message_") and got["message.0.trace_id"] == trace_id,
        got,
    )
    recorded = [l for l in stamped(log, got["message.0.run_id"], trace_id) if "caller_run_id=backtest_victim" in l]
    check("the claimed run id is recorded in the subscriber's own run", len(recorded) == 1, recorded)

    # 6. Many runs at once: 40 runs publishing 25 messages each over one connection, the
    # subscriber handling each message in a task of its own on a multi-thread runtime. Every
    # message is handled, and logged, in the run that sent it, none in another's.
    subj = subject()
    runs, each = 40, 25
    sub, log = start_subscriber(subj, runs * each, "--spawn")
    out = run_bounded(
        [BINARY, "publish", "--server", SERVER, "--subject", subj, "--run", "live_many",
         "--runs", str(runs), "--count", str(each)],
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"publisher failed: {out.stdout}\n{out.stderr}")
    pub = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    traces = {pub[f"run_id.{k}"]: pub[f"trace_id.{k}"] for k in range(runs)}
    got = finish_subscriber(sub)
    msgs = [{k.split(".", 2)[2]: v for k, v in got.items() if k.startswith(f"message.{i}.")} for i in range(runs * each)]
    check("every message of every run is handled", all("payload" in m for m in msgs), len(got))
    wrong = [m for m in msgs if "payload" in m and (m["payload"].split()[-1] != m["run_id"] or traces.get(m["run_id"]) != m["trace_id"])]
    check("each in the run and trace that sent it", not wrong, wrong[:3])
    check("each from a span of its own", len({m.get("parent_span_id") for m in msgs}) == runs * each)
    with open(log, encoding="utf-8", errors="replace") as f:
        handled = [l for l in f if "message handled" in l]
    misfiled = [
        l for l in handled
        if not (m := STAMP.match(l)) or m.group(1) not in traces or not l.rstrip("\n").endswith(f" {m.group(1)}")
        or traces[m.group(1)][-8:] != m.group(2)
    ]
    check("each log line stamped with its message's run and trace", len(handled) == runs * each and not misfiled, misfiled[:3])


run_checks(check, body, cleanup=lambda: stop(procs), deadline=300)
