#!/usr/bin/env bash
# The Debian package (scripts/package, docs/install.md) on this machine, as
# root (CTest label "root"; scripts/test runs it only as root):
#   - built with scripts/package; dpkg -i installs it: files, owners and
#     modes, the conffile, the mqstated system user and /var/lib/mqstated,
#     the unit enabled; `systemd-analyze verify` of the installed unit;
#     the man pages installed and without groff warnings;
#   - the installed configuration passes --check-config as user mqstated;
#   - the unit's ExecStart run as the unit would (user mqstated, no new
#     privileges, umask 0027, in /) with the installed configuration on a
#     free port of 127.0.0.1: READY=1 on NOTIFY_SOCKET, MQTT with
#     mosquitto_pub/sub, a state store key that survives a restart in
#     /var/lib/mqstated, RELOADING=1/READY=1 on SIGHUP, STOPPING=1;
#   - dpkg -i again keeps a changed configuration, the data and the user;
#   - dpkg -r keeps the configuration, data and user; dpkg --purge removes
#     them, and nothing of the package is left.
# The machine is left as it was found, also on failure (trap). The test
# refuses to run if the package, the user or its directories already exist.
# Usage: test_package.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=${1:?build directory}
SRC=${2:?source directory}
if [[ $(id -u) -ne 0 ]]; then
    echo "test_package.sh: FAIL: needs root (dpkg -i, a system user); run it as root, e.g. sudo ctest -L root" >&2
    exit 1
fi

DIR=$(mktemp -d /tmp/mqs-pkg-XXXXXX)
chmod 0711 "$DIR" # the server, as mqstated, reaches the notify socket inside
# INSTALLED: dpkg -i was tried, so cleanup purges and removes what is left.
FAILED=0 INSTALLED=0 SRV_PID="" LSN_PID="" PORT=""
UNIT=/usr/lib/systemd/system/mqstated.service
CONF=/etc/mqstated/mqstated.yaml

fail() {
    echo "  FAIL: $*" >&2
    FAILED=1
}
now_ms() { date +%s%3N; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Everything of the package outside dpkg's own database.
leftovers() {
    find /etc /var/lib/mqstated /var/log/mqstated /usr/sbin/mqstated /usr/bin/mqstate \
        /usr/lib/systemd /var/lib/systemd -name '*mqstate*' 2>/dev/null | sort
}

# dpkg, waiting (at most 5 minutes) while another dpkg or apt holds its
# lock: other jobs on this machine may be installing packages.
dpkg_wait() {
    local deadline=$(($(now_ms) + 300000)) rc
    while :; do
        dpkg "$@" >"$DIR/dpkg.out" 2>&1
        rc=$?
        cat "$DIR/dpkg.out" >>"$DIR/dpkg.log"
        ((rc != 0)) && grep -q 'lock' "$DIR/dpkg.out" && (($(now_ms) < deadline)) || return $rc
        sleep 1
    done
}

cleanup() {
    [[ -n $SRV_PID ]] && kill -KILL "$SRV_PID" 2>/dev/null
    [[ -n $LSN_PID ]] && kill -KILL "$LSN_PID" 2>/dev/null
    wait 2>/dev/null
    if ((INSTALLED)); then
        if dpkg-query -W mqstate >/dev/null 2>&1 && ! dpkg_wait --purge mqstate; then
            echo "cleanup: FAIL: dpkg --purge mqstate failed, the package stays installed:" \
                "$(tail -3 "$DIR/dpkg.log")" >&2
        else
            # Gone from dpkg (or never unpacked): what its postrm removes.
            getent passwd mqstated >/dev/null && userdel mqstated
            getent group mqstated >/dev/null && groupdel mqstated
            rm -rf /var/lib/mqstated /var/log/mqstated /etc/mqstated
        fi
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

# Refuse to touch an installation or user that is not ours.
if dpkg-query -W -f='${Status}' mqstate 2>/dev/null | grep -q 'installed\|config-files'; then
    echo "test_package.sh: FAIL: the package mqstate is already on this machine; refusing to replace it" >&2
    exit 1
fi
if getent passwd mqstated >/dev/null || getent group mqstated >/dev/null || [[ -n $(leftovers) ]]; then
    echo "test_package.sh: FAIL: user/group mqstated or files of mqstate exist already: $(leftovers | tr '\n' ' ')" >&2
    exit 1
fi
for tool in dpkg-deb systemd-analyze mosquitto_pub mosquitto_sub setpriv python3 man; do
    command -v "$tool" >/dev/null || { echo "test_package.sh: FAIL: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

# Waits (bounded) for line $1 of the notify file; prints it.
notify_line() {
    local n=$1 deadline=$(($(now_ms) + 30000))
    while (($(wc -l <"$DIR/notify") < n)); do
        (($(now_ms) < deadline)) || return 1
        sleep 0.05
    done
    sed -n "${n}p" "$DIR/notify"
}

# The unit's ExecStart, as its User= with NoNewPrivileges=, UMask= and the
# working directory systemd gives it, on port $PORT of 127.0.0.1.
server_start() {
    local exec_start
    exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
    # shellcheck disable=SC2086
    (cd / && umask 0027 && NOTIFY_SOCKET=$DIR/notify.sock exec setpriv --reuid=mqstated --regid=mqstated \
        --init-groups --no-new-privs $exec_start -p "$PORT" >>"$DIR/server.log" 2>&1) &
    SRV_PID=$!
}

server_stop() {
    [[ -n $SRV_PID ]] || return 0
    local pid=$SRV_PID deadline=$(($(now_ms) + 20000)) status
    SRV_PID=""
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && { fail "mqstated ignored SIGTERM"; kill -KILL "$pid"; }
    wait "$pid"
    status=$?
    ((status == 0)) || fail "mqstated exited with status $status"
}

# mode owner:group path
check_stat() {
    local got
    got=$(stat -c '%a %U:%G' "$3" 2>/dev/null) || { fail "$3 is missing"; return; }
    [[ $got == "$1 $2" ]] || fail "$3 is $got, want $1 $2"
}

echo "building the package" >&2
deb=$(bash "$SRC/scripts/package" "$BUILD/package" "$DIR" 2>"$DIR/package.log" | tail -n 1)
if [[ ! -f $deb ]]; then
    echo "FAIL: scripts/package: $(tail -20 "$DIR/package.log")" >&2
    exit 1
fi

test_install() {
    dpkg-deb -f "$deb" Depends | grep -q 'libsystemd0' || fail "Depends lacks libsystemd0: $(dpkg-deb -f "$deb" Depends)"
    INSTALLED=1
    dpkg_wait -i "$deb" || { fail "dpkg -i: $(tail -5 "$DIR/dpkg.log")"; return 1; }
    check_stat 755 root:root /usr/sbin/mqstated
    check_stat 755 root:root /usr/bin/mqstate
    check_stat 644 root:root "$CONF"
    check_stat 644 root:root "$UNIT"
    check_stat 750 mqstated:mqstated /var/lib/mqstated
    local f
    for f in /usr/share/man/man8/mqstated.8.gz /usr/share/man/man1/mqstate.1.gz /usr/share/man/man5/mqstated.yaml.5.gz \
        /usr/include/mqstate/mqstate.h; do
        check_stat 644 root:root "$f"
    done
    pkg-config --exists mqstate || fail "pkg-config does not find mqstate"
    ldconfig -p | grep -q 'libmqstate\.so\.0 ' || fail "libmqstate.so.0 is not in the loader cache (ldconfig trigger)"
    dpkg-query -W -f='${Conffiles}' mqstate | grep -q "$CONF" || fail "$CONF is not a conffile"
    cmp -s "$CONF" "$SRC/packaging/mqstated.yaml" || fail "$CONF differs from packaging/mqstated.yaml"
    # The system user: a system uid, no login, home in its data directory.
    local uid shell home
    IFS=: read -r _ _ uid _ _ home shell < <(getent passwd mqstated) || { fail "no user mqstated"; return 1; }
    ((uid < 1000)) || fail "mqstated has uid $uid, not a system uid"
    [[ $shell == /usr/sbin/nologin && $home == /var/lib/mqstated ]] || fail "mqstated: home $home, shell $shell"
    getent group mqstated >/dev/null || fail "no group mqstated"
    [[ -L /etc/systemd/system/multi-user.target.wants/mqstated.service ]] || fail "the unit is not enabled"
    # The unit.
    systemd-analyze verify "$UNIT" >"$DIR/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$DIR/verify.log")"
    [[ -s $DIR/verify.log ]] && fail "systemd-analyze verify warns: $(cat "$DIR/verify.log")"
    local want
    for want in Type=notify User=mqstated Group=mqstated ProtectSystem=strict ReadWritePaths=/var/lib/mqstated \
        NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' CapabilityBoundingSet= 'ExecReload=/bin/kill -HUP $MAINPID' \
        LimitNOFILE=65536 "ExecStart=/usr/sbin/mqstated -c $CONF"; do
        grep -qxF -- "$want" "$UNIT" || fail "the unit lacks the line $want"
    done
    grep -q '^AmbientCapabilities=.\+' "$UNIT" && fail "the unit grants capabilities"
    # Man pages: installed where man finds them, no groff warnings.
    for f in mqstated.8 mqstate.1 mqstated.yaml.5; do
        local page
        page=$(man -w "${f%.*}" 2>/dev/null)
        [[ $page == /usr/share/man/* ]] || fail "man does not find ${f%.*} (got '$page')"
        want=$(MANWIDTH=80 man --warnings=all -l "/usr/share/man/man${f##*.}/$f.gz" 2>&1 >/dev/null)
        [[ -z $want ]] || fail "$f: groff warnings: $want"
    done
    local out
    out=$(runuser -u mqstated -- /usr/sbin/mqstated --check-config -c "$CONF" 2>&1) || fail "check-config: $out"
    [[ $out == "configuration OK: $CONF" ]] || fail "check-config said: $out"
}

test_run_as_the_unit() {
    PORT=$((20000 + RANDOM % 12000))
    while port_open "$PORT"; do PORT=$((20000 + RANDOM % 12000)); done
    : >"$DIR/notify"
    python3 "$SRC/tests/e2e/notify_listen.py" "$DIR/notify.sock" "$DIR/notify" 300 &
    LSN_PID=$!
    local deadline=$(($(now_ms) + 10000)) line
    until [[ -S $DIR/notify.sock ]]; do
        (($(now_ms) < deadline)) || { fail "notify listener did not start"; return; }
        sleep 0.05
    done
    server_start
    line=$(notify_line 1) || { fail "no READY=1 within 30 s"; return; }
    [[ $line == "READY=1 "* ]] || fail "first notification '$line', want READY=1"
    port_open "$PORT" || fail "READY=1 before the listener listened"
    [[ $(ps -o user= -p "$SRV_PID") == mqstated ]] || fail "the server runs as $(ps -o user= -p "$SRV_PID")"
    # MQTT through mosquitto's clients.
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t pkg/test -C 1 -W 20 >"$DIR/sub.out" 2>&1 &
    local sub=$!
    sleep 0.5
    mosquitto_pub -h 127.0.0.1 -p "$PORT" -t pkg/test -m hello -q 1 || fail "mosquitto_pub failed"
    wait "$sub" || fail "mosquitto_sub: $(cat "$DIR/sub.out")"
    [[ $(cat "$DIR/sub.out") == hello ]] || fail "mosquitto_sub got '$(cat "$DIR/sub.out")'"
    # A state store key, durable in /var/lib/mqstated across a restart.
    /usr/bin/mqstate -h 127.0.0.1 -p "$PORT" set pkg-key kept || fail "mqstate set failed"
    kill -HUP "$SRV_PID"
    line=$(notify_line 2) || { fail "no RELOADING=1 after SIGHUP"; return; }
    [[ $line == "RELOADING=1 "* ]] || fail "after SIGHUP: '$line'"
    line=$(notify_line 3) || { fail "no READY=1 after the reload"; return; }
    [[ $line == "READY=1 "* ]] || fail "after the reload: '$line'"
    server_stop
    line=$(notify_line 4) || { fail "no STOPPING=1"; return; }
    [[ $line == "STOPPING=1 "* ]] || fail "at SIGTERM: '$line'"
    check_stat 640 mqstated:mqstated /var/lib/mqstated/statestore.log
    server_start
    line=$(notify_line 5) || { fail "no READY=1 on restart"; return; }
    [[ $(/usr/bin/mqstate -h 127.0.0.1 -p "$PORT" get pkg-key) == kept ]] || fail "the key did not survive the restart"
    server_stop
}

# Installing again (an upgrade's path through postinst): the user, the
# data and a changed configuration file stay as they are.
test_reinstall() {
    local uid
    uid=$(id -u mqstated)
    echo "# changed by the administrator" >>"$CONF"
    echo data >/var/lib/mqstated/admin-file
    dpkg_wait -i "$deb" || { fail "second dpkg -i: $(tail -5 "$DIR/dpkg.log")"; return; }
    [[ $(tail -n 1 "$CONF") == "# changed by the administrator" ]] || fail "reinstalling replaced the changed $CONF"
    [[ -f /var/lib/mqstated/admin-file && $(id -u mqstated) == "$uid" ]] || fail "reinstalling touched the data or the user"
    check_stat 750 mqstated:mqstated /var/lib/mqstated
}

test_remove_and_purge() {
    dpkg_wait -r mqstate || { fail "dpkg -r: $(tail -5 "$DIR/dpkg.log")"; return; }
    [[ -e /usr/sbin/mqstated || -e $UNIT ]] && fail "dpkg -r left the program or the unit"
    [[ -f $CONF ]] || fail "dpkg -r removed the conffile"
    [[ -d /var/lib/mqstated ]] || fail "dpkg -r removed the data"
    getent passwd mqstated >/dev/null || fail "dpkg -r removed the user"
    dpkg_wait --purge mqstate || { fail "dpkg --purge: $(tail -5 "$DIR/dpkg.log")"; return; }
    getent passwd mqstated >/dev/null && fail "dpkg --purge left the user mqstated"
    getent group mqstated >/dev/null && fail "dpkg --purge left the group mqstated"
    [[ -z $(leftovers) ]] || fail "dpkg --purge left: $(leftovers | tr '\n' ' ')"
    dpkg-query -W mqstate >/dev/null 2>&1 && fail "dpkg still knows mqstate"
}

rc=0
for t in test_install test_run_as_the_unit test_reinstall test_remove_and_purge; do
    FAILED=0
    : >"$DIR/server.log"
    "$t"
    server_stop
    if ((FAILED)); then
        echo "FAIL $t" >&2
        sed 's/^/  | /' "$DIR/server.log" >&2
        rc=1
    else
        echo "PASS $t" >&2
    fi
done
exit $rc
