#!/usr/bin/env bash
# Latency of Set.add through the harness (`real`, set-vo, no faults) against a plain curl
# loop on the same cluster, and the ops/s the harness sustains. Needs root, the npm
# packages in .tools/npm and services/dist (scripts/test.sh installs them) and python3.
# Usage: scripts/bench-real.sh [seconds] — prints one line per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
bin=target/release/restate-jepsen
[ -x "$bin" ] || cargo build --release -q
work=$(mktemp -d)
trap '"$bin" cluster down --dir "$work/cluster" >/dev/null; rm -rf "$work"' EXIT
"$bin" cluster up --nodes 3 --dir "$work/cluster" --subnet 10.82.7.0/24 >/dev/null
ip=$(head -1 "$work/cluster/nodes.txt")
common=(--nodes-file "$work/cluster/nodes.txt" --ssh-private-key "$work/cluster/id_ed25519"
        --node-dir "$work/cluster/restate" --store "$work/store" --workload set-vo --nemesis none
        --time-limit "$seconds")

latencies() { # history.jsonl -> add latencies in ms, one per line
  python3 - "$1" <<'PY'
import json, sys
invokes = {}
for line in open(sys.argv[1]):
    op = json.loads(line)
    if op["f"] != "add" or op["process"] == "nemesis":
        continue
    if op["type"] == "invoke":
        invokes[op["process"]] = op["time"]
    elif op["type"] == "ok" and op["process"] in invokes:
        print((op["time"] - invokes.pop(op["process"])) / 1e6)
PY
}
summary() { # name, file of ms values
  sort -n "$2" | awk -v name="$1" '{ v[NR] = $1 } END {
    printf "%s: n=%d p50=%.2f ms p99=%.2f ms\n", name, NR, v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }'
}

# Two clients, back to back (one adds, one reads; rate far above what they can do): latency.
start=$(date +%s.%N)
# (Two clients bind to two of the three nodes: the heal checker then says unknown, exit 2.)
code=0
"$bin" real "${common[@]}" --concurrency 2 --rate 10000 --leave-db-running 2>"$work/setup.log" >"$work/verdict.txt" || code=$?
[ "$code" = 0 ] || [ "$code" = 2 ] || { cat "$work/setup.log" "$work/verdict.txt" >&2; exit 1; }
grep -E "installed|healthy|partitions led|services registered" "$work/setup.log" | sed 's/^/setup: /'
run=$(readlink -f "$work/store/set-vo-none/latest")
latencies "$run/history.jsonl" > "$work/harness.ms"
summary "harness Set.add, 1 adding client" "$work/harness.ms"
oks=$(grep -c '"type":"ok"' "$run/history.jsonl")
echo "harness, 2 clients (1 adding): $((oks / seconds)) ok ops/s"

# The same cluster (left running), a plain curl loop for as many adds, first alone on its
# key, then beside a curl loop reading that key (as the harness's reader does: a virtual
# object runs one handler per key at a time, so reads and adds queue behind each other).
n=$(wc -l < "$work/harness.ms")
for i in $(seq 1 "$n"); do
  curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
    -d "$i" "http://$ip:8080/Set/curl-alone/add"
done | awk '{ print $1 * 1000 }' > "$work/curl-alone.ms"
summary "curl Set.add, 1 client alone" "$work/curl-alone.ms"
touch "$work/reading"
while [ -f "$work/reading" ]; do
  curl -s -o /dev/null -X POST "http://$ip:8080/Set/curl-bench/get"
done &
reader=$!
for i in $(seq 1 "$n"); do
  curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
    -d "$i" "http://$ip:8080/Set/curl-bench/add"
done | awk '{ print $1 * 1000 }' > "$work/curl.ms"
rm -f "$work/reading"; wait "$reader" || true
summary "curl Set.add, 1 client beside a reader" "$work/curl.ms"

# Throughput: 5 clients per node, unthrottled.
"$bin" real "${common[@]}" --concurrency 5n --rate 10000 2>/dev/null >/dev/null || true
run=$(readlink -f "$work/store/set-vo-none/latest")
oks=$(grep -c '"type":"ok"' "$run/history.jsonl")
echo "harness, 15 clients: $((oks / seconds)) ok ops/s"
latencies "$run/history.jsonl" > "$work/harness15.ms"
summary "harness Set.add, 15 clients" "$work/harness15.ms"
