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

"$venv/bin/python" "$root/scripts/crosscheck.py" --work "$work" \
    --tracectx "$builds/release/tracectx" "$@"
