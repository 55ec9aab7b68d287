# Network partitions for the cluster harness: every node in its own
# network namespace; source after cluster_lib.sh.
#
#   ns_setup N                 make the namespaces (exits 77 if it cannot)
#   cl_partition "1 2" "3 4 5" no traffic between the two groups (both ways)
#   cl_isolate I               node I alone on its side
#   cl_oneway I J              node I cannot send to node J (J still can to I)
#   cl_heal                    every partition removed
#   ns_client CMD...           run a client (CLI, ss_history) beside the nodes
#
# Topology (all in namespaces this run creates, named mqs-<pid>-<random>-*,
# so parallel runs never clash; no host interface is touched):
#
#   node i: namespace ...-i, eth0 = 10.A.B.i/24 ─┐ veth
#   client: namespace ...-c, eth0 = 10.A.B.250/24 ┼─ bridge br0 in namespace ...-b
#
# with 10.A.B.0/24 drawn per run. Each node's MQTT listener, raft_address
# and link_address are on its own address. A partition is made of
# blackhole routes in the senders' namespaces (`ip route add blackhole
# 10.A.B.j/32` in i's: i's packets to j are dropped, and i's own sends fail
# with EINVAL); clients are never cut off, so they can show what the
# minority answers. With TCP a one-way loss breaks every connection
# between the two nodes, whoever opened it (SYN-ACKs and ACKs are lost as
# well): what stays one-way is only which side sees errors at once and
# which side sees silence.
#
# Everything is removed by cl_cleanup (CL_AT_EXIT) even when a test fails;
# the tests need root (CI runs them as root) and skip (exit 77) otherwise.

NS_PREFIX=""
NS_NET=""
NS_NODES=0

ns_skip() {
    echo "skipped: $*" >&2
    exit 77
}

ns_name() { echo "$NS_PREFIX-$1"; }

# Bring a namespace up with an address on the bridge.
ns__attach() {
    local ns=$1 host=$2 peer=$3
    ip netns add "$ns" || return 1
    ip -n "$NS_PREFIX-b" link add "$peer" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$NS_PREFIX-b" link set "$peer" master br0 up || return 1
    ip -n "$ns" addr add "$NS_NET.$host/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$ns" link set lo up
}

ns_teardown() {
    [[ -n "$NS_PREFIX" ]] || return 0
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ "$ns" == "$NS_PREFIX"-* ]] && ip netns del "$ns" 2>/dev/null
    done
    NS_PREFIX=""
}

ns_setup() {
    local n=$1 i
    ((EUID == 0)) || ns_skip "network namespaces need root (CI runs this test as root)"
    command -v ip >/dev/null || ns_skip "no ip command (iproute2)"
    NS_PREFIX="mqs-$$-$RANDOM"
    NS_NET="10.$((16 + RANDOM % 200)).$((RANDOM % 250))"
    NS_NODES=$n
    CL_AT_EXIT+=(ns_teardown)
    if ! ip netns add "$NS_PREFIX-b" 2>"$CL_DIR/netns.err"; then
        NS_PREFIX=""
        ns_skip "cannot create a network namespace: $(cat "$CL_DIR/netns.err")"
    fi
    # A new bridge has STP off: its ports forward at once.
    ip -n "$NS_PREFIX-b" link add br0 type bridge &&
        ip -n "$NS_PREFIX-b" link set br0 up &&
        ns__attach "$NS_PREFIX-c" 250 vc || {
        ns_teardown
        ns_skip "cannot build the test network (bridge, veth)"
    }
    for ((i = 1; i <= n; i++)); do
        ns__attach "$(ns_name "$i")" "$i" "v$i" || {
            ns_teardown
            ns_skip "cannot build the test network (node $i)"
        }
        CL_HOST[i]="$NS_NET.$i"
    done
    # Not loopback: a listener needs an authentication section. The test
    # network is reachable from its own namespaces only.
    CL_LISTENER=("authentication: {methods: [anonymous]}")
    ns__hooks
}

# The hooks of cluster_lib.sh, installed by ns_setup (so a script may run
# a loopback cluster first, then a partitioned one).
ns__hooks() {
    cl_exec_node() {
        local i=$1
        shift
        exec ip netns exec "$(ns_name "$i")" "$@"
    }
    cl_exec_client() { exec ip netns exec "$NS_PREFIX-c" "$@"; }
    # Listening sockets of node i's namespace (its own /proc/PID/net/tcp):
    # no process is started per poll.
    cl_listening() {
        local a b c d want
        IFS=. read -r a b c d <<<"${CL_HOST[$1]}"
        want=$(printf '%02X%02X%02X%02X:%04X 00000000:0000 0A' "$d" "$c" "$b" "$a" "${CL_MQTT[$1]}")
        grep -q ": $want " "/proc/${CL_PID[$1]}/net/tcp" 2>/dev/null
    }
}
ns_client() { (cl_exec_client "$@"); }

cl_oneway() {
    ip -n "$(ns_name "$1")" route replace blackhole "${CL_HOST[$2]}/32"
}

cl_partition() {
    local a b
    for a in $1; do
        for b in $2; do
            cl_oneway "$a" "$b"
            cl_oneway "$b" "$a"
        done
    done
}

cl_isolate() {
    local j others=""
    for ((j = 1; j <= NS_NODES; j++)); do ((j == $1)) || others+=" $j"; done
    cl_partition "$1" "$others"
}

cl_heal() {
    local i r
    for ((i = 1; i <= NS_NODES; i++)); do
        ip -n "$(ns_name "$i")" route show type blackhole | while read -r _ r _; do
            ip -n "$(ns_name "$i")" route del blackhole "$r"
        done
    done
}

# --- who leads, seen from each node's log -------------------------------------

# cl_wait_leader_in "3 4 5" MS: wait until one of these nodes leads; prints it (0: none).
cl_wait_leader_in() {
    local deadline=$(($(cl_now_ms) + ${2:-15000})) i
    while (($(cl_now_ms) < deadline)); do
        for i in $1; do
            cl_leads "$i" && {
                echo "$i"
                return 0
            }
        done
        sleep 0.05
    done
    echo 0
    return 1
}

# cl_cli_t I SECONDS ARGS...: the CLI against node I with its own --timeout.
cl_cli_t() {
    local i=$1 t=$2
    shift 2
    (cl_exec_client timeout $((t + 20)) "$CL_CLI" -h "$(cl_host "$i")" -p "${CL_MQTT[i]}" --timeout "$t" "$@")
}

# cl_wait_all_serve MS: after healing, wait (at most MS) until every live
# node serves a read (exit 0 or 1: found or not); notes how long the
# slowest took. A node cut off from the leader learns of it again only
# when the leader's raft connection to it is back, which took up to ~15 s
# on a loaded machine.
cl_wait_all_serve() {
    local deadline t0 i rc
    t0=$(cl_now_ms)
    deadline=$((t0 + ${1:-30000}))
    for ((i = 1; i <= CL_N; i++)); do
        cl_alive "$i" || continue
        while :; do
            cl_cli_t "$i" 3 get serve-probe >/dev/null 2>&1
            rc=$?
            ((rc == 0 || rc == 1)) && break
            (($(cl_now_ms) < deadline)) || {
                cl_fail "node $i serves no read $((${1:-30000} / 1000)) s after healing (exit $rc)"
                return 1
            }
            sleep 0.2
        done
    done
    cl_note "every node serves reads $(($(cl_now_ms) - t0)) ms after healing"
}

# --- convergence: the same applied changes on every node ----------------------
#
# Reads are linearizable, so every node answers a GET with the leader's
# value: comparing GETs shows forwarding works, not that each node applied
# the same entries. KEYNOTIFY does: every node applies the committed
# records in order and notifies its own watchers, so a `mqstate watch` on
# each node prints that node's applied changes of the keys, with their
# versions. After healing, the outputs must be identical line for line.

CL_WATCH_PID=()

# cl_watch_start KEY...: a watcher on every live node; waits until each is registered.
cl_watch_start() {
    local i deadline
    for ((i = 1; i <= CL_N; i++)); do
        cl_alive "$i" || continue
        (cl_exec_client "$CL_CLI" -h "$(cl_host "$i")" -p "${CL_MQTT[i]}" --verbose watch "$@") \
            >"$CL_DIR/watch$i.out" 2>"$CL_DIR/watch$i.err" &
        CL_WATCH_PID[i]=$!
        CL_BG_PIDS+=($!)
    done
    deadline=$(($(cl_now_ms) + 20000))
    for ((i = 1; i <= CL_N; i++)); do
        [[ -n "${CL_WATCH_PID[i]:-}" ]] || continue
        while ! grep -q "watching" "$CL_DIR/watch$i.err" 2>/dev/null; do
            (($(cl_now_ms) < deadline)) || {
                cl_fail "the watcher on node $i did not register: $(cat "$CL_DIR/watch$i.err")"
                return 1
            }
            sleep 0.05
        done
    done
}

# cl_watch_converge MS: wait (at most MS) until every watcher printed the
# same lines, stop them, and fail unless the outputs are identical and
# no watcher lost its connection. Prints the number of changes.
cl_watch_converge() {
    local deadline=$(($(cl_now_ms) + ${1:-20000})) i same ref
    while :; do
        same=1
        ref=""
        for ((i = 1; i <= CL_N; i++)); do
            [[ -n "${CL_WATCH_PID[i]:-}" ]] || continue
            [[ -n "$ref" ]] || ref=$i
            cmp -s "$CL_DIR/watch$ref.out" "$CL_DIR/watch$i.out" || same=0
        done
        ((same)) && sleep 0.5 # and nothing more arrives
        if ((same)); then
            for ((i = 1; i <= CL_N; i++)); do
                [[ -n "${CL_WATCH_PID[i]:-}" ]] || continue
                cmp -s "$CL_DIR/watch$ref.out" "$CL_DIR/watch$i.out" || same=0
            done
        fi
        ((same)) && break
        (($(cl_now_ms) < deadline)) || break
        sleep 0.2
    done
    for ((i = 1; i <= CL_N; i++)); do
        [[ -n "${CL_WATCH_PID[i]:-}" ]] || continue
        kill -TERM "${CL_WATCH_PID[i]}" 2>/dev/null
        wait "${CL_WATCH_PID[i]}" 2>/dev/null
        grep -qi "lost\|synthetic" "$CL_DIR/watch$i.err" "$CL_DIR/watch$i.out" &&
            cl_fail "the watcher on node $i lost its connection: $(head -c 300 "$CL_DIR/watch$i.err")"
    done
    if ((!same)); then
        for ((i = 1; i <= CL_N; i++)); do
            [[ -n "${CL_WATCH_PID[i]:-}" ]] || continue
            cmp -s "$CL_DIR/watch$ref.out" "$CL_DIR/watch$i.out" && continue
            cl_fail "node $i applied other changes than node $ref ($(wc -l <"$CL_DIR/watch$i.out") and" \
                "$(wc -l <"$CL_DIR/watch$ref.out") lines); first difference:" \
                "$(diff "$CL_DIR/watch$ref.out" "$CL_DIR/watch$i.out" | head -n 6 | tr '\n' '|')"
        done
    fi
    CL_WATCH_PID=()
    wc -l <"$CL_DIR/watch$ref.out"
}
