#include "server/security.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/authn_link.h"
#include "net/tls.h"
#include "util/alloc.h"
#include "util/log.h"

typedef struct bound {
    net_listener *l; /* NULL until attached */
    SSL_CTX *ctx;    /* our reference; NULL for plain listeners */
    char bind[46];
    uint16_t port;
    bool websocket;
    char websocket_path[CONFIG_WS_PATH_MAX];
} bound;

struct security {
    broker *b;
    authn *a;
    bound *ls;
    size_t n;
};

static const char *opt(const char *s) { return s[0] ? s : NULL; }

static SSL_CTX *build_tls(const config *cfg, size_t i, char *err, size_t errlen)
{
    const config_tls *t = &cfg->listeners[i].tls;
    tls_config tc = {
        .cert_file = opt(t->cert_file),
        .key_file = opt(t->key_file),
        .key_password_file = opt(t->key_password_file),
        .ca_file = opt(t->ca_file),
        .crl_file = opt(t->crl_file),
        .client_certs = (tls_client_certs)t->client_certs,
        .min_version = t->min_version,
        .ciphers = opt(t->ciphers),
        .ciphersuites = opt(t->ciphersuites),
    };
    char why[512], where[CONFIG_PATH_MAX + 64];
    SSL_CTX *ctx = net_tls_ctx_new(&tc, why, sizeof why);
    if (!ctx) snprintf(err, errlen, "%s: %s", config_listener_where(cfg, i, "tls", where, sizeof where), why);
    return ctx;
}

/* A secret (key, key password, password hashes) that every local user
 * may read, any file deciding who gets in (those, CA bundles, CRLs,
 * certificates, the configuration) that every local user may change, or
 * one owned by someone other than us or root (who may change it), is
 * loaded with a warning, at start and on every reload, as ssh and
 * Mosquitto 2 do. stat follows symlinks: what counts is the file read.
 * `where` NULL: the configuration file itself. */
static void warn_exposed(const char *where, const char *key, const char *path, bool secret)
{
    struct stat st;
    if (!path[0] || stat(path, &st) != 0) return; /* loading reports a missing file */
    const char *sep = where ? "." : "", *w = where ? where : "", *k = key;
    mode_t bad = secret ? (S_IROTH | S_IWOTH) : S_IWOTH;
    if (st.st_mode & bad)
        log_warn("%s%s%s %s is %s by every user (mode %04o): chmod o-%s it", w, sep, k, path,
                 st.st_mode & S_IWOTH ? "writable" : "readable", (unsigned)(st.st_mode & 07777), secret ? "rwx" : "w");
    if (st.st_uid != 0 && st.st_uid != geteuid())
        log_warn("%s%s%s %s is owned by uid %u, neither root nor mqstated's user (uid %u), who can change it", w, sep,
                 k, path, (unsigned)st.st_uid, (unsigned)geteuid());
}

static void warn_exposed_files(const config *cfg)
{
    char where[CONFIG_PATH_MAX + 64];
    if (cfg->file[0]) warn_exposed(NULL, "configuration", cfg->file, false);
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const config_listener *l = &cfg->listeners[i];
        if (l->tls.enabled) {
            config_listener_where(cfg, i, "tls", where, sizeof where);
            warn_exposed(where, "key_file", l->tls.key_file, true);
            warn_exposed(where, "key_password_file", l->tls.key_password_file, true);
            warn_exposed(where, "cert_file", l->tls.cert_file, false);
            warn_exposed(where, "ca_file", l->tls.ca_file, false);
            warn_exposed(where, "crl_file", l->tls.crl_file, false);
        }
        config_listener_where(cfg, i, "authentication", where, sizeof where);
        warn_exposed(where, "password_file", l->authn.password_file, true);
    }
}

static void free_ctxs(SSL_CTX **ctxs, size_t n)
{
    for (size_t i = 0; i < n; i++) net_tls_ctx_free(ctxs[i]);
    free(ctxs);
}

/* Everything the configuration asks for, or nothing. */
static int build(broker *b, const config *cfg, SSL_CTX ***ctxs_out, authn **a_out, char *err, size_t errlen)
{
    SSL_CTX **ctxs = xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *ctxs);
    authn_policy *pol = xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *pol);
    int r = 0;
    warn_exposed_files(cfg);
    for (size_t i = 0; i < cfg->nlisteners && r == 0; i++) {
        pol[i] = cfg->listeners[i].authn;
        config_listener_where(cfg, i, "authentication", pol[i].where, sizeof pol[i].where);
        if (cfg->listeners[i].tls.enabled && !(ctxs[i] = build_tls(cfg, i, err, errlen))) r = -1;
    }
    authn *a = r == 0 ? authn_link_new(b, pol, cfg->nlisteners, err, errlen) : NULL;
    free(pol);
    if (!a) {
        free_ctxs(ctxs, cfg->nlisteners);
        return -1;
    }
    *ctxs_out = ctxs;
    *a_out = a;
    return 0;
}

int security_check(const config *cfg, char *err, size_t errlen)
{
    authn_policy *pol = xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *pol);
    int r = 0;
    warn_exposed_files(cfg);
    for (size_t i = 0; i < cfg->nlisteners && r == 0; i++) {
        pol[i] = cfg->listeners[i].authn;
        config_listener_where(cfg, i, "authentication", pol[i].where, sizeof pol[i].where);
        SSL_CTX *ctx = cfg->listeners[i].tls.enabled ? build_tls(cfg, i, err, errlen) : NULL;
        if (cfg->listeners[i].tls.enabled && !ctx) r = -1;
        net_tls_ctx_free(ctx);
    }
    /* No loop: nothing is authenticated, the password files are only read. */
    authn *a = r == 0 ? authn_new(pol, cfg->nlisteners, NULL, NULL, NULL, err, errlen) : NULL;
    free(pol);
    if (!a) return -1;
    authn_free(a);
    return 0;
}

security *security_new(broker *b, const config *cfg, char *err, size_t errlen)
{
    SSL_CTX **ctxs;
    authn *a;
    if (build(b, cfg, &ctxs, &a, err, errlen) != 0) return NULL;
    security *s = xcalloc(1, sizeof *s);
    s->b = b;
    s->a = a;
    s->n = cfg->nlisteners;
    s->ls = xcalloc(s->n ? s->n : 1, sizeof *s->ls);
    for (size_t i = 0; i < s->n; i++) {
        s->ls[i].ctx = ctxs[i];
        memcpy(s->ls[i].bind, cfg->listeners[i].bind, sizeof s->ls[i].bind);
        s->ls[i].port = cfg->listeners[i].port;
        s->ls[i].websocket = cfg->listeners[i].websocket;
        memcpy(s->ls[i].websocket_path, cfg->listeners[i].websocket_path, sizeof s->ls[i].websocket_path);
    }
    free(ctxs);
    authn_link_install(b, a);
    return s;
}

void security_attach(security *s, size_t index, net_listener *l)
{
    if (index >= s->n) return;
    s->ls[index].l = l;
    net_listener_set_index(l, (unsigned)index);
    if (s->ls[index].ctx) net_listener_set_tls(l, s->ls[index].ctx);
}

int security_reload(security *s, const config *cfg, char *err, size_t errlen)
{
    if (cfg->nlisteners != s->n) {
        snprintf(err, errlen, "the number of listeners changed (%zu, was %zu): restart to apply", cfg->nlisteners,
                 s->n);
        return -1;
    }
    SSL_CTX **ctxs;
    authn *a;
    if (build(s->b, cfg, &ctxs, &a, err, errlen) != 0) return -1;
    for (size_t i = 0; i < s->n; i++) {
        bound *bd = &s->ls[i];
        const config_listener *cl = &cfg->listeners[i];
        if (strcmp(bd->bind, cl->bind) != 0 || bd->port != cl->port)
            log_warn("reload: listeners[%zu] address change to %s port %u needs a restart", i, cl->bind, cl->port);
        if (bd->websocket != cl->websocket || strcmp(bd->websocket_path, cl->websocket_path) != 0)
            log_warn("reload: listeners[%zu] websocket/websocket_path change needs a restart", i);
        /* Existing connections hold their own SSL_CTX references. */
        if (bd->l) net_listener_set_tls(bd->l, ctxs[i]);
        net_tls_ctx_free(bd->ctx);
        bd->ctx = ctxs[i];
    }
    free(ctxs);
    authn_move_limits(a, s->a); /* failure counters survive a reload */
    authn_link_install(s->b, a);
    authn_free(s->a);
    s->a = a;
    return 0;
}

void security_free(security *s)
{
    if (!s) return;
    authn_link_install(s->b, NULL);
    for (size_t i = 0; i < s->n; i++) net_tls_ctx_free(s->ls[i].ctx);
    free(s->ls);
    authn_free(s->a);
    free(s);
}
