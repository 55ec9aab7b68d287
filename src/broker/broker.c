/* The broker object: limits, the sweep timer, shutdown, statistics and
 * the hooks for in-process services. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

/* Keep-alive, connect timeouts, will delays and session expiry are all
 * deadlines in two heaps; one repeating timer pops what is due. */
#define SWEEP_MS 250

#define CONTAINER(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

void broker_limits_default(broker_limits *l)
{
    /* memset first: the configuration code compares and copies whole
     * structs, padding included. Keep in step with docs/configuration.md. */
    memset(l, 0, sizeof *l);
    l->max_packet_size = 16 * 1024 * 1024;
    l->receive_max = 1024;
    l->max_inflight = 1024;
    l->max_queued = 10000;
    l->max_queued_bytes = 16 * 1024 * 1024;
    l->slow_subscriber_timeout = 10;
    l->max_topic_levels = 64;
    l->max_connections = 0;
    l->keepalive_min = 0;
    l->keepalive_max = 65535;
    l->topic_alias_max = 64;
    l->max_session_expiry = UINT32_MAX;
    l->max_backlog_bytes = 1024 * 1024;
    l->connect_timeout = 10;
    l->max_connect_size = 64 * 1024;
    l->close_timeout = 5;
    l->max_pending_per_address = 64;
}

uint64_t broker_now(void) { return clock_now_ms(); }

static void sweep(uv_timer_t *t)
{
    broker *b = t->data;
    uint64_t now = broker_now();
    heap_node *n;
    while ((n = heap_peek(&b->client_timers)) && heap_node_key(&b->client_timers, n) <= now)
        broker__client_timer_fired(CONTAINER(n, client, timer.node), now);
    while ((n = heap_peek(&b->session_timers)) && heap_node_key(&b->session_timers, n) <= now)
        broker__session_timer_fired(CONTAINER(n, session, timer.node), now);
    broker__flow_sweep(b, now);
}

broker *broker_new(uv_loop_t *loop, const broker_limits *limits, const broker_principal_ops *principals)
{
    assert(principals && principals->make_anonymous && principals->free && principals->same);
    broker *b = xcalloc(1, sizeof *b);
    b->loop = loop;
    b->pops = principals;
    b->lim = *limits;
    if (!b->lim.receive_max) b->lim.receive_max = 65535; /* 0 is not a valid Receive Maximum */
    b->tree = topic_tree_new();
    b->retained = retain_store_new(broker__msg_release);
    session_table_init(&b->sessions);
    heap_init(&b->client_timers, HEAP_TIMER_KEY_OFFSET);
    heap_init(&b->session_timers, HEAP_TIMER_KEY_OFFSET);
    heap_init(&b->slow_timers, HEAP_TIMER_KEY_OFFSET);
    b->authn_waiting = hashmap_new();
    uv_timer_init(loop, &b->sweep);
    uv_timer_init(loop, &b->resume_timer);
    b->sweep.data = b->resume_timer.data = b;
    uv_timer_start(&b->sweep, sweep, SWEEP_MS, SWEEP_MS);
    return b;
}

void broker_set_limits(broker *b, const broker_limits *limits)
{
    b->lim = *limits;
    if (!b->lim.receive_max) b->lim.receive_max = 65535;
}

void broker_shutdown(broker *b)
{
    if (b->shutting_down) return;
    b->shutting_down = true;
    uv_timer_stop(&b->sweep);
    uv_timer_stop(&b->resume_timer);
    uv_close((uv_handle_t *)&b->sweep, NULL);
    uv_close((uv_handle_t *)&b->resume_timer, NULL);
    for (client *c = b->clients; c; c = c->next) {
        if (c->state == CLIENT_CONNECTED)
            broker__client_disconnect(c, MQTT_RC_SERVER_SHUTTING_DOWN, "Server shutting down");
        else if (c->state == CLIENT_NEW) broker__client_close(c, false);
    }
}

void broker_free(broker *b)
{
    if (!b) return;
    if (b->clients) log_warn("broker_free: connections still open (loop not run after shutdown?)");
    broker__session_free_all(b);
    session_table_free(&b->sessions);
    hashmap_free(b->authn_waiting, NULL); /* empty: entries go with their clients */
    retain_store_free(b->retained);
    broker__persist_free(b);
    broker__hold_free(b);
    topic_tree_free(b->tree);
    heap_free(&b->client_timers);
    heap_free(&b->session_timers);
    heap_free(&b->slow_timers);
    broker__route_free(b);
    broker__psess_free(b);
    for (uint32_t i = 0; i < b->n_hooks; i++) free(b->hooks[i].topic);
    free(b->hooks);
    free(b->authz);
    free(b);
    broker__delivery_pool_drain();
    broker__msg_pool_drain();
}

void broker_get_stats(const broker *b, broker_stats *out)
{
    *out = b->stats;
    out->retained = retain_store_count(b->retained);
}

void broker_get_queue_stats(const broker *b, broker_queue_stats *out)
{
    *out = (broker_queue_stats){0};
    const session_table *t = &b->sessions;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (const session *s = t->buckets[i]; s; s = s->table_next) {
            out->queued += s->queue.n;
            out->inflight += s->inflight.n;
            out->bytes += (uint64_t)s->queue.bytes + s->inflight.bytes;
            out->sessions_online += s->c != NULL;
        }
    }
}

route_result broker_ingest(broker *b, msg *m, session *origin, client *publisher)
{
    if (m->retain && broker__persist_retained_replicated(b, m->topic)) {
        broker__retain_persist(b, m); /* cluster mode: changed on every node when committed */
    } else if (m->retain) {
        /* MQTT-3.3.1-6/-10: an empty payload clears; it is still routed. */
        bool had = !m->payload.len && b->persist && retain_store_get(b->retained, m->topic);
        if (m->payload.len) retain_store_set(b->retained, m->topic, broker__msg_ref(m));
        else retain_store_set(b->retained, m->topic, NULL);
        if (m->payload.len || had) broker__retain_persist(b, m); /* clearing nothing changes nothing */
    }
    uint32_t nodes = broker__cluster_forward(b, m, publisher); /* before local delivery: see cluster_route.c */
    route_result r = broker__route_message(b, m, origin, publisher);
    r.receivers += nodes;
    return r;
}

/* --- hooks --------------------------------------------------------------- */

const pub_hook *broker_find_hook(const broker *b, mqtt_bytes topic)
{
    for (uint32_t i = 0; i < b->n_hooks; i++)
        if (mqtt_bytes_eq((mqtt_bytes){b->hooks[i].topic, b->hooks[i].len}, topic)) return &b->hooks[i];
    return NULL;
}

void broker_set_publish_hook(broker *b, mqtt_bytes topic, broker_publish_hook fn, void *ctx)
{
    pub_hook *h = (pub_hook *)broker_find_hook(b, topic);
    if (h && !fn) {
        free(h->topic);
        *h = b->hooks[--b->n_hooks];
        return;
    }
    if (!fn) return;
    if (!h) {
        b->hooks = xrealloc(b->hooks, (b->n_hooks + 1) * sizeof *b->hooks);
        h = &b->hooks[b->n_hooks++];
        h->topic = xmemdup(topic.data, topic.len);
        h->len = topic.len;
    }
    h->fn = fn;
    h->ctx = ctx;
}

void broker_set_disconnect_hook(broker *b, broker_disconnect_hook fn, void *ctx)
{
    b->on_disconnect = fn;
    b->on_disconnect_ctx = ctx;
}

void broker_set_authenticator(broker *b, broker_authenticate_fn fn, void *ctx)
{
    b->authn = fn;
    b->authn_ctx = ctx;
}

uv_loop_t *broker_loop(const broker *b) { return b->loop; }

void broker_add_authorizer(broker *b, broker_authorize_fn fn, void *ctx)
{
    b->authz = xrealloc(b->authz, (b->n_authz + 1) * sizeof *b->authz);
    b->authz[b->n_authz++] = (authorizer){fn, ctx};
}

void broker_remove_authorizer(broker *b, broker_authorize_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < b->n_authz; i++) {
        if (b->authz[i].fn != fn || b->authz[i].ctx != ctx) continue;
        /* keep the order: it decides whose denial code is reported */
        memmove(&b->authz[i], &b->authz[i + 1], (b->n_authz - i - 1) * sizeof *b->authz);
        b->n_authz--;
        return;
    }
}

uint8_t broker_authorize(const broker *b, const broker_auth_request *r)
{
    for (uint32_t i = 0; i < b->n_authz; i++) {
        uint8_t rc = b->authz[i].fn(b->authz[i].ctx, r);
        if (rc >= 0x80) return rc;
    }
    return MQTT_RC_SUCCESS;
}

uint8_t broker_authorize_publish(broker *b, mqtt_bytes client_id, const mqtt_bytes *username,
                                 const struct principal *who, mqtt_bytes topic, uint8_t qos, bool retain)
{
    broker_auth_request r = {.client_id = client_id,
                             .username = username,
                             .who = who,
                             .action = BROKER_ACTION_PUBLISH,
                             .topic = topic,
                             .filter = topic,
                             .qos = qos,
                             .retain = retain};
    return broker_authorize(b, &r);
}

uint8_t broker_authorize_response(broker *b, mqtt_bytes client_id, const mqtt_bytes *username,
                                  const struct principal *who, mqtt_bytes response_topic)
{
    if (response_topic.len && response_topic.data[0] == '$') return MQTT_RC_NOT_AUTHORIZED;
    return broker_authorize_publish(b, client_id, username, who, response_topic, 1, false);
}

bool broker_disconnect_client(broker *b, mqtt_bytes client_id, uint8_t reason_code, const char *reason_string)
{
    session *s = broker__session_find(b, client_id);
    if (!s || !s->c || s->c->state != CLIENT_CONNECTED) return false;
    if (s->c == b->hook_client) { /* run_hook (publish.c) disconnects it when the hook returns */
        if (!b->hook_kick) {
            b->hook_kick = true;
            b->hook_kick_rc = reason_code;
            b->hook_kick_reason = reason_string ? xstrdup(reason_string) : NULL;
        }
        return true;
    }
    broker__client_disconnect(s->c, reason_code, reason_string);
    return true;
}

static msg *msg_from_message(const broker_message *bm)
{
    uint8_t qos = bm->qos > 2 ? 2 : bm->qos;
    msg *m = broker__msg_new(bm->topic, bm->payload, bm->props, qos, bm->retain);
    if (bm->message_expiry) m->expiry_at = broker_now() + (uint64_t)bm->message_expiry * 1000;
    return m;
}

void broker_publish(broker *b, const broker_message *bm)
{
    msg *m = msg_from_message(bm);
    bool was = b->no_forward;
    b->no_forward = true; /* a service's message stays on this node (broker_cluster.h) */
    broker_ingest(b, m, NULL, b->hook_client);
    b->no_forward = was;
    broker__msg_unref(m);
}

bool broker_deliver_to(broker *b, mqtt_bytes client_id, const broker_message *bm)
{
    session *s = broker__session_find(b, client_id);
    if (!s) return false;
    client *c = s->c && s->c->state == CLIENT_CONNECTED ? s->c : NULL;
    if (c && bm->qos && (c->quota_cut || broker__flow_queue_full(s))) { /* the policy in broker.h */
        b->stats.dropped_queue_full++;
        if (!c->quota_cut)
            log_info("%.*s: queue full (%u messages, %u bytes) for a direct delivery: disconnecting", (int)s->id_len,
                     (const char *)s->id, s->queue.n, s->queue.bytes);
        broker__flow_cut_later(c);
        return true;
    }
    msg *m = msg_from_message(bm);
    broker__deliver(s, m, m->qos, bm->retain, NULL, 0, NULL);
    broker__msg_unref(m);
    return true;
}
