/* The broker's side of cross-node routing (broker_cluster.h): the hooks,
 * the forward of locally sourced messages and the entry point of
 * messages forwarded by other nodes. */
#include <string.h>

#include "broker/internal.h"

static void report_subs(broker *b)
{
    const session_table *t = &b->sessions;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (const session *s = t->buckets[i]; s; s = s->table_next)
            for (uint32_t k = 0; k < s->n_subs; k++)
                broker__cluster_interest(b, (mqtt_bytes){s->subs[k].filter, s->subs[k].len}, true);
}

void broker_set_cluster(broker *b, const broker_cluster_hooks *h)
{
    memset(&b->cluster, 0, sizeof b->cluster);
    if (!h) return;
    b->cluster = *h;
    report_subs(b);
}

uint32_t broker__cluster_forward(broker *b, const msg *m, client *publisher)
{
    if (!b->cluster.forward) return 0;
    uint32_t expiry_ms = 0;
    bool local = b->no_forward;
    if (m->expiry_at) {
        uint64_t now = broker_now();
        uint64_t left = m->expiry_at > now ? m->expiry_at - now : 0;
        local |= left == 0; /* expired: delivered to no one */
        expiry_ms = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
    }
    broker_cluster_msg cm = {m->topic, m->payload, m->props, m->qos, m->retain, expiry_ms, {NULL, 0}, 0};
    if (local) { /* still told: the local route that follows serves every shared group */
        b->cluster.forward(b->cluster.ctx, NULL);
        return 0;
    }
    if (publisher && publisher->s) cm.client_id = (mqtt_bytes){publisher->s->id, publisher->s->id_len};
    uint32_t n = b->cluster.forward(b->cluster.ctx, &cm);
    if (cm.promise && publisher) broker__client_hold(publisher, HOLD_REMOTE, cm.promise);
    return n;
}

void broker_cluster_kept(broker *b, uint64_t seq) { broker__hold_kept(b, HOLD_REMOTE, seq); }

uint32_t broker_cluster_route_remote(broker *b, const broker_cluster_msg *cm, bool *backlogged)
{
    msg *m = broker__msg_new(cm->topic, cm->payload, cm->props, cm->qos > 2 ? 2 : cm->qos, cm->retain);
    if (cm->expiry_ms) m->expiry_at = broker_now() + cm->expiry_ms;
    b->stats.msgs_in[m->qos]++;
    b->stats.payload_in[m->qos] += m->payload.len;
    route_result r = broker__route_message(b, m, NULL, NULL);
    broker__msg_unref(m);
    *backlogged = r.full > 0;
    return r.receivers;
}
