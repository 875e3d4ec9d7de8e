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
source "$(dirname "$0")/reference_venv.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" "$root/scripts/diffcheck.py" --work "$work" \
    --tracectx "$builds/release/tracectx" --keep "$builds/diffcheck-failures" "$@"
