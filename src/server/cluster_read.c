/* Read index rounds (see cluster_read.h).
 *
 * Invariants: at most one round is asking (`asking`); its waiters are in
 * `ask`, those that arrived since in `next`; confirmed rounds wait for the
 * apply index in `applying`, oldest first, each with the commit index it
 * needs (they are confirmed in order, so their indexes never decrease).
 * `round` only grows: an ACK for another round is stale and ignored. */
#include "server/cluster_read.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/peer.h"
#include "repl/raft_log.h"
#include "util/alloc.h"
#include "util/le.h"
#include "util/log.h"

typedef struct waiter {
    cluster_read_done_fn cb;
    void *ctx;
    uint64_t need; /* commit index to apply up to (once confirmed) */
    struct waiter *next;
} waiter;

typedef struct wlist {
    waiter *head, *tail;
    size_t n;
} wlist;

struct cluster_read {
    uv_loop_t *loop;
    repl_log *log;
    struct peer_net *net;
    uint64_t self;
    uint8_t ping_type, ack_type;
    uint32_t timeout_ms;
    uv_timer_t timer; /* the asking round's deadline */
    uv_check_t check; /* completes confirmed rounds, starts the next */
    wlist ask, next, applying;
    bool asking;
    uint64_t round, term, commit;
    unsigned n_voters, yes;
    uint64_t voters[REPL_RAFT_MEMBERS_MAX];
    bool said_yes[REPL_RAFT_MEMBERS_MAX];
    uint64_t confirmed, failed;
    int closing;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void wl_push(wlist *l, waiter *w)
{
    w->next = NULL;
    if (l->tail) l->tail->next = w;
    else l->head = w;
    l->tail = w;
    l->n++;
}

static wlist wl_take(wlist *l)
{
    wlist t = *l;
    *l = (wlist){0};
    return t;
}

static void wl_append(wlist *to, wlist *from)
{
    if (!from->head) return;
    if (to->tail) to->tail->next = from->head;
    else to->head = from->head;
    to->tail = from->tail;
    to->n += from->n;
    *from = (wlist){0};
}

/* Callers may call cluster_read_index again from cb: the list was taken. */
static void wl_finish(wlist l, int status)
{
    for (waiter *w = l.head, *next; w; w = next) {
        next = w->next;
        cluster_read_done_fn cb = w->cb;
        void *ctx = w->ctx;
        free(w);
        cb(ctx, status);
    }
}

static void on_check(uv_check_t *h);
static void on_timeout(uv_timer_t *t);

static void arm_check(cluster_read *r)
{
    if (!r->closing) uv_check_start(&r->check, on_check);
}

static void send_pings(cluster_read *r)
{
    uint8_t p[CLUSTER_READ_PING_LEN];
    p[0] = CLUSTER_READ_VERSION;
    le_put_u64(p + 1, r->term);
    le_put_u64(p + 9, r->round);
    for (unsigned i = 0; i < r->n_voters; i++)
        if (r->voters[i] != r->self) peer_net_send(r->net, r->voters[i], r->ping_type, p, sizeof p);
}

/* A majority of the voters said yes (this node counts, if it votes). */
static bool majority(const cluster_read *r) { return 2 * r->yes > r->n_voters; }

static void round_confirmed(cluster_read *r)
{
    uv_timer_stop(&r->timer);
    r->asking = false;
    r->confirmed++;
    for (waiter *w = r->ask.head; w; w = w->next) w->need = r->commit;
    wl_append(&r->applying, &r->ask);
    arm_check(r);
}

static void round_failed(cluster_read *r, int status)
{
    uv_timer_stop(&r->timer);
    r->asking = false;
    r->failed++;
    wl_finish(wl_take(&r->ask), status);
}

static void round_start(cluster_read *r)
{
    assert(!r->asking && r->next.n);
    repl_raft_point pt;
    repl_raft_point_get(r->log, &pt);
    r->ask = wl_take(&r->next);
    if (pt.state != REPL_RAFT_LEADER) {
        wl_finish(wl_take(&r->ask), REPL_RAFT_ENOTLEADER);
        return;
    }
    r->asking = true;
    r->round++;
    r->term = pt.term;
    r->commit = pt.commit_index;
    r->n_voters = pt.n_voters;
    memcpy(r->voters, pt.voters, sizeof r->voters);
    memset(r->said_yes, 0, sizeof r->said_yes);
    r->yes = 0;
    for (unsigned i = 0; i < r->n_voters; i++)
        if (r->voters[i] == r->self) {
            r->said_yes[i] = true;
            r->yes++;
        }
    if (majority(r)) { /* a single voter */
        round_confirmed(r);
        return;
    }
    uv_timer_start(&r->timer, on_timeout, r->timeout_ms, 0);
    send_pings(r);
}

static void on_timeout(uv_timer_t *t)
{
    cluster_read *r = t->data;
    log_debug("cluster: read index round %" PRIu64 " not confirmed by a majority within %u ms", r->round,
              r->timeout_ms);
    round_failed(r, REPL_RAFT_ETIMEDOUT);
    arm_check(r); /* the next round starts from the check phase */
}

static void on_check(uv_check_t *h)
{
    cluster_read *r = h->data;
    if (r->applying.n) {
        repl_raft_point pt;
        repl_raft_point_get(r->log, &pt);
        if (pt.state != REPL_RAFT_LEADER || pt.term != r->term) {
            /* Confirmed, but this node stepped down before applying:
             * let the callers retry with the next leader. */
            wl_finish(wl_take(&r->applying), REPL_RAFT_ELOST);
        } else {
            wlist done = {0};
            while (r->applying.head && r->applying.head->need <= pt.last_applied) {
                waiter *w = r->applying.head;
                r->applying.head = w->next;
                if (!r->applying.head) r->applying.tail = NULL;
                r->applying.n--;
                wl_push(&done, w);
            }
            wl_finish(done, 0);
        }
    }
    if (!r->asking && r->next.n && !r->closing) round_start(r);
    if (!r->applying.n && !r->next.n) uv_check_stop(&r->check);
}

cluster_read *cluster_read_new(uv_loop_t *loop, repl_log *log, struct peer_net *net, uint64_t self, uint8_t ping_type,
                               uint8_t ack_type, uint32_t timeout_ms)
{
    cluster_read *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->log = log;
    r->net = net;
    r->self = self;
    r->ping_type = ping_type;
    r->ack_type = ack_type;
    r->timeout_ms = timeout_ms;
    uv_timer_init(loop, &r->timer);
    uv_check_init(loop, &r->check);
    r->timer.data = r->check.data = r;
    return r;
}

int cluster_read_index(cluster_read *r, cluster_read_done_fn cb, void *ctx)
{
    if (r->closing) return REPL_RAFT_ESHUTDOWN;
    repl_raft_point pt;
    repl_raft_point_get(r->log, &pt);
    if (pt.state != REPL_RAFT_LEADER) return REPL_RAFT_ENOTLEADER;
    if (r->ask.n + r->next.n + r->applying.n >= REPL_RAFT_BARRIER_WAITERS_MAX) return REPL_RAFT_EBUSY;
    waiter *w = xmalloc(sizeof *w);
    *w = (waiter){cb, ctx, 0, NULL};
    wl_push(&r->next, w);
    arm_check(r); /* never completes inside this call */
    return 0;
}

static void on_ping(cluster_read *r, uint64_t from, uint64_t term, uint64_t round)
{
    repl_raft_point pt;
    repl_raft_point_get(r->log, &pt);
    uint8_t a[CLUSTER_READ_ACK_LEN];
    a[0] = CLUSTER_READ_VERSION;
    le_put_u64(a + 1, term);
    le_put_u64(a + 9, round);
    /* Yes only to the leader of our current term: a node that moved to a
     * newer term (or follows someone else) says no. */
    a[17] = pt.term == term && pt.leader_id == from && pt.state == REPL_RAFT_FOLLOWER;
    peer_net_send(r->net, from, r->ack_type, a, sizeof a);
}

static void on_ack(cluster_read *r, uint64_t from, uint64_t term, uint64_t round, bool yes)
{
    if (!r->asking || round != r->round || term != r->term) return; /* stale */
    if (!yes) {
        round_failed(r, REPL_RAFT_ELOST);
        arm_check(r);
        return;
    }
    for (unsigned i = 0; i < r->n_voters; i++)
        if (r->voters[i] == from && !r->said_yes[i]) {
            r->said_yes[i] = true;
            r->yes++;
        }
    if (majority(r)) round_confirmed(r);
}

void cluster_read_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_read *r = ctx;
    bool ping = type == r->ping_type;
    size_t want = ping ? CLUSTER_READ_PING_LEN : CLUSTER_READ_ACK_LEN;
    if (r->closing) return;
    if (n != want || p[0] != CLUSTER_READ_VERSION || (!ping && p[17] > 1)) {
        log_warn("cluster: node %" PRIu64 " sent a malformed read index frame (type %u, %zu bytes); ignored", from,
                 type, n);
        return;
    }
    uint64_t term = le_load_u64(p + 1), round = le_load_u64(p + 9);
    if (ping) on_ping(r, from, term, round);
    else on_ack(r, from, term, round, p[17]);
}

void cluster_read_counts(const cluster_read *r, uint64_t *confirmed, uint64_t *failed)
{
    *confirmed = r->confirmed;
    *failed = r->failed;
}

static void on_closed(uv_handle_t *h)
{
    cluster_read *r = h->data;
    if (--r->closing) return;
    if (r->close_cb) r->close_cb(r->close_ctx);
    free(r);
}

void cluster_read_close(cluster_read *r, void (*cb)(void *ctx), void *ctx)
{
    if (!r) return;
    r->closing = 2;
    r->close_cb = cb;
    r->close_ctx = ctx;
    r->asking = false;
    wl_finish(wl_take(&r->ask), REPL_RAFT_ESHUTDOWN);
    wl_finish(wl_take(&r->next), REPL_RAFT_ESHUTDOWN);
    wl_finish(wl_take(&r->applying), REPL_RAFT_ESHUTDOWN);
    uv_close((uv_handle_t *)&r->timer, on_closed);
    uv_close((uv_handle_t *)&r->check, on_closed);
}
