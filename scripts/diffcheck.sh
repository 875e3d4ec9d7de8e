#!/usr/bin/env bash
# Differential check of the backtest engine against backtesting.py 0.6.6 (PyPI `backtesting`)
# on generated data: many cases from a fixed seed (lengths, calendars, prices, windows, costs
# and cash a user could have), each compared as crosscheck.sh compares (identical trades,
# every statistic within 1e-9 relative). Prints `N passed, N failed` on its last line.
#
# Environment: DIFFCHECK_CASES (default 500) and DIFFCHECK_SEED (default 2024) pick the cases;
# DIFFCHECK_NUMPY_SIMD=1 keeps numpy's AVX-512 exp and log, whose last bits differ from the C
# library's (off by default, so the reference computes as on a CPU without AVX-512);
# PYTHON and CROSSCHECK_VENV as for crosscheck.sh (the same venv, installed once). Arguments go
# to diffcheck.py: `--case N` runs one case alone, `--cases N`, `--seed S`, `--replay FILE.json`
# runs a case a failure kept (under $CARGO_TARGET_DIR/diffcheck-failures, or target/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

python="${PYTHON:-python3}"
venv="${CROSSCHECK_VENV:-$root/target/crosscheck-venv}"

if ! "$venv/bin/python" -c 'import backtesting, sys; sys.exit(backtesting.__version__ != "0.6.6")' \
    >/dev/null 2>&1; then
    echo "installing backtesting==0.6.6 into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check backtesting==0.6.6
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build first so that compiler output does not interleave with the report.
cargo build --quiet --release -p tracectx-cli

"$venv/bin/python" "$root/scripts/diffcheck.py" --work "$work" \
    --tracectx "$builds/release/tracectx" --keep "$builds/diffcheck-failures" "$@"
