# The cluster harness for bash tests: N real mqstated processes on
# 127.0.0.1 forming one cluster (docs/cluster.md); source this file.
#
#   cl_setup N [extra cluster: lines]   pick free ports, write n1..nN.yaml
#   cl_start I / cl_start_all           start node I (waits until it listens,
#                                       at most CL_START_MS, default 15000)
#   cl_kill I                           kill -9
#   cl_stop I                           SIGTERM; fails the test unless it exits 0
#   cl_leader                           the live node that serves as leader (0: none)
#   cl_leads I                          node I serves as leader (its log says so)
#   cl_wait_leader MS                   wait for one; prints it
#   cl_cli I ARGS...                    the mqstate CLI against node I
#   cl_cleanup                          kill everything, print logs on failure
#
# CL_TLS=1: every node gets a `tls:` section (node links and raft over
# mutual TLS) with a CA and one certificate per node (IP SAN 127.0.0.1)
# made by openssl in $CL_DIR/certs at the first cl_setup.
#
# Every server listens on 127.0.0.1 on ports chosen free below Linux's
# ephemeral range, is stopped by its PID, and every wait is bounded.
# Needs $MQSTATED and $MQSTATE_CLI (set by CTest).
#
# Hooks for harnesses layered on this one (tests/cluster/netns_lib.sh: a
# network namespace per node; the clock skew test: libfaketime), each
# with a default that keeps everything on 127.0.0.1:
#   CL_HOST[i]                          node i's address (default 127.0.0.1)
#   CL_LISTENER                         more lines of each node's MQTT listener
#   cl_exec_node I CMD...               exec CMD as node I (keeps the PID)
#   cl_exec_client CMD...               exec a client (the CLI, ss_history)
#   cl_listening I                      true once node I's MQTT port accepts
#   CL_AT_EXIT                          commands cl_cleanup runs last

set -u
CL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mqs-cluster-XXXXXX")
CL_N=0
CL_FAILED=0
CL_MQTT=() CL_RAFT=() CL_LINK=() CL_METRICS=() CL_PID=()
CL_BG_PIDS=()
CL_EXTRA=() # more lines of every node's cluster: section (cl_run_tests)
CL_HOST=()
CL_LISTENER=() # more lines of every node's listener (e.g. its authentication)
CL_AT_EXIT=()
CL_BIN=${MQSTATED:?MQSTATED is not set}
CL_CLI=${MQSTATE_CLI:-}

cl_note() { echo "  note: $*" >&2; }
cl_fail() {
    echo "  FAIL: $*" >&2
    CL_FAILED=1
}
cl_now_ms() { date +%s%3N; }
cl_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cl_host() { echo "${CL_HOST[$1]:-127.0.0.1}"; }
cl_exec_node() {
    shift
    exec "$@"
}
cl_exec_client() { exec "$@"; }
cl_listening() { cl_port_open "${CL_MQTT[$1]}"; }

# A port nobody listens on and that this harness has not handed out.
cl_free_port() {
    local p used
    while :; do
        p=$((20000 + RANDOM % 12000))
        used=" ${CL_MQTT[*]:-} ${CL_RAFT[*]:-} ${CL_LINK[*]:-} "
        [[ "$used" == *" $p "* ]] && continue
        cl_port_open "$p" || break
    done
    echo "$p"
}

# The CA and node certificates of CL_TLS=1 (once per run).
cl_make_certs() {
    local d=$CL_DIR/certs i
    [[ -f "$d/ca.pem" ]] && return 0
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
        -days 2 -subj "/CN=cluster-ca" >>"$d/openssl.log" 2>&1 || return 1
    for ((i = 1; i <= $1; i++)); do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/n$i.key" -out "$d/n$i.csr" \
            -subj "/CN=node$i" >>"$d/openssl.log" 2>&1 || return 1
        printf 'subjectAltName=IP:127.0.0.1\n' >"$d/n$i.ext"
        openssl x509 -req -in "$d/n$i.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial "$((100 + i))" -days 2 \
            -extfile "$d/n$i.ext" -out "$d/n$i.pem" >>"$d/openssl.log" 2>&1 || return 1
    done
}

# cl_setup N [line...]: each extra argument is one more line of the
# cluster: section (e.g. "snapshot_entries: 64").
cl_setup() {
    CL_N=$1
    shift
    local i j
    if [[ "${CL_TLS:-0}" == 1 ]]; then
        cl_make_certs "$CL_N" || {
            cl_fail "openssl could not make the certificates ($CL_DIR/certs/openssl.log)"
            return 1
        }
    fi
    for ((i = 1; i <= CL_N; i++)); do
        CL_MQTT[i]=$(cl_free_port)
        CL_RAFT[i]=$(cl_free_port)
        CL_LINK[i]=$(cl_free_port)
        CL_METRICS[i]=$(cl_free_port)
        CL_PID[i]=""
    done
    for ((i = 1; i <= CL_N; i++)); do
        {
            printf 'listeners:\n  - bind: %s\n    port: %s\n' "$(cl_host "$i")" "${CL_MQTT[i]}"
            local line
            for line in "${CL_LISTENER[@]}"; do printf '    %s\n' "$line"; done
            printf 'metrics:\n  port: %s\n' "${CL_METRICS[i]}"
            printf 'persistence:\n  dir: %s/d%s\n' "$CL_DIR" "$i"
            printf 'cluster:\n  name: test\n  node_id: %s\n' "$i"
            printf '  election_timeout_ms: 1000\n  heartbeat_ms: 100\n'
            for line in "$@"; do printf '  %s\n' "$line"; done
            if [[ "${CL_TLS:-0}" == 1 ]]; then
                printf '  tls:\n    cert_file: %s/certs/n%s.pem\n    key_file: %s/certs/n%s.key\n' \
                    "$CL_DIR" "$i" "$CL_DIR" "$i"
                printf '    ca_file: %s/certs/ca.pem\n' "$CL_DIR"
            fi
            printf '  members:\n'
            for ((j = 1; j <= CL_N; j++)); do
                printf '    - {id: %s, raft_address: "%s:%s", link_address: "%s:%s"}\n' \
                    "$j" "$(cl_host "$j")" "${CL_RAFT[j]}" "$(cl_host "$j")" "${CL_LINK[j]}"
            done
        } >"$CL_DIR/n$i.yaml"
    done
}

# cl_add_member: one more node (id CL_N+1) with free ports; every node's
# file now lists it; the new node's has `join: true` (it bootstraps
# nothing of its own). The running nodes learn of it by SIGHUP (cl_reload).
cl_add_member() {
    local n=$((CL_N + 1)) i
    CL_MQTT[n]=$(cl_free_port)
    CL_RAFT[n]=$(cl_free_port)
    CL_LINK[n]=$(cl_free_port)
    CL_METRICS[n]=$(cl_free_port)
    CL_PID[n]=""
    for ((i = n; i >= 1; i--)); do # the new file first, from n1.yaml as it was
        sed -i '/^  members:/,$d' "$CL_DIR/n$i.yaml" 2>/dev/null
        if ((i == n)); then
            sed -e '/^  members:/,$d' -e "s/^    port: .*/    port: ${CL_MQTT[n]}/" -e "s/^  port: .*/  port: ${CL_METRICS[n]}/" \
                -e "s#^  dir: .*#  dir: $CL_DIR/d$n#" \
                -e "s/^  node_id: .*/  node_id: $n\n  join: true/" "$CL_DIR/n1.yaml" >"$CL_DIR/n$n.yaml"
        fi
        {
            printf '  members:\n'
            for ((j = 1; j <= n; j++)); do
                printf '    - {id: %s, raft_address: "%s:%s", link_address: "%s:%s"}\n' \
                    "$j" "$(cl_host "$j")" "${CL_RAFT[j]}" "$(cl_host "$j")" "${CL_LINK[j]}"
            done
        } >>"$CL_DIR/n$i.yaml"
    done
    CL_N=$n
}

cl_reload() { [[ -n "${CL_PID[$1]}" ]] && kill -HUP "${CL_PID[$1]}"; }

cl_alive() { [[ -n "${CL_PID[$1]}" ]] && kill -0 "${CL_PID[$1]}" 2>/dev/null; }

cl_start() {
    local i=$1 deadline
    echo "cl_start: node $i" >>"$CL_DIR/n$i.log"
    (cl_exec_node "$i" "$CL_BIN" -c "$CL_DIR/n$i.yaml") >>"$CL_DIR/n$i.log" 2>&1 &
    CL_PID[i]=$!
    deadline=$(($(cl_now_ms) + ${CL_START_MS:-15000}))
    while (($(cl_now_ms) < deadline)); do
        cl_alive "$i" || break
        cl_listening "$i" && return 0
        sleep 0.02
    done
    cl_fail "node $i did not start"
    return 1
}

cl_start_all() {
    local i
    for ((i = 1; i <= CL_N; i++)); do cl_start "$i" || return 1; done
}

cl_kill() {
    local i=$1
    [[ -n "${CL_PID[i]}" ]] || return 0
    kill -KILL "${CL_PID[i]}" 2>/dev/null
    wait "${CL_PID[i]}" 2>/dev/null
    CL_PID[i]=""
}

# SIGTERM; the node must exit 0 within 20 s.
cl_stop() {
    local i=$1 pid=${CL_PID[$1]} deadline status
    [[ -n "$pid" ]] || return 0
    CL_PID[i]=""
    kill -TERM "$pid" 2>/dev/null
    deadline=$(($(cl_now_ms) + 20000))
    while kill -0 "$pid" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.02; done
    if kill -0 "$pid" 2>/dev/null; then
        cl_fail "node $i ignored SIGTERM for 20 s"
        kill -KILL "$pid"
    fi
    wait "$pid"
    status=$?
    ((status == 0)) || cl_fail "node $i exited with status $status"
    return "$status"
}

# True if node I is alive and its log last said it serves as leader (the
# bridge logs both "this node leads the cluster and serves requests" and
# "this node no longer leads the cluster"), since it was last started (a
# node killed while leading says nothing more).
cl_leads() {
    local last
    cl_alive "$1" || return 1
    last=$(awk '/^cl_start: /{l = ""} /state store: this node (leads the cluster|no longer leads)/{l = $0}
        END {print l}' "$CL_DIR/n$1.log")
    [[ "$last" == *"leads the cluster and serves"* ]]
}

# The live node that serves as leader (0: none).
cl_leader() {
    local i
    for ((i = 1; i <= CL_N; i++)); do
        if cl_leads "$i"; then
            echo "$i"
            return 0
        fi
    done
    echo 0
}

cl_wait_leader() {
    local ms=${1:-15000} deadline l
    deadline=$(($(cl_now_ms) + ms))
    while (($(cl_now_ms) < deadline)); do
        l=$(cl_leader)
        if ((l > 0)); then
            echo "$l"
            return 0
        fi
        sleep 0.05
    done
    echo 0
    return 1
}

# A live node other than $1 (and $2).
cl_other() {
    local i
    for ((i = 1; i <= CL_N; i++)); do
        [[ "$i" == "$1" || "$i" == "${2:-}" ]] && continue
        cl_alive "$i" && {
            echo "$i"
            return 0
        }
    done
    echo 0
}

cl_cli() {
    local i=$1
    shift
    (cl_exec_client timeout 30 "$CL_CLI" -h "$(cl_host "$i")" -p "${CL_MQTT[i]}" --timeout 10 "$@")
}

cl_bg() {
    "$@" &
    CL_BG_PIDS+=($!)
}

cl_cleanup() {
    local pid i
    for pid in "${CL_BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    for ((i = 1; i <= CL_N; i++)); do cl_kill "$i"; done
    if ((CL_FAILED)); then
        for ((i = 1; i <= CL_N; i++)); do
            echo "  ---- node $i log ----" >&2
            tail -n 60 "$CL_DIR/n$i.log" 2>/dev/null | sed 's/^/  | /' >&2
        done
    fi
    rm -rf "$CL_DIR"
    local h
    for h in "${CL_AT_EXIT[@]}"; do $h; done
    CL_AT_EXIT=()
}

# Runs each named test function against a fresh cluster of $CL_SIZE nodes.
cl_run_tests() {
    local name any_failed=0 i
    trap cl_cleanup EXIT
    for name in "$@"; do
        CL_FAILED=0
        for ((i = 1; i <= CL_N; i++)); do cl_kill "$i"; done
        rm -rf "$CL_DIR"/d* "$CL_DIR"/n*.log
        CL_MQTT=() CL_RAFT=() CL_LINK=() CL_METRICS=() CL_PID=()
        cl_setup "${CL_SIZE:-3}" "${CL_EXTRA[@]}"
        if cl_start_all && cl_wait_leader 20000 >/dev/null; then
            "$name"
        else
            cl_fail "the cluster did not elect a leader"
        fi
        if ((CL_FAILED)); then
            echo "FAIL $name" >&2
            for ((i = 1; i <= CL_N; i++)); do
                echo "  ---- node $i log ----" >&2
                tail -n 40 "$CL_DIR/n$i.log" 2>/dev/null | sed 's/^/  | /' >&2
            done
            any_failed=1
        else
            echo "PASS $name" >&2
        fi
    done
    CL_FAILED=0
    return "$any_failed"
}
