/* Sessions: the table keyed by client id, subscriptions, inbound QoS 2
 * state, and the offline life cycle (expiry and delayed wills).
 *
 * Offline deadlines live in b->session_timers, keyed by the earlier of
 * expire_at and will_at, so the sweep touches only sessions that are due.
 *
 * Invariant: s->rare, once allocated, lives until the session ends; only
 * a pending will in it holds anything that must be released. */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

session *broker__session_find(broker *b, mqtt_bytes id) { return session_table_get(&b->sessions, id); }

session *broker__session_create(broker *b, mqtt_bytes id)
{
    session *s = xcalloc(1, offsetof(session, id) + id.len);
    s->b = b;
    if (id.len) memcpy(s->id, id.data, id.len);
    s->id_len = (uint16_t)id.len; /* the codec caps strings at 65535 bytes */
    s->next_pid = 1;
    heap_node_init(&s->timer.node);
    session_table_add(&b->sessions, s);
    b->stats.sessions++;
    return s;
}

session_rare *broker__session_rare_get(session *s)
{
    if (!s->rare) s->rare = xcalloc(1, sizeof *s->rare);
    return s->rare;
}

const struct principal *broker__session_principal(const session *s)
{
    if (s->c) return s->c->who;
    return s->rare ? s->rare->owner : NULL;
}

void broker__session_keep_principal(session *s, struct principal *who)
{
    if (!who && !s->rare) return;
    session_rare *r = broker__session_rare_get(s);
    s->b->pops->free(r->owner);
    r->owner = who;
}

void broker__session_set_will(session *s, will *w, uint64_t at)
{
    if (!w && !s->rare) return;
    session_rare *r = broker__session_rare_get(s);
    if (r->pending_will) broker__registry_will_done(s);
    broker__will_free(r->pending_will);
    r->pending_will = w;
    r->will_at = at;
}

/* The pending will, handed to the caller (NULL if none). */
static will *take_will(session *s)
{
    if (!s->rare) return NULL;
    will *w = s->rare->pending_will;
    s->rare->pending_will = NULL;
    if (w) broker__registry_will_done(s);
    return w;
}

static void unsubscribe_all(session *s)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        sub_rec *r = &s->subs[i];
        topic_tree_unsubscribe(s->b->tree, (mqtt_bytes){r->filter, r->len}, s);
        broker__cluster_interest(s->b, (mqtt_bytes){r->filter, r->len}, false);
        broker__share_key_unref(r->share);
        free(r->filter);
    }
    s->b->stats.subscriptions -= s->n_subs;
    free(s->subs);
    s->subs = NULL;
    s->n_subs = s->cap_subs = 0;
}

/* `graceful`: publish the pending will and hand shared messages to other
 * group members (false only when the whole broker is being freed). */
static void session_destroy(session *s, bool graceful)
{
    broker *b = s->b;
    if (graceful) broker__psess_ended(s);
    unsubscribe_all(s);
    will *w = take_will(s);
    if (w && graceful) broker__will_publish(b, w, s, NULL, NULL, broker__session_principal(s));
    broker__will_free(w);
    if (graceful) broker__deliver_reshare_all(s, true);
    broker__flow_release(s);
    assert(delivery__check(s));
    broker__dlv_clear(&s->inflight);
    broker__dlv_clear(&s->queue);
    heap_remove(&b->session_timers, &s->timer.node);
    session_table_remove(&b->sessions, s);
    b->stats.sessions--;
    if (s->rare) {
        free(s->rare->rx_qos2);
        free(s->rare->waiters);
        b->pops->free(s->rare->owner);
        free(s->rare);
    }
    free(s);
}

void broker__session_end(session *s) { session_destroy(s, true); }

void broker__session_rearm(session *s)
{
    uint64_t due = s->expire_at;
    if (broker__session_pending_will(s) && (!due || s->rare->will_at < due)) due = s->rare->will_at;
    if (due) heap_set(&s->b->session_timers, &s->timer.node, due);
    else heap_remove(&s->b->session_timers, &s->timer.node);
}

void broker__session_went_offline(session *s)
{
    if (s->expiry == 0) {
        broker__session_end(s);
        return;
    }
    s->expire_at = s->expiry == UINT32_MAX ? 0 : broker_now() + (uint64_t)s->expiry * 1000;
    broker__session_rearm(s);
    broker__psess_offline(s);
}

void broker__session_timer_fired(session *s, uint64_t now)
{
    if (s->expire_at && now >= s->expire_at) {
        broker__session_end(s);
        return;
    }
    if (broker__session_pending_will(s) && now >= s->rare->will_at) {
        will *w = take_will(s);
        broker__will_publish(s->b, w, s, s, NULL, broker__session_principal(s));
        broker__will_free(w);
    }
    broker__session_rearm(s);
}

sub_rec *broker__session_sub_find(session *s, mqtt_bytes filter)
{
    for (uint32_t i = 0; i < s->n_subs; i++)
        if (mqtt_bytes_eq((mqtt_bytes){s->subs[i].filter, s->subs[i].len}, filter)) return &s->subs[i];
    return NULL;
}

bool broker__session_sub_set(session *s, mqtt_bytes filter, const sub_options *o)
{
    bool fresh = topic_tree_subscribe(s->b->tree, filter, s, o);
    sub_rec *r = broker__session_sub_find(s, filter);
    if (!r) {
        if (s->n_subs == s->cap_subs) {
            s->cap_subs = s->cap_subs ? s->cap_subs * 2 : 4;
            s->subs = xrealloc(s->subs, s->cap_subs * sizeof *s->subs);
        }
        r = &s->subs[s->n_subs++];
        r->filter = xmemdup(filter.data, filter.len);
        r->len = filter.len;
        mqtt_bytes g, f;
        r->share = topic_filter_split_share(filter, &g, &f) ? broker__share_key_new(filter) : NULL;
        s->b->stats.subscriptions++;
        broker__cluster_interest(s->b, filter, true);
    }
    r->opts = *o;
    broker__psess_sub(s, r);
    return fresh;
}

bool broker__session_sub_remove(session *s, mqtt_bytes filter)
{
    bool existed = topic_tree_unsubscribe(s->b->tree, filter, s);
    sub_rec *r = broker__session_sub_find(s, filter);
    if (r) {
        broker__share_key_unref(r->share);
        free(r->filter);
        *r = s->subs[--s->n_subs];
        s->b->stats.subscriptions--;
        broker__cluster_interest(s->b, filter, false);
        broker__psess_unsub(s, filter);
    }
    return existed;
}

bool broker__session_rx_qos2_has(const session *s, uint16_t id)
{
    const session_rare *r = s->rare;
    for (uint32_t i = 0; r && i < r->n_rx_qos2; i++)
        if (r->rx_qos2[i] == id) return true;
    return false;
}

void broker__session_rx_qos2_add(session *s, uint16_t id)
{
    session_rare *r = broker__session_rare_get(s);
    if (r->n_rx_qos2 == r->cap_rx_qos2) {
        r->cap_rx_qos2 = r->cap_rx_qos2 ? r->cap_rx_qos2 * 2 : 4;
        r->rx_qos2 = xrealloc(r->rx_qos2, r->cap_rx_qos2 * sizeof *r->rx_qos2);
    }
    r->rx_qos2[r->n_rx_qos2++] = id;
    broker__psess_rx(s, id, true);
}

bool broker__session_rx_qos2_remove(session *s, uint16_t id)
{
    session_rare *r = s->rare;
    for (uint32_t i = 0; r && i < r->n_rx_qos2; i++) {
        if (r->rx_qos2[i] != id) continue;
        r->rx_qos2[i] = r->rx_qos2[--r->n_rx_qos2];
        broker__psess_rx(s, id, false);
        return true;
    }
    return false;
}

void broker__session_free_all(broker *b)
{
    assert(session_table__check(&b->sessions));
    /* Destroying removes the session from its bucket; the cursor stays. */
    size_t bucket = 0;
    session *s;
    while ((s = session_table_first(&b->sessions, &bucket))) session_destroy(s, false);
}
