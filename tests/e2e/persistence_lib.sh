# Shared by the persistence tests (sourced after lib.sh): the mqstate CLI
# against the test broker, a field of its --json output, and broker
# (re)starts on the data directory $PDIR, which each test sets, together
# with its own mqs_write_config.

cli() { timeout 20 "$MQSTATE" -p "$MQS_PORT" --timeout 10 "$@"; }
# A field of a --json result on stdin.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

# A broker on an empty data directory.
fresh() {
    mqs_broker_stop
    rm -rf "$PDIR"
    mqs_broker_start || mqs_fail "broker did not start"
}

# Stop and start on the same data directory.
restart() {
    mqs_broker_stop || return 1
    mqs_broker_start || mqs_fail "broker did not restart"
}

# damage_sweep FILE KIND OFFSETS... : for each offset, replace FILE (a file
# of the data directory) by a copy of its current content cut at that
# offset (KIND cut) or with that byte inverted (KIND flip), start "$MQS_BIN"
# on $MQS_DIR/broker.conf and expect it to refuse (exit != 0 within 20 s)
# with output containing every string of $DAMAGE_EXPECT (a newline-
# separated list, OFFSET replaced by the offset of the damage as the
# server must name it: $DAMAGE_AT, or the cut/flip offset itself when
# unset). Restores FILE afterwards. Prints one line per wrong case and
# returns 1 if there was any.
damage_sweep() {
    local file=$1 kind=$2
    shift 2
    python3 - "$MQS_BIN" "$MQS_DIR/broker.conf" "$file" "$kind" "${DAMAGE_AT:-}" "$DAMAGE_EXPECT" "$@" <<'PY'
import subprocess, sys
binary, conf, path, kind, at, expect = sys.argv[1:7]
offsets = [int(x) for x in sys.argv[7:]]
good = open(path, 'rb').read()
bad = 0
try:
    for off in offsets:
        d = good[:off] if kind == 'cut' else good[:off] + bytes([good[off] ^ 0xff]) + good[off + 1:]
        open(path, 'wb').write(d)
        try:
            p = subprocess.run([binary, '-p', '0', '-c', conf], capture_output=True, text=True, timeout=20)
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, rc = 'still running after 20 s', 0
        want = [w.replace('OFFSET', at or str(off)) for w in expect.split('\n') if w]
        missing = [w for w in want if w not in out]
        if rc == 0 or missing:
            bad += 1
            print(f'{kind} at {off}: exit {rc}, missing {missing}: {out.strip()[-400:]}')
            if bad == 5:
                break
finally:
    open(path, 'wb').write(good)
print(f'{bad} of {len(offsets)} {kind} cases wrong' if bad else '', end='')
sys.exit(1 if bad else 0)
PY
}
