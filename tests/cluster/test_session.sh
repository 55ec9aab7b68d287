#!/usr/bin/env bash
# The cluster-wide session registry and the wills of a dead node's clients
# (docs/cluster.md "Sessions", "Wills"), on 3 real nodes: takeover across
# nodes with DISCONNECT 0x8E, racing connects, wills published by a
# survivor after their delay, cancelled by a reconnect elsewhere, never
# after a normal DISCONNECT, and authorized on the node that publishes.
#
#   test_session.sh [test_name...]     (default: all)
# Needs MQSTATED, MQSTATE_CLI and MQTT_HOLD (tests/cluster/mqtt_hold.c).
set -u
. "$(dirname "$0")/cluster_lib.sh"
HOLD=${MQTT_HOLD:?MQTT_HOLD is not set}
command -v mosquitto_sub >/dev/null || {
    echo "mosquitto_sub not installed" >&2
    exit 77
}

# wait_for FILE PATTERN MS: true once FILE has a line matching PATTERN.
wait_for() {
    local deadline=$(($(cl_now_ms) + $3))
    while (($(cl_now_ms) < deadline)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# hold NODE NAME ARGS...: an mqtt_hold connection to NODE, output in $CL_DIR/NAME.out.
hold() {
    local node=$1 name=$2
    shift 2
    : >"$CL_DIR/$name.out"
    cl_bg "$HOLD" -p "${CL_MQTT[node]}" -t 120 "$@" >"$CL_DIR/$name.out" 2>&1
}

# sub NODE NAME TOPIC: a mosquitto_sub (v5, QoS 1) on NODE printing "topic payload"
# lines to $CL_DIR/NAME.out; returns once it is connected (NODE's log says so).
sub() {
    local node=$1 name=$2 topic=$3
    : >"$CL_DIR/$name.out"
    cl_bg mosquitto_sub -V 5 -h 127.0.0.1 -p "${CL_MQTT[node]}" -i "$name" -q 1 -v -t "$topic" >"$CL_DIR/$name.out" 2>&1
    wait_for "$CL_DIR/n$node.log" "client $name connected" 10000 || cl_fail "subscriber $name did not connect to node $node"
    sleep 0.3 # its SUBSCRIBE follows the CONNACK
}

# Clients of the previous test go (each test has a fresh cluster on new ports).
bg_reset() {
    local pid
    for pid in "${CL_BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    CL_BG_PIDS=()
}

# metric NODE NAME: the value of gauge NAME on NODE's /metrics (empty: none).
metric() {
    curl -s --max-time 5 "http://127.0.0.1:${CL_METRICS[$1]}/metrics" | awk -v n="$2" '$1 == n {print $2}'
}

lines() { grep -c -- "$2" "$CL_DIR/$1.out" 2>/dev/null; }

# The same client id on node 2 takes the connection on node 1 over: 0x8E.
test_takeover() {
    bg_reset
    hold 1 a -i dup -x 60
    wait_for "$CL_DIR/a.out" "connected present=0" 10000 || cl_fail "dup did not connect to node 1"
    # node 1 knows it: cluster status on node 3 shows the connection on node 1
    local deadline=$(($(cl_now_ms) + 10000)) st=""
    while (($(cl_now_ms) < deadline)); do
        st=$(cl_cli 3 cluster status 2>/dev/null)
        [[ "$st" == *'{"id":1,'*'"connections":1,'* ]] && break
        sleep 0.2
    done
    [[ "$st" == *'{"id":1,'*'"connections":1,'* ]] || cl_fail "cluster status on node 3 does not show node 1's connection: $st"
    [[ "$(metric 3 mqstated_cluster_session_remote_connections)" == 1 ]] ||
        cl_fail "node 3's registry gauge is not 1: $(metric 3 mqstated_cluster_session_remote_connections)"
    hold 2 b -i dup -x 60
    wait_for "$CL_DIR/b.out" "connected present=0" 10000 || cl_fail "dup did not connect to node 2"
    wait_for "$CL_DIR/a.out" "disconnected rc=0x8e" 10000 ||
        cl_fail "node 1's connection was not taken over with 0x8E: $(cat "$CL_DIR/a.out")"
    sleep 1
    grep -q disconnected "$CL_DIR/b.out" && cl_fail "the new connection on node 2 was disconnected: $(cat "$CL_DIR/b.out")"
    # and back: node 1 again takes node 2's connection over
    hold 1 c -i dup -x 60
    wait_for "$CL_DIR/c.out" "connected present=" 10000 || cl_fail "dup did not connect to node 1 again"
    wait_for "$CL_DIR/b.out" "disconnected rc=0x8e" 10000 || cl_fail "node 2's connection was not taken over"
}

# The old connection's will on a takeover from another node follows the
# single-node rules: a delayed will is cancelled when the new connection
# continues the session (clean start 0), published at once when it starts
# clean; a will without delay is published at once.
test_takeover_will() {
    bg_reset
    sub 1 s1 "will/#"
    hold 1 a -i tw1 -x 60 -w will/tw1 -m gone -d 30
    hold 1 b -i tw2 -x 60 -w will/tw2 -m gone -d 30
    hold 1 c -i tw3 -x 60 -w will/tw3 -m gone
    wait_for "$CL_DIR/a.out" "connected" 10000 && wait_for "$CL_DIR/b.out" "connected" 10000 &&
        wait_for "$CL_DIR/c.out" "connected" 10000 || cl_fail "tw1..3 did not connect"
    sleep 1
    hold 2 a2 -i tw1 -x 60    # continues the session: the delayed will is cancelled
    hold 2 b2 -i tw2 -x 60 -c # clean start: published now
    hold 3 c2 -i tw3 -x 60    # no delay: published now
    wait_for "$CL_DIR/a.out" "disconnected rc=0x8e" 10000 || cl_fail "tw1 was not taken over"
    wait_for "$CL_DIR/s1.out" "will/tw2 gone" 10000 || cl_fail "the will of tw2 (clean start takeover) was not published"
    wait_for "$CL_DIR/s1.out" "will/tw3 gone" 10000 || cl_fail "the will of tw3 (no delay) was not published"
    sleep 2
    (($(lines s1 "will/tw1") == 0)) || cl_fail "the delayed will of tw1 was published although its session continued"
    (($(lines s1 "will/tw2") == 1 && $(lines s1 "will/tw3") == 1)) || cl_fail "a will was published twice"
}

# A node killed and restarted within the confirmation time: its new
# process is known to be another one, so its old clients' wills are
# published all the same.
test_will_restart() {
    bg_reset
    sub 2 s1 "will/#"
    sub 3 s2 "will/#"
    hold 1 w -i wr -x 60 -w will/wr -m gone
    wait_for "$CL_DIR/w.out" "connected" 10000 || cl_fail "wr did not connect"
    sleep 1.5
    cl_kill 1
    cl_start 1
    local deadline=$(($(cl_now_ms) + 30000))
    while (($(cl_now_ms) < deadline)); do
        (($(lines s1 "will/wr") + $(lines s2 "will/wr") > 0)) && break
        sleep 0.1
    done
    (($(lines s1 "will/wr") + $(lines s2 "will/wr") > 0)) || cl_fail "the will of wr was not published after its node restarted"
}

# Two connections of one client id racing on nodes 2 and 3: exactly one
# survives, several rounds.
test_race() {
    bg_reset
    local round alive gone
    for round in 1 2 3; do
        hold 2 "r$round-2" -i "race$round"
        hold 3 "r$round-3" -i "race$round"
        wait_for "$CL_DIR/r$round-2.out" "connected" 10000 || cl_fail "round $round: no CONNACK on node 2"
        wait_for "$CL_DIR/r$round-3.out" "connected" 10000 || cl_fail "round $round: no CONNACK on node 3"
        sleep 3
        gone=$(cat "$CL_DIR/r$round-2.out" "$CL_DIR/r$round-3.out" | grep -c "disconnected rc=0x8e")
        alive=$(cat "$CL_DIR/r$round-2.out" "$CL_DIR/r$round-3.out" | grep -c "disconnected")
        ((gone == 1 && alive == 1)) || cl_fail "round $round: $gone taken over, $alive disconnected (expected exactly one)"
    done
}

# A client with a will (delay 4 s) on the leader; the leader is killed:
# a survivor publishes the will, after the delay, once.
test_will_dead_node() {
    bg_reset
    local l t0 t1 got
    l=$(cl_leader)
    sub "$(cl_other "$l")" s1 "will/#"
    sub "$(cl_other "$l" "$(cl_other "$l")")" s2 "will/#"
    hold "$l" w -i w1 -x 60 -w will/w1 -m gone -q 1 -d 4
    wait_for "$CL_DIR/w.out" "connected" 10000 || cl_fail "w1 did not connect"
    sleep 1.5 # the other nodes learn of it
    [[ "$(metric "$(cl_other "$l")" mqstated_cluster_session_remote_wills)" == 1 ]] ||
        cl_fail "the will of w1 is not held by node $(cl_other "$l")"
    t0=$(cl_now_ms)
    cl_kill "$l"
    local deadline=$((t0 + 40000))
    while (($(cl_now_ms) < deadline)); do
        (($(lines s1 "will/w1 gone") + $(lines s2 "will/w1 gone") > 0)) && break
        sleep 0.05
    done
    t1=$(cl_now_ms)
    got=$(($(lines s1 "will/w1 gone") + $(lines s2 "will/w1 gone")))
    ((got > 0)) || {
        cl_fail "the will of w1 was not published within 40 s of the kill"
        return
    }
    cl_note "will received $((t1 - t0)) ms after the kill (delay 4 s)"
    ((t1 - t0 >= 3500)) || cl_fail "the will came $((t1 - t0)) ms after the kill, before its 4 s delay"
    local i pub=0
    for ((i = 1; i <= CL_N; i++)); do
        cl_alive "$i" && pub=$((pub + $(metric "$i" mqstated_cluster_session_wills_published)))
    done
    ((pub == 1)) || cl_fail "$pub wills published (mqstated_cluster_session_wills_published), expected 1"
    sleep 3
    (($(lines s1 "will/w1") <= 1 && $(lines s2 "will/w1") <= 1)) ||
        cl_fail "a subscriber got the will more than once: $(cat "$CL_DIR/s1.out" "$CL_DIR/s2.out")"
}

# The same, but the client connects again on another node before the
# delay ends: no will anywhere.
test_will_reconnect() {
    bg_reset
    local a b c
    a=1 b=2 c=3
    sub "$b" s1 "will/#"
    sub "$c" s2 "will/#"
    hold "$a" w -i w2 -x 60 -w will/w2 -m gone -d 10
    wait_for "$CL_DIR/w.out" "connected" 10000 || cl_fail "w2 did not connect"
    sleep 1.5
    cl_kill "$a"
    sleep 1
    hold "$c" w-again -i w2 -x 60
    wait_for "$CL_DIR/w-again.out" "connected" 10000 || cl_fail "w2 did not connect again on node $c"
    sleep 18 # past the delay and the confirmation time
    (($(lines s1 "will/w2") + $(lines s2 "will/w2") == 0)) ||
        cl_fail "the will of w2 was published although it reconnected: $(cat "$CL_DIR/s1.out" "$CL_DIR/s2.out")"
    grep -q disconnected "$CL_DIR/w-again.out" && cl_fail "w2's new connection was disconnected"
}

# A normal DISCONNECT clears the will everywhere: its node's death later
# publishes nothing.
test_normal_disconnect() {
    bg_reset
    sub 2 s1 "will/#"
    sub 3 s2 "will/#"
    hold 1 w -i w3 -x 60 -w will/w3 -m gone -n
    wait_for "$CL_DIR/w.out" "disconnected" 10000 || cl_fail "w3 did not disconnect"
    hold 1 v -i w4 -x 60 -w will/w4 -m gone -d 30 -n
    wait_for "$CL_DIR/v.out" "disconnected" 10000 || cl_fail "w4 did not disconnect"
    sleep 1
    cl_kill 1
    sleep 12
    (($(lines s1 "will/") + $(lines s2 "will/") == 0)) ||
        cl_fail "a will was published after a normal DISCONNECT: $(cat "$CL_DIR/s1.out" "$CL_DIR/s2.out")"
}

# A node stopped with SIGTERM disconnects its clients with 0x8B and tells
# the others (BYE): no will is published, as one node does at shutdown;
# the node exits 0 (ASan: no leak).
test_graceful_stop() {
    bg_reset
    sub 1 s1 "will/#"
    sub 2 s2 "will/#"
    hold 3 w -i w5 -x 60 -w will/w5 -m gone
    wait_for "$CL_DIR/w.out" "connected" 10000 || cl_fail "w5 did not connect"
    sleep 1
    cl_stop 3
    wait_for "$CL_DIR/w.out" "disconnected rc=0x8b" 5000 || cl_fail "w5 was not told 0x8B: $(cat "$CL_DIR/w.out")"
    sleep 8
    (($(lines s1 "will/w5") + $(lines s2 "will/w5") == 0)) || cl_fail "a will was published after a graceful stop"
    grep -q "node 3 stops" "$CL_DIR/n1.log" || cl_fail "node 1 was not told that node 3 stops"
}

authz_rules() { # $1: what wbad may publish
    local i
    for ((i = 1; i <= CL_N; i++)); do
        sed -i '/^authorization:/,$d' "$CL_DIR/n$i.yaml"
        cat >>"$CL_DIR/n$i.yaml" <<EOF
authorization:
  enabled: true
  rules:
    - principals:
        clientIds: [s1, s2, s3, wbad, wgood]
      brokerResources:
        - method: Connect
        - method: Subscribe
          topics: ["will/#"]
    - principals:
        clientIds: [wbad]
      brokerResources:
        - method: Publish
          topics: ["$1"]
    - principals:
        clientIds: [wgood]
      brokerResources:
        - method: Publish
          topics: ["will/#"]
EOF
        [[ "${2:-}" == "$i" ]] && continue
        cl_reload "$i"
    done
    sleep 1
}

# A will the client may no longer publish (rules changed on the
# survivors after it connected) is not published; an allowed one is.
test_will_unauthorized() {
    bg_reset
    authz_rules "will/#"
    sub 2 s1 "will/#"
    sub 3 s2 "will/#"
    hold 1 w -i wbad -x 60 -w will/bad -m gone
    hold 1 g -i wgood -x 60 -w will/good -m gone
    wait_for "$CL_DIR/w.out" "connected" 10000 || cl_fail "wbad did not connect: $(cat "$CL_DIR/w.out")"
    wait_for "$CL_DIR/g.out" "connected" 10000 || cl_fail "wgood did not connect: $(cat "$CL_DIR/g.out")"
    authz_rules "nothing/#" 1 # nodes 2 and 3 only
    sleep 1
    cl_kill 1
    local deadline=$(($(cl_now_ms) + 30000))
    while (($(cl_now_ms) < deadline)); do
        (($(lines s1 "will/good") + $(lines s2 "will/good") > 0)) && break
        sleep 0.1
    done
    (($(lines s1 "will/good") + $(lines s2 "will/good") > 0)) || cl_fail "the allowed will was not published"
    sleep 2
    (($(lines s1 "will/bad") + $(lines s2 "will/bad") == 0)) ||
        cl_fail "a will the client may not publish was published by a survivor"
    grep -q "will of wbad (a client of another node) on will/bad not published: not authorized" "$CL_DIR"/n[23].log ||
        cl_fail "no survivor logged the refused will"
}

if (($# == 0)); then
    set -- test_takeover test_takeover_will test_race test_will_dead_node test_will_reconnect test_normal_disconnect test_will_unauthorized \
        test_graceful_stop test_will_restart
fi
cl_run_tests "$@"
