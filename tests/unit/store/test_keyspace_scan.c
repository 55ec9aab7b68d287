/* SCAN: pattern filtering, paging, cursor tokens and the completeness
 * guarantee under concurrent mutation and resizing (§3.8). */
#include <stdio.h>
#include <stdlib.h>

#include "keyspace_tests.h"
#include "util/buf.h"

typedef struct got {
    uint8_t *seen; /* per key index: times emitted */
    size_t n, page;
    int nkeys;
} got;

/* Test keys are "s:<index>". */
static bool on_key(void *ctx, const uint8_t *key, size_t klen)
{
    got *g = ctx;
    char tmp[32];
    assert_true(klen > 2 && klen < sizeof tmp);
    memcpy(tmp, key, klen);
    tmp[klen] = 0;
    int i = atoi(tmp + 2);
    assert_true(i >= 0 && i < g->nkeys);
    if (g->seen[i] < 255) g->seen[i]++;
    g->n++;
    g->page++;
    return true;
}

/* Takes only every 30th key, as an authorization filter would. */
static bool on_key_filtered(void *ctx, const uint8_t *key, size_t klen)
{
    if (klen < 3 || atoi((const char *)key + 2) % 30 != 0) return false;
    return on_key(ctx, key, klen);
}

static void set_key(keyspace *ks, int i, uint64_t now)
{
    char key[32];
    snprintf(key, sizeof key, "s:%d", i);
    apply(ks, cmd_set(key, "v", ver(now, 0), now));
}

static void del_key(keyspace *ks, int i, uint64_t now)
{
    char key[32];
    snprintf(key, sizeof key, "s:%d", i);
    apply(ks, cmd_del(key, now));
}

static void test_scan_pattern_and_pages(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    enum { N = 1000 };
    for (int i = 0; i < N; i++) set_key(ks, i, 1);
    apply(ks, (keyspace_cmd){.op = KEYSPACE_SET,
                             .now_ms = 1,
                             .key = "s:\xff",
                             .klen = 3,
                             .value = "v",
                             .vlen = 1,
                             .version = ver(1, 0)}); /* not UTF-8 */
    keyspace_cmd exp = cmd_set("s:999999", "v", ver(1, 0), 1);
    exp.deadline_ms = 5;
    apply(ks, exp);

    uint8_t seen[N] = {0};
    got g = {seen, 0, 0, N};
    /* pattern "s:1?" -> s:10..s:19; any page size */
    uint64_t cur = 0;
    int pages = 0;
    do {
        cur = keyspace_scan(ks, (const uint8_t *)"s:1?", 4, cur, 10, 3, 0, on_key, &g);
        pages++;
    } while (cur != 0);
    assert_int_equal(g.n, 10);
    for (int i = 10; i < 20; i++) assert_int_equal(seen[i], 1); /* no resize: exactly once */
    assert_true(pages >= 1);

    /* all keys; page limits respected up to one bucket of slack */
    memset(seen, 0, sizeof seen);
    g.n = 0;
    cur = 0;
    pages = 0;
    do {
        g.page = 0;
        cur = keyspace_scan(ks, (const uint8_t *)"*", 1, cur, 10, 50, 0, on_key, &g);
        assert_true(g.page <= 50 + 8);
        pages++;
    } while (cur != 0);
    assert_int_equal(g.n, N); /* not the expired key, not the non-UTF-8 one */
    assert_true(pages >= N / 58);
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);

    /* byte limit: key bytes per page */
    cur = keyspace_scan(ks, (const uint8_t *)"*", 1, 0, 10, 0, 20, on_key, &g);
    assert_true(cur != 0);

    /* an invalid pattern matches nothing and completes */
    g.n = 0;
    assert_int_equal(keyspace_scan(ks, (const uint8_t *)"[s", 2, 0, 10, 10, 0, on_key, &g), 0);
    assert_int_equal(g.n, 0);
    keyspace_free(ks);

    /* empty keyspace */
    ks = keyspace_new(NULL);
    assert_int_equal(keyspace_scan(ks, NULL, 0, 0, 1, 10, 0, on_key, &g), 0);
    keyspace_free(ks);
}

/* Keys the caller's filter refuses take no room in a page: with one in
 * thirty keys taken and pages of 3, the scan needs 10 / 3 pages (plus
 * possibly an empty final one), not one page per 3 matching keys. The
 * table is small enough that the per-page work bound (entries and buckets
 * examined) never ends a page first, whatever the random hash key. */
static void test_scan_filter_before_counting(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    enum { N = 300 };
    for (int i = 0; i < N; i++) set_key(ks, i, 1);
    uint8_t seen[N] = {0};
    got g = {seen, 0, 0, N};
    uint64_t cur = 0;
    int pages = 0;
    do {
        g.page = 0;
        cur = keyspace_scan(ks, (const uint8_t *)"*", 1, cur, 10, 3, 0, on_key_filtered, &g);
        pages++;
        if (cur != 0) assert_true(g.page >= 3); /* only a final page may be short */
    } while (cur != 0);
    assert_int_equal(g.n, N / 30);
    assert_true(pages <= 5);
    for (int i = 0; i < N; i += 30) assert_int_equal(seen[i], 1);
    keyspace_free(ks);
}

static void test_cursor_token(void **state)
{
    (void)state;
    buf b = {0};
    keyspace_cursor_encode(0x0123456789abcdefULL, &b);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, "ks1:0123456789abcdef", 20);
    uint64_t c = 0;
    assert_true(keyspace_cursor_decode(b.data, b.len, &c));
    assert_true(c == 0x0123456789abcdefULL);
    buf_free(&b);
    keyspace_cursor_encode(1, &b);
    assert_true(keyspace_cursor_decode(b.data, b.len, &c));
    assert_true(c == 1);
    buf_free(&b);

    const char *bad[] = {"",
                         "ks1:",
                         "ks1:0123456789abcde",
                         "ks1:0123456789abcdef0",
                         "ks2:0123456789abcdef",
                         "ks1:0123456789ABCDEF",
                         "ks1:0123456789abcdeg",
                         "ks1:0000000000000000",
                         "1;1;",
                         "\x00\xffx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(keyspace_cursor_decode(bad[i], strlen(bad[i]), &c));
    assert_false(keyspace_cursor_decode("ks1:\0\0000000000000000", 20, &c));
}

/* Randomised: keys present for the whole scan are all returned despite
 * inserts, deletes and resizes (growth and shrink) between pages. */
static void test_scan_completeness(void **state)
{
    (void)state;
    enum { STABLE = 3000, VOLATILE = 60000, NKEYS = STABLE + VOLATILE };
    srand(12345);
    for (int round = 0; round < 6; round++) {
        keyspace *ks = keyspace_new(NULL);
        uint8_t *present = calloc(NKEYS, 1);
        for (int i = 0; i < STABLE; i++) set_key(ks, i, 1);
        /* rounds alternate between a growing and a shrinking keyspace */
        bool grow = round % 2 == 0;
        if (!grow)
            for (int i = STABLE; i < NKEYS; i++) {
                set_key(ks, i, 1);
                present[i] = 1;
            }
        uint8_t *seen = calloc(NKEYS, 1);
        got g = {seen, 0, 0, NKEYS};
        uint64_t cur = 0;
        size_t pages = 0;
        do {
            cur = keyspace_scan(ks, (const uint8_t *)"s:*", 3, cur, 1, 1 + (size_t)(rand() % 40), 0, on_key, &g);
            pages++;
            int ops = rand() % 400;
            for (int k = 0; k < ops; k++) {
                int i = STABLE + rand() % VOLATILE;
                bool add = grow ? rand() % 4 != 0 : rand() % 4 == 0;
                if (add) set_key(ks, i, 1);
                else del_key(ks, i, 1);
                present[i] = add;
            }
        } while (cur != 0);
        for (int i = 0; i < STABLE; i++)
            if (!seen[i]) fail_msg("round %d: stable key s:%d not returned (%zu pages)", round, i, pages);
        keyspace_stats st;
        keyspace_stats_get(ks, &st);
        size_t expect = STABLE;
        for (int i = STABLE; i < NKEYS; i++) expect += present[i];
        assert_int_equal(st.keys, expect);
        free(seen);
        free(present);
        keyspace_free(ks);
    }
}

int run_keyspace_scan_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pattern_and_pages),
        cmocka_unit_test(test_scan_filter_before_counting),
        cmocka_unit_test(test_cursor_token),
        cmocka_unit_test(test_scan_completeness),
    };
    return cmocka_run_group_tests_name("keyspace_scan", tests, NULL, NULL);
}
