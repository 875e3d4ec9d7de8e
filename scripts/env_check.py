"""Child processes share a run: examples/child_process.rs and Python processes using the
OpenTelemetry SDK's propagators with its environment carriers (EnvironmentGetter,
EnvironmentSetter), each launching the other.

Usage: env_check.py RUST_EXAMPLE PYTHON
Prints "N passed, N failed" and exits non-zero on any failure.
"""

import os
import re
import sys

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.propagators._envcarrier import EnvironmentSetter
from opentelemetry.sdk.trace import TracerProvider

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import Checks, run_bounded, run_checks  # noqa: E402

RUST, PYTHON = sys.argv[1], sys.argv[2]
PY_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "env_child.py")
check = Checks()
trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("env_check")
STAMP = re.compile(r"^\[[^\]]+\] \[([^\]]+)\] \[([0-9a-f]{8}|-)\] ")


def clean_env():
    """This process's environment without trace variables of its own."""
    env = dict(os.environ)
    for name in ("TRACEPARENT", "TRACESTATE", "BAGGAGE"):
        env.pop(name, None)
    return env


def run(args, env):
    """Runs a process; its `key=value` lines as a dict, and its stderr."""
    out = run_bounded(args, timeout=60, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return lines, out.stderr


def stamped(stderr, run_id, trace_id):
    """The log lines of `stderr` stamped with this run and short trace id."""
    return [
        line
        for line in stderr.splitlines()
        if (m := STAMP.match(line)) and m.group(1) == run_id and m.group(2) == trace_id[-8:]
    ]


def body():
    # 1. A Python parent launches the Rust child: the SDK's EnvironmentSetter writes the
    # variables, extract_env() reads them in the child's main.
    with tracer.start_as_current_span("python-parent") as span:
        ctx = baggage.set_baggage("run_id", "sweep_py_1")
        env = clean_env()
        propagate.inject(env, context=ctx, setter=EnvironmentSetter())
        trace_id = format(span.get_span_context().trace_id, "032x")
        span_id = format(span.get_span_context().span_id, "016x")
    check("the SDK writes TRACEPARENT and BAGGAGE", "TRACEPARENT" in env and "BAGGAGE" in env, env.keys())
    child, stderr = run([RUST], env)
    check("Rust child continues the Python parent's run", child["run_id"] == "sweep_py_1", child)
    check("and its trace", child["trace_id"] == trace_id, child)
    check("with the Python span as parent", child["parent_span_id"] == span_id, child)
    check(
        "the Rust child's log line is stamped with the run and trace",
        len(stamped(stderr, "sweep_py_1", trace_id)) == 1,
        stderr,
    )

    # 2. The Rust parent launches a Python child: CommandExt writes the variables, the SDK's
    # EnvironmentGetter reads them.
    parent, stderr = run([RUST, "--run", "sweep_rs_2", "--", PYTHON, PY_CHILD], clean_env())
    sent = parent["sent_traceparent"].split("-")
    check("Rust parent runs sweep_rs_2", parent["run_id"] == "sweep_rs_2", parent)
    check("Python child reads the run id from BAGGAGE", parent["child.run_id"] == "sweep_rs_2", parent)
    check("and the Rust parent's trace id", parent["child.trace_id"] == parent["trace_id"], parent)
    check(
        "its parent is the launch's own span",
        parent["child.parent_span_id"] == sent[2] and sent[2] != parent["span_id"],
        parent,
    )
    check("the launch is sampled and its trace id random (flags 03)", sent[3] == "03", sent)

    # 3. Rust parent, Rust child, Python grandchild; then Python, Rust, Python.
    chain, _ = run([RUST, "--run", "sweep_rs_3", "--", RUST, "--", PYTHON, PY_CHILD], clean_env())
    check(
        "three processes, one run and one trace (Rust, Rust, Python)",
        chain["child.run_id"] == chain["child.child.run_id"] == "sweep_rs_3"
        and chain["trace_id"] == chain["child.trace_id"] == chain["child.child.trace_id"],
        chain,
    )
    check(
        "each launch a span of its own",
        chain["child.parent_span_id"] != chain["child.child.parent_span_id"],
        chain,
    )
    with tracer.start_as_current_span("python-root") as span:
        token = context.attach(baggage.set_baggage("run_id", "sweep_py_4"))
        try:
            env = clean_env()
            propagate.inject(env, setter=EnvironmentSetter())
        finally:
            context.detach(token)
        trace_id = format(span.get_span_context().trace_id, "032x")
    chain, stderr = run([RUST, "--", PYTHON, PY_CHILD], env)
    check(
        "three processes, one run and one trace (Python, Rust, Python)",
        chain["run_id"] == chain["child.run_id"] == "sweep_py_4"
        and chain["trace_id"] == chain["child.trace_id"] == trace_id,
        chain,
    )
    check(
        "the Rust middle logs in the run it continued",
        len(stamped(stderr, "sweep_py_4", trace_id)) >= 1,
        stderr,
    )
    chain, _ = run([PYTHON, PY_CHILD, "--", RUST, "--", PYTHON, PY_CHILD], env)
    check(
        "Python launches Rust launches Python: one run and one trace",
        chain["run_id"] == chain["child.run_id"] == chain["child.child.run_id"] == "sweep_py_4"
        and chain["trace_id"] == chain["child.trace_id"] == chain["child.child.trace_id"] == trace_id,
        chain,
    )
    check(
        "the Rust process's parent is the Python launch span",
        chain["child.parent_span_id"] == chain["span_id"],
        chain,
    )

    # 4. A tracestate goes on unchanged, Python to Rust to Python.
    env_ts = dict(env)
    env_ts["TRACESTATE"] = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    chain, _ = run([RUST, "--", PYTHON, PY_CHILD], env_ts)
    check(
        "TRACESTATE passes through the Rust process",
        chain["child.tracestate"] == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        chain,
    )

    # 5. Outside any run, inherited variables do not reach the child.
    chain, _ = run([RUST, "--outside", "--", PYTHON, PY_CHILD], env_ts)
    check(
        "a child launched outside any run gets no inherited trace",
        chain["child.trace_id"] == "-" and chain["child.run_id"] == "-" and chain["child.tracestate"] == "-",
        chain,
    )

    # 6. Hostile variables: an invalid TRACEPARENT is no context; a run id that could break a
    # log line is not used.
    bad = clean_env()
    bad["TRACEPARENT"] = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
    bad["BAGGAGE"] = "run_id=sweep_py_5"
    child, _ = run([RUST], bad)
    check("an all-zero trace id is no context", child["run_id"] == "-", child)
    bad["TRACEPARENT"] = f"00-{trace_id}-00f067aa0ba902b7-01"
    bad["BAGGAGE"] = "run_id=x%0A%5Bforged%5D"
    child, stderr = run([RUST], bad)
    check(
        "a run id with a newline is not used; the run is derived from the trace",
        child["run_id"] == f"trace_{trace_id}" and "[forged]" not in stderr,
        (child, stderr),
    )


run_checks(check, body, deadline=300)
