/* Backpressure: what happens when a session's queue or a connection's
 * output reaches its bound.
 *
 * Bounds: a session's queue (QoS 1/2 messages beyond the in-flight
 * window) is full at limits.max_queued messages or max_queued_bytes bytes
 * (broker__dlv_cost: entry plus message); a connection's output at
 * max_backlog_bytes unwritten bytes.
 *
 * Policy for publishers feeding a full queue: a QoS 1/2 message is never
 * acknowledged to its publisher and then dropped for a connected
 * subscriber. When a connected subscriber's queue is full, the message is
 * still queued (the queue overshoots by at most one message per
 * publisher) and the publisher's reads are paused until the queue falls
 * to 3/4 of both bounds, or the subscriber goes away. A subscriber whose
 * queue stays full for limits.slow_subscriber_timeout seconds is
 * disconnected with 0x97 (Quota exceeded), which wakes its publishers;
 * its session then follows the offline rules. For an OFFLINE session at
 * its bound, the message is dropped for that session and counted
 * (stats.dropped_queue_full), as Mosquitto does: pausing publishers on a
 * session that may never return would stall them forever. A v5 publisher
 * whose message reached no receiver for that reason gets 0x97.
 *
 * Self backpressure: a client's own output (replies to its state store
 * requests, messages it publishes to its own subscriptions) has no other
 * publisher to pause. When its backlog or its own queue is over the
 * bound, its further input is held: acknowledgements (PUBACK, PUBREC,
 * PUBCOMP) and PINGREQ are still processed, out of the held stream, so
 * its queue keeps draining as it acknowledges; everything else waits, in
 * order, and once FLOW_HOLD_MAX bytes of it are held its socket is not
 * read (keep-alive still applies: not reading is then the client's doing).
 * It goes on when the backlog is under a quarter of max_backlog_bytes and
 * the queue at 3/4.
 *
 * Deadlock freedom: a paused client cannot read, so it cannot acknowledge
 * what it receives and its own queue cannot drain. We therefore never
 * pause a publisher on the queue of a session whose client is itself
 * paused; every wait edge points to a client that is reading, so there is
 * no cycle of waits. A held client waits only on itself: its backlog
 * drains as the peer reads, its queue as the peer acknowledges (acks are
 * processed while held); a peer that sends FLOW_HOLD_MAX bytes of requests
 * ahead of the acknowledgements it owes stops both, and the slow-
 * subscriber clock ends that wait. */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

bool broker__flow_queue_full(const session *s)
{
    const broker_limits *l = &s->b->lim;
    return (l->max_queued && s->queue.n >= l->max_queued) ||
           (l->max_queued_bytes && s->queue.bytes >= l->max_queued_bytes);
}

bool broker__flow_queue_low(const session *s)
{
    const broker_limits *l = &s->b->lim;
    return (!l->max_queued || s->queue.n <= l->max_queued - l->max_queued / 4) &&
           (!l->max_queued_bytes || s->queue.bytes <= l->max_queued_bytes - l->max_queued_bytes / 4);
}

/* --- slow subscribers ------------------------------------------------------- */

#define CONTAINER(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

void broker__flow_queue_filled(session *s)
{
    uint32_t t = s->b->lim.slow_subscriber_timeout;
    if (!t) return;
    session_rare *r = broker__session_rare_get(s);
    if (!r->slow_session) { /* first use: broker__session_rare_get zeroes, idx 0 is not HEAP_NONE */
        r->slow_session = s;
        heap_node_init(&r->slow_timer.node);
    }
    if (heap_node_linked(&r->slow_timer.node)) return;
    heap_set(&s->b->slow_timers, &r->slow_timer.node, broker_now() + (uint64_t)t * 1000);
}

void broker__flow_sweep(broker *b, uint64_t now)
{
    heap_node *n;
    while ((n = heap_peek(&b->slow_timers)) && heap_node_key(&b->slow_timers, n) <= now) {
        session *s = CONTAINER(n, session_rare, slow_timer.node)->slow_session;
        heap_remove(&b->slow_timers, n);
        client *c = s->c;
        if (!c || c->state != CLIENT_CONNECTED || broker__flow_queue_low(s)) continue;
        log_info("%.*s: queue full for %u s (%u messages, %u bytes): disconnecting a slow subscriber", (int)s->id_len,
                 (const char *)s->id, b->lim.slow_subscriber_timeout, s->queue.n, s->queue.bytes);
        broker__client_disconnect(c, MQTT_RC_QUOTA_EXCEEDED, "Slow subscriber: queue full");
    }
}

/* --- deferred disconnect ------------------------------------------------------ */

void broker__flow_cut_later(client *c)
{
    if (c->quota_cut || c->state == CLIENT_CLOSED) return;
    if (!c->flow) c->flow = xcalloc(1, sizeof *c->flow);
    c->quota_cut = true;
    broker__client_resume_later(c); /* broker__client_process_resumed disconnects it */
}

/* --- self backpressure ---------------------------------------------------------- */

/* Called for every packet of a connected client, so the backlog half reads
 * the net layer's high/low-water flag (marks = max_backlog_bytes and a
 * quarter of it, set by the server) instead of computing the backlog. */
bool broker__flow_self_over(const client *c)
{
    uint32_t max = c->b->lim.max_backlog_bytes;
    return net_conn_over_backlog(c->conn) || (max && broker__client_held_bytes(c) >= max) ||
           (c->s && broker__flow_queue_full(c->s));
}

bool broker__flow_self_low(const client *c)
{
    uint32_t max = c->b->lim.max_backlog_bytes;
    return !net_conn_over_backlog(c->conn) && (!max || broker__client_held_bytes(c) < max / 4) &&
           (!c->s || broker__flow_queue_low(c->s));
}

void broker__flow_self_check(client *c)
{
    if (!c->self_held || c->state == CLIENT_CLOSED || !broker__flow_self_low(c)) return;
    if (!c->flow) c->flow = xcalloc(1, sizeof *c->flow);
    broker__client_resume_later(c); /* broker__client_process_resumed releases the hold */
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

void broker__flow_block(client *p, session *s)
{
    if (p->state == CLIENT_CLOSED || (s->c && s->c->paused)) return;
    if (!p->flow) p->flow = xcalloc(1, sizeof *p->flow);
    client_flow *f = p->flow;
    for (uint32_t i = 0; i < f->n_blocked; i++)
        if (f->blocked_on[i] == s) return;
    f->blocked_on = reserve(f->blocked_on, f->n_blocked, &f->cap_blocked, sizeof *f->blocked_on);
    f->blocked_on[f->n_blocked++] = s;
    session_rare *r = broker__session_rare_get(s);
    r->waiters = reserve(r->waiters, r->n_waiters, &r->cap_waiters, sizeof *r->waiters);
    r->waiters[r->n_waiters++] = p;
    if (!p->paused) {
        p->paused = true;
        net_conn_pause_read(p->conn);
    }
}

/* Every waiter has a client_flow: broker__flow_block made it before listing it. */
void broker__flow_release(session *s)
{
    session_rare *r = s->rare;
    if (r && r->slow_session) heap_remove(&s->b->slow_timers, &r->slow_timer.node);
    for (uint32_t i = 0; r && i < r->n_waiters; i++) {
        client *w = r->waiters[i];
        remove_session(w, s);
        if (w->flow->n_blocked == 0) broker__client_resume_later(w);
    }
    if (r) r->n_waiters = 0;
}

void broker__flow_client_gone(client *c)
{
    client_flow *f = c->flow;
    if (!f) return;
    for (uint32_t i = 0; i < f->n_blocked; i++) { remove_waiter(f->blocked_on[i], c); }
    f->n_blocked = 0;
}
