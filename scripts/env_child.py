"""A Python process in a run that spans processes: reads the W3C trace context from its
environment (TRACEPARENT, TRACESTATE, BAGGAGE) with the OpenTelemetry SDK's propagators and
environment getter, prints what it found as key=value lines, and, given `-- CMD ARGS...`,
launches CMD from a span of its own with the context injected by the SDK's environment
setter, printing CMD's lines prefixed with `child.`, as examples/child_process.rs does.
"""

import os
import subprocess
import sys

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.propagators._envcarrier import EnvironmentGetter, EnvironmentSetter
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider())
ctx = propagate.extract(os.environ, getter=EnvironmentGetter())
found = trace.get_current_span(ctx).get_span_context()
print(f"run_id={baggage.get_baggage('run_id', ctx) or '-'}")
print(f"trace_id={format(found.trace_id, '032x') if found.is_valid else '-'}")
print(f"parent_span_id={format(found.span_id, '016x') if found.is_valid else '-'}")
print(f"tracestate={found.trace_state.to_header() if found.is_valid and found.trace_state else '-'}")

if "--" in sys.argv:
    command = sys.argv[sys.argv.index("--") + 1 :]
    token = context.attach(ctx)
    try:
        with trace.get_tracer("env_child").start_as_current_span("launch") as span:
            print(f"span_id={format(span.get_span_context().span_id, '016x')}")
            env = dict(os.environ)
            for name in ("TRACEPARENT", "TRACESTATE", "BAGGAGE"):
                env.pop(name, None)
            propagate.inject(env, setter=EnvironmentSetter())
            out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    finally:
        context.detach(token)
    for line in out.stdout.splitlines():
        print(f"child.{line}")
    sys.stderr.write(out.stderr)
    sys.exit(out.returncode)
