/* Every packet type, in every protocol version it exists in, survives
 * encode -> frame -> decode unchanged; plus the v3.1.1 mappings and v5
 * short forms, checked at the byte level. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static const uint8_t versions[] = {MQTT_V31, MQTT_V311, MQTT_V5};

static void check(uint8_t version, const mqtt_packet *in)
{
    buf wire = {0};
    mqtt_packet out;
    roundtrip(version, in, &out, &wire);
    assert_packet_eq(in, &out);
    mqtt_packet_release(&out);
    buf_free(&wire);
}

/* Encode and compare with the exact expected bytes. */
static void check_bytes(uint8_t version, const mqtt_packet *in, const char *hex)
{
    uint8_t want[256];
    size_t n = hex_parse(hex, want, sizeof want);
    buf wire = {0};
    assert_int_equal(mqtt_encode(&wire, version, in), n);
    assert_memory_equal(wire.data, want, n);
    buf_free(&wire);
}

static void test_connect(void **state)
{
    for (size_t i = 0; i < sizeof versions; i++) {
        mqtt_packet p = {.type = MQTT_CONNECT};
        p.connect =
            (mqtt_connect){.version = versions[i], .clean_start = true, .keep_alive = 60, .client_id = B("client-1")};
        check(versions[i], &p);
        p.connect.will_flag = true;
        p.connect.will_qos = 2;
        p.connect.will_retain = true;
        p.connect.will_topic = B("will/topic");
        p.connect.will_payload = B("bye\0bin");
        p.connect.has_username = p.connect.has_password = true;
        p.connect.username = B("user");
        p.connect.password = B("p\0ss");
        p.connect.clean_start = false;
        check(versions[i], &p);
        p.connect.client_id = B(""); /* empty client id is the server's call */
        p.connect.will_flag = false;
        p.connect.will_qos = 0;
        p.connect.will_retain = false;
        p.connect.will_topic = p.connect.will_payload = B("");
        check(versions[i], &p);
    }
}

static void test_connect_v5_props(void **state)
{
    mqtt_packet p = {.type = MQTT_CONNECT};
    mqtt_connect *c = &p.connect;
    *c = (mqtt_connect){.version = MQTT_V5, .keep_alive = 10, .client_id = B("c")};
    c->props.present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX) |
                       MQTT_PROP_BIT(MQTT_PROP_MAX_PACKET_SIZE) | MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAX) |
                       MQTT_PROP_BIT(MQTT_PROP_REQUEST_RESPONSE_INFO) | MQTT_PROP_BIT(MQTT_PROP_REQUEST_PROBLEM_INFO) |
                       MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    c->props.session_expiry = 0xFFFFFFFF;
    c->props.receive_max = 20;
    c->props.max_packet_size = 1 << 20;
    c->props.topic_alias_max = 7;
    c->props.request_response_info = 1;
    c->props.request_problem_info = 0;
    c->props.auth_method = B("SCRAM");
    c->props.auth_data = B("\x01\x02");
    c->will_flag = true;
    c->will_qos = 1;
    c->will_topic = B("w");
    c->will_payload = B("x");
    c->will_props.present = MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY) | MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT) |
                            MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE) |
                            MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) | MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
    c->will_props.will_delay = 30;
    c->will_props.payload_format = 1;
    c->will_props.message_expiry = 99;
    c->will_props.content_type = B("text/plain");
    c->will_props.response_topic = B("resp/t");
    c->will_props.correlation_data = B("\x00\xff");
    check(MQTT_V5, &p);
}

static void test_connack(void **state)
{
    mqtt_packet p = {.type = MQTT_CONNACK};
    p.connack.session_present = true;
    check(MQTT_V311, &p);
    check(MQTT_V5, &p);
    /* every v3.1.1 return code maps back to the same v5 reason */
    const uint8_t v5[] = {0x00, 0x84, 0x85, 0x88, 0x86, 0x87};
    for (uint8_t i = 0; i < sizeof v5; i++) {
        p.connack = (mqtt_connack){.reason = v5[i]};
        check(MQTT_V311, &p);
        assert_int_equal(mqtt_rc_to_v311_connack(v5[i]), i);
    }
    check_bytes(MQTT_V311, &p, "20 02 00 05");
    p.connack.reason = MQTT_RC_BANNED;
    check_bytes(MQTT_V5, &p, "20 03 00 8a 00");
}

static void test_connack_v5_props(void **state)
{
    mqtt_packet p = {.type = MQTT_CONNACK};
    mqtt_props *pr = &p.connack.props;
    pr->present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX) |
                  MQTT_PROP_BIT(MQTT_PROP_MAX_QOS) | MQTT_PROP_BIT(MQTT_PROP_RETAIN_AVAILABLE) |
                  MQTT_PROP_BIT(MQTT_PROP_MAX_PACKET_SIZE) | MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID) |
                  MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAX) | MQTT_PROP_BIT(MQTT_PROP_REASON_STRING) |
                  MQTT_PROP_BIT(MQTT_PROP_WILDCARD_SUB_AVAILABLE) | MQTT_PROP_BIT(MQTT_PROP_SUB_ID_AVAILABLE) |
                  MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE) | MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE) |
                  MQTT_PROP_BIT(MQTT_PROP_RESPONSE_INFO) | MQTT_PROP_BIT(MQTT_PROP_SERVER_REFERENCE) |
                  MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    pr->session_expiry = 3600;
    pr->receive_max = 65535;
    pr->max_qos = 1;
    pr->retain_available = 0;
    pr->max_packet_size = 268435460;
    pr->assigned_client_id = B("auto-123");
    pr->topic_alias_max = 10;
    pr->reason_string = B("ok");
    pr->wildcard_sub_available = 1;
    pr->sub_id_available = 1;
    pr->shared_sub_available = 0;
    pr->server_keep_alive = 120;
    pr->response_info = B("ri");
    pr->server_reference = B("other:1883");
    pr->auth_method = B("m");
    pr->auth_data = B("d");
    check(MQTT_V5, &p);
}

static void test_publish(void **state)
{
    for (size_t i = 0; i < sizeof versions; i++) {
        for (uint8_t qos = 0; qos <= 2; qos++) {
            mqtt_packet p = {.type = MQTT_PUBLISH};
            p.publish = (mqtt_publish){.topic = B("a/b/c"),
                                       .qos = qos,
                                       .retain = qos == 1,
                                       .dup = qos == 2,
                                       .packet_id = qos ? 0xBEEF : 0,
                                       .payload = B("hello\0world")};
            check(versions[i], &p);
            p.publish.payload = B("");
            check(versions[i], &p);
        }
    }
}

static void test_publish_v5_props(void **state)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    mqtt_publish *pub = &p.publish;
    *pub = (mqtt_publish){.topic = B(""), .qos = 1, .packet_id = 7, .payload = B("{}")};
    pub->props.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT) |
                         MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE) |
                         MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) | MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
    pub->props.topic_alias = 3;
    pub->props.payload_format = 1;
    pub->props.message_expiry = 60;
    pub->props.content_type = B("application/json");
    pub->props.response_topic = B("reply/here");
    pub->props.correlation_data = B("corr");
    check(MQTT_V5, &p);

    /* subscription identifiers, as a server sends them */
    const uint32_t ids[] = {1, 268435455};
    pub->props.sub_ids = ids;
    pub->props.n_sub_ids = 2;
    check(MQTT_V5, &p);
}

static void test_publish_encoders_agree(void **state)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish = (mqtt_publish){.topic = B("t"), .qos = 2, .packet_id = 9, .retain = true, .payload = B("xyz")};
    p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    p.publish.props.message_expiry = 5;
    for (size_t i = 0; i < sizeof versions; i++) {
        buf a = {0}, b = {0};
        size_t na = mqtt_encode(&a, versions[i], &p);
        size_t nb = mqtt_encode_publish(&b, versions[i], &p.publish);
        assert_int_equal(na, nb);
        assert_memory_equal(a.data, b.data, na);
        buf_free(&a);
        buf_free(&b);
    }
    p.publish.props.present = 0;
    check_bytes(MQTT_V311, &p, "35 08 00 01 74 00 09 78 79 7a");
    check_bytes(MQTT_V5, &p, "35 09 00 01 74 00 09 00 78 79 7a");
    /* DUP is never written for QoS 0 */
    p.publish = (mqtt_publish){.topic = B("t"), .dup = true};
    check_bytes(MQTT_V311, &p, "30 03 00 01 74");
}

/* A topic a two-byte length cannot express is never written with a
 * truncated length: both encoders refuse it and append nothing. */
static void test_publish_topic_too_long(void **state)
{
    (void)state;
    enum { LONG = 65536 };
    uint8_t *topic = malloc(LONG);
    assert_non_null(topic);
    memset(topic, 'a', LONG);
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish = (mqtt_publish){.topic = {topic, LONG}, .qos = 1, .packet_id = 1, .payload = B("x")};
    for (size_t i = 0; i < sizeof versions; i++) {
        buf b = {0};
        buf_append(&b, "keep", 4);
        assert_int_equal(mqtt_encode_publish(&b, versions[i], &p.publish), 0);
        assert_int_equal(mqtt_encode(&b, versions[i], &p), 0);
        assert_int_equal(mqtt_encoded_size(versions[i], &p), 0);
        assert_int_equal(b.len, 4);
        buf_free(&b);
    }
    /* the longest representable topic still encodes */
    p.publish.topic.len = LONG - 1;
    buf b = {0};
    size_t n = mqtt_encode_publish(&b, MQTT_V5, &p.publish);
    assert_int_equal(n, 1 + 3 + 2 + (LONG - 1) + 2 + 1 + 1); /* 3-byte remaining length */
    assert_int_equal(b.data[4], 0xFF);
    assert_int_equal(b.data[5], 0xFF);
    buf_free(&b);
    free(topic);
}

static void test_acks(void **state)
{
    const uint8_t types[] = {MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP};
    for (size_t t = 0; t < sizeof types; t++) {
        for (size_t i = 0; i < sizeof versions; i++) {
            mqtt_packet p = {.type = types[t]};
            p.ack.packet_id = 0x1234;
            check(versions[i], &p);
        }
        mqtt_packet p = {.type = types[t]};
        p.ack.packet_id = 1;
        p.ack.reason = types[t] <= MQTT_PUBREC ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : MQTT_RC_PACKET_ID_NOT_FOUND;
        check(MQTT_V5, &p);
        p.ack.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
        p.ack.props.reason_string = B("why");
        check(MQTT_V5, &p);
    }
}

static void test_ack_forms(void **state)
{
    mqtt_packet p = {.type = MQTT_PUBACK};
    p.ack.packet_id = 5;
    check_bytes(MQTT_V5, &p, "40 02 00 05"); /* reason 0, no props: short form */
    p.ack.reason = MQTT_RC_NOT_AUTHORIZED;
    check_bytes(MQTT_V5, &p, "40 03 00 05 87");
    check_bytes(MQTT_V311, &p, "40 02 00 05"); /* no reason codes in 3.1.1 */
    p.type = MQTT_PUBREL;
    p.ack.reason = 0;
    check_bytes(MQTT_V311, &p, "62 02 00 05");
}

static void test_subscribe(void **state)
{
    mqtt_sub_entry e[3] = {
        {.filter = B("a/+/c"), .qos = 1},
        {.filter = B("#"), .qos = 2},
        {.filter = B("$share/g/x/#"), .qos = 0},
    };
    mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.subscribe = (mqtt_subscribe){.packet_id = 10, .count = 3, .entries = e};
    for (size_t i = 0; i < sizeof versions; i++) check(versions[i], &p);
    e[0].no_local = true;
    e[1].retain_as_published = true;
    e[1].retain_handling = 2;
    e[2].retain_handling = 1;
    p.subscribe.props.present = MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
    p.subscribe.props.sub_id = 200000;
    check(MQTT_V5, &p);
    p.subscribe.count = 1;
    p.subscribe.props.present = 0;
    check_bytes(MQTT_V5, &p, "82 0b 00 0a 00 00 05 61 2f 2b 2f 63 05");
}

static void test_unsubscribe(void **state)
{
    mqtt_bytes f[2] = {B("a/b"), B("+/#")};
    mqtt_packet p = {.type = MQTT_UNSUBSCRIBE};
    p.unsubscribe = (mqtt_unsubscribe){.packet_id = 11, .count = 2, .filters = f};
    for (size_t i = 0; i < sizeof versions; i++) check(versions[i], &p);
}

static void test_suback(void **state)
{
    uint8_t rcs[] = {0x00, 0x01, 0x02, 0x80};
    mqtt_packet p = {.type = MQTT_SUBACK};
    p.suback = (mqtt_suback){.packet_id = 12, .count = 4, .reasons = rcs};
    for (size_t i = 0; i < sizeof versions; i++) check(versions[i], &p);
    uint8_t v5[] = {0x00, 0x8F, 0xA2};
    p.suback = (mqtt_suback){.packet_id = 12, .count = 3, .reasons = v5};
    p.suback.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    p.suback.props.reason_string = B("partly");
    check(MQTT_V5, &p);
    p.suback.props.present = 0;
    check_bytes(MQTT_V311, &p, "90 05 00 0c 00 80 80"); /* failures become 0x80 */
}

static void test_unsuback(void **state)
{
    uint8_t rcs[] = {0x00, 0x11};
    mqtt_packet p = {.type = MQTT_UNSUBACK};
    p.suback = (mqtt_suback){.packet_id = 13, .count = 2, .reasons = rcs};
    check(MQTT_V5, &p);
    check_bytes(MQTT_V311, &p, "b0 02 00 0d");
    p.suback.count = 0; /* what a 3.1.1 decode yields */
    check(MQTT_V311, &p);
}

static void test_ping_disconnect_auth(void **state)
{
    mqtt_packet p = {.type = MQTT_PINGREQ};
    check_bytes(MQTT_V311, &p, "c0 00");
    check(MQTT_V5, &p);
    p.type = MQTT_PINGRESP;
    check_bytes(MQTT_V5, &p, "d0 00");
    check(MQTT_V311, &p);
    p = (mqtt_packet){.type = MQTT_DISCONNECT};
    check_bytes(MQTT_V5, &p, "e0 00");
    check(MQTT_V311, &p);
    p.disconnect.reason = MQTT_RC_DISCONNECT_WITH_WILL;
    check_bytes(MQTT_V5, &p, "e0 01 04");
    check_bytes(MQTT_V311, &p, "e0 00");
    p.disconnect.props.present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_SERVER_REFERENCE) |
                                 MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
    p.disconnect.props.session_expiry = 1;
    p.disconnect.props.server_reference = B("s");
    p.disconnect.props.reason_string = B("r");
    check(MQTT_V5, &p);
    p = (mqtt_packet){.type = MQTT_AUTH};
    check_bytes(MQTT_V5, &p, "f0 00");
    buf none = {0};
    assert_int_equal(mqtt_encode(&none, MQTT_V311, &p), 0); /* no AUTH in 3.1.1 */
    assert_int_equal(none.len, 0);
    p.disconnect.reason = MQTT_RC_CONTINUE_AUTH;
    p.disconnect.props.present = MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    p.disconnect.props.auth_method = B("m");
    p.disconnect.props.auth_data = B("\x00\x01");
    check(MQTT_V5, &p);
}

static void test_user_props_roundtrip(void **state)
{
    buf extra = {0};
    const char *keys[] = {"b", "a", "b", ""};
    const char *vals[] = {"1", "2", "3", "empty"};
    for (size_t i = 0; i < 4; i++)
        mqtt_props_add_user(&extra, (mqtt_bytes){(const uint8_t *)keys[i], (uint32_t)strlen(keys[i])},
                            (mqtt_bytes){(const uint8_t *)vals[i], (uint32_t)strlen(vals[i])});
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish = (mqtt_publish){.topic = B("t"), .payload = B("p")};
    p.publish.props.extra = (mqtt_bytes){extra.data, (uint32_t)extra.len};
    p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE);
    p.publish.props.content_type = B("ct");
    buf wire = {0};
    mqtt_packet out;
    roundtrip(MQTT_V5, &p, &out, &wire);
    assert_packet_eq(&p, &out);
    assert_user_props(&out.publish.props, keys, vals, 4);
    assert_true(out.publish.props.present & MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY));
    buf_free(&wire);
    buf_free(&extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_connect_v5_props),
        cmocka_unit_test(test_connack),
        cmocka_unit_test(test_connack_v5_props),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_publish_v5_props),
        cmocka_unit_test(test_publish_encoders_agree),
        cmocka_unit_test(test_acks),
        cmocka_unit_test(test_ack_forms),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_unsubscribe),
        cmocka_unit_test(test_suback),
        cmocka_unit_test(test_unsuback),
        cmocka_unit_test(test_ping_disconnect_auth),
        cmocka_unit_test(test_user_props_roundtrip),
        cmocka_unit_test(test_publish_topic_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
