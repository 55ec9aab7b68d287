/* The cluster's interest table (src/server/cluster_interest.h): nodes
 * matched by their filters once per topic (the broker's matching rules:
 * wildcards, '$' topics), withdrawal, reset, shared groups picked one
 * node per message in proportion to member counts, the per-node bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/cluster_interest.h"

#define B(s) mqtt_bytes_str(s)

typedef struct seen {
    uint64_t nodes[16];
    int n_nodes;
    uint64_t share_node[16];
    char share[16][64];
    int n_shares;
} seen;

static void on_node(void *ctx, uint64_t node)
{
    seen *s = ctx;
    s->nodes[s->n_nodes++] = node;
}

static void on_share(void *ctx, uint64_t node, mqtt_bytes group, mqtt_bytes filter)
{
    seen *s = ctx;
    s->share_node[s->n_shares] = node;
    snprintf(s->share[s->n_shares], 64, "%.*s|%.*s", (int)group.len, (const char *)group.data, (int)filter.len,
             (const char *)filter.data);
    s->n_shares++;
}

static seen match(cluster_interest *ci, const char *topic)
{
    seen s;
    memset(&s, 0, sizeof s);
    cluster_interest_match(ci, B(topic), on_node, on_share, &s);
    return s;
}

static bool has(const seen *s, uint64_t node)
{
    for (int i = 0; i < s->n_nodes; i++)
        if (s->nodes[i] == node) return true;
    return false;
}

static void test_plain_once_per_node(void **state)
{
    (void)state;
    cluster_interest *ci = cluster_interest_new(100, 1);
    assert_true(cluster_interest_set(ci, 2, B("a/+"), 1));
    assert_true(cluster_interest_set(ci, 2, B("a/#"), 1));
    assert_true(cluster_interest_set(ci, 2, B("a/b"), 1));
    assert_true(cluster_interest_set(ci, 3, B("+/b"), 1));
    assert_true(cluster_interest_set(ci, 4, B("x"), 1));
    seen s = match(ci, "a/b");
    assert_int_equal(s.n_nodes, 2); /* node 2 once, though three of its filters match */
    assert_true(has(&s, 2) && has(&s, 3));
    s = match(ci, "x");
    assert_int_equal(s.n_nodes, 1);
    assert_true(has(&s, 4));
    assert_int_equal(match(ci, "b/c").n_nodes, 0);
    /* '$' topics match no filter starting with a wildcard */
    assert_true(cluster_interest_set(ci, 5, B("#"), 1));
    assert_int_equal(match(ci, "$SYS/x").n_nodes, 0);
    assert_true(cluster_interest_set(ci, 5, B("$SYS/#"), 1));
    s = match(ci, "$SYS/x");
    assert_int_equal(s.n_nodes, 1);
    assert_true(has(&s, 5));
    cluster_interest_free(ci);
}

static void test_withdraw_and_reset(void **state)
{
    (void)state;
    cluster_interest *ci = cluster_interest_new(100, 1);
    cluster_interest_set(ci, 2, B("a/+"), 1);
    cluster_interest_set(ci, 2, B("$share/g/a/+"), 2);
    cluster_interest_set(ci, 3, B("a/b"), 1);
    assert_int_equal(cluster_interest_count(ci, 2), 2);
    assert_int_equal(cluster_interest_get(ci, 2, B("$share/g/a/+")), 2);
    cluster_interest_set(ci, 2, B("a/+"), 0);
    seen s = match(ci, "a/b");
    assert_int_equal(s.n_nodes, 1);
    assert_true(has(&s, 3));
    assert_int_equal(s.n_shares, 1);
    assert_int_equal(s.share_node[0], 2);
    assert_string_equal(s.share[0], "g|a/+");
    cluster_interest_reset(ci, 2);
    assert_int_equal(cluster_interest_count(ci, 2), 0);
    s = match(ci, "a/b");
    assert_int_equal(s.n_shares, 0);
    assert_int_equal(s.n_nodes, 1);
    cluster_interest_set(ci, 3, B("a/b"), 0);
    cluster_interest_set(ci, 3, B("a/b"), 0); /* withdrawing what is gone: nothing */
    assert_int_equal(match(ci, "a/b").n_nodes, 0);
    cluster_interest_free(ci);
}

/* Members 2 on node 1, 1 on node 3: node 1 gets two messages in three,
 * within one message over any window. */
static void test_shared_weighted(void **state)
{
    (void)state;
    cluster_interest *ci = cluster_interest_new(100, 1);
    cluster_interest_set(ci, 1, B("$share/g/s/#"), 2);
    cluster_interest_set(ci, 3, B("$share/g/s/#"), 1);
    cluster_interest_set(ci, 2, B("$share/h/s/+"), 5);
    int to[4] = {0};
    for (int i = 0; i < 300; i++) {
        seen s = match(ci, "s/t");
        assert_int_equal(s.n_shares, 2); /* one pick per group */
        assert_int_equal(s.n_nodes, 0);  /* groups are not plain interest */
        for (int k = 0; k < 2; k++) {
            if (strcmp(s.share[k], "h|s/+") == 0) assert_int_equal(s.share_node[k], 2);
            else to[s.share_node[k]]++;
        }
        if (i % 3 == 2) {
            assert_int_equal(to[1], (i + 1) / 3 * 2);
            assert_int_equal(to[3], (i + 1) / 3);
        }
    }
    /* a member count of a node changes: proportions follow */
    cluster_interest_set(ci, 3, B("$share/g/s/#"), 2);
    memset(to, 0, sizeof to);
    for (int i = 0; i < 100; i++) to[match(ci, "s/t/u").share_node[0]]++;
    assert_int_equal(to[1], 50);
    assert_int_equal(to[3], 50);
    cluster_interest_set(ci, 1, B("$share/g/s/#"), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(match(ci, "s/t/u").share_node[0], 3);
    cluster_interest_free(ci);
}

static void test_bound(void **state)
{
    (void)state;
    cluster_interest *ci = cluster_interest_new(3, 1);
    char f[16];
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "t/%d", i);
        assert_true(cluster_interest_set(ci, 2, B(f), 1));
    }
    assert_true(cluster_interest_set(ci, 2, B("t/1"), 1)); /* not a new entry */
    assert_false(cluster_interest_wants_all(ci, 2));
    assert_false(cluster_interest_set(ci, 2, B("t/9"), 1));
    assert_true(cluster_interest_wants_all(ci, 2));
    assert_int_equal(cluster_interest_count(ci, 2), 3);
    seen s = match(ci, "anything");
    assert_int_equal(s.n_nodes, 1);
    assert_true(has(&s, 2));
    /* this node's own entries are exact, never bounded */
    for (int i = 0; i < 10; i++) {
        snprintf(f, sizeof f, "own/%d", i);
        assert_true(cluster_interest_set(ci, 1, B(f), 1));
    }
    assert_int_equal(cluster_interest_count(ci, 1), 10);
    assert_false(cluster_interest_wants_all(ci, 1));
    cluster_interest_reset(ci, 2); /* a full set replaces it */
    assert_false(cluster_interest_wants_all(ci, 2));
    cluster_interest_free(ci);
}

static void add_count(void *ctx, mqtt_bytes filter, uint32_t count)
{
    (void)filter;
    *(uint32_t *)ctx += count;
}

static void test_each(void **state)
{
    (void)state;
    cluster_interest *ci = cluster_interest_new(100, 1);
    cluster_interest_set(ci, 1, B("a"), 3);
    cluster_interest_set(ci, 1, B("$share/g/a"), 4);
    uint32_t sum = 0;
    cluster_interest_each(ci, 1, add_count, &sum);
    assert_int_equal(sum, 7);
    sum = 0;
    cluster_interest_each(ci, 9, add_count, &sum);
    assert_int_equal(sum, 0);
    cluster_interest_free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_once_per_node),
        cmocka_unit_test(test_withdraw_and_reset),
        cmocka_unit_test(test_shared_weighted),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
