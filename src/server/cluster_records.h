/* The broker's records replicated through raft (issue 13, docs/cluster.md
 * "One broker across the nodes"): in cluster mode, the broker's
 * broker_persist_sink (broker/broker_persist.h).
 *
 *   broker ── append ──► open batch ── end of loop iteration ──► entry
 *     leader:   cluster_node_propose
 *     follower: node-link frame CLUSTER_RECORDS_FRAME_BATCH ──► leader proposes it
 *   commit (every node, in log order) ── de-dup ──► broker_persist_apply
 *     origin:   broker_persist_committed(seq): held PUBACKs go out
 *
 * Entry format and de-duplication: server/cluster_records_entry.h. The
 * origin keeps each batch until it sees it applied here; it sends the
 * unapplied ones again, in order, at every leader change and when the
 * oldest was sent CLUSTER_RECORDS_RESEND_MS ago (the first copy applied
 * wins; the others are skipped as repeats on every node).
 *
 * Bounds and failures:
 *   - unapplied records (the open batch and the sent ones) above
 *     CLUSTER_RECORDS_PENDING_BYTES: the sink refuses (accepting() false),
 *     so the broker refuses QoS 1/2 PUBLISHes that would append (0x97);
 *   - a batch closes at CLUSTER_RECORDS_BATCH_BYTES; one record larger
 *     than CLUSTER_RECORDS_RECORD_MAX (a node-link frame must carry it) is
 *     refused (logged; the message is routed but not retained);
 *   - the oldest unapplied batch older than cluster.request_wait_ms (no
 *     leader reachable, or a minority side): broker_persist_failed: the
 *     connections waiting for those records are closed (0x80, their
 *     clients retry), the batches are dropped, a new incarnation starts,
 *     and the sink refuses until a leader is known again.
 *
 * What is replicated (phase 1): RETAIN records only; the broker's
 * selection in cluster mode is retained: all ($SYS/ excepted: each node's
 * own), sessions: none, apply_on_commit. The entry format and the de-dup
 * table take any broker record type. Phase 2 (replicated persistent
 * sessions) must add: the session selection on; broker_persist_apply of
 * session records (17..31) that keeps another node's sessions as
 * replicated data only (no routable local session, no subscriptions in
 * this node's topic tree, no expiry timers firing wills here) until a
 * client resumes the session on this node; session state in the raft
 * snapshot (broker_persist_snapshot already writes it); and the owner of
 * a session (the node its client is connected to) as part of its records.
 *
 * Single-threaded (loop thread). Ownership: the module owns its batches
 * and its table; it borrows the broker and the cluster node, which must
 * outlive it. */
#ifndef MQS_SERVER_CLUSTER_RECORDS_H
#define MQS_SERVER_CLUSTER_RECORDS_H

#include <stdint.h>
#include <uv.h>

#include "broker/broker.h"
#include "server/cluster_node.h"

/* Node-link frame types (inside CLUSTER_FRAME_RECORDS_FIRST..LAST):
 * a follower's batch to the leader; payload: the entry's bytes. */
#define CLUSTER_RECORDS_FRAME_BATCH CLUSTER_FRAME_RECORDS_FIRST
/* The de-dup table's record type in the raft snapshot's LOCL section
 * (outside the broker's record types 16..31). */
#define CLUSTER_RECORDS_SNAP_DEDUP 64

#define CLUSTER_RECORDS_PENDING_BYTES (16u << 20)
#define CLUSTER_RECORDS_BATCH_BYTES (1u << 20)
#define CLUSTER_RECORDS_RECORD_MAX ((16u << 20) - 4096u) /* PEER_MAX_FRAME_DEFAULT minus headers */
#define CLUSTER_RECORDS_RESEND_MS 2000

typedef struct cluster_records cluster_records;

/* Make the broker's sink (broker_set_persistence: retained messages
 * replicated, sessions not) and register with the node (its frames, its
 * raft entries, its part of the raft snapshot). Before cluster_node_log
 * (a snapshot in the directory is installed while the log starts).
 * fail_ms: cluster.request_wait_ms. */
cluster_records *cluster_records_new(uv_loop_t *loop, broker *b, cluster_node *cn, uint32_t fail_ms);
/* At shutdown (before cluster_node_close): stop sending, close the
 * handles (asynchronously: the loop then runs dry). */
void cluster_records_close(cluster_records *cr);
/* After the loop ran dry. */
void cluster_records_free(cluster_records *cr);

#endif
