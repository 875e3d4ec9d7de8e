"""W3C Trace Context interop: the OpenTelemetry Python SDK's propagators talk to
examples/http_service.rs, alone and as a chain of two instances.

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


def start(name):
    port = free_port()
    log = os.path.join(WORKDIR, f"{name}.log")
    proc = subprocess.Popen([BINARY, "--port", str(port), "--log-file", log])
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port, log
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start on port {port}")


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


def body():
    a, port_a, log_a = start("a")
    procs.append(a)
    b, port_b, log_b = start("b")
    procs.append(b)
    # 1. One hop: the OTel client's trace id and baggage run id reach the service's logs.
    run_id = "interop_run_1"
    with tracer.start_as_current_span("client") as span:
        ctx = baggage.set_baggage("run_id", run_id)
        headers = {}
        propagate.inject(headers, context=ctx)
        trace_id = format(span.get_span_context().trace_id, "032x")
        status, resp_headers = post(port_a, [], headers)
    check("single hop answers 200", status == 200, status)
    tp = resp_headers.get("traceparent", "")
    check("response traceparent keeps the trace id", tp.split("-")[1:2] == [trace_id], tp)
    stamped = lines_with(log_a, f"[{run_id}] [{trace_id[-8:]}]")
    check("service log lines are stamped with run and short trace id", len(stamped) >= 1, stamped)
    check(
        "the stamp is at the start of the line",
        all(re.match(r"^\[[^\]]+\] \[" + re.escape(run_id) + r"\] ", l) for l in stamped),
    )

    # 2. A chain: client -> a -> b. Both services log the same run and trace.
    run_id = "interop_chain_2"
    with tracer.start_as_current_span("client-chain") as span:
        ctx = baggage.set_baggage("run_id", run_id)
        headers = {}
        propagate.inject(headers, context=ctx)
        trace_id = format(span.get_span_context().trace_id, "032x")
        body = [{"url": f"http://127.0.0.1:{port_b}/test", "arguments": []}]
        status, _ = post(port_a, body, headers)
    check("chain answers 200", status == 200, status)
    stamp = f"[{run_id}] [{trace_id[-8:]}]"
    check("first service logs the run", len(lines_with(log_a, stamp)) >= 2)
    check("second service logs the same run and trace", len(lines_with(log_b, stamp)) >= 1)

    # 3. Without baggage the run id is derived from the trace, the same on both sides.
    with tracer.start_as_current_span("client-nobaggage") as span:
        headers = {}
        propagate.inject(headers)
        trace_id = format(span.get_span_context().trace_id, "032x")
        body = [{"url": f"http://127.0.0.1:{port_b}/test", "arguments": []}]
        post(port_a, body, headers)
    derived = f"[trace_{trace_id}] [{trace_id[-8:]}]"
    check("run id derived from the trace on the first service", len(lines_with(log_a, derived)) >= 1)
    check("and the same on the second", len(lines_with(log_b, derived)) >= 1)

    # 4. Hostile headers: an invalid traceparent starts a new trace; a run id with an encoded
    # newline never reaches a log line.
    headers = {
        "traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "baggage": "run_id=evil%0A%5B2024-01-01%5D%20%5Bforged%5D",
    }
    status, resp_headers = post(port_a, [], headers)
    check("invalid traceparent is answered", status == 200, status)
    tp = resp_headers.get("traceparent", "")
    check("and a new trace started", tp.count("-") == 3 and "0" * 32 not in tp, tp)
    time.sleep(0.5)
    with open(log_a, encoding="utf-8", errors="replace") as f:
        log_text = f.read()
    check("no forged line in the log", "[forged]" not in log_text and "evil" not in log_text)


run_checks(check, body, cleanup=lambda: stop(procs), deadline=300)
