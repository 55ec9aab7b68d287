#include "tests.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hashmap.h"

static void test_put_get_replace_remove(void **state)
{
    (void)state;
    hashmap *m = hashmap_new();
    int a = 1, b = 2, c = 3;
    assert_null(hashmap_get(m, "x", 1));
    assert_null(hashmap_remove(m, "x", 1));
    assert_null(hashmap_put(m, "alpha", 5, &a));
    assert_null(hashmap_put(m, "beta", 4, &b));
    /* Empty keys and keys with NUL bytes are ordinary keys. */
    assert_null(hashmap_put(m, "", 0, &c));
    assert_null(hashmap_put(m, "a\0b", 3, &c));
    assert_int_equal(hashmap_size(m), 4);
    assert_ptr_equal(hashmap_get(m, "alpha", 5), &a);
    assert_ptr_equal(hashmap_get(m, "", 0), &c);
    assert_null(hashmap_get(m, "a", 1));
    assert_null(hashmap_get(m, "alph", 4));
    assert_ptr_equal(hashmap_put(m, "alpha", 5, &c), &a); /* replace */
    assert_int_equal(hashmap_size(m), 4);
    assert_ptr_equal(hashmap_get(m, "alpha", 5), &c);
    assert_ptr_equal(hashmap_remove(m, "beta", 4), &b);
    assert_null(hashmap_get(m, "beta", 4));
    assert_int_equal(hashmap_size(m), 3);
    hashmap_free(m, NULL);
}

static void test_keys_are_copied(void **state)
{
    (void)state;
    hashmap *m = hashmap_new();
    char key[8];
    int v = 7;
    strcpy(key, "dev-1");
    hashmap_put(m, key, 5, &v);
    strcpy(key, "other"); /* the map must have copied the key */
    assert_ptr_equal(hashmap_get(m, "dev-1", 5), &v);
    hashmap_free(m, NULL);
}

/* Many keys: growth, shrinking and every key still found with its value. */
static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 20000 };
    hashmap *m = hashmap_new();
    static int vals[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        int len = snprintf(key, sizeof key, "client-%d", i);
        assert_null(hashmap_put(m, key, (size_t)len, &vals[i]));
    }
    assert_int_equal(hashmap_size(m), N);
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "client-%d", i);
        int *v = hashmap_get(m, key, (size_t)len);
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    for (int i = 0; i < N; i += 2) {
        int len = snprintf(key, sizeof key, "client-%d", i);
        assert_ptr_equal(hashmap_remove(m, key, (size_t)len), &vals[i]);
    }
    assert_int_equal(hashmap_size(m), N / 2);
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "client-%d", i);
        if (i % 2) assert_ptr_equal(hashmap_get(m, key, (size_t)len), &vals[i]);
        else assert_null(hashmap_get(m, key, (size_t)len));
    }
    hashmap_free(m, NULL);
}

static void test_iterate_and_remove(void **state)
{
    (void)state;
    enum { N = 500 };
    hashmap *m = hashmap_new();
    static int vals[N];
    bool seen[N] = {false};
    char key[16];
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        int len = snprintf(key, sizeof key, "k%d", i);
        hashmap_put(m, key, (size_t)len, &vals[i]);
    }
    hashmap_iter it;
    hashmap_iter_init(m, &it);
    const void *k;
    size_t klen;
    void *v;
    int count = 0;
    while (hashmap_iter_next(&it, &k, &klen, &v)) {
        int i = *(int *)v;
        assert_false(seen[i]);
        seen[i] = true;
        int len = snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(klen, (size_t)len);
        assert_memory_equal(k, key, klen);
        if (i % 3 == 0) assert_ptr_equal(hashmap_remove(m, k, klen), v);
        count++;
    }
    assert_int_equal(count, N);
    assert_int_equal(hashmap_size(m), N - (N + 2) / 3);
    hashmap_free(m, NULL);
}

static int freed;
static void count_free(void *v)
{
    freed++;
    free(v);
}

static void test_free_values(void **state)
{
    (void)state;
    hashmap *m = hashmap_new();
    for (int i = 0; i < 10; i++) {
        char key[8];
        int len = snprintf(key, sizeof key, "%d", i);
        hashmap_put(m, key, (size_t)len, malloc(16));
    }
    freed = 0;
    hashmap_free(m, count_free);
    assert_int_equal(freed, 10);
    hashmap_free(NULL, NULL);
}

int run_hashmap_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace_remove),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_iterate_and_remove),
        cmocka_unit_test(test_free_values),
    };
    return cmocka_run_group_tests_name("hashmap", tests, NULL, NULL);
}
