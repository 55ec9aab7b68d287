#!/usr/bin/env bash
# The operations endpoint (docs/metrics.md) against the real mqstated:
# /metrics scraped with curl and checked by `promtool check metrics`,
# counters moving under real MQTT and state store traffic, /healthz and
# /readyz, 404/405/400/431, basic authentication, TLS, the connection
# bound and idle timeout while MQTT keeps working; and the $SYS topics
# read with mosquitto_sub, allowed and denied by the authorization rules.
. "$(dirname "$0")/lib.sh"

if ((!MQS_IS_MQSTATED)); then
    echo "SKIP: mqstated only" >&2
    rm -rf "$MQS_DIR"
    exit 77
fi
for tool in curl promtool; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not installed (scripts/deps.sh installs it)" >&2
        rm -rf "$MQS_DIR"
        exit 77
    fi
done
MQSTATE=${MQSTATE:-}
D=$MQS_DIR
METRICS_EXTRA=""   # more lines of the metrics: section
CONFIG_EXTRA=""    # more top-level configuration
SCHEME=http
CURL_TLS=()

# The library's start, with a metrics section on a second random port.
mqs_write_config() {
    MPORT=$((20000 + RANDOM % 12000))
    {
        printf 'log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT"
        printf 'metrics:\n  port: %s\n  idle_timeout: 2\n  max_connections: 4\n' "$MPORT"
        [[ -n "$METRICS_EXTRA" ]] && printf '%s\n' "$METRICS_EXTRA"
        [[ -n "$CONFIG_EXTRA" ]] && printf '%s\n' "$CONFIG_EXTRA"
    } >"$D/broker.conf"
}

url() { echo "$SCHEME://127.0.0.1:$MPORT$1"; }
scrape() { curl -s -m 10 "${CURL_TLS[@]}" "$@" "$(url /metrics)"; }
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "${CURL_TLS[@]}" "$@"; }

# value NAME_WITH_LABELS: the sample's value in a fresh scrape ("" if none).
value() {
    scrape | awk -v n="$1" '$1 == n { print $2; exit }'
}

# wait_value NAME WANT: until the sample equals WANT (bounded: 10 s).
wait_value() {
    local deadline=$(($(mqs_now_ms) + 10000)) v
    while (($(mqs_now_ms) < deadline)); do
        v=$(value "$1")
        [[ "$v" == "$2" ]] && return 0
        sleep 0.1
    done
    mqs_fail "$1 is \"$v\", expected $2"
    return 1
}

# at_least NAME MIN
at_least() {
    local v
    v=$(value "$1")
    [[ -n "$v" ]] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0) }' || mqs_fail "$1 is \"$v\", expected >= $2"
}

test_scrape_promtool() {
    local hdr body
    hdr=$(curl -s -m 10 -D - -o "$D/scrape.txt" "$(url /metrics)")
    grep -qi '^content-type: text/plain; version=0.0.4' <<<"$hdr" || mqs_fail "content type: $hdr"
    promtool check metrics <"$D/scrape.txt" >"$D/promtool.txt" 2>&1 || mqs_fail "promtool: $(cat "$D/promtool.txt")"
    for m in mqstated_connections mqstated_messages_received_total mqstated_statestore_keys \
        mqstated_statestore_request_duration_seconds_bucket mqstated_resident_memory_bytes; do
        grep -q "^$m" "$D/scrape.txt" || mqs_fail "no $m in the scrape"
    done
    at_least mqstated_resident_memory_bytes 1000000
}

test_counters_move() {
    local i
    for i in 1 2 3; do
        mqs_bg mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -i "sub$i" -q 1 -t "m/#" -k 30 >/dev/null
    done
    wait_value mqstated_connections 3
    wait_value 'mqstated_sessions{state="online"}' 3
    mqs_pub -i pub -q 1 -t m/x -m hello -r || mqs_fail "publish"
    mqs_pub -i pub0 -q 0 -t m/y -m hi || mqs_fail "publish"
    at_least 'mqstated_messages_received_total{qos="1"}' 1
    at_least 'mqstated_messages_received_total{qos="0"}' 1
    at_least 'mqstated_message_received_bytes_total{qos="1"}' 5
    wait_value mqstated_retained_messages 1
    at_least 'mqstated_messages_sent_total{qos="1"}' 3
    at_least mqstated_subscriptions 3
    at_least mqstated_connects_total 5
    at_least mqstated_network_received_bytes_total 100
    # State store: a SET and a GET through the mqstate CLI when built,
    # else through mosquitto_rr with a RESP payload.
    if [[ -n "$MQSTATE" ]]; then
        "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --timeout 5 set k1 v1 >/dev/null || mqs_fail "mqstate set"
        "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --timeout 5 get k1 >/dev/null || mqs_fail "mqstate get"
    else
        mosquitto_rr -h 127.0.0.1 -p "$MQS_PORT" -V mqttv5 -q 1 -t statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke \
            -e "rr/$$" -D publish correlation-data c1 -m $'*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n' -W 5 >/dev/null ||
            mqs_fail "SET"
        mosquitto_rr -h 127.0.0.1 -p "$MQS_PORT" -V mqttv5 -q 1 -t statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke \
            -e "rr/$$" -D publish correlation-data c2 -m $'*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n' -W 5 >/dev/null || mqs_fail "GET"
    fi
    wait_value mqstated_statestore_insertions_total 1
    wait_value mqstated_statestore_retrievals_total 1
    wait_value mqstated_statestore_keys 1
    at_least mqstated_statestore_requests_total 2
    at_least mqstated_statestore_request_duration_seconds_count 2
    at_least 'mqstated_statestore_request_duration_seconds_bucket{le="+Inf"}' 2
    scrape >"$D/scrape.txt"
    promtool check metrics <"$D/scrape.txt" >"$D/promtool.txt" 2>&1 || mqs_fail "promtool: $(cat "$D/promtool.txt")"
}

test_codes() {
    [[ $(code "$(url /healthz)") == 200 ]] || mqs_fail "/healthz"
    [[ $(code "$(url /readyz)") == 200 ]] || mqs_fail "/readyz"
    curl -s -m 10 "$(url /readyz)" | grep -q '^ok listeners$' || mqs_fail "/readyz lists its conditions"
    [[ $(code "$(url /nothing)") == 404 ]] || mqs_fail "404"
    [[ $(code -X POST "$(url /metrics)") == 405 ]] || mqs_fail "405"
    [[ $(code -X DELETE "$(url /healthz)") == 405 ]] || mqs_fail "405 DELETE"
    [[ $(code -I "$(url /metrics)") == 200 ]] || mqs_fail "HEAD"
    [[ -z $(curl -s -m 10 -I "$(url /metrics)" | sed -n '/^\r$/,$p' | tail -n +2) ]] || mqs_fail "HEAD has a body"
    local big
    big=$(head -c 9000 /dev/zero | tr '\0' a)
    [[ $(code -H "X-Big: $big" "$(url /metrics)") == 431 ]] || mqs_fail "431"
    # Malformed: a raw request line curl would not send.
    local reply
    reply=$(exec 3<>"/dev/tcp/127.0.0.1/$MPORT" && printf 'GET nope HTTP/1.1\r\n\r\n' >&3 && timeout 5 cat <&3)
    [[ "$reply" == "HTTP/1.1 400 "* ]] || mqs_fail "400: $reply"
    # Pipelined: two heads in one write, two answers in order.
    reply=$(exec 3<>"/dev/tcp/127.0.0.1/$MPORT" &&
        printf 'GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n' >&3 &&
        timeout 5 cat <&3)
    [[ $(grep -c '^HTTP/1.1 200 OK' <<<"$reply") == 2 && "$reply" == *"ok listeners"* ]] ||
        mqs_fail "pipelined: $reply"
    # Keep-alive: two requests on one connection.
    [[ $(curl -s -m 10 -o /dev/null -o /dev/null -w '%{http_code}%{num_connects}\n' "$(url /healthz)" "$(url /readyz)" |
        tr -d '\n') == 20012000 ]] || mqs_fail "keep-alive reuse"
    at_least 'mqstated_http_responses_total{code="404"}' 1
    at_least 'mqstated_http_responses_total{code="431"}' 1
}

test_hostile_clients() {
    # Four idle connections fill max_connections; a fifth is closed at
    # once, MQTT is unaffected, and the idle ones end after idle_timeout.
    local i fds=()
    for i in 1 2 3 4; do
        exec {fd}<>"/dev/tcp/127.0.0.1/$MPORT" || mqs_fail "connect $i"
        printf 'GET /metr' >&$fd # a head that never ends
        fds+=($fd)
    done
    sleep 0.3
    [[ $(code "$(url /healthz)") == 000 ]] || mqs_fail "a fifth connection was served"
    local t0=$(mqs_now_ms)
    mqs_pub -i during -q 1 -t m/h -m x || mqs_fail "MQTT publish while the endpoint is full"
    (($(mqs_now_ms) - t0 < 5000)) || mqs_fail "MQTT stalled"
    sleep 3.5 # idle_timeout 2 s, swept every second
    for fd in "${fds[@]}"; do
        if timeout 2 cat <&$fd >/dev/null; then :; else mqs_fail "idle connection not closed"; fi
        exec {fd}<&-
    done
    [[ $(code "$(url /healthz)") == 200 ]] || mqs_fail "served again after the idle ones closed"
    at_least mqstated_http_connections_refused_total 1
}

test_basic_auth() {
    [[ $(code "$(url /metrics)") == 401 ]] || mqs_fail "401 without credentials"
    curl -s -m 10 -D - -o /dev/null "$(url /metrics)" | grep -qi '^www-authenticate: Basic' || mqs_fail "no challenge"
    [[ $(code -u scraper:wrong "$(url /metrics)") == 401 ]] || mqs_fail "401 with a wrong password"
    [[ $(code -u someone:s3cret-scrape "$(url /metrics)") == 401 ]] || mqs_fail "401 with a wrong user"
    [[ $(code -u scraper:s3cret-scrape "$(url /metrics)") == 200 ]] || mqs_fail "200 with the password"
    [[ $(code -u scraper:s3cret-scrape "$(url /metrics)") == 200 ]] || mqs_fail "200 again (remembered)"
    [[ $(code "$(url /healthz)") == 200 ]] || mqs_fail "/healthz needs no credentials"
    [[ $(code "$(url /readyz)") == 200 ]] || mqs_fail "/readyz needs no credentials"
    curl -s -m 10 -u scraper:s3cret-scrape "$(url /metrics)" >"$D/scrape.txt"
    promtool check metrics <"$D/scrape.txt" >/dev/null 2>&1 || mqs_fail "promtool"
    ! grep -q 's3cret-scrape' "$D/broker.log" || mqs_fail "the password is in the log"
}

test_tls_scrape() {
    [[ $(code "$(url /healthz)") == 200 ]] || mqs_fail "https /healthz"
    scrape >"$D/scrape.txt"
    promtool check metrics <"$D/scrape.txt" >/dev/null 2>&1 || mqs_fail "promtool over TLS"
    [[ $(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz") != 200 ]] ||
        mqs_fail "plain HTTP served on the TLS endpoint"
}

test_reload_needs_restart() {
    sed -i "s/idle_timeout: 2/idle_timeout: 3/" "$D/broker.conf"
    kill -HUP "$MQS_PID"
    local deadline=$(($(mqs_now_ms) + 5000))
    until grep -q 'reload: metrics changed, needs a restart' "$D/broker.log"; do
        (($(mqs_now_ms) < deadline)) || { mqs_fail "no needs-a-restart line"; break; }
        sleep 0.05
    done
    [[ $(code "$(url /healthz)") == 200 ]] || mqs_fail "endpoint gone after the reload"
}

# $SYS/broker/...: sys_interval 1 s.
sys_get() { mqs_sub -C 1 -W 5 -t "$1" "${@:2}"; }

test_sys_topics() {
    [[ $(sys_get '$SYS/broker/version') == "mqstated "* ]] || mqs_fail "version"
    [[ $(sys_get '$SYS/broker/uptime') =~ ^[0-9]+\ seconds$ ]] || mqs_fail "uptime"
    mqs_bg mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -i s1 -t a/b -k 30
    mqs_bg mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -i s2 -t a/b -k 30
    mqs_pub -i p -r -t r/1 -m x
    local deadline=$(($(mqs_now_ms) + 10000)) v
    while (($(mqs_now_ms) < deadline)); do
        v=$(sys_get '$SYS/broker/clients/connected')
        [[ "$v" == 2 ]] && break
        sleep 0.3
    done
    [[ "$v" == 2 ]] || mqs_fail "clients/connected is $v, expected 2"
    [[ $(sys_get '$SYS/broker/subscriptions/count') == 2 ]] || mqs_fail "subscriptions/count"
    [[ $(sys_get '$SYS/broker/retained messages/count') -ge 1 ]] || mqs_fail "retained messages/count"
    [[ $(sys_get '$SYS/broker/publish/messages/received') -ge 1 ]] || mqs_fail "publish/messages/received"
    [[ $(sys_get '$SYS/broker/bytes/received') -ge 1 ]] || mqs_fail "bytes/received"
    [[ -n $(sys_get '$SYS/broker/heap/current') ]] || mqs_fail "heap/current"
    # A subscriber to "#" hears nothing from $SYS (MQTT 4.7.2), and one to
    # the uptime hears about one update a second, not a flood.
    local n
    n=$(mqs_sub -t '#' -W 3 -i hash 2>/dev/null | grep -c . || true)
    ((n == 1)) || mqs_fail "a '#' subscriber got $n messages (only r/1, retained, expected)"
    n=$(mqs_sub -t '$SYS/broker/uptime' -W 3 -i up 2>/dev/null | wc -l || true)
    ((n >= 2 && n <= 5)) || mqs_fail "$n uptime messages in 3 s"
    # Clients cannot write $SYS/broker/.
    mosquitto_pub -h 127.0.0.1 -p "$MQS_PORT" -V mqttv5 -q 1 -r -t '$SYS/broker/version' -m forged 2>/dev/null
    [[ $(sys_get '$SYS/broker/version') == "mqstated "* ]] || mqs_fail "a client overwrote \$SYS/broker/version"
}

test_sys_authorization() {
    local out
    out=$(sys_get '$SYS/broker/version' -i ops-1)
    [[ "$out" == "mqstated "* ]] || mqs_fail "ops-1 may read \$SYS: got '$out'"
    out=$(mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -V mqttv5 -i app-1 -t '$SYS/broker/version' -C 1 -W 3 2>&1)
    [[ "$out" != "mqstated "* ]] || mqs_fail "app-1 read \$SYS"
    grep -qi 'not authorized\|denied\|0x87\|135' <<<"$out" || mqs_fail "app-1 not refused: $out"
    out=$(mosquitto_sub -h 127.0.0.1 -p "$MQS_PORT" -V mqttv5 -i app-1 -t '#' -W 3 2>&1 | grep -c mqstated || true)
    ((out == 0)) || mqs_fail "app-1 got \$SYS through '#'"
}

# persistence.dir with sys_interval 1: the $SYS retained messages are
# not logged, a state store write is, and the log's figures move.
test_persistence_figures() {
    sleep 2.5 # two $SYS updates
    wait_value mqstated_persistence_records_written_total 0
    [[ $(sys_get '$SYS/broker/uptime') == *seconds ]] || mqs_fail "no \$SYS/broker/uptime"
    if [[ -n "$MQSTATE" ]]; then
        "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --timeout 5 set pk pv >/dev/null || mqs_fail "mqstate set"
        at_least mqstated_persistence_records_written_total 1
        at_least mqstated_persistence_log_bytes 1
        at_least mqstated_statestore_writes_logged_total 1
        local deadline=$(($(mqs_now_ms) + 5000))
        until [[ $(value mqstated_persistence_fsyncs_total) -ge 1 ]]; do
            (($(mqs_now_ms) < deadline)) || { mqs_fail "no fsync counted (everysec)"; break; }
            sleep 0.2
        done
    fi
    at_least mqstated_persistence_write_errors_total 0
    scrape >"$D/scrape.txt"
    promtool check metrics <"$D/scrape.txt" >"$D/promtool.txt" 2>&1 || mqs_fail "promtool: $(cat "$D/promtool.txt")"
}

CONFIG_EXTRA="sys_interval: 0"
mqs_run_tests test_scrape_promtool test_counters_move test_codes test_hostile_clients test_reload_needs_restart
rc=$?

CONFIG_EXTRA="sys_interval: 1"
mqs_run_tests test_sys_topics || rc=1
CONFIG_EXTRA=$(printf 'sys_interval: 1\npersistence:\n  dir: %s/data' "$D")
mqs_run_tests test_persistence_figures || rc=1
CONFIG_EXTRA=$(cat <<'YAML'
sys_interval: 1
authorization:
  enabled: true
  rules:
    - principals: {clientIds: [ops-1]}
      brokerResources:
        - method: Connect
        - method: Subscribe
          topics: ["$SYS/#"]
    - principals: {clientIds: [app-1]}
      brokerResources:
        - method: Connect
        - method: Subscribe
          topics: ["#"]
YAML
)
mqs_run_tests test_sys_authorization || rc=1
CONFIG_EXTRA=""

# The hash as `mqstated passwd` writes it (the second field of its line).
echo s3cret-scrape | "$MQS_BIN" passwd --stdin "$D/pw" scraper >/dev/null || echo "passwd failed" >&2
HASH=$(cut -d: -f2- "$D/pw")
METRICS_EXTRA=$(printf '  username: scraper\n  password_hash: "%s"' "$HASH")
mqs_run_tests test_basic_auth || rc=1

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/m.key" -out "$D/m.pem" -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || mqs_fail "openssl"
METRICS_EXTRA=$(printf '  tls:\n    cert_file: %s\n    key_file: %s' "$D/m.pem" "$D/m.key")
SCHEME=https
CURL_TLS=(--cacert "$D/m.pem")
mqs_run_tests test_tls_scrape || rc=1

# A metrics.tls that cannot load: --check-config and a start both refuse.
printf 'metrics:\n  tls: {cert_file: %s/none.pem, key_file: %s/m.key}\n' "$D" "$D" >"$D/badtls.yaml"
out=$("$MQS_BIN" --check-config -c "$D/badtls.yaml" 2>&1)
if [[ $? -ne 1 || "$out" != *"metrics.tls: cert_file $D/none.pem"* ]]; then
    echo "FAIL check_config_metrics_tls: $out" >&2
    rc=1
else echo "PASS check_config_metrics_tls" >&2; fi
out=$(timeout 20 "$MQS_BIN" -p 0 -c "$D/badtls.yaml" 2>&1)
if [[ $? -ne 1 || "$out" != *"metrics.tls: cert_file"* ]]; then
    echo "FAIL start_metrics_tls: $out" >&2
    rc=1
else echo "PASS start_metrics_tls" >&2; fi
exit $rc
