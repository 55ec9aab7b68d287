#include "auth/passwd_file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/passwd_file_impl.h"
#include "util/alloc.h"
#include "util/buf.h"

#define FILE_MAX (16 * 1024 * 1024)

static void entry_free(void *e)
{
    OPENSSL_cleanse(e, sizeof(passwd_entry));
    free(e);
}

passwd_file *passwd_file_ref(passwd_file *f)
{
    f->refs++;
    return f;
}

void passwd_file_free(passwd_file *f)
{
    if (!f || --f->refs > 0) return;
    hashmap_free(f->users, entry_free);
    OPENSSL_cleanse(f, sizeof *f);
    free(f);
}

size_t passwd_file_count(const passwd_file *f) { return hashmap_size(f->users); }

uint32_t passwd_file_dummy_iterations(const passwd_file *f) { return f->dummy.iterations; }

static const char *check_user(const char *s, size_t len)
{
    if (len == 0) return "empty user name";
    if (len > PASSWD_USER_MAX) return "user name longer than 256 bytes";
    if (s[0] == '#') return "user name starts with '#'";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return "control character in user name";
    return NULL;
}

/* One non-comment line; returns the error message or NULL. */
static const char *parse_line(passwd_file *f, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon) return "expected user:hash";
    size_t ulen = (size_t)(colon - line);
    const char *why = check_user(line, ulen);
    if (why) return why;
    passwd_entry *e = xcalloc(1, sizeof *e);
    if (passwd_hash_parse(colon + 1, len - ulen - 1, &e->h, &why) != 0) {
        free(e);
        return why;
    }
    if (hashmap_get(f->users, line, ulen)) {
        free(e);
        return "duplicate user";
    }
    hashmap_put(f->users, line, ulen, e);
    if (e->h.iterations > f->dummy.iterations) f->dummy.iterations = e->h.iterations;
    return NULL;
}

passwd_file *passwd_file_parse(const char *name, const char *data, size_t len, char *err, size_t errlen)
{
    passwd_file *f = xcalloc(1, sizeof *f);
    f->refs = 1;
    f->users = hashmap_new();
    if (RAND_bytes(f->tag_key, sizeof f->tag_key) != 1 ||
        passwd_hash_make("", 0, PASSWD_HASH_MIN_ITERATIONS, &f->dummy) != 0) { /* cheap to make */
        snprintf(err, errlen, "%s: no randomness available", name);
        passwd_file_free(f);
        return NULL;
    }
    size_t off = 0;
    for (unsigned lineno = 1; off < len; lineno++) {
        const char *line = data + off;
        const char *nl = memchr(line, '\n', len - off);
        size_t n = nl ? (size_t)(nl - line) : len - off;
        off += n + (nl != NULL);
        if (n && line[n - 1] == '\r') n--;
        if (n == 0 || line[0] == '#') continue;
        const char *why = parse_line(f, line, n);
        if (why) {
            snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
            passwd_file_free(f);
            return NULL;
        }
    }
    /* An unknown user costs what the slowest entry costs (an empty file:
     * the default strength): a user created with more iterations must not
     * be told apart from a name that does not exist. */
    if (hashmap_size(f->users) == 0) f->dummy.iterations = PASSWD_HASH_ITERATIONS;
    return f;
}

static int read_all(const char *path, buf *out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n;
    do {
        n = fread(buf_reserve(out, 4096), 1, 4096, fp);
        out->len += n;
    } while (n > 0 && out->len <= FILE_MAX);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || out->len > FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "larger than 16 MiB");
        return -1;
    }
    return 0;
}

passwd_file *passwd_file_load(const char *path, char *err, size_t errlen)
{
    buf b = {0};
    passwd_file *f = NULL;
    if (read_all(path, &b, err, errlen) == 0)
        f = passwd_file_parse(path, b.data ? (const char *)b.data : "", b.len, err, errlen);
    buf_free(&b);
    return f;
}

/* --- updating (mqstated passwd) ---------------------------------------------- */

static bool line_is_user(const char *line, size_t n, const char *user, size_t ulen)
{
    return n > ulen && line[ulen] == ':' && memcmp(line, user, ulen) == 0 && line[0] != '#';
}

/* The file's lines with `user`'s replaced by `newline` (or dropped when
 * newline is NULL); appended when absent. Sets *found. */
static void rewrite(const buf *old, const char *user, const char *newline, buf *out, bool *found)
{
    size_t ulen = strlen(user), off = 0;
    *found = false;
    while (off < old->len) {
        const char *line = (const char *)old->data + off;
        const char *nl = memchr(line, '\n', old->len - off);
        size_t n = nl ? (size_t)(nl - line) : old->len - off;
        off += n + (nl != NULL);
        if (line_is_user(line, n, user, ulen)) {
            *found = true;
            if (newline) buf_append(out, newline, strlen(newline));
        } else {
            buf_append(out, line, n);
            buf_append_u8(out, '\n');
        }
    }
    if (!*found && newline) buf_append(out, newline, strlen(newline));
}

/* Write `data` to a temporary file next to `path` and rename it over
 * `path`, so a reader never sees half a file. `old` is the file being
 * replaced (NULL: a new file, mode 0600, ours): its owner, group and mode
 * carry over, and if they cannot (we are neither root nor its owner) the
 * file is left alone rather than handed to another user. */
static int write_atomically(const char *path, const struct stat *old, const buf *data, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 8);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(tmp); /* created 0600: hashes are not for everyone */
    int r = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    if (old && (old->st_uid != geteuid() || old->st_gid != getegid()) && fchown(fd, old->st_uid, old->st_gid) != 0) {
        snprintf(err, errlen,
                 "%s is owned by uid %u gid %u: run mqstated passwd as that user or root, so that "
                 "the file keeps its owner (%s)",
                 path, (unsigned)old->st_uid, (unsigned)old->st_gid, strerror(errno));
        goto fail;
    }
    if (old && fchmod(fd, old->st_mode & 07777) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    size_t off = 0;
    while (off < data->len) {
        ssize_t w = write(fd, data->data + off, data->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off == data->len && fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        r = rename(tmp, path);
    }
    if (r != 0) snprintf(err, errlen, "%s: %s", path, strerror(errno));
fail:
    if (r != 0) {
        if (fd >= 0) close(fd);
        unlink(tmp);
    }
    free(tmp);
    return r;
}

/* The file to rewrite: `path` itself, or for a symlink the file it points
 * to (resolved once, here), so that the link stays a link and the server
 * keeps reading the file it was configured with. *exists says whether
 * there is one; it must be a regular file. Returns a malloc'd path or
 * NULL with a message. */
static char *target_of(const char *path, struct stat *st, bool *exists, char *err, size_t errlen)
{
    struct stat lst;
    *exists = false;
    if (lstat(path, &lst) != 0) {
        if (errno == ENOENT) return xstrdup(path);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *real = S_ISLNK(lst.st_mode) ? realpath(path, NULL) : xstrdup(path);
    if (!real) {
        snprintf(err, errlen, "%s: a symbolic link whose target cannot be used (%s); give the file's own path", path,
                 strerror(errno));
        return NULL;
    }
    if (stat(real, st) != 0 || !S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", real);
        free(real);
        return NULL;
    }
    *exists = true;
    return real;
}

int passwd_file_update(const char *path, const char *user, const char *pw, uint32_t iterations, char *err,
                       size_t errlen)
{
    const char *why = check_user(user, strlen(user));
    if (why || strchr(user, ':')) {
        snprintf(err, errlen, "\"%s\": %s", user, why ? why : "':' in user name");
        return -1;
    }
    buf old = {0}, out = {0};
    int r = -1;
    struct stat st;
    bool exists;
    char *target = target_of(path, &st, &exists, err, errlen);
    if (!target) return -1;
    path = target;
    if (exists) {
        if (read_all(path, &old, err, errlen) != 0) goto done;
        /* Refuse to rewrite a file the server would not load. */
        passwd_file *check = passwd_file_parse(path, old.data ? (const char *)old.data : "", old.len, err, errlen);
        if (!check) goto done;
        passwd_file_free(check);
    }
    char line[PASSWD_USER_MAX + PASSWD_HASH_ENCODED_MAX + 4];
    if (pw) {
        passwd_hash h;
        if (passwd_hash_make(pw, strlen(pw), iterations, &h) != 0) {
            snprintf(err, errlen, "no randomness available");
            goto done;
        }
        char enc[PASSWD_HASH_ENCODED_MAX];
        passwd_hash_encode(&h, enc);
        snprintf(line, sizeof line, "%s:%s\n", user, enc);
    }
    bool found;
    rewrite(&old, user, pw ? line : NULL, &out, &found);
    if (!pw && !found) {
        snprintf(err, errlen, "%s: no user \"%s\"", path, user);
        goto done;
    }
    r = write_atomically(path, exists ? &st : NULL, &out, err, errlen);
done:
    free(target);
    buf_free(&old);
    buf_free(&out);
    return r;
}
