/* The broker's sessions by client id: an intrusive hash table.
 *
 * Why not util/hashmap: that map copies every key into an entry of its own
 * (a second copy of the client id and one more allocation per session).
 * Here the chain link is a field of the session and the key is the
 * session's own id, so a session costs the table one pointer plus its
 * share of the bucket array. SipHash with a per-table random key, as in
 * util/hashmap, because client ids are chosen by clients.
 *
 * Resizing happens only in add, never in remove, so sessions may be
 * removed while walking the table with session_table_first. */
#ifndef MQS_BROKER_SESSION_TABLE_H
#define MQS_BROKER_SESSION_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/packet.h"
#include "util/siphash.h"

struct session;

typedef struct session_table {
    struct session **buckets; /* nbuckets is 0 or a power of two */
    size_t nbuckets;
    size_t size;
    uint8_t seed[SIPHASH_KEY_LEN];
} session_table;

void session_table_init(session_table *t);
/* Frees the bucket array only; the sessions are the caller's. */
void session_table_free(session_table *t);
struct session *session_table_get(const session_table *t, mqtt_bytes id);
/* s->id must not be in the table yet. */
void session_table_add(session_table *t, struct session *s);
void session_table_remove(session_table *t, struct session *s);
/* A session in bucket *bucket or later (advancing *bucket), or NULL when
 * there is none: for tearing the table down, removing each one returned. */
struct session *session_table_first(const session_table *t, size_t *bucket);
#ifndef NDEBUG
/* Debug-build checker (assert(session_table__check(t))): power-of-two
 * bucket count, every session in the bucket its hash selects, size equal
 * to the sessions counted, load factor at most 1. O(n): after each rehash
 * and at teardown. */
bool session_table__check(const session_table *t);
#endif

#endif
