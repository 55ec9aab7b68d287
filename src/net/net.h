/* Listeners and connections on libuv. This layer moves bytes; it knows
 * nothing about MQTT. A listener may be TLS (net_listener_set_tls): the
 * connection then encrypts and decrypts under the same interface, so the
 * user of a net_conn sees plaintext either way (tls_conn.c).
 *
 * Writes are batched: net_conn_outbuf() exposes the connection's pending
 * output buffer, encoders append to it, and net_conn_flush_later() queues
 * the connection to be written once per loop iteration (from a uv_check
 * handle), so a burst of packets to one client costs one write syscall.
 *
 * Reads come through the on_read callback with a slice of a loop-wide read
 * buffer; the callee must consume or copy what it needs before returning.
 *
 * Lifetime: a net_conn is owned by the net layer. After on_close has been
 * called the handle must not be used. net_conn_close() may be called from
 * any callback, including on_read; on_close is then delivered later, from
 * the loop, never re-entrantly.
 *
 * User area: each connection carries `user_size` bytes for its user (the
 * listener's net_listen argument) in the same allocation, so a per-
 * connection object costs no malloc header and needs no pointer to or
 * from the net_conn. The area is zeroed at accept and aligned like malloc
 * memory; the accept callback constructs the user's object in it, and
 * every callback of the connection receives it as `user`. The net layer
 * frees it with the net_conn right after on_close returns: on_close must
 * release what the object owns and unlink it from wherever it is listed,
 * because nothing may point into the area afterwards. */
#ifndef MQS_NET_NET_H
#define MQS_NET_NET_H

/* Bytes each connection's allocation spends before its user area on
 * x86_64 Linux/glibc, the platform docs/architecture.md ("Memory per idle
 * connection") quotes; asserted there by net_internal.h, and the broker
 * asserts that its client fits the rest of a 512-byte malloc chunk. */
#define NET_CONN_OVERHEAD_X86_64 336

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

/* OpenSSL types, kept opaque here (SSL_CTX and X509). */
struct ssl_ctx_st;
struct x509_st;

typedef struct net_conn net_conn;
typedef struct net_listener net_listener;
typedef struct net net;

/* Called for each accepted connection with its zeroed user area. Return
 * true to accept: the area is then the `user` of its callbacks. Return
 * false to refuse: the net layer closes the connection without on_close,
 * so the area must own nothing (it is freed as is). */
typedef bool (*net_accept_cb)(void *ctx, net_conn *conn, void *user);

typedef struct net_conn_callbacks {
    /* Bytes arrived. */
    void (*on_read)(void *user, const uint8_t *data, size_t len);
    /* Connection ended (peer closed, error, or net_conn_close finished).
     * Called exactly once. `error` is 0 for an orderly end. */
    void (*on_close)(void *user, int error);
    /* The output backlog fell below the low-water mark after having been
     * above the high-water mark (see net_conn_backlog). May be NULL. */
    void (*on_drain)(void *user);
    /* Outbound connections only (net_connect): connected, and with TLS the
     * handshake done and the server's certificate verified. May be NULL. */
    void (*on_open)(void *user);
} net_conn_callbacks;

net *net_new(uv_loop_t *loop);
/* Backlog thresholds for on_drain (bytes). A connection whose backlog
 * reaches `high` gets on_drain once it falls to `low` or below. Defaults:
 * high 1 MiB, low 64 KiB. low must be < high. */
void net_set_backlog_marks(net *n, size_t high, size_t low);
/* Close all listeners and connections; on_close is called for each. Run
 * the loop afterwards to let libuv finish closing handles. */
void net_shutdown(net *n);
/* Only after net_shutdown and a loop run to idle (all handles closed). */
void net_free(net *n);
/* After net_shutdown: whether every handle is closed (net_free may run). */
bool net_closed(const net *n);

/* Counters of the whole net (every listener), for the metrics endpoint. */
typedef struct net_stats {
    uint64_t accepted; /* connections accepted */
    uint64_t refused_pending, refused_nofd,
        refused_error;                  /* refused at accept: per-address limit, no descriptor, other */
    uint64_t bytes_read, bytes_written; /* socket bytes (TLS records included) */
} net_stats;
void net_get_stats(const net *n, net_stats *out);

/* Start listening on addr:port (IPv4 or IPv6 literal); each accepted
 * connection gets a user area of `user_size` bytes (see the top). Returns
 * NULL and logs on failure. */
net_listener *net_listen(net *n, const char *addr, uint16_t port, size_t user_size, net_accept_cb on_accept,
                         const net_conn_callbacks *cbs, void *ctx);
/* The port actually bound (useful with port 0). */
uint16_t net_listener_port(const net_listener *l);
/* A number the server chooses for the listener (its index in the
 * configuration), reported by net_conn_listener_index. Default 0. */
void net_listener_set_index(net_listener *l, unsigned index);
/* Make l a TLS listener, or replace its context (certificate reload):
 * connections accepted from now on use ctx; existing ones keep the context
 * they started with (SSL_CTX is reference counted). Takes its own
 * reference; the caller keeps (and eventually frees) its own. */
void net_listener_set_tls(net_listener *l, struct ssl_ctx_st *ctx);
/* Make l a WebSocket listener (RFC 6455; MQTT over WebSockets): each
 * connection must open with an HTTP/1.1 upgrade to `path` (other paths
 * get 404) offering the `mqtt` subprotocol, or none; afterwards the user
 * sees the binary frames' payload as its byte stream and its output goes
 * out as one binary frame per flush. A data message longer than
 * max_message bytes (0: no limit) is refused with close code 1009. Set
 * before the listener accepts; with TLS, the handshake runs inside TLS. */
void net_listener_set_websocket(net_listener *l, const char *path, uint64_t max_message);
/* Seconds a TLS client has to finish its handshake (default 10). */
void net_set_handshake_timeout(net *n, unsigned seconds);
/* Bounded close (net_conn_close): a closing connection whose output makes
 * no progress for `seconds` (default 5) is reset, and a close never takes
 * longer than four times that in all, whatever the peer does. */
void net_set_close_timeout(net *n, unsigned seconds);
/* At most `max` connections per peer address that have not yet been
 * vouched for with net_conn_established (0 = no limit, the default).
 * Further ones are closed right after accept, before any user callback,
 * and logged at most once a second. */
void net_set_max_pending_per_address(net *n, unsigned max);

/* Outbound connections. A dialer is to the connections it makes what a
 * listener is to those it accepts: their callbacks, user area size and
 * TLS context (net_listener_set_tls with a net_tls_client_ctx_new
 * context). It has no socket; it lives until net_free. */
net_listener *net_dialer(net *n, size_t user_size, const net_conn_callbacks *cbs, void *ctx);
/* Connect to sa through dialer d. Returns the connection and sets *user
 * to its zeroed user area, which the caller constructs right away (no
 * callback runs before the loop does). cbs->on_open follows once the
 * connection is usable: TCP connected and, with TLS, the handshake done
 * with a server certificate that verifies against the CA and, when
 * verify_name is not NULL, names it (a DNS name or an IP address:
 * X509_check_host / X509_check_ip_asc rules). Failing that, on_close
 * with the error. Bytes written before on_open wait. NULL after
 * net_shutdown. */
net_conn *net_connect(net_listener *d, const struct sockaddr *sa, const char *verify_name, void **user);
/* Whether this side refused the peer's certificate (TLS verification
 * failed): for on_close to tell a refusal from a network failure. */
bool net_conn_cert_refused(const net_conn *c);

buf *net_conn_outbuf(net_conn *c);
void net_conn_flush_later(net_conn *c);
/* Convenience: append bytes and flush later. */
void net_conn_write(net_conn *c, const void *data, size_t len);
/* Bytes appended but not yet written to the socket. */
size_t net_conn_backlog(const net_conn *c);
/* True from when the backlog reached the high-water mark (checked at every
 * net_conn_flush_later) until it fell to the low-water mark and on_drain
 * ran: the same hysteresis as on_drain, read without computing the
 * backlog, for checks made on every packet. */
bool net_conn_over_backlog(const net_conn *c);
void net_conn_pause_read(net_conn *c);
void net_conn_resume_read(net_conn *c);
/* Flush what is pending, then close. Later writes are discarded. Input
 * that still arrives is read and discarded, and after the last byte the
 * write side is shut down and the peer gets up to 2 s to close its side
 * (a lingering close): closing with unread input would make the kernel
 * send a reset that can destroy the last output before the peer reads it.
 * The whole close is bounded (net_set_close_timeout). */
void net_conn_close(net_conn *c);
/* The user vouches for c (e.g. it authenticated): it no longer counts
 * against net_set_max_pending_per_address. Idempotent. */
void net_conn_established(net_conn *c);
/* Peer address as text, for logs ("192.0.2.1:5000", "[2001:db8::1]:5000").
 * Formatted on each call into a per-thread buffer: valid until the next
 * net_conn_peer call on this thread. Also valid after the socket closed
 * (inside on_close). */
const char *net_conn_peer(const net_conn *c);
/* Peer IP address alone ("192.0.2.1", "2001:db8::1"); its own buffer,
 * valid until the next net_conn_peer_ip call on this thread. */
const char *net_conn_peer_ip(const net_conn *c);
unsigned net_conn_listener_index(const net_conn *c);
/* The client certificate of a TLS connection, verified against the
 * listener's CA bundle; NULL when there is none (or not TLS). Valid for
 * the connection's lifetime. */
const struct x509_st *net_conn_peer_cert(const net_conn *c);

#endif
