/* The bridge between the broker and the state store service: the only
 * module that knows both (protocol §1, §2, §7, §10.5). main creates it
 * after the broker and frees it after the loop has run dry.
 *
 * It turns each PUBLISH on the request topic into a store_request, the
 * store_reply into a PUBLISH on the request's Response Topic (normal
 * routing), and each notification into a direct delivery into the
 * watcher's session (never routed). It also guards the state store's topic
 * namespace through a broker authorizer, drops a connection's KEYNOTIFY
 * registrations when it ends, and runs active expiry on a libuv timer.
 * Writes go through a replication log (repl/log.h): decided, proposed,
 * and applied and answered when the log commits them. */
#ifndef MQS_SERVER_STORE_BRIDGE_H
#define MQS_SERVER_STORE_BRIDGE_H

#include <stddef.h>
#include <uv.h>

#include "broker/broker.h"
#include "repl/log.h"
#include "store/persist_select.h"
#include "store/service.h"

/* The user property that makes a SET durable (mode custom, dynamic), by
 * default: AIO's. */
#define STORE_BRIDGE_PERSIST_PROPERTY "aio-persistence"
#define STORE_BRIDGE_PERSIST_VALUE "true"

/* Which writes a durable log stores (docs/persistence.md). */
typedef enum store_bridge_persist {
    STORE_BRIDGE_PERSIST_ALL,    /* every write */
    STORE_BRIDGE_PERSIST_NONE,   /* none: only the clock mark is durable */
    STORE_BRIDGE_PERSIST_CUSTOM, /* SETs selected by key or property */
} store_bridge_persist;

/* Makes the bridge's log, given the bridge's callbacks (repl/log.h) and
 * its service (fresh: a durable log may load a snapshot into it, and keeps
 * the pointer to write snapshots of it; it must not outlive the log). */
typedef repl_log *(*store_bridge_log_fn)(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail,
                                         void *ctx);

typedef struct store_bridge store_bridge;

typedef struct store_bridge_config {
    store_config store;          /* node_id is copied by store_bridge_new */
    size_t reply_cache_entries;  /* > 0: the service's de-duplication table */
    size_t reply_cache_bytes;    /* > 0 */
    store_bridge_log_fn log_new; /* NULL: the in-memory log (repl_mem_log_new) */
    void *log_arg;
    /* > 0 (durable logs): keep a CLOCK record (HLC high-water mark) this
     * far ahead of the server clock in the log, so a restarted server
     * never issues a version below one issued before, even for writes
     * that were lost. 0: no marks. */
    uint32_t clock_mark_ms;
    /* Durable key selection (durable logs; docs/persistence.md). The
     * strings and rules are copied by store_bridge_new. */
    store_bridge_persist persist;    /* default ALL */
    const store_persist_rules *keys; /* CUSTOM: keys whose SETs are durable; NULL = none */
    bool dynamic;                    /* CUSTOM: the property below selects too (default true) */
    const char *property, *value;    /* default STORE_BRIDGE_PERSIST_PROPERTY / _VALUE */
} store_bridge_config;

/* store_config_default, and a reply cache of 100000 entries / 64 MiB. */
void store_bridge_config_default(store_bridge_config *c);

/* Create the service and install the publish hook, the authorizer and the
 * disconnect hook on `b`. Returns NULL if the configuration is invalid. */
store_bridge *store_bridge_new(uv_loop_t *loop, broker *b, const store_bridge_config *cfg);
/* Uninstall from the broker and close the expiry timer; the loop must run
 * (closing the timer) before store_bridge_free. Idempotent. */
void store_bridge_shutdown(store_bridge *sb);
void store_bridge_free(store_bridge *sb);

/* Key-level authorization (protocol §10.3): installed as the service's
 * authorizer, and also asked for Read before every KEYNOTIFY notification
 * with the watcher's current principal, so a watcher that lost Read (a
 * rules reload) gets nothing more. fn == NULL removes it. */
void store_bridge_set_authorizer(store_bridge *sb, store_authorize_fn fn, void *ctx);

/* The service, for statistics. */
const store_service *store_bridge_service(const store_bridge *sb);

/* The bridge's counters (docs/metrics.md). Latency is from the request's
 * arrival (the publish hook) to its reply being handed to the broker,
 * which for a write includes the log (fsync with `always`). */
#define STORE_BRIDGE_LATENCY_BUCKETS 14
extern const double store_bridge_latency_bounds[STORE_BRIDGE_LATENCY_BUCKETS]; /* seconds */
typedef struct store_bridge_stats {
    uint64_t requests;           /* PUBLISHes on the request topic */
    uint64_t envelope_refused;   /* protocol §2.3 envelope checks failed (no reply or an RPC error) */
    uint64_t dedup_hits;         /* repeats answered with a remembered reply */
    uint64_t writes_logged;      /* writes proposed to the log */
    uint64_t writes_unavailable; /* 503: pending bound, log refusal or failure */
    uint64_t latency[STORE_BRIDGE_LATENCY_BUCKETS + 1]; /* per bucket, last: above the last bound */
    uint64_t latency_sum_ns;
} store_bridge_stats;
void store_bridge_get_stats(const store_bridge *sb, store_bridge_stats *out);

#endif
