#!/usr/bin/env bash
# The backtest session against its Python peers, on the same 1,000,000-bar series and the same
# signals, in one run: backtesting.py 0.6.6 and vectorbt's Portfolio.from_signals (PyPI),
# then `tracectx backtest` (release build). Prints each time and the ratios, then the peak
# memory of the 1M-bar command-line run (with GNU time, when installed).
#
#   bash benches/compare_python.sh            # 1,000,000 bars
#   BARS=200000 bash benches/compare_python.sh
#
# Environment: PYTHON (default python3) makes the venv; BENCH_VENV overrides its place.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
venv="${BENCH_VENV:-$root/target/bench-venv}"
bars="${BARS:-1000000}"

if ! "$venv/bin/python" -c 'import backtesting, vectorbt' >/dev/null 2>&1; then
    echo "installing backtesting==0.6.6 and vectorbt==1.2.0 into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        backtesting==0.6.6 vectorbt==1.2.0
fi

cargo build --quiet --release --features cli --bin tracectx --example write_bars

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/examples/write_bars "$bars" 42 "$work/bars.csv"

TQDM_DISABLE=1 "$venv/bin/python" benches/compare_python.py --csv "$work/bars.csv" \
    --tracectx target/release/tracectx

if [ -x /usr/bin/time ]; then
    rss_kb=$(/usr/bin/time -v target/release/tracectx backtest --data "$work/bars.csv" \
        --param fast=10 --param slow=20 --cash 10000 --json 2>&1 >/dev/null \
        | awk -F': ' '/Maximum resident set size/ {print $2}')
    echo "peak memory of tracectx backtest on $bars bars: $((rss_kb / 1024)) MB (goal: under 200 MB)"
else
    echo "peak memory: /usr/bin/time not installed (apt-get install time)"
fi
