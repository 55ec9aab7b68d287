#!/usr/bin/env bash
# Basic flows with the mosquitto_pub / mosquitto_sub command line clients, in
# MQTT 5 and 3.1.1.
. "$(dirname "$0")/lib.sh"

# $1 = protocol version (5, 311). Session options for a persistent session.
session_opts() {
    if [[ $1 == 5 ]]; then echo "-c -x 60"; else echo "-c"; fi
}

# QoS 1 and 2: subscribe with a persistent session, go offline, publish, and
# collect the queued message on reconnect. Deterministic: no subscribe race.
test_qos12_offline_delivery() {
    local v q out
    for v in 5 311; do
        for q in 1 2; do
            # shellcheck disable=SC2046
            mqs_sub -V "$v" -i "s$v$q" $(session_opts "$v") -q "$q" -t "cli/$v/$q" -E ||
                { mqs_fail "v$v q$q: subscribe failed"; continue; }
            mqs_pub -V "$v" -q "$q" -t "cli/$v/$q" -m "hello-$v-$q" ||
                { mqs_fail "v$v q$q: publish failed"; continue; }
            # shellcheck disable=SC2046
            out=$(mqs_sub -V "$v" -i "s$v$q" $(session_opts "$v") -q "$q" -t "cli/$v/$q" \
                -C 1 -W 5 -F '%q %p')
            [[ "$out" == "$q hello-$v-$q" ]] || mqs_fail "v$v q$q: received '$out'"
        done
    done
}

# QoS 0 is only delivered live: publish until the background subscriber,
# which may not have subscribed yet, has its message (bounded: 50 tries).
test_qos0_live_delivery() {
    local v i out
    for v in 5 311; do
        mqs_bg mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -V "$v" -t "live/$v" -C 1 -W 10 \
            -F '%q %p' >"$MQS_DIR/live$v"
        local sub=$!
        for ((i = 0; i < 50; i++)); do
            mqs_pub -V "$v" -q 0 -t "live/$v" -m "zero-$v"
            kill -0 "$sub" 2>/dev/null || break
            sleep 0.1
        done
        wait "$sub"
        out=$(cat "$MQS_DIR/live$v")
        [[ "$out" == "0 zero-$v" ]] || mqs_fail "v$v qos0: received '$out'"
    done
}

test_retained_set_replace_clear() {
    local out rc
    mqs_pub -V 5 -r -q 1 -t cli/ret -m first
    mqs_pub -V 311 -r -q 1 -t cli/ret -m second
    out=$(mqs_sub -V 5 -t cli/ret -C 1 -W 5 -F '%r %p')
    [[ "$out" == "1 second" ]] || mqs_fail "retained: received '$out'"
    out=$(mqs_sub -V 311 -t cli/ret -C 1 -W 5 -F '%r %p')
    [[ "$out" == "1 second" ]] || mqs_fail "retained v311: received '$out'"
    mqs_pub -V 5 -r -q 1 -t cli/ret -n
    out=$(mqs_sub -V 5 -t cli/ret -W 1 2>/dev/null)
    rc=$?
    [[ -z "$out" ]] || mqs_fail "cleared retained still delivered: '$out'"
    ((rc == 27)) || mqs_fail "mosquitto_sub -W 1 exit status $rc, expected 27 (timeout)"
}

test_count_in_order() {
    local out expected
    # shellcheck disable=SC2046
    mqs_sub -V 5 -i counter $(session_opts 5) -q 1 -t cli/count -E
    for i in 1 2 3 4; do mqs_pub -V 5 -q 1 -t cli/count -m "n$i"; done
    # shellcheck disable=SC2046
    out=$(mqs_sub -V 5 -i counter $(session_opts 5) -q 1 -t cli/count -C 3 -W 5)
    expected=$'n1\nn2\nn3'
    [[ "$out" == "$expected" ]] || mqs_fail "-C 3: received '$out'"
}

test_wait_timeout() {
    local start end rc
    start=$(mqs_now_ms)
    mqs_sub -V 5 -t cli/nothing -W 1 >/dev/null 2>&1
    rc=$?
    end=$(mqs_now_ms)
    ((rc == 27)) || mqs_fail "-W 1 exit status $rc, expected 27"
    ((end - start >= 900 && end - start < 5000)) || mqs_fail "-W 1 took $((end - start)) ms"
}

# A client killed with SIGKILL never sends DISCONNECT: its (retained) will
# is published.
test_will_of_killed_client() {
    local doomed i out
    # stdbuf: the debug output must reach the file before the client exits.
    mqs_bg stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -V 5 -d -i doomed -t cli/dummy \
        --will-topic cli/will --will-payload bye --will-retain --will-qos 1 >"$MQS_DIR/doomed"
    doomed=$!
    for ((i = 0; i < 100; i++)); do
        grep -q SUBACK "$MQS_DIR/doomed" && break
        sleep 0.05
    done
    grep -q SUBACK "$MQS_DIR/doomed" || { mqs_fail "will client never subscribed"; return; }
    kill -KILL "$doomed"
    wait "$doomed" 2>/dev/null
    out=$(mqs_sub -V 5 -t cli/will -C 1 -W 5 -F '%r %p')
    [[ "$out" == "1 bye" ]] || mqs_fail "will: received '$out'"
}

mqs_run_tests \
    test_qos12_offline_delivery \
    test_qos0_live_delivery \
    test_retained_set_replace_clear \
    test_count_in_order \
    test_wait_timeout \
    test_will_of_killed_client
