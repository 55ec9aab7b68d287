/* Building SSL_CTXs: a server's from a listener's TLS settings, and a
 * client's for outbound connections (net_connect). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "net/tls.h"
#include "util/log.h"

#define PASSWORD_MAX 1024

/* OpenSSL's reasons for the common mistakes, said plainly. Matched by
 * text: the library that reports them differs between OpenSSL versions
 * (PEM, EVP, providers, decoders). */
static const char *plain_reason(unsigned long e)
{
    static const char *const plain[][2] = {
        {"no start line", "no PEM data of the expected kind (no matching \"-----BEGIN\" line)"},
        {"bad decrypt", "cannot decrypt the key (wrong or missing key_password_file)"},
        {"key values mismatch", "the key does not match cert_file"},
        {"unsupported", "not a private key in a supported format (the wrong file?)"},
    };
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (!r) return "refused";
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!strcmp(r, plain[i][0])) return plain[i][1];
    return r;
}

/* Formats "what path: reason" with OpenSSL's first reason when there is
 * one, clears OpenSSL's error queue and returns NULL for the caller. */
static SSL_CTX *fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_peek_error();
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS) e = ERR_peek_last_error(); /* "system lib": the cause follows */
    snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "", plain_reason(e));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/* The files are opened first so that a missing or unreadable one is
 * named with the system's reason, not OpenSSL's "system lib". */
static SSL_CTX *check_readable(SSL_CTX *ctx, char *err, size_t errlen, const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return ctx;
    }
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
    SSL_CTX_free(ctx);
    return NULL;
}

/* The first line of the password file, without its line end. */
static int read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "key_password_file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(out, (int)outlen, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int password_cb(char *buf, int size, int rwflag, void *userdata)
{
    (void)rwflag;
    const char *pw = userdata;
    size_t n = strlen(pw);
    if (n > (size_t)size) return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

static SSL_CTX *load_key(SSL_CTX *ctx, const tls_config *cfg, char *err, size_t errlen)
{
    char pw[PASSWORD_MAX];
    pw[0] = '\0';
    if (cfg->key_password_file && read_password(cfg->key_password_file, pw, sizeof pw, err, errlen) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, pw);
    int ok = SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM);
    /* The password lived on the stack: wipe it and leave no pointer to it. */
    SSL_CTX_set_default_passwd_cb(ctx, NULL);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    OPENSSL_cleanse(pw, sizeof pw);
    if (ok != 1) return fail(ctx, err, errlen, "key_file", cfg->key_file);
    if (SSL_CTX_check_private_key(ctx) != 1) return fail(ctx, err, errlen, "key_file", cfg->key_file);
    return ctx;
}

/* Every CRL in the PEM file goes into the context's store; client
 * certificates are then checked against their issuer's CRL. */
static SSL_CTX *load_crl(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
    if (!check_readable(ctx, err, errlen, "crl_file", path)) return NULL;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lu || X509_load_crl_file(lu, path, X509_FILETYPE_PEM) <= 0) {
        ERR_clear_error();
        snprintf(err, errlen, "crl_file %s: no CRL in PEM format (\"-----BEGIN X509 CRL-----\")", path);
        SSL_CTX_free(ctx);
        return NULL;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return ctx;
}

/* Says why a client certificate was refused (revoked, expired, unknown
 * CA), which the handshake failure logged next only calls "certificate
 * verify failed". */
static int verify_cb(int ok, X509_STORE_CTX *sctx)
{
    if (ok) return ok;
    char subject[256] = "?";
    X509 *cert = X509_STORE_CTX_get_current_cert(sctx);
    if (cert) X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    const char *whose = !ssl || SSL_is_server(ssl) ? "client" : "server";
    log_info("%s certificate %s (depth %d) refused: %s", whose, subject, X509_STORE_CTX_get_error_depth(sctx),
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
    return ok;
}

static SSL_CTX *load_client_ca(SSL_CTX *ctx, const tls_config *cfg, char *err, size_t errlen)
{
    if (cfg->client_certs == TLS_CLIENT_CERTS_NONE) return ctx;
    if (!cfg->ca_file) {
        snprintf(err, errlen, "client_certs: optional and required need ca_file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!check_readable(ctx, err, errlen, "ca_file", cfg->ca_file)) return NULL;
    if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        return fail(ctx, err, errlen, "ca_file", cfg->ca_file);
    /* The CA names sent in CertificateRequest help clients pick a cert. */
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
    if (!names) return fail(ctx, err, errlen, "ca_file", cfg->ca_file);
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (cfg->client_certs == TLS_CLIENT_CERTS_REQUIRED) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, verify_cb);
    return cfg->crl_file ? load_crl(ctx, cfg->crl_file, err, errlen) : ctx;
}

/* What server and client contexts share: versions, options, ciphers. */
static SSL_CTX *ctx_base(const SSL_METHOD *method, const tls_config *cfg, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) return fail(NULL, err, errlen, "TLS context", NULL);
    int min = cfg->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, min);
    /* No renegotiation (a DoS lever), server cipher preference. Sessions
     * are not resumed: every connection verifies its client certificate
     * afresh against the current CA, which matters after a reload. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Idle connections should not keep 2 x 16 KiB of record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (cfg->ciphers && SSL_CTX_set_cipher_list(ctx, cfg->ciphers) != 1)
        return fail(ctx, err, errlen, "ciphers", cfg->ciphers);
    if (cfg->ciphersuites && SSL_CTX_set_ciphersuites(ctx, cfg->ciphersuites) != 1)
        return fail(ctx, err, errlen, "ciphersuites", cfg->ciphersuites);
    return ctx;
}

static SSL_CTX *load_cert(SSL_CTX *ctx, const tls_config *cfg, char *err, size_t errlen)
{
    if (!check_readable(ctx, err, errlen, "cert_file", cfg->cert_file) ||
        !check_readable(ctx, err, errlen, "key_file", cfg->key_file))
        return NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        return fail(ctx, err, errlen, "cert_file", cfg->cert_file);
    return load_key(ctx, cfg, err, errlen);
}

SSL_CTX *net_tls_ctx_new(const tls_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = ctx_base(TLS_server_method(), cfg, err, errlen);
    if (!ctx) return NULL;
    if (!cfg->cert_file || !cfg->key_file) {
        snprintf(err, errlen, "cert_file and key_file are required");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!(ctx = load_cert(ctx, cfg, err, errlen))) return NULL;
    return load_client_ca(ctx, cfg, err, errlen);
}

SSL_CTX *net_tls_client_ctx_new(const tls_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = ctx_base(TLS_client_method(), cfg, err, errlen);
    if (!ctx) return NULL;
    if (!cfg->cert_file != !cfg->key_file) {
        snprintf(err, errlen, "cert_file and key_file go together");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->cert_file && !(ctx = load_cert(ctx, cfg, err, errlen))) return NULL;
    if (!cfg->ca_file) {
        snprintf(err, errlen, "ca_file is required to verify the server");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (!check_readable(ctx, err, errlen, "ca_file", cfg->ca_file)) return NULL;
    if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        return fail(ctx, err, errlen, "ca_file", cfg->ca_file);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    return cfg->crl_file ? load_crl(ctx, cfg->crl_file, err, errlen) : ctx;
}

void net_tls_ctx_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }
