/* The broker's records through raft (see cluster_records.h).
 *
 * Numbering: the broker's sequence numbers (the sink's: 1, 2, ... for
 * the process lifetime) and an incarnation's (1, 2, ... from its first
 * record) differ by `base`: broker seq = base + entry seq. A failure ends
 * the incarnation; the next record starts a new one (base = the broker
 * seq before it), so the de-dup table's "continue exactly" rule holds.
 *
 * Invariants: batches[0..n) are the closed, unapplied batches of the
 * current incarnation in order, contiguous in sequence numbers, the first
 * starting right after `applied`; `open` follows the last of them;
 * `pending` is their bytes plus open's. */
#include "server/cluster_records.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_persist.h"
#include "cluster/peer.h"
#include "server/broker_log.h"
#include "server/cluster_records_entry.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define TICK_MS 200

typedef struct batch {
    buf entry;
    uint64_t last;    /* broker seq of its last record */
    uint64_t made_ms; /* closed at (loop clock) */
} batch;

typedef struct staged {
    uint8_t type;
    const uint8_t *p; /* borrowed from the snapshot being installed */
    size_t n;
} staged;

struct cluster_records {
    uv_loop_t *loop;
    broker *b;
    cluster_node *cn;
    uint64_t self;
    uint32_t fail_ms;
    /* The current incarnation (0: none yet; the next record starts one). */
    uint64_t incarnation, base;
    uint64_t seq;     /* the broker seq of the last record appended */
    uint64_t applied; /* the broker seq of the last record of ours applied here */
    buf open;         /* the batch being filled (empty: none) */
    batch *batches;   /* a few at most in practice (one per loop iteration in flight) */
    uint32_t n, cap;
    uint32_t n_sent;  /* batches[0..n_sent) were sent since the last (re)start of sending */
    uint64_t sent_ms; /* when batches[0] was last sent */
    size_t pending;
    bool refusing; /* after a failure: until a leader is known */
    /* The leader applied another node's batch: a barrier tells that node
     * the commit at once (one in flight; `again`: another after it). */
    bool barrier_busy, barrier_again;
    uint64_t next_tag;
    records_dedup dedup;
    buf dedup_enc; /* dedup encoded, for the snapshot child (which may not allocate) */
    /* A snapshot being installed (cluster_node's local/installed). */
    staged *stage;
    uint32_t n_stage, cap_stage;
    records_dedup stage_dedup;
    uv_prepare_t flush;
    uv_timer_t tick;
    int closing;
    bool closed;
    uint64_t warned_big_ms;
};

#ifndef NDEBUG
/* The invariants of the header comment (O(batches)). */
static bool records_check(const cluster_records *cr)
{
    size_t bytes = cr->open.len;
    uint64_t prev = cr->applied;
    for (uint32_t i = 0; i < cr->n; i++) {
        if (cr->batches[i].last <= prev) return false;
        prev = cr->batches[i].last;
        bytes += cr->batches[i].entry.len;
    }
    return bytes == cr->pending && cr->n_sent <= cr->n && prev <= cr->seq && cr->applied <= cr->seq &&
           (cr->open.len || prev == cr->seq);
}
#endif

/* --- sending -------------------------------------------------------------------- */

/* Send or propose batches[n_sent..n) in order, stopping at the first
 * that cannot go now (the tick or the next leader change tries again). */
static void send_pending(cluster_records *cr)
{
    if (cr->closed) return;
    uint64_t leader = cluster_node_leader(cr->cn);
    while (cr->n_sent < cr->n && leader) {
        batch *bt = &cr->batches[cr->n_sent];
        bool ok;
        if (cluster_node_is_leader(cr->cn)) {
            ok = cluster_node_propose(cr->cn, bt->entry.data, bt->entry.len, CLUSTER_NODE_TAG_RECORDS | ++cr->next_tag);
        } else if (leader == cr->self) {
            ok = false; /* leading but not reported yet: the next role report */
        } else {
            struct peer_net *net = cluster_node_links(cr->cn);
            int rc = net ? peer_net_send(net, leader, CLUSTER_RECORDS_FRAME_BATCH, bt->entry.data, bt->entry.len)
                         : PEER_EDOWN;
            ok = rc == PEER_OK;
        }
        if (!ok) return;
        if (cr->n_sent == 0) cr->sent_ms = uv_now(cr->loop);
        cr->n_sent++;
    }
}

static void resend_all(cluster_records *cr)
{
    cr->n_sent = 0;
    send_pending(cr);
}

/* Close the open batch (end of a loop iteration, or full). */
static void close_open(cluster_records *cr)
{
    if (!cr->open.len) return;
    if (cr->n == cr->cap) {
        cr->cap = cr->cap ? 2 * cr->cap : 8;
        cr->batches = xrealloc(cr->batches, cr->cap * sizeof *cr->batches);
    }
    batch *bt = &cr->batches[cr->n++];
    bt->entry = cr->open; /* moved */
    memset(&cr->open, 0, sizeof cr->open);
    bt->last = cr->seq;
    bt->made_ms = uv_now(cr->loop);
}

static void on_flush(uv_prepare_t *h)
{
    cluster_records *cr = h->data;
    uv_prepare_stop(h);
    close_open(cr);
    send_pending(cr);
}

/* --- the sink ----------------------------------------------------------------------- */

static bool sink_accepting(void *ctx)
{
    cluster_records *cr = ctx;
    return !cr->closed && !cr->refusing && cr->pending < CLUSTER_RECORDS_PENDING_BYTES;
}

static uint64_t sink_append(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_records *cr = ctx;
    if (!sink_accepting(cr)) return 0;
    if (n > CLUSTER_RECORDS_RECORD_MAX) {
        uint64_t now = uv_now(cr->loop);
        if (!cr->warned_big_ms || now - cr->warned_big_ms > 60000) {
            log_warn("cluster: a broker record of %zu bytes is larger than a node link carries (%u): not replicated "
                     "(a retained message of that size is not retained)",
                     n, CLUSTER_RECORDS_RECORD_MAX);
            cr->warned_big_ms = now;
        }
        return 0;
    }
    if (cr->open.len && cr->open.len + n > CLUSTER_RECORDS_BATCH_BYTES) close_open(cr);
    if (!cr->incarnation) { /* newer than any of ours the table knows (a clock set back) */
        const records_dedup_slot *s = records_dedup_find(&cr->dedup, cr->self);
        uint64_t inc = clock_wall_ms() * 1000;
        cr->incarnation = s && s->incarnation >= inc ? s->incarnation + 1 : inc;
        cr->base = cr->seq;
        cr->applied = cr->seq;
    }
    if (!cr->open.len) {
        records_entry_begin(&cr->open, cr->self, cr->incarnation, cr->seq + 1 - cr->base);
        cr->pending += cr->open.len;
        uv_prepare_start(&cr->flush, on_flush);
    }
    size_t before = cr->open.len;
    records_entry_add(&cr->open, type, p, n);
    cr->pending += cr->open.len - before;
    ++cr->seq;
    assert(records_check(cr));
    return cr->seq;
}

/* Every unapplied record of this incarnation is given up: the broker
 * closes the connections waiting for them; the next record starts a new
 * incarnation (so late copies of these are stale wherever ours follow). */
static void fail_all(cluster_records *cr, const char *why)
{
    for (uint32_t i = 0; i < cr->n; i++) buf_free(&cr->batches[i].entry);
    cr->n = cr->n_sent = 0;
    buf_free(&cr->open);
    cr->pending = 0;
    uv_prepare_stop(&cr->flush);
    cr->incarnation = 0;
    cr->refusing = cluster_node_leader(cr->cn) == 0;
    /* Settled before the broker hears of it: closing a connection may
     * publish a will, whose record starts the next incarnation. */
    uint64_t durable = cr->applied, lost = cr->seq - cr->applied;
    cr->applied = cr->seq;
    if (lost) {
        log_warn("cluster: %" PRIu64 " broker record(s) not replicated (%s); the clients waiting for them are "
                 "disconnected",
                 lost, why);
        broker_persist_failed(cr->b, durable, why);
    }
}

static void on_tick(uv_timer_t *t)
{
    cluster_records *cr = t->data;
    if (!cr->n) return;
    uint64_t now = uv_now(cr->loop);
    if (now - cr->batches[0].made_ms > cr->fail_ms) {
        fail_all(cr, cluster_node_leader(cr->cn) ? "not replicated in time" : "no leader reachable");
        return;
    }
    if (cr->n_sent && now - cr->sent_ms >= CLUSTER_RECORDS_RESEND_MS) resend_all(cr);
    else send_pending(cr);
}

/* --- applying (every node, commit order) ------------------------------------------- */

static void apply_records(cluster_records *cr, const records_entry *e, uint64_t index)
{
    records_iter it = records_iter_of(e);
    uint8_t type;
    const uint8_t *p;
    size_t n;
    while (records_iter_next(&it, &type, &p, &n)) {
        const char *why = broker_persist_apply(cr->b, type, p, n);
        if (why) /* the same on every node: the record is skipped everywhere */
            log_error("cluster: broker record (type %u) in raft entry %" PRIu64 " from node %" PRIu64
                      " not applied: %s",
                      type, index, e->origin, why);
    }
}

/* Ours applied up to `last` (of this incarnation): their promises are kept. */
static void ours_applied(cluster_records *cr, uint64_t last)
{
    uint64_t seq = cr->base + last;
    if (seq <= cr->applied) return;
    assert(seq <= cr->seq);
    uint32_t k = 0;
    while (k < cr->n && cr->batches[k].last <= seq) {
        cr->pending -= cr->batches[k].entry.len;
        buf_free(&cr->batches[k].entry);
        k++;
    }
    memmove(cr->batches, cr->batches + k, (cr->n - k) * sizeof *cr->batches);
    cr->n -= k;
    cr->n_sent = cr->n_sent > k ? cr->n_sent - k : 0;
    cr->sent_ms = uv_now(cr->loop);
    cr->applied = seq;
    assert(records_check(cr));
    broker_persist_committed(cr->b, seq);
}

/* After the table changed: what it says of our own incarnation. */
static void settle_self(cluster_records *cr)
{
    const records_dedup_slot *s = records_dedup_find(&cr->dedup, cr->self);
    if (!s || !cr->incarnation) return;
    if (s->incarnation == cr->incarnation) ours_applied(cr, s->last);
    else if (s->incarnation > cr->incarnation) fail_all(cr, "a newer incarnation of this node in the log");
}

static void dedup_changed(cluster_records *cr)
{
    cr->dedup_enc.len = 0;
    records_dedup_encode(&cr->dedup, &cr->dedup_enc);
}

static void request_barrier(cluster_records *cr);

static void barrier_done(void *ctx, int status)
{
    cluster_records *cr = ctx;
    (void)status; /* lost leadership: the new leader's own barrier tells */
    cr->barrier_busy = false;
    if (cr->barrier_again && !cr->closed) request_barrier(cr);
}

/* Followers learn how far the log is committed with the leader's next
 * append; without one, at its next heartbeat: a barrier entry is that
 * append, so an origin applies its batch (and sends its PUBACKs) about a
 * round trip after the leader did, not a heartbeat later. */
static void request_barrier(cluster_records *cr)
{
    if (cr->barrier_busy) {
        cr->barrier_again = true;
        return;
    }
    cr->barrier_again = false;
    cr->barrier_busy = cluster_node_barrier(cr->cn, barrier_done, cr) == 0;
}

static void on_commit(void *ctx, uint64_t index, const uint8_t *p, size_t n, uint64_t tag)
{
    cluster_records *cr = ctx;
    (void)tag;
    records_entry e;
    const char *bad = records_entry_decode(p, n, &e);
    if (bad) {
        log_error("cluster: raft entry %" PRIu64 " does not decode (%s); skipped", index, bad);
        return;
    }
    records_verdict v = records_dedup_check(&cr->dedup, &e);
    if (v == RECORDS_APPLY) {
        apply_records(cr, &e, index);
        records_dedup_note(&cr->dedup, &e);
        dedup_changed(cr);
        if (e.origin != cr->self && cluster_node_is_leader(cr->cn)) request_barrier(cr);
    } else if (v == RECORDS_GAP) {
        log_debug("cluster: broker records %" PRIu64 "+%u of node %" PRIu64 " arrived before earlier ones; skipped",
                  e.first, e.count, e.origin);
    }
    if (e.origin == cr->self && v != RECORDS_GAP) settle_self(cr);
}

static void on_fail(void *ctx, uint64_t tag, const char *why)
{
    (void)ctx;
    log_debug("cluster: broker records proposal %" PRIu64 " failed (%s); sent again to the next leader",
              tag & ~CLUSTER_NODE_TAG_RECORDS, why);
}

static void on_role(void *ctx, bool is_leader, uint64_t leader_id)
{
    cluster_records *cr = ctx;
    (void)is_leader;
    if (!leader_id) return;
    cr->refusing = false;
    resend_all(cr);
}

/* --- the leader: a follower's batch ---------------------------------------------- */

static void on_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_records *cr = ctx;
    records_entry e;
    const char *bad = type == CLUSTER_RECORDS_FRAME_BATCH ? records_entry_decode(p, n, &e) : "unknown frame type";
    if (!bad && e.origin != from) bad = "a batch of another node";
    if (bad) {
        log_warn("cluster: node %" PRIu64 " sent a bad records frame (type %u, %zu bytes: %s); ignored", from, type, n,
                 bad);
        return;
    }
    if (!cluster_node_is_leader(cr->cn)) return; /* its origin sends it to the leader it learns of */
    records_verdict v = records_dedup_check(&cr->dedup, &e);
    if (v == RECORDS_DUPLICATE || v == RECORDS_STALE) return; /* applied already, or never will be */
    if (!cluster_node_propose(cr->cn, p, n, CLUSTER_NODE_TAG_RECORDS | ++cr->next_tag))
        log_debug("cluster: broker records of node %" PRIu64 " not proposed now; its origin sends them again", from);
}

/* --- raft snapshots ---------------------------------------------------------------- */

/* In the forked child: the broker's records, then the table. */
static bool snap_locals(void *ctx, snapshot_emit_fn emit, void *emit_ctx)
{
    cluster_records *cr = ctx;
    if (!broker_log_snapshot(cr->b, emit, emit_ctx)) return false;
    snapshot_piece piece = {cr->dedup_enc.data, cr->dedup_enc.len};
    return emit(emit_ctx, CLUSTER_RECORDS_SNAP_DEDUP, &piece, 1);
}

static const char *snap_local(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_records *cr = ctx;
    if (type == CLUSTER_RECORDS_SNAP_DEDUP) return records_dedup_decode(&cr->stage_dedup, p, n);
    if (type < BROKER_REC_FIRST || type > BROKER_REC_LAST) return "not a broker record";
    const char *bad = broker_persist_check(type, p, n);
    if (bad) return bad;
    if (cr->n_stage == cr->cap_stage) {
        cr->cap_stage = cr->cap_stage ? 2 * cr->cap_stage : 64;
        cr->stage = xrealloc(cr->stage, cr->cap_stage * sizeof *cr->stage);
    }
    cr->stage[cr->n_stage++] = (staged){type, p, n};
    return NULL;
}

/* The store's part is in: now the broker's (both, or with ok false neither). */
static void snap_installed(void *ctx, bool ok)
{
    cluster_records *cr = ctx;
    if (ok) {
        broker_persist_reset(cr->b);
        for (uint32_t i = 0; i < cr->n_stage; i++) {
            const char *why = broker_persist_apply(cr->b, cr->stage[i].type, cr->stage[i].p, cr->stage[i].n);
            if (why)
                log_error("cluster: broker record (type %u) of a snapshot not applied: %s", cr->stage[i].type, why);
        }
        records_dedup_free(&cr->dedup);
        cr->dedup = cr->stage_dedup; /* moved; empty for a snapshot without one */
        memset(&cr->stage_dedup, 0, sizeof cr->stage_dedup);
        dedup_changed(cr);
        log_info("cluster: broker state from a snapshot: %" PRIu32 " record(s), %" PRIu32 " origin(s)", cr->n_stage,
                 cr->dedup.n);
        settle_self(cr);
    }
    records_dedup_free(&cr->stage_dedup);
    free(cr->stage);
    cr->stage = NULL;
    cr->n_stage = cr->cap_stage = 0;
}

/* --- life cycle --------------------------------------------------------------------- */

cluster_records *cluster_records_new(uv_loop_t *loop, broker *b, cluster_node *cn, uint32_t fail_ms)
{
    cluster_records *cr = xcalloc(1, sizeof *cr);
    cr->loop = loop;
    cr->b = b;
    cr->cn = cn;
    cr->self = cluster_node_self(cn);
    cr->fail_ms = fail_ms ? fail_ms : 10000;
    dedup_changed(cr);
    uv_prepare_init(loop, &cr->flush);
    cr->flush.data = cr;
    uv_timer_init(loop, &cr->tick);
    cr->tick.data = cr;
    uv_timer_start(&cr->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&cr->tick);
    broker_persist_sink sink = {.append = sink_append, .accepting = sink_accepting, .ctx = cr};
    broker_persist_select sel = {
        .retained = BROKER_PERSIST_ALL, .sessions = BROKER_PERSIST_NONE, .apply_on_commit = true};
    broker_set_persistence(b, &sink, &sel);
    cluster_records_hooks h = {
        .marker = CLUSTER_RECORDS_MARKER,
        .on_commit = on_commit,
        .on_fail = on_fail,
        .on_role = on_role,
        .locals = snap_locals,
        .local = snap_local,
        .installed = snap_installed,
        .ctx = cr,
    };
    cluster_node_set_records(cn, &h);
    cluster_link_user u = {CLUSTER_FRAME_RECORDS_FIRST, CLUSTER_FRAME_RECORDS_LAST, on_frame, NULL, cr};
    cluster_node_add_link_user(cn, &u);
    return cr;
}

static void on_closed(uv_handle_t *h)
{
    cluster_records *cr = h->data;
    cr->closing--;
}

void cluster_records_close(cluster_records *cr)
{
    if (!cr || cr->closed) return;
    cr->closed = true;
    cr->closing = 2;
    uv_close((uv_handle_t *)&cr->flush, on_closed);
    uv_close((uv_handle_t *)&cr->tick, on_closed);
}

void cluster_records_free(cluster_records *cr)
{
    if (!cr) return;
    if (cr->closing) log_warn("cluster_records_free: not closed (loop not run?)");
    for (uint32_t i = 0; i < cr->n; i++) buf_free(&cr->batches[i].entry);
    free(cr->batches);
    buf_free(&cr->open);
    records_dedup_free(&cr->dedup);
    records_dedup_free(&cr->stage_dedup);
    buf_free(&cr->dedup_enc);
    free(cr->stage);
    free(cr);
}
