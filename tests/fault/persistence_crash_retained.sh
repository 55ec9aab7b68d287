#!/usr/bin/env bash
# Crash test of durable retained messages (docs/persistence.md): writers
# publish retained QoS 1 messages to distinct topics concurrently and
# record every PUBACKed (topic, payload); the server is killed with
# SIGKILL at a random moment; after a restart every PUBACKed topic is
# retained with its payload.
#
#   persistence_crash_retained.sh [ITERATIONS] [WRITERS]   (default 100, 4)
#
# FSYNC=always (default) or everysec (a process crash loses nothing
# acknowledged either way). SNAPSHOT=1: persistence.snapshot_log_bytes
# 4096, so kills land while logs rotate and snapshots (with their broker
# section) are written and installed. The e2e suite runs 5 iterations of
# each (e2e_persistence_crash_retained, _everysec, _snapshot). Needs $MQSTATED,
# mosquitto_pub and mosquitto_sub; bounded: every wait has a timeout.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"
. "$HERE/crash_lib.sh"

ITER=${1:-100}
WRITERS=${2:-4}
FSYNC=${FSYNC:-always}
SNAPSHOT=${SNAPSHOT:-0}
if ((!MQS_IS_MQSTATED)) || ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
    echo "skipped: needs mqstated, mosquitto_pub and mosquitto_sub" >&2
    exit 77
fi
PDIR="$MQS_DIR/data"
mqs_write_config() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: %s\n' \
        "$MQS_PORT" "$PDIR" "$FSYNC" >"$MQS_DIR/broker.conf"
    if ((SNAPSHOT)); then printf '  snapshot_log_bytes: 4096\n' >>"$MQS_DIR/broker.conf"; fi
}
trap mqs_cleanup EXIT

# One writer: a retained QoS 1 publish to its own new topic each time,
# appending "topic payload" to its file after each PUBACK (mosquitto_pub
# exits 0 only after the PUBACK).
writer() {
    local i=$1 port=$2 out=$3 n=$4 j
    for ((j = 0; ; j++)); do
        timeout 10 mosquitto_pub -p "$port" -V mqttv5 -q 1 -r -i "w$i" -t "c/w$i/$n/$j" -m "p$n-$j" 2>/dev/null ||
            return 0
        echo "c/w$i/$n/$j p$n-$j" >>"$out"
    done
}

failed=0
acked_total=0
mqs_broker_start || {
    echo "FAIL: broker did not start" >&2
    exit 1
}
for ((it = 1; it <= ITER; it++)); do
    crash_round "$it"
    cat "$MQS_DIR"/acked.* >"$MQS_DIR/acked" 2>/dev/null
    rm -f "$MQS_DIR"/acked.*
    : >"$MQS_DIR/broker.log"
    mqs_broker_start || {
        echo "FAIL: iteration $it: no restart after kill -9" >&2
        failed=1
        break
    }
    declare -A have=()
    while read -r topic payload; do
        have[$topic]=$payload
    done < <(timeout 20 mosquitto_sub -p "$MQS_PORT" -V mqttv5 --retained-only -W 3 -t "c/+/$it/#" -F '%t %p' 2>/dev/null)
    while read -r topic payload; do
        [[ -n "$topic" ]] || continue
        acked_total=$((acked_total + 1))
        if [[ "${have[$topic]:-}" != "$payload" ]]; then
            echo "FAIL: iteration $it: PUBACKed $topic '$payload', after restart '${have[$topic]:-<none>}'" >&2
            failed=1
        fi
    done <"$MQS_DIR/acked"
    unset have
    ((failed)) && break
done
echo "$((it > ITER ? ITER : it)) iterations, $acked_total PUBACKed retained messages checked, fsync $FSYNC" >&2
if ((!failed)) && ((SNAPSHOT)) && [[ ! -s "$PDIR/statestore.snap" ]]; then
    echo "FAIL: SNAPSHOT=1 but no snapshot was installed" >&2
    failed=1
fi
if ((!failed)) && ((acked_total == 0)); then
    echo "FAIL: no publish was acknowledged at all" >&2
    failed=1
fi
if ((failed)); then
    sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
    MQS_FAILED=1
    exit 1
fi
echo "PASS retained crash test" >&2
exit 0
