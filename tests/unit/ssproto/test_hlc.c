/* Hybrid Logical Clock (statestore-protocol.md §4): parsing, formatting,
 * ordering, the server clock's update rules and the skew check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ssproto/hlc.h"

static hlc parse_ok(const char *s)
{
    hlc v;
    if (!hlc_parse(s, strlen(s), &v)) fail_msg("rejected \"%s\"", s);
    return v;
}

static hlc mk(uint64_t wall, uint64_t counter, const char *node)
{
    return (hlc){wall, counter, (const uint8_t *)node, strlen(node)};
}

static void assert_hlc(hlc v, uint64_t wall, uint64_t counter, const char *node)
{
    assert_true(v.wall_ms == wall);
    assert_true(v.counter == counter);
    assert_int_equal(v.node_len, strlen(node));
    assert_memory_equal(v.node, node, v.node_len);
}

static void assert_formats(hlc v, const char *want)
{
    buf b = {0};
    hlc_format(&v, &b);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

/* --- parse ------------------------------------------------------------------- */

static void test_parse_valid(void **state)
{
    (void)state;
    assert_hlc(parse_ok("1696374425000:0:Client1"), 1696374425000, 0, "Client1");
    assert_hlc(parse_ok("001696374425000:00001:StateStore"), 1696374425000, 1, "StateStore");
    assert_hlc(parse_ok("0:0:x"), 0, 0, "x");
    assert_hlc(parse_ok("9999999999999999999:18446744073709551615:n"), HLC_WALL_MAX, UINT64_MAX, "n");
    /* Leading zeros beyond 19 digits do not count towards the limit. */
    assert_hlc(parse_ok("0000000000000000000001:2:n"), 1, 2, "n");
    /* Node ids are any non-empty bytes without ':'. */
    assert_hlc(parse_ok("1:2:a b\tc-\xC3\xA9/#+"), 1, 2, "a b\tc-\xC3\xA9/#+");
    assert_hlc(parse_ok("1:2:0195f2e1-6a4b-7c9d-8e0f-123456789abc"), 1, 2, "0195f2e1-6a4b-7c9d-8e0f-123456789abc");

    /* The node id borrows the input and may hold NUL bytes. */
    static const char in[] = "5:6:a\0b";
    hlc v;
    assert_true(hlc_parse(in, sizeof in - 1, &v));
    assert_ptr_equal(v.node, (const uint8_t *)in + 4);
    assert_int_equal(v.node_len, 3);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "1",
        "1:2",
        "1:2:",    /* empty node */
        "1:2:a:b", /* four parts */
        "1:2:a:",
        "1::a", /* empty counter */
        ":2:a", /* empty wall */
        "::",
        ":::",
        "-1:2:a", /* signs */
        "+1:2:a",
        "1:-2:a",
        "1:+2:a",
        " 1:2:a", /* spaces */
        "1 :2:a",
        "1: 2:a",
        "1:2 :a",
        "1.5:2:a", /* fractions / exponents (.NET double) */
        "1:2.0:a",
        "1e3:2:a",
        "0x10:2:a",
        "10000000000000000000:2:a", /* wall > 19 digits */
        "18446744073709551615:2:a", /* fits u64 but > HLC_WALL_MAX */
        "99999999999999999999999:2:a",
        "1:18446744073709551616:a", /* counter overflows u64 */
        "1:99999999999999999999999:a",
        "a:2:n",
        "1:b:n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hlc v;
        if (hlc_parse(bad[i], strlen(bad[i]), &v)) fail_msg("accepted \"%s\"", bad[i]);
    }
    hlc v;
    assert_false(hlc_parse("1\0:2:a", 6, &v)); /* NUL in a number */
    assert_false(hlc_parse(NULL, 0, &v));
}

/* --- format ------------------------------------------------------------------- */

static void test_format(void **state)
{
    (void)state;
    assert_formats(mk(1696374425000, 1, "StateStore"), "001696374425000:00001:StateStore");
    assert_formats(mk(0, 0, "n"), "000000000000000:00000:n");
    assert_formats(mk(1234567890123456, 123456, "n"), "1234567890123456:123456:n");
    assert_formats(mk(HLC_WALL_MAX, UINT64_MAX, "n"), "9999999999999999999:18446744073709551615:n");
    assert_formats(mk(UINT64_MAX, 0, "n"), "18446744073709551615:00000:n");

    /* Appends; the node id is copied verbatim. */
    buf b = {0};
    buf_append(&b, "x", 1);
    hlc v = {1, 2, (const uint8_t *)"a\0b", 3};
    hlc_format(&v, &b);
    assert_int_equal(b.len, 1 + 22 + 3);
    assert_memory_equal(b.data, "x000000000000001:00002:a\0b", b.len);
    buf_free(&b);
}

/* Every digit count and the values around each power of ten, against
 * printf (the formatter writes two digits per step). */
static void test_format_digit_boundaries(void **state)
{
    (void)state;
    uint64_t p10 = 1;
    for (int e = 0; e < 20; e++, p10 *= 10) {
        for (int d = -1; d <= 1; d++) {
            uint64_t w = p10 + (uint64_t)d;
            if (e == 0 && d < 0) w = 0;
            char want[64];
            snprintf(want, sizeof want, "%015llu:%05llu:n", (unsigned long long)w, (unsigned long long)(w % 1000003));
            buf b = {0};
            hlc v = mk(w, w % 1000003, "n");
            hlc_format(&v, &b);
            assert_int_equal(b.len, strlen(want));
            assert_memory_equal(b.data, want, b.len);
            if (w <= HLC_WALL_MAX) {
                hlc back;
                assert_true(hlc_parse(b.data, b.len, &back));
                assert_true(back.wall_ms == w && back.counter == w % 1000003);
            }
            buf_free(&b);
        }
    }
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    static const char *in[] = {"1696374425000:0:Client1", "0:0:x", "7:2147483647:StateStore",
                               "9999999999999999999:18446744073709551615:n"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        hlc a = parse_ok(in[i]), b;
        buf out = {0};
        hlc_format(&a, &out);
        assert_true(hlc_parse(out.data, out.len, &b));
        assert_int_equal(hlc_compare(&a, &b), 0);
        buf_free(&out);
    }
}

/* --- compare -------------------------------------------------------------------- */

static void test_compare(void **state)
{
    (void)state;
    /* Strictly ascending in the §4.3 order. */
    hlc order[] = {
        mk(1, 5, "z"), mk(2, 0, "b"),    mk(2, 1, "a"), mk(2, 1, "ab"),
        mk(2, 1, "b"), mk(2, 1, "\xFF"), mk(2, 10, ""), mk(UINT64_MAX, 0, "a"),
    };
    size_t n = sizeof order / sizeof order[0];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = hlc_compare(&order[i], &order[j]);
            int want = (i > j) - (i < j);
            if (c != want) fail_msg("compare(%zu, %zu) = %d, want %d", i, j, c, want);
        }
    }
    /* Equal values with different storage compare equal. */
    hlc a = parse_ok("001:0002:node"), b = mk(1, 2, "node");
    assert_int_equal(hlc_compare(&a, &b), 0);
    /* Counters above int32 and walls above int64 are compared as u64. */
    hlc big = mk(1, UINT64_C(1) << 63, "n"), small = mk(1, 1, "n");
    assert_true(hlc_compare(&big, &small) > 0);
}

/* --- skew ------------------------------------------------------------------------- */

static void test_too_far_ahead(void **state)
{
    (void)state;
    uint64_t now = 1696374425000;
    hlc v = mk(now + HLC_MAX_SKEW_MS, 0, "c");
    assert_false(hlc_too_far_ahead(&v, now, HLC_MAX_SKEW_MS)); /* exactly 60 s: accepted */
    v.wall_ms++;
    assert_true(hlc_too_far_ahead(&v, now, HLC_MAX_SKEW_MS));
    v.wall_ms = now;
    assert_false(hlc_too_far_ahead(&v, now, HLC_MAX_SKEW_MS));
    v.wall_ms = 0; /* the past is always fine */
    assert_false(hlc_too_far_ahead(&v, now, HLC_MAX_SKEW_MS));
    v.wall_ms = now + 10ULL * 365 * 24 * 3600 * 1000; /* .NET skew test: 10 years ahead */
    assert_true(hlc_too_far_ahead(&v, now, HLC_MAX_SKEW_MS));
    /* No wrap-around near the top of the range. */
    v.wall_ms = UINT64_MAX;
    assert_false(hlc_too_far_ahead(&v, UINT64_MAX - 5, HLC_MAX_SKEW_MS));
    assert_true(hlc_too_far_ahead(&v, 0, UINT64_MAX - 1));
    assert_false(hlc_too_far_ahead(&v, 0, UINT64_MAX));
    v.wall_ms = 5;
    assert_false(hlc_too_far_ahead(&v, UINT64_MAX, UINT64_MAX));
}

/* --- the server clock ------------------------------------------------------------- */

static hlc_clock *new_clock(void)
{
    hlc_clock *c = hlc_clock_new("StateStore", 10);
    assert_non_null(c);
    return c;
}

static void test_clock_new(void **state)
{
    (void)state;
    assert_null(hlc_clock_new("", 0));
    assert_null(hlc_clock_new("a:b", 3));
    char node[] = "dss-0";
    hlc_clock *c = hlc_clock_new(node, 5);
    assert_non_null(c);
    node[0] = 'X'; /* the clock keeps its own copy */
    hlc s = hlc_clock_get(c);
    assert_hlc(s, 0, 0, "dss-0");
    hlc_clock_free(c);
}

static void test_learn_example(void **state)
{
    (void)state;
    /* §4.1/§5.4: request 1696374425000:0:Client1 → version
     * 1696374425000:1:StateStore while the server wall is not ahead. */
    hlc_clock *c = new_clock();
    hlc rx = parse_ok("1696374425000:0:Client1"), v;
    assert_true(hlc_clock_update_from(c, &rx, 1696374425000, &v));
    assert_hlc(v, 1696374425000, 1, "StateStore");
    assert_formats(v, "001696374425000:00001:StateStore");
    assert_true(hlc_compare(&v, &rx) > 0);

    /* Step 2 of §5.4: the next request one ms later. */
    rx = parse_ok("1696374425001:0:Client1");
    assert_true(hlc_clock_update_from(c, &rx, 1696374425000, &v));
    assert_hlc(v, 1696374425001, 1, "StateStore");
    hlc_clock_free(c);
}

static void test_update_from_branches(void **state)
{
    (void)state;
    hlc_clock *c = new_clock();
    hlc s0 = mk(1000, 5, ""), v;
    hlc_clock_observe(c, &s0);

    /* now ahead of both → (now, 0) */
    hlc rx = mk(900, 50, "c");
    assert_true(hlc_clock_update_from(c, &rx, 2000, &v));
    assert_hlc(v, 2000, 0, "StateStore");

    /* equal walls → max(counters) + 1 (received larger) */
    rx = mk(2000, 7, "c");
    assert_true(hlc_clock_update_from(c, &rx, 1500, &v));
    assert_hlc(v, 2000, 8, "StateStore");
    /* equal walls → max(counters) + 1 (own larger) */
    rx = mk(2000, 3, "c");
    assert_true(hlc_clock_update_from(c, &rx, 2000, &v));
    assert_hlc(v, 2000, 9, "StateStore");

    /* own wall ahead of received → own counter + 1 */
    rx = mk(1999, 100, "c");
    assert_true(hlc_clock_update_from(c, &rx, 1000, &v));
    assert_hlc(v, 2000, 10, "StateStore");

    /* received wall ahead → (received wall, received counter + 1) */
    rx = mk(3000, 4, "c");
    assert_true(hlc_clock_update_from(c, &rx, 2500, &v));
    assert_hlc(v, 3000, 5, "StateStore");

    /* received wall ahead of now and S, now ahead of S only → still received */
    rx = mk(5000, 0, "c");
    assert_true(hlc_clock_update_from(c, &rx, 4000, &v));
    assert_hlc(v, 5000, 1, "StateStore");

    /* The same node id is NOT skipped on the server (§4.5). */
    rx = mk(5000, 1, "StateStore");
    assert_true(hlc_clock_update_from(c, &rx, 0, &v));
    assert_hlc(v, 5000, 2, "StateStore");
    assert_true(hlc_compare(&v, &rx) > 0);

    /* out may be NULL; the clock still advances. */
    assert_true(hlc_clock_update_from(c, &rx, 0, NULL));
    assert_hlc(hlc_clock_get(c), 5000, 3, "StateStore");
    hlc_clock_free(c);
}

static void test_update_now(void **state)
{
    (void)state;
    hlc_clock *c = new_clock();
    hlc v;
    assert_true(hlc_clock_update_now(c, 100, &v));
    assert_hlc(v, 100, 0, "StateStore");
    assert_true(hlc_clock_update_now(c, 100, &v));
    assert_hlc(v, 100, 1, "StateStore");
    assert_true(hlc_clock_update_now(c, 50, &v)); /* wall clock went back */
    assert_hlc(v, 100, 2, "StateStore");
    assert_true(hlc_clock_update_now(c, 101, &v));
    assert_hlc(v, 101, 0, "StateStore");
    hlc_clock_free(c);
}

static void test_counter_overflow(void **state)
{
    (void)state;
    hlc_clock *c = new_clock();
    hlc v;
    hlc s = mk(1000, HLC_COUNTER_MAX - 1, "");
    hlc_clock_observe(c, &s);
    assert_true(hlc_clock_update_now(c, 1000, &v));
    assert_hlc(v, 1000, HLC_COUNTER_MAX, "StateStore");
    /* The counter would pass the int32 cap: the wall moves on instead. */
    assert_true(hlc_clock_update_now(c, 1000, &v));
    assert_hlc(v, 1001, 0, "StateStore");

    /* A received counter at or above the cap (legal on input) likewise. */
    hlc rx = mk(5000, HLC_COUNTER_MAX, "c");
    assert_true(hlc_clock_update_from(c, &rx, 0, &v));
    assert_hlc(v, 5001, 0, "StateStore");
    assert_true(hlc_compare(&v, &rx) > 0);
    rx = mk(6000, UINT64_MAX, "c");
    assert_true(hlc_clock_update_from(c, &rx, 0, &v));
    assert_hlc(v, 6001, 0, "StateStore");
    rx = mk(6001, UINT64_MAX, "c"); /* equal walls, received counter maximal */
    assert_true(hlc_clock_update_from(c, &rx, 0, &v));
    assert_hlc(v, 6002, 0, "StateStore");
    assert_true(hlc_compare(&v, &rx) > 0);

    /* Only at the very top is there no successor: S stays unchanged. */
    s = mk(UINT64_MAX, HLC_COUNTER_MAX, "");
    hlc_clock_observe(c, &s);
    assert_false(hlc_clock_update_now(c, 0, &v));
    rx = mk(1, 1, "c");
    assert_false(hlc_clock_update_from(c, &rx, 0, &v));
    assert_hlc(hlc_clock_get(c), UINT64_MAX, HLC_COUNTER_MAX, "StateStore");
    hlc_clock_free(c);
}

static void test_observe(void **state)
{
    (void)state;
    hlc_clock *c = new_clock();
    hlc restored = mk(9000, 42, "other-node"), v;
    hlc_clock_observe(c, &restored);
    assert_hlc(hlc_clock_get(c), 9000, 42, "StateStore");
    /* Lower values never move S back. */
    hlc low = mk(9000, 41, "z");
    hlc_clock_observe(c, &low);
    low = mk(8999, 1000, "z");
    hlc_clock_observe(c, &low);
    assert_hlc(hlc_clock_get(c), 9000, 42, "StateStore");
    /* Every later version is above the restored one, even with an old now. */
    assert_true(hlc_clock_update_now(c, 10, &v));
    assert_hlc(v, 9000, 43, "StateStore");
    assert_true(hlc_compare(&v, &restored) > 0);
    hlc_clock_free(c);
}

/* A tiny deterministic PRNG (xorshift64) for the monotonicity sweep. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_strict_monotonicity(void **state)
{
    (void)state;
    hlc_clock *c = new_clock();
    uint64_t seed = 0x9E3779B97F4A7C15u, now = 1000000;
    hlc prev = hlc_clock_get(c), v;
    for (int i = 0; i < 200000; i++) {
        /* Wall clock jitters both ways; clients are behind, equal or ahead,
         * with counters that sometimes hit the cap. */
        now += rnd(&seed) % 3;
        if (rnd(&seed) % 50 == 0) now -= rnd(&seed) % 100;
        uint64_t op = rnd(&seed) % 4;
        if (op == 0) {
            assert_true(hlc_clock_update_now(c, now, &v));
        } else {
            uint64_t wall = now - 50 + rnd(&seed) % 100;
            uint64_t r = rnd(&seed) % 8;
            uint64_t ctr = r == 0 ? HLC_COUNTER_MAX : r == 1 ? UINT64_MAX : rnd(&seed) % 4;
            hlc rx = mk(wall, ctr, op == 1 ? "StateStore" : "client");
            assert_true(hlc_clock_update_from(c, &rx, now, &v));
            if (hlc_compare(&v, &rx) <= 0) fail_msg("version not above request at step %d", i);
        }
        if (hlc_compare(&v, &prev) <= 0) fail_msg("clock went backwards at step %d", i);
        if (v.counter > HLC_COUNTER_MAX) fail_msg("counter above int32 at step %d", i);
        prev = v;
    }
    hlc_clock_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_digit_boundaries),
        cmocka_unit_test(test_format_parse_roundtrip),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_too_far_ahead),
        cmocka_unit_test(test_clock_new),
        cmocka_unit_test(test_learn_example),
        cmocka_unit_test(test_update_from_branches),
        cmocka_unit_test(test_update_now),
        cmocka_unit_test(test_counter_overflow),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_strict_monotonicity),
    };
    return cmocka_run_group_tests_name("hlc", tests, NULL, NULL);
}
