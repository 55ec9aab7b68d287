/* An intrusive binary min-heap of deadlines. Nodes live inside their
 * owners (clients, sessions); the heap only stores pointers to them, so
 * adding and removing never allocates per node beyond the pointer array.
 *
 * Invariant: node->idx is the node's position in the array while it is in
 * the heap, and HEAP_NONE otherwise. */
#ifndef MQS_BROKER_HEAP_H
#define MQS_BROKER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE SIZE_MAX

typedef struct heap_node {
    uint64_t key;
    size_t idx;
} heap_node;

typedef struct heap {
    heap_node **v;
    size_t n, cap;
} heap;

static inline void heap_node_init(heap_node *n) { n->idx = HEAP_NONE; n->key = 0; }
static inline bool heap_node_linked(const heap_node *n) { return n->idx != HEAP_NONE; }

void heap_free(heap *h);
/* Insert, or move an already linked node to its new key. */
void heap_set(heap *h, heap_node *n, uint64_t key);
/* Remove if linked; no-op otherwise. */
void heap_remove(heap *h, heap_node *n);
/* Smallest node, or NULL when empty. */
heap_node *heap_peek(const heap *h);

#endif
