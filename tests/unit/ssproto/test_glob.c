/* SCAN glob matching (statestore-protocol.md §3.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ssproto/glob.h"

static bool m(const char *pat, const char *s)
{
    return glob_match((const uint8_t *)pat, strlen(pat), (const uint8_t *)s, strlen(s));
}

static void test_literal_and_star(void **state)
{
    (void)state;
    assert_true(m("abc", "abc"));
    assert_false(m("abc", "abcd"));
    assert_false(m("abcd", "abc"));
    assert_true(m("", ""));
    assert_false(m("", "a"));
    assert_true(m("*", ""));
    assert_true(m("*", "anything/with/slashes"));
    assert_true(m("a*", "a"));
    assert_true(m("a*c", "abbbc"));
    assert_false(m("a*c", "abbbd"));
    assert_true(m("*c", "cccc"));
    assert_true(m("a*b*c", "axxbyyc"));
    assert_false(m("a*b*c", "axxcyyb"));
    assert_true(m("**", "x"));
    assert_true(m("*a*a*a*a*b", "aaaaaaaaaaaaaaaab"));
    assert_false(m("*a*a*a*a*b", "aaaaaaaaaaaaaaaaa"));
    assert_true(m("lock-*", "lock-1"));
}

static void test_question(void **state)
{
    (void)state;
    assert_true(m("a?c", "abc"));
    assert_false(m("a?c", "ac"));
    assert_false(m("a?c", "abbc"));
    assert_true(m("???", "abc"));
    /* ? is one character, not one byte: U+00E9 (2 bytes), U+1F600 (4). */
    assert_true(m("a?c", "a\xC3\xA9"
                         "c"));
    assert_true(m("?", "\xF0\x9F\x98\x80"));
    assert_false(m("??", "\xF0\x9F\x98\x80"));
}

static void test_classes(void **state)
{
    (void)state;
    assert_true(m("[abc]", "b"));
    assert_false(m("[abc]", "d"));
    assert_true(m("k[0-9]", "k7"));
    assert_false(m("k[0-9]", "kx"));
    assert_true(m("[!abc]", "d"));
    assert_false(m("[!abc]", "a"));
    assert_true(m("[!a-c]x", "zx"));
    assert_false(m("[!a-c]x", "bx"));
    assert_true(m("[a-cx-z]", "y"));
    /* literal metacharacters through classes */
    assert_true(m("a[*]", "a*"));
    assert_false(m("a[*]", "ab"));
    assert_true(m("[?]", "?"));
    assert_true(m("[[]", "["));
    assert_true(m("[]]", "]"));
    assert_true(m("[!]]", "a"));
    assert_false(m("[!]]", "]"));
    assert_true(m("[-a]", "-"));
    assert_true(m("[a-]", "-"));
    /* classes and ranges over UTF-8 characters */
    assert_true(m("[\xC3\xA9\xC3\xA8]", "\xC3\xA8"));
    assert_true(m("[\xCE\xB1-\xCF\x89]", "\xCE\xBB")); /* alpha..omega contains lambda */
    assert_false(m("[\xCE\xB1-\xCF\x89]", "z"));
    assert_true(m("[!a]", "\xC3\xA9"));
    assert_true(m("*[0-9]", "abc9"));
}

static void test_invalid(void **state)
{
    (void)state;
    /* non-UTF-8 subject never matches, not even "*" */
    assert_false(glob_match((const uint8_t *)"*", 1, (const uint8_t *)"\xFF", 1));
    assert_false(m("*", "a\xC3"));        /* truncated */
    assert_false(m("*", "\xC0\xAF"));     /* overlong */
    assert_false(m("*", "\xED\xA0\x80")); /* surrogate */
    /* NUL is a valid character */
    assert_true(glob_match((const uint8_t *)"a?b", 3, (const uint8_t *)"a\0b", 3));
    /* invalid patterns match nothing */
    assert_false(glob_valid((const uint8_t *)"\xFF*", 2));
    assert_false(glob_match((const uint8_t *)"\xFF*", 2, (const uint8_t *)"x", 1));
    assert_false(glob_valid((const uint8_t *)"[abc", 4));
    assert_false(m("[abc", "a"));
    assert_false(m("[", "["));
    assert_false(m("[!", "x"));
    assert_true(glob_valid((const uint8_t *)"[]]*", 4));
    assert_true(glob_valid((const uint8_t *)"", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_star),
        cmocka_unit_test(test_question),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
