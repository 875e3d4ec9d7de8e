#!/usr/bin/env bash
# Child processes: the context in TRACEPARENT / TRACESTATE / BAGGAGE between
# examples/child_process.rs and Python processes using the OpenTelemetry SDK's propagators and
# environment carriers (PyPI), both ways and in chains. Prints its own "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
builds="${CARGO_TARGET_DIR:-target}"

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "opentelemetry-api==1.45.2" "opentelemetry-sdk==1.45.2"

# All features: the build `cargo test --workspace --all-features` made is reused.
cargo build --quiet --example child_process --all-features
"$venv/bin/python" scripts/env_check.py "$builds"/debug/examples/child_process "$venv/bin/python"
