#!/usr/bin/env bash
# Linearizability of the durable state store across crashes: concurrent
# clients (tests/fault/ss_history: SET, SET NX, GET, DEL, VDEL on a few
# keys) record every operation while the server is killed with SIGKILL and
# restarted on the same port, ROUNDS times; then tests/tools/lincheck.py
# checks the whole history. A write acknowledged before a crash must be
# seen after it (or overwritten), a read never goes back in time, SET NX
# stays exclusive. A failing history is kept (its path is printed).
#
#   persistence_linearizable.sh [ROUNDS] [CLIENTS]     (default 3, 4)
#
# FSYNC=always|everysec (default always: both survive a process crash).
# CONTROL=1: no persistence, and the check must FAIL (acknowledged writes
# are lost at each crash): proves that the test can see a violation.
# Needs $MQSTATED, $SS_HISTORY and python3; every wait is bounded.
# The long campaign: ROUNDS=100 (see tests/fault/README.md).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib.sh"

ROUNDS=${1:-3}
CLIENTS=${2:-4}
FSYNC=${FSYNC:-always}
CONTROL=${CONTROL:-0}
LINCHECK="$HERE/../tools/lincheck.py"
if ((!MQS_IS_MQSTATED)) || [[ -z "${SS_HISTORY:-}" ]] || ! command -v python3 >/dev/null; then
    echo "skipped: needs mqstated, ss_history and python3" >&2
    exit 77
fi
PDIR="$MQS_DIR/data"
mqs_write_config() {
    printf 'listeners:\n  - bind: 127.0.0.1\n    port: %s\n' "$MQS_PORT" >"$MQS_DIR/broker.conf"
    if ((!CONTROL)); then
        printf 'persistence:\n  dir: %s\n  fsync: %s\n' "$PDIR" "$FSYNC" >>"$MQS_DIR/broker.conf"
    fi
}
trap mqs_cleanup EXIT

# The clients reconnect to the address they know: restart on the same port.
restart_same_port() {
    "$MQS_BIN" -c "$MQS_DIR/broker.conf" >>"$MQS_DIR/broker.log" 2>&1 &
    MQS_PID=$!
    local deadline=$(($(mqs_now_ms) + 10000))
    while (($(mqs_now_ms) < deadline)); do
        kill -0 "$MQS_PID" 2>/dev/null || return 1
        mqs_port_open "$MQS_PORT" && return 0
        sleep 0.02
    done
    return 1
}

mqs_broker_start || { echo "FAIL: broker did not start" >&2; exit 1; }
history="$MQS_DIR/history.jsonl"
seconds=$((ROUNDS + 3))
"$SS_HISTORY" --port "$MQS_PORT" --out "$history" --clients "$CLIENTS" --keys 4 --seconds "$seconds" \
    --timeout-ms 2000 >"$MQS_DIR/ss_history.out" 2>&1 &
hpid=$!
MQS_BG_PIDS+=("$hpid")
sleep 0.5
for ((r = 1; r <= ROUNDS; r++)); do
    sleep "0.$((3 + RANDOM % 7))"
    kill -KILL "$MQS_PID"
    wait "$MQS_PID" 2>/dev/null
    MQS_PID=""
    restart_same_port || { mqs_fail "round $r: no restart after kill -9"; break; }
done
deadline=$(($(mqs_now_ms) + 60000))
while kill -0 "$hpid" 2>/dev/null && (($(mqs_now_ms) < deadline)); do sleep 0.1; done
if kill -0 "$hpid" 2>/dev/null; then
    mqs_fail "ss_history did not finish within 60 s"
    exit 1
fi
wait "$hpid" || mqs_fail "ss_history failed: $(cat "$MQS_DIR/ss_history.out")"
cat "$MQS_DIR/ss_history.out"
timeout 240 python3 "$LINCHECK" "$history" >"$MQS_DIR/lincheck.out" 2>&1
rc=$?
head -c 4000 "$MQS_DIR/lincheck.out"
keep() {
    local dir=${MQS_KEEP_DIR:-${TMPDIR:-/tmp}} name
    name="$dir/mqs-history-$(date +%Y%m%d-%H%M%S)-$$.jsonl"
    cp "$history" "$name" && echo "history kept: $name" >&2
}
if ((CONTROL)); then
    if ((rc == 0)); then
        keep
        mqs_fail "control run (no persistence): the lost acknowledged writes were not detected"
    fi
elif ((rc != 0)); then
    keep
    mqs_fail "history not linearizable (fsync: $FSYNC, lincheck exit $rc)"
fi
if ((MQS_FAILED)); then exit 1; fi
echo "PASS persistence_linearizable (rounds $ROUNDS, clients $CLIENTS, fsync $FSYNC, control $CONTROL)"
