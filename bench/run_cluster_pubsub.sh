#!/usr/bin/env bash
# Cross-node pub/sub benchmark (issue 13): publishers on node 1 of a
# 3-node cluster on loopback, subscribers on node 2 (every message crosses
# a node link; QoS 1 PUBACKs wait for node 2's acknowledgement), against
# the same build as a single node (publishers and subscribers on it), in
# one run. Builds nothing (default: the build/release tree).
#
#   bench/run_cluster_pubsub.sh [--mqstated PATH] [--pubsub PATH] [--runs R]
#                               [--warmup S] [--duration S] [--pubs N]
#                               [--window W] [--size B] [--out DIR]
#
# Each scenario (QoS 0 and 1, cross-node and single node; N publishers and
# N subscribers in pairs, default 16, window 16, 100-byte payloads) R
# times (default 3); medians of delivered msg/s and p99 latency, and the
# ratio cross-node / single node. Raw results: DIR/results.jsonl.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
runs=3
warmup=2
duration=10
pubs=16
window=16
size=100
out=""

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --pubs) pubs=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "run_cluster_pubsub.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
for f in "$mqstated" "$pubsub"; do
    [ -x "$f" ] || { echo "run_cluster_pubsub.sh: $f missing: cmake --build build/release" >&2; exit 2; }
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/mqs-bench-cpubsub-XXXXXX")}
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        port_open "$p" || { echo "$p"; return; }
    done
}
wait_port() {
    local i
    for ((i = 0; i < 500; i++)); do port_open "$1" && return 0; sleep 0.02; done
    return 1
}

MQTT=() NPID=()
cluster_start() { # dir
    local dir=$1 i j raft=() link=()
    rm -rf "$dir"
    mkdir -p "$dir"
    for i in 1 2 3; do MQTT[i]=$(free_port); raft[i]=$(free_port); link[i]=$(free_port); done
    for i in 1 2 3; do
        {
            printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "${MQTT[i]}"
            printf 'log_level: warn\npersistence:\n  dir: %s/d%s\n' "$dir" "$i"
            printf 'cluster:\n  name: bench\n  node_id: %s\n  members:\n' "$i"
            for j in 1 2 3; do
                printf '    - {id: %s, raft_address: "127.0.0.1:%s", link_address: "127.0.0.1:%s"}\n' "$j" \
                    "${raft[j]}" "${link[j]}"
            done
        } >"$dir/n$i.yaml"
    done
    for i in 1 2 3; do
        "$mqstated" -c "$dir/n$i.yaml" >>"$dir/n$i.log" 2>&1 &
        NPID[i]=$!
        pids+=("${NPID[i]}")
    done
    for i in 1 2 3; do wait_port "${MQTT[i]}"; done
    sleep 2 # node links up (interest sets exchanged)
}
cluster_stop() {
    local i
    for i in 1 2 3; do kill -TERM "${NPID[i]}" 2>/dev/null || true; done
    for i in 1 2 3; do wait "${NPID[i]}" 2>/dev/null || true; done
}
single_start() { # dir
    rm -rf "$1"
    mkdir -p "$1"
    SPORT=$(free_port)
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\nlog_level: warn\n' "$SPORT" >"$1/s.yaml"
    "$mqstated" -c "$1/s.yaml" >>"$1/s.log" 2>&1 &
    SPID=$!
    pids+=("$SPID")
    wait_port "$SPORT"
}

load() { # label qos pub-port sub-port
    timeout $((warmup + duration + 60)) "$pubsub" --port "$3" --sub-port "$4" --pubs "$pubs" --subs "$pubs" \
        --topic-mode pairs --qos "$2" --window "$window" --size "$size" --warmup "$warmup" --duration "$duration" \
        --json --label "$1" | tail -n 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); r["scenario"]=sys.argv[1]; print(json.dumps(r))' "$1-qos$2" >>"$results"
}

for ((run = 1; run <= runs; run++)); do
    for qos in 0 1; do
        single_start "$out/single"
        load single "$qos" "$SPORT" "$SPORT"
        kill -TERM "$SPID"
        wait "$SPID" 2>/dev/null || true
        cluster_start "$out/cluster"
        load cross-node "$qos" "${MQTT[1]}" "${MQTT[2]}"
        cluster_stop
    done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(s, k):
    v = [r.get(k) for r in rows if r["scenario"] == s and r.get(k) is not None]
    return statistics.median(v) if v else None
def key(r, *names):
    for n in names:
        if n in r: return n
    return None
k_rate = "recv_msgs_s"
k_p99 = "p99_us"
print("| scenario | msg/s (median) | p99 | lost (max) |")
print("|---|---|---|---|")
for s in sorted({r["scenario"] for r in rows}):
    lost = max(r.get("lost", 0) for r in rows if r["scenario"] == s)
    print(f"| {s} | {med(s, k_rate):.0f} | {med(s, k_p99)} | {lost} |")
for q in (0, 1):
    a, b = med(f"cross-node-qos{q}", k_rate), med(f"single-qos{q}", k_rate)
    if a and b: print(f"QoS {q}: cross-node / single node = {a / b:.2f}")
PY
echo "raw results: $results" >&2
