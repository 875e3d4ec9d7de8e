#!/usr/bin/env bash
# Fuzzes every reader of outside input with cargo-fuzz (libFuzzer), one target at a time, for a
# bounded time each: ids and W3C headers, baggage, tracestate, the environment carrier, log
# lines (queries, runs, templates, lines written then read back), time formats, saved repro
# records, and the backtest's CSV bars, grids, parameters and session records.
#
# FUZZ_SECONDS (default 20) per target; FUZZ_TARGETS (default: all) to run some. Each target
# starts from a few valid inputs written into fuzz/corpus/<target> (gitignored), and stops at
# the first crash, hang (-timeout=10 s per input) or out-of-memory (-rss_limit_mb=2048); the
# input is kept in fuzz/artifacts/<target>. Prints its own "N passed, N failed" line.
#
# Not part of .ci/run: with the default it takes about 6 minutes on 2 cores once the targets
# are built (5 min 50 s measured, 26 s of it rebuilding them after a change to the crates); a
# first build from nothing takes about 2 minutes more.
#
# cargo-fuzz needs unstable compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no nightly toolchain is needed.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
all="ids w3c baggage tracestate env query runs template logline time repro csv grid params record"
targets=${FUZZ_TARGETS:-$all}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

# A seed: seed TARGET NAME, its bytes on standard input (written once, kept across runs).
seed() {
    mkdir -p "fuzz/corpus/$1"
    [ -e "fuzz/corpus/$1/seed-$2" ] || cat >"fuzz/corpus/$1/seed-$2"
}

tp=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
printf 'backtest_ab12cd34' | seed ids run
printf '4bf92f3577b34da6a3ce929d0e0e4736' | seed ids trace
printf '%s\nrojo=00f067aa0ba902b7,congo=t61rcWkgMzE\nrun_id=job_1,user=alice%%20b;p=1' "$tp" | seed w3c all
printf 'run_id=job_1, user = alice%%20b;prop=1\ntenant=acme,=oops\n\nk=v;p,run_id=forged' | seed baggage merge
printf 'run%%5Fid=x,note=line%%0Abreak' | seed baggage encoded
printf ' rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE\ntenant@vendor=1,a=2,a=3' | seed tracestate two
printf 'PATH=/usr/bin\nTRACEPARENT=%s\nTRACESTATE=rojo=1\nBAGGAGE=run_id=sweep_7,tenant=acme' "$tp" | seed env all
printf 'TRACEPARENT=%s\nBAGGAGE=run_id=sweep_7,k=\xff' "$tp" | seed env unreadable
log='[2024-01-01T10:00:00.000000Z] [job_1] [a1b2c3d4] INFO t - m
{"timestamp":"2024-01-01T10:00:01.000000Z","level":"WARN","run_id":"job_1","trace_id":"4bf92f3577b34da6a3ce929da1b2c3d4","message":"x"}
[2024-01-01T10:00:02.000000Z] [-] [-] ERROR t - [job_1] mentioned
{"run_id":"job\\u005f1","trace_id":"A1B2C3D4"}
'
printf 'job_1\na1b2c3d4\n%s' "$log" | seed query text-json
printf '%s' "$log" | seed runs text-json
printf '[{timestamp:%%Y-%%m-%%d %%H:%%M:%%S}] [{run_id}] [{trace_id}] {level} - {message}\n[2024-01-01 10:00:00] [job_1] [a1b2c3d4] INFO - x\n' | seed template brackets
printf '{message} [{run_id}] {fields}\nhello [job_1] k=v\n' | seed template between
printf '\x02\x02\x00\x10\x32\x54\x76\x98\x10\x00%%Y-%%m-%%d %%H:%%M:%%S,%%3f\njob_1\nhello\nnote' | seed logline template
printf '\x00\x03\x00\x10\x32\x54\x76\x98\x10\x00\njob_1\nline\nbreak\x1b[2J' | seed logline default
printf '\x01\x04\x00\x10\x32\x54\x76\x98\x10\x00\njob_1\n\xe2\x80\xaeevil\nnote' | seed logline json
printf '%%Y-%%m-%%d %%H:%%M:%%S,%%3f %%z\n2024-01-01 10:00:00,123 +0130\n2024-01-01T10:00:00.25+01:30' | seed time python
printf '%%s%%3f\n1704103200123\n2024-02-29 10:00:00' | seed time epoch
hash=$(printf '%s' '{"fast":10,"slow":30}' | sha256sum | cut -c1-64)
printf '{"format_version":1,"run_id":"run_1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":null,"trace_flags":"01","seed":42,"created_at":"2024-01-01T10:00:00.000000Z","crate_version":"0.1.0","os":"linux","arch":"x86_64","hostname":"host","git_commit":null,"config":{"fast":10,"slow":30},"config_hash":"%s"}\n' "$hash" | seed repro record
printf 'date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n' | seed csv daily
printf 'Date,Time,Open,High,Low,Close\r\n20240102,09:30,1,1,1,1\r\n20240102,09:31:00.5,"1",1,1,1\r\n' | seed csv intraday
printf ',open,high,low,close\n1700000000,1,2,1,2\n1700003600,2,3,2,3\n' | seed csv epoch
printf 'fast=5:50:5\nslow=20:200:10\n?fast<slow\n#2/3' | seed grid ints
printf 'k=0.1:0.3:0.1\nmode=a,b,c\nlong_only=true,false\n?k<=0.2, long_only==true' | seed grid mixed
printf 'a=9007199254740993,1\nb=9007199254740992.5,2\n?a>b' | seed grid large
printf 'fast=10\nslow = 20\nlong_only=true\nk=0.5\nk=-1e-3\nmode=close' | seed params cli
printf '%s' '{"index":0,"sweep_id":"sweep_01a236e0963c73119e06c528a83ccbf0","run_id":"backtest_01a236e0963c73119e06c5297f8a2665","trace_id":"4dcee337","trace_id_full":"6bf7a3f2c590a35d43ea7a894dcee337","strategy":"sma-cross","params":{"fast":5,"long_only":false,"slow":20},"stats":{"start":"2020-01-01T00:00:00Z","end":"2020-10-26T00:00:00Z","duration_secs":25833600.0,"exposure_pct":71.33333333333334,"equity_final":13848.250000000005,"equity_peak":13974.970000000007,"commissions":0.0,"return_pct":38.48250000000005,"buy_hold_return_pct":39.15909317886748,"return_ann_pct":48.80098583263237,"volatility_ann_pct":26.284522413541804,"cagr_pct":48.84149778381879,"sharpe":1.8566434293472294,"sortino":4.269141739189208,"calmar":4.4535634272050135,"alpha_pct":22.922659746038036,"beta":0.3973493508363214,"max_drawdown_pct":-10.957739039827509,"avg_drawdown_pct":-2.1020088671674224,"max_drawdown_duration_secs":7516800.0,"avg_drawdown_duration_secs":950400.0,"trades":16,"win_rate_pct":31.25,"best_trade_pct":8.69650377044363,"worst_trade_pct":-3.1963470319634757,"avg_trade_pct":0.7318593897129411,"max_trade_duration_secs":3456000.0,"avg_trade_duration_secs":1209600.0,"profit_factor":1.9011616812670702,"expectancy_pct":0.790768360603164,"sqn":0.7940911549282923,"kelly":0.1360406008191382},"error":null,"sweep_fingerprint":"d28bd0c0648a3c05","sweep_sessions":2}' | seed record ok
printf '{"index":1,"sweep_id":null,"run_id":"backtest_1","trace_id":null,"trace_id_full":null,"strategy":"sma-cross","params":{"fast":5,"slow":0},"stats":null,"error":"parameter \\"slow\\" must be at least 1, got 0"}' | seed record failed

# Build once: a target that does not build is not counted as a finding.
if ! cargo fuzz build -O -a 2>&1 | tail -n 5; then
    echo "FAIL build of the fuzz targets"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0
failed=0
for target in $targets; do
    log=$(cargo fuzz run -O -a "$target" -- -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 2>&1)
    if grep -q '^Done' <<<"$log"; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$log")
        echo "ok   $target (${seconds}s, ${runs:-?} inputs, no crash)"
        passed=$((passed + 1))
    else
        tail -n 30 <<<"$log"
        echo "FAIL $target: see fuzz/artifacts/$target"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
