/* Linearizable read points without writing the log: the read index of
 * the Raft thesis (§6.4), for the state store's reads on the leader.
 *
 * A raft barrier makes a read linearizable by committing an entry: a disk
 * write and an fsync on a majority for every batch of reads. A read index
 * costs one round trip on the node links instead:
 *
 *   1. remember the leader's commit index C and its term T;
 *   2. ask every other voter "is T's leader still your leader?" (PING);
 *      a majority of voters (this node included) answering yes, with the
 *      question asked after the reads arrived, proves that no newer leader
 *      existed when they arrived: a newer one needs the votes of a
 *      majority, one of which would have had to answer T after moving past
 *      it, and terms never go back;
 *   3. wait until this node applied up to C.
 * Then everything committed before the reads arrived is applied here.
 * The leader must also have committed an entry of its own term (so that
 * C covers every entry committed by earlier leaders): the state store
 * bridge serves nothing before its "ready" barrier has committed.
 *
 * Batching: one round at a time; calls made meanwhile share the next.
 * A round not confirmed within the timeout (the election timeout), or
 * that sees the term change, fails its callers (they retry elsewhere).
 *
 * Single-threaded (loop thread). Callbacks never run inside
 * cluster_read_index itself, nor inside libraft's callbacks (completion
 * is checked in the loop's check phase). */
#ifndef MQS_SERVER_CLUSTER_READ_H
#define MQS_SERVER_CLUSTER_READ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "repl/log.h"

struct peer_net;
typedef struct cluster_read cluster_read;
/* status: 0, or a REPL_RAFT_* code (repl/raft_log.h) */
typedef void (*cluster_read_done_fn)(void *ctx, int status);

/* Frame types on the node links (cluster_node.h's range for them).
 * PING: u8 version 1, u64 term, u64 round; ACK: the same + u8 yes. */
#define CLUSTER_READ_VERSION 1
#define CLUSTER_READ_PING_LEN 17
#define CLUSTER_READ_ACK_LEN 18

cluster_read *cluster_read_new(uv_loop_t *loop, repl_log *log, struct peer_net *net, uint64_t self, uint8_t ping_type,
                               uint8_t ack_type, uint32_t timeout_ms);
/* On the leader: cb(ctx, 0) once a read point covering every entry
 * committed before this call is applied here. Non-zero (cb will not run):
 * REPL_RAFT_ENOTLEADER, or REPL_RAFT_EBUSY past
 * REPL_RAFT_BARRIER_WAITERS_MAX waiters. */
int cluster_read_index(cluster_read *r, cluster_read_done_fn cb, void *ctx);
/* A PING or ACK frame from node `from` (cluster_link_user.on_frame). */
void cluster_read_frame(void *r, uint64_t from, uint8_t type, const uint8_t *p, size_t n);
/* Rounds confirmed and failed so far (statistics). */
void cluster_read_counts(const cluster_read *r, uint64_t *confirmed, uint64_t *failed);
/* Fail every waiter (REPL_RAFT_ESHUTDOWN) and close the handles; `cb`
 * (may be NULL) runs once they are closed, then the memory is freed. */
void cluster_read_close(cluster_read *r, void (*cb)(void *ctx), void *ctx);

#endif
