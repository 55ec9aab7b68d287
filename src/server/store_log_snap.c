/* Snapshots and log compaction of the durable log (docs/persistence.md,
 * "Snapshots and compaction"): rotation of the log on the thread pool, the
 * forked snapshot writer, install on the thread pool, retry with backoff,
 * and the synchronous snapshot of recovery. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "repl/file_log.h"
#include "server/store_log_impl.h"
#include "store/snapshot.h"
#include "util/clock.h"
#include "util/le.h"
#include "util/log.h"

/* --- snapshots and compaction ------------------------------------------------ */

void store_log__fsync_dir(const char *dir)
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
    o->err = store_log__write_all(o->fd, p, n);
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

void store_log__rotated_path(const store_log *sl, unsigned k, char *out, size_t n)
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
        store_log__rotated_path(sl, k, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_error("state store snapshot: cannot delete %s: %s", path, strerror(errno));
            return false;
        }
        if (k == 1) store_log__fsync_dir(sl->dir);
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
    store_log__fsync_dir(sl->dir);
    if (rename(sl->tmp_path, sl->snap_path) != 0) { /* the next start installs it */
        log_error("state store snapshot: cannot rename %s to %s: %s", sl->tmp_path, sl->snap_path, strerror(errno));
        return;
    }
    store_log__fsync_dir(sl->dir);
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
    struct stat st;
    sl->stats.snapshots++;
    sl->stats.last_snapshot_wall_ms = clock_wall_ms();
    sl->stats.last_snapshot_bytes = stat(sl->snap_path, &st) == 0 ? (uint64_t)st.st_size : 0;
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

static void snap_retry_fire(uv_timer_t *t) { store_log__maybe_snapshot(t->data); }

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
    store_log__rotated_path(sl, sl->rotated + 1, old, sizeof old);
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
    store_log__fsync_dir(sl->dir);
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
        store_log__broken(sl, "fsync", sl->rot_err, false);
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
    if (sl->pend_tags.n) store_log__flush(&sl->base); /* what waited for the rotation */
}

/* At a group boundary (nothing written and not yet committed, no fsync
 * in flight on the fd): rotate the log on the thread pool, then fork the
 * snapshot writer. After a failure (sl->rotated > 0) this is the retry,
 * whatever the log size: the log written since is rotated too (unless
 * empty), so the snapshot, as of sl->last_index, is exactly the end of the
 * last rotated log and covers the whole chain; the new log starts right
 * after it. */
void store_log__maybe_snapshot(store_log *sl)
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

/* Write the snapshot of the current state in this process (at start). */
bool store_log__snap_write_sync(store_log *sl)
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

/* At exit with a snapshot child running: wait for it (bounded by its
 * write) and install its result, so a clean stop leaves no .old. */
void store_log__snap_finish_at_exit(store_log *sl)
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
