/* Private to src/net: the structures shared by the listener side (net.c)
 * and the connection I/O side (conn.c). */
#ifndef MQS_NET_NET_INTERNAL_H
#define MQS_NET_NET_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "net/net.h"
#include "util/hashmap.h"

typedef struct tls_conn tls_conn;
typedef struct ws_conn ws_conn;

/* A WebSocket listener's settings (net_listener_set_websocket). */
typedef struct net_ws_listener {
    char *path;           /* owned */
    uint64_t max_message; /* bytes; 0 = no limit */
} net_ws_listener;

/* Refused connections, counted and logged at most once per second
 * (net.c net_refused): a flood of refusals must not flood the log. */
typedef struct net_refusals {
    uint64_t logged_at;  /* uv_now of the last log line */
    unsigned long count; /* refusals not yet reported (refuse_timer reports them) */
    uint64_t total;      /* every refusal (net_get_stats) */
    const char *why;     /* a static string */
    char last[64];       /* the last refused peer */
} net_refusals;

/* One read buffer for the whole loop: libuv calls alloc_cb right before
 * read() and read_cb right after, synchronously, so no two connections
 * ever hold it at once and idle connections own no read memory. */
#define NET_READ_BUF_SIZE (64 * 1024)
#define NET_OUT_POOL 64
#define NET_OUT_POOL_CAP (32u * 1024)

struct net {
    uv_loop_t *loop;
    uv_check_t flush_check; /* flushes dirty connections after polling */
    uv_idle_t flush_idle;   /* while anything is dirty, poll must not block */
    uint8_t *rbuf;
    buf discard; /* handed out as the outbuf of closing conns */
    /* Output buffers of connections whose output was all written, for the
     * next connection that writes (net_conn_outbuf). A written buffer is
     * released so that idle connections hold none; without this pool
     * every busy connection's buffer would grow again by doubling from 64
     * bytes on every loop iteration (a realloc chain per write). Bounded:
     * NET_OUT_POOL buffers of at most NET_OUT_POOL_CAP bytes each (2 MiB);
     * a larger buffer is freed. */
    buf out_pool[NET_OUT_POOL];
    unsigned n_out_pool;
    net_listener *listeners;
    net_conn *conns; /* every conn whose handle is not yet freed */
    /* Conns queued for the next flush. An array in the net rather than a
     * link in every conn: only busy connections are ever in it, while a
     * link would cost each idle connection 8 bytes. */
    net_conn **dirty;
    size_t ndirty, dirty_cap;
    size_t high, low;
    unsigned handles; /* our uv handles not yet through their close cb */
    bool shut;
    /* TLS: decrypted input is handed out from `plain` (allocated with the
     * first TLS connection), like rbuf for plain connections. Connections
     * still in their handshake are listed oldest first, so the timer only
     * ever looks at the head. */
    uint8_t *plain;
    net_conn *hs_head, *hs_tail;
    uv_timer_t hs_timer;
    unsigned hs_timeout_ms;
    /* Closing connections (their conn_write links them), checked by a
     * periodic timer that runs only while the list is not empty: a close
     * ends within a bounded time whatever the peer does (conn.c). */
    net_conn *closing;
    uv_timer_t close_timer;
    unsigned close_timeout_ms; /* longest a close may go without output progress */
    /* Connections not yet vouched for (net_conn_established), per peer
     * address: key = family byte + address, value = count cast to a
     * pointer (peer.c). NULL until the first counted connection. */
    hashmap *pending;
    unsigned max_pending; /* per address; 0 = no limit */
    net_refusals refused_pending, refused_nofd, refused_error;
    uint64_t accepted, bytes_read, bytes_written; /* net_get_stats */
    uv_timer_t refuse_timer;                      /* reports refusals held back by the once-a-second rule */
    /* Out of file descriptors at accept: the reserve descriptor is closed
     * so the pending connections can be accepted and closed at once
     * (rather than left in the backlog, which keeps the listener readable
     * and the loop spinning), then reopened. If even that fails, the
     * listeners pause for a second (accept_timer). */
    int reserve_fd;
    uv_timer_t accept_timer;
};

/* Connections point to their listener, so a listener is freed only in
 * net_free, after every connection (net_shutdown just closes its handle). */
struct net_listener {
    /* The listening socket is ours, watched by a uv_poll: accepting it
     * ourselves gives the peer's address from accept() itself (a peer
     * that reset before we looked still shows where it came from) and
     * lets us see, count and log connections refused for lack of file
     * descriptors, which libuv's own listener drops silently. */
    uv_poll_t poll;
    uv_os_sock_t fd;
    bool paused; /* out of descriptors with no reserve: poll stopped for a while */
    net *n;
    net_accept_cb on_accept;
    size_t user_size; /* of each conn's user area */
    const net_conn_callbacks *cbs;
    void *ctx;
    uint16_t port;
    unsigned index;      /* net_listener_set_index */
    SSL_CTX *tls;        /* NULL: plain TCP; one reference held */
    net_ws_listener *ws; /* NULL: MQTT straight on TCP/TLS; owned */
    bool dialer;         /* net_dialer: no socket, no poll; its conns are outbound */
    net_listener *next;
};

/* Every close passes CLOSING and LINGER (unless aborted) and ends within
 * a bounded time: output that makes no progress for close_timeout_ms is
 * dropped with a reset, and the whole close never takes longer than
 * NET_CLOSE_BOUND_FACTOR times that. */
enum conn_state {
    CONN_OPEN,    /* reading and writing */
    CONN_CLOSING, /* no new writes; flushing; input read and discarded */
    CONN_LINGER,  /* FIN sent; input discarded until the peer's FIN or NET_LINGER_MS */
    CONN_CLOSED,  /* uv_close issued; on_close comes from its callback */
};
#define NET_LINGER_MS 2000
#define NET_CLOSE_BOUND_FACTOR 4
#define NET_CLOSE_TICK_MS 250

/* Write state that exists only while output is moving or the connection
 * is closing: the request of the pending uv_write and the bytes it owns,
 * and the close deadlines. Allocated by the first write the socket does
 * not take at once (or by the close), freed when all output is written
 * (after_progress) on an open connection or with the connection, so an
 * idle connection carries none of it. */
typedef struct conn_write {
    uv_write_t req;
    buf inflight; /* bytes owned by the pending uv_write */
    size_t off;   /* inflight.data[off..len) unsent */
    /* Close state, valid while state is CLOSING or LINGER. */
    net_conn *cprev, *cnext; /* n->closing */
    uint64_t progress_at;    /* uv_now when output last shrank (or the close began) */
    uint64_t close_by;       /* hard deadline of the whole close */
    uint64_t linger_until;   /* LINGER: give up waiting for the peer's FIN */
    size_t left;             /* output left at the last check */
} conn_write;

/* Per-connection memory matters (idle connections are the common case):
 * fields are ordered to avoid padding, flags are bits, and what only some
 * connections need lives behind a pointer (tls, wr). */
struct net_conn {
    uv_tcp_t tcp;
    net_listener *l;       /* accepted by; its n, cbs and index serve every conn */
    buf out;               /* accumulating output (plaintext); freed when written */
    tls_conn *tls;         /* NULL: plain TCP; holds the ciphertext buffer */
    conn_write *wr;        /* NULL unless output is moving */
    net_conn *prev, *next; /* n->conns */
    /* The peer's address as accepted (peer.c formats it on demand). Kept
     * flat rather than in a struct so the flag byte fills its padding. */
    uint8_t peer_ip[16];   /* in6_addr, or in_addr in the first 4 bytes */
    uint16_t peer_port_be; /* network byte order */
    uint8_t peer_family;   /* AF_INET, AF_INET6, or 0 if unknown */
    uint8_t state : 2;     /* enum conn_state */
    uint8_t dirty : 1, writing : 1, paused : 1, above_high : 1;
    uint8_t accepted : 1;     /* the user took it: its area is live, on_close due */
    uint8_t peer_eof : 1;     /* the peer's FIN arrived; libuv stopped reading */
    uint8_t pending : 1;      /* counted in n->pending (peer.c) */
    uint8_t connecting : 1;   /* outbound, TCP connect pending: no I/O yet */
    uint8_t cert_refused : 1; /* TLS: we refused the peer's certificate (tls_conn.c) */
    int16_t close_error;      /* a libuv error code (all fit) */
};

/* The user area follows the net_conn in its allocation, aligned like
 * malloc memory. With the fields above the struct is 336 bytes on LP64, a
 * multiple of 16, so the alignment adds no padding; together with the
 * broker's client the allocation stays within a 512-byte malloc chunk. */
#define NET_CONN_USER_OFFSET \
    ((sizeof(net_conn) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t))
static inline void *conn_user(net_conn *c) { return (char *)c + NET_CONN_USER_OFFSET; }
/* On a WebSocket listener the transform's state (ws_conn.c) follows the
 * user area, aligned like it; plain connections do not have it. */
static inline size_t conn_user_span(const net_listener *l)
{
    return (l->user_size + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t);
}
#if defined(__x86_64__) && defined(__GLIBC__)
_Static_assert(NET_CONN_USER_OFFSET == NET_CONN_OVERHEAD_X86_64,
               "net_conn changed size: update NET_CONN_OVERHEAD_X86_64 and docs/architecture.md");
#endif

/* peer.c: keep the peer's address as accept() reported it. */
void net__peer_store(net_conn *c, const struct sockaddr *sa);
/* peer.c: format an address like net_conn_peer (for connections refused
 * before a net_conn exists). */
void net__peer_format(const struct sockaddr *sa, char *out, size_t size);
/* peer.c: count c against its address's limit of connections not yet
 * established; false (nothing counted) when the address is at the limit. */
bool net__peer_admit(net_conn *c);
/* peer.c: stop counting c (established or closed); idempotent. */
void net__peer_release(net_conn *c);
/* A refused connection: counted, and logged at most once a second. */
void net_refused(net *n, net_refusals *r, const char *why, const char *peer);

/* Connect an outbound connection (conn.c, net_connect). */
int net__conn_connect(net_conn *c, const struct sockaddr *sa, const char *verify_name);
/* Start the connection on the socket accepted for it (net.c). */
void net__conn_accepted(net_listener *l, net_conn *c, uv_os_sock_t fd);
/* Flush what is pending (discarding input), shut down, linger, close
 * (net_conn_close). */
void net__conn_begin_close(net_conn *c);
/* Timer callback: ends closes that overran their time (conn.c). */
void net__conn_close_tick(uv_timer_t *t);
/* Close at once, dropping pending output. */
void net__conn_abort(net_conn *c, int error);

/* --- tls_conn.c: the TLS engine of one connection (memory BIOs) --- */

/* Returns -1 if OpenSSL cannot create the connection state. An outbound
 * connection (c->l->dialer) is the client: it sends its ClientHello now
 * and verifies the server's certificate (and verify_name if not NULL). */
int net_tls_conn_start(net_conn *c, SSL_CTX *ctx, const char *verify_name);
/* Ciphertext from the socket: handshake, then plaintext to on_read. */
void net_tls_conn_input(net_conn *c, const uint8_t *data, size_t len);
/* Move c->out (plaintext) through SSL into the ciphertext buffer, once the
 * handshake is done; before that the plaintext waits. */
void net_tls_conn_encrypt(net_conn *c);
/* Encrypt what is pending, then queue close_notify (orderly close). */
void net_tls_conn_close_notify(net_conn *c);
const X509 *net_tls_conn_peer_cert(const net_conn *c);
/* The ciphertext waiting to be written (what goes to the socket next). */
buf *net_tls_conn_wire(const net_conn *c);
void net_tls_conn_free(net_conn *c);
/* Handshake timeout timer callback. */
void net_tls_handshake_expire(uv_timer_t *t);
void net__conn_flush(net_conn *c);
/* Plaintext from the socket or from TLS, for the user (through the
 * WebSocket transform on a WebSocket listener). data is writable: frames
 * are unmasked in place. */
void net__conn_deliver(net_conn *c, uint8_t *data, size_t len);

/* --- ws_conn.c: the WebSocket transform (listeners with l->ws) --- */

/* Bytes of state each WebSocket connection carries after its user area. */
size_t net_ws_conn_size(void);
void net_ws_conn_start(net_conn *c);
void net_ws_conn_input(net_conn *c, uint8_t *data, size_t len);
/* Turn c->out into wire form (one binary frame, and a due pong) right
 * before it is handed to TLS or the socket. */
void net_ws_conn_frame(net_conn *c);
/* Output beyond c->out waiting for the next frame (a pong). */
size_t net_ws_conn_pending(net_conn *c);
/* The connection closes: queue a close frame with code after the output. */
void net_ws_conn_close(net_conn *c, uint16_t code);
void net_ws_conn_free(net_conn *c);
/* Best-effort nonblocking flush, then close now (net_shutdown). */
void net__conn_force_close(net_conn *c);
void net_mark_dirty(net *n, net_conn *c);

#endif
