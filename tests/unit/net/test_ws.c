/* The WebSocket codec (src/net/ws_codec.h): the opening handshake and the
 * frame decoder, with RFC 6455's own examples (§1.3 key, §5.7 frames). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_codec.h"
#include "util/base64.h"

/* --- the handshake ------------------------------------------------------------- */

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
/* RFC 6455 §1.3's accept value for that key (also what any SHA-1 gives:
 * base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))). */
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void test_accept_key_rfc(void **state)
{
    (void)state;
    char out[WS_ACCEPT_SIZE];
    ws_accept_key(RFC_KEY, strlen(RFC_KEY), out);
    assert_string_equal(out, RFC_ACCEPT);
}

static void test_base64_encode(void **state)
{
    (void)state;
    char out[BASE64_ENCODED_SIZE(6)];
    assert_int_equal(base64_encode((const uint8_t *)"foobar", 6, out), 8);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(base64_encode((const uint8_t *)"fooba", 5, out), 8);
    assert_string_equal(out, "Zm9vYmE=");
    assert_int_equal(base64_encode((const uint8_t *)"foob", 4, out), 8);
    assert_string_equal(out, "Zm9vYg==");
    assert_int_equal(base64_encode((const uint8_t *)"", 0, out), 0);
    assert_string_equal(out, "");
}

/* The request of RFC 6455 §1.3 with `extra` headers spliced in before the
 * blank line; target, version and protocol header replaceable. */
static size_t request(char *out, size_t size, const char *line, const char *protocol, const char *extra)
{
    int n = snprintf(out, size,
                     "%s\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                     "Sec-WebSocket-Key: " RFC_KEY "\r\nOrigin: http://example.com\r\n%s"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     line, protocol, extra);
    assert_true(n > 0 && (size_t)n < size);
    return (size_t)n;
}

static ws_hs_status parse(const char *req, size_t len, ws_handshake *hs)
{
    return ws_handshake_parse((const uint8_t *)req, len, "/mqtt", hs);
}

static void test_handshake_ok(void **state)
{
    (void)state;
    char req[1024];
    size_t n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "Sec-WebSocket-Protocol: chat, mqtt\r\n", "");
    ws_handshake hs;
    assert_int_equal(parse(req, n, &hs), WS_HS_OK);
    assert_int_equal(hs.used, n);
    assert_string_equal(hs.accept, RFC_ACCEPT);
    assert_string_equal(hs.protocol, "mqtt");
    buf out = {0};
    ws_handshake_answer(&hs, &out);
    buf_append_u8(&out, 0);
    assert_non_null(strstr((char *)out.data, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_non_null(strstr((char *)out.data, "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
    assert_non_null(strstr((char *)out.data, "\r\nSec-WebSocket-Protocol: mqtt\r\n"));
    assert_non_null(strstr((char *)out.data, "\r\n\r\n"));
    buf_free(&out);
}

static void test_handshake_incremental_and_trailing(void **state)
{
    (void)state;
    char req[1100];
    size_t n = request(req, sizeof req, "GET /mqtt?client=1 HTTP/1.1", "", "");
    memcpy(req + n, "\x82\x80", 2); /* a frame right behind the head */
    ws_handshake hs;
    for (size_t i = 0; i < n; i++) assert_int_equal(parse(req, i, &hs), WS_HS_NEED_MORE);
    assert_int_equal(parse(req, n + 2, &hs), WS_HS_OK);
    assert_int_equal(hs.used, n);
    assert_null(hs.protocol); /* none offered: served as MQTT without naming one */
    buf out = {0};
    ws_handshake_answer(&hs, &out);
    buf_append_u8(&out, 0);
    assert_null(strstr((char *)out.data, "Sec-WebSocket-Protocol"));
    buf_free(&out);
}

static void expect_refusal(const char *req, size_t n, int status)
{
    ws_handshake hs;
    assert_int_equal(parse(req, n, &hs), WS_HS_REFUSE);
    assert_int_equal(hs.status, status);
    assert_non_null(hs.reason);
    buf out = {0};
    ws_handshake_answer(&hs, &out);
    char line[64];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    assert_memory_equal(out.data, line, strlen(line));
    buf_free(&out);
}

static void test_handshake_refusals(void **state)
{
    (void)state;
    char req[1024];
    size_t n;
    n = request(req, sizeof req, "GET /other HTTP/1.1", "", "");
    expect_refusal(req, n, 404);
    n = request(req, sizeof req, "GET /mqttx HTTP/1.1", "", "");
    expect_refusal(req, n, 404);
    n = request(req, sizeof req, "POST /mqtt HTTP/1.1", "", "");
    expect_refusal(req, n, 405);
    n = request(req, sizeof req, "GET /mqtt HTTP/1.0", "", "");
    expect_refusal(req, n, 505);
    n = request(req, sizeof req, "GET /mqtt", "", "");
    expect_refusal(req, n, 400);
    n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "Sec-WebSocket-Protocol: chat, superchat\r\n", "");
    expect_refusal(req, n, 400);
    n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "Sec-WebSocket-Protocol: MQTT\r\n", "");
    expect_refusal(req, n, 400); /* subprotocol tokens are case-sensitive */
    n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "", "Sec-WebSocket-Key: " RFC_KEY "\r\n");
    expect_refusal(req, n, 400); /* two keys */
    n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "", " folded\r\n");
    expect_refusal(req, n, 400);
    n = request(req, sizeof req, "GET /mqtt HTTP/1.1", "", "Bad Name: x\r\n");
    expect_refusal(req, n, 400);

    const char *no_upgrade = "GET /mqtt HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                             "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_refusal(no_upgrade, strlen(no_upgrade), 426);
    const char *v8 = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n"
                     "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n";
    expect_refusal(v8, strlen(v8), 426);
    const char *short_key = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_refusal(short_key, strlen(short_key), 400);
    const char *no_host = "GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_refusal(no_host, strlen(no_host), 400);
    const char *no_conn = "GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                          "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect_refusal(no_conn, strlen(no_conn), 400);
    const char *bare_lf = "GET /mqtt HTTP/1.1\r\nHost: h\nX: y\r\n\r\n";
    expect_refusal(bare_lf, strlen(bare_lf), 400);
    char nul[] = "GET /mqtt HTTP/1.1\r\nHost: h\0\r\n\r\n";
    expect_refusal(nul, sizeof nul - 1, 400);
}

static void test_handshake_too_large(void **state)
{
    (void)state;
    size_t n = WS_MAX_REQUEST_HEAD + 100;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "GET /mqtt HTTP/1.1\r\nX: ", 23);
    ws_handshake hs;
    assert_int_equal(parse(big, WS_MAX_REQUEST_HEAD - 1, &hs), WS_HS_NEED_MORE);
    expect_refusal(big, WS_MAX_REQUEST_HEAD, 431);
    /* A blank line beyond the limit does not help. */
    memcpy(big + WS_MAX_REQUEST_HEAD + 10, "\r\n\r\n", 4);
    expect_refusal(big, n, 431);
    free(big);
}

/* --- frames ------------------------------------------------------------------------ */

static const uint8_t rfc_mask[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A client frame: b0 (FIN, opcode) and the payload masked with mask (NULL:
 * unmasked), the length in its shortest form. */
static void frame(buf *b, uint8_t b0, const void *payload, size_t n, const uint8_t *mask)
{
    uint8_t h[10];
    size_t hl = ws_frame_header(h, 0, n);
    h[0] = b0;
    if (mask) h[1] |= 0x80;
    buf_append(b, h, hl);
    if (mask) buf_append(b, mask, 4);
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++) buf_append_u8(b, mask ? (uint8_t)(p[i] ^ mask[i & 3]) : p[i]);
}

/* Decode all of in, collecting data into got; returns the last status
 * that was not NEED_MORE or DATA (NEED_MORE if none) and its event. */
static ws_status decode_all(ws_decoder *d, uint8_t *in, size_t len, buf *got, ws_event *last, size_t step)
{
    size_t off = 0;
    while (off < len) {
        size_t chunk = step && len - off > step ? step : len - off;
        size_t end = off + chunk;
        while (off < end) {
            size_t used;
            ws_event ev;
            ws_status s = ws_decode(d, in + off, end - off, &used, &ev);
            assert_true(used <= end - off);
            off += used;
            if (s == WS_DATA) buf_append(got, ev.data, ev.len);
            else if (s != WS_NEED_MORE) {
                *last = ev;
                return s;
            } else assert_int_equal(off, end);
        }
    }
    return WS_NEED_MORE;
}

static void test_rfc_masked_hello(void **state)
{
    (void)state;
    /* §5.7: a single-frame masked text message "Hello". */
    uint8_t text[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_decoder d = {0};
    buf got = {0};
    ws_event ev;
    assert_int_equal(decode_all(&d, text, sizeof text, &got, &ev, 0), WS_ERROR);
    assert_int_equal(ev.code, WS_CLOSE_UNSUPPORTED);
    /* The same bytes as a binary frame carry "Hello". */
    uint8_t bin[sizeof text];
    memcpy(bin, text, sizeof text);
    bin[0] = 0x82;
    memset(&d, 0, sizeof d);
    assert_int_equal(decode_all(&d, bin, sizeof bin, &got, &ev, 0), WS_NEED_MORE);
    assert_int_equal(got.len, 5);
    assert_memory_equal(got.data, "Hello", 5);
    buf_free(&got);
}

static void test_rfc_unmasked_refused(void **state)
{
    (void)state;
    /* §5.7's unmasked frames are server frames: from a client, 1002. */
    uint8_t hello[] = {0x82, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    ws_decoder d = {0};
    buf got = {0};
    ws_event ev;
    assert_int_equal(decode_all(&d, hello, sizeof hello, &got, &ev, 0), WS_ERROR);
    assert_int_equal(ev.code, WS_CLOSE_PROTOCOL);
    assert_int_equal(got.len, 0);
}

static void test_fragments_and_ping_between(void **state)
{
    (void)state;
    buf in = {0}, got = {0};
    frame(&in, 0x02, "Hel", 3, rfc_mask);                      /* binary, not final */
    frame(&in, 0x89, "Hello", 5, (const uint8_t *)"\1\2\3\4"); /* ping between fragments */
    frame(&in, 0x80, "lo", 2, rfc_mask);                       /* final continuation */
    frame(&in, 0x82, "", 0, rfc_mask);                         /* an empty frame */
    frame(&in, 0x82, "!", 1, rfc_mask);
    for (size_t step = 1; step <= in.len; step++) {
        buf copy = {0};
        buf_append(&copy, in.data, in.len);
        ws_decoder d = {0};
        got.len = 0;
        size_t off = 0;
        int pings = 0;
        while (off < copy.len) {
            size_t end = off + step < copy.len ? off + step : copy.len;
            while (off < end) {
                size_t used;
                ws_event ev;
                ws_status s = ws_decode(&d, copy.data + off, end - off, &used, &ev);
                off += used;
                if (s == WS_DATA) buf_append(&got, ev.data, ev.len);
                if (s == WS_PING) {
                    pings++;
                    assert_int_equal(ev.len, 5);
                    assert_memory_equal(ev.data, "Hello", 5);
                }
                assert_true(s == WS_DATA || s == WS_PING || s == WS_NEED_MORE);
            }
        }
        assert_int_equal(pings, 1);
        assert_int_equal(got.len, 6);
        assert_memory_equal(got.data, "Hello!", 6);
        buf_free(&copy);
    }
    buf_free(&in);
    buf_free(&got);
}

static void test_lengths(void **state)
{
    (void)state;
    size_t sizes[] = {125, 126, 256, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *p = malloc(n);
        for (size_t j = 0; j < n; j++) p[j] = (uint8_t)(j * 7);
        buf in = {0}, got = {0};
        frame(&in, 0x82, p, n, rfc_mask);
        assert_int_equal(in.len, n + 4 + (n < 126 ? 2 : n <= 0xffff ? 4 : 10));
        ws_decoder d = {.max_message = 70000};
        ws_event ev;
        assert_int_equal(decode_all(&d, in.data, in.len, &got, &ev, 1000), WS_NEED_MORE);
        assert_int_equal(got.len, n);
        assert_memory_equal(got.data, p, n);
        buf_free(&in);
        buf_free(&got);
        free(p);
    }
}

static ws_status decode_bytes(const uint8_t *bytes, size_t n, uint64_t max, ws_event *ev)
{
    uint8_t copy[64];
    assert_true(n <= sizeof copy);
    memcpy(copy, bytes, n);
    ws_decoder d = {.max_message = max};
    buf got = {0};
    ws_status s = decode_all(&d, copy, n, &got, ev, 0);
    buf_free(&got);
    return s;
}

static void expect_error(const uint8_t *bytes, size_t n, uint64_t max, uint16_t code)
{
    ws_event ev;
    assert_int_equal(decode_bytes(bytes, n, max, &ev), WS_ERROR);
    assert_int_equal(ev.code, code);
    assert_non_null(ev.why);
}

static void test_frame_errors(void **state)
{
    (void)state;
    /* Huge 64-bit lengths: refused from the header, before any payload. */
    const uint8_t top_bit[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    expect_error(top_bit, sizeof top_bit, 0, WS_CLOSE_PROTOCOL);
    const uint8_t huge[] = {0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    expect_error(huge, sizeof huge, 1 << 20, WS_CLOSE_TOO_BIG);
    const uint8_t nonmin16[] = {0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4};
    expect_error(nonmin16, sizeof nonmin16, 0, WS_CLOSE_PROTOCOL);
    const uint8_t nonmin64[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    expect_error(nonmin64, sizeof nonmin64, 0, WS_CLOSE_PROTOCOL);
    const uint8_t rsv[] = {0xc2, 0x80, 1, 2, 3, 4};
    expect_error(rsv, sizeof rsv, 0, WS_CLOSE_PROTOCOL);
    const uint8_t opcode3[] = {0x83, 0x80, 1, 2, 3, 4};
    expect_error(opcode3, sizeof opcode3, 0, WS_CLOSE_PROTOCOL);
    const uint8_t long_ping[] = {0x89, 0xfe, 0x00, 0x7e};
    expect_error(long_ping, sizeof long_ping, 0, WS_CLOSE_PROTOCOL);
    const uint8_t frag_ping[] = {0x09, 0x80, 1, 2, 3, 4};
    expect_error(frag_ping, sizeof frag_ping, 0, WS_CLOSE_PROTOCOL);
    const uint8_t lone_cont[] = {0x80, 0x80, 1, 2, 3, 4};
    expect_error(lone_cont, sizeof lone_cont, 0, WS_CLOSE_PROTOCOL);
    const uint8_t two_starts[] = {0x02, 0x80, 1, 2, 3, 4, 0x82, 0x80, 1, 2, 3, 4};
    expect_error(two_starts, sizeof two_starts, 0, WS_CLOSE_PROTOCOL);
    /* The message bound covers all fragments. */
    buf in = {0};
    frame(&in, 0x02, "0123456789", 10, rfc_mask);
    frame(&in, 0x80, "0123456789", 10, rfc_mask);
    expect_error(in.data, in.len, 15, WS_CLOSE_TOO_BIG);
    ws_event ev;
    assert_int_equal(decode_bytes(in.data, in.len, 20, &ev), WS_NEED_MORE);
    buf_free(&in);
}

static void test_close_frames(void **state)
{
    (void)state;
    ws_event ev;
    buf in = {0};
    frame(&in, 0x88,
          "\x03\xe8"
          "bye",
          5, rfc_mask);
    assert_int_equal(decode_bytes(in.data, in.len, 0, &ev), WS_CLOSE);
    assert_int_equal(ev.code, 1000);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.data, "bye", 3);
    in.len = 0;
    frame(&in, 0x88, "", 0, rfc_mask);
    assert_int_equal(decode_bytes(in.data, in.len, 0, &ev), WS_CLOSE);
    assert_int_equal(ev.code, WS_CLOSE_NO_STATUS);
    in.len = 0;
    frame(&in, 0x88, "\x03", 1, rfc_mask);
    expect_error(in.data, in.len, 0, WS_CLOSE_PROTOCOL);
    in.len = 0;
    frame(&in, 0x88, "\x03\xed", 2, rfc_mask); /* 1005 may not be sent */
    expect_error(in.data, in.len, 0, WS_CLOSE_PROTOCOL);
    in.len = 0;
    frame(&in, 0x88, "\x0f\xa0", 2, rfc_mask); /* 4000: private use, fine */
    assert_int_equal(decode_bytes(in.data, in.len, 0, &ev), WS_CLOSE);
    assert_int_equal(ev.code, 4000);
    in.len = 0;
    frame(&in, 0x8a, "x", 1, rfc_mask);
    assert_int_equal(decode_bytes(in.data, in.len, 0, &ev), WS_PONG);
    buf_free(&in);
}

static void test_server_frames(void **state)
{
    (void)state;
    uint8_t h[10];
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 5), 2);
    assert_memory_equal(h, "\x82\x05", 2);
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 256), 4);
    assert_memory_equal(h, "\x82\x7e\x01\x00", 4); /* §5.7: 256 bytes */
    assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 65536), 10);
    assert_memory_equal(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10); /* §5.7: 64 KiB */
    buf b = {0};
    ws_append_control(&b, WS_OP_PONG, (const uint8_t *)"Hello", 5);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "\x8a\x05Hello", 7); /* §5.7: the unmasked pong */
    b.len = 0;
    ws_append_close(&b, WS_CLOSE_PROTOCOL);
    assert_memory_equal(b.data, "\x88\x02\x03\xea", 4);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc),
        cmocka_unit_test(test_base64_encode),
        cmocka_unit_test(test_handshake_ok),
        cmocka_unit_test(test_handshake_incremental_and_trailing),
        cmocka_unit_test(test_handshake_refusals),
        cmocka_unit_test(test_handshake_too_large),
        cmocka_unit_test(test_rfc_masked_hello),
        cmocka_unit_test(test_rfc_unmasked_refused),
        cmocka_unit_test(test_fragments_and_ping_between),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_server_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
