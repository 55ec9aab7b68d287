/* The durable state store log: see store_log.h. Single-threaded on the
 * loop except the fsync itself, which runs on the thread pool while the
 * loop keeps serving; the work item touches only fd and sync_err. */
#include "server/store_log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "repl/file_log.h"
#include "store/record.h"
#include "store/snapshot.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/le.h"
#include "util/log.h"

/* A replay into an empty store sizes its key table for at most this many
 * records first (32 MiB of slots): a log of overwrites of a few keys must
 * not make the table huge. */
#define STORE_LOG_PRESIZE_MAX ((size_t)1 << 22)
/* How long writes are refused after a write or fsync error. */
#define STORE_LOG_RETRY_MS 1000
#define STORE_LOG_EVERYSEC_MS 1000
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
    uint64_t file_len;    /* bytes written (accepted by write(2)) */
    uint64_t durable_len; /* bytes known durable (mode always: fsynced) */
    bool dirty;           /* written since the last fsync started */
    /* The thread-pool fsync: for mode always, of `group`. */
    bool syncing;
    uv_work_t work;
    int sync_err;
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

static void maybe_snapshot(store_log *sl);

static void tags_push(tagvec *t, uint64_t tag, bool vol)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
        t->vol = xrealloc(t->vol, t->cap * sizeof *t->vol);
    }
    t->vol[t->n] = vol;
    t->v[t->n++] = tag;
}

static void swap_to_group(store_log *sl)
{
    assert(sl->group.len == 0 && sl->group_tags.n == 0);
    buf b = sl->group;
    sl->group = sl->pend;
    sl->pend = b;
    b = sl->group_vol;
    sl->group_vol = sl->pend_vol;
    sl->pend_vol = b;
    tagvec t = sl->group_tags;
    sl->group_tags = sl->pend_tags;
    sl->pend_tags = t;
}

static void group_clear(store_log *sl)
{
    sl->group.len = 0;
    sl->group_vol.len = 0;
    sl->group_tags.n = 0;
    buf_shrink(&sl->group, 1 << 20);
    buf_shrink(&sl->group_vol, 1 << 20);
}

static bool is_local(uint8_t type) { return type != REPL_FILE_STORE_RECORD; }

/* The next frame of entry i's buffer (durable or volatile). */
static repl_frame group_next(store_log *sl, size_t i, size_t *off, size_t *off_vol)
{
    const buf *b = sl->group_tags.vol[i] ? &sl->group_vol : &sl->group;
    size_t *o = sl->group_tags.vol[i] ? off_vol : off, used;
    repl_frame f;
    repl_frame_status st = repl_frame_next(b->data + *o, b->len - *o, &used, &f);
    assert(st == REPL_FRAME_OK);
    (void)st;
    *o += used;
    return f;
}

/* Commit every entry of the group in order (applied and answered); the
 * local records' owner hears once, after the store's, with the group's
 * last local sequence number. */
static void group_commit(store_log *sl)
{
    size_t off = 0, off_vol = 0;
    uint64_t local = 0;
    for (size_t i = 0; i < sl->group_tags.n; i++) {
        repl_frame f = group_next(sl, i, &off, &off_vol);
        uint64_t tag = sl->group_tags.v[i];
        if (!sl->group_tags.vol[i]) sl->last_index++;
        if (is_local(f.type)) local = tag;
        else sl->base.on_commit(sl->base.ctx, sl->last_index, f.payload, f.len, tag);
    }
    assert(off == sl->group.len && off_vol == sl->group_vol.len);
    group_clear(sl);
    if (local) {
        sl->local_durable = local;
        sl->local.committed(sl->local.ctx, local);
    }
    maybe_snapshot(sl);
}

/* The durable entries fail; the volatile ones among them still commit,
 * in order (they need no disk). */
static void group_fail(store_log *sl)
{
    size_t off = 0, off_vol = 0;
    bool local = false;
    for (size_t i = 0; i < sl->group_tags.n; i++) {
        repl_frame f = group_next(sl, i, &off, &off_vol);
        uint64_t tag = sl->group_tags.v[i];
        if (is_local(f.type)) local = true;
        else if (sl->group_tags.vol[i]) sl->base.on_commit(sl->base.ctx, sl->last_index, f.payload, f.len, tag);
        else if (sl->base.on_fail) sl->base.on_fail(sl->base.ctx, tag, sl->why);
    }
    group_clear(sl);
    if (local) sl->local.failed(sl->local.ctx, sl->local_durable, sl->why);
}

static void retry_fire(uv_timer_t *t)
{
    store_log *sl = t->data;
    sl->broken = false; /* the next flush tries to write again */
}

/* A write or fsync error: name it once per outage, refuse writes for a
 * while, and cut the file back to what is durable. */
static void log_broken(store_log *sl, const char *op, int err, bool truncate)
{
    snprintf(sl->why, sizeof sl->why, "the state store log cannot be written: %s", strerror(err));
    if (!sl->outage)
        log_error("state store log %s: %s failed: %s; writes are refused (__stat 503) and retried every %d ms",
                  sl->path, op, strerror(err), STORE_LOG_RETRY_MS);
    sl->outage = sl->broken = true;
    if (strcmp(op, "write") == 0) sl->write_failed = true;
    else sl->sync_failed = true;
    if (sl->sync_failed && sl->mode != STORE_FSYNC_ALWAYS)
        sl->dirty = true; /* the tick tries again, even without new writes */
    if (truncate) {       /* a failed write may have landed in part */
        if (ftruncate(sl->fd, (off_t)sl->durable_len) != 0)
            log_error("state store log %s: cannot truncate to %" PRIu64 ": %s", sl->path, sl->durable_len,
                      strerror(errno));
        sl->file_len = sl->durable_len;
    }
    if (!sl->closing) uv_timer_start(&sl->retry, retry_fire, STORE_LOG_RETRY_MS, 0);
}

static void outage_maybe_over(store_log *sl)
{
    if (!sl->outage || sl->write_failed || sl->sync_failed) return;
    log_info("state store log %s: writes resumed", sl->path);
    sl->outage = false;
}

static void sync_work(uv_work_t *w)
{
    store_log *sl = w->data;
    sl->sync_err = fsync(sl->fd) == 0 ? 0 : errno;
}

static void log_flush(repl_log *l);

static void sync_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->syncing = false;
    int err = status == 0 ? sl->sync_err : EIO;
    if (!err) {
        sl->sync_failed = false;
        outage_maybe_over(sl);
    }
    if (sl->mode != STORE_FSYNC_ALWAYS) {
        /* everysec: what was written is committed already. */
        if (err) log_broken(sl, "fsync", err, false);
        return;
    }
    if (err) {
        log_broken(sl, "fsync", err, true);
        group_fail(sl);
    } else {
        sl->durable_len = sl->file_len;
        group_commit(sl);
    }
    if (sl->pend_tags.n) log_flush(&sl->base); /* the next group */
}

static void sync_start(store_log *sl)
{
    assert(!sl->syncing);
    sl->syncing = true;
    sl->dirty = false;
    sl->work.data = sl;
    int rc = uv_queue_work(sl->loop, &sl->work, sync_work, sync_done);
    assert(rc == 0);
    (void)rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* --- snapshots and compaction ------------------------------------------------ */

static void fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    if (fsync(dfd) != 0) log_warn("persistence.dir %s: fsync of the directory failed: %s", dir, strerror(errno));
    close(dfd);
}

typedef struct snap_out {
    int fd;
    int err; /* the first write error */
} snap_out;

static bool snap_sink(void *ctx, const void *p, size_t n)
{
    snap_out *o = ctx;
    o->err = write_all(o->fd, p, n);
    return o->err == 0;
}

/* In the forked child: no libuv, no allocation, no logging. The exit
 * status is 0 or the errno of what failed (for the parent's message). */
/* The LOCL section: the sequence number of the last local record whose
 * effects the state includes (all appended so far: the owner applies
 * before writing), then the owner's records. In the forked child. */
static bool snap_locals(void *ctx, snapshot_emit_fn emit, void *emit_ctx)
{
    const store_log *sl = ctx;
    uint8_t seq[REPL_FILE_LOCAL_SEQ_BYTES];
    le_put_u64(seq, sl->local_last);
    snapshot_piece piece = {seq, sizeof seq};
    if (!emit(emit_ctx, REPL_FILE_LOCAL_SEQ, &piece, 1)) return false;
    return !sl->local.snapshot || sl->local.snapshot(sl->local.ctx, emit, emit_ctx);
}

static void snap_child(const store_log *sl, uint64_t last_index, pid_t parent)
{
    /* Die with the server: an orphan would hold its listening sockets
     * (a restart could not bind) and write a snapshot nobody installs. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(ESRCH);
    close(sl->lock_fd); /* the lock stays the parent's alone */
    snap_out o = {open(sl->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), 0};
    if (o.fd < 0) _exit(errno & 0xff ? errno & 0xff : EIO);
    int err = 0;
    if (!store_snapshot_write_ext(sl->svc, last_index, snap_locals, (void *)sl, snap_sink, &o))
        err = o.err ? o.err : EIO;
    else if (fsync(o.fd) != 0) err = errno;
    if (close(o.fd) != 0 && !err) err = errno;
    _exit(err & 0xff ? err & 0xff : err ? EIO : 0);
}

static void rotated_path(const store_log *sl, unsigned k, char *out, size_t n)
{
    char name[64];
    bool ok = repl_file_old_name(k, name, sizeof name);
    assert(ok);
    (void)ok;
    snprintf(out, n, "%s/%s", sl->dir, name);
}

/* Delete rotated logs 1..sl->rotated, oldest first: once the first is
 * gone, a complete tmp is taken (at start) to cover the rest. */
static bool rotated_delete(store_log *sl)
{
    char path[PATH_MAX];
    for (unsigned k = 1; k <= sl->rotated; k++) {
        rotated_path(sl, k, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_error("state store snapshot: cannot delete %s: %s", path, strerror(errno));
            return false;
        }
        if (k == 1) fsync_dir(sl->dir);
    }
    sl->rotated = 0;
    return true;
}

static void snap_failed(store_log *sl, const char *why);

/* Install a complete, fsynced tmp. Order matters for recovery: first
 * .old goes (the tmp covers it), then the rest of the chain, then the tmp
 * becomes the snapshot. A crash in between leaves a tmp without .old,
 * which the next start validates and installs (deleting the chain's
 * rest); a tmp next to .old is unfinished (deleted). False if a complete
 * tmp is left uninstalled: then no snapshot may start before the next
 * start installs it (a new one would overwrite it). If .old cannot be
 * deleted the tmp is discarded and the attempt counts as failed (true). */
static void snap_install_files(store_log *sl);
static bool snap_install_finish(store_log *sl);
static bool snap_install(store_log *sl)
{
    snap_install_files(sl);
    return snap_install_finish(sl);
}

/* The file work of snap_install, on any thread (it changes no loop state
 * but sl->rotated, the install_result and rot_why). */
static void snap_install_files(store_log *sl)
{
    if (access(sl->old_path, F_OK) == 0 && unlink(sl->old_path) != 0) { /* nothing changed: retry later */
        snprintf(sl->rot_why, sizeof sl->rot_why, "cannot delete %s: %s", REPL_FILE_LOG_OLD_NAME, strerror(errno));
        unlink(sl->tmp_path);
        sl->install_result = INSTALL_FAILED;
        return;
    }
    sl->install_result = INSTALL_LEFT;
    unsigned n = sl->rotated;
    if (!rotated_delete(sl)) return; /* the tmp covers what is left: the next start installs it */
    fsync_dir(sl->dir);
    if (rename(sl->tmp_path, sl->snap_path) != 0) { /* the next start installs it */
        log_error("state store snapshot: cannot rename %s to %s: %s", sl->tmp_path, sl->snap_path, strerror(errno));
        return;
    }
    fsync_dir(sl->dir);
    sl->install_result = INSTALL_OK;
    sl->rot_err = (int)n; /* rotated logs deleted, for the message */
}

/* On the loop, after snap_install_files: log, reset the backoff or retry.
 * False if a complete tmp is left uninstalled. */
static bool snap_install_finish(store_log *sl)
{
    if (sl->install_result == INSTALL_FAILED) {
        snap_failed(sl, sl->rot_why);
        return true;
    }
    if (sl->install_result == INSTALL_LEFT) return false;
    unsigned n = (unsigned)sl->rot_err;
    if (sl->snap_failures)
        log_info("state store snapshot %s installed after %u failed attempts; %u rotated logs deleted", sl->snap_path,
                 sl->snap_failures, n);
    else log_info("state store snapshot %s installed; %s deleted", sl->snap_path, sl->old_path);
    sl->snap_failures = 0;
    sl->snap_backoff_ms = 0;
    sl->snap_why[0] = 0;
    return true;
}

static void install_work(uv_work_t *w) { snap_install_files(w->data); }

static void install_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->installing = false;
    if (status != 0) sl->install_result = INSTALL_LEFT; /* cancelled: the next start installs it */
    if (!snap_install_finish(sl)) sl->snap_not_before = UINT64_MAX;
}

static void snap_retry_fire(uv_timer_t *t) { maybe_snapshot(t->data); }

/* A snapshot attempt failed (why: its cause); the rotated logs stay and
 * are covered by the next attempt, after a doubling backoff. Logged when
 * the cause differs from the last one logged. */
static void snap_failed(store_log *sl, const char *why)
{
    uint64_t delay = sl->snap_backoff_ms ? sl->snap_backoff_ms : STORE_LOG_SNAP_RETRY_MIN_MS;
    sl->snap_failures++;
    if (strcmp(why, sl->snap_why) != 0) {
        log_error("state store snapshot failed (%s); %u rotated log%s kept (%s%s), the server keeps serving and "
                  "retries in %" PRIu64 " s, then at doubling intervals up to %d s (logged again only if the cause "
                  "changes)",
                  why, sl->rotated, sl->rotated == 1 ? "" : "s", sl->old_path, sl->rotated > 1 ? ".N" : "",
                  delay / 1000, STORE_LOG_SNAP_RETRY_MAX_MS / 1000);
        snprintf(sl->snap_why, sizeof sl->snap_why, "%s", why);
    } else {
        log_debug("state store snapshot failed again (%s), attempt %u; next in %" PRIu64 " s", why, sl->snap_failures,
                  delay / 1000);
    }
    sl->snap_backoff_ms = delay * 2 < STORE_LOG_SNAP_RETRY_MAX_MS ? delay * 2 : STORE_LOG_SNAP_RETRY_MAX_MS;
    sl->snap_not_before = uv_now(sl->loop) + delay;
    if (!sl->closing) uv_timer_start(&sl->snap_poll, snap_retry_fire, delay, 0);
}

static void snap_poll_fire(uv_timer_t *t)
{
    store_log *sl = t->data;
    int status;
    pid_t r = waitpid(sl->child, &status, WNOHANG);
    if (r == 0) return;
    uv_timer_stop(&sl->snap_poll);
    sl->child = 0;
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        sl->installing = true;
        sl->snap_work.data = sl;
        int rc = uv_queue_work(sl->loop, &sl->snap_work, install_work, install_done);
        assert(rc == 0);
        (void)rc;
        return;
    }
    char why[96];
    if (r < 0) snprintf(why, sizeof why, "waitpid: %s", strerror(errno));
    else if (WIFSIGNALED(status)) snprintf(why, sizeof why, "the writer was killed by signal %d", WTERMSIG(status));
    else snprintf(why, sizeof why, "writing %s: %s", REPL_FILE_SNAP_TMP_NAME, strerror(WEXITSTATUS(status)));
    unlink(sl->tmp_path);
    snap_failed(sl, why);
}

/* Rename the current log to rotated log number sl->rotated + 1, create an
 * empty one and fsync the directory; on the thread pool (sl->rotating):
 * the new fd goes to rot_fd, a failure to rot_err and rot_why (nothing
 * changed then). */
static void log_rotate_files(store_log *sl)
{
    if (sl->rotated >= REPL_FILE_LOG_OLD_MAX) {
        sl->rot_err = EMLINK;
        snprintf(sl->rot_why, sizeof sl->rot_why, "%u rotated logs already", sl->rotated);
        return;
    }
    char old[PATH_MAX];
    rotated_path(sl, sl->rotated + 1, old, sizeof old);
    if (rename(sl->path, old) != 0) {
        sl->rot_err = errno;
        snprintf(sl->rot_why, sizeof sl->rot_why, "cannot rename %s: %s", REPL_FILE_LOG_NAME, strerror(errno));
        return;
    }
    int fd = open(sl->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) { /* keep appending to the renamed file: nothing is lost */
        sl->rot_err = errno;
        snprintf(sl->rot_why, sizeof sl->rot_why, "cannot create %s: %s", REPL_FILE_LOG_NAME, strerror(errno));
        if (rename(old, sl->path) != 0)
            log_error("state store log: cannot rename %s back to %s: %s", old, sl->path, strerror(errno));
        return;
    }
    fsync_dir(sl->dir);
    sl->rot_fd = fd;
}

static void rotate_work(uv_work_t *w)
{
    store_log *sl = w->data;
    if (sl->rot_sync && fsync(sl->fd) != 0) {
        sl->rot_err = errno;
        snprintf(sl->rot_why, sizeof sl->rot_why, "fsync");
        return;
    }
    if (sl->rot_rename) log_rotate_files(sl);
}

/* Fork the snapshot writer: the store is at the end of the last rotated
 * log (nothing was committed since). The fork is the loop's only pause. */
static void snap_fork(store_log *sl)
{
    char why[96];
    uint64_t t0 = uv_hrtime();
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) snap_child(sl, sl->last_index, parent);
    uint64_t pause = uv_hrtime() - t0;
    if (pid < 0) {
        snprintf(why, sizeof why, "fork: %s", strerror(errno));
        snap_failed(sl, why);
        return;
    }
    sl->child = pid;
    uv_timer_start(&sl->snap_poll, snap_poll_fire, STORE_LOG_SNAP_POLL_MS, STORE_LOG_SNAP_POLL_MS);
    log_info("state store snapshot: writing %s as of record %" PRIu64 " (child PID %ld, fork took %.3f ms%s)",
             sl->tmp_path, sl->last_index, (long)pid, (double)pause / 1e6, sl->snap_failures ? ", a retry" : "");
}

static void rotate_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->rotating = false;
    if (status != 0 && !sl->rot_err) { /* cancelled (shutdown): nothing ran */
        sl->rot_err = ECANCELED;
        snprintf(sl->rot_why, sizeof sl->rot_why, "cancelled");
    }
    if (sl->rot_err && strcmp(sl->rot_why, "fsync") == 0) {
        sl->dirty = true;
        log_broken(sl, "fsync", sl->rot_err, false);
    } else if (sl->rot_err) {
        snap_failed(sl, sl->rot_why);
    } else {
        if (sl->rot_fd >= 0) {
            close(sl->fd);
            sl->fd = sl->rot_fd;
            sl->file_len = sl->durable_len = 0;
            sl->rotated++;
        }
        if (!sl->closing) snap_fork(sl); /* else the next start folds the chain */
    }
    if (sl->pend_tags.n) log_flush(&sl->base); /* what waited for the rotation */
}

/* At a group boundary (nothing written and not yet committed, no fsync
 * in flight on the fd): rotate the log on the thread pool, then fork the
 * snapshot writer. After a failure (sl->rotated > 0) this is the retry,
 * whatever the log size: the log written since is rotated too (unless
 * empty), so the snapshot, as of sl->last_index, is exactly the end of the
 * last rotated log and covers the whole chain; the new log starts right
 * after it. */
static void maybe_snapshot(store_log *sl)
{
    bool retry = sl->rotated > 0;
    if ((!retry && (!sl->snap_bytes || sl->file_len < sl->snap_bytes)) || sl->child || sl->syncing || sl->broken ||
        sl->closing || sl->rotating || sl->installing || !sl->svc || sl->group_tags.n ||
        uv_now(sl->loop) < sl->snap_not_before)
        return;
    sl->rotating = true;
    sl->rot_sync = sl->mode == STORE_FSYNC_EVERYSEC && sl->dirty;
    sl->rot_rename = !retry || sl->file_len;
    sl->rot_fd = -1;
    sl->rot_err = 0;
    sl->rot_why[0] = 0;
    sl->dirty = false; /* the rotation fsyncs it (rot_sync), and no write happens meanwhile */
    sl->snap_work.data = sl;
    int rc = uv_queue_work(sl->loop, &sl->snap_work, rotate_work, rotate_done);
    assert(rc == 0);
    (void)rc;
}

static bool log_propose(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    store_log *sl = (store_log *)l;
    assert(tag != 0 && !sl->detached);
    if ((uint64_t)len > REPL_FRAME_MAX_PAYLOAD) return false;
    repl_frame_append(&sl->pend, REPL_FILE_STORE_RECORD, rec, len);
    tags_push(&sl->pend_tags, tag, false);
    return true;
}

/* Not written; it waits only for the entries ahead of it (apply order is
 * log order). With none ahead it commits here, like the in-memory log. */
static bool log_propose_volatile(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    store_log *sl = (store_log *)l;
    assert(tag != 0 && !sl->detached);
    if (!sl->pend_tags.n && !sl->group_tags.n) {
        sl->base.on_commit(sl->base.ctx, sl->last_index, rec, len, tag);
        return true;
    }
    if ((uint64_t)len > REPL_FRAME_MAX_PAYLOAD) return false;
    repl_frame_append(&sl->pend_vol, REPL_FILE_STORE_RECORD, rec, len);
    tags_push(&sl->pend_tags, tag, true);
    return true;
}

static void log_flush(repl_log *l)
{
    store_log *sl = (store_log *)l;
    if (!sl->pend_tags.n) return;
    if (sl->syncing && sl->mode == STORE_FSYNC_ALWAYS) return; /* joins the next group */
    if (sl->rotating) return;                                  /* flushed when it is done */
    swap_to_group(sl);
    if (sl->broken) {
        group_fail(sl);
        return;
    }
    if (!sl->group.len) { /* volatile entries only: nothing to write */
        group_commit(sl);
        return;
    }
    int err = write_all(sl->fd, sl->group.data, sl->group.len);
    if (err) {
        log_broken(sl, "write", err, true);
        group_fail(sl);
        return;
    }
    sl->write_failed = false;
    if (sl->mode != STORE_FSYNC_ALWAYS) outage_maybe_over(sl);
    sl->file_len += sl->group.len;
    if (sl->mode == STORE_FSYNC_ALWAYS) {
        sync_start(sl);
        return;
    }
    sl->durable_len = sl->file_len; /* survives a process crash */
    sl->dirty = true;
    group_commit(sl);
}

static void log_detach(repl_log *l) { ((store_log *)l)->detached = true; }

static void local_flush_run(uv_check_t *h)
{
    store_log *sl = h->data;
    uv_check_stop(&sl->local_flush);
    log_flush(&sl->base);
}

void store_log_set_local(store_log *sl, const store_log_local *l)
{
    assert(!sl->attached && l->committed && l->failed && l->replay);
    sl->local = *l;
}

bool store_log_accepting(const store_log *sl) { return !sl->broken && sl->attached && !sl->closing; }

uint64_t store_log_append_local(store_log *sl, uint8_t type, const uint8_t *p, size_t n)
{
    assert(type >= REPL_FILE_LOCAL_FIRST && type <= REPL_FILE_LOCAL_LAST && sl->local.committed);
    if (!store_log_accepting(sl) || (uint64_t)n > REPL_FRAME_MAX_PAYLOAD) return 0;
    sl->local_buf.len = 0;
    le_put_u64(buf_reserve(&sl->local_buf, REPL_FILE_LOCAL_SEQ_BYTES), ++sl->local_last);
    sl->local_buf.len = REPL_FILE_LOCAL_SEQ_BYTES;
    buf_append(&sl->local_buf, p, n);
    repl_frame_append(&sl->pend, type, sl->local_buf.data, sl->local_buf.len);
    buf_shrink(&sl->local_buf, 64 << 10);
    tags_push(&sl->pend_tags, sl->local_last, false);
    if (!uv_is_active((uv_handle_t *)&sl->local_flush)) uv_check_start(&sl->local_flush, local_flush_run);
    return sl->local_last;
}

static const repl_log_vtable store_log_vt = {
    .propose = log_propose,
    .flush = log_flush,
    .free = log_detach,
    .propose_volatile = log_propose_volatile,
};

static void tick_fire(uv_timer_t *t)
{
    store_log *sl = t->data;
    if (sl->dirty && !sl->syncing) sync_start(sl);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool take_lock(store_log *sl, char *err, size_t errlen)
{
    sl->lock_fd = open(sl->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (sl->lock_fd < 0) {
        snprintf(err, errlen, "persistence.dir %s: cannot open the lock file %s: %s", sl->dir, sl->lock_path,
                 strerror(errno));
        return false;
    }
    if (flock(sl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "unknown";
        ssize_t n = pread(sl->lock_fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = 0;
            pid[strcspn(pid, "\r\n")] = 0;
        }
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "persistence.dir %s is in use by another mqstated (PID %s, lock file %s)", sl->dir,
                     pid, sl->lock_path);
        else snprintf(err, errlen, "persistence.dir %s: cannot lock %s: %s", sl->dir, sl->lock_path, strerror(e));
        return false;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(sl->lock_fd, 0) != 0 || pwrite(sl->lock_fd, pid, (size_t)n, 0) != n)
        log_warn("persistence.dir %s: cannot write the PID to %s: %s", sl->dir, sl->lock_path, strerror(errno));
    return true;
}

static void on_closed(uv_handle_t *h)
{
    store_log *sl = h->data;
    sl->handles_open--;
}

store_log *store_log_new(uv_loop_t *loop, const char *dir, store_fsync_mode mode, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "persistence.dir %s: cannot create it: %s", dir, strerror(errno));
        return NULL;
    }
    store_log *sl = xcalloc(1, sizeof *sl);
    sl->base.vt = &store_log_vt;
    sl->loop = loop;
    sl->mode = mode;
    sl->dir = xstrdup(dir);
    sl->path = path_join(dir, REPL_FILE_LOG_NAME);
    sl->lock_path = path_join(dir, REPL_FILE_LOCK_NAME);
    sl->snap_path = path_join(dir, REPL_FILE_SNAP_NAME);
    sl->tmp_path = path_join(dir, REPL_FILE_SNAP_TMP_NAME);
    sl->old_path = path_join(dir, REPL_FILE_LOG_OLD_NAME);
    sl->fd = -1;
    if (!take_lock(sl, err, errlen)) {
        if (sl->lock_fd >= 0) close(sl->lock_fd);
        free(sl->dir);
        free(sl->path);
        free(sl->lock_path);
        free(sl->snap_path);
        free(sl->tmp_path);
        free(sl->old_path);
        free(sl);
        return NULL;
    }
    uv_timer_init(loop, &sl->retry);
    uv_timer_init(loop, &sl->tick);
    uv_timer_init(loop, &sl->snap_poll);
    uv_check_init(loop, &sl->local_flush);
    sl->retry.data = sl->tick.data = sl->snap_poll.data = sl->local_flush.data = sl;
    sl->handles_open = 4;
    if (mode == STORE_FSYNC_EVERYSEC)
        uv_timer_start(&sl->tick, tick_fire, STORE_LOG_EVERYSEC_MS, STORE_LOG_EVERYSEC_MS);
    return sl;
}

void store_log_set_snapshot_bytes(store_log *sl, uint64_t bytes) { sl->snap_bytes = bytes; }

typedef struct replay {
    store_log *sl;
    uint64_t base; /* index of the last record before this file */
} replay;

/* A local frame of a log: skipped if the snapshot includes it, else
 * handed to the owner without its sequence number. */
static const char *replay_local(store_log *sl, const repl_frame *f)
{
    if (f->len < REPL_FILE_LOCAL_SEQ_BYTES) return "a local record without its sequence number";
    le_reader r = le_reader_of(f->payload, REPL_FILE_LOCAL_SEQ_BYTES);
    uint64_t seq = le_get_u64(&r);
    if (seq <= sl->local_snap_seq) return NULL; /* its effects are in the snapshot */
    if (seq <= sl->local_last) return "local record sequence numbers go backwards";
    sl->local_last = seq;
    /* none kept now (e.g. persistence.retained: none): skipped, gone at the next snapshot */
    if (!sl->local.replay) return NULL;
    return sl->local.replay(sl->local.ctx, f->type, f->payload + REPL_FILE_LOCAL_SEQ_BYTES,
                            f->len - REPL_FILE_LOCAL_SEQ_BYTES);
}

/* A record of the snapshot's LOCL section. */
static const char *snap_local(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    store_log *sl = ctx;
    if (type == REPL_FILE_LOCAL_SEQ) {
        if (n != REPL_FILE_LOCAL_SEQ_BYTES) return "a local sequence mark of the wrong size";
        le_reader r = le_reader_of(p, n);
        sl->local_snap_seq = sl->local_last = le_get_u64(&r);
        return NULL;
    }
    return sl->local.replay ? sl->local.replay(sl->local.ctx, type, p, n) : NULL;
}

static const char *replay_frame(void *ctx, uint64_t index, size_t offset, const repl_frame *f)
{
    replay *rp = ctx;
    (void)offset;
    if (is_local(f->type)) return replay_local(rp->sl, f);
    store_record r;
    store_record_err e = store_record_decode(f->payload, f->len, &r);
    if (e != STORE_RECORD_OK) return "a record does not decode";
    rp->sl->base.on_commit(rp->sl->base.ctx, rp->base + index, f->payload, f->len, 0);
    return NULL;
}

/* Map fd's whole file (NULL with *n == 0 for an empty one). */
static bool map_file(const char *path, int fd, void **map, size_t *n)
{
    struct stat st;
    *map = NULL;
    if (fstat(fd, &st) != 0) {
        log_error("persistence: cannot stat %s: %s", path, strerror(errno));
        return false;
    }
    *n = (size_t)st.st_size;
    if (!*n) return true;
    *map = mmap(NULL, *n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (*map == MAP_FAILED) {
        log_error("persistence: cannot map %s: %s", path, strerror(errno));
        return false;
    }
    madvise(*map, *n, MADV_SEQUENTIAL);
    return true;
}

/* Load DIR/statestore.snap if it exists into svc; *index = its last index. */
static bool load_snapshot(store_log *sl, store_service *svc, uint64_t *index, uint64_t *keys)
{
    *index = *keys = 0;
    int fd = open(sl->snap_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return true;
        log_error("state store snapshot %s: cannot open: %s", sl->snap_path, strerror(errno));
        return false;
    }
    void *map;
    size_t n;
    bool ok = map_file(sl->snap_path, fd, &map, &n);
    close(fd);
    if (!ok) return false;
    char err[200];
    ok = store_snapshot_load_ext(svc, map ? map : "", n, index, snap_local, sl, err, sizeof err);
    if (map) munmap(map, n);
    if (!ok) {
        log_error("state store snapshot %s is damaged (%s); refusing to start (a snapshot is installed only "
                  "complete, so this is real damage). Inspect it with `mqstated persistence check %s`",
                  sl->snap_path, err, sl->dir);
        return false;
    }
    store_stats st;
    store_service_stats(svc, &st);
    *keys = st.keyspace.keys;
    return true;
}

/* Replay one log file from fd; newest: a torn tail is truncated (else it
 * is corruption). *frames = records replayed; *valid_end = clean length.
 * presize (an empty store): its key table is sized for the file's frames
 * first (no incremental rehashing; bounded by STORE_LOG_PRESIZE_MAX). */
static bool replay_file(store_log *sl, const char *path, int fd, bool newest, store_service *presize, uint64_t *frames,
                        size_t *valid_end)
{
    void *map;
    size_t n;
    if (!map_file(path, fd, &map, &n)) return false;
    repl_scan_result res = {REPL_SCAN_CLEAN, 0, 0, NULL};
    if (n && presize) {
        uint64_t records = repl_file_count_frames(map, n);
        store_service_reserve_keys(presize, records < STORE_LOG_PRESIZE_MAX ? (size_t)records : STORE_LOG_PRESIZE_MAX);
    }
    if (n) {
        replay rp = {sl, sl->last_index};
        repl_file_scan(map, n, replay_frame, &rp, &res);
        munmap(map, n);
    }
    *frames = res.frames;
    *valid_end = res.valid_end;
    sl->last_index += res.frames;
    if (res.status == REPL_SCAN_CORRUPT || (res.status == REPL_SCAN_TORN && !newest)) {
        log_error("state store log %s is corrupt at offset %zu (%s); refusing to start. Inspect it with "
                  "`mqstated persistence check %s`; `mqstated persistence repair %s` drops everything from that "
                  "offset on (keeping a backup; it repairs %s only)",
                  path, res.valid_end,
                  res.status == REPL_SCAN_TORN ? "cut short, and it is not the newest file" : res.why, sl->dir, sl->dir,
                  REPL_FILE_LOG_NAME);
        return false;
    }
    if (res.status == REPL_SCAN_TORN) {
        log_warn("state store log %s: torn tail at offset %zu (%zu bytes of an unfinished write) truncated", path,
                 res.valid_end, n - res.valid_end);
        if (ftruncate(fd, (off_t)res.valid_end) != 0 || fsync(fd) != 0) {
            log_error("state store log %s: cannot truncate the torn tail: %s", path, strerror(errno));
            return false;
        }
    }
    return true;
}

/* Replay rotated logs 1..sl->rotated in order; each must be whole. */
static bool replay_old(store_log *sl, uint64_t *frames)
{
    *frames = 0;
    char path[PATH_MAX];
    for (unsigned k = 1; k <= sl->rotated; k++) {
        rotated_path(sl, k, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_error("state store log %s: cannot open: %s", path, strerror(errno));
            return false;
        }
        size_t end;
        uint64_t n;
        bool ok = replay_file(sl, path, fd, false, NULL, &n, &end);
        close(fd);
        if (!ok) return false;
        *frames += n;
    }
    return true;
}

/* The rotated logs at start: sl->rotated = the length of the chain
 * 1, 2, ... that exists; *top = the highest number >= 2 present (0: none),
 * which is beyond the chain only after an install cut by a crash (then
 * with a complete tmp) or if the files were not left by mqstated. */
static bool rotated_scan(store_log *sl, unsigned *top)
{
    *top = 0;
    DIR *d = opendir(sl->dir);
    if (!d) {
        log_error("persistence.dir %s: cannot list it: %s", sl->dir, strerror(errno));
        return false;
    }
    const size_t pre = strlen(REPL_FILE_LOG_OLD_NAME);
    struct dirent *e;
    while ((e = readdir(d))) { /* the highest number k >= 2 present */
        const char *n = e->d_name;
        if (strncmp(n, REPL_FILE_LOG_OLD_NAME, pre) != 0 || n[pre] != '.' || n[pre + 1] < '1' || n[pre + 1] > '9')
            continue;
        char *end;
        unsigned long k = strtoul(n + pre + 1, &end, 10);
        if (*end == 0 && k >= 2 && k <= REPL_FILE_LOG_OLD_MAX && k > *top) *top = (unsigned)k;
    }
    closedir(d);
    char path[PATH_MAX];
    unsigned k = 1;
    for (; k <= REPL_FILE_LOG_OLD_MAX; k++) {
        rotated_path(sl, k, path, sizeof path);
        if (access(path, F_OK) != 0) break;
    }
    sl->rotated = k - 1;
    return true;
}

/* A tmp at start: next to .old it is an unfinished snapshot (deleted);
 * alone it is a complete one whose install was cut after .old was
 * deleted: it must be valid, and is installed; it covers the rest of the
 * chain (.old.2, ...), which is deleted. */
static bool finish_tmp(store_log *sl, bool has_old, unsigned top)
{
    if (has_old) {
        unlink(sl->tmp_path);
        log_warn("state store snapshot: deleted %s, left by a snapshot that did not complete", sl->tmp_path);
        return true;
    }
    char path[PATH_MAX];
    for (unsigned k = 2; k <= top; k++) { /* the chain's rest, if the cut came while deleting it */
        rotated_path(sl, k, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_error("state store snapshot: cannot delete %s: %s", path, strerror(errno));
            return false;
        }
    }
    fsync_dir(sl->dir);
    if (rename(sl->tmp_path, sl->snap_path) != 0) {
        log_error("state store snapshot: cannot rename %s to %s: %s", sl->tmp_path, sl->snap_path, strerror(errno));
        return false;
    }
    fsync_dir(sl->dir);
    log_warn("state store snapshot: installed %s, complete but left uninstalled by a crash", sl->snap_path);
    return true; /* load_snapshot validates it */
}

/* Write the snapshot of the current state in this process (at start). */
static bool snap_write_sync(store_log *sl)
{
    snap_out o = {open(sl->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640), 0};
    int e = o.fd < 0 ? errno : 0;
    if (!e && !store_snapshot_write_ext(sl->svc, sl->last_index, snap_locals, sl, snap_sink, &o))
        e = o.err ? o.err : EIO;
    else if (!e && fsync(o.fd) != 0) e = errno;
    if (o.fd >= 0 && close(o.fd) != 0 && !e) e = errno;
    if (e) { /* not fatal: the rotated logs stay and the run-time retry covers them */
        char why[96];
        snprintf(why, sizeof why, "writing %s: %s", REPL_FILE_SNAP_TMP_NAME, strerror(e));
        unlink(sl->tmp_path);
        snap_failed(sl, why);
        return true;
    }
    return snap_install(sl);
}

/* After a restore the server clock S is at least the persisted high-water
 * mark, normally at most STORE_LOG_CLOCK_MARK_MS ahead of the wall clock.
 * Far more means the wall clock went back (or ran ahead before): versions
 * keep increasing from S, which clients see as clock skew (the protocol's
 * 60 s limit) until the wall clock catches up. Say so once, at start. */
static void clock_behind_warn(const store_service *svc)
{
    hlc s = store_service_clock(svc);
    uint64_t now = clock_wall_ms();
    if (s.wall_ms <= now + STORE_LOG_CLOCK_MARK_MS + 1000) return;
    uint64_t ahead = s.wall_ms - now;
    log_warn("state store: the wall clock is %.1f s behind the newest version issued before this start (the "
             "persisted clock high-water mark); versions continue above it, so they stay increasing and fencing "
             "tokens stay valid, but %s",
             (double)ahead / 1000,
             ahead > HLC_MAX_SKEW_MS ? "while they are more than 60 s ahead of the clients' clocks, clients refuse the "
                                       "replies (clock drift) and requests carrying them get the timestamp skew "
                                       "error; fix the clock, or wait for it to catch up"
                                     : "replies carry versions ahead of the wall clock until it catches up");
}

repl_log *store_log_attach(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx)
{
    store_log *sl = arg;
    assert(!sl->attached);
    sl->attached = true;
    sl->base.on_commit = on_commit;
    sl->base.on_fail = on_fail;
    sl->base.ctx = ctx;
    sl->svc = svc;
    uint64_t t0 = uv_hrtime();
    unsigned top;
    if (!rotated_scan(sl, &top)) return NULL;
    bool has_old = sl->rotated > 0, tmp = access(sl->tmp_path, F_OK) == 0;
    if (top > sl->rotated && (has_old || !tmp)) { /* a gap in the chain, or no .old and no tmp covering the rest */
        log_error("state store log: %s/%s.%u exists but the rotated logs before it do not all exist (not left by "
                  "mqstated); refusing to start. Inspect the directory with `mqstated persistence check %s`",
                  sl->dir, REPL_FILE_LOG_OLD_NAME, top, sl->dir);
        return NULL;
    }
    if (tmp && !finish_tmp(sl, has_old, top)) return NULL;
    uint64_t snap_keys, old_frames = 0, frames;
    unsigned old_files = sl->rotated;
    if (!load_snapshot(sl, svc, &sl->last_index, &snap_keys) || !replay_old(sl, &old_frames)) return NULL;
    /* A crash (or a failed snapshot) left rotated logs: the state is now
     * snapshot + chain exactly; make that the snapshot here (synchronously,
     * before any listener). If it cannot be written, the chain stays and
     * the run-time retry covers it. */
    if (has_old && !snap_write_sync(sl)) return NULL;
    bool created = access(sl->path, F_OK) != 0;
    sl->fd = open(sl->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (sl->fd < 0) {
        log_error("state store log %s: cannot open: %s", sl->path, strerror(errno));
        return NULL;
    }
    if (created) fsync_dir(sl->dir); /* the new name must survive a power loss too */
    size_t end;
    if (!replay_file(sl, sl->path, sl->fd, true, sl->last_index == 0 ? svc : NULL, &frames, &end)) return NULL;
    sl->local_durable = sl->local_last; /* new local records continue above every one replayed */
    sl->file_len = sl->durable_len = end;
    /* Non-durable values in the log replaced durable ones (store_bridge.c):
     * their keys were not durable when the server stopped. */
    size_t dropped = store_service_drop_volatile(svc);
    log_info("state store restored in %.3f s: %" PRIu64 " keys from %s, %" PRIu64 " records from %s%s, %" PRIu64
             " records from %s, %zu keys without a durable value dropped (fsync: %s)",
             (double)(uv_hrtime() - t0) / 1e9, snap_keys, sl->snap_path, old_frames, sl->old_path,
             old_files > 1 ? " and its retries' .N" : "", frames, sl->path, dropped,
             sl->mode == STORE_FSYNC_ALWAYS     ? "always"
             : sl->mode == STORE_FSYNC_EVERYSEC ? "everysec"
                                                : "no");
    clock_behind_warn(svc);
    return &sl->base;
}

void store_log_shutdown(store_log *sl)
{
    if (!sl || sl->closing) return;
    if (sl->attached && sl->pend.len) log_flush(&sl->base); /* local records of the last iteration */
    sl->closing = true;
    uv_close((uv_handle_t *)&sl->retry, on_closed);
    uv_close((uv_handle_t *)&sl->tick, on_closed);
    uv_close((uv_handle_t *)&sl->snap_poll, on_closed);
    uv_close((uv_handle_t *)&sl->local_flush, on_closed);
}

/* At exit with a snapshot child running: wait for it (bounded by its
 * write) and install its result, so a clean stop leaves no .old. */
static void snap_finish_at_exit(store_log *sl)
{
    int status;
    pid_t r;
    while ((r = waitpid(sl->child, &status, 0)) < 0 && errno == EINTR) {}
    sl->child = 0;
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) (void)snap_install(sl);
    else {
        log_error("state store snapshot into %s failed at exit; %s is kept (replayed at the next start)", sl->tmp_path,
                  sl->old_path);
        unlink(sl->tmp_path);
    }
}

void store_log_free(store_log *sl)
{
    if (!sl) return;
    assert(!sl->syncing && !sl->rotating && !sl->installing && (sl->handles_open == 0 || !sl->closing));
    if (sl->handles_open) log_warn("store_log_free: not shut down (loop not run?)");
    if (sl->fd >= 0) {
        if (sl->mode != STORE_FSYNC_NO && sl->file_len && fsync(sl->fd) != 0)
            log_error("state store log %s: fsync at exit failed: %s", sl->path, strerror(errno));
        close(sl->fd);
    }
    if (sl->child) snap_finish_at_exit(sl);
    if (sl->lock_fd >= 0) close(sl->lock_fd); /* releases the lock */
    buf_free(&sl->pend);
    buf_free(&sl->local_buf);
    buf_free(&sl->group);
    buf_free(&sl->pend_vol);
    buf_free(&sl->group_vol);
    free(sl->pend_tags.v);
    free(sl->group_tags.v);
    free(sl->pend_tags.vol);
    free(sl->group_tags.vol);
    free(sl->dir);
    free(sl->path);
    free(sl->lock_path);
    free(sl->snap_path);
    free(sl->tmp_path);
    free(sl->old_path);
    free(sl);
}
