/* Re-authorization of stored subscriptions, for when the authorizers'
 * answers may have changed (an authorization policy reload) and for a
 * session resumed by a new connection, whose principal may differ from
 * the one that subscribed.
 *
 * A subscription the authorizers now deny is removed silently: MQTT has
 * no packet to tell the client, and the connection itself stays up. */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

static bool sub_allowed(client *c, const sub_rec *r)
{
    session *s = c->s;
    mqtt_bytes full = {r->filter, r->len}, g, f = full;
    bool shared = topic_filter_split_share(full, &g, &f);
    mqtt_bytes user;
    broker_auth_request q = {.client_id = {s->id, s->id_len}, .username = client_username(c, &user),
                             .who = c->who, .action = BROKER_ACTION_SUBSCRIBE, .topic = full, .filter = f,
                             .share_group = shared ? g : (mqtt_bytes){NULL, 0}, .qos = r->opts.qos};
    return broker_authorize(c->b, &q) < 0x80;
}

uint32_t reauth_session(client *c)
{
    session *s = c->s;
    uint32_t removed = 0;
    /* Backwards: session_sub_remove moves the last record into the hole,
     * and that one has been checked already. */
    for (uint32_t i = s->n_subs; i-- > 0;) {
        if (sub_allowed(c, &s->subs[i])) continue;
        uint32_t len = s->subs[i].len;
        uint8_t *f = xmemdup(s->subs[i].filter, len);
        log_info("authorization: subscription %.*s of %.*s removed (no longer allowed)", (int)len,
                 (const char *)f, (int)s->id_len, (const char *)s->id);
        session_sub_remove(s, (mqtt_bytes){f, len});
        free(f);
        removed++;
    }
    return removed;
}

uint32_t broker_recheck_subscriptions(broker *b)
{
    uint32_t removed = 0;
    for (client *c = b->clients; c; c = c->next)
        if (c->state == CLIENT_CONNECTED && c->s) removed += reauth_session(c);
    return removed;
}

const struct principal *broker_client_principal(const broker *b, mqtt_bytes client_id)
{
    session *s = session_find((broker *)b, client_id);
    return s && s->c && s->c->state == CLIENT_CONNECTED ? s->c->who : NULL;
}
