#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "broker/retain.h"
#include "broker/topic_tree.h"
#include "match_cases.h"

/* A value counts its own releases: each must end at exactly 1. */
typedef struct val {
    int released;
    char topic[64];
} val;

static int total_released;

static void release(void *v)
{
    ((val *)v)->released++;
    total_released++;
}

typedef struct seen {
    size_t n;
    size_t stop_after; /* 0 = never stop */
    val *v[128];
    char topic[128][64];
} seen;

static bool collect(void *ctx, mqtt_bytes topic, void *value)
{
    seen *s = ctx;
    assert_true(s->n < 128);
    s->v[s->n] = value;
    snprintf(s->topic[s->n], sizeof s->topic[0], "%.*s", (int)topic.len, (const char *)topic.data);
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static void setup_counters(void) { total_released = 0; }

static void test_set_get_replace_clear(void **state)
{
    setup_counters();
    retain_store *r = retain_store_new(release);
    val a = {0}, b = {0}, c = {0};

    retain_store_set(r, B("x/y"), &a);
    assert_ptr_equal(retain_store_get(r, B("x/y")), &a);
    assert_null(retain_store_get(r, B("x")));
    assert_null(retain_store_get(r, B("x/y/z")));
    assert_int_equal(retain_store_count(r), 1);

    retain_store_set(r, B("x/y"), &b); /* replace releases the old value */
    assert_int_equal(a.released, 1);
    assert_int_equal(b.released, 0);
    assert_ptr_equal(retain_store_get(r, B("x/y")), &b);
    assert_int_equal(retain_store_count(r), 1);

    retain_store_set(r, B("x"), &c); /* parent of an existing topic */
    assert_int_equal(retain_store_count(r), 2);
    retain_store_set(r, B("x/y"), NULL);
    assert_int_equal(b.released, 1);
    assert_null(retain_store_get(r, B("x/y")));
    assert_ptr_equal(retain_store_get(r, B("x")), &c);
    assert_int_equal(retain_store_count(r), 1);
    assert_int_equal(retain_store_node_count(r), 1);

    retain_store_set(r, B("nope/none"), NULL); /* clearing nothing is fine */
    retain_store_set(r, B("x/y"), NULL);
    assert_int_equal(retain_store_count(r), 1);
    assert_int_equal(total_released, 2);

    retain_store_free(r);
    assert_int_equal(c.released, 1);
    assert_int_equal(total_released, 3);
}

/* For every filter of the shared table, the store (holding every topic of
 * the table) must visit exactly the topics topic_filter_matches accepts. */
static void test_match_table(void **state)
{
    setup_counters();
    static val vals[N_MATCH_CASES];
    retain_store *r = retain_store_new(release);
    size_t distinct = 0;
    for (size_t i = 0; i < N_MATCH_CASES; i++) {
        vals[i] = (val){0};
        snprintf(vals[i].topic, sizeof vals[i].topic, "%s", match_cases[i].topic);
        if (!retain_store_get(r, B(match_cases[i].topic))) distinct++;
        retain_store_set(r, B(match_cases[i].topic), &vals[i]);
    }
    assert_int_equal(retain_store_count(r), distinct);

    for (size_t i = 0; i < N_MATCH_CASES; i++) {
        const char *filter = match_cases[i].filter;
        seen s = {0};
        retain_store_match(r, B(filter), collect, &s);
        size_t want = 0;
        for (size_t j = 0; j < N_MATCH_CASES; j++) {
            val *v = retain_store_get(r, B(match_cases[j].topic));
            if (v != &vals[j] || !topic_filter_matches(B(filter), B(match_cases[j].topic)))
                continue; /* count each stored topic once */
            want++;
            bool found = false;
            for (size_t k = 0; k < s.n; k++) found |= s.v[k] == v;
            if (!found) fail_msg("filter '%s' missed topic '%s'", filter, match_cases[j].topic);
        }
        for (size_t k = 0; k < s.n; k++) {
            assert_string_equal(s.topic[k], s.v[k]->topic);
            assert_true(topic_filter_matches(B(filter), B(s.topic[k])));
        }
        if (s.n != want) fail_msg("filter '%s': visited %zu want %zu", filter, s.n, want);
    }
    retain_store_free(r);
    assert_int_equal(total_released, N_MATCH_CASES);
    for (size_t i = 0; i < N_MATCH_CASES; i++) assert_int_equal(vals[i].released, 1);
}

static void test_dollar_rule(void **state)
{
    retain_store *r = retain_store_new(NULL);
    val sys = {0}, a = {0}, d = {0};
    retain_store_set(r, B("$SYS/broker/uptime"), &sys);
    retain_store_set(r, B("a/$x"), &a);
    retain_store_set(r, B("$d"), &d);

    seen s = {0};
    retain_store_match(r, B("#"), collect, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.topic[0], "a/$x");
    s.n = 0;
    retain_store_match(r, B("+/+/+"), collect, &s);
    assert_int_equal(s.n, 0);
    retain_store_match(r, B("+"), collect, &s);
    assert_int_equal(s.n, 0);
    retain_store_match(r, B("$SYS/#"), collect, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.topic[0], "$SYS/broker/uptime");
    s.n = 0;
    retain_store_match(r, B("$d"), collect, &s);
    assert_int_equal(s.n, 1);
    retain_store_free(r); /* NULL release callback: nothing to call */
}

static void test_walk_stops(void **state)
{
    setup_counters();
    retain_store *r = retain_store_new(release);
    val v[10] = {0};
    char t[32];
    for (int i = 0; i < 10; i++) {
        snprintf(t, sizeof t, "s/%d/x", i);
        retain_store_set(r, B(t), &v[i]);
    }
    seen s = {.stop_after = 3};
    retain_store_match(r, B("#"), collect, &s);
    assert_int_equal(s.n, 3);
    s = (seen){.stop_after = 4};
    retain_store_match(r, B("s/+/x"), collect, &s);
    assert_int_equal(s.n, 4);
    s = (seen){0};
    retain_store_match(r, B("s/+/x"), collect, &s);
    assert_int_equal(s.n, 10);
    retain_store_free(r);
    assert_int_equal(total_released, 10);
}

/* Set and clear many topics: nodes go back to zero, every value released
 * exactly once. */
static void test_churn_and_pruning(void **state)
{
    setup_counters();
    enum { N = 3000 };
    val *v = calloc(N, sizeof *v);
    retain_store *r = retain_store_new(release);
    char t[64];
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "site/%d/dev/%d/%s", i % 17, i, i % 2 ? "temp" : "");
        retain_store_set(r, B(t), &v[i]);
    }
    assert_int_equal(retain_store_count(r), N);
    seen s = {0};
    retain_store_match(r, B("site/3/dev/+/temp"), collect, &s);
    size_t want = 0;
    for (int i = 0; i < N; i++) want += i % 17 == 3 && i % 2;
    assert_int_equal(s.n, want);

    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof t, "site/%d/dev/%d/%s", i % 17, i, i % 2 ? "temp" : "");
        retain_store_set(r, B(t), NULL);
    }
    assert_int_equal(retain_store_count(r), 0);
    assert_int_equal(retain_store_node_count(r), 0);
    for (int i = 0; i < N; i++) assert_int_equal(v[i].released, 1);
    retain_store_free(r);
    assert_int_equal(total_released, N);
    free(v);
}

/* Deep topics: set, "#" walk, clear and free do not recurse per level. */
static void test_deep_topic(void **state)
{
    enum { LEVELS = 20000 };
    char *t = malloc(LEVELS * 2);
    for (int i = 0; i < LEVELS; i++) {
        t[2 * i] = 'a';
        t[2 * i + 1] = '/';
    }
    t[LEVELS * 2 - 1] = '\0';
    setup_counters();
    val deep = {0}, top = {0};
    retain_store *r = retain_store_new(release);
    retain_store_set(r, B(t), &deep);
    retain_store_set(r, B("a"), &top);
    seen s = {0};
    retain_store_match(r, B("a/#"), collect, &s);
    assert_int_equal(s.n, 2);
    assert_ptr_equal(s.v[0], &top);
    assert_ptr_equal(s.v[1], &deep);
    retain_store_free(r);
    assert_int_equal(deep.released, 1);
    assert_int_equal(top.released, 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_clear), cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_dollar_rule),           cmocka_unit_test(test_walk_stops),
        cmocka_unit_test(test_churn_and_pruning),     cmocka_unit_test(test_deep_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
