/* The durable log's recovery scan (repl/file_log.h): a clean file, a torn
 * tail at every byte offset of its last three records, a flipped byte
 * anywhere before the tail, a damaged length that points past the end
 * with intact frames behind it, unknown frame types, a rejected record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/file_log.h"

#define NREC 6

/* NREC records of growing size; ends[i] is where record i ends. */
static buf make_log(size_t ends[NREC])
{
    buf b = {0};
    uint8_t p[300];
    for (int i = 0; i < NREC; i++) {
        size_t n = 10 + 50 * (size_t)i;
        for (size_t j = 0; j < n; j++) p[j] = (uint8_t)('a' + (i + j) % 26);
        repl_frame_append(&b, REPL_FILE_STORE_RECORD, p, n);
        ends[i] = b.len;
    }
    return b;
}

static void test_clean(void **state)
{
    (void)state;
    size_t ends[NREC];
    buf b = make_log(ends);
    repl_scan_result r;
    repl_file_scan(b.data, b.len, NULL, NULL, &r);
    assert_int_equal(r.status, REPL_SCAN_CLEAN);
    assert_int_equal(r.frames, NREC);
    assert_int_equal(r.valid_end, b.len);
    repl_file_scan(b.data, 0, NULL, NULL, &r);
    assert_int_equal(r.status, REPL_SCAN_CLEAN);
    assert_int_equal(r.frames, 0);
    buf_free(&b);
}

/* Counting by lengths: every whole frame of a clean or cut file, none of
 * an unfinished one, and no step past a length beyond the data. */
static void test_count_frames(void **state)
{
    (void)state;
    size_t ends[NREC];
    buf b = make_log(ends);
    assert_int_equal(repl_file_count_frames(b.data, b.len), NREC);
    assert_int_equal(repl_file_count_frames(b.data, 0), 0);
    assert_int_equal(repl_file_count_frames(b.data, ends[2]), 3);
    assert_int_equal(repl_file_count_frames(b.data, ends[2] + 5), 3);
    assert_int_equal(repl_file_count_frames(b.data, ends[2] + REPL_FRAME_HEADER + 1), 3);
    b.data[ends[2] + 3] = 0xff; /* frame 4's length: far past the end */
    assert_int_equal(repl_file_count_frames(b.data, b.len), 3);
    buf_free(&b);
}

/* Every cut inside the last three records keeps the prefix of whole ones. */
static void test_torn_every_offset(void **state)
{
    (void)state;
    size_t ends[NREC];
    buf b = make_log(ends);
    for (size_t cut = ends[NREC - 4] + 1; cut < b.len; cut++) {
        int whole = 0;
        while (ends[whole] <= cut) whole++;
        repl_scan_result r;
        repl_file_scan(b.data, cut, NULL, NULL, &r);
        if (cut == ends[whole - 1]) {
            assert_int_equal(r.status, REPL_SCAN_CLEAN);
        } else {
            assert_int_equal(r.status, REPL_SCAN_TORN);
        }
        assert_int_equal(r.frames, (uint64_t)whole);
        assert_int_equal(r.valid_end, ends[whole - 1]);
    }
    buf_free(&b);
}

/* A flipped byte anywhere before the last record is corruption, never a
 * torn tail (the CRC, the maximum length, or the intact frames behind a
 * length that points past the end give it away). */
static void test_flip_is_corrupt(void **state)
{
    (void)state;
    size_t ends[NREC];
    buf b = make_log(ends);
    for (size_t at = 0; at < ends[NREC - 2]; at++) {
        b.data[at] ^= 0x5a;
        repl_scan_result r;
        repl_file_scan(b.data, b.len, NULL, NULL, &r);
        assert_int_equal(r.status, REPL_SCAN_CORRUPT);
        size_t rec = 0;
        while (ends[rec] <= at) rec++;
        assert_int_equal(r.valid_end, rec ? ends[rec - 1] : 0);
        b.data[at] ^= 0x5a;
    }
    buf_free(&b);
}

static void test_length_past_end(void **state)
{
    (void)state;
    size_t ends[NREC];
    buf b = make_log(ends);
    /* Record 2's length now points past the end of the file. */
    uint8_t *h = b.data + ends[1];
    h[0] = 0xff, h[1] = 0xff, h[2] = 0xff, h[3] = 0x00;
    repl_scan_result r;
    repl_file_scan(b.data, b.len, NULL, NULL, &r);
    assert_int_equal(r.status, REPL_SCAN_CORRUPT);
    assert_int_equal(r.valid_end, ends[1]);
    assert_int_equal(r.frames, 2);
    buf_free(&b);
}

static void test_unknown_type(void **state)
{
    (void)state;
    buf b = {0};
    repl_frame_append(&b, REPL_FILE_STORE_RECORD, (const uint8_t *)"x", 1);
    size_t first = b.len;
    repl_frame_append(&b, 7, (const uint8_t *)"x", 1);
    repl_scan_result r;
    repl_file_scan(b.data, b.len, NULL, NULL, &r);
    assert_int_equal(r.status, REPL_SCAN_CORRUPT);
    assert_int_equal(r.valid_end, first);
    buf_free(&b);
}

/* Types 1 and 16..31 (the broker's records) share the file; 15 and 32 do not. */
static void test_local_types(void **state)
{
    (void)state;
    buf b = {0};
    repl_frame_append(&b, REPL_FILE_STORE_RECORD, (const uint8_t *)"x", 1);
    repl_frame_append(&b, REPL_FILE_LOCAL_FIRST, (const uint8_t *)"y", 1);
    repl_frame_append(&b, REPL_FILE_LOCAL_LAST, (const uint8_t *)"z", 1);
    size_t good = b.len;
    repl_scan_result r;
    repl_file_scan(b.data, b.len, NULL, NULL, &r);
    assert_int_equal(r.status, REPL_SCAN_CLEAN);
    assert_int_equal(r.frames, 3);
    uint8_t bad[] = {REPL_FILE_LOCAL_FIRST - 1, REPL_FILE_LOCAL_LAST + 1};
    for (size_t i = 0; i < sizeof bad; i++) {
        b.len = good;
        repl_frame_append(&b, bad[i], (const uint8_t *)"w", 1);
        repl_file_scan(b.data, b.len, NULL, NULL, &r);
        assert_int_equal(r.status, REPL_SCAN_CORRUPT);
        assert_int_equal(r.valid_end, good);
    }
    buf_free(&b);
}

static const char *reject_third(void *ctx, uint64_t index, size_t offset, const repl_frame *f)
{
    (void)f;
    size_t *seen = ctx;
    seen[index - 1] = offset;
    return index == 3 ? "does not decode" : NULL;
}

static void test_callback_rejects(void **state)
{
    (void)state;
    size_t ends[NREC], seen[NREC] = {0};
    buf b = make_log(ends);
    repl_scan_result r;
    repl_file_scan(b.data, b.len, reject_third, seen, &r);
    assert_int_equal(r.status, REPL_SCAN_CORRUPT);
    assert_string_equal(r.why, "does not decode");
    assert_int_equal(r.frames, 2);
    assert_int_equal(r.valid_end, ends[1]);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], ends[0]);
    assert_int_equal(seen[2], ends[1]);
    buf_free(&b);
}

/* The rotated-log chain's names (docs/persistence.md). */
static void test_old_names(void **state)
{
    (void)state;
    char n[64];
    assert_true(repl_file_old_name(1, n, sizeof n));
    assert_string_equal(n, "statestore.log.old");
    assert_true(repl_file_old_name(2, n, sizeof n));
    assert_string_equal(n, "statestore.log.old.2");
    assert_true(repl_file_old_name(REPL_FILE_LOG_OLD_MAX, n, sizeof n));
    assert_false(repl_file_old_name(0, n, sizeof n));
    assert_false(repl_file_old_name(REPL_FILE_LOG_OLD_MAX + 1, n, sizeof n));
    assert_false(repl_file_old_name(2, n, 10)); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_torn_every_offset),
        cmocka_unit_test(test_flip_is_corrupt),
        cmocka_unit_test(test_length_past_end),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_local_types),
        cmocka_unit_test(test_callback_rejects),
        cmocka_unit_test(test_old_names),
        cmocka_unit_test(test_count_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
