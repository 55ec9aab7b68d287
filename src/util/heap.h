/* An intrusive binary min-heap of 64-bit keys (deadlines) with
 * back-indices: the broker's timers (keep-alive, session expiry, slow
 * subscribers) and the state store's expiry index.
 *
 * A node lives inside its owner and records its own position, so
 * updating or removing it is O(log n) and the heap never allocates per
 * node. The array holds (key, node) pairs: sifting compares keys without
 * touching the owners' memory.
 *
 * Invariants (heap__check): for every i > 0, v[(i-1)/2].key <= v[i].key;
 * v[i].node->idx == i; a node not in the heap has idx == HEAP_NONE.
 * Ownership: the heap owns its array only, never the nodes. */
#ifndef MQS_UTIL_HEAP_H
#define MQS_UTIL_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE UINT32_MAX

typedef struct heap_node {
    uint32_t idx; /* position in the heap, HEAP_NONE when not in it */
} heap_node;

typedef struct heap_slot {
    uint64_t key;
    heap_node *node;
} heap_slot;

typedef struct heap {
    heap_slot *v;
    size_t n, cap;
} heap;

static inline void heap_node_init(heap_node *n) { n->idx = HEAP_NONE; }
static inline bool heap_node_linked(const heap_node *n) { return n->idx != HEAP_NONE; }

/* Free the array; nodes still in the heap are marked unlinked, so they
 * must still be alive. */
void heap_free(heap *h);
/* Insert, or move an already linked node to its new key. */
void heap_set(heap *h, heap_node *n, uint64_t key);
/* Remove if linked; no-op otherwise. */
void heap_remove(heap *h, heap_node *n);
/* Smallest node, or NULL when empty; its key. */
static inline heap_node *heap_peek(const heap *h) { return h->n ? h->v[0].node : NULL; }
static inline uint64_t heap_peek_key(const heap *h) { return h->v[0].key; }
/* The key of a linked node. */
static inline uint64_t heap_key(const heap *h, const heap_node *n) { return h->v[n->idx].key; }
/* The owner of a linked node moved in memory (realloc): point its slot
 * at the node's new address. */
static inline void heap_relocate(heap *h, heap_node *n)
{
    if (heap_node_linked(n)) h->v[n->idx].node = n;
}

#ifndef NDEBUG
/* Debug-build checkers, used as assert(heap__check(h)). The whole heap:
 * O(n), for teardown and tests. */
bool heap__check(const heap *h);
/* One linked node against its parent and children: O(1), at mutations. */
bool heap__check_node(const heap *h, const heap_node *n);
#endif

#endif
