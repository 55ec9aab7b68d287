#!/usr/bin/env bash
# A real browser against mqstated over WebSockets: headless Chromium runs
# MQTT.js (npm `mqtt`, pinned, installed once under the build tree) in
# tests/e2e/browser/mqtt_ws.html, which publishes and subscribes and makes
# a state store SET/GET round trip, then logs one "MQS-RESULT PASS|FAIL"
# console line that this script waits for (bounded).
#
# Chromium runs with --no-sandbox: its sandbox cannot start as root, and
# CI runs the tests as root. The page is a local file and talks only to the
# broker on 127.0.0.1.
#
# Needs MQS_BROWSER_DIR (where MQTT.js goes; set by CTest) and the
# chromium, nodejs and npm packages (scripts/deps.sh's test packages).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../../scripts/deps.sh"

MQTTJS_VERSION=5.16.0

if ! command -v chromium >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: chromium or npm is not installed (scripts/deps.sh installs them)" >&2
    exit 77
fi
if ((!MQS_IS_MQSTATED)); then
    echo "SKIP: the test configures a WebSocket listener in mqstated's format" >&2
    exit 77
fi

# The one listener is a WebSocket listener (lib.sh starts the broker),
# with TLS when WS_TLS is 1.
WS_TLS=0
mqs_write_config() {
    printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\n    websocket: true\n' "$MQS_PORT" \
        >"$MQS_DIR/broker.conf"
    if ((WS_TLS)); then
        printf '    tls:\n      cert_file: %s/server.pem\n      key_file: %s/server.key\n' "$MQS_DIR" "$MQS_DIR" \
            >>"$MQS_DIR/broker.conf"
    fi
}

# A self-signed certificate for 127.0.0.1 (Chromium is told to accept it).
make_cert() {
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$MQS_DIR/server.key" -out "$MQS_DIR/server.pem" >"$MQS_DIR/openssl.log" 2>&1
}

# Runs the page against URL; prints the result line, or nothing after 60 s.
run_page() {
    local url=$1 log="$MQS_DIR/chromium.log" deadline line
    cp "$here/browser/mqtt_ws.html" "$MQS_BROWSER_DIR/node_modules/mqtt/dist/mqs_page.html"
    : >"$log"
    chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --ignore-certificate-errors \
        --user-data-dir="$MQS_DIR/chromium-profile" --enable-logging=stderr --v=0 \
        "file://$MQS_BROWSER_DIR/node_modules/mqtt/dist/mqs_page.html#url=$url" >>"$log" 2>&1 &
    local pid=$!
    MQS_BG_PIDS+=("$pid")
    deadline=$(($(mqs_now_ms) + 60000))
    while (($(mqs_now_ms) < deadline)); do
        line=$(grep -o 'MQS-RESULT [A-Z]* [^"]*' "$log" | head -n 1)
        [[ -n "$line" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [[ -z "$line" ]]; then
        mqs_fail "no result from the page within 60 s; chromium's log:"
        tail -n 30 "$log" | sed 's/^/  chromium| /' >&2
    fi
    echo "$line"
}

test_browser_ws() {
    local result
    result=$(run_page "ws://127.0.0.1:$MQS_PORT/mqtt")
    [[ "$result" == "MQS-RESULT PASS "* ]] || mqs_fail "page: ${result:-no result}"
    mqs_note "$result"
    grep -q "(WebSocket)" "$MQS_DIR/broker.log" || mqs_fail "the broker did not log a WebSocket listener"
}

test_browser_wss() {
    local result
    result=$(run_page "wss://127.0.0.1:$MQS_PORT/mqtt")
    [[ "$result" == "MQS-RESULT PASS "* ]] || mqs_fail "page: ${result:-no result}"
    mqs_note "$result"
    grep -q "(WebSocket, TLS)" "$MQS_DIR/broker.log" || mqs_fail "the broker did not log a WebSocket TLS listener"
}

: "${MQS_BROWSER_DIR:?set MQS_BROWSER_DIR to a directory for MQTT.js}"
if ! mqs_install_npm "$MQS_BROWSER_DIR" mqtt "$MQTTJS_VERSION"; then
    echo "FAIL: npm could not install mqtt@$MQTTJS_VERSION" >&2
    exit 1
fi
mqs_run_tests test_browser_ws || exit 1
make_cert || { echo "FAIL: openssl: $(tail -n 3 "$MQS_DIR/openssl.log")" >&2; exit 1; }
WS_TLS=1
mqs_run_tests test_browser_wss
