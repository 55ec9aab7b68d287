#!/usr/bin/env bash
# Injected write and fsync errors under the durable state store
# (docs/persistence.md, "Disk full and write errors"): the real mqstated
# runs with tests/fault/faultinj.so preloaded, which fails write/fsync calls
# on the files of the data directory while a control file says so. With
# fsync always and everysec, for fsync EIO, write EIO and a short write
# followed by ENOSPC: the refused SETs get __stat 503 naming the error, the
# error is logged once, writes resume by themselves once the fault is
# cleared, and after a restart every acknowledged SET is there with its
# version, no refused one is, and `persistence check` is clean.
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
export FAULTINJ_DIR="$PDIR"

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: %s\n' \
        "$MQS_PORT" "$PDIR" "$FSYNC" >"$MQS_DIR/broker.conf"
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

ALL_TESTS=(test_always_fsync_eio test_always_write_eio test_always_short_write test_everysec_fsync_eio
    test_everysec_write_eio test_everysec_short_write)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
