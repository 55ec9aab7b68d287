/* One network connection: framing, dispatch, timers and the ways a
 * connection ends.
 *
 * Input: the net layer's read slice is loop-wide, so packets are decoded
 * in place and only an incomplete tail (or, while the client is paused by
 * backpressure, the unprocessed rest) is copied into c->rx.
 *
 * Life cycle: NEW -> CONNECTED -> CLOSED. broker__client_detach() is the single
 * place that unhooks a client from its session and the broker; the struct
 * itself is freed in on_close, which the net layer delivers exactly once
 * and never re-entrantly. */
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

static mqtt_props *packet_props(mqtt_packet *p)
{
    switch (p->type) {
    case MQTT_CONNACK: return &p->connack.props;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: return &p->ack.props;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return &p->suback.props;
    case MQTT_DISCONNECT:
    case MQTT_AUTH: return &p->disconnect.props;
    default: return NULL;
    }
}

bool broker__client_send(client *c, const mqtt_packet *p)
{
    buf *out = broker__client_out(c);
    size_t mark = out->len;
    mqtt_encode(out, c->version, p);
    if (c->max_out && out->len - mark > c->max_out) {
        /* MQTT-3.1.2-25: drop reason string and user properties first. */
        out->len = mark;
        mqtt_packet q = *p;
        mqtt_props *pr = packet_props(&q);
        if (!pr) return false;
        pr->present &= ~MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
        pr->extra = (mqtt_bytes){NULL, 0};
        mqtt_encode(out, c->version, &q);
        if (out->len - mark > c->max_out) {
            out->len = mark;
            return false;
        }
    }
    broker__client_out_done(c);
    return true;
}

void broker__client_send_ack(client *c, uint8_t type, uint16_t id, uint8_t reason)
{
    mqtt_packet p = {.type = type};
    p.ack.packet_id = id;
    p.ack.reason = reason;
    broker__client_send(c, &p);
}

/* "5", "3.1.1", "3.1": the protocol of c's CONNECT. */
const char *broker__client_protocol(const client *c)
{
    return c->version == MQTT_V5 ? "5" : c->version == MQTT_V311 ? "3.1.1" : "3.1";
}

/* Does c's end get a line? (Callers format the reason only then.) */
static bool end_logged(const client *c) { return c->state == CLIENT_CONNECTED && c->s && log_get_level() >= LOG_INFO; }

/* The info line of a connected client's end (docs/logging.md), written
 * once: every path that ends a connected client goes through one of the
 * callers before detach() marks it closed. */
static void log_end(const client *c, const char *why)
{
    if (!end_logged(c)) return;
    log_info("%s: client %.*s disconnected (user %s%.*s%s, MQTT %s, keep alive %u s): %s", net_conn_peer(c->conn),
             (int)c->s->id_len, (const char *)c->s->id, c->user ? "\"" : "", c->user ? (int)c->user->len : 6,
             c->user ? (const char *)c->user->data : "(none)", c->user ? "\"" : "", broker__client_protocol(c),
             c->ka_ms / 1500, why);
}

static void detach_session(client *c, bool will, bool takeover)
{
    broker *b = c->b;
    session *s = c->s;
    if (b->on_disconnect) b->on_disconnect(b->on_disconnect_ctx, (mqtt_bytes){s->id, s->id_len});
    s->c = NULL;
    c->s = NULL;
    broker__flow_release(s);
    if (will && c->will) {
        if (c->will->delay == 0 || s->expiry == 0) {
            mqtt_bytes user;
            broker__will_publish(b, c->will, s, s, broker__client_username(c, &user), c->who);
        } else {
            /* MQTT-3.1.3-9: held back until the delay passes or the
             * session ends; a reconnect to the session cancels it. */
            broker__session_set_will(s, c->will, broker_now() + (uint64_t)c->will->delay * 1000);
            c->will = NULL;
        }
    }
    /* Whose the session is, for whoever comes next (connect.c) and for
     * its delayed will and queued messages meanwhile. */
    broker__session_keep_principal(s, c->who);
    c->who = NULL;
    /* Told before the session may end (went_offline). */
    broker__registry_disconnected(s);
    if (takeover) return; /* the new connection continues or ends it */
    broker__deliver_reshare_all(s, true);
    broker__session_went_offline(s);
}

static void detach(client *c, bool will, bool takeover)
{
    broker *b = c->b;
    if (c->state == CLIENT_CLOSED) return;
    bool was_connected = c->state == CLIENT_CONNECTED;
    c->state = CLIENT_CLOSED;
    heap_remove(&b->client_timers, &c->timer.node);
    broker__flow_client_gone(c);
    if (was_connected) {
        b->n_connected--;
        b->stats.clients--;
    }
    if (b->shutting_down) will = false;
    broker__authenticate_forget(c); /* a decision arriving later finds nobody */
    broker__persist_client_gone(c);
    if (c->s) detach_session(c, will, takeover);
    broker__will_free(c->will);
    c->will = NULL;
    broker__alias_free(c);
}

void broker__client_detach(client *c, bool will) { detach(c, will, false); }

/* After its own log_end: the close a caller explains. */
static void close_logged(client *c, bool will)
{
    detach(c, will, false);
    net_conn_close(c->conn);
}

void broker__client_close(client *c, bool will)
{
    log_end(c, "closed by the server");
    close_logged(c, will);
}

void broker__client_takeover(client *old)
{
    broker__persist_client_gone(old); /* the DISCONNECT goes now; held acks promised what is not durable */
    log_end(old, "session taken over by a new connection (reason 0x8e)");
    if (old->version == MQTT_V5) {
        mqtt_packet p = {.type = MQTT_DISCONNECT};
        p.disconnect.reason = MQTT_RC_SESSION_TAKEN_OVER;
        broker__client_send(old, &p);
    }
    detach(old, true, true);
    net_conn_close(old->conn);
}

void broker__client_disconnect(client *c, uint8_t rc, const char *reason)
{
    broker__persist_client_gone(c); /* the DISCONNECT goes now; held acks promised what is not durable */
    if (c->state == CLIENT_CONNECTED && c->version == MQTT_V5) {
        mqtt_packet p = {.type = MQTT_DISCONNECT};
        p.disconnect.reason = rc;
        if (reason && c->problem_info) {
            p.disconnect.props.present |= MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
            p.disconnect.props.reason_string = (mqtt_bytes){(const uint8_t *)reason, (uint32_t)strlen(reason)};
        }
        broker__client_send(c, &p);
    }
    if (end_logged(c)) {
        char why[160];
        snprintf(why, sizeof why, "disconnected by the server, reason 0x%02x %s", rc, reason ? reason : "");
        log_end(c, why);
    }
    log_debug("disconnecting %s: reason 0x%02x %s", net_conn_peer(c->conn), rc, reason ? reason : "");
    close_logged(c, rc != MQTT_RC_SUCCESS);
}

/* --- identity -------------------------------------------------------------- */

const mqtt_bytes *broker__client_username(const client *c, mqtt_bytes *tmp)
{
    if (!c->user) return NULL;
    *tmp = (mqtt_bytes){c->user->data, c->user->len};
    return tmp;
}

/* The principal an anonymous connection stands for (broker.h): what the
 * authenticator would have made for it, so that rules see no difference. */
struct principal *broker__client_anonymous_principal(const client *c, mqtt_bytes id)
{
    mqtt_bytes tmp;
    return c->b->pops->make_anonymous(id, broker__client_username(c, &tmp));
}

void broker__client_ensure_principal(client *c, mqtt_bytes id)
{
    if (c->who || !c->b->need_principals) return;
    c->who = broker__client_anonymous_principal(c, id);
}

void broker_require_principals(broker *b, bool on)
{
    b->need_principals = on;
    if (!on) return; /* principals already made stay: harmless, freed with their connections */
    for (client *c = b->clients; c; c = c->next)
        if (c->state == CLIENT_CONNECTED && c->s)
            broker__client_ensure_principal(c, (mqtt_bytes){c->s->id, c->s->id_len});
}

/* --- timers ---------------------------------------------------------------- */

static uint64_t client_deadline(const client *c)
{
    if (c->state == CLIENT_NEW && c->refuse_at) return c->refuse_at;
    if (c->state == CLIENT_NEW) return c->last_rx + (uint64_t)c->b->lim.connect_timeout * 1000;
    if (c->state == CLIENT_CONNECTED && c->ka_ms) return c->last_rx + c->ka_ms;
    return 0;
}

void broker__client_touch_timer(client *c)
{
    uint64_t due = client_deadline(c);
    if (due) heap_set(&c->b->client_timers, &c->timer.node, due);
    else heap_remove(&c->b->client_timers, &c->timer.node);
}

void broker__client_timer_fired(client *c, uint64_t now)
{
    /* Not reading a publisher paused on others' queues is our doing, not
     * the client's; a client held on its own output is its own doing. */
    if (c->paused && c->flow && c->flow->n_blocked) c->last_rx = now;
    uint64_t due = client_deadline(c);
    if (!due || due > now) {
        broker__client_touch_timer(c);
        return;
    }
    if (c->state == CLIENT_NEW && c->refuse_at) {
        mqtt_packet r = {.type = MQTT_CONNACK};
        r.connack.reason = c->refuse_rc; /* the encoder maps it for v3.1.1 */
        broker__count_refusal(c->b, c->refuse_rc);
        broker__client_send(c, &r);
        broker__client_close(c, false);
        return;
    }
    if (c->state == CLIENT_NEW) {
        log_debug("%s: no CONNECT in time", net_conn_peer(c->conn));
        broker__client_close(c, false);
        return;
    }
    broker__client_disconnect(c, MQTT_RC_KEEP_ALIVE_TIMEOUT, "Keep alive timeout");
}

/* --- input ----------------------------------------------------------------- */

static void disconnect_handle(client *c, const mqtt_disconnect *d)
{
    bool will = false;
    if (c->version == MQTT_V5) {
        if (d->props.present & MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY)) {
            if (c->session_zero && d->props.session_expiry) {
                broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Session expiry was 0 in CONNECT");
                return;
            }
            uint32_t e = d->props.session_expiry, max = c->b->lim.max_session_expiry;
            c->s->expiry = e < max ? e : max;
        }
        will = d->reason == MQTT_RC_DISCONNECT_WITH_WILL;
    }
    if (end_logged(c)) {
        char why[64];
        snprintf(why, sizeof why, "client sent DISCONNECT, reason 0x%02x", c->version == MQTT_V5 ? d->reason : 0);
        log_end(c, why);
    }
    close_logged(c, will);
}

void broker__client_dispatch(client *c, mqtt_packet *p)
{
    switch (p->type) {
    case MQTT_CONNECT: broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Second CONNECT"); break;
    case MQTT_PUBLISH: broker__publish_handle(c, &p->publish); break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBCOMP: broker__deliver_ack(c, p->type, &p->ack); break;
    case MQTT_PUBREL: broker__pubrel_handle(c, &p->ack); break;
    case MQTT_SUBSCRIBE: broker__subscribe_handle(c, &p->subscribe); break;
    case MQTT_UNSUBSCRIBE: broker__unsubscribe_handle(c, &p->unsubscribe); break;
    case MQTT_PINGREQ: {
        mqtt_packet r = {.type = MQTT_PINGRESP};
        broker__client_send(c, &r);
        break;
    }
    case MQTT_DISCONNECT: disconnect_handle(c, &p->disconnect); break;
    case MQTT_AUTH: broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "No authentication in progress"); break;
    default: broker__client_disconnect(c, MQTT_RC_PROTOCOL_ERROR, "Unexpected packet type"); break;
    }
}

/* A CONNECT that failed to decode: answer in the client's protocol when
 * the spec asks for it (unsupported version), else just close. */
static void connect_decode_failed(client *c, int rc, const mqtt_packet *p)
{
    if (rc == MQTT_RC_UNSUPPORTED_VERSION) {
        uint8_t v = p->connect.version;
        mqtt_packet r = {.type = MQTT_CONNACK};
        r.connack.reason = MQTT_RC_UNSUPPORTED_VERSION;
        c->version = v >= MQTT_V5 ? MQTT_V5 : MQTT_V311;
        broker__client_send(c, &r);
    }
    broker__client_close(c, false);
}

/* The protocol level of a CONNECT whose body may not all be here: after
 * the fixed header come the protocol name (two length bytes, "MQTT") and
 * the level. 0 when those bytes have not arrived. */
static uint8_t connect_level_peek(const uint8_t *d, size_t len)
{
    size_t i = 1;
    while (i < len && i < 4 && (d[i] & 0x80)) i++; /* remaining length: at most 4 bytes */
    i++;
    if (i + 2 > len) return 0;
    i += 2 + ((size_t)d[i] << 8 | d[i + 1]);
    return i < len ? d[i] : 0;
}

/* A CONNECT above max_connect_size, refused before its body is read:
 * an unauthenticated client must not make us buffer a packet of
 * max_packet_size (v5: CONNACK 0x95; older versions have no such code). */
static void connect_too_large(client *c, const uint8_t *data, size_t len)
{
    log_info("%s: CONNECT larger than max_connect_size (%u bytes), closing", net_conn_peer(c->conn),
             c->b->lim.max_connect_size);
    if (connect_level_peek(data, len) == MQTT_V5) {
        mqtt_packet r = {.type = MQTT_CONNACK};
        r.connack.reason = MQTT_RC_PACKET_TOO_LARGE;
        c->version = MQTT_V5;
        broker__client_send(c, &r);
    }
    broker__client_close(c, false);
}

/* The Reason String (and log text) for each code the codec refuses a
 * packet with after CONNECT: it names the code sent, not always 0x82's. */
static const char *decode_failed_reason(int rc)
{
    switch (rc) {
    case MQTT_RC_MALFORMED: return "Malformed packet";
    case MQTT_RC_TOPIC_FILTER_INVALID: return "Topic filter invalid";
    case MQTT_RC_TOPIC_NAME_INVALID: return "Topic name invalid";
    case MQTT_RC_TOPIC_ALIAS_INVALID: return "Topic alias invalid";
    default: return "Protocol error";
    }
}

static void decode_failed(client *c, int rc, const mqtt_packet *p)
{
    if (c->state == CLIENT_NEW) {
        connect_decode_failed(c, rc, p);
        return;
    }
    broker__client_disconnect(c, (uint8_t)rc, decode_failed_reason(rc));
}

/* What a held client may still send (flow.c: self backpressure): the
 * acknowledgements that drain its queue, and PINGREQ. Those that are
 * answered (PUBREC with PUBREL, PINGREQ with PINGRESP) only while its
 * backlog is under the bound, or a client that reads nothing could grow
 * the backlog by flooding them. */
static bool skimmable(const client *c, uint8_t first_byte)
{
    uint8_t t = first_byte >> 4;
    if (t == MQTT_PUBACK || t == MQTT_PUBCOMP) return true;
    if (t != MQTT_PUBREC && t != MQTT_PINGREQ) return false;
    uint32_t max = c->b->lim.max_backlog_bytes;
    return !max || broker__client_backlog(c) < max;
}

/* Handle complete packets in data[0..len); returns the bytes consumed.
 * Stops early when the client closes, gets paused or held, or its CONNECT
 * waits for authentication. */
static size_t process(client *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && c->state != CLIENT_CLOSED && !c->paused && !c->refuse_at && !c->authn_wait) {
        size_t total = 0;
        const broker_limits *lim = &c->b->lim;
        uint32_t max = lim->max_packet_size;
        if (c->state == CLIENT_NEW && lim->max_connect_size < max) max = lim->max_connect_size;
        enum mqtt_frame_status st = mqtt_frame(data + off, len - off, max, &total);
        if (st == MQTT_FRAME_NEED_MORE) break;
        if (c->state == CLIENT_NEW && data[off] == 0x16) {
            /* A TLS handshake record: says so once, for the operator. */
            log_info("%s: TLS handshake on a plain-text listener, closing", net_conn_peer(c->conn));
            broker__client_close(c, false);
            break;
        }
        if (c->state == CLIENT_NEW && data[off] >> 4 != MQTT_CONNECT) {
            broker__client_close(c, false); /* MQTT-3.1.0-1 */
            break;
        }
        if (st == MQTT_FRAME_MALFORMED) {
            decode_failed(c, MQTT_RC_MALFORMED, NULL);
            break;
        }
        if (st == MQTT_FRAME_TOO_LARGE && c->state == CLIENT_NEW) {
            connect_too_large(c, data + off, len - off);
            break;
        }
        if (st == MQTT_FRAME_TOO_LARGE) {
            broker__client_disconnect(c, MQTT_RC_PACKET_TOO_LARGE, "Packet too large");
            break;
        }
        if (c->state == CLIENT_CONNECTED && !c->input_ends && !skimmable(c, data[off]) &&
            (c->self_held || broker__flow_self_over(c))) {
            c->self_held = true; /* own output over its bound (flow.c): hold from here */
            break;
        }
        mqtt_packet p; /* mqtt_decode zeroes it first, whatever it returns */
        int rc = mqtt_decode(data + off, total, c->version, &p);
        off += total;
        if (rc != MQTT_RC_SUCCESS) {
            decode_failed(c, rc, &p);
            break;
        }
        client *prev = broker__persist_enter(c->b, c);
        if (c->state == CLIENT_NEW) broker__connect_handle(c, &p, (mqtt_bytes){data + off - total, (uint32_t)total});
        else broker__client_dispatch(c, &p);
        broker__persist_leave(c->b, prev);
        mqtt_packet_release(&p);
    }
    return off;
}

/* c is held and c->rx starts with the first held packet: process the
 * acknowledgements and PINGREQs behind it (removing them, order among
 * them kept), leave everything else in order, and stop reading once
 * FLOW_HOLD_MAX bytes of complete packets are held. A packet that does
 * not frame or decode is left for its turn, which reports it.
 *
 * A DISCONNECT among the held packets ends the client's input: the
 * peer's close may follow at once and must not overtake it (the will
 * would be published, the held messages lost). So everything held is
 * then processed in order after all; it is at most FLOW_HOLD_MAX plus
 * one read. */
static void skim_held(client *c)
{
    buf *rx = &c->rx;
    size_t off = 0;
    while (off < rx->len && c->state != CLIENT_CLOSED) {
        size_t total = 0;
        if (mqtt_frame(rx->data + off, rx->len - off, c->b->lim.max_packet_size, &total) != MQTT_FRAME_OK) break;
        if (rx->data[off] >> 4 == MQTT_DISCONNECT) {
            c->input_ends = true;
            c->self_held = false;
            buf_consume(rx, process(c, rx->data, rx->len));
            return;
        }
        if (!skimmable(c, rx->data[off])) {
            off += total;
            continue;
        }
        mqtt_packet p;
        memset(&p, 0, sizeof p);
        if (mqtt_decode(rx->data + off, total, c->version, &p) != MQTT_RC_SUCCESS) break;
        client *prev = broker__persist_enter(c->b, c);
        broker__client_dispatch(c, &p);
        broker__persist_leave(c->b, prev);
        mqtt_packet_release(&p);
        memmove(rx->data + off, rx->data + off + total, rx->len - off - total);
        rx->len -= total;
    }
    if (c->state != CLIENT_CLOSED && off >= FLOW_HOLD_MAX && !c->paused) {
        c->paused = true;
        net_conn_pause_read(c->conn);
    }
}

static void on_read(void *user, const uint8_t *data, size_t len)
{
    client *c = user;
    /* While a refusal waits for its timer, nothing the client sends counts. */
    if (c->state == CLIENT_CLOSED || c->refuse_at) return;
    if (c->state == CLIENT_CONNECTED) c->last_rx = broker_now(); /* NEW: keeps the accept time */
    if (c->rx.len == 0) {
        size_t used = process(c, data, len);
        if (c->state != CLIENT_CLOSED && used < len) buf_append(&c->rx, data + used, len - used);
    } else {
        buf_append(&c->rx, data, len);
        buf_consume(&c->rx, process(c, c->rx.data, c->rx.len));
    }
    if (c->self_held && c->state != CLIENT_CLOSED) skim_held(c);
    if (c->state == CLIENT_CLOSED) buf_free(&c->rx);
    else buf_shrink(&c->rx, 0);
}

/* --- backpressure resume ------------------------------------------------------ */

static void resume_cb(uv_timer_t *t) { broker__client_process_resumed(t->data); }

/* Only clients paused, held or cut by flow.c come here, so c->flow exists. */
void broker__client_resume_later(client *c)
{
    if (c->resume_queued || c->state == CLIENT_CLOSED) return;
    c->resume_queued = true;
    c->flow->resume_next = c->b->resume_head;
    c->b->resume_head = c;
    if (!c->b->shutting_down) uv_timer_start(&c->b->resume_timer, resume_cb, 0, 0);
}

void broker__client_continue_input(client *c)
{
    c->last_rx = broker_now();
    buf_consume(&c->rx, process(c, c->rx.data, c->rx.len));
    if (c->self_held && c->state != CLIENT_CLOSED) skim_held(c);
    if (c->state == CLIENT_CLOSED) {
        buf_free(&c->rx);
        return;
    }
    if (!c->paused) net_conn_resume_read(c->conn);
}

static void resume_one(client *c)
{
    c->paused = false;
    broker__client_continue_input(c);
}

void broker__client_process_resumed(broker *b)
{
    client *list = b->resume_head;
    b->resume_head = NULL;
    while (list) {
        client *c = list;
        list = c->flow->resume_next;
        c->resume_queued = false;
        if (c->state == CLIENT_CLOSED) continue;
        if (c->quota_cut) {
            broker__client_disconnect(c, MQTT_RC_QUOTA_EXCEEDED, "Quota exceeded: queue full");
            continue;
        }
        /* broker__flow_self_check saw the output low; if it grew over the bound
         * again since, process() holds anew, and what made it grow
         * (backlog: on_drain; queue: acknowledgements) checks again. */
        bool was_held = c->self_held;
        if (was_held && !broker__flow_self_over(c)) c->self_held = false;
        if (!c->self_held && c->flow->n_blocked == 0 && (c->paused || was_held)) resume_one(c);
    }
}

static void resume_list_remove(client *c)
{
    for (client **pp = &c->b->resume_head; *pp; pp = &(*pp)->flow->resume_next) {
        if (*pp == c) {
            *pp = c->flow->resume_next;
            return;
        }
    }
}

/* --- net callbacks -------------------------------------------------------------- */

const size_t broker_conn_user_size = sizeof(client);

/* The per-connection budget docs/architecture.md quotes ("Memory per idle
 * connection", x86_64 glibc): net_conn and client share one allocation
 * that must fit a 512-byte malloc chunk (504 usable bytes), and the
 * documented sizes must be the real ones. */
#if defined(__x86_64__) && defined(__GLIBC__)
_Static_assert(NET_CONN_OVERHEAD_X86_64 + sizeof(client) <= 504,
               "net_conn + client no longer fit a 512-byte malloc chunk");
_Static_assert(sizeof(client) == 168, "client changed size: update docs/architecture.md and this number");
_Static_assert(offsetof(session, id) == 141, "session changed size: update docs/architecture.md and this number");
#endif

/* The client is built in the connection's user area (zeroed, freed by the
 * net layer after on_close), so it lives exactly as long as the net_conn. */
bool broker_accept(void *ctx, net_conn *conn, void *user)
{
    broker *b = ctx;
    if (b->shutting_down) return false;
    client *c = user;
    c->b = b;
    c->conn = conn;
    c->last_rx = broker_now();
    c->state = CLIENT_NEW;
    c->problem_info = true;
    heap_node_init(&c->timer.node);
    c->next = b->clients;
    if (b->clients) b->clients->prev = c;
    b->clients = c;
    broker__client_touch_timer(c);
    return true;
}

/* Destroys the client but does not free it: the net layer frees the
 * memory with the net_conn when this returns, so every list and pending
 * operation that can reach c (clients, resume list, session, pending
 * authentication, timer) must let go of it here. */
static void on_close(void *user, int error)
{
    client *c = user;
    broker *b = c->b;
    if (end_logged(c)) {
        char why[96];
        snprintf(why, sizeof why, "connection lost (%s)", error ? uv_strerror(error) : "closed by the client");
        log_end(c, why);
    }
    if (c->state != CLIENT_CLOSED) log_debug("%s: connection lost (%d)", net_conn_peer(c->conn), error);
    broker__client_detach(c, true);
    if (c->resume_queued) resume_list_remove(c);
    if (c->prev) c->prev->next = c->next;
    else b->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    buf_free(&c->rx);
    broker__persist_client_gone(c); /* detach did; kept for the invariant "no hold outlives c" */
    if (c->flow) free(c->flow->blocked_on);
    free(c->flow);
    free(c->user);
    b->pops->free(c->who);
}

static void on_drain(void *user)
{
    client *c = user;
    if (c->state == CLIENT_CONNECTED && c->s) broker__deliver_pump(c->s);
}

const net_conn_callbacks broker_conn_callbacks = {
    .on_read = on_read,
    .on_close = on_close,
    .on_drain = on_drain,
};
