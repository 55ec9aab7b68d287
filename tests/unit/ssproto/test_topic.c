/* The state store's topic names (statestore-protocol.md §1.1, §1.4) and the
 * one notification namespace test the bridge and the authorization guard
 * share. The expected strings are spelled out from the spec on purpose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ssproto/topic.h"

#define NS "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8"

static bool in_ns(const char *t) { return notify_in_namespace(t, strlen(t)); }

static void test_request_topic(void **state)
{
    (void)state;
    assert_string_equal(SSPROTO_REQUEST_TOPIC, "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke");
    assert_string_equal(NOTIFY_TOPIC_PREFIX, NS "/");
}

static void test_namespace(void **state)
{
    (void)state;
    assert_true(in_ns(NS));
    assert_true(in_ns(NS "/"));
    assert_true(in_ns(NS "/41/command/notify/42"));
    assert_true(in_ns(NS "/#"));
    assert_true(in_ns(NS "/+/command/notify/+"));
    /* Above it, beside it, or a prefix of it: outside. */
    assert_false(in_ns("#"));
    assert_false(in_ns("clients/+/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/x"));
    assert_false(in_ns("clients/statestore/v1/#"));
    assert_false(in_ns(NS "X"));
    assert_false(in_ns(NS "-2/x"));
    assert_false(in_ns("clients/statestore/v1/FA9AE35F"));
    assert_false(in_ns(""));
    assert_false(in_ns("statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"));
}

static void test_notify_topic_build(void **state)
{
    (void)state;
    buf b = {0};
    notify_topic_build(&b, "6331", 4, "\x00\xff", 2);
    const char want[] = NS "/6331/command/notify/00FF";
    assert_int_equal(b.len, sizeof want - 1);
    assert_int_equal(b.len, notify_topic_len(2, 2));
    assert_memory_equal(b.data, want, b.len);
    assert_true(notify_in_namespace(b.data, b.len));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_topic),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_notify_topic_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
