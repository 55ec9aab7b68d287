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
    # A loopback listener is not made public by --bind, whatever its
    # authentication (even anonymous-only, or none at all).
    printf 'listeners:\n  - port: 1\n' >"$D/open.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/open.yaml" --bind 0.0.0.0 2>&1) && mqs_fail "--bind 0.0.0.0 opened an unauthenticated listener"
    [[ $out == *"--bind 0.0.0.0: the listener is on loopback address 127.0.0.1; a public address must be set in the configuration file"* ]] ||
        mqs_fail "--bind 0.0.0.0: '$out'"
    printf 'listeners:\n  - port: 1\n    authentication:\n      methods: [anonymous]\n' >"$D/anon.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/anon.yaml" --bind 0.0.0.0 2>&1) && mqs_fail "--bind 0.0.0.0 exposed an anonymous listener"
    [[ $out == *"is on loopback address"* ]] || mqs_fail "--bind 0.0.0.0 (anonymous): '$out'"
    out=$(timeout 10 "$MQS_BIN" --bind :: -p 1 2>&1) && mqs_fail "--bind :: without a file opened an unauthenticated listener"
    [[ $out == *"--bind ::: the listener is on loopback address"* ]] || mqs_fail "--bind ::: '$out'"
    # Several listeners: -p is refused, not applied to a guessed one.
    printf 'listeners:\n  - port: 1\n  - port: 2\n' >"$D/two.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/two.yaml" -p 0 2>&1)
    (($? == 2)) || mqs_fail "-p with two listeners: exit status not 2"
    [[ $out == *"the configuration has 2 listeners; set their addresses in the file"* ]] ||
        mqs_fail "-p with two listeners: '$out'"
}

# --- certificates (openssl), a CA able to revoke ------------------------------

ssl() { openssl "$@" 2>>"$D/openssl.log"; }

make_certs() {
    [[ -f $D/ca.pem ]] && return 0
    ssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/ca.key" -out "$D/ca.pem" -days 2 -subj "/CN=Test CA" || return 1
    echo "key-pw" >"$D/server.key.pass"
    ssl req -newkey rsa:2048 -passout "file:$D/server.key.pass" -keyout "$D/server.key" -out "$D/server.csr" \
        -subj "/CN=localhost" || return 1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/san.ext"
    ssl x509 -req -in "$D/server.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial 1 -days 2 \
        -extfile "$D/san.ext" -out "$D/server.pem" || return 1
    local c serial=10
    for c in good revoked; do
        ssl req -newkey rsa:2048 -nodes -keyout "$D/$c.key" -out "$D/$c.csr" -subj "/CN=$c" || return 1
        ssl x509 -req -in "$D/$c.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -set_serial $((serial++)) -days 2 \
            -out "$D/$c.pem" || return 1
    done
    printf '[ca]\ndefault_ca = CA_default\n[CA_default]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n' \
        "$D" "$D" >"$D/ca.cnf"
    : >"$D/index.txt"
    echo 01 >"$D/crlnumber"
    gen_crl
}

gen_crl() { ssl ca -config "$D/ca.cnf" -keyfile "$D/ca.key" -cert "$D/ca.pem" -gencrl -out "$D/crl.pem"; }

chmod_secrets() {
    chmod "$1" "$D/server.key" "$D/server.key.pass" "$D/passwd"
}

CRL_LINE="" # "      crl_file: ..." for test_crl
write_tls_listener() {
    cat >"$D/c.yaml" <<EOF
listeners:
  - bind: 127.0.0.1
    port: $P
    tls:
      cert_file: $D/server.pem
      key_file: $D/server.key
      key_password_file: $D/server.key.pass
      ca_file: $D/ca.pem
      client_certs: optional
$CRL_LINE
    authentication:
      methods: [x509, password]
      password_file: $D/passwd
      failure_delay_ms: 0
EOF
}

pub_tls() {
    local who=$1
    shift
    timeout 10 mosquitto_pub -V 5 -h localhost -p "$P" --cafile "$D/ca.pem" --cert "$D/$who.pem" --key "$D/$who.key" \
        -t t -m x "$@" 2>&1
}

# --- 8.11: secrets other users can read are loaded with a warning -------------

test_exposed_secrets_warned() {
    make_certs || { mqs_fail "certificate generation failed: $(tail -5 "$D/openssl.log")"; return; }
    make_passwd
    chmod_secrets 644
    : >"$LOG"
    start_broker write_tls_listener || { mqs_fail "broker did not start"; return; }
    local f
    for f in "tls.key_file $D/server.key" "tls.key_password_file $D/server.key.pass" \
        "authentication.password_file $D/passwd"; do
        grep -q "warn: $D/c.yaml:[0-9]*: listeners\[0\]\.$f is readable by every user (mode 0644): chmod o-rwx it" "$LOG" ||
            mqs_fail "no warning at start for $f"
    done
    # Fixed: a reload is quiet; broken again (writable now): warned on reload.
    chmod_secrets 600
    : >"$LOG"
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "reload: TLS certificates and password files reloaded" "$LOG" || mqs_fail "no reload"
    grep -q "by every user" "$LOG" && mqs_fail "warned about files that are private now"
    chmod 666 "$D/passwd" "$D/ca.pem" "$D/c.yaml"
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "listeners\[0\]\.authentication\.password_file $D/passwd is writable by every user (mode 0666)" "$LOG" ||
        mqs_fail "no warning on reload for a world-writable password file"
    # Not secret, but deciding who gets in: anyone could add a CA.
    grep -q "listeners\[0\]\.tls\.ca_file $D/ca.pem is writable by every user (mode 0666): chmod o-w it" "$LOG" ||
        mqs_fail "no warning on reload for a world-writable ca_file"
    grep -q "configuration $D/c.yaml is writable by every user (mode 0666)" "$LOG" ||
        mqs_fail "no warning on reload for a world-writable configuration file"
    chmod 644 "$D/ca.pem" "$D/c.yaml"
    if ((EUID == 0)); then
        chmod 600 "$D/passwd"
        chown 65534 "$D/passwd"
        kill -HUP "$MQS_PID"
        sleep 0.5
        grep -q "password_file $D/passwd is owned by uid 65534, neither root nor mqstated's user" "$LOG" ||
            mqs_fail "no warning for a password file owned by another user"
        chown 0 "$D/passwd"
    fi
    chmod 600 "$D/passwd"
}

# --- 8.12: certificate revocation lists ----------------------------------------

test_crl() {
    make_certs || { mqs_fail "certificate generation failed: $(tail -5 "$D/openssl.log")"; return; }
    make_passwd
    chmod_secrets 600
    : >"$LOG"
    CRL_LINE="      crl_file: $D/crl.pem"
    start_broker write_tls_listener || { mqs_fail "broker did not start"; return; }
    local out
    out=$(pub_tls good) || mqs_fail "good certificate refused: $out"
    out=$(pub_tls revoked) || mqs_fail "not yet revoked certificate refused: $out"
    # Revoke, publish the new CRL, SIGHUP: refused from the next connection.
    ssl ca -config "$D/ca.cnf" -keyfile "$D/ca.key" -cert "$D/ca.pem" -revoke "$D/revoked.pem" ||
        { mqs_fail "openssl ca -revoke failed: $(tail -3 "$D/openssl.log")"; return; }
    gen_crl || { mqs_fail "openssl ca -gencrl failed"; return; }
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "reload: TLS certificates and password files reloaded" "$LOG" || mqs_fail "no reload"
    out=$(pub_tls revoked) && mqs_fail "revoked certificate accepted after the CRL reload"
    grep -q "certificate revoked" "$LOG" || mqs_fail "no log line naming the revocation"
    out=$(pub_tls good) || mqs_fail "good certificate refused after the CRL reload: $out"
    # Without a client certificate the password method still applies.
    out=$(timeout 10 mosquitto_pub -V 5 -h localhost -p "$P" --cafile "$D/ca.pem" -t t -m x -u alice -P alice-pw 2>&1) ||
        mqs_fail "password client refused on the CRL listener: $out"
    # A CRL file that is not one: the reload is refused, the old CRL stays.
    cp "$D/crl.pem" "$D/crl.good"
    echo "not a CRL" >"$D/crl.pem"
    : >"$LOG"
    kill -HUP "$MQS_PID"
    sleep 0.5
    grep -q "reload: $D/c.yaml:4: listeners\[0\]\.tls: crl_file $D/crl.pem: no CRL in PEM format" "$LOG" ||
        mqs_fail "no error for a broken CRL file: $(cat "$LOG")"
    out=$(pub_tls revoked) && mqs_fail "revoked certificate accepted after a failed reload"
    cp "$D/crl.good" "$D/crl.pem"
    return 0
}

# --- 8.22: errors say what is wrong, and where ----------------------------------

test_error_messages() {
    local out
    printf 'log_level: info\nlisteners:\n  - port: 0\n    tls:\n      cert_file: %s/missing.pem\n      key_file: %s/missing.key\n' \
        "$D" "$D" >"$D/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    (($? == 1)) || mqs_fail "missing cert_file: exit status not 1"
    [[ $out == *"$D/e.yaml:4: listeners[0].tls: cert_file $D/missing.pem: No such file or directory"* ]] ||
        mqs_fail "missing cert_file: '$out'"
    printf 'listeners:\n  - port: 0\n  - bind: 0.0.0.0\n    port: 0\n' >"$D/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    [[ $out == *"$D/e.yaml:3: listeners[1] (0.0.0.0 port 0): a listener on a non-loopback address needs an authentication section"* ]] ||
        mqs_fail "loopback rule: '$out'"
    make_certs || { mqs_fail "certificate generation failed"; return; }
    echo wrong >"$D/wrong.pass"
    printf 'listeners:\n  - port: 0\n    tls:\n      cert_file: %s/server.pem\n      key_file: %s/server.key\n      key_password_file: %s/wrong.pass\n' \
        "$D" "$D" "$D" >"$D/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    [[ $out == *"listeners[0].tls: key_file $D/server.key: cannot decrypt the key (wrong or missing key_password_file)"* ]] ||
        mqs_fail "wrong key password: '$out'"
    printf 'listeners:\n  - port: 0\n    tls:\n      cert_file: %s/server.pem\n      key_file: %s/good.key\n' \
        "$D" "$D" >"$D/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    [[ $out == *"listeners[0].tls: key_file $D/good.key: the key does not match cert_file"* ]] ||
        mqs_fail "mismatched key: '$out'"
    printf 'listeners:\n  - port: 0\n    authentication:\n      methods: [password]\n      password_file: %s/nopasswd\n' "$D" >"$D/e.yaml"
    out=$(timeout 10 "$MQS_BIN" -c "$D/e.yaml" 2>&1)
    [[ $out == *"$D/e.yaml:3: listeners[0].authentication.password_file: $D/nopasswd: No such file or directory"* ]] ||
        mqs_fail "missing password file: '$out'"
}

ALL_TESTS=(test_port_flag_keeps_authentication test_exposed_secrets_warned test_crl test_error_messages)
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
