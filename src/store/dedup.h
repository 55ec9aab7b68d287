/* Request de-duplication: state machine state (protocol §2.3 last row,
 * §6.8).
 *
 * A QoS 1 request can arrive twice (redelivery after a reconnect, DUP
 * set). Executing it again is wrong for non-idempotent outcomes: a second
 * `SET NX` would turn `+OK` into `:-1`. The store service therefore
 * remembers the reply of every applied write record under (client id,
 * correlation data, payload digest) and the bridge re-sends the remembered
 * reply for a repeat instead of deciding it again. The response topic is
 * not part of the key: a request resent on a new connection with another
 * response topic is answered there.
 *
 * Only apply (store_service_apply) inserts, with the record's decision
 * time as "now", so the table is a function of the applied records alone:
 * log replay and replicated apply rebuild it. Lookups never change it.
 *
 * The table stores two opaque byte strings per entry, `meta` and `payload`
 * (the service keeps the formatted `__ts` and the RESP reply). Pure: no
 * clock is read, time is passed in (wall milliseconds).
 *
 * Bounds: at most max_entries entries and max_bytes bytes (keys, meta,
 * payload and a fixed per-entry overhead); inserting beyond either evicts
 * the oldest entries (insertion order). Expired entries are never returned;
 * they are reclaimed from the oldest end as new entries arrive. A single
 * entry larger than max_bytes / 8 is not stored. */
#ifndef MQS_STORE_DEDUP_H
#define MQS_STORE_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dedup dedup;

/* Accounting cost of one entry beyond its key and value bytes. */
#define DEDUP_ENTRY_OVERHEAD 64

/* A borrowed byte slice. */
typedef struct dedup_slice {
    const void *data;
    size_t len;
} dedup_slice;

typedef struct dedup_key {
    dedup_slice client_id;
    dedup_slice correlation;
    uint64_t digest; /* util/digest of the request payload */
} dedup_key;

/* Both limits must be > 0. */
dedup *dedup_new(size_t max_entries, size_t max_bytes);
void dedup_free(dedup *c);

/* Look up a live entry (expires_at > now_ms). On a hit, *meta and
 * *payload point into the table, valid until the next put or free. Never
 * changes the table's contents (an expired entry stays until a put
 * reclaims it), so lookups do not make replicas differ. */
bool dedup_get(dedup *c, const dedup_key *k, uint64_t now_ms, dedup_slice *meta, dedup_slice *payload);

/* A hint: a get or put of k follows soon. Hashes k (the hash is kept for
 * that call) and starts loading its slot and the next eviction's, so
 * their cache misses overlap the caller's work. Changes no contents.
 * Returns k's hash (for dedup_hint). */
uint64_t dedup_prefetch(dedup *c, const dedup_key *k);
/* A hint for a get or put of k that comes long after its prefetch, other
 * keys in between (a batching log): `hash` is what dedup_prefetch(c, k)
 * returned then; k is not hashed again. */
void dedup_hint(dedup *c, const dedup_key *k, uint64_t hash);

/* Remember a reply until expires_at_ms (replacing any entry for the key).
 * Copies everything. Returns false if the entry is too large to keep. */
bool dedup_put(dedup *c, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t now_ms,
               uint64_t expires_at_ms);

/* --- snapshots --------------------------------------------------------------- */

/* Visit every entry, expired ones included, oldest first (insertion
 * order, the eviction order). Allocates nothing, takes no lock (may run in
 * a forked child); slices valid during the call; fn must not modify c. */
typedef void (*dedup_foreach_fn)(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload,
                                 uint64_t expires_at_ms);
void dedup_foreach(const dedup *c, dedup_foreach_fn fn, void *ctx);

/* Append an entry as the newest, for loading a snapshot (entries come
 * oldest first): no expiry check (an entry expired at load time is state
 * that the next put reclaims, as it would have been without the restart).
 * With the bounds the table was written under nothing is evicted; under
 * smaller bounds the oldest entries are evicted, and an entry larger than
 * max_bytes / 8 is dropped, as dedup_put does. Returns false, changing
 * nothing, when the key is already present or expires_at_ms is 0. */
bool dedup_restore(dedup *c, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms);

size_t dedup_count(const dedup *c);
size_t dedup_bytes(const dedup *c);

#endif
