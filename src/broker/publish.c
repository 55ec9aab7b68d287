/* Inbound PUBLISH and the publisher's side of the QoS 1/2 handshakes.
 *
 * QoS 2 uses the spec's "method B": the message is routed when the
 * PUBLISH first arrives and its packet id is remembered until PUBREL, so a
 * retransmitted PUBLISH with that id is acknowledged but never routed twice.
 * QoS 1 is acknowledged as soon as it has been routed, so the only inbound
 * messages counting against our Receive Maximum are QoS 2 ones awaiting
 * PUBREL. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/log.h"

/* More than max levels? A topic of L bytes has at most L + 1 levels, so
 * the usual short topic is not scanned at all. */
static bool too_many_levels(mqtt_bytes t, uint32_t max)
{
    if ((uint64_t)t.len + 1 <= max) return false;
    const uint8_t *p = t.data, *end = t.data + t.len;
    uint32_t n = 1;
    while ((p = memchr(p, '/', (size_t)(end - p)))) { /* vectorised: topics have few levels */
        if (++n > max) return true;
        p++;
    }
    return false;
}

static msg *msg_from_publish(const mqtt_publish *p)
{
    static const uint64_t not_passed = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) |
                                       MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
    buf props = {0};
    if (p->props.raw.len) mqtt_props_copy_except(p->props.raw, not_passed, &props);
    msg *m = broker__msg_new(p->topic, p->payload, (mqtt_bytes){props.data, (uint32_t)props.len}, p->qos, p->retain);
    buf_free(&props);
    if ((p->props.present & MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY)) && p->props.message_expiry)
        m->expiry_at = broker_now() + (uint64_t)p->props.message_expiry * 1000;
    return m;
}

/* First half of the handshake; for QoS 2 the id is remembered unless the
 * reason code ends the flow (a PUBREC >= 0x80 completes it, §4.3.3). */
static void ack_publish(client *c, const mqtt_publish *p, uint8_t reason)
{
    if (p->qos == 1) broker__client_send_ack(c, MQTT_PUBACK, p->packet_id, reason);
    if (p->qos == 2) {
        if (reason < 0x80) broker__session_rx_qos2_add(c->s, p->packet_id);
        broker__client_send_ack(c, MQTT_PUBREC, p->packet_id, reason);
    }
}

/* The hook's arguments point into the client and its session, so a
 * disconnect of the publisher that the hook asks for waits until it
 * returns (broker_disconnect_client). Hooks do not nest: they run for
 * client PUBLISHes only, and nothing a hook calls reads a client's input. */
static void run_hook(client *c, const pub_hook *h, const mqtt_publish *p)
{
    broker *b = c->b;
    session *s = c->s;
    mqtt_bytes user;
    ack_publish(c, p, MQTT_RC_SUCCESS);
    assert(!b->hook_client && !b->hook_kick);
    b->hook_client = c; /* replies published by the hook are c's (broker_publish) */
    h->fn(h->ctx, (mqtt_bytes){s->id, s->id_len}, broker__client_username(c, &user), c->who, p);
    b->hook_client = NULL;
    if (!b->hook_kick) return;
    char *reason = b->hook_kick_reason;
    b->hook_kick = false;
    b->hook_kick_reason = NULL;
    if (c->state == CLIENT_CONNECTED) broker__client_disconnect(c, b->hook_kick_rc, reason);
    free(reason);
}

/* Ask the authorizers; on denial answer the publisher (see broker.h for
 * the per-version rules) and return false. */
static bool authorize_publish(client *c, const mqtt_publish *p)
{
    session *s = c->s;
    mqtt_bytes user;
    broker_auth_request r = {.client_id = {s->id, s->id_len},
                             .username = broker__client_username(c, &user),
                             .who = c->who,
                             .action = BROKER_ACTION_PUBLISH,
                             .topic = p->topic,
                             .filter = p->topic,
                             .qos = p->qos,
                             .retain = p->retain};
    uint8_t rc = broker_authorize(c->b, &r);
    if (rc < 0x80) return true;
    log_debug("%.*s: PUBLISH to %.*s denied (0x%02x)", (int)s->id_len, (const char *)s->id, (int)p->topic.len,
              (const char *)p->topic.data, rc);
    /* v3.1.1 cannot refuse a PUBLISH: acknowledge, do not route. */
    ack_publish(c, p, c->version == MQTT_V5 ? rc : MQTT_RC_SUCCESS);
    return false;
}

/* Topic checks the codec cannot make: aliases and level count. Returns
 * false when the connection has been closed or the message refused. */
static bool resolve_topic(client *c, mqtt_publish *p)
{
    if (c->version == MQTT_V5) {
        int rc = broker__alias_in_apply(c, p);
        if (rc) {
            broker__client_disconnect(
                c, (uint8_t)rc, rc == MQTT_RC_TOPIC_ALIAS_INVALID ? "Topic alias invalid" : "Unknown topic alias");
            return false;
        }
    } else if (!p->topic.len) {
        broker__client_close(c, true);
        return false;
    }
    if (too_many_levels(p->topic, c->b->lim.max_topic_levels)) {
        if (c->version != MQTT_V5) broker__client_close(c, true);
        else ack_publish(c, p, MQTT_RC_TOPIC_NAME_INVALID);
        return false;
    }
    return true;
}

void broker__publish_handle(client *c, mqtt_publish *p)
{
    broker *b = c->b;
    session *s = c->s;
    b->stats.msgs_in[p->qos]++;
    b->stats.payload_in[p->qos] += p->payload.len;
    if (!resolve_topic(c, p)) return;
    if (p->qos == 2 && broker__session_rx_qos2_has(s, p->packet_id)) {
        broker__client_send_ack(c, MQTT_PUBREC, p->packet_id, MQTT_RC_SUCCESS); /* duplicate: not routed again */
        return;
    }
    if (p->qos && broker__session_n_rx_qos2(s) >= b->lim.receive_max) {
        broker__client_disconnect(c, MQTT_RC_RECEIVE_MAX_EXCEEDED, "Receive Maximum exceeded");
        return;
    }
    if (!authorize_publish(c, p)) return;
    const pub_hook *h = broker_find_hook(b, p->topic);
    if (h) {
        run_hook(c, h, p);
        return;
    }
    msg *m = msg_from_publish(p);
    if (p->qos && broker__persist_refusing(b) && broker__persist_would_append(b, m)) {
        /* It would append records the sink cannot take now: not routed,
         * refused so the publisher retries (v3.1.1 cannot refuse: closed). */
        broker__msg_unref(m);
        log_debug("%.*s: PUBLISH to %.*s refused: durable state cannot be written now", (int)s->id_len,
                  (const char *)s->id, (int)p->topic.len, (const char *)p->topic.data);
        if (c->version == MQTT_V5) ack_publish(c, p, MQTT_RC_QUOTA_EXCEEDED);
        else broker__client_close(c, false);
        return;
    }
    route_result r = broker_ingest(b, m, s, c);
    broker__msg_unref(m);
    if (c->state == CLIENT_CLOSED) return;
    uint8_t reason = MQTT_RC_SUCCESS;
    if (r.receivers == 0) reason = r.dropped ? MQTT_RC_QUOTA_EXCEEDED : MQTT_RC_NO_MATCHING_SUBSCRIBERS;
    ack_publish(c, p, reason);
}

void broker__pubrel_handle(client *c, const mqtt_ack *a)
{
    bool known = broker__session_rx_qos2_remove(c->s, a->packet_id);
    broker__client_send_ack(c, MQTT_PUBCOMP, a->packet_id, known ? MQTT_RC_SUCCESS : MQTT_RC_PACKET_ID_NOT_FOUND);
}
