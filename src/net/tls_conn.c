/* The TLS engine of one connection: OpenSSL over memory BIOs, so that all
 * socket I/O stays with libuv.
 *
 *   socket bytes -> BIO_write(rbio) -> SSL_do_handshake / SSL_read -> on_read
 *   c->out (plaintext) -> SSL_write -> BIO_read(wbio) -> t->wire -> socket
 *
 * OpenSSL never touches a file descriptor and never blocks: when it wants
 * more input it says SSL_ERROR_WANT_READ and we wait for the next read.
 *
 * Invariants: c->tls->ssl exists for the connection's lifetime; `done` is
 * set once the handshake completed and the connection is off the handshake
 * list; after `failed` no SSL call is made again (OpenSSL forbids it after
 * a fatal error) and the connection is closing. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include "net/net_internal.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

struct tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio;  /* owned by ssl */
    uint64_t deadline; /* clock_now_ms: handshake must be done by then */
    net_conn *hs_prev, *hs_next;
    buf wire;      /* ciphertext not yet handed to a write (kept here: plain conns need none) */
    uint8_t first; /* the first byte the peer sent (0x16: a TLS record) */
    bool got_input, done, failed;
};

/* --- the handshake list and its timer ------------------------------------- */

static void hs_unlink(net_conn *c)
{
    tls_conn *t = c->tls;
    net *n = c->l->n;
    if (t->hs_prev) t->hs_prev->tls->hs_next = t->hs_next;
    else if (n->hs_head == c) n->hs_head = t->hs_next;
    else return; /* not listed */
    if (t->hs_next) t->hs_next->tls->hs_prev = t->hs_prev;
    else n->hs_tail = t->hs_prev;
    t->hs_prev = t->hs_next = NULL;
    if (!n->hs_head) uv_timer_stop(&n->hs_timer);
}

static void hs_append(net_conn *c)
{
    net *n = c->l->n;
    c->tls->deadline = clock_now_ms() + n->hs_timeout_ms;
    c->tls->hs_prev = n->hs_tail;
    if (n->hs_tail) n->hs_tail->tls->hs_next = c;
    else n->hs_head = c;
    n->hs_tail = c;
    /* Every connection has the same timeout, so the list is in deadline
     * order and one timer aimed at the head suffices. */
    if (!uv_is_active((uv_handle_t *)&n->hs_timer))
        uv_timer_start(&n->hs_timer, net_tls_handshake_expire, n->hs_timeout_ms, 0);
}

void net_tls_handshake_expire(uv_timer_t *timer)
{
    net *n = timer->data;
    uint64_t now = clock_now_ms();
    while (n->hs_head && n->hs_head->tls->deadline <= now) {
        net_conn *c = n->hs_head;
        hs_unlink(c);
        log_info("TLS handshake with %s: no handshake within %u ms, closing", net_conn_peer(c), n->hs_timeout_ms);
        net__conn_abort(c, UV_ETIMEDOUT);
    }
    if (n->hs_head) uv_timer_start(&n->hs_timer, net_tls_handshake_expire, n->hs_head->tls->deadline - now, 0);
}

/* --- output --------------------------------------------------------------------- */

/* Move what OpenSSL produced (records, alerts) from its write BIO to
 * t->wire. Returns whether anything was moved. */
static bool drain_wbio(net_conn *c)
{
    size_t pending = BIO_ctrl_pending(c->tls->wbio);
    if (pending == 0) return false;
    buf *wire = &c->tls->wire;
    uint8_t *dst = buf_reserve(wire, pending);
    int r = BIO_read(c->tls->wbio, dst, (int)pending);
    if (r > 0) wire->len += (size_t)r;
    return r > 0;
}

/* OpenSSL's reason for the last error, for the one log line a failing
 * connection gets. Clears the error queue. */
static const char *ssl_reason(char *out, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(out, len, "%s", r ? r : "connection reset or protocol error");
    ERR_clear_error();
    return out;
}

/* A fatal TLS error: log once, send the alert OpenSSL prepared, close. */
static void fail(net_conn *c, const char *what)
{
    tls_conn *t = c->tls;
    char reason[160];
    ssl_reason(reason, sizeof reason);
    const char *hint = "";
    if (!t->done && t->got_input && t->first != 0x16) hint = " (a plain-text client on a TLS port?)";
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        c->cert_refused = true;
        snprintf(reason, sizeof reason, "certificate refused: %s", X509_verify_cert_error_string(v));
    }
    log_info("TLS %s with %s failed: %s%s", what, net_conn_peer(c), reason, hint);
    t->failed = true;
    hs_unlink(c);
    c->out.len = 0; /* plaintext that can no longer be encrypted */
    if (drain_wbio(c)) net_mark_dirty(c->l->n, c);
    net__conn_begin_close(c);
}

void net_tls_conn_encrypt(net_conn *c)
{
    tls_conn *t = c->tls;
    if (!t->done || t->failed || c->out.len == 0) return;
    ERR_clear_error();
    /* Memory BIOs grow as needed and partial writes are off, so a write
     * either takes everything or fails for good. */
    int r = SSL_write(t->ssl, c->out.data, (int)c->out.len);
    if (r <= 0) {
        fail(c, "write");
        return;
    }
    c->out.len = 0;
    drain_wbio(c);
}

void net_tls_conn_close_notify(net_conn *c)
{
    tls_conn *t = c->tls;
    net_tls_conn_encrypt(c);
    if (!t->done || t->failed) {
        c->out.len = 0; /* can never be encrypted: do not wait for it */
        return;
    }
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* one-way: we do not wait for the peer's */
    ERR_clear_error();
    drain_wbio(c);
}

/* --- input ---------------------------------------------------------------------- */

static bool handshake(net_conn *c)
{
    tls_conn *t = c->tls;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->done = true;
        hs_unlink(c);
        log_debug("TLS handshake with %s: %s, %s%s", net_conn_peer(c), SSL_get_version(t->ssl),
                  SSL_get_cipher_name(t->ssl), SSL_get0_peer_certificate(t->ssl) ? ", client certificate" : "");
        if (c->l->dialer && c->l->cbs->on_open) c->l->cbs->on_open(conn_user(c));
        return c->state == CONN_OPEN;
    }
    if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ) return false;
    fail(c, "handshake");
    return false;
}

/* Decrypted data goes to on_read even if the user paused reading in the
 * middle: the socket read is stopped, and what one socket read decrypts to
 * is bounded, so the user buffers it as it would a partial packet. */
static void read_plain(net_conn *c)
{
    tls_conn *t = c->tls;
    net *n = c->l->n;
    if (!n->plain) n->plain = xmalloc(NET_READ_BUF_SIZE);
    while (c->state == CONN_OPEN) {
        ERR_clear_error();
        int r = SSL_read(t->ssl, n->plain, NET_READ_BUF_SIZE);
        if (r > 0) {
            net__conn_deliver(c, n->plain, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return;
        if (e == SSL_ERROR_ZERO_RETURN) { /* the peer's close_notify */
            net__conn_begin_close(c);
            return;
        }
        fail(c, "read");
        return;
    }
}

void net_tls_conn_input(net_conn *c, const uint8_t *data, size_t len)
{
    tls_conn *t = c->tls;
    if (t->failed) return;
    if (!t->got_input) {
        t->got_input = true;
        t->first = data[0];
    }
    if (BIO_write(t->rbio, data, (int)len) != (int)len) {
        fail(c, "input");
        return;
    }
    if (t->done || handshake(c)) read_plain(c);
    /* Handshake messages, tickets, alerts or key updates to send. */
    if (!t->failed && drain_wbio(c)) net_mark_dirty(c->l->n, c);
    else if (t->wire.len) net_mark_dirty(c->l->n, c);
}

/* --- life cycle --------------------------------------------------------------------- */

/* The client side: the server's certificate must verify, and name
 * verify_name when given (an IP literal is matched against IP SANs). */
static int client_setup(SSL *ssl, const char *verify_name)
{
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    if (!verify_name) return 0;
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, verify_name, ip) == 1 || inet_pton(AF_INET6, verify_name, ip) == 1;
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_name) == 1 ? 0 : -1;
    if (SSL_set_tlsext_host_name(ssl, verify_name) != 1) return -1; /* SNI */
    return SSL_set1_host(ssl, verify_name) == 1 ? 0 : -1;
}

int net_tls_conn_start(net_conn *c, SSL_CTX *ctx, const char *verify_name)
{
    SSL *ssl = SSL_new(ctx); /* takes its own reference on ctx */
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    if (!ssl || !r || !w || (c->l->dialer && client_setup(ssl, verify_name) != 0)) {
        SSL_free(ssl);
        BIO_free(r);
        BIO_free(w);
        ERR_clear_error();
        return -1;
    }
    /* An empty read BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(r, -1);
    SSL_set_bio(ssl, r, w);
    tls_conn *t = xcalloc(1, sizeof *t);
    t->ssl = ssl;
    t->rbio = r;
    t->wbio = w;
    c->tls = t;
    hs_append(c);
    if (!c->l->dialer) {
        SSL_set_accept_state(ssl);
        return 0;
    }
    SSL_set_connect_state(ssl);
    (void)handshake(c); /* the ClientHello; the answer comes through net_tls_conn_input */
    if (!t->failed && drain_wbio(c)) net_mark_dirty(c->l->n, c);
    return 0;
}

const X509 *net_tls_conn_peer_cert(const net_conn *c)
{
    const tls_conn *t = c->tls;
    if (!t || !t->done || t->failed) return NULL;
    /* With verification on, a certificate that fails it ends the handshake;
     * the check is for a listener that does not ask (then there is none). */
    if (SSL_get_verify_result(t->ssl) != X509_V_OK) return NULL;
    return SSL_get0_peer_certificate(t->ssl);
}

buf *net_tls_conn_wire(const net_conn *c) { return &c->tls->wire; }

void net_tls_conn_free(net_conn *c)
{
    tls_conn *t = c->tls;
    if (!t) return;
    hs_unlink(c);
    SSL_free(t->ssl);
    buf_free(&t->wire);
    free(t);
    c->tls = NULL;
}
