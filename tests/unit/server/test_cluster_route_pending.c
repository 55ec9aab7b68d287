/* Forwarded messages awaiting acknowledgements
 * (src/server/cluster_route_pending.h): the kept watermark advances only
 * over resolved promises, in order; a lost node, a deadline and a doomed
 * send fail exactly the promises concerned, naming their publishers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/cluster_route_pending.h"

#define B(s) mqtt_bytes_str(s)

typedef struct failed {
    char ids[64][16];
    uint64_t seqs[64];
    int n;
} failed;

static void on_fail(void *ctx, mqtt_bytes id, uint64_t seq)
{
    failed *f = ctx;
    snprintf(f->ids[f->n], 16, "%.*s", (int)id.len, (const char *)id.data);
    f->seqs[f->n++] = seq;
}

static void test_acks_in_any_order(void **state)
{
    (void)state;
    route_pending *rp = route_pending_new();
    assert_int_equal(route_pending_kept(rp), 0);
    uint64_t a = route_pending_add(rp, B("a"), 0x3, 100); /* nodes 0 and 1 */
    uint64_t b = route_pending_add(rp, B("b"), 0x2, 100);
    uint64_t c = route_pending_add(rp, B("c"), 0x1, 100);
    assert_true(a == 1 && b == 2 && c == 3);
    route_pending_ack(rp, b, 1);
    route_pending_ack(rp, c, 0);
    assert_int_equal(route_pending_kept(rp), 0); /* a still waits */
    route_pending_ack(rp, a, 0);
    assert_int_equal(route_pending_kept(rp), 0);
    route_pending_ack(rp, a, 0);  /* twice: nothing more */
    route_pending_ack(rp, 99, 0); /* unknown: ignored */
    route_pending_ack(rp, a, 1);
    assert_int_equal(route_pending_kept(rp), 3);
    assert_int_equal(route_pending_count(rp), 0);
    assert_int_equal(route_pending_bytes(rp), 0);
    route_pending_free(rp);
}

static void test_node_lost(void **state)
{
    (void)state;
    route_pending *rp = route_pending_new();
    uint64_t a = route_pending_add(rp, B("pa"), 0x1, 100);
    uint64_t b = route_pending_add(rp, B("pb"), 0x6, 100); /* nodes 1, 2 */
    uint64_t c = route_pending_add(rp, B("pc"), 0x4, 100); /* node 2 */
    route_pending_ack(rp, b, 1);
    failed f = {0};
    assert_int_equal(route_pending_fail_node(rp, 2, on_fail, &f), 2);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.ids[0], "pb");
    assert_string_equal(f.ids[1], "pc");
    assert_true(f.seqs[0] == b && f.seqs[1] == c);
    assert_int_equal(route_pending_kept(rp), 0); /* a still waits on node 0 */
    route_pending_ack(rp, a, 0);
    assert_int_equal(route_pending_kept(rp), 3);
    route_pending_free(rp);
}

static void test_deadline_and_doom(void **state)
{
    (void)state;
    route_pending *rp = route_pending_new();
    route_pending_add(rp, B("early"), 0x1, 100);
    uint64_t late = route_pending_add(rp, B("late"), 0x1, 200);
    uint64_t d = route_pending_add(rp, B("doomed"), 0x3, 300);
    route_pending_doom(rp, d);
    assert_true(route_pending_has_doomed(rp));
    route_pending_ack(rp, d, 0);
    route_pending_ack(rp, d, 1); /* all acknowledged, yet doomed: it still fails */
    failed f = {0};
    assert_int_equal(route_pending_expire(rp, 150, on_fail, &f), 1);
    assert_string_equal(f.ids[0], "early");
    assert_int_equal(route_pending_kept(rp), 1);
    assert_int_equal(route_pending_fail_doomed(rp, on_fail, &f), 1);
    assert_string_equal(f.ids[1], "doomed");
    assert_false(route_pending_has_doomed(rp));
    assert_int_equal(route_pending_kept(rp), 1);
    route_pending_ack(rp, late, 0);
    assert_int_equal(route_pending_kept(rp), 3);
    route_pending_free(rp);
}

/* The ring grows and wraps: thousands in flight, resolved out of order. */
static void test_many(void **state)
{
    (void)state;
    route_pending *rp = route_pending_new();
    uint64_t next_kept = 0;
    for (int round = 0; round < 20; round++) {
        uint64_t first = 0, last = 0;
        for (int i = 0; i < 500; i++) {
            last = route_pending_add(rp, B("p"), 0x1, 1000);
            if (!first) first = last;
        }
        for (uint64_t s = last; s >= first && s > 0; s--)
            if (s % 2) route_pending_ack(rp, s, 0);
        for (uint64_t s = first; s <= last; s++)
            if (!(s % 2)) route_pending_ack(rp, s, 0);
        next_kept = last;
        assert_int_equal(route_pending_kept(rp), next_kept);
    }
    assert_int_equal(route_pending_count(rp), 0);
    /* some left unresolved at free: no leak */
    route_pending_add(rp, B("left"), 0x1, 1);
    route_pending_free(rp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acks_in_any_order),
        cmocka_unit_test(test_node_lost),
        cmocka_unit_test(test_deadline_and_doom),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
