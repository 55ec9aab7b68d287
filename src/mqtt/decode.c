/* Bytes -> mqtt_packet. Each packet type has one function that reads the
 * variable header and payload from `dec.r`; mqtt_decode() checks the fixed
 * header and that the body was consumed exactly. Slices point into the
 * input; only SUBSCRIBE/UNSUBSCRIBE/SUBACK/UNSUBACK allocate. */
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"
#include "mqtt/prop.h"
#include "util/alloc.h"

typedef struct dec {
    rd r;          /* the body: variable header and payload */
    uint8_t flags; /* low nibble of the fixed header */
    uint8_t version;
    bool from_server;
} dec;

static bool is_v5(const dec *d) { return d->version == MQTT_V5; }

/* v5 calls many packet-level violations Protocol Errors; 3.1.1 has no
 * reason codes and treats them all as malformed. */
static int rc_pe(const dec *d) { return is_v5(d) ? MQTT_RC_PROTOCOL_ERROR : MQTT_RC_MALFORMED; }

static int read_props(dec *d, uint8_t ctx, mqtt_props *out)
{
    if (!is_v5(d)) return MQTT_RC_SUCCESS;
    return mqtt_props_decode(&d->r, ctx, d->from_server, out);
}

static int read_packet_id(dec *d, uint16_t *id)
{
    if (!rd_u16(&d->r, id)) return MQTT_RC_MALFORMED;
    return *id == 0 ? rc_pe(d) : MQTT_RC_SUCCESS; /* MQTT-2.2.1-3 */
}

static bool rc_in(uint8_t rc, const uint8_t *set, size_t n) { return memchr(set, rc, n) != NULL; }

#define RC_IN(rc, set) rc_in((rc), (set), sizeof(set))

/* Reason codes each v5 packet may carry (MQTT 5.0 §3.x.2.1). */
static const uint8_t RCS_CONNACK[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                      0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t RCS_PUBACK[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t RCS_PUBREL[] = {0x00, 0x92};
static const uint8_t RCS_SUBACK[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t RCS_UNSUBACK[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t RCS_DISCONNECT[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                         0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                         0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t RCS_AUTH[] = {0x00, 0x18, 0x19};

/* v3.1.1 CONNACK return code 0..5 -> v5 reason code. */
static const uint8_t V311_CONNACK_TO_RC[] = {MQTT_RC_SUCCESS,
                                             MQTT_RC_UNSUPPORTED_VERSION,
                                             MQTT_RC_CLIENT_ID_INVALID,
                                             MQTT_RC_SERVER_UNAVAILABLE,
                                             MQTT_RC_BAD_USER_OR_PASSWORD,
                                             MQTT_RC_NOT_AUTHORIZED};

static bool protocol_known(mqtt_bytes name, uint8_t level)
{
    if (name.len == 4 && memcmp(name.data, "MQTT", 4) == 0) return level == MQTT_V311 || level == MQTT_V5;
    return name.len == 6 && memcmp(name.data, "MQIsdp", 6) == 0 && level == MQTT_V31;
}

static int connect_flags(const dec *d, uint8_t f, mqtt_connect *c)
{
    if (f & 0x01) return MQTT_RC_MALFORMED; /* MQTT-3.1.2-3 */
    c->clean_start = f & 0x02;
    c->will_flag = f & 0x04;
    c->will_qos = (f >> 3) & 3;
    c->will_retain = f & 0x20;
    c->has_password = f & 0x40;
    c->has_username = f & 0x80;
    if (c->will_qos == 3) return MQTT_RC_MALFORMED;
    if (!c->will_flag && (c->will_qos || c->will_retain)) return MQTT_RC_MALFORMED;
    if (!is_v5(d) && c->has_password && !c->has_username) return MQTT_RC_MALFORMED;
    return MQTT_RC_SUCCESS;
}

static int decode_will(dec *d, mqtt_connect *c)
{
    int rc = read_props(d, MQTT_PROPS_WILL, &c->will_props);
    if (rc != MQTT_RC_SUCCESS) return rc;
    if (!rd_str(&d->r, &c->will_topic)) return MQTT_RC_MALFORMED;
    if (!mqtt_topic_valid(c->will_topic)) return MQTT_RC_TOPIC_NAME_INVALID;
    return rd_bin(&d->r, &c->will_payload) ? MQTT_RC_SUCCESS : MQTT_RC_MALFORMED;
}

static int decode_connect(dec *d, mqtt_connect *c)
{
    mqtt_bytes name;
    uint8_t level, flags;
    if (!rd_bin(&d->r, &name) || !rd_u8(&d->r, &level)) return MQTT_RC_MALFORMED;
    c->version = level;
    if (!protocol_known(name, level)) return MQTT_RC_UNSUPPORTED_VERSION;
    d->version = level == MQTT_V5 ? MQTT_V5 : MQTT_V311;
    if (!rd_u8(&d->r, &flags) || !rd_u16(&d->r, &c->keep_alive)) return MQTT_RC_MALFORMED;
    int rc = connect_flags(d, flags, c);
    if (rc == MQTT_RC_SUCCESS) rc = read_props(d, MQTT_CONNECT, &c->props);
    if (rc != MQTT_RC_SUCCESS) return rc;
    if (!rd_str(&d->r, &c->client_id)) return MQTT_RC_MALFORMED;
    if (c->will_flag && (rc = decode_will(d, c)) != MQTT_RC_SUCCESS) return rc;
    if (c->has_username && !rd_str(&d->r, &c->username)) return MQTT_RC_MALFORMED;
    if (c->has_password && !rd_bin(&d->r, &c->password)) return MQTT_RC_MALFORMED;
    return MQTT_RC_SUCCESS;
}

static int decode_connack(dec *d, mqtt_connack *c)
{
    uint8_t flags;
    if (!rd_u8(&d->r, &flags) || !rd_u8(&d->r, &c->reason)) return MQTT_RC_MALFORMED;
    if (flags & 0xFE) return MQTT_RC_MALFORMED; /* MQTT-3.2.2-1 */
    c->session_present = flags & 1;
    if (!is_v5(d)) {
        if (c->reason >= sizeof V311_CONNACK_TO_RC) return MQTT_RC_MALFORMED;
        c->reason = V311_CONNACK_TO_RC[c->reason];
        return MQTT_RC_SUCCESS;
    }
    if (!RC_IN(c->reason, RCS_CONNACK)) return MQTT_RC_PROTOCOL_ERROR;
    return read_props(d, MQTT_CONNACK, &c->props);
}

/* No allocation here: this is the hot path. */
static int decode_publish(dec *d, mqtt_publish *p)
{
    p->retain = d->flags & 1;
    p->qos = (d->flags >> 1) & 3;
    p->dup = d->flags & 8;
    /* both are invalid fixed-header flags: malformed per §2.1.3 */
    if (p->qos == 3 || (p->qos == 0 && p->dup)) return MQTT_RC_MALFORMED;
    if (!rd_str(&d->r, &p->topic)) return MQTT_RC_MALFORMED;
    if (memchr(p->topic.data, '+', p->topic.len) || memchr(p->topic.data, '#', p->topic.len))
        return MQTT_RC_TOPIC_NAME_INVALID;
    int rc = MQTT_RC_SUCCESS;
    if (p->qos && (rc = read_packet_id(d, &p->packet_id)) != MQTT_RC_SUCCESS) return rc;
    if ((rc = read_props(d, MQTT_PUBLISH, &p->props)) != MQTT_RC_SUCCESS) return rc;
    /* an empty topic means "use the alias" and needs one (MQTT-3.3.2-1) */
    if (p->topic.len == 0 && !(p->props.present & MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS))) return rc_pe(d);
    rd_take(&d->r, rd_left(&d->r), &p->payload);
    return MQTT_RC_SUCCESS;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. v5 may omit the reason code (length 2)
 * and the property length (length 3). */
static int decode_ack(dec *d, uint8_t type, mqtt_ack *a)
{
    int rc = read_packet_id(d, &a->packet_id);
    if (rc != MQTT_RC_SUCCESS || !is_v5(d) || rd_left(&d->r) == 0) return rc;
    rd_u8(&d->r, &a->reason);
    bool ok = type == MQTT_PUBACK || type == MQTT_PUBREC ? RC_IN(a->reason, RCS_PUBACK) : RC_IN(a->reason, RCS_PUBREL);
    if (!ok) return MQTT_RC_PROTOCOL_ERROR;
    return rd_left(&d->r) ? read_props(d, type, &a->props) : MQTT_RC_SUCCESS;
}

static bool is_shared(mqtt_bytes f) { return f.len >= 7 && memcmp(f.data, "$share/", 7) == 0; }

/* Filter syntax is deliberately not checked: the broker answers a bad
 * filter with 0x8F in SUBACK and carries on with the others. */
static int read_sub_entry(dec *d, mqtt_sub_entry *e)
{
    uint8_t o;
    if (!rd_str(&d->r, &e->filter) || !rd_u8(&d->r, &o)) return MQTT_RC_MALFORMED;
    e->qos = o & 3;
    if (!is_v5(d)) /* MQTT-3.8.3-4: upper six bits reserved */
        return (o & 0xFC) || e->qos == 3 ? MQTT_RC_MALFORMED : MQTT_RC_SUCCESS;
    e->no_local = o & 0x04;
    e->retain_as_published = o & 0x08;
    e->retain_handling = (o >> 4) & 3;
    if (o & 0xC0) return MQTT_RC_MALFORMED; /* MQTT-3.8.3-5 */
    if (e->qos == 3 || e->retain_handling == 3) return MQTT_RC_PROTOCOL_ERROR;
    if (e->no_local && is_shared(e->filter)) return MQTT_RC_PROTOCOL_ERROR; /* MQTT-3.8.3-4 */
    return MQTT_RC_SUCCESS;
}

/* Two passes over the payload: validate and count, then fill an array of
 * exactly the right size. */
static int decode_subscribe(dec *d, mqtt_subscribe *s)
{
    int rc = read_packet_id(d, &s->packet_id);
    if (rc == MQTT_RC_SUCCESS) rc = read_props(d, MQTT_SUBSCRIBE, &s->props);
    if (rc != MQTT_RC_SUCCESS) return rc;
    size_t start = d->r.pos;
    uint32_t n = 0;
    for (mqtt_sub_entry e; rd_left(&d->r); n++)
        if ((rc = read_sub_entry(d, &e)) != MQTT_RC_SUCCESS) return rc;
    if (n == 0) return rc_pe(d); /* MQTT-3.8.3-2 */
    s->entries = xcalloc(n, sizeof *s->entries);
    s->count = n;
    d->r.pos = start;
    for (uint32_t i = 0; i < n; i++) read_sub_entry(d, &s->entries[i]);
    return MQTT_RC_SUCCESS;
}

static int decode_unsubscribe(dec *d, mqtt_unsubscribe *u)
{
    int rc = read_packet_id(d, &u->packet_id);
    if (rc == MQTT_RC_SUCCESS) rc = read_props(d, MQTT_UNSUBSCRIBE, &u->props);
    if (rc != MQTT_RC_SUCCESS) return rc;
    size_t start = d->r.pos;
    uint32_t n = 0;
    for (mqtt_bytes f; rd_left(&d->r); n++)
        if (!rd_str(&d->r, &f)) return MQTT_RC_MALFORMED;
    if (n == 0) return rc_pe(d); /* MQTT-3.10.3-2 */
    u->filters = xcalloc(n, sizeof *u->filters);
    u->count = n;
    d->r.pos = start;
    for (uint32_t i = 0; i < n; i++) rd_str(&d->r, &u->filters[i]);
    return MQTT_RC_SUCCESS;
}

static bool suback_rc_ok(const dec *d, uint8_t type, uint8_t rc)
{
    if (type == MQTT_UNSUBACK) return RC_IN(rc, RCS_UNSUBACK);
    return is_v5(d) ? RC_IN(rc, RCS_SUBACK) : rc <= 2 || rc == 0x80;
}

/* SUBACK and UNSUBACK. A v3.1.1 UNSUBACK is just the packet identifier. */
static int decode_suback(dec *d, uint8_t type, mqtt_suback *s)
{
    int rc = read_packet_id(d, &s->packet_id);
    if (rc == MQTT_RC_SUCCESS) rc = read_props(d, type, &s->props);
    if (rc != MQTT_RC_SUCCESS) return rc;
    if (type == MQTT_UNSUBACK && !is_v5(d)) return MQTT_RC_SUCCESS;
    size_t n = rd_left(&d->r);
    if (n == 0) return rc_pe(d);
    const uint8_t *codes = d->r.p + d->r.pos;
    for (size_t i = 0; i < n; i++)
        if (!suback_rc_ok(d, type, codes[i])) return rc_pe(d);
    s->reasons = xmemdup(codes, n);
    s->count = (uint32_t)n;
    d->r.pos += n;
    return MQTT_RC_SUCCESS;
}

/* DISCONNECT and AUTH: an empty body means reason 0 without properties. */
static int decode_disconnect(dec *d, uint8_t type, mqtt_disconnect *x)
{
    if (!is_v5(d) || rd_left(&d->r) == 0) return MQTT_RC_SUCCESS;
    rd_u8(&d->r, &x->reason);
    bool ok = type == MQTT_AUTH ? RC_IN(x->reason, RCS_AUTH) : RC_IN(x->reason, RCS_DISCONNECT);
    if (!ok) return MQTT_RC_PROTOCOL_ERROR;
    return rd_left(&d->r) ? read_props(d, type, &x->props) : MQTT_RC_SUCCESS;
}

static int decode_body(dec *d, uint8_t type, mqtt_packet *out)
{
    switch (type) {
    case MQTT_CONNECT: return decode_connect(d, &out->connect);
    case MQTT_CONNACK: return decode_connack(d, &out->connack);
    case MQTT_PUBLISH: return decode_publish(d, &out->publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: return decode_ack(d, type, &out->ack);
    case MQTT_SUBSCRIBE: return decode_subscribe(d, &out->subscribe);
    case MQTT_UNSUBSCRIBE: return decode_unsubscribe(d, &out->unsubscribe);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return decode_suback(d, type, &out->suback);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP: return MQTT_RC_SUCCESS;
    case MQTT_DISCONNECT:
    case MQTT_AUTH: return decode_disconnect(d, type, &out->disconnect);
    }
    return MQTT_RC_MALFORMED;
}

/* MQTT-2.1.3-1: fixed flags per packet type; PUBLISH's are checked later. */
static bool flags_valid(uint8_t type, uint8_t flags)
{
    if (type == MQTT_PUBLISH) return true;
    bool one = type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE;
    return flags == (one ? 0x2 : 0x0);
}

static int decode(const uint8_t *data, size_t len, uint8_t version, bool from_server, mqtt_packet *out)
{
    memset(out, 0, sizeof *out);
    rd hdr = {data, len, 1};
    uint32_t rem;
    if (len < 2 || !rd_varint(&hdr, &rem) || rem != rd_left(&hdr)) return MQTT_RC_MALFORMED;
    uint8_t type = data[0] >> 4, flags = data[0] & 0x0F;
    out->type = type;
    if (type == 0 || !flags_valid(type, flags)) return MQTT_RC_MALFORMED;
    dec d = {{data + hdr.pos, rem, 0}, flags, version == MQTT_V5 ? MQTT_V5 : MQTT_V311, from_server};
    if (type == MQTT_AUTH && !is_v5(&d)) return MQTT_RC_MALFORMED; /* reserved in 3.1.1 */
    int rc = decode_body(&d, type, out);
    if (rc == MQTT_RC_SUCCESS && rd_left(&d.r)) rc = MQTT_RC_MALFORMED;
    if (rc != MQTT_RC_SUCCESS) mqtt_packet_release(out);
    return rc;
}

int mqtt_decode(const uint8_t *data, size_t len, uint8_t version, mqtt_packet *out)
{
    return decode(data, len, version, false, out);
}

int mqtt_decode_from_server(const uint8_t *data, size_t len, uint8_t version, mqtt_packet *out)
{
    return decode(data, len, version, true, out);
}

void mqtt_packet_release(mqtt_packet *p)
{
    switch (p->type) {
    case MQTT_SUBSCRIBE:
        free(p->subscribe.entries);
        p->subscribe.entries = NULL;
        p->subscribe.count = 0;
        break;
    case MQTT_UNSUBSCRIBE:
        free(p->unsubscribe.filters);
        p->unsubscribe.filters = NULL;
        p->unsubscribe.count = 0;
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        free(p->suback.reasons);
        p->suback.reasons = NULL;
        p->suback.count = 0;
        break;
    }
}
