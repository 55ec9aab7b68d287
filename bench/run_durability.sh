#!/usr/bin/env bash
# Durability benchmark: mqstated's durable state store (persistence.dir)
# against Redis 7 with its append-only file, on this machine, in one run.
# Builds nothing (defaults: the build/release tree); installs
# redis-server/redis-tools if missing.
#
#   bench/run_durability.sh [--mqstated PATH] [--pubsub PATH] [--runs R]
#                           [--warmup S] [--duration S] [--keys K]
#                           [--restart-keys N] [--only throughput|restart|snapshot]
#                           [--taskset] [--out DIR] [--report RESULTS.jsonl]
#
# Throughput: SET of 16-byte keys ("key:" + 12 digits, random over K keys,
# default 100000) and 100-byte values from 50 connections with 1 and 16
# requests in flight, for fsync always (mqstated `fsync: always`, Redis
# `appendfsync always`) and everysec (both `everysec`). Every other
# setting is the default of each (mqstated snapshots past 64 MiB of log,
# Redis rewrites its AOF past 64 MiB and 100 % growth). Same drivers as
# run_statestore.sh: bench/pubsub for mqstated, redis-benchmark for Redis
# (-n = what its warm-up run did per second x --duration). For every
# scenario both servers start fresh on data directories in one temporary
# directory (DIR/data, same filesystem for both), then each is measured R
# times (default 3), alternating which goes first; medians are kept.
# Restart: N keys (default 1000000) SET once each into a fresh server
# (everysec), the server stopped (SIGTERM for mqstated, SHUTDOWN for
# Redis), then restarted R times; time = start to first accepted
# connection (mqstated; its listeners open after the restore) or to the
# first PING answered with PONG (Redis answers -LOADING until loaded), and
# the time the server itself logs. Pairs: log only (mqstated
# snapshot_log_bytes 0; Redis aof-use-rdb-preamble no, no rewrite) and
# compacted (both defaults: snapshot + short log; RDB preamble + AOF).
# The fill also gives the RSS growth per key with persistence, and a fill
# of a server without persistence the same figure without.
# Snapshot: N keys in mqstated (everysec, snapshot_log_bytes 1 MiB), then
# one connection SETs (1 in flight) so that snapshots of the N keys run
# back to back while another GETs (1 in flight, 1000 keys) for --duration
# s; GET p50 / p99 / max, snapshots taken and their fork() pauses.
# --taskset pins each server to CPU 0 and the client to CPU 1.
# Raw results: DIR/results.jsonl; --report prints the tables again.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
pubsub="$root/build/release/bench/pubsub"
runs=3
warmup=2
duration=10
keys=100000
restart_keys=1000000
conns=50
only=""
pin=false
out=""
report=""

usage() { sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
    --mqstated) mqstated=$2; shift 2 ;;
    --pubsub) pubsub=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --restart-keys) restart_keys=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --taskset) pin=true; shift ;;
    --out) out=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_durability.sh: unknown argument: $1" >&2; usage 2 ;;
    esac
done
case "$only" in ""|throughput|restart|snapshot) ;;
*) echo "run_durability.sh: --only throughput|restart|snapshot" >&2; exit 2 ;; esac

srv_cpu=()
cli_cpu=()
if $pin; then
    srv_cpu=(taskset -c 0)
    cli_cpu=(taskset -c 1)
fi

setup() {
    # shellcheck source=../scripts/deps.sh
    . "$root/scripts/deps.sh"
    mqs_install_packages redis-server redis-tools
    [ -x "$mqstated" ] || { echo "run_durability.sh: mqstated not found at $mqstated" >&2; exit 2; }
    [ -x "$pubsub" ] || { echo "run_durability.sh: generator not found at $pubsub (build target pubsub)" >&2; exit 2; }
    [ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/mqs-durbench.XXXXXX")
    mkdir -p "$out/data"
    results="$out/results.jsonl"
    : >"$results"
}

# --- servers ------------------------------------------------------------------

. "$root/bench/common.sh" # also: the servers and generator it started are stopped at exit

# start_mqstated DATADIR FSYNC SNAPSHOT_BYTES: DATADIR "" = no persistence.
start_mqstated() {
    local port cfg=$out/mqstated.yaml
    port=$(free_port)
    if [ -n "$1" ]; then
        printf 'persistence:\n  dir: %s\n  fsync: %s\n  snapshot_log_bytes: %s\n' "$1" "$2" "$3" >"$cfg"
    else
        : >"$cfg"
    fi
    "${srv_cpu[@]}" "$mqstated" -c "$cfg" --bind 127.0.0.1 --port "$port" >>"$out/mqstated.log" 2>&1 &
    track_server mqstated "$port" $!
}

# start_redis DATADIR FSYNC [EXTRA ARGS...]
start_redis() {
    local port dir=$1 fsync=$2
    shift 2
    port=$(free_port)
    mkdir -p "$dir"
    "${srv_cpu[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes \
        --appendfsync "$fsync" --dir "$dir" --daemonize no --protected-mode yes "$@" >>"$out/redis.log" 2>&1 &
    track_server redis "$port" $!
}

# --- throughput ---------------------------------------------------------------

# run_mqstated INFLIGHT SCENARIO RUN
run_mqstated() {
    local limit line
    limit=$(awk -v w="$warmup" -v d="$duration" 'BEGIN { printf "%d", w + d + 120 }')
    bounded "$limit" "$out/last.json" "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
        --server-pid "${pid_of[mqstated]}" --label mqstated --json --workload set \
        --conns "$conns" --inflight "$1" --keys "$keys" --value-size 100 \
        --warmup "$warmup" --duration "$duration"
    line=$(tail -n 1 "$out/last.json")
    [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
    record "$line" "$2" "$3"
    printf '  mqstated %-11s run %s: %s ops/s, p50 %s us, p99 %s us, reply errors %s, ok %s\n' "$2" "$3" \
        "$(jget ops_s <<<"$line")" "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" \
        "$(jget reply_errors <<<"$line")" "$(jget ok <<<"$line")" >&2
}

# redis_bench PIPELINE N: one redis-benchmark SET run, its CSV row in last.csv.
redis_bench() {
    bounded 600 "$out/last.csv" "${cli_cpu[@]}" redis-benchmark -h 127.0.0.1 -p "${port_of[redis]}" -c "$conns" \
        -P "$1" -n "$2" -r "$keys" -d 100 -t set --csv
    grep -i '^"set"' "$out/last.csv" | tail -n 1 | tr -d '"'
}

# run_redis PIPELINE SCENARIO RUN: a warm-up run of --warmup seconds sizes
# -n for --duration seconds; its CSV row as our JSON.
run_redis() {
    local n row line cpu0 cpu1 t0 t1 rps
    n=$((20000 * $1))
    row=$(redis_bench "$1" "$n")
    rps=$(cut -d, -f2 <<<"$row")
    n=$(awk -v r="${rps:-0}" -v d="$duration" -v w="$warmup" -v p="$1" 'BEGIN {
        n = int(r * d); if (n < 20000 * p) n = 20000 * p; print n }')
    if [ "$warmup" != 0 ]; then
        row=$(redis_bench "$1" "$(awk -v r="${rps:-0}" -v w="$warmup" 'BEGIN { print int(r * w) + 1000 }')")
    fi
    cpu0=$(awk '{ print $14 + $15 }' "/proc/${pid_of[redis]}/stat")
    t0=$(date +%s.%N)
    row=$(redis_bench "$1" "$n")
    t1=$(date +%s.%N)
    cpu1=$(awk '{ print $14 + $15 }' "/proc/${pid_of[redis]}/stat")
    if [ -n "$row" ]; then
        line=$(awk -F, -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '{
            printf "{\"ok\":true,\"label\":\"redis\",\"ops_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"server_cpu_pct\":%.1f}",
                $2, $5 * 1000, $7 * 1000, $8 * 1000, 100 * (c1 - c0) / hz / (t1 - t0) }' <<<"$row")
    else
        line='{"ok":false,"label":"redis"}'
    fi
    record "$line" "$2" "$3"
    printf '  redis    %-11s run %s: %s ops/s, p50 %s us, p99 %s us\n' "$2" "$3" \
        "$(jget ops_s <<<"$line")" "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" >&2
}

scenarios=("always-1|always|1" "always-16|always|16" "everysec-1|everysec|1" "everysec-16|everysec|16")

run_scenario() {
    local name=$1 fsync=$2 inflight=$3 r
    rm -rf "$out/data/mqstated-$name" "$out/data/redis-$name"
    start_mqstated "$out/data/mqstated-$name" "$fsync" 67108864
    start_redis "$out/data/redis-$name" "$fsync"
    for r in $(seq "$runs"); do
        if [ $((r % 2)) -eq 1 ]; then
            run_mqstated "$inflight" "$name" "$r"
            run_redis "$inflight" "$name" "$r"
        else
            run_redis "$inflight" "$name" "$r"
            run_mqstated "$inflight" "$name" "$r"
        fi
    done
    stop_server mqstated
    stop_server redis
    rm -rf "$out/data/mqstated-$name" "$out/data/redis-$name"
}

# --- restart ------------------------------------------------------------------

now_s() { date +%s.%N; }

# CPU seconds (user + system, all threads) PID has used so far.
cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# Seconds from T0 until Redis answers PING with PONG (at most 600 s).
redis_ready() {
    local t0=$1 port=$2
    for _ in $(seq 60000); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
            awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }'
            return
        fi
        sleep 0.01
    done
    echo -1
}

# fill_mqstated DATADIR SNAPSHOT_BYTES LABEL: fill (everysec), stop.
fill_mqstated() {
    local line
    start_mqstated "$1" everysec "$2"
    bounded 900 "$out/last.json" "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
        --server-pid "${pid_of[mqstated]}" --label mqstated --json --workload fill \
        --conns "$conns" --inflight 16 --keys "$restart_keys" --value-size 100
    line=$(tail -n 1 "$out/last.json")
    [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
    record "$line" "fill-$3" 0
    printf '  mqstated fill %-9s %s keys, %s bytes/key of RSS\n' "$3" "$(jget keys <<<"$line")" \
        "$(jget bytes_per_key <<<"$line")" >&2
    stop_server mqstated
}

# restart_mqstated DATADIR SNAPSHOT_BYTES LABEL RUN
restart_mqstated() {
    local t0 port wall own cpu
    : >"$out/mqstated.restart.log"
    port=$(free_port)
    printf 'persistence:\n  dir: %s\n  fsync: everysec\n  snapshot_log_bytes: %s\n' "$1" "$2" >"$out/mqstated.yaml"
    t0=$(now_s)
    "${srv_cpu[@]}" "$mqstated" -c "$out/mqstated.yaml" --bind 127.0.0.1 --port "$port" \
        >>"$out/mqstated.restart.log" 2>&1 &
    started+=("$!")
    pid_of[mqstated]=$!
    port_of[mqstated]=$port
    for _ in $(seq 60000); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        kill -0 "${pid_of[mqstated]}" 2>/dev/null || break
        sleep 0.005
    done
    wall=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
    cpu=$(cpu_s "${pid_of[mqstated]}")
    own=$(sed -n 's/.*state store restored in \([0-9.]*\) s.*/\1/p' "$out/mqstated.restart.log" | tail -n 1)
    cat "$out/mqstated.restart.log" >>"$out/mqstated.log"
    record "{\"ok\":true,\"label\":\"mqstated\",\"ready_s\":$wall,\"load_s\":${own:--1},\"cpu_s\":$cpu,\"disk_mb\":$(du -sm "$1" | cut -f1)}" \
        "restart-$3" "$4"
    printf '  mqstated restart %-9s run %s: ready after %s s (restore %s s, CPU %s s)\n' "$3" "$4" "$wall" "$own" "$cpu" >&2
    stop_server mqstated
}

# fill_redis DATADIR LABEL ARGS...: fill through redis-cli --pipe, stop.
fill_redis() {
    local dir=$1 label=$2
    shift 2
    start_redis "$dir" everysec "$@"
    awk -v n="$restart_keys" 'BEGIN { v = ""; for (i = 0; i < 100; i++) v = v "x";
        for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$100\r\n%s\r\n", i, v }' |
        timeout 600 "${cli_cpu[@]}" redis-cli -h 127.0.0.1 -p "${port_of[redis]}" --pipe >"$out/redis-fill.log" 2>&1 || true
    grep -q "errors: 0, replies: $restart_keys\$" "$out/redis-fill.log" ||
        { echo "run_durability.sh: Redis fill failed (see $out/redis-fill.log)" >&2; exit 1; }
    # let a running AOF rewrite finish, so the files are what a restart reads
    while redis-cli -h 127.0.0.1 -p "${port_of[redis]}" info persistence | grep -q 'aof_rewrite_in_progress:1'; do
        sleep 0.2
    done
    redis-cli -h 127.0.0.1 -p "${port_of[redis]}" shutdown >/dev/null 2>&1 || true
    stop_server redis
    printf '  redis    fill %-9s %s keys (%s)\n' "$label" "$restart_keys" "$(cd "$dir" && ls appendonlydir | tr '\n' ' ')" >&2
}

# restart_redis DATADIR LABEL RUN ARGS...
restart_redis() {
    local dir=$1 label=$2 run=$3 t0 port wall own cpu
    shift 3
    port=$(free_port)
    : >"$out/redis.restart.log"
    t0=$(now_s)
    "${srv_cpu[@]}" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly yes \
        --appendfsync everysec --dir "$dir" --daemonize no --protected-mode yes "$@" >>"$out/redis.restart.log" 2>&1 &
    started+=("$!")
    pid_of[redis]=$!
    port_of[redis]=$port
    wall=$(redis_ready "$t0" "$port")
    cpu=$(cpu_s "${pid_of[redis]}")
    own=$(sed -n 's/.*DB loaded from append only file: \([0-9.]*\) seconds.*/\1/p' "$out/redis.restart.log" | tail -n 1)
    cat "$out/redis.restart.log" >>"$out/redis.log"
    record "{\"ok\":true,\"label\":\"redis\",\"ready_s\":$wall,\"load_s\":${own:--1},\"cpu_s\":$cpu,\"disk_mb\":$(du -sm "$dir" | cut -f1)}" \
        "restart-$label" "$run"
    printf '  redis    restart %-9s run %s: ready after %s s (load %s s, CPU %s s)\n' "$label" "$run" "$wall" "$own" "$cpu" >&2
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    stop_server redis
}

run_restart() {
    local r m=$out/data/mqstated-restart z=$out/data/redis-restart
    local logonly=(--aof-use-rdb-preamble no --auto-aof-rewrite-percentage 0)
    # memory per key without persistence, for the overhead of durability
    local line
    start_mqstated "" "" ""
    bounded 900 "$out/last.json" "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
        --server-pid "${pid_of[mqstated]}" --label mqstated --json --workload fill \
        --conns "$conns" --inflight 16 --keys "$restart_keys" --value-size 100
    line=$(tail -n 1 "$out/last.json")
    [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
    record "$line" fill-memory 0
    printf '  mqstated fill in memory  %s bytes/key of RSS\n' "$(jget bytes_per_key <<<"$line")" >&2
    stop_server mqstated
    for mode in log compacted; do
        rm -rf "$m" "$z"
        if [ "$mode" = log ]; then
            fill_mqstated "$m" 0 log
            fill_redis "$z" log "${logonly[@]}"
        else
            fill_mqstated "$m" 67108864 compacted
            fill_redis "$z" compacted
        fi
        for r in $(seq "$runs"); do
            if [ "$mode" = log ]; then
                restart_mqstated "$m" 0 log "$r"
                restart_redis "$z" log "$r" "${logonly[@]}"
            else
                restart_mqstated "$m" 67108864 compacted "$r"
                restart_redis "$z" compacted "$r"
            fi
        done
        rm -rf "$m" "$z"
    done
}

# --- GETs during snapshots -----------------------------------------------------

run_snapshot() {
    local r m=$out/data/mqstated-snapshot line setter forks
    for r in $(seq "$runs"); do
        rm -rf "$m"
        : >"$out/mqstated.snap.log"
        start_mqstated "$m" everysec 1048576
        bounded 900 "$out/last.json" "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
            --server-pid "${pid_of[mqstated]}" --json --workload fill \
            --conns "$conns" --inflight 16 --keys "$restart_keys" --value-size 100
        local l0
        l0=$(wc -l <"$out/mqstated.log")
        timeout -k 5 $((duration + 60)) "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 --port "${port_of[mqstated]}" \
            --workload set --conns 1 --inflight 1 --keys "$restart_keys" --warmup 0 \
            --duration $((duration + warmup + 4)) >/dev/null 2>>"$out/client.err" &
        setter=$!
        bounded $((duration + 120)) "$out/last.json" "${cli_cpu[@]}" "$pubsub" --host 127.0.0.1 \
            --port "${port_of[mqstated]}" --server-pid "${pid_of[mqstated]}" --label mqstated --json \
            --workload get --conns 1 --inflight 1 --keys 1000 --warmup "$warmup" --duration "$duration"
        wait "$setter" || true
        line=$(tail -n 1 "$out/last.json")
        [ -n "$line" ] || line='{"ok":false,"label":"mqstated"}'
        forks=$(tail -n +"$((l0 + 1))" "$out/mqstated.log" | sed -n 's/.*fork took \([0-9.]*\) ms.*/\1/p')
        line="${line%\}},\"snapshots\":$(grep -c . <<<"$forks" || true),\"fork_med_ms\":$(median <<<"$forks"),\"fork_max_ms\":$(sort -g <<<"$forks" | tail -n 1 | sed 's/^$/-1/')}"
        record "$line" snapshot "$r"
        printf '  mqstated snapshot run %s: GET p50 %s us, p99 %s us, max %s us; %s snapshots, fork median %s ms, max %s ms\n' \
            "$r" "$(jget p50_us <<<"$line")" "$(jget p99_us <<<"$line")" "$(jget max_us <<<"$line")" \
            "$(jget snapshots <<<"$line")" "$(jget fork_med_ms <<<"$line")" "$(jget fork_max_ms <<<"$line")" >&2
        stop_server mqstated
        rm -rf "$m"
    done
}

# --- tables -------------------------------------------------------------------

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

# cpu_per_op LABEL SCENARIO: median over the runs of the server's CPU
# time per request, in µs (less sensitive to a busy machine than ops/s).
cpu_per_op() {
    grep "\"label\":\"$1\"" "$results" | grep "\"scenario\":\"$2\"" | grep '"ok":true' |
        while read -r l; do
            awk -v c="$(jget server_cpu_pct <<<"$l")" -v o="$(jget ops_s <<<"$l")" \
                'BEGIN { if (o + 0 > 0 && c + 0 > 0) printf "%.2f\n", c * 1e4 / o }'
        done | median
}

print_tables() {
    local sc name fsync inflight m z
    if grep -q '"scenario":"always-\|"scenario":"everysec-' "$results"; then
        echo
        echo "Durable SET: 50 connections, 16-byte keys, 100-byte values, random over $keys keys; medians of $runs runs; $(nproc) CPUs"
        echo
        echo "| fsync | in flight | mqstated ops/s | Redis ops/s | ratio | mqstated p50 / p99 µs | Redis p50 / p99 µs | mqstated CPU % | Redis CPU % | CPU µs per SET, mqstated / Redis |"
        echo "|---|---|---|---|---|---|---|---|---|---|"
        for sc in "${scenarios[@]}"; do
            IFS='|' read -r name fsync inflight <<<"$sc"
            m=$(med mqstated "$name" ops_s)
            z=$(med redis "$name" ops_s)
            printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s / %s |\n' "$fsync" "$inflight" "$m" "$z" \
                "$(ratio "$m" "$z")" "$(med mqstated "$name" p50_us)" "$(med mqstated "$name" p99_us)" \
                "$(med redis "$name" p50_us)" "$(med redis "$name" p99_us)" \
                "$(med mqstated "$name" server_cpu_pct)" "$(med redis "$name" server_cpu_pct)" \
                "$(cpu_per_op mqstated "$name")" "$(cpu_per_op redis "$name")"
        done
    fi
    if grep -q '"scenario":"restart-' "$results"; then
        echo
        echo "Restart with $restart_keys keys (16-byte keys, 100-byte values); medians of $runs restarts"
        echo
        echo "| files | mqstated ready s (restore s) | Redis ready s (load s) | ratio (ready) | CPU s to ready, mqstated / Redis | mqstated disk MB | Redis disk MB |"
        echo "|---|---|---|---|---|---|---|"
        for name in log compacted; do
            m=$(med mqstated "restart-$name" ready_s)
            z=$(med redis "restart-$name" ready_s)
            printf '| %s | %s (%s) | %s (%s) | %s | %s / %s | %s | %s |\n' \
                "$([ "$name" = log ] && echo "log only / AOF only" || echo "snapshot + log / RDB preamble + AOF")" \
                "$m" "$(med mqstated "restart-$name" load_s)" "$z" "$(med redis "restart-$name" load_s)" \
                "$(ratio "$m" "$z")" "$(med mqstated "restart-$name" cpu_s)" "$(med redis "restart-$name" cpu_s)" \
                "$(med mqstated "restart-$name" disk_mb)" "$(med redis "restart-$name" disk_mb)"
        done
        echo
        echo "| mqstated RSS per key ($restart_keys keys) | in memory | durable, log only | durable, snapshots |"
        echo "|---|---|---|---|"
        echo "| bytes | $(med mqstated fill-memory bytes_per_key) | $(med mqstated fill-log bytes_per_key) | $(med mqstated fill-compacted bytes_per_key) |"
    fi
    if grep -q '"scenario":"snapshot"' "$results"; then
        echo
        echo "GETs (1 in flight) during back-to-back snapshots of $restart_keys keys; medians of $runs runs"
        echo
        echo "| GET p50 µs | GET p99 µs | GET max µs | snapshots per run | fork() pause median / max ms |"
        echo "|---|---|---|---|---|"
        echo "| $(med mqstated snapshot p50_us) | $(med mqstated snapshot p99_us) | $(med mqstated snapshot max_us) | $(med mqstated snapshot snapshots) | $(med mqstated snapshot fork_med_ms) / $(med mqstated snapshot fork_max_ms) |"
    fi
    echo
    echo "Failed runs (excluded from medians): $(grep -c '"ok":false' "$results" || true). Raw: $results"
}

if [ -n "$report" ]; then
    results=$report
else
    setup
    if [ -z "$only" ] || [ "$only" = throughput ]; then
        for sc in "${scenarios[@]}"; do
            IFS='|' read -r name fsync inflight <<<"$sc"
            run_scenario "$name" "$fsync" "$inflight"
        done
    fi
    if [ -z "$only" ] || [ "$only" = restart ]; then run_restart; fi
    if [ -z "$only" ] || [ "$only" = snapshot ]; then run_snapshot; fi
fi
print_tables
