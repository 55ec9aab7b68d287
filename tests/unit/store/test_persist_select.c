/* Durable key selection for state_store mode custom (store/persist_select.c):
 * patterns (SCAN's glob), exact keys (binary too), errors and bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "store/persist_select.h"

static store_persist_rules R;

static bool match(const char *k) { return store_persist_rules_match(&R, (const uint8_t *)k, strlen(k)); }

static void test_match(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    assert_false(match("anything")); /* no rules: nothing selected */
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_PATTERN, "dev/*/cfg", 9), STORE_PERSIST_ADD_OK);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_PATTERN, "lock-[0-9]", 10), STORE_PERSIST_ADD_OK);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, "a*", 2), STORE_PERSIST_ADD_OK);
    static const uint8_t bin[] = {0, 0xff, '*'};
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, bin, sizeof bin), STORE_PERSIST_ADD_OK);
    assert_true(match("dev/1/cfg"));
    assert_true(match("dev/a/b/cfg")); /* '*' crosses '/' */
    assert_false(match("dev/1/cfg2"));
    assert_true(match("lock-7"));
    assert_false(match("lock-x"));
    assert_true(match("a*"));
    assert_false(match("ab")); /* exact: '*' is literal */
    assert_true(store_persist_rules_match(&R, bin, sizeof bin));
    assert_false(store_persist_rules_match(&R, bin, 2));
    assert_int_equal(R.n, 4);
}

static void test_errors_and_bounds(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, "", 0), STORE_PERSIST_ADD_EMPTY);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_PATTERN, "[ab", 3), STORE_PERSIST_ADD_BAD_PATTERN);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_PATTERN, "\xff", 1), STORE_PERSIST_ADD_BAD_PATTERN);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, "\xff", 1), STORE_PERSIST_ADD_OK); /* bytes */
    assert_int_equal(R.n, 1);
    for (int i = 1; i < STORE_PERSIST_RULES_MAX; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, k, (size_t)n), STORE_PERSIST_ADD_OK);
    }
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, "x", 1), STORE_PERSIST_ADD_FULL);
    assert_true(match("k255"));
    /* The byte bound: one big key fills it, unchanged on refusal. */
    static uint8_t big[STORE_PERSIST_BYTES_MAX];
    memset(big, 'b', sizeof big);
    memset(&R, 0, sizeof R);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, "y", 1), STORE_PERSIST_ADD_OK);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, big, sizeof big), STORE_PERSIST_ADD_FULL);
    assert_int_equal(R.n, 1);
    assert_int_equal(store_persist_rules_add(&R, STORE_PERSIST_EXACT, big, sizeof big - 1), STORE_PERSIST_ADD_OK);
    assert_true(store_persist_rules_match(&R, big, sizeof big - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_errors_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
