/* KEYNOTIFY lifecycle and notification fan-out (§7), binary and large
 * keys and values (§6.1, §6.9). */
#include <stdlib.h>

#include "service_tests.h"

static void expect_set_note(fx *f, size_t i, const char *client, const char *key, const char *value)
{
    char want[256];
    int n = snprintf(want, sizeof want, "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$%zu\r\n%s\r\n",
                     strlen(value), value);
    fx_expect_note(f, i, client, key, strlen(key), want, (size_t)n);
}

static void expect_delete_note(fx *f, size_t i, const char *client, const char *key)
{
    fx_expect_note(f, i, client, key, strlen(key), NOTIFY_DELETE, strlen(NOTIFY_DELETE));
}

/* Rust test 35: nothing before observe or after unobserve; SET v2,
 * DELETE, SET v3 in order in between. */
static void test_lifecycle(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "key35", "v1");
    RUN(f, "DEL", "key35");
    assert_int_equal(f->nnotes, 0);

    RUN(f, "KEYNOTIFY", "key35");
    fx_expect(f, "+OK\r\n");
    fx_expect_no_version(f);
    RUN(f, "KEYNOTIFY", "key35"); /* idempotent */
    fx_expect(f, "+OK\r\n");

    RUN(f, "SET", "key35", "v2");
    hlc s2 = fx_version(f);
    RUN(f, "DEL", "key35");
    hlc d = fx_version(f);
    RUN(f, "SET", "key35", "v3");
    hlc s3 = fx_version(f);
    assert_int_equal(f->nnotes, 3); /* one registration, not two */
    expect_set_note(f, 0, "client-1", "key35", "v2");
    expect_delete_note(f, 1, "client-1", "key35");
    expect_set_note(f, 2, "client-1", "key35", "v3");
    hlc n0 = fx_note_version(f, 0), n1 = fx_note_version(f, 1), n2 = fx_note_version(f, 2);
    assert_int_equal(hlc_compare(&n0, &s2), 0);
    assert_int_equal(hlc_compare(&n1, &d), 0);
    assert_int_equal(hlc_compare(&n2, &s3), 0);

    RUN(f, "KEYNOTIFY", "key35", "STOP");
    fx_expect(f, "+OK\r\n");
    RUN(f, "KEYNOTIFY", "key35", "stop");
    fx_expect(f, ":0\r\n");
    RUN(f, "SET", "key35", "v4");
    RUN(f, "DEL", "key35");
    assert_int_equal(f->nnotes, 3);
}

static void test_no_notification_when_not_applied(void **state)
{
    fx *f = *state;
    char tok[64];
    snprintf(tok, sizeof tok, "%015llu:00001:lock", (unsigned long long)T0);
    RUN(f, "KEYNOTIFY", "k");
    RUN(f, "DEL", "k");       /* absent */
    RUN(f, "VDEL", "k", "x"); /* absent */
    RUNT(f, fx_ts(f, 0), tok, "SET", "k", "a");
    assert_int_equal(f->nnotes, 1);
    RUNT(f, fx_ts(f, 0), tok, "SET", "k", "b", "NX"); /* condition false */
    RUNT(f, fx_ts(f, 0), tok, "SET", "k", "b", "NEX");
    RUNT(f, fx_ts(f, 0), tok, "VDEL", "k", "b"); /* mismatch */
    RUN(f, "SET", "k", "b");                     /* fencing required */
    RUN(f, "DEL", "k");                          /* fencing required */
    RUN(f, "GET", "k");
    RUN(f, "SET", "", "x");
    assert_int_equal(f->nnotes, 1);
    RUNT(f, fx_ts(f, 0), tok, "SET", "k", "a", "NEX"); /* renewal with same value notifies */
    assert_int_equal(f->nnotes, 2);
    expect_set_note(f, 1, "client-1", "k", "a");
}

static void test_client_gone_and_other_watchers(void **state)
{
    fx *f = *state;
    f->client = "watcher";
    RUN(f, "KEYNOTIFY", "k");
    f->client = "other";
    RUN(f, "KEYNOTIFY", "k");
    f->client = "writer";
    RUN(f, "SET", "k", "1");
    assert_int_equal(f->nnotes, 2); /* registration order */
    expect_set_note(f, 0, "watcher", "k", "1");
    expect_set_note(f, 1, "other", "k", "1");

    store_service_client_gone(f->s, (store_bytes){(const uint8_t *)"watcher", 7});
    RUN(f, "SET", "k", "2");
    assert_int_equal(f->nnotes, 3);
    expect_set_note(f, 2, "other", "k", "2");
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.registrations, 1);

    f->client = "watcher"; /* a reconnect must re-register */
    RUN(f, "KEYNOTIFY", "k", "STOP");
    fx_expect(f, ":0\r\n");
}

static void test_hundred_in_order(void **state)
{
    fx *f = *state;
    RUN(f, "KEYNOTIFY", "counter");
    char v[16];
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof v, "%d", i);
        RUN(f, "SET", "counter", v);
        fx_expect(f, "+OK\r\n");
    }
    assert_int_equal(f->nnotes, 100);
    hlc prev = {0};
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof v, "%d", i);
        expect_set_note(f, (size_t)i, "client-1", "counter", v);
        hlc nv = fx_note_version(f, (size_t)i);
        assert_true(hlc_compare(&nv, &prev) > 0);
        prev = nv;
    }
}

static void test_binary_key_and_value(void **state)
{
    fx *f = *state;
    static const uint8_t key[] = {'k', '\r', '\n', 0, 0xFF, '$', '*'};
    static const uint8_t val[] = {0, '\r', '\n', 0xFF, 0xFE, '-', 'E', 'R', 'R'};
    resp_slice kn[] = {{(const uint8_t *)"KEYNOTIFY", 9}, {key, sizeof key}};
    fx_dob(f, fx_ts(f, 0), NULL, kn, 2);
    fx_expect(f, "+OK\r\n");
    resp_slice set[] = {{(const uint8_t *)"SET", 3}, {key, sizeof key}, {val, sizeof val}};
    fx_dob(f, fx_ts(f, 0), NULL, set, 3);
    fx_expect(f, "+OK\r\n");
    resp_slice get[] = {{(const uint8_t *)"GET", 3}, {key, sizeof key}};
    fx_dob(f, fx_ts(f, 0), NULL, get, 2);
    static const uint8_t want[] = {'$', '9', '\r', '\n', 0, '\r', '\n', 0xFF, 0xFE, '-', 'E', 'R', 'R', '\r', '\n'};
    fx_expect_n(f, want, sizeof want);

    buf np = {0};
    resp_put_notify_set(&np, val, sizeof val);
    assert_int_equal(f->nnotes, 1);
    fx_expect_note(f, 0, "client-1", key, sizeof key, np.data, np.len);
    buf_free(&np);
    /* A key differing only after the NUL byte is another key. */
    resp_slice get2[] = {{(const uint8_t *)"GET", 3}, {key, 4}};
    fx_dob(f, fx_ts(f, 0), NULL, get2, 2);
    fx_expect(f, "$-1\r\n");
}

static void test_large_key_and_value(void **state)
{
    fx *f = *state;
    size_t klen = 6500, vlen = (size_t)1 << 20;
    uint8_t *key = malloc(klen), *val = malloc(vlen);
    for (size_t i = 0; i < klen; i++) key[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < vlen; i++) val[i] = (uint8_t)(i * 13 + 1);
    resp_slice set[] = {{(const uint8_t *)"SET", 3}, {key, klen}, {val, vlen}};
    fx_dob(f, fx_ts(f, 0), NULL, set, 3);
    fx_expect(f, "+OK\r\n");
    resp_slice get[] = {{(const uint8_t *)"GET", 3}, {key, klen}};
    fx_dob(f, fx_ts(f, 0), NULL, get, 2);
    buf want = {0};
    resp_put_bulk(&want, val, vlen);
    fx_expect_n(f, want.data, want.len);
    buf_free(&want);
    resp_slice del[] = {{(const uint8_t *)"VDEL", 4}, {key, klen}, {val, vlen}};
    fx_dob(f, fx_ts(f, 0), NULL, del, 3);
    fx_expect(f, ":1\r\n");
    /* The big reply buffer is released again on the next small request. */
    RUN(f, "GET", "x");
    assert_true(f->r.payload.cap <= 65536);
    free(key);
    free(val);
}

/* The notification topic spells client id and key in hex: a long client
 * id leaves room for a shorter key only. The longest topic that fits is
 * 65,535 bytes; one byte more of key is refused with the quota error and
 * registers nothing, whatever max_key_len allows. */
static void test_topic_limit_counts_client_id(void **state)
{
    fx *f = *state;
    enum { IDLEN = 30000 };
    char *id = malloc(IDLEN + 1);
    memset(id, 'c', IDLEN);
    id[IDLEN] = 0;
    f->client = id;
    size_t fits = (65535 - 75 - 2 * IDLEN) / 2; /* prefix 59 + middle 16 = 75 */
    uint8_t key[4096];
    memset(key, 'k', sizeof key);
    resp_slice kn[] = {{(const uint8_t *)"KEYNOTIFY", 9}, {key, fits + 1}};
    fx_dob(f, NULL, NULL, kn, 2);
    fx_expect_err(f, RESP_ERR_QUOTA);
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.registrations, 0);
    kn[1].len = fits;
    fx_dob(f, NULL, NULL, kn, 2);
    fx_expect(f, "+OK\r\n");
    resp_slice set[] = {{(const uint8_t *)"SET", 3}, {key, fits}, {(const uint8_t *)"v", 1}};
    fx_dob(f, fx_ts(f, 0), NULL, set, 3);
    fx_expect(f, "+OK\r\n");
    assert_int_equal(f->nnotes, 1);
    assert_int_equal(f->notes[0].topic.len, 65535);
    store_service_client_gone(f->s, (store_bytes){(const uint8_t *)id, IDLEN});
    f->client = "client-1";
    free(id);
}

/* KEYNOTIFY keys obey max_key_len; STOP of such a key is just :0. */
static void cfg_short_keys(store_config *c) { c->limits.max_key_len = 8; }

static void test_keynotify_key_limit(void **state)
{
    (void)state;
    fx *f = fx_new(cfg_short_keys);
    RUN(f, "KEYNOTIFY", "123456789");
    fx_expect_err(f, RESP_ERR_QUOTA);
    RUN(f, "KEYNOTIFY", "123456789", "STOP");
    fx_expect(f, ":0\r\n");
    RUN(f, "KEYNOTIFY", "12345678");
    fx_expect(f, "+OK\r\n");
    fx_free(f);
}

int run_service_notify_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_notification_when_not_applied, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_and_other_watchers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hundred_in_order, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_binary_key_and_value, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_key_and_value, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_topic_limit_counts_client_id, fx_setup, fx_teardown),
        cmocka_unit_test(test_keynotify_key_limit),
    };
    return cmocka_run_group_tests_name("service notify", tests, NULL, NULL);
}
