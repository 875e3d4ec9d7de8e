#!/usr/bin/env bash
# OTLP export: receives examples/otlp_export.rs's OTLP/HTTP export on loopback, spans and log
# records, and decodes it with the official protobuf definitions (PyPI `opentelemetry-proto`),
# checking trace ids, span ids, span names, parents, run ids, levels, bodies and fields, and
# that none of the export's own logs were exported. Prints its own "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

venv=target/otlp-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "opentelemetry-proto==1.45.2"

cargo build --quiet --example otlp_export --features opentelemetry
"$venv/bin/python" scripts/otlp_check.py "$builds"/debug/examples/otlp_export
