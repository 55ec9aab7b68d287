#!/usr/bin/env bash
# Durable retained messages (docs/persistence.md, persistence.retained):
# restart round trips with all / none / {topics}, a clear survives, message
# expiry keeps counting across a restart (expired while down: gone), $
# topics, restore from a snapshot, and with state_store.mode none.
# mqstated only (77 otherwise); uses mosquitto_pub / mosquitto_sub.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
    echo "skipped: needs mqstated, mosquitto_pub and mosquitto_sub" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
EXTRA=""
mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n%s' \
        "$MQS_PORT" "$PDIR" "$EXTRA" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"

# pub TOPIC PAYLOAD [mosquitto_pub options]: a retained QoS 1 publish (v5).
pub() {
    local t=$1 m=$2
    shift 2
    timeout 10 mosquitto_pub -p "$MQS_PORT" -V mqttv5 -q 1 -r -t "$t" -m "$m" "$@" || mqs_fail "publish $t"
}
# The retained messages under FILTER as sorted "topic payload expiry" lines.
dump() {
    timeout 10 mosquitto_sub -p "$MQS_PORT" -V mqttv5 --retained-only -W 1 -t "$1" -F '%t %p %E' 2>/dev/null | sort
}

test_round_trip_all() {
    fresh
    pub r/keep v1
    pub r/keep v2 # replaced
    pub r/cleared x
    timeout 10 mosquitto_pub -p "$MQS_PORT" -V mqttv5 -q 1 -r -t r/cleared -n || mqs_fail "clear"
    pub '$sys/dollar' d
    pub r/props p -D publish content-type text/x -D publish user-property k v
    restart
    local got
    got=$(dump 'r/#')
    [[ $got == $'r/keep v2 \nr/props p ' ]] || mqs_fail "after restart: '$got'"
    [[ $(dump '$sys/#') == '$sys/dollar d ' ]] || mqs_fail "\$ topic lost"
    got=$(timeout 10 mosquitto_sub -p "$MQS_PORT" -V mqttv5 --retained-only -W 1 -t r/props -F '%C %P' 2>/dev/null)
    [[ $got == "text/x k:v" ]] || mqs_fail "properties after restart: '$got'"
    grep -q "broker state restored: 3 retained messages" "$MQS_DIR/broker.log" || mqs_fail "no restored count logged"
    # A second restart (replaying the same log again) gives the same.
    restart
    [[ $(dump 'r/#') == $'r/keep v2 \nr/props p ' ]] || mqs_fail "after the second restart"
}

test_expiry_keeps_counting() {
    fresh
    pub e/short s -D publish message-expiry-interval 4
    pub e/long l -D publish message-expiry-interval 100
    local t0
    t0=$(mqs_now_ms)
    mqs_broker_stop
    sleep 2
    mqs_broker_start || mqs_fail "no restart"
    local got
    got=$(dump 'e/#')
    # e/long: 100 s minus the time that passed (at least the 2 s down).
    [[ $got =~ ^e/long\ l\ ([0-9]+)$'\n'e/short\ s\ ([0-9]+)$ ]] || mqs_fail "after 2 s down: '$got'"
    ((BASH_REMATCH[1] <= 98 && BASH_REMATCH[1] >= 80)) || mqs_fail "e/long expiry did not keep counting: '$got'"
    ((BASH_REMATCH[2] <= 2)) || mqs_fail "e/short expiry did not keep counting: '$got'"
    mqs_broker_stop
    while (($(mqs_now_ms) < t0 + 4500)); do sleep 0.1; done
    mqs_broker_start || mqs_fail "no restart"
    got=$(dump 'e/#')
    [[ $got =~ ^e/long\ l\ [0-9]+$ ]] || mqs_fail "expired while down, still there: '$got'"
}

test_round_trip_none() {
    EXTRA=$'  retained: none\n'
    fresh
    pub n/a x
    restart
    [[ -z $(dump 'n/#') ]] || mqs_fail "retained: none, but restored"
    "$MQS_BIN" persistence check "$PDIR" | grep -q "broker records: 0 retained" || mqs_fail "records written"
    # From all to none: the records in the log are skipped, not an error.
    EXTRA=""
    restart
    pub n/b y
    EXTRA=$'  retained: none\n'
    restart
    [[ -z $(dump 'n/#') ]] || mqs_fail "all, then none: restored"
    EXTRA=""
    restart
    [[ $(dump 'n/#') == 'n/b y ' ]] || mqs_fail "none, then all again: n/b lost"
}

test_round_trip_topics() {
    EXTRA=$'  retained:\n    topics: [keep/#, "+/sel"]\n'
    fresh
    pub keep/a A
    pub keep a0
    pub x/sel S
    pub drop/b B
    pub x/sel/no N
    restart
    local got
    got=$(dump '#')
    [[ $got == $'keep a0 \nkeep/a A \nx/sel S ' ]] || mqs_fail "topics: '$got'"
    # Another selection at the next start: what it no longer selects is not restored.
    EXTRA=$'  retained:\n    topics: [x/#]\n'
    restart
    got=$(dump '#')
    [[ $got == 'x/sel S ' ]] || mqs_fail "narrowed selection: '$got'"
    EXTRA=""
}

test_snapshot_restores_retained() {
    EXTRA=$'  snapshot_log_bytes: 2048\n'
    fresh
    local i
    for ((i = 0; i < 40; i++)); do pub "s/$i" "payload-$i-$(head -c 60 /dev/zero | tr '\0' x)"; done
    local deadline=$(($(mqs_now_ms) + 20000))
    while ! grep -q "snapshot .* installed" "$MQS_DIR/broker.log" && (($(mqs_now_ms) < deadline)); do sleep 0.1; done
    while [[ -e "$PDIR/statestore.log.old" ]] && (($(mqs_now_ms) < deadline)); do sleep 0.1; done
    grep -q "snapshot .* installed" "$MQS_DIR/broker.log" || mqs_fail "no snapshot installed"
    mqs_broker_stop
    "$MQS_BIN" persistence check "$PDIR" >"$MQS_DIR/check.out" || mqs_fail "check failed"
    grep -Eq "statestore.snap: .* keys, as of record [0-9]+; broker records: [1-9][0-9]* retained" "$MQS_DIR/check.out" ||
        mqs_fail "no retained records in the snapshot: $(cat "$MQS_DIR/check.out")"
    mqs_broker_start || mqs_fail "no restart"
    [[ $(dump 's/#' | wc -l) == 40 ]] || mqs_fail "after restart from the snapshot: $(dump 's/#' | wc -l) of 40"
    [[ $(dump 's/7') == "s/7 payload-7-$(head -c 60 /dev/zero | tr '\0' x) " ]] || mqs_fail "s/7 payload"
    EXTRA=""
}

test_state_store_none() {
    EXTRA=$'  state_store:\n    mode: none\n'
    fresh
    pub m/a A
    cli set k v >/dev/null 2>&1
    restart
    [[ $(dump 'm/#') == 'm/a A ' ]] || mqs_fail "state_store none: retained lost"
    EXTRA=""
}

ALL_TESTS=(test_round_trip_all test_expiry_keeps_counting test_round_trip_none test_round_trip_topics
    test_snapshot_restores_retained test_state_store_none)
mqs_run_tests "${ALL_TESTS[@]}"
