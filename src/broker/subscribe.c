/* SUBSCRIBE / UNSUBSCRIBE and the retained messages a subscription
 * triggers (sent after the SUBACK, per retain handling). */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"

static uint32_t filter_levels(mqtt_bytes f)
{
    uint32_t n = 1;
    for (uint32_t i = 0; i < f.len; i++) n += f.data[i] == '/';
    return n;
}

typedef struct retained_ctx {
    session *s;
    const sub_options *o;
    msg **expired;
    uint32_t n_expired, cap_expired;
} retained_ctx;

static bool retained_visit(void *ctx, mqtt_bytes topic, void *value)
{
    (void)topic;
    retained_ctx *rc = ctx;
    msg *m = value;
    if (broker__msg_expired(m, broker_now())) {
        /* Removed after the walk: the store must not change under it. */
        if (rc->n_expired == rc->cap_expired) {
            rc->cap_expired = rc->cap_expired ? rc->cap_expired * 2 : 4;
            rc->expired = xrealloc(rc->expired, rc->cap_expired * sizeof *rc->expired);
        }
        rc->expired[rc->n_expired++] = broker__msg_ref(m);
        return true;
    }
    uint8_t qos = m->qos < rc->o->qos ? m->qos : rc->o->qos;
    uint32_t id = rc->o->sub_id;
    broker__deliver(rc->s, m, qos, true, &id, id ? 1 : 0, NULL);
    return true;
}

static void send_retained(session *s, mqtt_bytes filter, const sub_options *o)
{
    broker *b = s->b;
    retained_ctx rc = {.s = s, .o = o};
    retain_store_match(b->retained, filter, retained_visit, &rc);
    for (uint32_t i = 0; i < rc.n_expired; i++) {
        msg *m = rc.expired[i];
        if (retain_store_get(b->retained, m->topic) == m) retain_store_set(b->retained, m->topic, NULL);
        broker__msg_unref(m);
    }
    free(rc.expired);
}

/* Validate and apply one entry; returns its SUBACK reason code, or -1 when
 * the whole packet is a protocol error. *fresh tells if it is new. */
static int subscribe_one(client *c, const mqtt_sub_entry *e, uint32_t sub_id, bool *fresh)
{
    mqtt_bytes g, f = e->filter;
    bool shared = topic_filter_split_share(e->filter, &g, &f);
    if (shared && e->no_local) return -1; /* MQTT-3.8.3-4 */
    if (!mqtt_filter_valid(e->filter) || filter_levels(f) > c->b->lim.max_topic_levels)
        return MQTT_RC_TOPIC_FILTER_INVALID;
    session *s = c->s;
    mqtt_bytes user;
    broker_auth_request r = {.client_id = {s->id, s->id_len},
                             .username = broker__client_username(c, &user),
                             .who = c->who,
                             .action = BROKER_ACTION_SUBSCRIBE,
                             .topic = e->filter,
                             .filter = f,
                             .share_group = shared ? g : (mqtt_bytes){NULL, 0},
                             .qos = e->qos};
    uint8_t rc = broker_authorize(c->b, &r);
    if (rc >= 0x80) return rc;
    sub_options o = {.qos = e->qos,
                     .no_local = e->no_local,
                     .retain_as_published = e->retain_as_published,
                     .retain_handling = e->retain_handling,
                     .sub_id = sub_id};
    *fresh = broker__session_sub_set(c->s, e->filter, &o);
    return e->qos;
}

void broker__subscribe_handle(client *c, mqtt_subscribe *p)
{
    uint32_t sub_id = p->props.present & MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID) ? p->props.sub_id : 0;
    uint8_t *rcs = xmalloc(p->count ? p->count : 1);
    bool *fresh = xcalloc(p->count ? p->count : 1, sizeof *fresh);
    for (uint32_t i = 0; i < p->count; i++) {
        int rc = subscribe_one(c, &p->entries[i], sub_id, &fresh[i]);
        if (rc < 0) {
            broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "No Local on a shared subscription");
            goto out;
        }
        rcs[i] = (uint8_t)rc;
    }
    mqtt_packet r = {.type = MQTT_SUBACK};
    r.suback.packet_id = p->packet_id;
    r.suback.count = p->count;
    r.suback.reasons = rcs;
    broker__client_send(c, &r);
    /* MQTT-3.3.1-9..11 and 3.8.4-4: retained messages after the SUBACK,
     * never for shared subscriptions. */
    for (uint32_t i = 0; i < p->count; i++) {
        const mqtt_sub_entry *e = &p->entries[i];
        mqtt_bytes g, f;
        if (rcs[i] >= 0x80 || topic_filter_split_share(e->filter, &g, &f)) continue;
        if (e->retain_handling == 2 || (e->retain_handling == 1 && !fresh[i])) continue;
        sub_rec *rec = broker__session_sub_find(c->s, e->filter);
        if (rec) send_retained(c->s, e->filter, &rec->opts);
    }
out:
    free(rcs);
    free(fresh);
}

void broker__unsubscribe_handle(client *c, mqtt_unsubscribe *p)
{
    uint8_t *rcs = xmalloc(p->count ? p->count : 1);
    for (uint32_t i = 0; i < p->count; i++) {
        mqtt_bytes f = p->filters[i];
        if (!mqtt_filter_valid(f)) rcs[i] = MQTT_RC_TOPIC_FILTER_INVALID;
        else rcs[i] = broker__session_sub_remove(c->s, f) ? MQTT_RC_SUCCESS : MQTT_RC_NO_SUBSCRIPTION_EXISTED;
    }
    mqtt_packet r = {.type = MQTT_UNSUBACK};
    r.suback.packet_id = p->packet_id;
    r.suback.count = p->count;
    r.suback.reasons = rcs;
    broker__client_send(c, &r);
    free(rcs);
}
