#!/usr/bin/env bash
# Pub/sub benchmark: mqstated against Mosquitto with the same generator
# (bench/pubsub), on this machine, in one run. Builds nothing: pass the
# paths of already-built binaries (defaults: the build/release tree).
#
#   bench/run_pubsub.sh [--mqstated PATH] [--pubsub PATH] [--mosquitto PATH]
#                       [--runs R] [--warmup S] [--duration S] [--idle N]
#                       [--window W] [--mqtt 5|3.1.1] [--out DIR]
#                       [--only mqstated|mosquitto] [--report RESULTS.jsonl]
#
# For every scenario, both brokers are started fresh (so each RSS figure
# belongs to that scenario alone), then each is measured R times,
# alternating which one goes first, and the median of each metric is kept.
# Memory per idle connection: (RSS after N idle connections - RSS before)
# / N, on a fresh broker, median of R. Raw results: DIR/results.jsonl.
# Extra mqstated arguments (e.g. "-c my.yaml") can be given in
# $MQSTATED_ARGS; --port/--bind are always set by this script.
# --report only prints the table of an earlier run's results.jsonl.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
mosquitto=/usr/sbin/mosquitto
runs=3
warmup=2
duration=10
idle=1000
window=64
mqtt=5
only=""
out=""
report=""

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --mosquitto) mosquitto=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --mqtt) mqtt=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_pubsub.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done

brokers=(mqstated mosquitto)
[ -n "$only" ] && brokers=("$only")
# Check the binaries, raise the descriptor limit, create the output.
setup() {
    for b in "${brokers[@]}"; do
        case "$b" in
        mqstated) bin=$mqstated ;;
        mosquitto) bin=$mosquitto ;;
        *) echo "run_pubsub.sh: --only: unknown broker $b" >&2; exit 2 ;;
        esac
        [ -x "$bin" ] || { echo "run_pubsub.sh: $b not found at $bin" >&2; exit 2; }
    done
    [ -x "$pubsub" ] || { echo "run_pubsub.sh: generator not found at $pubsub (build target pubsub)" >&2; exit 2; }

    # 1000 idle connections plus the load runs need more than the usual 1024
    # descriptors, in the generator and in each broker (they inherit this).
    hard=$(ulimit -Hn)
    want=8192
    [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
    ulimit -n "$want"

    [ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/mqs-bench.XXXXXX")
    mkdir -p "$out"
    results="$out/results.jsonl"
    : >"$results"
}

# --- servers ------------------------------------------------------------------

. "$root/bench/common.sh" # also: the servers and generator it started are stopped at exit

# Mosquitto as Debian ships it, except: queue and in-flight limits raised so
# that it never drops a QoS 1 message in these scenarios (its default
# max_queued_messages 1000 is below the 100 x 64 messages that 100
# publishers with a window of 64 can have outstanding to one subscriber;
# max_inflight_messages also becomes the Receive Maximum it advertises).
mosquitto_conf() {
    cat <<EOF
listener $1 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
EOF
}

start_broker() {
    local name=$1 port
    port=$(free_port)
    case "$name" in
    mosquitto)
        mosquitto_conf "$port" >"$out/mosquitto-$port.conf"
        "$mosquitto" -c "$out/mosquitto-$port.conf" >>"$out/mosquitto.log" 2>&1 &
        ;;
    mqstated)
        # shellcheck disable=SC2086 # MQSTATED_ARGS is a list of words
        "$mqstated" --bind 127.0.0.1 --port "$port" ${MQSTATED_ARGS:-} >>"$out/mqstated.log" 2>&1 &
        ;;
    esac
    track_server "$name" "$port" $!
}

# --- runs ---------------------------------------------------------------------

# generate LIMIT_S ARGS...: one bounded generator run; prints its last line.
# Run in the background and waited for, so that a signal to this script
# ends the run at once (bash defers traps while a foreground child runs).
generate() {
    local limit=$1
    shift
    timeout -k 5 "$limit" "$pubsub" --host 127.0.0.1 --json "$@" >"$out/last.json" 2>>"$out/pubsub.err" &
    job_pid=$!
    wait "$job_pid" || true
    job_pid=""
    tail -n 1 "$out/last.json"
}

median() {
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run_load BROKER SCENARIO QOS RUN ARGS...
run_load() {
    local broker=$1 scenario=$2 qos=$3 run=$4 line
    shift 4
    local limit
    limit=$(awk -v w="$warmup" -v d="$duration" 'BEGIN { printf "%d", w + d + 45 }')
    generate "$limit" --port "${port_of[$broker]}" --server-pid "${pid_of[$broker]}" \
        --label "$broker" --qos "$qos" --size 64 --window "$window" --mqtt "$mqtt" \
        --warmup "$warmup" --duration "$duration" "$@" >"$out/line"
    line=$(cat "$out/line")
    [ -n "$line" ] || line="{\"ok\":false,\"label\":\"$broker\"}"
    echo "${line%\}},\"scenario\":\"$scenario\",\"run\":$run}" >>"$results"
    if ! kill -0 "${pid_of[$broker]}" 2>/dev/null; then
        echo "run_pubsub.sh: $broker died during $scenario QoS $qos run $run; restarting" >&2
        start_broker "$broker"
    fi
    printf '  %-9s %-7s qos%s run %s: %s msg/s delivered, p50 %s us, p99 %s us, lost %s, ok %s\n' \
        "$broker" "$scenario" "$qos" "$run" "$(jget recv_msgs_s <<<"$line")" \
        "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" "$(jget lost <<<"$line")" \
        "$(jget ok <<<"$line")" >&2
}

# Broker order for run r: alternate who goes first.
order() {
    if [ "${#brokers[@]}" -eq 1 ] || [ $(($1 % 2)) -eq 1 ]; then
        echo "${brokers[@]}"
    else
        echo "${brokers[1]} ${brokers[0]}"
    fi
}

scenarios=(
    "1-1|--pubs 1 --subs 1 --topic-mode fan-in"
    "10-10|--pubs 10 --subs 10 --topic-mode pairs"
    "100-1|--pubs 100 --subs 1 --topic-mode fan-in"
    "1-100|--pubs 1 --subs 100 --topic-mode fan-out"
    # Latency at a fixed load both brokers sustain (ratio ~1 by design).
    "1-1@10k|--pubs 1 --subs 1 --topic-mode fan-in --rate 10000"
)

run_all() {
    for qos in 0 1; do
        for sc in "${scenarios[@]}"; do
            name=${sc%%|*}
            # shellcheck disable=SC2206 # split the argument list on purpose
            args=(${sc#*|})
            for b in "${brokers[@]}"; do start_broker "$b"; done
            for r in $(seq "$runs"); do
                for b in $(order "$r"); do run_load "$b" "$name" "$qos" "$r" "${args[@]}"; done
            done
            for b in "${brokers[@]}"; do stop_server "$b"; done
        done
    done

    for r in $(seq "$runs"); do
        for b in $(order "$r"); do
            start_broker "$b"
            generate 120 --port "${port_of[$b]}" --server-pid "${pid_of[$b]}" --label "$b" \
                --idle "$idle" --mqtt "$mqtt" --duration 1 >"$out/line"
            line=$(cat "$out/line")
            [ -n "$line" ] || line="{\"ok\":false,\"label\":\"$b\",\"mode\":\"idle\"}"
            echo "${line%\}},\"scenario\":\"idle\",\"run\":$r}" >>"$results"
            printf '  %-9s idle run %s: %s bytes/connection\n' "$b" "$r" \
                "$(jget bytes_per_conn <<<"$line")" >&2
            stop_server "$b"
        done
    done
}

# --- table ---------------------------------------------------------------------

# med BROKER SCENARIO QOS FIELD: median over the successful runs.
med() {
    grep "\"label\":\"$1\"" "$results" | grep "\"scenario\":\"$2\"" | grep "\"qos\":$3," |
        grep '"ok":true' | jget "$4" | median
}

# worst BROKER SCENARIO QOS FIELD: largest value over the successful runs.
worst() {
    grep "\"label\":\"$1\"" "$results" | grep "\"scenario\":\"$2\"" | grep "\"qos\":$3," |
        grep '"ok":true' | jget "$4" | sort -g | tail -n 1
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

mib() {
    awk -v k="$1" 'BEGIN { if (k + 0 > 0) printf "%.1f", k / 1024; else print "n/a" }'
}

print_table() {
    a=${brokers[0]}
    z=${brokers[1]:-${brokers[0]}}
    echo
    echo "Pub/sub, 64-byte payloads, MQTT $mqtt, window $window, ${runs} runs of ${duration} s (median); $(nproc) CPUs"
    echo
    echo "| scenario | QoS | $a msg/s | $z msg/s | ratio | $a p50 / p99 µs | $z p50 / p99 µs | $a RSS MiB | $z RSS MiB | $a CPU % | $z CPU % | gen CPU % ($a / $z) | lost, worst run ($a / $z) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for qos in 0 1; do
        for sc in "${scenarios[@]}"; do
            name=${sc%%|*}
            ra=$(med "$a" "$name" "$qos" recv_msgs_s)
            rz=$(med "$z" "$name" "$qos" recv_msgs_s)
            printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s / %s | %s / %s |\n' \
                "$name" "$qos" "$ra" "$rz" "$(ratio "$ra" "$rz")" \
                "$(med "$a" "$name" "$qos" p50_us)" "$(med "$a" "$name" "$qos" p99_us)" \
                "$(med "$z" "$name" "$qos" p50_us)" "$(med "$z" "$name" "$qos" p99_us)" \
                "$(mib "$(med "$a" "$name" "$qos" server_rss_kib_max)")" \
                "$(mib "$(med "$z" "$name" "$qos" server_rss_kib_max)")" \
                "$(med "$a" "$name" "$qos" server_cpu_pct)" "$(med "$z" "$name" "$qos" server_cpu_pct)" \
                "$(med "$a" "$name" "$qos" gen_cpu_pct)" "$(med "$z" "$name" "$qos" gen_cpu_pct)" \
                "$(worst "$a" "$name" "$qos" lost)" "$(worst "$z" "$name" "$qos" lost)"
        done
    done
    ia=$(grep "\"label\":\"$a\"" "$results" | grep '"scenario":"idle"' | grep '"ok":true' | jget bytes_per_conn | median)
    iz=$(grep "\"label\":\"$z\"" "$results" | grep '"scenario":"idle"' | grep '"ok":true' | jget bytes_per_conn | median)
    echo
    echo "| memory per idle connection ($idle connections) | $a | $z | ratio |"
    echo "|---|---|---|---|"
    echo "| bytes (RSS growth / connections) | $ia | $iz | $(ratio "$ia" "$iz") |"
    echo
    lost=$(grep -c '"ok":false' "$results" || true)
    echo "Failed runs (excluded from medians): $lost. Lost/duplicate counts per run: $results"
}

if [ -n "$report" ]; then
    results=$report
else
    setup
    run_all
fi
print_table
