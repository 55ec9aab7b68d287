/* The cluster-wide session registry, takeover across nodes, and the wills
 * of a dead node's clients (docs/cluster.md "One broker across the nodes":
 * "Sessions", "Wills"; frames in cluster_session_codec.h).
 *
 *   main ── cluster_session_new(broker, cluster_node) ... loop ...
 *        ── cluster_session_shutdown (before broker_shutdown) ── loop runs dry ── free
 *
 * Every node tells every other node, on the node link it dialed, which
 * client ids are connected to it and the will of each (a full list when
 * the link comes up, then each change in order), so each node knows where
 * each client id is connected. A connection on another node that is newer
 * (a connect stamp: a hybrid logical clock, then the node id) takes a
 * local one over (DISCONNECT 0x8E). When a node stays unreachable for
 * CLUSTER_SESSION_CONFIRM_MS (or comes back as a new process), its
 * clients' wills become "orphans"; the raft leader publishes each one
 * after its delay unless the client connected again somewhere.
 *
 * Single-threaded (the loop). Ownership: owns its tables and timer;
 * borrows the broker and the cluster node, which outlive it. */
#ifndef MQS_SERVER_CLUSTER_SESSION_H
#define MQS_SERVER_CLUSTER_SESSION_H

#include <stdint.h>
#include <uv.h>

#include "broker/broker.h"
#include "server/cluster_node.h"

/* A node whose link is down and that sent nothing for this long is dead
 * (the node links' default dead time, peer.h). */
#define CLUSTER_SESSION_CONFIRM_MS 5000
/* Bytes of registry entries and of wills kept per other node (each bound
 * apart); beyond them an entry is not kept, a will is kept without
 * its message, and both are counted (docs/cluster.md "Wills"). */
#define CLUSTER_SESSION_NODE_BYTES_MAX (64u << 20)
#define CLUSTER_SESSION_NODE_WILL_BYTES_MAX (64u << 20)
/* A node that is not the leader forgets an orphan will this long after it
 * was due (the leader published it, or told it so). */
#define CLUSTER_SESSION_ORPHAN_KEEP_MS 60000

typedef struct cluster_session cluster_session;

/* Registers as the node's link user for the SESSION frame types and as
 * the broker's cluster hooks. Before the loop runs. */
cluster_session *cluster_session_new(uv_loop_t *loop, broker *b, cluster_node *cn);

typedef struct cluster_session_stats {
    uint64_t remote_connections; /* client ids connected to other nodes, as known here */
    uint64_t remote_wills;       /* wills of other nodes' clients held here */
    uint64_t remote_will_bytes;
    uint64_t orphan_wills;    /* wills of dead nodes' clients waiting for their delay */
    uint64_t wills_published; /* orphan wills this node published (as leader) */
    uint64_t wills_refused;   /* wills not kept (over the byte bound, too large for a frame) or not published */
    uint64_t takeovers;       /* local connections taken over by a connection on another node */
} cluster_session_stats;
void cluster_session_get_stats(const cluster_session *cs, cluster_session_stats *out);

/* /metrics: mqstated_cluster_session_* gauges (docs/metrics.md). */
struct ops_gauges;
void cluster_session_metrics(cluster_session *cs, struct ops_gauges *g);

/* Orderly stop: tell the other nodes (BYE: they forget this node's
 * clients without publishing their wills, as one node does at shutdown)
 * and stop listening to the broker. Before broker_shutdown. */
void cluster_session_shutdown(cluster_session *cs);
/* After the loop ran dry. */
void cluster_session_free(cluster_session *cs);

#endif
