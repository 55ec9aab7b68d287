#include "repl/frame.h"

#include <assert.h>
#include <string.h>

#include "util/crc32c.h"

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t frame_crc(uint8_t type, const uint8_t *p, size_t n) { return crc32c(crc32c(0, &type, 1), p, n); }

void repl_frame_append(buf *out, uint8_t type, const uint8_t *p, size_t n)
{
    assert((uint64_t)n <= REPL_FRAME_MAX_PAYLOAD);
    uint8_t *h = buf_reserve(out, REPL_FRAME_HEADER + n);
    put_u32le(h, (uint32_t)n);
    put_u32le(h + 4, frame_crc(type, p, n));
    h[8] = type;
    if (n) memcpy(h + REPL_FRAME_HEADER, p, n);
    out->len += REPL_FRAME_HEADER + n;
}

size_t repl_frame_own(const uint8_t *p, repl_frame *out)
{
    uint32_t len = get_u32le(p);
    assert(len <= REPL_FRAME_MAX_PAYLOAD && frame_crc(p[8], p + REPL_FRAME_HEADER, len) == get_u32le(p + 4));
    *out = (repl_frame){p[8], p + REPL_FRAME_HEADER, len};
    return REPL_FRAME_HEADER + (size_t)len;
}

repl_frame_status repl_frame_next(const uint8_t *p, size_t n, size_t *consumed, repl_frame *out)
{
    /* The length alone can already be judged. */
    if (n >= 4 && get_u32le(p) > REPL_FRAME_MAX_PAYLOAD) return REPL_FRAME_CORRUPT;
    if (n < REPL_FRAME_HEADER) return REPL_FRAME_NEED_MORE;
    uint32_t len = get_u32le(p);
    /* len <= 64 MiB, so this cannot wrap even with a 32-bit size_t. */
    if ((size_t)len > n - REPL_FRAME_HEADER) return REPL_FRAME_NEED_MORE;
    const uint8_t *payload = p + REPL_FRAME_HEADER;
    if (frame_crc(p[8], payload, len) != get_u32le(p + 4)) return REPL_FRAME_CORRUPT;
    *out = (repl_frame){p[8], payload, len};
    *consumed = REPL_FRAME_HEADER + (size_t)len;
    return REPL_FRAME_OK;
}
