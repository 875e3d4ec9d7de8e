#!/usr/bin/env bash
# Fuzzes the id and W3C header parsers with cargo-fuzz (libFuzzer) for a bounded time each.
# FUZZ_SECONDS (default 60) per target. Prints its own "N passed, N failed" line.
#
# cargo-fuzz needs unstable compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no nightly toolchain is needed.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

passed=0
failed=0
for target in ids w3c; do
    if cargo fuzz run -O "$target" -- -max_total_time="$seconds" 2>&1 | tail -n 20 | grep -q '^Done'; then
        echo "ok   $target (${seconds}s, no crash)"
        passed=$((passed + 1))
    else
        echo "FAIL $target: see fuzz/artifacts/$target"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
