#!/usr/bin/env bash
# Reading one run back out of big logs: `tracectx logs RUN_ID FILE` (the file read with
# pread(2) in blocks by two threads, each searching what it read; never mapped, so a file
# truncated under the search cannot kill it) and `tracectx logs RUN_ID < FILE` (a stream, read
# ahead on one thread and searched on the other) against `grep -F RUN_ID FILE` and
# `rg -F RUN_ID FILE` (also `rg -j1`, one thread, the file mapped in memory, and
# `rg -j1 --no-mmap`, read with read(2)), on a generated ~1 GiB text log and a ~1 GiB
# JSON-lines log of 2,000 interleaved runs in tracectx's own line format.
#
# Not run by CI. Needs cargo, python3 and GNU grep; ripgrep and hyperfine are used when present
# (installed with apt-get when possible; without ripgrep its rows are skipped, without
# hyperfine each command is timed with `date`). Each time is the median of 3 runs on a file in
# the page cache (warm), output going to a file (GNU grep stops at the first match when its
# output is /dev/null). The files go to a temporary directory, removed at the end.
#
#   benches/extract.sh            # 1024 MiB per file
#   benches/extract.sh 256        # smaller files, for a quick look
#
# Besides timing, it checks that every tool finds the same lines (the generator puts a run id
# only in its lines' stamp, so a substring search and the exact field match must agree), and
# that where one run id is a prefix of another (backtest_ab1, backtest_ab12) tracectx counts
# exactly the lines whose run field is the id, as grep counts them with the brackets or quotes
# around it, while a bare `grep -F` counts both runs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
size_mib=${1:-1024}
runs=2000

say() { printf '%s\n' "$*" >&2; }
die() { say "extract.sh: $*"; exit 1; }

try_install() { # try_install COMMAND PACKAGE
    command -v "$1" >/dev/null && return 0
    if command -v apt-get >/dev/null; then
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
        "${sudo[@]}" apt-get install -y "$2" >/dev/null 2>&1 ||
            { "${sudo[@]}" apt-get update >/dev/null 2>&1 &&
                "${sudo[@]}" apt-get install -y "$2" >/dev/null 2>&1; } || true
    fi
    command -v "$1" >/dev/null
}

command -v python3 >/dev/null || die "python3 is needed to generate the logs"
grep --version | head -n1 | grep -q GNU || die "GNU grep is needed"
have_rg=1
try_install rg ripgrep || { have_rg=0; say "ripgrep not installed and not installable: skipping rg"; }
have_hf=1
try_install hyperfine hyperfine || { have_hf=0; say "hyperfine not available: timing with date"; }

say "building tracectx (release, package tracectx-cli)"
cargo build --quiet --release -p tracectx-cli --manifest-path "$root/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/tracectx"
[ -x "$bin" ] || die "no binary at $bin"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tracectx-extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The median wall time, in seconds, of 3 runs of the shell command $1 (after one warm-up run).
median_secs() {
    if [ "$have_hf" = 1 ]; then
        hyperfine --style none --warmup 1 --runs 3 --export-json "$tmp/hf.json" "$1" >/dev/null
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$tmp/hf.json"
    else
        bash -c "$1"
        local times=()
        for _ in 1 2 3; do
            local t0 t1
            t0=$(date +%s.%N)
            bash -c "$1"
            t1=$(date +%s.%N)
            times+=("$(python3 -c "print($t1 - $t0)")")
        done
        printf '%s\n' "${times[@]}" | sort -g | sed -n 2p
    fi
}

meta() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

check() { # check WHAT GOT WANT
    if [ "$2" != "$3" ]; then
        die "$1: got $2, expected $3"
    fi
    say "  ok  $1: $2"
}

results="$tmp/results.tsv"
: >"$results"

for format in text json; do
    log="$tmp/$format.log"
    say "generating $format log: ${size_mib} MiB, $runs runs"
    start=$(date +%s)
    python3 "$here/gen_log.py" --format "$format" --size-mib "$size_mib" --runs "$runs" \
        --out "$log" >"$tmp/$format.json"
    say "  $(meta "$tmp/$format.json" lines) lines, $(meta "$tmp/$format.json" bytes) bytes in $(($(date +%s) - start)) s"
    bytes=$(stat -c %s "$log")
    run=$(meta "$tmp/$format.json" target)
    want=$(meta "$tmp/$format.json" target_lines)

    say "checking match counts ($format, run $run)"
    check "tracectx logs --count" "$("$bin" logs --count "$run" "$log")" "$want"
    check "grep -cF" "$(LC_ALL=C grep -cF "$run" "$log")" "$want"
    [ "$have_rg" = 0 ] || check "rg -cF" "$(rg -cF "$run" "$log")" "$want"

    short=$(meta "$tmp/$format.json" short)
    short_lines=$(meta "$tmp/$format.json" short_lines)
    long_lines=$(meta "$tmp/$format.json" long_lines)
    if [ "$format" = text ]; then field="[$short]"; else field="\"run_id\":\"$short\""; fi
    check "tracectx logs --count $short" "$("$bin" logs --count "$short" "$log")" "$short_lines"
    check "grep -cF '$field' (the exact field)" "$(LC_ALL=C grep -cF "$field" "$log")" "$short_lines"
    check "grep -cF $short (its prefix runs too)" "$(LC_ALL=C grep -cF "$short" "$log")" \
        "$((short_lines + long_lines))"

    say "timing ($format): median of 3"
    tools=(tracectx "tracectx stdin" grep)
    cmds=("'$bin' logs '$run' '$log' > '$tmp/out.tracectx'"
        "'$bin' logs '$run' < '$log' > '$tmp/out.tracectxs'"
        "LC_ALL=C grep -F '$run' '$log' > '$tmp/out.grep'")
    if [ "$have_rg" = 1 ]; then
        # `--no-mmap`: read(2) into a buffer instead of mapping the file.
        tools+=("rg" "rg -j1" "rg nommap")
        cmds+=("rg -F '$run' '$log' > '$tmp/out.rg'"
            "rg -j1 -F '$run' '$log' > '$tmp/out.rg1'"
            "rg -j1 --no-mmap -F '$run' '$log' > '$tmp/out.rgn'")
    fi
    for k in "${!tools[@]}"; do
        secs=$(median_secs "${cmds[$k]}")
        printf '%s\t%s\t%s\t%s\n' "$format" "${tools[$k]}" "$secs" "$bytes" >>"$results"
        say "  ${tools[$k]}: $(printf '%.3f' "$secs") s"
    done
    # Every tool printed the very same lines, in the same order.
    for out in "$tmp"/out.*; do
        cmp -s "$out" "$tmp/out.grep" || die "$out differs from grep's output"
    done
    check "lines printed by each tool" "$(wc -l <"$tmp/out.tracectx")" "$want"
    rm -f "$tmp"/out.* "$log"
done

say ""
python3 - "$results" <<'EOF'
import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
mbs = defaultdict(dict)
print(f"{'file':<6} {'tool':<15} {'median s':>9} {'MB/s':>8}")
for fmt, tool, secs, size in rows:
    rate = int(size) / float(secs) / 1e6
    mbs[fmt][tool] = rate
    print(f"{fmt:<6} {tool:<15} {float(secs):>9.3f} {rate:>8.0f}")
print()
print("throughput ratios (above 1: tracectx is faster)")
for fmt, tools in mbs.items():
    for ours, peer in (("tracectx", "grep"), ("tracectx", "rg"), ("tracectx", "rg -j1"),
                       ("tracectx stdin", "rg nommap")):
        if peer in tools:
            print(f"{fmt:<6} {ours}/{peer:<9} {tools[ours] / tools[peer]:.2f}")
EOF
