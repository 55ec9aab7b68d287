/* TLS contexts for net listeners and dialers (OpenSSL 3).
 *
 * A context is built once from a tls_config and attached to a listener
 * with net_listener_set_tls. Reloading certificates means building a new
 * context and attaching it: connections keep the context they started with
 * because every SSL holds a reference on its SSL_CTX. */
#ifndef MQS_NET_TLS_H
#define MQS_NET_TLS_H

#include <stddef.h>

struct ssl_ctx_st;

typedef enum tls_client_certs {
    TLS_CLIENT_CERTS_NONE,     /* never asked for */
    TLS_CLIENT_CERTS_OPTIONAL, /* asked for; verified when sent */
    TLS_CLIENT_CERTS_REQUIRED, /* handshake fails without a valid one */
} tls_client_certs;

typedef struct tls_config {
    const char *cert_file;         /* PEM: the server certificate, then its chain */
    const char *key_file;          /* PEM private key */
    const char *key_password_file; /* first line = key password; NULL if unencrypted */
    const char *ca_file;           /* PEM bundle verifying client certificates; NULL: none */
    const char *crl_file;          /* PEM CRLs of the CAs issuing client certificates; NULL: none */
    tls_client_certs client_certs; /* OPTIONAL / REQUIRED need ca_file */
    int min_version;               /* 12 (TLS 1.2) or 13 (TLS 1.3) */
    const char *ciphers;           /* TLS 1.2 cipher list; NULL: OpenSSL's default */
    const char *ciphersuites;      /* TLS 1.3 suites; NULL: OpenSSL's default */
} tls_config;

/* Returns NULL with a one-line message in err (naming the setting, the
 * file and what is wrong with it: "cert_file /x: No such file or
 * directory") when a file cannot be loaded or a setting is refused.
 * With crl_file, a client certificate is refused when its issuer's CRL
 * lists it, and also when the file holds no CRL of its issuer or that CRL
 * has expired (OpenSSL's X509_V_FLAG_CRL_CHECK). */
struct ssl_ctx_st *net_tls_ctx_new(const tls_config *cfg, char *err, size_t errlen);
/* A client context for net_connect: cert_file/key_file (both or
 * neither) are the client certificate presented when asked; ca_file is
 * required and verifies the server; crl_file, min_version, ciphers and
 * ciphersuites as above; client_certs is ignored. */
struct ssl_ctx_st *net_tls_client_ctx_new(const tls_config *cfg, char *err, size_t errlen);
void net_tls_ctx_free(struct ssl_ctx_st *ctx);

#endif
