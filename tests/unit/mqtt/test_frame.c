/* mqtt_frame and the variable byte integer helpers. */
#include "helpers.h"

static void expect(const char *hex, uint32_t max, enum mqtt_frame_status st, size_t total)
{
    uint8_t b[16];
    size_t n = hex_parse(hex, b, sizeof b);
    size_t got = 12345;
    assert_int_equal(mqtt_frame(b, n, max, &got), st);
    if (st == MQTT_FRAME_OK || st == MQTT_FRAME_TOO_LARGE) assert_int_equal(got, total);
}

static void test_lengths(void **state)
{
    expect("c0 00", 0, MQTT_FRAME_OK, 2);
    expect("30 7f", 0, MQTT_FRAME_NEED_MORE, 0);
    expect("30 80 01", 0, MQTT_FRAME_NEED_MORE, 0);       /* 128 */
    expect("30 ff 7f", 0, MQTT_FRAME_NEED_MORE, 0);       /* 16383 */
    expect("30 80 80 01", 0, MQTT_FRAME_NEED_MORE, 0);    /* 16384 */
    expect("30 ff ff ff 7f", 0, MQTT_FRAME_NEED_MORE, 0); /* 268435455 */
    expect("30 ff ff ff ff", 0, MQTT_FRAME_MALFORMED, 0); /* would need a 5th byte */
    expect("30 ff ff ff ff 01", 0, MQTT_FRAME_MALFORMED, 0);
    expect("30 80 00", 0, MQTT_FRAME_MALFORMED, 0); /* not minimal */
    expect("30 80 80 80 00", 0, MQTT_FRAME_MALFORMED, 0);
    expect("30 02 00 00 ff", 0, MQTT_FRAME_OK, 4); /* extra bytes belong to the next packet */
}

static void test_total_sizes(void **state)
{
    expect("30 ff 7f", 100, MQTT_FRAME_TOO_LARGE, 3 + 16383);
    expect("30 80 80 01", 100, MQTT_FRAME_TOO_LARGE, 4 + 16384);
    expect("30 ff ff ff 7f", 1000, MQTT_FRAME_TOO_LARGE, 5 + 268435455u);
    expect("30 ff ff ff 7f", 0, MQTT_FRAME_NEED_MORE, 0);
    expect("30 02 00 00", 4, MQTT_FRAME_OK, 4);
    expect("30 02 00 00", 3, MQTT_FRAME_TOO_LARGE, 4);
    expect("30 02", 3, MQTT_FRAME_TOO_LARGE, 4); /* reported before the body arrives */
}

/* Every proper prefix of a valid packet needs more; the whole is OK. */
static void test_every_truncation(void **state)
{
    for (uint32_t body = 0; body < 20000; body = body * 3 + 1) {
        buf b = {0};
        buf_append_u8(&b, 0x30);
        mqtt_varint_append(&b, body);
        size_t hdr = b.len;
        buf_reserve(&b, body);
        for (uint32_t i = 0; i < body; i++) b.data[b.len++] = (uint8_t)i;
        size_t total;
        for (size_t cut = 0; cut < b.len; cut++)
            assert_int_equal(mqtt_frame(b.data, cut, 0, &total), MQTT_FRAME_NEED_MORE);
        assert_int_equal(mqtt_frame(b.data, b.len, 0, &total), MQTT_FRAME_OK);
        assert_int_equal(total, hdr + body);
        buf_free(&b);
    }
}

static void test_varint(void **state)
{
    const uint32_t vals[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455};
    const size_t sizes[] = {1, 1, 1, 2, 2, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        buf b = {0};
        buf_append_u8(&b, 0x30);
        mqtt_varint_append(&b, vals[i]);
        assert_int_equal(mqtt_varint_size(vals[i]), sizes[i]);
        assert_int_equal(b.len, 1 + sizes[i]);
        size_t total = 0;
        enum mqtt_frame_status st = mqtt_frame(b.data, b.len, 1, &total);
        assert_int_equal(st, MQTT_FRAME_TOO_LARGE); /* max_size 1 < every total */
        assert_int_equal(total, 1 + sizes[i] + vals[i]);
        buf_free(&b);
    }
    buf b = {0};
    mqtt_varint_append(&b, 321);
    uint8_t want[] = {0xC1, 0x02};
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, want, 2);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_total_sizes),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_varint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
