#!/usr/bin/env bash
# Cross-checks the backtest engine against backtesting.py 0.6.6 (PyPI `backtesting`).
#
# Installs the reference into a virtual environment under target/ (once), exports its shipped
# GOOG (daily), EURUSD (hourly) and BTCUSD (monthly) data to CSV in a temporary directory, runs
# SmaCross(10, 20) long-short and long-only on each (and long-short with a spread on EURUSD,
# and without commission on GOOG) in backtesting.py and through `tracectx backtest --json` (the release binary of the
# tracectx-cli package), and fails unless the trade lists are identical and every statistic
# agrees to 1e-9 relative; then a grid through `Backtest.optimize` and `tracectx sweep`: the
# same combinations, Sharpe ratios and best. Prints `N passed, N failed` on its last line.
#
# Environment: PYTHON (default python3) makes the venv; CROSSCHECK_VENV overrides its place.
set -euo pipefail
source "$(dirname "$0")/reference_venv.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" "$root/scripts/crosscheck.py" --work "$work" \
    --tracectx "$builds/release/tracectx" "$@"
