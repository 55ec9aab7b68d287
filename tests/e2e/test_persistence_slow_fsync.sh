#!/usr/bin/env bash
# fsync: always runs a group's fsync on the loop while the disk is fast
# and moves it to the thread pool once one took longer than 2 ms
# (docs/persistence.md, "Guarantees"): on a slow disk the loop stops for
# one fsync at most, then keeps answering reads while writes wait for
# theirs. With every fsync taking DELAY ms (tests/fault/faultinj.so
# preloaded with delay_ms=DELAY) and a writer always waiting for one,
# GETs are answered in much less than DELAY, all but the one or two that
# met the first fsync. mqstated only (77 otherwise). Needs $MQSTATE and
# $FAULTINJ.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" || -z "${FAULTINJ:-}" ]]; then
    echo "skipped: needs mqstated, the mqstate CLI and faultinj.so" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
DELAY_MS=3000
# A GET the loop answered without waiting for an fsync: far below DELAY
# even on a loaded machine (a CLI process start, ASan).
GET_BOUND_MS=1500
WRITE_SECS=12

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n' \
        "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"
. "$HERE/../fault/faultinj_lib.sh"
export FAULTINJ_DIR="$PDIR"
faultinj_setup || mqs_fail "no faultinj library at '${FAULTINJ:-}'"

# GETs one after another until $MQS_DIR/stop exists; each latency (ms) on
# a line of $MQS_DIR/gets.
get_loop() {
    local t0
    : >"$MQS_DIR/gets"
    while [[ ! -e "$MQS_DIR/stop" ]]; do
        t0=$(mqs_now_ms)
        cli get probe >/dev/null 2>&1 || echo "error" >>"$MQS_DIR/gets"
        echo $(($(mqs_now_ms) - t0)) >>"$MQS_DIR/gets"
    done
}

test_always_slow_disk_reads_not_blocked() {
    mqs_broker_stop
    rm -rf "$PDIR"
    mqs_broker_start || mqs_fail "broker did not start"
    cli set probe p >/dev/null || mqs_fail "set probe"
    faultinj_on "ops=fsync delay_ms=$DELAY_MS"
    rm -f "$MQS_DIR/stop"
    get_loop &
    local getter=$! i t0 end=$(($(mqs_now_ms) + WRITE_SECS * 1000))
    for ((i = 0; $(mqs_now_ms) < end; i++)); do
        t0=$(mqs_now_ms)
        cli set "k$i" "v$i" >/dev/null || mqs_fail "set k$i"
        (($(mqs_now_ms) - t0 >= DELAY_MS)) || mqs_fail "set k$i was answered before its slow fsync: faultinj not loaded?"
    done
    touch "$MQS_DIR/stop"
    wait "$getter"
    faultinj_off
    grep -q error "$MQS_DIR/gets" && mqs_fail "a GET failed"
    local n slow max
    n=$(grep -c . "$MQS_DIR/gets")
    slow=$(awk -v b="$GET_BOUND_MS" '$1 >= b' "$MQS_DIR/gets" | wc -l)
    max=$(sort -n "$MQS_DIR/gets" | tail -n 1)
    echo "  $n GETs during $i writes, $slow of them >= $GET_BOUND_MS ms, slowest $max ms (every fsync takes $DELAY_MS ms)" >&2
    ((n >= 5)) || mqs_fail "only $n GETs"
    ((slow <= 2)) || mqs_fail "$slow GETs took >= $GET_BOUND_MS ms: the loop kept waiting for slow fsyncs"
    # Back on a fast disk, writes are acknowledged quickly again and nothing was lost.
    for ((k = 0; k < i; k += 5)); do
        [[ $(cli get "k$k") == "v$k" ]] || mqs_fail "k$k lost"
    done
    mqs_broker_stop
    mqs_broker_start || mqs_fail "restart"
    [[ $(cli get "k$((i - 1))") == "v$((i - 1))" ]] || mqs_fail "k$((i - 1)) lost across a restart"
}

ALL_TESTS=(test_always_slow_disk_reads_not_blocked)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
