/* Schema tables for the `authorization:` section (AIO's rule model,
 * protocol §10.1, camelCase keys). Values are validated where they appear,
 * so every message names the file, the line and the key path, e.g.
 * "authorization.rules[0].stateStoreResources[1].keys[2]". */
#include "server/config_authz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authz.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/buf.h"

#define MAX_LIST 4096 /* entries per list: far beyond any real policy */

/* A key path for messages; long paths are cut, which only shortens a
 * message (vsnprintf keeps -Wformat-truncation out of it). */
__attribute__((format(printf, 3, 4))) static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static size_t seq_len(const yaml_node_t *v)
{
    return (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
}

static const yaml_node_t *seq_item(schema_ctx *sc, const yaml_node_t *v, size_t i)
{
    return yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]);
}

static int expect_seq(schema_ctx *sc, const yaml_node_t *v, const char *path)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return schema_fail(sc, v, "%s: expected a sequence, got %s", path, schema_type_name(v));
    if (seq_len(v) > MAX_LIST) return schema_fail(sc, v, "%s: more than %d entries", path, MAX_LIST);
    return 0;
}

/* A scalar string without NUL bytes. */
static const char *text_of(schema_ctx *sc, const yaml_node_t *v, const char *path, const char *what)
{
    const char *s = schema_scalar(sc, v, path, what);
    if (s && strlen(s) != v->data.scalar.length) {
        schema_fail(sc, v, "%s: NUL characters are not allowed", path);
        return NULL;
    }
    return s;
}

static int parse_bool(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "true or false");
    if (!s) return -1;
    bool val;
    if (!strcmp(s, "true")) val = true;
    else if (!strcmp(s, "false")) val = false;
    else {
        char text[48];
        return schema_fail(sc, v, "%s: expected true or false, got \"%s\"", path, schema_text(v, text, sizeof text));
    }
    *(bool *)((char *)target + spec->offset) = val;
    return 0;
}

/* Case-insensitive enum (Learn writes "read", the ARM reference "Read").
 * Returns the index in names, or -1 after an error. */
static int parse_enum(schema_ctx *sc, const yaml_node_t *v, const char *path, const char *const *names, size_t n,
                      const char *expect)
{
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, names[i]) && strlen(s) == v->data.scalar.length) return (int)i;
    char text[48];
    schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    return -1;
}

/* --- one rule --------------------------------------------------------------- */

/* The target of the rule-level tables. Lists are kept as nodes until the
 * whole mapping is read, because `method` / `keyType` may come after them. */
typedef struct res_ctx {
    int method; /* -1 until seen */
    int key_type;
    const yaml_node_t *topics, *client_ids, *keys;
    char topics_path[160], ids_path[160], keys_path[160];
} res_ctx;

typedef struct rule_ctx {
    authz *a;
} rule_ctx;

static int parse_strings(schema_ctx *sc, const yaml_node_t *v, const char *path, void (*add)(authz *, const char *),
                         authz *a)
{
    if (expect_seq(sc, v, path)) return -1;
    for (size_t i = 0; i < seq_len(v); i++) {
        char p[192];
        pathf(p, sizeof p, "%s[%zu]", path, i);
        const char *s = text_of(sc, seq_item(sc, v, i), p, "a string");
        if (!s) return -1;
        add(a, s);
    }
    return 0;
}

static int parse_principal_ids(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                               void *target)
{
    (void)spec;
    return parse_strings(sc, v, path, authz_rule_client_id, ((rule_ctx *)target)->a);
}

static int parse_usernames(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    return parse_strings(sc, v, path, authz_rule_username, ((rule_ctx *)target)->a);
}

static int parse_attr_map(schema_ctx *sc, const yaml_node_t *m, const char *path, authz *a)
{
    if (m->type != YAML_MAPPING_NODE)
        return schema_fail(sc, m, "%s: expected a mapping of attribute names to values, got %s", path,
                           schema_type_name(m));
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    if (n == 0) return schema_fail(sc, m, "%s: an attributes entry needs at least one name: value", path);
    const char **names = xcalloc(n, sizeof *names), **values = xcalloc(n, sizeof *values);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        yaml_node_pair_t *pair = m->data.mapping.pairs.start + i;
        char p[192];
        pathf(p, sizeof p, "%s[name %zu]", path, i);
        names[i] = text_of(sc, yaml_document_get_node(sc->doc, pair->key), p, "an attribute name");
        if (names[i]) pathf(p, sizeof p, "%s.%s", path, names[i]);
        values[i] = names[i] ? text_of(sc, yaml_document_get_node(sc->doc, pair->value), p, "a string") : NULL;
        if (!values[i]) r = -1;
    }
    if (r == 0) authz_rule_attributes(a, names, values, n);
    free(names);
    free(values);
    return r;
}

static int parse_attributes(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    if (expect_seq(sc, v, path)) return -1;
    for (size_t i = 0; i < seq_len(v); i++) {
        char p[192];
        pathf(p, sizeof p, "%s[%zu]", path, i);
        if (parse_attr_map(sc, seq_item(sc, v, i), p, ((rule_ctx *)target)->a)) return -1;
    }
    return 0;
}

static const key_spec principal_keys[] = {
    {"clientIds", parse_principal_ids, 0, 0, 0, 0, NULL, NULL},
    {"usernames", parse_usernames, 0, 0, 0, 0, NULL, NULL},
    {"attributes", parse_attributes, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static int parse_principals(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    if (v->type != YAML_MAPPING_NODE)
        return schema_fail(sc, v, "%s: expected a mapping, got %s", path, schema_type_name(v));
    return schema_walk(sc, v, path, principal_keys, target);
}

/* --- resources ---------------------------------------------------------------- */

static const char *const methods[] = {"Connect", "Publish", "Subscribe"};
static const char *const access_names[] = {"Read", "Write", "ReadWrite"};
static const char *const key_types[] = {"Pattern", "String", "Binary"};

static int parse_bmethod(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    int m = parse_enum(sc, v, path, methods, 3, "Connect, Publish or Subscribe");
    ((res_ctx *)target)->method = m;
    return m < 0 ? -1 : 0;
}

static int parse_smethod(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    int m = parse_enum(sc, v, path, access_names, 3, "Read, Write or ReadWrite");
    ((res_ctx *)target)->method = m;
    return m < 0 ? -1 : 0;
}

static int parse_key_type(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    int t = parse_enum(sc, v, path, key_types, 3, "Pattern, String or Binary");
    ((res_ctx *)target)->key_type = t;
    return t < 0 ? -1 : 0;
}

/* Keep a list node for after the walk (path copied for messages). */
static int keep_list(schema_ctx *sc, const yaml_node_t *v, const char *path, const yaml_node_t **slot, char *slot_path,
                     size_t pathlen)
{
    if (expect_seq(sc, v, path)) return -1;
    *slot = v;
    pathf(slot_path, pathlen, "%s", path);
    return 0;
}

static int keep_topics(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *t)
{
    (void)spec;
    res_ctx *r = t;
    return keep_list(sc, v, path, &r->topics, r->topics_path, sizeof r->topics_path);
}

static int keep_ids(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *t)
{
    (void)spec;
    res_ctx *r = t;
    return keep_list(sc, v, path, &r->client_ids, r->ids_path, sizeof r->ids_path);
}

static int keep_keys(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *t)
{
    (void)spec;
    res_ctx *r = t;
    return keep_list(sc, v, path, &r->keys, r->keys_path, sizeof r->keys_path);
}

static const key_spec broker_res_keys[] = {
    {"method", parse_bmethod, 0, 0, 0, 0, NULL, NULL},
    {"topics", keep_topics, 0, 0, 0, 0, NULL, NULL},
    {"clientIds", keep_ids, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static const key_spec store_res_keys[] = {
    {"method", parse_smethod, 0, 0, 0, 0, NULL, NULL},
    {"keyType", parse_key_type, 0, 0, 0, 0, NULL, NULL},
    {"keys", keep_keys, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

/* The strings of a kept list, each checked with `valid` at its own node. */
static const char **list_strings(schema_ctx *sc, const yaml_node_t *v, const char *path,
                                 bool (*valid)(const char *, const char **), size_t *n)
{
    *n = v ? seq_len(v) : 0;
    const char **out = xcalloc(*n ? *n : 1, sizeof *out);
    for (size_t i = 0; i < *n; i++) {
        char p[192];
        pathf(p, sizeof p, "%s[%zu]", path, i);
        const yaml_node_t *item = seq_item(sc, v, i);
        const char *why = NULL;
        out[i] = text_of(sc, item, p, "a string");
        if (out[i] && !valid(out[i], &why)) {
            schema_fail(sc, item, "%s: %s", p, why);
            out[i] = NULL;
        }
        if (!out[i]) {
            free(out);
            return NULL;
        }
    }
    return out;
}

static bool pattern_valid(const char *s, const char **why) { return authz_pattern_template_valid(s, strlen(s), why); }

static int add_broker_res(schema_ctx *sc, const yaml_node_t *m, const char *path, authz *a)
{
    res_ctx r = {.method = -1};
    if (m->type != YAML_MAPPING_NODE)
        return schema_fail(sc, m, "%s: expected a mapping, got %s", path, schema_type_name(m));
    if (schema_walk(sc, m, path, broker_res_keys, &r)) return -1;
    if (r.method < 0) return schema_fail(sc, m, "%s.method: required (Connect, Publish or Subscribe)", path);
    size_t nt, ni;
    const char **topics = list_strings(sc, r.topics, r.topics_path, authz_filter_template_valid, &nt);
    const char **ids = topics ? list_strings(sc, r.client_ids, r.ids_path, pattern_valid, &ni) : NULL;
    int rc = -1;
    const char *why = NULL;
    if (topics && ids) {
        rc = authz_rule_broker(a, (authz_method)r.method, topics, nt, ids, ni, &why);
        if (rc) schema_fail(sc, m, "%s: %s", path, why);
    }
    free(topics);
    free(ids);
    return rc;
}

static int add_key(schema_ctx *sc, const yaml_node_t *item, const char *p, const res_ctx *r, authz *a, buf *bin)
{
    const char *s = text_of(sc, item, p, "a string");
    if (!s) return -1;
    unsigned access = (unsigned)r->method + 1; /* Read 1, Write 2, ReadWrite 3 */
    const uint8_t *key = (const uint8_t *)s;
    size_t len = strlen(s);
    if (r->key_type == AUTHZ_KEY_BINARY) {
        bin->len = 0;
        if (!base64_decode(s, len, bin))
            return schema_fail(sc, item, "%s: not valid base64 (standard alphabet, '=' padding)", p);
        key = bin->data;
        len = bin->len;
    }
    const char *why = NULL;
    if (authz_rule_key(a, access, (authz_key_type)r->key_type, key, len, &why))
        return schema_fail(sc, item, "%s: %s", p, why);
    return 0;
}

static int add_store_res(schema_ctx *sc, const yaml_node_t *m, const char *path, authz *a)
{
    res_ctx r = {.method = -1, .key_type = AUTHZ_KEY_PATTERN};
    if (m->type != YAML_MAPPING_NODE)
        return schema_fail(sc, m, "%s: expected a mapping, got %s", path, schema_type_name(m));
    if (schema_walk(sc, m, path, store_res_keys, &r)) return -1;
    if (r.method < 0) return schema_fail(sc, m, "%s.method: required (Read, Write or ReadWrite)", path);
    if (!r.keys || seq_len(r.keys) == 0) return schema_fail(sc, m, "%s.keys: at least one key is required", path);
    buf bin = {0};
    int rc = 0;
    for (size_t i = 0; i < seq_len(r.keys) && rc == 0; i++) {
        char p[192];
        pathf(p, sizeof p, "%s[%zu]", r.keys_path, i);
        rc = add_key(sc, seq_item(sc, r.keys, i), p, &r, a, &bin);
    }
    buf_free(&bin);
    return rc;
}

static int parse_res_list(schema_ctx *sc, const yaml_node_t *v, const char *path, authz *a,
                          int (*add)(schema_ctx *, const yaml_node_t *, const char *, authz *))
{
    if (expect_seq(sc, v, path)) return -1;
    for (size_t i = 0; i < seq_len(v); i++) {
        char p[160];
        pathf(p, sizeof p, "%s[%zu]", path, i);
        if (add(sc, seq_item(sc, v, i), p, a)) return -1;
    }
    return 0;
}

static int parse_broker_res(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    return parse_res_list(sc, v, path, ((rule_ctx *)target)->a, add_broker_res);
}

static int parse_store_res(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    return parse_res_list(sc, v, path, ((rule_ctx *)target)->a, add_store_res);
}

static const key_spec rule_keys[] = {
    {"principals", parse_principals, 0, 0, 0, 0, NULL, NULL},
    {"brokerResources", parse_broker_res, 0, 0, 0, 0, NULL, NULL},
    {"stateStoreResources", parse_store_res, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static int parse_rule(schema_ctx *sc, const yaml_node_t *m, const char *path, authz *a)
{
    if (m->type != YAML_MAPPING_NODE)
        return schema_fail(sc, m, "%s: expected a mapping, got %s", path, schema_type_name(m));
    rule_ctx rc = {a};
    authz_rule_begin(a);
    if (schema_walk(sc, m, path, rule_keys, &rc)) return -1;
    const char *why = NULL;
    if (authz_rule_end(a, &why)) return schema_fail(sc, m, "%s: %s", path, why);
    return 0;
}

static int parse_rules(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    config_authz *ca = target;
    if (schema_is_null(v)) v = NULL;
    else if (expect_seq(sc, v, path)) return -1;
    authz *a = authz_new(false, false);
    for (size_t i = 0; v && i < seq_len(v); i++) {
        char p[64];
        pathf(p, sizeof p, "%s[%zu]", path, i);
        if (parse_rule(sc, seq_item(sc, v, i), p, a)) {
            authz_free(a);
            return -1;
        }
    }
    /* The previous pointer belongs to the original config (see
     * config_authz_discard / commit), never to this copy. */
    ca->rules = a;
    return 0;
}

const key_spec config_authz_keys[] = {
    {"enabled", parse_bool, offsetof(config_authz, enabled), 0, 0, 0, NULL, NULL},
    {"allow_all_keys_without_rules", parse_bool, offsetof(config_authz, allow_all_keys_without_rules), 0, 0, 0, NULL,
     NULL},
    {"rules", parse_rules, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

void config_authz_discard(config_authz *tmp, const config_authz *orig)
{
    if (tmp->rules != orig->rules) authz_free(tmp->rules);
    tmp->rules = orig->rules;
}

void config_authz_commit(config_authz *tmp, const config_authz *orig)
{
    if (tmp->rules != orig->rules) authz_free(orig->rules);
}

void config_authz_free(config_authz *ca)
{
    authz_free(ca->rules);
    ca->rules = NULL;
}

struct authz *config_authz_take(config_authz *ca)
{
    authz *a = ca->rules ? ca->rules : authz_new(false, false);
    ca->rules = NULL;
    authz_set_mode(a, ca->enabled, ca->allow_all_keys_without_rules);
    return a;
}
