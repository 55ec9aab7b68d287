/* The schema of one `listeners:` entry: bind, port, websocket,
 * websocket_path, `tls:` and `authentication:` (docs/configuration.md),
 * and the loopback rule. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/tls.h"
#include "server/config.h"
#include "server/config_listener.h"

void config_listener_init(config_listener *l)
{
    memset(l, 0, sizeof *l);
    strcpy(l->bind, CONFIG_DEFAULT_BIND);
    l->port = CONFIG_DEFAULT_PORT;
    strcpy(l->websocket_path, CONFIG_DEFAULT_WS_PATH);
    l->tls.client_certs = TLS_CLIENT_CERTS_NONE;
    l->tls.min_version = 12;
    authn_policy_default(&l->authn);
}

static bool is_ip_literal(const char *s)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

int config_parse_bind(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *expect = "an IPv4 or IPv6 address";
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    char text[48];
    if (v->data.scalar.length >= sizeof((config_listener *)0)->bind || !is_ip_literal(s))
        return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    strcpy((char *)target + spec->offset, s);
    return 0;
}

/* A non-empty string into a char array of spec->size bytes. */
static int parse_string(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *s = schema_scalar(sc, v, path, "a string");
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    if (n == 0 || n >= spec->size || strlen(s) != n)
        return schema_fail(sc, v, "%s: expected a non-empty string shorter than %zu bytes", path, spec->size);
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

/* A scalar that must be one of `names`; stores the index as uint8_t. */
static int parse_choice(schema_ctx *sc, const yaml_node_t *v, const char *path, const char *const *names, size_t count,
                        const char *expect, uint8_t *out)
{
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(s, names[i]) == 0 && strlen(s) == v->data.scalar.length) {
            *out = (uint8_t)i;
            return 0;
        }
    }
    char text[48];
    return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
}

static int parse_client_certs(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec,
                              void *target)
{
    static const char *const names[] = {"none", "optional", "required"};
    return parse_choice(sc, v, path, names, 3, "one of none, optional, required", (uint8_t *)target + spec->offset);
}

static int parse_min_version(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"1.2", "1.3"};
    uint8_t i;
    if (parse_choice(sc, v, path, names, 2, "\"1.2\" or \"1.3\"", &i) != 0) return -1;
    *((uint8_t *)target + spec->offset) = i ? 13 : 12;
    return 0;
}

static int parse_websocket(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"false", "true"};
    uint8_t i;
    if (parse_choice(sc, v, path, names, 2, "true or false", &i) != 0) return -1;
    *(bool *)((char *)target + spec->offset) = i == 1;
    return 0;
}

/* An absolute path as a request target holds it: "/" then visible ASCII,
 * no query or fragment (the query of a request is ignored). */
static int parse_ws_path(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    const char *expect = "a path starting with / (visible ASCII, no ? or #)";
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    size_t n = v->data.scalar.length;
    bool ok = n > 0 && n < CONFIG_WS_PATH_MAX && strlen(s) == n && s[0] == '/';
    for (size_t i = 0; ok && i < n; i++) ok = s[i] > 0x20 && s[i] < 0x7f && s[i] != '?' && s[i] != '#';
    char text[48];
    if (!ok) return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    memcpy((char *)target + spec->offset, s, n + 1);
    return 0;
}

#define STR_KEY(type, key, field)                                                              \
    {                                                                                          \
        key, parse_string, offsetof(type, field), sizeof(((type *)0)->field), 0, 0, NULL, NULL \
    }

int config_tls_check(schema_ctx *sc, const yaml_node_t *m, const char *path, void *target)
{
    config_tls *t = target;
    if (!t->cert_file[0] || !t->key_file[0]) return schema_fail(sc, m, "%s: cert_file and key_file are required", path);
    if (t->client_certs != TLS_CLIENT_CERTS_NONE && !t->ca_file[0])
        return schema_fail(sc, m, "%s: client_certs: %s needs ca_file", path,
                           t->client_certs == TLS_CLIENT_CERTS_REQUIRED ? "required" : "optional");
    if (t->crl_file[0] && t->client_certs == TLS_CLIENT_CERTS_NONE)
        return schema_fail(sc, m, "%s: crl_file needs client_certs optional or required", path);
    t->enabled = true;
    return 0;
}

const key_spec config_tls_keys[] = {
    STR_KEY(config_tls, "cert_file", cert_file),
    STR_KEY(config_tls, "key_file", key_file),
    STR_KEY(config_tls, "key_password_file", key_password_file),
    STR_KEY(config_tls, "ca_file", ca_file),
    STR_KEY(config_tls, "crl_file", crl_file),
    {"client_certs", parse_client_certs, offsetof(config_tls, client_certs), 0, 0, 0, NULL, NULL},
    {"min_version", parse_min_version, offsetof(config_tls, min_version), 0, 0, 0, NULL, NULL},
    STR_KEY(config_tls, "ciphers", ciphers),
    STR_KEY(config_tls, "ciphersuites", ciphersuites),
    SCHEMA_END,
};

/* --- authentication ---------------------------------------------------------- */

static size_t seq_len(const yaml_node_t *v)
{
    return (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
}

static int parse_methods(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    static const char *const names[] = {"", "anonymous", "password", "x509"};
    authn_policy *p = target;
    (void)spec;
    if (v->type != YAML_SEQUENCE_NODE || seq_len(v) == 0 || seq_len(v) > AUTHN_MAX_METHODS)
        return schema_fail(sc, v, "%s: expected a list of 1 to 3 of anonymous, password, x509", path);
    p->nmethods = 0;
    for (size_t i = 0; i < seq_len(v); i++) {
        const yaml_node_t *item = yaml_document_get_node(sc->doc, v->data.sequence.items.start[i]);
        char ipath[96];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        uint8_t m;
        if (parse_choice(sc, item, ipath, names + 1, 3, "one of anonymous, password, x509", &m) != 0) return -1;
        m++;
        for (uint8_t j = 0; j < p->nmethods; j++)
            if (p->methods[j] == m) return schema_fail(sc, item, "%s: %s listed twice", ipath, names[m]);
        p->methods[p->nmethods++] = m;
    }
    return 0;
}

static int field_from(schema_ctx *sc, const yaml_node_t *v, const char *path, x509_field *out)
{
    const char *expect = "a certificate field (CN, OU, O, L, ST, C, DC, SERIALNUMBER, UID, EMAIL, "
                         "SAN_DNS, SAN_EMAIL, SAN_URI, SAN_IP)";
    const char *s = schema_scalar(sc, v, path, expect);
    if (!s) return -1;
    *out = x509_field_parse(s);
    char text[48];
    if (*out == X509_FIELD_NONE)
        return schema_fail(sc, v, "%s: expected %s, got \"%s\"", path, expect, schema_text(v, text, sizeof text));
    return 0;
}

static int parse_field(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    return field_from(sc, v, path, (x509_field *)((char *)target + spec->offset));
}

static int parse_attributes(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target)
{
    authn_policy *p = target;
    (void)spec;
    if (v->type != YAML_MAPPING_NODE)
        return schema_fail(sc, v, "%s: expected a mapping of attribute name to certificate field", path);
    p->nattrs = 0;
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
        const yaml_node_t *k = yaml_document_get_node(sc->doc, pair->key);
        const yaml_node_t *val = yaml_document_get_node(sc->doc, pair->value);
        const char *name = schema_scalar(sc, k, path, "an attribute name");
        if (!name) return -1;
        if (p->nattrs == AUTHN_MAX_ATTRS) return schema_fail(sc, k, "%s: at most %d attributes", path, AUTHN_MAX_ATTRS);
        if (k->data.scalar.length == 0 || k->data.scalar.length > AUTHN_ATTR_NAME_MAX)
            return schema_fail(sc, k, "%s: attribute names are 1 to %d bytes", path, AUTHN_ATTR_NAME_MAX);
        char apath[160];
        snprintf(apath, sizeof apath, "%s.%s", path, name);
        authn_attr_map *a = &p->attrs[p->nattrs];
        if (field_from(sc, val, apath, &a->field) != 0) return -1;
        memcpy(a->name, name, k->data.scalar.length + 1);
        p->nattrs++;
    }
    return 0;
}

static const key_spec x509_keys[] = {
    {"username", parse_field, offsetof(authn_policy, x509_username), 0, 0, 0, NULL, NULL},
    {"attributes", parse_attributes, 0, 0, 0, 0, NULL, NULL},
    SCHEMA_END,
};

static bool has_method(const authn_policy *p, authn_method m)
{
    for (uint8_t i = 0; i < p->nmethods; i++)
        if (p->methods[i] == m) return true;
    return false;
}

static int check_authn(schema_ctx *sc, const yaml_node_t *m, const char *path, void *target)
{
    authn_policy *p = target;
    if (p->nmethods == 0) return schema_fail(sc, m, "%s.methods: required", path);
    if (has_method(p, AUTHN_PASSWORD) && !p->password_file[0])
        return schema_fail(sc, m, "%s: method password needs password_file", path);
    return 0;
}

static const key_spec authn_keys[] = {
    {"methods", parse_methods, 0, 0, 0, 0, NULL, NULL},
    STR_KEY(authn_policy, "password_file", password_file),
    {"x509", schema_parse_section, 0, 0, 0, 0, x509_keys, NULL},
    {"failure_delay_ms", schema_parse_uint, offsetof(authn_policy, failure_delay_ms), 4, 0, 60000, NULL, NULL},
    {"failure_burst", schema_parse_uint, offsetof(authn_policy, failure_burst), 4, 0, 1000000, NULL, NULL},
    {"failure_per_minute", schema_parse_uint, offsetof(authn_policy, failure_per_minute), 4, 1, 1000000, NULL, NULL},
    SCHEMA_END,
};

/* The line of `key` in mapping m (1-based), 0 if absent. */
static unsigned key_line(schema_ctx *sc, const yaml_node_t *m, const char *key)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(sc->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return (unsigned)k->start_mark.line + 1;
    }
    return 0;
}

static int check_listener(schema_ctx *sc, const yaml_node_t *m, const char *path, void *target)
{
    config_listener *l = target;
    l->tls_line = key_line(sc, m, "tls");
    l->authn_line = key_line(sc, m, "authentication");
    l->has_authn = l->authn_line != 0;
    if (key_line(sc, m, "websocket_path") && !l->websocket)
        return schema_fail(sc, m, "%s.websocket_path: needs websocket: true", path);
    if (l->has_authn && has_method(&l->authn, AUTHN_X509) &&
        (!l->tls.enabled || l->tls.client_certs == TLS_CLIENT_CERTS_NONE))
        return schema_fail(sc, m, "%s.authentication: method x509 needs tls with client_certs optional or required",
                           path);
    return 0;
}

const key_spec config_listener_keys[] = {
    {"bind", config_parse_bind, offsetof(config_listener, bind), 0, 0, 0, NULL, NULL},
    {"port", schema_parse_uint, offsetof(config_listener, port), 2, 0, 65535, NULL, NULL},
    {"websocket", parse_websocket, offsetof(config_listener, websocket), 0, 0, 0, NULL, NULL},
    {"websocket_path", parse_ws_path, offsetof(config_listener, websocket_path), 0, 0, 0, NULL, NULL},
    {"tls", schema_parse_section, offsetof(config_listener, tls), 0, 0, 0, config_tls_keys, config_tls_check},
    {"authentication", schema_parse_section, offsetof(config_listener, authn), 0, 0, 0, authn_keys, check_authn},
    SCHEMA_END,
};

int config_listener_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, config_listener *l)
{
    return check_listener(sc, mapping, path, l);
}

/* --- the loopback rule ------------------------------------------------------------- */

static bool is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int config_check_listeners(config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nlisteners; i++) {
        config_listener *l = &c->listeners[i];
        l->authn.open = false;
        if (l->has_authn) continue;
        if (!is_loopback(l->bind)) {
            char where[CONFIG_PATH_MAX + 64];
            snprintf(err, errlen,
                     "%s (%s port %u): a listener on a non-loopback address needs an "
                     "authentication section (see docs/security.md)",
                     config_listener_where(c, i, "", where, sizeof where), l->bind, l->port);
            return -1;
        }
        l->authn.open = true; /* the development default */
    }
    return 0;
}

/* --- the command line's --bind/--port ----------------------------------------------- */

int config_override_listener(config *c, const char *bind, long port, char *err, size_t errlen)
{
    if (bind && (strlen(bind) >= sizeof c->listeners[0].bind || !is_ip_literal(bind))) {
        snprintf(err, errlen, "--bind: expected an IPv4 or IPv6 address, got \"%s\"", bind);
        return -1;
    }
    if (c->nlisteners != 1) {
        snprintf(err, errlen, "--bind/--port: the configuration has %zu listeners; set their addresses in the file",
                 c->nlisteners);
        return -1;
    }
    config_listener *l = &c->listeners[0];
    /* Who may reach a listener is part of its security: a flag does not
     * expose one that was meant for this host only. */
    if (bind && is_loopback(l->bind) && !is_loopback(bind)) {
        snprintf(err, errlen,
                 "--bind %s: the listener is on loopback address %s; a public address must be set in the "
                 "configuration file, with an authentication section (see docs/security.md)",
                 bind, l->bind);
        return -1;
    }
    if (bind) strcpy(l->bind, bind);
    if (port >= 0) l->port = (uint16_t)port;
    return 0;
}
