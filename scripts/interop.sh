#!/usr/bin/env bash
# W3C Trace Context interop: installs the OpenTelemetry Python SDK from PyPI into a virtual
# environment, builds examples/http_service.rs, and runs scripts/interop.py against it.
# Prints its own "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "opentelemetry-api==1.45.2" "opentelemetry-sdk==1.45.2"

# All features: the build `cargo test --workspace --all-features` made is reused.
cargo build --quiet --example http_service --all-features
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/interop.py "$builds"/debug/examples/http_service "$work"
