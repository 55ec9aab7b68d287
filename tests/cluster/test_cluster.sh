#!/usr/bin/env bash
# The replicated state store on a cluster of real mqstated processes
# (docs/cluster.md), driven with the mqstate CLI against every node:
# requests on followers are forwarded, reads see every acknowledged
# write from any node, KEYNOTIFY works on any node, expiry is the
# leader's, the leader can be killed and restarted, a node catches up
# from a snapshot, a minority acknowledges nothing.
#
#   test_cluster.sh [TEST...]      CL_SIZE=5 for a five-node cluster
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"

# The value of KEY read on node I ("" if absent).
get_on() { cl_cli "$1" get "$2" 2>/dev/null; }

expect_get() { # node key expected
    local got
    got=$(get_on "$1" "$2")
    [[ "$got" == "$3" ]] || cl_fail "node $1: get $2 = '$got', expected '$3'"
}

test_forwarding() {
    local i j
    for ((i = 1; i <= CL_N; i++)); do
        cl_cli "$i" set "k$i" "v$i" || cl_fail "set on node $i failed"
    done
    for ((i = 1; i <= CL_N; i++)); do
        for ((j = 1; j <= CL_N; j++)); do expect_get "$i" "k$j" "v$j"; done
    done
    local keys
    keys=$(cl_cli 2 keys 'k*' | sort | tr '\n' ' ')
    [[ "$keys" == "$(for ((j = 1; j <= CL_N; j++)); do printf 'k%s ' "$j"; done | tr ' ' '\n' | sort | tr '\n' ' ')" ]] ||
        cl_fail "keys on node 2: '$keys'"
    # Conditional writes are decided by the leader, whichever node the client uses.
    cl_cli 3 set lock a --nx || cl_fail "first set --nx failed"
    cl_cli 1 set lock b --nx && cl_fail "second set --nx (another node) was applied"
    cl_cli 2 vdel lock b && cl_fail "vdel with the wrong value deleted"
    cl_cli 2 vdel lock a || cl_fail "vdel with the right value failed"
    expect_get 1 lock ""
    cl_cli 3 del k1 || cl_fail "del on node 3 failed"
    expect_get 2 k1 ""
}

# mqstate cluster status on every node: one leader, agreed by all, lag
# reported by the leader, and the same keyspace digest everywhere once
# the writes are applied.
test_status() {
    local i l st
    cl_cli 1 set s1 v1 >/dev/null && cl_cli 2 set s2 v2 >/dev/null || cl_fail "sets"
    l=$(cl_leader)
    # Followers apply a committed entry a moment after the leader answered.
    local deadline=$(($(cl_now_ms) + 10000)) d
    while :; do
        : >"$CL_DIR/digests"
        for ((i = 1; i <= CL_N; i++)); do
            cl_cli "$i" cluster status --digest 2>/dev/null |
                python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("keys"), s.get("digest"))' \
                    >>"$CL_DIR/digests" 2>/dev/null
        done
        d=$(sort -u "$CL_DIR/digests")
        [[ $(wc -l <<<"$d") == 1 && "$d" == "2 "* ]] && break
        (($(cl_now_ms) < deadline)) || break
        sleep 0.1
    done
    : >"$CL_DIR/digests"
    for ((i = 1; i <= CL_N; i++)); do
        st=$(cl_cli "$i" cluster status --digest) || cl_fail "cluster status on node $i failed"
        python3 - "$st" "$i" "$l" "$CL_N" <<'PY' || cl_fail "node $i: cluster status: $st"
import json, sys
st, node, leader, n = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
assert st["cluster"] == "test" and st["node"] == node, st
assert st["leader"] == leader, ("leader", st["leader"], leader)
assert st["state"] == ("leader" if node == leader else "follower"), st["state"]
assert len(st["members"]) == n and sorted(m["id"] for m in st["members"]) == list(range(1, n + 1))
assert all(m["role"] == "voter" for m in st["members"])
assert all(m["link"] == ("self" if m["id"] == node else "up") for m in st["members"]), st["members"]
assert st["commit_index"] >= 3 and st["last_applied"] <= st["commit_index"] <= st["last_index"]
if node == leader:
    assert all("match_index" in m and m["lag"] >= 0 for m in st["members"])
assert st["keys"] == 2 and len(st["digest"]) == 16
PY
        echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])' >>"$CL_DIR/digests"
    done
    (($(sort -u "$CL_DIR/digests" | wc -l) == 1)) || cl_fail "replicas differ: $(tr '\n' ' ' <"$CL_DIR/digests")"
    # The same figures on /metrics, and readiness: a leader is known.
    local m
    m=$(curl -s -m 5 "http://127.0.0.1:${CL_METRICS[l]}/metrics") || cl_fail "no /metrics on node $l"
    grep -q "^mqstated_raft_is_leader 1" <<<"$m" || cl_fail "node $l: mqstated_raft_is_leader is not 1"
    grep -q "^mqstated_raft_leader_id $l" <<<"$m" || cl_fail "node $l: wrong mqstated_raft_leader_id"
    grep -q "^mqstated_cluster_links_up $((CL_N - 1))" <<<"$m" || cl_fail "node $l: links up: $(grep links_up <<<"$m")"
    # Reads are served after read index rounds (no barrier entries).
    local before after
    before=$(sed -n 's/^mqstated_raft_read_rounds_confirmed //p' <<<"$m")
    cl_cli "$(cl_other "$l")" get read-index-probe >/dev/null 2>&1
    after=$(curl -s -m 5 "http://127.0.0.1:${CL_METRICS[l]}/metrics" | sed -n 's/^mqstated_raft_read_rounds_confirmed //p')
    [[ -n "$before" && -n "$after" ]] && ((after > before)) || cl_fail "node $l: read rounds $before -> $after"
    curl -s -m 5 "http://127.0.0.1:${CL_METRICS[l]}/readyz" | grep -q "ok leader_known" || cl_fail "readyz: no leader_known"
    cl_cli 1 cluster frob 2>/dev/null && cl_fail "cluster frob was accepted"
}

test_keynotify_order() {
    local f out="$CL_DIR/watch.out"
    f=$(cl_other "$(cl_leader)")
    timeout 30 "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[f]}" watch wk >"$out" 2>"$CL_DIR/watch.err" &
    local wpid=$!
    CL_BG_PIDS+=("$wpid")
    sleep 1
    local i
    for ((i = 1; i <= CL_N; i++)); do cl_cli "$i" set wk "w$i" >/dev/null || cl_fail "set wk on node $i"; done
    cl_cli 1 del wk >/dev/null
    local deadline=$(($(cl_now_ms) + 10000))
    while (($(wc -l <"$out") < CL_N + 1)) && (($(cl_now_ms) < deadline)); do sleep 0.1; done
    sleep 0.5 # nothing more may come
    kill -TERM "$wpid" 2>/dev/null
    wait "$wpid" 2>/dev/null
    local got want
    got=$(awk '{print $2, $3, $4}' "$out" | tr '\n' '|')
    want=$(for ((i = 1; i <= CL_N; i++)); do printf 'SET wk w%s|' "$i"; done; printf 'DELETE wk |')
    [[ "$got" == "$want" ]] || cl_fail "watcher on node $f saw '$got', expected '$want' (each change once, in order)"
}

test_expiry_by_leader() {
    local l f g out="$CL_DIR/watch.out"
    l=$(cl_leader)
    f=$(cl_other "$l")
    g=$(cl_other "$l" "$f")
    timeout 30 "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[g]}" watch ek >"$out" 2>/dev/null &
    local wpid=$!
    CL_BG_PIDS+=("$wpid")
    sleep 1
    cl_cli "$f" set ek soon --px 400 || cl_fail "set --px on a follower failed"
    local t0 deadline
    t0=$(cl_now_ms)
    deadline=$((t0 + 10000))
    while ! grep -q DELETE "$out" && (($(cl_now_ms) < deadline)); do sleep 0.02; done
    local dt=$(($(cl_now_ms) - t0))
    kill -TERM "$wpid" 2>/dev/null
    wait "$wpid" 2>/dev/null
    grep -q "DELETE ek" "$out" || cl_fail "no DELETE notification for the expired key on node $g"
    # 400 ms TTL + at most ~500 ms to notice; generous for a loaded CI machine.
    ((dt < 3000)) || cl_fail "expiry notification took $dt ms"
    local i
    for ((i = 1; i <= CL_N; i++)); do expect_get "$i" ek ""; done
}

test_leader_kill() {
    local l f i
    cl_cli 1 set before-kill 1 || cl_fail "set before the kill"
    l=$(cl_leader)
    cl_kill "$l"
    f=$(cl_other "$l")
    local t0
    t0=$(cl_now_ms)
    cl_cli "$f" set after-kill 2 || cl_fail "set on node $f after the leader (node $l) was killed"
    cl_note "first write after kill -9 of the leader: $(($(cl_now_ms) - t0)) ms"
    local nl
    nl=$(cl_wait_leader 15000) || cl_fail "no new leader"
    ((nl != l)) || cl_fail "the killed node still leads"
    for ((i = 1; i <= CL_N; i++)); do
        cl_alive "$i" || continue
        expect_get "$i" before-kill 1
        expect_get "$i" after-kill 2
    done
    # The killed node rejoins from its own directory and catches up.
    cl_start "$l"
    cl_cli "$f" set after-rejoin 3 || cl_fail "set after the rejoin"
    expect_get "$l" before-kill 1
    expect_get "$l" after-kill 2
    expect_get "$l" after-rejoin 3
}

test_graceful_restart() {
    local i
    for ((i = 1; i <= CL_N; i++)); do
        cl_cli "$i" set "g$i" "$i" || cl_fail "set g$i"
    done
    # Every node in turn, the leader included: SIGTERM, exit 0, restart.
    for ((i = 1; i <= CL_N; i++)); do
        cl_stop "$i"
        cl_cli "$(cl_other "$i")" set "during$i" x || cl_fail "set while node $i was down"
        cl_start "$i"
    done
    cl_wait_leader 15000 >/dev/null || cl_fail "no leader after the restarts"
    for ((i = 1; i <= CL_N; i++)); do
        expect_get "$i" g1 1
        expect_get "$i" "during$CL_N" x
    done
}

# SIGTERM to the leader hands leadership over first (cluster_node_leave):
# clients of another node see no failure and no unknown outcome while the
# leader is restarted gracefully, round after round.
test_graceful_leader_handover() {
    [[ -n "${SS_HISTORY:-}" ]] || {
        cl_note "no SS_HISTORY: skipped"
        return 0
    }
    local f l r
    f=$(cl_other "$(cl_leader)")
    "$SS_HISTORY" --ports "${CL_MQTT[f]}" --out "$CL_DIR/hist.jsonl" --clients 4 --keys 4 --seconds 12 \
        --timeout-ms 5000 >"$CL_DIR/hist.out" 2>&1 &
    local hpid=$!
    CL_BG_PIDS+=("$hpid")
    for r in 1 2 3; do
        sleep 1
        l=$(cl_wait_leader 15000)
        ((l == f)) && continue # only other nodes are restarted
        cl_stop "$l"
        grep -q "leadership handed over before stopping" "$CL_DIR/n$l.log" ||
            cl_fail "round $r: the leader (node $l) did not hand leadership over"
        cl_start "$l"
    done
    wait "$hpid" || cl_fail "ss_history failed"
    cat "$CL_DIR/hist.out" >&2
    grep -q " (0 unknown outcome, 0 refused)" "$CL_DIR/hist.out" ||
        cl_fail "requests failed during graceful leader restarts: $(cat "$CL_DIR/hist.out")"
    timeout 120 python3 "$HERE/../tools/lincheck.py" "$CL_DIR/hist.jsonl" >&2 || cl_fail "not linearizable"
}

# Locks keep mutual exclusion across a leader kill: workers on every node
# take the lock (mqstate lock: a lease with renewals) and, holding it,
# increment a counter with a fenced read-modify-write. An overlap of two
# holders with valid fencing tokens would lose an increment; fencing makes
# a deposed holder's write fail instead. So the counter must equal the
# increments the store accepted, whatever the kills did.
test_lock_across_leader_kill() {
    local incr="$CL_DIR/incr.sh" i w
    cat >"$incr" <<'SH'
#!/usr/bin/env bash
k=${COUNTER_KEY:-counter}
v=$("$MQSTATE_CLI" --timeout 5 get "$k" 2>/dev/null) || v=0
sleep 0.05
ft=()
[[ -n "${MQSTATE_FENCING_TOKEN:-}" ]] && ft=(--ft "$MQSTATE_FENCING_TOKEN")
# `mqstate lock` sends SIGTERM to this script when its lease is lost (a
# renewal failed in a failover): the SET may have been applied by then.
trap 'echo unknown >>"$1.unknown"; exit 143' TERM
if "$MQSTATE_CLI" --timeout 5 set "$k" $((${v:-0} + 1)) "${ft[@]}" 2>"$1.err"; then
    echo ok >>"$1"
elif grep -q "unknown\|timeout\|may have been applied" "$1.err"; then
    echo unknown >>"$1.unknown" # applied or not: the counter may be one higher
else
    cat "$1.err" >>"$1.failed" # a definite refusal: never applied (shown if the counts disagree)
fi
SH
    chmod +x "$incr"
    cl_cli 1 set counter 0 >/dev/null || cl_fail "set counter"
    export MQSTATE_CLI=$CL_CLI
    for ((w = 1; w <= CL_N; w++)); do
        (
            end=$(($(cl_now_ms) + 12000))
            while (($(cl_now_ms) < end)); do
                timeout 30 "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[w]}" --timeout 5 lock L --ttl 2 --wait 10 -- \
                    "$incr" "$CL_DIR/ok.$w" >/dev/null 2>&1
            done
        ) &
        CL_BG_PIDS+=($!)
    done
    local l
    for i in 1 2; do
        sleep 3
        l=$(cl_wait_leader 15000)
        cl_kill "$l"
        sleep 1.5
        cl_start "$l"
    done
    for ((w = 1; w <= CL_N; w++)); do wait "${CL_BG_PIDS[-w]}" 2>/dev/null; done
    cl_wait_leader 15000 >/dev/null
    local oks counter unknown
    oks=$(cat "$CL_DIR"/ok.? 2>/dev/null | wc -l)
    unknown=$(cat "$CL_DIR"/ok.?.unknown 2>/dev/null | wc -l)
    counter=$(cl_cli 1 get counter)
    cl_note "fenced increments accepted: $oks (and $unknown with an unknown outcome), counter: $counter"
    ((oks > 10)) || cl_fail "too few increments under the lock ($oks)"
    # Lost updates (two holders at once) leave the counter below the
    # accepted increments; an increment whose answer was lost in a
    # failover may have been applied: at most that many above.
    ((counter >= oks)) || cl_fail "counter $counter < $oks accepted increments: mutual exclusion was broken"
    ((counter <= oks + unknown)) || {
        cl_fail "counter $counter > $oks accepted + $unknown unknown increments"
        cat "$CL_DIR"/ok.?.failed >&2 2>/dev/null
    }
    # The check can see a violation: the same increments without the lock
    # (and so without a fencing token) lose updates.
    rm -f "$CL_DIR"/ok.*
    local pids=()
    for ((w = 1; w <= CL_N; w++)); do
        (
            end=$(($(cl_now_ms) + 3000))
            while (($(cl_now_ms) < end)); do
                COUNTER_KEY=counter2 MQSTATE_HOST=127.0.0.1 MQSTATE_PORT=${CL_MQTT[w]} MQSTATE_FENCING_TOKEN= "$incr" "$CL_DIR/ok.$w" 2>/dev/null
            done
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    oks=$(cat "$CL_DIR"/ok.? 2>/dev/null | wc -l)
    counter=$(cl_cli 1 get counter2)
    cl_note "without the lock: $oks increments accepted, counter $counter"
    ((counter < oks)) || cl_fail "control: unlocked increments lost nothing ($counter of $oks): the check cannot see a violation"
}

# Growing and shrinking under load: a fourth node started with join: true,
# the others told of it by SIGHUP, `mqstate cluster add 4` while clients
# write; it becomes a voter with the same keyspace. Then a member is
# removed: it refuses its clients' requests with a clear error, the rest
# goes on; the whole history stays linearizable.
test_membership() {
    [[ -n "${SS_HISTORY:-}" ]] || {
        cl_note "no SS_HISTORY: skipped"
        return 0
    }
    local l f i
    l=$(cl_leader)
    f=$(cl_other "$l")
    "$SS_HISTORY" --ports "${CL_MQTT[f]}" --out "$CL_DIR/hist.jsonl" --clients 4 --keys 4 --seconds 10 \
        --timeout-ms 5000 >"$CL_DIR/hist.out" 2>&1 &
    local hpid=$!
    CL_BG_PIDS+=("$hpid")
    cl_add_member
    local n=$CL_N
    cl_start "$n"
    for ((i = 1; i < n; i++)); do cl_reload "$i"; done
    sleep 1
    cl_cli "$f" cluster add "$n" || cl_fail "cluster add $n failed"
    local deadline=$(($(cl_now_ms) + 20000)) st=""
    while (($(cl_now_ms) < deadline)); do
        st=$(cl_cli "$n" cluster status 2>/dev/null)
        python3 -c 'import json,sys; s=json.loads(sys.argv[1]); m=[x for x in s["members"] if x["id"]==int(sys.argv[2])]; sys.exit(0 if m and m[0]["role"]=="voter" and s["leader"] else 1)' "$st" "$n" 2>/dev/null && break
        sleep 0.2
    done
    [[ -n "$st" ]] || cl_fail "node $n never answered cluster status"
    cl_cli "$n" set via-new-node 1 || cl_fail "a write on the new node failed"
    expect_get "$n" via-new-node 1
    cl_cli "$f" cluster add 99 2>"$CL_DIR/add.err" && cl_fail "adding an unknown id was accepted"
    grep -q "not in this node's cluster.members" "$CL_DIR/add.err" || cl_fail "unclear error: $(cat "$CL_DIR/add.err")"
    # Remove a follower that is neither f (the clients' node) nor the new one.
    local r
    for ((r = 1; r < n; r++)); do ((r != f && r != $(cl_leader))) && break; done
    cl_cli "$f" cluster remove "$r" || cl_fail "cluster remove $r failed"
    sleep 1
    timeout 30 "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[r]}" --timeout 5 set on-removed x 2>"$CL_DIR/rm.err" &&
        cl_fail "the removed node acknowledged a write"
    grep -q "removed" "$CL_DIR/rm.err" || cl_fail "the removed node's error is unclear: $(cat "$CL_DIR/rm.err")"
    cl_cli "$f" set after-remove 1 || cl_fail "a write after the removal failed"
    wait "$hpid" || cl_fail "ss_history failed"
    cat "$CL_DIR/hist.out" >&2
    grep -q " (0 unknown outcome, 0 refused)" "$CL_DIR/hist.out" ||
        cl_fail "requests failed during the membership changes: $(cat "$CL_DIR/hist.out")"
    timeout 120 python3 "$HERE/../tools/lincheck.py" "$CL_DIR/hist.jsonl" >&2 || cl_fail "not linearizable"
    cl_stop "$r"
}

test_minority_refuses() {
    local l keep i
    l=$(cl_leader)
    keep=$(cl_other "$l")
    # Leave only `keep`: a minority (1 of 3, or 1 of 5).
    for ((i = 1; i <= CL_N; i++)); do ((i == keep)) || cl_stop "$i"; done
    local t0 rc
    t0=$(cl_now_ms)
    timeout 30 "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[keep]}" --timeout 20 set minority x 2>"$CL_DIR/minority.err"
    rc=$?
    # Never acknowledged. "no leader" (503: it never reached a leader, so it
    # was not applied) or, when it did reach one that then lost its
    # majority, a timeout (408: outcome unknown, it may commit later).
    ((rc == 4)) || cl_fail "a write on a minority node: exit $rc (expected 4, service error)"
    local unknown=0
    grep -q "may have been applied" "$CL_DIR/minority.err" && unknown=1
    grep -q "leader" "$CL_DIR/minority.err" || cl_fail "no clear error: $(cat "$CL_DIR/minority.err")"
    cl_note "minority write failed after $(($(cl_now_ms) - t0)) ms: $(head -c 200 "$CL_DIR/minority.err")"
    for ((i = 1; i <= CL_N; i++)); do ((i == keep)) || cl_start "$i"; done
    cl_wait_leader 15000 >/dev/null || cl_fail "no leader after the majority came back"
    ((unknown)) || expect_get "$keep" minority ""
    cl_cli "$keep" set majority y || cl_fail "set once the majority is back"
}

test_snapshot_catch_up() {
    local l f i
    l=$(cl_leader)
    f=$(cl_other "$l")
    cl_stop "$f"
    for ((i = 0; i < 300; i++)); do echo "$i"; done | while read -r i; do
        cl_cli "$l" set "s$i" "$i" >/dev/null || echo fail
    done | grep -q fail && cl_fail "a set failed"
    cl_start "$f"
    local deadline=$(($(cl_now_ms) + 20000))
    while [[ "$(get_on "$f" s299)" != 299 ]] && (($(cl_now_ms) < deadline)); do sleep 0.2; done
    expect_get "$f" s0 0
    expect_get "$f" s299 299
    grep -q "snapshot installed" "$CL_DIR/n$f.log" || cl_fail "node $f did not catch up from a snapshot"
}

# CL_TLS=1: raft's own port speaks TLS only: a plain-text peer (here
# libraft's TCP handshake) is dropped and logged, and the cluster goes on.
test_tls_raft_port() {
    local l i
    l=$(cl_leader)
    grep -q "without TLS" "$CL_DIR/n$l.log" && cl_fail "node $l warns that it runs without TLS"
    # libraft's plain TCP handshake: protocol 1, id 2, an address length.
    printf '\001\0\0\0\0\0\0\0\002\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0127.0.0.1:1\0\0\0\0\0' \
        >"/dev/tcp/127.0.0.1/${CL_RAFT[l]}" 2>/dev/null || true
    local deadline=$(($(cl_now_ms) + 10000))
    until grep -q "TLS handshake with .* failed" "$CL_DIR/n$l.log"; do
        (($(cl_now_ms) < deadline)) || {
            cl_fail "node $l did not log the plain-text raft connection"
            break
        }
        sleep 0.05
    done
    cl_cli 1 set after-plain 1 || cl_fail "set after a plain-text raft connection"
    for ((i = 1; i <= CL_N; i++)); do expect_get "$i" after-plain 1; done
}

if [[ -z "$CL_CLI" ]]; then
    echo "skipped: needs MQSTATE_CLI" >&2
    exit 77
fi
tests=("$@")
((${#tests[@]})) || tests=(test_forwarding test_status test_keynotify_order test_expiry_by_leader test_leader_kill
    test_graceful_restart test_graceful_leader_handover test_lock_across_leader_kill test_membership test_minority_refuses test_snapshot_catch_up)
rc=0
plain=()
for t in "${tests[@]}"; do [[ "$t" == test_snapshot_catch_up ]] || plain+=("$t"); done
((${#plain[@]} == 0)) || cl_run_tests "${plain[@]}" || rc=1
# A small snapshot threshold: a node that was down catches up from a snapshot.
if [[ " ${tests[*]} " == *" test_snapshot_catch_up "* ]]; then
    CL_EXTRA=("snapshot_entries: 64")
    cl_run_tests test_snapshot_catch_up || rc=1
fi
exit "$rc"
