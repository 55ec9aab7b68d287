#!/usr/bin/env bash
# Disk full under the durable state store (docs/persistence.md): on a 1 MiB
# tmpfs, a SET that cannot be written gets __stat 503 naming the error,
# nothing acknowledged is lost, the log stays clean, and writes resume by
# themselves once space returns. Needs root (mount); exits 77 otherwise.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

if ((!MQS_IS_MQSTATED)) || [[ -z "${MQSTATE:-}" ]]; then
    echo "skipped: needs mqstated and the mqstate CLI" >&2
    exit 77
fi
MNT="$MQS_DIR/mnt"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=1m tmpfs "$MNT" 2>/dev/null; then
    echo "skipped: cannot mount a tmpfs (needs root): the disk-full test did not run" >&2
    rm -rf "$MQS_DIR"
    exit 77
fi
PDIR="$MNT/data"
mqs_write_config() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\npersistence:\n  dir: %s\n  fsync: always\n' \
        "$MQS_PORT" "$PDIR" >"$MQS_DIR/broker.conf"
}
# mqs_run_tests replaces this trap with mqs_cleanup once it runs; the
# mount is undone below before that removes $MQS_DIR.
trap 'umount "$MNT" 2>/dev/null; rm -rf "$MQS_DIR"' EXIT

. "$HERE/persistence_lib.sh"

test_disk_full() {
    local i out
    for i in 1 2 3; do cli set "before$i" "v$i" >/dev/null || mqs_fail "set before$i"; done
    # Fill the file system (dd stops at ENOSPC).
    dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
    out=$(cli set full "$(head -c 20000 /dev/zero | tr '\0' x)" 2>&1)
    (($? == 4)) || mqs_fail "SET on a full disk did not fail with a service error: '$out'"
    [[ $out == *"the state store log cannot be written: No space left on device"* ]] ||
        mqs_fail "SET on a full disk: '$out'"
    out=$(cli set small v 2>&1) && mqs_fail "a SET right after the failure was acknowledged"
    [[ $(grep -c "write failed: No space left on device" "$MQS_DIR/broker.log") == 1 ]] ||
        mqs_fail "the error is not logged exactly once"
    "$MQS_BIN" persistence check "$PDIR" >/dev/null || mqs_fail "the log is not clean after the failed write"
    cli get before2 >/dev/null || mqs_fail "reads stopped"
    rm -f "$MNT/filler"
    local deadline=$(($(mqs_now_ms) + 10000)) ok=0
    while (($(mqs_now_ms) < deadline)); do
        if cli set after v >/dev/null 2>&1; then
            ok=1
            break
        fi
        sleep 0.2
    done
    ((ok)) || mqs_fail "writes did not resume after space returned"
    grep -q "writes resumed" "$MQS_DIR/broker.log" || mqs_fail "no 'writes resumed' in the log"
    mqs_broker_stop
    mqs_broker_start || mqs_fail "no restart"
    for i in 1 2 3; do [[ $(cli get "before$i") == "v$i" ]] || mqs_fail "before$i lost"; done
    [[ $(cli get after) == v ]] || mqs_fail "after lost"
    cli get full >/dev/null
    (($? == 1)) || mqs_fail "the refused SET was stored"
}

# pubd TOPIC PAYLOAD: a retained QoS 1 publish (v5) with mosquitto_pub's
# debug output (it shows the PUBACK's reason code and a DISCONNECT).
pubd() { timeout 10 mosquitto_pub -d -p "$MQS_PORT" -V mqttv5 -q 1 -r -t "$1" -m "$2" 2>&1; }
retained_of() { timeout 10 mosquitto_sub -p "$MQS_PORT" -V mqttv5 --retained-only -W 1 -t "$1" -F '%p' 2>/dev/null; }

# Retained messages on a full disk: nothing is acknowledged that is not
# written (the connection of a publish whose write failed is closed with
# 0x80, later ones get PUBACK 0x97 while writes are refused), QoS 0 still
# flows, and publishing resumes by itself when space returns.
test_disk_full_retained() {
    command -v mosquitto_pub >/dev/null || return 0
    local out i refused=0 ok=0
    out=$(pubd r/before v) || mqs_fail "publish before: $out"
    dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
    out=$(pubd r/full "$(head -c 20000 /dev/zero | tr '\0' x)")
    [[ $out != *"received PUBACK (Mid: 1, RC:0)"* && $out != *"received PUBACK (Mid: 1, RC:16)"* ]] ||
        mqs_fail "a retained publish on a full disk was acknowledged: $out"
    for ((i = 0; i < 20 && !refused; i++)); do
        out=$(pubd r/full2 y)
        [[ $out == *"RC:151"* ]] && refused=1
        [[ $out == *"RC:0)"* || $out == *"RC:16)"* ]] && mqs_fail "acknowledged while the disk is full: $out"
    done
    ((refused)) || mqs_fail "no PUBACK 0x97 while the disk is full: $out"
    "$MQS_BIN" persistence check "$PDIR" >/dev/null || mqs_fail "the log is not clean after the failed write"
    rm -f "$MNT/filler"
    local deadline=$(($(mqs_now_ms) + 10000))
    while (($(mqs_now_ms) < deadline)); do
        out=$(pubd r/after a)
        if [[ $out == *"RC:16)"* || $out == *"RC:0)"* ]]; then
            ok=1
            break
        fi
        sleep 0.2
    done
    ((ok)) || mqs_fail "retained publishing did not resume after space returned: $out"
    mqs_broker_stop
    mqs_broker_start || mqs_fail "no restart"
    [[ $(retained_of r/before) == v ]] || mqs_fail "r/before lost"
    [[ $(retained_of r/after) == a ]] || mqs_fail "r/after lost"
    [[ -z $(retained_of r/full) && -z $(retained_of r/full2) ]] || mqs_fail "a refused retained message was stored"
}

mqs_run_tests test_disk_full test_disk_full_retained
rc=$?
mqs_broker_stop
umount "$MNT" || echo "cannot unmount $MNT" >&2
exit $rc
