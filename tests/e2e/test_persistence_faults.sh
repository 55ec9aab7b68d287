#!/usr/bin/env bash
# Injected write and fsync errors under the durable state store
# (docs/persistence.md, "Disk full and write errors"): the real mqstated
# runs with tests/fault/faultinj.so preloaded, which fails write/fsync calls
# on the files of the data directory while a control file says so. With
# fsync always and everysec, for fsync EIO, write EIO and a short write
# followed by ENOSPC: the refused SETs get __stat 503 naming the error, the
# error is logged once, writes resume by themselves once the fault is
# cleared, and after a restart every acknowledged SET is there with its
# version, no refused one is, and `persistence check` is clean. And a
# snapshot that fails at run time is retried (test_snapshot_retry).
# Needs $MQSTATE (the CLI) and $FAULTINJ (the library); 77 otherwise.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/../fault/faultinj_lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]] || ! faultinj_setup; then
    echo "skipped: needs mqstated, the mqstate CLI and \$FAULTINJ" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
FSYNC=always
SNAP_BYTES=0
export FAULTINJ_DIR="$PDIR"

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: %s\n  snapshot_log_bytes: %s\n' \
        "$MQS_PORT" "$PDIR" "$FSYNC" "$SNAP_BYTES" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"

declare -A ACKED REFUSED

# One SET of key $1; records it as acknowledged (with its version) or
# refused (exit 4, the message naming $2). Any other outcome fails.
set_one() {
    local out rc
    out=$(cli set "$1" "value-of-$1" --json 2>&1)
    rc=$?
    if ((rc == 0)); then
        ACKED[$1]=$(json_field version <<<"$out")
    elif ((rc == 4)) && [[ $out == *"the state store log cannot be written: $2"* ]]; then
        REFUSED[$1]=1
    else
        mqs_fail "SET $1: exit $rc, '$out'"
        REFUSED[$1]=1
    fi
}

# fault_case FSYNC CONTROL ERRTEXT: the whole story for one kind of fault.
fault_case() {
    local control=$2 errtext=$3 n=0 i
    ACKED=()
    REFUSED=()
    FSYNC=$1 fresh
    for i in 1 2 3; do set_one "before$i" "$errtext"; done
    ((${#ACKED[@]} == 3)) || mqs_fail "SETs before the fault were refused"
    faultinj_on "$control"
    # SET for 3.5 s (several 1 s retries under the fault) and until three
    # were refused (everysec with an fsync fault: writes are refused for a
    # second after each failed once-a-second fsync).
    local t0=$(mqs_now_ms)
    local deadline=$((t0 + 30000))
    while (((${#REFUSED[@]} < 3 || $(mqs_now_ms) < t0 + 3500) && $(mqs_now_ms) < deadline)); do
        set_one "during$((n++))" "$errtext"
        [[ $1 == everysec ]] && sleep 0.2
    done
    ((${#REFUSED[@]} >= 3)) || mqs_fail "$1/$control: fewer than 3 SETs refused in 30 s (${#ACKED[@]} acked)"
    faultinj_injected || mqs_fail "$1/$control: no fault was injected"
    cli get before1 >/dev/null || mqs_fail "reads stopped during the fault"
    faultinj_off
    deadline=$(($(mqs_now_ms) + 15000))
    while ! grep -q "writes resumed" "$MQS_DIR/broker.log" && (($(mqs_now_ms) < deadline)); do
        set_one "after$((n++))" "$errtext"
        sleep 0.2
    done
    grep -q "writes resumed" "$MQS_DIR/broker.log" || mqs_fail "$1/$control: writes did not resume"
    set_one final "$errtext"
    [[ -n ${ACKED[final]:-} ]] || mqs_fail "$1/$control: a SET after the fault was cleared was refused"
    local logged
    logged=$(grep -c "failed: $errtext; writes are refused" "$MQS_DIR/broker.log")
    ((logged == 1)) || mqs_fail "$1/$control: the error was logged $logged times, not once"
    logged=$(grep -c "writes resumed" "$MQS_DIR/broker.log")
    ((logged == 1)) || mqs_fail "$1/$control: 'writes resumed' logged $logged times, not once"
    mqs_broker_stop
    "$REAL_MQSTATED" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1 ||
        mqs_fail "$1/$control: check not clean: $(cat "$MQS_DIR/check.out")"
    mqs_broker_start || mqs_fail "$1/$control: no restart"
    local k
    for k in "${!ACKED[@]}"; do
        [[ $(cli get "$k" --json | json_field version) == "${ACKED[$k]}" ]] ||
            mqs_fail "$1/$control: acknowledged $k lost or its version changed"
    done
    for k in "${!REFUSED[@]}"; do
        cli get "$k" >/dev/null
        (($? == 1)) || mqs_fail "$1/$control: refused $k was stored"
    done
}

test_always_fsync_eio() { fault_case always "ops=fsync errno=EIO" "Input/output error"; }
test_always_write_eio() { fault_case always "ops=write errno=EIO" "Input/output error"; }
test_always_short_write() { fault_case always "ops=write errno=ENOSPC short=1" "No space left on device"; }
test_everysec_fsync_eio() { fault_case everysec "ops=fsync errno=EIO" "Input/output error"; }
test_everysec_write_eio() { fault_case everysec "ops=write errno=EIO" "Input/output error"; }
test_everysec_short_write() { fault_case everysec "ops=write errno=ENOSPC short=1" "No space left on device"; }

# Waits (bounded, $2 s) until the broker log matches the regex $1, writing
# a key every 0.3 s meanwhile (the snapshot machinery runs after commits).
wait_log_writing() {
    local deadline=$(($(mqs_now_ms) + $2 * 1000)) n=0
    while ! grep -Eq "$1" "$MQS_DIR/broker.log" && (($(mqs_now_ms) < deadline)); do
        set_one "w$((WN++))" "-"
        sleep 0.3
    done
    grep -Eq "$1" "$MQS_DIR/broker.log"
}

check_acked() {
    local k
    for k in "${!ACKED[@]}"; do
        [[ $(cli get "$k" --json | json_field version) == "${ACKED[$k]}" ]] || mqs_fail "$1: acknowledged $k lost or changed"
    done
}

# A snapshot that fails at run time (ENOSPC on statestore.snap.tmp) is
# retried with backoff: the server keeps serving, the failure is logged
# once, each retry rotates the log again (.old, .old.2, ...), a kill -9 with
# that chain restores everything (its fold at start fails too, which is not
# fatal), and once the fault is cleared a retry installs a snapshot that
# covers the whole chain.
test_snapshot_retry() {
    ACKED=()
    REFUSED=()
    WN=0
    SNAP_BYTES=4096
    fresh
    local i
    for ((i = 0; i < 60; i++)); do set_one "k$i" "-"; done
    wait_log_writing "statestore.snap installed" 30 || mqs_fail "no first snapshot"
    faultinj_on "file=statestore.snap.tmp ops=write errno=ENOSPC"
    wait_log_writing "state store snapshot failed" 60 || mqs_fail "the snapshot did not fail"
    grep -q "state store snapshot failed (writing statestore.snap.tmp: No space left on device); 1 rotated log kept" \
        "$MQS_DIR/broker.log" || mqs_fail "failure message: $(grep 'snapshot failed' "$MQS_DIR/broker.log")"
    [[ -e "$PDIR/statestore.log.old" ]] || mqs_fail "no statestore.log.old after the failure"
    # The first retry, 10 s later, fails the same way: rotated again, not logged again.
    local deadline=$(($(mqs_now_ms) + 40000))
    while [[ ! -e "$PDIR/statestore.log.old.2" ]] && (($(mqs_now_ms) < deadline)); do
        set_one "w$((WN++))" "-"
        sleep 0.3
    done
    [[ -e "$PDIR/statestore.log.old.2" ]] || mqs_fail "no retry rotated the log into statestore.log.old.2"
    wait_log_writing "snapshot.*a retry" 5
    sleep 1 # let the retry's writer fail
    for ((i = 0; i < 5; i++)); do set_one "r$i" "-"; done
    (($(grep -c "state store snapshot failed (" "$MQS_DIR/broker.log") == 1)) ||
        mqs_fail "the failure was logged $(grep -c "state store snapshot failed (" "$MQS_DIR/broker.log") times"
    (($(wc -l <"$FAULTINJ_LOG") >= 2)) || mqs_fail "fewer than two snapshot attempts failed"
    ((${#REFUSED[@]} == 0)) || mqs_fail "SETs were refused while snapshots failed"
    "$REAL_MQSTATED" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1 ||
        mqs_fail "check with a rotated chain: not clean: $(cat "$MQS_DIR/check.out")"
    grep -q "statestore.log.old.2" "$MQS_DIR/check.out" || mqs_fail "check does not report statestore.log.old.2"
    check_acked "while snapshots fail"
    # kill -9 with the chain; the start's fold fails too: the server starts.
    kill -KILL "$MQS_PID"
    wait "$MQS_PID" 2>/dev/null
    MQS_PID=""
    cp "$MQS_DIR/broker.log" "$MQS_DIR/broker1.log"
    : >"$MQS_DIR/broker.log"
    mqs_broker_start || mqs_fail "no start after kill -9 with a rotated chain and a failing snapshot"
    grep -q "snapshot failed (writing statestore.snap.tmp: No space left on device)" "$MQS_DIR/broker.log" ||
        mqs_fail "no start-time failure message"
    faultinj_off
    check_acked "after kill -9 with the chain"
    wait_log_writing "statestore.snap installed after [0-9]+ failed attempts" 60 ||
        mqs_fail "no retry installed a snapshot after the fault was cleared"
    local old=("$PDIR"/statestore.log.old*)
    [[ ! -e ${old[0]} ]] || mqs_fail "rotated logs left after the install: ${old[*]}"
    "$REAL_MQSTATED" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1 ||
        mqs_fail "check not clean: $(cat "$MQS_DIR/check.out")"
    restart
    check_acked "after the restart"
    ((${#ACKED[@]} > 65)) || mqs_fail "only ${#ACKED[@]} SETs acknowledged"
    SNAP_BYTES=0
}

ALL_TESTS=(test_snapshot_retry test_always_fsync_eio test_always_write_eio test_always_short_write test_everysec_fsync_eio
    test_everysec_write_eio test_everysec_short_write)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
