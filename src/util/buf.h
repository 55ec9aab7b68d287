/* A growable byte buffer. The struct is public so that encoders can write
 * straight into it; data[0..len) is the content, cap the allocation.
 * A zero-initialised buf is a valid empty buffer. */
#ifndef MQS_UTIL_BUF_H
#define MQS_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf;

void buf_free(buf *b);
/* The slow path of buf_reserve: grow (doubling) to fit `extra` more. */
uint8_t *buf__grow(buf *b, size_t extra);

/* Ensure room for at least `extra` more bytes; returns data + len.
 * Inline: encoders append a few bytes at a time on every request, and
 * the call was a measurable part of a state store request. */
static inline uint8_t *buf_reserve(buf *b, size_t extra)
{
    if (b->cap - b->len < extra) return buf__grow(b, extra);
    return b->data + b->len;
}
static inline void buf_append(buf *b, const void *p, size_t n)
{
    if (!n) return;
    memcpy(buf_reserve(b, n), p, n);
    b->len += n;
}
static inline void buf_append_u8(buf *b, uint8_t v)
{
    *buf_reserve(b, 1) = v;
    b->len++;
}
void buf_append_u16be(buf *b, uint16_t v);
void buf_append_u32be(buf *b, uint32_t v);
/* Little-endian, for file formats (util/le.h reads them back). */
void buf_append_u16le(buf *b, uint16_t v);
void buf_append_u32le(buf *b, uint32_t v);
void buf_append_u64le(buf *b, uint64_t v);
/* Drop the first n bytes (n <= len), keeping the rest. */
void buf_consume(buf *b, size_t n);
/* Release memory beyond `keep` bytes of capacity when the buffer is empty,
 * so an idle connection does not pin a burst-sized allocation. */
void buf_shrink(buf *b, size_t keep);

/* Byte-wise equality of two (pointer, length) slices; NULL is fine for an
 * empty one. */
static inline bool mem_eq(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

#endif
