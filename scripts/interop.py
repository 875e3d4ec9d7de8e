"""W3C Trace Context interop: the OpenTelemetry Python SDK's propagators talk to
examples/http_service.rs, as a public edge (a run of its own per request, the caller's run id
recorded) and as a service behind it (the caller's run trusted), alone and as a chain; the
trusting service passes the caller's other baggage on to the calls it makes, the edge does not.

Usage: interop.py BINARY WORKDIR
Prints "N passed, N failed" and exits non-zero on any failure.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, free_port, run_checks, stop  # noqa: E402

BINARY, WORKDIR = sys.argv[1], sys.argv[2]
check = Checks()


def start(name, *flags):
    port = free_port()
    log = os.path.join(WORKDIR, f"{name}.log")
    proc = subprocess.Popen([BINARY, "--port", str(port), "--log-file", log, *flags])
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port, log
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start on port {port}")


def recorder():
    """A loopback HTTP server that keeps the headers of every request it answers."""
    import http.server
    import threading

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append(self.headers)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def post(port, body, headers):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/test",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers)


def lines_with(log, needle, timeout=5.0):
    """The log lines containing `needle`, waiting for the service's writer to flush."""
    deadline = time.time() + timeout
    while True:
        try:
            with open(log, encoding="utf-8", errors="replace") as f:
                found = [l for l in f if needle in l]
        except FileNotFoundError:
            found = []
        if found or time.time() > deadline:
            return found
        time.sleep(0.1)


propagator = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
propagate.set_global_textmap(propagator)
trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("interop")

procs = []


STAMP = re.compile(r"^\[[^\]]+\] \[([^\]]+)\] \[([0-9a-f]{8}|-)\] ")


def runs_of(log, short_trace):
    """The run ids of the log lines stamped with this short trace id."""
    with open(log, encoding="utf-8", errors="replace") as f:
        return {m.group(1) for m in map(STAMP.match, f) if m and m.group(2) == short_trace}


def wait_for(log, needle):
    return len(lines_with(log, needle)) >= 1


def body():
    # `edge` is a public edge (the example's default); `inner` a service behind it.
    edge, port_edge, log_edge = start("edge")
    procs.append(edge)
    inner, port_inner, log_inner = start("inner", "--trust-caller")
    procs.append(inner)

    # 1. The edge: the OTel client's trace goes on, its run id does not choose the run.
    claimed = "interop_run_1"
    with tracer.start_as_current_span("client") as span:
        ctx = baggage.set_baggage("run_id", claimed)
        headers = {}
        propagate.inject(headers, context=ctx)
        trace_id = format(span.get_span_context().trace_id, "032x")
        status, resp_headers = post(port_edge, [], headers)
    check("edge answers 200", status == 200, status)
    tp = resp_headers.get("traceparent", "")
    check("edge response traceparent keeps the trace id", tp.split("-")[1:2] == [trace_id], tp)
    wait_for(log_edge, trace_id[-8:])
    runs = runs_of(log_edge, trace_id[-8:])
    check(
        "edge lines are stamped with a run of the edge's own and the short trace id",
        len(runs) == 1 and next(iter(runs)).startswith("request_"),
        runs,
    )
    check(
        "the caller's run id files no line at the edge",
        not lines_with(log_edge, f"[{claimed}]", timeout=0.5),
    )
    check(
        "the caller's run id is recorded in the edge's run",
        any(f"caller_run_id={claimed}" in line for line in lines_with(log_edge, trace_id[-8:])),
    )

    # 2. A chain: client -> edge -> inner. The inner service, trusting the edge, logs the
    # edge's run and the client's trace.
    with tracer.start_as_current_span("client-chain") as span:
        ctx = baggage.set_baggage("run_id", "interop_chain_2")
        headers = {}
        propagate.inject(headers, context=ctx)
        trace_id = format(span.get_span_context().trace_id, "032x")
        body = [{"url": f"http://127.0.0.1:{port_inner}/test", "arguments": []}]
        status, _ = post(port_edge, body, headers)
    check("chain answers 200", status == 200, status)
    wait_for(log_inner, trace_id[-8:])
    edge_runs = runs_of(log_edge, trace_id[-8:])
    inner_runs = runs_of(log_inner, trace_id[-8:])
    check(
        "the service behind the edge logs the edge's run and the client's trace",
        len(edge_runs) == 1 and edge_runs == inner_runs,
        (edge_runs, inner_runs),
    )

    # 3. Straight to the trusting service: the OTel client's run id is taken; without one, the
    # run id is derived from the trace; "-" is never a run.
    for label, run_id in [("a run id in baggage", "interop_direct_3"), ("none", None), ("-", "-")]:
        with tracer.start_as_current_span("client-direct") as span:
            ctx = baggage.set_baggage("run_id", run_id) if run_id else None
            headers = {}
            propagate.inject(headers, context=ctx)
            trace_id = format(span.get_span_context().trace_id, "032x")
            post(port_inner, [], headers)
        wait_for(log_inner, trace_id[-8:])
        expected = run_id if run_id and run_id != "-" else f"trace_{trace_id}"
        got = runs_of(log_inner, trace_id[-8:])
        check(f"trusting service runs the request ({label}) as {expected}", got == {expected}, got)

    # 4. Three calls made while handling one request: one trace, three parent ids, as the W3C
    # harness checks.
    server, received = recorder()
    try:
        with tracer.start_as_current_span("client-fanout") as span:
            headers = {}
            propagate.inject(headers)
            trace_id = format(span.get_span_context().trace_id, "032x")
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            post(port_inner, [{"url": url, "arguments": []}] * 3, headers)
    finally:
        server.shutdown()
    sent = [h.get_all("traceparent") or [] for h in received]
    check("three calls, one traceparent each", [len(s) for s in sent] == [1, 1, 1], sent)
    parts = [s[0].split("-") for s in sent if s]
    check("the calls keep the trace id", {p[1] for p in parts} == {trace_id}, parts)
    check("each call has a parent id of its own", len({p[2] for p in parts}) == 3, parts)
    extracted = [
        trace.get_current_span(propagate.extract({"traceparent": s[0]})).get_span_context()
        for s in sent
        if s
    ]
    check(
        "the OTel SDK reads every call's traceparent",
        all(c.is_valid and format(c.trace_id, "032x") == trace_id for c in extracted),
    )

    # 6. Baggage passed on: the OTel client sends its run id and a tenant; the trusting
    # service's call to the recorder carries both (read back by the OTel SDK's baggage
    # propagator), the edge's call neither the client's run id nor the tenant.
    for label, port in [("trusting service", port_inner), ("edge", port_edge)]:
        server, received = recorder()
        try:
            with tracer.start_as_current_span("client-baggage"):
                ctx = baggage.set_baggage("run_id", "interop_bag_6")
                ctx = baggage.set_baggage("tenant", "acme corp", context=ctx)
                headers = {}
                propagate.inject(headers, context=ctx)
                url = f"http://127.0.0.1:{server.server_address[1]}/"
                post(port, [{"url": url, "arguments": []}], headers)
        finally:
            server.shutdown()
        sent = [dict(h.items()) for h in received]
        got = baggage.get_all(propagate.extract(sent[0])) if len(sent) == 1 else None
        if port == port_inner:
            want = {"run_id": "interop_bag_6", "tenant": "acme corp"}
            check(f"the {label} passes the caller's baggage on", got == want, (got, sent))
        else:
            ok = got is not None and "tenant" not in got and got.get("run_id", "").startswith("req")
            check(f"the {label} passes on its own run only", ok, (got, sent))

    # 5. Hostile headers: an invalid traceparent starts a new trace; a claimed run id with an
    # encoded newline is recorded escaped, on one line.
    headers = {
        "traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "baggage": "run_id=evil%0A%5B2024-01-01%5D%20%5Bforged%5D",
    }
    status, resp_headers = post(port_edge, [], headers)
    check("invalid traceparent is answered", status == 200, status)
    tp = resp_headers.get("traceparent", "")
    check("and a new trace started", tp.count("-") == 3 and "0" * 32 not in tp, tp)
    recorded = lines_with(log_edge, "evil")
    check(
        "the hostile claim is recorded escaped, in a stamped line",
        len(recorded) == 1 and STAMP.match(recorded[0]) and 'caller_run_id="evil\\n[2024-01-01] [forged]"' in recorded[0],
        recorded,
    )
    for name, log in [("edge", log_edge), ("inner", log_inner)]:
        with open(log, encoding="utf-8", errors="replace") as f:
            unstamped = [line for line in f if not STAMP.match(line)]
        check(f"every {name} line starts with its stamp", not unstamped, unstamped[:3])


run_checks(check, body, cleanup=lambda: stop(procs), deadline=300)
