/* The session registry's node-link frames (src/server/cluster_session_codec.h):
 * round trips of every type, every truncation refused, and the strict
 * checks (version, flags, QoS, empty topic or id, wait_ms against the
 * flags, trailing bytes). Inputs are copied into exact-size allocations so
 * that ASan catches a read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/cluster_session_codec.h"

#define B(s) ((csess_bytes){(const uint8_t *)(s), (uint32_t)strlen(s)})

static const char *decode_exact(uint8_t type, const buf *b, csess_msg *m, uint8_t **keep)
{
    *keep = malloc(b->len ? b->len : 1);
    if (b->len) memcpy(*keep, b->data, b->len);
    return csess_decode(type, *keep, b->len, m);
}

static csess_msg entry_with_will(void)
{
    return (csess_msg){.type = CSESS_ENTRY,
                       .epoch = 7,
                       .flags = CSESS_F_CONNECTED | CSESS_F_CLEAN_START | CSESS_F_WILL | CSESS_F_WILL_RETAIN,
                       .stamp = 1765000000123ull,
                       .session_expiry = 60,
                       .id = B("client-1"),
                       .principal = B("\x01principal-bytes"),
                       .will_qos = 1,
                       .will_delay = 4,
                       .will_expiry = 30,
                       .will_topic = B("will/client-1"),
                       .will_props = B("\x03\x00\x04text"),
                       .will_payload = B("gone")};
}

/* Encode, decode, encode again: the same bytes; every shorter prefix is refused. */
static void round_trip(const csess_msg *in)
{
    buf a = {0}, b = {0};
    csess_encode(&a, in);
    csess_msg out;
    uint8_t *keep;
    assert_null(decode_exact(in->type, &a, &out, &keep));
    assert_int_equal(out.type, in->type);
    assert_int_equal(out.epoch, in->epoch);
    csess_encode(&b, &out);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    free(keep);
    for (size_t n = 0; n < a.len; n++) {
        buf t = {0};
        buf_append(&t, a.data, n);
        assert_non_null(decode_exact(in->type, &t, &out, &keep));
        free(keep);
        buf_free(&t);
    }
    buf_append_u8(&a, 0); /* trailing byte */
    assert_string_equal(decode_exact(in->type, &a, &out, &keep), "trailing bytes");
    free(keep);
    buf_free(&a);
    buf_free(&b);
}

static void test_round_trips(void **state)
{
    (void)state;
    csess_msg e = entry_with_will();
    round_trip(&e);
    csess_msg plain = {
        .type = CSESS_ENTRY, .epoch = 1, .flags = CSESS_F_CONNECTED, .stamp = 5, .id = B("x"), .principal = B("p")};
    round_trip(&plain);
    csess_msg waiting = e;
    waiting.flags &= (uint8_t)~CSESS_F_CONNECTED;
    waiting.wait_ms = 1500;
    round_trip(&waiting);
    round_trip(&(csess_msg){.type = CSESS_SYNC, .epoch = 3, .boot = 0xdeadbeefcafe, .connections = 4, .sessions = 9});
    round_trip(&(csess_msg){.type = CSESS_GONE, .epoch = 3, .wait_ms = 2000, .id = B("abc")});
    round_trip(&(csess_msg){.type = CSESS_WILL_DONE, .epoch = 3, .id = B("abc")});
    round_trip(&(csess_msg){.type = CSESS_ORPHAN_DONE, .epoch = 3, .node = 2, .stamp = 77, .id = B("abc")});
    round_trip(&(csess_msg){.type = CSESS_BYE, .epoch = 3});
    round_trip(&(csess_msg){.type = CSESS_COUNTS, .epoch = 3, .connections = 1, .sessions = 2});
}

static void expect_refused(const csess_msg *m, const char *why)
{
    buf a = {0};
    csess_encode(&a, m);
    csess_msg out;
    uint8_t *keep;
    const char *got = decode_exact(m->type, &a, &out, &keep);
    assert_non_null(got);
    assert_string_equal(got, why);
    free(keep);
    buf_free(&a);
}

static void test_strict(void **state)
{
    (void)state;
    csess_msg m = entry_with_will();
    m.flags |= 0x40;
    expect_refused(&m, "unknown flags");
    m = entry_with_will();
    m.will_qos = 3;
    expect_refused(&m, "will QoS above 2");
    m = entry_with_will();
    m.will_topic = B("");
    expect_refused(&m, "empty will topic");
    m = entry_with_will();
    m.principal = B("");
    expect_refused(&m, "principal missing or too long");
    m = entry_with_will();
    m.wait_ms = 5; /* connected: no wait */
    expect_refused(&m, "wait_ms inconsistent with the flags");
    m = entry_with_will();
    m.flags &= (uint8_t)~CSESS_F_CONNECTED; /* waiting: wait_ms >= 1 */
    expect_refused(&m, "wait_ms inconsistent with the flags");
    m = (csess_msg){
        .type = CSESS_ENTRY, .flags = CSESS_F_WILL_RETAIN | CSESS_F_CONNECTED, .id = B("x"), .principal = B("p")};
    expect_refused(&m, "will retain without a will");
    m = (csess_msg){.type = CSESS_ENTRY, .wait_ms = 3, .id = B("x"), .principal = B("p")}; /* waiting without a will */
    expect_refused(&m, "wait_ms inconsistent with the flags");
    expect_refused(&(csess_msg){.type = CSESS_GONE, .id = B("")}, "empty client id");
    /* version and type */
    buf a = {0};
    csess_encode(&a, &(csess_msg){.type = CSESS_BYE});
    a.data[0] = 2;
    csess_msg out;
    uint8_t *keep;
    assert_string_equal(decode_exact(CSESS_BYE, &a, &out, &keep), "unknown version");
    free(keep);
    a.data[0] = CSESS_VERSION;
    assert_string_equal(decode_exact(CSESS_LAST + 1, &a, &out, &keep), "unknown frame type");
    free(keep);
    buf_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
