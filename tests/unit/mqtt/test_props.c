/* Property blocks at the byte level: encoding order, user property
 * iteration, mqtt_props_add_user and mqtt_props_copy_except. */
#include "helpers.h"

static void decode_hex(const char *hex, uint8_t *bytes, size_t cap, bool from_server, mqtt_packet *out)
{
    size_t n = hex_parse(hex, bytes, cap);
    int rc = from_server ? mqtt_decode_from_server(bytes, n, MQTT_V5, out) : mqtt_decode(bytes, n, MQTT_V5, out);
    assert_int_equal(rc, MQTT_RC_SUCCESS);
}

/* PUBLISH "t" QoS 0 with: topic alias 5, user a=1, message expiry 9,
 * user b=2, content type "c". */
#define PUB_WITH_PROPS  \
    "30 1f 00 01 74 1a" \
    " 23 00 05  26 00 01 61 00 01 31  02 00 00 00 09  26 00 01 62 00 01 32  03 00 01 63  50"

static void test_decode_fields(void **state)
{
    uint8_t b[64];
    mqtt_packet p;
    decode_hex(PUB_WITH_PROPS, b, sizeof b, false, &p);
    const mqtt_props *pr = &p.publish.props;
    assert_int_equal(pr->present, MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY) |
                                      MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE));
    assert_int_equal(pr->topic_alias, 5);
    assert_int_equal(pr->message_expiry, 9);
    assert_bytes_eq(B("c"), pr->content_type);
    assert_int_equal(pr->raw.len, 0x1a);
    assert_ptr_equal(pr->raw.data, b + 6); /* points into the input */
    const char *keys[] = {"a", "b"}, *vals[] = {"1", "2"};
    assert_user_props(pr, keys, vals, 2);
    assert_bytes_eq(B("P"), p.publish.payload);
}

static void test_copy_except(void **state)
{
    uint8_t b[64];
    mqtt_packet p;
    decode_hex(PUB_WITH_PROPS, b, sizeof b, false, &p);
    buf out = {0};
    mqtt_props_copy_except(p.publish.props.raw,
                           MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY), &out);
    uint8_t want[32];
    size_t n = hex_parse("26 00 01 61 00 01 31  26 00 01 62 00 01 32  03 00 01 63", want, sizeof want);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);

    /* the copy is a valid pass-through block for a new PUBLISH */
    mqtt_packet fwd = {.type = MQTT_PUBLISH};
    fwd.publish = (mqtt_publish){.topic = B("other"), .payload = B("x")};
    fwd.publish.props.extra = (mqtt_bytes){out.data, (uint32_t)out.len};
    fwd.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    fwd.publish.props.message_expiry = 4;
    buf wire = {0};
    mqtt_packet q;
    roundtrip(MQTT_V5, &fwd, &q, &wire);
    assert_int_equal(q.publish.props.message_expiry, 4);
    assert_bytes_eq(B("c"), q.publish.props.content_type);
    const char *keys[] = {"a", "b"}, *vals[] = {"1", "2"};
    assert_user_props(&q.publish.props, keys, vals, 2);

    buf all = {0};
    mqtt_props_copy_except(p.publish.props.raw, 0, &all);
    assert_int_equal(all.len, p.publish.props.raw.len);
    assert_memory_equal(all.data, p.publish.props.raw.data, all.len);
    buf none = {0};
    mqtt_props_copy_except(p.publish.props.raw, ~UINT64_C(0), &none);
    assert_int_equal(none.len, 0);
    buf_free(&out);
    buf_free(&wire);
    buf_free(&all);
}

static void test_add_user_bytes(void **state)
{
    buf b = {0};
    mqtt_props_add_user(&b, B("k"), B("vv"));
    mqtt_props_add_user(&b, B(""), B(""));
    uint8_t want[16];
    size_t n = hex_parse("26 00 01 6b 00 02 76 76  26 00 00 00 00", want, sizeof want);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    buf_free(&b);
}

static void test_encode_order(void **state)
{
    /* fields in identifier order, then sub_ids, then extra */
    const uint32_t ids[] = {2, 300};
    buf extra = {0};
    mqtt_props_add_user(&extra, B("u"), B("v"));
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish = (mqtt_publish){.topic = B("t")};
    p.publish.props =
        (mqtt_props){.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT),
                     .topic_alias = 0x0102,
                     .payload_format = 1,
                     .sub_ids = ids,
                     .n_sub_ids = 2,
                     .extra = {extra.data, (uint32_t)extra.len}};
    buf wire = {0};
    mqtt_encode(&wire, MQTT_V5, &p);
    uint8_t want[40];
    size_t n = hex_parse("30 15 00 01 74 11  01 01  23 01 02  0b 02  0b ac 02"
                         "  26 00 01 75 00 01 76",
                         want, sizeof want);
    assert_int_equal(wire.len, n);
    assert_memory_equal(wire.data, want, n);
    mqtt_packet q;
    assert_int_equal(mqtt_decode_from_server(wire.data, wire.len, MQTT_V5, &q), 0);
    assert_int_equal(q.publish.props.sub_id, 2); /* the first one */
    /* a client may not send subscription identifiers */
    assert_int_equal(mqtt_decode(wire.data, wire.len, MQTT_V5, &q), MQTT_RC_PROTOCOL_ERROR);
    buf_free(&wire);
    buf_free(&extra);
}

static void test_encode_block(void **state)
{
    /* the body only: no length prefix, fields in id order, extra last */
    buf extra = {0};
    mqtt_props_add_user(&extra, B("k"), B("v"));
    mqtt_props p = {.present = MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE),
                    .content_type = B("c"),
                    .correlation_data = B("\x00\x01"),
                    .extra = {extra.data, (uint32_t)extra.len}};
    buf out = {0};
    buf_append(&out, "x", 1); /* appends after what is there */
    size_t n = mqtt_props_encode_block(&out, &p);
    uint8_t want[32];
    size_t wn = hex_parse("78  03 00 01 63  09 00 02 00 01  26 00 01 6b 00 01 76", want, sizeof want);
    assert_int_equal(n, wn - 1);
    assert_int_equal(out.len, wn);
    assert_memory_equal(out.data, want, wn);
    /* an empty struct appends nothing */
    mqtt_props none = {0};
    assert_int_equal(mqtt_props_encode_block(&out, &none), 0);
    assert_int_equal(out.len, wn);
    /* the block is what a PUBLISH carries after its length prefix */
    mqtt_packet pk = {.type = MQTT_PUBLISH};
    pk.publish = (mqtt_publish){.topic = B("t")};
    pk.publish.props.extra = (mqtt_bytes){out.data + 1, (uint32_t)(out.len - 1)};
    buf wire = {0};
    mqtt_encode(&wire, MQTT_V5, &pk);
    mqtt_packet q;
    assert_int_equal(mqtt_decode_from_server(wire.data, wire.len, MQTT_V5, &q), 0);
    assert_bytes_eq(B("c"), q.publish.props.content_type);
    assert_bytes_eq(B("\x00\x01"), q.publish.props.correlation_data);
    assert_int_equal(q.publish.props.user_count, 1);
    buf_free(&wire);
    buf_free(&out);
    buf_free(&extra);
}

static void test_next_user_empty(void **state)
{
    mqtt_props none = {0};
    size_t pos = 0;
    mqtt_bytes k, v;
    assert_false(mqtt_props_next_user(&none, &pos, &k, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_fields),  cmocka_unit_test(test_copy_except),
        cmocka_unit_test(test_add_user_bytes), cmocka_unit_test(test_encode_order),
        cmocka_unit_test(test_encode_block),   cmocka_unit_test(test_next_user_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
