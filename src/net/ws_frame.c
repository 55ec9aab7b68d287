/* WebSocket frames (RFC 6455 §5): the streaming decoder of client frames
 * and the encoder of server frames.
 *
 * Invariants of ws_decoder: while !in_payload, hdr[0..hdr_len) is a
 * prefix of a header not yet complete (and ctl_len, mask_at are 0); once
 * in_payload, `left` bytes of the frame described by opcode/fin/mask are
 * still to come, and a control frame's first ctl_len payload bytes are in
 * ctl. in_message is set between the first and the final frame of a
 * fragmented data message, and `message` counts its bytes. */
#include <assert.h>
#include <string.h>

#include "net/ws_codec.h"

static bool is_control(uint8_t opcode) { return opcode & 0x8; }

/* Header bytes needed, given what has been gathered: 2, then the
 * extended length and the masking key the second byte announces. */
static size_t header_need(const ws_decoder *d)
{
    if (d->hdr_len < 2) return 2;
    uint8_t len7 = d->hdr[1] & 0x7f;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    return 2 + ext + ((d->hdr[1] & 0x80) ? 4 : 0);
}

static ws_status fail(ws_event *ev, uint16_t code, const char *why)
{
    ev->data = NULL;
    ev->len = 0;
    ev->code = code;
    ev->why = why;
    return WS_ERROR;
}

/* The first two bytes: everything that can be refused before the length
 * (so a hostile header is refused as soon as it shows). */
static ws_status check_start(const ws_decoder *d, ws_event *ev)
{
    uint8_t b0 = d->hdr[0], b1 = d->hdr[1], op = b0 & 0x0f;
    bool fin = b0 & 0x80;
    if (b0 & 0x70) return fail(ev, WS_CLOSE_PROTOCOL, "reserved bits set (no extension was negotiated)");
    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE && op != WS_OP_PING &&
        op != WS_OP_PONG)
        return fail(ev, WS_CLOSE_PROTOCOL, "reserved opcode");
    if (!(b1 & 0x80)) return fail(ev, WS_CLOSE_PROTOCOL, "unmasked client frame");
    if (is_control(op)) {
        if (!fin) return fail(ev, WS_CLOSE_PROTOCOL, "fragmented control frame");
        if ((b1 & 0x7f) > WS_MAX_CONTROL) return fail(ev, WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
        return WS_NEED_MORE;
    }
    if (op == WS_OP_TEXT) return fail(ev, WS_CLOSE_UNSUPPORTED, "text frame (MQTT travels in binary frames)");
    if (op == WS_OP_CONT && !d->in_message) return fail(ev, WS_CLOSE_PROTOCOL, "continuation frame without a message");
    if (op == WS_OP_BINARY && d->in_message)
        return fail(ev, WS_CLOSE_PROTOCOL, "new message before the fragmented one ended");
    return WS_NEED_MORE;
}

/* The whole header is in: the length (shortest form required) and the
 * message bound. */
static ws_status begin_payload(ws_decoder *d, ws_event *ev)
{
    uint8_t len7 = d->hdr[1] & 0x7f;
    uint64_t len = len7;
    size_t at = 2;
    if (len7 == 126) {
        len = (uint64_t)d->hdr[2] << 8 | d->hdr[3];
        at = 4;
        if (len < 126) return fail(ev, WS_CLOSE_PROTOCOL, "frame length not in its shortest form");
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | d->hdr[2 + i];
        at = 10;
        if (len >> 63) return fail(ev, WS_CLOSE_PROTOCOL, "frame length with the top bit set");
        if (len <= 0xffff) return fail(ev, WS_CLOSE_PROTOCOL, "frame length not in its shortest form");
    }
    memcpy(d->mask, d->hdr + at, 4);
    d->opcode = d->hdr[0] & 0x0f;
    d->fin = d->hdr[0] & 0x80;
    if (!is_control(d->opcode)) {
        if (d->max_message && (len > d->max_message || d->message > d->max_message - len))
            return fail(ev, WS_CLOSE_TOO_BIG, "message larger than the maximum packet size");
        d->message += len;
        d->in_message = !d->fin;
    }
    d->left = len;
    d->mask_at = 0;
    d->ctl_len = 0;
    d->in_payload = true;
    return WS_NEED_MORE;
}

static void unmask(ws_decoder *d, uint8_t *p, size_t n)
{
    unsigned m = d->mask_at;
    for (size_t i = 0; i < n; i++) p[i] ^= d->mask[(m + i) & 3];
    d->mask_at = (uint8_t)((m + n) & 3);
}

static void end_frame(ws_decoder *d)
{
    if (!is_control(d->opcode) && d->fin) d->message = 0;
    d->in_payload = false;
    d->hdr_len = 0;
}

/* A complete control frame's event. */
static ws_status control_event(ws_decoder *d, ws_event *ev)
{
    uint8_t op = d->opcode;
    end_frame(d);
    ev->data = d->ctl;
    ev->len = d->ctl_len;
    if (op == WS_OP_PING) return WS_PING;
    if (op == WS_OP_PONG) return WS_PONG;
    assert(op == WS_OP_CLOSE);
    if (d->ctl_len == 0) {
        ev->code = WS_CLOSE_NO_STATUS;
        return WS_CLOSE;
    }
    if (d->ctl_len == 1) return fail(ev, WS_CLOSE_PROTOCOL, "close frame with a 1-byte payload");
    uint16_t code = (uint16_t)(d->ctl[0] << 8 | d->ctl[1]);
    /* Codes a peer may send (§7.4): the defined ones but for 1004-1006
     * and 1015, the later registered 1012-1014, and 3000-4999. */
    bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    if (!valid) return fail(ev, WS_CLOSE_PROTOCOL, "invalid close code");
    ev->code = code;
    ev->data = d->ctl + 2;
    ev->len = d->ctl_len - 2u;
    return WS_CLOSE;
}

ws_status ws_decode(ws_decoder *d, uint8_t *in, size_t len, size_t *used, ws_event *ev)
{
    size_t off = 0;
    *ev = (ws_event){0};
    for (;;) {
        while (!d->in_payload) {
            if (off == len) {
                *used = off;
                return WS_NEED_MORE;
            }
            d->hdr[d->hdr_len++] = in[off++];
            ws_status s = WS_NEED_MORE;
            if (d->hdr_len == 2) s = check_start(d, ev);
            if (s == WS_NEED_MORE && d->hdr_len >= 2 && d->hdr_len == header_need(d)) s = begin_payload(d, ev);
            if (s != WS_NEED_MORE) {
                *used = off;
                return s;
            }
        }
        size_t take = d->left < len - off ? (size_t)d->left : len - off;
        if (is_control(d->opcode)) {
            memcpy(d->ctl + d->ctl_len, in + off, take);
            unmask(d, d->ctl + d->ctl_len, take);
            d->ctl_len = (uint8_t)(d->ctl_len + take);
            d->left -= take;
            off += take;
            *used = off;
            if (d->left) return WS_NEED_MORE;
            return control_event(d, ev);
        }
        if (take == 0 && d->left) {
            *used = off;
            return WS_NEED_MORE;
        }
        uint8_t *p = in + off;
        unmask(d, p, take);
        d->left -= take;
        off += take;
        if (d->left == 0) end_frame(d);
        if (take) {
            ev->data = p;
            ev->len = take;
            *used = off;
            return WS_DATA;
        }
        /* An empty data frame: nothing to report, go on. */
    }
}

size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

void ws_append_control(buf *out, uint8_t opcode, const uint8_t *payload, size_t len)
{
    assert(is_control(opcode) && len <= WS_MAX_CONTROL);
    uint8_t h[10];
    buf_append(out, h, ws_frame_header(h, opcode, len));
    buf_append(out, payload, len);
}

void ws_append_close(buf *out, uint16_t code)
{
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    ws_append_control(out, WS_OP_CLOSE, p, sizeof p);
}
