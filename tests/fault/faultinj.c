/* faultinj: a test-only LD_PRELOAD library that makes write and fsync
 * calls on the files of one directory fail on demand (tests/fault/README.md).
 *
 *   FAULTINJ_DIR      only files under this directory are affected
 *   FAULTINJ_CONTROL  the control file; absent or empty: no fault
 *   FAULTINJ_LOG      optional: one line appended per injected fault
 *
 * The control file is read on each intercepted call (one stat(2) when it
 * does not exist), so a test switches faults on and off by writing or
 * deleting it while the process runs. Its words, whitespace-separated:
 *
 *   ops=write|fsync|all   which calls fail (default all): write = write,
 *                         writev, pwrite, pwritev; fsync = fsync, fdatasync
 *   errno=EIO|ENOSPC|EDQUOT|EROFS|N   the error (default EIO)
 *   file=NAME             only files with this base name (default any)
 *   short=1               matching writes alternate: the first writes half
 *                         of its bytes and returns that count, the next
 *                         fails, and so on (a short write, then the error)
 *   delay_ms=N            matching calls sleep N ms, then do the real call
 *                         (a slow disk: no error is injected); with it the
 *                         directory's own fsync matches too
 *
 * No state is shared between threads beyond one atomic toggle for short=1,
 * no lock is taken and nothing is allocated, so it is safe in a forked
 * child and in libuv's thread pool. Built without sanitizers; with an
 * ASan binary put libasan first in LD_PRELOAD. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FSYNC = 2 };

typedef struct rule {
    unsigned ops;
    int err;
    bool shortw;
    long delay_ms; /* > 0: slow the call down instead of failing it */
    char file[NAME_MAX + 1];
} rule;

static atomic_uint short_phase;

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) abort();
    return f;
}

/* The function pointers are resolved on first use; a race resolves the
 * same pointer twice, which is harmless. */
#define REAL(ret, name, ...)                                  \
    static ret (*_Atomic p_##name)(__VA_ARGS__);              \
    ret (*real_##name)(__VA_ARGS__) = atomic_load(&p_##name); \
    if (!real_##name) {                                       \
        real_##name = (ret(*)(__VA_ARGS__))real(#name);       \
        atomic_store(&p_##name, real_##name);                 \
    }

static int errno_by_name(const char *s)
{
    static const struct {
        const char *name;
        int err;
    } names[] = {{"EIO", EIO}, {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS}, {"EFBIG", EFBIG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) return names[i].err;
    int n = atoi(s);
    return n > 0 ? n : EIO;
}

/* Read the control file into r; false if it is absent or empty. */
static bool rule_load(rule *r)
{
    const char *ctl = getenv("FAULTINJ_CONTROL");
    struct stat st;
    if (!ctl || stat(ctl, &st) != 0 || st.st_size == 0) return false;
    char text[1024];
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return false;
    text[n] = 0;
    *r = (rule){.ops = OP_WRITE | OP_FSYNC, .err = EIO};
    char *save = NULL;
    for (char *w = strtok_r(text, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (strncmp(w, "ops=", 4) == 0) {
            r->ops = strcmp(w + 4, "write") == 0   ? OP_WRITE
                     : strcmp(w + 4, "fsync") == 0 ? OP_FSYNC
                                                   : OP_WRITE | OP_FSYNC;
        } else if (strncmp(w, "errno=", 6) == 0) {
            r->err = errno_by_name(w + 6);
        } else if (strncmp(w, "file=", 5) == 0) {
            snprintf(r->file, sizeof r->file, "%s", w + 5);
        } else if (strcmp(w, "short=1") == 0) {
            r->shortw = true;
        } else if (strncmp(w, "delay_ms=", 9) == 0) {
            r->delay_ms = atol(w + 9);
        }
    }
    return true;
}

/* Is fd a file under FAULTINJ_DIR (and named r->file, if set)? */
static bool fd_matches(int fd, const rule *r, char *path, size_t pathlen)
{
    const char *dir = getenv("FAULTINJ_DIR");
    if (!dir || !*dir) return false;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, pathlen - 1);
    if (n <= 0) return false;
    path[n] = 0;
    char rdir[PATH_MAX];
    if (!realpath(dir, rdir)) snprintf(rdir, sizeof rdir, "%s", dir);
    size_t dl = strlen(rdir);
    while (dl > 1 && rdir[dl - 1] == '/') dl--;
    if (r->delay_ms > 0 && strncmp(path, rdir, dl) == 0 && path[dl] == 0) return true; /* the directory */
    if (strncmp(path, rdir, dl) != 0 || path[dl] != '/') return false;
    const char *base = strrchr(path, '/') + 1;
    return !r->file[0] || strcmp(base, r->file) == 0;
}

static void note(const char *op, const char *path, const char *what)
{
    const char *logp = getenv("FAULTINJ_LOG");
    if (!logp) return;
    REAL(ssize_t, write, int, const void *, size_t)
    char line[PATH_MAX + 128];
    int n = snprintf(line, sizeof line, "faultinj: %s %s: %s\n", op, path, what);
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (n > 0) (void)real_write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    close(fd);
}

/* 0: pass the call through; -1: fail it with errno set; 1: a short write
 * of *len bytes. errno is preserved when the call passes through. */
static int decide(int fd, unsigned op, const char *opname, size_t *len)
{
    int saved = errno;
    rule r;
    char path[PATH_MAX];
    if (!rule_load(&r) || !(r.ops & op) || !fd_matches(fd, &r, path, sizeof path)) {
        errno = saved;
        return 0;
    }
    if (r.delay_ms > 0) {
        struct timespec ts = {r.delay_ms / 1000, (r.delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        note(opname, path, "delayed");
        errno = saved;
        return 0;
    }
    if (op == OP_WRITE && r.shortw && *len > 1 && (atomic_fetch_xor(&short_phase, 1u) & 1u) == 0) {
        *len /= 2;
        note(opname, path, "short write");
        errno = saved;
        return 1;
    }
    note(opname, path, strerror(r.err));
    errno = r.err;
    return -1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(ssize_t, write, int, const void *, size_t)
    if (decide(fd, OP_WRITE, "write", &n) < 0) return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
    if (decide(fd, OP_WRITE, "pwrite", &n) < 0) return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return pwrite(fd, buf, n, off); }

/* A short writev writes only the first buffer (or half of it if alone). */
static int iov_short(int fd, const struct iovec *iov, int cnt, const char *opname, struct iovec *one)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++) total += iov[i].iov_len;
    size_t len = total;
    int d = decide(fd, OP_WRITE, opname, &len);
    if (d == 1) *one = (struct iovec){iov[0].iov_base, iov[0].iov_len < len ? iov[0].iov_len : len};
    return d;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t, writev, int, const struct iovec *, int)
    struct iovec one;
    int d = cnt > 0 ? iov_short(fd, iov, cnt, "writev", &one) : 0;
    if (d < 0) return -1;
    return d == 1 ? real_writev(fd, &one, 1) : real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t)
    struct iovec one;
    int d = cnt > 0 ? iov_short(fd, iov, cnt, "pwritev", &one) : 0;
    if (d < 0) return -1;
    return d == 1 ? real_pwritev(fd, &one, 1, off) : real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd)
{
    REAL(int, fsync, int)
    size_t none = 0;
    if (decide(fd, OP_FSYNC, "fsync", &none) < 0) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(int, fdatasync, int)
    size_t none = 0;
    if (decide(fd, OP_FSYNC, "fdatasync", &none) < 0) return -1;
    return real_fdatasync(fd);
}
