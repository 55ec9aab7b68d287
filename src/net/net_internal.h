/* Private to src/net: the structures shared by the listener side (net.c)
 * and the connection I/O side (conn.c). */
#ifndef MQS_NET_NET_INTERNAL_H
#define MQS_NET_NET_INTERNAL_H

#include <openssl/ssl.h>

#include "net/net.h"

typedef struct tls_conn tls_conn;

/* One read buffer for the whole loop: libuv calls alloc_cb right before
 * read() and read_cb right after, synchronously, so no two connections
 * ever hold it at once and idle connections own no read memory. */
#define NET_READ_BUF_SIZE (64 * 1024)
/* Output capacity an idle connection may keep between bursts: enough for
 * the small acks and pings of steady traffic without malloc churn. */
#define NET_OUT_KEEP 512

struct net {
    uv_loop_t *loop;
    uv_check_t flush_check; /* flushes dirty connections after polling */
    uv_idle_t flush_idle;   /* while anything is dirty, poll must not block */
    uint8_t *rbuf;
    buf discard;            /* handed out as the outbuf of closing conns */
    net_listener *listeners;
    net_conn *conns;        /* every conn whose handle is not yet freed */
    net_conn *dirty;        /* conns queued for the next flush */
    size_t high, low;
    unsigned handles;       /* our uv handles not yet through their close cb */
    bool shut;
    /* TLS: decrypted input is handed out from `plain` (allocated with the
     * first TLS connection), like rbuf for plain connections. Connections
     * still in their handshake are listed oldest first, so the timer only
     * ever looks at the head. */
    uint8_t *plain;
    net_conn *hs_head, *hs_tail;
    uv_timer_t hs_timer;
    unsigned hs_timeout_ms;
};

struct net_listener {
    uv_tcp_t tcp;
    net *n;
    net_accept_cb on_accept;
    const net_conn_callbacks *cbs;
    void *ctx;
    uint16_t port;
    unsigned index;         /* net_listener_set_index */
    SSL_CTX *tls;           /* NULL: plain TCP; one reference held */
    net_listener *next;
};

enum conn_state {
    CONN_OPEN,    /* reading and writing */
    CONN_CLOSING, /* no more reads or new writes; flushing, then shutdown */
    CONN_CLOSED,  /* uv_close issued; on_close comes from its callback */
};

struct net_conn {
    uv_tcp_t tcp;
    net *n;
    const net_conn_callbacks *cbs;
    void *user;              /* NULL until accepted: no on_close then */
    buf out;                 /* accumulating output (plaintext) */
    buf wire;                /* TLS: encrypted output not yet handed to a write */
    tls_conn *tls;           /* NULL: plain TCP */
    buf inflight;            /* bytes owned by the pending uv_write */
    size_t inflight_off;     /* inflight.data[inflight_off..len) unsent */
    net_conn *prev, *next;   /* n->conns */
    net_conn *dirty_next;    /* n->dirty */
    int close_error;
    uint8_t state;           /* enum conn_state */
    bool dirty, writing, paused, above_high;
    unsigned listener_index;
    char peer[56];           /* "[v6addr]:port" fits */
    char peer_ip[46];        /* INET6_ADDRSTRLEN */
};

void conn_accepted(net_listener *l, net_conn *c);
/* Stop reading, flush what is pending, then shut down (net_conn_close). */
void conn_begin_close(net_conn *c);
/* Close at once, dropping pending output. */
void conn_abort(net_conn *c, int error);

/* --- tls_conn.c: the TLS engine of one connection (memory BIOs) --- */

/* Returns -1 if OpenSSL cannot create the connection state. */
int tls_conn_start(net_conn *c, SSL_CTX *ctx);
/* Ciphertext from the socket: handshake, then plaintext to on_read. */
void tls_conn_input(net_conn *c, const uint8_t *data, size_t len);
/* Move c->out (plaintext) through SSL into c->wire, once the handshake is
 * done; before that the plaintext waits. */
void tls_conn_encrypt(net_conn *c);
/* Encrypt what is pending, then queue close_notify (orderly close). */
void tls_conn_close_notify(net_conn *c);
const X509 *tls_conn_peer_cert(const net_conn *c);
void tls_conn_free(net_conn *c);
/* Handshake timeout timer callback. */
void tls_handshake_expire(uv_timer_t *t);
void conn_flush(net_conn *c);
/* Best-effort nonblocking flush, then close now (net_shutdown). */
void conn_force_close(net_conn *c);
void net_mark_dirty(net *n, net_conn *c);

#endif
