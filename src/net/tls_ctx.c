/* Building a server SSL_CTX from a listener's TLS settings. */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "net/tls.h"

#define PASSWORD_MAX 1024

/* Formats "what path: reason" with OpenSSL's last reason when there is
 * one, clears OpenSSL's error queue and returns NULL for the caller. */
static SSL_CTX *fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "", reason ? reason : "refused");
    ERR_clear_error();
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
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(ctx, err, errlen, "key_file", cfg->key_file); /* does not match cert_file */
    return ctx;
}

static SSL_CTX *load_client_ca(SSL_CTX *ctx, const tls_config *cfg, char *err, size_t errlen)
{
    if (cfg->client_certs == TLS_CLIENT_CERTS_NONE) return ctx;
    if (!cfg->ca_file) {
        snprintf(err, errlen, "client_certs: optional and required need ca_file");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        return fail(ctx, err, errlen, "ca_file", cfg->ca_file);
    /* The CA names sent in CertificateRequest help clients pick a cert. */
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
    if (!names) return fail(ctx, err, errlen, "ca_file", cfg->ca_file);
    SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (cfg->client_certs == TLS_CLIENT_CERTS_REQUIRED) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return ctx;
}

SSL_CTX *tls_ctx_new(const tls_config *cfg, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
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
    if (!cfg->cert_file || !cfg->key_file) {
        snprintf(err, errlen, "cert_file and key_file are required");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        return fail(ctx, err, errlen, "cert_file", cfg->cert_file);
    if (!(ctx = load_key(ctx, cfg, err, errlen))) return NULL;
    return load_client_ca(ctx, cfg, err, errlen);
}

void tls_ctx_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }
