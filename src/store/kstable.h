/* The keyspace's hash table (private to src/store).
 *
 * Why not util/hashmap: that map rehashes the whole table inside one put
 * (a multi-second stall at tens of millions of keys), keeps a separate
 * allocation per entry plus a borrowed value, and has no cursor that
 * survives resizing. This table is intrusive (chains through
 * ks_entry.next, so an entry is one allocation), rehashes incrementally
 * (Redis dict style: two tables, a few buckets moved per mutation) and
 * offers Redis' reverse-binary cursor scan, which returns every entry
 * present for a whole scan at least once across any number of resizes.
 *
 * SipHash-2-4 with a random per-table key: clients choose the keys, so
 * they must not be able to force collisions. Hashes are not stored
 * (8 bytes per entry saved); they are recomputed when an entry moves.
 *
 * Invariants:
 *   - size[0] and size[1] are 0 or powers of two;
 *   - rehash_idx == KSTABLE_NOT_REHASHING  iff  size[1] == 0;
 *   - while rehashing, buckets [0, rehash_idx) of table 0 are empty and
 *     new entries go to table 1;
 *   - used == number of entries in both tables. */
#ifndef MQS_STORE_KSTABLE_H
#define MQS_STORE_KSTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ks_entry.h"
#include "util/siphash.h"

#define KSTABLE_NOT_REHASHING SIZE_MAX
#define KSTABLE_HINT_MAX 64 /* longer keys are hashed again */

typedef struct kstable {
    ks_entry **b[2];
    size_t size[2];
    size_t used;
    size_t rehash_idx;
    uint8_t seed[SIPHASH_KEY_LEN];
    /* The key kstable_prefetch last hashed, and its hash: the lookup
     * that follows it (same bytes, usually another pointer) reuses the
     * hash. hint_len == 0: none. */
    uint64_t hint_hash;
    uint32_t hint_len;
    uint8_t hint_key[KSTABLE_HINT_MAX];
} kstable;

void kstable_init(kstable *t);
/* Free the bucket arrays; each entry is passed to free_entry. */
void kstable_free(kstable *t, void (*free_entry)(void *ctx, ks_entry *e), void *ctx);

/* The link (bucket slot or previous entry's next field) pointing at the
 * entry with this key, or NULL. Valid until the next insert, unlink or
 * rehash step. */
ks_entry **kstable_find(const kstable *t, const uint8_t *key, size_t klen);
/* Start loading what kstable_find(t, key, klen) will read, in two
 * stages so that nothing stalls: the first call for a key prefetches its
 * bucket, a second call for the same key (some work later, when the
 * bucket has arrived) reads it and prefetches the chain's first entry,
 * usually the miss that dominates a lookup. A caller with other work to
 * do before the lookup overlaps both misses with that work. Returns the
 * key's hash (for kstable_hint). */
uint64_t kstable_prefetch(kstable *t, const uint8_t *key, size_t klen);
/* A hint for lookups of key that come long after its prefetch, other keys
 * in between (a batching log): `hash` is what kstable_prefetch returned
 * for it; the lookups reuse it instead of hashing again. */
void kstable_hint(kstable *t, const uint8_t *key, size_t klen, uint64_t hash);
/* Insert an entry whose key is absent. May start (not perform) a resize. */
void kstable_insert(kstable *t, ks_entry *e);
/* Remove the entry *link points at. May start a shrink. */
void kstable_unlink(kstable *t, ks_entry **link);
/* Size an empty table for n entries at once (no rehash while they are
 * inserted): for loading a snapshot. No effect on a non-empty table. */
void kstable_reserve(kstable *t, size_t n);
/* Move up to n non-empty buckets of an ongoing rehash. */
void kstable_rehash_step(kstable *t, size_t n);
static inline int kstable_rehashing(const kstable *t) { return t->rehash_idx != KSTABLE_NOT_REHASHING; }

/* Visit the entries of the bucket(s) at cursor v and return the next
 * cursor; 0 means the scan is complete. Start with v == 0. Does not
 * modify the table; fn must not either. */
uint64_t kstable_scan(const kstable *t, uint64_t v, void (*fn)(void *ctx, const ks_entry *e), void *ctx);

/* Bytes of bucket arrays (for memory accounting). */
size_t kstable_bucket_bytes(const kstable *t);

#ifndef NDEBUG
/* Debug-build checkers, used as assert(kstable__check...(t)). The header
 * invariants above: O(1), after every mutation. Those plus every entry in
 * the bucket its hash selects and used == the entries counted: O(n), at
 * teardown and in tests. */
bool kstable__check_shape(const kstable *t);
bool kstable__check(const kstable *t);
#endif

#endif
