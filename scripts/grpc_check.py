"""gRPC interop: examples/grpc_service.rs (tonic, with tracectx's layers) against Python
grpcio with opentelemetry-instrumentation-grpc, both ways. A Python client calling the tonic
server and a tonic client calling a Python server share one trace; the run id travels in
baggage; bad metadata starts a new trace and never fails the call.

Usage: grpc_check.py BINARY WORKDIR
Prints "N passed, N failed" and exits non-zero on any failure.
"""

import os
import re
import socket
import subprocess
import sys
import time
from concurrent import futures

import grpc
from grpc_tools import protoc
from opentelemetry import baggage, context, trace
from opentelemetry.instrumentation.grpc import client_interceptor, server_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, free_port, run_bounded, run_checks, stop  # noqa: E402

BINARY, WORKDIR = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
check = Checks()

# The Python side of echo.proto, compiled with grpcio-tools.
if protoc.main(
    ["protoc", f"-I{ROOT}/examples/support", f"--python_out={WORKDIR}", f"--grpc_python_out={WORKDIR}", "echo.proto"]
):
    raise SystemExit("protoc failed on examples/support/echo.proto")
sys.path.insert(0, WORKDIR)
import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("grpc_check")
STAMP = re.compile(r"^\[[^\]]+\] \[([^\]]+)\] \[([0-9a-f]{8}|-)\] ")
procs = []


def start_rust(*flags):
    port = free_port()
    log = os.path.join(WORKDIR, f"server-{port}.log")
    proc = subprocess.Popen([BINARY, "serve", "--port", str(port), "--log-file", log, *flags])
    procs.append(proc)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return port, log
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the tonic server did not start on port {port}")


class Echo(echo_pb2_grpc.EchoServicer):
    """The Python server: answers with the span the instrumentation started and the baggage
    it extracted."""

    def Whoami(self, request, ctx):
        span = trace.get_current_span()
        sc = span.get_span_context()
        parent = getattr(span, "parent", None)
        return echo_pb2.WhoamiReply(
            run_id=baggage.get_baggage("run_id") or "-",
            trace_id=format(sc.trace_id, "032x"),
            span_id=format(sc.span_id, "016x"),
            parent_span_id=format(parent.span_id, "016x") if parent else "-",
            caller_run_id="-",
            note=request.note,
        )


def python_server():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[server_interceptor()])
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def lines_with(log, needle, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        with open(log, encoding="utf-8", errors="replace") as f:
            found = [l for l in f if needle in l]
        if found or time.time() > deadline:
            return found
        time.sleep(0.1)


def rust_call(port, *flags):
    out = run_bounded([BINARY, "call", "--addr", f"http://127.0.0.1:{port}", *flags], timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"tonic client failed: {out.stdout}\n{out.stderr}")
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def body():
    port, log = start_rust()

    # 1. A Python client (instrumented channel, run id in baggage) calls the tonic server.
    channel = intercept_channel(grpc.insecure_channel(f"127.0.0.1:{port}"), client_interceptor())
    stub = echo_pb2_grpc.EchoStub(channel)
    exporter.clear()
    token = context.attach(baggage.set_baggage("run_id", "grpc_py_1"))
    try:
        with tracer.start_as_current_span("python-caller") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            replies = [stub.Whoami(echo_pb2.WhoamiRequest(note=f"call {i}"), timeout=10) for i in range(3)]
    finally:
        context.detach(token)
    client_spans = [
        format(s.context.span_id, "016x") for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.CLIENT
    ]
    check("Python client to tonic server: the server runs in the client's run", all(r.run_id == "grpc_py_1" for r in replies), replies)
    check("and in the client's trace", all(r.trace_id == trace_id for r in replies), replies)
    check(
        "each call's parent is the instrumentation's client span",
        sorted(r.parent_span_id for r in replies) == sorted(client_spans) and len(set(client_spans)) == 3,
        (replies, client_spans),
    )
    stamped = [l for l in lines_with(log, trace_id[-8:]) if (m := STAMP.match(l)) and m.group(1) == "grpc_py_1"]
    check("the tonic handler's log lines are stamped with the run and trace", len(stamped) == 3, stamped)

    # 2. A tonic client (layer, then interceptor) calls a Python server.
    server, py_port = python_server()
    try:
        for flags, label in [((), "tower layer"), (("--interceptor",), "interceptor")]:
            got = rust_call(py_port, "--run", "grpc_rs_2", "--calls", "3", *flags)
            replies = [{k.split(".", 2)[2]: v for k, v in got.items() if k.startswith(f"reply.{i}.")} for i in range(3)]
            check(f"tonic client ({label}) to Python server: one trace", all(r["trace_id"] == got["trace_id"] for r in replies), got)
            check(f"the run id travels in baggage ({label})", all(r["run_id"] == "grpc_rs_2" for r in replies), got)
            parents = {r["parent_span_id"] for r in replies}
            check(
                f"every call a span of its own, child of the caller's ({label})",
                len(parents) == 3 and got["span_id"] not in parents and "-" not in parents,
                got,
            )
    finally:
        server.stop(grace=None)

    # 3. Bad metadata: a new trace, and the call still succeeds. (grpc-core keeps only the last
    # of repeated `traceparent` metadata, so two of them are tried from tonic, in tests/grpc.rs.)
    raw = echo_pb2_grpc.EchoStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    for label, metadata in [
        ("a malformed traceparent", [("traceparent", "garbage"), ("baggage", "run_id=grpc_bad")]),
        ("an all-zero trace id", [("traceparent", valid.replace("4bf92f3577b34da6a3ce929d0e0e4736", "0" * 32))]),
        ("uppercase hex", [("traceparent", valid.upper()), ("baggage", "run_id=grpc_bad")]),
        ("version ff", [("traceparent", "ff" + valid[2:]), ("baggage", "run_id=grpc_bad")]),
        ("an over-long traceparent", [("traceparent", valid + "0" * 4000)]),
    ]:
        try:
            reply = raw.Whoami(echo_pb2.WhoamiRequest(note="bad"), metadata=metadata, timeout=10)
            ok = reply.run_id.startswith("request_") and reply.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736" and reply.parent_span_id == "-"
            check(f"{label}: the call succeeds in a new trace and run", ok, reply)
        except grpc.RpcError as e:
            check(f"{label}: the call succeeds in a new trace and run", False, e)
    reply = raw.Whoami(
        echo_pb2.WhoamiRequest(note="bad"),
        metadata=[("traceparent", valid), ("tracestate", "Bad Key=1"), ("baggage", "run_id=a%0Ab")],
        timeout=10,
    )
    check(
        "a bad tracestate and run id are dropped, the trace kept",
        reply.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and reply.run_id == "trace_4bf92f3577b34da6a3ce929d0e0e4736",
        reply,
    )

    # 4. A tonic server at a public edge: the Python client's run id is recorded, not used.
    edge_port, _ = start_rust("--own-run")
    edge = echo_pb2_grpc.EchoStub(intercept_channel(grpc.insecure_channel(f"127.0.0.1:{edge_port}"), client_interceptor()))
    token = context.attach(baggage.set_baggage("run_id", "backtest_victim"))
    try:
        with tracer.start_as_current_span("python-outsider") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            reply = edge.Whoami(echo_pb2.WhoamiRequest(note="edge"), timeout=10)
    finally:
        context.detach(token)
    check(
        "an edge runs the call in a run of its own and records the claim",
        reply.run_id.startswith("request_") and reply.caller_run_id == "backtest_victim" and reply.trace_id == trace_id,
        reply,
    )


run_checks(check, body, cleanup=lambda: stop(procs), deadline=300)
