/* Fixed header framing and Variable Byte Integers (MQTT 5.0 §1.5.5, §2.1.4). */
#include "mqtt/codec.h"
#include "mqtt/wire.h"

/* Parse the remaining length starting at data[1]. Returns OK with *value and
 * *hdr (fixed header size), NEED_MORE, or MALFORMED (continuation bit on the
 * 4th byte, or a non-minimal encoding). */
static enum mqtt_frame_status remaining_length(const uint8_t *data, size_t len, uint32_t *value, size_t *hdr)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (1 + i >= len) return MQTT_FRAME_NEED_MORE;
        uint8_t b = data[1 + i];
        v |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) return MQTT_FRAME_MALFORMED;
            *value = v;
            *hdr = 2 + i;
            return MQTT_FRAME_OK;
        }
    }
    return MQTT_FRAME_MALFORMED;
}

enum mqtt_frame_status mqtt_frame(const uint8_t *data, size_t len, uint32_t max_size, size_t *total)
{
    uint32_t rem;
    size_t hdr;
    enum mqtt_frame_status st = remaining_length(data, len, &rem, &hdr);
    if (st != MQTT_FRAME_OK) return st;
    *total = hdr + rem;
    if (max_size && *total > max_size) return MQTT_FRAME_TOO_LARGE;
    return len < *total ? MQTT_FRAME_NEED_MORE : MQTT_FRAME_OK;
}

bool rd_varint(rd *r, uint32_t *v)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < 4; i++) {
        uint8_t b;
        if (!rd_u8(r, &b)) return false;
        acc |= (uint32_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) return false;
            *v = acc;
            return true;
        }
    }
    return false;
}

bool rd_str(rd *r, mqtt_bytes *b) { return rd_bin(r, b) && mqtt_utf8_valid(b->data, b->len); }

size_t mqtt_varint_size(uint32_t v)
{
    if (v < 128u) return 1;
    if (v < 16384u) return 2;
    if (v < 2097152u) return 3;
    if (v <= MQTT_MAX_VARINT) return 4;
    return 5; /* not valid MQTT; kept consistent with wr_varint */
}

void wr_varint(wr *w, uint32_t v)
{
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        wr_u8(w, v ? (uint8_t)(b | 0x80) : b);
    } while (v);
}

void mqtt_varint_append(buf *out, uint32_t v)
{
    size_t n = mqtt_varint_size(v);
    wr w = {buf_reserve(out, n), 0};
    wr_varint(&w, v);
    out->len += n;
}
