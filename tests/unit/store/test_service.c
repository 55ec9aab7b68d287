/* Service replies byte for byte (§3.4, §2.4), the error texts (§3.5),
 * their precedence (§6.10, §5.3) and the __protVer check (§2.3). */
#include "service_tests.h"

static void test_set_get_del_replies(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "k", "v");
    fx_expect(f, "+OK\r\n");
    hlc v1 = fx_version(f);

    RUN(f, "GET", "k");
    fx_expect(f, "$1\r\nv\r\n");
    hlc g = fx_version(f);
    assert_int_equal(hlc_compare(&g, &v1), 0);

    RUN(f, "DEL", "k");
    fx_expect(f, ":1\r\n");
    hlc d = fx_version(f); /* the removed entry's version */
    assert_int_equal(hlc_compare(&d, &g), 0);

    RUN(f, "DEL", "k");
    fx_expect(f, ":0\r\n");
    fx_expect_no_version(f);

    RUN(f, "GET", "k");
    fx_expect(f, "$-1\r\n");
    fx_expect_no_version(f);
}

static void test_empty_value_and_lower_case(void **state)
{
    fx *f = *state;
    RUN(f, "set", "k", "");
    fx_expect(f, "+OK\r\n");
    RUN(f, "gEt", "k");
    fx_expect(f, "$0\r\n\r\n");
    (void)fx_version(f);
    RUN(f, "Set", "k", "x", "nx", "Px", "10");
    fx_expect(f, ":-1\r\n");
}

static void test_conditions(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "k", "a");
    hlc v1 = fx_version(f);

    RUN(f, "SET", "k", "b", "NX");
    fx_expect(f, ":-1\r\n");
    hlc cur = fx_version(f); /* not applied: the current version */
    assert_int_equal(hlc_compare(&cur, &v1), 0);

    RUN(f, "SET", "k", "b", "NEX");
    fx_expect(f, ":-1\r\n");
    cur = fx_version(f);
    assert_int_equal(hlc_compare(&cur, &v1), 0);

    RUN(f, "SET", "k", "a", "NEX", "PX", "5000"); /* lease renewal */
    fx_expect(f, "+OK\r\n");
    hlc v2 = fx_version(f);
    assert_true(hlc_compare(&v2, &v1) > 0);

    RUN(f, "SET", "n", "x", "PX", "5000", "NX"); /* any option order */
    fx_expect(f, "+OK\r\n");
    RUN(f, "GET", "k");
    fx_expect(f, "$1\r\na\r\n");
}

static void test_vdel(void **state)
{
    fx *f = *state;
    RUN(f, "VDEL", "k", "a");
    fx_expect(f, ":0\r\n");
    fx_expect_no_version(f);

    RUN(f, "SET", "k", "a");
    hlc v = fx_version(f);
    RUN(f, "VDEL", "k", "b");
    fx_expect(f, ":-1\r\n");
    hlc cur = fx_version(f);
    assert_int_equal(hlc_compare(&cur, &v), 0);

    RUN(f, "VDEL", "k", "a");
    fx_expect(f, ":1\r\n");
    cur = fx_version(f);
    assert_int_equal(hlc_compare(&cur, &v), 0);
    RUN(f, "GET", "k");
    fx_expect(f, "$-1\r\n");
}

/* Every §3.5 text, spelled out here rather than taken from resp.c. */
static void expect_text(fx *f, const char *text)
{
    char want[256];
    snprintf(want, sizeof want, "-ERR %s\r\n", text);
    fx_expect(f, want);
    fx_expect_no_version(f);
}

static void test_framing_and_verbs(void **state)
{
    fx *f = *state;
    static const char *bad[] = {
        "",        "GET k\r\n", "*1\r\n$3\r\nGET\r\nX", "*0\r\n", "*1\r\n$3\r\nGET\n", "*2\r\n$3\r\nGET\r\n$5\r\nk\r\n",
        "+OK\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_raw(f, fx_ts(f, 0), bad[i], strlen(bad[i]));
        expect_text(f, "syntax error");
    }
    fx_raw(f, NULL, NULL, 0);
    expect_text(f, "syntax error");

    RUN(f, "MGET", "k");
    expect_text(f, "unknown command");
    RUN(f, "SETX", "k", "v");
    expect_text(f, "unknown command");
    RUN(f, "FOO");
    expect_text(f, "unknown command");
}

static void test_wrong_argc(void **state)
{
    fx *f = *state;
    RUN(f, "GET");
    expect_text(f, "wrong number of arguments");
    RUN(f, "GET", "k", "x");
    expect_text(f, "wrong number of arguments");
    RUN(f, "DEL");
    expect_text(f, "wrong number of arguments");
    RUN(f, "DEL", "k", "x");
    expect_text(f, "wrong number of arguments");
    RUN(f, "VDEL", "k");
    expect_text(f, "wrong number of arguments");
    RUN(f, "VDEL", "k", "v", "x");
    expect_text(f, "wrong number of arguments");
    RUN(f, "SET", "k");
    expect_text(f, "wrong number of arguments");
    RUN(f, "KEYNOTIFY");
    expect_text(f, "wrong number of arguments");
    RUN(f, "KEYNOTIFY", "k", "STOP", "x");
    expect_text(f, "wrong number of arguments");
    RUN(f, "SCAN");
    expect_text(f, "wrong number of arguments");
    RUN(f, "SCAN", "*", "t", "x");
    expect_text(f, "wrong number of arguments");
}

static void test_syntax_errors(void **state)
{
    fx *f = *state;
    const char *const sets[][5] = {
        {"XX"},
        {"NX", "NEX"},
        {"NX", "NX"},
        {"PX"},
        {"PX", "0"},
        {"PX", "-1"},
        {"PX", "1.5"},
        {"PX", "abc"},
        {"PX", "9223372036854775808"},
        {"PX", "10", "PX", "10"},
        {"NX", "PX", "10", "XX"},
        {"EX", "10"},
        {"GET"},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        const char *argv[8] = {"SET", "k", "v"};
        size_t argc = 3;
        for (size_t j = 0; j < 5 && sets[i][j]; j++) argv[argc++] = sets[i][j];
        fx_do(f, fx_ts(f, 0), NULL, NULL, argc, argv);
        expect_text(f, "syntax error");
    }
    RUN(f, "SET", "k", "v", "PX", "9223372036854775807"); /* largest 63-bit PX */
    fx_expect(f, "+OK\r\n");
    RUN(f, "KEYNOTIFY", "k", "GO");
    expect_text(f, "syntax error");
    RUN(f, "SCAN", "*", "garbage");
    expect_text(f, "syntax error");
    RUN(f, "GET", "k");
    fx_expect(f, "$1\r\nv\r\n"); /* no failed SET changed the key */
}

static void test_empty_key(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "", "v");
    expect_text(f, "the key length is zero");
    RUN(f, "GET", "");
    expect_text(f, "the key length is zero");
    RUN(f, "DEL", "");
    expect_text(f, "the key length is zero");
    RUN(f, "VDEL", "", "v");
    expect_text(f, "the key length is zero");
    RUN(f, "KEYNOTIFY", "");
    expect_text(f, "the key length is zero");
    RUN(f, "KEYNOTIFY", "", "STOP");
    expect_text(f, "the key length is zero");
    RUN(f, "SCAN", "");
    expect_text(f, "the key length is zero");
}

static void test_timestamps(void **state)
{
    fx *f = *state;
    RUNT(f, NULL, NULL, "SET", "k", "v");
    expect_text(f, "missing timestamp");
    static const char *malformed[] = {"", "abc", "1:2", "1:2:", "-1:0:n", "1:0:a:b", "1.5:0:n"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        RUNT(f, malformed[i], NULL, "SET", "k", "v");
        expect_text(f, "malformed timestamp");
        RUNT(f, malformed[i], NULL, "GET", "k");
        expect_text(f, "malformed timestamp");
        RUNT(f, malformed[i], NULL, "DEL", "k");
        expect_text(f, "malformed timestamp");
        RUNT(f, malformed[i], NULL, "KEYNOTIFY", "k");
        expect_text(f, "malformed timestamp");
        RUNT(f, malformed[i], NULL, "SCAN", "*");
        expect_text(f, "malformed timestamp");
    }
    const char *skew = "the request timestamp is too far in the future; ensure that the client and "
                       "broker system clocks are synchronized";
    RUNT(f, fx_ts(f, 60001), NULL, "SET", "k", "v");
    expect_text(f, skew);
    RUNT(f, fx_ts(f, 60001), NULL, "GET", "k");
    expect_text(f, skew);
    RUNT(f, fx_ts(f, 60000), NULL, "SET", "k", "v"); /* exactly 60 s ahead is fine */
    fx_expect(f, "+OK\r\n");
    RUNT(f, NULL, NULL, "GET", "k"); /* __ts optional except on SET */
    fx_expect(f, "$1\r\nv\r\n");
    RUNT(f, NULL, NULL, "DEL", "k");
    fx_expect(f, ":1\r\n");
    RUNT(f, "000000000000001:00000:old", NULL, "SET", "k", "v"); /* far past is fine */
    fx_expect(f, "+OK\r\n");
}

static void test_fencing_texts(void **state)
{
    fx *f = *state;
    char tok[64], low[64];
    snprintf(tok, sizeof tok, "%015llu:00005:lock", (unsigned long long)T0);
    snprintf(low, sizeof low, "%015llu:00004:lock", (unsigned long long)T0);

    RUNT(f, fx_ts(f, 0), "bad", "SET", "k", "v");
    expect_text(f, "malformed timestamp");
    RUNT(f, fx_ts(f, 0), "999999999999999:0:x", "SET", "k", "v");
    expect_text(f, "the request fencing token timestamp is too far in the future; ensure that the "
                   "client and broker system clocks are synchronized");
    RUNT(f, fx_ts(f, 0), "999999999999999:0:x", "DEL", "k");
    expect_text(f, "the request fencing token timestamp is too far in the future; ensure that the "
                   "client and broker system clocks are synchronized");
    RUNT(f, fx_ts(f, 0), "bad", "GET", "k"); /* __ft ignored on GET */
    fx_expect(f, "$-1\r\n");
    RUNT(f, fx_ts(f, 0), "bad", "KEYNOTIFY", "k");
    fx_expect(f, "+OK\r\n");

    RUNT(f, fx_ts(f, 0), tok, "SET", "k", "v");
    fx_expect(f, "+OK\r\n");
    RUN(f, "SET", "k", "w");
    expect_text(f, "a fencing token is required for this request");
    RUNT(f, fx_ts(f, 0), low, "SET", "k", "w");
    expect_text(f, "the request fencing token is a lower version than the fencing token protecting "
                   "the resource");
    RUN(f, "DEL", "k");
    expect_text(f, "a fencing token is required for this request");
    RUNT(f, fx_ts(f, 0), low, "VDEL", "k", "v");
    expect_text(f, "the request fencing token is a lower version than the fencing token protecting "
                   "the resource");
    RUN(f, "GET", "k"); /* GET ignores fencing */
    fx_expect(f, "$1\r\nv\r\n");
    RUNT(f, fx_ts(f, 0), tok, "VDEL", "k", "other"); /* token ok, value wrong */
    fx_expect(f, ":-1\r\n");
    RUNT(f, fx_ts(f, 0), tok, "DEL", "k");
    fx_expect(f, ":1\r\n");
    RUN(f, "SET", "k", "free"); /* the token died with the entry */
    fx_expect(f, "+OK\r\n");
}

static void test_precedence(void **state)
{
    fx *f = *state;
    RUNT(f, "bad", NULL, "GET", ""); /* empty key before __ts */
    expect_text(f, "the key length is zero");
    RUNT(f, NULL, NULL, "SET", "", "v"); /* empty key before missing __ts */
    expect_text(f, "the key length is zero");
    RUNT(f, "bad", NULL, "SET", ""); /* argc before empty key */
    expect_text(f, "wrong number of arguments");
    RUNT(f, "bad", NULL, "SET", "", "v", "NX", "NX"); /* options before empty key */
    expect_text(f, "syntax error");
    RUNT(f, "bad", NULL, "KEYNOTIFY", "", "GO");
    expect_text(f, "syntax error");
    RUNT(f, "bad", NULL, "FOO", ""); /* verb before everything */
    expect_text(f, "unknown command");
    RUNT(f, NULL, "bad", "SET", "k", "v"); /* missing __ts before __ft */
    expect_text(f, "missing timestamp");
    RUNT(f, fx_ts(f, 61000), "bad", "SET", "k", "v"); /* __ts before __ft */
    expect_text(f, "the request timestamp is too far in the future; ensure that the client and "
                   "broker system clocks are synchronized");

    char tok[64];
    snprintf(tok, sizeof tok, "%015llu:00001:lock", (unsigned long long)T0);
    RUNT(f, fx_ts(f, 0), tok, "SET", "f", "v");
    RUN(f, "SET", "f", "v", "NX"); /* fencing before the NX condition */
    expect_text(f, "a fencing token is required for this request");
    RUN(f, "VDEL", "f", "wrong");
    expect_text(f, "a fencing token is required for this request");

    fx_deny(f, "secret", STORE_ACCESS_READ, true);
    RUNT(f, "bad", NULL, "GET", "secret"); /* authorization before __ts */
    expect_text(f, "not authorized");
    RUNT(f, "bad", NULL, "GET", ""); /* empty key before authorization */
    expect_text(f, "the key length is zero");
}

static void test_protocol_version(void **state)
{
    fx *f = *state;
    static const char *bad[] = {"2.0", "abc", "1", "", "0.9", "1.", ".1", "1.0.0", " 1.0", "1.x", "11.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_do(f, fx_ts(f, 0), NULL, bad[i], 3, (const char *const[]){"SET", "k", "v"});
        assert_int_equal(f->r.status, 505);
        assert_int_equal(f->r.payload.len, 0);
        assert_false(f->r.has_version);
        assert_non_null(f->r.status_message);
        assert_string_equal(f->r.status_message, "unsupported protocol version");
    }
    RUN(f, "GET", "k");
    fx_expect(f, "$-1\r\n"); /* none of the rejected SETs ran */
    static const char *good[] = {"1.0", "1.5", "01.0", NULL};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fx_do(f, fx_ts(f, 0), NULL, good[i], 3, (const char *const[]){"SET", "k", "v"});
        fx_expect(f, "+OK\r\n");
        assert_null(f->r.status_message);
    }
}

static void cfg_small(store_config *c)
{
    c->limits.max_keys = 2;
    c->limits.max_key_len = 8;
}

static void test_quota(void **state)
{
    (void)state;
    fx *f = fx_new(cfg_small);
    RUN(f, "SET", "a", "1");
    fx_expect(f, "+OK\r\n");
    RUN(f, "SET", "b", "1");
    fx_expect(f, "+OK\r\n");
    RUN(f, "SET", "c", "1");
    expect_text(f, "the quota has been exceeded");
    RUN(f, "SET", "a", "overwrite is fine");
    fx_expect(f, "+OK\r\n");
    RUN(f, "DEL", "b");
    RUN(f, "SET", "123456789", "1"); /* longer than max_key_len: quota text */
    expect_text(f, "the quota has been exceeded");
    RUN(f, "SET", "12345678", "1");
    fx_expect(f, "+OK\r\n");
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.keyspace.keys, 2);
    assert_int_equal(st.errors, 2);
    fx_free(f);
}

static void cfg_bytes(store_config *c) { c->limits.max_bytes = 200; }

static void test_byte_quota(void **state)
{
    (void)state;
    fx *f = fx_new(cfg_bytes);
    char big[120];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    RUN(f, "SET", "k", big); /* 1 + 119 + 64 = 184 */
    fx_expect(f, "+OK\r\n");
    RUN(f, "SET", "j", "v");
    expect_text(f, "the quota has been exceeded");
    RUN(f, "SET", "k", "small");
    fx_expect(f, "+OK\r\n");
    RUN(f, "SET", "j", "v");
    fx_expect(f, "+OK\r\n");
    fx_free(f);
}

static bool repeatable(const char *payload)
{
    store_request req = {.payload = {(const uint8_t *)payload, strlen(payload)}};
    return store_request_repeatable(&req);
}

/* Which requests the bridge executes on every copy instead of answering a
 * repeat from the reply cache. */
static void test_repeatable_requests(void **state)
{
    (void)state;
    assert_true(repeatable("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
    assert_true(repeatable("*2\r\n$4\r\nscan\r\n$1\r\n*\r\n"));
    assert_true(repeatable("*2\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n"));
    assert_true(repeatable("*2\r\n$9\r\nkeynotify\r\n$1\r\nk\r\n"));
    assert_false(repeatable("*3\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n$4\r\nSTOP\r\n"));
    assert_false(repeatable("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
    assert_false(repeatable("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"));
    assert_false(repeatable("*2\r\n$3\r\nGET\r\n$1\r\nk"));
    store_request none = {0};
    assert_false(store_request_repeatable(&none));
}

int run_service_reply_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_del_replies, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_value_and_lower_case, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_conditions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_vdel, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_framing_and_verbs, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_argc, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_syntax_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_empty_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fencing_texts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_precedence, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_protocol_version, fx_setup, fx_teardown),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_byte_quota),
        cmocka_unit_test(test_repeatable_requests),
    };
    return cmocka_run_group_tests_name("service replies", tests, NULL, NULL);
}
