/* Routing: topic tree matches -> one delivery per receiving session.
 *
 * Overlapping non-shared subscriptions of one session collapse into a
 * single copy at the highest granted QoS carrying every matching
 * subscription identifier (MQTT-3.3.4-3/-5). Each shared-subscription
 * match is its own delivery (§4.8.2). Collapsing uses a per-route
 * generation stamped on the session plus reusable scratch arrays, so a
 * fan-out allocates nothing beyond the QoS 1/2 delivery entries.
 *
 * Not re-entrant: delivering never routes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/digest.h"

typedef struct hit {
    session *s;
    share_key *share; /* borrowed from the session's sub_rec */
    uint32_t ids;     /* 1-based index into id_links; 0 = none */
    uint8_t qos;
    bool rap;
} hit;

typedef struct id_link {
    uint32_t id;
    uint32_t next;
} id_link;

/* --- the route cache ----------------------------------------------------------
 * A request/reply exchange publishes every reply on the same topic (the
 * requester's response topic), and a sensor publishes on its topic again
 * and again, yet each match walks the tree level by level (~10 % of a
 * state store request's instructions). So the result of a match is cached
 * per topic when it depends on the topic alone: no shared subscription
 * matched (a member is picked per message) and no No Local one (depends
 * on the publisher). An entry is valid while the tree's generation is the
 * one it was filled under: any subscribe or unsubscribe invalidates every
 * entry, and a stale entry's session pointers are never followed (a
 * session leaves the tree, changing the generation, before it is freed).
 *
 * Bound: ROUTE_CACHE_SLOTS entries, direct-mapped by a hash of the topic
 * (a colliding topic takes the slot over), of topics up to
 * ROUTE_CACHE_TOPIC_MAX bytes and results up to ROUTE_CACHE_HITS
 * receivers with ROUTE_CACHE_IDS subscription identifiers each: at most
 * ~100 KiB per broker. Larger results are matched every time. */
#define ROUTE_CACHE_SLOTS 256 /* power of two */
#define ROUTE_CACHE_TOPIC_MAX 256
#define ROUTE_CACHE_HITS 2
#define ROUTE_CACHE_IDS 4

typedef struct cached_hit {
    session *s;
    uint8_t qos;
    bool rap;
    uint16_t n_ids;
    uint32_t ids[ROUTE_CACHE_IDS];
} cached_hit;

typedef struct route_cached {
    uint64_t gen; /* tree generation when filled; 0: empty */
    uint64_t hash;
    uint8_t *topic; /* owned, ROUTE_CACHE_TOPIC_MAX bytes once allocated */
    uint32_t len;
    uint32_t n_hits;
    cached_hit hits[ROUTE_CACHE_HITS];
} route_cached;

struct route_scratch {
    hit *hits;
    uint32_t n_hits, cap_hits;
    id_link *links;
    uint32_t n_links, cap_links;
    uint32_t *gather;
    uint32_t cap_gather;
    uint64_t gen;
    route_cached cache[ROUTE_CACHE_SLOTS];
};

typedef struct route_ctx {
    broker *b;
    route_scratch *rs;
    session *origin;
    bool uncacheable; /* a shared or No Local subscription matched */
} route_ctx;

static route_scratch *scratch(broker *b)
{
    if (!b->scratch) b->scratch = xcalloc(1, sizeof *b->scratch);
    return b->scratch;
}

void broker__route_free(broker *b)
{
    route_scratch *rs = b->scratch;
    if (!rs) return;
    free(rs->hits);
    free(rs->links);
    free(rs->gather);
    for (size_t i = 0; i < ROUTE_CACHE_SLOTS; i++) free(rs->cache[i].topic);
    free(rs);
    b->scratch = NULL;
}

static hit *new_hit(route_scratch *rs, session *s)
{
    if (rs->n_hits == rs->cap_hits) {
        rs->cap_hits = rs->cap_hits ? rs->cap_hits * 2 : 16;
        rs->hits = xrealloc(rs->hits, rs->cap_hits * sizeof *rs->hits);
    }
    hit *h = &rs->hits[rs->n_hits++];
    memset(h, 0, sizeof *h);
    h->s = s;
    return h;
}

static void add_id(route_scratch *rs, hit *h, uint32_t id)
{
    if (!id) return;
    if (rs->n_links == rs->cap_links) {
        rs->cap_links = rs->cap_links ? rs->cap_links * 2 : 16;
        rs->links = xrealloc(rs->links, rs->cap_links * sizeof *rs->links);
    }
    rs->links[rs->n_links] = (id_link){id, h->ids};
    h->ids = ++rs->n_links;
}

/* The share key of s's subscription to $share/group/filter. */
static share_key *find_share(session *s, mqtt_bytes group, mqtt_bytes filter)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        sub_rec *r = &s->subs[i];
        mqtt_bytes g, f;
        if (!r->share || !topic_filter_split_share((mqtt_bytes){r->filter, r->len}, &g, &f)) continue;
        if (mqtt_bytes_eq(g, group) && mqtt_bytes_eq(f, filter)) return r->share;
    }
    return NULL;
}

static void visit(void *ctx, const subscription *sub)
{
    route_ctx *rc = ctx;
    route_scratch *rs = rc->rs;
    session *s = sub->owner;
    hit *h;
    if (sub->group.len) {
        rc->uncacheable = true;
        if (!broker__cluster_share_here(rc->b, sub->group, sub->filter)) return; /* another node's turn */
        h = new_hit(rs, s);
        h->share = find_share(s, sub->group, sub->filter);
    } else {
        rc->uncacheable |= sub->opts.no_local;
        if (sub->opts.no_local && s == rc->origin) return;
        if (s->route_gen == rs->gen) {
            h = &rs->hits[s->route_idx];
        } else {
            s->route_gen = rs->gen;
            s->route_idx = rs->n_hits;
            h = new_hit(rs, s);
        }
    }
    if (sub->opts.qos > h->qos) h->qos = sub->opts.qos;
    h->rap |= sub->opts.retain_as_published;
    add_id(rs, h, sub->opts.sub_id);
}

static bool eligible(void *ctx, void *owner)
{
    (void)ctx;
    session *s = owner;
    return s->c && broker__deliver_window_open(s);
}

/* Sub ids of h in subscription order (the links are built newest first). */
static uint16_t gather_ids(route_scratch *rs, const hit *h)
{
    uint32_t n = 0;
    for (uint32_t i = h->ids; i; i = rs->links[i - 1].next) n++;
    if (n > rs->cap_gather) {
        rs->cap_gather = n;
        rs->gather = xrealloc(rs->gather, n * sizeof *rs->gather);
    }
    uint32_t k = n;
    for (uint32_t i = h->ids; i; i = rs->links[i - 1].next) rs->gather[--k] = rs->links[i - 1].id;
    return (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX);
}

static route_cached *cache_slot(route_scratch *rs, mqtt_bytes topic, uint64_t *hash)
{
    *hash = digest64(topic.data, topic.len);
    return &rs->cache[*hash & (ROUTE_CACHE_SLOTS - 1)];
}

static bool cache_valid(const route_cached *e, uint64_t gen, uint64_t hash, mqtt_bytes topic)
{
    return e->gen == gen && e->hash == hash && e->len == topic.len && memcmp(e->topic, topic.data, topic.len) == 0;
}

/* Remember the match just made (rs->hits) for `topic`, if it fits. */
static void cache_fill(route_scratch *rs, route_cached *e, uint64_t gen, uint64_t hash, mqtt_bytes topic)
{
    if (topic.len > ROUTE_CACHE_TOPIC_MAX || rs->n_hits > ROUTE_CACHE_HITS) return;
    for (uint32_t i = 0; i < rs->n_hits; i++) {
        const hit *h = &rs->hits[i];
        cached_hit *c = &e->hits[i];
        uint16_t n = gather_ids(rs, h);
        if (n > ROUTE_CACHE_IDS) {
            e->gen = 0;
            return;
        }
        *c = (cached_hit){.s = h->s, .qos = h->qos, .rap = h->rap, .n_ids = n};
        if (n) memcpy(c->ids, rs->gather, n * sizeof *c->ids);
    }
    if (!e->topic) e->topic = xmalloc(ROUTE_CACHE_TOPIC_MAX);
    memcpy(e->topic, topic.data, topic.len);
    e->len = topic.len;
    e->hash = hash;
    e->n_hits = rs->n_hits;
    e->gen = gen;
}

static void deliver_one(msg *m, client *publisher, session *s, uint8_t sub_qos, bool rap, const uint32_t *ids,
                        uint16_t n_ids, share_key *share, route_result *res)
{
    uint8_t qos = sub_qos < m->qos ? sub_qos : m->qos;
    enum deliver_result d = broker__deliver(s, m, qos, rap && m->retain, ids, n_ids, share);
    if (d == DELIVER_DROPPED) {
        res->dropped++;
        return;
    }
    res->receivers++;
    if (d == DELIVER_FULL && s->c) res->full++;
    if (d == DELIVER_FULL && publisher && s->c && s != publisher->s) broker__flow_block(publisher, s);
}

route_result broker__route_message(broker *b, msg *m, session *origin, client *publisher)
{
    route_scratch *rs = scratch(b);
    route_result res = {0, 0, 0};
    uint64_t gen = topic_tree_generation(b->tree), hash;
    route_cached *e = cache_slot(rs, m->topic, &hash);
    broker__psess_routing(b, m);
    if (cache_valid(e, gen, hash, m->topic)) {
        for (uint32_t i = 0; i < e->n_hits; i++) {
            const cached_hit *c = &e->hits[i];
            deliver_one(m, publisher, c->s, c->qos, c->rap, c->ids, c->n_ids, NULL, &res);
        }
        broker__psess_routing(b, NULL);
        return res;
    }
    route_ctx rc = {b, rs, origin, false};
    rs->gen++;
    rs->n_hits = rs->n_links = 0;
    topic_tree_match(b->tree, m->topic, visit, eligible, &rc);
    if (!rc.uncacheable) cache_fill(rs, e, gen, hash, m->topic);
    for (uint32_t i = 0; i < rs->n_hits; i++) {
        hit *h = &rs->hits[i];
        uint16_t n = gather_ids(rs, h);
        deliver_one(m, publisher, h->s, h->qos, h->rap, rs->gather, n, h->share, &res);
    }
    broker__psess_routing(b, NULL);
    /* Delivering never subscribes, so the entry just filled is still valid. */
    assert(topic_tree_generation(b->tree) == gen);
    return res;
}

/* --- moving a shared delivery to another member ---------------------------- */

typedef struct reshare_ctx {
    mqtt_bytes group, filter;
    session *from, *to;
    sub_options opts;
} reshare_ctx;

static void reshare_visit(void *ctx, const subscription *sub)
{
    reshare_ctx *rc = ctx;
    if (sub->owner == rc->from || !mqtt_bytes_eq(sub->group, rc->group) || !mqtt_bytes_eq(sub->filter, rc->filter))
        return;
    rc->to = sub->owner;
    rc->opts = sub->opts;
}

static bool reshare_eligible(void *ctx, void *owner)
{
    reshare_ctx *rc = ctx;
    return owner != rc->from && eligible(NULL, owner);
}

bool broker__route_reshare(broker *b, delivery *d, session *from)
{
    reshare_ctx rc = {.from = from};
    mqtt_bytes full = {d->share->filter, d->share->len};
    if (!topic_filter_split_share(full, &rc.group, &rc.filter)) return false;
    topic_tree_match(b->tree, d->m->topic, reshare_visit, reshare_eligible, &rc);
    if (!rc.to) return false;
    uint8_t qos = rc.opts.qos < d->m->qos ? rc.opts.qos : d->m->qos;
    uint32_t id = rc.opts.sub_id;
    bool retain = rc.opts.retain_as_published && d->m->retain;
    broker__deliver(rc.to, d->m, qos, retain, &id, id ? 1 : 0, find_share(rc.to, rc.group, rc.filter));
    return true;
}
