/* Interned HLC node ids for stored versions and fencing tokens.
 *
 * Every version the server issues carries the same few node ids (one per
 * replica), so storing them per entry would waste memory; entries instead
 * hold a reference to one shared, reference-counted copy.
 *
 * A node whose count drops to zero is not freed at once but parked until
 * node_pool_purge: keyspace results report the version of an entry they
 * just removed, and that hlc's node bytes must stay valid until the next
 * mutation (the keyspace purges at the start of each one).
 *
 * Invariant: a node is in the map iff it is referenced or parked. */
#ifndef MQS_STORE_NODE_POOL_H
#define MQS_STORE_NODE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"

typedef struct ks_node {
    size_t refs;
    struct ks_node *parked_next;
    bool parked;
    size_t len;
    uint8_t bytes[];
} ks_node;

typedef struct node_pool {
    hashmap *map;    /* node bytes -> ks_node */
    ks_node *last;   /* last node referenced: the common case is a hit */
    ks_node *parked; /* refs == 0, awaiting purge */
} node_pool;

void node_pool_init(node_pool *p);
void node_pool_free(node_pool *p);
/* A counted reference to the node with these bytes (created if new). */
ks_node *node_pool_ref(node_pool *p, const uint8_t *bytes, size_t len);
void node_pool_unref(node_pool *p, ks_node *n);
/* Free parked nodes that are still unreferenced. */
void node_pool_purge(node_pool *p);
size_t node_pool_size(const node_pool *p);

#endif
