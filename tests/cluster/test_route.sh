#!/usr/bin/env bash
# Cross-node publish/subscribe on a cluster of real mqstated processes
# (docs/cluster.md, "Routing"): mosquitto_sub on some nodes, mosquitto_pub
# on another; every message reaches every matching subscriber once, in
# order, shared groups are balanced across the nodes, a node that loses
# its subscribers stops receiving traffic, and the per-node filter bound
# (cluster.route_max_filters) degrades to "forward everything".
#
#   test_route.sh [TEST...]
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"

# A subscriber in the background: sub NODE NAME QOS FILTER... (output
# "topic payload" lines in $CL_DIR/NAME.out; it runs at most 60 s).
sub() {
    local i=$1 name=$2 qos=$3 args=() f
    shift 3
    for f in "$@"; do args+=(-t "$f"); done
    : >"$CL_DIR/$name.out"
    cl_bg timeout 60 mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[i]}" -i "$name" -q "$qos" -v \
        "${args[@]}" >"$CL_DIR/$name.out" 2>"$CL_DIR/$name.err"
}

# pub NODE QOS TOPIC < lines: one connection, one message per line, in order.
pub() {
    timeout 60 mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[$1]}" -q "$2" -t "$3" -l ||
        cl_fail "mosquitto_pub on node $1 (qos $2, $3) failed"
}

# JSON field of node I's route status for peer P (python expression on `p`).
peer_figure() { # node peer field
    cl_cli "$1" cluster status 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
for p in s.get("route", {}).get("peers", []):
    if p["id"] == int(sys.argv[1]): print(p[sys.argv[2]]); break
else: print(-1)' "$2" "$3"
}

# Wait until node I sees N filters announced by node P (at most 15 s).
wait_filters() { # node peer n
    local deadline=$(($(cl_now_ms) + 15000)) got
    while :; do
        got=$(peer_figure "$1" "$2" filters)
        [[ "$got" == "$3" ]] && return 0
        if (($(cl_now_ms) > deadline)); then
            cl_fail "node $1 sees $got filters of node $2, expected $3"
            return 1
        fi
        sleep 0.1
    done
}

# Wait until file F has N lines (at most 20 s), then 1 s more for extras.
wait_lines() { # name n
    local deadline=$(($(cl_now_ms) + 20000))
    while (($(wc -l <"$CL_DIR/$1.out") < $2)) && (($(cl_now_ms) < deadline)); do sleep 0.1; done
    sleep 1
}

expect_lines() { # name n
    local got
    got=$(wc -l <"$CL_DIR/$1.out")
    ((got == $2)) || cl_fail "$1 received $got messages, expected $2"
}

seq_lines() { seq "$1" "$2"; }

test_qos_levels() {
    local q
    sub 2 b0 2 'q/#'
    sub 3 c0 2 'q/+/x'
    wait_filters 1 2 1 && wait_filters 1 3 1
    for q in 0 1 2; do seq_lines 1 50 | sed "s/^/$q-/" | pub 1 "$q" "q/$q/x"; done
    wait_lines b0 150
    wait_lines c0 150
    expect_lines b0 150
    expect_lines c0 150
    # Per publisher and topic, in publish order.
    for q in 0 1 2; do
        [[ "$(grep "^q/$q/x " "$CL_DIR/b0.out" | cut -d' ' -f2 | tr '\n' ' ')" == \
            "$(seq_lines 1 50 | sed "s/^/$q-/" | tr '\n' ' ')" ]] || cl_fail "qos $q: out of order on node 2"
        [[ "$(grep "^q/$q/x " "$CL_DIR/c0.out" | cut -d' ' -f2 | tr '\n' ' ')" == \
            "$(seq_lines 1 50 | sed "s/^/$q-/" | tr '\n' ' ')" ]] || cl_fail "qos $q: out of order on node 3"
    done
}

# Overlapping filters on one node: one copy per session; a message
# published where subscribers also are reaches each once (no loop back).
test_overlap_no_loop() {
    sub 1 a1 1 'o/#'
    sub 2 b1 1 'o/+/x' 'o/#'
    sub 2 b2 1 'o/a/x'
    sub 3 c1 1 'o/+/+'
    wait_filters 1 2 3 && wait_filters 2 1 1 && wait_filters 2 3 1
    seq_lines 1 20 | pub 2 1 o/a/x
    seq_lines 1 10 | pub 3 1 o/b/y
    echo one | pub 1 0 o/z
    wait_lines a1 31
    expect_lines a1 31
    expect_lines b1 31
    expect_lines b2 20
    expect_lines c1 30
    # Node 2 sent each of its 20 messages once to node 1 and once to node 3.
    [[ "$(peer_figure 2 1 msgs_out)" == 20 ]] || cl_fail "node 2 -> 1: $(peer_figure 2 1 msgs_out) forwarded"
    [[ "$(peer_figure 2 3 msgs_out)" == 20 ]] || cl_fail "node 2 -> 3: $(peer_figure 2 3 msgs_out) forwarded"
    [[ "$(peer_figure 1 2 msgs_in)" == 20 ]] || cl_fail "node 1 <- 2: $(peer_figure 1 2 msgs_in) received"
}

# One member of $share/g on each node: every message exactly once in the
# group, spread over the three nodes.
test_shared_balanced() {
    local i total=0 n
    for i in 1 2 3; do sub "$i" "s$i" 1 '$share/g/s/#'; done
    sub 3 plain 1 's/#'
    wait_filters 1 2 1 && wait_filters 1 3 2 && wait_filters 2 1 1
    seq_lines 1 90 | pub 1 1 s/t
    seq_lines 91 120 | pub 2 1 s/u
    wait_lines plain 120
    for i in 1 2 3; do
        n=$(wc -l <"$CL_DIR/s$i.out")
        ((n > 0)) || cl_fail "member on node $i got nothing"
        total=$((total + n))
    done
    ((total == 120)) || cl_fail "group received $total messages, expected 120"
    n=$(cat "$CL_DIR"/s[123].out | sort -u | wc -l)
    ((n == 120)) || cl_fail "group received $n distinct messages, expected 120"
    expect_lines plain 120
}

# The last subscriber of a filter going away withdraws it: nothing more is
# forwarded to that node.
test_unsubscribe_stops() {
    sub 2 u1 0 'u/#'
    wait_filters 1 2 1
    echo first | pub 1 0 u/a
    wait_lines u1 1
    expect_lines u1 1
    kill -TERM "${CL_BG_PIDS[-1]}" 2>/dev/null
    wait_filters 1 2 0
    local before
    before=$(peer_figure 1 2 msgs_out)
    seq_lines 1 10 | pub 1 0 u/a
    sleep 1
    [[ "$(peer_figure 1 2 msgs_out)" == "$before" ]] ||
        cl_fail "node 1 forwarded to node 2 after its last subscriber left ($before -> $(peer_figure 1 2 msgs_out))"
}

# cluster.route_max_filters: 5 (CL_EXTRA below): node 2 with 8 filters
# announces "everything": a message whose topic none of them matches is
# still forwarded to it, and its subscribers still get theirs.
test_filter_bound() {
    sub 2 many 0 m/1 m/2 m/3 m/4 m/5 m/6 m/7 m/8
    local deadline=$(($(cl_now_ms) + 15000))
    until grep -q "more than 5 distinct topic filters" "$CL_DIR/n2.log"; do
        (($(cl_now_ms) < deadline)) || {
            cl_fail "node 2 did not report its filter overflow"
            return
        }
        sleep 0.1
    done
    sleep 1
    echo x | pub 1 0 m/7
    echo y | pub 1 0 elsewhere
    wait_lines many 1
    expect_lines many 1
    [[ "$(peer_figure 1 2 msgs_out)" == 2 ]] || cl_fail "node 1 -> 2: $(peer_figure 1 2 msgs_out) forwarded, expected 2"
    [[ "$(peer_figure 1 2 filters)" == 0 ]] || cl_fail "node 1 holds $(peer_figure 1 2 filters) filters of node 2"
}

# QoS 1 across nodes: the publisher's PUBACK waits until the node with
# the subscriber took the message (node 2 stopped for 2 s: no PUBACK
# meanwhile; once it runs again the PUBACK comes).
test_ack_waits_for_nodes() {
    sub 2 k2 1 'k/#'
    sub 3 k3 1 'k/#'
    wait_filters 1 2 1 && wait_filters 1 3 1
    kill -STOP "${CL_PID[2]}"
    timeout 30 mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[1]}" -q 1 -t k/x -m one &
    local pub=$! deadline
    sleep 2
    kill -0 "$pub" 2>/dev/null || cl_fail "PUBACK sent before node 2 took the message"
    kill -CONT "${CL_PID[2]}"
    deadline=$(($(cl_now_ms) + 15000))
    while kill -0 "$pub" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.05; done
    wait "$pub" || cl_fail "mosquitto_pub failed once node 2 ran again"
    wait_lines k2 1
    expect_lines k2 1
    expect_lines k3 1
}

# A node killed with kill -9 while holding an unacknowledged QoS 1
# message: the publisher is disconnected without a PUBACK (it retries);
# the live subscriber on another node has the message.
test_node_killed_no_ack() {
    sub 2 d2 1 'd/#'
    sub 3 d3 1 'd/#'
    wait_filters 1 2 1 && wait_filters 1 3 1
    kill -STOP "${CL_PID[2]}"
    timeout 30 mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[1]}" -q 1 -t d/x -m lost -d \
        >"$CL_DIR/pubk.out" 2>&1 &
    local pub=$! deadline
    sleep 1
    cl_kill 2
    deadline=$(($(cl_now_ms) + 15000))
    while kill -0 "$pub" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.05; done
    wait "$pub" 2>/dev/null
    grep -q "received PUBACK" "$CL_DIR/pubk.out" && cl_fail "the publisher got a PUBACK for a message node 2 never took"
    grep -q "disconnected: cluster node lost" "$CL_DIR/n1.log" || cl_fail "node 1 did not disconnect the publisher"
    wait_lines d3 1
    expect_lines d3 1
}

# What a message carries survives the hop: user properties, content type,
# response topic, correlation data, message expiry (remaining), the
# receiver's own subscription identifier, Retain As Published. Then
# every node stops gracefully (ASan: no leak, no error at exit).
test_properties_survive() {
    : >"$CL_DIR/p2.out"
    cl_bg timeout 60 mosquitto_sub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[2]}" -i p2 -q 1 -t 'p/#' \
        --retain-as-published -D subscribe subscription-identifier 7 -F '%t|%p|%C|%R|%D|%P|%r|%S|%E' \
        >"$CL_DIR/p2.out" 2>&1
    wait_filters 1 2 1
    timeout 30 mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[1]}" -q 1 -t p/x -m body -r \
        -D publish user-property k v -D publish content-type text/x -D publish response-topic r/t \
        -D publish correlation-data c1 -D publish message-expiry-interval 100 || cl_fail "publish failed"
    wait_lines p2 1
    local line
    line=$(head -n 1 "$CL_DIR/p2.out")
    [[ "$line" =~ ^p/x\|body\|text/x\|r/t\|c1\|k:v\|1\|7\|(100|99|98)$ ]] || cl_fail "delivered on node 2: '$line'"
    local i
    for i in 1 2 3; do cl_stop "$i"; done
}

# A subscriber on node 2 that stops reading: its queue fills (limits on
# node 2: 50 messages, 64 KiB of backlog), and node 2 pauses node 1's link
# for a while at a time (pauses counted) instead of taking messages as
# fast as node 1 sends them.
test_backlog_pauses_link() {
    cl_stop 2
    printf 'limits:\n  max_queued_messages: 50\n  max_backlog_bytes: 65536\n  max_inflight: 10\n' \
        >>"$CL_DIR/n2.yaml"
    cl_start 2 || return
    python3 - "${CL_MQTT[2]}" >"$CL_DIR/stalled.out" 2>&1 <<'PY' &
import socket, struct, sys, time
def s(b): return struct.pack(">H", len(b)) + b
def pkt(t, body):
    n, rl = len(body), b""
    while True:
        d, n = n % 128, n // 128
        rl += bytes([d | (128 if n else 0)])
        if not n: break
    return bytes([t]) + rl + body
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
c.sendall(pkt(0x10, s(b"MQTT") + bytes([5, 2]) + struct.pack(">H", 300) + b"\x00" + s(b"stalled")))
c.sendall(pkt(0x82, struct.pack(">H", 1) + b"\x00" + s(b"slow/#") + b"\x01"))
time.sleep(1)
print("subscribed", flush=True)
time.sleep(50)  # never reads again
PY
    CL_BG_PIDS+=($!)
    wait_filters 1 2 1
    head -c 2000 /dev/zero | tr '\0' x >"$CL_DIR/line"
    for _ in $(seq 1 3000); do cat "$CL_DIR/line"; echo; done >"$CL_DIR/lines"
    timeout 120 mosquitto_pub -V mqttv5 -h 127.0.0.1 -p "${CL_MQTT[1]}" -q 1 -t slow/x -l <"$CL_DIR/lines" \
        >/dev/null 2>&1 &
    local pub=$! deadline=$(($(cl_now_ms) + 60000)) pauses=0
    while (($(cl_now_ms) < deadline)); do
        pauses=$(peer_figure 2 1 pauses)
        ((pauses > 0)) && break
        sleep 0.2
    done
    ((pauses > 0)) || cl_fail "node 2 never paused node 1's link for its stalled subscriber"
    kill "$pub" 2>/dev/null
    wait "$pub" 2>/dev/null
}

if [[ -z "$CL_CLI" ]] || ! command -v mosquitto_sub >/dev/null; then
    echo "skipped: needs MQSTATE_CLI and mosquitto clients" >&2
    exit 77
fi
tests=("$@")
((${#tests[@]})) || tests=(test_qos_levels test_overlap_no_loop test_shared_balanced test_unsubscribe_stops
    test_ack_waits_for_nodes test_node_killed_no_ack test_backlog_pauses_link test_properties_survive test_filter_bound)
rc=0
plain=()
for t in "${tests[@]}"; do [[ "$t" == test_filter_bound ]] || plain+=("$t"); done
((${#plain[@]} == 0)) || cl_run_tests "${plain[@]}" || rc=1
if [[ " ${tests[*]} " == *" test_filter_bound "* ]]; then
    CL_EXTRA=("route_max_filters: 5")
    cl_run_tests test_filter_bound || rc=1
fi
exit "$rc"
