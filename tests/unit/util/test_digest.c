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

/* The digest is stored in log records and snapshots (a request's
 * payload_digest), so its value must never change between versions:
 * known answers computed by the first implementation (byte-wise loads),
 * covering every tail length class. */
static void test_known_answers(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t want;
    } kat[] = {
        {"", 0x9ca066f1a4ab2eeaULL},
        {"a", 0x049603088011f1b2ULL},
        {"abcdefg", 0xd646d94990126e74ULL},
        {"abcdefgh", 0xdd27b0b573ead7a3ULL},
        {"abcdefghi", 0x3c9cca7ec636eb32ULL},
        {"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000001\r\n$5\r\nhello\r\n", 0xf9d8d934a762df51ULL},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++)
        assert_true(digest64(kat[i].in, strlen(kat[i].in)) == kat[i].want);
}

int run_digest_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_single_changes_differ),
        cmocka_unit_test(test_known_answers),
    };
    return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
