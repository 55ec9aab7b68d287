/* The state store keyspace: a deterministic state machine.
 *
 * Every mutation is a command record decided BEFORE it is applied: the
 * service validates the request, stamps the new version (server HLC), the
 * absolute deadline and the decision time now_ms into a keyspace_cmd, and
 * keyspace_apply executes it. Nothing here reads a clock, a random source
 * that affects results, or the network, so applying the same records in
 * the same order on any node (log replay, raft followers) yields the same
 * keyspace, the same results and the same change events.
 *
 * Time: now_ms and deadline_ms are milliseconds in one caller-chosen
 * timebase; since deadlines are replicated and persisted it should be the
 * wall clock (Unix epoch ms). An entry with deadline d exists for
 * now_ms < d and is expired (absent for every purpose) from now_ms >= d.
 *
 * Expiry is both lazy and active:
 *   - reads (get, scan) treat expired entries as absent but never remove
 *     them, so reads stay read-only and replicas stay identical;
 *   - a command that touches an expired entry removes it first and
 *     reports a DELETE event for it (deterministic: now_ms is part of the
 *     record);
 *   - active expiry: the leader (or the single node) asks
 *     keyspace_collect_due for due keys and applies KEYSPACE_EXPIRE
 *     records for them, which delete only an entry that still has the
 *     collected version and is due at the record's now_ms.
 *
 * Lifetimes: pointers returned in results, events and entry views point
 * into the command or into the keyspace and stay valid until the next
 * keyspace_apply (or keyspace_free). Keys and values are copied in. */
#ifndef MQS_STORE_KEYSPACE_H
#define MQS_STORE_KEYSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssproto/hlc.h"
#include "util/buf.h"

typedef struct keyspace keyspace;

/* Accounting cost of one entry beyond its key and value bytes, used for
 * the byte quota and stats. A fixed number (not sizeof) so that quota
 * decisions are identical on every node and build. */
#define KEYSPACE_ENTRY_OVERHEAD 64

/* Limits; 0 means unlimited. */
typedef struct keyspace_limits {
    size_t max_keys;
    size_t max_bytes; /* sum over entries of klen + vlen + KEYSPACE_ENTRY_OVERHEAD */
    size_t max_key_len;
} keyspace_limits;

typedef enum keyspace_op {
    KEYSPACE_SET,
    KEYSPACE_DEL,
    KEYSPACE_VDEL,   /* delete if the value equals cmd.value */
    KEYSPACE_EXPIRE, /* delete if the entry still has cmd.version and is due */
} keyspace_op;

typedef enum keyspace_cond {
    KEYSPACE_COND_NONE,
    KEYSPACE_COND_NX,  /* key absent */
    KEYSPACE_COND_NEX, /* key absent or its value equals the new value */
} keyspace_cond;

typedef struct keyspace_cmd {
    keyspace_op op;
    uint64_t now_ms; /* decision time: expiry checks */
    const void *key;
    size_t klen;
    const void *value; /* SET: value to store; VDEL: expected value */
    size_t vlen;
    keyspace_cond cond;   /* SET only */
    hlc version;          /* SET: the new version; EXPIRE: the version to expire */
    const hlc *fence;     /* SET/DEL/VDEL: the request's __ft, NULL if absent */
    uint64_t deadline_ms; /* SET: absolute expiry, 0 = none (removes an old one) */
    bool persist;         /* SET */
} keyspace_cmd;

/* Outcomes, checked in this order (protocol §5.3): fencing, condition,
 * key length / quota. */
typedef enum keyspace_status {
    KEYSPACE_APPLIED,          /* includes DEL/VDEL/EXPIRE of an absent key: count 0 */
    KEYSPACE_NOT_APPLIED,      /* NX/NEX/VDEL condition false: reply :-1 */
    KEYSPACE_FENCING_REQUIRED, /* fenced key, no __ft */
    KEYSPACE_FENCING_LOWER,    /* __ft lower than the key's token */
    KEYSPACE_QUOTA_EXCEEDED,   /* new key over max_keys, or SET growing past max_bytes */
    KEYSPACE_KEY_TOO_LONG,     /* new key longer than max_key_len */
} keyspace_status;

typedef enum keyspace_event_type { KEYSPACE_EVENT_SET, KEYSPACE_EVENT_DELETE } keyspace_event_type;

/* A change for the KEYNOTIFY registry (and the durable log). SET carries
 * the new value and version; DELETE the version of the removed entry. */
typedef struct keyspace_event {
    keyspace_event_type type;
    const uint8_t *key;
    size_t klen;
    const uint8_t *value; /* SET only */
    size_t vlen;
    hlc version;
} keyspace_event;

typedef struct keyspace_result {
    keyspace_status status;
    int count;        /* DEL/VDEL/EXPIRE: entries the command removed (0/1) */
    bool has_version; /* SET applied: new version; SET/VDEL not applied:
                           current version; DEL/VDEL/EXPIRE removed: removed
                           entry's version (§4.6) */
    hlc version;
    /* In order: a DELETE for an expired entry the command found (lazy
     * expiry, reported whatever the status), then the command's own
     * change. Non-applied commands produce no own event. */
    size_t nevents;
    keyspace_event events[2];
} keyspace_result;

/* A read-only view of an entry. */
typedef struct keyspace_entry_view {
    const uint8_t *value;
    size_t vlen;
    hlc version;
    bool fenced;
    hlc fence;
    uint64_t deadline_ms; /* 0: none */
    bool persist;
} keyspace_entry_view;

typedef struct keyspace_stats {
    size_t keys;
    size_t bytes;       /* accounted bytes, as for max_bytes */
    size_t fenced;      /* entries with a fencing token */
    size_t expiring;    /* entries with a deadline */
    size_t table_bytes; /* hash bucket arrays */
} keyspace_stats;

keyspace *keyspace_new(const keyspace_limits *limits);
void keyspace_free(keyspace *ks);
#ifndef NDEBUG
/* Debug-build checker, used as assert(keyspace__check(ks)): the table
 * (kstable__check), the expiry heap (heap__check), every entry's heap
 * link against its deadline, and the byte, fenced and expiring counts.
 * O(n): at teardown and in tests; mutations check the entry they touch. */
bool keyspace__check(const keyspace *ks);
#endif

void keyspace_apply(keyspace *ks, const keyspace_cmd *cmd, keyspace_result *res);

/* GET: true and *out filled if key exists and is not expired at now_ms. */
bool keyspace_get(const keyspace *ks, const void *key, size_t klen, uint64_t now_ms, keyspace_entry_view *out);

/* Earliest deadline of any entry (possibly already due), 0 if none. */
uint64_t keyspace_next_deadline(const keyspace *ks);

/* Report up to max entries due at now_ms, earliest deadline first (ties in
 * unspecified order). Pointers are valid until the next apply: the caller
 * copies key and version into KEYSPACE_EXPIRE records. Returns the count. */
typedef void (*keyspace_due_fn)(void *ctx, const uint8_t *key, size_t klen, const hlc *version);
size_t keyspace_collect_due(const keyspace *ks, uint64_t now_ms, size_t max, keyspace_due_fn fn, void *ctx);

/* SCAN one page (protocol §3.8). Starts at cursor (0 = beginning) and
 * offers fn the non-expired keys matching the glob pattern (pat == NULL:
 * every key, including non-UTF-8 ones); fn returns whether it took the
 * key (the caller's filter, e.g. Read authorization), and only taken keys
 * count toward the page bounds. Stops after the bucket in which the page
 * reached max_keys taken keys or max_bytes taken key bytes (a page may
 * exceed either by one bucket's keys), or after examining a bounded
 * number of entries (pages may be empty). Returns the next cursor, 0 when
 * the scan is complete. Guarantee: a key present from the first to the
 * last page is offered at least once whatever happens in between
 * (inserts, deletes, resizes); keys may be offered more than once. */
typedef bool (*keyspace_scan_fn)(void *ctx, const uint8_t *key, size_t klen);
uint64_t keyspace_scan(const keyspace *ks, const uint8_t *pat, size_t plen, uint64_t cursor, uint64_t now_ms,
                       size_t max_keys, size_t max_bytes, keyspace_scan_fn fn, void *ctx);

/* The opaque reply token for a non-zero cursor ("ks1:" + 16 hex digits)
 * and its strict inverse: false for anything garbled (service: syntax
 * error). */
void keyspace_cursor_encode(uint64_t cursor, buf *out);
bool keyspace_cursor_decode(const void *token, size_t n, uint64_t *cursor);

void keyspace_stats_get(const keyspace *ks, keyspace_stats *out);

/* A hint: a command on `key` follows soon; start loading its entry
 * (kstable_prefetch: call it twice, some work apart). No effect on the
 * contents. Returns the key's hash in the table. */
uint64_t keyspace_prefetch(keyspace *ks, const void *key, size_t klen);
/* The key's command comes long after its prefetch, other keys in between
 * (a batching log): `hash`, what keyspace_prefetch returned for it, saves
 * hashing the key again (kstable_hint). */
void keyspace_hint(keyspace *ks, const void *key, size_t klen, uint64_t hash);

/* --- snapshots (keyspace_restore.c) ---------------------------------------- */

/* Visit every entry, expired ones included (they are state until an
 * EXPIRE record or a write removes them). Order: table order (bucket
 * order of the main table, each chain front to back, then of the rehash
 * target table): the same for the same table, so two walks of an
 * unchanged keyspace agree; it differs between processes (random SipHash
 * seed). Allocates nothing and takes no lock, so it may run in a forked
 * child. fn must not modify the keyspace; views are valid during the
 * call. */
typedef void (*keyspace_foreach_fn)(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v);
void keyspace_foreach(const keyspace *ks, keyspace_foreach_fn fn, void *ctx);

/* Insert an entry exactly as described (value, version, fence when
 * v->fenced, deadline, persist), for loading a snapshot only: no limits
 * are checked (the entry was accepted when it was written), no events.
 * Returns false, changing nothing, when the key is already present or a
 * length exceeds UINT32_MAX. */
bool keyspace_restore_entry(keyspace *ks, const void *key, size_t klen, const keyspace_entry_view *v);
/* Size an empty keyspace's table for n restored entries (no rehashing
 * while they go in); the caller bounds n by the bytes it has. */
void keyspace_reserve(keyspace *ks, size_t n);

/* Remove every entry without the persist flag (recovery, see
 * store_service_drop_volatile); no events. Returns how many. */
size_t keyspace_drop_volatile(keyspace *ks);

#endif
