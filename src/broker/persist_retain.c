/* Durable retained messages: the RETAIN record (BROKER_REC_RETAIN), its
 * append at broker_ingest, replay and the snapshot walk.
 *
 * Layout, version 1 (little-endian; "bytes" = u32 length + bytes):
 *
 *   u8 version (1), u8 qos (0..2), u64 deadline (wall-clock Unix ms of
 *   the Message Expiry; 0 = none), bytes topic (a valid topic name),
 *   bytes properties (the message's stored v5 properties: what the
 *   publisher sent minus Topic Alias, Subscription Identifiers and
 *   Message Expiry, which are recomputed per delivery; decode checks them
 *   as PUBLISH properties), bytes payload
 *
 * An empty payload clears the topic's retained message; a clear carries
 * qos 0, deadline 0 and no properties (canonical: decode + encode is the
 * identity, fuzz_broker_record checks it). Each record replaces the
 * topic's state, so replaying records in log order rebuilds it. */
#include <string.h>

#include "broker/internal.h"
#include "util/clock.h"
#include "util/le.h"

#define RETAIN_REC_VERSION 1

void broker__retain_rec_encode(buf *out, const retain_rec *r)
{
    buf_append_u8(out, RETAIN_REC_VERSION);
    buf_append_u8(out, r->qos);
    buf_append_u64le(out, r->deadline);
    buf_append_u32le(out, r->topic.len);
    buf_append(out, r->topic.data, r->topic.len);
    buf_append_u32le(out, r->props.len);
    buf_append(out, r->props.data, r->props.len);
    buf_append_u32le(out, r->payload.len);
    buf_append(out, r->payload.data, r->payload.len);
}

const char *broker__retain_rec_decode(const uint8_t *p, size_t n, retain_rec *out)
{
    le_reader rd = le_reader_of(p, n);
    memset(out, 0, sizeof *out);
    if (le_get_u8(&rd) != RETAIN_REC_VERSION)
        return rd.bad ? "retained record truncated" : "unknown retained record version";
    out->qos = le_get_u8(&rd);
    out->deadline = le_get_u64(&rd);
    out->topic.data = le_get_lenbytes(&rd, &out->topic.len);
    out->props.data = le_get_lenbytes(&rd, &out->props.len);
    out->payload.data = le_get_lenbytes(&rd, &out->payload.len);
    if (!le_reader_done(&rd)) return rd.bad ? "retained record truncated" : "retained record: trailing bytes";
    if (out->qos > 2) return "retained record: QoS above 2";
    if (out->topic.len > UINT16_MAX || !mqtt_topic_valid(out->topic)) return "retained record: invalid topic name";
    if (!out->payload.len && (out->qos || out->deadline || out->props.len))
        return "retained record: a clear with message fields";
    /* What a PUBLISH may carry, minus what is recomputed per delivery. */
    uint64_t recomputed = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) |
                          MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    if (!mqtt_props_valid(out->props, MQTT_PUBLISH, recomputed)) return "retained record: invalid properties";
    return NULL;
}

void broker__retain_persist(broker *b, const msg *m)
{
    if (!broker__persist_retained_selected(b, m->topic)) return;
    retain_rec r = {.topic = m->topic};
    if (m->payload.len) {
        r.payload = m->payload;
        r.props = m->props;
        r.qos = m->qos;
        r.deadline = broker__persist_to_wall(m->expiry_at);
    }
    buf *enc = broker__persist_scratch(b);
    enc->len = 0;
    broker__retain_rec_encode(enc, &r);
    /* A refusal (0) leaves the message retained in memory only (in
     * cluster mode: not retained at all): a QoS 1/2 publisher was refused
     * before (broker__persist_refusing), a QoS 0 one was promised nothing. */
    (void)broker__persist_append(b, BROKER_REC_RETAIN, enc->data, enc->len);
    buf_shrink(enc, 65536);
}

const char *broker__retain_replay(broker *b, const uint8_t *p, size_t n)
{
    retain_rec r;
    const char *bad = broker__retain_rec_decode(p, n, &r);
    if (bad) return bad;
    /* A topic no longer selected (the configuration changed) is not restored. */
    if (!broker__persist_retained_selected(b, r.topic)) return NULL;
    uint64_t expiry_at = broker__persist_to_mono(r.deadline);
    if (!r.payload.len || (expiry_at && expiry_at <= broker_now())) { /* cleared, or expired while down */
        retain_store_set(b->retained, r.topic, NULL);
        return NULL;
    }
    msg *m = broker__msg_new(r.topic, r.payload, r.props, r.qos, true);
    m->expiry_at = expiry_at;
    retain_store_set(b->retained, r.topic, m); /* the store takes the reference */
    return NULL;
}

/* The topics to clear, gathered first: a walk may not change the store. */
typedef struct reset_walk {
    const broker *b;
    buf topics; /* u32 length + topic, each */
} reset_walk;

static bool reset_note(void *ctx, mqtt_bytes topic, void *value)
{
    (void)value;
    reset_walk *w = ctx;
    if (!broker__persist_retained_selected(w->b, topic)) return true; /* this node's own ($SYS) */
    buf_append_u32le(&w->topics, topic.len);
    buf_append(&w->topics, topic.data, topic.len);
    return true;
}

void broker__retain_reset(broker *b)
{
    reset_walk w = {.b = b};
    retain_store_foreach(b->retained, reset_note, &w);
    le_reader rd = le_reader_of(w.topics.data, w.topics.len);
    while (rd.n) {
        mqtt_bytes t;
        t.data = le_get_lenbytes(&rd, &t.len);
        retain_store_set(b->retained, t, NULL);
    }
    buf_free(&w.topics);
}

/* --- snapshot (in the forked child: no allocation) ------------------------------ */

typedef struct snap_walk {
    const broker *b;
    broker_persist_write_fn fn;
    void *ctx;
    uint64_t now, wall; /* one clock reading for the whole snapshot */
    bool ok;
} snap_walk;

static bool snap_one(void *ctx, mqtt_bytes topic, void *value)
{
    snap_walk *w = ctx;
    const msg *m = value;
    if (!broker__persist_retained_selected(w->b, topic)) return true;
    if (m->expiry_at && m->expiry_at <= w->now) return true; /* expired: as if cleared */
    uint64_t deadline = m->expiry_at ? w->wall + (m->expiry_at - w->now) : 0;
    uint8_t head[1 + 1 + 8 + 4], plen[4], dlen[4];
    head[0] = RETAIN_REC_VERSION;
    head[1] = m->qos;
    le_put_u32(le_put_u64(head + 2, deadline), topic.len);
    le_put_u32(plen, m->props.len);
    le_put_u32(dlen, m->payload.len);
    broker_persist_piece pieces[] = {
        {head, sizeof head},           {topic.data, topic.len}, {plen, sizeof plen},
        {m->props.data, m->props.len}, {dlen, sizeof dlen},     {m->payload.data, m->payload.len},
    };
    w->ok = w->fn(w->ctx, BROKER_REC_RETAIN, pieces, sizeof pieces / sizeof *pieces);
    return w->ok;
}

bool broker__retain_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx)
{
    snap_walk w = {b, fn, ctx, broker_now(), clock_wall_ms(), true};
    retain_store_foreach(b->retained, snap_one, &w);
    return w.ok;
}
