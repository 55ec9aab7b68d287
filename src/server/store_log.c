/* The durable state store log: see store_log.h. Single-threaded on the
 * loop except the fsync itself, which runs on the thread pool while the
 * loop keeps serving; the work item touches only fd and sync_err. */
#include "server/store_log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repl/file_log.h"
#include "store/record.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

/* How long writes are refused after a write or fsync error. */
#define STORE_LOG_RETRY_MS 1000
#define STORE_LOG_EVERYSEC_MS 1000

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
};

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
    sl->fd = -1;
    if (!take_lock(sl, err, errlen)) {
        if (sl->lock_fd >= 0) close(sl->lock_fd);
        free(sl->dir);
        free(sl->path);
        free(sl->lock_path);
        free(sl);
        return NULL;
    }
    uv_timer_init(loop, &sl->retry);
    uv_timer_init(loop, &sl->tick);
    sl->retry.data = sl->tick.data = sl;
    sl->handles_open = 2;
    if (mode == STORE_FSYNC_EVERYSEC)
        uv_timer_start(&sl->tick, tick_fire, STORE_LOG_EVERYSEC_MS, STORE_LOG_EVERYSEC_MS);
    return sl;
}

typedef struct replay {
    store_log *sl;
} replay;

static const char *replay_frame(void *ctx, uint64_t index, size_t offset, const repl_frame *f)
{
    store_log *sl = ((replay *)ctx)->sl;
    (void)offset;
    store_record r;
    store_record_err e = store_record_decode(f->payload, f->len, &r);
    if (e != STORE_RECORD_OK) return "a record does not decode";
    sl->base.on_commit(sl->base.ctx, index, f->payload, f->len, 0);
    return NULL;
}

repl_log *store_log_attach(void *arg, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx)
{
    store_log *sl = arg;
    assert(!sl->attached);
    sl->attached = true;
    sl->base.on_commit = on_commit;
    sl->base.on_fail = on_fail;
    sl->base.ctx = ctx;
    bool created = access(sl->path, F_OK) != 0;
    sl->fd = open(sl->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (sl->fd < 0) {
        log_error("state store log %s: cannot open: %s", sl->path, strerror(errno));
        return NULL;
    }
    if (created) { /* the new name must survive a power loss too */
        int dfd = open(sl->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    struct stat st;
    if (fstat(sl->fd, &st) != 0) {
        log_error("state store log %s: cannot stat: %s", sl->path, strerror(errno));
        return NULL;
    }
    uint64_t t0 = uv_hrtime();
    size_t n = (size_t)st.st_size;
    repl_scan_result res = {REPL_SCAN_CLEAN, 0, 0, NULL};
    if (n) {
        void *map = mmap(NULL, n, PROT_READ, MAP_PRIVATE, sl->fd, 0);
        if (map == MAP_FAILED) {
            log_error("state store log %s: cannot map: %s", sl->path, strerror(errno));
            return NULL;
        }
        madvise(map, n, MADV_SEQUENTIAL);
        replay rp = {sl};
        repl_file_scan(map, n, replay_frame, &rp, &res);
        munmap(map, n);
    }
    sl->last_index = res.frames;
    if (res.status == REPL_SCAN_CORRUPT) {
        log_error("state store log %s is corrupt at offset %zu (%s); refusing to start. Inspect it with "
                  "`mqstated persistence check %s`; `mqstated persistence repair %s` drops everything from that "
                  "offset on (keeping a backup)",
                  sl->path, res.valid_end, res.why, sl->dir, sl->dir);
        return NULL;
    }
    if (res.status == REPL_SCAN_TORN) {
        log_warn("state store log %s: torn tail at offset %zu (%zu bytes of an unfinished write) truncated", sl->path,
                 res.valid_end, n - res.valid_end);
        if (ftruncate(sl->fd, (off_t)res.valid_end) != 0 || fsync(sl->fd) != 0) {
            log_error("state store log %s: cannot truncate the torn tail: %s", sl->path, strerror(errno));
            return NULL;
        }
    }
    sl->file_len = sl->durable_len = res.valid_end;
    log_info("state store log %s: %" PRIu64 " records restored in %.3f s (fsync: %s)", sl->path, res.frames,
             (double)(uv_hrtime() - t0) / 1e9,
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
}

void store_log_free(store_log *sl)
{
    if (!sl) return;
    assert(!sl->syncing && (sl->handles_open == 0 || !sl->closing));
    if (sl->handles_open) log_warn("store_log_free: not shut down (loop not run?)");
    if (sl->fd >= 0) {
        if (sl->mode != STORE_FSYNC_NO && sl->file_len && fsync(sl->fd) != 0)
            log_error("state store log %s: fsync at exit failed: %s", sl->path, strerror(errno));
        close(sl->fd);
    }
    if (sl->lock_fd >= 0) close(sl->lock_fd); /* releases the lock */
    buf_free(&sl->pend);
    buf_free(&sl->group);
    free(sl->pend_tags.v);
    free(sl->group_tags.v);
    free(sl->dir);
    free(sl->path);
    free(sl->lock_path);
    free(sl);
}
