/* The raft log's operations besides proposing (repl/raft_log.h):
 * batched read barriers, status, membership changes, leadership
 * transfer. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/raft_log_impl.h"
#include "util/alloc.h"

/* ---- read barriers ---- */

static void raft_ops__complete(raft_waiters *w, int status)
{
    raft_waiter *x = w->head;
    *w = (raft_waiters){0};
    while (x) {
        raft_waiter *next = x->next;
        x->cb(x->ctx, status);
        free(x);
        x = next;
    }
}

void repl_raft__fail_waiters(repl_raft *rl, int status)
{
    raft_waiters cur = rl->cur, next = rl->next;
    rl->cur = rl->next = (raft_waiters){0};
    rl->n_waiters = 0;
    raft_ops__complete(&cur, status);
    raft_ops__complete(&next, status);
}

static void raft_ops__barrier_done(struct raft_barrier *req, int status);

/* Starts a barrier for the `next` batch; they become `cur`. */
static int raft_ops__barrier_start(repl_raft *rl)
{
    assert(!rl->barrier_busy && rl->next.head);
    rl->barrier.data = rl;
    int rv = raft_barrier(&rl->raft, &rl->barrier, raft_ops__barrier_done);
    if (rv != 0) return repl_raft__code(rv);
    rl->barrier_busy = true;
    rl->cur = rl->next;
    rl->next = (raft_waiters){0};
    return REPL_RAFT_OK;
}

static size_t raft_ops__count(const raft_waiters *w)
{
    size_t n = 0;
    for (const raft_waiter *x = w->head; x; x = x->next) n++;
    return n;
}

/* libraft calls this from deep inside its own state changes (a barrier
 * failed by a leader stepping down, say); calling raft_barrier or
 * raft_apply from there crashes libraft 0.15. So nothing is done here
 * but noting it: repl_raft__barrier_tick completes the waiters and starts
 * the next barrier from a clean stack. */
static void raft_ops__barrier_done(struct raft_barrier *req, int status)
{
    repl_raft *rl = req->data;
    rl->barrier_busy = false;
    rl->barrier_finished = true;
    rl->barrier_status = status;
}

void repl_raft__barrier_tick(repl_raft *rl)
{
    if (rl->barrier_finished) {
        rl->barrier_finished = false;
        raft_waiters done = rl->cur;
        rl->cur = (raft_waiters){0};
        rl->n_waiters -= raft_ops__count(&done);
        raft_ops__complete(&done, repl_raft__code(rl->barrier_status));
    }
    if (rl->closing || rl->barrier_busy || !rl->next.head) return;
    int rv = raft_ops__barrier_start(rl);
    if (rv != REPL_RAFT_OK) {
        raft_waiters failed = rl->next;
        rl->next = (raft_waiters){0};
        rl->n_waiters -= raft_ops__count(&failed);
        raft_ops__complete(&failed, rv);
    }
}

void repl_raft__leader_barrier(repl_raft *rl)
{
    if (rl->barrier_busy) return;
    rl->barrier.data = rl;
    if (raft_barrier(&rl->raft, &rl->barrier, raft_ops__barrier_done) == 0) rl->barrier_busy = true;
}

int repl_raft_barrier(repl_log *l, repl_raft_done_fn cb, void *ctx)
{
    repl_raft *rl = (repl_raft *)l;
    assert(cb);
    if (rl->closing) return REPL_RAFT_ESHUTDOWN;
    if (raft_state(&rl->raft) != RAFT_LEADER) return REPL_RAFT_ENOTLEADER;
    if (rl->n_waiters >= REPL_RAFT_BARRIER_WAITERS_MAX) return REPL_RAFT_EBUSY;
    raft_waiter *w = xmalloc(sizeof *w);
    *w = (raft_waiter){.cb = cb, .ctx = ctx};
    if (rl->next.tail) rl->next.tail->next = w;
    else rl->next.head = w;
    rl->next.tail = w;
    rl->n_waiters++;
    /* Started by repl_raft__barrier_tick at the end of this loop
     * iteration: the caller may be inside a libraft callback. */
    return REPL_RAFT_OK;
}

/* ---- status ---- */

_Static_assert((int)REPL_RAFT_UNAVAILABLE == (int)RAFT_UNAVAILABLE && (int)REPL_RAFT_FOLLOWER == (int)RAFT_FOLLOWER &&
                   (int)REPL_RAFT_CANDIDATE == (int)RAFT_CANDIDATE && (int)REPL_RAFT_LEADER == (int)RAFT_LEADER,
               "state codes mirror libraft's");
_Static_assert(REPL_RAFT_STANDBY == RAFT_STANDBY && REPL_RAFT_VOTER == RAFT_VOTER && REPL_RAFT_SPARE == RAFT_SPARE,
               "role codes mirror libraft's");

void repl_raft_status_get(repl_log *l, repl_raft_status *out)
{
    repl_raft *rl = (repl_raft *)l;
    struct raft *r = &rl->raft;
    memset(out, 0, sizeof *out);
    out->id = rl->id;
    out->state = raft_state(r); /* REPL_RAFT_* mirror libraft's codes */
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(r, &lid, &addr);
    out->leader_id = lid;
    snprintf(out->leader_address, sizeof out->leader_address, "%s", lid && addr ? addr : "");
    out->term = r->current_term;
    out->last_index = raft_last_index(r);
    out->commit_index = r->commit_index;
    out->last_applied = raft_last_applied(r);
    out->snapshot_index = r->log.snapshot.last_index;
    out->bad_entries = rl->bad_entries;
    bool leader = r->state == RAFT_LEADER && r->leader_state.progress;
    for (unsigned i = 0; i < r->configuration.n && i < REPL_RAFT_MEMBERS_MAX; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        repl_raft_member_status *m = &out->members[out->n_members++];
        m->id = s->id;
        snprintf(m->address, sizeof m->address, "%s", s->address);
        m->role = s->role;
        if (leader) m->match_index = s->id == rl->id ? r->last_stored : r->leader_state.progress[i].match_index;
    }
}

void repl_raft_point_get(repl_log *l, repl_raft_point *out)
{
    repl_raft *rl = (repl_raft *)l;
    struct raft *r = &rl->raft;
    out->state = raft_state(r);
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(r, &lid, &addr);
    out->leader_id = lid;
    out->term = r->current_term;
    out->commit_index = r->commit_index;
    out->last_applied = raft_last_applied(r);
    out->n_voters = 0;
    for (unsigned i = 0; i < r->configuration.n && out->n_voters < REPL_RAFT_MEMBERS_MAX; i++)
        if (r->configuration.servers[i].role == RAFT_VOTER)
            out->voters[out->n_voters++] = r->configuration.servers[i].id;
}

/* ---- membership ---- */

static void raft_ops__changed(struct raft_change *req, int status)
{
    repl_raft *rl = req->data;
    if (status == 0 && rl->change_kind == RAFT_CHANGE_ADD && !rl->closing) {
        /* Joined as a spare: now promote (libraft catches it up first). */
        rl->change_kind = RAFT_CHANGE_PROMOTE;
        rl->change.data = rl;
        status = raft_assign(&rl->raft, &rl->change, rl->change_id, RAFT_VOTER, raft_ops__changed);
        if (status == 0) return;
    }
    rl->change_busy = false;
    repl_raft_done_fn cb = rl->change_cb;
    rl->change_cb = NULL;
    if (cb) cb(rl->change_ctx, repl_raft__code(status));
}

static int raft_ops__change_begin(repl_raft *rl, int kind, uint64_t id, repl_raft_done_fn cb, void *ctx)
{
    if (rl->closing) return REPL_RAFT_ESHUTDOWN;
    if (raft_state(&rl->raft) != RAFT_LEADER) return REPL_RAFT_ENOTLEADER;
    if (rl->change_busy) return REPL_RAFT_EBUSY;
    if (id == 0) return REPL_RAFT_EINVAL;
    rl->change_kind = kind;
    rl->change_id = id;
    rl->change.data = rl;
    rl->change_cb = cb;
    rl->change_ctx = ctx;
    return REPL_RAFT_OK;
}

static int raft_ops__change_started(repl_raft *rl, int rv)
{
    if (rv != 0) {
        rl->change_cb = NULL;
        return repl_raft__code(rv);
    }
    rl->change_busy = true;
    return REPL_RAFT_OK;
}

int repl_raft_add(repl_log *l, uint64_t id, const char *address, repl_raft_done_fn cb, void *ctx)
{
    repl_raft *rl = (repl_raft *)l;
    if (!address || !*address || strlen(address) > REPL_RAFT_ADDRESS_MAX) return REPL_RAFT_EINVAL;
    int rv = raft_ops__change_begin(rl, RAFT_CHANGE_ADD, id, cb, ctx);
    if (rv != REPL_RAFT_OK) return rv;
    return raft_ops__change_started(rl, raft_add(&rl->raft, &rl->change, id, address, raft_ops__changed));
}

int repl_raft_remove(repl_log *l, uint64_t id, repl_raft_done_fn cb, void *ctx)
{
    repl_raft *rl = (repl_raft *)l;
    int rv = raft_ops__change_begin(rl, RAFT_CHANGE_REMOVE, id, cb, ctx);
    if (rv != REPL_RAFT_OK) return rv;
    return raft_ops__change_started(rl, raft_remove(&rl->raft, &rl->change, id, raft_ops__changed));
}

/* ---- leadership transfer ---- */

static void raft_ops__transferred(struct raft_transfer *req)
{
    repl_raft *rl = req->data;
    rl->transfer_busy = false;
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(&rl->raft, &lid, &addr);
    repl_raft_done_fn cb = rl->transfer_cb;
    rl->transfer_cb = NULL;
    if (cb) cb(rl->transfer_ctx, lid == req->id ? REPL_RAFT_OK : REPL_RAFT_ETIMEDOUT);
}

int repl_raft_transfer(repl_log *l, uint64_t id, repl_raft_done_fn cb, void *ctx)
{
    repl_raft *rl = (repl_raft *)l;
    if (rl->closing) return REPL_RAFT_ESHUTDOWN;
    if (raft_state(&rl->raft) != RAFT_LEADER) return REPL_RAFT_ENOTLEADER;
    if (rl->transfer_busy) return REPL_RAFT_EBUSY;
    rl->transfer.data = rl;
    rl->transfer_cb = cb;
    rl->transfer_ctx = ctx;
    int rv = raft_transfer(&rl->raft, &rl->transfer, id, raft_ops__transferred);
    if (rv != 0) {
        rl->transfer_cb = NULL;
        return repl_raft__code(rv);
    }
    rl->transfer_busy = true;
    return REPL_RAFT_OK;
}
