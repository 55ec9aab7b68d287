#!/usr/bin/env bash
# Logging and configuration checks against the real mqstated
# (docs/logging.md, docs/configuration.md): the `log:` section (JSON lines,
# file destination, reopen on SIGUSR1 and SIGHUP, syslog), the startup,
# connect and disconnect lines, and `mqstated --check-config`.
. "$(dirname "$0")/lib.sh"

D=$MQS_DIR
LOG=$D/broker.log

if ((!MQS_IS_MQSTATED)); then
    echo "SKIP: mqstated only"
    rm -rf "$MQS_DIR"
    exit 77
fi

# start_broker WRITER: picks a free port P, runs WRITER (writes $D/c.yaml
# for port $P), starts mqstated -c $D/c.yaml (stdout and stderr to $LOG)
# and waits (bounded) until P accepts connections.
P=0
start_broker() {
    local writer=$1 attempt
    for attempt in 1 2 3 4 5; do
        P=$((20000 + RANDOM % 12000))
        mqs_port_open "$P" && continue
        "$writer"
        "$MQS_BIN" -c "$D/c.yaml" >>"$LOG" 2>&1 &
        MQS_PID=$!
        local deadline=$(($(mqs_now_ms) + 10000))
        while (($(mqs_now_ms) < deadline)); do
            kill -0 "$MQS_PID" 2>/dev/null || break
            mqs_port_open "$P" && return 0
            sleep 0.05
        done
        kill -0 "$MQS_PID" 2>/dev/null && return 1
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    return 1
}

# wait_for FILE TEXT [MS]: until FILE contains TEXT (bounded).
wait_for() {
    local deadline=$(($(mqs_now_ms) + ${3:-5000}))
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        (($(mqs_now_ms) < deadline)) || return 1
        sleep 0.02
    done
}

# pubs N PREFIX [ARGS...]: N clients PREFIX1..PREFIXN publish one message each.
pubs() {
    local n=$1 prefix=$2 i
    shift 2
    for ((i = 1; i <= n; i++)); do
        timeout 10 mosquitto_pub -p "$P" -V 5 -i "$prefix$i" -t t -m x "$@" || mqs_fail "publish $prefix$i"
    done
}

count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

# --- JSON lines ---------------------------------------------------------------

write_json() {
    printf 'log:\n  destination: file\n  file: %s/json.log\n  format: json\n  level: info\nlisteners:\n  - port: %s\n' \
        "$D" "$P" >"$D/c.yaml"
}

# Every line is one JSON object with ts, level and msg; quotes,
# backslashes and control characters of a client id and user name stay
# inside the string; the password never appears.
test_json_lines() {
    rm -f "$D/json.log"
    start_broker write_json || { mqs_fail "broker did not start"; return; }
    timeout 10 mosquitto_pub -p "$P" -V 5 -i 'q"uo\te' -u 'us"er\x' -P 'pw-SECRET-1' -k 42 -t t -m x ||
        mqs_fail "publish"
    wait_for "$D/json.log" 'disconnected' || mqs_fail "no disconnect line"
    mqs_broker_stop
    [[ -s $LOG ]] && mqs_fail "stderr not empty with destination file: $(head -3 "$LOG")"
    python3 - "$D/json.log" <<'EOF' || mqs_fail "JSON lines"
import json, re, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
assert lines[-1] == b'', 'last line not terminated'
objs = [json.loads(l) for l in lines[:-1]]
assert len(objs) >= 4, len(objs)
for o in objs:
    assert list(o.keys()) == ['ts', 'level', 'msg'], o
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', o['ts']), o['ts']
    assert o['level'] in ('error', 'warn', 'info', 'debug'), o
msgs = [o['msg'] for o in objs]
conn = [m for m in msgs if ' connected (' in m]
assert len(conn) == 1 and 'client q"uo\\te connected (user "us"er\\x", MQTT 5, keep alive 42 s' in conn[0], conn
assert any(re.search(r'^127\.0\.0\.1:\d+: client q"uo\\te disconnected \(user "us"er\\x", MQTT 5, keep alive 42 s\): client sent DISCONNECT, reason 0x00$', m) for m in msgs), msgs
assert any(re.search(r'^mqstated \S+ started: config .*/c\.yaml, listeners 127\.0\.0\.1:\d+$', m) for m in msgs), msgs
EOF
    grep -q 'SECRET' "$D/json.log" && mqs_fail "the password was logged"
    if command -v jq >/dev/null; then
        jq -e -s 'all(has("ts") and has("level") and has("msg"))' "$D/json.log" >/dev/null || mqs_fail "jq"
    fi
}

write_password() {
    printf 'log:\n  level: debug\nlisteners:\n  - port: %s\n    authentication:\n      methods: [password]\n      password_file: %s/pw\n      failure_delay_ms: 0\n' \
        "$P" "$D" >"$D/c.yaml"
}

# Passwords, right or wrong, never reach the log, at debug either.
test_credentials_not_logged() {
    rm -f "$D/pw"
    echo "pw-SECRET-1" | "$MQS_BIN" passwd --stdin --iterations 1000 "$D/pw" alice 2>/dev/null || mqs_fail "passwd"
    start_broker write_password || { mqs_fail "broker did not start"; return; }
    pubs 1 ok -u alice -P pw-SECRET-1
    timeout 10 mosquitto_pub -p "$P" -V 5 -i bad1 -u alice -P pw-SECRET-2 -t t -m x 2>/dev/null &&
        mqs_fail "wrong password accepted"
    wait_for "$LOG" "authentication failed for 127.0.0.1" || mqs_fail "no authentication failure line"
    grep -q 'client ok1 connected (user "alice", MQTT 5' "$LOG" || mqs_fail "no connect line for alice"
    grep -q 'SECRET' "$LOG" "$D/c.yaml" && mqs_fail "a password was logged"
}

# --- file destination, rotation ------------------------------------------------

write_file() {
    printf 'log:\n  destination: file\n  file: %s/rot.log\nlisteners:\n  - port: %s\n' "$D" "$P" >"$D/c.yaml"
}

# logrotate's way: rename, then SIGUSR1. Lines before the signal are in
# the renamed file, lines after it in the new one, none lost. A reopen
# that fails keeps the old file and says why there.
test_file_reopen_on_sigusr1() {
    rm -f "$D"/rot.log*
    start_broker write_file || { mqs_fail "broker did not start"; return; }
    pubs 5 a
    wait_for "$D/rot.log" "client a5 disconnected" || mqs_fail "a5 not logged"
    mv "$D/rot.log" "$D/rot.log.1"
    pubs 3 b # renamed, not yet reopened: these go to rot.log.1
    wait_for "$D/rot.log.1" "client b3 disconnected" || mqs_fail "b3 not logged"
    kill -USR1 "$MQS_PID"
    wait_for "$D/rot.log" "SIGUSR1: log file reopened" || mqs_fail "no reopen line in the new file"
    pubs 4 c
    wait_for "$D/rot.log" "client c4 disconnected" || mqs_fail "c4 not logged"
    # A reopen that fails: the path is now a directory.
    mv "$D/rot.log" "$D/rot.log.2"
    mkdir "$D/rot.log"
    kill -USR1 "$MQS_PID"
    wait_for "$D/rot.log.2" "SIGUSR1: log.file $D/rot.log: cannot open it for appending: Is a directory; still writing to the old file" ||
        mqs_fail "failed reopen not reported in the old file"
    pubs 2 d
    wait_for "$D/rot.log.2" "client d2 disconnected" || mqs_fail "d2 not in the old file"
    mqs_broker_stop
    local n1 n2
    n1=$(count "$D/rot.log.1" ' connected (')
    n2=$(count "$D/rot.log.2" ' connected (')
    ((n1 == 8 && n2 == 6)) || mqs_fail "connect lines: $n1 in rot.log.1 (want 8), $n2 in rot.log.2 (want 6)"
    [[ -s $LOG ]] && mqs_fail "stderr not empty: $(head -3 "$LOG")"
    rmdir "$D/rot.log"
}

# A start with a log file that cannot be opened fails at once, saying why.
test_unwritable_log_file_refused() {
    printf 'log:\n  destination: file\n  file: %s/no/such/dir/x.log\nlisteners:\n  - port: 0\n' "$D" >"$D/e.yaml"
    local out rc
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    rc=$?
    ((rc == 1)) || mqs_fail "exit status $rc, want 1"
    [[ $out == "mqstated: log.file $D/no/such/dir/x.log: cannot open it for appending: No such file or directory" ]] ||
        mqs_fail "message: '$out'"
}

# --- SIGHUP: level, format, destination ---------------------------------------------

LEVEL=warn
FORMAT=text
write_level() {
    printf 'log:\n  destination: file\n  file: %s/lvl.log\n  level: %s\n  format: %s\nlisteners:\n  - port: %s\n' \
        "$D" "$LEVEL" "$FORMAT" "$P" >"$D/c.yaml"
}

test_sighup_changes_level_and_format() {
    rm -f "$D/lvl.log"
    LEVEL=warn FORMAT=text
    start_broker write_level || { mqs_fail "broker did not start"; return; }
    pubs 1 quiet
    sleep 0.3
    grep -q "client quiet1" "$D/lvl.log" && mqs_fail "info line logged at level warn"
    LEVEL=info FORMAT=json
    write_level
    kill -HUP "$MQS_PID"
    sleep 0.5 # the reload's own lines are info: not logged at warn
    pubs 1 loud
    wait_for "$D/lvl.log" '"msg":"127.0.0.1' || mqs_fail "no JSON connect line after the reload"
    grep -q 'client loud1 connected' "$D/lvl.log" || mqs_fail "info line missing at level info"
    # The old spelling is the same setting; both at once must agree.
    printf 'log_level: error\nlog:\n  destination: file\n  file: %s/lvl.log\n  level: info\nlisteners:\n  - port: %s\n' \
        "$D" "$P" >"$D/c.yaml"
    kill -HUP "$MQS_PID"
    wait_for "$D/lvl.log" "c.yaml:5: log.level: info conflicts with log_level: error at line 1" ||
        mqs_fail "conflicting levels not refused"
    mqs_broker_stop
    tail -n +2 "$D/lvl.log" | grep '^{' | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' ||
        mqs_fail "JSON lines after the reload do not parse"
}

write_quota() {
    printf 'limits:\n  max_connections: 1\nlisteners:\n  - port: %s\n' "$P" >"$D/c.yaml"
}

# A CONNECT refused for the quota says so at info.
test_quota_refusal_logged() {
    start_broker write_quota || { mqs_fail "broker did not start"; return; }
    mqs_bg timeout 20 mosquitto_sub -p "$P" -V 5 -i holder -t t
    wait_for "$LOG" "client holder connected" || mqs_fail "holder not connected"
    timeout 10 mosquitto_pub -p "$P" -V 5 -i second -t t -m x 2>/dev/null && mqs_fail "second client accepted"
    wait_for "$LOG" ": CONNECT refused: max_connections (1) reached" || mqs_fail "no refusal line"
    kill "${MQS_BG_PIDS[-1]}" 2>/dev/null
}

# --- syslog ------------------------------------------------------------------------------

write_syslog() {
    printf 'log:\n  destination: syslog\nlisteners:\n  - port: %s\n' "$P" >"$D/c.yaml"
}

# Runs mqstated in a private mount namespace whose /dev/log is a datagram
# socket read by a small Python listener writing each message as a line
# to $D/syslog.out: the lines themselves are checked without touching the
# machine's syslog. $MQS_PID is mqstated's PID.
start_syslog_ns() {
    cat >"$D/syslog_listener.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'ab', buffering=0) as out:
    while True:
        out.write(s.recv(65536).replace(b'\n', b' ') + b'\n')
EOF
    # In the namespace only: a tmpfs on /dev with the usual devices bound
    # back, and the listener's socket as /dev/log.
    cat >"$D/ns.sh" <<'EOF'
set -e
D=$1
shift
[ -n "$D" ] && [ -d "$D" ]
mkdir -p "$D/olddev"
mount --rbind /dev "$D/olddev"
mount -t tmpfs tmpfs /dev
for n in null zero full random urandom tty; do
    [ -e "$D/olddev/$n" ] || continue
    touch "/dev/$n"
    mount --bind "$D/olddev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
python3 "$D/syslog_listener.py" /dev/log "$D/syslog.out" &
echo $! >"$D/listener.pid"
for i in $(seq 500); do [ -S /dev/log ] && break; sleep 0.01; done
exec "$@"
EOF
    local attempt
    for attempt in 1 2 3 4 5; do
        P=$((20000 + RANDOM % 12000))
        mqs_port_open "$P" && continue
        write_syslog
        unshare -m --propagation private bash "$D/ns.sh" "$D" "$MQS_BIN" -c "$D/c.yaml" >>"$LOG" 2>&1 &
        MQS_PID=$!
        local deadline=$(($(mqs_now_ms) + 10000))
        while (($(mqs_now_ms) < deadline)); do
            kill -0 "$MQS_PID" 2>/dev/null || break
            mqs_port_open "$P" && return 0
            sleep 0.05
        done
        kill -0 "$MQS_PID" 2>/dev/null && return 1
        wait "$MQS_PID" 2>/dev/null
        MQS_PID=""
    done
    return 1
}

# Nothing on stderr, the server serves, and (where a mount namespace can
# be made) the lines reach /dev/log with ident mqstated, facility daemon
# and the level's priority.
test_syslog_destination() {
    if unshare -m --propagation private true 2>/dev/null; then
        rm -f "$D/syslog.out"
        start_syslog_ns || { mqs_fail "broker did not start"; return; }
        pubs 2 s
        kill -0 "$MQS_PID" || mqs_fail "broker died"
        mqs_broker_stop
        [[ -f $D/listener.pid ]] && kill "$(cat "$D/listener.pid")" 2>/dev/null
        # <30>: facility daemon (3 << 3) + info (6).
        grep -qE '^<30>.* mqstated\[[0-9]+\]: 127\.0\.0\.1:[0-9]+: client s2 connected \(user \(none\), MQTT 5' \
            "$D/syslog.out" || mqs_fail "no connect line in syslog: $(head -5 "$D/syslog.out" 2>&1)"
        grep -qE '^<30>.* mqstated\[[0-9]+\]: mqstated \S+ started: config ' "$D/syslog.out" ||
            mqs_fail "no startup line in syslog"
        grep -q 'mqstated info:' "$D/syslog.out" && mqs_fail "text prefix repeated in syslog messages"
    else
        mqs_note "no mount namespace here: only stderr is checked, not the syslog lines"
        start_broker write_syslog || { mqs_fail "broker did not start"; return; }
        pubs 2 s
        kill -0 "$MQS_PID" || mqs_fail "broker died"
        mqs_broker_stop
    fi
    [[ -s $LOG ]] && mqs_fail "stderr not empty with destination syslog: $(head -3 "$LOG")"
}

# --- --check-config ------------------------------------------------------------------

# check FILE STATUS TEXT: --check-config -c FILE exits STATUS, prints TEXT.
check() {
    local out rc
    out=$(timeout 10 "$MQS_BIN" --check-config -c "$1" 2>&1)
    rc=$?
    ((rc == $2)) || mqs_fail "--check-config $1: exit $rc, want $2 ($out)"
    [[ $out == *"$3"* ]] || mqs_fail "--check-config $1: '$out' lacks '$3'"
}

test_check_config() {
    local c=$D/cc.yaml
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/k.pem" -out "$D/cert.pem" \
        -days 2 -subj /CN=localhost 2>/dev/null || {
        mqs_fail "openssl"
        return
    }
    echo "pw" | "$MQS_BIN" passwd --stdin --iterations 1000 "$D/pw" alice 2>/dev/null || mqs_fail "passwd"
    mkdir -p "$D/data"
    echo keep >"$D/data/statestore.log"
    # Everything at once, and it loads without touching the data directory.
    printf 'log:\n  destination: file\n  file: %s/cc.log\n  format: json\nlisteners:\n  - bind: 0.0.0.0\n    port: %s\n    tls:\n      cert_file: %s/cert.pem\n      key_file: %s/k.pem\n    authentication:\n      methods: [password]\n      password_file: %s/pw\npersistence:\n  dir: %s/data\n' \
        "$D" "$((20000 + RANDOM % 12000))" "$D" "$D" "$D" "$D" >"$c"
    local before
    before=$(ls -la --time-style=full-iso "$D/data")
    check "$c" 0 "configuration OK: $c"
    [[ $(ls -la --time-style=full-iso "$D/data") == "$before" ]] || mqs_fail "--check-config touched the data directory"
    [[ -e $D/cc.log ]] && mqs_fail "--check-config created the log file"
    # A directory that does not exist yet is fine (a start creates it) and stays absent.
    printf 'persistence:\n  dir: %s/new\n' "$D" >"$c"
    check "$c" 0 "configuration OK"
    [[ -e $D/new ]] && mqs_fail "--check-config created the persistence directory"
    # Each class of error, with the message a start prints.
    printf 'listeners:\n  - port: 1\n   bind: x\n' >"$c"
    check "$c" 1 "mqstated: $c:3: YAML syntax error"
    printf 'log:\n  levl: info\n' >"$c"
    check "$c" 1 "mqstated: $c:2: unknown key \"log.levl\""
    printf 'log:\n  destination: file\n' >"$c"
    check "$c" 1 "mqstated: $c:2: log.file: required with destination: file"
    printf 'listeners:\n  - port: 0\n    authentication:\n      methods: [password]\n      password_file: %s/nopw\n' "$D" >"$c"
    check "$c" 1 "mqstated: $c:3: listeners[0].authentication.password_file: $D/nopw: No such file or directory"
    echo "not a certificate" >"$D/bad.pem"
    printf 'listeners:\n  - port: 0\n    tls:\n      cert_file: %s/bad.pem\n      key_file: %s/k.pem\n' "$D" "$D" >"$c"
    check "$c" 1 "mqstated: $c:3: listeners[0].tls: cert_file $D/bad.pem"
    printf 'log:\n  destination: file\n  file: %s/nodir/x.log\n' "$D" >"$c"
    check "$c" 1 "mqstated: log.file $D/nodir/x.log: cannot open it for appending: No such file or directory"
    printf 'persistence:\n  dir: %s/data/statestore.log\n' "$D" >"$c"
    check "$c" 1 "mqstated: persistence.dir $D/data/statestore.log: cannot open the lock file $D/data/statestore.log/LOCK: Not a directory"
    check "$D/missing.yaml" 1 "mqstated: $D/missing.yaml: No such file or directory"
    local out rc
    out=$(timeout 10 "$MQS_BIN" --check-config 2>&1)
    rc=$?
    ((rc == 2)) && [[ $out == *"--check-config needs -c FILE"* ]] || mqs_fail "--check-config without -c: $rc '$out'"
    "$MQS_BIN" --help | grep -q -- "--check-config" || mqs_fail "--help does not mention --check-config"
    [[ $("$MQS_BIN" --version) == "mqstated "* ]] || mqs_fail "--version"
}

ALL_TESTS=(test_json_lines test_credentials_not_logged test_file_reopen_on_sigusr1 test_unwritable_log_file_refused
    test_sighup_changes_level_and_format test_quota_refusal_logged test_syslog_destination test_check_config)
for t in "${@:-${ALL_TESTS[@]}}"; do
    echo "== $t"
    : >"$LOG"
    before=$MQS_FAILED
    MQS_FAILED=0
    $t
    mqs_broker_stop
    if ((MQS_FAILED)); then
        echo "FAIL $t"
        sed 's/^/  | /' "$LOG"
    else
        echo "PASS $t"
    fi
    ((before)) && MQS_FAILED=1
done
[[ -f $D/listener.pid ]] && kill "$(cat "$D/listener.pid")" 2>/dev/null
rm -rf "$MQS_DIR"
exit $MQS_FAILED
