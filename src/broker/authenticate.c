/* Running the authenticator on a CONNECT, at once or later.
 *
 * A pending CONNECT is remembered by token in b->authn_waiting; the entry
 * goes when the decision arrives or when the connection ends (detach calls
 * broker__authenticate_forget), whichever is first. So a decision for a token not
 * in the map belongs to a connection that is gone (or never existed) and
 * touches nothing but the principal it carries. Tokens count up from 1 and
 * are never reused, so a late decision cannot land on a newer connection.
 *
 * The pending state lives outside the client struct (one pointer there):
 * most connections never wait. */
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

struct authn_wait {
    uint64_t token;
    uint32_t id_len, raw_len;
    uint8_t data[]; /* the client id it was authenticated under, then the CONNECT as received */
};

typedef struct authn_wait authn_wait;

static bool accepted(client *c, const broker_authn_result *res)
{
    if (res->reason < 0x80) { /* who NULL: anonymous (accept_connect decides if it needs one) */
        c->who = res->who;
        return true;
    }
    c->b->pops->free(res->who);
    broker__connect_refuse_later(c, res->reason >= 0x80 ? res->reason : MQTT_RC_NOT_AUTHORIZED, res->delay_ms);
    return false;
}

/* Keep the CONNECT for broker__connect_resume and stop reading until the decision.
 * The id is kept too: a server-assigned one is not in the packet. */
static void wait_for_decision(client *c, mqtt_bytes id, mqtt_bytes raw, uint64_t token)
{
    authn_wait *w = xmalloc(sizeof *w + id.len + raw.len);
    w->token = token;
    w->id_len = id.len;
    w->raw_len = raw.len;
    memcpy(w->data, id.data, id.len);
    memcpy(w->data + id.len, raw.data, raw.len);
    c->authn_wait = w;
    hashmap_put(c->b->authn_waiting, &token, sizeof token, c);
    net_conn_pause_read(c->conn);
}

enum authn_outcome broker__authenticate_start(client *c, const mqtt_connect *cn, mqtt_bytes id, mqtt_bytes raw)
{
    broker *b = c->b;
    if (!b->authn) return AUTHN_ACCEPTED; /* anonymous: no principal unless required */
    broker_authn_request r = {
        .client_id = id,
        .username = cn->has_username ? &cn->username : NULL,
        .password = cn->has_password ? &cn->password : NULL,
        .peer_ip = net_conn_peer_ip(c->conn),
        .listener = net_conn_listener_index(c->conn),
        .peer_cert = net_conn_peer_cert(c->conn),
        .version = cn->version,
        .token = ++b->last_authn_token,
    };
    broker_authn_result res = {.reason = MQTT_RC_NOT_AUTHORIZED};
    if (b->authn(b->authn_ctx, &r, &res) == BROKER_AUTHN_PENDING) {
        wait_for_decision(c, id, raw, r.token);
        return AUTHN_PENDING;
    }
    return accepted(c, &res) ? AUTHN_ACCEPTED : AUTHN_REFUSED;
}

/* Unhook c's pending CONNECT; returns it (the caller frees it). */
static authn_wait *take_wait(client *c)
{
    authn_wait *w = c->authn_wait;
    hashmap_remove(c->b->authn_waiting, &w->token, sizeof w->token);
    c->authn_wait = NULL;
    return w;
}

void broker__authenticate_forget(client *c)
{
    if (c->authn_wait) free(take_wait(c));
}

void broker_authn_complete(broker *b, uint64_t token, const broker_authn_result *res)
{
    client *c = hashmap_get(b->authn_waiting, &token, sizeof token);
    if (!c) { /* the connection ended while its CONNECT was pending */
        b->pops->free(res->who);
        return;
    }
    authn_wait *w = take_wait(c);
    if (accepted(c, res)) {
        client *prev = broker__persist_enter(b, c); /* its CONNECT is processed now (persist.c) */
        broker__connect_resume(c, (mqtt_bytes){w->data + w->id_len, w->raw_len}, (mqtt_bytes){w->data, w->id_len});
        broker__persist_leave(b, prev);
    }
    free(w);
}
