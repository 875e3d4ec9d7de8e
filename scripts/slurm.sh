#!/usr/bin/env bash
# A sweep sharded over a Slurm job array on a one-node cluster on this machine (Debian's
# slurm-wlm and munge, installed with apt-get when missing; loopback only; every wait
# bounded): each array task runs `tracectx sweep --shard K/N --output shard-K.jsonl` under the
# TRACEPARENT this launcher sets, `tracectx merge` ranks the shards, and the ranking must be the
# local sweep's (parameters and statistics, run ids apart) with one trace id across every
# shard, and `tracectx trace` must read every shard's runs back from their logs. Prints
# `N passed, N failed` last.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
builds="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$root/target")"

# shellcheck source=check.sh
. "$root/scripts/check.sh"
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    echo "installing slurm-wlm and munge (apt-get)" >&2
    timeout 900 apt-get install -y slurm-wlm munge >/dev/null 2>&1 \
        || { timeout 300 apt-get update >/dev/null && timeout 900 apt-get install -y slurm-wlm munge >/dev/null; } \
        || true
fi
if ! command -v slurmctld >/dev/null 2>&1; then
    check "slurm-wlm installed" 1 "apt-get install -y slurm-wlm munge failed"
    finish
fi

cargo build --quiet --release -p tracectx-cli -p tracectx-backtest --bins --example write_bars || {
    check "build" 1 "cargo build failed"; finish; }
bin="$builds/release/tracectx"

work="$(mktemp -d /tmp/tracectx-slurm.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 1
    rm -rf "$work"
}
trap cleanup EXIT

# munge: a key of our own, its socket and state in the work directory.
mkdir -p "$work/munge"
dd if=/dev/urandom bs=1 count=1024 of="$work/munge/munge.key" 2>/dev/null
chmod 400 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/socket" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/seed" 2>"$work/munge/start.log"
sleep 1
munge_pid=$(cat "$work/munge/munged.pid" 2>/dev/null)
[ -n "$munge_pid" ] && pids+=("$munge_pid")

host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
mkdir -p "$work/spool/ctld" "$work/spool/d" "$work/log"
cat >"$work/slurm.conf" <<CONF
ClusterName=tracectx
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=10 State=UP
CONF
# slurmd 22.05 loads a cgroup plugin whatever the task and proctrack plugins: the v1
# hierarchy, constraining nothing.
cat >"$work/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
CONF
export SLURM_CONF="$work/slurm.conf"

slurmctld -c -f "$SLURM_CONF" 2>"$work/log/slurmctld.start"
slurmd -f "$SLURM_CONF" 2>"$work/log/slurmd.start"
sleep 2
for f in slurmctld.pid slurmd.pid; do
    [ -f "$work/$f" ] && pids+=("$(cat "$work/$f")")
done

# Bounded wait for the node to be idle.
up=1
for _ in $(seq 1 30); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^idle'; then up=0; break; fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1
    sleep 1
done
check "one-node cluster up" $up "$(sinfo -h -o '%N %T' 2>&1 | head -1) $(tail -2 "$work/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
if [ $up -ne 0 ]; then
    tail -5 "$work/log/slurmctld.log" "$work/log/slurmd.log" "$work/log/slurmctld.start" "$work/log/slurmd.start" 2>/dev/null
    finish
fi

"$builds/release/examples/write_bars" 2000 42 "$work/bars.csv"
shards=4
grid=(--grid fast=2:40:2 --grid slow=10:120:10 --constraint 'fast<slow')
trace=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export TRACEPARENT="00-$trace-$(python3 -c 'import secrets; print(secrets.token_hex(8))')-01"
cat >"$work/shard.sh" <<JOB
#!/usr/bin/env bash
k=\$((SLURM_ARRAY_TASK_ID))
exec "$bin" sweep --data "$work/bars.csv" ${grid[*]@Q} --shard "\$k/$shards" \
    --output "$work/shard-\$k.jsonl" --rank-by return_pct --top 3 --log-file "$work/shard-\$k.log"
JOB
chmod 755 "$work/shard.sh"
job=$(sbatch --parsable --array=1-$shards --output="$work/out-%a.txt" --chdir="$work" \
    --time=5 "$work/shard.sh" 2>"$work/sbatch.err")
check "job array submitted" $(( ${#job} > 0 ? 0 : 1 )) "job ${job:-none} $(cat "$work/sbatch.err")"

done_ok=1
for _ in $(seq 1 120); do
    if [ -n "$job" ] && ! squeue -h -j "$job" 2>/dev/null | grep -q .; then done_ok=0; break; fi
    sleep 1
done
check "job array finished within 2 minutes" $done_ok "$(squeue -h 2>&1 | head -3)"
files=("$work"/shard-*.jsonl)
check "every shard wrote its lines" $(( ${#files[@]} == shards ? 0 : 1 )) \
    "${#files[@]} of $shards files; $(cat "$work"/out-*.txt 2>/dev/null | head -3)"

unset TRACEPARENT
"$bin" merge "${files[@]}" --rank-by return_pct --top 10 >"$work/merged.txt" 2>"$work/merge.err"
check "tracectx merge" $? "$(head -1 "$work/merged.txt") $(cat "$work/merge.err")"
"$bin" sweep --data "$work/bars.csv" "${grid[@]}" --rank-by return_pct --top 10 >"$work/local.txt"
strip() { tail -n +2 "$1" | awk '{ $2 = ""; print }'; }
diff <(strip "$work/merged.txt") <(strip "$work/local.txt") >"$work/diff.txt"
check "merged ranking is the local sweep's" $? "$(head -4 "$work/diff.txt")"
traces=$(cat "${files[@]}" | python3 -c 'import json, sys; print(" ".join(sorted({json.loads(l)["trace_id_full"] for l in sys.stdin})))')
check "one trace id across all shards" $([ "$traces" = "$trace" ] && echo 0 || echo 1) \
    "shards' trace ids: $traces, launcher's: $trace"
# The whole sweep back from the shards' logs by its trace: the lines of every session run
# (the run ids of the shards' result lines) and of every shard's sweep run, nothing else.
"$bin" trace "$trace" "$work"/shard-*.log >"$work/trace.txt" 2>"$work/trace.err"
want=$(cat "${files[@]}" | python3 -c 'import json, sys
runs = set()
for l in sys.stdin:
    r = json.loads(l)
    runs.update([r["run_id"], r["sweep_id"]])
print(" ".join(sorted(runs)))')
got=$(python3 -c 'import sys; print(" ".join(sorted({l.split("] [")[1] for l in open(sys.argv[1])})))' "$work/trace.txt")
check "tracectx trace reads every shard's runs back" $([ -n "$want" ] && [ "$got" = "$want" ] && echo 0 || echo 1) \
    "$(wc -l <"$work/trace.txt") lines, runs: $(echo "$got" | wc -w) of $(echo "$want" | wc -w); $(head -c 300 "$work/trace.err")"

finish
