/* The mqstated configuration schema (tables for schema.c) and loading. */
#include "server/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "broker/topic_tree.h"
#include "mqtt/codec.h"
#include "server/config_keys.h"
#include "ssproto/glob.h"
#include "server/config_listener.h"
#include "server/config_metrics.h"
#include "server/schema.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/buf.h"

/* Larger files are certainly not configuration; refuse before parsing. */
#define CONFIG_MAX_FILE (1024 * 1024)

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int config_parse_log_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, level_names[i])) return i;
    return strcmp(s, "warning") ? -1 : LOG_WARN; /* syslog's word */
}

static int parse_log_level(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *expect = "one of error, warn, info, debug";
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    int level = config_parse_log_level(s);
    char text[48];
    if (level < 0 || strlen(s) != v->data.scalar.length)
        return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    *(enum log_level *)((char *)target + spec->offset) = (enum log_level)level;
    return 0;
}

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)
#define UINT_KEY(type, key, field, lo, hi)                                                         \
    {                                                                                              \
        key, schema_parse_uint, offsetof(type, field), FIELD_SIZE(type, field), lo, hi, NULL, NULL \
    }
#define LIMIT(key, field, lo, hi) UINT_KEY(broker_limits, key, field, lo, hi)

static int check_limits(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target)
{
    const broker_limits *l = target;
    if (l->keepalive_max >= l->keepalive_min) return 0;
    const yaml_node_t *at = schema_find(sc, mapping, "keepalive_max");
    if (!at) at = schema_find(sc, mapping, "keepalive_min");
    return schema_fail(sc, at ? at : mapping, "%s.keepalive_max: must be at least keepalive_min (%u), got %u", path,
                       l->keepalive_min, l->keepalive_max);
}

const key_spec config_limit_keys[] = {
    LIMIT("max_packet_size", max_packet_size, 16, 268435455),
    LIMIT("receive_maximum", receive_max, 1, 65535),
    LIMIT("max_inflight", max_inflight, 1, 65535),
    LIMIT("max_queued_messages", max_queued, 1, 10000000),
    LIMIT("max_queued_bytes", max_queued_bytes, 0, 1073741824),
    LIMIT("slow_subscriber_timeout", slow_subscriber_timeout, 0, 86400),
    LIMIT("max_topic_levels", max_topic_levels, 1, 65535),
    LIMIT("max_connections", max_connections, 0, UINT32_MAX),
    LIMIT("keepalive_min", keepalive_min, 0, 65535),
    LIMIT("keepalive_max", keepalive_max, 1, 65535),
    LIMIT("topic_alias_maximum", topic_alias_max, 0, 65535),
    LIMIT("max_session_expiry", max_session_expiry, 0, UINT32_MAX),
    LIMIT("max_backlog_bytes", max_backlog_bytes, 4096, 1073741824),
    LIMIT("connect_timeout", connect_timeout, 1, 65535),
    LIMIT("max_connect_size", max_connect_size, 16, 268435455),
    LIMIT("close_timeout", close_timeout, 1, 3600),
    LIMIT("max_pending_per_address", max_pending_per_address, 0, UINT32_MAX),
    SCHEMA_END,
};

static int parse_listeners(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    config *c = target;
    if (!schema_is_null(v) && v->type != YAML_SEQUENCE_NODE)
        return schema_fail(sc, v, "%s: expected a sequence, got %s", path, schema_type_name(v));
    size_t n = schema_is_null(v) ? 0 : (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0) return schema_fail(sc, v, "%s: expected at least one listener", path);
    if (n > CONFIG_MAX_LISTENERS)
        return schema_fail(sc, v, "%s: at most %d listeners are supported", path, CONFIG_MAX_LISTENERS);
    config_listener *ls = xcalloc(n, sizeof *ls);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]);
        char item_path[64];
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        config_listener_init(&ls[i]);
        if (item->type != YAML_MAPPING_NODE) {
            free(ls);
            return schema_fail(sc, item, "%s: expected a mapping, got %s", item_path, schema_type_name(item));
        }
        ls[i].line = (unsigned)item->start_mark.line + 1;
        if (schema_walk(sc, item, item_path, config_listener_keys, &ls[i]) != 0 ||
            config_listener_check(sc, item, item_path, &ls[i]) != 0) {
            free(ls);
            return -1;
        }
    }
    (void)spec;
    free(c->listeners);
    c->listeners = ls;
    c->nlisteners = n;
    return 0;
}

/* An HLC node id travels in every version string `wall:counter:node`
 * (protocol §4.1): printable ASCII without spaces, and no ':'. */
static int parse_node_id(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *expect = "a node id (1 to 64 printable ASCII characters, no ':' or spaces)";
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    bool ok = n >= 1 && n <= CONFIG_NODE_ID_MAX;
    for (size_t i = 0; ok && i < n; i++) ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != ':';
    char text[48];
    if (!ok) return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

#define STORE_KEY(key, field, lo, hi) UINT_KEY(config_store, key, bridge.field, lo, hi)

const key_spec config_store_keys[] = {
    {"node_id", parse_node_id, offsetof(config_store, node_id), 0, 0, 0, NULL, NULL},
    STORE_KEY("max_keys", store.limits.max_keys, 0, UINT32_MAX),
    STORE_KEY("max_bytes", store.limits.max_bytes, 0, UINT64_C(1) << 48),
    STORE_KEY("max_key_len", store.limits.max_key_len, 0, 268435455),
    STORE_KEY("scan_page_keys", store.scan_page_keys, 1, 1000000),
    STORE_KEY("scan_page_bytes", store.scan_page_bytes, 1024, 268435455),
    STORE_KEY("max_notify_bytes", store.max_notify_bytes, 0, UINT64_C(1) << 40),
    STORE_KEY("reply_cache_entries", reply_cache_entries, 1, 100000000),
    STORE_KEY("reply_cache_bytes", reply_cache_bytes, 4096, UINT64_C(1) << 40),
    SCHEMA_END,
};

/* --- persistence: ------------------------------------------------------------ */

static int parse_dir(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "a directory path");
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n >= CONFIG_PATH_MAX || strlen(s) != n)
        return schema_fail(sc, v, "%s: expected a directory path (1 to %d bytes, no NUL)", path, CONFIG_PATH_MAX - 1);
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

/* Exact-match enum; returns the index or -1 after schema_fail. */
static int parse_word(schema_ctx *sc, const yaml_node_t *v, const char *path, const char *const *names, int n,
                      const char *expect)
{
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]) && strlen(s) == v->data.scalar.length) return i;
    char text[48];
    return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
}

static int parse_fsync(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"always", "everysec", "no"};
    static const store_fsync_mode modes[] = {STORE_FSYNC_ALWAYS, STORE_FSYNC_EVERYSEC, STORE_FSYNC_NO};
    int i = parse_word(sc, v, path, names, 3, "one of always, everysec, no");
    if (i < 0) return -1;
    *(store_fsync_mode *)((char *)target + spec->offset) = modes[i];
    return 0;
}

static int parse_persist_mode(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                              void *target)
{
    static const char *const names[] = {"all", "none", "custom"};
    static const config_persist_mode modes[] = {CONFIG_PERSIST_ALL, CONFIG_PERSIST_NONE, CONFIG_PERSIST_CUSTOM};
    int i = parse_word(sc, v, path, names, 3, "one of all, none, custom");
    if (i < 0) return -1;
    *(config_persist_mode *)((char *)target + spec->offset) = modes[i];
    return 0;
}

/* One key of a state_store.keys entry into the rules. */
static int add_persist_key(schema_ctx *sc, const yaml_node_t *k, const char *path, store_persist_kind kind, bool binary,
                           store_persist_rules *rules)
{
    const char *s = schema_scalar(sc, k, path, binary ? "a base64 key" : "a key");
    if (!s) return -1;
    size_t n = k->data.scalar.length;
    buf raw = {0};
    const void *key = s;
    if (binary) {
        if (!base64_decode(s, n, &raw)) {
            char text[48];
            buf_free(&raw);
            return schema_fail(sc, k,
                               "%s: expected a base64 key (RFC 4648, standard alphabet, '=' padding), got \"%s\"", path,
                               schema_text(k, text, sizeof text));
        }
        key = raw.data;
        n = raw.len;
    }
    store_persist_add_err e = store_persist_rules_add(rules, kind, key, n);
    buf_free(&raw);
    switch (e) {
    case STORE_PERSIST_ADD_OK: return 0;
    case STORE_PERSIST_ADD_EMPTY: return schema_fail(sc, k, "%s: a key or pattern must not be empty", path);
    case STORE_PERSIST_ADD_BAD_PATTERN:
        return schema_fail(sc, k, "%s: invalid pattern (not UTF-8, or an unterminated [class])", path);
    case STORE_PERSIST_ADD_FULL: break;
    }
    return schema_fail(sc, k, "%s: too many keys (at most %d entries and %d bytes in state_store.keys)", path,
                       STORE_PERSIST_RULES_MAX, STORE_PERSIST_BYTES_MAX);
}

/* One `{keyType: Pattern|String|Binary, keys: [...]}` entry. */
static int parse_persist_entry(schema_ctx *sc, const yaml_node_t *item, const char *path, store_persist_rules *rules)
{
    if (item->type != YAML_MAPPING_NODE)
        return schema_fail(sc, item, "%s: expected a mapping {keyType, keys}, got %s", path, schema_type_name(item));
    const yaml_node_t *type = NULL, *keys = NULL;
    for (yaml_node_pair_t *pr = item->data.mapping.pairs.start; pr < item->data.mapping.pairs.top; pr++) {
        const yaml_node_t *k = yaml_document_get_node(sc->doc, pr->key);
        const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        const yaml_node_t **slot = !strcmp(name, "keyType") ? &type : !strcmp(name, "keys") ? &keys : NULL;
        char text[48];
        if (!slot) return schema_fail(sc, k, "unknown key \"%s.%s\"", path, schema_text(k, text, sizeof text));
        if (*slot) return schema_fail(sc, k, "duplicate key \"%s.%s\"", path, name);
        *slot = yaml_document_get_node(sc->doc, pr->value);
    }
    char sub[96];
    if (!type) return schema_fail(sc, item, "%s: keyType missing (Pattern, String or Binary)", path);
    if (!keys) return schema_fail(sc, item, "%s: keys missing (a list of keys)", path);
    /* Case-insensitive, as keyType in authorization rules. */
    static const char *const names[] = {"Pattern", "String", "Binary"};
    snprintf(sub, sizeof sub, "%s.keyType", path);
    const char *ts = schema_scalar(sc, type, sub, "one of Pattern, String, Binary");
    if (!ts) return -1;
    int t = -1;
    for (int i = 0; i < 3 && t < 0; i++)
        if (!strcasecmp(ts, names[i]) && strlen(ts) == type->data.scalar.length) t = i;
    char text[48];
    if (t < 0)
        return schema_fail(sc, type, "%s: expected one of Pattern, String, Binary, got \"%s\"", sub,
                           schema_text(type, text, sizeof text));
    snprintf(sub, sizeof sub, "%s.keys", path);
    if (keys->type != YAML_SEQUENCE_NODE || keys->data.sequence.items.top == keys->data.sequence.items.start)
        return schema_fail(sc, keys, "%s: expected a non-empty list of keys, got %s", sub, schema_type_name(keys));
    size_t n = (size_t)(keys->data.sequence.items.top - keys->data.sequence.items.start);
    for (size_t i = 0; i < n; i++) {
        char kpath[128];
        snprintf(kpath, sizeof kpath, "%s[%zu]", sub, i);
        const yaml_node_t *k = yaml_document_get_node(sc->doc, keys->data.sequence.items.start[i]);
        if (add_persist_key(sc, k, kpath, t == 0 ? STORE_PERSIST_PATTERN : STORE_PERSIST_EXACT, t == 2, rules) != 0)
            return -1;
    }
    return 0;
}

static int parse_persist_keys(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                              void *target)
{
    store_persist_rules *rules = (store_persist_rules *)((char *)target + spec->offset);
    if (v->type != YAML_SEQUENCE_NODE)
        return schema_fail(sc, v, "%s: expected a list of {keyType, keys}, got %s", path, schema_type_name(v));
    memset(rules, 0, sizeof *rules); /* a file's list replaces the default (none) */
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    for (size_t i = 0; i < n; i++) {
        char ipath[80];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (parse_persist_entry(sc, yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]), ipath, rules) !=
            0)
            return -1;
    }
    return 0;
}

static int parse_bool(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"true", "false"};
    int i = parse_word(sc, v, path, names, 2, "true or false");
    if (i < 0) return -1;
    *(bool *)((char *)target + spec->offset) = i == 0;
    return 0;
}

/* A user property name or value: 1 to CONFIG_PERSIST_PROP_MAX bytes of
 * UTF-8 without NUL (MQTT strings). */
static int parse_prop_text(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "a string");
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n > CONFIG_PERSIST_PROP_MAX || strlen(s) != n)
        return schema_fail(sc, v, "%s: expected 1 to %d bytes (no NUL)", path, CONFIG_PERSIST_PROP_MAX);
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

static const key_spec persist_dynamic_keys[] = {
    {"enabled", parse_bool, offsetof(config_persist_dynamic, enabled), 0, 0, 0, NULL, NULL},
    {"property", parse_prop_text, offsetof(config_persist_dynamic, property), 0, 0, 0, NULL, NULL},
    {"value", parse_prop_text, offsetof(config_persist_dynamic, value), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

/* keys and dynamic select within mode custom only: elsewhere they would
 * silently do nothing. */
static int check_state_store(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target)
{
    const config_persistence *p = target;
    if (p->state_store == CONFIG_PERSIST_CUSTOM) return 0;
    const char *mode = p->state_store == CONFIG_PERSIST_ALL ? "all" : "none";
    static const char *const only_custom[] = {"keys", "dynamic"};
    for (int i = 0; i < 2; i++) {
        const yaml_node_t *at = schema_find(sc, mapping, only_custom[i]);
        if (at)
            return schema_fail(sc, at, "%s.%s: only allowed with mode: custom (mode is %s)", path, only_custom[i],
                               mode);
    }
    return 0;
}

/* persistence.retained and .sessions: `all | none | {KEY: [item, ...]}`,
 * the items kept NUL-terminated back to back in a fixed array (plain data:
 * config_reload.c copies and compares the struct whole). */
typedef struct selection_spec {
    const char *key;   /* the mapping's one key: "topics", "clientIds" */
    const char *item;  /* "topic filter", "client id pattern" */
    const char *word;  /* the item in the short form: "filter", "pattern" */
    const char *rules; /* shown when an item is invalid */
    unsigned max;      /* items at most */
    bool (*valid)(const char *s, size_t len);
} selection_spec;

static int parse_selection_items(schema_ctx *sc, const yaml_node_t *v, const char *path, const char *name,
                                 const selection_spec *sp, char *out, size_t cap, uint32_t *n_out)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return schema_fail(sc, v, "%s: expected a sequence of %ss, got %s", path, sp->item, schema_type_name(v));
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start), used = 0;
    if (n == 0) return schema_fail(sc, v, "%s: expected at least one %s (or %s: none)", path, sp->item, name);
    if (n > sp->max) return schema_fail(sc, v, "%s: at most %u %ss", path, sp->max, sp->item);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]);
        char item_path[96], text[48], what[32];
        snprintf(item_path, sizeof item_path, "%s[%zu]", path, i);
        snprintf(what, sizeof what, "a %s", sp->item);
        const char *s = schema_scalar(sc, item, item_path, what);
        if (!s) return -1;
        size_t len = item->data.scalar.length;
        if (strlen(s) != len || len > UINT16_MAX || !sp->valid(s, len))
            return schema_fail(sc, item, "%s: \"%s\" is not a valid %s (%s)", item_path,
                               schema_text(item, text, sizeof text), sp->item, sp->rules);
        if (used + len + 1 > cap)
            return schema_fail(sc, item, "%s: the %ss exceed %zu bytes in all", item_path, sp->item, cap);
        memcpy(out + used, s, len + 1);
        used += len + 1;
    }
    *n_out = (uint32_t)n;
    return 0;
}

static int parse_selection(schema_ctx *sc, const yaml_node_t *v, const char *path, const selection_spec *sp,
                           broker_persist_mode *mode, char *out, size_t cap, uint32_t *n_out)
{
    memset(out, 0, cap); /* compared whole by config_reload.c */
    *n_out = 0;
    const char *name = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
    char forms[96];
    snprintf(forms, sizeof forms, "all, none or {%s: [%s, ...]}", sp->key, sp->word);
    if (v->type != YAML_MAPPING_NODE) {
        static const char *const names[] = {"all", "none"};
        int i = parse_word(sc, v, path, names, 2, forms);
        if (i < 0) return -1;
        *mode = i == 0 ? BROKER_PERSIST_ALL : BROKER_PERSIST_NONE;
        return 0;
    }
    for (const yaml_node_pair_t *kv = v->data.mapping.pairs.start; kv < v->data.mapping.pairs.top; kv++) {
        const yaml_node_t *k = yaml_document_get_node(sc->doc, kv->key);
        if (k->type != YAML_SCALAR_NODE || strcmp((const char *)k->data.scalar.value, sp->key) != 0) {
            char text[48];
            return schema_fail(sc, k, "%s: unknown key \"%s\" (expected %s)", path, schema_text(k, text, sizeof text),
                               sp->key);
        }
    }
    const yaml_node_t *items = schema_find(sc, v, sp->key);
    if (!items) return schema_fail(sc, v, "%s: expected %s", path, forms);
    char sub[64];
    snprintf(sub, sizeof sub, "%s.%s", path, sp->key);
    if (parse_selection_items(sc, items, sub, name, sp, out, cap, n_out) != 0) return -1;
    *mode = BROKER_PERSIST_SOME;
    return 0;
}

static bool retained_filter_valid(const char *s, size_t len)
{
    mqtt_bytes f = {(const uint8_t *)s, (uint32_t)len}, group, inner;
    return mqtt_filter_valid(f) && !topic_filter_split_share(f, &group, &inner);
}

static int parse_retained(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    static const selection_spec sp = {"topics",
                                      "topic filter",
                                      "filter",
                                      "MQTT syntax, no $share",
                                      CONFIG_RETAINED_TOPICS_MAX,
                                      retained_filter_valid};
    config_persistence *p = target;
    return parse_selection(sc, v, path, &sp, &p->retained, p->retained_topics, sizeof p->retained_topics,
                           &p->n_retained_topics);
}

static bool session_pattern_valid(const char *s, size_t len) { return len && glob_valid((const uint8_t *)s, len); }

static int parse_sessions(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    (void)spec;
    static const selection_spec sp = {"clientIds",       "client id pattern",    "pattern",
                                      "glob: * ? [a-z]", CONFIG_SESSION_IDS_MAX, session_pattern_valid};
    config_persistence *p = target;
    return parse_selection(sc, v, path, &sp, &p->sessions, p->session_ids, sizeof p->session_ids, &p->n_session_ids);
}

/* broker_persist_select.session_match: ctx is the config_persistence. */
static bool session_match(void *ctx, mqtt_bytes client_id)
{
    const config_persistence *c = ctx;
    const char *f = c->session_ids;
    for (uint32_t i = 0; i < c->n_session_ids; i++) {
        size_t len = strlen(f);
        if (glob_match((const uint8_t *)f, len, client_id.data, client_id.len)) return true;
        f += len + 1;
    }
    return false;
}

void config_broker_persist(const config_persistence *c, broker_persist_select *out, mqtt_bytes *topics)
{
    memset(out, 0, sizeof *out);
    out->retained = c->retained;
    const char *f = c->retained_topics;
    for (uint32_t i = 0; i < c->n_retained_topics; i++) {
        size_t len = strlen(f);
        topics[i] = (mqtt_bytes){(const uint8_t *)f, (uint32_t)len};
        f += len + 1;
    }
    out->retained_topics = topics;
    out->n_retained_topics = c->n_retained_topics;
    out->sessions = c->sessions;
    out->session_match = session_match;
    out->session_match_ctx = (void *)c;
}

bool config_broker_durable(const config_persistence *c)
{
    return c->retained != BROKER_PERSIST_NONE || c->sessions != BROKER_PERSIST_NONE;
}

static const key_spec state_store_keys[] = {
    {"mode", parse_persist_mode, offsetof(config_persistence, state_store), 0, 0, 0, NULL, NULL},
    {"keys", parse_persist_keys, offsetof(config_persistence, ss_keys), 0, 0, 0, NULL, NULL},
    {"dynamic", schema_parse_section, offsetof(config_persistence, ss_dynamic), 0, 0, 0, persist_dynamic_keys, NULL},
    SCHEMA_END,
};

static const key_spec persistence_keys[] = {
    {"dir", parse_dir, offsetof(config_persistence, dir), 0, 0, 0, NULL, NULL},
    {"fsync", parse_fsync, offsetof(config_persistence, fsync), 0, 0, 0, NULL, NULL},
    {"snapshot_log_bytes", schema_parse_uint, offsetof(config_persistence, snapshot_log_bytes), 8, 0, UINT64_C(1) << 40,
     NULL, NULL},
    {"state_store", schema_parse_section, 0, 0, 0, 0, state_store_keys, check_state_store},
    {"retained", parse_retained, 0, 0, 0, 0, NULL, NULL},
    {"sessions", parse_sessions, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

/* --- log: ----------------------------------------------------------------------- */

static int parse_log_destination(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                                 void *target)
{
    static const char *const names[] = {"stderr", "file", "syslog"};
    static const config_log_dest dests[] = {CONFIG_LOG_STDERR, CONFIG_LOG_FILE, CONFIG_LOG_SYSLOG};
    int i = parse_word(sc, v, path, names, 3, "one of stderr, file, syslog");
    if (i < 0) return -1;
    *(config_log_dest *)((char *)target + spec->offset) = dests[i];
    return 0;
}

static int parse_log_format(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"text", "json"};
    int i = parse_word(sc, v, path, names, 2, "one of text, json");
    if (i < 0) return -1;
    *(enum log_format *)((char *)target + spec->offset) = i == 0 ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    return 0;
}

static int parse_log_file(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "a file path");
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n >= CONFIG_PATH_MAX || strlen(s) != n)
        return schema_fail(sc, v, "%s: expected a file path (1 to %d bytes, no NUL)", path, CONFIG_PATH_MAX - 1);
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

/* file goes with destination file, and only there (elsewhere it would
 * silently do nothing). */
static int check_log(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target)
{
    const config_log *l = target;
    const yaml_node_t *file = schema_find(sc, mapping, "file");
    if (l->destination == CONFIG_LOG_FILE && !l->file[0]) {
        const yaml_node_t *at = schema_find(sc, mapping, "destination");
        return schema_fail(sc, at ? at : mapping, "%s.file: required with destination: file", path);
    }
    if (l->destination != CONFIG_LOG_FILE && file) {
        const char *dest = l->destination == CONFIG_LOG_STDERR ? "stderr" : "syslog";
        return schema_fail(sc, file, "%s.file: only allowed with destination: file (destination is %s)", path, dest);
    }
    return 0;
}

static const key_spec log_keys[] = {
    {"destination", parse_log_destination, offsetof(config_log, destination), 0, 0, 0, NULL, NULL},
    {"file", parse_log_file, offsetof(config_log, file), 0, 0, 0, NULL, NULL},
    {"format", parse_log_format, offsetof(config_log, format), 0, 0, 0, NULL, NULL},
    {"level", parse_log_level, offsetof(config_log, level), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

/* log.level and the top-level log_level are one setting: a file may
 * write either, or both with the same value. */
static int merge_log_level(schema_ctx *sc, const yaml_node_t *root, config *c)
{
    const yaml_node_t *sec = schema_find(sc, root, "log");
    const yaml_node_t *lv = sec && sec->type == YAML_MAPPING_NODE ? schema_find(sc, sec, "level") : NULL;
    if (!lv) return 0;
    const yaml_node_t *top = schema_find(sc, root, "log_level");
    if (top && c->log_level != c->log.level)
        return schema_fail(sc, lv,
                           "log.level: %s conflicts with log_level: %s at line %lu (the same setting: write one of "
                           "them)",
                           level_names[c->log.level], level_names[c->log_level],
                           (unsigned long)top->start_mark.line + 1);
    c->log_level = c->log.level;
    return 0;
}

/* A cluster node keeps its raft log and snapshots in persistence.dir. */
static int check_cluster(schema_ctx *sc, const yaml_node_t *root, const config *c)
{
    if (!c->cluster.enabled || c->persistence.dir[0]) return 0;
    return schema_fail(sc, schema_find(sc, root, "cluster"),
                       "cluster: needs persistence.dir (the node's raft log and snapshots live there)");
}

static const key_spec top_keys[] = {
    {"log_level", parse_log_level, offsetof(config, log_level), 0, 0, 0, NULL, NULL},
    {"log", schema_parse_section, offsetof(config, log), 0, 0, 0, log_keys, check_log},
    {"listeners", parse_listeners, 0, 0, 0, 0, NULL, NULL},
    {"limits", schema_parse_section, offsetof(config, limits), 0, 0, 0, config_limit_keys, check_limits},
    {"store", schema_parse_section, offsetof(config, store), 0, 0, 0, config_store_keys, NULL},
    {"authorization", schema_parse_section, offsetof(config, authz), 0, 0, 0, config_authz_keys, NULL},
    {"persistence", schema_parse_section, offsetof(config, persistence), 0, 0, 0, persistence_keys, NULL},
    {"cluster", config_cluster_parse, offsetof(config, cluster), 0, 0, 0, NULL, NULL},
    {"metrics", schema_parse_section, offsetof(config, metrics), 0, 0, 0, config_metrics_keys, config_metrics_check},
    {"sys_interval", schema_parse_uint, offsetof(config, sys_interval), 4, 0, 86400, NULL, NULL},
    SCHEMA_END,
};

void config_init(config *c)
{
    memset(c, 0, sizeof *c);
    c->log_level = LOG_INFO;
    c->log.level = LOG_INFO;
    broker_limits_default(&c->limits);
    c->listeners = xcalloc(1, sizeof *c->listeners);
    c->nlisteners = 1;
    config_listener_init(&c->listeners[0]);
    store_bridge_config_default(&c->store.bridge);
    snprintf(c->store.node_id, sizeof c->store.node_id, "%s", c->store.bridge.store.node_id);
    c->store.bridge.store.node_id = NULL;
    c->persistence.fsync = STORE_FSYNC_EVERYSEC;
    c->persistence.state_store = CONFIG_PERSIST_ALL;
    c->persistence.ss_dynamic.enabled = true;
    snprintf(c->persistence.ss_dynamic.property, sizeof c->persistence.ss_dynamic.property, "%s",
             STORE_BRIDGE_PERSIST_PROPERTY);
    snprintf(c->persistence.ss_dynamic.value, sizeof c->persistence.ss_dynamic.value, "%s", STORE_BRIDGE_PERSIST_VALUE);
    c->persistence.snapshot_log_bytes = CONFIG_SNAPSHOT_LOG_BYTES;
    c->persistence.retained = BROKER_PERSIST_ALL;
    c->persistence.sessions = BROKER_PERSIST_ALL;
    config_cluster_init(&c->cluster);
    config_metrics_init(&c->metrics);
    c->sys_interval = 10;
}

void config_store_bridge(const config *c, store_bridge_config *out)
{
    *out = c->store.bridge;
    out->store.node_id = c->store.node_id;
    const config_persistence *p = &c->persistence;
    out->persist = p->state_store == CONFIG_PERSIST_ALL    ? STORE_BRIDGE_PERSIST_ALL
                   : p->state_store == CONFIG_PERSIST_NONE ? STORE_BRIDGE_PERSIST_NONE
                                                           : STORE_BRIDGE_PERSIST_CUSTOM;
    out->keys = &p->ss_keys;
    out->dynamic = p->ss_dynamic.enabled;
    out->property = p->ss_dynamic.property;
    out->value = p->ss_dynamic.value;
}

void config_free(config *c)
{
    free(c->listeners);
    c->listeners = NULL;
    c->nlisteners = 0;
    config_authz_free(&c->authz);
}

const char *config_listener_where(const config *c, size_t i, const char *section, char *out, size_t outlen)
{
    const config_listener *l = &c->listeners[i];
    unsigned line = !strcmp(section, "tls")              ? l->tls_line
                    : !strcmp(section, "authentication") ? l->authn_line
                                                         : l->line;
    if (!line) line = l->line;
    const char *dot = *section ? "." : "";
    if (line && c->file[0]) snprintf(out, outlen, "%s:%u: listeners[%zu]%s%s", c->file, line, i, dot, section);
    else snprintf(out, outlen, "listeners[%zu]%s%s", i, dot, section);
    return out;
}

static int syntax_error(schema_ctx *sc, const yaml_parser_t *p)
{
    snprintf(sc->err, sc->errlen, "%s:%lu: YAML syntax error: %s%s%s", sc->name,
             (unsigned long)p->problem_mark.line + 1, p->problem ? p->problem : "invalid document",
             p->context ? " " : "", p->context ? p->context : "");
    return -1;
}

/* A second document would be silently ignored by a one-document loader;
 * more likely a mistake (a stray "---") than intent. */
static int expect_end(schema_ctx *sc, yaml_parser_t *p)
{
    yaml_document_t next;
    if (!yaml_parser_load(p, &next)) return syntax_error(sc, p);
    int r = 0;
    yaml_node_t *root = yaml_document_get_root_node(&next);
    if (root) r = schema_fail(sc, root, "expected a single YAML document");
    yaml_document_delete(&next);
    return r;
}

static int load_document(schema_ctx *sc, yaml_parser_t *p, config *tmp)
{
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc)) return syntax_error(sc, p);
    sc->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int r = root ? schema_walk(sc, root, "", top_keys, tmp) : 0;
    if (r == 0 && root) r = merge_log_level(sc, root, tmp);
    if (r == 0 && root) r = check_cluster(sc, root, tmp);
    if (r == 0 && root) r = expect_end(sc, p);
    yaml_document_delete(&doc);
    sc->doc = NULL;
    return r;
}

int config_load_string(config *c, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
    /* Work on a copy so a failed load leaves *c as it was. */
    config tmp = *c;
    tmp.listeners = xmemdup(c->listeners, c->nlisteners * sizeof *c->listeners);
    schema_ctx sc = {name, NULL, err, errlen};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(tmp.listeners);
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&p, data, len);
    snprintf(tmp.file, sizeof tmp.file, "%s", name);
    int r = load_document(&sc, &p, &tmp);
    yaml_parser_delete(&p);
    if (r != 0) {
        free(tmp.listeners);
        config_authz_discard(&tmp.authz, &c->authz);
        return -1;
    }
    free(c->listeners);
    config_authz_commit(&tmp.authz, &c->authz);
    *c = tmp;
    return 0;
}

static int read_file(const char *path, buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n;
    do {
        n = fread(buf_reserve(out, 4096), 1, 4096, f);
        out->len += n;
    } while (n > 0 && out->len <= CONFIG_MAX_FILE);
    int failed = ferror(f);
    fclose(f);
    if (failed) snprintf(err, errlen, "%s: read error", path);
    else if (out->len > CONFIG_MAX_FILE) snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
    else return 0;
    return -1;
}

int config_load_file(config *c, const char *path, char *err, size_t errlen)
{
    buf b = {0};
    int r = read_file(path, &b, err, errlen);
    if (r == 0) r = config_load_string(c, path, b.data ? (const char *)b.data : "", b.len, err, errlen);
    buf_free(&b);
    return r;
}
