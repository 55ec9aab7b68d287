/* The state store service: one request in, one reply out, notifications
 * out through a callback (protocol §2–§7).
 *
 * This is the command layer above the keyspace. Every mutation goes
 *
 *   decide ──► store_record ──► (log: encode, commit, decode) ──► apply
 *
 * store_service_decide decodes the RESP request, checks it in the order
 * of protocol §6.10 / §5.3 (framing, verb, argument count, options, empty
 * key, authorization, __ts, __ft) and stamps what is non-deterministic
 * (the new HLC version from the server clock, the absolute PX deadline,
 * the decision time, the de-duplication key) into a store_record, without
 * touching the keyspace. Errors and the non-mutating commands (GET, SCAN,
 * KEYNOTIFY and its STOP: registrations are per connection, never logged)
 * are answered by decide itself. store_service_apply is the one path that
 * executes a record, for live requests, log replay and replicated entries
 * alike: it reads nothing but the record and the state, and turns the
 * result into the RESP reply and the `__ts` value. Every applied change is
 * fanned out to the KEYNOTIFY watchers of its key, in mutation order,
 * through `notify`.
 *
 * Pure: no sockets, no libuv, no MQTT. The caller (the broker bridge)
 * extracts what it needs from the request PUBLISH into a store_request and
 * passes the wall clock in; it turns replies and notifications back into
 * PUBLISHes. Single-threaded: one service per event loop. */
#ifndef MQS_STORE_SERVICE_H
#define MQS_STORE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/keyspace.h"
#include "ssproto/resp.h"
#include "store/record.h"
#include "util/buf.h"

typedef struct store_service store_service;

/* A borrowed byte string; `data == NULL` means absent (as opposed to
 * present and empty). */
typedef struct store_bytes {
    const uint8_t *data;
    size_t len;
} store_bytes;

typedef struct store_config {
    keyspace_limits limits;  /* max_keys, max_bytes, max_key_len (0 = unlimited) */
    const char *node_id;     /* HLC node id: non-empty, no ':' */
    size_t scan_page_keys;   /* SCAN page bound in keys (> 0) */
    size_t scan_page_bytes;  /* SCAN page bound in key bytes (> 0) */
    size_t max_notify_bytes; /* KEYNOTIFY registrations per client, accounted
                                bytes (notify_registration_cost); 0 = unlimited */
    size_t dedup_entries;    /* de-duplication table bound in entries (> 0) */
    size_t dedup_bytes;      /* de-duplication table bound in bytes (> 0) */
} store_config;

/* Defaults, documented in docs/configuration.md. */
void store_config_default(store_config *c);

/* The authenticated identity of a connection (src/auth/principal.h):
 * opaque to the store, passed through to the authorizer. */
struct principal;

/* Who sent the request: the MQTT connection's identity, never __srcId. */
typedef struct store_principal {
    store_bytes client_id;
    store_bytes username;        /* data == NULL: none */
    const struct principal *who; /* set by the broker bridge; NULL in store-only use */
} store_principal;

typedef enum store_access { STORE_ACCESS_READ, STORE_ACCESS_WRITE } store_access;

/* Key-level authorization hook (protocol §10.3): return true to allow.
 * GET, KEYNOTIFY (and STOP) and SCAN need Read (SCAN asks per key and
 * returns only readable keys); SET, DEL and VDEL need Write. With no
 * authorizer installed, everything is allowed. */
typedef bool (*store_authorize_fn)(void *ctx, const store_principal *who, const uint8_t *key, size_t klen,
                                   store_access access);

/* Hashes store_service_prefetch computed for a request, kept with a write
 * whose apply runs later, after other requests (a batching log), and
 * handed back with store_service_hint just before that apply so it does
 * not hash the key and the de-duplication key again. Valid for the
 * service that computed them only. */
typedef struct store_hints {
    uint64_t key_hash, dedup_hash;
    bool has_key, has_dedup;
} store_hints;

typedef struct store_request {
    store_principal who;
    store_bytes payload;     /* the RESP request */
    store_bytes ts;          /* user property __ts */
    store_bytes ft;          /* user property __ft */
    store_bytes prot_ver;    /* user property __protVer */
    store_bytes correlation; /* MQTT Correlation Data: de-duplication key */
    uint32_t expiry_s;       /* the request's Message Expiry, seconds; 0 = none */
    bool persist;            /* user property aio-persistence: true */
    uint64_t now_ms;         /* wall clock, Unix epoch milliseconds */
    /* digest64(payload) when the caller already computed it (it looks up
     * the reply cache first): decide then does not hash the payload again. */
    bool has_digest;
    uint64_t payload_digest;
    /* The payload decoded once by store_request_parse (the bridge asks
     * store_request_repeatable before decide): decide then uses it. */
    bool parsed;
    resp_status parse_status;
    resp_request rq;   /* points into payload; valid when parse_status == RESP_OK */
    store_hints hints; /* set by store_service_prefetch */
} store_request;

/* What goes back on the Response Topic. Initialise with
 * store_reply_init, reuse across calls, release with store_reply_free. */
typedef struct store_reply {
    int status;  /* __stat: 200, or 505 (unsupported __protVer; payload empty) */
    buf payload; /* RESP reply (empty only when status != 200) */
    bool has_version;
    buf version;                /* formatted HLC for __ts when has_version */
    const char *status_message; /* __stMsg when status != 200, static */
} store_reply;

void store_reply_init(store_reply *r);
void store_reply_free(store_reply *r);

/* A notification for one watcher (protocol §1.4, §2.7, §3.7): deliver
 * `payload` on `topic` at QoS 1 with user property __ts = `version`
 * directly into the session of `client_id`. Slices valid during the call.
 * `key` is the changed key, so the receiver can re-check the watcher's
 * Read access at delivery time (rules may have changed since KEYNOTIFY). */
typedef struct store_notification {
    store_bytes client_id;
    store_bytes key;
    store_bytes topic;
    store_bytes payload;
    store_bytes version;
} store_notification;

typedef void (*store_notify_fn)(void *ctx, const store_notification *n);

/* Returns NULL if the configuration is invalid (e.g. a bad node id). */
store_service *store_service_new(const store_config *cfg, store_notify_fn notify, void *ctx);
void store_service_free(store_service *s);
void store_service_set_authorizer(store_service *s, store_authorize_fn fn, void *ctx);

/* True when the request is a well-formed GET, SCAN or KEYNOTIFY (not
 * STOP): running it again is harmless and gives the right answer, so the
 * bridge executes every copy instead of de-duplicating it (protocol §2.3
 * de-duplication exists for outcomes a repeat would change: SET NX, DEL,
 * VDEL, KEYNOTIFY STOP). GET and SCAN answer the current state. KEYNOTIFY
 * must run every time: registrations belong to the connection, so a copy
 * resent on a new connection (QoS 1 redelivery after a reconnect) has to
 * register again, and a remembered +OK would stand in for a registration
 * that no longer exists. Anything else, malformed requests included,
 * counts as not repeatable. */
bool store_request_repeatable(store_request *req);

/* How a cluster serves a request (docs/cluster.md): READ (a well-formed
 * GET or SCAN: on the leader, after a read barrier), NOTIFY (KEYNOTIFY and
 * its STOP: registrations belong to the node the client is connected to)
 * or WRITE (everything else, malformed requests included: decided on the
 * leader, whose decide answers the error). */
typedef enum store_request_kind {
    STORE_KIND_READ,
    STORE_KIND_NOTIFY,
    STORE_KIND_WRITE,
    STORE_KIND_ADMIN, /* CLUSTER ...: mqstated's extension (docs/cluster.md), answered by the server */
} store_request_kind;
store_request_kind store_request_classify(store_request *req);
/* Decode req->payload into req->rq (once; later calls do nothing). */
void store_request_parse(store_request *req);
/* A hint before decide, called twice some work apart (the first call
 * starts loading table buckets, the second the entries they point to):
 * the key's table entry (keyspace_prefetch) and, for a request with its
 * digest set, its reply-cache slot (dedup_prefetch), so those cache
 * misses overlap decide instead of stalling apply. */
void store_service_prefetch(store_service *s, store_request *req);
/* Just before store_service_apply of r, the record decided from a request
 * whose hints (req->hints) were kept: its lookups reuse those hashes. */
void store_service_hint(store_service *s, const store_record *r, const store_hints *h);

/* How long apply remembers a write's reply for de-duplication (protocol
 * §2.3): the request's lifetime plus 60 s of grace for a redelivery after
 * a reconnect, counted from the record's decision time. A request without
 * Message Expiry counts as STORE_DEFAULT_EXPIRY_S. The lifetime travels in
 * the record (store_record.expiry_s), so the table is a function of the
 * applied records only. */
#define STORE_DEFAULT_EXPIRY_S 10u
#define STORE_DEDUP_GRACE_MS 60000u
static inline uint64_t store_dedup_until(uint64_t now_ms, uint32_t expiry_s)
{
    return now_ms + (uint64_t)expiry_s * 1000u + STORE_DEDUP_GRACE_MS;
}

/* Decide one request. Returns true when `*rec` is a write to log and apply
 * (its byte strings point into `req` and the service: encode it before
 * the next call); `out` is then reset and left for apply. Returns false
 * when `out` is the complete reply (every error, GET, SCAN, KEYNOTIFY).
 * Never changes the keyspace or the de-duplication table; it advances the
 * server clock (the stamped version) and, for KEYNOTIFY, the registry. */
bool store_service_decide(store_service *s, const store_request *req, store_record *rec, store_reply *out);

/* Apply one record: the keyspace change, the server clock following the
 * record's version (and fence), stats, KEYNOTIFY fan-out, the
 * de-duplication entry for a write, and the reply into `out` unless NULL.
 * A write whose de-duplication key is already remembered (a repeat decided
 * while its first copy was in the log) gets the remembered reply and
 * changes nothing but the clock.
 * Deterministic: the same records in the same order give the same
 * keyspace, replies and de-duplication state. */
void store_service_apply(store_service *s, const store_record *r, store_reply *out);

/* A raft follower catching up from the leader's snapshot: verify it
 * (store_snapshot_verify: REFUSED, the service untouched, "offset N:
 * why" in err), reset, load it, and notify this node's KEYNOTIFY watchers
 * once for each watched key whose entry changed: SET with the new value,
 * or DELETE (with the removed entry's version) if it is gone. The changes
 * in between are not seen one by one (docs/cluster.md). BROKEN: a
 * verified snapshot did not load (a writer bug): the service is empty,
 * its state lost; the caller must not go on serving. */
typedef enum store_install { STORE_INSTALL_OK, STORE_INSTALL_REFUSED, STORE_INSTALL_BROKEN } store_install;
store_install store_service_install_snapshot(store_service *s, const uint8_t *p, size_t n, uint64_t *last_index,
                                             char *err, size_t errlen);
/* The same, handing each record of the snapshot's LOCL section (the
 * node's other replicated state, store/snapshot.h) to on_local as it
 * loads, after the store's sections: a record on_local refuses makes the
 * load fail (BROKEN). on_local NULL: the records are checked and skipped. */
store_install store_service_install_snapshot_ext(store_service *s, const uint8_t *p, size_t n, uint64_t *last_index,
                                                 const char *(*on_local)(void *ctx, uint8_t type, const uint8_t *p,
                                                                         size_t n),
                                                 void *local_ctx, char *err, size_t errlen);
/* While quiet, apply notifies no KEYNOTIFY watcher (a cluster node
 * re-applying, after a restart, the entries its own log held: history
 * that happened before any of this process's watchers registered). */
void store_service_set_quiet(store_service *s, bool quiet);
/* The keyspace's content as one number, for comparing the replicas of a
 * cluster: the XOR of digest64 over each entry's key, value, version,
 * fencing token and deadline (order-independent: table order differs
 * between processes). O(keys); *keys gets the count. */
uint64_t store_service_digest(const store_service *s, size_t *keys);
/* Empty the keyspace and the de-duplication table (a raft snapshot is
 * about to be loaded in their place: store_snapshot_load accepts the
 * service then). KEYNOTIFY registrations, the authorizer, statistics and
 * the clock stay: registrations belong to live connections, and the
 * clock never goes back (the snapshot raises it). No notifications. */
void store_service_reset(store_service *s);
/* The server clock S now (node points into the service). */
hlc store_service_clock(const store_service *s);

/* Is `key` present (expired or not) with a durable value (its last SET
 * record had persist set)? */
bool store_service_key_durable(const store_service *s, const uint8_t *key, size_t klen);

/* After recovery: remove every key whose value is not durable (a log
 * holds the SET records of non-durable writes only where they replaced a
 * durable value: their replay must leave the key absent). No
 * notifications, no records. Returns the number removed. */
size_t store_service_drop_volatile(store_service *s);

/* Decide then apply at once (no log): the service as a library, and
 * tests. No de-duplication: a repeated request is executed again. */
void store_service_execute(store_service *s, const store_request *req, store_reply *out);

/* A remembered reply for a repeat of an applied write: (client id,
 * correlation data, digest64 of the payload: the caller's, computed once), live at now_ms. On a hit,
 * `out` is the remembered reply (status 200, payload, __ts). Read-only. */
bool store_service_dedup_lookup(store_service *s, store_bytes client_id, store_bytes correlation,
                                uint64_t payload_digest, uint64_t now_ms, store_reply *out);

/* The de-duplication table's size, for stats and tests. */
void store_service_dedup_stats(const store_service *s, size_t *entries, size_t *bytes);

/* The client's network connection ended: drop its KEYNOTIFY registrations. */
void store_service_client_gone(store_service *s, store_bytes client_id);

/* Active expiry. next_deadline: the earliest key deadline (wall ms), 0 if
 * none. decide_expiry (the leader's job): collect the keys due at now_ms
 * (bounded work per call), tick the clock for each (a deletion is a server
 * event, §4.5) and pass one STORE_REC_EXPIRE record per key to `emit`
 * (valid during the call) to be logged and applied; apply deletes the key
 * if it still has the collected version and notifies its watchers with
 * NOTIFY DELETE. Returns true if more keys are due after the emitted ones
 * were applied (call again soon). expire: decide_expiry applying each
 * record at once. */
typedef void (*store_record_fn)(void *ctx, const store_record *r);
uint64_t store_service_next_deadline(const store_service *s);
bool store_service_decide_expiry(store_service *s, uint64_t now_ms, store_record_fn emit, void *ctx);
bool store_service_expire(store_service *s, uint64_t now_ms);

typedef struct store_stats {
    keyspace_stats keyspace;
    size_t registrations;
    uint64_t insertions, modifications, deletions, retrievals, keynotify_requests, notifications_sent, errors;
    uint64_t expirations; /* keys deleted by active expiry (also counted in deletions) */
} store_stats;

void store_service_stats(const store_service *s, store_stats *out);

/* Size an empty store's key table for about n keys at once (a replay of
 * n records into it: no incremental rehashing while they go in). No
 * effect once it holds a key. The caller bounds n by the bytes it has. */
void store_service_reserve_keys(store_service *s, size_t n);

#endif
