#!/usr/bin/env bash
# Snapshots and log compaction (docs/persistence.md): a tiny
# persistence.snapshot_log_bytes makes the real mqstated rotate its log,
# fork a snapshot writer and install the snapshot; restarts restore from
# snapshot + logs; crash leftovers and a damaged snapshot at start.
# mqstated only (77 otherwise). Needs $MQSTATE (the CLI).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
SNAP_BYTES=4096

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n  snapshot_log_bytes: %s\n' \
        "$MQS_PORT" "$PDIR" "$SNAP_BYTES" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"

# Waits until no snapshot is in flight (no .old, no .tmp).
settle() {
    local deadline=$(($(mqs_now_ms) + 20000))
    while [[ -e "$PDIR/statestore.log.old" || -e "$PDIR/statestore.snap.tmp" ]] && (($(mqs_now_ms) < deadline)); do
        sleep 0.05
    done
    [[ ! -e "$PDIR/statestore.log.old" ]] || mqs_fail "statestore.log.old still there after 20 s"
}

declare -A VERS

# N keys k0..k(N-1) with values v-i, their versions in VERS.
write_keys() {
    local i
    for ((i = 0; i < $1; i++)); do
        VERS[k$i]=$(cli set "k$i" "v-$i" --json | json_field version)
        [[ -n "${VERS[k$i]}" ]] || mqs_fail "set k$i"
    done
}

check_keys() {
    local i
    for ((i = 0; i < $1; i++)); do
        [[ $(cli get "k$i" --json | json_field version) == "${VERS[k$i]}" ]] || mqs_fail "k$i: version changed ($2)"
    done
    [[ $(cli get "k$(($1 - 1))") == "v-$(($1 - 1))" ]] || mqs_fail "last key: value changed ($2)"
}

test_snapshot_round_trip() {
    fresh
    local vl vf
    vl=$(cli set lockholder x --json | json_field version)
    vf=$(cli set fenced f1 --ft "$vl" --json | json_field version)
    write_keys 120
    settle
    [[ -s "$PDIR/statestore.snap" ]] || mqs_fail "no statestore.snap after $((120 * 100)) bytes of log"
    "$MQS_BIN" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1 || mqs_fail "check: not clean: $(cat "$MQS_DIR/check.out")"
    grep -q "statestore.snap: .* keys, as of record" "$MQS_DIR/check.out" || mqs_fail "check: no snapshot line"
    grep -q "state store snapshot .*statestore.snap installed" "$MQS_DIR/broker.log" || mqs_fail "no install line"
    local size
    size=$(stat -c %s "$PDIR/statestore.log")
    ((size < SNAP_BYTES * 2)) || mqs_fail "statestore.log is $size bytes: not compacted"
    restart
    grep -q "state store restored in .* keys from $PDIR/statestore.snap" "$MQS_DIR/broker.log" ||
        mqs_fail "no restore line naming the snapshot"
    check_keys 120 "after restart"
    [[ $(cli get fenced --json | json_field version) == "$vf" ]] || mqs_fail "fenced: version changed"
    cli set fenced f2 >/dev/null 2>&1 && mqs_fail "fenced: set without the fencing token succeeded"
    cli set fenced f2 --ft "$vl" >/dev/null || mqs_fail "fenced: set with the token refused"
    local vn
    vn=$(cli set new v --json | json_field version)
    [[ "$vn" > "${VERS[k119]}" ]] || mqs_fail "new version $vn not above ${VERS[k119]}"
    write_keys 60 # overwrite: more snapshots over restored state
    settle
    restart
    check_keys 120 "after the second restart"
    [[ $(cli get fenced) == f2 ]] || mqs_fail "fenced: second restart lost f2"
}

# A crash between rotation and install: .old (newer than the snapshot)
# and a .tmp left behind. Made from a real run's pieces.
test_crash_before_install() {
    fresh
    write_keys 60
    settle
    mqs_broker_stop
    # Move the current log aside as .old, give an empty log, a junk .tmp.
    mv "$PDIR/statestore.log" "$PDIR/statestore.log.old"
    : >"$PDIR/statestore.log"
    head -c 100 /dev/urandom >"$PDIR/statestore.snap.tmp"
    mqs_broker_start || mqs_fail "did not start with .old and .tmp"
    grep -q "deleted $PDIR/statestore.snap.tmp" "$MQS_DIR/broker.log" || mqs_fail "no warning about the .tmp"
    [[ ! -e "$PDIR/statestore.snap.tmp" ]] || mqs_fail ".tmp not deleted"
    check_keys 60 "with .old"
    [[ ! -e "$PDIR/statestore.log.old" && -s "$PDIR/statestore.snap" ]] || mqs_fail "start did not fold .old into the snapshot"
    VERS[k0]=$(cli set k0 again --json | json_field version)
    restart
    [[ $(cli get k0 --json | json_field version) == "${VERS[k0]}" ]] || mqs_fail "k0 after restart with .old"
}

# A crash inside the install: .old already deleted, the complete snapshot
# still under its temp name. The next start installs it.
test_crash_inside_install() {
    fresh
    write_keys 60
    settle
    mqs_broker_stop
    mv "$PDIR/statestore.snap" "$PDIR/statestore.snap.tmp"
    mqs_broker_start || mqs_fail "did not start with a complete .tmp"
    grep -q "installed $PDIR/statestore.snap, complete but left uninstalled" "$MQS_DIR/broker.log" ||
        mqs_fail "no install-at-start warning"
    [[ -s "$PDIR/statestore.snap" && ! -e "$PDIR/statestore.snap.tmp" ]] || mqs_fail ".tmp not installed"
    check_keys 60 "after installing the .tmp"
}

test_corrupt_snapshot_refuses() {
    fresh
    write_keys 60
    settle
    mqs_broker_stop
    printf '\xff' | dd of="$PDIR/statestore.snap" bs=1 seek=100 conv=notrunc status=none
    "$MQS_BIN" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1
    (($? == 2)) || mqs_fail "check: expected exit 2 for a damaged snapshot"
    grep -q "statestore.snap: .*bytes" "$MQS_DIR/check.out" && grep -q "status: damaged (offset" "$MQS_DIR/check.out" ||
        mqs_fail "check: no damaged-snapshot report: $(cat "$MQS_DIR/check.out")"
    mqs_broker_start 2>/dev/null && mqs_fail "started with a damaged snapshot"
    grep -q "state store snapshot $PDIR/statestore.snap is damaged (offset .*); refusing to start.*mqstated persistence check $PDIR" \
        "$MQS_DIR/broker.log" || mqs_fail "no damaged-snapshot message"
}

# Rotated-log chains left by failed snapshots (statestore.log.old.N):
# an install cut after .old and .old.2 were deleted (a complete .tmp and
# .old.3 left) is finished at start, .old.3 deleted, not replayed; a gap
# in the chain, or a .old.N without .old and without .tmp, refuses.
test_chain_leftovers() {
    fresh
    write_keys 60
    settle
    mqs_broker_stop
    mv "$PDIR/statestore.snap" "$PDIR/statestore.snap.tmp"
    cp "$PDIR/statestore.log" "$PDIR/statestore.log.old.3"
    mqs_broker_start || mqs_fail "did not start with a complete .tmp and .old.3"
    grep -q "installed $PDIR/statestore.snap, complete but left uninstalled" "$MQS_DIR/broker.log" ||
        mqs_fail "no install-at-start warning"
    [[ ! -e "$PDIR/statestore.log.old.3" ]] || mqs_fail ".old.3 not deleted"
    check_keys 60 "after finishing the cut install"
    mqs_broker_stop
    local out
    : >"$PDIR/statestore.log.old"
    : >"$PDIR/statestore.log.old.3"
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1) && mqs_fail "started with a gap in the chain"
    [[ $out == *"statestore.log.old.3 exists but the rotated logs before it do not all exist"* ]] ||
        mqs_fail "gap message: '$out'"
    rm -f "$PDIR/statestore.log.old"
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1) && mqs_fail "started with .old.3 alone"
    [[ $out == *"statestore.log.old.3 exists"*"mqstated persistence check $PDIR"* ]] || mqs_fail ".old.3 alone: '$out'"
    rm -f "$PDIR/statestore.log.old.3"
    mqs_broker_start || mqs_fail "no start once cleaned"
    check_keys 60 "at the end"
}

# A torn or flipped statestore.snap is refused with a clear message,
# never loaded: cut at and a byte inverted at every offset of the header,
# the first keys and the trailer, and every 23rd byte in between; the start
# names the file, the offset of the damage found and the check command.
test_snapshot_damage_sweep() {
    fresh
    write_keys 60
    settle
    mqs_broker_stop
    local size out offs
    size=$(stat -c %s "$PDIR/statestore.snap")
    offs=$( (seq 0 119; seq 120 23 $((size - 61)); seq $((size - 60)) $((size - 1))) | sort -nu | awk -v n="$size" '$1 < n')
    local expect="state store snapshot $PDIR/statestore.snap is damaged (offset
refusing to start
Inspect it with \`mqstated persistence check $PDIR\`"
    out=$(DAMAGE_EXPECT=$expect damage_sweep "$PDIR/statestore.snap" cut $offs) || mqs_fail "cuts: $out"
    out=$(DAMAGE_EXPECT=$expect damage_sweep "$PDIR/statestore.snap" flip $offs) || mqs_fail "flips: $out"
    # One byte more is damage too.
    printf 'x' >>"$PDIR/statestore.snap"
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1) && mqs_fail "started with a byte appended to the snapshot"
    [[ $out == *"statestore.snap is damaged (offset"* ]] || mqs_fail "appended byte: '$out'"
    truncate -s "$size" "$PDIR/statestore.snap"
    mqs_broker_start || mqs_fail "the restored snapshot does not start"
    check_keys 60 "after the sweep"
}

# The default set (e2e_persistence_snapshot); test_chain_leftovers and
# test_snapshot_damage_sweep run as e2e_persistence_snapshot_damage.
ALL_TESTS=(test_snapshot_round_trip test_crash_before_install test_crash_inside_install test_corrupt_snapshot_refuses)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
