/* Snapshot support for the keyspace: a walk over every entry and the
 * exact re-insertion of one (store/snapshot.c writes and loads them). */
#include <assert.h>
#include <string.h>

#include "store/keyspace.h"
#include "store/keyspace_impl.h"
#include "util/alloc.h"

static keyspace_entry_view entry_view(const ks_entry *e)
{
    return (keyspace_entry_view){
        .value = ks_entry_value(e),
        .vlen = e->vlen,
        .version = ks_entry_version(e),
        .fenced = e->fence != NULL,
        .fence = e->fence ? ks_fence_hlc(e->fence) : (hlc){0},
        .deadline_ms = e->deadline_ms,
        .persist = e->persist,
    };
}

/* Buckets ahead whose first entry is fetched while the current one is
 * encoded: entries are scattered heap blocks, and a walk over millions of
 * them is otherwise one cache miss per entry after another. */
#define FOREACH_PREFETCH 8

void keyspace_foreach(const keyspace *ks, keyspace_foreach_fn fn, void *ctx)
{
    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < ks->table.size[i]; j++) {
            if (j + FOREACH_PREFETCH < ks->table.size[i] && ks->table.b[i][j + FOREACH_PREFETCH])
                __builtin_prefetch(ks->table.b[i][j + FOREACH_PREFETCH], 0);
            for (const ks_entry *e = ks->table.b[i][j]; e; e = e->next) {
                keyspace_entry_view v = entry_view(e);
                fn(ctx, ks_entry_key(e), e->klen, &v);
            }
        }
    }
}

bool keyspace_restore_entry(keyspace *ks, const void *key, size_t klen, const keyspace_entry_view *v)
{
    if (klen > UINT32_MAX || v->vlen > UINT32_MAX || kstable_find(&ks->table, key, klen)) return false;
    ks_entry *e = xmalloc(offsetof(ks_entry, data) + klen + v->vlen);
    memset(e, 0, offsetof(ks_entry, data));
    heap_node_init(&e->hn);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)v->vlen;
    if (klen) memcpy(e->data, key, klen);
    if (v->vlen) memcpy(e->data + klen, v->value, v->vlen);
    e->ver_wall = v->version.wall_ms;
    e->ver_counter = v->version.counter;
    e->ver_node = node_pool_ref(&ks->nodes, v->version.node, v->version.node_len);
    if (v->fenced) {
        e->fence = xmalloc(sizeof *e->fence);
        e->fence->wall_ms = v->fence.wall_ms;
        e->fence->counter = v->fence.counter;
        e->fence->node = node_pool_ref(&ks->nodes, v->fence.node, v->fence.node_len);
        ks->fenced++;
    }
    e->persist = v->persist;
    e->deadline_ms = v->deadline_ms;
    if (e->deadline_ms) heap_set(&ks->heap, &e->hn, e->deadline_ms);
    /* Loading is one long burst of inserts: keep an incremental rehash
     * moving as keyspace_apply does. */
    kstable_rehash_step(&ks->table, KEYSPACE__REHASH_STEP);
    kstable_insert(&ks->table, e);
    ks->bytes += klen + v->vlen + KEYSPACE_ENTRY_OVERHEAD;
    return true;
}

void keyspace_reserve(keyspace *ks, size_t n) { kstable_reserve(&ks->table, n); }
