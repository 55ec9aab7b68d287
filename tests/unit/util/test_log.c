/* The JSON escaping of log lines (log_json_string). */
#include <string.h>

#include "tests.h"
#include "util/log.h"

static void expect_json(const char *in, size_t len, const char *want)
{
    buf b = {0};
    log_json_string(&b, in, len);
    buf_append_u8(&b, '\0');
    assert_string_equal((const char *)b.data, want);
    buf_free(&b);
}

static void test_json_plain_and_escapes(void **state)
{
    (void)state;
    expect_json("", 0, "\"\"");
    expect_json("client a connected", 18, "\"client a connected\"");
    expect_json("q\"b\\s", 5, "\"q\\\"b\\\\s\"");
    expect_json("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
    expect_json("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
    expect_json("n\0ul", 4, "\"n\\u0000ul\"");
}

static void test_json_utf8(void **state)
{
    (void)state;
    /* Valid sequences of each length are kept as they are. */
    expect_json("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 11, "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Each byte of an invalid sequence becomes U+FFFD: a lone
     * continuation byte, a truncated sequence, an overlong encoding, a
     * surrogate, a code point above U+10FFFF, 0xff. */
    expect_json("\x80", 1, "\"\\ufffd\"");
    expect_json("a\xe2\x82", 3, "\"a\\ufffd\\ufffd\"");
    expect_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
    expect_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
    expect_json("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    expect_json("\xff!", 2, "\"\\ufffd!\"");
}

static void test_level_names(void **state)
{
    (void)state;
    assert_string_equal(log_level_name(LOG_ERROR), "error");
    assert_string_equal(log_level_name(LOG_WARN), "warn");
    assert_string_equal(log_level_name(LOG_INFO), "info");
    assert_string_equal(log_level_name(LOG_DEBUG), "debug");
}

int run_log_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_plain_and_escapes),
        cmocka_unit_test(test_json_utf8),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
