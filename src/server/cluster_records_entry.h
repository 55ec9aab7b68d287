/* The broker's records in the raft log: the entry format and the
 * de-duplication table (pure: no libuv, no broker; unit-tested and fuzzed
 * alone). The runtime that uses them is server/cluster_records.h.
 *
 * Entry, version 1 (little-endian), one raft entry per batch of records
 * a node appended during one loop iteration; the same bytes are the
 * payload of the node-link frame that carries a follower's batch to the
 * leader:
 *
 *   u8  marker CLUSTER_RECORDS_MARKER (a state store record starts with
 *       STORE_RECORD_FORMAT = 1: the commit callback dispatches on it)
 *   u8  version (1)
 *   u64 origin: the node id that appended the records (!= 0)
 *   u64 incarnation: the origin's numbering of its records (!= 0; a new
 *       one after each start of the process and after a failure)
 *   u64 first: the sequence number of the first record in that numbering
 *       (>= 1; the records are first, first + 1, ...)
 *   u32 count (>= 1), then count times:
 *         u8 type (BROKER_REC_FIRST..BROKER_REC_LAST), u32 length (>= 1),
 *         the record's bytes (broker/broker_persist.h; checked when applied)
 *
 * The de-duplication table is replicated state (changed only by applied
 * entries, so the same on every node, and part of the raft snapshot): per
 * origin, the newest incarnation seen and the last sequence number of it
 * applied. An entry is applied only if it continues its incarnation
 * exactly (first = last + 1, or 1 for a newer incarnation); a repeat is
 * skipped, an entry of an older incarnation is stale (skipped: its origin
 * restarted or gave its records up), and one that would leave a gap is
 * skipped too (its origin sends it again after the missing one). One slot
 * per origin node: at most RECORDS_DEDUP_MAX. */
#ifndef MQS_SERVER_CLUSTER_RECORDS_ENTRY_H
#define MQS_SERVER_CLUSTER_RECORDS_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The one home of the marker: any value but STORE_RECORD_FORMAT (1). */
#define CLUSTER_RECORDS_MARKER 0xB7
#define CLUSTER_RECORDS_VERSION 1
#define RECORDS_ENTRY_HEADER (1 + 1 + 8 + 8 + 8 + 4)
#define RECORDS_REC_HEADER (1 + 4)

typedef struct records_entry {
    uint64_t origin, incarnation, first;
    uint32_t count;
    const uint8_t *recs; /* BORROWED from the input: count records */
    size_t recs_len;
} records_entry;

/* Start an entry in out (emptied): the header with count 0. */
void records_entry_begin(buf *out, uint64_t origin, uint64_t incarnation, uint64_t first);
/* Add one record to the entry in out (count + 1). n >= 1. */
void records_entry_add(buf *out, uint8_t type, const uint8_t *p, size_t n);
/* The number of records in the entry being built. */
uint32_t records_entry_count(const buf *out);

/* Strictly decode p[0..n): NULL, or a short static text saying why not. */
const char *records_entry_decode(const uint8_t *p, size_t n, records_entry *out);

/* Walk the records of a decoded entry. */
typedef struct records_iter {
    const uint8_t *p;
    size_t n;
} records_iter;
static inline records_iter records_iter_of(const records_entry *e) { return (records_iter){e->recs, e->recs_len}; }
/* The next record: false at the end. */
bool records_iter_next(records_iter *it, uint8_t *type, const uint8_t **p, size_t *n);

/* --- the de-duplication table --------------------------------------------- */

#define RECORDS_DEDUP_MAX 1024
#define RECORDS_DEDUP_VERSION 1

typedef struct records_dedup_slot {
    uint64_t origin, incarnation, last;
} records_dedup_slot;

typedef struct records_dedup {
    records_dedup_slot *v; /* owned; sorted by origin */
    uint32_t n, cap;
} records_dedup;

typedef enum records_verdict {
    RECORDS_APPLY,     /* continues its incarnation: apply, then records_dedup_note */
    RECORDS_DUPLICATE, /* applied before */
    RECORDS_STALE,     /* an older incarnation of its origin */
    RECORDS_GAP,       /* an entry of its incarnation before it is missing (or the table is full) */
} records_verdict;

records_verdict records_dedup_check(const records_dedup *d, const records_entry *e);
/* e was applied. */
void records_dedup_note(records_dedup *d, const records_entry *e);
/* The slot of origin, or NULL. */
const records_dedup_slot *records_dedup_find(const records_dedup *d, uint64_t origin);
void records_dedup_free(records_dedup *d);

/* The table as one snapshot record: u8 version (1), u32 n, n times u64
 * origin (strictly increasing, != 0), u64 incarnation (!= 0), u64 last
 * (!= 0). Decode replaces *d (on failure *d is left empty). */
void records_dedup_encode(const records_dedup *d, buf *out);
const char *records_dedup_decode(records_dedup *d, const uint8_t *p, size_t n);

#endif
