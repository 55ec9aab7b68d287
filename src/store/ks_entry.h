/* One stored key (private to src/store): a single allocation holding the
 * header, the key bytes and the value bytes, plus the optional parts a
 * key has only when it needs them. Protocol §5.1 data model: value,
 * version, optional fencing token, optional absolute deadline, persist
 * flag.
 *
 * Layout of the allocation (lowest address first):
 *
 *   [ks_fence  if KS_F_FENCE   ]  24 bytes
 *   [ks_wide   if KS_F_WIDE    ]   8 bytes
 *   [ks_expiry if KS_F_DEADLINE]  16 bytes
 *   ks_entry header                33 bytes  <- the ks_entry pointer
 *   key[klen] value[vlen]
 *
 * The optional parts sit BEFORE the header, so the header, the key and
 * the value are at the same offsets from the entry pointer whatever the
 * parts, the expiry part (the heap's node) is always just below the
 * header, and every part stays 8-aligned (the parts are multiples of 8
 * bytes and malloc aligns the block start). The block starts at
 * ks_entry_block(e).
 *
 * Why: at the common size (16-byte key, 100-byte value, no deadline, no
 * fence) this is 33 + 116 = 149 bytes, glibc's 160-byte chunk (request +
 * 8, rounded up to 16), where the former fixed 61-byte header with an
 * embedded deadline and heap node took 192. The header must stay <= 36
 * bytes for 16 + 100 to fit 160. Hence the version as binary wall + low
 * 32 bits of the counter + a 32-bit node pool id (the server clock issues
 * counters up to HLC_COUNTER_MAX < 2^32; a larger one, which only a
 * record or snapshot written elsewhere can carry, keeps its full value in
 * the ks_wide part).
 *
 * Invariants (entry__check in keyspace.c):
 *   - flags has only KS_F_* bits;
 *   - KS_F_DEADLINE  iff  the entry is in the keyspace's expiry heap
 *     (heap_node_linked(&ks_entry_expiry(e)->hn)), keyed by a non-zero
 *     deadline_ms;
 *   - KS_F_WIDE  iff  the version counter exceeds UINT32_MAX; then
 *     ks_entry_wide(e)->ver_counter is the counter and ver_counter its
 *     low 32 bits;
 *   - ver_node (and a fence part's node) each hold one reference in the
 *     node pool. */
#ifndef MQS_STORE_KS_ENTRY_H
#define MQS_STORE_KS_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "ssproto/hlc.h"
#include "store/node_pool.h"
#include "util/heap.h"

#define KS_F_PERSIST 0x01u
#define KS_F_DEADLINE 0x02u
#define KS_F_FENCE 0x04u
#define KS_F_WIDE 0x08u
#define KS_F_ALL (KS_F_PERSIST | KS_F_DEADLINE | KS_F_FENCE | KS_F_WIDE)

/* A stored fencing token. */
typedef struct ks_fence {
    uint64_t wall_ms;
    uint64_t counter;
    uint32_t node; /* node pool id */
    uint32_t unused;
} ks_fence;

/* The full version counter, when it does not fit the header's 32 bits. */
typedef struct ks_wide {
    uint64_t ver_counter;
} ks_wide;

/* The expiry: the deadline and the entry's node in the expiry heap. */
typedef struct ks_expiry {
    uint64_t deadline_ms; /* != 0 */
    heap_node hn;         /* keyed by deadline_ms */
    uint32_t unused;
} ks_expiry;

typedef struct ks_entry {
    struct ks_entry *next; /* hash chain */
    uint64_t ver_wall;
    uint32_t ver_counter; /* low 32 bits (all of it without KS_F_WIDE) */
    uint32_t ver_node;    /* node pool id */
    uint32_t klen;
    uint32_t vlen;
    uint8_t flags;  /* KS_F_* */
    uint8_t data[]; /* key[klen] then value[vlen] */
} ks_entry;

/* Bytes of optional parts before the header for these flags. */
static inline size_t ks_parts_size(unsigned flags)
{
    return (flags & KS_F_FENCE ? sizeof(ks_fence) : 0) + (flags & KS_F_WIDE ? sizeof(ks_wide) : 0) +
           (flags & KS_F_DEADLINE ? sizeof(ks_expiry) : 0);
}

/* The allocation size of an entry with these flags and lengths. */
static inline size_t ks_entry_alloc_size(unsigned flags, size_t klen, size_t vlen)
{
    return ks_parts_size(flags) + offsetof(ks_entry, data) + klen + vlen;
}

/* The start of e's allocation (what malloc returned; what free takes). */
static inline void *ks_entry_block(const ks_entry *e) { return (char *)(uintptr_t)e - ks_parts_size(e->flags); }

static inline ks_expiry *ks_entry_expiry(const ks_entry *e)
{
    return (ks_expiry *)(void *)((char *)(uintptr_t)e - sizeof(ks_expiry));
}
static inline ks_wide *ks_entry_wide(const ks_entry *e)
{
    return (ks_wide *)(void *)((char *)(uintptr_t)e - ks_parts_size(e->flags & (KS_F_DEADLINE | KS_F_WIDE)));
}
static inline ks_fence *ks_entry_fence(const ks_entry *e) { return (ks_fence *)ks_entry_block(e); }

static inline const uint8_t *ks_entry_key(const ks_entry *e) { return e->data; }
static inline const uint8_t *ks_entry_value(const ks_entry *e) { return e->data + e->klen; }
static inline uint64_t ks_entry_deadline(const ks_entry *e)
{
    return e->flags & KS_F_DEADLINE ? ks_entry_expiry(e)->deadline_ms : 0;
}

static inline hlc ks_entry_version(const node_pool *p, const ks_entry *e)
{
    const ks_node *n = node_pool_get(p, e->ver_node);
    uint64_t counter = e->flags & KS_F_WIDE ? ks_entry_wide(e)->ver_counter : e->ver_counter;
    return (hlc){e->ver_wall, counter, n->bytes, n->len};
}

/* Store a version's wall and counter (e's KS_F_WIDE must match it). */
static inline void ks_entry_set_version(ks_entry *e, uint64_t wall_ms, uint64_t counter)
{
    e->ver_wall = wall_ms;
    e->ver_counter = (uint32_t)counter;
    if (e->flags & KS_F_WIDE) ks_entry_wide(e)->ver_counter = counter;
}

static inline hlc ks_fence_hlc(const node_pool *p, const ks_fence *f)
{
    const ks_node *n = node_pool_get(p, f->node);
    return (hlc){f->wall_ms, f->counter, n->bytes, n->len};
}

/* Expired at now_ms: the deadline is the first millisecond at which the
 * entry no longer exists. */
static inline bool ks_entry_expired(const ks_entry *e, uint64_t now_ms)
{
    return (e->flags & KS_F_DEADLINE) && now_ms >= ks_entry_expiry(e)->deadline_ms;
}

static inline ks_entry *ks_entry_of_heap(const heap_node *n)
{
    return (ks_entry *)(void *)((char *)(uintptr_t)n - offsetof(ks_expiry, hn) + sizeof(ks_expiry));
}

#endif
