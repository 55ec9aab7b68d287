/* MQTT over WebSockets: the transform between the socket side (TCP, or
 * the plaintext of TLS) and the user of a net_conn, so that the user sees
 * the same byte stream as on a plain listener.
 *
 *   input:  socket / SSL_read -> handshake, then ws_decode -> binary payload -> on_read
 *   output: c->out (user bytes) -> one binary frame per flush (net_ws_conn_frame) -> TLS / socket
 *
 * The state lives after the user area in the connection's own allocation
 * (net.c accept_conn), so plain listeners' connections pay nothing for it.
 *
 * Output framing happens in place in c->out right before it is handed on
 * (conn.c start_write): everything the user appended since the last flush
 * becomes one frame, so batched writes stay one write. Bytes that are
 * already in wire form (the 101 answer, a close frame) sit at the front
 * of c->out, `raw` bytes long; every caller of net_ws_conn_frame hands all
 * of c->out on right after, so raw is 0 after framing.
 *
 * A ping is answered with one pong at the next flush, carrying the latest
 * ping's payload (RFC 6455 §5.5.3 allows answering only the most recent
 * one), so a ping flood costs neither memory nor more than one frame per
 * loop iteration. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"
#include "net/ws_codec.h"
#include "util/alloc.h"
#include "util/log.h"

enum ws_state {
    WS_HANDSHAKE, /* reading the request head */
    WS_OPEN,      /* upgraded: frames both ways */
    WS_CLOSED,    /* our close frame (or the refusal) is queued: input and further output dropped */
};

struct ws_conn {
    ws_decoder dec;
    buf head;   /* the request head while it arrives in pieces (bounded: ws_conn_input) */
    size_t raw; /* c->out[0..raw) is already in wire form */
    uint8_t state;
    bool pong_due;
    uint8_t pong_len;
    uint8_t pong[WS_MAX_CONTROL];
};

size_t net_ws_conn_size(void) { return sizeof(ws_conn); }

static ws_conn *ws_of(net_conn *c)
{
    assert(c->l->ws);
    return (ws_conn *)((char *)c + NET_CONN_USER_OFFSET + conn_user_span(c->l));
}

void net_ws_conn_start(net_conn *c)
{
    ws_conn *w = ws_of(c);
    w->state = WS_HANDSHAKE;
    w->dec.max_message = c->l->ws->max_message;
}

size_t net_ws_conn_pending(net_conn *c)
{
    ws_conn *w = ws_of(c);
    return w->pong_due ? 2u + w->pong_len : 0;
}

void net_ws_conn_frame(net_conn *c)
{
    ws_conn *w = ws_of(c);
    buf *out = &c->out;
    if (w->state == WS_HANDSHAKE) {
        out->len = 0; /* nothing may reach the peer before the upgrade (and the user has nothing to say yet) */
        return;
    }
    if (w->state != WS_OPEN) return; /* everything in c->out is in wire form already */
    /* A failed TLS write empties c->out without framing (tls_conn.c fail). */
    if (w->raw > out->len) w->raw = out->len;
    size_t n = out->len - w->raw;
    if (n) {
        uint8_t h[10];
        size_t hl = ws_frame_header(h, WS_OP_BINARY, n);
        buf_reserve(out, hl);
        uint8_t *payload = out->data + w->raw;
        memmove(payload + hl, payload, n);
        memcpy(payload, h, hl);
        out->len += hl;
    }
    if (w->pong_due) {
        ws_append_control(out, WS_OP_PONG, w->pong, w->pong_len);
        w->pong_due = false;
    }
    w->raw = 0;
}

/* Queue our close frame after what the user wrote, once. */
static void send_close(net_conn *c, ws_conn *w, uint16_t code)
{
    if (w->state != WS_OPEN) return;
    net_ws_conn_frame(c);
    ws_append_close(&c->out, code);
    w->raw = c->out.len;
    w->state = WS_CLOSED;
}

void net_ws_conn_close(net_conn *c, uint16_t code)
{
    ws_conn *w = ws_of(c);
    if (w->state == WS_HANDSHAKE) {
        w->state = WS_CLOSED;
        c->out.len = 0;
        return;
    }
    send_close(c, w, code);
}

/* The peer violated the protocol or closed: answer with a close frame
 * and end the connection. */
static void end(net_conn *c, ws_conn *w, uint16_t code)
{
    send_close(c, w, code);
    net_mark_dirty(c->l->n, c);
    net__conn_begin_close(c);
}

static void frames_input(net_conn *c, ws_conn *w, uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && c->state == CONN_OPEN && w->state == WS_OPEN) {
        size_t used;
        ws_event ev;
        ws_status s = ws_decode(&w->dec, data + off, len - off, &used, &ev);
        off += used;
        switch (s) {
        case WS_NEED_MORE: assert(off == len); break;
        case WS_DATA: c->l->cbs->on_read(conn_user(c), ev.data, ev.len); break;
        case WS_PING:
            memcpy(w->pong, ev.data, ev.len);
            w->pong_len = (uint8_t)ev.len;
            w->pong_due = true;
            net_mark_dirty(c->l->n, c);
            break;
        case WS_PONG: break;
        case WS_CLOSE:
            log_debug("WebSocket %s: the peer closed (%u)", net_conn_peer(c), ev.code);
            end(c, w, ev.code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev.code);
            return;
        case WS_ERROR:
            log_info("WebSocket %s: %s, closing (%u)", net_conn_peer(c), ev.why, ev.code);
            end(c, w, ev.code);
            return;
        }
    }
}

/* The request head is complete or refused: answer. Returns the bytes of
 * data that belong to the head, or 0 when the connection is closing. */
static size_t handshake_answer(net_conn *c, ws_conn *w, const ws_handshake *hs, ws_hs_status s)
{
    c->out.len = 0; /* the user cannot have written before its first input */
    ws_handshake_answer(hs, &c->out);
    w->raw = c->out.len;
    net_mark_dirty(c->l->n, c);
    if (s == WS_HS_OK) {
        w->state = WS_OPEN;
        log_debug("WebSocket %s: upgraded (subprotocol %s)", net_conn_peer(c), hs->protocol ? hs->protocol : "none");
        return hs->used;
    }
    log_info("WebSocket handshake from %s refused: %d %s", net_conn_peer(c), hs->status, hs->reason);
    w->state = WS_CLOSED;
    net__conn_begin_close(c);
    return 0;
}

/* The head usually arrives in one read and is parsed where it lies; in
 * pieces it is gathered in w->head, which never holds more than one read
 * beyond WS_MAX_REQUEST_HEAD (a longer head is refused with 431). A piece
 * that does not complete the head is only scanned for the blank line
 * (with the 3 bytes before it), so a client sending a byte at a time
 * costs linear work, not a parse per byte. */
static void handshake_input(net_conn *c, ws_conn *w, uint8_t *data, size_t len)
{
    uint8_t *p = data;
    size_t n = len;
    if (w->head.len) {
        size_t from = w->head.len > 3 ? w->head.len - 3 : 0;
        buf_append(&w->head, data, len);
        p = w->head.data;
        n = w->head.len;
        if (n < WS_MAX_REQUEST_HEAD && !memmem(p + from, n - from, "\r\n\r\n", 4)) return;
    }
    ws_handshake hs;
    ws_hs_status s = ws_handshake_parse(p, n, c->l->ws->path, &hs);
    if (s == WS_HS_NEED_MORE) {
        if (!w->head.len) buf_append(&w->head, data, len);
        return;
    }
    size_t used = handshake_answer(c, w, &hs, s);
    if (used && used < n) frames_input(c, w, p + used, n - used);
    buf_free(&w->head);
}

void net_ws_conn_input(net_conn *c, uint8_t *data, size_t len)
{
    ws_conn *w = ws_of(c);
    if (w->state == WS_HANDSHAKE) handshake_input(c, w, data, len);
    else if (w->state == WS_OPEN) frames_input(c, w, data, len);
    /* WS_CLOSED: dropped, as input on a closing connection is */
}

void net_ws_conn_free(net_conn *c) { buf_free(&ws_of(c)->head); }
