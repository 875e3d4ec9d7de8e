#!/usr/bin/env bash
# NATS: installs Debian's nats-server (apt-get) and starts it on loopback, installs nats-py and
# the OpenTelemetry Python SDK (PyPI) into a virtual environment, builds
# examples/nats_worker.rs, and runs scripts/nats_check.py: a Rust publisher and subscriber in
# two processes, and interop with nats-py both ways. Prints its own "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
builds="${CARGO_TARGET_DIR:-target}"

if ! command -v nats-server >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
    DEBIAN_FRONTEND=noninteractive timeout 600 "${apt[@]}" install -y -qq nats-server >/dev/null ||
        { DEBIAN_FRONTEND=noninteractive timeout 300 "${apt[@]}" update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive timeout 600 "${apt[@]}" install -y -qq nats-server >/dev/null; }
fi

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "opentelemetry-api==1.45.2" "opentelemetry-sdk==1.45.2" "nats-py==2.16.0"

# All features: the build `cargo test --workspace --all-features` made is reused.
cargo build --quiet --example nats_worker --all-features

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" >"$work/nats-server.log" 2>&1 &
server=$!
# `|| true`: under `set -e` a failing command in the trap would replace the checks' own status
# (waiting for the killed server returns 143).
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# Bounded wait for the server to listen.
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done
"$venv/bin/python" scripts/nats_check.py "$builds"/debug/examples/nats_worker "nats://127.0.0.1:$port" "$work"
