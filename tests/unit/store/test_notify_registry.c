/* KEYNOTIFY registrations (§7.1) and notification topics (§1.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "store/notify_registry.h"
#include "ssproto/topic.h"
#include "util/buf.h"

#define S(x) (x), strlen(x)

typedef struct seen {
    char ids[8][32];
    char hex[8][64];
    size_t n;
} seen;

static void collect(void *ctx, const notify_watcher *w)
{
    seen *s = ctx;
    assert_true(s->n < 8);
    assert_int_equal(w->hexlen, 2 * w->idlen);
    assert_int_equal(strlen(w->client_hex), w->hexlen);
    memcpy(s->ids[s->n], w->client_id, w->idlen);
    s->ids[s->n][w->idlen] = 0;
    snprintf(s->hex[s->n], sizeof s->hex[0], "%s", w->client_hex);
    s->n++;
}

static seen watchers(notify_registry *r, const char *key, size_t klen)
{
    seen s = {0};
    size_t n = notify_registry_foreach_watcher(r, key, klen, collect, &s);
    assert_int_equal(n, s.n);
    return s;
}

static void test_register_idempotent(void **state)
{
    (void)state;
    notify_registry *r = notify_registry_new(0);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k")), NOTIFY_ADD_EXISTED);
    assert_int_equal(notify_registry_count(r), 1);
    assert_int_equal(notify_registry_add(r, S("c2"), S("k")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, S("c1"), S("other")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_count(r), 3);
    assert_int_equal(notify_registry_clients(r), 2);
    assert_int_equal(notify_registry_keys(r), 2);

    seen s = watchers(r, S("k"));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "c1"); /* registration order */
    assert_string_equal(s.ids[1], "c2");
    assert_string_equal(s.hex[0], "6331");
    assert_int_equal(watchers(r, S("nobody")).n, 0);
    notify_registry_free(r);
}

static void test_unregister(void **state)
{
    (void)state;
    notify_registry *r = notify_registry_new(0);
    assert_false(notify_registry_remove(r, S("c1"), S("k"))); /* :0 */
    notify_registry_add(r, S("c1"), S("k"));
    notify_registry_add(r, S("c2"), S("k"));
    assert_false(notify_registry_remove(r, S("c1"), S("x")));
    assert_true(notify_registry_remove(r, S("c1"), S("k"))); /* +OK */
    assert_false(notify_registry_remove(r, S("c1"), S("k")));
    seen s = watchers(r, S("k"));
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], "c2");
    assert_int_equal(notify_registry_clients(r), 1);
    assert_true(notify_registry_remove(r, S("c2"), S("k")));
    assert_int_equal(notify_registry_count(r), 0);
    assert_int_equal(notify_registry_keys(r), 0);
    assert_int_equal(notify_registry_clients(r), 0);
    /* re-registration after STOP works */
    assert_int_equal(notify_registry_add(r, S("c2"), S("k")), NOTIFY_ADD_NEW);
    assert_int_equal(watchers(r, S("k")).n, 1);
    notify_registry_free(r);
}

static void test_drop_client(void **state)
{
    (void)state;
    notify_registry *r = notify_registry_new(0);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "key%d", i);
        notify_registry_add(r, S("gone"), S(key));
        if (i % 2 == 0) notify_registry_add(r, S("stays"), S(key));
    }
    assert_int_equal(notify_registry_count(r), 150);
    assert_int_equal(notify_registry_drop_client(r, S("gone")), 100);
    assert_int_equal(notify_registry_drop_client(r, S("gone")), 0);
    assert_int_equal(notify_registry_count(r), 50);
    assert_int_equal(notify_registry_keys(r), 50);
    assert_int_equal(notify_registry_clients(r), 1);
    assert_int_equal(watchers(r, S("key1")).n, 0);
    seen s = watchers(r, S("key2"));
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], "stays");
    assert_false(notify_registry_remove(r, S("gone"), S("key2")));
    notify_registry_free(r); /* LSan: frees what remains */
}

/* Each client's registrations are bounded in accounted bytes; a refused
 * registration changes nothing, re-registering never fails, and STOP or a
 * dropped client gives the room back. */
static void test_client_byte_limit(void **state)
{
    (void)state;
    size_t cost = notify_registration_cost(2); /* keys "k0".."k9" */
    notify_registry *r = notify_registry_new(3 * cost);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k0")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k1")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k2")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_client_bytes(r, S("c1")), 3 * cost);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k3")), NOTIFY_ADD_OVER_LIMIT);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k2")), NOTIFY_ADD_EXISTED);
    assert_int_equal(notify_registry_count(r), 3);
    assert_int_equal(watchers(r, S("k3")).n, 0);
    assert_int_equal(notify_registry_keys(r), 3);
    /* the bound is per client */
    assert_int_equal(notify_registry_add(r, S("c2"), S("k3")), NOTIFY_ADD_NEW);
    /* a key too big for the whole budget, for a client with none yet */
    uint8_t big[4096] = {0};
    assert_int_equal(notify_registry_add(r, S("c3"), big, sizeof big), NOTIFY_ADD_OVER_LIMIT);
    assert_int_equal(notify_registry_clients(r), 2);
    assert_true(notify_registry_remove(r, S("c1"), S("k0")));
    assert_int_equal(notify_registry_client_bytes(r, S("c1")), 2 * cost);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k3")), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_drop_client(r, S("c1")), 3);
    assert_int_equal(notify_registry_client_bytes(r, S("c1")), 0);
    assert_int_equal(notify_registry_add(r, S("c1"), S("k4")), NOTIFY_ADD_NEW);
    notify_registry_free(r);
}

static void test_binary_ids_and_keys(void **state)
{
    (void)state;
    notify_registry *r = notify_registry_new(0);
    assert_int_equal(notify_registry_add(r, "a\0b", 3, "k\0", 2), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, "a\0c", 3, "k\0", 2), NOTIFY_ADD_NEW);
    assert_int_equal(notify_registry_add(r, "a\0b", 3, "k", 1), NOTIFY_ADD_NEW);
    seen s = watchers(r, "k\0", 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.hex[0], "610062");
    assert_string_equal(s.hex[1], "610063");
    assert_int_equal(watchers(r, "k", 1).n, 1);
    notify_registry_free(r);
}

static void assert_topic(const char *hex, const void *key, size_t klen, const char *want)
{
    buf b = {0};
    notify_topic_build(&b, hex, strlen(hex), key, klen);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

static void test_topic(void **state)
{
    (void)state;
    /* the spec's example (§1.4), via the registry's precomputed hex */
    notify_registry *r = notify_registry_new(0);
    notify_registry_add(r, S("client-id1"), S("SOMEKEY"));
    seen s = watchers(r, S("SOMEKEY"));
    assert_string_equal(s.hex[0], "636C69656E742D696431");
    assert_topic(s.hex[0], S("SOMEKEY"),
                 "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636C69656E742D696431"
                 "/command/notify/534F4D454B4559");
    notify_registry_free(r);
    /* bytes < 0x10 zero-padded, upper case, NUL and 0xFF */
    assert_topic("0A", "\x00\x01\x0f\xab\xff", 5,
                 "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/0A/command/notify/00010FABFF");
    buf b = {0};
    notify_hex_append(&b, "\x05\xde", 2);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "05DE", 4);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_idempotent), cmocka_unit_test(test_unregister),
        cmocka_unit_test(test_drop_client),         cmocka_unit_test(test_client_byte_limit),
        cmocka_unit_test(test_binary_ids_and_keys), cmocka_unit_test(test_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
