#!/usr/bin/env bash
# gRPC interop: installs grpcio, grpcio-tools (which compiles examples/support/echo.proto, so
# no protoc is needed) and opentelemetry-instrumentation-grpc from PyPI into a virtual
# environment, builds examples/grpc_service.rs, and runs scripts/grpc_check.py against it, both
# ways. Prints its own "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
builds="${CARGO_TARGET_DIR:-target}"

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "opentelemetry-api==1.45.2" "opentelemetry-sdk==1.45.2" \
    "opentelemetry-instrumentation-grpc==0.66b2" "grpcio==1.85.3" "grpcio-tools==1.85.1"

# All features: the build `cargo test --workspace --all-features` made is reused.
cargo build --quiet --example grpc_service --all-features
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/grpc_check.py "$builds"/debug/examples/grpc_service "$work"
