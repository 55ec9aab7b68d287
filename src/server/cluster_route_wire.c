/* Route frames: encoders and strict decoders (cluster_route_wire.h). */
#include "server/cluster_route_wire.h"

#include <assert.h>
#include <string.h>

#include "broker/topic_tree.h"
#include "mqtt/codec.h"
#include "util/le.h"

#define STR_MAX 65535u /* an MQTT string's bound */

static void put_bytes(buf *out, mqtt_bytes b)
{
    buf_append_u32le(out, b.len);
    buf_append(out, b.data, b.len);
}

static bool get_str(le_reader *r, mqtt_bytes *b)
{
    uint32_t len;
    const uint8_t *p = le_get_lenbytes(r, &len);
    if (!p || len > STR_MAX) return false;
    *b = (mqtt_bytes){p, len};
    return true;
}

/* --- INTEREST --------------------------------------------------------------- */

void route_wire_interest_begin(buf *out, uint8_t flags)
{
    assert(out->len == 0);
    buf_append_u8(out, ROUTE_WIRE_VERSION);
    buf_append_u8(out, flags);
    buf_append_u32le(out, 0);
}

void route_wire_interest_add(buf *out, mqtt_bytes filter, uint32_t count)
{
    buf_append_u32le(out, count);
    put_bytes(out, filter);
}

void route_wire_interest_end(buf *out, uint32_t n)
{
    assert(out->len >= 6);
    le_put_u32(out->data + 2, n);
}

const char *route_wire_interest_decode(const uint8_t *p, size_t n, route_interest_reader *out)
{
    le_reader r = le_reader_of(p, n);
    if (le_get_u8(&r) != ROUTE_WIRE_VERSION || r.bad) return "interest: unknown version";
    uint8_t flags = le_get_u8(&r);
    if (flags & ~(ROUTE_INTEREST_FULL | ROUTE_INTEREST_ALL | ROUTE_INTEREST_ASK)) return "interest: unknown flags";
    uint32_t count = le_get_u32(&r);
    if (r.bad) return "interest: truncated header";
    *out = (route_interest_reader){flags, count, r.p, r.n};
    for (uint32_t i = 0; i < count; i++) {
        mqtt_bytes f;
        (void)le_get_u32(&r);
        if (!get_str(&r, &f)) return "interest: truncated entry";
        if (!mqtt_filter_valid(f)) return "interest: invalid topic filter";
    }
    if (!le_reader_done(&r)) return "interest: trailing bytes";
    return NULL;
}

bool route_wire_interest_next(route_interest_reader *ir, mqtt_bytes *filter, uint32_t *count)
{
    if (!ir->n) return false;
    le_reader r = le_reader_of(ir->p, ir->len);
    *count = le_get_u32(&r);
    bool ok = get_str(&r, filter);
    assert(ok); /* checked by the decoder */
    (void)ok;
    ir->p = r.p;
    ir->len = r.n;
    ir->n--;
    return true;
}

/* --- MSG ---------------------------------------------------------------------- */

void route_wire_msg_encode(buf *out, const route_msg *m, const mqtt_bytes *shares, uint16_t n_shares)
{
    buf_append_u8(out, ROUTE_WIRE_VERSION);
    buf_append_u8(out, (uint8_t)(m->qos | (m->retain ? 4 : 0)));
    buf_append_u64le(out, m->id);
    buf_append_u32le(out, m->expiry_ms);
    put_bytes(out, m->topic);
    put_bytes(out, m->props);
    buf_append_u16le(out, n_shares);
    for (uint16_t i = 0; i < n_shares; i++) put_bytes(out, shares[i]);
    put_bytes(out, m->payload);
}

static const uint64_t props_forbidden = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) |
                                        MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) |
                                        MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);

const char *route_wire_msg_decode(const uint8_t *p, size_t n, route_msg *out)
{
    le_reader r = le_reader_of(p, n);
    memset(out, 0, sizeof *out);
    if (le_get_u8(&r) != ROUTE_WIRE_VERSION || r.bad) return "msg: unknown version";
    uint8_t flags = le_get_u8(&r);
    if ((flags & ~7u) || (flags & 3) == 3) return "msg: bad flags";
    out->qos = flags & 3;
    out->retain = flags & 4;
    out->id = le_get_u64(&r);
    out->expiry_ms = le_get_u32(&r);
    if (r.bad) return "msg: truncated header";
    if (!get_str(&r, &out->topic) || !mqtt_topic_valid(out->topic)) return "msg: invalid topic";
    uint32_t plen;
    const uint8_t *pp = le_get_lenbytes(&r, &plen);
    if (!pp) return "msg: truncated properties";
    out->props = (mqtt_bytes){pp, plen};
    if (plen && !mqtt_props_valid(out->props, MQTT_PUBLISH, props_forbidden)) return "msg: invalid properties";
    out->n_shares = le_get_u16(&r);
    if (r.bad || out->n_shares > ROUTE_MSG_SHARES_MAX) return "msg: bad shared group count";
    out->shares = r.p;
    for (uint16_t i = 0; i < out->n_shares; i++) {
        mqtt_bytes s, g, f;
        if (!get_str(&r, &s)) return "msg: truncated shared group";
        if (!mqtt_filter_valid(s) || !topic_filter_split_share(s, &g, &f)) return "msg: invalid shared group";
    }
    uint32_t len;
    const uint8_t *pl = le_get_lenbytes(&r, &len);
    if (!pl) return "msg: truncated payload";
    out->payload = (mqtt_bytes){pl, len};
    if (!le_reader_done(&r)) return "msg: trailing bytes";
    return NULL;
}

mqtt_bytes route_wire_share_next(const route_msg *m, size_t *cursor)
{
    le_reader r = le_reader_of(m->shares + *cursor, (size_t)(m->payload.data - m->shares) - *cursor);
    mqtt_bytes s = {0};
    bool ok = get_str(&r, &s);
    assert(ok); /* checked by the decoder; the payload follows the groups */
    (void)ok;
    *cursor = (size_t)(r.p - m->shares);
    return s;
}

/* --- ACK ------------------------------------------------------------------------ */

void route_wire_ack_encode(buf *out, const uint64_t *ids, uint32_t n)
{
    buf_append_u8(out, ROUTE_WIRE_VERSION);
    buf_append_u32le(out, n);
    for (uint32_t i = 0; i < n; i++) buf_append_u64le(out, ids[i]);
}

const char *route_wire_ack_decode(const uint8_t *p, size_t n, const uint8_t **ids, uint32_t *count)
{
    le_reader r = le_reader_of(p, n);
    if (le_get_u8(&r) != ROUTE_WIRE_VERSION || r.bad) return "ack: unknown version";
    *count = le_get_u32(&r);
    if (r.bad) return "ack: truncated header";
    if (r.n / 8 != *count || r.n % 8) return "ack: length does not match the count";
    *ids = r.p;
    return NULL;
}

uint64_t route_wire_ack_id(const uint8_t *ids, uint32_t i) { return le_load_u64(ids + 8 * (size_t)i); }
