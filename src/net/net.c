/* The net object: listeners, accepting, and the once-per-iteration flush
 * of connections that have pending output. Connection I/O is in conn.c. */
#include "net/net_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"

#define LISTEN_BACKLOG 511
#define ACCEPT_BATCH 128     /* accepts per wake-up, so other work gets its turn */
#define ACCEPT_PAUSE_MS 1000 /* nothing can be accepted: listeners rest this long */

static int reserve_open(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

static void on_flush_check(uv_check_t *h);
static void on_flush_idle(uv_idle_t *h) { (void)h; }

net *net_new(uv_loop_t *loop)
{
    net *n = xcalloc(1, sizeof *n);
    n->loop = loop;
    n->rbuf = xmalloc(NET_READ_BUF_SIZE);
    n->high = 1024 * 1024;
    n->low = 64 * 1024;
    uv_check_init(loop, &n->flush_check);
    uv_idle_init(loop, &n->flush_idle);
    n->flush_check.data = n;
    n->flush_idle.data = n;
    uv_timer_init(loop, &n->hs_timer);
    n->hs_timer.data = n;
    n->hs_timeout_ms = 10000;
    uv_timer_init(loop, &n->close_timer);
    n->close_timer.data = n;
    n->close_timeout_ms = 5000;
    uv_timer_init(loop, &n->accept_timer);
    n->accept_timer.data = n;
    n->reserve_fd = reserve_open();
    uv_timer_init(loop, &n->refuse_timer);
    n->refuse_timer.data = n;
    n->handles = 6;
    return n;
}

void net_set_backlog_marks(net *n, size_t high, size_t low)
{
    n->high = high;
    n->low = low < high ? low : (high ? high - 1 : 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    net *n = h->data;
    n->handles--;
}

void net_set_handshake_timeout(net *n, unsigned seconds) { n->hs_timeout_ms = seconds * 1000; }

void net_set_close_timeout(net *n, unsigned seconds) { n->close_timeout_ms = seconds * 1000; }

void net_set_max_pending_per_address(net *n, unsigned max) { n->max_pending = max; }

static void refusals_report(net_refusals *r, uint64_t now)
{
    log_warn("refused %lu connection%s (%s; last from %s)", r->count, r->count == 1 ? "" : "s", r->why, r->last);
    r->count = 0;
    r->logged_at = now ? now : 1;
}

static void on_refuse_timer(uv_timer_t *t)
{
    net *n = t->data;
    uint64_t now = uv_now(n->loop);
    net_refusals *all[] = {&n->refused_pending, &n->refused_nofd, &n->refused_error};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->count) refusals_report(all[i], now);
}

/* The first refusal is logged at once; later ones within the second are
 * counted and reported together when it is over. */
void net_refused(net *n, net_refusals *r, const char *why, const char *peer)
{
    uint64_t now = uv_now(n->loop);
    r->count++;
    r->total++;
    r->why = why;
    snprintf(r->last, sizeof r->last, "%s", peer);
    if (!r->logged_at || now - r->logged_at >= 1000) {
        refusals_report(r, now);
    } else if (!uv_is_active((uv_handle_t *)&n->refuse_timer) && !n->shut) {
        uv_timer_start(&n->refuse_timer, on_refuse_timer, r->logged_at + 1000 - now, 0);
    }
}

static void listener_free(net_listener *l)
{
    SSL_CTX_free(l->tls);
    if (l->ws) free(l->ws->path);
    free(l->ws);
    free(l);
}

/* Closed by net_shutdown: stays listed for net_free (connections point to
 * it). The socket is ours, not the poll handle's. */
static void on_listener_closed(uv_handle_t *h)
{
    net_listener *l = h->data;
    close(l->fd);
    l->n->handles--;
}

void net_shutdown(net *n)
{
    if (n->shut) return;
    n->shut = true;
    for (net_listener *l = n->listeners; l; l = l->next)
        if (!l->dialer) uv_close((uv_handle_t *)&l->poll, on_listener_closed);
    for (net_conn *c = n->conns; c; c = c->next) net__conn_force_close(c);
    uv_close((uv_handle_t *)&n->flush_check, on_handle_closed);
    uv_close((uv_handle_t *)&n->flush_idle, on_handle_closed);
    uv_close((uv_handle_t *)&n->hs_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->close_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->accept_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->refuse_timer, on_handle_closed);
}

void net_free(net *n)
{
    if (!n) return;
    /* net_shutdown and a loop run must come first: freeing memory that
     * libuv still references would be a use-after-free later. */
    assert(n->shut && n->handles == 0 && !n->conns);
    for (net_listener *l = n->listeners, *next; l; l = next) {
        next = l->next;
        listener_free(l);
    }
    buf_free(&n->discard);
    for (unsigned i = 0; i < n->n_out_pool; i++) buf_free(&n->out_pool[i]);
    hashmap_free(n->pending, NULL);
    if (n->reserve_fd >= 0) close(n->reserve_fd);
    free(n->dirty);
    free(n->rbuf);
    free(n->plain);
    free(n);
}

void net_get_stats(const net *n, net_stats *out)
{
    *out = (net_stats){.accepted = n->accepted,
                       .refused_pending = n->refused_pending.total,
                       .refused_nofd = n->refused_nofd.total,
                       .refused_error = n->refused_error.total,
                       .bytes_read = n->bytes_read,
                       .bytes_written = n->bytes_written};
}

bool net_closed(const net *n) { return n->shut && n->handles == 0 && !n->conns; }

/* --- accepting ------------------------------------------------------------------ */

static void accept_conn(net_listener *l, int fd, const struct sockaddr *sa)
{
    net *n = l->n;
    /* One allocation for the conn, its user area (net.h) and, on a
     * WebSocket listener, the transform's state (ws_conn.c). */
    net_conn *c = xcalloc(1, NET_CONN_USER_OFFSET + (l->ws ? conn_user_span(l) + net_ws_conn_size() : l->user_size));
    c->l = l;
    net__peer_store(c, sa);
    if (!net__peer_admit(c)) {
        net_refused(n, &n->refused_pending, "too many connections not yet established from one address",
                    net_conn_peer(c));
        close(fd);
        free(c);
        return;
    }
    c->state = CONN_OPEN;
    n->accepted++;
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    n->handles++;
    c->next = n->conns;
    if (n->conns) n->conns->prev = c;
    n->conns = c;
    net__conn_accepted(l, c, fd);
}

static void on_listener_readable(uv_poll_t *h, int status, int events);

static void on_accept_resume(uv_timer_t *t)
{
    net *n = t->data;
    for (net_listener *l = n->listeners; l; l = l->next) {
        if (!l->paused || l->dialer || n->shut) continue;
        l->paused = false;
        uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
    }
}

/* Nothing can be accepted: stop watching the listener for a while, since
 * a connection left in the backlog keeps it readable (a busy loop). */
static void accept_pause(net_listener *l)
{
    if (l->paused) return;
    l->paused = true;
    uv_poll_stop(&l->poll);
    if (!uv_is_active((uv_handle_t *)&l->n->accept_timer))
        uv_timer_start(&l->n->accept_timer, on_accept_resume, ACCEPT_PAUSE_MS, 0);
}

/* Out of file descriptors (EMFILE/ENFILE): with the reserve descriptor's
 * slot, accept and close at once what waits in the backlog, so that the
 * clients get an answer (a closed connection) and the listener stops
 * being readable; each is counted and logged at most once a second. */
static void accept_shed(net_listener *l, int err)
{
    net *n = l->n;
    const char *why = err == EMFILE ? "out of file descriptors: raise the limit (ulimit -n)"
                                    : "the system is out of file descriptors";
    if (n->reserve_fd >= 0) close(n->reserve_fd);
    n->reserve_fd = -1;
    int last = 0;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            last = errno;
            if (last == EINTR || last == ECONNABORTED) continue;
            break;
        }
        close(fd);
        char peer[64];
        net__peer_format((struct sockaddr *)&ss, peer, sizeof peer);
        net_refused(n, &n->refused_nofd, why, peer);
    }
    n->reserve_fd = reserve_open();
    if (last == EMFILE || last == ENFILE) { /* not even the reserve's slot helped */
        net_refused(n, &n->refused_nofd, why, "?");
        accept_pause(l);
    }
}

static void on_listener_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    net_listener *l = h->data;
    if (status < 0) {
        net_refused(l->n, &l->n->refused_error, uv_strerror(status), "?");
        accept_pause(l);
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !l->n->shut; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_conn(l, fd, (struct sockaddr *)&ss);
            continue;
        }
        int e = errno;
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EMFILE || e == ENFILE) {
            accept_shed(l, e);
            return;
        }
        /* ENOBUFS, ENOMEM, EPERM (a firewall): counted and logged, and
         * the listener rests rather than retrying in a busy loop. */
        net_refused(l->n, &l->n->refused_error, strerror(e), "?");
        accept_pause(l);
        return;
    }
}

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(addr, port, (struct sockaddr_in *)ss) == 0) return 0;
    return uv_ip6_addr(addr, port, (struct sockaddr_in6 *)ss);
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A nonblocking listening socket, as uv_tcp_bind + uv_listen would make it
 * (SO_REUSEADDR; IPv6 sockets not v6-only). Returns a libuv error code. */
static int listen_socket(const struct sockaddr_storage *ss, int *out)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return uv_translate_sys_error(errno);
    int one = 1;
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = uv_translate_sys_error(errno);
        close(fd);
        return e;
    }
    *out = fd;
    return 0;
}

net_listener *net_listen(net *n, const char *addr, uint16_t port, size_t user_size, net_accept_cb on_accept,
                         const net_conn_callbacks *cbs, void *ctx)
{
    struct sockaddr_storage ss;
    if (n->shut || parse_addr(addr, port, &ss) != 0) {
        log_error("listen on %s:%u: not an IPv4 or IPv6 address", addr, port);
        return NULL;
    }
    int fd = -1;
    int r = listen_socket(&ss, &fd);
    if (r != 0) {
        log_error("listen on %s:%u: %s", addr, port, uv_strerror(r));
        return NULL;
    }
    net_listener *l = xcalloc(1, sizeof *l);
    l->n = n;
    l->fd = fd;
    l->on_accept = on_accept;
    l->user_size = user_size;
    l->cbs = cbs;
    l->ctx = ctx;
    l->port = bound_port(fd);
    uv_poll_init_socket(n->loop, &l->poll, fd);
    l->poll.data = l;
    n->handles++;
    uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
    l->next = n->listeners;
    n->listeners = l;
    return l;
}

net_listener *net_dialer(net *n, size_t user_size, const net_conn_callbacks *cbs, void *ctx)
{
    net_listener *d = xcalloc(1, sizeof *d);
    d->n = n;
    d->fd = -1;
    d->dialer = true;
    d->user_size = user_size;
    d->cbs = cbs;
    d->ctx = ctx;
    d->next = n->listeners;
    n->listeners = d;
    return d;
}

net_conn *net_connect(net_listener *d, const struct sockaddr *sa, const char *verify_name, void **user)
{
    net *n = d->n;
    assert(d->dialer);
    if (n->shut) return NULL;
    net_conn *c = xcalloc(1, NET_CONN_USER_OFFSET + d->user_size);
    c->l = d;
    net__peer_store(c, sa);
    c->state = CONN_OPEN;
    c->accepted = true; /* the user area is live from now on: on_close is due */
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    n->handles++;
    c->next = n->conns;
    if (n->conns) n->conns->prev = c;
    n->conns = c;
    *user = conn_user(c);
    net__conn_connect(c, sa, verify_name);
    return c;
}

uint16_t net_listener_port(const net_listener *l) { return l->port; }

void net_listener_set_websocket(net_listener *l, const char *path, uint64_t max_message)
{
    assert(!l->dialer && path && path[0] == '/');
    if (!l->ws) l->ws = xcalloc(1, sizeof *l->ws);
    free(l->ws->path);
    l->ws->path = xstrdup(path);
    l->ws->max_message = max_message;
}

void net_listener_set_index(net_listener *l, unsigned index) { l->index = index; }

void net_listener_set_tls(net_listener *l, SSL_CTX *ctx)
{
    if (ctx) SSL_CTX_up_ref(ctx);
    SSL_CTX_free(l->tls); /* connections using the old one hold their own references */
    l->tls = ctx;
}

/* The check handle runs only while something is dirty. The idle handle
 * runs alongside because libuv computes the poll timeout before check
 * handles run: output queued from a timer callback would otherwise wait
 * for the next unrelated wakeup. */
void net_mark_dirty(net *n, net_conn *c)
{
    if (c->dirty || n->shut) return;
    c->dirty = true;
    if (n->ndirty == 0) {
        uv_check_start(&n->flush_check, on_flush_check);
        uv_idle_start(&n->flush_idle, on_flush_idle);
    }
    if (n->ndirty == n->dirty_cap) {
        n->dirty_cap = n->dirty_cap ? 2 * n->dirty_cap : 64;
        n->dirty = xrealloc(n->dirty, n->dirty_cap * sizeof *n->dirty);
    }
    n->dirty[n->ndirty++] = c;
}

static void on_flush_check(uv_check_t *h)
{
    net *n = h->data;
    /* Flushing can run user callbacks (on_drain) that dirty more
     * connections; they are appended and flushed in this same pass. No
     * entry is removed meanwhile: unlink_dirty runs only from close
     * callbacks, never inside this one. */
    for (size_t i = 0; i < n->ndirty; i++) {
        net_conn *c = n->dirty[i];
        c->dirty = false;
        net__conn_flush(c);
    }
    n->ndirty = 0;
    if (!n->shut) {
        uv_check_stop(&n->flush_check);
        uv_idle_stop(&n->flush_idle);
    }
}
