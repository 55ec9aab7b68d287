#!/usr/bin/env bash
# The mqstate command-line tool against a real mqstated: every subcommand,
# every exit status, binary values, watch, keys over several SCAN pages,
# and lock hand-over between two processes. $MQSTATE is the tool (CTest sets
# it); the broker comes from lib.sh. mqstated only: Mosquitto has no state
# store.
. "$(dirname "$0")/lib.sh"

if ((!MQS_IS_MQSTATED)); then
    echo "mqstate CLI tests need mqstated (no state store in Mosquitto): skipped" >&2
    exit 77
fi
MQSTATE=${MQSTATE:?MQSTATE must be the path of the mqstate binary}

# Small SCAN pages, so that `keys` has to follow several continuation tokens.
# LISTENERS (a function name), when set, writes the listeners section
# instead of the single plain one.
LISTENERS=""
mqs_write_config() {
    {
        printf 'log_level: info\n'
        if [[ -n $LISTENERS ]]; then
            "$LISTENERS"
        else
            printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT"
        fi
        printf 'store:\n  scan_page_keys: 3\n'
    } >"$MQS_DIR/broker.conf"
}

# restart_with FUNCTION: the broker again, with FUNCTION's listeners (so
# without lib.sh's -p/--bind, which would replace them), on new ports if
# one is taken.
restart_with() {
    local attempt deadline
    mqs_broker_stop
    LISTENERS=$1
    for attempt in 1 2 3 4 5; do
        MQS_PORT=$((20000 + RANDOM % 40000))
        mqs_port_open "$MQS_PORT" && continue
        mqs_write_config
        "$MQS_BIN" -c "$MQS_DIR/broker.conf" -v >>"$MQS_DIR/broker.log" 2>&1 &
        MQS_PID=$!
        deadline=$(($(mqs_now_ms) + 10000))
        while (($(mqs_now_ms) < deadline)) && kill -0 "$MQS_PID" 2>/dev/null; do
            mqs_port_open "$MQS_PORT" && break 2
            sleep 0.02
        done
        kill -KILL "$MQS_PID" 2>/dev/null
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    LISTENERS=""
    [[ -n $MQS_PID ]] || mqs_fail "broker with $1 did not start"
}

mq() { "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --timeout 5 "$@"; }

# expect_status WANT DESCRIPTION CMD...: runs CMD, checks its exit status.
expect_status() {
    local want=$1 what=$2 got
    shift 2
    "$@" >"$MQS_DIR/out" 2>"$MQS_DIR/err"
    got=$?
    ((got == want)) || mqs_fail "$what: exit $got, want $want ($(head -c 300 "$MQS_DIR/err"))"
}

# wait_for_lines FILE PATTERN [COUNT]: bounded wait until FILE has COUNT
# lines matching PATTERN (grep -E).
wait_for_lines() {
    local file=$1 pattern=$2 count=${3:-1} deadline=$(($(mqs_now_ms) + 10000)) n
    while (($(mqs_now_ms) < deadline)); do
        n=$(grep -cE "$pattern" "$file" 2>/dev/null)
        ((${n:-0} >= count)) && return 0
        sleep 0.05
    done
    mqs_fail "timed out waiting for $count line(s) matching '$pattern' in $file"
    return 1
}

test_usage_errors() {
    expect_status 2 "no command" mq
    expect_status 2 "unknown command" mq frobnicate
    expect_status 2 "unknown option" mq get k --frobnicate
    expect_status 2 "missing key" mq get
    expect_status 2 "key twice" mq get a -k b
    expect_status 2 "empty key" mq get ""
    expect_status 2 "--nx with --nex" mq set k v --nx --nex
    expect_status 2 "option of another command" mq get k --nx
    expect_status 2 "bad port" "$MQSTATE" -p 70000 get k
    expect_status 2 "bad --px" mq set k v --px soon
    expect_status 2 "value and -f" mq set k v -f /dev/null
    expect_status 2 "unreadable value file" mq set k -f "$MQS_DIR/does-not-exist"
    expect_status 2 "lock without --" mq lock name true
    expect_status 2 "bad hex" mq get --key-hex 0g
    expect_status 2 "bad --ft" mq set k v --ft yesterday
    [[ $(head -c 200 "$MQS_DIR/err") == "mqstate: "* ]] || mqs_fail "usage error message: $(cat "$MQS_DIR/err")"
    expect_status 0 "--help" mq --help
    grep -q '^Exit status' "$MQS_DIR/out" || mqs_fail "--help lacks the exit statuses"
    expect_status 0 "version" mq version
    grep -q '^mqstate ' "$MQS_DIR/out" || mqs_fail "version printed '$(cat "$MQS_DIR/out")'"
}

test_set_get_del() {
    expect_status 0 "set" mq set greeting hello
    [[ $(mq get greeting) == hello ]] || mqs_fail "get printed '$(mq get greeting)'"
    # statestore-cli spellings: -n, -k, --value, delete.
    expect_status 0 "set -k --value" "$MQSTATE" -n 127.0.0.1 -p "$MQS_PORT" set -k other --value v1
    [[ $(mq get -k other) == v1 ]] || mqs_fail "get -k"
    expect_status 0 "delete -k" "$MQSTATE" -n 127.0.0.1 -p "$MQS_PORT" delete -k other
    expect_status 1 "delete again" mq delete -k other
    expect_status 1 "get missing" mq get other
    grep -q 'not found' "$MQS_DIR/err" || mqs_fail "get missing said '$(cat "$MQS_DIR/err")'"
    [[ ! -s "$MQS_DIR/out" ]] || mqs_fail "get missing printed on stdout"
    expect_status 0 "del" mq del greeting
    expect_status 1 "del again" mq del greeting
    # Options after the command, value from stdin.
    printf 'from stdin' | mq set piped || mqs_fail "set from stdin"
    [[ $(mq get piped) == "from stdin" ]] || mqs_fail "stdin value"
}

test_conditions_and_expiry() {
    mq set k one || mqs_fail "set"
    expect_status 1 "set --nx on existing" mq set k two --nx
    expect_status 0 "set --nex same value" mq set k one --nex
    expect_status 1 "set --nex other value" mq set k two --nex
    expect_status 0 "set --nx new key" mq set fresh x --nx
    expect_status 1 "vdel other value" mq vdel k two
    expect_status 0 "vdel same value" mq vdel k one
    expect_status 1 "vdel missing" mq vdel k one
    expect_status 0 "set --px" mq set short v --px 300 --persist
    sleep 0.8
    expect_status 1 "expired key" mq get short
}

test_json_output() {
    local out
    out=$(mq --json set j hi) || mqs_fail "json set"
    [[ $out =~ ^\{\"op\":\"set\",\"key\":\"j\",\"key_base64\":\"ag==\",\"applied\":true,\"version\":\"[0-9]+:[0-9]+:.+\"\}$ ]] ||
        mqs_fail "json set printed '$out'"
    out=$(mq get j --json) || mqs_fail "json get"
    [[ $out == *'"found":true,"value":"hi","value_base64":"aGk=","version":"'* ]] ||
        mqs_fail "json get printed '$out'"
    out=$(mq get nothing --json)
    [[ $? == 1 && $out == '{"op":"get","key":"nothing","key_base64":"bm90aGluZw==","found":false}' ]] ||
        mqs_fail "json get missing printed '$out'"
    out=$(mq vdel j other --json --hex)
    [[ $? == 1 && $out == '{"op":"vdel","key":"j","key_hex":"6a","count":-1'* ]] ||
        mqs_fail "json vdel printed '$out'"
}

test_binary_values() {
    local f=$MQS_DIR/binary
    printf 'a\0b\r\n\xff\xfe\0\n' >"$f"
    expect_status 0 "set -f" mq set bin -f "$f"
    expect_status 0 "get -f" mq get bin -f "$MQS_DIR/copy"
    cmp -s "$f" "$MQS_DIR/copy" || mqs_fail "get -f: the file differs"
    mq get bin >"$MQS_DIR/stdout-copy" || mqs_fail "get to stdout"
    cmp -s "$f" "$MQS_DIR/stdout-copy" || mqs_fail "get to stdout: bytes differ"
    mq set bin2 <"$f" || mqs_fail "set from stdin"
    mq get bin2 | cmp -s "$f" - || mqs_fail "stdin round trip differs"
    [[ $(mq get bin --hex) == 6100620d0afffe000a ]] || mqs_fail "--hex printed '$(mq get bin --hex)'"
    [[ $(mq get bin --json) == *"\"value_base64\":\"$(base64 -w0 "$f")\""* ]] ||
        mqs_fail "json base64 printed '$(mq get bin --json)'"
    # A binary key through --key-hex, shown with --hex.
    mq set --key-hex 00ff0a --value-hex 0d0a00 || mqs_fail "set --key-hex"
    [[ $(mq get --key-hex 00ff0a --hex) == 0d0a00 ]] || mqs_fail "get --key-hex"
    mq del --key-hex 00ff0a || mqs_fail "del --key-hex"
}

test_watch() {
    local out=$MQS_DIR/watch.out err=$MQS_DIR/watch.err pid status
    mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --verbose watch w1 -k w2 >"$out" 2>"$err"
    pid=$!
    wait_for_lines "$err" 'watching 2 key' || return
    mq set w1 'a b' && mq del w1 && mq set w2 'x
y' && mq set unwatched z || mqs_fail "changes"
    wait_for_lines "$out" '.' 3 || return
    kill -INT "$pid"
    wait "$pid"
    status=$?
    ((status == 0)) || mqs_fail "watch exited $status after SIGINT"
    local v='[0-9]+:[0-9]+:[^ ]+'
    sed -n 1p "$out" | grep -qE "^$v SET w1 a b\$" || mqs_fail "line 1: $(sed -n 1p "$out")"
    sed -n 2p "$out" | grep -qE "^$v DELETE w1\$" || mqs_fail "line 2: $(sed -n 2p "$out")"
    # A DELETE shows the removed entry's version: the SET's, not a newer one.
    [[ $(sed -n 2p "$out" | cut -d' ' -f1) == "$(sed -n 1p "$out" | cut -d' ' -f1)" ]] ||
        mqs_fail "DELETE version differs from its SET's: $(head -2 "$out" | tr '\n' ' ')"
    sed -n 3p "$out" | grep -qE "^$v SET w2 x\\\\ny\$" || mqs_fail "line 3: $(sed -n 3p "$out")"
    (($(wc -l <"$out") == 3)) || mqs_fail "watch printed $(wc -l <"$out") lines"
    # SIGTERM also ends it cleanly, and --json prints one object per change.
    mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --verbose --json watch w1 >"$out" 2>"$err"
    pid=$!
    wait_for_lines "$err" 'watching 1 key' || return
    mq set w1 v || mqs_fail "set"
    wait_for_lines "$out" '"operation":"SET"' || return
    kill -TERM "$pid"
    wait "$pid"
    status=$?
    ((status == 0)) || mqs_fail "watch exited $status after SIGTERM"
}

test_keys_pages() {
    local i
    for i in $(seq 1 20); do
        printf 'key%02d\n' "$i"
    done >"$MQS_DIR/want"
    for i in $(seq 1 20); do
        mq set "$(printf 'key%02d' "$i")" v >/dev/null || mqs_fail "set key $i"
    done
    mq set other v || mqs_fail "set other"
    mq keys 'key*' | sort >"$MQS_DIR/got" || mqs_fail "keys"
    diff -q "$MQS_DIR/want" "$MQS_DIR/got" >/dev/null || mqs_fail "keys listed: $(tr '\n' ' ' <"$MQS_DIR/got")"
    (($(mq keys | wc -l) == 21)) || mqs_fail "keys * listed $(mq keys | wc -l)"
    (($(mq keys --json 'key0?' | grep -c '^{"key":"key0[1-9]"') == 9)) || mqs_fail "keys --json"
    expect_status 0 "keys without match" mq keys 'nothing*'
}

test_lock() {
    local log=$MQS_DIR/lock.log pid status start
    mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" lock L --ttl 2 -- \
        sh -c "echo A-start >>'$log'; sleep 2.5; echo A-end >>'$log'"
    pid=$!
    wait_for_lines "$log" A-start || return
    # The lease is renewed past its 2 s ttl while A runs: B must wait.
    expect_status 1 "lock --wait 0 while held" mq lock L --wait 0 -- true
    start=$(mqs_now_ms)
    mq lock L -- sh -c "echo B >>'$log'" || mqs_fail "second lock"
    wait "$pid"
    status=$?
    ((status == 0)) || mqs_fail "first lock exited $status"
    [[ $(tr '\n' ' ' <"$log") == "A-start A-end B " ]] || mqs_fail "order: $(tr '\n' ' ' <"$log")"
    (($(mqs_now_ms) - start > 1000)) || mqs_fail "the second lock did not wait"
    expect_status 1 "released lock key is gone" mq get L
    expect_status 7 "command status" mq lock L -- sh -c 'exit 7'
    expect_status 127 "missing command" mq lock L -- /nonexistent/command
}

# A key fenced with the lock's token: writes without --ft are refused (4).
test_fencing_service_error() {
    mq lock F -- sh -c "'$MQSTATE' -h 127.0.0.1 -p $MQS_PORT set fenced v1 --ft \"\$MQSTATE_FENCING_TOKEN\"" ||
        mqs_fail "set with the lock's token"
    expect_status 4 "set without --ft on a fenced key" mq set fenced v2
    grep -qx 'mqstate: set: a fencing token is required for this request' "$MQS_DIR/err" ||
        mqs_fail "service error message: $(cat "$MQS_DIR/err")"
    expect_status 4 "del with an old token" mq del fenced --ft 1:0:old
    [[ $(mq get fenced) == v1 ]] || mqs_fail "fenced value changed"
}

test_connection_refused() {
    local port
    for port in $((MQS_PORT + 1)) $((MQS_PORT + 2)) $((MQS_PORT + 3)); do
        mqs_port_open "$port" || break
    done
    expect_status 3 "connection refused" "$MQSTATE" -p "$port" --timeout 3 get k
    [[ $(wc -l <"$MQS_DIR/err") == 1 ]] || mqs_fail "refused: $(cat "$MQS_DIR/err")"
    expect_status 3 "watch, connection refused" "$MQSTATE" -p "$port" --timeout 3 watch k
    expect_status 3 "lock, connection refused" "$MQSTATE" -p "$port" --timeout 3 lock k -- true
}

# One password user (bob), at most two connections.
password_listener() {
    printf 'bob-pw\n' | "$MQS_BIN" passwd --stdin "$MQS_DIR/passwd" bob >/dev/null 2>&1
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT"
    printf '    authentication:\n      methods: [password]\n      password_file: %s\n' "$MQS_DIR/passwd"
    printf '      failure_delay_ms: 100\nlimits:\n  max_connections: 2\n'
}

# expect_connect_error DESCRIPTION TEXT ARGS...: exit 3 within 5 s (the
# default --timeout is 10 s), one line on stderr containing TEXT.
expect_connect_error() {
    local what=$1 text=$2 start
    shift 2
    start=$(mqs_now_ms)
    expect_status 3 "$what" "$MQSTATE" -h 127.0.0.1 "$@" get k
    (($(mqs_now_ms) - start < 5000)) || mqs_fail "$what: took $(($(mqs_now_ms) - start)) ms"
    grep -qF "$text" "$MQS_DIR/err" || mqs_fail "$what: said '$(cat "$MQS_DIR/err")', want '$text'"
    (($(wc -l <"$MQS_DIR/err") == 1)) || mqs_fail "$what: $(wc -l <"$MQS_DIR/err") lines on stderr"
}

# Refusals name the broker's reason without --verbose.
test_connect_refusals() {
    restart_with password_listener
    local p=$MQS_PORT pid pids=() status
    expect_connect_error "bad password" "refused the connection: Bad User Name or Password" \
        -p "$p" -u bob -P wrong
    expect_connect_error "no credentials" "refused the connection: Not authorized" -p "$p"
    # The user and password from the environment, or from a file.
    expect_status 1 "MQSTATE_USERNAME + MQSTATE_PASSWORD" \
        env MQSTATE_USERNAME=bob MQSTATE_PASSWORD=bob-pw "$MQSTATE" -h 127.0.0.1 -p "$p" get k
    printf 'bob-pw\n' >"$MQS_DIR/pw"
    expect_status 1 "--password-file" \
        "$MQSTATE" -h 127.0.0.1 -p "$p" -u bob --password-file "$MQS_DIR/pw" get k
    expect_status 2 "-P and --password-file" \
        "$MQSTATE" -p "$p" -u bob -P x --password-file "$MQS_DIR/pw" get k
    expect_status 2 "MQSTATE_PASSWORD without a user" env MQSTATE_PASSWORD=x "$MQSTATE" -p "$p" get k
    # --askpass: typed on the terminal (a pty from script(1)), not echoed.
    if command -v script >/dev/null; then
        local out=$MQS_DIR/askpass.out
        : >"$out"
        {
            for _ in $(seq 1 400); do
                grep -q 'Password for bob' "$out" && break
                sleep 0.05
            done
            printf 'bob-pw\n'
        } | timeout 30 script -qec "'$MQSTATE' -h 127.0.0.1 -p $p -u bob --askpass get k" /dev/null >"$out" 2>&1
        status=$?
        ((status == 1)) && grep -q 'k: not found' "$out" || mqs_fail "--askpass: exit $status: $(cat "$out")"
        grep -q 'bob-pw' "$out" && mqs_fail "--askpass echoed the password"
    else
        mqs_note "script(1) missing: --askpass not tested"
    fi
    # lock hands user and password on: the command's own mqstate logs in.
    expect_status 1 "lock passes the credentials" "$MQSTATE" -h 127.0.0.1 -p "$p" -u bob \
        --password-file "$MQS_DIR/pw" lock L -- "$MQSTATE" get k
    grep -q 'k: not found' "$MQS_DIR/err" || mqs_fail "lock's command said: $(cat "$MQS_DIR/err")"
    # max_connections (2) reached.
    for pid in 1 2; do
        mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$p" -u bob -P bob-pw --verbose watch k >/dev/null \
            2>"$MQS_DIR/w$pid.err"
        pids+=($!)
    done
    wait_for_lines "$MQS_DIR/w1.err" 'watching 1 key' || return
    wait_for_lines "$MQS_DIR/w2.err" 'watching 1 key' || return
    expect_connect_error "over max_connections" "refused the connection: Quota exceeded" \
        -p "$p" -u bob -P bob-pw
    for pid in "${pids[@]}"; do
        kill -TERM "$pid"
        wait "$pid"
    done
}

# CA, a second unrelated CA, a server certificate for localhost/127.0.0.1
# and one for another name.
make_certs() {
    local d=$MQS_DIR
    {
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=Test CA" &&
            openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other.key" -out "$d/other.pem" -days 2 -subj "/CN=Other CA" &&
            openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" &&
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/san.ext" &&
            openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 1 -days 2 \
                -extfile "$d/san.ext" -out "$d/server.pem" &&
            printf 'subjectAltName=DNS:elsewhere.example\n' >"$d/san2.ext" &&
            openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 2 -days 2 \
                -extfile "$d/san2.ext" -out "$d/wrong-name.pem"
    } >>"$d/openssl.log" 2>&1
}

# Plain on MQS_PORT, TLS on +1 (right name), TLS on +2 (wrong name).
tls_listeners() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT"
    printf '  - bind: 127.0.0.1\n    port: %s\n    tls:\n      cert_file: %s\n      key_file: %s\n' \
        $((MQS_PORT + 1)) "$MQS_DIR/server.pem" "$MQS_DIR/server.key"
    printf '  - bind: 127.0.0.1\n    port: %s\n    tls:\n      cert_file: %s\n      key_file: %s\n' \
        $((MQS_PORT + 2)) "$MQS_DIR/wrong-name.pem" "$MQS_DIR/server.key"
}

# TLS failures name their cause; a closed port fails at once.
test_connect_failures() {
    make_certs || { mqs_fail "openssl: $(tail -3 "$MQS_DIR/openssl.log")"; return; }
    restart_with tls_listeners
    local p=$MQS_PORT closed
    expect_status 1 "TLS with the right CA" \
        "$MQSTATE" -h 127.0.0.1 -p $((p + 1)) --cafile "$MQS_DIR/ca.pem" get k
    expect_connect_error "unknown CA" "not trusted: unable to get local issuer certificate (unknown CA)" \
        -p $((p + 1)) --cafile "$MQS_DIR/other.pem"
    expect_connect_error "host name mismatch" "does not match the host name 127.0.0.1" \
        -p $((p + 2)) --cafile "$MQS_DIR/ca.pem"
    expect_connect_error "plain MQTT to a TLS port" "try --tls" -p $((p + 1))
    for closed in $((p + 3)) $((p + 4)) $((p + 5)); do
        mqs_port_open "$closed" || break
    done
    expect_connect_error "closed port" "Connection refused" -p "$closed"
}

# MQSTATE_HOST/MQSTATE_PORT, the command line winning over them, and lock
# passing them to its command (the README's fenced write on any port).
test_environment() {
    expect_status 0 "set via MQSTATE_HOST/PORT" \
        env MQSTATE_HOST=127.0.0.1 MQSTATE_PORT="$MQS_PORT" "$MQSTATE" set envk v1
    [[ $(mq get envk) == v1 ]] || mqs_fail "MQSTATE_PORT: the value did not arrive"
    expect_status 0 "-p wins over MQSTATE_PORT" \
        env MQSTATE_PORT=1 "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" get envk
    expect_status 2 "bad MQSTATE_PORT" env MQSTATE_PORT=x "$MQSTATE" get envk
    grep -q "MQSTATE_PORT: 'x'" "$MQS_DIR/err" || mqs_fail "bad MQSTATE_PORT said: $(cat "$MQS_DIR/err")"
    # The command of lock reaches the same broker without -h/-p.
    env -u MQSTATE_HOST -u MQSTATE_PORT "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" lock F2 -- \
        sh -c '"$0" set fenced2 v --ft "$MQSTATE_FENCING_TOKEN"' "$MQSTATE" 2>"$MQS_DIR/err" ||
        mqs_fail "fenced write inside lock: $(cat "$MQS_DIR/err")"
    [[ $(mq get fenced2) == v ]] || mqs_fail "the fenced write inside lock did not arrive"
    expect_status 4 "fenced2 is fenced" mq set fenced2 w
}

# elect: one leader at a time, CMD's status, resign at the end, CMD
# stopped when leadership is lost.
test_elect() {
    local log=$MQS_DIR/elect.log pid status start out
    mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" elect E --ttl 2 -- \
        sh -c "echo A-start >>'$log'; sleep 2.5; echo A-end >>'$log'"
    pid=$!
    wait_for_lines "$log" A-start || return
    [[ $(mq get E) == mqstate-* ]] || mqs_fail "the position holds '$(mq get E)'"
    expect_status 1 "elect --wait 0 while another leads" mq elect E --wait 0 -- true
    start=$(mqs_now_ms)
    mq elect E -- sh -c "echo B >>'$log'" || mqs_fail "second elect"
    wait "$pid"
    status=$?
    ((status == 0)) || mqs_fail "first elect exited $status"
    [[ $(tr '\n' ' ' <"$log") == "A-start A-end B " ]] || mqs_fail "order: $(tr '\n' ' ' <"$log")"
    (($(mqs_now_ms) - start > 1000)) || mqs_fail "the second elect did not wait"
    expect_status 1 "resigned: the position is free" mq get E
    expect_status 7 "command status" mq elect E -- sh -c 'exit 7'
    # CMD gets the connection settings and sees its own leadership.
    out=$(env -u MQSTATE_PORT "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" elect E -- \
        sh -c '"$0" get E' "$MQSTATE") || mqs_fail "get inside elect"
    [[ $out == mqstate-* ]] || mqs_fail "inside elect, the leader is '$out'"
    # Leadership lost (someone deleted the position): CMD is stopped, 4.
    mqs_bg "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" --verbose elect E -- sleep 30 2>"$MQS_DIR/elect.err"
    pid=$!
    wait_for_lines "$MQS_DIR/elect.err" 'elected' || return
    start=$(mqs_now_ms)
    mq del E || mqs_fail "del E"
    wait "$pid"
    status=$?
    ((status == 4)) || mqs_fail "elect exited $status after losing the leadership, want 4"
    (($(mqs_now_ms) - start < 10000)) || mqs_fail "the command was not stopped at once"
    grep -q 'leadership lost' "$MQS_DIR/elect.err" || mqs_fail "loss message: $(cat "$MQS_DIR/elect.err")"
}

mqs_run_tests test_usage_errors test_set_get_del test_conditions_and_expiry test_json_output \
    test_binary_values test_watch test_keys_pages test_lock test_fencing_service_error \
    test_connection_refused test_connect_refusals test_connect_failures test_environment test_elect
