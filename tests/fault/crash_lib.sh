# Sourced by the tests/fault/persistence_crash*.sh campaigns, after
# tests/e2e/lib.sh: one round of concurrent load ended by a kill -9.

# crash_round ITERATION: start $WRITERS background `writer W PORT FILE
# ITERATION` (the caller's function: it appends what was acknowledged to
# FILE = $MQS_DIR/acked.W and returns when the broker is gone), kill -9 the
# broker after 0.2 to 0.9 s of load, and wait for the writers.
crash_round() {
    local it=$1 w p pids=()
    for ((w = 0; w < WRITERS; w++)); do
        writer "$w" "$MQS_PORT" "$MQS_DIR/acked.$w" "$it" &
        pids+=($!)
    done
    sleep "0.$((2 + RANDOM % 8))"
    kill -KILL "$MQS_PID"
    wait "$MQS_PID" 2>/dev/null
    MQS_PID=""
    for p in "${pids[@]}"; do wait "$p"; done
}
