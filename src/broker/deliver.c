/* Outbound delivery to one session: the in-flight window (the client's
 * Receive Maximum, capped by limits.max_inflight), the queue behind it,
 * packet identifiers, resending on reconnect and the subscriber's side of
 * the QoS 1/2 handshakes.
 *
 * Invariants: s->inflight holds DLV_SENT / DLV_PUBREL entries with unique
 * non-zero packet ids, in send order; s->queue holds DLV_QUEUED entries
 * (QoS 1/2 only: QoS 0 is sent at once or dropped, never queued).
 * Nothing is encoded for a client whose output backlog has reached
 * limits.max_backlog_bytes: its QoS 1/2 messages wait in the queue and
 * on_drain (broker__deliver_pump) resumes them. The queue's bounds
 * (max_queued_messages, max_queued_bytes) and what happens at them are
 * flow.c's. */
#include <assert.h>
#include <stdlib.h>

#include "broker/internal.h"
#include "broker/persist_session.h"
#include "util/log.h"

#ifndef NDEBUG
/* The invariants above, and the lists' own (dlv__check): O(n), so called
 * where the whole window is walked anyway (resume, session end). */
bool delivery__check(const session *s)
{
    if (!dlv__check(&s->inflight) || !dlv__check(&s->queue)) return false;
    uint8_t seen[65536 / 8] = {0}; /* packet ids met so far */
    for (const delivery *d = s->inflight.head; d; d = d->next) {
        if (d->state != DLV_SENT && d->state != DLV_PUBREL) return false;
        if (d->qos < 1 || d->qos > 2 || !d->packet_id || (d->state == DLV_SENT) != (d->m != NULL)) return false;
        if (seen[d->packet_id / 8] & (1u << (d->packet_id % 8))) return false;
        seen[d->packet_id / 8] |= (uint8_t)(1u << (d->packet_id % 8));
    }
    for (const delivery *d = s->queue.head; d; d = d->next)
        if (d->state != DLV_QUEUED || d->qos < 1 || d->qos > 2 || !d->m) return false;
    return true;
}
#endif

static bool backlogged(const client *c)
{
    uint32_t max = c->b->lim.max_backlog_bytes;
    return max && broker__client_backlog(c) >= max;
}

bool broker__deliver_window_open(const session *s)
{
    return s->c && s->c->state == CLIENT_CONNECTED && s->inflight.n < s->c->window && !backlogged(s->c);
}

/* Steps from packet id a forward to b on the ring 1..65535. */
static uint16_t pid_distance(uint16_t a, uint16_t b) { return (uint16_t)(((int)b - (int)a + 65535) % 65535); }

/* Ids are handed out in sequence by next_pid and the in-flight list is in
 * send order, so every in-flight id lies on the ring between the head's id
 * and the tail's. A candidate outside that arc is free without a walk; only
 * after the ring has wrapped onto the oldest entry is the list searched.
 * (Without this, a full window made every new id cost a walk of it.) */
static bool pid_in_use(const session *s, uint16_t id)
{
    const delivery *head = s->inflight.head, *tail = s->inflight.tail;
    if (!head) return false;
    if (pid_distance(head->packet_id, id) > pid_distance(head->packet_id, tail->packet_id)) return false;
    for (const delivery *d = head; d; d = d->next)
        if (d->packet_id == id) return true;
    return false;
}

/* The window is at most 65535 - 1 entries, so a free id always exists. */
static uint16_t next_pid(session *s)
{
    for (;;) {
        uint16_t id = s->next_pid++;
        if (s->next_pid == 0) s->next_pid = 1;
        if (!pid_in_use(s, id)) return id;
    }
}

/* Encode one PUBLISH into the client's output. Returns false when it does
 * not fit the client's Maximum Packet Size (MQTT-3.1.2-25: then it is
 * dropped as if sent). */
static bool send_publish(client *c, msg *m, const delivery *d, uint8_t qos, bool retain, bool dup, const uint32_t *ids,
                         uint16_t n_ids, uint64_t now)
{
    mqtt_publish p = {.topic = m->topic, .payload = m->payload, .qos = qos, .retain = retain, .dup = dup};
    p.packet_id = d ? d->packet_id : 0;
    bool known = false;
    uint16_t alias = 0;
    if (c->version == MQTT_V5) {
        p.props.extra = m->props;
        if (m->expiry_at) {
            p.props.present |= MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY);
            p.props.message_expiry = broker__msg_expiry_left(m, now);
        }
        p.props.sub_ids = ids;
        p.props.n_sub_ids = n_ids;
        alias = broker__alias_out_pick(c, m, &known);
        if (alias) {
            p.props.present |= MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS);
            p.props.topic_alias = alias;
            if (known) p.topic = (mqtt_bytes){NULL, 0};
        }
    }
    buf *out = broker__client_out(c);
    size_t mark = out->len;
    size_t n = mqtt_encode_publish(out, c->version, &p);
    if (n == 0 || (c->max_out && n > c->max_out)) {
        out->len = mark;
        if (alias && !known) broker__alias_out_forget(c, alias);
        c->b->stats.dropped_too_large++;
        return false;
    }
    broker__client_out_done(c);
    c->b->stats.msgs_out[qos]++;
    c->b->stats.payload_out[qos] += m->payload.len;
    return true;
}

static bool send_entry(client *c, delivery *d, bool dup, uint64_t now)
{
    return send_publish(c, d->m, d, d->qos, d->retain, dup, broker__delivery_sub_ids(d), d->n_sub_ids, now);
}

/* First transmission of a QoS 1/2 entry: it joins the window. `fresh`:
 * a new entry (else the queue's head). A durable session logs it first;
 * for QoS 2 the PUBLISH waits until that record is durable: resent after
 * a restart under another packet id, or after the subscriber's PUBREC,
 * it would reach the subscriber twice. */
static void send_new(session *s, delivery *d, bool fresh, uint64_t now)
{
    d->packet_id = next_pid(s);
    d->state = DLV_SENT;
    delivery *prev = s->inflight.tail;
    broker__dlv_push(&s->inflight, d);
    uint64_t seq = fresh ? broker__psess_dlv(s, d) : broker__psess_pid(s, PSESS_SENT, d->packet_id);
    if (seq && d->qos == 2) broker__client_hold_until(s->c, seq);
    if (!send_entry(s->c, d, false, now)) {
        broker__dlv_unlink(&s->inflight, prev, d);
        broker__psess_pid(s, PSESS_DONE, d->packet_id);
        broker__delivery_free(d);
    }
}

enum deliver_result broker__deliver(session *s, msg *m, uint8_t qos, bool retain, const uint32_t *sub_ids,
                                    uint16_t n_sub_ids, share_key *share)
{
    broker *b = s->b;
    uint64_t now = broker_now();
    client *c = s->c && s->c->state == CLIENT_CONNECTED ? s->c : NULL;
    if (broker__msg_expired(m, now)) {
        b->stats.dropped_expired++;
        return DELIVER_OK;
    }
    if (qos == 0) {
        /* Policy: QoS 0 is not queued for offline sessions, and is dropped
         * (and counted) for a client whose output is backlogged. */
        if (!c) return DELIVER_OK;
        if (backlogged(c)) b->stats.dropped_qos0++;
        else send_publish(c, m, NULL, 0, retain, false, sub_ids, n_sub_ids, now);
        return DELIVER_OK;
    }
    if (!c && broker__flow_queue_full(s)) {
        b->stats.dropped_queue_full++;
        return DELIVER_DROPPED;
    }
    delivery *d = broker__delivery_new(m, qos, retain, sub_ids, n_sub_ids);
    if (share) d->share = broker__share_key_ref(share);
    if (c && !s->queue.n && broker__deliver_window_open(s)) {
        send_new(s, d, true, now);
        return DELIVER_OK;
    }
    broker__dlv_push(&s->queue, d);
    broker__psess_dlv(s, d);
    if (!c || !broker__flow_queue_full(s)) return DELIVER_OK;
    broker__flow_queue_filled(s);
    return DELIVER_FULL;
}

void broker__deliver_pump(session *s)
{
    client *c = s->c;
    if (!c || c->state != CLIENT_CONNECTED) return;
    uint64_t now = broker_now();
    while (s->queue.head && broker__deliver_window_open(s)) {
        delivery *d = broker__dlv_pop(&s->queue);
        if (broker__msg_expired(d->m, now)) { /* MQTT-3.3.2-5 */
            s->b->stats.dropped_expired++;
            broker__delivery_free(d);
            broker__psess_drop(s, false, 0);
            continue;
        }
        send_new(s, d, false, now);
    }
    if (s->rare && broker__flow_queue_low(s)) broker__flow_release(s);
    if (c->self_held) broker__flow_self_check(c);
}

void broker__deliver_resume(session *s)
{
    assert(delivery__check(s));
    client *c = s->c;
    uint64_t now = broker_now();
    /* What a durable session's in-flight entries depend on may still be
     * on its way to the disk (appended for the previous connection). */
    if (s->psess && s->inflight.head) broker__client_hold_until(c, broker__persist_last(s->b));
    delivery *prev = NULL, *d = s->inflight.head;
    while (d) {
        delivery *next = d->next;
        if (d->state == DLV_PUBREL) {
            broker__client_send_ack(c, MQTT_PUBREL, d->packet_id, MQTT_RC_SUCCESS);
        } else if (!send_entry(c, d, true, now)) { /* MQTT-4.4.0-1: resend with DUP */
            broker__dlv_unlink(&s->inflight, prev, d);
            broker__psess_pid(s, PSESS_DONE, d->packet_id);
            broker__delivery_free(d);
            d = next;
            continue;
        }
        prev = d;
        d = next;
    }
    broker__deliver_pump(s);
}

static delivery *find_inflight(session *s, uint16_t id, delivery **prev)
{
    *prev = NULL;
    for (delivery *d = s->inflight.head; d; *prev = d, d = d->next)
        if (d->packet_id == id) return d;
    return NULL;
}

static void complete(session *s, delivery *prev, delivery *d)
{
    broker__dlv_unlink(&s->inflight, prev, d);
    broker__psess_pid(s, PSESS_DONE, d->packet_id);
    broker__delivery_free(d);
    broker__deliver_pump(s);
}

void broker__deliver_ack(client *c, uint8_t type, const mqtt_ack *a)
{
    session *s = c->s;
    delivery *prev, *d = find_inflight(s, a->packet_id, &prev);
    if (!d) {
        if (type == MQTT_PUBREC) broker__client_send_ack(c, MQTT_PUBREL, a->packet_id, MQTT_RC_PACKET_ID_NOT_FOUND);
        else
            log_debug("%s: %s for unknown packet id %u", net_conn_peer(c->conn),
                      type == MQTT_PUBACK ? "PUBACK" : "PUBCOMP", a->packet_id);
        return;
    }
    if (type == MQTT_PUBACK && d->qos == 1) {
        complete(s, prev, d);
    } else if (type == MQTT_PUBREC && d->qos == 2) {
        if (c->version == MQTT_V5 && a->reason >= 0x80) { /* the receiver refused it: flow ends */
            complete(s, prev, d);
            return;
        }
        /* The message itself is no longer needed once PUBREC arrived
         * (its cost leaves the list's account with it: broker__dlv_cost). */
        s->inflight.bytes -= broker__dlv_cost(d);
        broker__msg_unref(d->m);
        d->m = NULL;
        d->state = DLV_PUBREL;
        s->inflight.bytes += broker__dlv_cost(d);
        /* Durable: a PUBREL must not precede its record (after a restart
         * the PUBLISH would be resent, after the subscriber's PUBCOMP). */
        uint64_t seq = broker__psess_pid(s, PSESS_PUBREL, d->packet_id);
        if (seq) broker__client_hold_until(c, seq);
        broker__client_send_ack(c, MQTT_PUBREL, d->packet_id, MQTT_RC_SUCCESS);
    } else if (type == MQTT_PUBCOMP && d->state == DLV_PUBREL) {
        complete(s, prev, d);
    } else {
        broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Acknowledgement does not match the QoS flow");
    }
}

/* Move shared deliveries of one list to other group members. */
static void reshare_list(session *s, dlv_list *l)
{
    delivery *prev = NULL, *d = l->head;
    uint32_t index = 0;
    while (d) {
        delivery *next = d->next;
        if (d->share && d->state != DLV_PUBREL && broker__route_reshare(s->b, d, s)) {
            broker__dlv_unlink(l, prev, d);
            broker__delivery_free(d);
            broker__psess_drop(s, l == &s->inflight, index);
        } else {
            prev = d;
            index++;
        }
        d = next;
    }
}

void broker__deliver_reshare_all(session *s, bool inflight_too)
{
    reshare_list(s, &s->queue);
    if (inflight_too) reshare_list(s, &s->inflight);
}
