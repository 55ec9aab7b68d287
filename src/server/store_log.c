/* The durable state store log: see store_log.h. Single-threaded on the
 * loop except the fsync itself, which runs on the thread pool while the
 * loop keeps serving; the work item touches only fd and sync_err. */
#include "server/store_log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "repl/file_log.h"
#include "store/record.h"
#include "store/snapshot.h"
#include "util/alloc.h"
#include "util/buf.h"
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
/* After a failed snapshot, none starts for this long. */
#define STORE_LOG_SNAP_BACKOFF_MS 60000

typedef struct tagvec {
    uint64_t *v;
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
    buf pend, group;
    tagvec pend_tags, group_tags;
    uint64_t last_index;
    uint64_t file_len;    /* bytes written (accepted by write(2)) */
    uint64_t durable_len; /* bytes known durable (mode always: fsynced) */
    bool dirty;           /* written since the last fsync started */
    /* The thread-pool fsync: for mode always, of `group`. */
    bool syncing;
    uv_work_t work;
    int sync_err;
    /* After an error: writes refused until the retry timer fires. */
    bool broken, outage;
    char why[160];
    uv_timer_t retry, tick;
    int handles_open;
    /* Snapshots (docs/persistence.md): at most one child at a time. */
    const store_service *svc; /* the bridge's; outlives the log */
    char *snap_path, *tmp_path, *old_path;
    uint64_t snap_bytes;      /* 0: never */
    uint64_t snap_not_before; /* uv_now after a failure */
    pid_t child;              /* 0: none */
    uv_timer_t snap_poll;
    /* The rotation before the fork and the install after the child run on
     * the thread pool: their fsyncs and the release of the replaced
     * snapshot's blocks take milliseconds the loop keeps serving reads in.
     * While `rotating`, flushes wait (the store stays at the end of the
     * rotated log, which is what the child must write); at most one of
     * the two is in flight, and the worker owns the files meanwhile. */
    uv_work_t snap_work;
    bool rotating, installing;
    bool rot_sync;        /* everysec: fsync the log before renaming it */
    int rot_fd;           /* the new log (-1: the rotation failed) */
    int rot_err;          /* errno of rot_step */
    const char *rot_step; /* "fsync", "rename" or "create" */
    bool install_ok;
};

static void maybe_snapshot(store_log *sl);

static void tags_push(tagvec *t, uint64_t tag)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n++] = tag;
}

static void swap_to_group(store_log *sl)
{
    assert(sl->group.len == 0 && sl->group_tags.n == 0);
    buf b = sl->group;
    sl->group = sl->pend;
    sl->pend = b;
    tagvec t = sl->group_tags;
    sl->group_tags = sl->pend_tags;
    sl->pend_tags = t;
}

static void group_clear(store_log *sl)
{
    sl->group.len = 0;
    sl->group_tags.n = 0;
    buf_shrink(&sl->group, 1 << 20);
}

/* Commit every frame of the group in order (applied and answered). */
static void group_commit(store_log *sl)
{
    size_t off = 0, i = 0, used;
    repl_frame f;
    while (off < sl->group.len) {
        repl_frame_status st = repl_frame_next(sl->group.data + off, sl->group.len - off, &used, &f);
        assert(st == REPL_FRAME_OK && i < sl->group_tags.n);
        (void)st;
        sl->base.on_commit(sl->base.ctx, ++sl->last_index, f.payload, f.len, sl->group_tags.v[i++]);
        off += used;
    }
    group_clear(sl);
    maybe_snapshot(sl);
}

static void group_fail(store_log *sl)
{
    for (size_t i = 0; i < sl->group_tags.n; i++)
        if (sl->base.on_fail) sl->base.on_fail(sl->base.ctx, sl->group_tags.v[i], sl->why);
    group_clear(sl);
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
    if (truncate) { /* a failed write may have landed in part */
        if (ftruncate(sl->fd, (off_t)sl->durable_len) != 0)
            log_error("state store log %s: cannot truncate to %" PRIu64 ": %s", sl->path, sl->durable_len,
                      strerror(errno));
        sl->file_len = sl->durable_len;
    }
    if (!sl->closing) uv_timer_start(&sl->retry, retry_fire, STORE_LOG_RETRY_MS, 0);
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
    if (sl->pend.len) log_flush(&sl->base); /* the next group */
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

static bool snap_sink(void *ctx, const void *p, size_t n) { return write_all(*(int *)ctx, p, n) == 0; }

/* In the forked child: no libuv, no allocation, no logging. */
static void snap_child(const store_log *sl, uint64_t last_index, pid_t parent)
{
    /* Die with the server: an orphan would hold its listening sockets
     * (a restart could not bind) and write a snapshot nobody installs. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
    close(sl->lock_fd); /* the lock stays the parent's alone */
    int fd = open(sl->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) _exit(1);
    bool ok = store_snapshot_write(sl->svc, last_index, snap_sink, &fd) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    _exit(ok ? 0 : 1);
}

/* Install a complete, fsynced tmp. Order matters for recovery: first
 * .old goes (the tmp covers it), then the tmp becomes the snapshot. A
 * crash between the two leaves a tmp without .old, which the next start
 * validates and installs; a tmp next to .old is unfinished (deleted). */
static bool snap_install(store_log *sl)
{
    if (unlink(sl->old_path) != 0 && errno != ENOENT) {
        log_error("state store snapshot: cannot delete %s: %s; snapshot %s discarded", sl->old_path, strerror(errno),
                  sl->tmp_path);
        unlink(sl->tmp_path);
        return false;
    }
    fsync_dir(sl->dir);
    if (rename(sl->tmp_path, sl->snap_path) != 0) { /* the next start installs it */
        log_error("state store snapshot: cannot rename %s to %s: %s", sl->tmp_path, sl->snap_path, strerror(errno));
        return false;
    }
    fsync_dir(sl->dir);
    log_info("state store snapshot %s installed; %s deleted", sl->snap_path, sl->old_path);
    return true;
}

static void install_work(uv_work_t *w)
{
    store_log *sl = w->data;
    sl->install_ok = snap_install(sl);
}

static void install_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->installing = false;
    if (status != 0 || !sl->install_ok) sl->snap_not_before = UINT64_MAX;
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
    char why[64];
    if (r < 0) snprintf(why, sizeof why, "waitpid: %s", strerror(errno));
    else if (WIFSIGNALED(status)) snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
    else snprintf(why, sizeof why, "exit status %d (a write, fsync or open error)", WEXITSTATUS(status));
    log_error("state store snapshot into %s failed (%s); deleted it, %s is kept (replayed at the next start, which "
              "completes the snapshot); no new snapshot until then",
              sl->tmp_path, why, sl->old_path);
    unlink(sl->tmp_path);
    sl->snap_not_before = UINT64_MAX;
}

/* Fork the snapshot writer: the store is at the end of .old (nothing
 * committed since the rotation). The fork is the loop's only pause. */
static void snap_fork(store_log *sl)
{
    uint64_t t0 = uv_hrtime();
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) snap_child(sl, sl->last_index, parent);
    uint64_t pause = uv_hrtime() - t0;
    if (pid < 0) {
        log_error("state store snapshot: fork failed: %s; %s is kept (replayed at the next start)", strerror(errno),
                  sl->old_path);
        sl->snap_not_before = UINT64_MAX;
        return;
    }
    sl->child = pid;
    uv_timer_start(&sl->snap_poll, snap_poll_fire, STORE_LOG_SNAP_POLL_MS, STORE_LOG_SNAP_POLL_MS);
    log_info("state store snapshot: writing %s as of record %" PRIu64 " (child PID %ld, fork took %.3f ms)",
             sl->tmp_path, sl->last_index, (long)pid, (double)pause / 1e6);
}

/* On the thread pool, while the loop holds flushes: fsync the log
 * (everysec), rename it to .old, create the new log, fsync the dir. */
static void rotate_work(uv_work_t *w)
{
    store_log *sl = w->data;
    sl->rot_fd = -1;
    sl->rot_err = 0;
    if (sl->rot_sync && fsync(sl->fd) != 0) {
        sl->rot_step = "fsync";
        sl->rot_err = errno;
        return;
    }
    if (rename(sl->path, sl->old_path) != 0) {
        sl->rot_step = "rename";
        sl->rot_err = errno;
        return;
    }
    int fd = open(sl->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) { /* keep appending to the renamed file: nothing is lost */
        sl->rot_step = "create";
        sl->rot_err = errno;
        if (rename(sl->old_path, sl->path) != 0)
            log_error("state store log: cannot rename %s back: %s", sl->old_path, strerror(errno));
        return;
    }
    fsync_dir(sl->dir);
    sl->rot_fd = fd;
}

static void rotate_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->rotating = false;
    if (status != 0) {
        sl->rot_step = "rotate";
        sl->rot_err = ECANCELED;
    }
    if (sl->rot_fd < 0 && strcmp(sl->rot_step, "fsync") == 0) {
        sl->dirty = true;
        log_broken(sl, "fsync", sl->rot_err, false);
    } else if (sl->rot_fd < 0) {
        log_error("state store log: cannot %s %s%s%s: %s; no snapshot", sl->rot_step, sl->path,
                  strcmp(sl->rot_step, "rename") == 0 ? " to " : "",
                  strcmp(sl->rot_step, "rename") == 0 ? sl->old_path : "", strerror(sl->rot_err));
        sl->snap_not_before = uv_now(sl->loop) + STORE_LOG_SNAP_BACKOFF_MS;
    } else {
        close(sl->fd);
        sl->fd = sl->rot_fd;
        sl->file_len = sl->durable_len = 0;
        if (!sl->closing) snap_fork(sl); /* else the next start folds .old */
    }
    if (sl->pend.len) log_flush(&sl->base); /* what waited for the rotation */
}

/* At a group boundary (nothing written and not yet committed, no fsync
 * in flight on the fd): rotate the log on the thread pool, then fork. */
static void maybe_snapshot(store_log *sl)
{
    if (!sl->snap_bytes || sl->file_len < sl->snap_bytes || sl->child || sl->syncing || sl->broken || sl->closing ||
        sl->rotating || sl->installing || !sl->svc || sl->group.len || uv_now(sl->loop) < sl->snap_not_before)
        return;
    if (access(sl->old_path, F_OK) == 0) return; /* one rotation in flight at most */
    sl->rotating = true;
    sl->rot_fd = -1;
    sl->rot_sync = sl->mode == STORE_FSYNC_EVERYSEC && sl->dirty;
    sl->dirty = false; /* the rotation fsyncs it */
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
    tags_push(&sl->pend_tags, tag);
    return true;
}

static void log_flush(repl_log *l)
{
    store_log *sl = (store_log *)l;
    if (!sl->pend.len) return;
    if (sl->syncing && sl->mode == STORE_FSYNC_ALWAYS) return; /* joins the next group */
    if (sl->rotating) return;                                  /* flushed when it is done */
    swap_to_group(sl);
    if (sl->broken) {
        group_fail(sl);
        return;
    }
    int err = write_all(sl->fd, sl->group.data, sl->group.len);
    if (err) {
        log_broken(sl, "write", err, true);
        group_fail(sl);
        return;
    }
    if (sl->outage) {
        log_info("state store log %s: writes resumed", sl->path);
        sl->outage = false;
    }
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

static const repl_log_vtable store_log_vt = {
    .propose = log_propose,
    .flush = log_flush,
    .free = log_detach,
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
    sl->retry.data = sl->tick.data = sl->snap_poll.data = sl;
    sl->handles_open = 3;
    if (mode == STORE_FSYNC_EVERYSEC)
        uv_timer_start(&sl->tick, tick_fire, STORE_LOG_EVERYSEC_MS, STORE_LOG_EVERYSEC_MS);
    return sl;
}

void store_log_set_snapshot_bytes(store_log *sl, uint64_t bytes) { sl->snap_bytes = bytes; }

typedef struct replay {
    store_log *sl;
    uint64_t base; /* index of the last record before this file */
} replay;

static const char *replay_frame(void *ctx, uint64_t index, size_t offset, const repl_frame *f)
{
    replay *rp = ctx;
    (void)offset;
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
    ok = store_snapshot_load(svc, map ? map : "", n, index, err, sizeof err);
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

static bool replay_old(store_log *sl, uint64_t *frames)
{
    *frames = 0;
    int fd = open(sl->old_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return true;
        log_error("state store log %s: cannot open: %s", sl->old_path, strerror(errno));
        return false;
    }
    size_t end;
    bool ok = replay_file(sl, sl->old_path, fd, false, NULL, frames, &end);
    close(fd);
    return ok;
}

/* A tmp at start: next to .old it is an unfinished snapshot (deleted);
 * alone it is a complete one whose install was cut after .old was
 * deleted: it must be valid, and is installed. */
static bool finish_tmp(store_log *sl, bool has_old)
{
    if (has_old) {
        unlink(sl->tmp_path);
        log_warn("state store snapshot: deleted %s, left by a snapshot that did not complete", sl->tmp_path);
        return true;
    }
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
    int fd = open(sl->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    bool ok = fd >= 0 && store_snapshot_write(sl->svc, sl->last_index, snap_sink, &fd) && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        log_error("state store snapshot %s: cannot write it: %s", sl->tmp_path, strerror(e));
        unlink(sl->tmp_path);
        return false;
    }
    return snap_install(sl);
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
    bool has_old = access(sl->old_path, F_OK) == 0;
    if (access(sl->tmp_path, F_OK) == 0 && !finish_tmp(sl, has_old)) return NULL;
    uint64_t snap_keys, old_frames = 0, frames;
    if (!load_snapshot(sl, svc, &sl->last_index, &snap_keys) || !replay_old(sl, &old_frames)) return NULL;
    /* A crash left .old: the state is now snapshot + .old exactly; make
     * that the snapshot here (synchronously, before any listener) so the
     * next rotation has its slot. */
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
    sl->file_len = sl->durable_len = end;
    log_info("state store restored in %.3f s: %" PRIu64 " keys from %s, %" PRIu64 " records from %s, %" PRIu64
             " records from %s (fsync: %s)",
             (double)(uv_hrtime() - t0) / 1e9, snap_keys, sl->snap_path, old_frames, sl->old_path, frames, sl->path,
             sl->mode == STORE_FSYNC_ALWAYS     ? "always"
             : sl->mode == STORE_FSYNC_EVERYSEC ? "everysec"
                                                : "no");
    return &sl->base;
}

void store_log_shutdown(store_log *sl)
{
    if (!sl || sl->closing) return;
    sl->closing = true;
    uv_close((uv_handle_t *)&sl->retry, on_closed);
    uv_close((uv_handle_t *)&sl->tick, on_closed);
    uv_close((uv_handle_t *)&sl->snap_poll, on_closed);
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
    buf_free(&sl->group);
    free(sl->pend_tags.v);
    free(sl->group_tags.v);
    free(sl->dir);
    free(sl->path);
    free(sl->lock_path);
    free(sl->snap_path);
    free(sl->tmp_path);
    free(sl->old_path);
    free(sl);
}
