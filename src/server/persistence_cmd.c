/* `mqstated persistence check DIR`: read-only validation of
 * DIR/statestore.snap, DIR/statestore.log.old and DIR/statestore.log;
 * `mqstated persistence repair DIR`: cut statestore.log (only) at its first bad frame,
 * after saying what is lost and keeping a backup copy. */
#include "server/persistence_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker_persist.h"
#include "repl/file_log.h"
#include "store/record.h"
#include "store/service.h"
#include "store/snapshot.h"

typedef struct scan_ctx {
    uint64_t types[STORE_REC_CLOCK + 1];
    uint64_t retained, sessions; /* the broker's records (broker_persist.h) */
} scan_ctx;

/* A broker record (snapshot section or log frame): validated and counted. */
static const char *check_broker(scan_ctx *sc, uint8_t type, const uint8_t *p, size_t n)
{
    const char *bad = broker_persist_check(type, p, n);
    if (bad) return bad;
    if (type == BROKER_REC_RETAIN) sc->retained++;
    else sc->sessions++;
    return NULL;
}

/* A record of the snapshot's LOCL section: the local sequence mark, or
 * a broker record. */
static const char *check_local(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    if (type == REPL_FILE_LOCAL_SEQ) return n == REPL_FILE_LOCAL_SEQ_BYTES ? NULL : "a bad local sequence mark";
    return check_broker(ctx, type, p, n);
}

static const char *check_frame(void *ctx, uint64_t index, size_t offset, const repl_frame *f)
{
    (void)index;
    (void)offset;
    if (f->type != REPL_FILE_STORE_RECORD) { /* a local record: its sequence number, then the record */
        if (f->len < REPL_FILE_LOCAL_SEQ_BYTES) return "a local record without its sequence number";
        return check_broker(ctx, f->type, f->payload + REPL_FILE_LOCAL_SEQ_BYTES, f->len - REPL_FILE_LOCAL_SEQ_BYTES);
    }
    store_record r;
    store_record_err e = store_record_decode(f->payload, f->len, &r);
    if (e != STORE_RECORD_OK) return "a record does not decode";
    ((scan_ctx *)ctx)->types[r.type]++;
    return NULL;
}

/* Scan `path` (read-only). Returns 0 with *res and *size, or -1 (printed). */
static int scan_file(const char *path, repl_scan_result *res, size_t *size, scan_ctx *sc)
{
    memset(sc, 0, sizeof *sc);
    *res = (repl_scan_result){REPL_SCAN_CLEAN, 0, 0, NULL};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mqstated persistence: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "mqstated persistence: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    if (*size) {
        void *map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            fprintf(stderr, "mqstated persistence: %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        repl_file_scan(map, *size, check_frame, sc, res);
        munmap(map, *size);
    }
    close(fd);
    return 0;
}

static void print_scan(const char *path, const repl_scan_result *res, size_t size, const scan_ctx *sc)
{
    printf("%s: %zu bytes, %llu records (%llu SET, %llu DEL, %llu VDEL, %llu EXPIRE, %llu CLOCK)\n", path, size,
           (unsigned long long)res->frames, (unsigned long long)sc->types[STORE_REC_SET],
           (unsigned long long)sc->types[STORE_REC_DEL], (unsigned long long)sc->types[STORE_REC_VDEL],
           (unsigned long long)sc->types[STORE_REC_EXPIRE], (unsigned long long)sc->types[STORE_REC_CLOCK]);
    printf("broker records: %llu retained, %llu session\n", (unsigned long long)sc->retained,
           (unsigned long long)sc->sessions);
    printf("last valid offset: %zu\n", res->valid_end);
    if (res->status == REPL_SCAN_CLEAN) printf("status: clean\n");
    else
        printf("status: %s at offset %zu (%s); %zu bytes from there on would be dropped\n",
               repl_scan_status_name(res->status), res->valid_end, res->why, size - res->valid_end);
}

static char *log_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Validate DIR/statestore.snap if it exists (loaded into a scratch
 * service, as at start). PERSISTENCE_CHECK_CLEAN or _CORRUPT or _ERROR. */
static int check_snapshot(const char *dir)
{
    char *path = log_path(dir, REPL_FILE_SNAP_NAME);
    if (!path) return PERSISTENCE_CMD_ERROR;
    int rc = PERSISTENCE_CMD_ERROR, fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && errno == ENOENT) rc = PERSISTENCE_CHECK_CLEAN;
    else if (fd < 0 || fstat(fd, &st) != 0) fprintf(stderr, "mqstated persistence: %s: %s\n", path, strerror(errno));
    else {
        size_t n = (size_t)st.st_size;
        void *map = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
        store_config c;
        store_config_default(&c);
        store_service *svc = map != MAP_FAILED ? store_service_new(&c, NULL, NULL) : NULL;
        char err[200] = "";
        uint64_t idx = 0;
        scan_ctx sc = {0};
        if (!svc) fprintf(stderr, "mqstated persistence: %s: cannot map it\n", path);
        else if (store_snapshot_load_ext(svc, map ? map : "", n, &idx, check_local, &sc, err, sizeof err)) {
            store_stats stt;
            store_service_stats(svc, &stt);
            printf("%s: %zu bytes, %zu keys, as of record %llu; broker records: %llu retained, %llu session\nstatus: "
                   "clean\n",
                   path, n, stt.keyspace.keys, (unsigned long long)idx, (unsigned long long)sc.retained,
                   (unsigned long long)sc.sessions);
            rc = PERSISTENCE_CHECK_CLEAN;
        } else {
            printf("%s: %zu bytes\nstatus: damaged (%s); the server will not start\n", path, n, err);
            rc = PERSISTENCE_CHECK_CORRUPT;
        }
        store_service_free(svc);
        if (map && map != MAP_FAILED) munmap(map, n);
    }
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

/* The rotated logs DIR/statestore.log.old, .old.2, ... that exist (a
 * failed snapshot's, see repl/file_log.h): each must be whole (a cut is
 * corrupt). */
static int check_old(const char *dir)
{
    int rc = PERSISTENCE_CHECK_CLEAN;
    char name[64];
    for (unsigned k = 1; repl_file_old_name(k, name, sizeof name); k++) {
        char *path = log_path(dir, name);
        if (!path) return PERSISTENCE_CMD_ERROR;
        repl_scan_result res;
        size_t size;
        scan_ctx sc;
        bool exists = access(path, F_OK) == 0;
        if (exists && scan_file(path, &res, &size, &sc) != 0) rc = PERSISTENCE_CMD_ERROR;
        else if (exists) {
            print_scan(path, &res, size, &sc);
            if (res.status != REPL_SCAN_CLEAN) {
                printf("(%s is not the newest log: a torn tail there is corruption too)\n", path);
                rc = PERSISTENCE_CHECK_CORRUPT;
            }
        }
        free(path);
        if (!exists && k >= 2) break; /* number 1 may be gone while 2.. remain (a cut install) */
    }
    return rc;
}

/* Error (3) > corrupt (2) > torn (1) > clean (0). */
static int worst(int a, int b) { return a > b ? a : b; }

static int cmd_check(const char *dir)
{
    int pre = worst(check_snapshot(dir), check_old(dir));
    char *path = log_path(dir, REPL_FILE_LOG_NAME);
    if (!path) return PERSISTENCE_CMD_ERROR;
    repl_scan_result res;
    size_t size;
    scan_ctx sc;
    int rc = PERSISTENCE_CMD_ERROR;
    if (access(path, F_OK) != 0 && errno == ENOENT && pre != PERSISTENCE_CMD_ERROR) rc = pre; /* not created yet */
    else if (scan_file(path, &res, &size, &sc) == 0) {
        print_scan(path, &res, size, &sc);
        rc = res.status == REPL_SCAN_CLEAN  ? PERSISTENCE_CHECK_CLEAN
             : res.status == REPL_SCAN_TORN ? PERSISTENCE_CHECK_TORN
                                            : PERSISTENCE_CHECK_CORRUPT;
        rc = worst(rc, pre);
    }
    free(path);
    return rc;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in < 0) return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (out >= 0) {
        char b[65536];
        ssize_t n;
        rc = 0;
        while ((n = read(in, b, sizeof b)) > 0)
            if (write(out, b, (size_t)n) != n) {
                rc = -1;
                break;
            }
        if (n < 0 || fsync(out) != 0) rc = -1;
        close(out);
    }
    close(in);
    return rc;
}

static int cmd_repair(const char *dir)
{
    char *path = log_path(dir, REPL_FILE_LOG_NAME), *lock = log_path(dir, REPL_FILE_LOCK_NAME);
    int rc = PERSISTENCE_CMD_ERROR, lfd = -1;
    if (!path || !lock) goto out;
    /* Never under a running server. */
    lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "mqstated persistence repair: %s is in use by a running mqstated (lock file %s); stop it first\n", dir,
                lock);
        goto out;
    }
    repl_scan_result res;
    size_t size;
    scan_ctx sc;
    if (scan_file(path, &res, &size, &sc) != 0) goto out;
    print_scan(path, &res, size, &sc);
    if (res.status == REPL_SCAN_CLEAN) {
        printf("nothing to repair\n");
        rc = 0;
        goto out;
    }
    char bak[4096];
    snprintf(bak, sizeof bak, "%s.bak-%lld", path, (long long)time(NULL));
    if (copy_file(path, bak) != 0) {
        fprintf(stderr, "mqstated persistence repair: cannot write the backup %s: %s\n", bak, strerror(errno));
        goto out;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)res.valid_end) != 0 || fsync(fd) != 0) {
        fprintf(stderr, "mqstated persistence repair: cannot truncate %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    close(fd);
    printf("repaired: %s cut to %zu bytes (%llu records kept, %zu bytes dropped); the original is %s\n", path,
           res.valid_end, (unsigned long long)res.frames, size - res.valid_end, bak);
    rc = 0;
out:
    if (lfd >= 0) close(lfd);
    free(path);
    free(lock);
    return rc;
}

int persistence_cmd_main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "repair") != 0)) {
        fprintf(stderr, "usage: mqstated persistence check DIR    (exit 0 clean, 1 torn tail, 2 corrupt)\n"
                        "       mqstated persistence repair DIR   (cut at the first bad frame, keep a backup)\n");
        return PERSISTENCE_CMD_ERROR;
    }
    return strcmp(argv[1], "check") == 0 ? cmd_check(argv[2]) : cmd_repair(argv[2]);
}
