/* Interned HLC node ids for stored versions and fencing tokens.
 *
 * Every version the server issues carries the same few node ids (one per
 * replica), so storing them per entry would waste memory; entries instead
 * hold the 32-bit id of one shared, reference-counted copy (an id rather
 * than a pointer: 4 bytes per entry instead of 8, see ks_entry.h).
 *
 * A node whose count drops to zero is not freed at once but parked until
 * node_pool_purge: keyspace results report the version of an entry they
 * just removed, and that hlc's node bytes must stay valid until the next
 * mutation (the keyspace purges at the start of each one).
 *
 * Invariants: a node is in the map iff it is referenced or parked;
 * byid[n->id] == n for every node in the map; the other ids below nids
 * are NULL in byid and listed in free_ids. */
#ifndef MQS_STORE_NODE_POOL_H
#define MQS_STORE_NODE_POOL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"

typedef struct ks_node {
    size_t refs;
    struct ks_node *parked_next;
    bool parked;
    uint32_t id;
    size_t len;
    uint8_t bytes[];
} ks_node;

typedef struct node_pool {
    hashmap *map;       /* node bytes -> ks_node */
    ks_node **byid;     /* id -> node, NULL for a free id */
    uint32_t nids;      /* ids handed out so far (byid's used length) */
    uint32_t cap;       /* byid's capacity */
    uint32_t *free_ids; /* ids released by purge, reused first */
    uint32_t nfree, free_cap;
    ks_node *last;   /* last node referenced: the common case is a hit */
    ks_node *parked; /* refs == 0, awaiting purge */
} node_pool;

void node_pool_init(node_pool *p);
void node_pool_free(node_pool *p);
/* The id of a counted reference to the node with these bytes (created if
 * new). */
uint32_t node_pool_ref(node_pool *p, const uint8_t *bytes, size_t len);
void node_pool_unref(node_pool *p, uint32_t id);
/* The node of a referenced (or parked) id. */
static inline const ks_node *node_pool_get(const node_pool *p, uint32_t id)
{
    assert(id < p->nids && p->byid[id]);
    return p->byid[id];
}
/* Free parked nodes that are still unreferenced. */
void node_pool_purge(node_pool *p);
size_t node_pool_size(const node_pool *p);

#endif
