/* The byte encoding of the session records (persist_session.h). */
#include <assert.h>
#include <string.h>

#include "broker/persist_session.h"
#include "util/le.h"

/* --- encoding ---------------------------------------------------------------- */

static void out_bytes(psess_out *o, const void *p, size_t n, bool fixed)
{
    if (!n) return;
    if (o->b) {
        buf_append(o->b, p, n);
        return;
    }
    if (fixed) { /* into scratch; extends the last piece if that ends there */
        assert(o->used + n <= o->cap);
        uint8_t *dst = o->scratch + o->used;
        memcpy(dst, p, n);
        o->used += n;
        broker_persist_piece *last = o->n ? &o->pieces[o->n - 1] : NULL;
        if (last && (const uint8_t *)last->p + last->n == dst) {
            last->n += n;
            return;
        }
        p = dst;
    }
    assert(o->n < PSESS_MAX_PIECES);
    o->pieces[o->n++] = (broker_persist_piece){p, n};
}

static void out_u8(psess_out *o, uint8_t v) { out_bytes(o, &v, 1, true); }
static void out_u16(psess_out *o, uint16_t v)
{
    uint8_t t[2];
    le_put_u16(t, v);
    out_bytes(o, t, 2, true);
}
static void out_u32(psess_out *o, uint32_t v)
{
    uint8_t t[4];
    le_put_u32(t, v);
    out_bytes(o, t, 4, true);
}
static void out_u64(psess_out *o, uint64_t v)
{
    uint8_t t[8];
    le_put_u64(t, v);
    out_bytes(o, t, 8, true);
}
static void out_str(psess_out *o, mqtt_bytes s)
{
    out_u32(o, s.len);
    out_bytes(o, s.data, s.len, false);
}

static uint8_t opts_byte(const sub_options *o)
{
    return (uint8_t)(o->qos | o->no_local << 2 | o->retain_as_published << 3 | o->retain_handling << 4);
}

void psess_rec_encode(const psess_rec *r, psess_out *o)
{
    o->n = 0;
    o->used = 0;
    out_u8(o, PSESS_VERSION);
    if (r->type != PSESS_MSG) out_str(o, r->client_id);
    switch (r->type) {
    case PSESS_SESSION:
        out_u8(o, (uint8_t)((r->offline ? PSESS_FLAG_OFFLINE : 0) | (r->has_owner ? PSESS_FLAG_OWNER : 0)));
        out_u32(o, r->expiry);
        out_u64(o, r->deadline);
        if (r->has_owner) out_str(o, r->owner);
        break;
    case PSESS_END: break;
    case PSESS_SUB:
        out_str(o, r->filter);
        out_u8(o, opts_byte(&r->opts));
        out_u32(o, r->opts.sub_id);
        break;
    case PSESS_UNSUB: out_str(o, r->filter); break;
    case PSESS_MSG:
        out_u64(o, r->msg_id);
        out_u8(o, (uint8_t)(r->qos | r->retain << 2));
        out_u64(o, r->expiry_at);
        out_str(o, r->topic);
        out_str(o, r->payload);
        out_str(o, r->props);
        break;
    case PSESS_DLV:
        out_u64(o, r->msg_id);
        out_u8(o, (uint8_t)(r->qos | r->retain << 2 | r->state << 3));
        out_u16(o, r->packet_id);
        out_str(o, r->share);
        out_u16(o, r->n_sub_ids);
        for (uint16_t i = 0; i < r->n_sub_ids; i++) out_u32(o, r->sub_ids ? r->sub_ids[i] : psess_rec_sub_id(r, i));
        break;
    case PSESS_SENT:
    case PSESS_DONE:
    case PSESS_PUBREL:
    case PSESS_RX_ADD:
    case PSESS_RX_DEL: out_u16(o, r->packet_id); break;
    case PSESS_DROP:
        out_u8(o, r->list);
        out_u32(o, r->index);
        break;
    default: assert(!"unknown session record type");
    }
}

/* --- decoding ---------------------------------------------------------------- */

uint32_t psess_rec_sub_id(const psess_rec *r, uint16_t i)
{
    le_reader t = le_reader_of(r->sub_ids_le + 4 * (size_t)i, 4);
    return le_get_u32(&t);
}

static mqtt_bytes get_str(le_reader *rd)
{
    uint32_t len;
    const uint8_t *p = le_get_lenbytes(rd, &len);
    return p ? (mqtt_bytes){p, len} : (mqtt_bytes){NULL, 0};
}

/* MQTT strings (client ids, topics, filters) are at most 65535 bytes. */
#define STR_MAX 65535u
/* A message body comes from one MQTT packet: less than 256 MiB. */
#define BODY_MAX 268435455u

static const char *decode_body(le_reader *rd, psess_rec *r)
{
    uint8_t f;
    switch (r->type) {
    case PSESS_SESSION:
        f = le_get_u8(rd);
        if (f & ~(PSESS_FLAG_OFFLINE | PSESS_FLAG_OWNER)) return "session record: unknown flags";
        r->offline = f & PSESS_FLAG_OFFLINE;
        r->has_owner = f & PSESS_FLAG_OWNER;
        r->expiry = le_get_u32(rd);
        r->deadline = le_get_u64(rd);
        if (r->has_owner) r->owner = get_str(rd);
        if (!rd->bad && r->expiry == 0) return "session record: expiry 0";
        if (!r->offline && r->deadline) return "session record: deadline while connected";
        return NULL;
    case PSESS_END: return NULL;
    case PSESS_SUB:
    case PSESS_UNSUB:
        r->filter = get_str(rd);
        if (!rd->bad && (r->filter.len == 0 || r->filter.len > STR_MAX))
            return "subscription record: bad filter length";
        if (r->type == PSESS_UNSUB) return NULL;
        f = le_get_u8(rd);
        r->opts.qos = f & 3;
        r->opts.no_local = f >> 2 & 1;
        r->opts.retain_as_published = f >> 3 & 1;
        r->opts.retain_handling = f >> 4 & 3;
        r->opts.sub_id = le_get_u32(rd);
        if (f & 0xc0 || r->opts.qos > 2 || r->opts.retain_handling > 2) return "subscription record: bad options";
        if (r->opts.sub_id > PSESS_SUB_ID_MAX) return "subscription record: bad subscription identifier";
        return NULL;
    case PSESS_MSG:
        r->msg_id = le_get_u64(rd);
        f = le_get_u8(rd);
        r->qos = f & 3;
        r->retain = f >> 2 & 1;
        r->expiry_at = le_get_u64(rd);
        r->topic = get_str(rd);
        r->payload = get_str(rd);
        r->props = get_str(rd);
        if (rd->bad) return NULL;
        if (r->msg_id == 0) return "message record: id 0";
        if (f & 0xf8 || r->qos > 2) return "message record: bad flags";
        if (r->topic.len == 0 || r->topic.len > STR_MAX) return "message record: bad topic length";
        if (r->payload.len > BODY_MAX || r->props.len > BODY_MAX) return "message record: too large";
        return NULL;
    case PSESS_DLV:
        r->msg_id = le_get_u64(rd);
        f = le_get_u8(rd);
        r->qos = f & 3;
        r->retain = f >> 2 & 1;
        r->state = f >> 3 & 3;
        r->packet_id = le_get_u16(rd);
        r->share = get_str(rd);
        r->n_sub_ids = le_get_u16(rd);
        r->sub_ids_le = le_get_bytes(rd, 4 * (size_t)r->n_sub_ids);
        if (rd->bad) return NULL;
        if (f & 0xe0 || r->qos < 1 || r->qos > 2 || r->state > PSESS_DLV_PUBREL) return "delivery record: bad flags";
        if ((r->state == PSESS_DLV_QUEUED) != (r->packet_id == 0)) return "delivery record: bad packet id";
        if ((r->state == PSESS_DLV_PUBREL) != (r->msg_id == 0)) return "delivery record: bad message id";
        if (r->state == PSESS_DLV_PUBREL && r->qos != 2) return "delivery record: PUBREL of QoS 1";
        if (r->share.len > STR_MAX) return "delivery record: bad share filter";
        for (uint16_t i = 0; i < r->n_sub_ids; i++) {
            uint32_t id = psess_rec_sub_id(r, i);
            if (id == 0 || id > PSESS_SUB_ID_MAX) return "delivery record: bad subscription identifier";
        }
        return NULL;
    case PSESS_SENT:
    case PSESS_DONE:
    case PSESS_PUBREL:
    case PSESS_RX_ADD:
    case PSESS_RX_DEL:
        r->packet_id = le_get_u16(rd);
        if (!rd->bad && r->packet_id == 0) return "session record: packet id 0";
        return NULL;
    case PSESS_DROP:
        r->list = le_get_u8(rd);
        r->index = le_get_u32(rd);
        if (r->list > 1) return "drop record: bad list";
        return NULL;
    default: return "unknown session record type";
    }
}

const char *psess_rec_decode(uint8_t type, const uint8_t *p, size_t n, psess_rec *r)
{
    memset(r, 0, sizeof *r);
    r->type = type;
    if (type < PSESS_SESSION || type > PSESS_RX_DEL) return "unknown session record type";
    le_reader rd = le_reader_of(p, n);
    if (le_get_u8(&rd) != PSESS_VERSION) return rd.bad ? "session record: empty" : "session record: unknown version";
    if (type != PSESS_MSG) {
        r->client_id = get_str(&rd);
        if (!rd.bad && (r->client_id.len == 0 || r->client_id.len > STR_MAX)) return "session record: bad client id";
    }
    const char *why = decode_body(&rd, r);
    if (why) return why;
    if (rd.bad) return "session record: truncated";
    if (!le_reader_done(&rd)) return "session record: trailing bytes";
    return NULL;
}
