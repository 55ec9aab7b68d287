#!/usr/bin/env bash
# Raft over TLS against plain TCP: replicated SETs (bench/pubsub --workload
# set) against the leader of a 3-node cluster on 127.0.0.1 (the
# tests/cluster harness), once with plain node links and raft, once with
# `cluster.tls` (node links and raft over mutual TLS 1.3, certificates made
# by openssl). Builds nothing (defaults: the build/release tree).
#
#   bench/run_cluster_tls.sh [CONNS] [INFLIGHT] [DURATION_S] [RUNS]
#                            (defaults 50 16 10 3; medians of RUNS)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export MQSTATED=${MQSTATED:-$root/build/release/src/server/mqstated}
pubsub=${PUBSUB:-$root/build/release/bench/pubsub}
conns=${1:-50} inflight=${2:-16} duration=${3:-10} runs=${4:-3}
. "$root/tests/cluster/cluster_lib.sh"
trap cl_cleanup EXIT

# One run on a fresh cluster: its ops/s in $ops (not in a subshell: the
# harness must keep the nodes' PIDs to stop them).
one() {
    local i l
    ops=0
    for ((i = 1; i <= CL_N; i++)); do cl_kill "$i"; done
    rm -rf "$CL_DIR"/d* "$CL_DIR"/n*.log
    CL_MQTT=() CL_RAFT=() CL_LINK=() CL_PID=()
    cl_setup 3 && cl_start_all || return 1
    l=$(cl_wait_leader 20000) || return 1
    ops=$("$pubsub" --port "${CL_MQTT[l]}" --workload set --conns "$conns" --inflight "$inflight" --warmup 2 \
        --duration "$duration" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["ops_s"]) if d["ok"] else 0)')
}

for tls in 0 1; do
    CL_TLS=$tls
    res=()
    for ((r = 0; r < runs; r++)); do
        one
        res+=("$ops")
    done
    med=$(printf '%s\n' "${res[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    printf '%-5s SET ops/s (3 nodes, %s conns x %s in flight): median %s of %s\n' \
        "$([[ $tls == 1 ]] && echo tls || echo plain)" "$conns" "$inflight" "$med" "${res[*]}"
done
