/* An intrusive binary min-heap of 64-bit keys (deadlines) with
 * back-indices: the broker's timers (keep-alive, session expiry, slow
 * subscribers) and the state store's expiry index.
 *
 * A node lives inside its owner and records its own position, so
 * updating or removing it is O(log n) and the heap never allocates per
 * node. The key lives in the owner too, at a fixed offset from the node
 * that each heap is given (heap_init): the store's entries keep their
 * deadline where they already had it, 4 bytes of index beside it, and the
 * array stays one pointer per node. Owners without a key field of their
 * own embed a heap_timer.
 *
 * Invariants (heap__check): for every i > 0, key(v[(i-1)/2]) <= key(v[i]);
 * v[i]->idx == i; a node not in the heap has idx == HEAP_NONE.
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

typedef struct heap {
    heap_node **v;
    size_t n, cap;
    ptrdiff_t key_off; /* from a node to its owner's uint64_t key */
} heap;

/* A node with its key, for owners that have no key field of their own. */
typedef struct heap_timer {
    uint64_t key;
    heap_node node;
} heap_timer;

/* key_off for nodes at node_field of type whose key is key_field. */
#define HEAP_KEY_OFFSET(type, key_field, node_field) \
    ((ptrdiff_t)offsetof(type, key_field) - (ptrdiff_t)offsetof(type, node_field))
#define HEAP_TIMER_KEY_OFFSET HEAP_KEY_OFFSET(heap_timer, key, node)

static inline void heap_init(heap *h, ptrdiff_t key_off) { *h = (heap){NULL, 0, 0, key_off}; }
static inline void heap_node_init(heap_node *n) { n->idx = HEAP_NONE; }
static inline bool heap_node_linked(const heap_node *n) { return n->idx != HEAP_NONE; }
static inline uint64_t heap_node_key(const heap *h, const heap_node *n)
{
    return *(const uint64_t *)(const void *)((const char *)n + h->key_off);
}

/* Free the array; nodes still in the heap are marked unlinked, so they
 * must still be alive. */
void heap_free(heap *h);
/* Store key in n's owner and insert n, or move it if already linked. */
void heap_set(heap *h, heap_node *n, uint64_t key);
/* Remove if linked; no-op otherwise. */
void heap_remove(heap *h, heap_node *n);
/* Smallest node, or NULL when empty. */
static inline heap_node *heap_peek(const heap *h) { return h->n ? h->v[0] : NULL; }
/* The owner of a linked node moved in memory (realloc): point its slot
 * at the node's new address. */
static inline void heap_relocate(heap *h, heap_node *n)
{
    if (heap_node_linked(n)) h->v[n->idx] = n;
}

#ifndef NDEBUG
/* Debug-build checkers, used as assert(heap__check(h)). The whole heap:
 * O(n), for teardown and tests. */
bool heap__check(const heap *h);
/* One linked node against its parent and children: O(1), at mutations. */
bool heap__check_node(const heap *h, const heap_node *n);
#endif

#endif
