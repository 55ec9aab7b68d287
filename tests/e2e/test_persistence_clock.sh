#!/usr/bin/env bash
# Clock skew across restarts of the durable state store (docs/persistence.md,
# "Clock skew"): libfaketime moves the "host" clock (of mqstated and of the
# mqstate CLI alike) back 30 s, forward 1 h and back 1 h between restarts.
# Versions issued after each restart are above every version issued before
# (the persisted CLOCK high-water mark), fencing tokens keep working, and
# expiry deadlines are absolute wall-clock instants. Needs libfaketime
# (Debian package faketime, installed by scripts/test) and $MQSTATE; 77
# otherwise.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

FT_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" || -z "$FT_LIB" ]]; then
    echo "skipped: needs mqstated, the mqstate CLI and libfaketime (package faketime)" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n' \
        "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
}

# The host clock offset (libfaketime's FAKETIME, relative seconds), read
# by the wrappers when they start.
export HOST_SKEW=+0
# A wrapper running $2 with libfaketime preloaded (after libasan if $2 uses it).
faketime_wrap() {
    local asan
    asan=$(ldd "$2" 2>/dev/null | awk '/libasan/ { print $3 }')
    printf '#!/bin/sh\nLD_PRELOAD="%s" FAKETIME="$HOST_SKEW" FAKETIME_DONT_FAKE_MONOTONIC=1 exec "%s" "$@"\n' \
        "${asan:+$asan }$FT_LIB" "$2" >"$MQS_DIR/$1"
    chmod +x "$MQS_DIR/$1"
}
faketime_wrap mqstated-ft "$MQS_BIN"
faketime_wrap mqstate-ft "$MQSTATE"
MQS_BIN="$MQS_DIR/mqstated-ft"
MQSTATE="$MQS_DIR/mqstate-ft"

. "$HERE/persistence_lib.sh"

MAX="" # the highest version seen so far

# SET $1 $2 [options]; prints the version; fails the test if it is not
# above every version seen before.
set_above() {
    local v
    v=$(cli set "$@" --json | json_field version)
    [[ -n $v ]] || mqs_fail "SET $1 failed (host clock $HOST_SKEW s)"
    [[ -z $MAX || $v > $MAX ]] || mqs_fail "SET $1: version $v not above $MAX (host clock $HOST_SKEW s)"
    [[ -n $v ]] && MAX=$v
    echo "$v"
}

skew_restart() {
    HOST_SKEW=$1
    : >"$MQS_DIR/broker.log"
    restart
}

test_clock_skew() {
    fresh
    local vl vl2 vl3 v2h out
    vl=$(set_above lock a)
    set_above fenced f1 --ft "$vl" >/dev/null
    set_above px30m v --px 1800000 >/dev/null
    v2h=$(set_above px2h v --px 7200000)

    # Back 30 s: within the mark's lead and the 60 s skew limit, absorbed.
    skew_restart -30
    set_above k1 v >/dev/null
    cli set fenced f2 >/dev/null 2>&1 && mqs_fail "-30 s: SET of a fenced key without its token succeeded"
    set_above fenced f2 --ft "$vl" >/dev/null
    vl2=$(set_above lock b)
    set_above fenced f3 --ft "$vl2" >/dev/null
    cli set fenced f4 --ft "$vl" >/dev/null 2>&1 && mqs_fail "-30 s: SET with a token older than the fence succeeded"

    # Forward 1 h: the 30 min deadline passed (absolute), the 2 h one not.
    skew_restart +3600
    cli get px30m >/dev/null
    (($? == 1)) || mqs_fail "+1 h: a key whose deadline passed is still found"
    [[ $(cli get px2h --json | json_field version) == "$v2h" ]] || mqs_fail "+1 h: px2h lost or changed"
    set_above k2 v >/dev/null
    set_above fenced f5 --ft "$vl2" >/dev/null
    vl3=$(set_above lock c)
    set_above fenced f6 --ft "$vl3" >/dev/null

    # Back 1 h (the clock "fixed"): the server warns; its versions stay
    # above the mark, which clients on the corrected clock see as drift.
    skew_restart +0
    grep -q "state store: the wall clock is .* s behind the newest version issued before this start" \
        "$MQS_DIR/broker.log" || mqs_fail "-1 h: no clock warning at start"
    out=$(cli set k3 v 2>&1) && mqs_fail "-1 h: a SET with versions an hour ahead of the client succeeded: '$out'"
    [[ $out == *"clock drift"* || $out == *"too far in the future"* ]] || mqs_fail "-1 h: unexpected error '$out'"

    # The clock as before: every version still above, the data intact.
    skew_restart +3600
    local v3
    v3=$(cli get k3 --json | json_field version)
    [[ -z $v3 || $v3 > $MAX ]] || mqs_fail "k3 (written after the clock went back) has version $v3, not above $MAX"
    [[ -n $v3 ]] && MAX=$v3
    set_above k4 v >/dev/null
    set_above fenced f7 --ft "$vl3" >/dev/null
    [[ $(cli get fenced) == f7 ]] || mqs_fail "fenced: f7 not stored"
    [[ $(cli get px2h --json | json_field version) == "$v2h" ]] || mqs_fail "px2h lost or changed"
}

mqs_run_tests test_clock_skew
