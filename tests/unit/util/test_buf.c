#include "tests.h"

#include "util/buf.h"

static void test_append_and_encode(void **state)
{
    (void)state;
    buf b = {0};
    buf_append(&b, "ab", 2);
    buf_append_u8(&b, 0x7f);
    buf_append_u16be(&b, 0x1234);
    buf_append_u32be(&b, 0xdeadbeef);
    buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "ab\x7f\x12\x34\xde\xad\xbe\xef", 9);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len + b.cap, 0);
}

static void test_reserve_grows(void **state)
{
    (void)state;
    buf b = {0};
    uint8_t *p = buf_reserve(&b, 1000);
    assert_non_null(p);
    assert_true(b.cap >= 1000);
    assert_int_equal(b.len, 0);
    for (int i = 0; i < 5000; i++) buf_append_u8(&b, (uint8_t)i);
    assert_int_equal(b.len, 5000);
    assert_int_equal(b.data[4999], (uint8_t)4999);
    buf_free(&b);
}

static void test_consume(void **state)
{
    (void)state;
    buf b = {0};
    buf_append(&b, "hello world", 11);
    buf_consume(&b, 6);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "world", 5);
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_shrink(void **state)
{
    (void)state;
    buf b = {0};
    buf_reserve(&b, 100000);
    buf_append(&b, "x", 1);
    buf_shrink(&b, 512); /* not empty: kept */
    assert_true(b.cap >= 100000);
    b.len = 0;
    buf_shrink(&b, 512);
    assert_int_equal(b.cap, 0);
    assert_null(b.data);
    buf_append(&b, "y", 1);
    buf_shrink(&b, 512); /* small: kept */
    b.len = 0;
    buf_shrink(&b, 512);
    assert_non_null(b.data);
    buf_free(&b);
}

int run_buf_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_encode),
        cmocka_unit_test(test_reserve_grows),
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_shrink),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
