/* State shared by the raft log's files (raft_log.c: lifecycle, proposals,
 * the state machine glue; raft_ops.c: reads, status, membership,
 * leadership). Internal to mqs_repl_raft. */
#ifndef MQS_REPL_RAFT_LOG_IMPL_H
#define MQS_REPL_RAFT_LOG_IMPL_H

#include <raft.h>
#include <raft/uv.h>

#include "repl/raft_entry.h"
#include "repl/raft_log.h"
#include "util/buf.h"

/* The proposals of one loop iteration, handed to libraft as one entry
 * (raft_entry.h: parts back to back), so that one append, one fsync and
 * one AppendEntries per follower carry them all. libraft calls its
 * callback exactly once: after the entry was applied (which decided every
 * member), or with an error when leadership is lost or the node closes. */
typedef struct raft_batch {
    struct raft_apply req; /* req.data = this */
    struct repl_raft *rl;
    unsigned n_left; /* its proposals still in the pending list (undecided) */
    struct raft_batch *prev, *next;
} raft_batch;

/* One proposal, undecided: on_commit(tag) or on_fail(tag) not yet called.
 * It leaves the list (and is freed) when it is decided. */
typedef struct raft_pending {
    raft_batch *batch; /* NULL while not yet handed to libraft (the next flush) */
    uint64_t tag;
    size_t size; /* part bytes, counted in pending_bytes */
    struct raft_pending *prev, *next;
} raft_pending;

/* Most parts, and bytes (beyond one part), in one entry: bounds a batch's
 * AppendEntries message. */
#define REPL_RAFT_BATCH_MAX 1024
#define REPL_RAFT_BATCH_BYTES (1u << 20)

/* A linearizable read waiting for a barrier. */
typedef struct raft_waiter {
    repl_raft_done_fn cb;
    void *ctx;
    struct raft_waiter *next;
} raft_waiter;

typedef struct raft_waiters {
    raft_waiter *head, *tail;
} raft_waiters;

/* How long a close waits for the leader's appends in flight (see
 * raft_log__role_check). */
#define REPL_RAFT_CLOSE_DRAIN_MS 5000

enum { RAFT_CHANGE_ADD, RAFT_CHANGE_PROMOTE, RAFT_CHANGE_REMOVE };

typedef struct repl_raft {
    repl_log base; /* first: a repl_log * is a repl_raft * */
    uv_loop_t *loop;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport *transport; /* &tcp, or the caller's (raft_log.h) */
    struct raft_uv_transport tcp;        /* libraft's plain TCP, when the caller gave none */
    bool own_transport;                  /* tcp is in use: released at close */
    struct raft_fsm fsm;
    uv_check_t role_check; /* reports role/leader changes (libraft 0.15 has no callback) */
    uint64_t id;
    uint64_t nonce; /* this incarnation (raft_entry.h) */

    int (*snapshot)(void *ctx, repl_raft_snapshot_out *out);
    int (*snapshot_async)(void *ctx, repl_raft_snapshot_out *out);
    bool (*restore)(void *ctx, const uint8_t *data, size_t len);
    void (*on_role)(void *ctx, bool is_leader, uint64_t leader_id, const char *leader_address);

    /* Undecided proposals, in proposal (= log) order; those from `unsent`
     * on wait for the next flush. Batches libraft has not called back yet,
     * in order. */
    raft_pending *pending_head, *pending_tail, *unsent;
    size_t pending_bytes, max_pending_bytes; /* part bytes in the list, and its bound */
    buf unsent_parts;                        /* the unsent proposals' parts, encoded, in order */
    /* Flushes before the next poll what was proposed after the caller's
     * own flush ran (a proposal from a check callback would otherwise wait
     * for the next wake-up). */
    uv_idle_t flush_idle;
    raft_batch *batch_head, *batch_tail;

    /* At most one barrier in flight; `cur` waits for it, `next` for the
     * one after it. */
    struct raft_barrier barrier;
    bool barrier_busy;
    bool barrier_finished; /* barrier_done ran; its waiters not completed yet */
    int barrier_status;
    raft_waiters cur, next;
    size_t n_waiters;

    /* At most one membership change (libraft allows one) and one transfer. */
    struct raft_change change;
    bool change_busy;
    int change_kind;
    uint64_t change_id;
    repl_raft_done_fn change_cb;
    void *change_ctx;
    struct raft_transfer transfer;
    bool transfer_busy;
    repl_raft_done_fn transfer_cb;
    void *transfer_ctx;

    /* The snapshot being taken (libraft takes one at a time). */
    repl_raft_snapshot_out snap;
    uint8_t snap_header[REPL_RAFT_SNAP_HEADER];
    struct raft_buffer snap_bufs[2];

    bool was_leader; /* at the last check: becoming leader starts a barrier */
    /* Last role reported to on_role. */
    bool role_reported, role_leader;
    uint64_t role_leader_id;
    char role_address[REPL_RAFT_ADDRESS_MAX + 1];

    uint64_t bad_entries;
    bool closing;
    uint64_t close_deadline; /* uv_now() bound for the appends in flight */
    bool close_drain;        /* wait for them (a leader's) before raft_close */
    int open;                /* raft and role_check not yet closed */
    void (*close_cb)(void *ctx);
    void *close_ctx;
} repl_raft;

/* A REPL_RAFT_* code for a libraft status. */
int repl_raft__code(int rv);

/* A new leader's first entry (raft_ops.c). libraft 0.15 appends nothing
 * on election, and entries of earlier terms commit only with one of the
 * leader's own term: without it an entry whose proposer lost leadership
 * (outcome unknown) stays uncommitted until the next write. Starts a
 * barrier unless one is in flight. */
void repl_raft__leader_barrier(repl_raft *rl);
/* Once per loop iteration (the role check), outside libraft's callbacks:
 * complete the waiters of a finished barrier, start the next one. */
void repl_raft__barrier_tick(repl_raft *rl);

/* Completes every waiting read with `status` (raft_ops.c). */
void repl_raft__fail_waiters(repl_raft *rl, int status);

#endif
