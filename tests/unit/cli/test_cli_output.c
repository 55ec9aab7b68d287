/* The encoders behind mqstate's output: hex, escaped display, UTF-8
 * checks and --json objects (base64 and string escapes). */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "display.h"
#include "json.h"

/* Runs `fn` with a memory stream and returns what it wrote (to free). */
static char *capture_display(const void *data, size_t len, bool hex)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cli_display_bytes(out, data, len, hex);
    fclose(out);
    return text;
}

static void test_display(void **state)
{
    char *s = capture_display("a b\n\r\t\\\x01\x7f\xff\xc3\xa9", 12, false);
    assert_string_equal(s, "a b\\n\\r\\t\\\\\\x01\\x7f\\xff\xc3\xa9");
    free(s);
    s = capture_display("\0\xff", 2, true);
    assert_string_equal(s, "00ff");
    free(s);
}

static void test_hex_and_utf8(void **state)
{
    struct cli_bytes b = {0};
    assert_true(cli_hex_decode(&b, "00Ff0a"));
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "\0\xff\n", 3);
    assert_false(cli_hex_decode(&b, "0"));
    assert_false(cli_hex_decode(&b, "zz"));
    assert_true(cli_hex_decode(&b, ""));
    assert_int_equal(b.len, 0);
    cli_bytes_free(&b);
    assert_true(cli_utf8_valid((const uint8_t *)"h\xc3\xa9\xf0\x9f\x98\x80", 8));
    assert_false(cli_utf8_valid((const uint8_t *)"\xc0\x80", 2));     /* overlong */
    assert_false(cli_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
    assert_false(cli_utf8_valid((const uint8_t *)"\xe2\x82", 2));     /* truncated */
    assert_false(cli_utf8_valid((const uint8_t *)"\xff", 1));
}

static char *json_of(const void *value, size_t len, bool hex)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    struct cli_json j;
    cli_json_begin(&j, out, hex);
    cli_json_string(&j, "op", "get");
    cli_json_bytes(&j, "value", value, len);
    cli_json_int(&j, "count", -1);
    cli_json_bool(&j, "found", true);
    cli_json_end(&j);
    fclose(out);
    return text;
}

static void test_json(void **state)
{
    char *s = json_of("a\"\\\n\x01", 5, false);
    assert_string_equal(s, "{\"op\":\"get\",\"value\":\"a\\\"\\\\\\n\\u0001\","
                           "\"value_base64\":\"YSJcCgE=\",\"count\":-1,\"found\":true}\n");
    free(s);
    s = json_of("\xff\0", 2, false); /* not UTF-8: only the encoded field */
    assert_string_equal(s, "{\"op\":\"get\",\"value_base64\":\"/wA=\",\"count\":-1,"
                           "\"found\":true}\n");
    free(s);
    s = json_of("abc", 3, true);
    assert_string_equal(s, "{\"op\":\"get\",\"value\":\"abc\",\"value_hex\":\"616263\","
                           "\"count\":-1,\"found\":true}\n");
    free(s);
    s = json_of("", 0, false);
    assert_string_equal(s, "{\"op\":\"get\",\"value\":\"\",\"value_base64\":\"\","
                           "\"count\":-1,\"found\":true}\n");
    free(s);
}

int run_cli_output_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_display),
        cmocka_unit_test(test_hex_and_utf8),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests_name("cli_output", tests, NULL, NULL);
}
