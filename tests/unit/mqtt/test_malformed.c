/* Decode-level validation: each input must fail with exactly the listed
 * reason code (or succeed, for the edge cases the spec allows). Inputs are a
 * first byte and a body in hex; the remaining length is filled in, unless
 * `raw` gives the whole packet (for length mismatches). */
#include <stdio.h>
#include <string.h>

#include "helpers.h"

struct mcase {
    const char *name;
    uint8_t version;
    const char *first; /* first byte; with body == NULL, the whole packet */
    const char *body;
    int rc;
};

#define V4 MQTT_V311
#define V5 MQTT_V5
#define OK MQTT_RC_SUCCESS
#define MAL MQTT_RC_MALFORMED
#define PE MQTT_RC_PROTOCOL_ERROR

/* CONNECT prefixes: protocol name, level, then flags follow. */
#define C4 "00 04 4d 51 54 54 04 "
#define C5 "00 04 4d 51 54 54 05 "
/* PUBLISH QoS 0 topic "t" (the v5 property block follows). */
#define PT "00 01 74 "

static const struct mcase cases[] = {
    /* fixed header and length */
    {"type 0", V4, "00", "", MAL},
    {"pingreq with body", V4, "c0", "00", MAL},
    {"body shorter than length", V4, "c0 01", NULL, MAL},
    {"bytes beyond length", V4, "c0 00 00", NULL, MAL},
    {"publish truncated", V4, "30 05 00 01 74", NULL, MAL},
    {"non-minimal length", V4, "c0 80 00", NULL, MAL},
    {"pingreq flags", V4, "c1", "", MAL},
    {"pingresp flags", V5, "d8", "", MAL},
    {"pubrel flags 0", V4, "60", "00 01", MAL},
    {"puback flags 2", V5, "42", "00 01", MAL},
    {"subscribe flags 0", V4, "80", "00 01 00 01 61 00", MAL},
    {"unsubscribe flags 3", V5, "a3", "00 01 00 00 01 61", MAL},
    {"connect flags", V4, "11", C4 "02 00 3c 00 01 63", MAL},
    {"disconnect flags", V5, "e2", "", MAL},
    {"auth in 3.1.1", V4, "f0", "", MAL},

    /* PUBLISH */
    {"qos 3", V4, "36", PT "00 01", MAL},
    {"qos 3 v5", V5, "36", PT "00 01 00", MAL},
    {"dup on qos 0", V4, "38", PT, MAL},
    {"dup on qos 0 v5", V5, "38", PT "00", MAL},
    {"topic +", V4, "30", "00 03 61 2f 2b", MQTT_RC_TOPIC_NAME_INVALID},
    {"topic #", V5, "30", "00 01 23 00", MQTT_RC_TOPIC_NAME_INVALID},
    {"topic overlong utf8", V4, "30", "00 02 c0 80", MAL},
    {"topic NUL", V5, "30", "00 01 00 00", MAL},
    {"topic surrogate", V5, "30", "00 03 ed a0 80 00", MAL},
    {"topic longer than body", V4, "30", "00 05 74", MAL},
    {"packet id 0", V4, "32", PT "00 00", MAL},
    {"packet id 0 v5", V5, "34", PT "00 00 00", PE},
    {"packet id truncated", V4, "32", PT "00", MAL},
    {"empty topic", V4, "30", "00 00", MAL},
    {"empty topic no alias", V5, "30", "00 00 00", PE},
    {"empty topic with alias", V5, "30", "00 00 03 23 00 01", OK},
    {"client sends sub id", V5, "30", PT "02 0b 01", PE},
    {"topic alias 0", V5, "30", PT "03 23 00 00", MQTT_RC_TOPIC_ALIAS_INVALID},
    {"v5 props missing", V5, "30", PT, MAL},

    /* properties */
    {"unknown property 0x04", V5, "30", PT "02 04 00", MAL},
    {"unknown property 0x00", V5, "30", PT "01 00", MAL},
    {"unknown property 0x7f", V5, "30", PT "01 7f", MAL},
    {"property id non-minimal", V5, "30", PT "03 81 00 00", MAL},
    {"property length non-minimal", V5, "30", PT "80 00", MAL},
    {"property length too long", V5, "30", PT "05 01 00", MAL},
    {"property value truncated", V5, "30", PT "02 02 00", MAL},
    {"session expiry in publish", V5, "30", PT "05 11 00 00 00 01", MAL},
    {"will delay in publish", V5, "30", PT "05 18 00 00 00 01", MAL},
    {"duplicate message expiry", V5, "30", PT "0a 02 00 00 00 01 02 00 00 00 01", PE},
    {"duplicate topic alias", V5, "30", PT "06 23 00 01 23 00 01", PE},
    {"payload format 2", V5, "30", PT "02 01 02", PE},
    {"content type bad utf8", V5, "30", PT "05 03 00 02 c0 80", MAL},
    {"user property bad value", V5, "30", PT "07 26 00 01 61 00 01 ff", MAL},
    {"user property bad key", V5, "30", PT "07 26 00 01 ff 00 01 61", MAL},
    {"user property truncated", V5, "30", PT "05 26 00 01 61 00", MAL},
    {"repeated user property", V5, "30", PT "0e 26 00 01 61 00 01 61 26 00 01 61 00 01 61", OK},
    {"response topic wildcard", V5, "30", PT "04 08 00 01 23", PE},
    {"correlation data truncated", V5, "30", PT "03 09 00 05", MAL},

    /* CONNECT */
    {"protocol name", V4, "10", "00 04 4d 51 54 58 04 02 00 3c 00 01 63", MQTT_RC_UNSUPPORTED_VERSION},
    {"level 3 with MQTT", V4, "10", "00 04 4d 51 54 54 03 02 00 3c 00 01 63", MQTT_RC_UNSUPPORTED_VERSION},
    {"level 6", V5, "10", "00 04 4d 51 54 54 06 02 00 3c 00 00 01 63", MQTT_RC_UNSUPPORTED_VERSION},
    {"MQIsdp level 4", V4, "10", "00 06 4d 51 49 73 64 70 04 02 00 3c 00 01 63", MQTT_RC_UNSUPPORTED_VERSION},
    {"MQIsdp level 3", V4, "10", "00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63", OK},
    {"name truncated", V4, "10", "00 04 4d 51", MAL},
    {"level missing", V4, "10", "00 04 4d 51 54 54", MAL},
    {"keep alive missing", V4, "10", C4 "02 00", MAL},
    {"reserved connect flag", V4, "10", C4 "03 00 3c 00 01 63", MAL},
    {"reserved connect flag v5", V5, "10", C5 "01 00 3c 00 00 01 63", MAL},
    {"will qos 3", V4, "10", C4 "1e 00 3c 00 01 63 00 01 74 00 00", MAL},
    {"will qos without will", V4, "10", C4 "0a 00 3c 00 01 63", MAL},
    {"will retain without will", V5, "10", C5 "22 00 3c 00 00 01 63", MAL},
    {"password without username", V4, "10", C4 "42 00 3c 00 01 63 00 01 70", MAL},
    {"password without username v5", V5, "10", C5 "42 00 3c 00 00 01 63 00 01 70", OK},
    {"client id bad utf8", V4, "10", C4 "02 00 3c 00 01 80", MAL},
    {"client id missing", V4, "10", C4 "02 00 3c", MAL},
    {"will topic wildcard", V4, "10", C4 "06 00 3c 00 01 63 00 01 23 00 00", MQTT_RC_TOPIC_NAME_INVALID},
    {"will payload missing", V4, "10", C4 "06 00 3c 00 01 63 00 01 74", MAL},
    {"username missing", V4, "10", C4 "82 00 3c 00 01 63", MAL},
    {"username bad utf8", V4, "10", C4 "82 00 3c 00 01 63 00 01 c2", MAL},
    {"connect trailing byte", V4, "10", C4 "02 00 3c 00 01 63 00", MAL},
    {"request problem info 2", V5, "10", C5 "02 00 3c 02 17 02 00 01 63", PE},
    {"request response info 2", V5, "10", C5 "02 00 3c 02 19 02 00 01 63", PE},
    {"receive maximum 0", V5, "10", C5 "02 00 3c 03 21 00 00 00 01 63", PE},
    {"max packet size 0", V5, "10", C5 "02 00 3c 05 27 00 00 00 00 00 01 63", PE},
    {"duplicate session expiry", V5, "10", C5 "02 00 3c 0a 11 00 00 00 01 11 00 00 00 01 00 01 63", PE},
    {"auth data without method", V5, "10", C5 "02 00 3c 04 16 00 01 78 00 01 63", PE},
    {"auth data with method", V5, "10", C5 "02 00 3c 08 16 00 01 78 15 00 01 6d 00 01 63", OK},
    {"will delay in connect", V5, "10", C5 "02 00 3c 05 18 00 00 00 01 00 01 63", MAL},
    {"topic alias in connect", V5, "10", C5 "02 00 3c 03 23 00 01 00 01 63", MAL},
    {"session expiry in will", V5, "10", C5 "06 00 3c 00 00 01 63 05 11 00 00 00 01 00 01 74 00 00", MAL},
    {"will payload format 2", V5, "10", C5 "06 00 3c 00 00 01 63 02 01 02 00 01 74 00 00", PE},
    {"will with delay", V5, "10", C5 "06 00 3c 00 00 01 63 05 18 00 00 00 05 00 01 74 00 00", OK},

    /* CONNACK */
    {"connack flags", V4, "20", "02 00", MAL},
    {"connack return code 6", V4, "20", "00 06", MAL},
    {"connack v311 with props", V4, "20", "00 00 00", MAL},
    {"connack v5 reason 0x01", V5, "20", "00 01 00", PE},
    {"connack v5 props missing", V5, "20", "00 00", MAL},
    {"connack max qos 2", V5, "20", "00 00 02 24 02", PE},
    {"connack retain available 2", V5, "20", "00 00 02 25 02", PE},
    {"connack wildcard available 2", V5, "20", "00 00 02 28 02", PE},
    {"connack sub id available 2", V5, "20", "00 00 02 29 02", PE},
    {"connack shared available 2", V5, "20", "00 00 02 2a 02", PE},
    {"connack will delay", V5, "20", "00 00 05 18 00 00 00 01", MAL},

    /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    {"puback id 0", V4, "40", "00 00", MAL},
    {"pubrec id 0 v5", V5, "50", "00 00", PE},
    {"puback truncated", V5, "40", "00", MAL},
    {"puback v311 reason", V4, "40", "00 01 00", MAL},
    {"puback v5 reason only", V5, "40", "00 01 10", OK},
    {"puback bad reason", V5, "40", "00 01 05", PE},
    {"pubrel bad reason", V5, "62", "00 01 10", PE},
    {"pubcomp bad reason", V5, "70", "00 01 80", PE},
    {"puback sub id", V5, "40", "00 01 00 02 0b 01", MAL},
    {"puback props too long", V5, "40", "00 01 00 03 1f 00", MAL},

    /* SUBSCRIBE */
    {"subscribe no filters", V4, "82", "00 01", MAL},
    {"subscribe no filters v5", V5, "82", "00 01 00", PE},
    {"subscribe id 0", V4, "82", "00 00 00 01 61 00", MAL},
    {"subscribe id 0 v5", V5, "82", "00 00 00 00 01 61 00", PE},
    {"subscribe options missing", V4, "82", "00 01 00 01 61", MAL},
    {"subscribe filter bad utf8", V5, "82", "00 01 00 00 01 ff 00", MAL},
    {"subscribe v311 upper bits", V4, "82", "00 01 00 01 61 04", MAL},
    {"subscribe v311 qos 3", V4, "82", "00 01 00 01 61 03", MAL},
    {"subscribe reserved bit 6", V5, "82", "00 01 00 00 01 61 40", MAL},
    {"subscribe reserved bit 7", V5, "82", "00 01 00 00 01 61 80", MAL},
    {"subscribe qos 3", V5, "82", "00 01 00 00 01 61 03", PE},
    {"subscribe retain handling 3", V5, "82", "00 01 00 00 01 61 30", PE},
    {"subscribe no local shared", V5, "82", "00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04", PE},
    {"subscribe bad filter syntax", V5, "82", "00 01 00 00 02 61 23 00", OK},
    {"subscribe empty filter", V4, "82", "00 01 00 00 00", OK},
    {"subscribe second entry bad", V4, "82", "00 01 00 01 61 00 00 01 62 07", MAL},
    {"subscribe sub id 0", V5, "82", "00 01 02 0b 00 00 01 61 00", PE},
    {"subscribe sub id twice", V5, "82", "00 01 04 0b 01 0b 02 00 01 61 00", PE},
    {"subscribe topic alias", V5, "82", "00 01 03 23 00 01 00 01 61 00", MAL},

    /* UNSUBSCRIBE */
    {"unsubscribe no filters", V4, "a2", "00 01", MAL},
    {"unsubscribe no filters v5", V5, "a2", "00 01 00", PE},
    {"unsubscribe id 0", V4, "a2", "00 00 00 01 61", MAL},
    {"unsubscribe bad utf8", V4, "a2", "00 01 00 01 c0", MAL},
    {"unsubscribe truncated filter", V5, "a2", "00 01 00 00 03 61", MAL},
    {"unsubscribe reason string", V5, "a2", "00 01 04 1f 00 01 61 00 01 61", MAL},

    /* SUBACK, UNSUBACK */
    {"suback v311 code 3", V4, "90", "00 01 03", MAL},
    {"suback v311 code 0x8f", V4, "90", "00 01 8f", MAL},
    {"suback v5 code 3", V5, "90", "00 01 00 03", PE},
    {"suback no codes", V4, "90", "00 01", MAL},
    {"suback no codes v5", V5, "90", "00 01 00", PE},
    {"unsuback v311 payload", V4, "b0", "00 01 00", MAL},
    {"unsuback v5 bad code", V5, "b0", "00 01 00 01", PE},
    {"unsuback v5 no codes", V5, "b0", "00 01 00", PE},

    /* DISCONNECT, AUTH */
    {"disconnect v311 body", V4, "e0", "00", MAL},
    {"disconnect bad reason", V5, "e0", "05", PE},
    {"disconnect topic alias", V5, "e0", "00 03 23 00 01", MAL},
    {"disconnect session expiry", V5, "e0", "00 05 11 00 00 00 01", OK},
    {"disconnect props truncated", V5, "e0", "00 05 11 00", MAL},
    {"auth bad reason", V5, "f0", "01", PE},
    {"auth session expiry", V5, "f0", "18 05 11 00 00 00 01", MAL},
    {"auth continue", V5, "f0", "18 04 15 00 01 6d", OK},
};

static size_t build(const struct mcase *c, uint8_t *out, size_t cap)
{
    if (!c->body) return hex_parse(c->first, out, cap);
    uint8_t body[128];
    size_t n = hex_parse(c->body, body, sizeof body);
    buf b = {0};
    assert_int_equal(hex_parse(c->first, out, cap), 1);
    buf_append_u8(&b, out[0]);
    mqtt_varint_append(&b, (uint32_t)n);
    buf_append(&b, body, n);
    assert_true(b.len <= cap);
    memcpy(out, b.data, b.len);
    n = b.len;
    buf_free(&b);
    return n;
}

static void test_table(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bytes[160];
        size_t n = build(&cases[i], bytes, sizeof bytes);
        mqtt_packet p;
        int rc = mqtt_decode(bytes, n, cases[i].version, &p);
        if (rc != cases[i].rc) {
            printf("case '%s': got 0x%02x, want 0x%02x\n", cases[i].name, rc, cases[i].rc);
            failures++;
        }
        if (rc == MQTT_RC_SUCCESS) mqtt_packet_release(&p);
    }
    assert_int_equal(failures, 0);
}

static void test_unsupported_version_is_reported(void **state)
{
    uint8_t b[32];
    size_t n = hex_parse("10 0d 00 04 4d 51 54 54 07 02 00 3c 00 01 63", b, sizeof b);
    mqtt_packet p;
    assert_int_equal(mqtt_decode(b, n, 0, &p), MQTT_RC_UNSUPPORTED_VERSION);
    assert_int_equal(p.type, MQTT_CONNECT);
    assert_int_equal(p.connect.version, 7);
}

/* CONNECT decodes by its own level, whatever the connection's version. */
static void test_connect_ignores_version_argument(void **state)
{
    uint8_t b[32];
    size_t n = hex_parse("10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63", b, sizeof b);
    mqtt_packet p;
    assert_int_equal(mqtt_decode(b, n, MQTT_V311, &p), MQTT_RC_SUCCESS);
    assert_int_equal(p.connect.version, MQTT_V5);
    assert_bytes_eq(B("c"), p.connect.client_id);
}

/* Every prefix of a valid packet, decoded as if complete, is refused
 * (except prefixes that merely shorten a PUBLISH payload). */
static void test_truncations(void **state)
{
    const char *pkts[] = {
        "10 1a 00 04 4d 51 54 54 05 c6 00 3c 00 00 01 63 00 00 01 74 00 00 00 01 75 00 01 70",
        "34 0c 00 01 74 00 07 05 02 00 00 00 01 78",
        "82 0b 00 0a 00 00 05 61 2f 2b 2f 63 05",
    };
    const size_t payload[] = {0, 1, 0};
    for (size_t k = 0; k < 3; k++) {
        uint8_t b[64];
        size_t n = hex_parse(pkts[k], b, sizeof b);
        mqtt_packet p;
        assert_int_equal(mqtt_decode(b, n, MQTT_V5, &p), MQTT_RC_SUCCESS);
        mqtt_packet_release(&p);
        for (size_t cut = 2; cut < n - payload[k]; cut++) {
            b[1] = (uint8_t)(cut - 2);
            assert_int_not_equal(mqtt_decode(b, cut, MQTT_V5, &p), MQTT_RC_SUCCESS);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_unsupported_version_is_reported),
        cmocka_unit_test(test_connect_ignores_version_argument),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
