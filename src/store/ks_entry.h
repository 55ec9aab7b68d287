/* One stored key (private to src/store): a single allocation holding the
 * header, the key bytes and then the value bytes, so an entry costs one
 * malloc. Protocol §5.1 data model: value, version, optional fencing
 * token, optional absolute deadline, persist flag.
 *
 * Invariants:
 *   - heap_node_linked(&hn)  iff  deadline_ms != 0  iff  the entry is
 *     in the keyspace's expiry heap, under the key deadline_ms;
 *   - ver_node (and fence->node) each hold one reference in the node pool. */
#ifndef MQS_STORE_KS_ENTRY_H
#define MQS_STORE_KS_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "ssproto/hlc.h"
#include "store/node_pool.h"
#include "util/heap.h"

/* A stored fencing token; separate because few keys are fenced. */
typedef struct ks_fence {
    uint64_t wall_ms;
    uint64_t counter;
    ks_node *node;
} ks_fence;

typedef struct ks_entry {
    struct ks_entry *next; /* hash chain */
    uint64_t ver_wall;
    uint64_t ver_counter;
    ks_node *ver_node;
    ks_fence *fence;      /* NULL: unfenced */
    uint64_t deadline_ms; /* 0: never expires */
    heap_node hn;         /* in the expiry heap, keyed by deadline_ms */
    uint32_t klen;
    uint32_t vlen;
    uint8_t persist;
    uint8_t data[]; /* key[klen] then value[vlen] */
} ks_entry;

static inline const uint8_t *ks_entry_key(const ks_entry *e) { return e->data; }
static inline const uint8_t *ks_entry_value(const ks_entry *e) { return e->data + e->klen; }

static inline hlc ks_entry_version(const ks_entry *e)
{
    return (hlc){e->ver_wall, e->ver_counter, e->ver_node->bytes, e->ver_node->len};
}

static inline hlc ks_fence_hlc(const ks_fence *f)
{
    return (hlc){f->wall_ms, f->counter, f->node->bytes, f->node->len};
}

/* Expired at now_ms: the deadline is the first millisecond at which the
 * entry no longer exists. */
static inline bool ks_entry_expired(const ks_entry *e, uint64_t now_ms)
{
    return e->deadline_ms != 0 && now_ms >= e->deadline_ms;
}

static inline ks_entry *ks_entry_of_heap(const heap_node *n)
{
    return (ks_entry *)((char *)n - offsetof(ks_entry, hn));
}

#endif
