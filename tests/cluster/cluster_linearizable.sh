#!/usr/bin/env bash
# Linearizability of the replicated state store across leader crashes:
# concurrent SDK clients spread over every node (tests/fault/ss_history:
# SET, SET NX, GET, DEL, VDEL on a few keys) record a history while the
# leader is killed with SIGKILL and restarted from its directory, ROUNDS
# times; tests/tools/lincheck.py then checks the whole history (no
# acknowledged write lost, no read from the past, SET NX exclusive, a
# retried request applied once). Afterwards every node must hold the same
# values. A failing history is kept (its path is printed).
#
#   cluster_linearizable.sh [ROUNDS] [CLIENTS]     (default 3, 6)
#
# CL_SIZE=5 for five nodes. The long campaign: ROUNDS=25 or more
# (tests/fault/README.md). Needs $MQSTATED, $MQSTATE_CLI, $SS_HISTORY, python3.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"

ROUNDS=${1:-3}
CLIENTS=${2:-6}
LINCHECK="$HERE/../tools/lincheck.py"
if [[ -z "${SS_HISTORY:-}" || -z "$CL_CLI" ]] || ! command -v python3 >/dev/null; then
    echo "skipped: needs ss_history, the mqstate CLI and python3" >&2
    exit 77
fi
trap cl_cleanup EXIT

cl_setup "${CL_SIZE:-3}"
cl_start_all || exit 1
cl_wait_leader 20000 >/dev/null || {
    cl_fail "no leader"
    exit 1
}
ports=$(IFS=,; echo "${CL_MQTT[*]}")
history="$CL_DIR/history.jsonl"
seconds=$((ROUNDS * 4 + 4))
"$SS_HISTORY" --ports "$ports" --out "$history" --clients "$CLIENTS" --keys 4 --seconds "$seconds" \
    --timeout-ms 4000 >"$CL_DIR/ss_history.out" 2>&1 &
hpid=$!
CL_BG_PIDS+=("$hpid")
sleep 1
kills=0
for ((r = 1; r <= ROUNDS; r++)); do
    l=$(cl_wait_leader 20000) || {
        cl_fail "round $r: no leader"
        break
    }
    sleep "0.$((2 + RANDOM % 8))"
    cl_kill "$l"
    kills=$((kills + 1))
    sleep "$((1 + RANDOM % 2)).$((RANDOM % 10))"
    cl_start "$l" || break
done
deadline=$(($(cl_now_ms) + seconds * 1000 + 60000))
while kill -0 "$hpid" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.1; done
if kill -0 "$hpid" 2>/dev/null; then
    cl_fail "ss_history did not finish"
    exit 1
fi
wait "$hpid" || cl_fail "ss_history failed: $(cat "$CL_DIR/ss_history.out")"
cat "$CL_DIR/ss_history.out"
echo "leader kills: $kills"
timeout 240 python3 "$LINCHECK" "$history" >"$CL_DIR/lincheck.out" 2>&1
rc=$?
head -c 4000 "$CL_DIR/lincheck.out"
if ((rc != 0)); then
    name="${MQS_KEEP_DIR:-${TMPDIR:-/tmp}}/mqs-cluster-history-$(date +%Y%m%d-%H%M%S)-$$.jsonl"
    cp "$history" "$name" && echo "history kept: $name" >&2
    cl_fail "the history is not linearizable"
fi
# Every node answers the same (reads are served by the leader: this checks
# that each node forwards to it and gets an answer after the crashes).
cl_wait_leader 20000 >/dev/null || cl_fail "no leader at the end"
for k in h0 h1 h2 h3; do
    ref=$(cl_cli 1 get "$k" 2>/dev/null)
    for ((i = 2; i <= CL_N; i++)); do
        got=$(cl_cli "$i" get "$k" 2>/dev/null)
        [[ "$got" == "$ref" ]] || cl_fail "node $i: $k = '$got', node 1: '$ref'"
    done
done
# Every replica applied the same: equal key counts and keyspace digests
# (cluster status --digest) once the last writes reached every node.
deadline=$(($(cl_now_ms) + 20000))
while :; do
    digests=""
    for ((i = 1; i <= CL_N; i++)); do
        digests+="$(cl_cli "$i" cluster status --digest 2>/dev/null |
            python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["keys"], s["digest"])' 2>/dev/null)|"
    done
    (($(tr '|' '\n' <<<"$digests" | grep -c .) == CL_N)) && (($(tr '|' '\n' <<<"$digests" | grep . | sort -u | wc -l) == 1)) && break
    if (($(cl_now_ms) > deadline)); then
        cl_fail "the replicas differ: $digests"
        break
    fi
    sleep 0.2
done
echo "replicas: $digests"
exit "$CL_FAILED"
