# Sourced by the bench/run_*.sh scripts: ports and readiness of the servers
# they start (all on 127.0.0.1).

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
