/* Held output: a client's output that must wait for promises to be kept
 * (internal.h, hold_mark). Two independent promise spaces, each numbered
 * 1, 2, ... and kept in order (done[space] rises):
 *
 *   HOLD_PERSIST  records appended to the durable sink, kept when it
 *                 reports them committed (persist.c, broker_persist.h)
 *   HOLD_REMOTE   messages forwarded to other nodes of a cluster, kept
 *                 when every node took them (broker_cluster.h)
 *
 * A mark holds everything sent after it until its promise in each space
 * is kept; marks are released in order, so acknowledgements leave in the
 * order their packets came whatever each waits for. A promise that will
 * not be kept closes the clients waiting on it (their held
 * acknowledgements promised what is lost; they retry). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

static bool holding(const client *c) { return c->flow && c->flow->n_marks; }

static bool kept(const broker *b, const hold_mark *m)
{
    for (int s = 0; s < HOLD_SPACES; s++)
        if (m->seq[s] > b->hold.done[s]) return false;
    return true;
}

#ifndef NDEBUG
/* c's hold (O(marks)): listed at its index, marks[0] at offset 0, sequence
 * numbers and offsets non-decreasing and within the held bytes, and every
 * mark waiting for something not yet kept. */
static bool hold__check(const client *c)
{
    const broker_hold *h = &c->b->hold;
    const client_flow *f = c->flow;
    if (!holding(c)) return !f || f->held.len == 0;
    if (f->hold_idx >= h->n || h->list[f->hold_idx] != c || f->marks[0].off != 0) return false;
    for (uint32_t i = 0; i < f->n_marks; i++) {
        if (kept(c->b, &f->marks[i]) || f->marks[i].off > f->held.len) return false;
        if (!i) continue;
        if (f->marks[i].off < f->marks[i - 1].off) return false;
        for (int s = 0; s < HOLD_SPACES; s++)
            if (f->marks[i].seq[s] < f->marks[i - 1].seq[s]) return false;
    }
    return true;
}
#endif

buf *broker__client_out(client *c) { return holding(c) ? &c->flow->held : net_conn_outbuf(c->conn); }

void broker__client_out_done(client *c)
{
    if (!holding(c)) net_conn_flush_later(c->conn);
}

size_t broker__client_held_bytes(const client *c)
{
    if (!holding(c)) return 0;
    return c->flow->held.len + (size_t)c->flow->n_marks * sizeof(hold_mark);
}

size_t broker__client_backlog(const client *c) { return net_conn_backlog(c->conn) + broker__client_held_bytes(c); }

void broker__client_hold(client *c, int space, uint64_t seq)
{
    broker_hold *h = &c->b->hold;
    assert(space >= 0 && space < HOLD_SPACES);
    if ((space == HOLD_PERSIST && !c->b->persist) || seq <= h->done[space] || c->state == CLIENT_CLOSED) return;
    if (!c->flow) c->flow = xcalloc(1, sizeof *c->flow);
    client_flow *f = c->flow;
    hold_mark next = {{0}, f->held.len};
    if (f->n_marks) {
        hold_mark *last = &f->marks[f->n_marks - 1];
        if (seq <= last->seq[space]) return; /* what follows waits for a later promise already */
        if (last->off == f->held.len) {
            last->seq[space] = seq; /* nothing was sent since: one mark serves */
            return;
        }
        memcpy(next.seq, last->seq, sizeof next.seq); /* keeps the spaces non-decreasing */
    } else {
        assert(f->held.len == 0);
        if (h->n == h->cap) {
            h->cap = h->cap ? 2 * h->cap : 16;
            h->list = xrealloc(h->list, h->cap * sizeof *h->list);
        }
        f->hold_idx = h->n;
        h->list[h->n++] = c;
    }
    next.seq[space] = seq;
    if (f->n_marks == f->cap_marks) {
        f->cap_marks = f->cap_marks ? 2 * f->cap_marks : 4;
        f->marks = xrealloc(f->marks, f->cap_marks * sizeof *f->marks);
    }
    f->marks[f->n_marks++] = next;
    assert(hold__check(c));
}

static void unlist(broker_hold *h, client *c)
{
    client_flow *f = c->flow;
    assert(f->hold_idx < h->n && h->list[f->hold_idx] == c);
    client *moved = h->list[--h->n];
    h->list[f->hold_idx] = moved;
    moved->flow->hold_idx = f->hold_idx;
}

static void hold_drop(client *c)
{
    client_flow *f = c->flow;
    buf_free(&f->held);
    free(f->marks);
    f->marks = NULL;
    f->n_marks = f->cap_marks = 0;
}

void broker__persist_client_gone(client *c)
{
    if (!holding(c)) return;
    unlist(&c->b->hold, c);
    hold_drop(c);
}

/* Send what of c's held output no longer waits. Returns true if c
 * stopped holding. */
static bool release(client *c)
{
    client_flow *f = c->flow;
    uint32_t k = 0;
    while (k < f->n_marks && kept(c->b, &f->marks[k])) k++;
    if (k == 0) return false;
    size_t upto = k < f->n_marks ? f->marks[k].off : f->held.len;
    if (upto) {
        buf_append(net_conn_outbuf(c->conn), f->held.data, upto);
        net_conn_flush_later(c->conn);
    }
    if (k == f->n_marks) {
        hold_drop(c);
        return true;
    }
    buf_consume(&f->held, upto);
    memmove(f->marks, f->marks + k, (f->n_marks - k) * sizeof *f->marks);
    f->n_marks -= k;
    for (uint32_t i = 0; i < f->n_marks; i++) f->marks[i].off -= upto;
    assert(hold__check(c));
    return false;
}

void broker__hold_kept(broker *b, int space, uint64_t seq)
{
    broker_hold *h = &b->hold;
    if (seq <= h->done[space]) return;
    h->done[space] = seq;
    for (uint32_t i = 0; i < h->n;) {
        client *c = h->list[i];
        if (!release(c)) {
            i++;
            continue;
        }
        unlist(h, c); /* the last one moved to i */
        /* Less backlog: deliveries and held input may go on. */
        if (c->s && c->state == CLIENT_CONNECTED) broker__deliver_pump(c->s);
        broker__flow_self_check(c);
    }
}

static bool waits_on(const broker *b, const client *c, int space)
{
    const client_flow *f = c->flow;
    return f->marks[f->n_marks - 1].seq[space] > b->hold.done[space]; /* the last mark has the highest */
}

void broker__hold_fail(broker *b, int space, const char *why)
{
    broker_hold *h = &b->hold;
    for (uint32_t i = h->n; i-- > 0;) {
        if (i >= h->n) continue; /* closing one may have released others */
        client *c = h->list[i];
        if (!waits_on(b, c, space)) continue;
        broker__persist_client_gone(c); /* its held acknowledgements promised what is lost */
        if (c->state != CLIENT_CLOSED) broker__client_disconnect(c, MQTT_RC_UNSPECIFIED, why);
    }
}

void broker__hold_free(broker *b)
{
    assert(b->hold.n == 0); /* clients drop their holds when they go */
    free(b->hold.list);
    b->hold.list = NULL;
}
