#!/usr/bin/env bash
# Network partitions of a cluster of real mqstated nodes, each in its own
# network namespace (tests/cluster/netns_lib.sh): the minority never
# acknowledges a write, the majority elects a leader and serves, and after
# healing every node has applied the same changes (a watcher on each node,
# cl_watch_converge). Needs root; skipped (77) otherwise.
#
#   test_partition.sh [TEST...]      CL_SIZE=5 for five nodes (default 3)
#
#   test_leader_isolated      the leader alone: a new leader on the majority
#                             side; writes sent to the old one fail (exit 4,
#                             503 or time out); after healing it follows
#   test_split_2_3            5 nodes split 2|3, the leader on the 2 side:
#                             only the 3 side acknowledges writes, and the
#                             2 side serves no reads either
#   test_oneway               the leader cannot send to a follower, then a
#                             follower cannot send to the leader: the leader
#                             and the third node keep serving writes; the
#                             cut-off node's clients get 503 until healed
#   test_lost_acks            the followers cannot send to the leader: a write
#                             it proposed commits under the next leader, and
#                             its client gets 408 (outcome unknown), not 503
#   test_restart_replay       a restarted node re-applies its log without
#                             notifying watchers registered meanwhile
#   test_partition_history    ss_history + lincheck across repeated
#                             partitions and heals, clients on every node
#                             (tests/cluster/campaign.sh, short: 1 kill, 3
#                             partition cycles); then every node applied the
#                             same changes
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"
. "$HERE/netns_lib.sh"

# cl_write_fails I KEY: a write sent to node I is not acknowledged: the CLI
# exits 4 (service error: 503, or no answer within its timeout). Runs in
# the background too: reports by its status, not CL_FAILED.
cl_write_fails() {
    local i=$1 key=$2 rc t0 err="$CL_DIR/refused$1.err"
    t0=$(cl_now_ms)
    cl_cli_t "$i" 6 set "$key" "from-$i" >/dev/null 2>"$err"
    rc=$?
    if ((rc == 4)); then
        cl_note "node $i (minority): set $key refused after $(($(cl_now_ms) - t0)) ms: $(head -c 160 "$err")"
        return 0
    fi
    ((rc == 0)) && echo "  FAIL: node $i (minority) acknowledged set $key" >&2
    ((rc != 0)) && echo "  FAIL: node $i (minority): set $key exit $rc, expected 4: $(head -c 300 "$err")" >&2
    return 1
}

expect_get() { # node key expected
    local got
    got=$(cl_cli "$1" get "$2" 2>/dev/null)
    [[ "$got" == "$3" ]] || cl_fail "node $1: get $2 = '$got', expected '$3'"
}

test_leader_isolated() {
    local l i others="" nl
    cl_heal
    cl_watch_start before iso after || return
    cl_cli 1 set before 1 >/dev/null || cl_fail "set before the partition"
    l=$(cl_leader)
    for ((i = 1; i <= CL_N; i++)); do ((i == l)) || others+=" $i"; done
    cl_isolate "$l"
    cl_note "node $l (leader) isolated from$others"
    cl_write_fails "$l" iso &
    local wpid=$! pids=
    nl=$(cl_wait_leader_in "$others" 20000) || cl_fail "no leader on the majority side"
    for i in $others; do cl_cli "$i" set "maj$i" "$i" >/dev/null || cl_fail "set on node $i (majority) failed"; done
    wait "$wpid" || cl_fail "the isolated leader acknowledged a write, or did not answer 503"
    # The isolated leader notices it lost the majority (libraft's contact
    # quorum check) and stops serving.
    local deadline=$(($(cl_now_ms) + 15000))
    while cl_leads "$l" && (($(cl_now_ms) < deadline)); do sleep 0.1; done
    cl_leads "$l" && cl_fail "node $l still serves as leader while isolated"
    cl_write_fails "$l" iso || cl_fail "the isolated old leader did not refuse a write"
    cl_heal
    # Healed: the old leader follows the new one and serves its clients again.
    local t0=$(cl_now_ms)
    deadline=$((t0 + 20000))
    until cl_cli_t "$l" 5 set after "$l" >/dev/null 2>&1; do
        (($(cl_now_ms) < deadline)) || {
            cl_fail "node $l serves no write after healing"
            break
        }
        sleep 0.2
    done
    cl_note "node $l served a write $(($(cl_now_ms) - t0)) ms after healing; leader: node $(cl_leader)"
    cl_wait_all_serve 40000
    for ((i = 1; i <= CL_N; i++)); do
        expect_get "$i" iso ""
        expect_get "$i" before 1
        expect_get "$i" after "$l"
        for j in $others; do expect_get "$i" "maj$j" "$j"; done
    done
    local n
    n=$(cl_watch_converge 20000)
    ((n == 2)) || cl_fail "watchers saw $n changes of before/iso/after, expected 2"
}

test_split_2_3() {
    local l f i minority majority="" nl
    cl_heal
    cl_watch_start s0 s1 s2 || return
    cl_cli 1 set s0 before >/dev/null || cl_fail "set before the partition"
    l=$(cl_leader)
    f=$(cl_other "$l")
    minority="$l $f"
    for ((i = 1; i <= CL_N; i++)); do [[ " $minority " == *" $i "* ]] || majority+=" $i"; done
    cl_partition "$minority" "$majority"
    cl_note "split: {$minority} (the leader's side) | {$majority}"
    nl=$(cl_wait_leader_in "$majority" 20000) || cl_fail "no leader on the 3 side"
    for i in $majority; do cl_cli "$i" set s1 "maj$i" >/dev/null || cl_fail "set on node $i (3 side) failed"; done
    local pids=()
    for i in $minority; do
        cl_write_fails "$i" s2 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || cl_fail "a node of the 2 side did not refuse a write"; done
    # Reads on the 2 side are not served either (no stale value).
    for i in $minority; do
        local got rc
        got=$(cl_cli_t "$i" 4 get s1 2>/dev/null)
        rc=$?
        ((rc == 0)) && cl_fail "node $i (2 side) answered get s1 = '$got' while split"
    done
    cl_heal
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after healing"
    cl_wait_all_serve 40000
    local last=${majority##* }
    for ((i = 1; i <= CL_N; i++)); do
        expect_get "$i" s0 before
        expect_get "$i" s1 "maj$last"
        expect_get "$i" s2 ""
    done
    cl_cli "$l" set s2 healed >/dev/null || cl_fail "set on node $l after healing"
    local n
    n=$(cl_watch_converge 20000)
    ((n == 5)) || cl_fail "watchers saw $n changes, expected 5"
}

# writes_from_all TAG CUT: a write from a client of every node, each with
# a 6 s timeout. Every node but CUT must serve it. CUT (cut off from the
# leader) cannot forward to it: its client gets exit 4 (503, no leader
# known), never a hang or a wrong answer; reported, not required.
writes_from_all() {
    local tag=$1 cut=$2 i t0 rc
    for ((i = 1; i <= CL_N; i++)); do
        t0=$(cl_now_ms)
        cl_cli_t "$i" 6 set "ow-$tag-$i" x >/dev/null 2>"$CL_DIR/ow.err"
        rc=$?
        cl_note "$tag: a write from a client of node $i: exit $rc after $(($(cl_now_ms) - t0)) ms" \
            "$(head -c 100 "$CL_DIR/ow.err")"
        if ((i != cut && rc != 0)); then
            cl_fail "$tag: node $i could not serve a write"
        elif ((rc != 0 && rc != 4)); then
            cl_fail "$tag: node $i: exit $rc (expected 0 or 4)"
        fi
    done
}

# One-way loss between the leader and a follower, both ways round. With
# TCP a one-way loss breaks every connection between the two nodes (no
# handshake completes, no acknowledgement returns), so both cases behave
# alike: the follower hears no leader, pre-vote keeps it from disrupting
# the others (the third node still hears the leader), the leader keeps its
# majority with the third node and serves its clients and the third
# node's; the cut-off follower knows no leader and forwards nowhere (a
# request is forwarded to the leader only, never relayed through another
# node), so its clients get 503 "no state store leader" until healed.
test_oneway() {
    cl_heal
    local l f i l2
    cl_watch_start ow-a ow-b || return
    l=$(cl_leader)
    f=$(cl_other "$l")
    cl_oneway "$l" "$f"
    cl_note "one-way: node $l (leader) cannot send to node $f"
    sleep 3 # f's election timer runs out
    writes_from_all "leader-to-$f" "$f"
    l2=$(cl_leader)
    ((l2 == l)) || cl_note "the leader changed: node $l2"
    cl_heal
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after healing"
    cl_wait_all_serve 40000
    cl_cli "$f" set ow-a 1 >/dev/null || cl_fail "set on node $f after healing"
    l=$(cl_leader)
    f=$(cl_other "$l")
    cl_oneway "$f" "$l"
    cl_note "one-way: node $f cannot send to node $l (leader)"
    sleep 3
    writes_from_all "$f-to-leader" "$f"
    l2=$(cl_leader)
    ((l2 == l)) || cl_note "the leader changed: node $l2"
    cl_heal
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after healing"
    cl_wait_all_serve 40000
    cl_cli "$f" set ow-b 2 >/dev/null || cl_fail "set on node $f after healing"
    for ((i = 1; i <= CL_N; i++)); do
        expect_get "$i" ow-a 1
        expect_get "$i" ow-b 2
    done
    local n
    n=$(cl_watch_converge 20000)
    ((n == 2)) || cl_fail "watchers saw $n changes, expected 2"
}

# The followers cannot send to the leader: it keeps sending them entries
# (its connections to them still deliver) but hears no acknowledgement,
# steps down, and a follower that has the entries leads and commits them.
# The old leader, cut off from the new one, never learns the outcome of a
# write it had proposed: the client must not be told the write was
# refused (503 means "not applied").
test_lost_acks() {
    cl_heal
    local l f g rc
    l=$(cl_leader)
    f=$(cl_other "$l")
    g=$(cl_other "$l" "$f")
    cl_oneway "$f" "$l"
    cl_oneway "$g" "$l"
    cl_note "nodes $f and $g cannot send to node $l (leader)"
    cl_cli_t "$l" 8 set la x >/dev/null 2>"$CL_DIR/la.err"
    rc=$?
    cl_note "set on node $l: exit $rc: $(head -c 200 "$CL_DIR/la.err")"
    cl_heal
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after healing"
    cl_wait_all_serve 40000
    local got
    got=$(cl_cli "$f" get la 2>/dev/null)
    cl_note "after healing: la = '$got'"
    ((rc != 0)) || [[ "$got" == x ]] || cl_fail "set la acknowledged, but la = '$got'"
    if [[ "$got" == x ]] && ! grep -q "may have been applied" "$CL_DIR/la.err"; then
        cl_fail "the write was applied, but its client was told it was refused: $(cat "$CL_DIR/la.err")"
    fi
}

# A node restarted from its data directory rebuilds its keyspace by
# re-applying its raft log once it hears the leader's commit index, after
# its listener is open: those entries are history, so a watcher that
# registered meanwhile must not be told of them (store_bridge_cluster_
# replay_until). Kept deterministic by isolating the node until its
# watcher is registered.
test_restart_replay() {
    cl_heal
    local l f i n
    l=$(cl_leader)
    f=$(cl_other "$l")
    for ((i = 1; i <= 10; i++)); do cl_cli "$l" set rk "v$i" >/dev/null || cl_fail "set rk v$i"; done
    sleep 1 # node f applied them all
    cl_kill "$f"
    cl_isolate "$f"
    cl_start "$f"
    (cl_exec_client "$CL_CLI" -h "$(cl_host "$f")" -p "${CL_MQTT[f]}" --verbose watch rk) \
        >"$CL_DIR/rw.out" 2>"$CL_DIR/rw.err" &
    local w=$!
    CL_BG_PIDS+=("$w")
    local deadline=$(($(cl_now_ms) + 10000))
    until grep -q watching "$CL_DIR/rw.err"; do
        (($(cl_now_ms) < deadline)) || break
        sleep 0.05
    done
    cl_heal
    sleep 4
    kill -TERM "$w" 2>/dev/null
    wait "$w" 2>/dev/null
    n=$(grep -c "SET rk" "$CL_DIR/rw.out")
    ((n == 0)) || cl_fail "a watcher registered on node $f after its restart was notified of $n changes" \
        "committed before: $(head -n 3 "$CL_DIR/rw.out" | tr '\n' '|')"
}

# The short version of tests/cluster/campaign.sh: one leader kill and
# three partition cycles under load from clients on every node, each
# history checked by lincheck, then the watchers compared.
test_partition_history() {
    bash "$HERE/campaign.sh" --kills 1 --partitions 3 --size "$CL_N" || cl_fail "campaign.sh failed"
}

if [[ -z "$CL_CLI" ]]; then
    echo "skipped: needs MQSTATE_CLI" >&2
    exit 77
fi
trap cl_cleanup EXIT
trap 'exit 143' TERM INT HUP
tests=("$@")
((${#tests[@]})) || tests=(test_leader_isolated test_oneway test_lost_acks test_restart_replay)
rc=0
plain=()
for t in "${tests[@]}"; do [[ "$t" == test_partition_history ]] || plain+=("$t"); done
if ((${#plain[@]})); then
    ns_setup "${CL_SIZE:-3}"
    cl_run_tests "${plain[@]}" || rc=1
fi
if [[ " ${tests[*]} " == *" test_partition_history "* ]]; then
    CL_N=${CL_SIZE:-3}
    test_partition_history
    ((CL_FAILED)) && rc=1
fi
exit "$rc"
