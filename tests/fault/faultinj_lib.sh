# Sourced after tests/e2e/lib.sh: run the broker under test with
# tests/fault/faultinj.so preloaded (tests/fault/README.md). The caller
# exports FAULTINJ_DIR (the directory whose files may fail).

# Makes MQS_BIN a wrapper that preloads $FAULTINJ (after libasan if the
# binary uses it); the binary itself stays in REAL_MQSTATED. False if
# $FAULTINJ is not set or missing.
faultinj_setup() {
    [[ -n "${FAULTINJ:-}" && -f "$FAULTINJ" ]] || return 1
    REAL_MQSTATED=$MQS_BIN
    export FAULTINJ_CONTROL="$MQS_DIR/faultinj.ctl" FAULTINJ_LOG="$MQS_DIR/faultinj.log"
    local asan
    asan=$(ldd "$REAL_MQSTATED" 2>/dev/null | awk '/libasan/ { print $3 }')
    printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "${asan:+$asan }$FAULTINJ" "$REAL_MQSTATED" \
        >"$MQS_DIR/mqstated-faultinj"
    chmod +x "$MQS_DIR/mqstated-faultinj"
    MQS_BIN="$MQS_DIR/mqstated-faultinj"
}

# Switch a fault on (the control file's words, e.g. "ops=fsync errno=EIO"),
# replacing the control file atomically; empties the injection log.
faultinj_on() {
    : >"$FAULTINJ_LOG"
    printf '%s\n' "$1" >"$FAULTINJ_CONTROL.new" && mv -f "$FAULTINJ_CONTROL.new" "$FAULTINJ_CONTROL"
}
faultinj_off() { rm -f "$FAULTINJ_CONTROL"; }
# True if a fault was injected since faultinj_on.
faultinj_injected() { [[ -s "$FAULTINJ_LOG" ]]; }
