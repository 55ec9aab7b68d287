/* The replication log seam: where decided state store records go to
 * become committed, and come back, in order, to be applied.
 *
 *   bridge ── store_service_decide ──► record ── repl_log_propose ──► log
 *   log ── commit callback (in log order) ──► store_service_apply ──► reply, notifications
 *
 * Implementations: the in-memory log (repl/mem_log.c: commits at once, in
 * the call; today's behaviour) and, next, a durable file log (group
 * commit once per loop iteration) and a raft log (commits when a majority
 * has the entry). Everything above this interface is the same for all of
 * them: a reply to a write is sent only from the commit callback.
 *
 * Single-threaded: every call and callback on the loop thread. */
#ifndef MQS_REPL_LOG_H
#define MQS_REPL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct repl_log repl_log;

/* One committed entry, in log order. `index` is its position in the log
 * (1, 2, ...; never decreasing: a log that batches records into one
 * entry, as the raft log does, gives them the same index). `tag` is what the proposer passed, or
 * 0 for an entry this process did not propose here (replay, another
 * node's). Bytes valid during the call. */
typedef void (*repl_commit_fn)(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag);

/* A proposal that will never commit (the log failed: disk full, lost
 * leadership...): the proposer answers the request with an error. Called
 * for each such tag, in proposal order; `why` is a short static text. */
typedef void (*repl_fail_fn)(void *ctx, uint64_t tag, const char *why);

typedef struct repl_log_vtable {
    /* Take a copy of the record. Returns false if the log refuses it now
     * (then neither callback will be called for `tag`). `tag` != 0. */
    bool (*propose)(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag);
    /* End of a loop iteration: a batching log writes (and syncs) what was
     * proposed since the last flush; the in-memory log does nothing. */
    void (*flush)(repl_log *l);
    void (*free)(repl_log *l);
    /* Optional (NULL: propose): an entry that is ordered and committed
     * like any other but not made durable (state store keys that are not
     * persisted, docs/persistence.md). A durable log commits it at once
     * when nothing is ahead of it, else right after the entries ahead of
     * it commit (or fail: it commits anyway, it needs no disk); its
     * `index` is that of the last durable entry before it (not counted:
     * indexes name durable entries). */
    bool (*propose_volatile)(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag);
} repl_log_vtable;

/* The common head of every implementation. */
struct repl_log {
    const repl_log_vtable *vt;
    repl_commit_fn on_commit;
    repl_fail_fn on_fail;
    void *ctx;
};

static inline bool repl_log_propose(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    return l->vt->propose(l, rec, len, tag);
}
static inline bool repl_log_propose_volatile(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    return l->vt->propose_volatile ? l->vt->propose_volatile(l, rec, len, tag) : l->vt->propose(l, rec, len, tag);
}
static inline void repl_log_flush(repl_log *l) { l->vt->flush(l); }
static inline void repl_log_free(repl_log *l)
{
    if (l) l->vt->free(l);
}

/* The in-memory log: propose calls on_commit at once (index counts up),
 * keeps nothing. */
repl_log *repl_mem_log_new(repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx);

#endif
