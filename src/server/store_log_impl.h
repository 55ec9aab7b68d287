/* Private to src/server/store_log*.c: the durable log's state, shared by
 * its two files: store_log.c (group commit, fsync, local records,
 * recovery) and store_log_snap.c (snapshots: rotation, the forked writer,
 * install and retry). Loop-thread state except where a field says the
 * thread-pool worker owns it. */
#ifndef MQS_SERVER_STORE_LOG_IMPL_H
#define MQS_SERVER_STORE_LOG_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "server/store_log.h"
#include "util/buf.h"

/* A replay into an empty store sizes its key table for at most this many
 * records first (32 MiB of slots): a log of overwrites of a few keys must
 * not make the table huge. */
#define STORE_LOG_PRESIZE_MAX ((size_t)1 << 22)
/* How long writes are refused after a write or fsync error. */
#define STORE_LOG_RETRY_MS 1000
#define STORE_LOG_EVERYSEC_MS 1000
/* fsync always: a group's fsync runs on the loop while fsyncs take at
 * most this long; a slower one sends the next ones to the thread pool
 * (the loop keeps serving meanwhile) until one there is this fast again.
 * It bounds how long a slow disk stops the loop: one fsync. */
#define STORE_LOG_INLINE_SYNC_MAX_NS 2000000
/* How often the parent polls waitpid for the snapshot child. */
#define STORE_LOG_SNAP_POLL_MS 100
/* After a failed snapshot the next attempt waits this long, doubling
 * after each further failure up to the maximum. */
#define STORE_LOG_SNAP_RETRY_MIN_MS 10000
#define STORE_LOG_SNAP_RETRY_MAX_MS 300000

/* Entries in proposal order: their tags, and whether each is volatile
 * (its frame in the *_vol buffer, never written) or durable. */
typedef struct tagvec {
    uint64_t *v;
    bool *vol;
    size_t n, cap;
} tagvec;

struct store_log {
    repl_log base; /* first: a repl_log * is a store_log * */
    uv_loop_t *loop;
    store_fsync_mode mode;
    char *dir, *path, *lock_path;
    int fd, lock_fd;
    bool attached, detached, closing;
    /* Proposed since the last flush / being written or synced. */
    buf pend, group;         /* durable frames: written */
    buf pend_vol, group_vol; /* volatile frames: ordered, never written */
    tagvec pend_tags, group_tags;
    uint64_t last_index;
    uint64_t file_len;     /* bytes written (accepted by write(2)) */
    uint64_t durable_len;  /* bytes known durable (mode always: fsynced) */
    store_log_stats stats; /* store_log_get_stats (file_bytes filled there) */
    bool dirty;            /* written since the last fsync started */
    /* The thread-pool fsync: for mode always, of `group`. */
    bool syncing;
    uv_work_t work;
    int sync_err;
    uint64_t sync_ns;             /* how long the last fsync took (written by the worker while syncing) */
    bool sync_on_loop;            /* mode always: the next group's fsync runs on the loop (fast disk) */
    uint64_t sync_on_loop_max_ns; /* above this, the next fsync goes to the thread pool */
    /* After an error: writes refused until the retry timer fires. An
     * outage (logged once) lasts until each failed operation succeeded
     * again (mode always: a write only counts once its fsync did). */
    bool broken, outage, write_failed, sync_failed;
    char why[160];
    uv_timer_t retry, tick;
    int handles_open;
    /* Snapshots (docs/persistence.md): at most one child at a time. */
    const store_service *svc; /* the bridge's; outlives the log */
    char *snap_path, *tmp_path, *old_path;
    uint64_t snap_bytes;      /* 0: never */
    uint64_t snap_not_before; /* uv_now after a failure; UINT64_MAX: never */
    pid_t child;              /* 0: none */
    uv_timer_t snap_poll;     /* polls the child; after a failure, the retry */
    /* Rotated logs not yet covered by an installed snapshot: 1..rotated
     * (repl_file_old_name). Non-zero only after a failed snapshot (or
     * while one runs); a retry covers them all plus the current log. */
    unsigned rotated;
    uint64_t snap_backoff_ms; /* the next retry's delay; 0: no failure */
    unsigned snap_failures;   /* since the last installed snapshot */
    char snap_why[96];        /* the failure last logged (logged once per kind) */
    /* The rotation before the fork and the install after the child run on
     * the thread pool: their fsyncs, and the release of the replaced
     * snapshot's blocks in rename(2), take milliseconds the loop keeps
     * serving reads in. While `rotating`, flushes wait (the store must stay
     * at the end of the rotated log, which is what the child writes); at
     * most one of the two is in flight, and the worker owns the log's
     * files and fds meanwhile (the loop touches neither). */
    uv_work_t snap_work;
    bool rotating, installing;
    bool rot_sync;   /* everysec: fsync the log before renaming it */
    bool rot_rename; /* rotate (false: a retry with an empty log forks only) */
    int rot_fd;      /* the new log; -1: none */
    int rot_err;     /* errno of the failed step; 0: none */
    char rot_why[96];
    enum { INSTALL_OK, INSTALL_FAILED, INSTALL_LEFT } install_result;
    /* Local records (store_log_local): tag = their sequence number. */
    store_log_local local;
    uint64_t local_last, local_durable;
    uint64_t local_snap_seq; /* at start: the last local record the snapshot includes */
    buf local_buf;           /* a local record with its sequence number in front */
    uv_check_t local_flush;  /* flushes a group that only local records started */
};

/* store_log.c */
/* write(2) all of p[0..n): 0 or the errno. */
int store_log__write_all(int fd, const uint8_t *p, size_t n);
/* A write or fsync failed: fail what is not durable, refuse writes for a while. */
void store_log__broken(store_log *sl, const char *op, int err, bool truncate);
/* Write (and sync, per mode) what was proposed since the last flush. */
void store_log__flush(repl_log *l);

/* store_log_snap.c */
void store_log__fsync_dir(const char *dir);
/* The path of rotated log number k >= 1 into out. */
void store_log__rotated_path(const store_log *sl, unsigned k, char *out, size_t n);
/* At a group boundary: start a snapshot if one is due (or a retry). */
void store_log__maybe_snapshot(store_log *sl);
/* At start: write and install a snapshot of the current state in this
 * process. False if a complete tmp was left uninstalled. */
bool store_log__snap_write_sync(store_log *sl);
/* At exit: wait for a running snapshot child and install its snapshot. */
void store_log__snap_finish_at_exit(store_log *sl);

#endif
