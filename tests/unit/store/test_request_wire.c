/* Forwarded requests and replies (store/request_wire.h): round trips with
 * and without every optional field, and refusal of truncated, extended and
 * damaged encodings. MQS_WIRE_SEEDS=DIR writes the encodings as fuzz seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/request_wire.h"

#define SB(s) ((store_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static void seed(const buf *b, int kind, const char *name)
{
    const char *dir = getenv("MQS_WIRE_SEEDS");
    if (!dir) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    uint8_t k = (uint8_t)kind;
    fwrite(&k, 1, 1, f);
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

static void assert_sb_eq(store_bytes a, store_bytes b)
{
    assert_int_equal(a.data == NULL, b.data == NULL);
    assert_int_equal(a.len, b.len);
    if (a.len) assert_memory_equal(a.data, b.data, a.len);
}

static store_request full_request(void)
{
    store_request r = {0};
    r.who.client_id = SB("client-1");
    r.who.username = SB("alice");
    r.payload = SB("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    r.correlation = SB("\x00\x01\x02");
    r.ts = SB("1700000000000:0:node");
    r.ft = SB("1700000000000:1:node");
    r.prot_ver = SB("1.0");
    r.expiry_s = 7;
    r.persist = true;
    return r;
}

static void round_trip(const store_request *in, const store_wire_extra *xin, const char *name)
{
    buf b = {0};
    store_wire_request_encode(in, xin, &b);
    seed(&b, 0, name);
    store_request out;
    store_wire_extra x;
    assert_true(store_wire_request_decode(b.data, b.len, &out, &x));
    assert_sb_eq(out.who.client_id, in->who.client_id);
    assert_sb_eq(out.who.username, in->who.username);
    assert_sb_eq(out.payload, in->payload);
    assert_sb_eq(out.correlation, in->correlation);
    assert_sb_eq(out.ts, in->ts);
    assert_sb_eq(out.ft, in->ft);
    assert_sb_eq(out.prot_ver, in->prot_ver);
    assert_sb_eq(x.principal, xin->principal);
    assert_int_equal(out.expiry_s, in->expiry_s);
    assert_int_equal(out.persist, in->persist);
    assert_int_equal(x.dup, xin->dup);
    assert_false(out.parsed);
    /* Every cut and every extension is refused. */
    for (size_t cut = 0; cut < b.len; cut++) assert_false(store_wire_request_decode(b.data, cut, &out, &x));
    buf_append_u8(&b, 0);
    assert_false(store_wire_request_decode(b.data, b.len, &out, &x));
    buf_free(&b);
}

static void request_full(void **state)
{
    (void)state;
    store_request r = full_request();
    store_wire_extra x = {.dup = true, .principal = SB("\x01principal-bytes")};
    round_trip(&r, &x, "request_full");
}

static void request_minimal(void **state)
{
    (void)state;
    store_request r = {0};
    r.who.client_id = SB("");
    r.payload = SB("");
    r.correlation = SB("c");
    store_wire_extra x = {0};
    round_trip(&r, &x, "request_minimal");
    /* Present but empty is not absent. */
    r.who.username = SB("");
    r.ts = SB("");
    round_trip(&r, &x, "request_empty_fields");
}

static void request_bad(void **state)
{
    (void)state;
    store_request r = full_request(), out;
    store_wire_extra x = {0}, xo;
    buf b = {0};
    store_wire_request_encode(&r, &x, &b);
    b.data[0] = 2; /* unknown version */
    assert_false(store_wire_request_decode(b.data, b.len, &out, &xo));
    b.data[0] = STORE_WIRE_VERSION;
    b.data[1] |= 128; /* unknown flag */
    assert_false(store_wire_request_decode(b.data, b.len, &out, &xo));
    b.data[1] &= 127;
    b.data[6] = 0xff; /* client id length past the end */
    assert_false(store_wire_request_decode(b.data, b.len, &out, &xo));
    assert_false(store_wire_request_decode(NULL, 0, &out, &xo));
    buf_free(&b);
}

static void reply_round_trip(void **state)
{
    (void)state;
    store_reply r;
    store_reply_init(&r);
    r.status = 200;
    buf_append(&r.payload, "+OK\r\n", 5);
    r.has_version = true;
    buf_append(&r.version, "1700000000000:3:n1", 18);
    buf b = {0};
    store_wire_reply_encode(&r, &b);
    seed(&b, 1, "reply_ok");
    store_wire_reply w;
    assert_true(store_wire_reply_decode(b.data, b.len, &w));
    assert_int_equal(w.status, 200);
    assert_null(w.status_message.data);
    assert_sb_eq(w.version, SB("1700000000000:3:n1"));
    assert_sb_eq(w.payload, SB("+OK\r\n"));
    for (size_t cut = 0; cut < b.len; cut++) assert_false(store_wire_reply_decode(b.data, cut, &w));

    /* An RPC error: status message, no version, empty payload. */
    b.len = 0;
    r.status = 503;
    r.status_message = "no leader";
    r.has_version = false;
    r.payload.len = 0;
    store_wire_reply_encode(&r, &b);
    seed(&b, 1, "reply_503");
    assert_true(store_wire_reply_decode(b.data, b.len, &w));
    assert_int_equal(w.status, 503);
    assert_sb_eq(w.status_message, SB("no leader"));
    assert_null(w.version.data);
    assert_int_equal(w.payload.len, 0);
    assert_non_null(w.payload.data);
    b.data[1] = 4; /* unknown flag */
    assert_false(store_wire_reply_decode(b.data, b.len, &w));
    buf_free(&b);
    store_reply_free(&r);
}

static void reply_long_message_cut(void **state)
{
    (void)state;
    char msg[400];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = 0;
    store_reply r;
    store_reply_init(&r);
    r.status = 503;
    r.status_message = msg;
    buf b = {0};
    store_wire_reply_encode(&r, &b);
    store_wire_reply w;
    assert_true(store_wire_reply_decode(b.data, b.len, &w));
    assert_int_equal(w.status_message.len, STORE_WIRE_STMSG_MAX);
    buf_free(&b);
    store_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_full),     cmocka_unit_test(request_minimal),        cmocka_unit_test(request_bad),
        cmocka_unit_test(reply_round_trip), cmocka_unit_test(reply_long_message_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
