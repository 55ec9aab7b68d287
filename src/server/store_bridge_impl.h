/* Internals of the state store bridge shared by store_bridge.c (the
 * request path, the log, replies) and store_bridge_cluster.c (cluster
 * mode: forwarding, read barriers, waiting for a leader). Include only
 * from those two. */
#ifndef MQS_SERVER_STORE_BRIDGE_IMPL_H
#define MQS_SERVER_STORE_BRIDGE_IMPL_H

#include "server/store_bridge.h"
#include "server/store_reply_props.h"
#include "store/dedup.h"
#include "util/buf.h"
#include "util/hashmap.h"

/* A request kept as bytes (store/request_wire.h) in cluster mode: one
 * allocation, on at most one list (HELD_NONE while pending in the log). */
enum { HELD_NONE, HELD_WAIT, HELD_FWD, HELD_READS_NEXT, HELD_READS_BARRIER };
typedef struct held {
    struct held *prev, *next;
    uint8_t list;
    bool write;        /* not a read (store_request_classify) */
    bool maybe;        /* a write that was forwarded or proposed: its outcome may be unknown */
    uint64_t id;       /* local: this node's number (sb->fwd_ids); remote: the origin's */
    uint64_t from;     /* 0: a client of this node; else the node that forwarded it */
    uint64_t deadline; /* clock_now_ms: then answered 503 or 408 (local) or dropped (remote) */
    uint64_t sent;     /* HELD_FWD: when last forwarded, and to whom */
    uint64_t to;
    struct store_bridge *sb; /* set while a membership change runs for it */
    uint32_t wire_len, topic_len;
    uint8_t data[]; /* the wire request, then (local) the response topic */
} held;

typedef struct held_list {
    held *head, *tail;
    size_t n;
} held_list;

/* Bounds on the replies waiting for their write to commit (see top). The
 * in-memory log commits inside propose, so at most one is pending; a
 * durable or replicated log holds them for a group commit or a round
 * trip. Each costs its response topic, correlation data and this. */
#define PENDING_MAX 65536
#define PENDING_MAX_BYTES ((size_t)32 << 20)
#define PENDING_OVERHEAD 64

/* One reply waiting for its write to commit. `data` keeps its capacity
 * when the slot is reused, so the steady state does not allocate. */
typedef struct pending {
    uint64_t tag;
    uint32_t expiry_s;
    size_t topic_len; /* data: response topic, then correlation data */
    buf data;
    struct held *h;      /* cluster mode: the request itself, answered through it (data unused) */
    uint64_t arrived_ns; /* uv_hrtime at the request's arrival (latency) */
    store_hints hints;   /* the request's hashes, for apply (store_service_hint) */
} pending;

struct store_bridge {
    uv_loop_t *loop;
    broker *b;
    store_service *svc;
    repl_log *log;
    uv_check_t flush; /* active while something was proposed since the last flush */
    bool flush_armed;
    uint64_t next_tag; /* last proposal's tag; tags count up from 1 */
    pending *ring;     /* pending replies, FIFO: ring[(head + i) % cap] */
    size_t ring_cap, ring_head, ring_n, pending_bytes;
    buf enc;      /* the record being proposed */
    dedup *local; /* replies decide gave to non-repeatable requests (see on_request) */
    uv_timer_t timer;
    uv_idle_t drain;    /* active while more keys are due than one slice removes */
    uint64_t timer_due; /* wall ms the expiry timer is armed for; 0 = idle */
    bool draining;      /* drain active: the timer stays stopped */
    /* EXPIRE records proposed, not yet committed or failed. */
    size_t expiry_inflight;
    /* The HLC high-water mark (cfg clock_mark_ms > 0): mark_wall is the
     * newest proposed, mark_durable the newest committed; mark_tag != 0
     * while one is in flight (one at a time). */
    uint32_t mark_ahead_ms;
    uint64_t mark_wall, mark_durable, mark_tag;
    bool installed;
    int handles_open;             /* timer, drain and flush until their close callbacks ran */
    store_reply reply;            /* reused across requests */
    store_reply_props props;      /* replies' and notifications' property blocks */
    buf scratch;                  /* authorizer: the filters a client may use */
    store_authorize_fn authorize; /* key-level rules; NULL: none */
    void *auth_ctx;
    hashmap *refused; /* client ids whose unauthorized response topic was logged; until they disconnect */
    /* Durable key selection (docs/persistence.md, "Choosing durable
     * keys"). selective: the log is durable and not every write is. */
    store_bridge_persist persist;
    bool selective, dynamic;
    store_persist_rules *keys;  /* owned; NULL: none */
    mqtt_bytes property, value; /* owned copies */
    /* Keys with a durable record proposed and not yet committed or
     * failed, as a counting filter: inflight[digest64(key) % INFLIGHT_SLOTS]
     * counts them (a collision only makes a write logged that need not
     * be: the safe direction), allocated when selective; and the FIFO of
     * those records (inflight_entry, from inflight_head) to release them
     * in proposal order, which is the order logs commit and fail. */
    uint32_t *inflight;
    buf inflight_fifo;
    size_t inflight_head;
    /* Cluster mode (store_bridge_cluster.c); cluster false: one node. */
    bool cluster;
    store_bridge_cluster_ops cl;
    bool is_leader, ready;   /* ready: leader and its first barrier completed */
    uint64_t leader_id;      /* 0: none known */
    bool ready_barrier;      /* the barrier that makes this leader ready is in flight */
    bool removed;            /* this node is not a member any more */
    uint64_t replay_until;   /* entries up to this index: applied without notifications */
    bool read_barrier;       /* a read barrier is in flight (covers reads_barrier) */
    held_list wait;          /* no leader known, or this leader not ready */
    held_list fwd;           /* forwarded, no answer yet (this node's clients only) */
    held_list reads_next;    /* reads for the next barrier */
    held_list reads_barrier; /* reads the barrier in flight covers */
    size_t held_bytes;       /* of every held request, listed or pending */
    uint64_t next_fwd_id;
    hashmap *fwd_ids;      /* id (8 bytes) -> held, for this node's forwarded requests */
    uv_timer_t held_timer; /* deadlines and re-forwarding, while anything is held */
    bool held_timer_on;
    buf wire;            /* scratch: a request or reply being encoded */
    uint64_t arrived_ns; /* of the request being handled (on_request) */
    store_bridge_stats stats;
};

/* store_bridge_local.c: replies decide gave at once to non-repeatable
 * requests, remembered for their redeliveries (sb->local). */
bool store_bridge__local_lookup(store_bridge *sb, const store_request *req, uint64_t digest);
void store_bridge__local_remember(store_bridge *sb, const store_request *req, uint64_t digest);

/* store_bridge.c, for the cluster side. */
void store_bridge__send_reply(store_bridge *sb, mqtt_bytes topic, mqtt_bytes props, mqtt_bytes payload,
                              uint32_t expiry_s);
void store_bridge__expiry_arm(store_bridge *sb);
void store_bridge__expiry_stop(store_bridge *sb);
/* Decide `req` (built by the caller) and answer or propose it; the reply,
 * or its pending entry, goes to h. */
void store_bridge__run_held(store_bridge *sb, held *h, const store_request *req, bool dup);

/* store_bridge_cluster.c, for the request path. */
void store_bridge__cluster_init(store_bridge *sb);
void store_bridge__cluster_close(store_bridge *sb); /* at shutdown: answers what is held */
void store_bridge__cluster_free(store_bridge *sb);
/* A request of a client of this node (envelope checked), in cluster mode. */
void store_bridge__cluster_local(store_bridge *sb, const store_request *req, const struct principal *who,
                                 mqtt_bytes response_topic, bool dup, bool write);
/* CLUSTER ADD and REMOVE go to the leader; the rest (STATUS, and
 * anything malformed) is answered by store_bridge__cluster_admin here. */
bool store_bridge__admin_is_local(const store_request *req);
/* CLUSTER ... (store_request_classify: ADMIN): fills sb->reply. */
void store_bridge__cluster_admin(store_bridge *sb, const store_request *req);
/* sb->reply (or an error) for h, then h is freed. */
void store_bridge__held_answer(store_bridge *sb, held *h, const store_reply *r);
void store_bridge__held_unavailable(store_bridge *sb, held *h, const char *why);
/* A write of h failed in the log (why): retried where a new leader takes it, or answered 503. */
void store_bridge__held_failed(store_bridge *sb, held *h, const char *why);

#endif
