/* Test groups of the keyspace, run by test_keyspace_main.c, and the
 * command builders they share. */
#ifndef MQS_TEST_KEYSPACE_TESTS_H
#define MQS_TEST_KEYSPACE_TESTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store/keyspace.h"

int run_keyspace_tests(void);
int run_keyspace_scan_tests(void);
int run_keyspace_layout_tests(void);

/* A server version (node "StateStore"). */
static inline hlc ver(uint64_t wall, uint64_t counter)
{
    return (hlc){wall, counter, (const uint8_t *)"StateStore", 10};
}

static inline keyspace_cmd cmd_set(const char *key, const char *value, hlc version, uint64_t now_ms)
{
    return (keyspace_cmd){.op = KEYSPACE_SET,
                          .now_ms = now_ms,
                          .key = key,
                          .klen = strlen(key),
                          .value = value,
                          .vlen = strlen(value),
                          .version = version};
}

static inline keyspace_cmd cmd_del(const char *key, uint64_t now_ms)
{
    return (keyspace_cmd){.op = KEYSPACE_DEL, .now_ms = now_ms, .key = key, .klen = strlen(key)};
}

static inline keyspace_cmd cmd_vdel(const char *key, const char *value, uint64_t now_ms)
{
    return (keyspace_cmd){
        .op = KEYSPACE_VDEL, .now_ms = now_ms, .key = key, .klen = strlen(key), .value = value, .vlen = strlen(value)};
}

static inline keyspace_result apply(keyspace *ks, keyspace_cmd c)
{
    keyspace_result r;
    keyspace_apply(ks, &c, &r);
    return r;
}

static inline void assert_hlc_eq(hlc a, hlc b)
{
    assert_true(a.wall_ms == b.wall_ms);
    assert_true(a.counter == b.counter);
    assert_int_equal(a.node_len, b.node_len);
    assert_memory_equal(a.node, b.node, a.node_len);
}

#endif
