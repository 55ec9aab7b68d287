/* SCAN paging (§3.8) and key-level authorization (§10.2–§10.3). */
#include <stdlib.h>

#include "service_tests.h"

/* Parse a SCAN reply: count keys into seen[] (index from "k<n>"), copy the
 * token into tok (empty when final). Returns the number of keys. */
static size_t scan_reply(fx *f, int *seen, size_t nseen, buf *tok)
{
    resp_reply r, keys, e;
    assert_int_equal(f->r.status, 200);
    fx_expect_no_version(f);
    assert_int_equal(resp_parse_reply(f->r.payload.data, f->r.payload.len, &r), RESP_OK);
    assert_int_equal(r.type, RESP_ARRAY);
    assert_true(r.count == 1 || r.count == 2);
    resp_array_iter it, kit;
    resp_array_iter_init(&it, &r);
    assert_true(resp_array_next(&it, &keys));
    assert_int_equal(keys.type, RESP_ARRAY);
    resp_array_iter_init(&kit, &keys);
    size_t n = 0;
    while (resp_array_next(&kit, &e)) {
        assert_int_equal(e.type, RESP_BULK);
        char name[32];
        assert_true(e.str.len < sizeof name);
        memcpy(name, e.str.data, e.str.len);
        name[e.str.len] = 0;
        assert_true(name[0] == 'k');
        size_t idx = (size_t)atoi(name + 1);
        assert_true(idx < nseen);
        seen[idx]++;
        n++;
    }
    assert_int_equal(n, keys.count);
    tok->len = 0;
    if (r.count == 2) {
        assert_true(resp_array_next(&it, &e));
        assert_int_equal(e.type, RESP_BULK);
        assert_true(e.str.len > 0);
        buf_append(tok, e.str.data, e.str.len);
    }
    return n;
}

/* Scan pattern to completion; returns the number of pages. */
static int scan_all(fx *f, const char *pat, int *seen, size_t nseen)
{
    buf tok = {0};
    int pages = 0;
    do {
        resp_slice argv[3] = {{(const uint8_t *)"SCAN", 4}, {(const uint8_t *)pat, strlen(pat)}, {tok.data, tok.len}};
        fx_dob(f, fx_ts(f, 0), NULL, argv, tok.len ? 3 : 2);
        scan_reply(f, seen, nseen, &tok);
        pages++;
        assert_true(pages < 1000);
    } while (tok.len);
    buf_free(&tok);
    return pages;
}

static void cfg_pages(store_config *c) { c->scan_page_keys = 7; }

static void fill(fx *f, int n)
{
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%d", i);
        RUN(f, "SET", key, "v");
        fx_expect(f, "+OK\r\n");
    }
}

static void test_scan_pages(void **state)
{
    (void)state;
    fx *f = fx_new(cfg_pages);
    fill(f, 100);
    int seen[100] = {0};
    int pages = scan_all(f, "*", seen, 100);
    assert_true(pages >= 100 / 7);
    for (int i = 0; i < 100; i++) assert_true(seen[i] >= 1);

    /* Mutations between pages: keys present throughout still all come back. */
    int seen2[200] = {0};
    buf tok = {0};
    resp_slice first[2] = {{(const uint8_t *)"SCAN", 4}, {(const uint8_t *)"*", 1}};
    fx_dob(f, fx_ts(f, 0), NULL, first, 2);
    scan_reply(f, seen2, 200, &tok);
    char key[32];
    for (int i = 100; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        RUN(f, "SET", key, "v");
    }
    while (tok.len) {
        resp_slice argv[3] = {{(const uint8_t *)"SCAN", 4}, {(const uint8_t *)"*", 1}, {tok.data, tok.len}};
        fx_dob(f, fx_ts(f, 0), NULL, argv, 3);
        scan_reply(f, seen2, 200, &tok);
    }
    for (int i = 0; i < 100; i++) assert_true(seen2[i] >= 1);
    buf_free(&tok);
    fx_free(f);
}

static void test_scan_pattern_and_final_page(void **state)
{
    fx *f = *state;
    fill(f, 30);
    RUN(f, "SET", "other", "v");
    int seen[30] = {0};
    scan_all(f, "k1?", seen, 30); /* k10..k19 */
    for (int i = 0; i < 30; i++) assert_int_equal(seen[i], i >= 10 && i < 20 ? 1 : 0);

    RUN(f, "SCAN", "nomatch*");
    fx_expect(f, "*1\r\n*0\r\n");
    RUN(f, "SCAN", "[k"); /* invalid pattern: matches nothing */
    fx_expect(f, "*1\r\n*0\r\n");
    RUN(f, "SCAN", "othe[r]");
    fx_expect(f, "*1\r\n*1\r\n$5\r\nother\r\n");
    RUNT(f, NULL, NULL, "SCAN", "other"); /* __ts optional */
    fx_expect(f, "*1\r\n*1\r\n$5\r\nother\r\n");
}

static void test_scan_expired_keys_hidden(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "k1", "v", "PX", "10");
    RUN(f, "SET", "k2", "v");
    f->now += 10;
    RUN(f, "SCAN", "*");
    fx_expect(f, "*1\r\n*1\r\n$2\r\nk2\r\n");
}

static void test_scan_authorized_only(void **state)
{
    (void)state;
    fx *f = fx_new(cfg_pages);
    fill(f, 40);
    fx_deny(f, "k1", STORE_ACCESS_READ, false); /* hides k1, k10..k19 */
    int seen[40] = {0};
    scan_all(f, "*", seen, 40);
    for (int i = 0; i < 40; i++) {
        bool hidden = i == 1 || (i >= 10 && i < 20);
        if (hidden) assert_int_equal(seen[i], 0);
        else assert_true(seen[i] >= 1);
    }
    assert_int_equal(f->last_access, STORE_ACCESS_READ);
    fx_free(f);
}

static void expect_denied(fx *f, store_access access)
{
    fx_expect(f, "-ERR not authorized\r\n");
    fx_expect_no_version(f);
    assert_int_equal(f->last_access, access);
    assert_int_equal(f->last_principal.len, strlen(f->client));
    assert_memory_equal(f->last_principal.data, f->client, f->last_principal.len);
}

static void test_authorization(void **state)
{
    fx *f = *state;
    f->client = "app";
    RUN(f, "SET", "ro/x", "1");
    RUN(f, "KEYNOTIFY", "ro/x");
    fx_deny(f, "ro/", STORE_ACCESS_WRITE, false); /* read-only subtree */
    RUN(f, "SET", "ro/x", "2");
    expect_denied(f, STORE_ACCESS_WRITE);
    RUN(f, "DEL", "ro/x");
    expect_denied(f, STORE_ACCESS_WRITE);
    RUN(f, "VDEL", "ro/x", "1");
    expect_denied(f, STORE_ACCESS_WRITE);
    RUN(f, "GET", "ro/x");
    fx_expect(f, "$1\r\n1\r\n");
    assert_int_equal(f->last_access, STORE_ACCESS_READ);
    assert_int_equal(f->nnotes, 0); /* denied writes changed nothing */

    fx_deny(f, "ro/", STORE_ACCESS_READ, false); /* write-only subtree */
    RUN(f, "GET", "ro/x");
    expect_denied(f, STORE_ACCESS_READ);
    RUN(f, "KEYNOTIFY", "ro/y");
    expect_denied(f, STORE_ACCESS_READ);
    RUN(f, "KEYNOTIFY", "ro/x", "STOP");
    expect_denied(f, STORE_ACCESS_READ);
    RUN(f, "SET", "ro/x", "3");
    fx_expect(f, "+OK\r\n");
    assert_int_equal(f->nnotes, 1); /* registered before the policy change */
    RUN(f, "SET", "free", "1");
    fx_expect(f, "+OK\r\n");
    RUN(f, "SCAN", "ro/*");
    fx_expect(f, "*1\r\n*0\r\n");

    size_t calls = f->auth_calls;
    RUN(f, "GET", ""); /* empty key: rejected before the authorizer */
    assert_int_equal(f->auth_calls, calls);
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.errors, 7);
}

int run_service_scan_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_pages),
        cmocka_unit_test_setup_teardown(test_scan_pattern_and_final_page, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scan_expired_keys_hidden, fx_setup, fx_teardown),
        cmocka_unit_test(test_scan_authorized_only),
        cmocka_unit_test_setup_teardown(test_authorization, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("service scan+authz", tests, NULL, NULL);
}
