/* Will messages: built once from CONNECT, published when the connection
 * ends abnormally (at once, or after the Will Delay Interval if the
 * session outlives the connection: see client.c and session.c). */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

will *broker__will_from_connect(const mqtt_connect *cn)
{
    const mqtt_props *p = &cn->will_props;
    buf props = {0};
    if (cn->version == MQTT_V5)
        mqtt_props_copy_except(p->raw,
                               MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY) | MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) |
                                   MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID),
                               &props);
    will *w = xcalloc(1, sizeof *w);
    w->m = broker__msg_new(cn->will_topic, cn->will_payload, (mqtt_bytes){props.data, (uint32_t)props.len},
                           cn->will_qos, cn->will_retain);
    buf_free(&props);
    if (p->present & MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY)) w->delay = p->will_delay;
    /* As Mosquitto does, an interval of 0 means no expiry. */
    w->has_expiry = (p->present & MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY)) && p->message_expiry;
    w->expiry = p->message_expiry;
    return w;
}

void broker__will_free(will *w)
{
    if (!w) return;
    broker__msg_unref(w->m);
    free(w);
}

uint8_t broker__will_authorize(broker *b, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                               mqtt_bytes topic, uint8_t qos, bool retain)
{
    if (broker_find_hook(b, topic)) return MQTT_RC_NOT_AUTHORIZED;
    return broker_authorize_publish(b, client_id, username, who, topic, qos, retain);
}

void broker__will_publish(broker *b, will *w, session *s, session *origin, const mqtt_bytes *username,
                          const struct principal *who)
{
    mqtt_bytes id = {s->id, s->id_len};
    uint8_t rc = broker__will_authorize(b, id, username, who, w->m->topic, w->m->qos, w->m->retain);
    if (rc >= 0x80) {
        log_info("will of %.*s on %.*s not published: not authorized (0x%02x)", (int)id.len, (const char *)id.data,
                 (int)w->m->topic.len, (const char *)w->m->topic.data, rc);
        return;
    }
    /* The expiry interval counts from publication, not from CONNECT. */
    if (w->has_expiry) w->m->expiry_at = broker_now() + (uint64_t)w->expiry * 1000;
    broker_ingest(b, w->m, origin, NULL);
}
