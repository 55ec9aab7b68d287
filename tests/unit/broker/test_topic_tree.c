#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "broker/topic_tree.h"
#include "match_cases.h"

/* Records what topic_tree_match visited. */
#define MAX_HITS 64
typedef struct hits {
    size_t n;
    void *owner[MAX_HITS];
    sub_options opts[MAX_HITS];
    char filter[MAX_HITS][64];
    char group[MAX_HITS][16];
    /* eligibility: owners listed here are not eligible */
    void *ineligible[8];
    size_t n_ineligible;
} hits;

static void record(void *ctx, const subscription *s)
{
    hits *h = ctx;
    assert_true(h->n < MAX_HITS);
    h->owner[h->n] = s->owner;
    h->opts[h->n] = s->opts;
    snprintf(h->filter[h->n], sizeof h->filter[0], "%.*s", (int)s->filter.len, (const char *)s->filter.data);
    snprintf(h->group[h->n], sizeof h->group[0], "%.*s", (int)s->group.len, (const char *)s->group.data);
    h->n++;
}

static bool eligible(void *ctx, void *owner)
{
    hits *h = ctx;
    for (size_t i = 0; i < h->n_ineligible; i++)
        if (h->ineligible[i] == owner) return false;
    return true;
}

static size_t match_n(topic_tree *t, const char *topic, hits *h)
{
    h->n = 0;
    topic_tree_match(t, B(topic), record, eligible, h);
    return h->n;
}

static const sub_options qos1 = {.qos = 1};
static int o1, o2, o3;

static void test_filter_matches_table(void **state)
{
    for (size_t i = 0; i < N_MATCH_CASES; i++) {
        const match_case *c = &match_cases[i];
        if (topic_filter_matches(B(c->filter), B(c->topic)) != c->match)
            fail_msg("filter '%s' topic '%s': expected %d", c->filter, c->topic, c->match);
    }
}

/* Each case on a tree holding just that one filter. */
static void test_tree_matches_table(void **state)
{
    for (size_t i = 0; i < N_MATCH_CASES; i++) {
        const match_case *c = &match_cases[i];
        topic_tree *t = topic_tree_new();
        hits h = {0};
        assert_true(topic_tree_subscribe(t, B(c->filter), &o1, &qos1));
        if (match_n(t, c->topic, &h) != (c->match ? 1u : 0u))
            fail_msg("tree: filter '%s' topic '%s': expected %d", c->filter, c->topic, c->match);
        topic_tree_free(t);
    }
}

/* All filters in one tree, one owner each: every topic must visit exactly
 * the owners whose filter matches it. */
static void test_tree_all_filters_at_once(void **state)
{
    static char owners[N_MATCH_CASES];
    topic_tree *t = topic_tree_new();
    for (size_t i = 0; i < N_MATCH_CASES; i++)
        assert_true(topic_tree_subscribe(t, B(match_cases[i].filter), &owners[i], &qos1));
    assert_int_equal(topic_tree_count(t), N_MATCH_CASES);

    for (size_t i = 0; i < N_MATCH_CASES; i++) {
        const char *topic = match_cases[i].topic;
        bool seen[N_MATCH_CASES] = {0};
        hits h = {0};
        match_n(t, topic, &h);
        for (size_t k = 0; k < h.n; k++) {
            size_t idx = (size_t)((char *)h.owner[k] - owners);
            assert_false(seen[idx]);
            seen[idx] = true;
            assert_string_equal(h.filter[k], match_cases[idx].filter);
        }
        for (size_t j = 0; j < N_MATCH_CASES; j++) {
            bool want = topic_filter_matches(B(match_cases[j].filter), B(topic));
            if (seen[j] != want)
                fail_msg("topic '%s' filter '%s': seen %d want %d", topic, match_cases[j].filter, seen[j], want);
        }
    }
    topic_tree_free(t);
}

static void test_subscribe_replace_unsubscribe(void **state)
{
    topic_tree *t = topic_tree_new();
    hits h = {0};
    sub_options q2 = {.qos = 2, .no_local = true, .sub_id = 7};

    assert_true(topic_tree_subscribe(t, B("a/b"), &o1, &qos1));
    assert_false(topic_tree_subscribe(t, B("a/b"), &o1, &q2));
    assert_true(topic_tree_subscribe(t, B("a/b"), &o2, &qos1));
    assert_int_equal(topic_tree_count(t), 2);

    assert_int_equal(match_n(t, "a/b", &h), 2);
    for (size_t i = 0; i < 2; i++) {
        if (h.owner[i] == &o1) {
            assert_int_equal(h.opts[i].qos, 2);
            assert_true(h.opts[i].no_local);
            assert_int_equal(h.opts[i].sub_id, 7);
        } else {
            assert_ptr_equal(h.owner[i], &o2);
            assert_int_equal(h.opts[i].qos, 1);
        }
        assert_string_equal(h.filter[i], "a/b");
        assert_string_equal(h.group[i], "");
    }

    assert_false(topic_tree_unsubscribe(t, B("a/b"), &o3));
    assert_false(topic_tree_unsubscribe(t, B("a"), &o1));
    assert_false(topic_tree_unsubscribe(t, B("a/b/c"), &o1));
    assert_false(topic_tree_unsubscribe(t, B("$share/g/a/b"), &o1));
    assert_true(topic_tree_unsubscribe(t, B("a/b"), &o1));
    assert_false(topic_tree_unsubscribe(t, B("a/b"), &o1));
    assert_int_equal(match_n(t, "a/b", &h), 1);
    assert_ptr_equal(h.owner[0], &o2);
    assert_true(topic_tree_unsubscribe(t, B("a/b"), &o2));
    assert_int_equal(topic_tree_count(t), 0);
    assert_int_equal(topic_tree_node_count(t), 0);
    assert_int_equal(match_n(t, "a/b", &h), 0);
    topic_tree_free(t);
}

static void test_split_share(void **state)
{
    mqtt_bytes g = {0}, f = {0};
    assert_true(topic_filter_split_share(B("$share/grp/a/+/c"), &g, &f));
    assert_int_equal(g.len, 3);
    assert_memory_equal(g.data, "grp", 3);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "a/+/c", 5);
    assert_true(topic_filter_split_share(B("$share/g/#"), &g, &f));
    assert_int_equal(f.len, 1);

    mqtt_bytes g0 = {0}, f0 = {0};
    assert_false(topic_filter_split_share(B("$share/grp"), &g0, &f0));
    assert_false(topic_filter_split_share(B("$share//a"), &g0, &f0));
    assert_false(topic_filter_split_share(B("$share/g/"), &g0, &f0));
    assert_false(topic_filter_split_share(B("$SHARE/g/a"), &g0, &f0));
    assert_false(topic_filter_split_share(B("share/g/a"), &g0, &f0));
    assert_false(topic_filter_split_share(B("a/b"), &g0, &f0));
    assert_null(g0.data);
    assert_null(f0.data);
}

static void test_shared_round_robin(void **state)
{
    topic_tree *t = topic_tree_new();
    hits h = {0};
    assert_true(topic_tree_subscribe(t, B("$share/g/s/+"), &o1, &qos1));
    assert_true(topic_tree_subscribe(t, B("$share/g/s/+"), &o2, &qos1));
    assert_true(topic_tree_subscribe(t, B("$share/g/s/+"), &o3, &qos1));
    assert_false(topic_tree_subscribe(t, B("$share/g/s/+"), &o3, &qos1));
    assert_int_equal(topic_tree_count(t), 3);

    /* 9 messages: each member exactly 3 times, never twice in a row. */
    int got[3] = {0};
    void *prev = NULL;
    for (int i = 0; i < 9; i++) {
        assert_int_equal(match_n(t, "s/x", &h), 1);
        assert_string_equal(h.group[0], "g");
        assert_string_equal(h.filter[0], "s/+");
        assert_ptr_not_equal(h.owner[0], prev);
        prev = h.owner[0];
        got[h.owner[0] == &o1 ? 0 : h.owner[0] == &o2 ? 1 : 2]++;
    }
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 3);

    /* o2 ineligible: alternates between o1 and o3 only. */
    h.ineligible[0] = &o2;
    h.n_ineligible = 1;
    for (int i = 0; i < 6; i++) {
        match_n(t, "s/x", &h);
        assert_ptr_not_equal(h.owner[0], &o2);
    }
    /* Nobody eligible: still delivered, still rotating. */
    h.ineligible[1] = &o1;
    h.ineligible[2] = &o3;
    h.n_ineligible = 3;
    memset(got, 0, sizeof got);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(match_n(t, "s/x", &h), 1);
        got[h.owner[0] == &o1 ? 0 : h.owner[0] == &o2 ? 1 : 2]++;
    }
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 2);
    assert_int_equal(got[2], 2);
    h.n_ineligible = 0;

    /* Removing a member keeps the rotation over the rest. */
    assert_true(topic_tree_unsubscribe(t, B("$share/g/s/+"), &o2));
    for (int i = 0; i < 4; i++) {
        match_n(t, "s/x", &h);
        assert_ptr_not_equal(h.owner[0], &o2);
    }
    assert_true(topic_tree_unsubscribe(t, B("$share/g/s/+"), &o1));
    assert_true(topic_tree_unsubscribe(t, B("$share/g/s/+"), &o3));
    assert_int_equal(match_n(t, "s/x", &h), 0);
    assert_int_equal(topic_tree_node_count(t), 0);
    topic_tree_free(t);
}

static void test_shared_null_eligible(void **state)
{
    topic_tree *t = topic_tree_new();
    hits h = {0};
    topic_tree_subscribe(t, B("$share/g/x"), &o1, &qos1);
    topic_tree_subscribe(t, B("$share/g/x"), &o2, &qos1);
    topic_tree_match(t, B("x"), record, NULL, &h);
    topic_tree_match(t, B("x"), record, NULL, &h);
    assert_int_equal(h.n, 2);
    assert_ptr_not_equal(h.owner[0], h.owner[1]);
    topic_tree_free(t);
}

/* One owner, five distinct subscriptions matching one topic. */
static void test_overlapping_subscriptions(void **state)
{
    topic_tree *t = topic_tree_new();
    hits h = {0};
    const char *filters[] = {"a/b", "a/+", "#", "$share/g/a/b", "$share/h/a/b"};
    for (size_t i = 0; i < 5; i++) assert_true(topic_tree_subscribe(t, B(filters[i]), &o1, &qos1));
    assert_true(topic_tree_subscribe(t, B("$share/g/a/b"), &o2, &qos1));
    assert_int_equal(topic_tree_count(t), 6);

    int seen_g = 0, seen_h = 0, plain = 0;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(match_n(t, "a/b", &h), 5);
        for (size_t i = 0; i < h.n; i++) {
            if (strcmp(h.group[i], "g") == 0) {
                seen_g++;
                assert_string_equal(h.filter[i], "a/b");
            } else if (strcmp(h.group[i], "h") == 0) {
                seen_h++;
                assert_ptr_equal(h.owner[i], &o1);
            } else {
                plain++;
                assert_ptr_equal(h.owner[i], &o1);
            }
        }
    }
    assert_int_equal(seen_g, 2);
    assert_int_equal(seen_h, 2);
    assert_int_equal(plain, 6);

    /* Unsubscribing the shared one leaves the plain one alone. */
    assert_true(topic_tree_unsubscribe(t, B("$share/h/a/b"), &o1));
    assert_int_equal(match_n(t, "a/b", &h), 4);
    topic_tree_free(t);
}

/* Subscribe/unsubscribe churn must leave no node behind. */
static void test_pruning(void **state)
{
    topic_tree *t = topic_tree_new();
    char f[64];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            snprintf(f, sizeof f, "%s/dev%d/+/x/%d", i % 2 ? "a" : "$share/g/b", i, i % 7);
            assert_true(topic_tree_subscribe(t, B(f), &o1, &qos1));
            snprintf(f, sizeof f, "r/%d/#", i);
            assert_true(topic_tree_subscribe(t, B(f), &o2, &qos1));
        }
        assert_int_equal(topic_tree_count(t), 1000);
        assert_true(topic_tree_node_count(t) > 1000);
        hits h = {0};
        assert_int_equal(match_n(t, "a/dev3/q/x/3", &h), 1);
        assert_int_equal(match_n(t, "r/499", &h), 1);
        for (int i = 499; i >= 0; i--) {
            snprintf(f, sizeof f, "%s/dev%d/+/x/%d", i % 2 ? "a" : "$share/g/b", i, i % 7);
            assert_true(topic_tree_unsubscribe(t, B(f), &o1));
            snprintf(f, sizeof f, "r/%d/#", i);
            assert_true(topic_tree_unsubscribe(t, B(f), &o2));
        }
        assert_int_equal(topic_tree_count(t), 0);
        assert_int_equal(topic_tree_node_count(t), 0);
    }
    topic_tree_free(t);
}

/* Many siblings: exercises table growth, shrink and deletion. */
static void test_many_siblings(void **state)
{
    topic_tree *t = topic_tree_new();
    char f[32];
    hits h = {0};
    for (int i = 0; i < 2000; i++) {
        snprintf(f, sizeof f, "n/%d", i);
        topic_tree_subscribe(t, B(f), (void *)(uintptr_t)(i + 1), &qos1);
    }
    for (int i = 0; i < 2000; i += 3) {
        snprintf(f, sizeof f, "n/%d", i);
        assert_true(topic_tree_unsubscribe(t, B(f), (void *)(uintptr_t)(i + 1)));
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(f, sizeof f, "n/%d", i);
        size_t want = i % 3 ? 1 : 0;
        assert_int_equal(match_n(t, f, &h), want);
        if (want) assert_ptr_equal(h.owner[0], (void *)(uintptr_t)(i + 1));
    }
    topic_tree_free(t); /* frees the remaining ones: LSan checks */
}

static unsigned char fan_seen[3000];

static void fan_record(void *ctx, const subscription *s)
{
    fan_seen[(uintptr_t)s->owner]++;
    (*(size_t *)ctx)++;
}

/* Thousands of owners on one filter (plain and shared): the owner index
 * must keep replace/remove exact while entries move around. */
static void test_large_fanout(void **state)
{
    enum { N = 3000 };
    topic_tree *t = topic_tree_new();
    for (uintptr_t i = 1; i < N; i++) {
        assert_true(topic_tree_subscribe(t, B("bcast"), (void *)i, &qos1));
        assert_true(topic_tree_subscribe(t, B("$share/g/bcast"), (void *)i, &qos1));
    }
    for (uintptr_t i = 1; i < N; i += 2) assert_false(topic_tree_subscribe(t, B("bcast"), (void *)i, &qos1));
    /* remove 2 of every 3, in an order that moves entries around */
    for (uintptr_t i = N - 1; i >= 1; i--) {
        if (i % 3 == 0) continue;
        assert_true(topic_tree_unsubscribe(t, B("bcast"), (void *)i));
        assert_false(topic_tree_unsubscribe(t, B("bcast"), (void *)i));
        assert_true(topic_tree_unsubscribe(t, B("$share/g/bcast"), (void *)i));
    }
    size_t want = (N - 1) / 3;
    assert_int_equal(topic_tree_count(t), 2 * want);

    /* One match: every remaining owner once, plus one shared delivery;
     * then `want` more matches: the share group rotates over all. */
    memset(fan_seen, 0, sizeof fan_seen);
    size_t n = 0;
    topic_tree_match(t, B("bcast"), fan_record, NULL, &n);
    assert_int_equal(n, want + 1);
    for (size_t k = 1; k < want; k++) topic_tree_match(t, B("$x"), fan_record, NULL, &n); /* no match */
    for (uintptr_t i = 1; i < N; i++) assert_true(fan_seen[i] <= (i % 3 == 0 ? 2 : 0));
    for (uintptr_t i = 3; i < N; i += 3) assert_true(topic_tree_unsubscribe(t, B("bcast"), (void *)i));
    memset(fan_seen, 0, sizeof fan_seen);
    n = 0;
    for (size_t k = 0; k < want; k++) topic_tree_match(t, B("bcast"), fan_record, NULL, &n);
    assert_int_equal(n, want);
    for (uintptr_t i = 3; i < N; i += 3) assert_int_equal(fan_seen[i], 1);
    topic_tree_free(t);
}

/* Deep filters: free and prune must not recurse per level. */
static void test_deep_filter(void **state)
{
    enum { LEVELS = 20000 };
    char *f = malloc(LEVELS * 2);
    for (int i = 0; i < LEVELS; i++) {
        f[2 * i] = 'a';
        f[2 * i + 1] = '/';
    }
    f[LEVELS * 2 - 1] = '\0';
    topic_tree *t = topic_tree_new();
    hits h = {0};
    assert_true(topic_tree_subscribe(t, B(f), &o1, &qos1));
    assert_true(topic_tree_subscribe(t, B("a/#"), &o2, &qos1));
    h.n = 0;
    topic_tree_match(t, B(f), record, NULL, &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(topic_tree_node_count(t), LEVELS + 1);
    topic_tree_free(t);

    t = topic_tree_new();
    assert_true(topic_tree_subscribe(t, B(f), &o1, &qos1));
    assert_true(topic_tree_unsubscribe(t, B(f), &o1));
    assert_int_equal(topic_tree_node_count(t), 0);
    topic_tree_free(t);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_matches_table),
        cmocka_unit_test(test_tree_matches_table),
        cmocka_unit_test(test_tree_all_filters_at_once),
        cmocka_unit_test(test_subscribe_replace_unsubscribe),
        cmocka_unit_test(test_split_share),
        cmocka_unit_test(test_shared_round_robin),
        cmocka_unit_test(test_shared_null_eligible),
        cmocka_unit_test(test_overlapping_subscriptions),
        cmocka_unit_test(test_pruning),
        cmocka_unit_test(test_many_siblings),
        cmocka_unit_test(test_large_fanout),
        cmocka_unit_test(test_deep_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
