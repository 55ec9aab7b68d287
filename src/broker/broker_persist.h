/* Durable retained messages and sessions (issue 11, docs/persistence.md):
 * the broker's side of the seam to the node's log.
 *
 * The broker keeps its state in memory and reports every change of
 * durable state, as it happens, as one record appended to the sink the
 * server gives it (the node's log file, shared with the state store's
 * records: one write and one fsync per loop iteration for both). The broker
 * never waits for the disk itself; what waits is the *promise*:
 *
 *   - an acknowledgement that promises durability (PUBACK, PUBREC,
 *     PUBCOMP of an inbound packet that appended records), and
 *   - an outbound QoS 2 PUBLISH / PUBREL of a durable session (whose
 *     packet id and state must survive a restart, or exactly-once breaks)
 *
 * are held back, in the connection's output order (everything sent to
 * that connection after them waits too), until the sink reports the
 * records up to theirs committed (broker_persist_committed).
 *
 * Sequence numbers: the sink numbers appended records 1, 2, ... in append
 * order; committed(seq) means every record <= seq is durable. Records a
 * sink has accepted are either all committed in order or, from some point
 * on, failed (broker_persist_failed): then the promises waiting on them
 * are not kept (the connections holding them are closed with reason 0x80,
 * so their clients retry), and the sink refuses new records (append
 * returns 0) until it recovers; meanwhile the broker refuses QoS 1/2
 * PUBLISHes that would append records (PUBACK / PUBREC 0x97) without
 * routing them.
 *
 * At start, before any listener opens, the server feeds the records of
 * the snapshot's broker section and then of the log back, in order, with
 * broker_persist_replay, then calls broker_persist_replay_done. Snapshots:
 * broker_persist_snapshot writes the whole durable state as records, in
 * an order that replays to the same state.
 *
 * Record types are frame types of the log (repl/frame.h): 1 is the state
 * store's record; the broker owns BROKER_REC_FIRST..BROKER_REC_LAST. Every
 * record's payload starts with a format version byte (1). Times in records
 * are wall-clock Unix milliseconds (absolute deadlines), converted to and
 * from the broker's monotonic clock at the edges. */
#ifndef MQS_BROKER_PERSIST_H
#define MQS_BROKER_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

#define BROKER_REC_FIRST 16
#define BROKER_REC_RETAIN 16 /* a retained message set (payload) or cleared (no payload) */
/* 17..31: sessions (session, subscription, message, delivery and inbound
 * QoS 2 records: src/broker/persist_session.c). */
#define BROKER_REC_LAST 31

typedef struct broker_persist_sink {
    /* Append one record; p[0..n) valid during the call only. Returns its
     * sequence number (> 0, increasing), or 0 if the sink refuses records
     * now (a write error it has not recovered from). */
    uint64_t (*append)(void *ctx, uint8_t type, const uint8_t *p, size_t n);
    /* Would append take a record now? (false while it refuses; NULL:
     * always). Asked before a QoS 1/2 PUBLISH that would append records
     * is accepted, so that it is refused (0x97) without being routed. */
    bool (*accepting)(void *ctx);
    void *ctx;
} broker_persist_sink;

typedef enum broker_persist_mode {
    BROKER_PERSIST_NONE,
    BROKER_PERSIST_ALL,
    BROKER_PERSIST_SOME, /* those matched by the list */
} broker_persist_mode;

/* What is durable (config persistence.retained / persistence.sessions). */
typedef struct broker_persist_select {
    broker_persist_mode retained;
    const mqtt_bytes *retained_topics; /* SOME: topic filters a retained topic is matched against */
    uint32_t n_retained_topics;
    broker_persist_mode sessions;
    /* SOME: is the session of this client id durable? The server matches
     * its configured patterns (ssproto/glob.h, which the broker may not
     * include); called with session_match_ctx, which must outlive the broker. */
    bool (*session_match)(void *ctx, mqtt_bytes client_id);
    void *session_match_ctx;
    /* Cluster mode (src/server/cluster_records.h): the records are
     * replicated state, applied with broker_persist_apply when the
     * replicated log commits them, on every node in commit order, this
     * one included. Appending a RETAIN record then leaves the retained
     * store as it is (the change comes back when committed), and a clear
     * is appended even if the topic holds nothing here (another node's set
     * may be on its way). */
    bool apply_on_commit;
} broker_persist_select;

/* Turn durability on (before replay and before any client connects).
 * The selection is copied. sink must outlive the broker's use of it. */
void broker_set_persistence(broker *b, const broker_persist_sink *sink, const broker_persist_select *sel);

/* The sink: every record <= seq is durable. */
void broker_persist_committed(broker *b, uint64_t seq);
/* The sink: the records after `durable` (the last durable sequence
 * number) will never be durable; `why` names the error (static text). */
void broker_persist_failed(broker *b, uint64_t durable, const char *why);

/* Replay one record (at start, in log order). NULL, or a short static
 * text saying why the record is corrupt (the server refuses to start). */
const char *broker_persist_replay(broker *b, uint8_t type, const uint8_t *p, size_t n);

/* Cluster mode (apply_on_commit): apply one committed record at run
 * time, on every node, in commit order. NULL, or a short static text
 * saying why it was not applied (then nothing changed). RETAIN records
 * only in this phase: session records are refused ("session records are
 * not replicated"); see src/server/cluster_records.h for what phase 2
 * adds. */
const char *broker_persist_apply(broker *b, uint8_t type, const uint8_t *p, size_t n);
/* Cluster mode: a raft snapshot replaces the replicated state: drop it
 * (the retained messages of selected topics) before the snapshot's
 * records are applied with broker_persist_apply. */
void broker_persist_reset(broker *b);

/* Check one record without a broker (mqstated persistence check): NULL,
 * or why it is corrupt. RETAIN records are decoded strictly; session
 * records are checked for their version byte only (persist.c; the
 * session code may check more). */
const char *broker_persist_check(uint8_t type, const uint8_t *p, size_t n);

typedef struct broker_persist_restored {
    uint64_t retained; /* retained messages restored */
    uint64_t sessions; /* sessions restored */
    uint64_t messages; /* messages queued or in flight in them */
} broker_persist_restored;

/* Replay is over: drop what replay kept aside, drop what expired while
 * the server was down, start the offline sessions' expiry. */
void broker_persist_replay_done(broker *b, broker_persist_restored *out);

/* One piece of a record being written by a snapshot (records are written
 * in pieces so that a message body is not copied). */
typedef struct broker_persist_piece {
    const void *p;
    size_t n;
} broker_persist_piece;
/* Write one record made of pieces[0..n) (their concatenation is the
 * payload). Returns false on a write error. */
typedef bool (*broker_persist_write_fn)(void *ctx, uint8_t type, const broker_persist_piece *pieces, unsigned n);

/* Write the whole durable state as records through fn. Runs in the forked
 * snapshot child: it must not allocate (another thread may have held the
 * allocator's lock at fork) and must not touch libuv. Returns false if fn
 * failed. */
bool broker_persist_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx);

#endif
