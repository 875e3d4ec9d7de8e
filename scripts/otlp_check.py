"""OTLP/HTTP export of examples/otlp_export.rs, spans and log records, received on loopback and
decoded with the official protobuf definitions (opentelemetry-proto).

Usage: otlp_check.py BINARY
Prints "N passed, N failed" and exits non-zero on any failure, an unexpected exception
included. Each run of the example is killed after EXAMPLE_TIMEOUT seconds, and the whole
check gives up after DEADLINE seconds.
"""

import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, run_bounded, run_checks  # noqa: E402

EXAMPLE_TIMEOUT = 120
DEADLINE = 300
check = Checks()
if len(sys.argv) != 2:
    print(__doc__)
    check("usage: BINARY", False, sys.argv[1:])
    check.finish()
BINARY = sys.argv[1]

try:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
except ImportError as e:
    check("opentelemetry-proto is installed", False, repr(e))
    check.finish()


class Collector(BaseHTTPRequestHandler):
    """Accepts POST /v1/traces and /v1/logs (protobuf), keeps every request, answers an empty
    response."""

    received = []  # (path, content type, ExportTraceServiceRequest or None)
    logs = []  # (content type, ExportLogsServiceRequest or None)
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/v1/logs":
            try:
                request = ExportLogsServiceRequest.FromString(body)
            except Exception:  # a body that is not the message: recorded as undecodable
                request = None
            with Collector.lock:
                Collector.logs.append((self.headers.get("content-type"), request))
            out = ExportLogsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        try:
            request = ExportTraceServiceRequest.FromString(body)
        except Exception:  # a body that is not the message: recorded as undecodable
            request = None
        with Collector.lock:
            Collector.received.append((self.path, self.headers.get("content-type"), request))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def attrs(kvs):
    out = {}
    for kv in kvs:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None
    return out


def spans_received():
    """Every span received so far, with its resource's attributes."""
    out = []
    with Collector.lock:
        requests = [r for (_, _, r) in Collector.received if r is not None]
    for request in requests:
        for rs in request.resource_spans:
            resource = attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    out.append((resource, span))
    return out


def records_received():
    """Every log record received so far, with its resource's attributes."""
    out = []
    with Collector.lock:
        requests = [r for (_, r) in Collector.logs if r is not None]
    for request in requests:
        for rl in request.resource_logs:
            resource = attrs(rl.resource.attributes)
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    out.append((resource, record))
    return out


def body(record):
    which = record.body.WhichOneof("value")
    return getattr(record.body, which) if which else None


def run_example(args, env=None):
    """Runs the example to its end (killed after EXAMPLE_TIMEOUT s) and parses its run lines."""
    proc = run_bounded([BINARY, *args], EXAMPLE_TIMEOUT, env={**os.environ, **(env or {})})
    runs = {}
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"run_id=(\S+) trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16})", line)
        if m:
            runs[m.group(1)] = (m.group(2), m.group(3))
    return proc, runs


servers = []


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    servers.append(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"

    # 1. Three concurrent sessions, the collector address given by flag.
    proc, runs = run_example(["--endpoint", endpoint, "--runs", "3", "--run-prefix", "otlp_check"])
    check("example exits 0", proc.returncode == 0, proc.stderr[-2000:])
    if not check("example names three runs", len(runs) == 3, runs):
        return
    with Collector.lock:
        received = list(Collector.received)
    check("spans were POSTed to /v1/traces", any(p == "/v1/traces" for p, _, _ in received), received)
    check(
        "as protobuf",
        all(ct == "application/x-protobuf" for _, ct, _ in received),
        [ct for _, ct, _ in received],
    )
    check("every body decodes as ExportTraceServiceRequest", all(r is not None for _, _, r in received))

    spans = spans_received()
    check(
        "resource names the service",
        spans and all(res.get("service.name") == "otlp_export" for res, _ in spans),
    )
    by_run = {}
    for _, span in spans:
        by_run.setdefault(attrs(span.attributes).get("tracectx.run_id"), []).append(span)
    check("every span carries tracectx.run_id", None not in by_run, list(by_run))

    trace_ids = set()
    for run_id, (trace_id, scope_span_id) in sorted(runs.items()):
        mine = by_run.get(run_id, [])
        names = sorted(s.name for s in mine)
        check(
            f"{run_id}: span names",
            names == ["fill", "fill", "fill", "load_bars", "session", "simulate"],
            names,
        )
        check(
            f"{run_id}: every span is in the run's trace",
            mine and all(s.trace_id.hex() == trace_id for s in mine),
            {s.trace_id.hex() for s in mine},
        )
        check(
            f"{run_id}: tracectx.trace_id_short is the tail of the trace id",
            mine and all(attrs(s.attributes).get("tracectx.trace_id_short") == trace_id[-8:] for s in mine),
        )
        by_name = {}
        for s in mine:
            by_name.setdefault(s.name, []).append(s)
        if all(n in by_name for n in ("session", "load_bars", "simulate", "fill")):
            session = by_name["session"][0]
            simulate = by_name["simulate"][0]
            check(
                f"{run_id}: session's parent is the scope's span",
                session.parent_span_id.hex() == scope_span_id,
                session.parent_span_id.hex(),
            )
            check(
                f"{run_id}: load_bars and simulate are children of session",
                by_name["load_bars"][0].parent_span_id == session.span_id
                and simulate.parent_span_id == session.span_id,
            )
            check(
                f"{run_id}: fills are children of simulate",
                all(f.parent_span_id == simulate.span_id for f in by_name["fill"]),
            )
        trace_ids.add(trace_id)
    check("each run has its own trace", len(trace_ids) == 3, trace_ids)

    # The log records: one per event, with the run's ids; none of the export's own.
    with Collector.lock:
        logs = list(Collector.logs)
    check("log records were POSTed to /v1/logs", len(logs) > 0)
    check(
        "as protobuf",
        all(ct == "application/x-protobuf" for ct, _ in logs),
        [ct for ct, _ in logs],
    )
    check("every body decodes as ExportLogsServiceRequest", all(r is not None for _, r in logs))
    records = records_received()
    check(
        "log resource names the service",
        records and all(res.get("service.name") == "otlp_export" for res, _ in records),
    )
    bodies = sorted(str(body(r)) for _, r in records)
    expected = sorted(["exporting"] + ["session started", "filled", "filled", "filled", "session finished"] * 3)
    check(
        "exactly the application's events: none of the export's own (hyper, reqwest, opentelemetry)",
        bodies == expected,
        bodies,
    )
    by_run_logs = {}
    for _, r in records:
        by_run_logs.setdefault(attrs(r.attributes).get("tracectx.run_id"), []).append(r)
    outside = by_run_logs.get(None, [])
    check(
        "the event outside any run has no trace id, span id or run id",
        len(outside) == 1 and outside[0].trace_id == b"" and outside[0].span_id == b"",
        [(body(r), r.trace_id.hex()) for r in outside],
    )
    for run_id, (trace_id, scope_span_id) in sorted(runs.items()):
        mine = by_run_logs.get(run_id, [])
        check(
            f"{run_id}: its log records",
            sorted(str(body(r)) for r in mine)
            == ["filled", "filled", "filled", "session finished", "session started"],
            [body(r) for r in mine],
        )
        check(
            f"{run_id}: every record has the run's trace id and the scope's span id",
            mine
            and all(r.trace_id.hex() == trace_id and r.span_id.hex() == scope_span_id for r in mine),
            {(r.trace_id.hex(), r.span_id.hex()) for r in mine},
        )
        check(
            f"{run_id}: sampled flag set",
            mine and all(r.flags & 0x01 == 0x01 for r in mine),
            [r.flags for r in mine],
        )
        levels = sorted((str(body(r)), r.severity_number, r.severity_text) for r in mine)
        check(
            f"{run_id}: levels (INFO 9, WARN 13)",
            levels
            == [
                ("filled", 9, "INFO"),
                ("filled", 9, "INFO"),
                ("filled", 9, "INFO"),
                ("session finished", 13, "WARN"),
                ("session started", 9, "INFO"),
            ],
            levels,
        )
        qtys = sorted(attrs(r.attributes).get("qty") for r in mine if body(r) == "filled")
        check(f"{run_id}: fields are typed attributes", qtys == [10, 20, 30], qtys)
        pnl = [attrs(r.attributes).get("pnl") for r in mine if body(r) == "session finished"]
        check(f"{run_id}: a float field stays a float", pnl == [-12.5], pnl)

    # 2. The collector address from OTEL_EXPORTER_OTLP_ENDPOINT.
    before = len(spans_received())
    proc, runs = run_example(
        ["--runs", "1", "--run-prefix", "otlp_env"], env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    )
    check("example with the endpoint from the environment exits 0", proc.returncode == 0, proc.stderr[-2000:])
    new = [s for _, s in spans_received()[before:]]
    trace_id = next(iter(runs.values()))[0] if len(runs) == 1 else None
    check(
        "its spans arrive, in its trace",
        len(new) == 6 and all(s.trace_id.hex() == trace_id for s in new),
        len(new),
    )
    new_records = [r for _, r in records_received()[len(records):]]
    check(
        "its log records arrive, in its trace",
        len(new_records) == 6
        and sum(1 for r in new_records if r.trace_id.hex() == trace_id) == 5,
        [(body(r), r.trace_id.hex()) for r in new_records],
    )


def cleanup():
    for server in servers:
        server.shutdown()
        server.server_close()


run_checks(check, main, cleanup, deadline=DEADLINE)
