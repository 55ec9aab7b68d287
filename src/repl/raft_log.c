/* The raft log (repl/raft_log.h): lifecycle, proposals, and the libraft
 * state machine that turns applied entries into on_commit calls.
 *
 * Invariants: the pending list holds exactly the undecided proposals, in
 * proposal order: on_commit(tag) or on_fail(tag) has been called for none
 * of them, and is called once for each, when it leaves the list. Those
 * with a batch were handed to libraft (raft_apply accepted the batch);
 * the rest, at the tail from `unsent`, wait for the next flush. A batch's
 * n_left counts its members still in the list. A pending proposal is
 * matched to an applied entry only by (node, nonce, tag) of this
 * incarnation: once failed ("leadership lost"), the same entry committing
 * later is delivered with tag 0. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "repl/raft_log_impl.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- transport (raft_log.h): the caller's, or libraft's plain TCP ---- */

static int raft_log__transport_init(repl_raft *rl, struct raft_uv_transport *given, char *err, size_t errlen)
{
    if (given) {
        rl->transport = given;
        return 0;
    }
    rl->transport = &rl->tcp;
    rl->own_transport = true;
    int rv = raft_uv_tcp_init(&rl->tcp, rl->loop);
    if (rv != 0) snprintf(err, errlen, "raft: transport: %s", raft_strerror(rv));
    return rv;
}

/* After libraft is done with it; the caller's transport is the caller's to close. */
static void raft_log__transport_close(repl_raft *rl)
{
    if (rl->own_transport) raft_uv_tcp_close(&rl->tcp);
}

/* ---- state machine ---- */

/* Entries apply in log order, and the list is in log order: the match
 * is at (or near) the head. */
static raft_pending *raft_log__pending_find(repl_raft *rl, uint64_t tag)
{
    for (raft_pending *p = rl->pending_head; p && p->batch; p = p->next)
        if (p->tag == tag) return p;
    return NULL;
}

static void raft_log__pending_unlink(repl_raft *rl, raft_pending *p);

/* One entry: its parts in order, each to on_commit with the entry's
 * index (records of one batch share it). */
static int raft_log__fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    repl_raft *rl = fsm->data;
    /* libraft sets last_applied after apply returns: this entry is the next. */
    uint64_t index = raft_last_applied(&rl->raft) + 1;
    *result = NULL;
    const uint8_t *p = buf->base;
    size_t n = buf->len, used;
    repl_raft_entry e;
    if (!n) goto bad;
    for (; n; p += used, n -= used) {
        if (!repl_raft_entry_next(p, n, &e, &used)) goto bad;
        uint64_t tag = 0;
        if (e.node == rl->id && e.nonce == rl->nonce) {
            raft_pending *pd = raft_log__pending_find(rl, e.tag);
            if (pd) {
                assert(pd->batch->n_left > 0);
                pd->batch->n_left--;
                raft_log__pending_unlink(rl, pd);
                free(pd);
                tag = e.tag;
            }
        }
        if (!rl->closing) rl->base.on_commit(rl->base.ctx, index, e.rec, e.len, tag);
    }
    return 0;
bad:
    rl->bad_entries++;
    log_error("raft: entry %llu has a part without a valid header (%zu of %zu bytes left): rest skipped",
              (unsigned long long)index, n, buf->len);
    return 0;
}

/* Snapshot, step 1 (loop thread): the caller's bytes, or a job for step 2.
 * Returning RAFT_BUSY makes libraft skip this snapshot silently. */
static int raft_log__fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    repl_raft *rl = fsm->data;
    rl->snap = (repl_raft_snapshot_out){0};
    if (rl->closing || rl->snapshot(rl->base.ctx, &rl->snap) != 0) return RAFT_BUSY;
    assert(rl->snap.job || rl->snap.data || rl->snap.len == 0);
    assert(!rl->snap.job || rl->snapshot_async); /* a job needs its second step */
    repl_raft_snap_header(rl->snap_header);
    rl->snap_bufs[0] = (struct raft_buffer){rl->snap_header, sizeof rl->snap_header};
    rl->snap_bufs[1] = (struct raft_buffer){rl->snap.data, rl->snap.len};
    *bufs = rl->snap_bufs;
    *n_bufs = rl->snap.len || rl->snap.job ? 2 : 1;
    return 0;
}

/* Snapshot, step 2 (a libuv worker thread): finish the caller's job. The
 * loop does not touch rl->snap until step 3. */
static int raft_log__fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    repl_raft *rl = fsm->data;
    if (!rl->snap.job) return 0;
    if (!rl->snapshot_async) return RAFT_INVALID;
    int rv = rl->snapshot_async(rl->base.ctx, &rl->snap);
    rl->snap.job = NULL; /* released by snapshot_async in every case */
    if (rv != 0) return RAFT_IOERR;
    rl->snap_bufs[1] = (struct raft_buffer){rl->snap.data, rl->snap.len};
    *n_bufs = rl->snap.len ? 2 : 1;
    (void)bufs;
    return 0;
}

/* Snapshot, step 3 (loop thread, after the write, failed or not). */
static int raft_log__fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    repl_raft *rl = fsm->data;
    if (rl->snap.job && rl->snapshot_async) {
        /* Step 2 never ran (libraft could not queue it): release the job. */
        rl->snapshot_async(rl->base.ctx, &rl->snap);
    }
    free(rl->snap.data);
    rl->snap = (repl_raft_snapshot_out){0};
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* Restore (at start, or a snapshot installed by the leader). On success
 * the buffer is ours to free (libraft 0.15 transfers it). */
static int raft_log__fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    repl_raft *rl = fsm->data;
    const uint8_t *state;
    size_t len;
    if (!repl_raft_snap_decode(buf->base, buf->len, &state, &len)) {
        log_error("raft: snapshot of %zu bytes is not an mqstate snapshot: refused", buf->len);
        return RAFT_MALFORMED;
    }
    if (!rl->restore(rl->base.ctx, state, len)) {
        log_error("raft: the state machine refused a snapshot of %zu bytes", len);
        return RAFT_CORRUPT;
    }
    raft_free(buf->base);
    return 0;
}

/* ---- proposals ---- */

static void raft_log__pending_unlink(repl_raft *rl, raft_pending *p)
{
    if (p->prev) p->prev->next = p->next;
    else rl->pending_head = p->next;
    if (p->next) p->next->prev = p->prev;
    else rl->pending_tail = p->prev;
    assert(rl->pending_bytes >= p->size);
    rl->pending_bytes -= p->size;
}

static const char *raft_log__why(int status)
{
    switch (status) {
    case RAFT_LEADERSHIPLOST: return "leadership lost";
    case RAFT_SHUTDOWN: return "shutting down";
    case RAFT_NOSPACE: return "no space left on device";
    case RAFT_IOERR: return "log write failed";
    default: return raft_strerror(status);
    }
}

/* Fail one pending proposal: out of the list, on_fail, freed. */
static void raft_log__fail_one(repl_raft *rl, raft_pending *p, const char *why)
{
    raft_log__pending_unlink(rl, p);
    if (p->batch) p->batch->n_left--;
    if (rl->base.on_fail) rl->base.on_fail(rl->base.ctx, p->tag, why);
    free(p);
}

/* Outcomes are reported in proposal order. So failing the members of
 * batch b (NULL: every proposal handed to libraft) fails every earlier
 * proposal still undecided too: their batches' callbacks, which libraft
 * may call later, then find nothing left. on_fail may propose again: new
 * proposals go to the tail, unsent, where this walk stops. */
static void raft_log__fail_sent(repl_raft *rl, raft_batch *b, const char *why)
{
    raft_pending *p = rl->pending_head;
    while (p && p->batch && (!b || b->n_left)) {
        raft_pending *next = p->next;
        raft_log__fail_one(rl, p, why);
        p = next;
    }
    assert(!b || b->n_left == 0);
}

/* Fail the n unsent proposals from `first` (after failing every sent one:
 * they come first). */
static void raft_log__fail_unsent(repl_raft *rl, raft_pending *first, unsigned n, const char *why)
{
    raft_log__fail_sent(rl, NULL, why);
    for (raft_pending *p = first, *next; n--; p = next) {
        assert(p && !p->batch);
        next = p->next;
        raft_log__fail_one(rl, p, why);
    }
}

static void raft_log__batch_unlink(repl_raft *rl, raft_batch *b)
{
    if (b->prev) b->prev->next = b->next;
    else rl->batch_head = b->next;
    if (b->next) b->next->prev = b->prev;
    else rl->batch_tail = b->prev;
}

static void raft_log__applied(struct raft_apply *req, int status, void *result)
{
    raft_batch *b = req->data;
    repl_raft *rl = b->rl;
    (void)result;
    raft_log__batch_unlink(rl, b);
    /* status 0 always follows fsm_apply of every entry, which decided them. */
    assert(status != 0 || b->n_left == 0);
    if (b->n_left && !rl->closing) raft_log__fail_sent(rl, b, raft_log__why(status));
    free(b);
}

static void raft_log__flush(repl_log *l);

static void raft_log__flush_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
    raft_log__flush(&((repl_raft *)h->data)->base);
}

static bool raft_log__propose(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    repl_raft *rl = (repl_raft *)l;
    assert(tag != 0);
    size_t size = repl_raft_entry_size(len);
    if (rl->closing || raft_state(&rl->raft) != RAFT_LEADER || size == 0) return false;
    if (size > rl->max_pending_bytes - rl->pending_bytes) return false; /* pending_bytes <= max */
    repl_raft_entry_encode(buf_reserve(&rl->unsent_parts, size), rl->id, rl->nonce, tag, rec, len);
    rl->unsent_parts.len += size;
    raft_pending *pd = xcalloc(1, sizeof *pd);
    pd->tag = tag;
    pd->size = size;
    pd->prev = rl->pending_tail;
    if (rl->pending_tail) rl->pending_tail->next = pd;
    else rl->pending_head = pd;
    rl->pending_tail = pd;
    if (!rl->unsent) {
        rl->unsent = pd;
        uv_idle_start(&rl->flush_idle, raft_log__flush_idle);
    }
    rl->pending_bytes += size;
    return true;
}

/* Hand the n proposals from `first`, whose parts are p[0..len), to
 * libraft as one entry. */
static void raft_log__apply_batch(repl_raft *rl, raft_pending *first, unsigned n, const uint8_t *p, size_t len)
{
    uint8_t *entry = raft_malloc(len);
    int rv = RAFT_NOMEM;
    raft_batch *b = NULL;
    if (entry) {
        memcpy(entry, p, len);
        b = xcalloc(1, sizeof *b);
        b->req.data = b;
        b->rl = rl;
        b->n_left = n;
        raft_pending *pd = first;
        for (unsigned i = 0; i < n; i++, pd = pd->next) pd->batch = b;
        struct raft_buffer rb = {entry, len};
        rv = raft_apply(&rl->raft, &b->req, &rb, 1, raft_log__applied);
    }
    if (rv == 0) {
        b->prev = rl->batch_tail;
        if (rl->batch_tail) rl->batch_tail->next = b;
        else rl->batch_head = b;
        rl->batch_tail = b;
        return;
    }
    /* libraft 0.15 frees the buffer itself when the entry was appended
     * and then could not be replicated (logDiscard); it is still ours only
     * when refused before the append. Either way nothing will commit: the
     * proposals go to the next leader. */
    if (entry && (rv == RAFT_NOTLEADER || rv == RAFT_NOMEM)) raft_free(entry);
    raft_pending *pd = first;
    for (unsigned i = 0; b && i < n; i++, pd = pd->next) pd->batch = NULL;
    free(b);
    raft_log__fail_unsent(rl, first, n, "leadership lost");
}

/* End of a loop iteration: everything proposed since the last flush goes
 * to libraft, as entries of at most REPL_RAFT_BATCH_MAX parts and
 * REPL_RAFT_BATCH_BYTES (or one larger part). The unsent set is detached
 * first: proposals made from on_fail callbacks below wait for the next
 * flush. */
static void raft_log__flush(repl_log *l)
{
    repl_raft *rl = (repl_raft *)l;
    if (!rl->unsent || rl->closing) return;
    uv_idle_stop(&rl->flush_idle);
    buf parts = rl->unsent_parts;
    raft_pending *first = rl->unsent;
    rl->unsent_parts = (buf){0};
    rl->unsent = NULL;
    size_t off = 0;
    while (first) {
        unsigned k = 0;
        size_t bytes = 0;
        raft_pending *next = first;
        while (next && k < REPL_RAFT_BATCH_MAX && (!k || bytes + next->size <= REPL_RAFT_BATCH_BYTES)) {
            bytes += next->size;
            k++;
            next = next->next;
        }
        if (raft_state(&rl->raft) == RAFT_LEADER) raft_log__apply_batch(rl, first, k, parts.data + off, bytes);
        else raft_log__fail_unsent(rl, first, k, "leadership lost");
        off += bytes;
        /* Proposals made by the callbacks above sit after the detached
         * set, with their parts in the new unsent_parts: stop at them. */
        first = off < parts.len ? next : NULL;
    }
    assert(off == parts.len);
    if (!rl->unsent_parts.cap) { /* keep the memory for the next iteration */
        parts.len = 0;
        buf_shrink(&parts, 1 << 20);
        rl->unsent_parts = parts;
    } else buf_free(&parts);
}

static void raft_log__free(repl_log *l) { repl_raft_close(l, NULL, NULL); }

static const repl_log_vtable raft_log_vt = {
    .propose = raft_log__propose,
    .flush = raft_log__flush,
    .free = raft_log__free,
};

/* ---- role changes ---- */

static void raft_log__close_now(repl_raft *rl);

/* Once per loop iteration: on becoming leader, commit the predecessors'
 * entries; report a role change; or finish a close. */
static void raft_log__role_check(uv_check_t *h)
{
    repl_raft *rl = h->data;
    if (rl->closing) {
        /* libraft 0.15 crashes when raft_close cancels two or more leader
         * appends still being written (each failed append truncates the
         * log from its index, the second one past the end; fixed upstream
         * in 0.17.1). No new entries are accepted once closing: wait until
         * the ones in flight are on disk, within a bound. */
        struct raft *r = &rl->raft;
        if (rl->close_drain && r->last_stored < raft_last_index(r) && uv_now(rl->loop) < rl->close_deadline) return;
        raft_log__close_now(rl);
        return;
    }
    bool leader = raft_state(&rl->raft) == RAFT_LEADER;
    repl_raft__barrier_tick(rl);
    if (leader && !rl->was_leader) repl_raft__leader_barrier(rl);
    rl->was_leader = leader;
    if (!rl->on_role) return;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&rl->raft, &id, &addr);
    if (!id || !addr) addr = "";
    if (rl->role_reported && leader == rl->role_leader && id == rl->role_leader_id &&
        strcmp(addr, rl->role_address) == 0)
        return;
    rl->role_reported = true;
    rl->role_leader = leader;
    rl->role_leader_id = id;
    snprintf(rl->role_address, sizeof rl->role_address, "%s", addr);
    rl->on_role(rl->base.ctx, leader, id, rl->role_address);
}

/* ---- lifecycle ---- */

static void raft_log__closed_one(repl_raft *rl)
{
    if (--rl->open > 0) return;
    /* libraft released every request while closing; whatever is left was
     * never going to be called back. */
    assert(!rl->pending_head); /* emptied by repl_raft_close */
    while (rl->batch_head) {
        raft_batch *b = rl->batch_head;
        rl->batch_head = b->next;
        free(b);
    }
    void (*cb)(void *) = rl->close_cb;
    void *ctx = rl->close_ctx;
    free(rl);
    if (cb) cb(ctx);
}

static void raft_log__check_closed(uv_handle_t *h) { raft_log__closed_one(h->data); }

static void raft_log__raft_closed(struct raft *r)
{
    repl_raft *rl = r->data;
    raft_uv_close(&rl->io);
    raft_log__transport_close(rl);
    raft_log__closed_one(rl);
}

static void raft_log__close_now(repl_raft *rl)
{
    uv_close((uv_handle_t *)&rl->role_check, raft_log__check_closed);
    uv_close((uv_handle_t *)&rl->flush_idle, raft_log__check_closed);
    raft_close(&rl->raft, raft_log__raft_closed);
}

void repl_raft_close(repl_log *l, void (*cb)(void *ctx), void *ctx)
{
    repl_raft *rl = (repl_raft *)l;
    assert(!rl->closing);
    rl->close_cb = cb;
    rl->close_ctx = ctx;
    /* Outcome unknown for everything in flight: tell the caller now, then
     * nothing more (the config's ctx may go away once this returns). */
    rl->closing = true; /* no proposal from on_fail below is taken */
    for (raft_pending *p = rl->pending_head, *next; p; p = next) {
        next = p->next;
        if (rl->base.on_fail) rl->base.on_fail(rl->base.ctx, p->tag, "shutting down");
        free(p);
    }
    rl->pending_head = rl->pending_tail = rl->unsent = NULL;
    rl->pending_bytes = 0;
    buf_free(&rl->unsent_parts);
    uv_idle_stop(&rl->flush_idle);
    for (raft_batch *b = rl->batch_head; b; b = b->next) b->n_left = 0; /* libraft frees their entries */
    repl_raft__fail_waiters(rl, REPL_RAFT_ESHUTDOWN);
    repl_raft_done_fn ccb = rl->change_cb, tcb = rl->transfer_cb;
    rl->change_cb = rl->transfer_cb = NULL;
    if (ccb) ccb(rl->change_ctx, REPL_RAFT_ESHUTDOWN);
    if (tcb) tcb(rl->transfer_ctx, REPL_RAFT_ESHUTDOWN);
    /* raft_close runs from the check handle, outside any libraft callback,
     * once the appends in flight are written (raft_log__role_check). */
    uv_update_time(rl->loop);
    rl->close_deadline = uv_now(rl->loop) + REPL_RAFT_CLOSE_DRAIN_MS;
    /* Only a leader's appends are at risk (a follower's failed append
     * truncates nothing); one that just stepped down may still have some. */
    rl->close_drain = rl->was_leader || raft_state(&rl->raft) == RAFT_LEADER;
    uv_ref((uv_handle_t *)&rl->role_check);
}

/* A failure after raft_init: libraft must close asynchronously. */
static void raft_log__abort(repl_raft *rl)
{
    rl->closing = true;
    rl->open = 1; /* role_check was not started */
    raft_close(&rl->raft, raft_log__raft_closed);
}

static bool raft_log__valid(const repl_raft_config *cfg, char *err, size_t errlen)
{
    if (cfg->id == 0 || !cfg->address || !*cfg->address || strlen(cfg->address) > REPL_RAFT_ADDRESS_MAX) {
        snprintf(err, errlen, "raft: node id must be >= 1 and the address \"host:port\" at most %d bytes",
                 REPL_RAFT_ADDRESS_MAX);
        return false;
    }
    if (!cfg->dir || !cfg->on_commit || !cfg->snapshot || !cfg->restore) {
        snprintf(err, errlen, "raft: dir, on_commit, snapshot and restore are required");
        return false;
    }
    for (size_t i = 0; i < cfg->n_members; i++) {
        const repl_raft_member *m = &cfg->members[i];
        if (m->id == 0 || !m->address || !*m->address || strlen(m->address) > REPL_RAFT_ADDRESS_MAX) {
            snprintf(err, errlen, "raft: member %zu: id must be >= 1 and the address at most %d bytes", i + 1,
                     REPL_RAFT_ADDRESS_MAX);
            return false;
        }
    }
    return true;
}

static uint64_t raft_log__nonce(void)
{
    uint64_t n = 0;
    if (uv_random(NULL, NULL, &n, sizeof n, 0, NULL) != 0 || n == 0) n = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32);
    return n;
}

static int raft_log__bootstrap(repl_raft *rl, const repl_raft_config *cfg)
{
    if (cfg->n_members == 0) return 0;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; i < cfg->n_members && rv == 0; i++)
        rv = raft_configuration_add(&conf, cfg->members[i].id, cfg->members[i].address, RAFT_VOTER);
    if (rv == 0) rv = raft_bootstrap(&rl->raft, &conf);
    raft_configuration_close(&conf);
    return rv == RAFT_CANTBOOTSTRAP ? 0 : rv; /* the directory already holds a log */
}

static void raft_log__setup(repl_raft *rl, const repl_raft_config *cfg)
{
    struct raft *r = &rl->raft;
    r->data = rl;
    raft_set_election_timeout(r, cfg->election_timeout_ms ? cfg->election_timeout_ms : 1000);
    raft_set_heartbeat_timeout(r, cfg->heartbeat_ms ? cfg->heartbeat_ms : 100);
    raft_set_snapshot_threshold(r, cfg->snapshot_threshold ? cfg->snapshot_threshold : 1024);
    raft_set_snapshot_trailing(r, cfg->snapshot_trailing ? cfg->snapshot_trailing : 2048);
    raft_set_pre_vote(r, true);
}

repl_log *repl_raft_new(uv_loop_t *loop, const repl_raft_config *cfg, char *err, size_t errlen)
{
    if (!raft_log__valid(cfg, err, errlen)) return NULL;
    repl_raft *rl = xcalloc(1, sizeof *rl);
    rl->base = (repl_log){.vt = &raft_log_vt, .on_commit = cfg->on_commit, .on_fail = cfg->on_fail, .ctx = cfg->ctx};
    rl->loop = loop;
    rl->id = cfg->id;
    rl->nonce = raft_log__nonce();
    rl->snapshot = cfg->snapshot;
    rl->snapshot_async = cfg->snapshot_async;
    rl->restore = cfg->restore;
    rl->on_role = cfg->on_role;
    rl->max_pending_bytes = cfg->max_pending_bytes ? cfg->max_pending_bytes : REPL_RAFT_PENDING_BYTES_DEFAULT;
    if (raft_log__transport_init(rl, cfg->transport, err, errlen) != 0) {
        free(rl);
        return NULL;
    }
    int rv = raft_uv_init(&rl->io, loop, cfg->dir, rl->transport);
    if (rv != 0) {
        snprintf(err, errlen, "raft: %s: %s", cfg->dir, rl->io.errmsg[0] ? rl->io.errmsg : raft_strerror(rv));
        raft_log__transport_close(rl);
        free(rl);
        return NULL;
    }
    /* raft_uv implements async_work but says version 1, which raft_init
     * takes as "no async snapshots" and refuses a v3 fsm (libraft 0.15). */
    rl->io.version = 2;
    rl->fsm = (struct raft_fsm){
        .version = 3,
        .data = rl,
        .apply = raft_log__fsm_apply,
        .snapshot = raft_log__fsm_snapshot,
        .restore = raft_log__fsm_restore,
        .snapshot_finalize = raft_log__fsm_snapshot_finalize,
        .snapshot_async = raft_log__fsm_snapshot_async,
    };
    rv = raft_init(&rl->raft, &rl->io, &rl->fsm, cfg->id, cfg->address);
    if (rv != 0) {
        snprintf(err, errlen, "raft: init: %s", rl->raft.errmsg[0] ? rl->raft.errmsg : raft_strerror(rv));
        raft_uv_close(&rl->io);
        raft_log__transport_close(rl);
        free(rl);
        return NULL;
    }
    raft_log__setup(rl, cfg);
    rv = raft_log__bootstrap(rl, cfg);
    if (rv == 0) rv = raft_start(&rl->raft);
    if (rv != 0) {
        snprintf(err, errlen, "raft: start %s in %s: %s", cfg->address, cfg->dir,
                 raft_errmsg(&rl->raft)[0] ? raft_errmsg(&rl->raft) : raft_strerror(rv));
        raft_log__abort(rl);
        return NULL;
    }
    uv_check_init(loop, &rl->role_check);
    rl->role_check.data = rl;
    uv_check_start(&rl->role_check, raft_log__role_check);
    uv_unref((uv_handle_t *)&rl->role_check);
    uv_idle_init(loop, &rl->flush_idle);
    rl->flush_idle.data = rl;
    rl->open = 3; /* raft, role_check, flush_idle */
    return &rl->base;
}

int repl_raft__code(int rv)
{
    switch (rv) {
    case 0: return REPL_RAFT_OK;
    case RAFT_NOTLEADER: return REPL_RAFT_ENOTLEADER;
    case RAFT_LEADERSHIPLOST: return REPL_RAFT_ELOST;
    case RAFT_CANTCHANGE:
    case RAFT_BUSY: return REPL_RAFT_EBUSY;
    case RAFT_BADID:
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_BADROLE:
    case RAFT_NOTFOUND:
    case RAFT_INVALID: return REPL_RAFT_EINVAL;
    case RAFT_SHUTDOWN: return REPL_RAFT_ESHUTDOWN;
    default: return REPL_RAFT_EFAILED;
    }
}

const char *repl_raft_strerror(int code)
{
    switch (code) {
    case REPL_RAFT_OK: return "ok";
    case REPL_RAFT_ENOTLEADER: return "not the leader";
    case REPL_RAFT_ELOST: return "leadership lost (outcome unknown)";
    case REPL_RAFT_EBUSY: return "busy: another change is in progress";
    case REPL_RAFT_EINVAL: return "invalid or unknown node id or address";
    case REPL_RAFT_ESHUTDOWN: return "shutting down";
    case REPL_RAFT_ETIMEDOUT: return "timed out";
    default: return "raft error";
    }
}
