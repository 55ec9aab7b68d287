/* Outbound delivery entries: one per (message, receiving session) for
 * QoS 1/2, kept in the session's in-flight list or queue. Singly linked
 * FIFO lists: acknowledgements nearly always arrive in send order, so the
 * head is usually the entry looked for. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

/* Freed entries are kept on a short list for the next broker__delivery_new: a
 * request-reply exchange creates and frees one per request, all the same
 * size, so this spares a calloc/free pair each. Bounded (DLV_POOL_MAX
 * entries of a few dozen bytes) and per thread because unlocked. */
#define DLV_POOL_MAX 4096 /* a group commit's replies (see message.c) */

static _Thread_local delivery *dlv_pool;
static _Thread_local unsigned dlv_pool_n;

static delivery *dlv_alloc(void)
{
    delivery *d = dlv_pool;
    if (!d) return xcalloc(1, sizeof *d);
    dlv_pool = d->next;
    dlv_pool_n--;
    memset(d, 0, sizeof *d);
    return d;
}

void broker__delivery_pool_drain(void)
{
    while (dlv_pool) {
        delivery *d = dlv_pool;
        dlv_pool = d->next;
        free(d);
    }
    dlv_pool_n = 0;
}

delivery *broker__delivery_new(msg *m, uint8_t qos, bool retain, const uint32_t *sub_ids, uint16_t n)
{
    delivery *d = dlv_alloc();
    d->m = m ? broker__msg_ref(m) : NULL; /* NULL: a replayed entry awaiting PUBCOMP */
    d->qos = qos;
    d->retain = retain;
    d->state = DLV_QUEUED;
    d->n_sub_ids = n;
    if (n == 1) d->sub_id = sub_ids[0];
    else if (n > 1) d->sub_ids = xmemdup(sub_ids, n * sizeof *sub_ids);
    return d;
}

void broker__delivery_free(delivery *d)
{
    broker__msg_unref(d->m);
    broker__share_key_unref(d->share);
    free(d->sub_ids);
    if (dlv_pool_n == DLV_POOL_MAX) {
        free(d);
        return;
    }
    d->next = dlv_pool;
    dlv_pool = d;
    dlv_pool_n++;
}

const uint32_t *broker__delivery_sub_ids(const delivery *d) { return d->n_sub_ids > 1 ? d->sub_ids : &d->sub_id; }

uint32_t broker__dlv_cost(const delivery *d)
{
    return (uint32_t)sizeof *d + (d->m ? (uint32_t)sizeof *d->m + d->m->cap : 0);
}

void broker__dlv_push(dlv_list *l, delivery *d)
{
    l->bytes += broker__dlv_cost(d);
    d->next = NULL;
    if (l->tail) l->tail->next = d;
    else l->head = d;
    l->tail = d;
    l->n++;
    assert(dlv__check_ends(l));
}

delivery *broker__dlv_pop(dlv_list *l)
{
    delivery *d = l->head;
    if (!d) return NULL;
    l->head = d->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    l->bytes -= broker__dlv_cost(d);
    d->next = NULL;
    assert(dlv__check_ends(l));
    return d;
}

void broker__dlv_unlink(dlv_list *l, delivery *prev, delivery *d)
{
    if (prev) prev->next = d->next;
    else l->head = d->next;
    if (l->tail == d) l->tail = prev;
    l->n--;
    l->bytes -= broker__dlv_cost(d);
    d->next = NULL;
    assert(dlv__check_ends(l));
}

void broker__dlv_clear(dlv_list *l)
{
    assert(dlv__check(l));
    delivery *d;
    while ((d = broker__dlv_pop(l))) broker__delivery_free(d);
}

#ifndef NDEBUG
bool dlv__check_ends(const dlv_list *l)
{
    if (!l->head) return !l->tail && l->n == 0 && l->bytes == 0;
    return l->tail && !l->tail->next && l->n > 0 && (l->n > 1 || l->head == l->tail);
}

bool dlv__check(const dlv_list *l)
{
    if (!dlv__check_ends(l)) return false;
    uint32_t n = 0, bytes = 0;
    const delivery *last = NULL;
    for (const delivery *d = l->head; d; last = d, d = d->next) {
        n++;
        bytes += broker__dlv_cost(d);
    }
    return n == l->n && bytes == l->bytes && last == l->tail;
}
#endif
