#!/usr/bin/env bash
# The event loop does not wait for a snapshot's file work (docs/persistence.md,
# "Snapshots and compaction"): with every fsync taking DELAY ms
# (tests/fault/faultinj.so preloaded with delay_ms=DELAY), GETs keep being
# answered in much less than DELAY while the log is rotated (fsync of the
# log and of the directory) and the snapshot is installed (directory
# fsyncs). mqstated only (77 otherwise). Needs $MQSTATE and $FAULTINJ.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" || -z "${FAULTINJ:-}" ]]; then
    echo "skipped: needs mqstated, the mqstate CLI and faultinj.so" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
DELAY_MS=1500
# A GET the loop answered without waiting for an fsync: far below DELAY
# even on a loaded machine (a CLI process start, ASan).
GET_BOUND_MS=1000

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: everysec\n  snapshot_log_bytes: 4096\n' \
        "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"
. "$HERE/../fault/faultinj_lib.sh"
export FAULTINJ_DIR="$PDIR"
faultinj_setup || mqs_fail "no faultinj library at '${FAULTINJ:-}'"

# A fresh start fsyncs the directory once (the new log's name): taking at
# least DELAY shows the shim is in effect.
slow_start() {
    mqs_broker_stop
    rm -rf "$PDIR"
    faultinj_on "ops=fsync delay_ms=$DELAY_MS"
    local t0
    t0=$(mqs_now_ms)
    mqs_broker_start || mqs_fail "broker did not start with faultinj delaying fsyncs"
    (($(mqs_now_ms) - t0 >= DELAY_MS)) || mqs_fail "the start did not wait for the slow fsync: faultinj not loaded?"
}

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

test_reads_during_snapshot_file_work() {
    slow_start
    cli set probe p >/dev/null || mqs_fail "set probe"
    rm -f "$MQS_DIR/stop"
    get_loop &
    local getter=$! i deadline=$(($(mqs_now_ms) + 60000))
    # Writes until a snapshot was installed (rotation, fork, child, install).
    for ((i = 0; ; i++)); do
        grep -q "statestore.snap installed" "$MQS_DIR/broker.log" && break
        (($(mqs_now_ms) < deadline)) || break
        cli set "k$i" "value-$i-0123456789012345678901234567890123456789" >/dev/null || mqs_fail "set k$i"
    done
    sleep 0.5
    touch "$MQS_DIR/stop"
    wait "$getter"
    grep -q "statestore.snap installed" "$MQS_DIR/broker.log" || mqs_fail "no snapshot installed within 60 s"
    grep -q error "$MQS_DIR/gets" && mqs_fail "a GET failed during the snapshot"
    local n max
    n=$(grep -c . "$MQS_DIR/gets")
    max=$(sort -n "$MQS_DIR/gets" | tail -n 1)
    echo "  $n GETs during $i writes and one snapshot, slowest $max ms (every fsync takes $DELAY_MS ms)" >&2
    ((n >= 5)) || mqs_fail "only $n GETs"
    ((max < GET_BOUND_MS)) || mqs_fail "a GET took $max ms: the loop waited for an fsync of the snapshot's file work"
    [[ $(cli get k0) == value-0-0123456789012345678901234567890123456789 ]] || mqs_fail "k0 lost"
}

ALL_TESTS=(test_reads_during_snapshot_file_work)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
