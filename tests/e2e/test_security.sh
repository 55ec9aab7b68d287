#!/usr/bin/env bash
# TLS listeners, authentication and authorization, end to end:
# docs/examples/secure.yaml (its rules included) with paths and ports
# substituted, certificates made here with openssl, users made with
# `mqstated passwd`, clients = mosquitto_pub/sub/rr and a raw MQTT client
# in bash for timing.
. "$(dirname "$0")/lib.sh"

EXAMPLE="$(dirname "$0")/../../docs/examples/secure.yaml"
D=$MQS_DIR
LOG=$D/broker.log

if ((!MQS_IS_MQSTATED)); then
    echo "SKIP: mqstated only"
    rm -rf "$MQS_DIR"
    exit 77
fi

ssl() { openssl "$@" 2>>"$D/openssl.log"; }

# CA, server certificate (localhost / 127.0.0.1, encrypted key), and
# client certificates issued by the CA.
make_certs() {
    ssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" -days 2 -subj "/CN=Test CA" || return 1
    make_server server 1 || return 1
    cp "$D/ca.pem" "$D/clients-ca.pem"
    make_client sensor-7 "/O=Example/OU=sensors/CN=sensor-7" || return 1
    make_client nocn "/O=Example/OU=sensors" || return 1
}

# $1 = name, $2 = serial
make_server() {
    echo "s3cret-key" >"$D/server.key.pass"
    ssl req -newkey rsa:2048 -passout "file:$D/server.key.pass" -keyout "$D/$1.key" -out "$D/$1.csr" \
        -subj "/CN=localhost" || return 1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/san.ext"
    ssl x509 -req -in "$D/$1.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial "$2" -days 2 \
        -extfile "$D/san.ext" -out "$D/$1.pem"
}

make_client() {
    ssl req -newkey rsa:2048 -nodes -keyout "$D/$1.key" -out "$D/$1.csr" -subj "$2" || return 1
    ssl x509 -req -in "$D/$1.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial $RANDOM -days 2 -out "$D/$1.pem"
}

P_PW=0 P_X509=0 P_PLAIN=0
# Random ports can be taken (by another test, or a client's ephemeral
# port): a broker that exits at start is tried again on others.
start_broker() {
    local attempt
    for attempt in 1 2 3 4 5; do
        start_broker_once && return 0
        kill -0 "$MQS_PID" 2>/dev/null && return 1 # running but not listening: give up
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    return 1
}

start_broker_once() {
    P_PW=$((20000 + RANDOM % 40000)) P_X509=$((P_PW + 1)) P_PLAIN=$((P_PW + 2))
    sed -e "s|/etc/mqstated/|$D/|g" -e "s|0\.0\.0\.0|127.0.0.1|" -e "s|port: 8883|port: $P_PW|" \
        -e "s|port: 8884|port: $P_X509|" -e "s|port: 1883|port: $P_PLAIN|" \
        -e "s|failure_burst: 5|failure_burst: 12|" -e "s|failure_per_minute: 10|failure_per_minute: 1|" "$EXAMPLE" >"$D/secure.yaml"
    "$MQS_BIN" -c "$D/secure.yaml" -v >>"$LOG" 2>&1 &
    MQS_PID=$!
    MQS_PORT=$P_PLAIN
    local deadline=$(($(mqs_now_ms) + 10000))
    while (($(mqs_now_ms) < deadline)); do
        kill -0 "$MQS_PID" 2>/dev/null || return 1
        mqs_port_open "$P_X509" && mqs_port_open "$P_PLAIN" && return 0
        sleep 0.05
    done
    return 1
}

# mosquitto_pub against the password listener; extra args follow.
pub_pw() { pub_pw_to demo/pw x "$@"; }
pub_pw_to() {
    local topic=$1 msg=$2
    shift 2
    timeout 10 mosquitto_pub -h localhost -p "$P_PW" --cafile "$D/ca.pem" -t "$topic" -m "$msg" "$@" 2>&1
}
# Lower-cased, for matching both clients' spellings of reason codes.
lc() { echo "${1,,}"; }
pub_x509() {
    timeout 10 mosquitto_pub -h localhost -p "$P_X509" --cafile "$D/ca.pem" -t sensors/sensor-7/x -m x "$@" 2>&1
}
SENSOR=(--cert "$D/sensor-7.pem" --key "$D/sensor-7.key")

test_passwd_command() {
    echo "alice-pw" | "$MQS_BIN" passwd --stdin "$D/passwd" alice || mqs_fail "passwd alice"
    echo "bob-pw" | "$MQS_BIN" passwd --stdin "$D/passwd" bob || mqs_fail "passwd bob"
    grep -q '^alice:\$pbkdf2-sha512\$210000\$' "$D/passwd" || mqs_fail "passwd line format: $(cat "$D/passwd")"
    echo "x" | "$MQS_BIN" passwd --stdin "$D/passwd" "bad:name" 2>/dev/null && mqs_fail "':' in a user name accepted"
    "$MQS_BIN" passwd --delete "$D/passwd" nobody 2>/dev/null && mqs_fail "deleting an unknown user succeeded"
    [[ $(stat -c %a "$D/passwd") == 600 ]] || mqs_fail "password file mode $(stat -c %a "$D/passwd")"
}

test_password_good_bad_unknown() {
    local v out t0 t1
    for v in 5 311; do
        out=$(pub_pw -V "$v" -u alice -P alice-pw) || mqs_fail "v$v good password refused: $out"
        t0=$(mqs_now_ms)
        out=$(pub_pw -V "$v" -u alice -P wrong) && mqs_fail "v$v wrong password accepted"
        t1=$(mqs_now_ms)
        [[ $(lc "$out") == *"bad user name or password"* ]] || mqs_fail "v$v wrong password: '$out'"
        ((t1 - t0 >= 900)) || mqs_fail "v$v refusal came after $((t1 - t0)) ms, expected the 1 s delay"
        out=$(pub_pw -V "$v" -u mallory -P x) && mqs_fail "v$v unknown user accepted"
        [[ $(lc "$out") == *"bad user name or password"* ]] || mqs_fail "v$v unknown user: '$out'"
    done
    out=$(pub_pw -V 5) && mqs_fail "anonymous client accepted on a password listener"
    [[ $(lc "$out") == *"not authori"* ]] || mqs_fail "anonymous: '$out'"
    grep -q "alice-pw\|-P wrong" "$LOG" && mqs_fail "a password appears in the log"
    return 0
}

test_client_certificates() {
    local out
    out=$(pub_x509 -V 5) && mqs_fail "required client certificate: accepted without one"
    out=$(pub_x509 -V 5 "${SENSOR[@]}") || mqs_fail "sensor-7's certificate refused: $out"
    out=$(pub_x509 -V 5 --cert "$D/nocn.pem" --key "$D/nocn.key") && mqs_fail "certificate without CN accepted"
    [[ $(lc "$out") == *"not authori"* ]] || mqs_fail "no CN: '$out'"
    grep -q "certificate has no field for the user name" "$LOG" || mqs_fail "no log line for the CN-less certificate"
}

test_wrong_protocol_on_port() {
    local t0 t1 out
    t0=$(mqs_now_ms)
    out=$(timeout 10 mosquitto_pub -p "$P_PW" -t t -m x -u alice -P alice-pw 2>&1) && mqs_fail "plain client on TLS port"
    t1=$(mqs_now_ms)
    ((t1 - t0 < 3000)) || mqs_fail "plain client on TLS port took $((t1 - t0)) ms to be closed"
    out=$(timeout 10 mosquitto_pub -h localhost -p "$P_PLAIN" --cafile "$D/ca.pem" -t t -m x 2>&1) &&
        mqs_fail "TLS client on plain port"
    grep -q "plain-text client on a TLS port" "$LOG" || mqs_fail "no log line for plain text on the TLS port"
    grep -q "TLS handshake on a plain-text listener" "$LOG" || mqs_fail "no log line for TLS on the plain port"
    out=$(pub_pw -u alice -P alice-pw) || mqs_fail "server stopped serving: $out"
}

serial_seen() {
    openssl s_client -connect "127.0.0.1:$P_PW" -CAfile "$D/ca.pem" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null
}

test_reload() {
    local out sub_pid
    timeout 20 mosquitto_sub -h localhost -p "$P_PW" --cafile "$D/ca.pem" -u bob -P bob-pw -t demo/reload -C 1 \
        >"$D/sub.out" 2>&1 &
    sub_pid=$!
    sleep 0.5
    [[ $(serial_seen) == "serial=01" ]] || mqs_fail "initial server serial: $(serial_seen)"
    # A new operator: a password and a place in the rules, one SIGHUP.
    echo "carol-pw" | "$MQS_BIN" passwd --stdin "$D/passwd" carol
    sed -i 's/usernames: \[alice, bob\]/usernames: [alice, bob, carol]/' "$D/secure.yaml"
    make_server server2 2 && cp "$D/server2.pem" "$D/server.pem" && cp "$D/server2.key" "$D/server.key"
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "reload: TLS certificates and password files reloaded" "$LOG" || mqs_fail "no reload log line"
    out=$(pub_pw -u carol -P carol-pw) || mqs_fail "new user refused after reload: $out"
    [[ $(serial_seen) == "serial=02" ]] || mqs_fail "server serial after reload: $(serial_seen)"
    # A broken password file: logged, the previous configuration stays.
    cp "$D/passwd" "$D/passwd.good"
    echo "broken line" >>"$D/passwd"
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "reload: .*passwd:[0-9]*: expected user:hash; configuration unchanged" "$LOG" ||
        mqs_fail "no error for the broken password file"
    out=$(pub_pw -u carol -P carol-pw) || mqs_fail "old configuration lost after a bad reload: $out"
    cp "$D/passwd.good" "$D/passwd"
    # The subscriber connected before both reloads still gets messages.
    out=$(pub_pw_to demo/reload after-reload -u alice -P alice-pw) || mqs_fail "publish after reload: $out"
    wait "$sub_pid" || mqs_fail "subscriber lost across reload: $(cat "$D/sub.out")"
    grep -q after-reload "$D/sub.out" || mqs_fail "subscriber got '$(cat "$D/sub.out")'"
}

# --- state store keys under the example's rules ---------------------------------

SS_TOPIC=statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke

# resp ARG...: the RESP array of the arguments, into REQ (a variable, not
# output: command substitution would eat the final \r\n).
resp() {
    local LC_ALL=C a
    REQ="*$#"$'\r\n'
    for a; do REQ+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
}

# ss ID CONNECTION-ARGS... -- ARG...: one state store request as client ID;
# prints the reply's payload.
ss() {
    local id=$1 conn=()
    shift
    while [[ $1 != -- ]]; do conn+=("$1"); shift; done
    shift
    resp "$@"
    timeout 10 mosquitto_rr -V 5 -q 1 -h localhost --cafile "$D/ca.pem" -i "$id" "${conn[@]}" -t "$SS_TOPIC" \
        -e "clients/$id/response" -D publish correlation-data "$(date +%s%N)" \
        -D publish user-property __ts "$(date +%s%3N):0:$id" -m "$REQ" -W 5 -F '%p' 2>&1
}
ss_alice() { ss alice-1 -p "$P_PW" -u alice -P alice-pw -- "$@"; }
ss_bob() { ss bob-1 -p "$P_PW" -u bob -P bob-pw -- "$@"; }
ss_sensor() { ss sensor-7 -p "$P_X509" "${SENSOR[@]}" -- "$@"; }

# expect_reply WANT DESCRIPTION REPLY: REPLY contains WANT.
expect_reply() { [[ $3 == *"$1"* ]] || mqs_fail "$2: got '${3//$'\r'/}', want '$1'"; }
DENIED="-ERR not authorized"
CAL=$'\xde\xad\xbe\xef' # the example's Binary key "3q2+7w=="

test_password_user_keys() {
    expect_reply +OK "alice SET her own key" "$(ss_alice SET users/alice/color red)"
    expect_reply red "alice GET her own key" "$(ss_alice GET users/alice/color)"
    expect_reply +OK "bob SET his own key" "$(ss_bob SET users/bob/color blue)"
    expect_reply "$DENIED" "alice GET bob's key" "$(ss_alice GET users/bob/color)"
    expect_reply "$DENIED" "alice SET bob's key" "$(ss_alice SET users/bob/color green)"
    expect_reply "$DENIED" "alice DEL bob's key" "$(ss_alice DEL users/bob/color)"
    expect_reply blue "bob's key unchanged" "$(ss_bob GET users/bob/color)"
    expect_reply "$DENIED" "alice outside any rule" "$(ss_alice GET other)"
    # String: exactly that key; Binary: exactly those bytes, here write only.
    expect_reply +OK "alice SET config/sensors" "$(ss_alice SET config/sensors interval=5)"
    expect_reply "$DENIED" "String is not a prefix" "$(ss_alice SET config/sensors2 x)"
    expect_reply +OK "alice SET the binary key" "$(ss_alice SET "$CAL" cal-1)"
    expect_reply "$DENIED" "alice GET the write-only binary key" "$(ss_alice GET "$CAL")"
}

test_certificate_user_reads_only() {
    expect_reply interval=5 "sensor-7 GET config/sensors" "$(ss_sensor GET config/sensors)"
    expect_reply cal-1 "sensor-7 GET the binary key" "$(ss_sensor GET "$CAL")"
    expect_reply "$DENIED" "sensor-7 SET config/sensors" "$(ss_sensor SET config/sensors interval=1)"
    expect_reply "$DENIED" "sensor-7 DEL the binary key" "$(ss_sensor DEL "$CAL")"
    expect_reply "$DENIED" "sensor-7 GET alice's key" "$(ss_sensor GET users/alice/color)"
    expect_reply interval=5 "config/sensors unchanged" "$(ss_alice GET config/sensors)"
}

# --- password checks off the event loop -------------------------------------------

# A raw MQTT 3.1.1 client on fd 3, in bash builtins only, so that timing a
# round trip measures the server and not process start-up.
raw_connect() {
    local LC_ALL=C a b
    exec 3<>"/dev/tcp/127.0.0.1/$P_PLAIN" || return 1
    printf '\x10\x1d\x00\x04MQTT\x04\xc2\x00\x3c\x00\x00\x00\x05alice\x00\x08alice-pw' >&3
    IFS= read -r -d '' -t 5 -u 3 a && IFS= read -r -d '' -t 5 -u 3 b || return 1
    [[ $a == $'\x20\x02' && -z $b ]] # CONNACK, accepted
}
# One PINGREQ / PINGRESP; its duration in microseconds goes to RTT_US.
raw_ping() {
    local LC_ALL=C r t0=${EPOCHREALTIME/./}
    printf '\xc0\x00' >&3
    IFS= read -r -d '' -t 5 -u 3 r || return 1
    RTT_US=$((${EPOCHREALTIME/./} - t0))
    [[ $r == $'\xd0' ]]
}

# bob's password hashed with 2,000,000 iterations (~1 s per check): while
# his first CONNECT is verified, another client's pings are answered at
# once (under 50 ms).
test_slow_check_does_not_block() {
    local pid t0 t1 n=0 max=0 slow=0
    echo "bob-pw" | "$MQS_BIN" passwd --stdin --iterations 2000000 "$D/passwd" bob || mqs_fail "passwd bob"
    kill -HUP "$MQS_PID"
    sleep 0.5
    raw_connect || { mqs_fail "raw client not connected"; return; }
    raw_ping || mqs_fail "raw client: no PINGRESP"
    t0=$(mqs_now_ms)
    timeout 10 mosquitto_pub -h localhost -p "$P_PW" --cafile "$D/ca.pem" -u bob -P bob-pw -t demo/slow -m x \
        >"$D/slow.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        raw_ping || { mqs_fail "no PINGRESP while bob was being verified"; break; }
        ((n++, RTT_US > max)) && max=$RTT_US
        ((RTT_US >= 50000 && slow++))
        sleep 0.01
    done
    wait "$pid" || mqs_fail "bob refused: $(cat "$D/slow.out")"
    t1=$(mqs_now_ms)
    ((t1 - t0 >= 700)) || mqs_fail "bob connected in $((t1 - t0)) ms: the slow hash did not run?"
    ((n >= 10)) || mqs_fail "only $n pings during bob's verification"
    # Every round trip under 50 ms; one scheduler hiccup on a loaded machine
    # is forgiven, but not a stall (a blocked loop stalls for the whole ~1 s).
    ((slow <= 1 && max < 250000)) ||
        mqs_fail "$slow pings took 50 ms or more (slowest $((max / 1000)) ms) while a password was being verified"
    echo "  $n pings during a $((t1 - t0)) ms verification, slowest $((max / 1000)) ms"
}

# A client that hangs up during its (slow: a wrong password is never
# remembered) verification: the check finishes, is logged, and the server
# serves on.
test_hang_up_during_check() {
    # The client gives up 0.3 s after it starts, well inside the slow check;
    # on a loaded machine its TLS handshake may not even have sent the
    # CONNECT by then (no check started): it tries again, a little later.
    local wait_s deadline
    for wait_s in 0.3 0.6 1.0; do
        timeout "$wait_s" mosquitto_pub -h localhost -p "$P_PW" --cafile "$D/ca.pem" -u bob -P wrong -t demo/x \
            -m x >/dev/null 2>&1
        deadline=$(($(mqs_now_ms) + 5000))
        until grep -q "user bob): wrong password" "$LOG" || (($(mqs_now_ms) > deadline)); do
            raw_ping || mqs_fail "no PINGRESP after a client hung up during its check"
            sleep 0.05
        done
        grep -q "user bob): wrong password" "$LOG" && break
    done
    grep -q "user bob): wrong password" "$LOG" || mqs_fail "the abandoned check never finished"
    raw_ping || mqs_fail "no PINGRESP after the abandoned check"
    exec 3>&-
}

test_rate_limit() {
    local i out
    # The burst is 12 failures (set above), refilled at 1 a minute.
    for ((i = 0; i < 25; i++)); do
        out=$(pub_pw -V 5 -u alice -P wrong)
        [[ $(lc "$out") == *"bad user name or password"* ]] || break
    done
    grep -q "too many failures, rate limited" "$LOG" || mqs_fail "not rate limited after $i failures: $out"
    out=$(pub_pw -V 5 -u alice -P alice-pw) && mqs_fail "good password accepted while rate limited"
    out=$(pub_x509 -V 5 "${SENSOR[@]}") && mqs_fail "rate limit is per address"
    return 0
}

test_non_loopback_needs_authentication() {
    printf 'listeners:\n  - bind: 0.0.0.0\n    port: %s\n' "$P_PLAIN" >"$D/open.yaml"
    out=$("$MQS_BIN" -c "$D/open.yaml" 2>&1) && mqs_fail "non-loopback listener without authentication started"
    [[ "$out" == *"needs an authentication section"* ]] || mqs_fail "unexpected: $out"
}

make_certs || { echo "certificate generation failed"; cat "$D/openssl.log"; exit 1; }
test_passwd_command
start_broker || { mqs_fail "broker did not start"; cat "$LOG"; exit 1; }
# test_rate_limit uses up the address's budget: it comes last.
for t in test_password_good_bad_unknown test_client_certificates test_wrong_protocol_on_port test_reload \
    test_password_user_keys test_certificate_user_reads_only test_slow_check_does_not_block \
    test_hang_up_during_check test_rate_limit test_non_loopback_needs_authentication; do
    echo "== $t"
    $t
done
mqs_broker_stop

# Stopping while a password check runs: the connection closes with the
# rest, the check's late answer finds nobody, the exit is clean (ASan).
echo "== test_stop_during_check"
start_broker || mqs_fail "broker did not restart"
timeout 10 mosquitto_pub -h localhost -p "$P_PW" --cafile "$D/ca.pem" -u bob -P bob-pw -t demo/x -m x \
    >/dev/null 2>&1 &
sleep 0.4
mqs_broker_stop
wait
if ((MQS_FAILED)); then
    echo "--- broker log"; tail -50 "$LOG"
fi
rm -rf "$MQS_DIR"
exit $MQS_FAILED
