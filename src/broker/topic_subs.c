/* Per-node subscription lists and share groups: see topic_subs.h. */
#include "broker/topic_subs.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* Owner index thresholds: below INDEX_OFF a linear scan is cheaper than
 * hashing; the gap between the two avoids rebuilding on every flap. */
enum { INDEX_ON = 32, INDEX_OFF = 8 };

static uint32_t owner_hash(const void *owner)
{
    uint64_t x = (uint64_t)(uintptr_t)owner;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    return (uint32_t)x;
}

/* Index slot holding `owner`, or the empty slot where it would go. */
static uint32_t index_slot(const sub_list *l, const void *owner)
{
    uint32_t mask = l->index_cap - 1;
    uint32_t i = owner_hash(owner) & mask;
    while (l->index[i] && l->v[l->index[i] - 1].owner != owner) i = (i + 1) & mask;
    return i;
}

/* (Re)build the index for the current entries with load <= 1/2. */
static void index_build(sub_list *l)
{
    uint32_t cap = 64;
    while (cap <= 2 * l->n) cap *= 2;
    free(l->index);
    l->index = xcalloc(cap, sizeof *l->index);
    l->index_cap = cap;
    for (uint32_t p = 0; p < l->n; p++) l->index[index_slot(l, l->v[p].owner)] = p + 1;
}

static void index_drop(sub_list *l)
{
    free(l->index);
    l->index = NULL;
    l->index_cap = 0;
}

/* Empty slot i by backward shift (no tombstones). l->v must still hold
 * every indexed entry. */
static void index_delete(sub_list *l, uint32_t i)
{
    uint32_t mask = l->index_cap - 1;
    for (uint32_t j = (i + 1) & mask; l->index[j]; j = (j + 1) & mask) {
        uint32_t k = owner_hash(l->v[l->index[j] - 1].owner) & mask;
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
        l->index[i] = l->index[j];
        i = j;
    }
    l->index[i] = 0;
}

/* Position of owner, or UINT32_MAX. */
static uint32_t sub_list_pos(const sub_list *l, const void *owner)
{
    if (l->index) {
        uint32_t s = index_slot(l, owner);
        return l->index[s] ? l->index[s] - 1 : UINT32_MAX;
    }
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i].owner == owner) return i;
    return UINT32_MAX;
}

bool topic_subs_list_set(sub_list *l, void *owner, const sub_options *opts)
{
    uint32_t p = sub_list_pos(l, owner);
    if (p != UINT32_MAX) {
        l->v[p].opts = *opts;
        return false;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (sub_entry){.owner = owner, .opts = *opts};
    if (l->index && 2 * l->n < l->index_cap) l->index[index_slot(l, owner)] = l->n;
    else if (l->index || l->n >= INDEX_ON) index_build(l);
    return true;
}

bool topic_subs_list_remove(sub_list *l, void *owner)
{
    uint32_t p = sub_list_pos(l, owner);
    if (p == UINT32_MAX) return false;
    uint32_t last = l->n - 1;
    if (l->index) {
        index_delete(l, index_slot(l, owner));
        if (p != last) l->index[index_slot(l, l->v[last].owner)] = p + 1;
    }
    l->v[p] = l->v[last];
    l->n--;
    if (l->n == 0) {
        topic_subs_list_free(l);
        return true;
    }
    if (l->cap > 8 && l->n * 4 < l->cap) {
        /* Give back a burst's worth of memory once the crowd has left. */
        l->cap /= 2;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    if (l->index && l->n < INDEX_OFF) index_drop(l);
    else if (l->index && l->index_cap > 64 && l->n * 8 < l->index_cap) index_build(l);
    return true;
}

void topic_subs_list_free(sub_list *l)
{
    free(l->v);
    free(l->index);
    *l = (sub_list){0};
}

static share_group *share_find(share_set *s, mqtt_bytes group)
{
    for (uint32_t i = 0; i < s->n; i++) {
        share_group *g = &s->v[i];
        if (g->name_len == group.len && memcmp(g->name, group.data, group.len) == 0) return g;
    }
    return NULL;
}

bool topic_subs_share_set_add(share_set *s, mqtt_bytes group, void *owner, const sub_options *opts)
{
    share_group *g = share_find(s, group);
    if (!g) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 1;
            s->v = xrealloc(s->v, s->cap * sizeof *s->v);
        }
        g = &s->v[s->n++];
        *g = (share_group){.name = xmemdup(group.data, group.len), .name_len = group.len};
    }
    return topic_subs_list_set(&g->members, owner, opts);
}

static void share_group_free(share_group *g)
{
    free(g->name);
    topic_subs_list_free(&g->members);
}

bool topic_subs_share_set_remove(share_set *s, mqtt_bytes group, void *owner)
{
    share_group *g = share_find(s, group);
    if (!g || !topic_subs_list_remove(&g->members, owner)) return false;
    if (g->next >= g->members.n) g->next = 0;
    if (g->members.n == 0) {
        share_group_free(g);
        *g = s->v[--s->n];
        if (s->n == 0) topic_subs_share_set_free(s);
    }
    return true;
}

const sub_entry *topic_subs_share_group_pick(share_group *g, topic_tree_eligible eligible, void *ctx)
{
    uint32_t n = g->members.n;
    uint32_t pick = g->next;
    if (eligible) {
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = (g->next + i) % n;
            if (eligible(ctx, g->members.v[k].owner)) {
                pick = k;
                break;
            }
        }
    }
    g->next = (pick + 1) % n;
    return &g->members.v[pick];
}

void topic_subs_share_set_free(share_set *s)
{
    for (uint32_t i = 0; i < s->n; i++) share_group_free(&s->v[i]);
    free(s->v);
    *s = (share_set){0};
}
