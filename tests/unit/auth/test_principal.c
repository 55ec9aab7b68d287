/* The principal's byte encoding (durable sessions keep their owner):
 * round trips, and every cut or damaged encoding refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/principal.h"

static uint8_t *encode(const principal *p, size_t *n)
{
    *n = principal_encode(p, NULL, 0);
    uint8_t *b = malloc(*n);
    uint8_t small[4];
    assert_int_equal(principal_encode(p, small, sizeof small), *n); /* too small: length only */
    assert_int_equal(principal_encode(p, b, *n), *n);
    return b;
}

static void round_trip(principal *p)
{
    size_t n;
    uint8_t *b = encode(p, &n);
    principal *q = principal_decode(b, n);
    assert_non_null(q);
    assert_true(principal_same(p, q));
    for (size_t cut = 0; cut < n; cut++) assert_null(principal_decode(b, cut));
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_null(principal_decode(longer, n + 1));
    free(longer);
    principal_free(q);
    free(b);
    principal_free(p);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip(principal_new("dev-1", 5, NULL, 0, "anonymous"));
    round_trip(principal_new("dev-1", 5, "", 0, "anonymous")); /* an empty user name is present */
    round_trip(principal_new("c", 1, "alice", 5, "password"));
    principal *x = principal_new("sensor", 6, "CN=s", 4, "x509");
    principal_add_attr(x, "O", "acme");
    principal_add_attr(x, "OU", "");
    round_trip(x);
}

static void test_refused(void **state)
{
    (void)state;
    principal *p = principal_new("c", 1, "alice", 5, "password");
    size_t n;
    uint8_t *b = encode(p, &n);
    b[0] = 2; /* version */
    assert_null(principal_decode(b, n));
    b[0] = 1;
    b[5] = 'X'; /* method "Xassword" */
    assert_null(principal_decode(b, n));
    free(b);
    principal_free(p);
    principal *a = principal_new("c", 1, NULL, 0, "anonymous");
    principal_add_attr(a, "k", "v");
    b = encode(a, &n);
    b[n - 1] = 0; /* a NUL inside an attribute value */
    assert_null(principal_decode(b, n));
    free(b);
    principal_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
