#!/usr/bin/env bash
# The backtest session against its Python peers, on the same 1,000,000-bar series and the same
# signals, in one run (and the 200-combination sweep of benches/backtest.rs against vectorbt's
# own broadcast sweep): backtesting.py 0.6.6 and vectorbt's Portfolio.from_signals (PyPI),
# then tracectx (release build: sessions in one process, and `tracectx backtest` in a fresh
# one; see compare_python.py). Prints each time and the ratios, fails if tracectx and
# backtesting.py do not close the same number of trades, then prints the peak
# memory of the 1M-bar command-line run (GNU time; installed with apt-get when missing).
#
#   bash benches/compare_python.sh            # 1,000,000 bars
#   BARS=200000 bash benches/compare_python.sh
#
# Environment: PYTHON (default python3) makes the venv; BENCH_VENV overrides its place.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Where cargo writes its builds: CARGO_TARGET_DIR when set.
builds="${CARGO_TARGET_DIR:-target}"

python="${PYTHON:-python3}"
venv="${BENCH_VENV:-$root/target/bench-venv}"
bars="${BARS:-1000000}"

if ! "$venv/bin/python" -c 'import backtesting, vectorbt' >/dev/null 2>&1; then
    echo "installing backtesting==0.6.6 and vectorbt==1.2.0 into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        backtesting==0.6.6 vectorbt==1.2.0
fi

# GNU time for the peak memory: installed rather than skipped.
if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (apt-get install -y time) for the peak memory" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
    $sudo apt-get install -y time >/dev/null 2>&1 \
        || { $sudo apt-get update >/dev/null && $sudo apt-get install -y time >/dev/null; } \
        || true
fi
if [ ! -x /usr/bin/time ]; then
    echo "error: GNU time is missing and could not be installed (apt-get install -y time)" >&2
    exit 1
fi

cargo build --quiet --release -p tracectx-cli
cargo build --quiet --release -p tracectx-backtest --example write_bars --example time_session

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$builds"/release/examples/write_bars "$bars" 42 "$work/synthetic.csv"
# The series of benches/backtest.rs's 200-combination sweep.
"$builds"/release/examples/write_bars 50000 7 "$work/sweep.csv"

# Fails (after printing every time and ratio) when the trade counts differ.
TQDM_DISABLE=1 "$venv/bin/python" benches/compare_python.py --synthetic "$work/synthetic.csv" \
    --csv "$work/bars.csv" --tracectx "$builds"/release/tracectx \
    --sessions "$builds"/release/examples/time_session --sweep-csv "$work/sweep.csv"

rss_kb=$(/usr/bin/time -v "$builds"/release/tracectx backtest --data "$work/bars.csv" \
    --param fast=10 --param slow=20 --cash 10000 --json 2>&1 >/dev/null \
    | awk -F': ' '/Maximum resident set size/ {print $2}')
if [ -z "$rss_kb" ]; then
    echo "error: GNU time reported no peak memory" >&2
    exit 1
fi
echo "peak memory of tracectx backtest on $bars bars: $((rss_kb / 1024)) MB (goal: under 200 MB)"
