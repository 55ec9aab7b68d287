/* Private to the authz_*.c files: the compiled policy and the per
 * principal views (see authz.h for the semantics).
 *
 * Ownership: the policy owns its rules, every string in them, and the view
 * cache; each view owns its resolved strings. */
#ifndef MQS_AUTH_AUTHZ_IMPL_H
#define MQS_AUTH_AUTHZ_IMPL_H

#include "auth/authz.h"
#include "util/buf.h"
#include "util/hashmap.h"

/* Resolved views are dropped all at once beyond this many principals, so a
 * stream of distinct client ids cannot grow the cache without bound. */
#define AUTHZ_CACHE_MAX 65536

typedef struct authz_str {
    uint8_t *data; /* owned, NUL-terminated for convenience */
    size_t len;
    bool has_tokens; /* templates only: contains {principal.*} */
} authz_str;

typedef struct authz_attr_map {
    char **names, **values;
    size_t n;
} authz_attr_map;

/* One brokerResources entry: topic filter templates (Publish, Subscribe)
 * or client id pattern templates (Connect). */
typedef struct authz_bres {
    authz_method method;
    authz_str *items;
    size_t n;
} authz_bres;

typedef struct authz_kres {
    unsigned access;
    authz_key_type type;
    authz_str key; /* Pattern: a template; String, Binary: the exact bytes */
} authz_kres;

typedef struct authz_rule {
    authz_str *ids, *users;
    size_t nids, nusers;
    authz_attr_map *maps;
    size_t nmaps;
    authz_bres *bres;
    size_t nbres;
    authz_kres *keys;
    size_t nkeys;
} authz_rule;

/* What one principal may do under one policy, tokens resolved. */
typedef struct authz_view {
    bool connect;
    authz_str *pub, *sub; /* filters */
    size_t npub, nsub;
    authz_kres *keys; /* Pattern keys resolved to plain glob patterns */
    size_t nkeys;
} authz_view;

struct authz {
    bool enabled;
    bool compat_all_keys; /* allow_all_keys_without_rules */
    bool any_keys;        /* some rule has a state store resource */
    authz_rule *rules;
    size_t nrules;
    hashmap *views; /* principal content -> authz_view */
    buf scratch;    /* the cache key being looked up */
    buf subst;      /* substitution output while building a view */
};

/* Grow *arr (elements of `size` bytes) by one zeroed element; returns it. */
void *authz_push(void *arr_ptr, size_t *n, size_t size);
void authz_str_set(authz_str *s, const void *data, size_t len);

/* authz_subst.c */
typedef enum authz_subst_mode {
    AUTHZ_SUBST_TOPIC,   /* values with '/', '+', '#' are refused */
    AUTHZ_SUBST_PATTERN, /* values with '/' are refused; '*', '?', '[' made literal */
} authz_subst_mode;

/* Append template `t` to out with its tokens replaced by p's values.
 * False (out then holds garbage) when a value is missing or refused. */
bool authz_subst(const authz_str *t, const struct principal *p, authz_subst_mode mode, buf *out);
/* The length of the token at s[0] == '{', or 0 if it is not a valid one. */
size_t authz_token_len(const uint8_t *s, size_t n);
/* `[^...]` is the same negated class as `[!...]` (§10.3); glob.h knows only
 * '!', so a valid pattern template is rewritten in place once, at load. */
void authz_pattern_normalize(uint8_t *p, size_t n);

/* authz_view.c */
const authz_view *authz_view_get(authz *a, const struct principal *p);
void authz_view_free(void *v);

#endif
