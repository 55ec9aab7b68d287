/* Subscription tree: one node per filter level, see topic_tree.h.
 *
 * Invariants:
 * - A node's exact-name children live in `kids`; the "+" and "#" levels of
 *   a filter are the dedicated `plus` and `hash` children (topic names
 *   cannot contain wildcards, so a topic level never looks them up).
 * - `path` is the filter (without any $share prefix) from the root down to
 *   and including this node; the node's own level is path[name_off..].
 *   The visit callback's `filter` points at it.
 * - Every non-root node has a subscription or a descendant that has one:
 *   unsubscribe prunes empty nodes bottom-up, so the tree's size follows
 *   the live subscriptions, never the history.
 * - The visit callback must not subscribe or unsubscribe on this tree. */
#include "broker/topic_tree.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_level.h"
#include "broker/topic_subs.h"
#include "util/alloc.h"

typedef struct tnode tnode;
struct tnode {
    tnode *parent; /* NULL for the root */
    uint8_t *path;
    uint32_t path_len;
    uint32_t name_off;
    level_map kids;
    tnode *plus;
    tnode *hash;
    sub_list subs;
    share_set shares;
};

struct topic_tree {
    tnode root;
    size_t count; /* subscriptions, shared members included */
    size_t nodes; /* non-root nodes */
    uint64_t gen; /* topic_tree_generation */
};

static const uint8_t no_bytes[1];

static const uint8_t *bytes_or_empty(mqtt_bytes b) { return b.data ? b.data : no_bytes; }

topic_tree *topic_tree_new(void)
{
    topic_tree *t = xcalloc(1, sizeof(topic_tree));
    t->gen = 1;
    return t;
}

static bool is_wild(const uint8_t *lvl, uint32_t len, char w) { return len == 1 && lvl[0] == (uint8_t)w; }

/* --- node lifecycle ------------------------------------------------------ */

static tnode *node_new(tnode *parent, const uint8_t *lvl, uint32_t len)
{
    tnode *n = xcalloc(1, sizeof *n);
    uint32_t sep = parent->parent ? 1 : 0; /* root's children: no '/' */
    n->parent = parent;
    n->path_len = parent->path_len + sep + len;
    n->name_off = parent->path_len + sep;
    n->path = topic_level_path_join(parent->path, parent->path_len, sep, lvl, len);
    return n;
}

static tnode *node_child(tnode *n, const uint8_t *lvl, uint32_t len)
{
    if (is_wild(lvl, len, '+')) return n->plus;
    if (is_wild(lvl, len, '#')) return n->hash;
    return topic_level_map_get(&n->kids, lvl, len);
}

static tnode *node_child_create(topic_tree *t, tnode *n, const uint8_t *lvl, uint32_t len)
{
    tnode *c = node_child(n, lvl, len);
    if (c) return c;
    c = node_new(n, lvl, len);
    if (is_wild(lvl, len, '+')) n->plus = c;
    else if (is_wild(lvl, len, '#')) n->hash = c;
    else topic_level_map_put(&n->kids, c->path + c->name_off, len, c);
    t->nodes++;
    return c;
}

#ifndef NDEBUG
/* One non-root node against its parent: reachable from it under its own
 * level, its path extending the parent's. O(1) plus one lookup, after
 * each subscribe and unsubscribe. */
static bool node__check(const tnode *n)
{
    const tnode *p = n->parent;
    if (!p) return true;
    if (n->name_off != p->path_len + (p->parent ? 1 : 0) || n->path_len < n->name_off) return false;
    if (p->path_len && memcmp(n->path, p->path, p->path_len) != 0) return false;
    return node_child((tnode *)p, n->path + n->name_off, n->path_len - n->name_off) == n;
}
#endif

static void node_detach(tnode *n)
{
    tnode *p = n->parent;
    if (p->plus == n) p->plus = NULL;
    else if (p->hash == n) p->hash = NULL;
    else topic_level_map_del(&p->kids, n->path + n->name_off, n->path_len - n->name_off);
}

static void node_destroy(tnode *n)
{
    topic_subs_list_free(&n->subs);
    topic_subs_share_set_free(&n->shares);
    topic_level_map_free(&n->kids);
    free(n->path);
    free(n);
}

static bool node_empty(const tnode *n)
{
    return n->subs.n == 0 && n->shares.n == 0 && n->kids.count == 0 && !n->plus && !n->hash;
}

static void node_prune(topic_tree *t, tnode *n)
{
    while (n->parent && node_empty(n)) {
        tnode *p = n->parent;
        node_detach(n);
        node_destroy(n);
        t->nodes--;
        n = p;
    }
    assert(node__check(n));
}

static tnode *node_any_child(tnode *n)
{
    uint32_t pos = 0;
    if (n->plus) return n->plus;
    if (n->hash) return n->hash;
    return topic_level_map_next(&n->kids, &pos);
}

void topic_tree_free(topic_tree *t)
{
    if (!t) return;
    /* Iterative post-order walk: filters may be thousands of levels deep,
     * so no recursion here. */
    tnode *n = &t->root;
    size_t nodes = 0;
    for (;;) {
        tnode *c = node_any_child(n);
        if (c) {
            /* First arrival at c: its subtree is intact, so here the
             * invariant "carries a subscription or has a descendant that
             * does" reads: a leaf carries one. Checked for the whole tree
             * by this walk, at no cost in release builds. */
            assert(node__check(c) && (node_any_child(c) || c->subs.n || c->shares.n));
            n = c;
            nodes++;
            continue;
        }
        if (!n->parent) break;
        tnode *p = n->parent;
        node_detach(n);
        node_destroy(n);
        n = p;
    }
    assert(nodes == t->nodes);
    (void)nodes;
    topic_subs_list_free(&t->root.subs);
    topic_subs_share_set_free(&t->root.shares);
    topic_level_map_free(&t->root.kids);
    free(t);
}

/* --- subscribe / unsubscribe -------------------------------------------- */

/* The node for `filter`, created when `create`, else NULL if absent. */
static tnode *node_find(topic_tree *t, mqtt_bytes filter, bool create)
{
    const uint8_t *rest = bytes_or_empty(filter);
    const uint8_t *end = rest + filter.len;
    tnode *n = &t->root;
    while (rest && n) {
        const uint8_t *lvl;
        uint32_t len = topic_level_next(&rest, end, &lvl);
        n = create ? node_child_create(t, n, lvl, len) : node_child(n, lvl, len);
    }
    return n;
}

bool topic_tree_subscribe(topic_tree *t, mqtt_bytes filter, void *owner, const sub_options *opts)
{
    mqtt_bytes group = {0};
    bool shared = topic_filter_split_share(filter, &group, &filter);
    tnode *n = node_find(t, filter, true);
    bool added =
        shared ? topic_subs_share_set_add(&n->shares, group, owner, opts) : topic_subs_list_set(&n->subs, owner, opts);
    t->count += added;
    t->gen++; /* added or options replaced: either changes what matches return */
    assert(node__check(n) && (n->subs.n || n->shares.n));
    return added;
}

bool topic_tree_unsubscribe(topic_tree *t, mqtt_bytes filter, void *owner)
{
    mqtt_bytes group = {0};
    bool shared = topic_filter_split_share(filter, &group, &filter);
    tnode *n = node_find(t, filter, false);
    if (!n) return false;
    bool removed =
        shared ? topic_subs_share_set_remove(&n->shares, group, owner) : topic_subs_list_remove(&n->subs, owner);
    if (removed) {
        t->count--;
        t->gen++;
        node_prune(t, n);
    }
    return removed;
}

size_t topic_tree_count(const topic_tree *t) { return t->count; }

uint64_t topic_tree_generation(const topic_tree *t) { return t->gen; }

size_t topic_tree_node_count(const topic_tree *t) { return t->nodes; }

/* --- matching ------------------------------------------------------------ */

typedef struct match_ctx {
    topic_tree_visit visit;
    topic_tree_eligible eligible;
    void *ctx;
    const uint8_t *end;
} match_ctx;

static void node_visit(const match_ctx *m, tnode *n)
{
    subscription s = {.filter = {n->path, n->path_len}, .group = {no_bytes, 0}};
    for (uint32_t i = 0; i < n->subs.n; i++) {
        s.owner = n->subs.v[i].owner;
        s.opts = n->subs.v[i].opts;
        m->visit(m->ctx, &s);
    }
    for (uint32_t i = 0; i < n->shares.n; i++) {
        share_group *g = &n->shares.v[i];
        const sub_entry *e = topic_subs_share_group_pick(g, m->eligible, m->ctx);
        s.owner = e->owner;
        s.opts = e->opts;
        s.group = (mqtt_bytes){g->name, g->name_len};
        m->visit(m->ctx, &s);
    }
}

/* Walk the topic's levels from node n. The exact-name path is followed in
 * the loop; only "+" branches recurse, so the stack depth is bounded by
 * the number of "+" levels in the subscribed filters. */
static void match_from(const match_ctx *m, tnode *n, const uint8_t *rest, bool first)
{
    for (;;) {
        if (!rest) {
            node_visit(m, n);
            if (n->hash) /* "a/#" also matches "a" */
                node_visit(m, n->hash);
            return;
        }
        const uint8_t *lvl;
        uint32_t len = topic_level_next(&rest, m->end, &lvl);
        /* MQTT 5.0 §4.7.2: wildcards at the first level skip "$" topics. */
        if (!(first && len > 0 && lvl[0] == '$')) {
            if (n->hash) node_visit(m, n->hash);
            if (n->plus) match_from(m, n->plus, rest, false);
        }
        n = topic_level_map_get(&n->kids, lvl, len);
        if (!n) return;
        first = false;
    }
}

void topic_tree_match(topic_tree *t, mqtt_bytes topic, topic_tree_visit visit, topic_tree_eligible eligible, void *ctx)
{
    const uint8_t *start = bytes_or_empty(topic);
    match_ctx m = {.visit = visit, .eligible = eligible, .ctx = ctx, .end = start + topic.len};
    match_from(&m, &t->root, start, true);
}
