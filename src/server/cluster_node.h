/* This process as a member of a cluster (docs/cluster.md): the raft log
 * the state store's writes go through (repl/raft_log.h, in DIR/raft), the
 * node links that carry forwarded requests (cluster/peer.h), and the
 * glue that tells the state store bridge who leads.
 *
 *   main ── cluster_node_new ── store_bridge_new(log_new = cluster_node_log)
 *        ── cluster_node_attach(bridge) ... loop ... cluster_node_close ── loop runs dry ── free
 *
 * Snapshots of the state store are taken in a forked child (copy-on-write,
 * as the file log's) and read back on a libuv worker thread; a snapshot
 * sent by the leader replaces this node's keyspace (store_service_reset,
 * store_snapshot_load).
 *
 * DIR/LOCK is flock()ed for the process lifetime: one mqstated per dir.
 * Single-threaded but for the snapshot read-back. Ownership: the node owns
 * the raft log and the links; it borrows the bridge and the service. */
#ifndef MQS_SERVER_CLUSTER_NODE_H
#define MQS_SERVER_CLUSTER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "repl/log.h"
#include "server/config_cluster.h"
#include "server/store_bridge.h"
#include "store/service.h"
#include "util/buf.h"
#include "store/snapshot.h"

/* Node link frame types (cluster/peer.h: user types from PEER_TYPE_USER):
 * payload = u64 request id (little-endian) + store/request_wire.h bytes. */
#define CLUSTER_FRAME_FORWARD 16
#define CLUSTER_FRAME_ANSWER 17
/* From the leader to a node it just removed (empty payload): the node may
 * not learn of its removal through raft (the leader stops replicating to
 * it), so it is told; it then refuses its clients' requests. */
#define CLUSTER_FRAME_REMOVED 18
/* The broker across the cluster (issue 13, docs/cluster.md "One broker"):
 * each part owns a range of frame types (cluster_node_add_link_user). */
#define CLUSTER_FRAME_ROUTE_FIRST 19 /* interest sets and forwarded messages */
#define CLUSTER_FRAME_ROUTE_LAST 26
#define CLUSTER_FRAME_RECORDS_FIRST 27 /* broker records on their way to the raft leader */
#define CLUSTER_FRAME_RECORDS_LAST 30
#define CLUSTER_FRAME_SESSION_FIRST 31 /* session registry, takeover, wills */
#define CLUSTER_FRAME_SESSION_LAST 38
/* Read index rounds of the state store's leader (server/cluster_read.h). */
#define CLUSTER_FRAME_READ_PING 39
#define CLUSTER_FRAME_READ_ACK 40

typedef struct cluster_node cluster_node;

/* Lock dir, create dir/raft, open the node links (listening on this
 * node's link address). NULL with a message in err. The config is copied. */
cluster_node *cluster_node_new(uv_loop_t *loop, const config_cluster *cfg, const char *dir, char *err, size_t errlen);

/* A store_bridge_log_fn (arg: the cluster_node): start raft in dir/raft,
 * restoring the newest snapshot and the log into svc. NULL (logged) on
 * failure. Once per node. */
repl_log *cluster_node_log(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx);

/* --- other users of the node links (issue 13) ---------------------------------
 *
 * A part of the server that talks to the other nodes registers the frame
 * types it owns (first..last, inside one CLUSTER_FRAME_* range above) and
 * is handed every frame of those types and every change of a dialed link
 * (cluster/peer.h: a node sends on the link it dialed; `up` is about that
 * link, so "down" means this node cannot reach `id` now). Frames of types
 * nobody registered are logged and dropped. At most CLUSTER_LINK_USERS_MAX
 * users; register before the loop runs. Callbacks run on the loop thread;
 * slices are valid during the call only. */
#define CLUSTER_LINK_USERS_MAX 8
typedef struct cluster_link_user {
    uint8_t first, last;
    void (*on_frame)(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t n);
    void (*on_peer)(void *ctx, uint64_t id, bool up); /* may be NULL */
    void *ctx;
} cluster_link_user;
void cluster_node_add_link_user(cluster_node *cn, const cluster_link_user *u);

/* Figures of other parts in CLUSTER STATUS (docs/cluster.md "Operations"):
 * `fn` appends JSON members (",\"name\":value"...) to the object of the
 * member `id`, and (id 0) to the top-level object. At most
 * CLUSTER_STATUS_USERS_MAX; register before the loop runs. */
#define CLUSTER_STATUS_USERS_MAX 4
typedef void (*cluster_status_fn)(void *ctx, uint64_t id, buf *out);
void cluster_node_add_status(cluster_node *cn, cluster_status_fn fn, void *ctx);
/* --- the broker's records in the raft log (server/cluster_records.h) --------
 *
 * Committed entries whose first byte is `marker` (never a state store
 * record's, STORE_RECORD_FORMAT) go to on_commit instead of the store
 * bridge; proposals made with cluster_node_propose carry a tag with
 * CLUSTER_NODE_TAG_RECORDS set, and their failures go to on_fail. on_role:
 * the leader changed (as on_role of raft_log.h). The raft snapshot carries
 * the records' state in the state store snapshot's LOCL section
 * (store/snapshot.h): `locals` writes it (in the forked child: no
 * allocation); a snapshot is installed whole or not at all: `local` gets
 * each LOCL record (borrowed until `installed`) while the store's part
 * loads and may refuse one (the snapshot is then a writer's bug: the node
 * stops, as for a store part that does not load), then `installed(ok)`
 * says whether the store's part was installed (false: refused, nothing
 * changed). Set once, before cluster_node_log (a snapshot in the
 * directory is installed while the log starts). */
#define CLUSTER_NODE_TAG_RECORDS (UINT64_C(1) << 63)
typedef struct cluster_records_hooks {
    uint8_t marker;
    void (*on_commit)(void *ctx, uint64_t index, const uint8_t *p, size_t n, uint64_t tag);
    void (*on_fail)(void *ctx, uint64_t tag, const char *why);
    void (*on_role)(void *ctx, bool is_leader, uint64_t leader_id);
    bool (*locals)(void *ctx, snapshot_emit_fn emit, void *emit_ctx);
    const char *(*local)(void *ctx, uint8_t type, const uint8_t *p, size_t n);
    void (*installed)(void *ctx, bool ok);
    void *ctx;
} cluster_records_hooks;
void cluster_node_set_records(cluster_node *cn, const cluster_records_hooks *h);
/* Propose one entry (copied) to the raft log: false if this node does not
 * lead or the log refuses it now. tag has CLUSTER_NODE_TAG_RECORDS set. */
bool cluster_node_propose(cluster_node *cn, const uint8_t *p, size_t n, uint64_t tag);
/* On the leader: a raft barrier (repl_raft_barrier), whose entry also
 * tells the followers at once how far the log is committed (else they
 * learn it at the next heartbeat). 0 (cb will run) or a REPL_RAFT_* code. */
int cluster_node_barrier(cluster_node *cn, void (*cb)(void *ctx, int status), void *ctx);

/* The links themselves (cluster/peer.h: send, pause/resume, up, stats);
 * NULL after cluster_node_close. */
struct peer_net *cluster_node_links(cluster_node *cn);
/* This node's id, and the other members of the configuration (as last
 * loaded: cluster_node_reload), at most cap of them into ids; returns how
 * many there are. */
uint64_t cluster_node_self(const cluster_node *cn);
size_t cluster_node_peers(const cluster_node *cn, uint64_t *ids, size_t cap);
/* The raft leader as last reported (0: none known), and whether it is us. */
uint64_t cluster_node_leader(const cluster_node *cn);
bool cluster_node_is_leader(const cluster_node *cn);

/* Give the node its bridge (made with cluster_node_log and cfg.cluster):
 * installs the bridge's cluster operations and tells it the role. */
void cluster_node_attach(cluster_node *cn, store_bridge *sb);

/* Register the node's figures with /metrics (mqstated_raft_*: term,
 * indexes, leader, members, node links up; docs/metrics.md) and the
 * readiness condition "leader_known" (set while a leader is known). Both
 * must outlive the node. */
struct ops_gauges;
struct ops_ready;
void cluster_node_metrics(cluster_node *cn, struct ops_gauges *g, struct ops_ready *r);

/* SIGHUP: the member list changed (config_cluster_reload allowed it):
 * node links to added members are dialed, to removed ones closed; ADD
 * takes new members' raft addresses from here. */
void cluster_node_reload(cluster_node *cn, const config_cluster *cfg);

/* SIGTERM on a member: if this node leads, hand leadership to another
 * voter (libraft picks an up-to-date one) so writes go on without waiting
 * for an election, then let the requests this node forwarded or serves get
 * their answers (at most CLUSTER_LEAVE_DRAIN_MS), then cb. A failed
 * transfer (timeout, no other voter) is logged and does not block. */
#define CLUSTER_LEAVE_DRAIN_MS 3000
void cluster_node_leave(cluster_node *cn, void (*cb)(void *ctx), void *ctx);

/* At shutdown, after store_bridge_shutdown: close raft (pending writes
 * fail "shutting down") and the links, asynchronously; the loop then runs
 * dry. */
void cluster_node_close(cluster_node *cn);
/* After the loop ran dry. */
void cluster_node_free(cluster_node *cn);

#endif
