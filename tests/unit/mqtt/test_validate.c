/* UTF-8, topic name and topic filter validation. */
#include <string.h>

#include "helpers.h"

static bool utf8(const char *hex)
{
    uint8_t b[32];
    size_t n = hex_parse(hex, b, sizeof b);
    return mqtt_utf8_valid(b, n);
}

static void test_utf8(void **state)
{
    assert_true(utf8(""));
    assert_true(utf8("61 62 63"));
    assert_true(utf8("c2 80"));       /* U+0080 */
    assert_true(utf8("df bf"));       /* U+07FF */
    assert_true(utf8("e0 a0 80"));    /* U+0800 */
    assert_true(utf8("ed 9f bf"));    /* U+D7FF */
    assert_true(utf8("ee 80 80"));    /* U+E000 */
    assert_true(utf8("ef bf bf"));    /* U+FFFF */
    assert_true(utf8("f0 90 80 80")); /* U+10000 */
    assert_true(utf8("f4 8f bf bf")); /* U+10FFFF */
    assert_false(utf8("00"));         /* NUL */
    assert_false(utf8("61 00 62"));
    assert_false(utf8("c0 80"));    /* overlong NUL */
    assert_false(utf8("c1 bf"));    /* overlong */
    assert_false(utf8("e0 80 80")); /* overlong 3-byte */
    assert_false(utf8("e0 9f bf"));
    assert_false(utf8("f0 80 80 80")); /* overlong 4-byte */
    assert_false(utf8("f0 8f bf bf"));
    assert_false(utf8("ed a0 80"));    /* U+D800 */
    assert_false(utf8("ed bf bf"));    /* U+DFFF */
    assert_false(utf8("f4 90 80 80")); /* U+110000 */
    assert_false(utf8("f5 80 80 80"));
    assert_false(utf8("ff"));
    assert_false(utf8("80")); /* lone continuation */
    assert_false(utf8("c2")); /* truncated */
    assert_false(utf8("e0 a0"));
    assert_false(utf8("f0 90 80"));
    assert_false(utf8("c2 41")); /* bad continuation */
    assert_false(utf8("e0 a0 c0"));
}

static bool topic(const char *s) { return mqtt_topic_valid((mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}); }

static bool filter(const char *s) { return mqtt_filter_valid((mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}); }

/* Long strings go through the word-at-a-time ASCII path: a NUL or a bad
 * byte must be caught at every offset, and valid multi-byte characters
 * must pass at every offset. */
/* Every length (the word-at-a-time check has a whole-word part and an
 * overlapping last word) and every position of a bad or multi-byte
 * character. */
static void test_utf8_long(void **state)
{
    (void)state;
    uint8_t s[40];
    for (size_t len = 1; len <= sizeof s; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(s, 'a', sizeof s);
            assert_true(mqtt_utf8_valid(s, len));
            s[at] = 0;
            assert_false(mqtt_utf8_valid(s, len));
            s[at] = 0xFF;
            assert_false(mqtt_utf8_valid(s, len));
            s[at] = 0xC3; /* a lead byte with its continuation cut off by the end, or followed by 'a' */
            assert_false(mqtt_utf8_valid(s, len));
            if (at + 1 < len) {
                s[at + 1] = 0xA9; /* é */
                assert_true(mqtt_utf8_valid(s, len));
            }
        }
    }
}

static void test_topic(void **state)
{
    assert_true(topic("a"));
    assert_true(topic("/"));
    assert_true(topic("a//b/"));
    assert_true(topic("$SYS/x"));
    assert_true(topic("caf\xc3\xa9"));
    assert_false(topic(""));
    assert_false(topic("a/+"));
    assert_false(topic("#"));
    assert_false(topic("a/b#"));
    assert_false(topic("\xc0\x80"));
}

static void test_filter(void **state)
{
    const char *good[] = {"a",          "#",         "+",     "/",      "a/#",        "+/+",        "a/+/b",
                          "/+",         "+/",        "//",    "$SYS/#", "$share/g/a", "$share/g/#", "$share/g/+/x",
                          "$share/g//", "$sharex/+", "$share"};
    const char *bad[] = {"",          "a#",         "#/a",         "a/#/b",       "a+",          "+a",
                         "a/b+/c",    "##",         "++",          "$share/",     "$share/g",    "$share/g/",
                         "$share//a", "$share/+/a", "$share/g#/a", "$share/g/a#", "\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!filter(good[i])) fail_msg("should be valid: '%s'", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (filter(bad[i])) fail_msg("should be invalid: '%s'", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_long),
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
