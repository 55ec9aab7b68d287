# Shared helpers for the bash end-to-end tests; source this file.
#
# The broker is chosen like in the C harness: MQS_TEST_BROKER=mosquitto runs
# /usr/sbin/mosquitto, MQS_TEST_BROKER=/path runs that mqstated binary,
# otherwise $MQSTATED (set by CTest). Every wait is bounded.

set -u

MQS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mqs-e2e-sh-XXXXXX")
MQS_PID=""
MQS_PORT=""
MQS_FAILED=0
MQS_BG_PIDS=()

if [[ "${MQS_TEST_BROKER:-}" == mosquitto ]]; then
    MQS_BIN=/usr/sbin/mosquitto
    MQS_IS_MQSTATED=0
else
    MQS_BIN=${MQS_TEST_BROKER:-${MQSTATED:-}}
    MQS_IS_MQSTATED=1
    if [[ -z "$MQS_BIN" ]]; then
        echo "neither MQS_TEST_BROKER nor MQSTATED is set" >&2
        exit 2
    fi
fi

mqs_note() { echo "  note: $*" >&2; }

# Records a failure of the current test; the script continues with the next.
mqs_fail() {
    echo "  FAIL: $*" >&2
    MQS_FAILED=1
}

mqs_now_ms() { date +%s%3N; }

# True if something accepts TCP connections on 127.0.0.1:$1.
mqs_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mqs_write_config() {
    if ((MQS_IS_MQSTATED)); then
        printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT" \
            >"$MQS_DIR/broker.conf"
    else
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQS_PORT" \
            >"$MQS_DIR/broker.conf"
    fi
}

# Starts the broker on a random free port, retrying if another process took
# the port between the check and the bind. Waits (bounded) until it listens.
mqs_broker_start() {
    local attempt
    for attempt in 1 2 3 4 5; do
        # Below Linux's ephemeral range (32768-60999): a probe of a port in
        # it can connect to itself (TCP simultaneous open) and look open.
        MQS_PORT=$((20000 + RANDOM % 12000))
        mqs_port_open "$MQS_PORT" && continue
        mqs_write_config
        if ((MQS_IS_MQSTATED)); then
            "$MQS_BIN" -p "$MQS_PORT" --bind 127.0.0.1 -c "$MQS_DIR/broker.conf" -v \
                >>"$MQS_DIR/broker.log" 2>&1 &
        else
            "$MQS_BIN" -c "$MQS_DIR/broker.conf" >>"$MQS_DIR/broker.log" 2>&1 &
        fi
        MQS_PID=$!
        local deadline=$(($(mqs_now_ms) + 10000))
        while (($(mqs_now_ms) < deadline)); do
            kill -0 "$MQS_PID" 2>/dev/null || break
            mqs_port_open "$MQS_PORT" && return 0
            sleep 0.02
        done
        if kill -0 "$MQS_PID" 2>/dev/null; then
            kill -KILL "$MQS_PID"
            wait "$MQS_PID" 2>/dev/null
            MQS_PID=""
            return 1
        fi
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    return 1
}

# SIGTERM, then SIGKILL after 10 s. Succeeds only if the broker exited 0.
mqs_broker_stop() {
    [[ -n "$MQS_PID" ]] || return 0
    local pid=$MQS_PID status deadline=$(($(mqs_now_ms) + 10000))
    MQS_PID=""
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && (($(mqs_now_ms) < deadline)); do
        sleep 0.02
    done
    if kill -0 "$pid" 2>/dev/null; then
        mqs_fail "broker ignored SIGTERM for 10 s"
        kill -KILL "$pid"
    fi
    wait "$pid"
    status=$?
    if ((status != 0)); then
        mqs_fail "broker exited with status $status"
        return 1
    fi
}

# Starts a command (an executable, not a shell function, so that $! is its
# own PID and can be killed directly) in the background; killed at cleanup.
mqs_bg() {
    "$@" &
    MQS_BG_PIDS+=($!)
}

mqs_cleanup() {
    local pid
    for pid in "${MQS_BG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    mqs_broker_stop
    if ((MQS_FAILED)) && [[ -f "$MQS_DIR/broker.log" ]]; then
        echo "  ---- broker log ($MQS_BIN) ----" >&2
        sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
    fi
    rm -rf "$MQS_DIR"
}

# Runs each named test function against a fresh broker and reports PASS/FAIL.
mqs_run_tests() {
    local name any_failed=0
    trap mqs_cleanup EXIT
    echo "broker under test: $MQS_BIN" >&2
    for name in "$@"; do
        MQS_FAILED=0
        : >"$MQS_DIR/broker.log"
        if ! mqs_broker_start; then
            mqs_fail "broker did not start"
        else
            "$name"
            mqs_broker_stop
        fi
        if ((MQS_FAILED)); then
            echo "FAIL $name" >&2
            sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
            any_failed=1
        else
            echo "PASS $name" >&2
        fi
    done
    MQS_FAILED=0
    return "$any_failed"
}

# mosquitto_pub / mosquitto_sub against the broker under test.
mqs_pub() { mosquitto_pub -h 127.0.0.1 -p "$MQS_PORT" "$@"; }
mqs_sub() { mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" "$@"; }
