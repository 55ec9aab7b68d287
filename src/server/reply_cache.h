/* Response de-duplication (protocol §2.3 last row, §6.8).
 *
 * A QoS 1 request can arrive twice (redelivery after a reconnect, DUP
 * set). Executing it again is wrong for non-idempotent outcomes: a second
 * `SET NX` would turn `+OK` into `:-1`. The bridge therefore remembers each
 * reply that is not a read's under (client id, response topic, correlation
 * data) and re-sends the remembered reply for a repeat instead of
 * executing it.
 *
 * The cache stores two opaque byte strings per entry, `meta` and `payload`
 * (the bridge keeps the encoded response properties and the RESP reply);
 * it knows nothing of MQTT. Pure: no clock is read, time is passed in
 * (milliseconds, any monotonic timebase).
 *
 * Bounds: at most max_entries entries and max_bytes bytes (keys, meta,
 * payload and a fixed per-entry overhead); inserting beyond either evicts
 * the oldest entries (insertion order). Expired entries are never returned;
 * they are reclaimed from the oldest end as new entries arrive, and when
 * looked up. A single entry larger than max_bytes / 8 is not stored: only
 * reads produce large replies, and re-executing a read is harmless. */
#ifndef MQS_SERVER_REPLY_CACHE_H
#define MQS_SERVER_REPLY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct reply_cache reply_cache;

/* Accounting cost of one entry beyond its key and value bytes. */
#define REPLY_CACHE_ENTRY_OVERHEAD 64

/* A borrowed byte slice. */
typedef struct reply_slice {
    const void *data;
    size_t len;
} reply_slice;

typedef struct reply_cache_key {
    reply_slice client_id;
    reply_slice response_topic;
    reply_slice correlation;
} reply_cache_key;

/* Both limits must be > 0. */
reply_cache *reply_cache_new(size_t max_entries, size_t max_bytes);
void reply_cache_free(reply_cache *c);

/* Look up a live entry (expires_at > now_ms). On a hit, *meta and
 * *payload point into the cache, valid until the next put or free. An
 * expired entry found here is removed. */
bool reply_cache_get(reply_cache *c, const reply_cache_key *k, uint64_t now_ms, reply_slice *meta,
                     reply_slice *payload);

/* Remember a reply until expires_at_ms (replacing any entry for the key).
 * Copies everything. Returns false if the entry is too large to keep. */
bool reply_cache_put(reply_cache *c, const reply_cache_key *k, reply_slice meta, reply_slice payload, uint64_t now_ms,
                     uint64_t expires_at_ms);

size_t reply_cache_count(const reply_cache *c);
size_t reply_cache_bytes(const reply_cache *c);

#endif
