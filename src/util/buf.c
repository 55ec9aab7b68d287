#include "util/buf.h"
#include "util/le.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *buf__grow(buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return b->data + b->len;
}

void buf_append_u16be(buf *b, uint16_t v)
{
    uint8_t *p = buf_reserve(b, 2);
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    b->len += 2;
}

void buf_append_u32be(buf *b, uint32_t v)
{
    uint8_t *p = buf_reserve(b, 4);
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    b->len += 4;
}

void buf_append_u16le(buf *b, uint16_t v)
{
    le_put_u16(buf_reserve(b, 2), v);
    b->len += 2;
}

void buf_append_u32le(buf *b, uint32_t v)
{
    le_put_u32(buf_reserve(b, 4), v);
    b->len += 4;
}

void buf_append_u64le(buf *b, uint64_t v)
{
    le_put_u64(buf_reserve(b, 8), v);
    b->len += 8;
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_shrink(buf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) buf_free(b);
}
