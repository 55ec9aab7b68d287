#!/usr/bin/env bash
# Configuration and command line against the real mqstated: flags that
# must not weaken authentication, file permission warnings, `mqstated
# passwd` on symlinks, certificate revocation lists, error messages.
# Clients are mosquitto_pub; certificates are made here with openssl.
. "$(dirname "$0")/lib.sh"

D=$MQS_DIR
LOG=$D/broker.log

if ((!MQS_IS_MQSTATED)); then
    echo "SKIP: mqstated only"
    rm -rf "$MQS_DIR"
    exit 77
fi

# Lower-cased, for matching both clients' spellings of reason codes.
lc() { echo "${1,,}"; }

# start_broker WRITER [ARGS...]: picks a free port P, runs `WRITER` (a
# function writing $D/c.yaml for port $P), starts mqstated -c $D/c.yaml
# ARGS... (where @P@ stands for P) and waits until P accepts connections. Retries on other ports
# when the broker exits at start (the port was taken meanwhile).
P=0
start_broker() {
    local writer=$1 attempt
    shift
    for attempt in 1 2 3 4 5; do
        P=$((20000 + RANDOM % 40000))
        mqs_port_open "$P" && continue
        "$writer"
        "$MQS_BIN" -c "$D/c.yaml" "${@//@P@/$P}" >>"$LOG" 2>&1 &
        MQS_PID=$!
        local deadline=$(($(mqs_now_ms) + 10000))
        while (($(mqs_now_ms) < deadline)); do
            kill -0 "$MQS_PID" 2>/dev/null || break
            mqs_port_open "$P" && return 0
            sleep 0.05
        done
        kill -0 "$MQS_PID" 2>/dev/null && return 1 # running but not listening: give up
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    return 1
}

make_passwd() {
    rm -f "$D/passwd"
    echo "alice-pw" | "$MQS_BIN" passwd --stdin --iterations 1000 "$D/passwd" alice 2>"$D/passwd.err" ||
        mqs_fail "passwd alice"
    grep -q "warning: 1000 iterations is below the recommended 210000" "$D/passwd.err" ||
        mqs_fail "no warning for a weak iteration count: $(cat "$D/passwd.err")"
}

# --- 8.9: command-line flags keep the file's authentication -----------------

write_password_listener() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n    authentication:\n      methods: [password]\n      password_file: %s\n      failure_delay_ms: 0\n' \
        "$((P + 1))" "$D/passwd" >"$D/c.yaml"
}

# -c FILE -p N used to replace the file's listeners by an open one: an
# anonymous client got in. Now -p moves the listener and keeps its
# authentication.
test_port_flag_keeps_authentication() {
    make_passwd
    : >"$LOG"
    # The file says port P+1; the command line says P.
    start_broker write_password_listener -p @P@ || { mqs_fail "broker did not start with -p"; return; }
    local out
    out=$(timeout 10 mosquitto_pub -V 5 -p "$P" -t t -m x 2>&1) && mqs_fail "-p: anonymous client accepted"
    [[ $(lc "$out") == *"not authori"* ]] || mqs_fail "-p: anonymous client: '$out'"
    out=$(timeout 10 mosquitto_pub -V 5 -p "$P" -t t -m x -u alice -P wrong 2>&1) && mqs_fail "-p: wrong password accepted"
    out=$(timeout 10 mosquitto_pub -V 5 -p "$P" -t t -m x -u alice -P alice-pw 2>&1) || mqs_fail "-p: alice refused: $out"
    grep -q "command line: listener 127.0.0.1 port $((P + 1)) of .* now on 127.0.0.1 port $P (its TLS and authentication kept)" "$LOG" ||
        mqs_fail "no warning about the moved listener"
    mqs_broker_stop
    # --bind to a public address keeps the authentication too, and a file
    # without any is refused there (the loopback rule).
    printf 'listeners:\n  - port: 1\n' >"$D/open.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/open.yaml" --bind 0.0.0.0 2>&1) && mqs_fail "--bind 0.0.0.0 opened an unauthenticated listener"
    [[ $out == *"needs an authentication section"* ]] || mqs_fail "--bind 0.0.0.0: '$out'"
    out=$(timeout 10 "$MQS_BIN" --bind :: -p 1 2>&1) && mqs_fail "--bind :: without a file opened an unauthenticated listener"
    [[ $out == *"needs an authentication section"* ]] || mqs_fail "--bind ::: '$out'"
    # Several listeners: -p is refused, not applied to a guessed one.
    printf 'listeners:\n  - port: 1\n  - port: 2\n' >"$D/two.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/two.yaml" -p 0 2>&1)
    (($? == 2)) || mqs_fail "-p with two listeners: exit status not 2"
    [[ $out == *"the configuration has 2 listeners; set their addresses in the file"* ]] ||
        mqs_fail "-p with two listeners: '$out'"
}

ALL_TESTS=(test_port_flag_keeps_authentication)
for t in "${@:-${ALL_TESTS[@]}}"; do
    echo "== $t"
    $t
    mqs_broker_stop
done
if ((MQS_FAILED)); then
    echo "--- broker log"
    tail -50 "$LOG"
fi
rm -rf "$MQS_DIR"
exit $MQS_FAILED
