/* Snapshot support for the keyspace: a walk over every entry and the
 * exact re-insertion of one (store/snapshot.c writes and loads them). */
#include <assert.h>
#include <string.h>

#include "store/keyspace.h"
#include "store/keyspace_impl.h"
#include "util/alloc.h"

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
                keyspace_entry_view v;
                keyspace__view(ks, e, &v);
                fn(ctx, ks_entry_key(e), e->klen, &v);
            }
        }
    }
}

bool keyspace_restore_entry(keyspace *ks, const void *key, size_t klen, const keyspace_entry_view *v)
{
    if (klen > UINT32_MAX || v->vlen > UINT32_MAX || kstable_find(&ks->table, key, klen)) return false;
    unsigned flags = (v->persist ? KS_F_PERSIST : 0) | (v->deadline_ms ? KS_F_DEADLINE : 0) |
                     (v->fenced ? KS_F_FENCE : 0) | (v->version.counter > UINT32_MAX ? KS_F_WIDE : 0);
    ks_entry *e = keyspace__entry_new(flags, key, klen, v->vlen);
    if (v->vlen) memcpy(e->data + klen, v->value, v->vlen);
    ks_entry_set_version(e, v->version.wall_ms, v->version.counter);
    e->ver_node = node_pool_ref(&ks->nodes, v->version.node, v->version.node_len);
    if (v->fenced) {
        ks_fence *f = ks_entry_fence(e);
        f->wall_ms = v->fence.wall_ms;
        f->counter = v->fence.counter;
        f->node = node_pool_ref(&ks->nodes, v->fence.node, v->fence.node_len);
        ks->fenced++;
    }
    if (v->deadline_ms) heap_set(&ks->heap, &ks_entry_expiry(e)->hn, v->deadline_ms);
    /* Loading is one long burst of inserts: keep an incremental rehash
     * moving as keyspace_apply does. */
    kstable_rehash_step(&ks->table, KEYSPACE__REHASH_STEP);
    kstable_insert(&ks->table, e);
    ks->bytes += klen + v->vlen + KEYSPACE_ENTRY_OVERHEAD;
    return true;
}

void keyspace_reserve(keyspace *ks, size_t n) { kstable_reserve(&ks->table, n); }
