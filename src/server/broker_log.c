/* See broker_log.h. */
#include "server/broker_log.h"

#include <assert.h>
#include <inttypes.h>

#include "repl/file_log.h"
#include "util/log.h"

_Static_assert(BROKER_REC_FIRST == REPL_FILE_LOCAL_FIRST && BROKER_REC_LAST == REPL_FILE_LOCAL_LAST,
               "the broker's record types are the log's local frame types");

static uint64_t sink_append(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    return store_log_append_local(ctx, type, p, n);
}

static bool sink_accepting(void *ctx) { return store_log_accepting(ctx); }

static void on_committed(void *ctx, uint64_t seq) { broker_persist_committed(ctx, seq); }

static void on_failed(void *ctx, uint64_t durable, const char *why) { broker_persist_failed(ctx, durable, why); }

static const char *on_replay(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    return broker_persist_replay(ctx, type, p, n);
}

/* In the snapshot child: the broker's pieces, re-typed for the snapshot
 * writer on the stack (no allocation). */
typedef struct snap_adapter {
    snapshot_emit_fn emit;
    void *emit_ctx;
} snap_adapter;

#define SNAP_MAX_PIECES 16

static bool snap_write(void *ctx, uint8_t type, const broker_persist_piece *pieces, unsigned n)
{
    snap_adapter *a = ctx;
    snapshot_piece sp[SNAP_MAX_PIECES];
    assert(n <= SNAP_MAX_PIECES);
    if (n > SNAP_MAX_PIECES) return false;
    for (unsigned i = 0; i < n; i++) sp[i] = (snapshot_piece){pieces[i].p, pieces[i].n};
    return a->emit(a->emit_ctx, type, sp, n);
}

bool broker_log_snapshot(void *ctx, snapshot_emit_fn emit, void *emit_ctx)
{
    snap_adapter a = {emit, emit_ctx};
    return broker_persist_snapshot(ctx, snap_write, &a);
}

void broker_log_bind(broker *b, store_log *sl, const broker_persist_select *sel)
{
    broker_persist_sink sink = {.append = sink_append, .accepting = sink_accepting, .ctx = sl};
    broker_set_persistence(b, &sink, sel);
    store_log_local l = {
        .committed = on_committed, .failed = on_failed, .replay = on_replay, .snapshot = broker_log_snapshot, .ctx = b};
    store_log_set_local(sl, &l);
}

void broker_log_replay_done(broker *b)
{
    broker_persist_restored r;
    broker_persist_replay_done(b, &r);
    log_info("broker state restored: %" PRIu64 " retained messages, %" PRIu64 " sessions, %" PRIu64 " messages in them",
             r.retained, r.sessions, r.messages);
}
