/* Route frames (src/server/cluster_route_wire.h): round trips, and the
 * strict decoders refusing every truncation, trailing bytes, bad
 * versions, flags, topics, filters and properties. Inputs are copied into
 * exact-size allocations so ASan catches a read past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "server/cluster_route_wire.h"

#define B(s) mqtt_bytes_str(s)

static const char *interest(const uint8_t *p, size_t n, route_interest_reader *r)
{
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, p, n);
    const char *why = route_wire_interest_decode(c, n, r);
    free(c);
    return why;
}

static const char *msg(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, p, n);
    route_msg m;
    const char *why = route_wire_msg_decode(c, n, &m);
    free(c);
    return why;
}

static void test_interest_round_trip(void **state)
{
    (void)state;
    buf b = {0};
    route_wire_interest_begin(&b, ROUTE_INTEREST_FULL);
    route_wire_interest_add(&b, B("a/+/c"), 1);
    route_wire_interest_add(&b, B("$share/g/x/#"), 7);
    route_wire_interest_add(&b, B("gone"), 0);
    route_wire_interest_end(&b, 3);
    route_interest_reader r;
    assert_null(route_wire_interest_decode(b.data, b.len, &r));
    assert_int_equal(r.flags, ROUTE_INTEREST_FULL);
    mqtt_bytes f;
    uint32_t count;
    assert_true(route_wire_interest_next(&r, &f, &count));
    assert_true(mqtt_bytes_eq(f, B("a/+/c")) && count == 1);
    assert_true(route_wire_interest_next(&r, &f, &count));
    assert_true(mqtt_bytes_eq(f, B("$share/g/x/#")) && count == 7);
    assert_true(route_wire_interest_next(&r, &f, &count));
    assert_true(mqtt_bytes_eq(f, B("gone")) && count == 0);
    assert_false(route_wire_interest_next(&r, &f, &count));
    for (size_t n = 0; n < b.len; n++) assert_non_null(interest(b.data, n, &r)); /* every truncation */
    buf_append_u8(&b, 0);
    assert_non_null(interest(b.data, b.len, &r)); /* trailing byte */
    b.len--;
    b.data[0] = 2;
    assert_non_null(interest(b.data, b.len, &r)); /* version */
    b.data[0] = 1;
    b.data[1] = 8;
    assert_non_null(interest(b.data, b.len, &r)); /* flags */
    buf_free(&b);
}

static void test_interest_bad_filters(void **state)
{
    (void)state;
    const char *bad[] = {"", "a/#/b", "a+", "$share/g", "$share//x", "$share/g+/x", "a\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        buf b = {0};
        route_wire_interest_begin(&b, 0);
        route_wire_interest_add(&b, B(bad[i]), 1);
        route_wire_interest_end(&b, 1);
        route_interest_reader r;
        assert_non_null(interest(b.data, b.len, &r));
        buf_free(&b);
    }
    /* a count that claims more entries than there are */
    buf b = {0};
    route_wire_interest_begin(&b, 0);
    route_wire_interest_add(&b, B("a"), 1);
    route_wire_interest_end(&b, 2);
    route_interest_reader r;
    assert_non_null(interest(b.data, b.len, &r));
    buf_free(&b);
}

static void test_msg_round_trip(void **state)
{
    (void)state;
    const uint8_t props[] = {0x03, 0x00, 0x02, 't', 'x',              /* content type */
                             0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'}; /* user property */
    route_msg in = {.qos = 2,
                    .retain = true,
                    .id = 0x0102030405060708ull,
                    .expiry_ms = 1500,
                    .topic = B("a/b"),
                    .props = {props, sizeof props},
                    .payload = B("hello")};
    mqtt_bytes shares[] = {B("$share/g/a/+"), B("$share/h/#")};
    buf b = {0};
    route_wire_msg_encode(&b, &in, shares, 2);
    route_msg out;
    assert_null(route_wire_msg_decode(b.data, b.len, &out));
    assert_int_equal(out.qos, 2);
    assert_true(out.retain);
    assert_true(out.id == in.id);
    assert_int_equal(out.expiry_ms, 1500);
    assert_true(mqtt_bytes_eq(out.topic, in.topic));
    assert_true(mqtt_bytes_eq(out.props, in.props));
    assert_true(mqtt_bytes_eq(out.payload, in.payload));
    assert_int_equal(out.n_shares, 2);
    size_t cur = 0;
    assert_true(mqtt_bytes_eq(route_wire_share_next(&out, &cur), shares[0]));
    assert_true(mqtt_bytes_eq(route_wire_share_next(&out, &cur), shares[1]));
    for (size_t n = 0; n < b.len; n++) assert_non_null(msg(b.data, n));
    buf_append_u8(&b, 0);
    assert_non_null(msg(b.data, b.len));
    b.len--;
    b.data[1] = 3; /* QoS 3 */
    assert_non_null(msg(b.data, b.len));
    b.data[1] = 8;
    assert_non_null(msg(b.data, b.len));
    buf_free(&b);
    /* empty payload and properties, no groups */
    route_msg empty = {.qos = 0, .topic = B("t"), .props = {NULL, 0}, .payload = {NULL, 0}};
    buf e = {0};
    route_wire_msg_encode(&e, &empty, NULL, 0);
    assert_null(msg(e.data, e.len));
    buf_free(&e);
}

static void test_msg_refusals(void **state)
{
    (void)state;
    const uint8_t expiry[] = {0x02, 0, 0, 0, 5};    /* message expiry: carried in the header instead */
    const uint8_t alias[] = {0x23, 0, 1};           /* topic alias */
    const uint8_t torn[] = {0x26, 0x00, 0x05, 'k'}; /* a user property cut short */
    const uint8_t *bad_props[] = {expiry, alias, torn};
    size_t lens[] = {sizeof expiry, sizeof alias, sizeof torn};
    for (size_t i = 0; i < 3; i++) {
        route_msg m = {.qos = 1, .topic = B("t"), .props = {bad_props[i], (uint32_t)lens[i]}, .payload = B("x")};
        buf b = {0};
        route_wire_msg_encode(&b, &m, NULL, 0);
        assert_non_null(msg(b.data, b.len));
        buf_free(&b);
    }
    const char *bad_topics[] = {"", "a/+", "a/#", "a\xc0\x80"};
    for (size_t i = 0; i < 4; i++) {
        route_msg m = {.qos = 1, .topic = B(bad_topics[i]), .payload = B("x")};
        buf b = {0};
        route_wire_msg_encode(&b, &m, NULL, 0);
        assert_non_null(msg(b.data, b.len));
        buf_free(&b);
    }
    mqtt_bytes not_shared[] = {B("a/b")};
    route_msg m = {.qos = 1, .topic = B("a/b"), .payload = B("x")};
    buf b = {0};
    route_wire_msg_encode(&b, &m, not_shared, 1);
    assert_non_null(msg(b.data, b.len));
    buf_free(&b);
}

static void test_ack(void **state)
{
    (void)state;
    uint64_t ids[] = {1, UINT64_MAX, 42};
    buf b = {0};
    route_wire_ack_encode(&b, ids, 3);
    const uint8_t *p;
    uint32_t n;
    assert_null(route_wire_ack_decode(b.data, b.len, &p, &n));
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < 3; i++) assert_true(route_wire_ack_id(p, i) == ids[i]);
    for (size_t k = 0; k < b.len; k++) assert_non_null(route_wire_ack_decode(b.data, k, &p, &n));
    buf_append_u8(&b, 0);
    assert_non_null(route_wire_ack_decode(b.data, b.len, &p, &n));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interest_round_trip),
        cmocka_unit_test(test_interest_bad_filters),
        cmocka_unit_test(test_msg_round_trip),
        cmocka_unit_test(test_msg_refusals),
        cmocka_unit_test(test_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
