#!/usr/bin/env bash
# Mass expiry: how long reads wait while a million keys expire at once.
# Runs the end-to-end case mass_expiry_keeps_loop_responsive
# (tests/e2e/test_ss_expiry.c) with more keys, against a release mqstated,
# from a release build of the test (the suite runs the same case with
# 200000 keys under ASan):
#
#   bench/run_expiry.sh [--mqstated PATH] [--e2e PATH] [--keys N] [--runs R]
#
# Per run: N keys (default 1000000) are SET with PX aimed at one deadline;
# one connection watches 200 of them (KEYNOTIFY) and, from 200 ms before
# the deadline until the last of their DELETE notifications arrived, keeps
# one GET of another key in flight. Prints the latency of those GETs
# (p50, p99, max; all, and those sent from the deadline on) and how long
# the DELETEs of the watched keys took to arrive. The harness starts a
# fresh server on a free port for every run and stops it by its PID.
# Builds nothing: cmake --build build/release --target mqstated e2e_ss_expiry
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mqstated="$root/build/release/src/server/mqstated"
e2e="$root/build/release/tests/e2e/e2e_ss_expiry"
keys=1000000
runs=3

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case $1 in
    --mqstated) mqstated=$2; shift 2 ;;
    --e2e) e2e=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
    esac
done
[ -x "$mqstated" ] || { echo "no mqstated at $mqstated" >&2; exit 2; }
[ -x "$e2e" ] || { echo "no e2e_ss_expiry at $e2e" >&2; exit 2; }

status=0
for run in $(seq 1 "$runs"); do
    echo "run $run: $keys keys"
    MQS_TEST_BROKER=$mqstated MQS_MASS_EXPIRY_KEYS=$keys \
        "$e2e" mass_expiry_keeps_loop_responsive 2>&1 | grep -E '^(PASS|FAIL)|note|FAIL \[' || status=1
done
exit $status
