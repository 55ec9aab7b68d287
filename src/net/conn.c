/* Connection I/O: reads into the loop-wide buffer, batched writes, and
 * the close sequence (flush -> shutdown -> linger -> uv_close -> on_close).
 *
 * For a TLS connection the socket side carries the ciphertext buffer
 * (net_tls_conn_wire) and reads go through net_tls_conn_input; c->out stays the
 * plaintext the user appends to, encrypted right before each write.
 *
 * Memory: an idle connection owns no output memory at all. c->out goes
 * back to the net's bounded pool of buffers once written (out_release)
 * and the next connection that writes takes one from there
 * (net_conn_outbuf), and the write state (conn_write) exists only while a
 * write is pending or output keeps coming; under steady load both stay
 * allocated and are reused, so the hot path does not churn malloc. */
#include "net/net_internal.h"
#include "net/ws_codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"

static void close_handle(net_conn *c, int error);
static void begin_shutdown(net_conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* The buffer whose bytes go to the socket next. */
static buf *wire(net_conn *c) { return c->tls ? net_tls_conn_wire(c) : &c->out; }
/* Output not yet handed to a write (plaintext and ciphertext, and a due
 * WebSocket pong). */
static size_t unsent(const net_conn *c)
{
    return c->out.len + (c->tls ? net_tls_conn_wire(c)->len : 0) + (c->l->ws ? net_ws_conn_pending((net_conn *)c) : 0);
}

static conn_write *write_state(net_conn *c)
{
    if (!c->wr) c->wr = xcalloc(1, sizeof *c->wr);
    return c->wr;
}

static void free_write_state(net_conn *c)
{
    if (!c->wr) return;
    buf_free(&c->wr->inflight);
    free(c->wr);
    c->wr = NULL;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    net_conn *c = h->data;
    *out = uv_buf_init((char *)c->l->n->rbuf, NET_READ_BUF_SIZE);
}

/* Only from on_closed, which libuv never runs inside the flush pass, so
 * the order of the array may change here (swap with the last). */
static void unlink_dirty(net_conn *c)
{
    net *n = c->l->n;
    for (size_t i = 0; i < n->ndirty; i++) {
        if (n->dirty[i] == c) {
            n->dirty[i] = n->dirty[--n->ndirty];
            break;
        }
    }
    c->dirty = false;
}

static void on_closed(uv_handle_t *h)
{
    net_conn *c = h->data;
    net *n = c->l->n;
    if (c->prev) c->prev->next = c->next;
    else n->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->dirty) unlink_dirty(c);
    n->handles--;
    net__peer_release(c);
    net_tls_conn_free(c);
    if (c->l->ws) net_ws_conn_free(c);
    if (c->accepted && c->l->cbs->on_close) c->l->cbs->on_close(conn_user(c), c->close_error);
    buf_free(&c->out);
    free_write_state(c); /* a pending write completed (cancelled) before this */
    free(c);             /* and the user area with it (net.h) */
}

/* --- the bounded close ------------------------------------------------------ */

static void closing_link(net_conn *c)
{
    net *n = c->l->n;
    conn_write *w = write_state(c);
    uint64_t now = uv_now(n->loop);
    w->progress_at = now;
    w->close_by = now + (uint64_t)NET_CLOSE_BOUND_FACTOR * n->close_timeout_ms;
    w->left = SIZE_MAX;
    w->cprev = NULL;
    w->cnext = n->closing;
    if (n->closing) n->closing->wr->cprev = c;
    n->closing = c;
    if (!uv_is_active((uv_handle_t *)&n->close_timer))
        uv_timer_start(&n->close_timer, net__conn_close_tick, NET_CLOSE_TICK_MS, NET_CLOSE_TICK_MS);
}

static void closing_unlink(net_conn *c)
{
    net *n = c->l->n;
    conn_write *w = c->wr;
    if (w->cprev) w->cprev->wr->cnext = w->cnext;
    else n->closing = w->cnext;
    if (w->cnext) w->cnext->wr->cprev = w->cprev;
    w->cprev = w->cnext = NULL;
    if (!n->closing && !n->shut) uv_timer_stop(&n->close_timer);
}

/* The one place a connection's handle is closed. Pending write and
 * shutdown requests complete with UV_ECANCELED before on_closed runs. */
static void close_handle(net_conn *c, int error)
{
    if (c->state == CONN_CLOSED) return;
    if (c->state != CONN_OPEN) closing_unlink(c);
    c->state = CONN_CLOSED;
    c->close_error = error;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Close with a reset: what the kernel still holds for the peer is
 * dropped at once instead of lingering as an orphaned socket. */
static void close_reset(net_conn *c, int error)
{
    uv_os_fd_t fd;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close_handle(c, error);
}

void net__conn_begin_close(net_conn *c)
{
    if (c->state != CONN_OPEN) return;
    if (c->connecting) { /* nothing was sent: no orderly close to make */
        close_handle(c, 0);
        return;
    }
    c->state = CONN_CLOSING;
    closing_link(c);
    /* Input keeps being read, and dropped (on_read), until the close ends. */
    if (c->paused && !c->peer_eof) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->paused = false;
    if (c->l->ws) net_ws_conn_close(c, WS_CLOSE_NORMAL);
    if (c->tls) net_tls_conn_close_notify(c);
    if (c->writing || unsent(c)) net_mark_dirty(c->l->n, c);
    else begin_shutdown(c);
}

void net__conn_abort(net_conn *c, int error) { close_handle(c, error); }

/* Bytes the kernel still holds for the peer (sent but not acknowledged,
 * or not sent): a peer that reads slowly frees them long before the
 * socket becomes writable again, so this is where its progress shows. */
static size_t kernel_unsent(net_conn *c)
{
    uv_os_fd_t fd;
    int queued = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
    return (size_t)queued;
}

/* One closing connection at a tick: the end of the linger time, or output
 * that stalled (a peer that does not read) or overran the whole bound. */
static void close_check(net_conn *c, uint64_t now)
{
    net *n = c->l->n;
    conn_write *w = c->wr;
    if (c->state == CONN_LINGER) {
        if (now >= w->linger_until) close_handle(c, 0);
        return;
    }
    size_t left = unsent(c) + uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + kernel_unsent(c);
    if (left < w->left) w->progress_at = now;
    w->left = left;
    if (now - w->progress_at < n->close_timeout_ms && now < w->close_by) return;
    log_info("%s: closing: %zu bytes of output not taken by the peer in time, resetting", net_conn_peer(c), left);
    close_reset(c, UV_ETIMEDOUT);
}

void net__conn_close_tick(uv_timer_t *t)
{
    net *n = t->data;
    uint64_t now = uv_now(n->loop);
    for (net_conn *c = n->closing, *next; c; c = next) {
        next = c->wr->cnext; /* close_check may unlink c, never another */
        close_check(c, now);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    net_conn *c = s->data;
    if (nread > 0) {
        c->l->n->bytes_read += (uint64_t)nread;
        if (c->state != CONN_OPEN) return; /* closing: discarded, never buffered */
        if (c->tls) net_tls_conn_input(c, (const uint8_t *)b->base, (size_t)nread);
        else net__conn_deliver(c, (uint8_t *)b->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        c->peer_eof = true;
        if (c->state == CONN_LINGER) close_handle(c, 0); /* both sides done */
        else net__conn_begin_close(c);                   /* half-close: still deliver what it asked for */
    } else if (nread < 0) {
        log_debug("read from %s: %s", net_conn_peer(c), uv_strerror((int)nread));
        close_handle(c, (int)nread);
    }
}

void net__conn_deliver(net_conn *c, uint8_t *data, size_t len)
{
    if (c->l->ws) net_ws_conn_input(c, data, len);
    else c->l->cbs->on_read(conn_user(c), data, len);
}

void net__conn_accepted(net_listener *l, net_conn *c, uv_os_sock_t fd)
{
    int r = uv_tcp_open(&c->tcp, fd);
    if (r != 0) { /* the handle did not take the socket */
        log_warn("accept on port %u: %s", l->port, uv_strerror(r));
        close(fd);
        close_handle(c, r);
        return;
    }
    /* MQTT is request/response with small packets: Nagle would add up to
     * 40 ms (delayed-ACK interaction) to every acknowledgement. */
    uv_tcp_nodelay(&c->tcp, 1);
    if (l->tls && net_tls_conn_start(c, l->tls, NULL) != 0) {
        log_warn("TLS on port %u: cannot create the connection state for %s", l->port, net_conn_peer(c));
        close_handle(c, UV_ENOMEM);
        return;
    }
    if (l->ws) net_ws_conn_start(c);
    if (!l->on_accept(l->ctx, c, conn_user(c))) {
        close_handle(c, 0);
        return;
    }
    c->accepted = true;
    /* Also when on_accept already began the close: input is then discarded. */
    if (c->state != CONN_CLOSED) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* --- outbound connections ---------------------------------------------------- */

/* The connect request and what the TLS start needs once it completes. */
typedef struct conn_connect {
    uv_connect_t req;
    char name[256]; /* verify_name; "" = none */
} conn_connect;

static void on_connect(uv_connect_t *req, int status)
{
    conn_connect *cc = (conn_connect *)req;
    net_conn *c = req->handle->data;
    char name[sizeof cc->name];
    memcpy(name, cc->name, sizeof name);
    free(cc);
    if (c->state == CONN_CLOSED) return; /* closed while connecting (UV_ECANCELED) */
    c->connecting = false;
    if (status < 0) {
        log_debug("connect to %s: %s", net_conn_peer(c), uv_strerror(status));
        close_handle(c, status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (!c->paused) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (c->l->tls) {
        if (net_tls_conn_start(c, c->l->tls, name[0] ? name : NULL) != 0) {
            log_warn("TLS to %s: cannot create the connection state", net_conn_peer(c));
            close_handle(c, UV_ENOMEM);
        }
        return; /* on_open once the handshake is done (tls_conn.c) */
    }
    if (c->l->cbs->on_open) c->l->cbs->on_open(conn_user(c));
    if (c->state == CONN_OPEN && c->out.len) net_mark_dirty(c->l->n, c);
}

int net__conn_connect(net_conn *c, const struct sockaddr *sa, const char *verify_name)
{
    conn_connect *cc = xcalloc(1, sizeof *cc);
    if (verify_name) snprintf(cc->name, sizeof cc->name, "%s", verify_name);
    c->connecting = true;
    int r = uv_tcp_connect(&cc->req, &c->tcp, sa, on_connect);
    if (r != 0) {
        free(cc);
        c->connecting = false;
        close_handle(c, r); /* on_close comes from the loop, as for any failure */
    }
    return r;
}

bool net_conn_cert_refused(const net_conn *c) { return c->cert_refused; }

size_t net_conn_backlog(const net_conn *c) { return unsent(c) + (c->wr ? c->wr->inflight.len - c->wr->off : 0); }

bool net_conn_over_backlog(const net_conn *c) { return c->above_high; }

static void maybe_drain(net_conn *c)
{
    if (!c->above_high || c->state != CONN_OPEN) return;
    if (net_conn_backlog(c) > c->l->n->low) return;
    c->above_high = false;
    if (c->l->cbs->on_drain) c->l->cbs->on_drain(conn_user(c));
}

static void on_write(uv_write_t *req, int status);

/* Write the wire buffer (c->out, or the ciphertext after encryption):
 * synchronously as far as the socket takes it, the rest through uv_write.
 * The unsent tail is not copied: the buffers swap, so `inflight` (stable
 * until on_write) holds it and the wire buffer accumulates anew. */
static int start_write(net_conn *c)
{
    if (c->l->ws) net_ws_conn_frame(c);
    if (c->tls) net_tls_conn_encrypt(c);
    buf *w = wire(c);
    if (w->len == 0) return 0;
    c->l->n->bytes_written += w->len; /* handed to the socket, now or by uv_write */
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == UV_EAGAIN) r = 0;
    if (r < 0) return r;
    if ((size_t)r == w->len) {
        w->len = 0;
        return 0;
    }
    if (!c->wr) c->wr = xcalloc(1, sizeof *c->wr);
    conn_write *wr = c->wr;
    buf spare = wr->inflight;
    wr->inflight = *w;
    wr->off = (size_t)r;
    *w = spare;
    w->len = 0;
    wr->req.data = c;
    b = uv_buf_init((char *)wr->inflight.data + r, (unsigned)(wr->inflight.len - (size_t)r));
    r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) return r;
    c->writing = true;
    return 0;
}

/* After progress on output: release the output memory once everything is
 * written, continue a pending close, or report the drain. */
/* Release a written output buffer into the net's pool (net_internal.h). */
static void out_release(net *n, buf *b)
{
    if (b->cap && b->cap <= NET_OUT_POOL_CAP && n->n_out_pool < NET_OUT_POOL) {
        b->len = 0;
        n->out_pool[n->n_out_pool++] = *b;
        *b = (buf){0};
        return;
    }
    buf_free(b);
}

static void after_progress(net_conn *c)
{
    if (!c->writing && unsent(c) == 0) {
        out_release(c->l->n, &c->out);
        if (c->tls) buf_free(net_tls_conn_wire(c));
        if (c->state == CONN_OPEN) free_write_state(c);
        else if (c->wr) buf_free(&c->wr->inflight); /* the close state stays */
        if (c->state == CONN_CLOSING) {
            begin_shutdown(c);
            return;
        }
    }
    maybe_drain(c);
}

static void on_write(uv_write_t *req, int status)
{
    net_conn *c = req->data;
    c->writing = false;
    c->wr->inflight.len = 0;
    c->wr->off = 0;
    if (c->state == CONN_CLOSED) return;
    if (status < 0) {
        log_debug("write to %s: %s", net_conn_peer(c), uv_strerror(status));
        close_handle(c, status);
        return;
    }
    if (unsent(c)) {
        int r = start_write(c);
        if (r < 0) {
            close_handle(c, r);
            return;
        }
    }
    after_progress(c);
}

void net__conn_flush(net_conn *c)
{
    if (c->state == CONN_CLOSED || c->connecting) return; /* on_connect flushes */
    if (!c->writing && unsent(c)) {
        int r = start_write(c);
        if (r < 0) {
            log_debug("write to %s: %s", net_conn_peer(c), uv_strerror(r));
            close_handle(c, r);
            return;
        }
    }
    after_progress(c);
}

/* The FIN is out: wait for the peer's (lingering close), unless it came
 * already or the shutdown failed. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    net_conn *c = req->data;
    free(req);
    if (c->state != CONN_CLOSING) return; /* cancelled by close_handle */
    if (status < 0 || c->peer_eof) {
        close_handle(c, 0);
        return;
    }
    c->state = CONN_LINGER;
    uint64_t until = uv_now(c->l->n->loop) + NET_LINGER_MS;
    c->wr->linger_until = until < c->wr->close_by ? until : c->wr->close_by;
}

/* Send FIN after the last byte, then close: closing straight away could
 * turn into an RST that discards the final packets (e.g. a DISCONNECT). */
static void begin_shutdown(net_conn *c)
{
    uv_shutdown_t *req = xmalloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        close_handle(c, 0);
    }
}

void net__conn_force_close(net_conn *c)
{
    if (c->state == CONN_CLOSED) return;
    if (c->l->ws) {
        net_ws_conn_close(c, WS_CLOSE_GOING_AWAY);
        net_ws_conn_frame(c);
    }
    if (c->tls) net_tls_conn_encrypt(c);
    buf *w = wire(c);
    if (!c->writing && w->len && !c->connecting) {
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    close_handle(c, 0);
}

buf *net_conn_outbuf(net_conn *c)
{
    if (c->state == CONN_OPEN) {
        net *n = c->l->n;
        if (!c->out.cap && n->n_out_pool) c->out = n->out_pool[--n->n_out_pool];
        return &c->out;
    }
    /* Closing: whatever an encoder appends here is dropped. */
    c->l->n->discard.len = 0;
    return &c->l->n->discard;
}

void net_conn_flush_later(net_conn *c)
{
    if (c->state != CONN_OPEN) return;
    if (net_conn_backlog(c) >= c->l->n->high) c->above_high = true;
    if (c->out.len) net_mark_dirty(c->l->n, c);
}

void net_conn_write(net_conn *c, const void *data, size_t len)
{
    if (c->state != CONN_OPEN) return;
    buf_append(net_conn_outbuf(c), data, len);
    net_conn_flush_later(c);
}

void net_conn_pause_read(net_conn *c)
{
    if (c->state != CONN_OPEN || c->paused) return;
    c->paused = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void net_conn_resume_read(net_conn *c)
{
    if (c->state != CONN_OPEN || !c->paused) return;
    c->paused = false;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void net_conn_close(net_conn *c) { net__conn_begin_close(c); }

void net_conn_established(net_conn *c) { net__peer_release(c); }

unsigned net_conn_listener_index(const net_conn *c) { return c->l->index; }

const struct x509_st *net_conn_peer_cert(const net_conn *c) { return c->tls ? net_tls_conn_peer_cert(c) : NULL; }
