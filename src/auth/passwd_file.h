/* Password files: one user per line,
 *
 *   user:$pbkdf2-sha512$<iterations>$<base64 salt>$<base64 hash>
 *
 * (passwd_hash.h). Blank lines and lines starting with '#' are ignored.
 * A user name is 1 to 256 bytes without ':', control characters or a
 * leading '#'; duplicates are an error. Managed with `mqstated passwd`. */
#ifndef MQS_AUTH_PASSWD_FILE_H
#define MQS_AUTH_PASSWD_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define PASSWD_USER_MAX 256

typedef struct passwd_file passwd_file;

/* Parse a whole file; `name` prefixes messages ("name:line: ..."). Returns
 * NULL with a one-line message in err. */
passwd_file *passwd_file_parse(const char *name, const char *data, size_t len, char *err, size_t errlen);
passwd_file *passwd_file_load(const char *path, char *err, size_t errlen);
/* Loop thread only (the count is not atomic). A new file has one
 * reference; passwd_file_free drops one and frees with the last. */
passwd_file *passwd_file_ref(passwd_file *f);
void passwd_file_free(passwd_file *f);
size_t passwd_file_count(const passwd_file *f);
/* The iteration count an unknown user is checked with: the highest in the
 * file, or PASSWD_HASH_ITERATIONS for an empty file. */
uint32_t passwd_file_dummy_iterations(const passwd_file *f);

typedef enum passwd_result { PASSWD_OK, PASSWD_UNKNOWN_USER, PASSWD_BAD_PASSWORD, PASSWD_PENDING } passwd_result;

/* Verify a password, blocking (passwd_check.c). The slow hash runs for
 * unknown users too, with the iteration count of the file's slowest
 * entry, so timing does not tell a name that does not exist from a user
 * with the highest count. A verified
 * password is remembered (as a keyed MAC, never in clear) so that a client
 * reconnecting with the same password costs one HMAC, not a PBKDF2 run. */
passwd_result passwd_file_check(passwd_file *f, const void *user, size_t ulen, const void *pw, size_t pwlen);

typedef void (*passwd_checked_fn)(void *arg, passwd_result r);
/* The same verification without blocking the loop. A remembered password
 * is answered at once: PASSWD_OK, and `done` is not called. Otherwise the
 * slow hash runs on libuv's thread pool and PASSWD_PENDING is returned;
 * `done(arg, result)` follows exactly once, on the loop thread. The worker
 * reads only copies (hash, salt, password); the file is referenced until
 * `done` has run, so dropping it meanwhile (a reload) is safe. */
passwd_result passwd_file_check_async(passwd_file *f, uv_loop_t *loop, const void *user, size_t ulen, const void *pw,
                                      size_t pwlen, passwd_checked_fn done, void *arg);

/* Set (pw != NULL) or delete (pw == NULL) the entry of `user` in the file
 * at `path`, creating the file (mode 0600) if needed; other lines are kept
 * as they are. Written to a temporary file in the same directory and
 * renamed over the original, so a reader never sees half a file. The
 * file keeps its owner, group and mode; when it cannot (the caller is
 * neither root nor the owner) nothing is written. A symlink is followed:
 * its target is rewritten and the link stays. Returns -1 with a message in
 * err (also when deleting a user that is not there). */
int passwd_file_update(const char *path, const char *user, const char *pw, uint32_t iterations, char *err,
                       size_t errlen);

#endif
