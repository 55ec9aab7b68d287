/* Reference-counted messages, expiry arithmetic and delivery lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/internal.h"

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static void test_msg_copies_and_refcounts(void **state)
{
    (void)state;
    char topic[] = "a/b", payload[] = "hello";
    static const uint8_t props[] = {MQTT_PROP_CONTENT_TYPE, 0x00, 0x01, 'x'};
    msg *m = broker__msg_new(B(topic), B(payload), (mqtt_bytes){props, sizeof props}, 1, true);
    topic[0] = 'z'; /* the message owns copies */
    payload[0] = 'j';
    assert_true(mqtt_bytes_eq(m->topic, B("a/b")));
    assert_true(mqtt_bytes_eq(m->payload, B("hello")));
    assert_int_equal(m->props.len, 4);
    assert_memory_equal(m->props.data, props, sizeof props);
    /* The alias hash is computed once, on first use, and depends on the topic alone. */
    assert_false(m->topic_hashed);
    msg *same = broker__msg_new(B("a/b"), B("other"), (mqtt_bytes){0}, 0, false);
    msg *other = broker__msg_new(B("a/c"), B("hello"), (mqtt_bytes){0}, 0, false);
    uint32_t h = broker__msg_topic_hash(m);
    assert_true(m->topic_hashed);
    assert_int_equal(broker__msg_topic_hash(m), h);
    assert_int_equal(broker__msg_topic_hash(same), h);
    assert_int_not_equal(broker__msg_topic_hash(other), h);
    broker__msg_unref(same);
    broker__msg_unref(other);
    assert_ptr_equal(broker__msg_ref(m), m);
    assert_int_equal(m->refs, 2);
    broker__msg_unref(m);
    broker__msg_unref(m); /* freed: LSan would report a leak otherwise */
}

/* A freed small message's block is reused by the next message of about
 * the same size, with every field set afresh; one of a very different
 * size gets its own block. */
static void test_msg_block_reuse(void **state)
{
    (void)state;
    broker__msg_pool_drain();
    msg *a = broker__msg_new(B("resp/1"), B("+OK"), B("pp"), 1, true);
    a->expiry_at = 77;
    (void)broker__msg_topic_hash(a);
    broker__msg_ref(a);
    broker__msg_unref(a);
    broker__msg_unref(a);
    msg *b = broker__msg_new(B("resp/2"), B(":1"), B("p"), 0, false);
    assert_ptr_equal(b, a); /* same shape: the block came back */
    assert_int_equal(b->refs, 1);
    assert_int_equal(b->expiry_at, 0);
    assert_int_equal(b->qos, 0);
    assert_false(b->retain);
    assert_true(mqtt_bytes_eq(b->topic, B("resp/2")));
    assert_true(mqtt_bytes_eq(b->payload, B(":1")));
    assert_true(mqtt_bytes_eq(b->props, B("p")));
    assert_false(b->topic_hashed); /* a's hash is not taken for b's topic */
    broker__msg_unref(b);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    msg *c = broker__msg_new(B("t"), B(big), B(""), 0, false);
    assert_ptr_not_equal(c, b); /* far larger: not squeezed into the small block */
    assert_true(mqtt_bytes_eq(c->payload, B(big)));
    broker__msg_unref(c);
    broker__msg_pool_drain(); /* everything freed: LSan checks the blocks went back */
}

/* A burst of replies (a group commit of the durable state store answers
 * hundreds of writes at once) freed together: the next burst reuses every
 * block instead of going back to malloc. */
static void test_msg_block_reuse_burst(void **state)
{
    (void)state;
    enum { N = 1024 };
    static msg *a[N];
    broker__msg_pool_drain();
    for (int i = 0; i < N; i++) a[i] = broker__msg_new(B("resp/1"), B("+OK"), B("pp"), 1, false);
    for (int i = 0; i < N; i++) broker__msg_unref(a[i]);
    for (int i = 0; i < N; i++) {
        msg *m = broker__msg_new(B("resp/2"), B("+OK"), B("pp"), 1, false);
        assert_ptr_equal(m, a[N - 1 - i]); /* last freed, first reused */
    }
    for (int i = 0; i < N; i++) broker__msg_unref(a[i]);
    broker__msg_pool_drain();
}

static void test_delivery_reuse_burst(void **state)
{
    (void)state;
    enum { N = 1024 };
    static delivery *d[N];
    broker__delivery_pool_drain();
    msg *m = broker__msg_new(B("resp/1"), B("+OK"), B(""), 1, false);
    for (int i = 0; i < N; i++) d[i] = broker__delivery_new(m, 1, false, NULL, 0);
    for (int i = 0; i < N; i++) broker__delivery_free(d[i]);
    for (int i = 0; i < N; i++) assert_ptr_equal(broker__delivery_new(m, 1, false, NULL, 0), d[N - 1 - i]);
    for (int i = 0; i < N; i++) broker__delivery_free(d[i]);
    broker__msg_unref(m);
    broker__delivery_pool_drain();
    broker__msg_pool_drain();
}

static void test_expiry(void **state)
{
    (void)state;
    msg *m = broker__msg_new(B("t"), B(""), B(""), 0, false);
    assert_false(broker__msg_expired(m, 1000));
    assert_int_equal(broker__msg_expiry_left(m, 1000), 0);
    m->expiry_at = 10000;
    assert_false(broker__msg_expired(m, 9999));
    assert_int_equal(broker__msg_expiry_left(m, 9999), 1); /* rounded up, never 0 while live */
    assert_int_equal(broker__msg_expiry_left(m, 5000), 5);
    assert_int_equal(broker__msg_expiry_left(m, 4999), 6);
    assert_true(broker__msg_expired(m, 10000));
    broker__msg_unref(m);
}

static void test_delivery_list(void **state)
{
    (void)state;
    msg *m = broker__msg_new(B("t"), B("p"), B(""), 2, false);
    uint32_t ids[] = {3, 9};
    dlv_list l = {0};
    delivery *a = broker__delivery_new(m, 1, false, ids, 2);
    delivery *b = broker__delivery_new(m, 2, true, ids, 1);
    delivery *c = broker__delivery_new(m, 2, false, NULL, 0);
    assert_int_equal(m->refs, 4);
    assert_int_equal(broker__delivery_sub_ids(a)[1], 9);
    assert_int_equal(broker__delivery_sub_ids(b)[0], 3);
    broker__dlv_push(&l, a);
    broker__dlv_push(&l, b);
    broker__dlv_push(&l, c);
    /* bytes: each entry counts itself and its whole message */
    assert_int_equal(broker__dlv_cost(a), sizeof *a + sizeof *m + m->cap);
    assert_int_equal(l.bytes, 3 * broker__dlv_cost(a));
    broker__dlv_unlink(&l, a, b); /* middle */
    assert_int_equal(l.bytes, 2 * broker__dlv_cost(a));
    assert_ptr_equal(l.head, a);
    assert_ptr_equal(a->next, c);
    broker__dlv_unlink(&l, a, c); /* tail */
    assert_ptr_equal(l.tail, a);
    assert_int_equal(l.n, 1);
    broker__dlv_push(&l, b);
    assert_ptr_equal(broker__dlv_pop(&l), a);
    assert_ptr_equal(l.head, b);
    broker__delivery_free(a);
    broker__delivery_free(c);
    broker__dlv_clear(&l);
    assert_null(l.head);
    assert_null(l.tail);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.bytes, 0);
    assert_int_equal(m->refs, 1);
    broker__msg_unref(m);
}

static void test_share_key(void **state)
{
    (void)state;
    share_key *k = broker__share_key_new(B("$share/g/a/#"));
    assert_int_equal(k->len, 12);
    assert_memory_equal(k->filter, "$share/g/a/#", 12);
    broker__share_key_ref(k);
    broker__share_key_unref(k);
    broker__share_key_unref(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_copies_and_refcounts),
        cmocka_unit_test(test_msg_block_reuse),
        cmocka_unit_test(test_msg_block_reuse_burst),
        cmocka_unit_test(test_delivery_reuse_burst),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_delivery_list),
        cmocka_unit_test(test_share_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
