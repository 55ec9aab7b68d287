#!/usr/bin/env bash
# Cluster benchmark (issue 12): the replicated state store on 3 mqstated
# nodes on loopback, against the same build as a single node and against
# etcd 3.4 (Debian etcd-server, 3 members on loopback), in one run.
# Builds nothing (defaults: the build/release tree, with etcd_load);
# installs etcd-server if missing.
#
#   bench/run_cluster.sh [--mqstated PATH] [--pubsub PATH] [--etcd-load PATH]
#                        [--cli PATH] [--runs R] [--warmup S] [--duration S]
#                        [--keys K] [--kills N] [--election-ms MS]
#                        [--only throughput|failover] [--out DIR]
#
# Throughput: SET and GET of 16-byte keys (random over K, default 100000)
# with 100-byte values from 50 connections with 1 and 16 requests in
# flight; clients on the leader (mqstated: bench/pubsub; etcd: etcd_load
# through its JSON gateway, 50 x 16 connections for 16 in flight, since
# Go's HTTP server answers a connection's requests one at a time).
# Durability: every write on disk on a majority before it is answered
# (raft fsyncs each batch, as etcd does); the single node runs with
# persistence.dir and fsync always, and in memory. Each scenario R times
# (default 3), medians reported. Failover: N times (default 20) the
# leader of a 3-node cluster is killed with SIGKILL while a client of
# another node writes; time from the kill to the first write answered;
# p50 / p99 / max. --election-ms sets cluster.election_timeout_ms
# (default: the configuration's default; heartbeat a tenth of it).
# Raw results: DIR/results.jsonl (DIR default: a new temporary directory).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
etcd_load="$root/build/release/bench/etcd_load"
cli="$root/build/release/cli/mqstate"
runs=3
warmup=2
duration=10
keys=100000
kills=20
election=""
only=""
out=""

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --etcd-load) etcd_load=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --election-ms) election=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "run_cluster.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
for f in "$mqstated" "$pubsub" "$etcd_load" "$cli"; do
    [ -x "$f" ] || { echo "run_cluster.sh: $f missing: cmake --build build/release" >&2; exit 2; }
done
if ! command -v etcd >/dev/null; then
    echo "installing etcd-server (benchmark comparison only)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >/dev/null
fi
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/mqs-bench-cluster-XXXXXX")}
mkdir -p "$out"
results="$out/results.jsonl"
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

# --- mqstated -------------------------------------------------------------
MQTT=() RAFT=() LINK=() NPID=()
cluster_start() { # dir
    local dir=$1 i j
    rm -rf "$dir"
    mkdir -p "$dir"
    for i in 1 2 3; do MQTT[i]=$(free_port); RAFT[i]=$(free_port); LINK[i]=$(free_port); done
    for i in 1 2 3; do
        {
            printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "${MQTT[i]}"
            printf 'log_level: warn\npersistence:\n  dir: %s/d%s\n' "$dir" "$i"
            printf 'cluster:\n  name: bench\n  node_id: %s\n' "$i"
            [ -z "$election" ] || printf '  election_timeout_ms: %s\n  heartbeat_ms: %s\n' "$election" $((election / 10))
            printf '  members:\n'
            for j in 1 2 3; do
                printf '    - {id: %s, raft_address: "127.0.0.1:%s", link_address: "127.0.0.1:%s"}\n' "$j" \
                    "${RAFT[j]}" "${LINK[j]}"
            done
        } >"$dir/n$i.yaml"
    done
    for i in 1 2 3; do
        "$mqstated" -c "$dir/n$i.yaml" >>"$dir/n$i.log" 2>&1 &
        NPID[i]=$!
        pids+=("${NPID[i]}")
    done
    for i in 1 2 3; do wait_port "${MQTT[i]}"; done
}
node_start() { # dir i
    "$mqstated" -c "$1/n$2.yaml" >>"$1/n$2.log" 2>&1 &
    NPID[$2]=$!
    pids+=("${NPID[$2]}")
    wait_port "${MQTT[$2]}"
}
mq_leader() { # the node whose cluster status says it leads (waits up to 20 s)
    local i k st
    for ((k = 0; k < 400; k++)); do
        for i in 1 2 3; do
            kill -0 "${NPID[i]}" 2>/dev/null || continue
            st=$("$cli" -p "${MQTT[i]}" --timeout 2 cluster status 2>/dev/null) || continue
            if python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["state"]=="leader" else 1)' "$st"; then
                echo "$i"
                return 0
            fi
        done
        sleep 0.05
    done
    return 1
}
cluster_stop() {
    local i
    for i in 1 2 3; do kill -TERM "${NPID[i]}" 2>/dev/null || true; done
    for i in 1 2 3; do wait "${NPID[i]}" 2>/dev/null || true; done
}

single_start() { # dir durable(0/1) -> port in SPORT, pid in SPID
    rm -rf "$1"
    mkdir -p "$1"
    SPORT=$(free_port)
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\nlog_level: warn\n' "$SPORT" >"$1/s.yaml"
    (($2)) && printf 'persistence:\n  dir: %s/data\n  fsync: always\n' "$1" >>"$1/s.yaml"
    "$mqstated" -c "$1/s.yaml" >>"$1/s.log" 2>&1 &
    SPID=$!
    pids+=("$SPID")
    wait_port "$SPORT"
}

mq_load() { # port workload inflight label
    "$pubsub" --port "$1" --workload "$2" --conns 50 --inflight "$3" --keys "$keys" --warmup "$warmup" \
        --duration "$duration" --json --label "$4" | tail -n 1
}

# --- etcd -------------------------------------------------------------------
ECLIENT=() EPEER=() EPID=()
etcd_start() { # dir
    local dir=$1 i cluster=""
    rm -rf "$dir"
    mkdir -p "$dir"
    for i in 1 2 3; do ECLIENT[i]=$(free_port); EPEER[i]=$(free_port); done
    for i in 1 2 3; do cluster+="${cluster:+,}e$i=http://127.0.0.1:${EPEER[i]}"; done
    for i in 1 2 3; do
        etcd --name "e$i" --data-dir "$dir/e$i" --listen-client-urls "http://127.0.0.1:${ECLIENT[i]}" \
            --advertise-client-urls "http://127.0.0.1:${ECLIENT[i]}" --listen-peer-urls "http://127.0.0.1:${EPEER[i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${EPEER[i]}" --initial-cluster "$cluster" \
            --initial-cluster-state new --log-level error >"$dir/e$i.log" 2>&1 &
        EPID[i]=$!
        pids+=("${EPID[i]}")
    done
    for i in 1 2 3; do wait_port "${ECLIENT[i]}"; done
}
etcd_leader() {
    local i k st
    for ((k = 0; k < 400; k++)); do
        for i in 1 2 3; do
            st=$(curl -s -m 2 -X POST "http://127.0.0.1:${ECLIENT[i]}/v3/maintenance/status" -d '{}' 2>/dev/null) || continue
            if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s.get("leader") and s["leader"]==s["header"]["member_id"] else 1)' "$st" 2>/dev/null; then
                echo "$i"
                return 0
            fi
        done
        sleep 0.05
    done
    return 1
}
etcd_stop() {
    local i
    for i in 1 2 3; do kill -TERM "${EPID[i]}" 2>/dev/null || true; done
    for i in 1 2 3; do wait "${EPID[i]}" 2>/dev/null || true; done
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print 0}'; }


throughput() {
    local r w k line l el
    for w in set get; do
        for k in 1 16; do
            for ((r = 1; r <= runs; r++)); do
                cluster_start "$out/mq"
                l=$(mq_leader)
                line=$(mq_load "${MQTT[l]}" "$w" "$k" "cluster")
                echo "{\"system\":\"mqstated-cluster\",\"op\":\"$w\",\"inflight\":$k,\"run\":$r,\"result\":$line}" >>"$results"
                cluster_stop
                single_start "$out/single" 1
                line=$(mq_load "$SPORT" "$w" "$k" "single-durable")
                echo "{\"system\":\"mqstated-single-always\",\"op\":\"$w\",\"inflight\":$k,\"run\":$r,\"result\":$line}" >>"$results"
                kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true
                single_start "$out/single" 0
                line=$(mq_load "$SPORT" "$w" "$k" "single-memory")
                echo "{\"system\":\"mqstated-single-memory\",\"op\":\"$w\",\"inflight\":$k,\"run\":$r,\"result\":$line}" >>"$results"
                kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true
                etcd_start "$out/etcd"
                el=$(etcd_leader)
                line=$("$etcd_load" --port "${ECLIENT[el]}" --op "$([ $w = set ] && echo put || echo range)" \
                    --conns 50 --inflight "$k" --keys "$keys" --warmup "$warmup" --duration "$duration" --json)
                echo "{\"system\":\"etcd\",\"op\":\"$w\",\"inflight\":$k,\"run\":$r,\"result\":$line}" >>"$results"
                etcd_stop
            done
        done
    done
}

failover() {
    local n l f t0 t1
    for ((n = 1; n <= kills; n++)); do
        cluster_start "$out/fo"
        l=$(mq_leader) || { echo "failover run $n: no leader" >&2; cluster_stop; continue; }
        f=$(((l % 3) + 1))
        "$cli" -p "${MQTT[f]}" set warm 1 >/dev/null || true
        sleep 0.5
        t0=$(date +%s%N)
        kill -KILL "${NPID[l]}"
        if "$cli" -p "${MQTT[f]}" --timeout 15 set after-kill "$n" >/dev/null 2>"$out/fo.err"; then
            t1=$(date +%s%N)
            echo "{\"system\":\"mqstated-cluster\",\"op\":\"failover\",\"run\":$n,\"ms\":$(((t1 - t0) / 1000000))}" >>"$results"
        else
            echo "failover run $n: the write failed: $(cat "$out/fo.err")" >&2
        fi
        cluster_stop
    done
}

report() {
    echo "cluster benchmark, $(nproc) cores, build $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo ?), load $(cut -d' ' -f1-3 /proc/loadavg)"
    local sys w k
    for w in set get; do
        for k in 1 16; do
            for sys in mqstated-cluster mqstated-single-always mqstated-single-memory etcd; do
                local rates p99s
                rates=$(grep "\"system\":\"$sys\",\"op\":\"$w\",\"inflight\":$k," "$results" 2>/dev/null |
                    python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)["result"]; print(r["ops_s"] if "ops_s" in r else r.get("rate", 0))' | median || true)
                p99s=$(grep "\"system\":\"$sys\",\"op\":\"$w\",\"inflight\":$k," "$results" 2>/dev/null |
                    python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)["result"]; print(r["p99_us"] / 1000 if "p99_us" in r else r.get("p99_ms", 0))' | median || true)
                [ "${rates:-0}" = 0 ] && continue
                printf '%-4s %2s in flight  %-24s %10.0f ops/s  p99 %7.2f ms\n' "$w" "$k" "$sys" "$rates" "${p99s:-0}"
            done
        done
    done
    if grep -q '"op":"failover"' "$results" 2>/dev/null; then
        grep '"op":"failover"' "$results" | python3 -c 'import json,sys
v=sorted(json.loads(l)["ms"] for l in sys.stdin)
q=lambda p: v[min(len(v)-1, int(p*len(v)))]
print("failover (kill -9 of the leader to the first write answered): %d runs, p50 %d ms, p99 %d ms, max %d ms" % (len(v), q(0.5), q(0.99), v[-1]))'
    fi
    echo "raw results: $results"
}

case "$only" in
"") throughput; failover ;;
throughput) throughput ;;
failover) failover ;;
*) echo "run_cluster.sh: --only throughput|failover" >&2; exit 2 ;;
esac
report
