#!/usr/bin/env bash
# The Paho interoperability scenarios (paho_interop.py, our reimplementation
# of the Eclipse Paho testing suite's client_test.py and client_test5.py) for
# MQTT 3.1.1 and 5 against one mqstated, both clients on it. Arguments are
# passed to paho_interop.py (e.g. --only will_delay --version 5).
# Exit 77 (skipped) without python3-paho-mqtt (scripts/deps.sh installs it).
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/interop_lib.sh"

PY=$(paho_python) || {
    echo "python3-paho-mqtt is not installed (scripts/deps.sh, MQS_TEST_PACKAGES)" >&2
    exit 77
}
if ((!MQS_IS_MQSTATED)); then
    echo "the scenarios need mqstated's authorization rules and limits" >&2
    exit 77
fi

# PAHO_PERSISTENCE=1: with a data directory, so sessions and retained
# messages take their durable paths (acknowledgements held until logged).
mqs_write_config() {
    {
        printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT"
        [[ "${PAHO_PERSISTENCE:-0}" == 1 ]] && printf 'persistence:\n  dir: %s/data\n' "$MQS_DIR"
        paho_config
    } >"$MQS_DIR/broker.conf"
}

PAHO_ARGS=("$@")
test_paho() {
    # Every wait of a scenario is bounded by --timeout; the whole run by
    # CTest's TIMEOUT.
    "$PY" "$PAHO_INTEROP" --node "127.0.0.1:$MQS_PORT" --timeout 15 "${PAHO_ARGS[@]}" ||
        mqs_fail "paho_interop.py failed"
}

mqs_run_tests test_paho
