#!/usr/bin/env bash
# SET throughput of mqstated by persistence.state_store mode (docs/persistence.md,
# "Choosing durable keys"), fsync: always: all (every write durable), none,
# custom selecting no key (the generator's keys are key:NNN; the pattern
# never matches, and the generator sends no aio-persistence), and custom
# selecting every key (pattern key:*), custom-half selecting the keys
# ending in an even digit (a mixed load); and, for reference, no persistence
# at all (memory: no persistence.dir). 50 connections, 1 and 16 in flight,
# 16-byte keys, 100-byte values, through bench/pubsub --workload set.
#
#   bench/run_persist_modes.sh [--mqstated PATH] [--pubsub PATH] [--runs R] [--duration S]
#                              [--inflight "1 16"] [--modes "memory all none custom-none custom-all"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
runs=2
duration=8
inflights="1 16"
modes="memory all none custom-none custom-all"
while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --inflight) inflights=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    *) echo "usage: $0 [--mqstated PATH] [--pubsub PATH] [--runs R] [--duration S] [--inflight \"1 16\"] [--modes \"...\"]" >&2; exit 2 ;;
    esac
done
tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
jget() { python3 -c 'import json,sys
try: print(json.loads(sys.stdin.read()).get(sys.argv[1], ""))
except ValueError: print("failed")' "$1"; }

selection() {
    case "$1" in
    all) printf '    mode: all\n' ;;
    none) printf '    mode: none\n' ;;
    custom-none) printf '    mode: custom\n    keys:\n      - keyType: Pattern\n        keys: ["durable/*"]\n' ;;
    custom-all) printf '    mode: custom\n    keys:\n      - keyType: Pattern\n        keys: ["key:*"]\n' ;;
    custom-half) printf '    mode: custom\n    keys:\n      - keyType: Pattern\n        keys: ["key:*[02468]"]\n' ;;
    esac
}

printf '| mode | in flight | run | SET ops/s | p50 µs | p99 µs |\n|---|---|---|---|---|---|\n'
for ((r = 1; r <= runs; r++)); do
    for inflight in $inflights; do
        for mode in $modes; do
            rm -rf "$tmp/data"
            port=$((20000 + RANDOM % 40000))
            { printf 'log_level: warn\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\n' "$port"
              if [ "$mode" != memory ]; then
                  printf 'persistence:\n  dir: %s\n  fsync: always\n  state_store:\n' "$tmp/data"
                  selection "$mode"
              fi; } >"$tmp/c.yaml"
            "$mqstated" -c "$tmp/c.yaml" >>"$tmp/server.log" 2>&1 &
            pid=$!
            for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
            line=$(timeout $((duration + 60)) "$pubsub" --host 127.0.0.1 --port "$port" --server-pid "$pid" --json \
                --workload set --conns 50 --inflight "$inflight" --keys 100000 --value-size 100 --warmup 2 \
                --duration "$duration" | tail -n 1) || true
            kill "$pid" 2>/dev/null || tail -n 5 "$tmp/server.log" >&2
            wait "$pid" || true
            pid=""
            printf '| %s | %s | %s | %s | %s | %s |\n' "$mode" "$inflight" "$r" "$(jget ops_s <<<"$line")" \
                "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")"
        done
    done
done
