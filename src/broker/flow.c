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
    for (uint32_t i = 0; i < c->n_blocked; i++) {
        if (c->blocked_on[i] != s) continue;
        c->blocked_on[i] = c->blocked_on[--c->n_blocked];
        return;
    }
}

static void remove_waiter(session *s, const client *c)
{
    for (uint32_t i = 0; i < s->n_waiters; i++) {
        if (s->waiters[i] != c) continue;
        s->waiters[i] = s->waiters[--s->n_waiters];
        return;
    }
}

void flow_block(client *p, session *s)
{
    if (p->state == CLIENT_CLOSED || (s->c && s->c->paused)) return;
    for (uint32_t i = 0; i < p->n_blocked; i++)
        if (p->blocked_on[i] == s) return;
    if (p->n_blocked == p->cap_blocked) {
        p->cap_blocked = p->cap_blocked ? p->cap_blocked * 2 : 2;
        p->blocked_on = xrealloc(p->blocked_on, p->cap_blocked * sizeof *p->blocked_on);
    }
    p->blocked_on[p->n_blocked++] = s;
    if (s->n_waiters == s->cap_waiters) {
        s->cap_waiters = s->cap_waiters ? s->cap_waiters * 2 : 2;
        s->waiters = xrealloc(s->waiters, s->cap_waiters * sizeof *s->waiters);
    }
    s->waiters[s->n_waiters++] = p;
    if (!p->paused) {
        p->paused = true;
        net_conn_pause_read(p->conn);
    }
}

void flow_release(session *s)
{
    for (uint32_t i = 0; i < s->n_waiters; i++) {
        client *w = s->waiters[i];
        remove_session(w, s);
        if (w->n_blocked == 0) client_resume_later(w);
    }
    s->n_waiters = 0;
}

void flow_client_gone(client *c)
{
    for (uint32_t i = 0; i < c->n_blocked; i++) {
        remove_waiter(c->blocked_on[i], c);
    }
    c->n_blocked = 0;
}
