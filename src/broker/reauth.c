/* Re-authorization of stored subscriptions and queued messages, for when
 * the authorizers' answers may have changed (an authorization policy
 * reload) and for a session resumed by a new connection.
 *
 * A subscription the authorizers now deny is removed silently: MQTT has
 * no packet to tell the client, and the connection itself stays up. A
 * queued message on a topic the session may no longer receive is dropped:
 * otherwise a revoked grant would still deliver what was queued under it
 * (an offline session collects messages until it comes back).
 *
 * An offline session is judged as the principal of the connection that
 * left it (broker__session_principal); its user name is not kept (NULL). */
#include <stdlib.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* Whose rights a session is checked against. */
typedef struct identity {
    const mqtt_bytes *username;
    const struct principal *who;
    mqtt_bytes user_tmp;
} identity;

static void identity_of(session *s, identity *id)
{
    id->username = s->c ? broker__client_username(s->c, &id->user_tmp) : NULL;
    id->who = broker__session_principal(s);
}

static bool sub_allowed(session *s, const identity *id, const sub_rec *r)
{
    mqtt_bytes full = {r->filter, r->len}, g, f = full;
    bool shared = topic_filter_split_share(full, &g, &f);
    broker_auth_request q = {.client_id = {s->id, s->id_len},
                             .username = id->username,
                             .who = id->who,
                             .action = BROKER_ACTION_SUBSCRIBE,
                             .topic = full,
                             .filter = f,
                             .share_group = shared ? g : (mqtt_bytes){NULL, 0},
                             .qos = r->opts.qos};
    return broker_authorize(s->b, &q) < 0x80;
}

static uint32_t reauth_subs(session *s, const identity *id)
{
    uint32_t removed = 0;
    /* Backwards: broker__session_sub_remove moves the last record into the hole,
     * and that one has been checked already. */
    for (uint32_t i = s->n_subs; i-- > 0;) {
        if (sub_allowed(s, id, &s->subs[i])) continue;
        uint32_t len = s->subs[i].len;
        uint8_t *f = xmemdup(s->subs[i].filter, len);
        log_info("authorization: subscription %.*s of %.*s removed (no longer allowed)", (int)len, (const char *)f,
                 (int)s->id_len, (const char *)s->id);
        broker__session_sub_remove(s, (mqtt_bytes){f, len});
        free(f);
        removed++;
    }
    return removed;
}

static bool receive_allowed(session *s, const identity *id, const delivery *d)
{
    broker_auth_request q = {.client_id = {s->id, s->id_len},
                             .username = id->username,
                             .who = id->who,
                             .action = BROKER_ACTION_RECEIVE,
                             .topic = d->m->topic,
                             .filter = d->m->topic,
                             .qos = d->qos,
                             .retain = d->retain};
    return broker_authorize(s->b, &q) < 0x80;
}

/* Drop the entries of l on topics the session may not receive. An entry
 * waiting for PUBCOMP was delivered already: only its packet id is left. */
static uint32_t drop_denied(session *s, const identity *id, dlv_list *l)
{
    uint32_t dropped = 0, index = 0;
    delivery *prev = NULL, *d = l->head;
    while (d) {
        delivery *next = d->next;
        if (d->state == DLV_PUBREL || receive_allowed(s, id, d)) {
            prev = d;
            index++;
        } else {
            broker__dlv_unlink(l, prev, d);
            broker__delivery_free(d);
            broker__psess_drop(s, l == &s->inflight, index);
            dropped++;
        }
        d = next;
    }
    return dropped;
}

/* Queued messages, and in-flight ones too unless a connection has them
 * (a resumed session's in-flight ones are resent only after this). */
static void reauth_messages(session *s, const identity *id, bool inflight_too)
{
    uint32_t dropped = drop_denied(s, id, &s->queue);
    if (inflight_too) dropped += drop_denied(s, id, &s->inflight);
    if (!dropped) return;
    log_info("authorization: %u queued message%s for %.*s dropped (topic no longer allowed)", dropped,
             dropped == 1 ? "" : "s", (int)s->id_len, (const char *)s->id);
    if (broker__session_n_waiters(s) && broker__flow_queue_low(s)) broker__flow_release(s);
}

uint32_t broker__reauth_session(client *c)
{
    session *s = c->s;
    identity id;
    identity_of(s, &id);
    uint32_t removed = reauth_subs(s, &id);
    reauth_messages(s, &id, true);
    return removed;
}

uint32_t broker_recheck_subscriptions(broker *b)
{
    uint32_t removed = 0;
    const session_table *t = &b->sessions;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (session *s = t->buckets[i]; s; s = s->table_next) {
            if (s->c && s->c->state != CLIENT_CONNECTED) continue; /* being taken over: checked on resume */
            identity id;
            identity_of(s, &id);
            removed += reauth_subs(s, &id);
            reauth_messages(s, &id, s->c == NULL);
        }
    }
    return removed;
}

const struct principal *broker_client_principal(const broker *b, mqtt_bytes client_id)
{
    session *s = broker__session_find((broker *)b, client_id);
    return s && s->c && s->c->state == CLIENT_CONNECTED ? s->c->who : NULL;
}
