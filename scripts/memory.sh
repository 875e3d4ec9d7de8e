#!/usr/bin/env bash
# Peak memory of the command line on inputs that once exhausted it, by GNU time's maximum
# resident set size (installed with apt-get when missing): a sweep of a million combinations
# ranked for a table of five, and CSV files of 256 MiB with no newline or one huge field. Each
# must stay under 200 MB; the sweep's peak must not grow with its grid (10,000 against
# 1,000,000 combinations). Prints `N passed, N failed` last.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
builds="${CARGO_TARGET_DIR:-target}"

# shellcheck source=check.sh
. "$root/scripts/check.sh"

if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; } || true
fi
if [ ! -x /usr/bin/time ]; then
    echo "FAIL GNU time is missing and could not be installed (apt-get install -y time)"
    echo "0 passed, 1 failed"
    exit 1
fi

cargo build --quiet --release -p tracectx-cli -p tracectx-backtest --bins --example write_bars || {
    echo "0 passed, 1 failed"; exit 1; }
bin="$builds/release/tracectx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$builds/release/examples/write_bars" 500 42 "$work/bars.csv"

limit_kb=$((200 * 1024))
peak() { # command... -> peak KB on stdout
    /usr/bin/time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/stderr"
    echo "$?" >"$work/code"
    cat "$work/rss" | tail -1
}

small=$(peak "$bin" sweep --data "$work/bars.csv" --grid fast=1:10000:1 --param slow=5 --top 5)
large=$(peak "$bin" sweep --data "$work/bars.csv" --grid fast=1:1000000:1 --param slow=5 --top 5)
code=$(cat "$work/code")
check "sweep of 1,000,000 combinations, top 5" $(( code == 0 && large < limit_kb ? 0 : 1 )) \
    "peak $((large / 1024)) MB (limit 200 MB), exit $code"
check "sweep peak does not grow with the grid" $(( large < small + 16384 ? 0 : 1 )) \
    "10,000 combinations $((small / 1024)) MB, 1,000,000 combinations $((large / 1024)) MB"

head -c 268435456 /dev/zero | tr '\0' 'a' >"$work/no-newline.csv"
rss=$(peak "$bin" backtest --data "$work/no-newline.csv")
code=$(cat "$work/code")
grep -q 'at line 1: line longer than 1048576 bytes' "$work/stderr"
named=$?
check "256 MiB without a newline" $(( code == 1 && named == 0 && rss < limit_kb ? 0 : 1 )) \
    "peak $((rss / 1024)) MB, exit $code, $(head -c 200 "$work/stderr")"
rm -f "$work/no-newline.csv"

{ printf 'date,open,high,low,close\n2020-01-01,'; head -c 268435456 /dev/zero | tr '\0' '1'; } \
    >"$work/long-field.csv"
rss=$(peak "$bin" backtest --data "$work/long-field.csv")
code=$(cat "$work/code")
grep -q 'at line 2: line longer than 1048576 bytes' "$work/stderr"
named=$?
check "a 256 MiB field" $(( code == 1 && named == 0 && rss < limit_kb ? 0 : 1 )) \
    "peak $((rss / 1024)) MB, exit $code, $(head -c 200 "$work/stderr")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
