/* Per-principal views (authz_impl.h): which rules name a principal, with
 * their tokens resolved, cached in the policy under the principal's
 * content. Content, not the principal's address: a later connection with
 * the same identity reuses the view, and a freed principal whose address
 * is reused can never see a stale one. */
#include <stdlib.h>
#include <string.h>

#include "auth/authz_impl.h"
#include "auth/principal.h"
#include "ssproto/glob.h"
#include "util/alloc.h"

static void key_field(buf *k, const void *data, size_t len)
{
    uint32_t n = (uint32_t)len;
    buf_append(k, &n, sizeof n);
    buf_append(k, data, len);
}

/* Length-prefixed fields: distinct principals give distinct keys. */
static void cache_key(buf *k, const principal *p)
{
    k->len = 0;
    key_field(k, p->client_id, p->client_id_len);
    buf_append_u8(k, p->username != NULL);
    if (p->username) key_field(k, p->username, p->username_len);
    for (size_t i = 0; i < p->nattrs; i++) {
        key_field(k, p->attrs[i].name, strlen(p->attrs[i].name));
        key_field(k, p->attrs[i].value, strlen(p->attrs[i].value));
    }
}

static bool str_is(const authz_str *s, const uint8_t *d, size_t n)
{
    return s->len == n && (n == 0 || memcmp(s->data, d, n) == 0);
}

static bool map_matches(const authz_attr_map *m, const principal *p)
{
    if (m->n == 0) return false; /* an empty map must not match everyone */
    for (size_t i = 0; i < m->n; i++) {
        const char *v = principal_attr_get(p, m->names[i]);
        if (!v || strcmp(v, m->values[i]) != 0) return false;
    }
    return true;
}

static bool rule_names(const authz_rule *r, const principal *p)
{
    for (size_t i = 0; i < r->nids; i++)
        if (str_is(&r->ids[i], p->client_id, p->client_id_len)) return true;
    for (size_t i = 0; p->username && i < r->nusers; i++)
        if (str_is(&r->users[i], p->username, p->username_len)) return true;
    for (size_t i = 0; i < r->nmaps; i++)
        if (map_matches(&r->maps[i], p)) return true;
    return false;
}

/* Resolve template t for p into a->subst; false if it matches nothing. */
static bool resolve(authz *a, const authz_str *t, const principal *p, authz_subst_mode mode)
{
    a->subst.len = 0;
    return authz_subst(t, p, mode, &a->subst);
}

static void add_str(authz_str **arr, size_t *n, const buf *b)
{
    authz_str_set(authz_push(arr, n, sizeof **arr), b->data ? b->data : (const uint8_t *)"", b->len);
}

static void view_add_broker(authz *a, authz_view *v, const authz_bres *br, const principal *p)
{
    if (br->method == AUTHZ_CONNECT) {
        if (br->n == 0) v->connect = true;
        for (size_t i = 0; i < br->n && !v->connect; i++)
            if (resolve(a, &br->items[i], p, AUTHZ_SUBST_PATTERN))
                v->connect = glob_match(a->subst.data, a->subst.len, p->client_id, p->client_id_len);
        return;
    }
    for (size_t i = 0; i < br->n; i++) {
        if (!resolve(a, &br->items[i], p, AUTHZ_SUBST_TOPIC)) continue;
        if (br->method == AUTHZ_PUBLISH) add_str(&v->pub, &v->npub, &a->subst);
        else add_str(&v->sub, &v->nsub, &a->subst);
    }
}

static void view_add_key(authz *a, authz_view *v, const authz_kres *k, const principal *p)
{
    if (k->type == AUTHZ_KEY_PATTERN && !resolve(a, &k->key, p, AUTHZ_SUBST_PATTERN)) return;
    authz_kres *out = authz_push(&v->keys, &v->nkeys, sizeof *v->keys);
    out->access = k->access;
    out->type = k->type;
    if (k->type == AUTHZ_KEY_PATTERN) authz_str_set(&out->key, a->subst.data, a->subst.len);
    else authz_str_set(&out->key, k->key.data, k->key.len);
}

static authz_view *view_build(authz *a, const principal *p)
{
    authz_view *v = xcalloc(1, sizeof *v);
    for (size_t i = 0; i < a->nrules; i++) {
        const authz_rule *r = &a->rules[i];
        if (!rule_names(r, p)) continue;
        for (size_t j = 0; j < r->nbres; j++) view_add_broker(a, v, &r->bres[j], p);
        for (size_t j = 0; j < r->nkeys; j++) view_add_key(a, v, &r->keys[j], p);
    }
    return v;
}

void authz_view_free(void *vp)
{
    authz_view *v = vp;
    for (size_t i = 0; i < v->npub; i++) free(v->pub[i].data);
    for (size_t i = 0; i < v->nsub; i++) free(v->sub[i].data);
    for (size_t i = 0; i < v->nkeys; i++) free(v->keys[i].key.data);
    free(v->pub);
    free(v->sub);
    free(v->keys);
    free(v);
}

const authz_view *authz_view_get(authz *a, const principal *p)
{
    cache_key(&a->scratch, p);
    authz_view *v = hashmap_get(a->views, a->scratch.data, a->scratch.len);
    if (v) return v;
    if (hashmap_size(a->views) >= AUTHZ_CACHE_MAX) {
        hashmap_free(a->views, authz_view_free);
        a->views = hashmap_new();
    }
    v = view_build(a, p);
    hashmap_put(a->views, a->scratch.data, a->scratch.len, v);
    return v;
}
