/* Connection I/O: reads into the loop-wide buffer, batched writes, and
 * the close sequence (flush -> shutdown -> uv_close -> on_close).
 *
 * For a TLS connection the socket side carries the ciphertext buffer
 * (tls_conn_wire) and reads go through tls_conn_input; c->out stays the
 * plaintext the user appends to, encrypted right before each write.
 *
 * Memory: an idle connection owns no output memory at all. c->out is freed
 * once written, and the write state (conn_write) exists only while a write
 * is pending or output keeps coming; under steady load both stay allocated
 * and are reused, so the hot path does not churn malloc. */
#include "net/net_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/alloc.h"
#include "util/log.h"

static void close_handle(net_conn *c, int error);
static void begin_shutdown(net_conn *c);

/* The buffer whose bytes go to the socket next. */
static buf *wire(net_conn *c) { return c->tls ? tls_conn_wire(c) : &c->out; }
/* Output not yet handed to a write (plaintext and ciphertext). */
static size_t unsent(const net_conn *c) { return c->out.len + (c->tls ? tls_conn_wire(c)->len : 0); }

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
    tls_conn_free(c);
    if (c->accepted && c->l->cbs->on_close) c->l->cbs->on_close(conn_user(c), c->close_error);
    buf_free(&c->out);
    free_write_state(c); /* a pending write completed (cancelled) before this */
    free(c);             /* and the user area with it (net.h) */
}

/* The one place a connection's handle is closed. Pending write and
 * shutdown requests complete with UV_ECANCELED before on_closed runs. */
static void close_handle(net_conn *c, int error)
{
    if (c->state == CONN_CLOSED) return;
    c->state = CONN_CLOSED;
    c->close_error = error;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void conn_begin_close(net_conn *c)
{
    if (c->state != CONN_OPEN) return;
    c->state = CONN_CLOSING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (c->tls) tls_conn_close_notify(c);
    if (c->writing || unsent(c)) net_mark_dirty(c->l->n, c);
    else begin_shutdown(c);
}

void conn_abort(net_conn *c, int error) { close_handle(c, error); }

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    net_conn *c = s->data;
    if (nread > 0) {
        if (c->state != CONN_OPEN) return;
        if (c->tls) tls_conn_input(c, (const uint8_t *)b->base, (size_t)nread);
        else c->l->cbs->on_read(conn_user(c), (const uint8_t *)b->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        /* Half-close from the peer: still deliver what it asked for. */
        conn_begin_close(c);
    } else if (nread < 0) {
        log_debug("read from %s: %s", net_conn_peer(c), uv_strerror((int)nread));
        close_handle(c, (int)nread);
    }
}

void conn_accepted(net_listener *l, net_conn *c)
{
    int r = uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&c->tcp);
    if (r != 0) {
        log_warn("accept on port %u: %s", l->port, uv_strerror(r));
        close_handle(c, r);
        return;
    }
    /* MQTT is request/response with small packets: Nagle would add up to
     * 40 ms (delayed-ACK interaction) to every acknowledgement. */
    uv_tcp_nodelay(&c->tcp, 1);
    peer_store(c);
    if (l->tls && tls_conn_start(c, l->tls) != 0) {
        log_warn("TLS on port %u: cannot create the connection state for %s", l->port, net_conn_peer(c));
        close_handle(c, UV_ENOMEM);
        return;
    }
    if (!l->on_accept(l->ctx, c, conn_user(c))) {
        close_handle(c, 0);
        return;
    }
    c->accepted = true;
    if (c->state == CONN_OPEN) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

size_t net_conn_backlog(const net_conn *c)
{
    return unsent(c) + (c->wr ? c->wr->inflight.len - c->wr->off : 0);
}

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
    if (c->tls) tls_conn_encrypt(c);
    buf *w = wire(c);
    if (w->len == 0) return 0;
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
static void after_progress(net_conn *c)
{
    if (!c->writing && unsent(c) == 0) {
        buf_free(&c->out);
        if (c->tls) buf_free(tls_conn_wire(c));
        free_write_state(c);
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

void conn_flush(net_conn *c)
{
    if (c->state == CONN_CLOSED) return;
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

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status; /* closing either way; a failed FIN changes nothing */
    net_conn *c = req->data;
    free(req);
    close_handle(c, 0);
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

void conn_force_close(net_conn *c)
{
    if (c->state == CONN_CLOSED) return;
    if (c->tls) tls_conn_encrypt(c);
    buf *w = wire(c);
    if (!c->writing && w->len) {
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    close_handle(c, 0);
}

buf *net_conn_outbuf(net_conn *c)
{
    if (c->state == CONN_OPEN) return &c->out;
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
    buf_append(&c->out, data, len);
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

void net_conn_close(net_conn *c) { conn_begin_close(c); }

unsigned net_conn_listener_index(const net_conn *c) { return c->l->index; }

const struct x509_st *net_conn_peer_cert(const net_conn *c) { return c->tls ? tls_conn_peer_cert(c) : NULL; }
