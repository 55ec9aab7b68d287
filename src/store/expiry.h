/* The active-expiry index (private to src/store): a binary min-heap of
 * entries ordered by deadline_ms. Entries record their own position
 * (ks_entry.heap_idx), so updating or removing one is O(log n) and the
 * heap never allocates per entry.
 *
 * Invariant: for every i > 0, v[(i-1)/2]->deadline_ms <= v[i]->deadline_ms,
 * and v[i]->heap_idx == i. */
#ifndef MQS_STORE_EXPIRY_H
#define MQS_STORE_EXPIRY_H

#include <stddef.h>

#include "store/ks_entry.h"

typedef struct expiry_heap {
    ks_entry **v;
    size_t n, cap;
} expiry_heap;

void expiry_heap_free(expiry_heap *h);
/* Insert e, or restore order after its deadline_ms changed. */
void expiry_heap_set(expiry_heap *h, ks_entry *e);
/* Remove e if it is in the heap. */
void expiry_heap_remove(expiry_heap *h, ks_entry *e);
/* e moved in memory (realloc): point its slot at the new address. */
static inline void expiry_heap_relocate(expiry_heap *h, ks_entry *e)
{
    if (e->heap_idx != KS_HEAP_NONE) h->v[e->heap_idx] = e;
}
/* Earliest entry, or NULL. */
static inline ks_entry *expiry_heap_peek(const expiry_heap *h) { return h->n ? h->v[0] : NULL; }

#endif
