#!/usr/bin/env bash
# State store benchmark: mqstated's built-in store (driven by bench/pubsub
# --workload set|get|fill over MQTT 5) against Redis 7 (Debian's
# redis-server, driven by its own redis-benchmark), on this machine, in one
# run. Builds nothing: pass the paths of already-built binaries (defaults:
# the build/release tree). Installs redis-server/redis-tools if missing.
#
#   bench/run_statestore.sh [--mqstated PATH] [--pubsub PATH] [--runs R]
#                           [--warmup S] [--duration S] [--keys K]
#                           [--fill-keys N] [--redis-n1 N] [--redis-n16 N]
#                           [--only speed|memory] [--out DIR]
#                           [--report RESULTS.jsonl]
#
# Scenarios: SET and GET of 16-byte keys ("key:" + 12 digits, random over
# K keys, default 100000) and 100-byte values from 50 connections with 1
# and with 16 requests in flight; GET after a SET of every key. For every
# scenario both servers are started fresh, then each is measured R times
# (default 3), alternating which goes first; medians are kept. Redis runs
# --save '' --appendonly no; redis-benchmark gets -n requests (--redis-n1,
# --redis-n16: about --duration seconds each on a 2-core VM).
# Memory per key: a fresh server, N keys (default 1000000) SET once each,
# (RSS after - RSS before) / N; mqstated through the generator, Redis
# through redis-cli --pipe; median of R. Raw results: DIR/results.jsonl.
# --only runs one part: the four throughput scenarios or the memory one.
# --report only prints the table of an earlier run's results.jsonl.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
runs=3
warmup=2
duration=10
keys=100000
fill_keys=1000000
redis_n1=1000000
redis_n16=6000000
conns=50
out=""
report=""
only=""

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --fill-keys) fill_keys=$2; shift 2 ;;
    --redis-n1) redis_n1=$2; shift 2 ;;
    --redis-n16) redis_n16=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_statestore.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
case "$only" in
"" | speed | memory) ;;
*) echo "run_statestore.sh: --only takes speed or memory, not $only" >&2; usage 2 ;;
esac

setup() {
    # shellcheck source=../scripts/deps.sh
    . "$root/scripts/deps.sh"
    mqs_install_packages redis-server redis-tools
    [ -x "$mqstated" ] || { echo "run_statestore.sh: mqstated not found at $mqstated" >&2; exit 2; }
    [ -x "$pubsub" ] || { echo "run_statestore.sh: generator not found at $pubsub (build target pubsub)" >&2; exit 2; }
    [ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/mqs-ssbench.XXXXXX")
    mkdir -p "$out"
    results="$out/results.jsonl"
    : >"$results"
}

# --- servers ------------------------------------------------------------------

. "$root/bench/common.sh" # also: the servers and generator it started are stopped at exit

# Started as plain background commands so that $! is the server itself.
start_server() {
    local name=$1 port
    port=$(free_port)
    case "$name" in
    mqstated)
        # shellcheck disable=SC2086 # MQSTATED_ARGS is a list of words
        "$mqstated" --bind 127.0.0.1 --port "$port" ${MQSTATED_ARGS:-} >>"$out/mqstated.log" 2>&1 &
        ;;
    redis)
        redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --daemonize no --protected-mode yes >>"$out/redis.log" 2>&1 &
        ;;
    esac
    track_server "$name" "$port" $!
}

# --- runs ---------------------------------------------------------------------

# SET every key of 0..N-1 once, as redis-benchmark names them, for Redis
# GETs to hit and for the memory figure.
redis_fill() {
    local n=$1
    awk -v n="$n" 'BEGIN { v = ""; for (i = 0; i < 100; i++) v = v "x";
        for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$100\r\n%s\r\n", i, v }' |
        timeout 300 redis-cli -h 127.0.0.1 -p "${port_of[redis]}" --pipe >"$out/redis-fill.log" 2>&1 || true
    grep -q "errors: 0, replies: $n\$" "$out/redis-fill.log" ||
        { echo "run_statestore.sh: Redis fill failed (see $out/redis-fill.log)" >&2; exit 1; }
}

# run_mqstated WORKLOAD INFLIGHT SCENARIO RUN
run_mqstated() {
    local limit line
    limit=$(awk -v w="$warmup" -v d="$duration" 'BEGIN { printf "%d", w + d + 120 }')
    bounded "$limit" "$out/last.json" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
        --server-pid "${pid_of[mqstated]}" --label mqstated --json --workload "$1" \
        --conns "$conns" --inflight "$2" --keys "$keys" --value-size 100 \
        --warmup "$warmup" --duration "$duration"
    line=$(tail -n 1 "$out/last.json")
    [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
    record "$line" "$3" "$4"
    printf '  mqstated %-7s run %s: %s ops/s, p50 %s us, p99 %s us, reply errors %s, ok %s\n' "$3" "$4" \
        "$(jget ops_s <<<"$line")" "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" \
        "$(jget reply_errors <<<"$line")" "$(jget ok <<<"$line")" >&2
}

# run_redis TEST PIPELINE SCENARIO RUN: redis-benchmark's CSV row
# ("test","rps","avg","min","p50","p95","p99","max"; ms) as our JSON.
run_redis() {
    local n=$redis_n1 row line cpu0 cpu1 t0 t1
    [ "$2" -gt 1 ] && n=$redis_n16
    cpu0=$(awk '{ print $14 + $15 }' "/proc/${pid_of[redis]}/stat")
    t0=$(date +%s.%N)
    bounded 300 "$out/last.csv" redis-benchmark -h 127.0.0.1 -p "${port_of[redis]}" -c "$conns" \
        -P "$2" -n "$n" -r "$keys" -d 100 -t "$1" --csv
    t1=$(date +%s.%N)
    cpu1=$(awk '{ print $14 + $15 }' "/proc/${pid_of[redis]}/stat")
    row=$(grep -i "^\"$1\"" "$out/last.csv" | tail -n 1 | tr -d '"')
    if [ -n "$row" ]; then
        line=$(awk -F, -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '{
            printf "{\"ok\":true,\"label\":\"redis\",\"ops_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"server_cpu_pct\":%.1f}",
                $2, $5 * 1000, $7 * 1000, $8 * 1000, 100 * (c1 - c0) / hz / (t1 - t0) }' <<<"$row")
    else
        line='{"ok":false,"label":"redis"}'
    fi
    record "$line" "$3" "$4"
    printf '  redis    %-7s run %s: %s ops/s, p50 %s us, p99 %s us\n' "$3" "$4" \
        "$(jget ops_s <<<"$line")" "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" >&2
}

scenarios=("set-1|set|1" "set-16|set|16" "get-1|get|1" "get-16|get|16")

run_scenario() {
    local name=$1 cmd=$2 inflight=$3 r
    start_server mqstated
    start_server redis
    [ "$cmd" = get ] && redis_fill "$keys"
    for r in $(seq "$runs"); do
        if [ $((r % 2)) -eq 1 ]; then
            run_mqstated "$cmd" "$inflight" "$name" "$r"
            run_redis "$cmd" "$inflight" "$name" "$r"
        else
            run_redis "$cmd" "$inflight" "$name" "$r"
            run_mqstated "$cmd" "$inflight" "$name" "$r"
        fi
    done
    stop_server mqstated
    stop_server redis
}

memory_mqstated() {
    local r=$1 line
    start_server mqstated
    bounded 900 "$out/last.json" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
        --server-pid "${pid_of[mqstated]}" --label mqstated --json --workload fill \
        --conns "$conns" --inflight 16 --keys "$fill_keys" --value-size 100
    line=$(tail -n 1 "$out/last.json")
    [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
    record "$line" memory "$r"
    printf '  mqstated memory run %s: %s bytes/key (%s keys)\n' "$r" "$(jget bytes_per_key <<<"$line")" \
        "$(jget keys <<<"$line")" >&2
    stop_server mqstated
}

memory_redis() {
    local r=$1 before after n line
    start_server redis
    before=$(rss_kib "${pid_of[redis]}")
    redis_fill "$fill_keys"
    sleep 1 # as the generator's --idle-settle
    after=$(rss_kib "${pid_of[redis]}")
    n=$(redis-cli -h 127.0.0.1 -p "${port_of[redis]}" dbsize)
    line=$(awk -v b="$before" -v a="$after" -v n="$n" 'BEGIN {
        printf "{\"ok\":%s,\"label\":\"redis\",\"mode\":\"fill\",\"keys\":%d,\"rss_before_kib\":%d,\"rss_after_kib\":%d,\"bytes_per_key\":%.1f}",
            (n > 0 ? "true" : "false"), n, b, a, (n > 0 ? (a - b) * 1024 / n : -1) }')
    record "$line" memory "$r"
    printf '  redis    memory run %s: %s bytes/key (%s keys)\n' "$r" "$(jget bytes_per_key <<<"$line")" "$n" >&2
    stop_server redis
}

run_all() {
    local sc r
    if [ "$only" != memory ]; then
        for sc in "${scenarios[@]}"; do
            IFS='|' read -r name cmd inflight <<<"$sc"
            run_scenario "$name" "$cmd" "$inflight"
        done
    fi
    [ "$only" = speed ] && return
    for r in $(seq "$runs"); do
        if [ $((r % 2)) -eq 1 ]; then memory_mqstated "$r"; memory_redis "$r";
        else memory_redis "$r"; memory_mqstated "$r"; fi
    done
}

# --- table ---------------------------------------------------------------------

median() {
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# med LABEL SCENARIO FIELD: median over the successful runs.
med() {
    grep "\"label\":\"$1\"" "$results" | grep "\"scenario\":\"$2\"" | grep '"ok":true' | jget "$3" | median
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

met() {
    awk -v r="$1" -v t="$2" -v le="${3:-}" 'BEGIN { if (r == "n/a") print "n/a";
        else if (le != "" ? r + 0 <= t + 0 : r + 0 >= t + 0) print "yes"; else print "**no**" }'
}

print_table() {
    echo
    echo "State store: 50 connections, 16-byte keys, 100-byte values, random over $keys keys; ${runs} runs (median); $(nproc) CPUs"
    echo
    echo "| scenario | mqstated ops/s | Redis ops/s | ratio | target | met? | mqstated p50 / p99 µs | Redis p50 / p99 µs | mqstated CPU % | Redis CPU % | generator CPU % |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    local sc name cmd inflight m z q target
    for sc in "${scenarios[@]}"; do
        IFS='|' read -r name cmd inflight <<<"$sc"
        m=$(med mqstated "$name" ops_s)
        z=$(med redis "$name" ops_s)
        q=$(ratio "$m" "$z")
        target=1.2 # issue 15: 1 in flight >= 1.2 x Redis, 16 in flight >= 0.8 x
        [ "$inflight" -gt 1 ] && target=0.8
        printf '| %s, %s in flight | %s | %s | %s | ≥ %s | %s | %s / %s | %s / %s | %s | %s | %s |\n' \
            "${cmd^^}" "$inflight" "$m" "$z" "$q" "$target" "$(met "$q" "$target")" \
            "$(med mqstated "$name" p50_us)" "$(med mqstated "$name" p99_us)" \
            "$(med redis "$name" p50_us)" "$(med redis "$name" p99_us)" \
            "$(med mqstated "$name" server_cpu_pct)" "$(med redis "$name" server_cpu_pct)" \
            "$(med mqstated "$name" gen_cpu_pct)"
    done
    m=$(med mqstated memory bytes_per_key)
    z=$(med redis memory bytes_per_key)
    q=$(ratio "$m" "$z")
    echo
    echo "| memory per key ($fill_keys keys, RSS growth / keys) | mqstated | Redis | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    echo "| bytes | $m | $z | $q | ≤ 1.0 | $(met "$q" 1.0 le) |"
    echo
    echo "Failed runs (excluded from medians): $(grep -c '"ok":false' "$results" || true). Raw: $results"
}

if [ -n "$report" ]; then
    results=$report
else
    setup
    run_all
fi
print_table
