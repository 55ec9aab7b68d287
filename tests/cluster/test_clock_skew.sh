#!/usr/bin/env bash
# Clock skew across failovers: node 1's wall clock runs 30 s ahead and
# node 2's 30 s behind (libfaketime, Debian `faketime`; their monotonic
# clocks are left alone), node 3's is right. Under load from clients on
# every node (tests/fault/ss_history), the leadership moves from node 1 to
# node 2 (the new leader's clock a minute behind its predecessor's) and
# back. Checked:
#   - the history is linearizable (tests/tools/lincheck.py);
#   - versions never go backwards: node 3's watcher sees every change in
#     commit order, and the versions of its SET lines strictly increase
#     across both failovers; the first version the new leader issues is
#     above the last one its predecessor issued;
#   - fencing stays valid: a token issued by node 1 (30 s ahead) still
#     protects its key under node 2 (30 s behind): the same token is
#     accepted, an older one refused, and a token node 2 issues is above it
#     and then required.
# Failovers are made deterministic: the third node is killed, a write
# commits on the two others, the leader is killed (SIGKILL), the third
# node restarts: its log is behind, so only the chosen node can win.
#
# Needs $MQSTATED, $MQSTATE_CLI, $SS_HISTORY, python3 and libfaketime.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/cluster_lib.sh"
. "$HERE/netns_lib.sh" # cl_wait_leader_in, cl_cli_t (no namespaces here)

LINCHECK="$HERE/../tools/lincheck.py"
FT_LIB=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1 \
    /usr/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1; do
    [[ -e "$f" ]] && FT_LIB=$f && break
done
if [[ -z "$FT_LIB" || -z "${SS_HISTORY:-}" || -z "$CL_CLI" ]] || ! command -v python3 >/dev/null; then
    echo "skipped: needs libfaketime (Debian faketime), ss_history, the mqstate CLI and python3" >&2
    exit 77
fi

SKEW=([1]="+30s" [2]="-30s")
# Node I's wall clock shifted (ASan must not insist on being preloaded first).
cl_exec_node() {
    local i=$1
    shift
    [[ -n "${SKEW[i]:-}" ]] || exec "$@"
    exec env LD_PRELOAD="$FT_LIB" FAKETIME="${SKEW[i]}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}

trap cl_cleanup EXIT
trap 'exit 143' TERM INT HUP

version_of() { sed -n 's/.*"version":"\([^"]*\)".*/\1/p'; }

# hlc_cmp A B: prints -1, 0 or 1 (wall, counter, node: protocol §4.3).
hlc_cmp() {
    python3 - "$1" "$2" <<'EOF'
import sys
def key(v):
    w, c, n = v.split(":", 2)
    return (int(w), int(c), n.encode())
a, b = key(sys.argv[1]), key(sys.argv[2])
print((a > b) - (a < b))
EOF
}

# failover_to T: move the leadership from the current leader to node T.
failover_to() {
    local t=$1 l o t0
    l=$(cl_wait_leader 20000)
    ((l == t)) && return 0
    for o in 1 2 3; do ((o != l && o != t)) && break; done
    # Node t was restarted by the previous round: under ASan, loading its
    # raft log takes seconds; let it catch up before it must take over.
    local deadline=$(($(cl_now_ms) + 60000))
    until cl_cli "$t" cluster status 2>/dev/null |
        python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["leader"] and s["last_applied"] >= s["commit_index"] > 0 else 1)' 2>/dev/null; do
        (($(cl_now_ms) < deadline)) || break
        sleep 0.2
    done
    cl_kill "$o"
    cl_cli "$t" set "failover-to-$t" x >/dev/null || cl_fail "write before the failover to node $t"
    cl_kill "$l"
    t0=$(cl_now_ms)
    cl_start "$o"
    local nl
    nl=$(cl_wait_leader_in "$t $o" 20000)
    if ((nl != t)); then
        cl_fail "node $nl leads after node $l was killed, expected node $t"
        return 1
    fi
    cl_note "failover: node $l (clock ${SKEW[l]:-+0s}) -> node $t (clock ${SKEW[t]:-+0s}) in $(($(cl_now_ms) - t0)) ms"
    cl_start "$l"
}

cl_setup 3 "snapshot_entries: 512" # short logs: restarts load quickly under ASan
cl_start_all || exit 1
cl_wait_leader 20000 >/dev/null || {
    cl_fail "no leader"
    exit 1
}
failover_to 1 || exit 1

# Node 3 (right clock) watches every key written below. It is restarted
# by the failovers: the watcher reconnects and prints a synthetic line per
# key (a fresh get, not a change: skipped below).
(cl_exec_client "$CL_CLI" -h 127.0.0.1 -p "${CL_MQTT[3]}" --verbose --json watch h0 h1 h2 h3 fk fa fb) \
    >"$CL_DIR/watch.out" 2>"$CL_DIR/watch.err" &
wpid=$!
CL_BG_PIDS+=("$wpid")
deadline=$(($(cl_now_ms) + 20000))
until grep -q watching "$CL_DIR/watch.err"; do
    (($(cl_now_ms) < deadline)) || {
        cl_fail "the watcher did not register"
        exit 1
    }
    sleep 0.05
done

ports=$(IFS=,; echo "${CL_MQTT[*]}")
seconds=16
"$SS_HISTORY" --ports "$ports" --out "$CL_DIR/history.jsonl" --clients 6 --keys 4 --seconds "$seconds" \
    --timeout-ms 4000 >"$CL_DIR/ss_history.out" 2>&1 &
hpid=$!
CL_BG_PIDS+=("$hpid")
sleep 2

# Tokens under node 1 (30 s ahead).
v0=$(cl_cli 3 --json set fa x | version_of)
v1=$(cl_cli 3 --json set fk a | version_of)
[[ -n "$v0" && -n "$v1" ]] || cl_fail "no versions from the sets ('$v0', '$v1')"
cl_cli 3 set fk b --ft "$v1" >/dev/null || cl_fail "set fk with the token $v1 under node 1"
cl_note "tokens issued by node 1: $v0, $v1 (wall clock now $(date +%s%3N))"

failover_to 2 || exit 1
sleep 1

# Under node 2 (30 s behind): the old token still holds, an older one is
# refused, and the new leader's versions are above every committed one.
cl_cli 1 set fk c --ft "$v1" >/dev/null || cl_fail "set fk with node 1's token $v1 refused under node 2"
cl_cli_t 3 10 set fk d --ft "$v0" >/dev/null 2>"$CL_DIR/lower.err"
rc=$?
((rc == 4)) && grep -q "lower" "$CL_DIR/lower.err" ||
    cl_fail "set fk with the older token $v0 under node 2: exit $rc ($(cat "$CL_DIR/lower.err")), expected 4, lower"
v2=$(cl_cli 3 --json set fb y | version_of)
cl_note "version issued by node 2: $v2"
[[ "$(hlc_cmp "$v2" "$v1")" == 1 ]] || cl_fail "node 2 issued $v2, not above node 1's $v1"
cl_cli 3 set fk e --ft "$v2" >/dev/null || cl_fail "set fk with node 2's token $v2"
cl_cli_t 1 10 set fk f --ft "$v1" >/dev/null 2>&1 && cl_fail "set fk with $v1 accepted after $v2 protected it"

failover_to 1 || exit 1
v3=$(cl_cli 2 --json set fa z | version_of)
[[ "$(hlc_cmp "$v3" "$v2")" == 1 ]] || cl_fail "node 1 issued $v3 after node 2's $v2"
got=$(cl_cli 2 get fk)
[[ "$got" == e ]] || cl_fail "fk = '$got', expected e"

deadline=$(($(cl_now_ms) + seconds * 1000 + 60000))
while kill -0 "$hpid" 2>/dev/null && (($(cl_now_ms) < deadline)); do sleep 0.1; done
wait "$hpid" || cl_fail "ss_history failed: $(cat "$CL_DIR/ss_history.out")"
cat "$CL_DIR/ss_history.out"
if ! timeout 240 python3 "$LINCHECK" "$CL_DIR/history.jsonl" >"$CL_DIR/lincheck.out" 2>&1; then
    head -c 3000 "$CL_DIR/lincheck.out"
    kept="${MQS_KEEP_DIR:-${TMPDIR:-/tmp}}/mqs-skew-history-$(date +%Y%m%d-%H%M%S)-$$.jsonl"
    cp "$CL_DIR/history.jsonl" "$kept" && echo "history kept: $kept" >&2
    cl_fail "the history is not linearizable"
fi

# Every SET node 3 applied, in commit order: versions strictly increase.
sleep 1
kill -TERM "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
python3 - "$CL_DIR/watch.out" <<'EOF' || cl_fail "versions went backwards (node 3's watcher)"
import json, sys
prev = None
n = replayed = 0
nodes = set()
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("synthetic") or e.get("operation") != "SET" or not e.get("version"):
        continue
    # A restarted node re-applies its raft log from the start and notifies
    # the new registration of old changes again (reported as a bug): an
    # exact repeat of a change seen before is counted, not checked.
    if (e["key"], e["version"]) in seen:
        replayed += 1
        continue
    seen.add((e["key"], e["version"]))
    w, c, node = e["version"].split(":", 2)
    v = (int(w), int(c), node.encode())
    nodes.add(node)
    if prev is not None and v <= prev:
        print(f"version {e['version']} ({e['key']}) is not above the previous {prev}")
        sys.exit(1)
    prev = v
    n += 1
print(f"  {n} SET versions in commit order, strictly increasing, issued by {sorted(nodes)}"
      f" ({replayed} old changes notified again after node 3's restarts)")
if n < 10 or len(nodes) < 2:
    print("  too few versions, or from fewer than two leaders")
    sys.exit(1)
EOF
exit "$CL_FAILED"
