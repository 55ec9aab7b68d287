/* Decisions (authz.h): a lookup of the principal's cached view, then a
 * scan of only what that view grants. No allocation once the view is
 * cached: the state store asks once per request and, for SCAN, per key. */
#include <string.h>

#include "auth/authz_impl.h"
#include "auth/principal.h"
#include "ssproto/glob.h"

bool authz_connect(authz *a, const principal *p)
{
    if (!a->enabled) return true;
    return p && authz_view_get(a, p)->connect;
}

static bool any_covers(const authz_str *fs, size_t n, const uint8_t *t, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (authz_filter_covers(fs[i].data, fs[i].len, t, len)) return true;
    return false;
}

bool authz_publish(authz *a, const principal *p, const uint8_t *topic, size_t len)
{
    if (!a->enabled) return true;
    if (!p) return false;
    const authz_view *v = authz_view_get(a, p);
    return any_covers(v->pub, v->npub, topic, len);
}

bool authz_subscribe(authz *a, const principal *p, const uint8_t *filter, size_t len)
{
    if (!a->enabled) return true;
    if (!p) return false;
    const authz_view *v = authz_view_get(a, p);
    return any_covers(v->sub, v->nsub, filter, len);
}

static bool key_matches(const authz_kres *k, const uint8_t *key, size_t klen)
{
    if (k->type == AUTHZ_KEY_PATTERN) return glob_match(k->key.data, k->key.len, key, klen);
    return k->key.len == klen && memcmp(k->key.data, key, klen) == 0;
}

bool authz_key(authz *a, const principal *p, const uint8_t *key, size_t klen, unsigned access)
{
    if (!a->enabled || (a->compat_all_keys && !a->any_keys)) return true;
    if (!p) return false;
    const authz_view *v = authz_view_get(a, p);
    for (size_t i = 0; i < v->nkeys; i++)
        if ((v->keys[i].access & access) == access && key_matches(&v->keys[i], key, klen)) return true;
    return false;
}
