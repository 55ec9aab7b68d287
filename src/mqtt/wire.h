/* Private to src/mqtt: bounds-checked reader and a two-pass writer.
 *
 * The writer has a counting mode (p == NULL) so that every encoder is a
 * single function run twice: once to learn the size, once to write into
 * space reserved with one buf_reserve. Size and bytes can never disagree. */
#ifndef MQS_MQTT_WIRE_H
#define MQS_MQTT_WIRE_H

#include <assert.h>
#include <string.h>

#include "mqtt/packet.h"

/* Largest remaining length a 4-byte variable byte integer can express. */
#define MQTT_MAX_VARINT 268435455u
/* Longest string or binary data a two-byte length can express (topic
 * names included). */
#define MQTT_MAX_BIN 65535u

typedef struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
} rd;

static inline size_t rd_left(const rd *r) { return r->len - r->pos; }

static inline bool rd_u8(rd *r, uint8_t *v)
{
    if (rd_left(r) < 1) return false;
    *v = r->p[r->pos++];
    return true;
}

static inline bool rd_u16(rd *r, uint16_t *v)
{
    if (rd_left(r) < 2) return false;
    *v = (uint16_t)(r->p[r->pos] << 8 | r->p[r->pos + 1]);
    r->pos += 2;
    return true;
}

static inline bool rd_u32(rd *r, uint32_t *v)
{
    if (rd_left(r) < 4) return false;
    const uint8_t *p = r->p + r->pos;
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    r->pos += 4;
    return true;
}

/* n bytes as a slice. */
static inline bool rd_take(rd *r, size_t n, mqtt_bytes *b)
{
    if (rd_left(r) < n) return false;
    b->data = r->p + r->pos;
    b->len = (uint32_t)n;
    r->pos += n;
    return true;
}

/* Binary Data: two-byte length then bytes. */
static inline bool rd_bin(rd *r, mqtt_bytes *b)
{
    uint16_t n;
    return rd_u16(r, &n) && rd_take(r, n, b);
}

/* Variable Byte Integer, at most 4 bytes, minimally encoded (MQTT-1.5.5-1). */
bool rd_varint(rd *r, uint32_t *v);

/* UTF-8 Encoded String: Binary Data that must also be valid UTF-8. */
bool rd_str(rd *r, mqtt_bytes *b);

typedef struct wr {
    uint8_t *p; /* NULL: count only */
    size_t n;
} wr;

static inline void wr_raw(wr *w, const void *src, size_t n)
{
    if (w->p && n) memcpy(w->p + w->n, src, n);
    w->n += n;
}

static inline void wr_u8(wr *w, uint8_t v)
{
    if (w->p) w->p[w->n] = v;
    w->n += 1;
}

static inline void wr_u16(wr *w, uint16_t v)
{
    if (w->p) {
        w->p[w->n] = (uint8_t)(v >> 8);
        w->p[w->n + 1] = (uint8_t)v;
    }
    w->n += 2;
}

static inline void wr_u32(wr *w, uint32_t v)
{
    wr_u16(w, (uint16_t)(v >> 16));
    wr_u16(w, (uint16_t)v);
}

/* Two-byte length prefixed string or binary data. Callers keep len <=
 * MQTT_MAX_BIN (decoded slices always are; encoders refuse longer topics
 * before writing): a longer one would be written with a truncated length,
 * a malformed packet. */
static inline void wr_bin(wr *w, mqtt_bytes b)
{
    assert(b.len <= MQTT_MAX_BIN);
    wr_u16(w, (uint16_t)b.len);
    wr_raw(w, b.data, b.len);
}

void wr_varint(wr *w, uint32_t v);

#endif
