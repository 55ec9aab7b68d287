#!/usr/bin/env bash
# Durability of the state store (docs/persistence.md): restart round trips,
# the lock file, torn tails and corruption at start, against the real
# mqstated with a real persistence.dir. mqstated only (77 otherwise).
# Needs $MQSTATE (the CLI) for requests.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi

PDIR="$MQS_DIR/data"
FSYNC=always

mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: %s\n' \
        "$MQS_PORT" "$PDIR" "$FSYNC" >"$MQS_DIR/broker.conf"
}

. "$HERE/persistence_lib.sh"

test_restart_round_trip() {
    fresh
    local va vx vl vf
    va=$(cli set a hello --json | json_field version)
    vx=$(cli set px-long v --px 600000 --json | json_field version)
    cli set px-short v --px 300 --json >/dev/null || mqs_fail "set px-short"
    vl=$(cli set lockholder x --json | json_field version)
    vf=$(cli set fenced f1 --ft "$vl" --json | json_field version)
    cli set nx-key first --nx >/dev/null || mqs_fail "set --nx"
    cli set gone v >/dev/null && cli del gone >/dev/null || mqs_fail "set/del gone"
    sleep 0.5 # px-short expires while the server is down (or before)
    restart
    [[ $(cli get a --json | json_field version) == "$va" ]] || mqs_fail "a: version changed after restart"
    [[ $(cli get a) == hello ]] || mqs_fail "a: value changed after restart"
    [[ $(cli get px-long --json | json_field version) == "$vx" ]] || mqs_fail "px-long lost"
    cli get px-short >/dev/null
    (($? == 1)) || mqs_fail "px-short: expired while down but still found"
    cli get gone >/dev/null
    (($? == 1)) || mqs_fail "a deleted key came back"
    [[ $(cli get fenced --json | json_field version) == "$vf" ]] || mqs_fail "fenced: version changed"
    cli set fenced f2 >/dev/null 2>&1 && mqs_fail "fenced: set without the fencing token succeeded after restart"
    cli set fenced f2 --ft "$vl" >/dev/null || mqs_fail "fenced: set with the fencing token refused after restart"
    cli set nx-key second --nx >/dev/null 2>&1
    (($? == 1)) || mqs_fail "nx-key: --nx succeeded over a restored key"
    # The clock after the restart issues versions above everything before.
    local vn
    vn=$(cli set new v --json | json_field version)
    [[ "$vn" > "$vf" && "$vn" > "$va" ]] || mqs_fail "new version $vn not above $vf"
    restart # and once more: the writes after the first restart too
    [[ $(cli get fenced) == f2 ]] || mqs_fail "fenced: second restart lost f2"
    [[ $(cli get a --json | json_field version) == "$va" ]] || mqs_fail "a: second restart"
    grep -q "state store restored in" "$MQS_DIR/broker.log" || mqs_fail "no restore line in the log"
}

# The largest CLOCK mark (wall ms) in the log.
max_clock_mark() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(); o = 0; m = 0
while o + 9 <= len(d):
    (n,) = struct.unpack_from('<I', d, o); p = d[o + 9:o + 9 + n]; o += 9 + n
    if len(p) >= 19 and p[1] == 5: m = max(m, struct.unpack_from('<Q', p, 11)[0])
print(m)
PY
}

# The HLC high-water mark: a CLOCK record ahead of every issued version is
# in the log, and after a kill -9 the server issues versions above it.
test_clock_mark() {
    fresh
    local v mark
    v=$(cli set k v --json | json_field version)
    mark=$(max_clock_mark "$PDIR/statestore.log")
    ((mark > 10#${v%%:*})) || mqs_fail "no CLOCK mark above $v in the log (mark $mark)"
    kill -KILL "$MQS_PID"
    wait "$MQS_PID" 2>/dev/null
    MQS_PID=""
    mqs_broker_start || mqs_fail "no restart after kill -9"
    v=$(cli set k2 v --json | json_field version)
    ((10#${v%%:*} >= mark)) || mqs_fail "version $v after restart below the mark $mark"
}

test_everysec_round_trip() {
    FSYNC=everysec fresh
    cli set k v1 >/dev/null || mqs_fail "set"
    FSYNC=everysec restart
    [[ $(cli get k) == v1 ]] || mqs_fail "everysec: k lost across a clean restart"
    FSYNC=no restart
    [[ $(cli get k) == v1 ]] || mqs_fail "fsync no: k lost across a clean restart"
}

test_lock_second_server() {
    fresh
    local out status
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1)
    status=$?
    ((status != 0)) || mqs_fail "a second server on the same dir started"
    [[ $out == *"persistence.dir $PDIR is in use by another mqstated (PID $MQS_PID, lock file $PDIR/LOCK)"* ]] ||
        mqs_fail "second server message: '$out'"
}

# Records end at these offsets (a python one-liner walks the frames).
frame_ends() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(); o = 0
while o + 9 <= len(d):
    (n,) = struct.unpack_from('<I', d, o); o += 9 + n; print(o)
PY
}

test_torn_tail() {
    fresh
    local i
    for i in 1 2 3 4 5; do cli set "k$i" "value-$i" >/dev/null || mqs_fail "set k$i"; done
    mqs_broker_stop
    cp "$PDIR/statestore.log" "$MQS_DIR/full.log"
    local ends=($(frame_ends "$MQS_DIR/full.log"))
    local n=${#ends[@]}
    local prev=${ends[n - 2]} last=${ends[n - 1]} cut
    # A handful of cuts inside the last record (the unit test does every offset).
    for cut in $((prev + 1)) $((prev + 4)) $((prev + 9)) $(((prev + last) / 2)) $((last - 1)); do
        cp "$MQS_DIR/full.log" "$PDIR/statestore.log"
        truncate -s "$cut" "$PDIR/statestore.log"
        "$MQS_BIN" persistence check "$PDIR" >"$MQS_DIR/check.out" 2>&1
        (($? == 1)) || mqs_fail "cut at $cut: check did not exit 1 (torn tail): $(cat "$MQS_DIR/check.out")"
        : >"$MQS_DIR/broker.log"
        mqs_broker_start || {
            mqs_fail "cut at $cut: did not start"
            continue
        }
        grep -q "torn tail at offset $prev" "$MQS_DIR/broker.log" || mqs_fail "cut at $cut: no torn tail warning"
        [[ $(cli get k4) == value-4 ]] || mqs_fail "cut at $cut: k4 lost"
        cli get k5 >/dev/null
        (($? == 1)) || mqs_fail "cut at $cut: the torn k5 was found"
        mqs_broker_stop
        # The prefix is kept byte for byte (the restart appended a CLOCK mark).
        cmp -s -n "$prev" "$MQS_DIR/full.log" "$PDIR/statestore.log" || mqs_fail "cut at $cut: prefix changed"
        [[ $(head -c "$cut" "$PDIR/statestore.log" | cmp -s - <(head -c "$cut" "$MQS_DIR/full.log"); echo $?) != 0 ]] ||
            mqs_fail "cut at $cut: the torn bytes are still there"
    done
}

test_corrupt_refuses() {
    fresh
    local i
    for i in 1 2 3 4 5; do cli set "k$i" "value-$i" >/dev/null || mqs_fail "set k$i"; done
    mqs_broker_stop
    local ends=($(frame_ends "$PDIR/statestore.log"))
    local at=$((ends[1] + 20)) # inside the third record
    printf '\xff' | dd of="$PDIR/statestore.log" bs=1 seek="$at" conv=notrunc status=none
    local out status
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1)
    status=$?
    ((status != 0)) || mqs_fail "started on a corrupt log"
    [[ $out == *"state store log $PDIR/statestore.log is corrupt at offset ${ends[1]} "* &&
        $out == *"mqstated persistence check $PDIR"* ]] || mqs_fail "corrupt message: '$out'"
    out=$("$MQS_BIN" persistence check "$PDIR" 2>&1)
    status=$?
    ((status == 2)) || mqs_fail "check on a corrupt log: exit $status"
    [[ $out == *"last valid offset: ${ends[1]}"* && $out == *"status: corrupt at offset ${ends[1]} "* ]] ||
        mqs_fail "check output: '$out'"
    local size
    size=$(stat -c %s "$PDIR/statestore.log")
    out=$("$MQS_BIN" persistence repair "$PDIR" 2>&1)
    status=$?
    ((status == 0)) || mqs_fail "repair: exit $status: $out"
    [[ $out == *"repaired: $PDIR/statestore.log cut to ${ends[1]} bytes (2 records kept"* ]] || mqs_fail "repair output: '$out'"
    [[ $(stat -c %s "$PDIR/statestore.log") == "${ends[1]}" ]] || mqs_fail "repair did not cut"
    local bak=("$PDIR"/statestore.log.bak-*)
    [[ -f ${bak[0]} && $(stat -c %s "${bak[0]}") == "$size" ]] || mqs_fail "no full backup: ${bak[*]}"
    "$MQS_BIN" persistence check "$PDIR" >/dev/null || mqs_fail "check after repair: not clean"
    mqs_broker_start || mqs_fail "no start after repair"
    [[ $(cli get k1) == value-1 ]] || mqs_fail "k1 lost by the repair" # frames: CLOCK, k1 | k2 damaged
    out=$("$MQS_BIN" persistence repair "$PDIR" 2>&1)
    (($? != 0)) && [[ $out == *"in use by a running mqstated"* ]] || mqs_fail "repair under a running server: '$out'"
    mqs_broker_stop
    # A damaged length pointing past the end, intact frames behind: corrupt, not torn.
    cp "$PDIR/statestore.log" "$MQS_DIR/bad.log"
    rm -rf "$PDIR"
    mqs_broker_start
    for i in 1 2 3 4 5; do cli set "k$i" "value-$i" >/dev/null; done
    mqs_broker_stop
    ends=($(frame_ends "$PDIR/statestore.log"))
    printf '\xff\xff\xff\x00' | dd of="$PDIR/statestore.log" bs=1 seek="${ends[1]}" conv=notrunc status=none
    out=$(timeout 20 "$MQS_BIN" -p 0 -c "$MQS_DIR/broker.conf" 2>&1)
    (($? != 0)) || mqs_fail "started on a log whose damaged length hides intact frames"
    [[ $out == *"is corrupt at offset ${ends[1]} "* ]] || mqs_fail "damaged length message: '$out'"
    rm -rf "$PDIR"
}

# The issue's torn-write sweep against the real binary: the log cut at
# every byte offset inside its last two records; each start succeeds with
# exactly the prefix of complete records (the restore line counts them,
# the warning names the offset of the cut record and the bytes dropped)
# and leaves the prefix byte for byte.
test_torn_every_offset() {
    fresh
    local i
    for i in 1 2 3 4 5 6; do cli set "k$i" "value-$i" >/dev/null || mqs_fail "set k$i"; done
    mqs_broker_stop
    cp "$PDIR/statestore.log" "$MQS_DIR/full.log"
    local ends=($(frame_ends "$MQS_DIR/full.log"))
    local n=${#ends[@]} cut k kept prev bad=0
    for ((cut = ends[n - 3] + 1; cut < ends[n - 1]; cut++)); do
        # Complete records before the cut, and where the last one ends.
        kept=0 prev=0
        for ((k = 0; k < n; k++)); do ((ends[k] <= cut)) && kept=$((k + 1)) prev=${ends[k]}; done
        cp "$MQS_DIR/full.log" "$PDIR/statestore.log"
        truncate -s "$cut" "$PDIR/statestore.log"
        : >"$MQS_DIR/broker.log"
        if ! mqs_broker_start; then
            mqs_fail "cut at $cut: did not start"
            ((++bad > 3)) && break
            continue
        fi
        grep -q " $kept records from $PDIR/statestore.log, " "$MQS_DIR/broker.log" ||
            mqs_fail "cut at $cut: not $kept records restored: $(grep restored "$MQS_DIR/broker.log")"
        if ((cut != prev)); then
            grep -q "statestore.log: torn tail at offset $prev ($((cut - prev)) bytes of an unfinished write) truncated" \
                "$MQS_DIR/broker.log" || mqs_fail "cut at $cut: no torn tail warning naming offset $prev"
        fi
        mqs_broker_stop
        cmp -s -n "$prev" "$MQS_DIR/full.log" "$PDIR/statestore.log" || mqs_fail "cut at $cut: prefix changed"
        ((MQS_FAILED)) && ((++bad > 3)) && break
    done
}

# A byte inverted anywhere in a record in the middle of the log: the
# server refuses to start with the documented message (file, offset of
# that record, the check and repair commands); the intact log starts.
test_flip_every_byte() {
    fresh
    local i
    for i in 1 2 3 4 5 6; do cli set "k$i" "value-$i" >/dev/null || mqs_fail "set k$i"; done
    mqs_broker_stop
    local ends=($(frame_ends "$PDIR/statestore.log"))
    local mid=$((${#ends[@]} / 2))
    local from=${ends[mid - 1]} to=${ends[mid]} out
    out=$(DAMAGE_AT=$from DAMAGE_EXPECT="state store log $PDIR/statestore.log is corrupt at offset OFFSET (
refusing to start
Inspect it with \`mqstated persistence check $PDIR\`
\`mqstated persistence repair $PDIR\` drops everything from that offset on" \
        damage_sweep "$PDIR/statestore.log" flip $(seq "$from" $((to - 1)))) || mqs_fail "flips: $out"
    mqs_broker_start || mqs_fail "the restored log does not start"
    [[ $(cli get k6) == value-6 ]] || mqs_fail "k6 lost"
}

test_config_errors() {
    local out
    printf 'persistence:\n  dir: %s\n  state_store:\n    mode: sometimes\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"persistence.state_store.mode: expected one of all, none, custom"* ]] || mqs_fail "mode: '$out'"
    printf 'persistence:\n  dir: %s\n  retained:\n    topics: [a/#, "b/#/c"]\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"e.yaml:4: persistence.retained.topics[1]: \"b/#/c\" is not a valid topic filter"* ]] ||
        mqs_fail "retained: '$out'"
    printf 'persistence:\n  dir: %s\n  retained: some\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"persistence.retained: expected all, none or {topics: [filter, ...]}"* ]] || mqs_fail "retained: '$out'"
    printf 'persistence:\n  dir: %s\n  sessions: some\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"persistence.sessions: expected all, none or {clientIds: [pattern, ...]}"* ]] ||
        mqs_fail "sessions: '$out'"
    printf 'persistence:\n  dir: %s\n  sessions:\n    clientIds: [ok, "bad[a"]\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"e.yaml:4: persistence.sessions.clientIds[1]: \"bad[a\" is not a valid client id pattern"* ]] ||
        mqs_fail "sessions pattern: '$out'"
    printf 'persistence:\n  dir: %s\n  sessions:\n    topics: [a]\n' "$PDIR" >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"persistence.sessions: unknown key \"topics\" (expected clientIds)"* ]] || mqs_fail "sessions key: '$out'"
    printf 'persistence:\n  fsync: sometimes\n' >"$MQS_DIR/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$MQS_DIR/e.yaml" 2>&1)
    [[ $out == *"persistence.fsync: expected one of always, everysec, no"* ]] || mqs_fail "fsync: '$out'"
}

test_reload_needs_restart() {
    fresh
    sed -i 's/fsync: always/fsync: no/' "$MQS_DIR/broker.conf"
    kill -HUP "$MQS_PID"
    local deadline=$(($(mqs_now_ms) + 5000))
    while ! grep -q "reload: persistence" "$MQS_DIR/broker.log" && (($(mqs_now_ms) < deadline)); do sleep 0.05; done
    grep -q "reload: persistence (dir \"$PDIR\", fsync no, state_store.mode all) changed, needs a restart; still dir \"$PDIR\", fsync always" \
        "$MQS_DIR/broker.log" || mqs_fail "no needs-a-restart line for persistence"
    cli set k v >/dev/null || mqs_fail "set after reload"
}

test_mode_none_keeps_memory() {
    mqs_broker_stop
    rm -rf "$PDIR"
    mqs_write_config() {
        printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  retained: none\n  sessions: none\n  state_store:\n    mode: none\n' \
            "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
    }
    mqs_broker_start || mqs_fail "mode none: did not start"
    cli set k v >/dev/null || mqs_fail "set"
    restart
    cli get k >/dev/null
    (($? == 1)) || mqs_fail "mode none: a key survived the restart"
    # The log holds the clock mark only (test_persistence_select.sh: versions).
    python3 - "$PDIR/statestore.log" <<'PY' || mqs_fail "mode none: the log holds a key"
import struct, sys
d = open(sys.argv[1], 'rb').read(); o = 0
while o + 9 <= len(d):
    (n,) = struct.unpack_from('<I', d, o)
    if d[o + 9 + 1] != 5: sys.exit(1)
    o += 9 + n
PY
}

# The default set; test_torn_every_offset and test_flip_every_byte run as
# their own CTest entry (e2e_persistence_torn).
ALL_TESTS=(test_restart_round_trip test_clock_mark test_everysec_round_trip test_lock_second_server test_torn_tail
    test_corrupt_refuses test_config_errors test_reload_needs_restart test_mode_none_keeps_memory)
mqs_run_tests "${@:-${ALL_TESTS[@]}}"
