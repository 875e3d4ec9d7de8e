"""A real Prometheus server scrapes examples/metrics_service.rs on loopback; its HTTP API must
then hold the series of a known run id, with that run's trace id as exemplar.

Usage: prometheus_check.py SERVICE_BINARY PROMETHEUS_BINARY
Prints "N passed, N failed" and exits non-zero on any failure, an unexpected exception
included. Every wait is bounded, and the whole check gives up after DEADLINE seconds.
Standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, free_port, readline, run_checks, stop  # noqa: E402

DEADLINE = 300
RUN_ID = f"prom_check_{os.getpid()}"
check = Checks()
if len(sys.argv) != 3:
    print(__doc__)
    check("usage: SERVICE_BINARY PROMETHEUS_BINARY", False, sys.argv[1:])
    check.finish()
SERVICE, PROMETHEUS = sys.argv[1], sys.argv[2]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read().decode()


def api(port, path, **params):
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    _, _, body = get(url)
    answer = json.loads(body)
    if answer.get("status") != "success":
        raise RuntimeError(f"{path}: {answer}")
    return answer["data"]


def wait_for(what, probe, timeout):
    """Calls `probe` until it returns something truthy or `timeout` seconds pass."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = probe()
            if last:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.25)
    print(f"gave up waiting for {what}: {last!r}")
    return None


work = tempfile.mkdtemp(prefix="tracectx-prom-")
procs = []


def main():
    # The service, recording for RUN_ID every 100 ms.
    svc_port = free_port()
    svc = subprocess.Popen(
        [SERVICE, "--port", str(svc_port), "--run-id", RUN_ID, "--interval-ms", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(svc)
    first = readline(svc.stdout, timeout=30)
    first = first.strip() if first is not None else f"(no line within 30 s; exit status {svc.poll()})"
    m = re.fullmatch(r"listening=\S+ run_id=(\S+) trace_id=([0-9a-f]{32})", first)
    if not check("service starts and names its run and trace", m is not None, first):
        return
    trace_id = m.group(2)

    metrics_url = f"http://127.0.0.1:{svc_port}/metrics"
    def page_with_exemplar():
        page = get(metrics_url)
        return page if f'trace_id="{trace_id}"' in page[2] else None

    page = wait_for("the service's /metrics", page_with_exemplar, 30)
    status, headers, text = page if page else (None, {}, "")
    check("/metrics answers 200", status == 200, status)
    check(
        "served as OpenMetrics",
        headers.get("content-type", "").startswith("application/openmetrics-text; version=1.0.0"),
        headers.get("content-type"),
    )
    if not check("the text carries the run's exemplar", f'# {{trace_id="{trace_id}"}}' in text):
        return

    # A few requests, each in a run of its own.
    request_runs = [get(f"http://127.0.0.1:{svc_port}/work")[2] for _ in range(3)]

    # Prometheus on loopback, scraping every second, exemplars kept.
    prom_port = free_port()
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        f.write(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: tracectx\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{svc_port}']\n"
        )
    with open(os.path.join(work, "prometheus.log"), "w") as prom_log:
        prom = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(work, 'data')}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=prom_log,
            stderr=subprocess.STDOUT,
        )
    procs.append(prom)
    ready = wait_for("prometheus /-/ready", lambda: get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200, 60)
    if not check("prometheus is ready", bool(ready)):
        with open(os.path.join(work, "prometheus.log")) as log:
            print("prometheus log (tail):", log.read()[-2000:])
        return

    query = f'tracectx_operation_duration_seconds_count{{run_id="{RUN_ID}"}}'
    result = wait_for("the run's series", lambda: api(prom_port, "query", query=query)["result"], 60)
    result = result or []
    ops = sorted(r["metric"].get("operation") for r in result)
    check("the run's series were scraped", len(result) > 0, result)
    check("one per operation", ops == ["fetch_bars", "simulate_step"], ops)
    check(
        "labelled with the job and the run",
        all(r["metric"].get("job") == "tracectx" and r["metric"].get("run_id") == RUN_ID for r in result),
    )
    first_counts = {r["metric"]["operation"]: float(r["value"][1]) for r in result}
    check("with observations", all(v > 0 for v in first_counts.values()), first_counts)

    targets = api(prom_port, "targets")["activeTargets"]
    check(
        "the target is up",
        len(targets) == 1 and targets[0]["health"] == "up",
        [(t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in targets],
    )

    def grew():
        now = {
            r["metric"]["operation"]: float(r["value"][1])
            for r in api(prom_port, "query", query=query)["result"]
        }
        return now if all(now.get(k, 0) > v for k, v in first_counts.items()) else None

    check("counts grow from scrape to scrape", bool(wait_for("a later scrape", grew, 20)))

    def exemplars():
        now = time.time()
        data = api(
            prom_port,
            "query_exemplars",
            query=f'tracectx_operation_duration_seconds_bucket{{run_id="{RUN_ID}"}}',
            start=str(now - 300),
            end=str(now + 60),
        )
        return [e for series in data for e in series.get("exemplars", [])]

    found = wait_for("exemplars", exemplars, 20) or []
    check("prometheus stored the run's exemplars", len(found) > 0)
    check(
        "each exemplar names the run's trace",
        found and all(e["labels"].get("trace_id") == trace_id for e in found),
        {e["labels"].get("trace_id") for e in found},
    )

    folds = {
        name: api(prom_port, "query", query=f'{name}{{job="tracectx"}}')["result"]
        for name in ("tracectx_run_ids_folded_total", "tracectx_operations_folded_total")
    }
    check(
        "both fold counters are scraped, at 0 (under the caps)",
        all(len(r) == 1 and float(r[0]["value"][1]) == 0 for r in folds.values()),
        folds,
    )

    # The handlers' instance shares the registry under its own name: its histogram and its
    # own fold counters are scraped (a family registered twice would fail the scrape).
    http = api(
        prom_port, "query", query='metrics_service_http_duration_seconds_count{operation="/work"}'
    )["result"]
    check(
        "a second instance under another name is scraped from the same registry",
        len(http) == len(set(request_runs)) and all(float(r["value"][1]) == 1 for r in http),
        http,
    )
    http_folds = {
        name: api(prom_port, "query", query=f'{name}{{job="tracectx"}}')["result"]
        for name in (
            "metrics_service_http_duration_seconds_run_ids_folded_total",
            "metrics_service_http_duration_seconds_operations_folded_total",
        )
    }
    check(
        "its fold counters carry its name, at 0",
        all(len(r) == 1 and float(r[0]["value"][1]) == 0 for r in http_folds.values()),
        http_folds,
    )

    per_request = api(
        prom_port, "query", query='count(tracectx_operation_duration_seconds_count{operation="request"})'
    )["result"]
    check(
        "each request run has its own series",
        per_request and int(float(per_request[0]["value"][1])) == len(set(request_runs)),
        per_request,
    )


def cleanup():
    stop(procs)
    shutil.rmtree(work, ignore_errors=True)


run_checks(check, main, cleanup, deadline=DEADLINE)
