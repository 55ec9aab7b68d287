/* The raft log's entry and snapshot headers (repl/raft_entry.h): round
 * trip, every truncation, unknown versions and arbitrary bytes are
 * refused without reading outside the input (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/raft_entry.h"

static void test_entry_round_trip(void **state)
{
    (void)state;
    /* Every record length up to a few words: padded to a multiple of 8. */
    for (size_t len = 0; len < 40; len++) {
        uint8_t rec[40];
        for (size_t i = 0; i < len; i++) rec[i] = (uint8_t)('a' + i);
        size_t size = repl_raft_entry_size(len);
        assert_int_equal(size % 8, 0);
        assert_true(size >= REPL_RAFT_ENTRY_HEADER + len && size < REPL_RAFT_ENTRY_HEADER + len + 8);
        uint8_t *b = malloc(size);
        repl_raft_entry_encode(b, 3, 0x1122334455667788ull, UINT64_MAX, rec, len);
        repl_raft_entry e;
        assert_true(repl_raft_entry_decode(b, size, &e));
        assert_int_equal(e.node, 3);
        assert_true(e.nonce == 0x1122334455667788ull);
        assert_true(e.tag == UINT64_MAX);
        assert_int_equal(e.len, len);
        if (len) assert_memory_equal(e.rec, rec, len);
        free(b);
    }
    assert_int_equal(repl_raft_entry_size((size_t)UINT32_MAX + 1), 0);
}

/* Every truncation, a wrong version, a length that disagrees with the
 * size: refused, and nothing read outside the bytes (exact-size copies). */
static void test_entry_short_and_bad(void **state)
{
    (void)state;
    size_t size = repl_raft_entry_size(5);
    uint8_t b[64];
    repl_raft_entry_encode(b, 1, 2, 3, (const uint8_t *)"hello", 5);
    repl_raft_entry e;
    for (size_t n = 0; n < size; n++) {
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b, n);
        assert_false(repl_raft_entry_decode(n ? p : NULL, n, &e));
        assert_int_equal(e.node, 0);
        assert_null(e.rec);
        free(p);
    }
    assert_true(repl_raft_entry_decode(b, size, &e));
    b[0] = REPL_RAFT_ENTRY_VERSION + 1;
    assert_false(repl_raft_entry_decode(b, size, &e));
    b[0] = REPL_RAFT_ENTRY_VERSION;
    b[4] = 9; /* record length 9: needs 16 bytes after the header */
    assert_false(repl_raft_entry_decode(b, size, &e));
    b[4] = 0xff, b[7] = 0xff; /* far past the end */
    assert_false(repl_raft_entry_decode(b, size, &e));
}

static void test_snapshot_header(void **state)
{
    (void)state;
    uint8_t b[REPL_RAFT_SNAP_HEADER + 3];
    repl_raft_snap_header(b);
    memcpy(b + REPL_RAFT_SNAP_HEADER, "abc", 3);
    const uint8_t *s = NULL;
    size_t len = 99;
    assert_true(repl_raft_snap_decode(b, sizeof b, &s, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(s, "abc", 3);
    assert_true(repl_raft_snap_decode(b, REPL_RAFT_SNAP_HEADER, &s, &len));
    assert_int_equal(len, 0);
    for (size_t n = 0; n < REPL_RAFT_SNAP_HEADER; n++) assert_false(repl_raft_snap_decode(b, n, &s, &len));
    b[REPL_RAFT_SNAP_HEADER - 1] = 2; /* unknown version */
    assert_false(repl_raft_snap_decode(b, sizeof b, &s, &len));
    repl_raft_snap_header(b);
    b[0] ^= 1;
    assert_false(repl_raft_snap_decode(b, sizeof b, &s, &len));
}

/* Pseudo-random bytes: a decode either refuses or points inside them. */
static void test_random_bytes(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 40);
        uint8_t *p = malloc(n ? n : 1);
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[j] = (uint8_t)x;
        }
        if (n >= 8 && i % 3 == 0) {
            p[0] = REPL_RAFT_ENTRY_VERSION;
            p[4] = (uint8_t)(i % 9), p[5] = p[6] = p[7] = 0;
        }
        repl_raft_entry e;
        if (repl_raft_entry_decode(p, n, &e)) {
            assert_true(e.rec == p + REPL_RAFT_ENTRY_HEADER && repl_raft_entry_size(e.len) == n);
        }
        const uint8_t *s;
        size_t len;
        if (repl_raft_snap_decode(p, n, &s, &len)) assert_true(s + len == p + n);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_round_trip),
        cmocka_unit_test(test_entry_short_and_bad),
        cmocka_unit_test(test_snapshot_header),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
