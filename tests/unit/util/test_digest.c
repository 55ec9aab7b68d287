#include "tests.h"

#include <string.h>

#include "util/digest.h"

static void test_deterministic(void **state)
{
    (void)state;
    const char *s = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    assert_int_equal(digest64(s, strlen(s)), digest64(s, strlen(s)));
    assert_int_equal(digest64(NULL, 0), digest64("", 0));
}

/* What the reply cache relies on: a changed byte anywhere, or a changed
 * length (zero padding included), gives a different digest. */
static void test_single_changes_differ(void **state)
{
    (void)state;
    uint8_t a[40] = {0}, b[40];
    uint64_t base = digest64(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++) {
        memcpy(b, a, sizeof a);
        b[i] ^= 1;
        assert_true(digest64(b, sizeof b) != base);
    }
    for (size_t n = 0; n < sizeof a; n++) assert_true(digest64(a, n) != digest64(a, n + 1));
}

int run_digest_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_single_changes_differ),
    };
    return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
