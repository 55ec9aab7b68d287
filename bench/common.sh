# Sourced by the bench/run_*.sh scripts: ports and readiness of the servers
# they start (all on 127.0.0.1), and their stop at exit.

# The servers the script started (track_server) and the load generator it
# runs in the background (its PID in job_pid while it runs): all stopped
# when the script exits, however it exits.
declare -A pid_of port_of
started=()
job_pid=""

bench_cleanup() {
    local p
    [ -n "$job_pid" ] && kill "$job_pid" 2>/dev/null
    for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody is using right now (the server is started right after; a
# lost race shows up as a server that fails to start, see wait_port).
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htan "sport = :$port")" ]; then
            echo "$port"
            return
        fi
    done
}

# Wait (at most 5 s) until something accepts on the port and the server is alive.
wait_port() {
    local port=$1 pid=$2 tries=50
    while [ "$tries" -gt 0 ]; do
        tries=$((tries - 1))
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# Register a server just started in the background (pid = its $!) under
# NAME on PORT, and wait until it accepts. Uses the calling script's
# `started` array, `pid_of`/`port_of` maps and `out` directory.
track_server() {
    local name=$1 port=$2 pid=$3
    started+=("$pid")
    if ! wait_port "$port" "$pid"; then
        echo "$(basename "$0"): $name did not start (see $out/$name.log)" >&2
        exit 1
    fi
    pid_of[$name]=$pid
    port_of[$name]=$port
}

# Stop the server registered under NAME and forget it.
stop_server() {
    local pid=${pid_of[$1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${started[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    started=("${keep[@]}")
}

# VmRSS of a process, KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Field of a flat JSON object (see bench/pubsub_report.c).
jget() {
    sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# bounded LIMIT_S OUTFILE CMD...: run CMD with a time limit, in the
# background and waited for, so that a signal to this script ends it at
# once (bash defers traps while a foreground child runs).
bounded() {
    local limit=$1 file=$2
    shift 2
    timeout -k 5 "$limit" "$@" >"$file" 2>>"$out/client.err" &
    job_pid=$!
    wait "$job_pid" || true
    job_pid=""
}

# record JSON SCENARIO RUN: append one result (the generator's JSON object
# with the scenario and run added) to $results.
record() {
    echo "${1%\}},\"scenario\":\"$2\",\"run\":$3}" >>"$results"
}
