#!/usr/bin/env bash
# Replicated retained messages on a 3-node cluster of real mqstated
# processes (docs/cluster.md, "One broker across the nodes": "Retained
# messages"), with mosquitto_pub / mosquitto_sub: a retained publish
# acknowledged on one node is seen by a new subscriber on every node,
# survives the loss of the node that took it, converges under concurrent
# publishes, is rebuilt by a restart and by a snapshot, and is not
# acknowledged by a minority.
#
#   test_retained.sh [TEST...]
#
# test_partition_converge runs with every node in its own network
# namespace (tests/cluster/netns_lib.sh: needs root, skipped (77) without).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"
. "$HERE/netns_lib.sh"

# A retained QoS 1 publish (or a clear: VALUE "") on node I; its exit status.
rpub() { # node topic value [timeout s]
    local args=(-m "$3")
    [[ -n "$3" ]] || args=(-n)
    (cl_exec_client timeout "${4:-30}" mosquitto_pub -h "$(cl_host "$1")" -p "${CL_MQTT[$1]}" -V mqttv5 -q 1 -r \
        -t "$2" "${args[@]}") 2>>"$CL_DIR/pub.err"
}

# What a new subscriber on node I gets as retained for FILTER: lines
# "topic payload", sorted ("" if none within a second).
rget() { # node filter
    (cl_exec_client timeout 10 mosquitto_sub -h "$(cl_host "$1")" -p "${CL_MQTT[$1]}" -V mqttv5 -t "$2" -v -W 1 \
        --retained-only) 2>/dev/null | sort
}

# Wait until node I's retained set for FILTER is EXPECTED (at most MS).
expect_retained() { # node filter expected [ms]
    local got deadline=$(($(cl_now_ms) + ${4:-15000}))
    while :; do
        got=$(rget "$1" "$2")
        [[ "$got" == "$3" ]] && return 0
        (($(cl_now_ms) < deadline)) || break
        sleep 0.2
    done
    cl_fail "node $1: retained $2 = '$got', expected '$3'"
    return 1
}

expect_everywhere() { # filter expected
    local i
    for ((i = 1; i <= CL_N; i++)); do cl_alive "$i" && expect_retained "$i" "$1" "$2"; done
}

# Set on node 1: a new subscriber on every node receives it; on node 1 at
# once (its PUBACK waited for the commit, and the origin applies before).
test_set_everywhere() {
    rpub 1 r/a "one" || cl_fail "retained publish on node 1 failed"
    [[ "$(rget 1 r/a)" == "r/a one" ]] || cl_fail "node 1 does not have its own acknowledged retained message"
    expect_everywhere r/a "r/a one"
    rpub 3 r/a "three" || cl_fail "retained publish on node 3 failed"
    [[ "$(rget 3 r/a)" == "r/a three" ]] || cl_fail "node 3 does not have its own acknowledged retained message"
    expect_everywhere r/a "r/a three"
}

# Cleared on node 2: gone everywhere.
test_clear_everywhere() {
    rpub 1 r/b "x" || cl_fail "retained publish failed"
    expect_everywhere r/b "r/b x"
    rpub 2 r/b "" || cl_fail "clear on node 2 failed"
    [[ "$(rget 2 r/b)" == "" ]] || cl_fail "node 2 still has the message it cleared"
    expect_everywhere r/b ""
}

# kill -9 of the node that took the publish right after its PUBACK: the
# survivors have it, and so does the node once restarted.
test_kill_after_puback() {
    local l f
    l=$(cl_leader)
    f=$(cl_other "$l")
    for n in "$f" "$l"; do
        rpub "$n" "r/k$n" "v$n" || cl_fail "retained publish on node $n failed"
        cl_kill "$n"
        cl_wait_leader 20000 >/dev/null || cl_fail "no leader after node $n was killed"
        expect_everywhere "r/k$n" "r/k$n v$n"
        cl_start "$n"
        expect_retained "$n" "r/k$n" "r/k$n v$n" 20000
    done
}

# Retained publishes to one topic from two nodes at once, many rounds:
# every node ends with the same value, one of the last round's.
test_concurrent_converge() {
    local r a b got1 got deadline i
    for ((r = 1; r <= 30; r++)); do
        rpub 1 r/c "n1-$r" &
        a=$!
        rpub 2 r/c "n2-$r" &
        b=$!
        wait "$a" || cl_fail "round $r: publish on node 1 failed"
        wait "$b" || cl_fail "round $r: publish on node 2 failed"
    done
    deadline=$(($(cl_now_ms) + 15000))
    while :; do
        got1=$(rget 1 r/c)
        got=$got1
        for ((i = 2; i <= CL_N; i++)); do [[ "$(rget "$i" r/c)" == "$got1" ]] || got=""; done
        [[ -n "$got" ]] && break
        (($(cl_now_ms) < deadline)) || break
        sleep 0.2
    done
    [[ "$got" == "r/c n1-30" || "$got" == "r/c n2-30" ]] ||
        cl_fail "the nodes did not converge on a last-round value: $(for ((i = 1; i <= CL_N; i++)); do
            printf 'node %s: %s; ' "$i" "$(rget "$i" r/c)"
        done)"
}

# A node restarted from its directory, and a node that catches up through
# a snapshot (snapshot_entries: 64), have the same retained set.
test_restart_and_snapshot() {
    local l f g i want
    l=$(cl_leader)
    f=$(cl_other "$l")
    g=$(cl_other "$l" "$f")
    for ((i = 0; i < 10; i++)); do rpub "$l" "s/$i" "early$i" || cl_fail "publish s/$i"; done
    expect_retained "$f" 's/#' "$(for ((i = 0; i < 10; i++)); do echo "s/$i early$i"; done | sort)"
    cl_stop "$f"
    # Enough entries for snapshots (and log compaction) past what f holds;
    # from both remaining nodes, sets and clears.
    for ((i = 0; i < 150; i++)); do
        rpub $((i % 2 ? l : g)) "s/$((i % 20))" "late$i" >/dev/null || echo fail
    done | grep -q fail && cl_fail "a publish failed"
    rpub "$g" s/3 "" || cl_fail "clear s/3"
    rpub "$l" s/7 "" || cl_fail "clear s/7"
    want=$(rget "$l" 's/#')
    [[ $(wc -l <<<"$want") == 18 ]] || cl_fail "node $l: 18 retained expected, got: $want"
    cl_start "$f"
    expect_retained "$f" 's/#' "$want" 30000
    grep -q "broker state from a snapshot" "$CL_DIR/n$f.log" || cl_fail "node $f did not catch up from a snapshot"
    cl_stop "$g"
    cl_start "$g"
    expect_retained "$g" 's/#' "$want" 30000
    expect_retained "$l" 's/#' "$want"
}

# Only one node left (a minority): a retained QoS 1 publish is not
# acknowledged (the connection is closed once cluster.request_wait_ms
# passed without a leader); a majority again: publishes are acknowledged.
test_minority_no_ack() {
    local keep i t0 rc
    keep=$(cl_other "$(cl_leader)")
    for ((i = 1; i <= CL_N; i++)); do ((i == keep)) || cl_stop "$i"; done
    t0=$(cl_now_ms)
    rpub "$keep" r/m "lonely" 40
    rc=$?
    ((rc != 0)) || cl_fail "a retained QoS 1 publish on a minority node was acknowledged"
    ((rc != 124)) || cl_fail "the minority node neither acknowledged nor refused within 40 s"
    cl_note "minority publish ended after $(($(cl_now_ms) - t0)) ms, exit $rc"
    grep -q "not replicated" "$CL_DIR/n$keep.log" || cl_fail "node $keep did not log the records it gave up"
    for ((i = 1; i <= CL_N; i++)); do ((i == keep)) || cl_start "$i"; done
    cl_wait_leader 20000 >/dev/null || cl_fail "no leader after the majority came back"
    rpub "$keep" r/m2 "back" || cl_fail "publish once the majority is back"
    expect_everywhere r/m2 "r/m2 back"
}

# The leader cut off from the others: its retained QoS 1 publish is not
# acknowledged; the majority elects a leader and takes retained publishes;
# healed, every node has the majority's value (the minority's record never
# committed: its own leader's log entry is replaced by the new leader's).
test_partition_converge() {
    local l others="" i nl rc
    rpub 1 r/p "before" || cl_fail "publish before the partition"
    expect_everywhere r/p "r/p before"
    l=$(cl_leader)
    for ((i = 1; i <= CL_N; i++)); do ((i == l)) || others+=" $i"; done
    cl_isolate "$l"
    cl_note "node $l (leader) isolated from$others"
    rpub "$l" r/p "minority" 40 &
    local wpid=$!
    nl=$(cl_wait_leader_in "$others" 20000) || cl_fail "no leader on the majority side"
    for i in $others; do rpub "$i" r/p "majority$i" || cl_fail "publish on node $i (majority) failed"; done
    wait "$wpid"
    rc=$?
    ((rc != 0 && rc != 124)) || cl_fail "the isolated leader's retained publish: exit $rc (acknowledged, or no answer in 40 s)"
    cl_heal
    local want
    want=$(rget "$nl" r/p)
    [[ "$want" == "r/p majority"* ]] || cl_fail "node $nl (new leader): '$want'"
    expect_everywhere r/p "$want"
    rpub "$l" r/p2 "healed" || cl_fail "publish on node $l after healing"
    expect_everywhere r/p2 "r/p2 healed"
}

command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null || {
    echo "skipped: needs mosquitto_pub and mosquitto_sub" >&2
    exit 77
}
tests=("$@")
((${#tests[@]})) || tests=(test_set_everywhere test_clear_everywhere test_kill_after_puback test_concurrent_converge
    test_restart_and_snapshot test_minority_no_ack)
rc=0
plain=()
for t in "${tests[@]}"; do
    [[ "$t" == test_restart_and_snapshot || "$t" == test_partition_converge ]] || plain+=("$t")
done
((${#plain[@]} == 0)) || cl_run_tests "${plain[@]}" || rc=1
if [[ " ${tests[*]} " == *" test_restart_and_snapshot "* ]]; then
    CL_EXTRA=("snapshot_entries: 64")
    cl_run_tests test_restart_and_snapshot || rc=1
fi
if [[ " ${tests[*]} " == *" test_partition_converge "* ]]; then
    trap cl_cleanup EXIT
    trap 'exit 143' TERM INT HUP
    CL_EXTRA=()
    ns_setup 3
    cl_run_tests test_partition_converge || rc=1
fi
exit "$rc"
