/* The keyspace object, shared by keyspace.c (commands), keyspace_due.c
 * (active expiry) and keyspace_scan.c (SCAN). Private to src/store. */
#ifndef MQS_STORE_KEYSPACE_IMPL_H
#define MQS_STORE_KEYSPACE_IMPL_H

#include <stddef.h>
#include <string.h>

#include "store/keyspace.h"
#include "store/ks_entry.h"
#include "store/kstable.h"
#include "store/node_pool.h"
#include "util/alloc.h"
#include "util/heap.h"

/* Buckets an apply (or a restored entry) moves of an ongoing rehash: >= 1
 * keeps growth ahead of inserts (see kstable_insert); 2 leaves margin for
 * deletes. */
#define KEYSPACE__REHASH_STEP 2

struct keyspace {
    kstable table;
    heap heap; /* exactly the entries with KS_F_DEADLINE, by their expiry parts */
    node_pool nodes;
    keyspace_limits limits;
    size_t bytes;  /* sum over entries of klen + vlen + KEYSPACE_ENTRY_OVERHEAD */
    size_t fenced; /* entries with KS_F_FENCE */
};

/* A new, unlinked entry with the key copied in, value bytes and version
 * unset, its parts for `flags` (KS_F_*) allocated: an expiry part's heap
 * node unlinked (heap_set links it), the other parts unset. Inline: it is
 * on every new key's path. */
static inline ks_entry *keyspace__entry_new(unsigned flags, const void *key, size_t klen, size_t vlen)
{
    char *b = xmalloc(ks_entry_alloc_size(flags, klen, vlen));
    ks_entry *e = (ks_entry *)(void *)(b + ks_parts_size(flags));
    memset(e, 0, offsetof(ks_entry, data));
    e->flags = (uint8_t)flags;
    if (flags & KS_F_DEADLINE) heap_node_init(&ks_entry_expiry(e)->hn);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    if (klen) memcpy(e->data, key, klen);
    return e;
}

/* The read-only view of e (keyspace_get, keyspace_foreach); inline: it
 * is most of a GET's work after the lookup. */
static inline void keyspace__view(const keyspace *ks, const ks_entry *e, keyspace_entry_view *out)
{
    out->value = ks_entry_value(e);
    out->vlen = e->vlen;
    out->version = ks_entry_version(&ks->nodes, e);
    out->fenced = e->flags & KS_F_FENCE;
    out->fence = out->fenced ? ks_fence_hlc(&ks->nodes, ks_entry_fence(e)) : (hlc){0};
    out->deadline_ms = ks_entry_deadline(e);
    out->persist = e->flags & KS_F_PERSIST;
}

#endif
