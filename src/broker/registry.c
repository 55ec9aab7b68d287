/* The broker's side of the cluster-wide session registry (broker_registry.h):
 * the hooks reporting connections and held wills, and what another node's
 * verdicts do here (a takeover from another node, a dead node's will). */
#include <string.h>

#include "broker/internal.h"
#include "util/log.h"

void broker_set_registry_hooks(broker *b, const broker_registry_hooks *h)
{
    if (h) b->registry = *h;
    else memset(&b->registry, 0, sizeof b->registry);
}

void broker_set_node_tag(broker *b, uint32_t tag) { b->node_tag = tag; }

static broker_will_info will_info(const will *w)
{
    return (broker_will_info){.topic = w->m->topic,
                              .payload = w->m->payload,
                              .props = w->m->props,
                              .qos = w->m->qos,
                              .retain = w->m->retain,
                              .delay = w->delay,
                              .message_expiry = w->has_expiry ? w->expiry : 0};
}

void broker__registry_connected(client *c, bool clean_start)
{
    broker *b = c->b;
    if (!b->registry.connected || !c->s) return;
    mqtt_bytes user;
    broker_will_info wi;
    if (c->will) wi = will_info(c->will);
    b->registry.connected(b->registry.ctx, (mqtt_bytes){c->s->id, c->s->id_len}, clean_start,
                          broker__client_username(c, &user), c->who, c->will ? &wi : NULL, c->s->expiry);
}

void broker__registry_disconnected(session *s)
{
    broker *b = s->b;
    if (!b->registry.disconnected) return;
    uint64_t wait = 0;
    if (broker__session_pending_will(s)) {
        uint64_t now = broker_now();
        wait = s->rare->will_at > now ? s->rare->will_at - now : 1;
        /* The session's end publishes it too (session.c): whichever comes first. */
        if (s->expiry != UINT32_MAX && (uint64_t)s->expiry * 1000 < wait) wait = (uint64_t)s->expiry * 1000;
        if (wait == 0) wait = 1;
    }
    b->registry.disconnected(b->registry.ctx, (mqtt_bytes){s->id, s->id_len}, wait);
}

void broker__registry_will_done(session *s)
{
    broker *b = s->b;
    if (b->registry.will_done) b->registry.will_done(b->registry.ctx, (mqtt_bytes){s->id, s->id_len});
}

bool broker_session_moved(broker *b, mqtt_bytes client_id, bool clean_start, const struct principal *who)
{
    session *s = broker__session_find(b, client_id);
    if (!s) return false;
    /* Called from node-link frames, never inside a publish hook (whose
     * client must stay attached until the hook returns). */
    if (s->c && s->c == b->hook_client) return false;
    if (s->c) {
        log_info("client %.*s connected on another node: session taken over", (int)client_id.len,
                 (const char *)client_id.data);
        broker__client_takeover(s->c); /* DISCONNECT 0x8E; the will published now or held in s */
    }
    /* As attach_session (connect.c) on one node: the same principal
     * continuing the session cancels the held will (MQTT-3.1.3-9); a clean
     * start or another principal ends the session, which publishes it. */
    const struct principal *owner = broker__session_principal(s);
    bool same = !owner || b->pops->same(owner, who); /* no principal kept: nothing to tell them apart by */
    if (!clean_start && same) broker__session_set_will(s, NULL, 0);
    broker__session_end(s);
    return true;
}

uint8_t broker_publish_will(broker *b, mqtt_bytes client_id, const struct principal *who, const broker_will_info *w)
{
    uint8_t rc = broker__will_authorize(b, client_id, NULL, who, w->topic, w->qos, w->retain);
    if (rc >= 0x80) {
        log_info("will of %.*s (a client of another node) on %.*s not published: not authorized (0x%02x)",
                 (int)client_id.len, (const char *)client_id.data, (int)w->topic.len, (const char *)w->topic.data, rc);
        return rc;
    }
    msg *m = broker__msg_new(w->topic, w->payload, w->props, w->qos > 2 ? 2 : w->qos, w->retain);
    if (w->message_expiry) m->expiry_at = broker_now() + (uint64_t)w->message_expiry * 1000;
    broker_ingest(b, m, NULL, NULL);
    broker__msg_unref(m);
    return MQTT_RC_SUCCESS;
}
