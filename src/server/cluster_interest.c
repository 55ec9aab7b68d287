/* Interest of the cluster's nodes, see cluster_interest.h.
 *
 * Invariants: a node's `filters` map holds every entry it has (value: the
 * count, stored as a pointer-sized integer, never 0); each plain entry is
 * one subscription of the node in the tree; each shared entry is one
 * member slot of its group, and a group is in the tree (as a plain
 * subscription of its filter) while it has members. */
#include "server/cluster_interest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_tree.h"
#include "util/alloc.h"
#include "util/hashmap.h"

enum { OWNER_NODE = 1, OWNER_GROUP = 2 };

typedef struct ci_node {
    uint8_t kind; /* OWNER_NODE: first member, the tree's owners are told apart by it */
    uint64_t id;
    hashmap *filters; /* filter as subscribed -> (void *)(uintptr_t)count */
    bool all;
    uint64_t seen; /* match generation that reported it */
} ci_node;

typedef struct ci_member {
    ci_node *node;
    uint32_t count;
    int64_t current; /* smooth weighted round robin */
} ci_member;

typedef struct ci_group {
    uint8_t kind;  /* OWNER_GROUP */
    uint8_t *full; /* "$share/g/f", owned */
    uint32_t len;
    mqtt_bytes group, filter; /* point into full */
    ci_member *m;
    uint32_t n, cap;
} ci_group;

struct cluster_interest {
    topic_tree *tree;
    size_t max_filters;
    uint64_t self; /* not bounded */
    ci_node **nodes;
    size_t n_nodes;
    hashmap *groups; /* "$share/g/f" -> ci_group */
    uint64_t gen;
};

static const sub_options opts0;

cluster_interest *cluster_interest_new(size_t max_filters, uint64_t self)
{
    cluster_interest *ci = xcalloc(1, sizeof *ci);
    ci->tree = topic_tree_new();
    ci->groups = hashmap_new();
    ci->max_filters = max_filters;
    ci->self = self;
    return ci;
}

static ci_node *node_find(const cluster_interest *ci, uint64_t id)
{
    for (size_t i = 0; i < ci->n_nodes; i++)
        if (ci->nodes[i]->id == id) return ci->nodes[i];
    return NULL;
}

static ci_node *node_get(cluster_interest *ci, uint64_t id)
{
    ci_node *n = node_find(ci, id);
    if (n) return n;
    n = xcalloc(1, sizeof *n);
    n->kind = OWNER_NODE;
    n->id = id;
    n->filters = hashmap_new();
    ci->nodes = xrealloc(ci->nodes, (ci->n_nodes + 1) * sizeof *ci->nodes);
    ci->nodes[ci->n_nodes++] = n;
    return n;
}

static ci_group *group_get(cluster_interest *ci, mqtt_bytes full)
{
    ci_group *g = hashmap_get(ci->groups, full.data, full.len);
    if (g) return g;
    g = xcalloc(1, sizeof *g);
    g->kind = OWNER_GROUP;
    g->full = xmemdup(full.data, full.len);
    g->len = full.len;
    bool shared = topic_filter_split_share((mqtt_bytes){g->full, g->len}, &g->group, &g->filter);
    assert(shared);
    (void)shared;
    hashmap_put(ci->groups, full.data, full.len, g);
    topic_tree_subscribe(ci->tree, g->filter, g, &opts0);
    return g;
}

static void group_set(cluster_interest *ci, ci_group *g, ci_node *n, uint32_t count)
{
    uint32_t i = 0;
    while (i < g->n && g->m[i].node != n) i++;
    if (count) {
        if (i == g->n) {
            if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 4;
                g->m = xrealloc(g->m, g->cap * sizeof *g->m);
            }
            g->m[g->n++] = (ci_member){n, count, 0};
        }
        g->m[i].count = count;
        return;
    }
    if (i < g->n) g->m[i] = g->m[--g->n];
    if (g->n) return;
    topic_tree_unsubscribe(ci->tree, g->filter, g);
    hashmap_remove(ci->groups, g->full, g->len);
    free(g->m);
    free(g->full);
    free(g);
}

bool cluster_interest_set(cluster_interest *ci, uint64_t node, mqtt_bytes filter, uint32_t count)
{
    ci_node *n = node_get(ci, node);
    uintptr_t old = (uintptr_t)hashmap_get(n->filters, filter.data, filter.len);
    if (!old && count && node != ci->self && hashmap_size(n->filters) >= ci->max_filters) {
        n->all = true;
        return false;
    }
    mqtt_bytes g, f;
    bool shared = topic_filter_split_share(filter, &g, &f);
    if (shared) group_set(ci, group_get(ci, filter), n, count);
    if (count) {
        hashmap_put(n->filters, filter.data, filter.len, (void *)(uintptr_t)count);
        if (!old && !shared) topic_tree_subscribe(ci->tree, filter, n, &opts0);
    } else if (old) {
        hashmap_remove(n->filters, filter.data, filter.len);
        if (!shared) topic_tree_unsubscribe(ci->tree, filter, n);
    }
    return true;
}

uint32_t cluster_interest_get(const cluster_interest *ci, uint64_t node, mqtt_bytes filter)
{
    const ci_node *n = node_find(ci, node);
    return n ? (uint32_t)(uintptr_t)hashmap_get(n->filters, filter.data, filter.len) : 0;
}

void cluster_interest_reset(cluster_interest *ci, uint64_t node)
{
    ci_node *n = node_find(ci, node);
    if (!n) return;
    hashmap_iter it;
    const void *k;
    size_t klen;
    hashmap_iter_init(n->filters, &it);
    while (hashmap_iter_next(&it, &k, &klen, NULL)) {
        mqtt_bytes f = {k, (uint32_t)klen}, g, rest;
        if (topic_filter_split_share(f, &g, &rest)) {
            ci_group *grp = hashmap_get(ci->groups, k, klen);
            assert(grp);
            group_set(ci, grp, n, 0);
        } else {
            topic_tree_unsubscribe(ci->tree, f, n);
        }
        hashmap_remove(n->filters, k, klen); /* the entry just returned: allowed */
    }
    n->all = false;
}

void cluster_interest_set_all(cluster_interest *ci, uint64_t node) { node_get(ci, node)->all = true; }

size_t cluster_interest_count(const cluster_interest *ci, uint64_t node)
{
    const ci_node *n = node_find(ci, node);
    return n ? hashmap_size(n->filters) : 0;
}

bool cluster_interest_wants_all(const cluster_interest *ci, uint64_t node)
{
    const ci_node *n = node_find(ci, node);
    return n && n->all;
}

void cluster_interest_free(cluster_interest *ci)
{
    if (!ci) return;
    for (size_t i = 0; i < ci->n_nodes; i++) cluster_interest_reset(ci, ci->nodes[i]->id);
    for (size_t i = 0; i < ci->n_nodes; i++) {
        hashmap_free(ci->nodes[i]->filters, NULL);
        free(ci->nodes[i]);
    }
    assert(hashmap_size(ci->groups) == 0 && topic_tree_count(ci->tree) == 0);
    free(ci->nodes);
    hashmap_free(ci->groups, NULL);
    topic_tree_free(ci->tree);
    free(ci);
}

/* --- matching ------------------------------------------------------------------ */

typedef struct match_ctx {
    cluster_interest *ci;
    cluster_interest_node_fn node_fn;
    cluster_interest_share_fn share_fn;
    void *ctx;
} match_ctx;

/* Smooth weighted round robin (as nginx's upstreams): each member gains
 * its weight, the richest is picked and pays the total. */
static ci_node *group_pick(ci_group *g)
{
    int64_t total = 0;
    ci_member *best = NULL;
    for (uint32_t i = 0; i < g->n; i++) {
        ci_member *m = &g->m[i];
        m->current += m->count;
        total += m->count;
        if (!best || m->current > best->current) best = m;
    }
    assert(best);
    best->current -= total;
    return best->node;
}

static void report(match_ctx *mc, ci_node *n)
{
    if (n->seen == mc->ci->gen) return;
    n->seen = mc->ci->gen;
    if (mc->node_fn) mc->node_fn(mc->ctx, n->id);
}

static void visit(void *ctx, const subscription *sub)
{
    match_ctx *mc = ctx;
    uint8_t kind = *(const uint8_t *)sub->owner;
    if (kind == OWNER_NODE) {
        report(mc, sub->owner);
        return;
    }
    ci_group *g = sub->owner;
    if (mc->share_fn) mc->share_fn(mc->ctx, group_pick(g)->id, g->group, g->filter);
}

void cluster_interest_match(cluster_interest *ci, mqtt_bytes topic, cluster_interest_node_fn node_fn,
                            cluster_interest_share_fn share_fn, void *ctx)
{
    match_ctx mc = {ci, node_fn, share_fn, ctx};
    ci->gen++;
    for (size_t i = 0; i < ci->n_nodes; i++)
        if (ci->nodes[i]->all) report(&mc, ci->nodes[i]);
    topic_tree_match(ci->tree, topic, visit, NULL, &mc);
}

void cluster_interest_each(cluster_interest *ci, uint64_t node, cluster_interest_each_fn fn, void *ctx)
{
    ci_node *n = node_find(ci, node);
    if (!n) return;
    hashmap_iter it;
    const void *k;
    size_t klen;
    void *v;
    hashmap_iter_init(n->filters, &it);
    while (hashmap_iter_next(&it, &k, &klen, &v)) fn(ctx, (mqtt_bytes){k, (uint32_t)klen}, (uint32_t)(uintptr_t)v);
}
