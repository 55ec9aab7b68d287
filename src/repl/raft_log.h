/* The raft log: a repl_log (repl/log.h) whose entries commit when a
 * majority of a cluster of nodes has them, on libraft 0.15 (canonical
 * raft) with its libuv disk and TCP backend. Library target
 * mqs_repl_raft (links mqs_repl, raft, libuv).
 *
 *   propose ── leader: batched until flush ── raft_apply ──► replicated, committed ──► on_commit(index, rec, tag) on every node
 *           └─ not the leader, or over max_pending_bytes: refused (false)
 *
 * Batching: the records proposed between two flushes (one loop
 * iteration) become one raft entry (raft_entry.h: parts back to back), so
 * one append, one fsync and one message per follower carry them all;
 * nothing is proposed to libraft before flush. A batch the caller did not
 * flush is flushed by the log itself before the loop polls again (an idle
 * handle), so a proposal made after the caller's flush never waits for
 * the next wake-up.
 *
 * Every node calls on_commit for every committed record, in log order;
 * `index` is the raft index of its entry (never decreasing: the records
 * of one batch share it; with gaps where the log holds barriers and
 * configuration changes). `tag` is the proposal's tag
 * only on the node, and in the incarnation (process lifetime), that
 * proposed it; elsewhere, and for entries replayed after a restart, 0.
 *
 * Outcome unknown: when the leader loses leadership (or is closed), each
 * proposal not yet committed gets on_fail(tag, "leadership lost" /
 * "shutting down") exactly once, in proposal order, and never a tagged
 * on_commit afterwards. Such an entry may still be in the new leader's
 * log and commit later: it then arrives (on every node) with tag 0. The
 * caller must tolerate that: the store de-duplicates by (client id,
 * correlation data), so a retried request is answered from the first
 * outcome. A new leader appends a barrier at once, so such entries
 * commit (or are dropped) without waiting for the next write.
 *
 * propose_volatile is propose: in a cluster every entry is replicated and
 * written to disk (there is no non-durable path). flush hands the batch
 * to libraft (a proposal made after this node stopped leading fails there
 * with "leadership lost").
 *
 * Snapshots: when `snapshot_threshold` entries were applied since the
 * last snapshot, libraft asks for the state machine's bytes (`snapshot`,
 * on the loop) and stores them in the data directory in the background;
 * it compacts the log to the snapshot but `snapshot_trailing` entries.
 * A follower that lags behind the compacted log gets the snapshot and
 * calls `restore` with it, replacing its state machine; so does a node
 * that starts from a directory holding a snapshot (inside repl_raft_new).
 *
 * A process must ignore SIGPIPE (a peer that goes away mid-write).
 * Single-threaded: every call and callback on the loop thread, except
 * `snapshot_async`, which runs on a libuv worker thread.
 *
 * Transport: repl_raft_config.transport, a libraft transport the caller
 * made (and closes after the raft log closed: the raft log only hands it
 * to libraft, which calls its close callback while closing), e.g.
 * cluster/raft_tls.h, raft's traffic over mutual TLS; NULL: libraft's
 * plain TCP (raft_uv_tcp, made and released here). A transport reports
 * each accepted peer's raft id and address to libraft; the TCP one takes
 * them from an unauthenticated handshake, the TLS one checks them against
 * the peer's certificate.
 *
 * Addresses (members' and the node's own) may carry more than the raft
 * address: "RAFT|LINK" is dialed and bound as RAFT (everything before the
 * first '|'), so raft's configuration can carry each member's link
 * address for membership changes. The TLS transport parses it so; the
 * TCP one reads the host up to the first ':' and the port as a number
 * that stops at the '|' (an IPv4 RAFT only, as for any address it takes).
 * Either way the whole string is what raft's configuration, status and
 * on_role report. */
#ifndef MQS_REPL_RAFT_LOG_H
#define MQS_REPL_RAFT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "repl/log.h"

struct raft_uv_transport; /* <raft/uv.h> */

/* Longest "host:port" address (without the NUL). */
#define REPL_RAFT_ADDRESS_MAX 127
/* Most members a status reports (libraft has no limit; a cluster has 3 or 5). */
#define REPL_RAFT_MEMBERS_MAX 16
/* Default bound on the bytes of proposals not yet committed or failed
 * (repl_raft_config.max_pending_bytes): beyond it propose refuses. */
#define REPL_RAFT_PENDING_BYTES_DEFAULT (64u << 20)
/* Most linearizable reads waiting for barriers at once (repl_raft_barrier). */
#define REPL_RAFT_BARRIER_WAITERS_MAX 65536

/* Results of the asynchronous operations below (0: done). */
enum {
    REPL_RAFT_OK = 0,
    REPL_RAFT_ENOTLEADER, /* this node is not the leader (or is transferring leadership) */
    REPL_RAFT_ELOST,      /* leadership was lost before the operation completed: outcome unknown */
    REPL_RAFT_EBUSY,      /* another change of the same kind is in progress, or too many waiters */
    REPL_RAFT_EINVAL,     /* bad id or address (unknown, duplicate, too long) */
    REPL_RAFT_ESHUTDOWN,  /* the log is closing */
    REPL_RAFT_ETIMEDOUT,  /* a leadership transfer did not happen within the election timeout */
    REPL_RAFT_EFAILED,    /* anything else libraft reported (the log says what) */
};
const char *repl_raft_strerror(int code);

typedef struct repl_raft_member {
    uint64_t id;         /* >= 1 */
    const char *address; /* "host:port" */
} repl_raft_member;

/* What the `snapshot` callback hands over: either `data`/`len` (xmalloc'd,
 * owned by the raft log from then on), or `job` (non-NULL), which the
 * `snapshot_async` callback turns into data/len on a worker thread (e.g.
 * a forked child's output read back). */
typedef struct repl_raft_snapshot_out {
    uint8_t *data;
    size_t len;
    void *job;
} repl_raft_snapshot_out;

typedef struct repl_raft_config {
    uint64_t id;         /* this node, >= 1 */
    const char *address; /* this node's "host:port"; the TCP listener binds it */
    /* The initial members, the same full list on every node (each node
     * writes it as log entry 1 on first start; a directory that already
     * holds a log ignores it). A node that joins a running cluster
     * (repl_raft_add) is started with the cluster's initial list (which
     * need not contain it) or with none. */
    const repl_raft_member *members;
    size_t n_members;
    const char *dir; /* must exist; libraft's segments, metadata and snapshots */
    /* Borrowed until the log closed (then its owner closes it); NULL:
     * libraft's plain TCP transport. One raft log per transport. */
    struct raft_uv_transport *transport;
    /* Tuning; 0 takes the default (1000 ms, 100 ms, 1024, 2048). The
     * election timeout is randomised between 1x and 2x by libraft. */
    unsigned election_timeout_ms, heartbeat_ms;
    unsigned snapshot_threshold, snapshot_trailing;
    /* Bound on the entry bytes proposed here and not yet committed or
     * failed; propose refuses (false) beyond it. 0: the default. */
    size_t max_pending_bytes;

    repl_commit_fn on_commit;
    repl_fail_fn on_fail;
    void *ctx;
    /* The state machine's bytes as of the last on_commit. 0: done (out
     * filled); non-zero: no snapshot this time (libraft retries after the
     * next applied entries). */
    int (*snapshot)(void *ctx, repl_raft_snapshot_out *out);
    /* Optional: completes out->job (worker thread; must not touch loop
     * state). 0: out->data/len filled and the job released. */
    int (*snapshot_async)(void *ctx, repl_raft_snapshot_out *out);
    /* Replace the state machine with these bytes (borrowed). false: they
     * are refused (a snapshot sent by the leader is not installed; one
     * found in the directory at start makes repl_raft_new fail). */
    bool (*restore)(void *ctx, const uint8_t *data, size_t len);
    /* Optional: this node became or stopped being the leader, or the known
     * leader changed (leader_id 0, address "": none known). Checked once
     * per loop iteration. A new leader may not have applied every entry
     * committed by its predecessors yet: serve reads after a barrier. */
    void (*on_role)(void *ctx, bool is_leader, uint64_t leader_id, const char *leader_address);
} repl_raft_config;

/* Opens the log in cfg->dir and starts the node (listening on its
 * address, restoring a snapshot and loading entries from the directory).
 * Entries are delivered only once the node learns they are committed.
 * NULL on error, with a message in err. The log keeps no pointer into cfg. */
repl_log *repl_raft_new(uv_loop_t *loop, const repl_raft_config *cfg, char *err, size_t errlen);

/* Graceful close, asynchronous: fails every pending proposal (on_fail
 * "shutting down") and waiting read (REPL_RAFT_ESHUTDOWN) at once, then
 * calls nothing of the config again. `cb` (may be NULL) runs on the loop
 * once libraft has closed its files and sockets and `l` is released.
 * repl_log_free(l) is repl_raft_close(l, NULL, NULL).
 * The caller runs the loop until then and uses `l` no more. */
void repl_raft_close(repl_log *l, void (*cb)(void *ctx), void *ctx);

/* Completion of barrier, add, remove and transfer: a REPL_RAFT_* code. */
typedef void (*repl_raft_done_fn)(void *ctx, int status);

/* A linearizable read: `cb` runs once every entry committed before the
 * call has been applied here and this node was still the leader after
 * the call (a barrier entry committed). Reads waiting at once share one
 * barrier entry: at most one is in flight, the reads that arrive meanwhile
 * wait together for the next. Returns 0 (cb will run) or a code (it will
 * not). Barriers start, and cb runs, at the end of a loop iteration
 * (never inside this call or inside a libraft callback), so cb may
 * propose and ask for barriers. */
int repl_raft_barrier(repl_log *l, repl_raft_done_fn cb, void *ctx);

enum { REPL_RAFT_UNAVAILABLE, REPL_RAFT_FOLLOWER, REPL_RAFT_CANDIDATE, REPL_RAFT_LEADER };
enum { REPL_RAFT_STANDBY, REPL_RAFT_VOTER, REPL_RAFT_SPARE }; /* = libraft's role codes */

typedef struct repl_raft_member_status {
    uint64_t id;
    char address[REPL_RAFT_ADDRESS_MAX + 1];
    int role;             /* REPL_RAFT_VOTER, ... */
    uint64_t match_index; /* on the leader: highest index the member is known to hold; else 0 */
} repl_raft_member_status;

typedef struct repl_raft_status {
    uint64_t id;
    int state; /* REPL_RAFT_FOLLOWER, ... */
    uint64_t leader_id;
    char leader_address[REPL_RAFT_ADDRESS_MAX + 1];
    uint64_t term, last_index, commit_index, last_applied;
    uint64_t snapshot_index; /* last snapshot taken or installed (0: none) */
    uint64_t bad_entries;    /* entries skipped because their header did not decode */
    size_t n_members;        /* at most REPL_RAFT_MEMBERS_MAX reported */
    repl_raft_member_status members[REPL_RAFT_MEMBERS_MAX];
} repl_raft_status;

void repl_raft_status_get(repl_log *l, repl_raft_status *out);

/* The few figures a read index needs (src/server/cluster_read.c), cheap
 * enough for every read batch: no addresses, no per-member progress. */
typedef struct repl_raft_point {
    int state; /* REPL_RAFT_FOLLOWER, ... */
    uint64_t term, leader_id, commit_index, last_applied;
    unsigned n_voters; /* voters of the current configuration, this node included if it votes */
    uint64_t voters[REPL_RAFT_MEMBERS_MAX];
} repl_raft_point;
void repl_raft_point_get(repl_log *l, repl_raft_point *out);

/* Membership (on the leader; one change at a time). add: the node joins
 * as a spare, then is promoted to voter once it caught up (libraft's
 * catch-up rounds: from the log or a snapshot); the node must be running
 * (started without bootstrapping anything of its own, see members).
 * remove: the node leaves the configuration (a removed leader steps down
 * once the change commits). */
int repl_raft_add(repl_log *l, uint64_t id, const char *address, repl_raft_done_fn cb, void *ctx);
int repl_raft_remove(repl_log *l, uint64_t id, repl_raft_done_fn cb, void *ctx);

/* Leadership transfer to voter `id` (0: libraft picks a voter, the first
 * one that is up to date if any); cb
 * gets 0 once that node leads, REPL_RAFT_ETIMEDOUT if it did not within
 * the election timeout. Proposals are refused meanwhile. */
int repl_raft_transfer(repl_log *l, uint64_t id, repl_raft_done_fn cb, void *ctx);

#endif
