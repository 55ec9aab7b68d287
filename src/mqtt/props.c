/* v5 properties (MQTT 5.0 §2.2.2): one table says, per identifier, the wire
 * type, the packets it may appear in and where it lives in mqtt_props. */
#include <stddef.h>

#include "mqtt/codec.h"
#include "mqtt/prop.h"

enum kind { K_NONE, K_BYTE, K_U16, K_U32, K_VARINT, K_STR, K_BIN, K_PAIR };

#define IN(t) (UINT32_C(1) << (t))
#define WILL IN(MQTT_PROPS_WILL)
#define MSG (IN(MQTT_PUBLISH) | WILL)
#define ACKS (IN(MQTT_PUBACK) | IN(MQTT_PUBREC) | IN(MQTT_PUBREL) | IN(MQTT_PUBCOMP))
#define CONN (IN(MQTT_CONNECT) | IN(MQTT_CONNACK))
#define F(field) offsetof(mqtt_props, field)

struct prop_def {
    uint8_t kind;
    uint32_t allowed; /* IN(packet type) bits, WILL for will properties */
    uint16_t off;     /* field in mqtt_props; unused for K_PAIR */
};

#define N_DEFS (MQTT_PROP_SHARED_SUB_AVAILABLE + 1)

static const struct prop_def defs[N_DEFS] = {
    [MQTT_PROP_PAYLOAD_FORMAT] = {K_BYTE, MSG, F(payload_format)},
    [MQTT_PROP_MESSAGE_EXPIRY] = {K_U32, MSG, F(message_expiry)},
    [MQTT_PROP_CONTENT_TYPE] = {K_STR, MSG, F(content_type)},
    [MQTT_PROP_RESPONSE_TOPIC] = {K_STR, MSG, F(response_topic)},
    [MQTT_PROP_CORRELATION_DATA] = {K_BIN, MSG, F(correlation_data)},
    [MQTT_PROP_SUBSCRIPTION_ID] = {K_VARINT, IN(MQTT_PUBLISH) | IN(MQTT_SUBSCRIBE), F(sub_id)},
    [MQTT_PROP_SESSION_EXPIRY] = {K_U32, CONN | IN(MQTT_DISCONNECT), F(session_expiry)},
    [MQTT_PROP_ASSIGNED_CLIENT_ID] = {K_STR, IN(MQTT_CONNACK), F(assigned_client_id)},
    [MQTT_PROP_SERVER_KEEP_ALIVE] = {K_U16, IN(MQTT_CONNACK), F(server_keep_alive)},
    [MQTT_PROP_AUTH_METHOD] = {K_STR, CONN | IN(MQTT_AUTH), F(auth_method)},
    [MQTT_PROP_AUTH_DATA] = {K_BIN, CONN | IN(MQTT_AUTH), F(auth_data)},
    [MQTT_PROP_REQUEST_PROBLEM_INFO] = {K_BYTE, IN(MQTT_CONNECT), F(request_problem_info)},
    [MQTT_PROP_WILL_DELAY] = {K_U32, WILL, F(will_delay)},
    [MQTT_PROP_REQUEST_RESPONSE_INFO] = {K_BYTE, IN(MQTT_CONNECT), F(request_response_info)},
    [MQTT_PROP_RESPONSE_INFO] = {K_STR, IN(MQTT_CONNACK), F(response_info)},
    [MQTT_PROP_SERVER_REFERENCE] = {K_STR, IN(MQTT_CONNACK) | IN(MQTT_DISCONNECT), F(server_reference)},
    [MQTT_PROP_REASON_STRING] = {K_STR,
                                 IN(MQTT_CONNACK) | ACKS | IN(MQTT_SUBACK) | IN(MQTT_UNSUBACK) | IN(MQTT_DISCONNECT) |
                                     IN(MQTT_AUTH),
                                 F(reason_string)},
    [MQTT_PROP_RECEIVE_MAX] = {K_U16, CONN, F(receive_max)},
    [MQTT_PROP_TOPIC_ALIAS_MAX] = {K_U16, CONN, F(topic_alias_max)},
    [MQTT_PROP_TOPIC_ALIAS] = {K_U16, IN(MQTT_PUBLISH), F(topic_alias)},
    [MQTT_PROP_MAX_QOS] = {K_BYTE, IN(MQTT_CONNACK), F(max_qos)},
    [MQTT_PROP_RETAIN_AVAILABLE] = {K_BYTE, IN(MQTT_CONNACK), F(retain_available)},
    [MQTT_PROP_USER_PROPERTY] = {K_PAIR, UINT32_MAX, 0},
    [MQTT_PROP_MAX_PACKET_SIZE] = {K_U32, CONN, F(max_packet_size)},
    [MQTT_PROP_WILDCARD_SUB_AVAILABLE] = {K_BYTE, IN(MQTT_CONNACK), F(wildcard_sub_available)},
    [MQTT_PROP_SUB_ID_AVAILABLE] = {K_BYTE, IN(MQTT_CONNACK), F(sub_id_available)},
    [MQTT_PROP_SHARED_SUB_AVAILABLE] = {K_BYTE, IN(MQTT_CONNACK), F(shared_sub_available)},
};

static const struct prop_def *def_of(uint32_t id) { return id < N_DEFS && defs[id].kind != K_NONE ? &defs[id] : NULL; }

/* Read one value of `kind` into dst (NULL: skip it). */
static bool read_value(rd *r, uint8_t kind, void *dst)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    mqtt_bytes b, b2;
    switch (kind) {
    case K_BYTE:
        if (!rd_u8(r, &u8)) return false;
        if (dst) memcpy(dst, &u8, 1);
        return true;
    case K_U16:
        if (!rd_u16(r, &u16)) return false;
        if (dst) memcpy(dst, &u16, 2);
        return true;
    case K_U32:
        if (!rd_u32(r, &u32)) return false;
        if (dst) memcpy(dst, &u32, 4);
        return true;
    case K_VARINT:
        if (!rd_varint(r, &u32)) return false;
        if (dst) memcpy(dst, &u32, 4);
        return true;
    case K_STR:
        if (!rd_str(r, &b)) return false;
        if (dst) memcpy(dst, &b, sizeof b);
        return true;
    case K_BIN:
        if (!rd_bin(r, &b)) return false;
        if (dst) memcpy(dst, &b, sizeof b);
        return true;
    case K_PAIR: return rd_str(r, &b) && rd_str(r, &b2);
    }
    return false;
}

/* Range rules for the value just decoded into p (MQTT 5.0 §3.1.2.11,
 * §3.2.2.3, §3.3.2.3, §3.8.2.1). */
static int check_value(uint32_t id, const mqtt_props *p)
{
    switch (id) {
    case MQTT_PROP_PAYLOAD_FORMAT: return p->payload_format > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_REQUEST_PROBLEM_INFO: return p->request_problem_info > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_REQUEST_RESPONSE_INFO: return p->request_response_info > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_MAX_QOS: return p->max_qos > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_RETAIN_AVAILABLE: return p->retain_available > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_WILDCARD_SUB_AVAILABLE: return p->wildcard_sub_available > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_SUB_ID_AVAILABLE: return p->sub_id_available > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_SHARED_SUB_AVAILABLE: return p->shared_sub_available > 1 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_RECEIVE_MAX: return p->receive_max == 0 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_MAX_PACKET_SIZE: return p->max_packet_size == 0 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_SUBSCRIPTION_ID: return p->sub_id == 0 ? MQTT_RC_PROTOCOL_ERROR : 0;
    case MQTT_PROP_TOPIC_ALIAS: return p->topic_alias == 0 ? MQTT_RC_TOPIC_ALIAS_INVALID : 0;
    case MQTT_PROP_RESPONSE_TOPIC:
        /* read as a string: its UTF-8 is already checked */
        return mqtt_topic_name_ok(p->response_topic) ? 0 : MQTT_RC_PROTOCOL_ERROR;
    }
    return 0;
}

/* Only user properties repeat freely; a server's PUBLISH may carry one
 * subscription identifier per matching subscription (MQTT-3.3.4-3). */
static bool may_repeat(uint32_t id, uint8_t ctx)
{
    return id == MQTT_PROP_USER_PROPERTY || (id == MQTT_PROP_SUBSCRIPTION_ID && ctx == MQTT_PUBLISH);
}

static int decode_one(rd *r, uint8_t ctx, bool from_server, mqtt_props *out)
{
    uint32_t id;
    if (!rd_varint(r, &id)) return MQTT_RC_MALFORMED;
    const struct prop_def *d = def_of(id);
    if (!d || !(d->allowed & IN(ctx))) return MQTT_RC_MALFORMED;
    if (id == MQTT_PROP_SUBSCRIPTION_ID && ctx == MQTT_PUBLISH && !from_server)
        return MQTT_RC_PROTOCOL_ERROR; /* MQTT-3.3.4-6 */
    bool seen = out->present & MQTT_PROP_BIT(id);
    if (seen && !may_repeat(id, ctx)) return MQTT_RC_PROTOCOL_ERROR;
    if (id == MQTT_PROP_USER_PROPERTY) {
        if (!read_value(r, K_PAIR, NULL)) return MQTT_RC_MALFORMED;
        out->user_count++;
    } else if (seen) {
        /* a repeated subscription identifier: the first one is kept in the
         * struct; check the others' range through a scratch copy */
        mqtt_props tmp = {0};
        if (!read_value(r, d->kind, &tmp.sub_id)) return MQTT_RC_MALFORMED;
        return check_value(id, &tmp);
    } else if (!read_value(r, d->kind, (uint8_t *)out + d->off)) {
        return MQTT_RC_MALFORMED;
    }
    out->present |= MQTT_PROP_BIT(id);
    return check_value(id, out);
}

int mqtt_props_decode(rd *r, uint8_t ctx, bool from_server, mqtt_props *out)
{
    uint32_t n;
    if (!rd_varint(r, &n) || n > rd_left(r)) return MQTT_RC_MALFORMED;
    rd pr = {r->p + r->pos, n, 0};
    out->raw = (mqtt_bytes){pr.p, n};
    r->pos += n;
    while (rd_left(&pr)) {
        int rc = decode_one(&pr, ctx, from_server, out);
        if (rc != MQTT_RC_SUCCESS) return rc;
    }
    /* MQTT 5.0 §3.1.2.11.10: authentication data needs a method */
    uint64_t auth = MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA) | MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD);
    if ((out->present & auth) == MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA)) return MQTT_RC_PROTOCOL_ERROR;
    return MQTT_RC_SUCCESS;
}

static void write_value(wr *w, uint8_t kind, const void *src)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    mqtt_bytes b;
    switch (kind) {
    case K_BYTE:
        memcpy(&u8, src, 1);
        wr_u8(w, u8);
        break;
    case K_U16:
        memcpy(&u16, src, 2);
        wr_u16(w, u16);
        break;
    case K_U32:
        memcpy(&u32, src, 4);
        wr_u32(w, u32);
        break;
    case K_VARINT:
        memcpy(&u32, src, 4);
        wr_varint(w, u32);
        break;
    case K_STR:
    case K_BIN:
        memcpy(&b, src, sizeof b);
        wr_bin(w, b);
        break;
    }
}

/* Present fields in identifier order, then sub_ids, then `extra`. User
 * properties only travel in `extra`: decoded ones stay in `raw`. */
static void props_body(wr *w, const mqtt_props *p)
{
    uint64_t remaining = p->present & ~MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY);
    for (; remaining; remaining &= remaining - 1) { /* set bits, lowest (= smallest id) first */
        uint32_t id = (uint32_t)__builtin_ctzll(remaining);
        const struct prop_def *d = def_of(id);
        if (!d) continue;
        wr_u8(w, (uint8_t)id);
        write_value(w, d->kind, (const uint8_t *)p + d->off);
    }
    for (uint32_t i = 0; i < p->n_sub_ids; i++) {
        wr_u8(w, MQTT_PROP_SUBSCRIPTION_ID);
        wr_varint(w, p->sub_ids[i]);
    }
    wr_raw(w, p->extra.data, p->extra.len);
}

void mqtt_props_write(wr *w, const mqtt_props *p)
{
    if (mqtt_props_empty(p)) { /* the common PUBLISH case */
        wr_u8(w, 0);
        return;
    }
    wr count = {NULL, 0};
    props_body(&count, p);
    wr_varint(w, (uint32_t)count.n);
    props_body(w, p);
}

size_t mqtt_props_encode_block(buf *out, const mqtt_props *p)
{
    wr count = {NULL, 0};
    props_body(&count, p);
    wr w = {buf_reserve(out, count.n), 0};
    props_body(&w, p);
    out->len += w.n;
    return w.n;
}

bool mqtt_props_empty(const mqtt_props *p)
{
    return !(p->present & ~MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY)) && p->n_sub_ids == 0 && p->extra.len == 0;
}

/* Step over one value of a block mqtt_props_decode already accepted: its
 * strings were UTF-8 checked then, so only their lengths matter now. */
static bool skip_value(rd *r, uint8_t kind)
{
    mqtt_bytes b;
    if (kind == K_STR) return rd_bin(r, &b);
    if (kind == K_PAIR) return rd_bin(r, &b) && rd_bin(r, &b);
    return read_value(r, kind, NULL);
}

bool mqtt_props_next_user(const mqtt_props *props, size_t *pos, mqtt_bytes *key, mqtt_bytes *value)
{
    rd r = {props->raw.data, props->raw.len, *pos};
    while (rd_left(&r)) {
        uint32_t id;
        if (!rd_varint(&r, &id) || !def_of(id)) break;
        if (id == MQTT_PROP_USER_PROPERTY) {
            if (!rd_bin(&r, key) || !rd_bin(&r, value)) break;
            *pos = r.pos;
            return true;
        }
        if (!skip_value(&r, def_of(id)->kind)) break;
    }
    *pos = r.len;
    return false;
}

void mqtt_props_add_user(buf *out, mqtt_bytes key, mqtt_bytes value)
{
    size_t n = 1 + 2 + key.len + 2 + value.len;
    wr w = {buf_reserve(out, n), 0};
    wr_u8(&w, MQTT_PROP_USER_PROPERTY);
    wr_bin(&w, key);
    wr_bin(&w, value);
    out->len += n;
}

bool mqtt_props_valid(mqtt_bytes raw, uint8_t type, uint64_t forbidden)
{
    rd pr = {raw.data, raw.len, 0};
    mqtt_props out;
    memset(&out, 0, sizeof out);
    while (rd_left(&pr))
        if (decode_one(&pr, type, false, &out) != MQTT_RC_SUCCESS) return false;
    return !(out.present & forbidden);
}

void mqtt_props_copy_except(mqtt_bytes raw, uint64_t except_mask, buf *out)
{
    rd r = {raw.data, raw.len, 0};
    while (rd_left(&r)) {
        size_t start = r.pos;
        uint32_t id;
        if (!rd_varint(&r, &id) || !def_of(id)) return;
        if (!read_value(&r, def_of(id)->kind, NULL)) return;
        if (!(except_mask & MQTT_PROP_BIT(id))) buf_append(out, raw.data + start, r.pos - start);
    }
}
