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
    uint64_t k = heap_peek_key(h);
    heap_remove(h, n);
    assert_false(heap_node_linked(n));
    return k;
}

static void test_orders_keys(void **state)
{
    (void)state;
    enum { N = 200 };
    heap h = {0};
    heap_node nodes[N];
    for (int i = 0; i < N; i++) {
        heap_node_init(&nodes[i]);
        heap_set(&h, &nodes[i], (uint64_t)((i * 7919) % N));
    }
    assert_true(heap__check(&h));
    for (uint64_t want = 0; want < N; want++) assert_int_equal(pop(&h), want);
    assert_null(heap_peek(&h));
    heap_free(&h);
}

static void test_update_and_remove_middle(void **state)
{
    (void)state;
    heap h = {0};
    heap_node a, b, c, d;
    heap_node_init(&a), heap_node_init(&b), heap_node_init(&c), heap_node_init(&d);
    heap_set(&h, &a, 10);
    heap_set(&h, &b, 20);
    heap_set(&h, &c, 30);
    heap_set(&h, &d, 40);
    heap_set(&h, &d, 5); /* moves up */
    assert_ptr_equal(heap_peek(&h), &d);
    heap_set(&h, &d, 50); /* moves down */
    assert_ptr_equal(heap_peek(&h), &a);
    heap_remove(&h, &b);
    heap_remove(&h, &b); /* no-op when unlinked */
    assert_int_equal(pop(&h), 10);
    assert_int_equal(pop(&h), 30);
    assert_int_equal(pop(&h), 50);
    assert_null(heap_peek(&h));
    heap_free(&h);
}

static void test_free_unlinks(void **state)
{
    (void)state;
    heap h = {0};
    heap_node a;
    heap_node_init(&a);
    heap_set(&h, &a, 1);
    heap_free(&h);
    assert_false(heap_node_linked(&a));
}

/* The debug checker sees a broken order and a stale back-index. */
static void test_check_detects_corruption(void **state)
{
    (void)state;
    heap h = {0};
    heap_node a, b, c;
    heap_node_init(&a), heap_node_init(&b), heap_node_init(&c);
    heap_set(&h, &a, 1);
    heap_set(&h, &b, 2);
    heap_set(&h, &c, 3);
    assert_true(heap__check(&h));
    assert_true(heap__check_node(&h, &b));
    h.v[1].key = 0; /* child below its parent */
    assert_false(heap__check(&h));
    assert_false(heap__check_node(&h, h.v[1].node));
    h.v[1].key = 2;
    h.v[2].node->idx = 1; /* back-index disagrees with the slot */
    assert_false(heap__check(&h));
    h.v[2].node->idx = 2;
    assert_true(heap__check(&h));
    heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_keys),
        cmocka_unit_test(test_update_and_remove_middle),
        cmocka_unit_test(test_free_unlinks),
        cmocka_unit_test(test_check_detects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
