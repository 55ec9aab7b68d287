/* mqtt_packet -> bytes. Every body writer runs twice through a `wr`: first
 * counting, then writing into space taken with a single buf_reserve. */
#include <stdint.h>

#include "mqtt/codec.h"
#include "mqtt/prop.h"

static bool is_v5(uint8_t version) { return version == MQTT_V5; }

static void write_props(wr *w, uint8_t version, const mqtt_props *p)
{
    if (is_v5(version)) mqtt_props_write(w, p);
}

uint8_t mqtt_rc_to_v311_connack(uint8_t reason)
{
    switch (reason) {
    case MQTT_RC_SUCCESS: return 0;
    case MQTT_RC_UNSUPPORTED_VERSION: return 1;
    case MQTT_RC_CLIENT_ID_INVALID: return 2;
    case MQTT_RC_BAD_USER_OR_PASSWORD: return 4;
    case MQTT_RC_NOT_AUTHORIZED:
    case MQTT_RC_BAD_AUTH_METHOD:
    case MQTT_RC_BANNED: return 5;
    default: return 3; /* server unavailable: the generic refusal */
    }
}

static void connect_body(wr *w, uint8_t v, const mqtt_connect *c)
{
    static const mqtt_bytes mqtt = {(const uint8_t *)"MQTT", 4};
    static const mqtt_bytes mqisdp = {(const uint8_t *)"MQIsdp", 6};
    wr_bin(w, v == MQTT_V31 ? mqisdp : mqtt);
    wr_u8(w, v == MQTT_V31 ? MQTT_V31 : is_v5(v) ? MQTT_V5 : MQTT_V311);
    uint8_t f = (uint8_t)(c->clean_start << 1);
    if (c->will_flag) f |= (uint8_t)(0x04 | (c->will_qos & 3) << 3 | c->will_retain << 5);
    if (c->has_password) f |= 0x40;
    if (c->has_username) f |= 0x80;
    wr_u8(w, f);
    wr_u16(w, c->keep_alive);
    write_props(w, v, &c->props);
    wr_bin(w, c->client_id);
    if (c->will_flag) {
        write_props(w, v, &c->will_props);
        wr_bin(w, c->will_topic);
        wr_bin(w, c->will_payload);
    }
    if (c->has_username) wr_bin(w, c->username);
    if (c->has_password) wr_bin(w, c->password);
}

static void connack_body(wr *w, uint8_t v, const mqtt_connack *c)
{
    wr_u8(w, c->session_present ? 1 : 0);
    wr_u8(w, is_v5(v) ? c->reason : mqtt_rc_to_v311_connack(c->reason));
    write_props(w, v, &c->props);
}

static void publish_body(wr *w, uint8_t v, const mqtt_publish *p)
{
    wr_bin(w, p->topic);
    if (p->qos) wr_u16(w, p->packet_id);
    write_props(w, v, &p->props);
    wr_raw(w, p->payload.data, p->payload.len);
}

/* v5 short forms (§3.4.2.1): reason 0 without properties is just the id;
 * without properties the property length may be left out. */
static void ack_body(wr *w, uint8_t v, const mqtt_ack *a)
{
    wr_u16(w, a->packet_id);
    if (!is_v5(v)) return;
    bool no_props = mqtt_props_empty(&a->props);
    if (a->reason == MQTT_RC_SUCCESS && no_props) return;
    wr_u8(w, a->reason);
    if (!no_props) mqtt_props_write(w, &a->props);
}

static void subscribe_body(wr *w, uint8_t v, const mqtt_subscribe *s)
{
    wr_u16(w, s->packet_id);
    write_props(w, v, &s->props);
    for (uint32_t i = 0; i < s->count; i++) {
        const mqtt_sub_entry *e = &s->entries[i];
        uint8_t o = e->qos & 3;
        if (is_v5(v)) o |= (uint8_t)(e->no_local << 2 | e->retain_as_published << 3 | (e->retain_handling & 3) << 4);
        wr_bin(w, e->filter);
        wr_u8(w, o);
    }
}

static void unsubscribe_body(wr *w, uint8_t v, const mqtt_unsubscribe *u)
{
    wr_u16(w, u->packet_id);
    write_props(w, v, &u->props);
    for (uint32_t i = 0; i < u->count; i++) wr_bin(w, u->filters[i]);
}

/* v3.1.1 SUBACK knows one failure code; its UNSUBACK has no payload. */
static void suback_body(wr *w, uint8_t v, uint8_t type, const mqtt_suback *s)
{
    wr_u16(w, s->packet_id);
    if (!is_v5(v) && type == MQTT_UNSUBACK) return;
    write_props(w, v, &s->props);
    for (uint32_t i = 0; i < s->count; i++) {
        uint8_t rc = s->reasons[i];
        wr_u8(w, !is_v5(v) && rc >= 0x80 ? 0x80 : rc);
    }
}

/* DISCONNECT and AUTH: reason 0 without properties is an empty body. */
static void disconnect_body(wr *w, uint8_t v, const mqtt_disconnect *x)
{
    if (!is_v5(v)) return;
    bool no_props = mqtt_props_empty(&x->props);
    if (x->reason == MQTT_RC_SUCCESS && no_props) return;
    wr_u8(w, x->reason);
    if (!no_props) mqtt_props_write(w, &x->props);
}

static void body(wr *w, uint8_t v, const mqtt_packet *p)
{
    switch (p->type) {
    case MQTT_CONNECT: connect_body(w, v, &p->connect); break;
    case MQTT_CONNACK: connack_body(w, v, &p->connack); break;
    case MQTT_PUBLISH: publish_body(w, v, &p->publish); break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: ack_body(w, v, &p->ack); break;
    case MQTT_SUBSCRIBE: subscribe_body(w, v, &p->subscribe); break;
    case MQTT_UNSUBSCRIBE: unsubscribe_body(w, v, &p->unsubscribe); break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: suback_body(w, v, p->type, &p->suback); break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH: disconnect_body(w, v, &p->disconnect); break;
    }
}

static uint8_t publish_flags(const mqtt_publish *p)
{
    uint8_t qos = p->qos & 3;
    return (uint8_t)((p->dup && qos ? 0x08 : 0) | qos << 1 | (p->retain ? 1 : 0));
}

static uint8_t first_byte(const mqtt_packet *p)
{
    uint8_t t = p->type;
    if (t == MQTT_PUBLISH) return (uint8_t)(t << 4 | publish_flags(&p->publish));
    if (t == MQTT_PUBREL || t == MQTT_SUBSCRIBE || t == MQTT_UNSUBSCRIBE) return (uint8_t)(t << 4 | 0x2);
    return (uint8_t)(t << 4);
}

/* Packets with no encoding for this version, or too big for a remaining
 * length, encode to nothing. */
static bool encodable(uint8_t v, const mqtt_packet *p, size_t body_len)
{
    if (p->type < MQTT_CONNECT || p->type > MQTT_AUTH) return false;
    if (p->type == MQTT_AUTH && !is_v5(v)) return false;
    return body_len <= MQTT_MAX_VARINT;
}

/* A topic name longer than a two-byte length can express has no encoding
 * (checked before counting: wr_bin must never see it). */
static bool topic_encodable(const mqtt_publish *pub) { return pub->topic.len <= MQTT_MAX_BIN; }

/* Length of the body, or SIZE_MAX when p cannot be encoded. */
static size_t body_size(uint8_t version, const mqtt_packet *p)
{
    if (p->type == MQTT_PUBLISH && !topic_encodable(&p->publish)) return SIZE_MAX;
    wr count = {NULL, 0};
    body(&count, version, p);
    return encodable(version, p, count.n) ? count.n : SIZE_MAX;
}

size_t mqtt_encoded_size(uint8_t version, const mqtt_packet *p)
{
    size_t n = body_size(version, p);
    return n == SIZE_MAX ? 0 : 1 + mqtt_varint_size((uint32_t)n) + n;
}

size_t mqtt_encode(buf *out, uint8_t version, const mqtt_packet *p)
{
    size_t n = body_size(version, p);
    if (n == SIZE_MAX) return 0;
    wr w = {buf_reserve(out, 1 + mqtt_varint_size((uint32_t)n) + n), 0};
    wr_u8(&w, first_byte(p));
    wr_varint(&w, (uint32_t)n);
    body(&w, version, p);
    out->len += w.n;
    return w.n;
}

size_t mqtt_encode_publish(buf *out, uint8_t version, const mqtt_publish *pub)
{
    if (!topic_encodable(pub)) return 0;
    wr count = {NULL, 0};
    publish_body(&count, version, pub);
    if (count.n > MQTT_MAX_VARINT) return 0;
    size_t total = 1 + mqtt_varint_size((uint32_t)count.n) + count.n;
    wr w = {buf_reserve(out, total), 0};
    wr_u8(&w, (uint8_t)(MQTT_PUBLISH << 4 | publish_flags(pub)));
    wr_varint(&w, (uint32_t)count.n);
    publish_body(&w, version, pub);
    out->len += w.n;
    return w.n;
}
