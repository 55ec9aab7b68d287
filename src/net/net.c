/* The net object: listeners, accepting, and the once-per-iteration flush
 * of connections that have pending output. Connection I/O is in conn.c. */
#include "net/net_internal.h"

#include <assert.h>
#include <stdlib.h>

#include "util/alloc.h"
#include "util/log.h"

#define LISTEN_BACKLOG 511

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
    n->handles = 4;
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

void net_refused(net *n, net_refusals *r, const char *why, const char *peer)
{
    uint64_t now = uv_now(n->loop);
    r->count++;
    if (r->logged_at && now - r->logged_at < 1000) return;
    log_warn("refused %lu connection%s (%s; last from %s)", r->count, r->count == 1 ? "" : "s", why, peer);
    r->count = 0;
    r->logged_at = now ? now : 1;
}

static void listener_free(net_listener *l)
{
    SSL_CTX_free(l->tls);
    free(l);
}

/* Closed by net_shutdown: stays listed for net_free (connections point to it). */
static void on_listener_closed(uv_handle_t *h)
{
    net_listener *l = h->data;
    l->n->handles--;
}

/* A listener that never listened: no connection can point to it. */
static void on_unused_listener_closed(uv_handle_t *h)
{
    on_listener_closed(h);
    listener_free(h->data);
}

void net_shutdown(net *n)
{
    if (n->shut) return;
    n->shut = true;
    for (net_listener *l = n->listeners; l; l = l->next) uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    for (net_conn *c = n->conns; c; c = c->next) conn_force_close(c);
    uv_close((uv_handle_t *)&n->flush_check, on_handle_closed);
    uv_close((uv_handle_t *)&n->flush_idle, on_handle_closed);
    uv_close((uv_handle_t *)&n->hs_timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->close_timer, on_handle_closed);
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
    hashmap_free(n->pending, NULL);
    free(n->dirty);
    free(n->rbuf);
    free(n->plain);
    free(n);
}

static void on_connection(uv_stream_t *server, int status)
{
    net_listener *l = server->data;
    if (status < 0) {
        log_warn("accept on port %u: %s", l->port, uv_strerror(status));
        return;
    }
    net *n = l->n;
    /* One allocation for the conn and its user area (net.h). */
    net_conn *c = xcalloc(1, NET_CONN_USER_OFFSET + l->user_size);
    c->l = l;
    c->state = CONN_OPEN;
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    n->handles++;
    c->next = n->conns;
    if (n->conns) n->conns->prev = c;
    n->conns = c;
    conn_accepted(l, c);
}

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(addr, port, (struct sockaddr_in *)ss) == 0) return 0;
    return uv_ip6_addr(addr, port, (struct sockaddr_in6 *)ss);
}

static uint16_t bound_port(uv_tcp_t *tcp)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

net_listener *net_listen(net *n, const char *addr, uint16_t port, size_t user_size, net_accept_cb on_accept,
                         const net_conn_callbacks *cbs, void *ctx)
{
    struct sockaddr_storage ss;
    if (n->shut || parse_addr(addr, port, &ss) != 0) {
        log_error("listen on %s:%u: not an IPv4 or IPv6 address", addr, port);
        return NULL;
    }
    net_listener *l = xcalloc(1, sizeof *l);
    l->n = n;
    l->on_accept = on_accept;
    l->user_size = user_size;
    l->cbs = cbs;
    l->ctx = ctx;
    uv_tcp_init(n->loop, &l->tcp);
    l->tcp.data = l;
    n->handles++;
    int r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
    if (r != 0) {
        log_error("listen on %s:%u: %s", addr, port, uv_strerror(r));
        uv_close((uv_handle_t *)&l->tcp, on_unused_listener_closed);
        return NULL;
    }
    l->port = bound_port(&l->tcp);
    l->next = n->listeners;
    n->listeners = l;
    return l;
}

uint16_t net_listener_port(const net_listener *l) { return l->port; }

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
        conn_flush(c);
    }
    n->ndirty = 0;
    if (!n->shut) {
        uv_check_stop(&n->flush_check);
        uv_idle_stop(&n->flush_idle);
    }
}
