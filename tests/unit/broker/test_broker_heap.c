/* util/heap: the deadline heap used for keep-alive, connect timeouts,
 * will delays, session expiry, slow subscribers and the store's expiry
 * index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/heap.h"

static uint64_t pop(heap *h)
{
    heap_node *n = heap_peek(h);
    assert_non_null(n);
    uint64_t k = heap_node_key(h, n);
    heap_remove(h, n);
    assert_false(heap_node_linked(n));
    return k;
}

static void test_orders_keys(void **state)
{
    (void)state;
    enum { N = 200 };
    heap h;
    heap_init(&h, HEAP_TIMER_KEY_OFFSET);
    heap_timer t[N];
    for (int i = 0; i < N; i++) {
        heap_node_init(&t[i].node);
        heap_set(&h, &t[i].node, (uint64_t)((i * 7919) % N));
    }
#ifndef NDEBUG
    assert_true(heap__check(&h));
#endif
    for (uint64_t want = 0; want < N; want++) assert_int_equal(pop(&h), want);
    assert_null(heap_peek(&h));
    heap_free(&h);
}

static void test_update_and_remove_middle(void **state)
{
    (void)state;
    heap h;
    heap_init(&h, HEAP_TIMER_KEY_OFFSET);
    heap_timer a, b, c, d;
    heap_node_init(&a.node), heap_node_init(&b.node), heap_node_init(&c.node), heap_node_init(&d.node);
    heap_set(&h, &a.node, 10);
    heap_set(&h, &b.node, 20);
    heap_set(&h, &c.node, 30);
    heap_set(&h, &d.node, 40);
    heap_set(&h, &d.node, 5); /* moves up */
    assert_ptr_equal(heap_peek(&h), &d.node);
    heap_set(&h, &d.node, 50); /* moves down */
    assert_ptr_equal(heap_peek(&h), &a.node);
    heap_remove(&h, &b.node);
    heap_remove(&h, &b.node); /* no-op when unlinked */
    assert_int_equal(pop(&h), 10);
    assert_int_equal(pop(&h), 30);
    assert_int_equal(pop(&h), 50);
    assert_null(heap_peek(&h));
    heap_free(&h);
}

/* The store's way: the key lives in the owner, which may update it
 * before calling heap_set (in either direction). */
typedef struct owner {
    uint32_t other;
    heap_node hn;
    uint64_t deadline;
} owner;

static void test_key_in_owner(void **state)
{
    (void)state;
    enum { N = 64 };
    heap h;
    heap_init(&h, HEAP_KEY_OFFSET(owner, deadline, hn));
    owner o[N];
    for (int i = 0; i < N; i++) {
        heap_node_init(&o[i].hn);
        o[i].deadline = 1000 + (uint64_t)i;
        heap_set(&h, &o[i].hn, o[i].deadline);
    }
    o[N - 1].deadline = 1; /* stored first, then announced */
    heap_set(&h, &o[N - 1].hn, o[N - 1].deadline);
    assert_ptr_equal(heap_peek(&h), &o[N - 1].hn);
    o[N - 1].deadline = 5000;
    heap_set(&h, &o[N - 1].hn, o[N - 1].deadline);
    assert_ptr_equal(heap_peek(&h), &o[0].hn);
#ifndef NDEBUG
    assert_true(heap__check(&h));
#endif
    assert_int_equal(pop(&h), 1000);
    heap_free(&h);
}

static void test_free_unlinks(void **state)
{
    (void)state;
    heap h;
    heap_init(&h, HEAP_TIMER_KEY_OFFSET);
    heap_timer a;
    heap_node_init(&a.node);
    heap_set(&h, &a.node, 1);
    heap_free(&h);
    assert_false(heap_node_linked(&a.node));
}

#ifndef NDEBUG
/* The debug checker sees a broken order and a stale back-index. */
static void test_check_detects_corruption(void **state)
{
    (void)state;
    heap h;
    heap_init(&h, HEAP_TIMER_KEY_OFFSET);
    heap_timer a, b, c;
    heap_node_init(&a.node), heap_node_init(&b.node), heap_node_init(&c.node);
    heap_set(&h, &a.node, 1);
    heap_set(&h, &b.node, 2);
    heap_set(&h, &c.node, 3);
    assert_true(heap__check(&h));
    assert_true(heap__check_node(&h, &b.node));
    b.key = 0; /* below its parent, behind the heap's back */
    assert_false(heap__check(&h));
    assert_false(heap__check_node(&h, &b.node));
    b.key = 2;
    heap_node *second = h.v[2];
    second->idx = 1; /* back-index disagrees with the slot */
    assert_false(heap__check(&h));
    second->idx = 2;
    assert_true(heap__check(&h));
    heap_free(&h);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_keys),
        cmocka_unit_test(test_update_and_remove_middle),
        cmocka_unit_test(test_key_in_owner),
        cmocka_unit_test(test_free_unlinks),
#ifndef NDEBUG
        cmocka_unit_test(test_check_detects_corruption),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
