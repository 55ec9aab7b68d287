#!/usr/bin/env bash
# Durable key selection of the state store (docs/persistence.md, "Choosing
# durable keys"): persistence.state_store mode none and custom (keys by
# Pattern, String, Binary; the dynamic user property), restart round trips,
# kill -9, snapshots and config errors, against the real mqstated.
# Needs $MQSTATE (the CLI) and mosquitto_rr (requests with any property).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
# The state_store section of each test (indented under persistence:).
SS='  state_store:
    mode: custom'
EXTRA=""

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n%s\n%s' \
        "$MQS_PORT" "$PDIR" "$SS" "$EXTRA" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"

version() { cli get "$1" --json 2>/dev/null | json_field version; }
absent() {
    cli get "$@" >/dev/null 2>&1
    (($? == 1))
}
kill9() {
    kill -KILL "$MQS_PID"
    wait "$MQS_PID" 2>/dev/null
    MQS_PID=""
    mqs_broker_start || mqs_fail "no restart after kill -9"
}

# SET key value with the user property name=value (and __ts: now, plus
# $TS_AHEAD ms), through mosquitto_rr; prints the reply's __ts.
rr_set() {
    local key=$1 val=$2 name=$3 pval=$4 out
    local req=$'*3\r\n$3\r\nSET\r\n$'${#key}$'\r\n'$key$'\r\n$'${#val}$'\r\n'$val$'\r\n'
    out=$(timeout 10 mosquitto_rr -V 5 -p "$MQS_PORT" -q 1 -W 8 \
        -t statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke -e "resp/rr-$RANDOM" -m "$req" \
        -D publish user-property __ts "$(($(mqs_now_ms) + ${TS_AHEAD:-0})):0:rr" -D publish user-property "$name" "$pval" \
        -D publish correlation-data "c$RANDOM$RANDOM" -F '%P' 2>&1)
    [[ $out == *"__stat:200"* ]] || { mqs_fail "rr_set $key: '$out'"; return 1; }
    out=${out##*__ts:}
    echo "${out%% *}"
}

# Counts of the log's records: "SET-durable SET-volatile DEL EXPIRE CLOCK".
log_counts() {
    python3 - "$PDIR/statestore.log" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(); o = 0; c = [0] * 5
while o + 9 <= len(d):
    (n,) = struct.unpack_from('<I', d, o); p = d[o + 9:o + 9 + n]; o += 9 + n
    t, f = p[1], p[2]
    if t == 1: c[0 if f & 2 else 1] += 1
    elif t in (2, 3): c[2] += 1
    elif t == 4: c[3] += 1
    else: c[4] += 1
print(*c)
PY
}

# mode none: no key survives, but versions keep going up across a
# restart and a kill -9 (the log holds the clock mark only).
test_none_versions() {
    SS='  state_store:
    mode: none'
    fresh
    local v1 v2 v3
    v1=$(cli set k one --persist --json | json_field version)
    [[ -n $v1 ]] || mqs_fail "set k"
    restart
    absent k || mqs_fail "mode none: k survived a restart"
    v2=$(cli set k2 two --json | json_field version)
    [[ "$v2" > "$v1" ]] || mqs_fail "mode none: version $v2 after restart not above $v1"
    kill9
    absent k2 || mqs_fail "mode none: k2 survived kill -9"
    v3=$(cli set k3 three --json | json_field version)
    [[ "$v3" > "$v2" ]] || mqs_fail "mode none: version $v3 after kill -9 not above $v2"
    # A request __ts 50 s ahead moves the server clock there (protocol
    # §4.5); without the durable clock mark a restart would go back to now.
    local vf v4
    vf=$(TS_AHEAD=50000 rr_set far v x y)
    kill9
    v4=$(cli set k4 four --json | json_field version)
    [[ -n $vf && "$v4" > "$vf" ]] || mqs_fail "mode none: version $v4 after kill -9 not above $vf (clock ahead)"
    read -r sd sv dl ex ck <<<"$(log_counts)"
    ((sd + sv + dl + ex == 0 && ck >= 1)) || mqs_fail "mode none: log counts $sd $sv $dl $ex $ck"
}

# custom keys: Pattern, String, Binary (base64 of bytes 00 ff 41); the
# other keys are gone after a restart, the selected ones keep their version.
test_custom_keys() {
    SS='  state_store:
    mode: custom
    dynamic:
      enabled: false
    keys:
      - keyType: Pattern
        keys: ["dur/*", "cfg-?"]
      - keyType: String
        keys: [exact]
      - keyType: Binary
        keys: ["AP9B"]'
    fresh
    local va vb vc ve vbin
    va=$(cli set dur/a 1 --json | json_field version)
    vc=$(cli set cfg-1 1 --json | json_field version)
    ve=$(cli set exact 1 --json | json_field version)
    vbin=$(cli set --key-hex 00ff41 --value 1 --json | json_field version)
    cli set dur 1 >/dev/null && cli set cfg-10 1 >/dev/null && cli set exactly 1 >/dev/null &&
        cli set --key-hex 00ff --value 1 >/dev/null && cli set other 1 --persist >/dev/null || mqs_fail "sets"
    restart
    [[ $(version dur/a) == "$va" ]] || mqs_fail "Pattern dur/*: dur/a lost or changed"
    [[ $(version cfg-1) == "$vc" ]] || mqs_fail "Pattern cfg-?: cfg-1 lost"
    [[ $(version exact) == "$ve" ]] || mqs_fail "String exact: lost"
    [[ $(cli get --key-hex 00ff41 --json | json_field version) == "$vbin" ]] || mqs_fail "Binary AP9B: lost"
    for k in dur cfg-10 exactly other; do absent "$k" || mqs_fail "$k is not selected but survived"; done
    absent --key-hex 00ff || mqs_fail "binary 00ff is not selected but survived"
}

# dynamic: the default aio-persistence: true (the CLI's --persist), then a
# custom property name and value; a request with the default property then
# selects nothing.
test_dynamic() {
    SS='  state_store:
    mode: custom'
    fresh
    local vp
    vp=$(cli set p v --persist --json | json_field version)
    cli set q v >/dev/null || mqs_fail "set q"
    restart
    [[ $(version p) == "$vp" ]] || mqs_fail "dynamic default: p (aio-persistence: true) lost"
    absent q || mqs_fail "dynamic default: q (no property) survived"

    SS='  state_store:
    mode: custom
    dynamic:
      property: keep
      value: "yes"'
    restart
    local vk
    vk=$(rr_set kk v keep yes)
    rr_set kn v keep no >/dev/null
    cli set ka v --persist >/dev/null || mqs_fail "set ka"
    restart
    [[ -n $vk && $(version kk) == "$vk" ]] || mqs_fail "dynamic keep=yes: kk lost"
    absent kn || mqs_fail "dynamic keep=no survived"
    absent ka || mqs_fail "dynamic: aio-persistence selected with property keep configured"

    SS='  state_store:
    mode: custom
    dynamic:
      enabled: false'
    restart
    cli set off v --persist >/dev/null || mqs_fail "set off"
    restart
    absent off || mqs_fail "dynamic disabled: --persist selected"
    [[ $(version p) == "$vp" ]] || mqs_fail "p lost across the configuration changes"
}

# A non-durable SET over a durable value removes the durable copy (after a
# restart or a kill -9 the key is absent, not the old value); DEL and
# expiry of a durable key are logged, of a non-durable key not.
test_overwrite_and_delete() {
    SS='  state_store:
    mode: custom'
    fresh
    cli set o old --persist >/dev/null && cli set o new >/dev/null || mqs_fail "set o"
    cli set d v --persist >/dev/null && cli del d >/dev/null || mqs_fail "set/del d"
    cli set x v --persist >/dev/null && cli vdel x v >/dev/null || mqs_fail "set/vdel x"
    cli set nd v >/dev/null && cli del nd >/dev/null || mqs_fail "set/del nd"
    cli set e v --persist --px 200 >/dev/null && cli set ne v --px 200 >/dev/null || mqs_fail "set e/ne"
    cli set o2 old --persist >/dev/null && cli set o2 newer >/dev/null || mqs_fail "set o2"
    sleep 1 # e and ne expire (active expiry)
    read -r sd sv dl ex ck <<<"$(log_counts)"
    # durable SETs o d x e o2; volatile SETs replacing durable values: o o2;
    # DEL d, VDEL x (not nd); EXPIRE e (not ne)
    ((sd == 5 && sv == 2 && dl == 2 && ex == 1)) || mqs_fail "log: $sd durable SETs, $sv volatile SETs, $dl DEL/VDEL, $ex EXPIRE"
    [[ $(cli get o) == new ]] || mqs_fail "o: live value not new"
    restart
    for k in o d x nd e ne; do absent "$k" || mqs_fail "$k came back after a restart"; done
    cli set o2 newest --persist >/dev/null || mqs_fail "set o2"
    cli set o2 gone >/dev/null || mqs_fail "set o2 gone"
    kill9
    absent o2 || mqs_fail "o2: a non-durable overwrite was resurrected after kill -9 ($(cli get o2))"
}

# A snapshot under custom mode holds the durable keys only; restart from
# it and `mqstated persistence check`.
test_snapshot_custom() {
    SS='  state_store:
    mode: custom
    keys:
      - keyType: Pattern
        keys: ["d-*"]'
    EXTRA='  snapshot_log_bytes: 2048'
    fresh
    local i vlast
    for i in $(seq 1 40); do
        vlast=$(cli set "d-$i" "value-$i" --json | json_field version)
        cli set "n-$i" "value-$i" >/dev/null || mqs_fail "set n-$i"
    done
    local deadline=$(($(mqs_now_ms) + 20000))
    while ! grep -q "snapshot .* installed" "$MQS_DIR/broker.log" && (($(mqs_now_ms) < deadline)); do sleep 0.1; done
    grep -q "snapshot .* installed" "$MQS_DIR/broker.log" || mqs_fail "no snapshot installed"
    mqs_broker_stop
    local out
    out=$(timeout 20 "$MQS_BIN" persistence check "$PDIR" 2>&1) || mqs_fail "check: exit $?: $out"
    [[ $out =~ ([0-9]+)\ keys ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] <= 40)) || mqs_fail "check: snapshot keys: '$out'"
    mqs_broker_start || mqs_fail "restart"
    [[ $(version d-40) == "$vlast" ]] || mqs_fail "d-40 lost"
    for i in 1 17 40; do
        [[ $(cli get "d-$i") == "value-$i" ]] || mqs_fail "d-$i lost"
        absent "n-$i" || mqs_fail "n-$i survived a snapshot"
    done
    EXTRA=""
}

test_config_errors() {
    local out
    cfg_err() {
        printf 'persistence:\n  dir: %s\n  state_store:\n%s\n' "$PDIR" "$1" >"$MQS_DIR/e.yaml"
        out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
        (($? != 0)) || mqs_fail "started with: $1"
        [[ $out == *"$2"* ]] || mqs_fail "expected '$2', got '$out'"
    }
    cfg_err $'    mode: custom\n    keys:\n      - keyType: Binary\n        keys: ["not base64!"]' \
        "e.yaml:7: persistence.state_store.keys[0].keys[0]: expected a base64 key"
    cfg_err $'    mode: custom\n    keys:\n      - keyType: Regex\n        keys: [a]' \
        "persistence.state_store.keys[0].keyType: expected one of Pattern, String, Binary, got \"Regex\""
    cfg_err $'    mode: custom\n    keys:\n      - keyType: Pattern\n        keys: ["[a"]' \
        "persistence.state_store.keys[0].keys[0]: invalid pattern"
    cfg_err $'    mode: all\n    keys:\n      - keyType: String\n        keys: [a]' \
        "persistence.state_store.keys: only allowed with mode: custom (mode is all)"
    cfg_err $'    mode: custom\n    dynamic:\n      enabled: maybe' \
        "persistence.state_store.dynamic.enabled: expected true or false"
    cfg_err $'    mode: custom\n    dynamic:\n      property: ""' \
        "persistence.state_store.dynamic.property: expected 1 to 256 bytes"
}

ALL_TESTS=(test_none_versions test_custom_keys test_dynamic test_overwrite_and_delete test_snapshot_custom
    test_config_errors)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
