/* The deadline heap used for keep-alive, connect timeouts, will delays
 * and session expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "broker/heap.h"

static uint64_t pop(heap *h)
{
    heap_node *n = heap_peek(h);
    assert_non_null(n);
    uint64_t k = n->key;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_keys),
        cmocka_unit_test(test_update_and_remove_middle),
        cmocka_unit_test(test_free_unlinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
