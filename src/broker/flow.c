/* Publisher backpressure.
 *
 * Policy: a QoS 1/2 message is never acknowledged to its publisher and
 * then dropped for a connected subscriber. When a connected subscriber's
 * queue reaches limits.max_queued, the message is still queued (the queue
 * overshoots by at most one message per publisher) and the publisher's
 * reads are paused until the queue falls to 3/4 of the limit, or the
 * subscriber goes away. For an OFFLINE session at max_queued, the message
 * is dropped for that session and counted (stats.dropped_queue_full), as
 * Mosquitto does: pausing publishers on a session that may never return
 * would stall them forever. A v5 publisher whose message reached no
 * receiver for that reason gets reason code 0x97 (Quota exceeded).
 *
 * Deadlock freedom: a paused client cannot read, so it cannot acknowledge
 * what it receives and its own queue cannot drain. We therefore never
 * pause a publisher on the queue of a session whose client is itself
 * paused; every wait edge points to a client that is reading, so there is
 * no cycle of waits. */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"

bool flow_queue_low(const session *s)
{
    uint32_t max = s->b->lim.max_queued;
    return !max || s->queue.n <= max - max / 4;
}

static void remove_session(client *c, const session *s)
{
    client_flow *f = c->flow;
    for (uint32_t i = 0; i < f->n_blocked; i++) {
        if (f->blocked_on[i] != s) continue;
        f->blocked_on[i] = f->blocked_on[--f->n_blocked];
        return;
    }
}

static void remove_waiter(session *s, const client *c)
{
    session_rare *r = s->rare;
    for (uint32_t i = 0; i < r->n_waiters; i++) {
        if (r->waiters[i] != c) continue;
        r->waiters[i] = r->waiters[--r->n_waiters];
        return;
    }
}

/* Grow *arr (elements of `size` bytes) so that one more fits. */
static void *reserve(void *arr, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap) return arr;
    *cap = *cap ? *cap * 2 : 2;
    return xrealloc(arr, *cap * size);
}

void flow_block(client *p, session *s)
{
    if (p->state == CLIENT_CLOSED || (s->c && s->c->paused)) return;
    if (!p->flow) p->flow = xcalloc(1, sizeof *p->flow);
    client_flow *f = p->flow;
    for (uint32_t i = 0; i < f->n_blocked; i++)
        if (f->blocked_on[i] == s) return;
    f->blocked_on = reserve(f->blocked_on, f->n_blocked, &f->cap_blocked, sizeof *f->blocked_on);
    f->blocked_on[f->n_blocked++] = s;
    session_rare *r = session_rare_get(s);
    r->waiters = reserve(r->waiters, r->n_waiters, &r->cap_waiters, sizeof *r->waiters);
    r->waiters[r->n_waiters++] = p;
    if (!p->paused) {
        p->paused = true;
        net_conn_pause_read(p->conn);
    }
}

/* Every waiter has a client_flow: flow_block made it before listing it. */
void flow_release(session *s)
{
    session_rare *r = s->rare;
    for (uint32_t i = 0; r && i < r->n_waiters; i++) {
        client *w = r->waiters[i];
        remove_session(w, s);
        if (w->flow->n_blocked == 0) client_resume_later(w);
    }
    if (r) r->n_waiters = 0;
}

void flow_client_gone(client *c)
{
    client_flow *f = c->flow;
    if (!f) return;
    for (uint32_t i = 0; i < f->n_blocked; i++) {
        remove_waiter(f->blocked_on[i], c);
    }
    f->n_blocked = 0;
}
