#!/usr/bin/env bash
# mqstated as a service (docs/install.md), without root:
#   - sd_notify: READY=1 once the persisted state is restored and the
#     listener listens, RELOADING=1/READY=1 around SIGHUP (also a refused
#     reload), STOPPING=1 at SIGTERM; a bad NOTIFY_SOCKET is a warning;
#   - the man pages render without groff warnings, name every long option
#     of `mqstated --help` and `mqstate --help`, and every configuration
#     key of docs/configuration.md;
#   - the packaged default configuration passes --check-config;
#   - `cmake --install` puts every file where docs/install.md says.
# Usage: test_service.sh BUILD_DIR SOURCE_DIR (MQSTATED and MQSTATE set by CTest).
. "$(dirname "$0")/lib.sh"

if ((!MQS_IS_MQSTATED)); then
    echo "service test needs mqstated (sd_notify, its man pages): skipped" >&2
    rm -rf "$MQS_DIR"
    exit 77
fi

BUILD=${1:?build directory}
SRC=${2:?source directory}
MQSTATE=${MQSTATE:?MQSTATE (the mqstate CLI) is not set}
LISTEN=$SRC/tests/e2e/notify_listen.py
SRV_PID="" LSN_PID=""

# Starts the notify listener on $MQS_DIR/notify.sock writing $MQS_DIR/notify.
notify_listen() {
    rm -f "$MQS_DIR/notify.sock" "$MQS_DIR/notify"
    : >"$MQS_DIR/notify"
    python3 "$LISTEN" "$MQS_DIR/notify.sock" "$MQS_DIR/notify" 120 &
    LSN_PID=$!
    local deadline=$(($(mqs_now_ms) + 10000))
    until [[ -S $MQS_DIR/notify.sock ]]; do
        (($(mqs_now_ms) < deadline)) || { mqs_fail "notify listener did not start"; return 1; }
        sleep 0.02
    done
}

# Waits (bounded) until line number $1 of the notify file exists; prints it.
notify_line() {
    local n=$1 deadline=$(($(mqs_now_ms) + 20000))
    while (($(wc -l <"$MQS_DIR/notify") < n)); do
        (($(mqs_now_ms) < deadline)) || return 1
        sleep 0.02
    done
    sed -n "${n}p" "$MQS_DIR/notify"
}

# Starts mqstated (config $1) with NOTIFY_SOCKET=$2 (unset if empty) on a
# free port; sets SRV_PID.
server_start() {
    MQS_PORT=$((20000 + RANDOM % 12000))
    while mqs_port_open "$MQS_PORT"; do MQS_PORT=$((20000 + RANDOM % 12000)); done
    if [[ -n $2 ]]; then
        NOTIFY_SOCKET=$2 "$MQS_BIN" -c "$1" -p "$MQS_PORT" >>"$MQS_DIR/broker.log" 2>&1 &
    else
        env -u NOTIFY_SOCKET "$MQS_BIN" -c "$1" -p "$MQS_PORT" >>"$MQS_DIR/broker.log" 2>&1 &
    fi
    SRV_PID=$!
}

server_stop() {
    [[ -n $SRV_PID ]] || return 0
    local pid=$SRV_PID deadline=$(($(mqs_now_ms) + 15000)) status
    SRV_PID=""
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && (($(mqs_now_ms) < deadline)); do sleep 0.02; done
    kill -0 "$pid" 2>/dev/null && { mqs_fail "mqstated ignored SIGTERM"; kill -KILL "$pid"; }
    wait "$pid"
    status=$?
    ((status == 0)) || mqs_fail "mqstated exited with status $status"
}

cleanup() {
    [[ -n $SRV_PID ]] && kill -KILL "$SRV_PID" 2>/dev/null
    [[ -n $LSN_PID ]] && kill -KILL "$LSN_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$MQS_DIR"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

test_notify_ready_reload_stop() {
    local conf=$MQS_DIR/notify.yaml line
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: 1883\npersistence:\n  dir: %s\n' "$MQS_DIR/data" >"$conf"
    notify_listen || return
    # A first run leaves a key in the log, for the second run to restore.
    server_start "$conf" "$MQS_DIR/notify.sock"
    line=$(notify_line 1) || { mqs_fail "no READY=1 within 20 s"; return; }
    [[ $line == "READY=1 "* ]] || mqs_fail "first message is '$line', want READY=1"
    mqs_port_open "$MQS_PORT" || mqs_fail "READY=1 came before the listener listened"
    "$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" set restored yes || mqs_fail "set failed"
    kill -HUP "$SRV_PID"
    line=$(notify_line 2) || { mqs_fail "no message after SIGHUP"; return; }
    [[ $line == "RELOADING=1 "*"MONOTONIC_USEC="[0-9]* ]] || mqs_fail "after SIGHUP: '$line', want RELOADING=1 with MONOTONIC_USEC"
    line=$(notify_line 3) || { mqs_fail "no READY=1 after the reload"; return; }
    [[ $line == "READY=1 "* ]] || mqs_fail "after the reload: '$line', want READY=1"
    # A refused reload (bad file) still ends with READY=1: the old configuration serves.
    printf 'listeners: [\n' >"$conf"
    kill -HUP "$SRV_PID"
    line=$(notify_line 4) || { mqs_fail "no message after a bad SIGHUP"; return; }
    [[ $line == "RELOADING=1 "* ]] || mqs_fail "after a bad SIGHUP: '$line', want RELOADING=1"
    line=$(notify_line 5) || { mqs_fail "no READY=1 after a refused reload"; return; }
    [[ $line == "READY=1 "* ]] || mqs_fail "after a refused reload: '$line', want READY=1"
    grep -q 'reload: .*configuration unchanged' "$MQS_DIR/broker.log" || mqs_fail "the bad reload was not refused"
    server_stop
    line=$(notify_line 6) || { mqs_fail "no STOPPING=1 at SIGTERM"; return; }
    [[ $line == "STOPPING=1 "* ]] || mqs_fail "at SIGTERM: '$line', want STOPPING=1"
    # Second run: READY=1 only once the log is replayed (the key is there at once).
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: 1883\npersistence:\n  dir: %s\n' "$MQS_DIR/data" >"$conf"
    server_start "$conf" "$MQS_DIR/notify.sock"
    line=$(notify_line 7) || { mqs_fail "no READY=1 on restart"; return; }
    [[ $line == "READY=1 "* ]] || mqs_fail "on restart: '$line', want READY=1"
    [[ $("$MQSTATE" -h 127.0.0.1 -p "$MQS_PORT" get restored) == yes ]] ||
        mqs_fail "READY=1 came before the persisted key was restored"
    server_stop
}

test_notify_socket_missing_is_a_warning() {
    # Not started by systemd: nothing sent, nothing logged about it.
    : >"$MQS_DIR/empty.yaml"
    server_start "$MQS_DIR/empty.yaml" ""
    local deadline=$(($(mqs_now_ms) + 10000))
    until mqs_port_open "$MQS_PORT"; do
        (($(mqs_now_ms) < deadline)) || { mqs_fail "mqstated did not start"; return; }
        sleep 0.02
    done
    server_stop
    grep -q sd_notify "$MQS_DIR/broker.log" && mqs_fail "sd_notify logged without NOTIFY_SOCKET"
    # A NOTIFY_SOCKET nobody listens on: a warning, and the server serves.
    server_start "$MQS_DIR/empty.yaml" "$MQS_DIR/nobody.sock"
    deadline=$(($(mqs_now_ms) + 10000))
    until mqs_port_open "$MQS_PORT"; do
        (($(mqs_now_ms) < deadline)) || { mqs_fail "mqstated did not start with a dead NOTIFY_SOCKET"; return; }
        sleep 0.02
    done
    server_stop
    grep -q 'warn: sd_notify "READY=1"' "$MQS_DIR/broker.log" || mqs_fail "no warning for a dead NOTIFY_SOCKET"
}

# Man page source as plain text: roff escapes for '-' and fonts removed.
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }

test_man_pages_render() {
    local page err
    for page in "$SRC"/docs/man/mqstated.8 "$SRC"/docs/man/mqstate.1 "$SRC"/docs/man/mqstated.yaml.5; do
        err=$(MANWIDTH=80 man --warnings=all -l "$page" 2>&1 >/dev/null)
        [[ -z $err ]] || mqs_fail "$(basename "$page"): groff warnings: $err"
        [[ $(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l) -gt 20 ]] || mqs_fail "$(basename "$page") renders empty"
    done
}

# Every long option printed by `$2 --help` appears in man page $1.
options_in_page() {
    local page=$1 help opt text
    help=$("${@:2}" --help) || { mqs_fail "${*:2} --help failed"; return; }
    text=$(man_text "$page")
    local n=0
    for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
        n=$((n + 1))
        grep -qE -- "${opt}([^a-z0-9-]|\$)" <<<"$text" || mqs_fail "$(basename "$page") lacks $opt (in ${*:2} --help)"
    done
    ((n >= 3)) || mqs_fail "only $n long options found in ${*:2} --help"
}

test_man_options_match_help() {
    options_in_page "$SRC/docs/man/mqstated.8" "$MQS_BIN"
    options_in_page "$SRC/docs/man/mqstated.8" "$MQS_BIN" passwd
    options_in_page "$SRC/docs/man/mqstate.1" "$MQSTATE"
    # The version in each page's title line is the programs' version.
    local version page
    version=$("$MQS_BIN" --version | sed -n 's/^mqstated //p')
    [[ -n $version ]] || mqs_fail "mqstated --version printed no version"
    for page in mqstated.8 mqstate.1 mqstated.yaml.5; do
        grep -q "^\.TH .* \"mqstate $version\" " "$SRC/docs/man/$page" ||
            mqs_fail "$page: title line is not for mqstate $version: $(grep '^\.TH' "$SRC/docs/man/$page")"
    done
}

# Every key of the tables of docs/configuration.md's "YAML file" part
# appears in mqstated.yaml(5).
test_man_yaml_keys_match_docs() {
    local text key n=0
    text=$(man_text "$SRC/docs/man/mqstated.yaml.5")
    while read -r key; do
        n=$((n + 1))
        grep -qF -- "$key" <<<"$text" || mqs_fail "mqstated.yaml.5 lacks the key $key (docs/configuration.md)"
    done < <(sed -n '/^## YAML file/,$p' "$SRC/docs/configuration.md" | sed -n 's/^| `\([^`]*\)` |.*/\1/p' | sort -u)
    ((n >= 60)) || mqs_fail "only $n keys found in docs/configuration.md"
}

test_default_config_checks() {
    local conf=$SRC/packaging/mqstated.yaml copy=$MQS_DIR/default.yaml out
    grep -q '^  dir: /var/lib/mqstated$' "$conf" || mqs_fail "the default configuration's persistence.dir is not /var/lib/mqstated"
    # The same file with the data directory moved where this user may write;
    # the package test (root) checks the file as it is installed.
    sed "s|/var/lib/mqstated|$MQS_DIR/var-lib-mqstated|" "$conf" >"$copy"
    out=$("$MQS_BIN" --check-config -c "$copy" 2>&1) || mqs_fail "default configuration: $out"
    [[ $out == "configuration OK: $copy" ]] || mqs_fail "check-config said: $out"
    [[ -e $MQS_DIR/var-lib-mqstated ]] && mqs_fail "--check-config created the persistence directory"
    # As root, /var/lib/mqstated may be created: the file as it is passes.
    if [[ $(id -u) -eq 0 && ! -e /var/lib/mqstated ]]; then
        out=$("$MQS_BIN" --check-config -c "$conf" 2>&1) || mqs_fail "default configuration as root: $out"
        [[ -e /var/lib/mqstated ]] && mqs_fail "--check-config created /var/lib/mqstated"
    fi
    # docs/install.md shows the file without its comments.
    local shown
    shown=$(sed -n '/^## The default configuration/,/^## /p' "$SRC/docs/install.md" | sed -n '/^```yaml$/,/^```$/p' |
        sed '1d;/^```$/,$d')
    [[ $shown == "$(grep -Ev '^ *(#|$)' "$conf")" ]] || mqs_fail "docs/install.md shows another default configuration"
}

test_install_tree() {
    local p=$MQS_DIR/prefix f
    cmake --install "$BUILD" --prefix "$p" >"$MQS_DIR/install.log" 2>&1 ||
        { mqs_fail "cmake --install: $(tail -5 "$MQS_DIR/install.log")"; return; }
    for f in sbin/mqstated bin/mqstate etc/mqstated/mqstated.yaml lib/systemd/system/mqstated.service \
        share/man/man8/mqstated.8 share/man/man1/mqstate.1 share/man/man5/mqstated.yaml.5 \
        include/mqstate/mqstate.h; do
        [[ -e $p/$f ]] || mqs_fail "cmake --install did not install $f"
    done
    [[ -x $p/sbin/mqstated && -x $p/bin/mqstate ]] || mqs_fail "installed programs are not executable"
    compgen -G "$p/lib*/mqstate.pc" >/dev/null || compgen -G "$p/lib*/*/mqstate.pc" >/dev/null ||
        compgen -G "$p/lib*/pkgconfig/mqstate.pc" >/dev/null || compgen -G "$p/lib*/*/pkgconfig/mqstate.pc" >/dev/null ||
        mqs_fail "no mqstate.pc installed"
    cmp -s "$p/etc/mqstated/mqstated.yaml" "$SRC/packaging/mqstated.yaml" || mqs_fail "installed configuration differs"
    grep -q "^ExecStart=/.*/sbin/mqstated -c /.*/mqstated/mqstated.yaml$" "$p/lib/systemd/system/mqstated.service" ||
        mqs_fail "unit's ExecStart: $(grep ExecStart= "$p/lib/systemd/system/mqstated.service")"
}

rc=0
for t in test_notify_ready_reload_stop test_notify_socket_missing_is_a_warning test_man_pages_render \
    test_man_options_match_help test_man_yaml_keys_match_docs test_default_config_checks test_install_tree; do
    MQS_FAILED=0
    : >"$MQS_DIR/broker.log"
    "$t"
    server_stop
    [[ -n $LSN_PID ]] && { kill "$LSN_PID" 2>/dev/null; wait "$LSN_PID" 2>/dev/null; LSN_PID=""; }
    if ((MQS_FAILED)); then
        echo "FAIL $t" >&2
        sed 's/^/  | /' "$MQS_DIR/broker.log" >&2
        rc=1
    else
        echo "PASS $t" >&2
    fi
done
exit $rc
