/* Building and freeing a policy (authz.h). Runs at load time only, so it
 * favours simple growth (one realloc per element) over speed. */
#include <stdlib.h>
#include <string.h>

#include "auth/authz_impl.h"
#include "util/alloc.h"

void *authz_push(void *arr_ptr, size_t *n, size_t size)
{
    char **arr = arr_ptr;
    *arr = xrealloc(*arr, (*n + 1) * size);
    char *el = *arr + *n * size;
    memset(el, 0, size);
    (*n)++;
    return el;
}

void authz_str_set(authz_str *s, const void *data, size_t len)
{
    s->data = xmalloc(len + 1);
    if (len) memcpy(s->data, data, len);
    s->data[len] = '\0';
    s->len = len;
    s->has_tokens = memchr(s->data, '{', len) != NULL;
}

authz *authz_new(bool enabled, bool allow_all_keys_without_rules)
{
    authz *a = xcalloc(1, sizeof *a);
    a->enabled = enabled;
    a->compat_all_keys = allow_all_keys_without_rules;
    a->views = hashmap_new();
    return a;
}

void authz_set_mode(authz *a, bool enabled, bool allow_all_keys_without_rules)
{
    a->enabled = enabled;
    a->compat_all_keys = allow_all_keys_without_rules;
}

bool authz_enabled(const authz *a) { return a->enabled; }

static void strs_free(authz_str *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].data);
    free(v);
}

static void rule_free(authz_rule *r)
{
    strs_free(r->ids, r->nids);
    strs_free(r->users, r->nusers);
    for (size_t i = 0; i < r->nmaps; i++) {
        for (size_t j = 0; j < r->maps[i].n; j++) {
            free(r->maps[i].names[j]);
            free(r->maps[i].values[j]);
        }
        free(r->maps[i].names);
        free(r->maps[i].values);
    }
    free(r->maps);
    for (size_t i = 0; i < r->nbres; i++) strs_free(r->bres[i].items, r->bres[i].n);
    free(r->bres);
    for (size_t i = 0; i < r->nkeys; i++) free(r->keys[i].key.data);
    free(r->keys);
}

void authz_free(authz *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nrules; i++) rule_free(&a->rules[i]);
    free(a->rules);
    hashmap_free(a->views, authz_view_free);
    buf_free(&a->scratch);
    buf_free(&a->subst);
    free(a);
}

static authz_rule *current(authz *a) { return &a->rules[a->nrules - 1]; }

void authz_rule_begin(authz *a)
{
    authz_push(&a->rules, &a->nrules, sizeof *a->rules);
    hashmap_free(a->views, authz_view_free); /* views depend on the rules */
    a->views = hashmap_new();
}

void authz_rule_client_id(authz *a, const char *id)
{
    authz_rule *r = current(a);
    authz_str_set(authz_push(&r->ids, &r->nids, sizeof *r->ids), id, strlen(id));
}

void authz_rule_username(authz *a, const char *name)
{
    authz_rule *r = current(a);
    authz_str_set(authz_push(&r->users, &r->nusers, sizeof *r->users), name, strlen(name));
}

void authz_rule_attributes(authz *a, const char *const *names, const char *const *values, size_t n)
{
    authz_rule *r = current(a);
    authz_attr_map *m = authz_push(&r->maps, &r->nmaps, sizeof *r->maps);
    m->names = xcalloc(n ? n : 1, sizeof *m->names);
    m->values = xcalloc(n ? n : 1, sizeof *m->values);
    for (size_t i = 0; i < n; i++) {
        m->names[i] = xstrdup(names[i]);
        m->values[i] = xstrdup(values[i]);
    }
    m->n = n;
}

static int fail(const char **why, const char *msg)
{
    *why = msg;
    return -1;
}

int authz_rule_broker(authz *a, authz_method m, const char *const *topics, size_t ntopics,
                      const char *const *client_ids, size_t nids, const char **why)
{
    if (m == AUTHZ_CONNECT && ntopics) return fail(why, "Connect takes clientIds, not topics");
    if (m != AUTHZ_CONNECT && nids) return fail(why, "clientIds apply to Connect only");
    if (m != AUTHZ_CONNECT && !ntopics) return fail(why, "Publish and Subscribe need at least one topic");
    for (size_t i = 0; i < ntopics; i++)
        if (!authz_filter_template_valid(topics[i], why)) return -1;
    for (size_t i = 0; i < nids; i++)
        if (!authz_pattern_template_valid(client_ids[i], strlen(client_ids[i]), why)) return -1;
    authz_rule *r = current(a);
    authz_bres *b = authz_push(&r->bres, &r->nbres, sizeof *r->bres);
    b->method = m;
    const char *const *src = m == AUTHZ_CONNECT ? client_ids : topics;
    size_t n = m == AUTHZ_CONNECT ? nids : ntopics;
    for (size_t i = 0; i < n; i++) {
        authz_str *s = authz_push(&b->items, &b->n, sizeof *b->items);
        authz_str_set(s, src[i], strlen(src[i]));
        if (m == AUTHZ_CONNECT) authz_pattern_normalize(s->data, s->len);
    }
    return 0;
}

int authz_rule_key(authz *a, unsigned access, authz_key_type type, const uint8_t *key, size_t len, const char **why)
{
    if (!access || (access & ~(AUTHZ_READ | AUTHZ_WRITE))) return fail(why, "no access method");
    if (len == 0) return fail(why, "empty key");
    if (type == AUTHZ_KEY_PATTERN && !authz_pattern_template_valid((const char *)key, len, why)) return -1;
    authz_rule *r = current(a);
    authz_kres *k = authz_push(&r->keys, &r->nkeys, sizeof *r->keys);
    k->access = access;
    k->type = type;
    authz_str_set(&k->key, key, len);
    if (type == AUTHZ_KEY_PATTERN) authz_pattern_normalize(k->key.data, k->key.len);
    else k->key.has_tokens = false; /* braces are literal in String and Binary keys */
    a->any_keys = true;
    return 0;
}

int authz_rule_end(authz *a, const char **why)
{
    const authz_rule *r = current(a);
    if (!r->nids && !r->nusers && !r->nmaps)
        return fail(why, "a rule needs principals (clientIds, usernames or attributes)");
    return 0;
}

size_t authz_cached_views(const authz *a) { return hashmap_size(a->views); }
