/* Versions from the server HLC (§4.5), PX expiry lazy and active (§6.2,
 * §6.6) and the stats counters. */
#include "service_tests.h"

static hlc parse(const char *s)
{
    hlc v;
    assert_true(hlc_parse(s, strlen(s), &v));
    return v;
}

static void test_versions_increase(void **state)
{
    fx *f = *state;
    hlc prev = {0};
    for (int i = 0; i < 50; i++) {
        if (i % 10 == 0) f->now += 7;
        const char *ts = fx_ts(f, -(int64_t)(i % 3) * 1000);
        hlc req = parse(ts);
        RUNT(f, ts, NULL, "SET", i % 2 ? "a" : "b", "v");
        fx_expect(f, "+OK\r\n");
        hlc v = fx_version(f);
        assert_true(hlc_compare(&v, &prev) > 0);
        assert_true(v.wall_ms > req.wall_ms || (v.wall_ms == req.wall_ms && v.counter > req.counter));
        prev = v;
    }
}

static void test_client_ahead_and_behind(void **state)
{
    fx *f = *state;
    /* Client 30 s ahead: the version follows the client, strictly above. */
    const char *ahead = fx_ts(f, 30000);
    RUNT(f, ahead, NULL, "SET", "k", "v");
    fx_expect(f, "+OK\r\n");
    hlc v1 = fx_version(f);
    assert_int_equal(v1.wall_ms, T0 + 30000);
    assert_true(v1.counter > 0);

    /* Client 10 s behind, server clock still below S: S keeps counting. */
    f->now += 5;
    RUNT(f, fx_ts(f, -10000), NULL, "SET", "k", "v");
    hlc v2 = fx_version(f);
    assert_true(hlc_compare(&v2, &v1) > 0);
    assert_int_equal(v2.wall_ms, T0 + 30000);

    /* Once the wall clock passes S, a lagging client gets the server's wall. */
    f->now = T0 + 40000;
    RUNT(f, fx_ts(f, -10000), NULL, "SET", "k", "v");
    hlc v3 = fx_version(f);
    assert_int_equal(v3.wall_ms, T0 + 40000);
    assert_int_equal(v3.counter, 0);
    assert_true(hlc_compare(&v3, &v2) > 0);

    /* A client at the same wall as S with a higher counter: still above it. */
    char same[64];
    snprintf(same, sizeof same, "%015llu:00009:client", (unsigned long long)(T0 + 40000));
    RUNT(f, same, NULL, "SET", "k", "v");
    hlc v4 = fx_version(f);
    assert_int_equal(v4.wall_ms, T0 + 40000);
    assert_int_equal(v4.counter, 10);
}

/* The version string is formatted the SDK way: 15 + 5 padded digits. */
static void test_version_format(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "k", "v");
    char want[64];
    snprintf(want, sizeof want, "%015llu:00001:mqstated", (unsigned long long)T0);
    assert_int_equal(f->r.version.len, strlen(want));
    assert_memory_equal(f->r.version.data, want, strlen(want));
}

static void test_px_lazy(void **state)
{
    fx *f = *state;
    RUN(f, "KEYNOTIFY", "k");
    RUN(f, "SET", "k", "v", "PX", "1000");
    hlc v = fx_version(f);
    assert_int_equal(store_service_next_deadline(f->s), T0 + 1000);
    f->now = T0 + 999;
    RUN(f, "GET", "k");
    fx_expect(f, "$1\r\nv\r\n");
    f->now = T0 + 1000;
    RUN(f, "GET", "k");
    fx_expect(f, "$-1\r\n");
    fx_expect_no_version(f);
    RUN(f, "VDEL", "k", "v"); /* expired counts as absent */
    fx_expect(f, ":0\r\n");
    fx_expect_no_version(f);
    /* The VDEL removed it lazily: watchers hear DELETE with the old version. */
    assert_int_equal(f->nnotes, 2);
    fx_expect_note(f, 1, "client-1", "k", 1, NOTIFY_DELETE, strlen(NOTIFY_DELETE));
    hlc nv = fx_note_version(f, 1);
    assert_int_equal(hlc_compare(&nv, &v), 0);
    assert_int_equal(store_service_next_deadline(f->s), 0);
}

static void test_px_lazy_then_set(void **state)
{
    fx *f = *state;
    RUN(f, "KEYNOTIFY", "k");
    RUN(f, "SET", "k", "old", "PX", "10");
    f->now += 10;
    RUN(f, "SET", "k", "new", "NX"); /* expired: NX applies */
    fx_expect(f, "+OK\r\n");
    /* One command, two events: DELETE of the expired entry, then SET. */
    assert_int_equal(f->nnotes, 3);
    fx_expect_note(f, 1, "client-1", "k", 1, NOTIFY_DELETE, strlen(NOTIFY_DELETE));
    const char *set = "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nnew\r\n";
    fx_expect_note(f, 2, "client-1", "k", 1, set, strlen(set));
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.insertions, 2);
    assert_int_equal(st.modifications, 0);
    assert_int_equal(st.deletions, 1);
}

static void test_set_without_px_clears_expiry(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "k", "v", "PX", "100");
    RUN(f, "SET", "k", "v");
    assert_int_equal(store_service_next_deadline(f->s), 0);
    f->now += 200;
    assert_false(store_service_expire(f->s, f->now));
    RUN(f, "GET", "k");
    fx_expect(f, "$1\r\nv\r\n");
    /* Renewal moves the deadline relative to the renewal time. */
    RUN(f, "SET", "k", "v", "NEX", "PX", "300");
    assert_int_equal(store_service_next_deadline(f->s), f->now + 300);
}

static void test_active_expiry(void **state)
{
    fx *f = *state;
    RUN(f, "KEYNOTIFY", "lease");
    RUN(f, "SET", "lease", "holder", "PX", "4000");
    hlc v = fx_version(f);
    fx_clear_notes(f);
    assert_int_equal(store_service_next_deadline(f->s), T0 + 4000);
    assert_false(store_service_expire(f->s, T0 + 3999));
    assert_int_equal(f->nnotes, 0);

    assert_false(store_service_expire(f->s, T0 + 4000));
    assert_int_equal(f->nnotes, 1);
    fx_expect_note(f, 0, "client-1", "lease", 5, NOTIFY_DELETE, strlen(NOTIFY_DELETE));
    hlc nv = fx_note_version(f, 0);
    assert_int_equal(hlc_compare(&nv, &v), 0);
    assert_int_equal(store_service_next_deadline(f->s), 0);

    f->now = T0 + 4000;
    RUN(f, "GET", "lease");
    fx_expect(f, "$-1\r\n");
    assert_false(store_service_expire(f->s, T0 + 5000)); /* nothing left */
    assert_int_equal(f->nnotes, 1);

    /* Later versions stay above the expiry tick and the removed version. */
    RUN(f, "SET", "lease", "next");
    hlc v2 = fx_version(f);
    assert_true(hlc_compare(&v2, &v) > 0);
}

static void test_expiry_batches(void **state)
{
    fx *f = *state;
    char key[32];
    for (int i = 0; i < 2500; i++) {
        snprintf(key, sizeof key, "k%d", i);
        RUN(f, "SET", key, "v", "PX", "50");
        fx_expect(f, "+OK\r\n");
    }
    RUN(f, "SET", "later", "v", "PX", "100");
    RUN(f, "KEYNOTIFY", "k7");
    uint64_t t = T0 + 50;
    int calls = 0;
    while (store_service_expire(f->s, t)) calls++;
    assert_int_equal(calls, 9); /* 9 x 256, then the last 196 */
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.deletions, 2500);
    assert_int_equal(st.keyspace.keys, 1);
    assert_int_equal(f->nnotes, 1);
    assert_int_equal(store_service_next_deadline(f->s), T0 + 100);
}

static void test_stats(void **state)
{
    fx *f = *state;
    RUN(f, "SET", "a", "1");       /* insertion */
    RUN(f, "SET", "a", "2");       /* modification */
    RUN(f, "SET", "a", "3", "NX"); /* not applied: neither */
    RUN(f, "SET", "b", "1");       /* insertion */
    RUN(f, "GET", "a");            /* retrieval */
    RUN(f, "GET", "zz");           /* retrieval (miss) */
    RUN(f, "KEYNOTIFY", "a");
    RUN(f, "KEYNOTIFY", "a", "STOP");
    RUN(f, "KEYNOTIFY", "b");
    RUN(f, "DEL", "b"); /* deletion + one notification */
    RUN(f, "DEL", "b"); /* nothing */
    RUN(f, "GET", "");  /* error */
    RUN(f, "NOPE");     /* error */
    store_stats st;
    store_service_stats(f->s, &st);
    assert_int_equal(st.insertions, 2);
    assert_int_equal(st.modifications, 1);
    assert_int_equal(st.retrievals, 2);
    assert_int_equal(st.keynotify_requests, 3);
    assert_int_equal(st.deletions, 1);
    assert_int_equal(st.notifications_sent, 1);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.registrations, 1);
    assert_int_equal(st.keyspace.keys, 1);
}

int run_service_time_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_increase, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_client_ahead_and_behind, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_version_format, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_px_lazy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_px_lazy_then_set, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_set_without_px_clears_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_active_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_batches, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stats, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("service time", tests, NULL, NULL);
}
