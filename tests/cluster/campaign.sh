#!/usr/bin/env bash
# The long fault campaign of the replicated state store (tests/fault/README.md):
#
#   1. leader kills: concurrent SDK clients on every node (tests/fault/ss_history:
#      SET, SET NX, GET, DEL, VDEL) while the leader is killed with SIGKILL and
#      restarted from its directory, KILLS times; the failover time (kill to
#      the first write acknowledged through another node) of each kill.
#   2. partitions: the same load on a cluster whose nodes live in network
#      namespaces (netns_lib.sh; needs root), through PARTITIONS cycles of
#      partition and heal, rotating: the leader isolated, the leader's side
#      in the minority (2|3 on 5 nodes), a follower isolated, the leader
#      unable to send to a follower, a follower unable to send to the leader.
#      At the end every node must have applied the same changes (a watcher
#      on each node, cl_watch_converge) and answer the same values.
#
# Each history covers at most SEGMENT kills or cycles on keys of its own
# (ss_history --key-prefix), so the checker's work stays bounded; each is
# checked by tests/tools/lincheck.py (no acknowledged write lost, no stale
# read, SET NX exclusive, a retried request applied once). A failing
# history is kept in $MQS_KEEP_DIR (default $TMPDIR or /tmp) and its path
# printed; a summary ends the output. Exit 0 if everything held, 1 if not,
# 77 if nothing could run (partitions only, not root).
#
#   campaign.sh [--kills N] [--partitions M] [--size 3|5] [--clients C] [--segment S]
#
# Defaults: 20 kills, 10 partition cycles, 5 nodes, 8 clients, segments of 5
# (the full campaign, about 5 minutes with the debug build). The test suite
# runs a short version (cluster_partition_history). Needs $MQSTATED,
# $MQSTATE_CLI, $SS_HISTORY and python3.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"
. "$HERE/netns_lib.sh"

KILLS=20 PARTITIONS=10 SIZE=5 CLIENTS=8 SEGMENT=5
while (($#)); do
    case "$1" in
    --kills) KILLS=$2 ;;
    --partitions) PARTITIONS=$2 ;;
    --size) SIZE=$2 ;;
    --clients) CLIENTS=$2 ;;
    --segment) SEGMENT=$2 ;;
    *)
        echo "usage: campaign.sh [--kills N] [--partitions M] [--size 3|5] [--clients C] [--segment S]" >&2
        exit 2
        ;;
    esac
    shift 2
done
LINCHECK="$HERE/../tools/lincheck.py"
if [[ -z "${SS_HISTORY:-}" || -z "$CL_CLI" ]] || ! command -v python3 >/dev/null; then
    echo "skipped: needs ss_history, the mqstate CLI and python3" >&2
    exit 77
fi
trap cl_cleanup EXIT
trap 'exit 143' TERM INT HUP

# libraft 0.15 loads its log with one realloc per batch of entries: with
# ASan (every realloc copies) a node restarting with 16k entries takes
# ~30 s. Snapshots every 1024 entries keep the log short (and the nodes
# that were down catch up from snapshots too); restarts may still be slow.
CL_START_MS=60000
SNAP="snapshot_entries: 1024"

SUMMARY=()
HIST_OK=0 HIST_BAD=0 OPS=0 UNKNOWN=0 REFUSED=0
KEPT=()

# history_start NAME SECONDS: ss_history on every node (client i on node i
# mod N) for SECONDS, on keys NAME-h0..3, in the background.
history_start() {
    local name=$1 seconds=$2 hosts ports i
    hosts=$(for ((i = 1; i <= CL_N; i++)); do cl_host "$i"; done | paste -sd,)
    ports=$(IFS=,; echo "${CL_MQTT[*]}")
    (cl_exec_client "$SS_HISTORY" --hosts "$hosts" --ports "$ports" --out "$CL_DIR/$name.jsonl" \
        --clients "$CLIENTS" --keys 4 --key-prefix "$name-h" --seconds "$seconds" --timeout-ms 4000 \
        --prefix "$name") >"$CL_DIR/$name.out" 2>&1 &
    HIST_PID=$!
    CL_BG_PIDS+=("$HIST_PID")
}

# history_check NAME SECONDS: wait for ss_history, then lincheck.
history_check() {
    local name=$1 seconds=$2 deadline rc line
    deadline=$(($(cl_now_ms) + seconds * 1000 + 60000))
    while kill -0 "$HIST_PID" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.1; done
    if kill -0 "$HIST_PID" 2>/dev/null; then
        cl_fail "$name: ss_history did not finish"
        return 1
    fi
    wait "$HIST_PID" || cl_fail "$name: ss_history failed: $(cat "$CL_DIR/$name.out")"
    line=$(grep "^ss_history:" "$CL_DIR/$name.out")
    echo "  $name: $line"
    if [[ "$line" =~ ([0-9]+)\ operations\ \(([0-9]+)\ unknown\ outcome,\ ([0-9]+)\ refused ]]; then
        OPS=$((OPS + BASH_REMATCH[1])) UNKNOWN=$((UNKNOWN + BASH_REMATCH[2])) REFUSED=$((REFUSED + BASH_REMATCH[3]))
    fi
    timeout 300 python3 "$LINCHECK" "$CL_DIR/$name.jsonl" >"$CL_DIR/$name.lin" 2>&1
    rc=$?
    if ((rc == 0)); then
        HIST_OK=$((HIST_OK + 1))
        return 0
    fi
    HIST_BAD=$((HIST_BAD + 1))
    head -c 3000 "$CL_DIR/$name.lin"
    local kept="${MQS_KEEP_DIR:-${TMPDIR:-/tmp}}/mqs-campaign-$name-$(date +%Y%m%d-%H%M%S)-$$.jsonl"
    cp "$CL_DIR/$name.jsonl" "$kept" && KEPT+=("$kept") && echo "history kept: $kept" >&2
    cl_fail "$name: the history is not linearizable (lincheck exit $rc)"
}

# Every node answers the same value for each key (reads go to the leader).
same_values() {
    local k ref got i
    for k in "$@"; do
        ref=$(cl_cli 1 get "$k" 2>/dev/null)
        for ((i = 2; i <= CL_N; i++)); do
            cl_alive "$i" || continue
            got=$(cl_cli "$i" get "$k" 2>/dev/null)
            [[ "$got" == "$ref" ]] || cl_fail "node $i: $k = '$got', node 1: '$ref'"
        done
    done
}

percentile() { # P, values on stdin
    sort -n | awk -v p="$1" '{v[NR] = $1} END {if (NR) {i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i]} else print "-"}'
}

# --- 1. leader kills ------------------------------------------------------------

kill_scenario() {
    local seg=0 done_kills=0 n l o t0 ms failovers=() keys=()
    cl_setup "$SIZE" "$SNAP"
    cl_start_all || return 1
    cl_wait_leader 20000 >/dev/null || {
        cl_fail "no leader"
        return 1
    }
    while ((done_kills < KILLS)); do
        seg=$((seg + 1))
        n=$((KILLS - done_kills < SEGMENT ? KILLS - done_kills : SEGMENT))
        local seconds=$((n * 5 + 3)) name="k$seg"
        keys+=("$name-h0" "$name-h1" "$name-h2" "$name-h3")
        history_start "$name" "$seconds"
        local t_end=$(($(cl_now_ms) + seconds * 1000))
        sleep 1
        for ((r = 1; r <= n; r++)); do
            l=$(cl_wait_leader 20000) || {
                cl_fail "kill $((done_kills + 1)): no leader"
                break 2
            }
            sleep "0.$((2 + RANDOM % 7))"
            cl_kill "$l"
            t0=$(cl_now_ms)
            o=$(cl_other "$l")
            if cl_cli "$o" set "probe" "$done_kills" >/dev/null 2>&1; then
                ms=$(($(cl_now_ms) - t0))
                failovers+=("$ms")
            else
                cl_fail "kill $((done_kills + 1)): no write acknowledged through node $o within 10 s"
            fi
            done_kills=$((done_kills + 1))
            sleep "0.$((RANDOM % 9))"
            if ! cl_start "$l"; then
                tail -n 30 "$CL_DIR/n$l.log" | sed 's/^/  | /' >&2
                local kept="${MQS_KEEP_DIR:-${TMPDIR:-/tmp}}/mqs-campaign-node$l-$(date +%Y%m%d-%H%M%S)-$$"
                cl_kill "$l"
                cp -a "$CL_DIR/d$l" "$kept" && cp "$CL_DIR/n$l.yaml" "$CL_DIR/n$l.log" "$kept/" &&
                    KEPT+=("$kept") && echo "node $l's directory kept: $kept" >&2
                break 2
            fi
        done
        # The history runs on to its end: the last failover under load too.
        while (($(cl_now_ms) < t_end)); do sleep 0.2; done
        history_check "$name" "$seconds"
    done
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader at the end"
    same_values "${keys[@]}"
    local p50 p99 max
    p50=$(printf '%s\n' "${failovers[@]}" | percentile 50)
    p99=$(printf '%s\n' "${failovers[@]}" | percentile 99)
    max=$(printf '%s\n' "${failovers[@]}" | percentile 100)
    SUMMARY+=("leader kills: $done_kills of $KILLS; failover (kill -9 to the first write through another node):" \
        "p50 $p50 ms, p99 $p99 ms, max $max ms")
    local i
    for ((i = 1; i <= CL_N; i++)); do cl_kill "$i"; done
}

# --- 2. partitions --------------------------------------------------------------

# partition_cycle K: the K-th kind of partition; prints what it did.
partition_cycle() {
    local kind=$(($1 % 5)) l f i minority="" rest=""
    l=$(cl_leader)
    ((l > 0)) || l=1
    f=$(cl_other "$l")
    case $kind in
    0)
        cl_isolate "$l"
        echo "node $l (leader) isolated"
        ;;
    1)
        minority="$l"
        ((CL_N >= 5)) && minority+=" $f"
        for ((i = 1; i <= CL_N; i++)); do [[ " $minority " == *" $i "* ]] || rest+=" $i"; done
        cl_partition "$minority" "$rest"
        echo "split {$minority} (leader's side) | {$rest}"
        ;;
    2)
        cl_isolate "$f"
        echo "node $f (follower) isolated"
        ;;
    3)
        cl_oneway "$l" "$f"
        echo "node $l (leader) cannot send to node $f"
        ;;
    4)
        cl_oneway "$f" "$l"
        echo "node $f cannot send to node $l (leader)"
        ;;
    esac
}

partition_scenario() {
    local seg=0 done_cycles=0 n keys=() what kinds=()
    ns_setup "$SIZE"
    rm -rf "$CL_DIR"/d* "$CL_DIR"/n*.log
    CL_MQTT=() CL_RAFT=() CL_LINK=() CL_PID=()
    cl_setup "$SIZE" "$SNAP"
    cl_start_all || return 1
    cl_wait_leader 20000 >/dev/null || {
        cl_fail "no leader"
        return 1
    }
    local s
    for ((s = 1; (s - 1) * SEGMENT < PARTITIONS; s++)); do keys+=("p$s-h0" "p$s-h1" "p$s-h2" "p$s-h3"); done
    cl_watch_start "${keys[@]}" || return 1
    while ((done_cycles < PARTITIONS)); do
        seg=$((seg + 1))
        n=$((PARTITIONS - done_cycles < SEGMENT ? PARTITIONS - done_cycles : SEGMENT))
        local seconds=$((n * 6 + 3)) name="p$seg"
        history_start "$name" "$seconds"
        local t_end=$(($(cl_now_ms) + seconds * 1000))
        sleep 1
        for ((r = 1; r <= n; r++)); do
            what=$(partition_cycle "$done_cycles")
            kinds+=("$what")
            echo "  cycle $((done_cycles + 1)): $what"
            sleep "$((2 + RANDOM % 2)).$((RANDOM % 10))"
            cl_heal
            done_cycles=$((done_cycles + 1))
            sleep "1.$((RANDOM % 10))"
        done
        while (($(cl_now_ms) < t_end)); do sleep 0.2; done
        history_check "$name" "$seconds"
    done
    cl_heal
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after the last heal"
    cl_wait_all_serve 40000
    same_values "${keys[@]}"
    local changes
    changes=$(cl_watch_converge 30000)
    SUMMARY+=("partition cycles: $done_cycles of $PARTITIONS; after healing, $CL_N nodes applied the same $changes changes"
        "(watchers compared line by line)")
}

t_start=$(cl_now_ms)
ran=0
if ((KILLS > 0)); then
    echo "== leader kills: $KILLS, $SIZE nodes, $CLIENTS clients"
    kill_scenario
    ran=1
fi
if ((PARTITIONS > 0)); then
    if ((EUID != 0)); then
        echo "partitions skipped: network namespaces need root" >&2
        SUMMARY+=("partition cycles: skipped (not root)")
        ((ran)) || exit 77
    else
        echo "== partitions: $PARTITIONS cycles, $SIZE nodes, $CLIENTS clients"
        partition_scenario
    fi
fi
echo "== campaign summary ($((($(cl_now_ms) - t_start) / 1000)) s)"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
echo "  histories: $((HIST_OK + HIST_BAD)) checked, $HIST_OK linearizable, $HIST_BAD not;" \
    "$OPS operations ($UNKNOWN unknown outcome, $REFUSED refused)"
((${#KEPT[@]})) && echo "  failing histories kept: ${KEPT[*]}"
((CL_FAILED)) && echo "  RESULT: FAILED" || echo "  RESULT: ok"
exit "$CL_FAILED"
