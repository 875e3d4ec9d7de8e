#!/usr/bin/env bash
# A real Prometheus scrapes examples/metrics_service.rs: installs Debian's `prometheus` when it
# is missing, builds the example, and runs scripts/prometheus_check.py, which starts both on
# loopback, waits for scrapes and queries Prometheus's HTTP API for a known run id's series
# and exemplars. Prints its own "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

if ! command -v prometheus >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Only the server is needed; the package's service is not started here (the check starts
    # its own instance on loopback).
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
prometheus --version 2>&1 | head -n 1

cargo build --quiet --example metrics_service --features prometheus
python3 scripts/prometheus_check.py "$builds"/debug/examples/metrics_service "$(command -v prometheus)"
