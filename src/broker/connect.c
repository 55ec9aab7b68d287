/* CONNECT -> CONNACK: negotiation of the connection's parameters, client
 * identifier assignment, session lookup / takeover / clean start.
 *
 * Authentication (authenticate.c) may leave a CONNECT pending; it is then
 * finished by broker__connect_resume from a copy of its bytes, so that everything
 * after authentication sees the same mqtt_connect either way. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define PROP(id) MQTT_PROP_BIT(MQTT_PROP_##id)

/* The BROKER_REFUSED_* class of a refusing CONNACK reason code. */
void broker__count_refusal(broker *b, uint8_t rc)
{
    int why = BROKER_REFUSED_OTHER;
    if (rc == MQTT_RC_BAD_USER_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED || rc == MQTT_RC_BAD_AUTH_METHOD ||
        rc == MQTT_RC_BANNED)
        why = BROKER_REFUSED_AUTH;
    else if (rc == MQTT_RC_QUOTA_EXCEEDED || rc == MQTT_RC_SERVER_BUSY) why = BROKER_REFUSED_QUOTA;
    else if (rc == MQTT_RC_CLIENT_ID_INVALID) why = BROKER_REFUSED_CLIENT_ID;
    b->stats.connects_refused[why]++;
}

static void refuse(client *c, uint8_t rc)
{
    broker__count_refusal(c->b, rc);
    mqtt_packet r = {.type = MQTT_CONNACK};
    r.connack.reason = rc; /* the encoder maps it for v3.1.1 */
    broker__client_send(c, &r);
    broker__client_close(c, false);
}

/* A failed authentication: the CONNACK waits for the timer (see
 * broker__client_timer_fired) so that guessing costs the guesser time, not us. */
void broker__connect_refuse_later(client *c, uint8_t rc, uint32_t delay_ms)
{
    if (delay_ms == 0) {
        refuse(c, rc);
        return;
    }
    c->refuse_rc = rc;
    c->refuse_at = broker_now() + delay_ms;
    net_conn_pause_read(c->conn);
    broker__client_touch_timer(c);
}

/* Connect-time authorization (BROKER_ACTION_CONNECT), once the principal
 * is known and before any session is touched. */
static bool connect_authorized(client *c, const mqtt_connect *cn, mqtt_bytes id)
{
    broker_auth_request r = {.client_id = id,
                             .username = cn->has_username ? &cn->username : NULL,
                             .who = c->who,
                             .action = BROKER_ACTION_CONNECT};
    uint8_t rc = broker_authorize(c->b, &r);
    if (rc < 0x80) return true;
    log_info("%s: CONNECT of %.*s not authorized", net_conn_peer(c->conn), (int)id.len, (const char *)id.data);
    refuse(c, rc);
    return false;
}

/* The will is a PUBLISH the client makes in advance: the same rules apply
 * (and are asked again when it is published). Refused like a CONNECT:
 * v5 CONNACK 0x87, v3.1.1 return code 5, as Mosquitto does. */
static bool will_authorized(client *c, const mqtt_connect *cn, mqtt_bytes id)
{
    if (!cn->will_flag) return true;
    mqtt_bytes user;
    uint8_t rc = broker__will_authorize(c->b, id, broker__client_username(c, &user), c->who, cn->will_topic,
                                        cn->will_qos, cn->will_retain);
    if (rc < 0x80) return true;
    log_info("%s: CONNECT of %.*s refused: will on %.*s not authorized", net_conn_peer(c->conn), (int)id.len,
             (const char *)id.data, (int)cn->will_topic.len, (const char *)cn->will_topic.data);
    refuse(c, rc);
    return false;
}

static void read_client_props(client *c, const mqtt_props *p)
{
    uint32_t recv_max = 65535;
    if (p->present & PROP(REQUEST_PROBLEM_INFO)) c->problem_info = p->request_problem_info != 0;
    if (p->present & PROP(RECEIVE_MAX)) recv_max = p->receive_max;
    if (p->present & PROP(MAX_PACKET_SIZE)) c->max_out = p->max_packet_size;
    if (p->present & PROP(TOPIC_ALIAS_MAX)) c->alias_out_max = p->topic_alias_max;
    uint32_t cap = c->b->lim.max_inflight ? c->b->lim.max_inflight : 65535;
    c->window = (uint16_t)(recv_max < cap ? recv_max : cap);
}

/* Returns the keep alive to use and whether the server overrides it. */
static uint16_t negotiate_keepalive(const broker_limits *l, uint16_t ka, bool v5, bool *changed)
{
    *changed = false;
    if (!v5) return ka; /* v3.1.1 has no way to tell the client */
    uint16_t want = ka;
    if (l->keepalive_max && (want == 0 || want > l->keepalive_max)) want = l->keepalive_max;
    if (want && want < l->keepalive_min) want = l->keepalive_min;
    *changed = want != ka;
    return want;
}

static uint32_t negotiate_expiry(const broker_limits *l, const mqtt_connect *cn)
{
    uint32_t e;
    if (cn->version == MQTT_V5) e = cn->props.present & PROP(SESSION_EXPIRY) ? cn->props.session_expiry : 0;
    else e = cn->clean_start ? 0 : UINT32_MAX; /* clean session 0: never expires */
    return e < l->max_session_expiry ? e : l->max_session_expiry;
}

/* A server-assigned identifier, unique among current sessions; in a
 * cluster it names the node (broker_set_node_tag), so that two nodes never
 * assign the same one (the registry would take one over by the other). */
static void assign_id(broker *b, char *out, size_t size)
{
    do {
        uint64_t v = (broker_now() << 20) ^ ++b->next_client_no;
        if (b->node_tag) snprintf(out, size, "mqs-%" PRIu32 "-%016" PRIx64, b->node_tag, v);
        else snprintf(out, size, "mqs-%016" PRIx64, v);
    } while (broker__session_find(b, (mqtt_bytes){(const uint8_t *)out, (uint32_t)strlen(out)}));
}

/* A session belongs to the principal that created it (broker__session_principal
 * after the takeover: the principal of the connection that left). Another
 * principal that may connect with the same client id does not get it: its
 * subscriptions and queued messages were made for someone else. */
static bool session_foreign(const client *c, const session *s, mqtt_bytes id)
{
    const struct principal *owner = broker__session_principal(s);
    /* An anonymous client without a principal (none required any more,
     * broker_require_principals) is still the anonymous principal it
     * stood for when it had one. */
    struct principal *tmp = !c->who && owner ? broker__client_anonymous_principal(c, id) : NULL;
    bool same = c->b->pops->same(owner, tmp ? tmp : c->who);
    c->b->pops->free(tmp);
    if (same) return false;
    log_info("%s: session %.*s belongs to another principal; discarded, starting a clean session",
             net_conn_peer(c->conn), (int)id.len, (const char *)id.data);
    return true;
}

/* Attach c to the session `id`, taking over or ending what exists.
 * Returns whether a session was present. */
static bool attach_session(client *c, mqtt_bytes id, bool clean_start)
{
    broker *b = c->b;
    session *s = broker__session_find(b, id);
    if (s && s->c) broker__client_takeover(s->c); /* s stays (offline), with the old principal */
    if (s && (clean_start || session_foreign(c, s, id))) {
        broker__session_end(s);
        s = NULL;
    }
    bool present = s != NULL;
    if (!s) {
        s = broker__session_create(b, id);
    } else {
        broker__session_set_will(s, NULL, 0);    /* MQTT-3.1.3-9: reconnected in time */
        broker__session_keep_principal(s, NULL); /* the same identity: c->who serves from now on */
        s->expire_at = 0;
        broker__session_rearm(s);
    }
    s->c = c;
    c->s = s;
    return present;
}

static void send_connack(client *c, bool present, const mqtt_connect *cn, uint32_t expiry, mqtt_bytes assigned,
                         bool ka_changed, uint16_t ka)
{
    const broker_limits *l = &c->b->lim;
    mqtt_packet r = {.type = MQTT_CONNACK};
    r.connack.session_present = present;
    r.connack.reason = MQTT_RC_SUCCESS;
    mqtt_props *p = &r.connack.props;
    if (cn->version == MQTT_V5) {
        p->present = PROP(RECEIVE_MAX) | PROP(RETAIN_AVAILABLE) | PROP(WILDCARD_SUB_AVAILABLE) |
                     PROP(SUB_ID_AVAILABLE) | PROP(SHARED_SUB_AVAILABLE);
        p->receive_max = l->receive_max;
        p->retain_available = p->wildcard_sub_available = 1;
        p->sub_id_available = p->shared_sub_available = 1;
        if (l->max_packet_size) p->present |= PROP(MAX_PACKET_SIZE);
        p->max_packet_size = l->max_packet_size;
        if (l->topic_alias_max) p->present |= PROP(TOPIC_ALIAS_MAX);
        p->topic_alias_max = l->topic_alias_max;
        uint32_t asked = cn->props.present & PROP(SESSION_EXPIRY) ? cn->props.session_expiry : 0;
        if (asked != expiry) p->present |= PROP(SESSION_EXPIRY);
        p->session_expiry = expiry;
        if (assigned.len) p->present |= PROP(ASSIGNED_CLIENT_ID);
        p->assigned_client_id = assigned;
        if (ka_changed) p->present |= PROP(SERVER_KEEP_ALIVE);
        p->server_keep_alive = ka;
    }
    broker__client_send(c, &r);
}

/* max_connections reached? Logs the refusal when it is. */
static bool over_quota(const client *c)
{
    const broker *b = c->b;
    if (!b->lim.max_connections || b->n_connected < b->lim.max_connections) return false;
    log_info("%s: CONNECT refused: max_connections (%u) reached", net_conn_peer(c->conn), b->lim.max_connections);
    return true;
}

static client_user *client_user_new(mqtt_bytes name)
{
    client_user *u = xmalloc(sizeof *u + name.len);
    u->len = name.len;
    if (name.len) memcpy(u->data, name.data, name.len);
    return u;
}

/* The client is authenticated (c->who set unless anonymous): authorize,
 * then attach the session and answer. */
static void accept_connect(client *c, const mqtt_connect *cn, mqtt_bytes id, mqtt_bytes assigned)
{
    broker *b = c->b;
    bool v5 = cn->version == MQTT_V5;
    if (cn->has_username) c->user = client_user_new(cn->username);
    broker__client_ensure_principal(c, id);
    if (!connect_authorized(c, cn, id) || !will_authorized(c, cn, id)) return;
    bool ka_changed;
    uint16_t ka = negotiate_keepalive(&b->lim, cn->keep_alive, v5, &ka_changed);
    c->ka_ms = (uint32_t)ka * 1500;
    uint32_t expiry = negotiate_expiry(&b->lim, cn);
    c->session_zero = v5 && !(cn->props.present & PROP(SESSION_EXPIRY) && cn->props.session_expiry);
    c->will = cn->will_flag ? broker__will_from_connect(cn) : NULL;
    bool present = attach_session(c, id, cn->clean_start);
    if (present) broker__reauth_session(c); /* the rules may have changed while it was offline */
    c->s->expiry = expiry;
    broker__psess_attached(c->s); /* durable (or not) from here, with this expiry and owner */
    c->state = CLIENT_CONNECTED;
    net_conn_established(c->conn); /* no longer counts against max_pending_per_address */
    c->last_rx = broker_now();     /* keep-alive counts from here (was the accept time) */
    b->n_connected++;
    b->stats.clients++;
    b->stats.connects++;
    send_connack(c, present, cn, expiry, assigned, ka_changed, ka);
    broker__registry_connected(c, cn->clean_start);
    broker__client_touch_timer(c);
    log_info("%s: client %.*s connected (user %s%.*s%s, MQTT %s, keep alive %u s, session %s)", net_conn_peer(c->conn),
             (int)id.len, (const char *)id.data, c->user ? "\"" : "", c->user ? (int)c->user->len : 6,
             c->user ? (const char *)c->user->data : "(none)", c->user ? "\"" : "", broker__client_protocol(c), ka,
             present ? "resumed" : "new");
    broker__deliver_resume(c->s);
}

void broker__connect_handle(client *c, mqtt_packet *pkt, mqtt_bytes raw)
{
    broker *b = c->b;
    mqtt_connect *cn = &pkt->connect;
    bool v5 = cn->version == MQTT_V5;
    c->version = cn->version;
    if (v5) read_client_props(c, &cn->props);
    else c->window = b->lim.max_inflight ? b->lim.max_inflight : 65535;
    if (over_quota(c)) {
        refuse(c, MQTT_RC_QUOTA_EXCEEDED);
        return;
    }
    if (v5 && (cn->props.present & PROP(AUTH_METHOD))) {
        refuse(c, MQTT_RC_BAD_AUTH_METHOD);
        return;
    }
    char idbuf[32];
    mqtt_bytes id = cn->client_id, assigned = {NULL, 0};
    if (id.len == 0) {
        if (!v5 && !cn->clean_start) { /* MQTT-3.1.3-8 */
            refuse(c, MQTT_RC_CLIENT_ID_INVALID);
            return;
        }
        assign_id(b, idbuf, sizeof idbuf);
        id = (mqtt_bytes){(const uint8_t *)idbuf, (uint32_t)strlen(idbuf)};
        if (v5) assigned = id;
    }
    if (broker__authenticate_start(c, cn, id, raw) == AUTHN_ACCEPTED) accept_connect(c, cn, id, assigned);
}

void broker__connect_resume(client *c, mqtt_bytes raw, mqtt_bytes id)
{
    mqtt_packet p;
    memset(&p, 0, sizeof p);
    /* The same bytes decoded before: cannot fail, but never trust that. */
    if (mqtt_decode(raw.data, raw.len, c->version, &p) != MQTT_RC_SUCCESS || p.type != MQTT_CONNECT) {
        mqtt_packet_release(&p);
        broker__client_close(c, false);
        return;
    }
    mqtt_connect *cn = &p.connect;
    mqtt_bytes assigned = {NULL, 0};
    if (cn->client_id.len == 0 && cn->version == MQTT_V5) assigned = id;
    if (over_quota(c)) refuse(c, MQTT_RC_QUOTA_EXCEEDED); /* others connected meanwhile */
    else accept_connect(c, cn, id, assigned);
    mqtt_packet_release(&p);
    if (c->state == CLIENT_CONNECTED) broker__client_continue_input(c);
}
