/* The node link frame and HELLO codec (src/cluster/peer_frame.h): round
 * trips, every truncation, oversize lengths, bad types and versions. Each
 * input is copied into an exact-size allocation so that ASan catches a
 * read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cluster/peer.h"
#include "cluster/peer_frame.h"

static uint8_t *exact(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    if (len) memcpy(c, p, len);
    return c;
}

static void test_frame_round_trip(void **state)
{
    (void)state;
    buf b = {0};
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
    peer_frame_append(&b, PEER_TYPE_USER, payload, sizeof payload);
    peer_frame_append(&b, PEER_TYPE_USER + 1, NULL, 0);
    assert_int_equal(b.len, 2 * PEER_FRAME_HEADER + sizeof payload);
    peer_frame f;
    size_t used = 0;
    assert_int_equal(peer_frame_next(b.data, b.len, 1 << 20, &f, &used), PEER_FRAME_OK);
    assert_int_equal(f.type, PEER_TYPE_USER);
    assert_int_equal(f.len, sizeof payload);
    assert_memory_equal(f.payload, payload, sizeof payload);
    assert_int_equal(used, PEER_FRAME_HEADER + sizeof payload);
    size_t used2 = 0;
    assert_int_equal(peer_frame_next(b.data + used, b.len - used, 1 << 20, &f, &used2), PEER_FRAME_OK);
    assert_int_equal(f.type, PEER_TYPE_USER + 1);
    assert_int_equal(f.len, 0);
    assert_int_equal(used + used2, b.len);
    buf_free(&b);
}

static void test_frame_every_truncation(void **state)
{
    (void)state;
    buf b = {0};
    peer_frame_append(&b, 200, (const uint8_t *)"hello", 5);
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *p = exact(b.data, cut);
        peer_frame f;
        size_t used = 0;
        assert_int_equal(peer_frame_next(p, cut, 1 << 20, &f, &used), PEER_FRAME_NEED_MORE);
        free(p);
    }
    buf_free(&b);
}

static void test_frame_oversize_and_empty(void **state)
{
    (void)state;
    peer_frame f;
    size_t used = 0;
    /* The length alone decides: a too-big frame is refused before it arrives. */
    const uint8_t big[4] = {0x00, 0x01, 0x00, 0x01}; /* 65537 */
    assert_int_equal(peer_frame_next(big, 4, 65536, &f, &used), PEER_FRAME_TOOBIG);
    assert_int_equal(peer_frame_next(big, 4, 65537, &f, &used), PEER_FRAME_NEED_MORE);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(peer_frame_next(huge, 4, PEER_MAX_FRAME_DEFAULT, &f, &used), PEER_FRAME_TOOBIG);
    const uint8_t empty[5] = {0, 0, 0, 0, 7};
    assert_int_equal(peer_frame_next(empty, 5, 100, &f, &used), PEER_FRAME_BAD);
    /* Exactly max_frame (type + payload) is allowed. */
    buf b = {0};
    peer_frame_append(&b, PEER_TYPE_USER, (const uint8_t *)"abc", 3);
    assert_int_equal(peer_frame_next(b.data, b.len, 4, &f, &used), PEER_FRAME_OK);
    assert_int_equal(peer_frame_next(b.data, b.len, 3, &f, &used), PEER_FRAME_TOOBIG);
    buf_free(&b);
}

static void test_hello_round_trip_and_truncation(void **state)
{
    (void)state;
    buf b = {0};
    assert_true(peer_hello_append(&b, 3, 0x0102030405060708ull, "prod-east"));
    peer_frame f;
    size_t used = 0;
    assert_int_equal(peer_frame_next(b.data, b.len, 1024, &f, &used), PEER_FRAME_OK);
    assert_int_equal(used, b.len);
    assert_int_equal(f.type, PEER_T_HELLO);
    peer_hello h;
    assert_true(peer_hello_decode(f.payload, f.len, &h));
    assert_int_equal(h.version, PEER_PROTOCOL_VERSION);
    assert_int_equal(h.from, 3);
    assert_int_equal(h.to, 0x0102030405060708ull);
    assert_string_equal(h.name, "prod-east");
    for (size_t cut = 0; cut < f.len; cut++) {
        uint8_t *p = exact(f.payload, cut);
        assert_false(peer_hello_decode(p, cut, &h));
        free(p);
    }
    /* One byte too many, a NUL inside the name: refused. */
    uint8_t longer[64];
    memcpy(longer, f.payload, f.len);
    longer[f.len] = 'x';
    assert_false(peer_hello_decode(longer, f.len + 1, &h));
    longer[20] = '\0';
    assert_false(peer_hello_decode(longer, f.len, &h));
    buf_free(&b);
    /* A name longer than its one-byte length: not encoded. */
    char name[PEER_CLUSTER_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_false(peer_hello_append(&b, 1, 2, name));
    assert_int_equal(b.len, 0);
    name[PEER_CLUSTER_NAME_MAX] = '\0';
    assert_true(peer_hello_append(&b, 1, 2, name));
    buf_free(&b);
}

static void test_hello_other_version_decodes(void **state)
{
    (void)state;
    buf b = {0};
    assert_true(peer_hello_append(&b, 1, 2, "c"));
    b.data[PEER_FRAME_HEADER] = 99; /* the version byte: checked by the acceptor, not the codec */
    peer_hello h;
    assert_true(peer_hello_decode(b.data + PEER_FRAME_HEADER, b.len - PEER_FRAME_HEADER, &h));
    assert_int_equal(h.version, 99);
    buf_free(&b);
}

static void test_hello_ok_and_refuse(void **state)
{
    (void)state;
    buf b = {0};
    peer_hello_ok_append(&b, 42);
    peer_frame f;
    size_t used;
    assert_int_equal(peer_frame_next(b.data, b.len, 64, &f, &used), PEER_FRAME_OK);
    assert_int_equal(f.type, PEER_T_HELLO_OK);
    uint8_t v;
    uint64_t id;
    assert_true(peer_hello_ok_decode(f.payload, f.len, &v, &id));
    assert_int_equal(v, PEER_PROTOCOL_VERSION);
    assert_int_equal(id, 42);
    for (size_t cut = 0; cut < f.len; cut++) assert_false(peer_hello_ok_decode(f.payload, cut, &v, &id));
    b.len = 0;
    peer_refuse_append(&b, PEER_REFUSE_CERT);
    assert_int_equal(peer_frame_next(b.data, b.len, 64, &f, &used), PEER_FRAME_OK);
    assert_int_equal(peer_refuse_decode(f.payload, f.len), PEER_REFUSE_CERT);
    assert_int_equal(peer_refuse_decode(f.payload, 0), 0);
    const uint8_t bad[2] = {0, 200};
    assert_int_equal(peer_refuse_decode(bad, 1), 0);
    assert_int_equal(peer_refuse_decode(bad + 1, 1), 0);
    assert_string_equal(peer_refusal_str(200), "unknown reason");
    buf_free(&b);
}

/* Every byte string of a small family of mutations scans without
 * crashing and ends in one of the defined results. */
static void test_frame_mutations_never_crash(void **state)
{
    (void)state;
    buf b = {0};
    assert_true(peer_hello_append(&b, 1, 2, "cluster"));
    for (size_t i = 0; i < b.len; i++) {
        for (int v = 0; v < 256; v += 17) {
            uint8_t *p = exact(b.data, b.len);
            p[i] = (uint8_t)v;
            peer_frame f;
            size_t used = 0;
            peer_frame_status s = peer_frame_next(p, b.len, 1 << 16, &f, &used);
            assert_true(s == PEER_FRAME_OK || s == PEER_FRAME_NEED_MORE || s == PEER_FRAME_TOOBIG ||
                        s == PEER_FRAME_BAD);
            peer_hello h;
            if (s == PEER_FRAME_OK) (void)peer_hello_decode(f.payload, f.len, &h);
            free(p);
        }
    }
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_frame_every_truncation),
        cmocka_unit_test(test_frame_oversize_and_empty),
        cmocka_unit_test(test_hello_round_trip_and_truncation),
        cmocka_unit_test(test_hello_other_version_decodes),
        cmocka_unit_test(test_hello_ok_and_refuse),
        cmocka_unit_test(test_frame_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
