/* Log file framing (repl/frame.h): round trips, a torn tail at every byte
 * offset, a flipped bit anywhere, lengths over the maximum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/frame.h"

/* Three frames: empty payload, a short one, a longer one. */
static buf three_frames(void)
{
    buf b = {0};
    uint8_t big[1000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31);
    repl_frame_append(&b, 0, NULL, 0);
    repl_frame_append(&b, 1, (const uint8_t *)"hello", 5);
    repl_frame_append(&b, 255, big, sizeof big);
    return b;
}

/* Scan p[0..n) to the end; returns the status that stopped it and the
 * count of complete frames. */
static repl_frame_status scan(const uint8_t *p, size_t n, int *frames, size_t *at)
{
    *frames = 0;
    *at = 0;
    while (*at < n) {
        size_t used = 0;
        repl_frame f;
        repl_frame_status s = repl_frame_next(p + *at, n - *at, &used, &f);
        if (s != REPL_FRAME_OK) return s;
        assert_true(used >= REPL_FRAME_HEADER && used <= n - *at);
        assert_int_equal(used, REPL_FRAME_HEADER + f.len);
        *at += used;
        (*frames)++;
    }
    return REPL_FRAME_OK;
}

static void test_round_trip(void **state)
{
    (void)state;
    buf b = three_frames();
    assert_int_equal(b.len, 3 * REPL_FRAME_HEADER + 5 + 1000);
    /* Header of the second frame: length 5, then the CRC, then the type. */
    static const uint8_t len5[4] = {5, 0, 0, 0};
    assert_memory_equal(b.data + REPL_FRAME_HEADER, len5, 4);
    assert_int_equal(b.data[REPL_FRAME_HEADER + 8], 1);

    size_t used;
    repl_frame f;
    const uint8_t *p = b.data;
    assert_int_equal(repl_frame_next(p, b.len, &used, &f), REPL_FRAME_OK);
    assert_int_equal(f.type, 0);
    assert_int_equal(f.len, 0);
    p += used;
    assert_int_equal(repl_frame_next(p, b.len - used, &used, &f), REPL_FRAME_OK);
    assert_int_equal(f.type, 1);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "hello", 5);
    assert_ptr_equal(f.payload, p + REPL_FRAME_HEADER);
    p += used;
    assert_int_equal(repl_frame_next(p, (size_t)(b.data + b.len - p), &used, &f), REPL_FRAME_OK);
    assert_int_equal(f.type, 255);
    assert_int_equal(f.len, 1000);
    assert_int_equal(f.payload[999], (uint8_t)(999 * 31));
    assert_ptr_equal(p + used, b.data + b.len);

    /* One frame's CRC, computed independently: CRC32C of "\x01hello". */
    uint32_t crc = (uint32_t)b.data[REPL_FRAME_HEADER + 4] | (uint32_t)b.data[REPL_FRAME_HEADER + 5] << 8 |
                   (uint32_t)b.data[REPL_FRAME_HEADER + 6] << 16 | (uint32_t)b.data[REPL_FRAME_HEADER + 7] << 24;
    assert_int_equal(crc, 0x6719daea);
    buf_free(&b);
}

/* The file cut at every offset: the complete frames before the cut, then
 * NEED_MORE (or the end exactly at a boundary). Each prefix is a copy of
 * exactly that many bytes, so ASan catches any read beyond. */
static void test_torn_tail_everywhere(void **state)
{
    (void)state;
    buf b = three_frames();
    size_t ends[3] = {REPL_FRAME_HEADER, 2 * REPL_FRAME_HEADER + 5, b.len};
    for (size_t n = 0; n <= b.len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, b.data, n);
        int frames;
        size_t at;
        repl_frame_status s = scan(cut, n, &frames, &at);
        int want = (n >= ends[0]) + (n >= ends[1]) + (n >= ends[2]);
        assert_int_equal(frames, want);
        bool boundary = n == 0 || n == ends[0] || n == ends[1] || n == ends[2];
        if (s != (boundary ? REPL_FRAME_OK : REPL_FRAME_NEED_MORE)) fail_msg("cut at %zu: status %d", n, s);
        free(cut);
    }
    buf_free(&b);
}

/* Every single-bit flip in a frame is CORRUPT, as long as the bytes its
 * (possibly damaged) length points to are there: the frame is followed by
 * REPL_FRAME_MAX_PAYLOAD more bytes. */
static void test_flipped_bit_everywhere(void **state)
{
    (void)state;
    buf b = {0};
    repl_frame_append(&b, 7, (const uint8_t *)"a record payload", 16);
    size_t frame_len = b.len, total = frame_len + REPL_FRAME_MAX_PAYLOAD;
    uint8_t *p = calloc(1, total);
    assert_non_null(p);
    memcpy(p, b.data, frame_len);
    for (size_t i = 0; i < frame_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            p[i] ^= (uint8_t)(1u << bit);
            size_t used = 12345;
            repl_frame f = {0};
            repl_frame_status s = repl_frame_next(p, total, &used, &f);
            if (s != REPL_FRAME_CORRUPT) fail_msg("bit %d of byte %zu: status %d", bit, i, s);
            assert_int_equal(used, 12345); /* untouched */
            p[i] ^= (uint8_t)(1u << bit);
        }
    }
    size_t used;
    repl_frame f;
    assert_int_equal(repl_frame_next(p, total, &used, &f), REPL_FRAME_OK);
    assert_int_equal(used, frame_len);

    /* The documented limit: with nothing after the frame, a length made
     * larger reads as a torn tail. */
    p[0] ^= 0x40;
    assert_int_equal(repl_frame_next(p, frame_len, &used, &f), REPL_FRAME_NEED_MORE);
    free(p);
    buf_free(&b);
}

static void test_length_over_max(void **state)
{
    (void)state;
    uint8_t h[REPL_FRAME_HEADER] = {0};
    size_t used;
    repl_frame f;
    uint32_t lens[] = {REPL_FRAME_MAX_PAYLOAD + 1, UINT32_MAX / 2, UINT32_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int j = 0; j < 4; j++) h[j] = (uint8_t)(lens[i] >> (8 * j));
        /* Known as soon as the length field is there. */
        for (size_t n = 4; n <= sizeof h; n++) assert_int_equal(repl_frame_next(h, n, &used, &f), REPL_FRAME_CORRUPT);
        for (size_t n = 0; n < 4; n++) assert_int_equal(repl_frame_next(h, n, &used, &f), REPL_FRAME_NEED_MORE);
    }
    /* Exactly the maximum is a length like any other: it waits for bytes. */
    for (int j = 0; j < 4; j++) h[j] = (uint8_t)(REPL_FRAME_MAX_PAYLOAD >> (8 * j));
    assert_int_equal(repl_frame_next(h, sizeof h, &used, &f), REPL_FRAME_NEED_MORE);
}

/* A frame of the maximum size round trips. */
static void test_max_payload(void **state)
{
    (void)state;
    uint8_t *p = malloc(REPL_FRAME_MAX_PAYLOAD);
    assert_non_null(p);
    memset(p, 0xa5, REPL_FRAME_MAX_PAYLOAD);
    buf b = {0};
    repl_frame_append(&b, 3, p, REPL_FRAME_MAX_PAYLOAD);
    size_t used;
    repl_frame f;
    assert_int_equal(repl_frame_next(b.data, b.len, &used, &f), REPL_FRAME_OK);
    assert_int_equal(f.len, REPL_FRAME_MAX_PAYLOAD);
    assert_int_equal(used, b.len);
    buf_free(&b);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_torn_tail_everywhere),
        cmocka_unit_test(test_flipped_bit_everywhere),
        cmocka_unit_test(test_length_over_max),
        cmocka_unit_test(test_max_payload),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
