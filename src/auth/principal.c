#include "auth/principal.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

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
