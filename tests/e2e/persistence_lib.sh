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
