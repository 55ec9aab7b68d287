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
    /* Cluster mode (docs/cluster.md): the log is replicated, this node
     * serves requests only while it leads and forwards them otherwise
     * (store_bridge_set_cluster); expiry runs only on the leader. Every
     * write is replicated (persist is ALL), clock_mark_ms must be 0. */
    bool cluster;
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

/* --- cluster mode (docs/cluster.md) ----------------------------------------- */

typedef void (*store_bridge_done_fn)(void *ctx, int status);

/* What the bridge needs of the cluster (server/cluster_node.c). Requests
 * and replies travel as store/request_wire.h bytes. */
typedef struct store_bridge_cluster_ops {
    /* Send request `id` (this node's number for it) to node `to`, the
     * leader; false if it cannot be sent now (retried later). */
    bool (*forward)(void *ctx, uint64_t to, uint64_t id, const uint8_t *req, size_t len);
    /* Send the reply to request `id` forwarded by node `to`. */
    void (*answer)(void *ctx, uint64_t to, uint64_t id, const uint8_t *rep, size_t len);
    /* A linearizable read point (repl_raft_barrier): cb(cbctx, 0) once
     * every entry committed before the call is applied and this node
     * still led after it; another status: it did not. Returns non-zero if
     * cb will not run. */
    int (*barrier)(void *ctx, store_bridge_done_fn cb, void *cbctx);
    /* The same read point without an entry (a read index, cheaper); NULL:
     * reads use barrier. Only once this node is ready (its own barrier
     * committed). */
    int (*read_index)(void *ctx, store_bridge_done_fn cb, void *cbctx);
    /* CLUSTER STATUS: this node's view as JSON text appended to out;
     * `digest`: with the keyspace digest (O(keys)). */
    void (*status)(void *ctx, bool digest, buf *out);
    /* CLUSTER ADD|REMOVE id, on the leader: start the membership change;
     * cb(cbctx, 0) once done, another code (strerror names it) if it
     * failed. Returns non-zero (cb will not run) if it cannot start: -1
     * when the id is not in this node's member list (ADD needs its raft
     * address from there), else a code for strerror. */
    int (*member)(void *ctx, bool add, uint64_t id, store_bridge_done_fn cb, void *cbctx);
    const char *(*strerror)(int code);
    void *ctx;
    /* A request without Message Expiry waits at most this long (ms) for a
     * leader, then fails with __stat 503. > 0. */
    uint32_t wait_ms;
} store_bridge_cluster_ops;

/* After store_bridge_new with cfg->cluster, before the loop runs. */
void store_bridge_set_cluster(store_bridge *sb, const store_bridge_cluster_ops *ops);
/* The raft role changed (repl_raft_config.on_role). */
void store_bridge_cluster_role(store_bridge *sb, bool is_leader, uint64_t leader_id);
/* A request forwarded by node `from` (on the leader), or the reply to one
 * this node forwarded (`from`: the node that answered). Bad bytes are
 * logged and dropped. */
void store_bridge_cluster_request(store_bridge *sb, uint64_t from, uint64_t id, const uint8_t *p, size_t n);
void store_bridge_cluster_answer(store_bridge *sb, uint64_t from, uint64_t id, const uint8_t *p, size_t n);

/* Entries up to `index` were in this node's raft log when it started:
 * re-applying them notifies no KEYNOTIFY watcher (they are history from
 * before the watchers of this process registered). */
void store_bridge_cluster_replay_until(store_bridge *sb, uint64_t index);

/* This node is no longer in the cluster's configuration: every request of
 * its clients is answered 503 from now on. */
void store_bridge_cluster_removed(store_bridge *sb);

/* Requests of this node still waiting for an answer (forwarded, held,
 * or writes in the log): a node about to stop lets them finish. */
bool store_bridge_cluster_busy(const store_bridge *sb);

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
