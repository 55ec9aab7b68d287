#!/usr/bin/env bash
# Crash test of durable key selection (docs/persistence.md, "Choosing
# durable keys"), state_store mode custom, fsync: always: writers mix
# durable SETs (aio-persistence: true), non-durable SETs, and a key of their
# own that alternates between the two; the server is killed with SIGKILL at
# a random moment. After a restart:
#   - every acknowledged durable SET of a key written once is there with
#     its version;
#   - no key written only non-durably exists;
#   - the alternating key is absent or at a version >= its last
#     acknowledged one, and at exactly that version only if that write was
#     durable: a non-durable overwrite never lets an older value come back;
#   - new versions are above every version seen before.
#
#   persistence_crash_mixed.sh [ITERATIONS] [WRITERS]   (default 5, 4)
# Each kill -9 moves the restarted server clock up to 10 s ahead (the clock
# mark, docs/persistence.md) and the CLI refuses a clock more than 60 s
# ahead: keep crashes per minute below about 6.
# Needs $MQSTATED and $MQSTATE (the CLI); bounded: every wait has a timeout.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"
. "$HERE/crash_lib.sh"

ITER=${1:-5}
WRITERS=${2:-4}
if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi
PDIR="$MQS_DIR/data"
mqs_write_config() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n  state_store:\n    mode: custom\n' \
        "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
}
trap mqs_cleanup EXIT

set_v() { # port key value [--persist] -> version (empty on failure)
    local v
    v=$(timeout 10 "$MQSTATE" -p "$1" --timeout 5 set "$2" "$3" ${4:-} --json 2>/dev/null) || return 1
    v=${v##*\"version\":\"}
    echo "${v%%\"*}"
}

# One writer: per round a durable key, a non-durable key, then its
# alternating key m<i> durable on even rounds, non-durable on odd ones;
# each ack appends "kind key version" to its file (D durable, N not).
writer() {
    local i=$1 port=$2 out=$3 n=$4 j v
    for ((j = 0; ; j++)); do
        v=$(set_v "$port" "d$i-$n-$j" "v$j" --persist) || return 0
        echo "D d$i-$n-$j $v" >>"$out"
        v=$(set_v "$port" "n$i-$n-$j" "v$j") || return 0
        echo "N n$i-$n-$j $v" >>"$out"
        if ((j % 2 == 0)); then
            v=$(set_v "$port" "m$i" "D$n-$j" --persist) || return 0
            echo "D m$i $v" >>"$out"
        else
            v=$(set_v "$port" "m$i" "N$n-$j") || return 0
            echo "N m$i $v" >>"$out"
        fi
    done
}

get_version() {
    local v
    v=$(timeout 10 "$MQSTATE" -p "$MQS_PORT" --timeout 5 get "$1" --json 2>/dev/null)
    (($? == 1)) && return 1 # absent
    v=${v##*\"version\":\"}
    echo "${v%%\"*}"
}

failed=0
checked=0
mqs_broker_start || { echo "FAIL: broker did not start" >&2; exit 1; }
for ((it = 1; it <= ITER; it++)); do
    crash_round "$it"
    : >"$MQS_DIR/broker.log"
    mqs_broker_start || { echo "FAIL: iteration $it: no restart after kill -9" >&2; failed=1; break; }
    max=""
    for ((w = 0; w < WRITERS; w++)); do
        [[ -f "$MQS_DIR/acked.$w" ]] || continue
        mkind="" mver=""
        while read -r kind key ver; do
            [[ -n "$ver" ]] || continue
            checked=$((checked + 1))
            [[ "$ver" > "$max" ]] && max=$ver
            if [[ $key == m* ]]; then
                mkind=$kind mver=$ver
                continue
            fi
            got=$(get_version "$key")
            if [[ $kind == D && "$got" != "$ver" ]]; then
                echo "FAIL: iteration $it: durable $key acknowledged at $ver, after restart '$got'" >&2
                failed=1
            elif [[ $kind == N && -n "$got" ]]; then
                echo "FAIL: iteration $it: non-durable $key exists after restart ($got)" >&2
                failed=1
            fi
        done <"$MQS_DIR/acked.$w"
        rm -f "$MQS_DIR/acked.$w"
        [[ -n "$mver" ]] || continue
        got=$(get_version "m$w")
        if [[ -n "$got" ]] && { [[ "$got" < "$mver" ]] || [[ $got == "$mver" && $mkind == N ]]; }; then
            echo "FAIL: iteration $it: m$w last acknowledged $mkind at $mver, after restart at $got (stale value)" >&2
            failed=1
        fi
    done
    if [[ -n "$max" ]]; then
        v=$(set_v "$MQS_PORT" probe x) || v="(probe failed: $(timeout 10 "$MQSTATE" -p "$MQS_PORT" --timeout 5 set probe x --json 2>&1))"
        if [[ ! "$v" > "$max" ]]; then
            echo "FAIL: iteration $it: new version '$v' not above $max" >&2
            failed=1
        fi
    fi
    ((failed)) && break
done
echo "$((it > ITER ? ITER : it)) iterations, $checked acknowledged SETs checked (mixed durable and not)" >&2
if ((failed)); then
    sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
    MQS_FAILED=1
    exit 1
fi
echo "PASS persistence mixed crash test" >&2
exit 0
