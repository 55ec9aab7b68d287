/* The durable state store log: see store_log.h. Group commit, fsync,
 * local records and recovery; snapshots are in store_log_snap.c.
 * Single-threaded on the loop except a thread-pool fsync (everysec's, and
 * always's on a slow disk), during which the loop keeps serving; the work
 * item touches only fd, sync_err and sync_ns. */
#include "server/store_log_impl.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
    size_t *o = sl->group_tags.vol[i] ? off_vol : off;
    repl_frame f;
    assert(*o < b->len);
    *o += repl_frame_own(b->data + *o, &f); /* ours, in memory since the append: no CRC check */
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
    store_log__maybe_snapshot(sl);
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
void store_log__broken(store_log *sl, const char *op, int err, bool truncate)
{
    snprintf(sl->why, sizeof sl->why, "the state store log cannot be written: %s", strerror(err));
    sl->stats.write_errors++;
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

/* fdatasync: the log only grows, so the size change it flushes is the
 * metadata that matters (timestamps do not). On the loop or in the
 * worker; sets sync_err and sync_ns. */
static void sync_fd(store_log *sl)
{
    uint64_t t0 = uv_hrtime();
    sl->sync_err = fdatasync(sl->fd) == 0 ? 0 : errno;
    sl->sync_ns = uv_hrtime() - t0;
}

static void sync_work(uv_work_t *w) { sync_fd(w->data); }

/* Mode always: the group's fsync ended (err 0: it is durable); commit or
 * fail it. The fsync's duration picks where the next one runs. */
static void sync_group_done(store_log *sl, int err)
{
    sl->sync_on_loop = sl->sync_ns <= sl->sync_on_loop_max_ns;
    if (err) {
        store_log__broken(sl, "fsync", err, true);
        group_fail(sl);
    } else {
        sl->durable_len = sl->file_len;
        group_commit(sl);
    }
}

static void sync_done(uv_work_t *w, int status)
{
    store_log *sl = w->data;
    sl->syncing = false;
    int err = status == 0 ? sl->sync_err : EIO;
    if (!err) {
        sl->stats.fsyncs++;
        sl->sync_failed = false;
        outage_maybe_over(sl);
    }
    if (sl->mode != STORE_FSYNC_ALWAYS) {
        /* everysec: what was written is committed already. */
        if (err) store_log__broken(sl, "fsync", err, false);
        return;
    }
    sync_group_done(sl, err);
    if (sl->pend_tags.n) store_log__flush(&sl->base); /* the next group */
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

int store_log__write_all(int fd, const uint8_t *p, size_t n)
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

void store_log__flush(repl_log *l)
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
    int err = store_log__write_all(sl->fd, sl->group.data, sl->group.len);
    if (err) {
        store_log__broken(sl, "write", err, true);
        group_fail(sl);
        return;
    }
    sl->write_failed = false;
    if (sl->mode != STORE_FSYNC_ALWAYS) outage_maybe_over(sl);
    sl->file_len += sl->group.len;
    for (size_t i = 0; i < sl->group_tags.n; i++) sl->stats.records_written += !sl->group_tags.vol[i];
    if (sl->mode == STORE_FSYNC_ALWAYS && !sl->sync_on_loop) {
        sync_start(sl);
        return;
    }
    if (sl->mode == STORE_FSYNC_ALWAYS) {
        /* On the loop, as Redis's appendfsync always: the replies go out
         * in this iteration with the requests' PUBACKs (one write per
         * connection) and no thread hand-off is paid; the loop waits for
         * the disk meanwhile (bounded: see STORE_LOG_INLINE_SYNC_MAX_NS). */
        sync_fd(sl);
        if (!sl->sync_err) {
            sl->stats.fsyncs++;
            sl->sync_failed = false;
            outage_maybe_over(sl);
        }
        sync_group_done(sl, sl->sync_err);
        return;
    }
    sl->durable_len = sl->file_len; /* survives a process crash */
    sl->dirty = true;
    group_commit(sl);
}

void store_log_get_stats(const store_log *sl, store_log_stats *out)
{
    *out = sl->stats;
    out->file_bytes = sl->file_len;
}

static void log_detach(repl_log *l) { ((store_log *)l)->detached = true; }

static void local_flush_run(uv_check_t *h)
{
    store_log *sl = h->data;
    uv_check_stop(&sl->local_flush);
    store_log__flush(&sl->base);
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
    .flush = store_log__flush,
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

int store_log_lock(const char *dir, const char *lock_path, char *err, size_t errlen)
{
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "persistence.dir %s: cannot open the lock file %s: %s", dir, lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "unknown";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        if (n > 0) {
            pid[n] = 0;
            pid[strcspn(pid, "\r\n")] = 0;
        }
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "persistence.dir %s is in use by another mqstated (PID %s, lock file %s)", dir, pid,
                     lock_path);
        else snprintf(err, errlen, "persistence.dir %s: cannot lock %s: %s", dir, lock_path, strerror(e));
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        log_warn("persistence.dir %s: cannot write the PID to %s: %s", dir, lock_path, strerror(errno));
    return fd;
}

static bool take_lock(store_log *sl, char *err, size_t errlen)
{
    sl->lock_fd = store_log_lock(sl->dir, sl->lock_path, err, errlen);
    return sl->lock_fd >= 0;
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
    sl->sync_on_loop_max_ns = STORE_LOG_INLINE_SYNC_MAX_NS;
    sl->sync_on_loop = true;
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

void store_log_set_inline_sync_max(store_log *sl, uint64_t ns)
{
    assert(!sl->attached);
    sl->sync_on_loop_max_ns = ns;
    sl->sync_on_loop = ns > 0;
}

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
        store_log__rotated_path(sl, k, path, sizeof path);
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
        store_log__rotated_path(sl, k, path, sizeof path);
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
        store_log__rotated_path(sl, k, path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_error("state store snapshot: cannot delete %s: %s", path, strerror(errno));
            return false;
        }
    }
    store_log__fsync_dir(sl->dir);
    if (rename(sl->tmp_path, sl->snap_path) != 0) {
        log_error("state store snapshot: cannot rename %s to %s: %s", sl->tmp_path, sl->snap_path, strerror(errno));
        return false;
    }
    store_log__fsync_dir(sl->dir);
    log_warn("state store snapshot: installed %s, complete but left uninstalled by a crash", sl->snap_path);
    return true; /* load_snapshot validates it */
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
    if (has_old && !store_log__snap_write_sync(sl)) return NULL;
    bool created = access(sl->path, F_OK) != 0;
    sl->fd = open(sl->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (sl->fd < 0) {
        log_error("state store log %s: cannot open: %s", sl->path, strerror(errno));
        return NULL;
    }
    if (created) store_log__fsync_dir(sl->dir); /* the new name must survive a power loss too */
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
    if (sl->attached && sl->pend.len) store_log__flush(&sl->base); /* local records of the last iteration */
    sl->closing = true;
    uv_close((uv_handle_t *)&sl->retry, on_closed);
    uv_close((uv_handle_t *)&sl->tick, on_closed);
    uv_close((uv_handle_t *)&sl->snap_poll, on_closed);
    uv_close((uv_handle_t *)&sl->local_flush, on_closed);
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
    if (sl->child) store_log__snap_finish_at_exit(sl);
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
