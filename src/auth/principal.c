#include "auth/principal.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/le.h"

principal *principal_new(const void *client_id, size_t client_id_len, const void *username, size_t username_len,
                         const char *method)
{
    size_t ulen = username ? username_len : 0;
    principal *p = xcalloc(1, sizeof *p + client_id_len + ulen);
    p->client_id = p->bytes;
    if (client_id_len) memcpy(p->client_id, client_id, client_id_len);
    p->client_id_len = client_id_len;
    if (username) {
        p->username = p->bytes + client_id_len;
        if (ulen) memcpy(p->username, username, ulen);
        p->username_len = ulen;
    }
    p->method = method;
    return p;
}

void principal_add_attr(principal *p, const char *name, const char *value)
{
    p->attrs = xrealloc(p->attrs, (p->nattrs + 1) * sizeof *p->attrs);
    p->attrs[p->nattrs].name = xstrdup(name);
    p->attrs[p->nattrs].value = xstrdup(value);
    p->nattrs++;
}

const char *principal_attr_get(const principal *p, const char *name)
{
    for (size_t i = 0; i < p->nattrs; i++)
        if (strcmp(p->attrs[i].name, name) == 0) return p->attrs[i].value;
    return NULL;
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool principal_same(const principal *a, const principal *b)
{
    if (!a || !b) return a == b;
    if (strcmp(a->method, b->method) != 0 || a->nattrs != b->nattrs) return false;
    if (!same_bytes(a->client_id, a->client_id_len, b->client_id, b->client_id_len)) return false;
    if (!a->username != !b->username) return false;
    if (a->username && !same_bytes(a->username, a->username_len, b->username, b->username_len)) return false;
    for (size_t i = 0; i < a->nattrs; i++) {
        const char *v = principal_attr_get(b, a->attrs[i].name);
        if (!v || strcmp(v, a->attrs[i].value) != 0) return false;
    }
    return true;
}

void principal_free(principal *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nattrs; i++) {
        free(p->attrs[i].name);
        free(p->attrs[i].value);
    }
    free(p->attrs);
    free(p);
}

/* --- encoding ---------------------------------------------------------------- */

#define PRINCIPAL_ENC_VERSION 1

/* The methods a principal can have (its method is a static string). */
static const char *const methods[] = {"anonymous", "password", "x509"};

typedef struct enc {
    uint8_t *out;
    size_t cap, len;
} enc;

static void put(enc *e, const void *p, size_t n)
{
    if (e->len + n <= e->cap && n) memcpy(e->out + e->len, p, n);
    e->len += n;
}

static void put_u32(enc *e, size_t v)
{
    uint8_t t[4];
    le_put_u32(t, (uint32_t)v);
    put(e, t, 4);
}

static void put_str(enc *e, const void *p, size_t n)
{
    put_u32(e, n);
    put(e, p, n);
}

size_t principal_encode(const principal *p, uint8_t *out, size_t cap)
{
    enc e = {out, cap, 0};
    uint8_t v = PRINCIPAL_ENC_VERSION, has_user = p->username != NULL;
    put(&e, &v, 1);
    put_str(&e, p->method, strlen(p->method));
    put_str(&e, p->client_id, p->client_id_len);
    put(&e, &has_user, 1);
    put_str(&e, p->username, p->username_len);
    put_u32(&e, p->nattrs);
    for (size_t i = 0; i < p->nattrs; i++) {
        put_str(&e, p->attrs[i].name, strlen(p->attrs[i].name));
        put_str(&e, p->attrs[i].value, strlen(p->attrs[i].value));
    }
    return e.len;
}

/* A NUL-free string field as a C string (owned), or NULL. */
static char *get_cstr(le_reader *r)
{
    uint32_t n;
    const uint8_t *p = le_get_lenbytes(r, &n);
    if (!p || memchr(p, 0, n)) return NULL;
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

principal *principal_decode(const uint8_t *p, size_t n)
{
    le_reader r = le_reader_of(p, n);
    if (le_get_u8(&r) != PRINCIPAL_ENC_VERSION) return NULL;
    uint32_t mlen, idlen, ulen;
    const uint8_t *m = le_get_lenbytes(&r, &mlen);
    const char *method = NULL;
    for (size_t i = 0; m && i < sizeof methods / sizeof *methods; i++)
        if (mem_eq(m, mlen, methods[i], strlen(methods[i]))) method = methods[i];
    const uint8_t *id = le_get_lenbytes(&r, &idlen);
    uint8_t has_user = le_get_u8(&r);
    const uint8_t *user = le_get_lenbytes(&r, &ulen);
    uint32_t nattrs = le_get_u32(&r);
    if (!method || r.bad || has_user > 1 || (!has_user && ulen) || nattrs > r.n / 8) return NULL;
    principal *q = principal_new(id, idlen, has_user ? user : NULL, ulen, method);
    for (uint32_t i = 0; i < nattrs; i++) {
        char *name = get_cstr(&r), *value = get_cstr(&r);
        if (name && value) principal_add_attr(q, name, value);
        free(name);
        free(value);
        if (!name || !value) break;
    }
    if (q->nattrs != nattrs || !le_reader_done(&r)) {
        principal_free(q);
        return NULL;
    }
    return q;
}
