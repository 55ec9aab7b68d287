/* Retained messages: a tree of topic levels, see retain.h.
 *
 * Invariants:
 * - A node's `path` is the full topic name down to it; its own level is
 *   path[name_off..path_len). Visits hand out `path` as the topic.
 * - Every non-root node holds a value or has children: clearing a value
 *   prunes the nodes left empty, so memory follows the live topics.
 * - The visit callback must not set or clear values on the store being
 *   walked (the walk holds positions in the child tables). */
#include "broker/retain.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_level.h"
#include "util/alloc.h"

typedef struct rnode rnode;
struct rnode {
    rnode *parent; /* NULL for the root */
    uint8_t *path;
    uint32_t path_len;
    uint32_t name_off;
    level_map kids;
    void *value; /* NULL: no retained message here */
};

struct retain_store {
    rnode root;
    retain_release release;
    size_t count;
    size_t nodes;
};

static const uint8_t no_bytes[1];

retain_store *retain_store_new(retain_release release)
{
    retain_store *r = xcalloc(1, sizeof *r);
    r->release = release;
    return r;
}

static void value_release(retain_store *r, void *value)
{
    if (r->release) r->release(value);
}

static const uint8_t *node_name(const rnode *n, uint32_t *len)
{
    *len = n->path_len - n->name_off;
    return n->path + n->name_off;
}

static rnode *node_new(rnode *parent, const uint8_t *lvl, uint32_t len)
{
    rnode *n = xcalloc(1, sizeof *n);
    bool sep = parent->parent != NULL;
    n->parent = parent;
    n->name_off = parent->path_len + sep;
    n->path_len = n->name_off + len;
    n->path = topic_level_path_join(parent->path, parent->path_len, sep, lvl, len);
    topic_level_map_put(&parent->kids, n->path + n->name_off, len, n);
    return n;
}

/* Unlink n from its parent and free it; its value must be gone. */
static void node_destroy(rnode *n)
{
    uint32_t len;
    const uint8_t *name = node_name(n, &len);
    topic_level_map_del(&n->parent->kids, name, len);
    topic_level_map_free(&n->kids);
    free(n->path);
    free(n);
}

#ifndef NDEBUG
/* One node against its parent: found there under its own level, its path
 * extending the parent's. O(1) plus one lookup, after each set. */
static bool node__check(const rnode *n)
{
    const rnode *p = n->parent;
    if (!p) return true;
    if (n->name_off != p->path_len + (p->parent ? 1 : 0) || n->path_len < n->name_off) return false;
    if (p->path_len && memcmp(n->path, p->path, p->path_len) != 0) return false;
    uint32_t len;
    const uint8_t *name = node_name(n, &len);
    return topic_level_map_get(&p->kids, name, len) == n;
}
#endif

/* The node of `topic`; created when `create`, else NULL if absent. */
static rnode *node_find(retain_store *r, mqtt_bytes topic, bool create)
{
    const uint8_t *rest = topic.data ? topic.data : no_bytes;
    const uint8_t *end = rest + topic.len;
    rnode *n = &r->root;
    while (rest && n) {
        const uint8_t *lvl;
        uint32_t len = topic_level_next(&rest, end, &lvl);
        rnode *c = topic_level_map_get(&n->kids, lvl, len);
        if (!c && create) {
            c = node_new(n, lvl, len);
            r->nodes++;
        }
        n = c;
    }
    return n;
}

void retain_store_set(retain_store *r, mqtt_bytes topic, void *value)
{
    rnode *n = node_find(r, topic, value != NULL);
    if (!n) return;
    if (n->value) value_release(r, n->value);
    r->count += (value != NULL) - (n->value != NULL);
    n->value = value;
    while (n->parent && !n->value && n->kids.count == 0) {
        rnode *p = n->parent;
        node_destroy(n);
        r->nodes--;
        n = p;
    }
    assert(node__check(n) && (!n->parent || n->value || n->kids.count));
}

void *retain_store_get(retain_store *r, mqtt_bytes topic)
{
    rnode *n = node_find(r, topic, false);
    return n ? n->value : NULL;
}

size_t retain_store_count(const retain_store *r) { return r->count; }

size_t retain_store_node_count(const retain_store *r) { return r->nodes; }

void retain_store_free(retain_store *r)
{
    if (!r) return;
    /* Iterative post-order: topics may be thousands of levels deep. */
    rnode *n = &r->root;
    size_t nodes = 0, values = r->root.value != NULL;
    for (;;) {
        uint32_t pos = 0;
        rnode *c = topic_level_map_next(&n->kids, &pos);
        if (c) {
            /* First arrival at c, its subtree intact: the invariant "holds
             * a value or has children" is checked for every node by this
             * walk (debug builds only). */
            assert(node__check(c) && (c->value || c->kids.count));
            nodes++;
            values += c->value != NULL;
            n = c;
            continue;
        }
        if (!n->parent) break;
        rnode *p = n->parent;
        if (n->value) value_release(r, n->value);
        node_destroy(n);
        n = p;
    }
    assert(nodes == r->nodes && values == r->count);
    (void)nodes, (void)values;
    topic_level_map_free(&r->root.kids);
    free(r);
}

/* --- matching ------------------------------------------------------------ */

typedef struct rmatch {
    retain_visit visit;
    void *ctx;
    const uint8_t *end;
    bool all; /* a full walk: "$" topics too */
} rmatch;

/* Returns false when the visitor asked to stop. */
static bool node_visit(const rmatch *m, const rnode *n)
{
    return !n->value || m->visit(m->ctx, (mqtt_bytes){n->path, n->path_len}, n->value);
}

/* MQTT 5.0 §4.7.2: first-level wildcards do not match "$" topics. */
static bool skip_dollar(const rnode *parent, const rnode *c)
{
    return !parent->parent && c->path_len > c->name_off && c->path[c->name_off] == '$';
}

static rnode *next_child(const rmatch *m, rnode *n, uint32_t *pos)
{
    rnode *c;
    while ((c = topic_level_map_next(&n->kids, pos)) && !m->all && skip_dollar(n, c))
        ;
    return c;
}

/* Pre-order walk of every descendant of `top` (the "#" level), without
 * recursion: on the way up, a node's position in its parent's table tells
 * where the parent's iteration resumes. */
static bool walk_subtree(const rmatch *m, rnode *top)
{
    rnode *n = top;
    uint32_t pos = 0;
    for (;;) {
        rnode *c = next_child(m, n, &pos);
        if (c) {
            if (!node_visit(m, c)) return false;
            n = c;
            pos = 0;
            continue;
        }
        if (n == top) return true;
        uint32_t len;
        const uint8_t *name = node_name(n, &len);
        n = n->parent;
        pos = topic_level_map_pos_after(&n->kids, name, len);
    }
}

static bool is_wild(const uint8_t *lvl, uint32_t len, char w) { return len == 1 && lvl[0] == (uint8_t)w; }

/* Exact levels are followed in the loop; "+" recurses once per child, so
 * the stack depth is bounded by the number of "+" levels in the filter. */
static bool match_from(const rmatch *m, rnode *n, const uint8_t *rest)
{
    for (;;) {
        if (!rest) return node_visit(m, n);
        const uint8_t *lvl;
        uint32_t len = topic_level_next(&rest, m->end, &lvl);
        if (is_wild(lvl, len, '#')) /* "a/#" also matches "a" itself */
            return (n->parent ? node_visit(m, n) : true) && walk_subtree(m, n);
        if (is_wild(lvl, len, '+')) {
            uint32_t pos = 0;
            rnode *c;
            while ((c = next_child(m, n, &pos)))
                if (!match_from(m, c, rest)) return false;
            return true;
        }
        n = topic_level_map_get(&n->kids, lvl, len);
        if (!n) return true;
    }
}

void retain_store_match(retain_store *r, mqtt_bytes filter, retain_visit visit, void *ctx)
{
    const uint8_t *start = filter.data ? filter.data : no_bytes;
    rmatch m = {.visit = visit, .ctx = ctx, .end = start + filter.len};
    match_from(&m, &r->root, start);
}

void retain_store_foreach(const retain_store *r, retain_visit visit, void *ctx)
{
    rmatch m = {.visit = visit, .ctx = ctx, .all = true};
    walk_subtree(&m, (rnode *)&r->root); /* walks without changing the tree */
}
