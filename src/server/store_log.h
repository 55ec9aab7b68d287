/* The durable state store log (issue 11): repl/log.h implemented on one
 * append-only file DIR/statestore.log (format and recovery scan:
 * repl/file_log.h), integrated with the loop here: records proposed during
 * one loop iteration are written together at the bridge's flush (one
 * write(2)), fsynced according to the fsync mode, and committed (applied
 * and answered) in order:
 *
 *   always    after the fdatasync of their group completed: on the loop
 *             while the disk is fast (the replies leave in the same
 *             iteration), on the libuv thread pool after a slow one
 *             (STORE_LOG_INLINE_SYNC_MAX_NS); proposals made while a
 *             thread-pool fsync is in flight form the next group
 *   everysec  after the write; a timer fsyncs once a second
 *   no        after the write; never fsynced here
 *
 * A write or fsync error fails the proposals that are not durable (their
 * writers get __stat 503 naming the error), truncates the file back to its
 * last durable length, logs once, refuses writes for a second and then
 * tries again, so writes resume by themselves when space returns.
 *
 * DIR/LOCK is flock()ed for the process lifetime: one mqstated per dir. */
#ifndef MQS_SERVER_STORE_LOG_H
#define MQS_SERVER_STORE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "repl/log.h"
#include "store/service.h"
#include "store/snapshot.h"

typedef enum store_fsync_mode {
    STORE_FSYNC_ALWAYS,
    STORE_FSYNC_EVERYSEC,
    STORE_FSYNC_NO,
} store_fsync_mode;

/* How far ahead of the server clock the bridge keeps the HLC high-water
 * mark (a CLOCK record) in the log: after a crash the clock resumes at
 * most this far ahead of real time. */
#define STORE_LOG_CLOCK_MARK_MS 2000

typedef struct store_log store_log;

/* flock() the lock file lock_path of dir (its name: REPL_FILE_LOCK_NAME)
 * for the process lifetime and write the PID into it: the descriptor, or
 * -1 with a message naming the dir and the PID holding it. */
int store_log_lock(const char *dir, const char *lock_path, char *err, size_t errlen);

/* Create dir if missing (one level) and take its lock. NULL with a message
 * in err (naming the dir, and the PID holding the lock) on failure. */
store_log *store_log_new(uv_loop_t *loop, const char *dir, store_fsync_mode mode, char *err, size_t errlen);

/* fsync always: an fdatasync that takes longer than this many ns sends
 * the next ones to the thread pool until one there is this fast again
 * (default STORE_LOG_INLINE_SYNC_MAX_NS); 0: always on the thread pool,
 * UINT64_MAX: always on the loop.
 * Before store_log_attach (tests use 0 to reach the thread-pool path). */
void store_log_set_inline_sync_max(store_log *sl, uint64_t ns);

/* Take a snapshot (and compact the log) whenever the log file exceeds this
 * many bytes; 0 = never. Before store_log_attach. */
void store_log_set_snapshot_bytes(store_log *sl, uint64_t bytes);

/* A store_bridge_log_fn (arg: the store_log): delete a leftover snapshot
 * temp file (or install a complete one), load DIR/statestore.snap (if any)
 * into svc, replay the rotated logs statestore.log.old, .old.2, ... (if
 * any; folded into a new snapshot at once) and statestore.log through
 * on_commit (tag 0) in order, truncate a torn tail of the newest file, and
 * return the log. NULL (logged, naming file, offset and the check command)
 * if a file is corrupt or cannot be read. Once per store_log.
 *
 * A snapshot that fails at run time is retried with a doubling backoff;
 * each retry rotates the log again (docs/persistence.md). */
repl_log *store_log_attach(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx);

/* Local records: the node's other durable state (the broker's retained
 * messages and sessions) in the same file, as frames of types
 * REPL_FILE_LOCAL_FIRST..LAST next to the store's: one write and one
 * fsync per group for both. They have their own sequence numbers
 * (1, 2, ... in append order); the owner learns, in group order, that
 * every local record <= seq is durable (committed: fsync always after
 * the group's fsync, everysec/no after its write) or that those after
 * `durable` never will be (failed, `why` naming the error). */
typedef struct store_log_local {
    void (*committed)(void *ctx, uint64_t seq);
    void (*failed)(void *ctx, uint64_t durable, const char *why);
    /* At start, each local record of the snapshot's LOCL section, then of
     * .old, then of the log, in order: NULL or why it is corrupt. */
    const char *(*replay)(void *ctx, uint8_t type, const uint8_t *p, size_t n);
    /* In the forked snapshot child: emit the whole local state. */
    snapshot_locals_fn snapshot;
    void *ctx;
} store_log_local;
/* Before store_log_attach; l is copied. */
void store_log_set_local(store_log *sl, const store_log_local *l);
/* Append one local record (copied); its sequence number, or 0 while writes
 * are refused (after a write or fsync error, until the retry). Written
 * with the next group (this loop iteration). */
uint64_t store_log_append_local(store_log *sl, uint8_t type, const uint8_t *p, size_t n);
/* false while store_log_append_local would refuse. */
bool store_log_accepting(const store_log *sl);

/* Stop the timers; the loop then runs dry (an fsync in flight completes
 * and commits). After store_bridge_shutdown. */
void store_log_shutdown(store_log *sl);
/* After the loop ran dry and the bridge (which frees the repl_log, a view
 * of this object) was freed: fsync what was written, unlock, free. */
void store_log_free(store_log *sl);

/* Counters for the metrics endpoint (docs/metrics.md), since the start. */
typedef struct store_log_stats {
    uint64_t file_bytes;                                 /* the current log file's length */
    uint64_t records_written;                            /* durable frames written (store and broker records) */
    uint64_t fsyncs;                                     /* successful fsyncs of the log */
    uint64_t write_errors;                               /* failed writes and fsyncs */
    uint64_t snapshots;                                  /* snapshots installed */
    uint64_t last_snapshot_wall_ms, last_snapshot_bytes; /* 0: none installed since the start */
} store_log_stats;
void store_log_get_stats(const store_log *sl, store_log_stats *out);

#endif
