/* Forwarded messages waiting for acknowledgements, see
 * cluster_route_pending.h.
 *
 * A ring of entries indexed by promise number: entry k is promise
 * head + k. Resolved entries stay in the ring (id freed) until every
 * earlier one is resolved too; then the head advances over them. An entry
 * is unresolved while it waits on a node or is doomed. */
#include "server/cluster_route_pending.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

typedef struct pend {
    uint32_t waiting; /* nodes still to acknowledge */
    bool doomed;      /* a send failed: fails at the next fail_doomed */
    bool live;        /* unresolved */
    uint32_t id_len;
    uint8_t *id; /* the publisher's client id, owned while live */
    uint64_t deadline;
} pend;

struct route_pending {
    pend *ring;
    size_t cap, start, n; /* ring[start .. start+n) (mod cap) are promises head .. head+n-1 */
    uint64_t head;        /* number of ring[start] */
    size_t live, bytes, doomed;
};

route_pending *route_pending_new(void)
{
    route_pending *rp = xcalloc(1, sizeof *rp);
    rp->head = 1;
    return rp;
}

static pend *at(const route_pending *rp, size_t k) { return &rp->ring[(rp->start + k) % rp->cap]; }

static pend *find(const route_pending *rp, uint64_t seq)
{
    if (seq < rp->head || seq - rp->head >= rp->n) return NULL;
    pend *p = at(rp, (size_t)(seq - rp->head));
    return p->live ? p : NULL;
}

void route_pending_free(route_pending *rp)
{
    if (!rp) return;
    for (size_t k = 0; k < rp->n; k++) free(at(rp, k)->id);
    free(rp->ring);
    free(rp);
}

static void grow(route_pending *rp)
{
    size_t cap = rp->cap ? 2 * rp->cap : 64;
    pend *ring = xcalloc(cap, sizeof *ring);
    for (size_t k = 0; k < rp->n; k++) ring[k] = *at(rp, k);
    free(rp->ring);
    rp->ring = ring;
    rp->cap = cap;
    rp->start = 0;
}

static void resolve(route_pending *rp, pend *p)
{
    assert(p->live);
    if (p->doomed) rp->doomed--;
    rp->bytes -= sizeof *p + p->id_len;
    rp->live--;
    free(p->id);
    *p = (pend){0};
    /* advance over the resolved prefix */
    while (rp->n && !at(rp, 0)->live) {
        rp->start = (rp->start + 1) % rp->cap;
        rp->n--;
        rp->head++;
    }
}

uint64_t route_pending_add(route_pending *rp, mqtt_bytes client_id, uint32_t waiting, uint64_t deadline)
{
    size_t cost = sizeof(pend) + client_id.len;
    assert(waiting);
    if (rp->n == rp->cap) grow(rp);
    pend *p = at(rp, rp->n++);
    *p = (pend){.waiting = waiting, .live = true, .id_len = client_id.len, .deadline = deadline};
    p->id = xmalloc(client_id.len ? client_id.len : 1);
    if (client_id.len) memcpy(p->id, client_id.data, client_id.len);
    rp->bytes += cost;
    rp->live++;
    return rp->head + rp->n - 1;
}

void route_pending_doom(route_pending *rp, uint64_t seq)
{
    pend *p = find(rp, seq);
    if (!p || p->doomed) return;
    p->doomed = true;
    rp->doomed++;
}

void route_pending_ack(route_pending *rp, uint64_t seq, unsigned idx)
{
    pend *p = find(rp, seq);
    if (!p || idx >= ROUTE_PENDING_NODES) return;
    p->waiting &= ~(UINT32_C(1) << idx);
    if (!p->waiting && !p->doomed) resolve(rp, p);
}

static void fail(route_pending *rp, pend *p, uint64_t seq, route_pending_fail_fn fn, void *ctx)
{
    fn(ctx, (mqtt_bytes){p->id, p->id_len}, seq);
    resolve(rp, p);
}

/* Fail every live entry for which pred holds, oldest first. The ring may
 * shrink from the front while we walk: track by promise number. */
static size_t fail_where(route_pending *rp, bool (*pred)(const pend *, const void *), const void *arg,
                         route_pending_fail_fn fn, void *ctx)
{
    size_t failed = 0;
    uint64_t end = rp->head + rp->n;
    for (uint64_t seq = rp->head; seq < end; seq++) {
        pend *p = find(rp, seq);
        if (!p || !pred(p, arg)) continue;
        fail(rp, p, seq, fn, ctx);
        failed++;
    }
    return failed;
}

static bool waits_on(const pend *p, const void *arg) { return p->waiting & (UINT32_C(1) << *(const unsigned *)arg); }
static bool expired(const pend *p, const void *arg) { return p->deadline <= *(const uint64_t *)arg; }
static bool is_doomed(const pend *p, const void *arg)
{
    (void)arg;
    return p->doomed;
}

size_t route_pending_fail_node(route_pending *rp, unsigned idx, route_pending_fail_fn fn, void *ctx)
{
    if (idx >= ROUTE_PENDING_NODES) return 0;
    return fail_where(rp, waits_on, &idx, fn, ctx);
}

size_t route_pending_expire(route_pending *rp, uint64_t now, route_pending_fail_fn fn, void *ctx)
{
    return fail_where(rp, expired, &now, fn, ctx);
}

size_t route_pending_fail_doomed(route_pending *rp, route_pending_fail_fn fn, void *ctx)
{
    return rp->doomed ? fail_where(rp, is_doomed, NULL, fn, ctx) : 0;
}

uint64_t route_pending_kept(const route_pending *rp) { return rp->head - 1; }
size_t route_pending_count(const route_pending *rp) { return rp->live; }
size_t route_pending_bytes(const route_pending *rp) { return rp->bytes; }
bool route_pending_has_doomed(const route_pending *rp) { return rp->doomed > 0; }
