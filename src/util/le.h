/* Little-endian fixed-width fields, and a bounds-checked reader over a
 * byte slice: the primitives of the project's file formats (log records,
 * snapshots). Encoders append with buf_append_u16le/u32le/u64le (buf.h)
 * or le_put_*; decoders read with le_get_*, which never read outside the
 * slice: a short read sets r->bad and yields zeros, so a decoder checks
 * r->bad once at the end instead of after every field. */
#ifndef MQS_UTIL_LE_H
#define MQS_UTIL_LE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint8_t *le_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static inline uint8_t *le_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}
static inline uint8_t *le_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* An unaligned little-endian load: one instruction on x86 and arm64
 * (memcpy of a constant size compiles to a load); the hashes' hot loops
 * use these, where a byte-by-byte loop costs ~8 instructions per byte. */
static inline uint64_t le_load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The n < 8 bytes at p as a little-endian integer (the high bytes 0). */
static inline uint64_t le_load_tail(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    switch (n) {
    case 7: v |= (uint64_t)p[6] << 48; /* fall through */
    case 6: v |= (uint64_t)p[5] << 40; /* fall through */
    case 5: v |= (uint64_t)p[4] << 32; /* fall through */
    case 4: return v | (uint64_t)(p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    case 3: v |= (uint64_t)p[2] << 16; /* fall through */
    case 2: v |= (uint64_t)p[1] << 8;  /* fall through */
    case 1: v |= p[0];                 /* fall through */
    default: return v;
    }
}

typedef struct le_reader {
    const uint8_t *p; /* next unread byte */
    size_t n;         /* bytes left */
    bool bad;         /* a read went past the end (sticky) */
} le_reader;

static inline le_reader le_reader_of(const uint8_t *p, size_t n) { return (le_reader){p, n, false}; }

/* The next n bytes (borrowed from the slice), or NULL (and bad) if fewer
 * are left. n == 0 returns the current position. */
static inline const uint8_t *le_get_bytes(le_reader *r, size_t n)
{
    if (r->bad || r->n < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->n -= n;
    return p;
}
static inline uint8_t le_get_u8(le_reader *r)
{
    const uint8_t *p = le_get_bytes(r, 1);
    return p ? p[0] : 0;
}
static inline uint16_t le_get_u16(le_reader *r)
{
    const uint8_t *p = le_get_bytes(r, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}
static inline uint32_t le_get_u32(le_reader *r)
{
    const uint8_t *p = le_get_bytes(r, 4);
    uint32_t v = 0;
    if (p)
        for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static inline uint64_t le_get_u64(le_reader *r)
{
    const uint8_t *p = le_get_bytes(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
/* A u32 length followed by that many bytes; *len gets the length. NULL
 * (and bad) if short; a valid empty field returns a non-NULL pointer. */
static inline const uint8_t *le_get_lenbytes(le_reader *r, uint32_t *len)
{
    *len = le_get_u32(r);
    return le_get_bytes(r, *len);
}
/* Every byte consumed and no short read: the whole slice decoded. */
static inline bool le_reader_done(const le_reader *r) { return !r->bad && r->n == 0; }

#endif
