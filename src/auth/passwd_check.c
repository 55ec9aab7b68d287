/* Verifying a password against a loaded file, blocking or on libuv's
 * thread pool (passwd_file.h).
 *
 * Both ways take the same three steps: lookup (the fast path: the password
 * remembered as verified), the slow hash of a copy of what to verify
 * against (the user's entry, or for an unknown user the dummy, as slow as
 * the file's slowest entry), and conclude (remember a verified password). Only the
 * slow hash may run on a worker thread; lookup and conclude touch the file
 * and run on the loop thread. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "auth/passwd_file_impl.h"
#include "util/alloc.h"

static void tag_of(const passwd_file *f, const void *pw, size_t pwlen, uint8_t *tag)
{
    unsigned int n = PASSWD_TAG_LEN;
    HMAC(EVP_sha256(), f->tag_key, sizeof f->tag_key, pw ? pw : (const void *)"", pwlen, tag, &n);
}

/* True when `tag` is the user's remembered password. Otherwise *h is what
 * to verify against and *known whether the user exists. */
static bool lookup(const passwd_file *f, const void *user, size_t ulen, const uint8_t *tag, passwd_hash *h, bool *known)
{
    const passwd_entry *e = hashmap_get(f->users, user, ulen);
    *known = e != NULL;
    if (!e) {
        *h = f->dummy; /* the cost of the file's slowest entry */
        return false;
    }
    if (e->has_ok && CRYPTO_memcmp(tag, e->ok_tag, PASSWD_TAG_LEN) == 0) return true;
    *h = e->h;
    return false;
}

static passwd_result conclude(passwd_file *f, const void *user, size_t ulen, bool known, bool matched,
                              const uint8_t *tag)
{
    if (!known) return PASSWD_UNKNOWN_USER;
    if (!matched) return PASSWD_BAD_PASSWORD;
    passwd_entry *e = hashmap_get(f->users, user, ulen); /* the file never changes: still there */
    memcpy(e->ok_tag, tag, PASSWD_TAG_LEN);
    e->has_ok = true;
    return PASSWD_OK;
}

passwd_result passwd_file_check(passwd_file *f, const void *user, size_t ulen, const void *pw, size_t pwlen)
{
    uint8_t tag[PASSWD_TAG_LEN];
    passwd_hash h;
    bool known;
    tag_of(f, pw, pwlen, tag);
    if (lookup(f, user, ulen, tag, &h, &known)) return PASSWD_OK;
    bool matched = passwd_hash_verify(&h, pw, pwlen);
    OPENSSL_cleanse(&h, sizeof h);
    return conclude(f, user, ulen, known, matched, tag);
}

/* --- on the thread pool ------------------------------------------------------ */

/* Everything the worker reads is here, copied: it shares nothing mutable
 * with the loop thread. `matched` is its only output. */
typedef struct check_job {
    uv_work_t req;
    passwd_file *f; /* referenced; loop thread only */
    passwd_hash h;
    uint8_t tag[PASSWD_TAG_LEN];
    bool known, matched;
    uint8_t *user, *pw;
    size_t ulen, pwlen;
    passwd_checked_fn done;
    void *arg;
} check_job;

static void job_free(check_job *j)
{
    OPENSSL_cleanse(j->pw, j->pwlen);
    free(j->pw);
    free(j->user);
    OPENSSL_cleanse(j, sizeof *j);
    free(j);
}

static void job_work(uv_work_t *req)
{
    check_job *j = req->data;
    j->matched = passwd_hash_verify(&j->h, j->pw, j->pwlen);
}

static void job_after(uv_work_t *req, int status)
{
    check_job *j = req->data;
    passwd_result r = conclude(j->f, j->user, j->ulen, j->known, status == 0 && j->matched, j->tag);
    j->done(j->arg, r);
    passwd_file_free(j->f);
    job_free(j);
}

/* Copies of possibly-NULL slices, never NULL themselves. */
static uint8_t *copy_of(const void *p, size_t n)
{
    uint8_t *c = xmalloc(n + 1);
    if (n) memcpy(c, p, n);
    return c;
}

passwd_result passwd_file_check_async(passwd_file *f, uv_loop_t *loop, const void *user, size_t ulen, const void *pw,
                                      size_t pwlen, passwd_checked_fn done, void *arg)
{
    check_job *j = xcalloc(1, sizeof *j);
    tag_of(f, pw, pwlen, j->tag);
    if (lookup(f, user, ulen, j->tag, &j->h, &j->known)) {
        job_free(j);
        return PASSWD_OK;
    }
    j->f = passwd_file_ref(f);
    j->user = copy_of(user, ulen);
    j->ulen = ulen;
    j->pw = copy_of(pw, pwlen);
    j->pwlen = pwlen;
    j->done = done;
    j->arg = arg;
    j->req.data = j;
    if (uv_queue_work(loop, &j->req, job_work, job_after) != 0) {
        /* Only on invalid arguments; answer the slow way rather than not at all. */
        job_work(&j->req);
        passwd_result r = conclude(f, user, ulen, j->known, j->matched, j->tag);
        passwd_file_free(j->f);
        job_free(j);
        return r;
    }
    return PASSWD_PENDING;
}
