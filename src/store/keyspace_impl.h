/* The keyspace object, shared by keyspace.c (commands), keyspace_due.c
 * (active expiry) and keyspace_scan.c (SCAN). Private to src/store. */
#ifndef MQS_STORE_KEYSPACE_IMPL_H
#define MQS_STORE_KEYSPACE_IMPL_H

#include "store/keyspace.h"
#include "store/ks_entry.h"
#include "store/kstable.h"
#include "store/node_pool.h"
#include "util/heap.h"

/* Buckets an apply (or a restored entry) moves of an ongoing rehash: >= 1
 * keeps growth ahead of inserts (see kstable_insert); 2 leaves margin for
 * deletes. */
#define KEYSPACE__REHASH_STEP 2

struct keyspace {
    kstable table;
    heap heap; /* exactly the entries with deadline_ms != 0 */
    node_pool nodes;
    keyspace_limits limits;
    size_t bytes;  /* sum over entries of klen + vlen + KEYSPACE_ENTRY_OVERHEAD */
    size_t fenced; /* entries with fence != NULL */
};

#endif
