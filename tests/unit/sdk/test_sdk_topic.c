/* Notification topics (§1.4) and payloads (§3.7) as the client decodes them. */
#include <stdlib.h>
#include <string.h>

#include "sdk_topic.h"
#include "tests.h"

#define PFX "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636C69656E742D696431/command/notify/"

static bool key_of(const char *topic, buf *k)
{
    k->len = 0;
    return sdk_topic_key(topic, PFX, k);
}

static void topics(void **state)
{
    char *prefix = sdk_notify_prefix("client-id1");
    assert_string_equal(prefix, PFX);
    free(prefix);
    char *rt = sdk_response_topic("c1");
    assert_string_equal(rt, "clients/c1/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-"
                            "08E2B32A0FE8/command/invoke/response");
    free(rt);
    buf k = {0};
    assert_true(key_of(PFX "534F4D454B4559", &k));
    assert_int_equal(k.len, 7);
    assert_memory_equal(k.data, "SOMEKEY", 7);
    assert_true(key_of(PFX "00ff0A", &k)); /* lower case tolerated */
    assert_memory_equal(k.data, "\x00\xff\x0a", 3);
    assert_false(key_of(PFX "ABC", &k));   /* odd length */
    assert_false(key_of(PFX "", &k));      /* empty key */
    assert_false(key_of(PFX "GG", &k));    /* not hex */
    assert_false(key_of(PFX "41/42", &k)); /* extra level */
    assert_false(key_of(PFX "4 ", &k));
    assert_false(key_of("clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/41/command/notify/41", &k));
    buf_free(&k);
}

static void payloads(void **state)
{
    mqs_notify_op op;
    const uint8_t *v;
    size_t n;
#define NP(s) sdk_notify_parse((const uint8_t *)(s), sizeof(s) - 1, &op, &v, &n)
    assert_true(NP("*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n"));
    assert_int_equal(op, MQS_NOTIFY_SET);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "abc", 3);
    assert_true(NP("*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$0\r\n\r\n"));
    assert_int_equal(n, 0);
    assert_true(NP("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"));
    assert_int_equal(op, MQS_NOTIFY_DELETE);
    assert_false(NP("*2\r\n$6\r\nNOTIFY\r\n$3\r\nDEL\r\n"));
    assert_false(NP("*3\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n$1\r\nx\r\n"));
    assert_false(NP("*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$-1\r\n"));
    assert_false(NP("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\nX"));
    assert_false(NP("*2\r\n$6\r\nnotify\r\n$6\r\nDELETE\r\n"));
    assert_false(NP("+OK\r\n"));
#undef NP
}

int run_topic_tests(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(topics), cmocka_unit_test(payloads)};
    return cmocka_run_group_tests_name("sdk_topic", tests, NULL, NULL);
}
