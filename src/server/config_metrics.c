/* The `metrics:` section (config_metrics.h). Its `tls:` subsection is a
 * listener's (config_listener.c), kept in config.metrics_tls. */
#include "server/config_metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/config_listener.h"

void config_metrics_init(config_metrics *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->bind, sizeof m->bind, "%s", CONFIG_DEFAULT_BIND);
    config_tls *t = &m->tls;
    t->min_version = 12;
    m->port = CONFIG_METRICS_PORT;
    m->max_connections = 16;
    m->idle_timeout = 10;
}

static int parse_username(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "a user name");
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n > CONFIG_METRICS_USER_MAX || strlen(s) != n || strchr(s, ':'))
        return schema_fail(sc, v, "%s: expected a non-empty name of at most %d bytes without ':'", path,
                           CONFIG_METRICS_USER_MAX);
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

/* The encoded form `mqstated passwd` writes after "user:" (passwd_hash.h).
 * The value is a hash, not the password: it is never logged either way. */
static int parse_password_hash(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                               void *target)
{
    const char *s = schema_scalar(sc, v, path, "a password hash");
    if (!s) return -1;
    const char *why;
    if (passwd_hash_parse(s, v->data.scalar.length, (passwd_hash *)((char *)target + spec->offset), &why) != 0)
        return schema_fail(sc, v, "%s: not a password hash made by `mqstated passwd` (%s)", path, why);
    return 0;
}

/* password_hash seen: iterations are never 0 once parsed. */
static bool has_password(const config_metrics *m) { return m->password.iterations != 0; }

int config_metrics_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target)
{
    config_metrics *m = target;
    if (!m->username[0] != !has_password(m))
        return schema_fail(sc, mapping, "%s: username and password_hash go together", path);
    m->enabled = true;
    m->line = (unsigned)mapping->start_mark.line + 1;
    return 0;
}

const key_spec config_metrics_keys[] = {
    {"bind", config_parse_bind, offsetof(config_metrics, bind), 0, 0, 0, NULL, NULL},
    {"port", schema_parse_uint, offsetof(config_metrics, port), 2, 0, 65535, NULL, NULL},
    {"max_connections", schema_parse_uint, offsetof(config_metrics, max_connections), 4, 1, 1024, NULL, NULL},
    {"idle_timeout", schema_parse_uint, offsetof(config_metrics, idle_timeout), 4, 1, 3600, NULL, NULL},
    {"tls", schema_parse_section, offsetof(config_metrics, tls), 0, 0, 0, config_tls_keys, config_tls_check},
    {"username", parse_username, offsetof(config_metrics, username), 0, 0, 0, NULL, NULL},
    {"password_hash", parse_password_hash, offsetof(config_metrics, password), 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};
