/* The reply cache's representation, private to dedup.c and its
 * unit test (which corrupts it to show that dedup__check notices).
 * The invariants are written at the top of dedup.c. */
#ifndef MQS_STORE_DEDUP_IMPL_H
#define MQS_STORE_DEDUP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/dedup.h"
#include "util/buf.h"
#include "util/siphash.h"

typedef struct dd_entry {
    struct dd_entry *prev, *next; /* insertion order, oldest first */
    uint64_t hash;
    uint64_t expires_at;
    size_t cost;
    size_t cap; /* bytes allocated for data[] (>= klen + mlen + plen) */
    size_t klen, mlen, plen;
    uint8_t data[]; /* encoded key, meta, payload */
} dd_entry;

typedef struct dd_slot {
    uint64_t hash;
    dd_entry *e; /* NULL: empty */
} dd_slot;

struct dedup {
    dd_slot *slots;
    size_t nslots, count;
    dd_entry *oldest, *newest;
    size_t max_entries, max_bytes, bytes;
    /* The encoded key of the latest call and its hash (when key_valid):
     * what lookup compares and store_entry copies, reused while calls
     * repeat the key. */
    buf key;
    uint64_t key_hash;
    bool key_valid;
    /* The last removed entry, kept for the next put. Under load every put
     * evicts one entry of about the same size as the one it inserts, so
     * reusing the victim's block spares a malloc and a free per SET (and
     * the allocator's own misses on cold chunk headers). At most one is
     * kept, and it is not counted in `bytes`: it is never larger than
     * max_bytes / 8 + the overhead, the bound on any stored entry. */
    dd_entry *spare;
    uint8_t seed[SIPHASH_KEY_LEN]; /* keys come from clients: keyed against flooding */
};

#ifndef NDEBUG
/* Debug-build checkers (assert(dedup__check...(c))).
 * dedup__check_entry: e sits in a slot reachable from its home slot
 * without crossing an empty one, with its own hash, and its cost matches
 * its lengths; O(probe run), after every insert.
 * dedup__check_ends: the insertion list's ends agree with count, and
 * count <= nslots / 2; O(1), after every removal.
 * dedup__check: the whole cache: the above for every entry, the
 * list's links, count equal to both the occupied slots and the list
 * length, bytes the sum of the costs, and the bounds; O(n), after a
 * resize (itself O(n)), at dedup_free and in the unit test. */
bool dedup__check_entry(const dedup *c, const dd_entry *e);
bool dedup__check_ends(const dedup *c);
bool dedup__check(const dedup *c);
#endif

#endif
