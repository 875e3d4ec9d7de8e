#!/usr/bin/env bash
# The HTML reports in a real browser: Debian's Chromium (installed with apt-get when missing),
# headless, offline. Writes a session's page (`tracectx backtest --html`), a sweep's heat map
# (`tracectx sweep --html`) and the page of a 1,000,000-bar session, loads each in Chromium and
# checks that it loaded with no script error and that its charts are in the rendered page
# (every figure's SVG with its drawing) and on the screenshot; the 1M-bar page must be under
# 5 MB and written in under a second, and so must the page of a 1M-bar session of 500,000
# trades. Prints `N passed, N failed` last.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
builds="${CARGO_TARGET_DIR:-target}"

# shellcheck source=check.sh
. "$root/scripts/check.sh"

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium (apt-get install -y chromium)" >&2
    timeout 900 apt-get install -y chromium >/dev/null 2>&1 \
        || { timeout 300 apt-get update >/dev/null && timeout 900 apt-get install -y chromium >/dev/null; } \
        || true
fi
if ! command -v chromium >/dev/null 2>&1; then
    echo "FAIL chromium is missing and could not be installed (apt-get install -y chromium)"
    echo "0 passed, 1 failed"
    exit 1
fi

cargo build --quiet --release -p tracectx-cli -p tracectx-backtest --bins --example write_bars || {
    echo "0 passed, 1 failed"; exit 1; }
bin="$builds/release/tracectx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$builds/release/examples/write_bars" 3000 42 "$work/bars.csv"
"$builds/release/examples/write_bars" 1000000 42 "$work/bars-1m.csv"

"$bin" backtest --data "$work/bars.csv" --param fast=10 --param slow=30 --html "$work/session.html" >/dev/null
check "backtest --html writes a page" $? "$(wc -c <"$work/session.html" 2>/dev/null) bytes"
"$bin" sweep --data "$work/bars.csv" --grid fast=5:50:5 --grid slow=20:200:20 \
    --constraint 'fast<slow' --html "$work/heatmap.html" >/dev/null
check "sweep --html writes a page" $? "$(wc -c <"$work/heatmap.html" 2>/dev/null) bytes"

# The 1M-bar page: its writing time is the run with --html less the run without.
t0=$(date +%s.%N)
"$bin" backtest --data "$work/bars-1m.csv" >/dev/null
t1=$(date +%s.%N)
"$bin" backtest --data "$work/bars-1m.csv" --html "$work/million.html" >/dev/null
t2=$(date +%s.%N)
write=$(python3 -c "print(max(0.0, ($t2 - $t1) - ($t1 - $t0)))")
size=$(wc -c <"$work/million.html")
check "1M-bar page under 5 MB" $(( size < 5000000 ? 0 : 1 )) "$size bytes"
check "1M-bar page written in under 1 s" \
    "$(python3 -c "print(0 if $write < 1.0 else 1)")" "about ${write} s over the session without it"

# A million noisy minute bars traded on about every other bar (500,000 trades): the markers
# are bounded as the curves are, so the page stays under 5 MB (it was 8.9 MB).
python3 - "$work/noisy-1m.csv" <<'PY'
import random, sys
random.seed(7)
price = 100.0
with open(sys.argv[1], "w", buffering=1 << 22) as f:
    f.write("date,open,high,low,close\n")
    for i in range(1_000_000):
        day, minute = divmod(i, 1440)
        price *= 1 + random.gauss(0, 0.002) + (100 - price) * 2e-5
        c = repr(price)
        f.write(f"{day * 86400 + minute * 60 + 946684800},{c},{c},{c},{c}\n")
PY
"$bin" backtest --data "$work/noisy-1m.csv" --param fast=1 --param slow=2 --fractional-units \
    --html "$work/many.html" >"$work/many.txt"
trades=$(awk '$1 == "trades" {print $2}' "$work/many.txt")
size=$(wc -c <"$work/many.html")
check "page of a 1M-bar session of ${trades:-?} trades under 5 MB" \
    $(( ${trades:-0} > 100000 && size < 5000000 ? 0 : 1 )) "$size bytes"

# Loads a page headless and offline; prints the DOM after load, keeps Chromium's log and a
# screenshot. Every wait is bounded.
browse() { # page, name
    local profile
    profile="$(mktemp -d)"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --enable-logging=stderr --v=0 --window-size=1200,1400 \
        --virtual-time-budget=3000 --dump-dom "file://$1" >"$work/$2.dom" 2>"$work/$2.log"
    local code=$?
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --window-size=1200,1400 \
        --screenshot="$work/$2.png" "file://$1" >/dev/null 2>&1
    rm -rf "$profile"
    return $code
}

for page in session heatmap million many; do
    browse "$work/$page.html" "$page"
    code=$?
    errors=$(grep -ciE 'Uncaught|SyntaxError|ReferenceError|TypeError' "$work/$page.log")
    check "$page page loads with no script error" $(( code == 0 && errors == 0 ? 0 : 1 )) \
        "chromium exit $code, $errors script errors"
    case $page in
        heatmap) want=1; drawing='<rect' ;;
        *) want=3; drawing='<polyline\|<path' ;;
    esac
    charts=$(grep -o '<figure class="chart [a-z]*"><svg' "$work/$page.dom" | wc -l)
    drawn=$(grep -c "$drawing" "$work/$page.dom")
    check "$page page shows its charts" $(( charts == want && drawn > 0 ? 0 : 1 )) \
        "$charts of $want charts rendered in the DOM"
    shot=$(wc -c <"$work/$page.png" 2>/dev/null || echo 0)
    # A blank page of that size compresses to a few kilobytes; charts do not.
    check "$page page screenshot has drawing" $(( shot > 20000 ? 0 : 1 )) "$shot bytes of PNG"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
