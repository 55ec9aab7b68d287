#!/usr/bin/env bash
# Crash test of the durable state store (docs/persistence.md), fsync: always:
# writers SET concurrently and record every acknowledged (key, version);
# the server is killed with SIGKILL at a random moment; after a restart
# every acknowledged SET is there with its version (a writer's shared key:
# that version or a newer acknowledged one), and new versions are above
# every version seen before.
#
#   persistence_crash.sh [ITERATIONS] [WRITERS]   (default 200, 4)
#
# The e2e suite runs 5 iterations (e2e_persistence_crash); the long
# campaign runs the default 200:
#   MQSTATED=build/release/src/server/mqstated MQSTATE=build/release/cli/mqstate \
#       tests/fault/persistence_crash.sh 200
# SNAPSHOT=1: persistence.snapshot_log_bytes 4096, so the kills land while
# logs rotate and snapshots are written and installed (e2e_persistence_crash_snapshot).
# Needs $MQSTATED and $MQSTATE (the CLI); bounded: every wait has a timeout.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"
. "$HERE/crash_lib.sh"

ITER=${1:-200}
WRITERS=${2:-4}
FSYNC=${FSYNC:-always}
SNAPSHOT=${SNAPSHOT:-0}
if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi
PDIR="$MQS_DIR/data"
mqs_write_config() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: %s\n' \
        "$MQS_PORT" "$PDIR" "$FSYNC" >"$MQS_DIR/broker.conf"
    if ((SNAPSHOT)); then printf '  snapshot_log_bytes: 4096\n' >>"$MQS_DIR/broker.conf"; fi
}
trap mqs_cleanup EXIT

# One writer: SETs its own new key each time (w<i>-<n>) and its shared key
# (w<i>-last), appending "key version" to its file after each ack.
writer() {
    local i=$1 port=$2 out=$3 n=$4 j v
    for ((j = 0; ; j++)); do
        v=$(timeout 10 "$MQSTATE" -p "$port" --timeout 5 set "w$i-$n-$j" "v$j" --json 2>/dev/null) || return 0
        v=${v##*\"version\":\"}
        echo "w$i-$n-$j ${v%%\"*}" >>"$out"
        v=$(timeout 10 "$MQSTATE" -p "$port" --timeout 5 set "w$i-last" "v$n-$j" --json 2>/dev/null) || return 0
        v=${v##*\"version\":\"}
        echo "w$i-last ${v%%\"*}" >>"$out"
    done
}

get_version() {
    local v
    v=$(timeout 10 "$MQSTATE" -p "$MQS_PORT" --timeout 5 get "$1" --json 2>/dev/null) || return 1
    v=${v##*\"version\":\"}
    echo "${v%%\"*}"
}

failed=0
acked_total=0
mqs_broker_start || { echo "FAIL: broker did not start" >&2; exit 1; }
for ((it = 1; it <= ITER; it++)); do
    : >"$MQS_DIR/acked"
    crash_round "$it"
    cat "$MQS_DIR"/acked.* >"$MQS_DIR/acked" 2>/dev/null
    rm -f "$MQS_DIR"/acked.*
    : >"$MQS_DIR/broker.log"
    mqs_broker_start || { echo "FAIL: iteration $it: no restart after kill -9" >&2; failed=1; break; }
    declare -A last=()
    max=""
    while read -r key ver; do
        [[ -n "$ver" ]] || continue
        acked_total=$((acked_total + 1))
        [[ "$ver" > "$max" ]] && max=$ver
        if [[ $key == *-last ]]; then
            [[ "$ver" > "${last[$key]:-}" ]] && last[$key]=$ver
            continue
        fi
        got=$(get_version "$key")
        if [[ "$got" != "$ver" ]]; then
            echo "FAIL: iteration $it: acknowledged $key $ver, after restart '$got'" >&2
            failed=1
        fi
    done <"$MQS_DIR/acked"
    for key in "${!last[@]}"; do
        got=$(get_version "$key")
        if [[ ! "$got" > "${last[$key]}" && "$got" != "${last[$key]}" ]]; then
            echo "FAIL: iteration $it: $key acknowledged at ${last[$key]}, after restart '$got'" >&2
            failed=1
        fi
    done
    unset last
    if [[ -n "$max" ]]; then
        v=$(timeout 10 "$MQSTATE" -p "$MQS_PORT" --timeout 5 set probe x --json 2>&1)
        v=${v##*\"version\":\"}
        v=${v%%\"*}
        if [[ ! "$v" > "$max" ]]; then
            echo "FAIL: iteration $it: new version $v not above $max (probe: $(timeout 10 "$MQSTATE" -p "$MQS_PORT" --timeout 5 set probe x --json 2>&1))" >&2
            failed=1
        fi
    fi
    ((failed)) && break
done
echo "$((it > ITER ? ITER : it)) iterations, $acked_total acknowledged SETs checked, fsync $FSYNC" >&2
if ((SNAPSHOT)); then
    if ((!failed)) && [[ ! -s "$PDIR/statestore.snap" ]]; then
        echo "FAIL: SNAPSHOT=1 but no snapshot was installed" >&2
        failed=1
    fi
fi
if ((failed)); then
    sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
    MQS_FAILED=1
    exit 1
fi
echo "PASS persistence crash test" >&2
exit 0
