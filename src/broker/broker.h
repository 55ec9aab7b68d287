/* The broker: sessions, subscriptions, retained messages, wills and the
 * QoS 1/2 flows, driven by packets decoded from client connections.
 *
 * The server creates one broker per process, hands it every accepted
 * connection (broker_accept, which has the net_accept_cb signature) and
 * the connection callbacks (broker_conn_callbacks). Each client lives in
 * its connection's user area (net.h): listeners are created with
 * broker_conn_user_size, and a client never outlives its net_conn. */
#ifndef MQS_BROKER_BROKER_H
#define MQS_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "mqtt/packet.h"
#include "net/net.h"

/* The authenticated identity of a connection. The broker stores and
 * passes it on but never looks inside: what it does with one goes through
 * the operations the server gives it (src/server/principal_ops.c binds
 * them to src/auth/principal.h). */
struct principal;

/* Every function must accept NULL where a principal is taken: NULL is the
 * anonymous connection without a principal (broker_require_principals). */
typedef struct broker_principal_ops {
    /* The principal an anonymous connection stands for: its client id and
     * the user name it claimed (NULL: none), as an authenticator accepting
     * it as anonymous would have made it. Never NULL. */
    struct principal *(*make_anonymous)(mqtt_bytes client_id, const mqtt_bytes *username);
    void (*free)(struct principal *p);
    /* Same identity (whose a session is); NULL equals only NULL. */
    bool (*same)(const struct principal *a, const struct principal *b);
    /* Durable sessions keep their owner: encode writes p's bytes to
     * out[0..cap) if they fit and returns their length either way
     * (snprintf style; it must not allocate: a snapshot child calls it);
     * decode gives back a principal `same` as p, or NULL if the bytes are
     * not an encoding. p is never NULL here. */
    size_t (*encode)(const struct principal *p, uint8_t *out, size_t cap);
    struct principal *(*decode)(const uint8_t *p, size_t n);
} broker_principal_ops;

/* Server-side limits, all configurable (docs/configuration.md). */
typedef struct broker_limits {
    uint32_t max_packet_size;  /* bytes, both directions; advertised in CONNACK */
    uint16_t receive_max;      /* inbound QoS 1/2 in flight per client (v5 Receive Maximum) */
    uint16_t max_inflight;     /* outbound QoS 1/2 in flight per client (capped by the client's Receive Maximum) */
    uint32_t max_queued;       /* messages queued per session beyond the in-flight window */
    uint32_t max_queued_bytes; /* bytes of queued messages per session (entry + message); 0 = no bound */
    uint32_t slow_subscriber_timeout; /* seconds a connected session's queue may stay full; 0 = forever */
    uint16_t max_topic_levels;        /* levels in a topic name or filter */
    uint32_t max_connections;         /* 0 = unlimited */
    uint16_t keepalive_min;           /* seconds; 0 = no lower bound */
    uint16_t keepalive_max;           /* seconds; longer (or 0) requests get Server Keep Alive */
    uint16_t topic_alias_max;         /* inbound aliases a client may use */
    uint32_t max_session_expiry;      /* seconds; 0xFFFFFFFF = never */
    uint32_t max_backlog_bytes;       /* unwritten output per connection before reads of its publishers pause */
    uint16_t connect_timeout;         /* seconds a new connection has to send CONNECT */
    uint32_t max_connect_size;        /* bytes; a larger CONNECT is refused before its body is read */
    /* Read by the server for the net layer (net.h), not by the broker. */
    uint16_t close_timeout;           /* seconds a closing connection may go without output progress */
    uint32_t max_pending_per_address; /* connections not yet past CONNACK per address; 0 = no limit */
} broker_limits;

/* The defaults documented in docs/configuration.md. */
void broker_limits_default(broker_limits *l);

typedef struct broker broker;

/* `principals` (not NULL) must outlive the broker; it is not copied. */
broker *broker_new(uv_loop_t *loop, const broker_limits *limits, const broker_principal_ops *principals);
/* Replace the limits (SIGHUP). Each is read where it is applied: values
 * negotiated at CONNECT (keep alive, in-flight window, session expiry)
 * change for new connections, checks (max_connections, topic levels,
 * connect timeout) from the next one. The caller keeps the limits that
 * were advertised to connected clients or size buffers unchanged
 * (src/server/config_reload.c). */
void broker_set_limits(broker *b, const broker_limits *limits);
/* Disconnect every client (v5: DISCONNECT 0x8B "Server shutting down"),
 * stop timers. The loop must then run until idle before broker_free. */
void broker_shutdown(broker *b);
void broker_free(broker *b);

/* net_accept_cb: `ctx` is the broker; `user` is an area of
 * broker_conn_user_size bytes, where the client is constructed. */
bool broker_accept(void *ctx, net_conn *conn, void *user);
extern const size_t broker_conn_user_size;
extern const net_conn_callbacks broker_conn_callbacks;

/* Counters, for statistics and tests. */
typedef struct broker_stats {
    uint64_t clients;  /* connections past CONNACK */
    uint64_t sessions; /* live sessions, connected or not */
    uint64_t retained;
    uint64_t subscriptions;
    uint64_t dropped_qos0;       /* QoS 0 not sent to a backlogged client */
    uint64_t dropped_queue_full; /* QoS 1/2 not queued: offline session at its bound, or a
                                    broker_deliver_to at a connected session's bound */
    uint64_t dropped_too_large;  /* above the receiver's Maximum Packet Size */
    uint64_t dropped_expired;
    /* Plain counters, incremented where the event happens (no locks: the
     * loop thread only); the exporter reads them on scrape. */
    uint64_t connects;                      /* CONNACK 0 sent */
    uint64_t connects_refused[4];           /* refusing CONNACK by BROKER_REFUSED_* */
    uint64_t msgs_in[3], msgs_out[3];       /* PUBLISH received / sent, by QoS */
    uint64_t payload_in[3], payload_out[3]; /* their payload bytes */
} broker_stats;
/* Why a CONNECT was refused (broker_stats.connects_refused). */
enum { BROKER_REFUSED_AUTH, BROKER_REFUSED_QUOTA, BROKER_REFUSED_CLIENT_ID, BROKER_REFUSED_OTHER };
void broker_get_stats(const broker *b, broker_stats *out);
/* Messages held for sessions: queued (waiting for the window or the
 * connection), in flight (sent, not yet acknowledged) and their bytes.
 * O(sessions): a walk, for a scrape, not for every packet. */
typedef struct broker_queue_stats {
    uint64_t queued, inflight, bytes, sessions_online;
} broker_queue_stats;
void broker_get_queue_stats(const broker *b, broker_queue_stats *out);

/* --- hooks for in-process services (the state store) ---------------------
 *
 * A broker-originated message. Slices are copied; `props` is an encoded
 * v5 property block passed through to subscribers (e.g. user properties
 * built with mqtt_props_add_user, content type, correlation data); it must
 * not contain Topic Alias, Subscription Identifier or Message Expiry:
 * expiry goes in `message_expiry` (seconds, 0 = none). */
typedef struct broker_message {
    mqtt_bytes topic;
    mqtt_bytes payload;
    mqtt_bytes props;
    uint8_t qos;
    bool retain;
    uint32_t message_expiry;
} broker_message;

/* A PUBLISH to exactly `topic` (no wildcards) is handed to the hook instead
 * of being routed. The broker still runs the publisher's QoS 1/2
 * acknowledgement (the PUBACK/PUBREC goes out before the hook runs) and
 * calls the hook exactly once per QoS 2 message. `username` is NULL when
 * the client gave none; `who` is the publisher's principal (NULL for an
 * anonymous one while none is required: see broker_require_principals).
 * `pub` (topic resolved from any alias), the slices and `who` are valid
 * only during the call. */
typedef void (*broker_publish_hook)(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username,
                                    const struct principal *who, const mqtt_publish *pub);
/* Install (fn != NULL) or remove (fn == NULL) the hook for `topic`. */
void broker_set_publish_hook(broker *b, mqtt_bytes topic, broker_publish_hook fn, void *ctx);

/* Route a message as if published by the server itself: normal matching,
 * retained handling, and no-local never suppresses it. Called inside a
 * publish hook (a reply), the message counts as the hooked publisher's:
 * that client's reads pause while a receiving session's queue is full,
 * exactly as for a message it published (docs/architecture.md,
 * Backpressure). */
void broker_publish(broker *b, const broker_message *m);

/* Deliver straight into one session, whatever its subscriptions, at
 * min(m->qos, 2) through its in-flight window and queue (an offline
 * session queues QoS 1/2 up to its bound). Returns false if no session
 * has that id.
 *
 * Bound: there is no publisher to slow down, and the caller (a state
 * store write) must not wait for someone else's receiver. So when a
 * connected session's queue is already at max_queued_messages or
 * max_queued_bytes, a QoS 1/2 message is not queued and that connection
 * is disconnected with 0x97 (Quota exceeded) from the loop, right after
 * the current call chain, and nothing more is queued for it meanwhile:
 * the loss is never silent, the client learns it must re-read (and the
 * disconnect hook drops its per-connection registrations). Returns true
 * in that case too. */
bool broker_deliver_to(broker *b, mqtt_bytes client_id, const broker_message *m);

/* Called exactly once per connection whose CONNECT was accepted, when it
 * ends, whatever the reason, before its session is possibly ended.
 * On session takeover it is called for the old connection synchronously,
 * while the new CONNECT is being processed and before the new connection
 * can send anything, so per-connection state dropped here (KEYNOTIFY
 * registrations) can never remove what the new connection registers. */
typedef void (*broker_disconnect_hook)(void *ctx, mqtt_bytes client_id);
void broker_set_disconnect_hook(broker *b, broker_disconnect_hook fn, void *ctx);

/* Server-initiated disconnect of the connection currently holding
 * `client_id`: v5 DISCONNECT with `reason_code` (and `reason_string`, may
 * be NULL, only if the client allows problem information; copied), then
 * close, publishing the will as for any server-initiated disconnect.
 * Safe inside the publish hook: for the publishing client itself the
 * disconnect is deferred until the hook returns (its session may end with
 * the connection, and `client_id` points into it), so the hook's
 * arguments stay valid until it returns; the first call's reason wins.
 * Returns false if no connection holds that id. */
bool broker_disconnect_client(broker *b, mqtt_bytes client_id, uint8_t reason_code, const char *reason_string);

/* --- authorization ---------------------------------------------------------
 *
 * Authorizers are consulted, in the order added, on every client PUBLISH
 * (before routing or any publish hook) and on every SUBSCRIBE filter. Each
 * returns an MQTT reason code: below 0x80 allows, 0x80 and above denies
 * (normally MQTT_RC_NOT_AUTHORIZED 0x87); the first denial wins. With no
 * authorizer installed everything is allowed.
 *
 * A denied PUBLISH is not routed and not handed to a hook: v5 QoS 1 gets
 * PUBACK with the code, QoS 2 PUBREC with the code (the flow ends there),
 * QoS 0 is dropped; v3.1.1 has no way to say no, so the publisher gets its
 * normal acknowledgement. A denied SUBSCRIBE filter gets the code in its
 * SUBACK slot (v3.1.1: 0x80) and nothing is stored; the other filters of
 * the packet are unaffected. */
/* CONNECT is asked once the authenticator accepted the connection (the
 * principal is known), before any session is touched; topic and filter
 * are then empty. A denial answers CONNACK with the code (v3.1.1: the
 * mapped return code, 5 for 0x87). */
/* RECEIVE is asked for messages already queued for a session before they
 * are delivered: on a resume (under the resuming connection's principal)
 * and after broker_recheck_subscriptions. `topic` and `filter` are the
 * message's topic name; a denial drops the message. Authorizers answer as
 * for a SUBSCRIBE to exactly that topic; a service delivering straight
 * into sessions (broker_deliver_to) allows what it sends there. */
typedef enum broker_action {
    BROKER_ACTION_PUBLISH,
    BROKER_ACTION_SUBSCRIBE,
    BROKER_ACTION_CONNECT,
    BROKER_ACTION_RECEIVE,
} broker_action;

typedef struct broker_auth_request {
    mqtt_bytes client_id;
    /* NULL when the client gave none, and for an offline session (its
     * principal carries the user name) */
    const mqtt_bytes *username;
    const struct principal *who; /* the client's authenticated identity; NULL: see broker_require_principals */
    broker_action action;
    mqtt_bytes topic;       /* PUBLISH, RECEIVE: the topic name (aliases resolved); SUBSCRIBE: the filter as sent */
    mqtt_bytes filter;      /* SUBSCRIBE: the filter without "$share/<group>/"; PUBLISH, RECEIVE: = topic */
    mqtt_bytes share_group; /* SUBSCRIBE to "$share/<group>/...": the group; else empty */
    uint8_t qos;            /* PUBLISH, RECEIVE: the message's QoS; SUBSCRIBE: the requested maximum */
    bool retain;            /* PUBLISH only */
} broker_auth_request;

/* Slices in `r` are valid only during the call. */
typedef uint8_t (*broker_authorize_fn)(void *ctx, const broker_auth_request *r);
void broker_add_authorizer(broker *b, broker_authorize_fn fn, void *ctx);
/* Remove the authorizer added with exactly this fn and ctx (if any). */
void broker_remove_authorizer(broker *b, broker_authorize_fn fn, void *ctx);

/* For services acting for a client: may `client_id` (identified as in a
 * publish hook: `username` NULL when it gave none, `who` its principal)
 * publish `topic` at `qos` / `retain`? The verdict of the same authorizer
 * chain as for that client's own PUBLISH: below 0x80 allows. */
uint8_t broker_authorize_publish(broker *b, mqtt_bytes client_id, const mqtt_bytes *username,
                                 const struct principal *who, mqtt_bytes topic, uint8_t qos, bool retain);
/* For RPC-style services (the state store): may the reply to a request of
 * this client go to its Response Topic? The reply counts as a PUBLISH by
 * the requester (QoS 1, no retain), so a client cannot make a service
 * write where it may not write itself; a topic starting with '$' is never
 * a valid Response Topic (those are the server's, MQTT 4.7.2). Returns
 * MQTT_RC_SUCCESS or the denial (MQTT_RC_NOT_AUTHORIZED for '$'). */
uint8_t broker_authorize_response(broker *b, mqtt_bytes client_id, const mqtt_bytes *username,
                                  const struct principal *who, mqtt_bytes response_topic);

/* --- authentication ----------------------------------------------------------
 *
 * The authenticator decides every CONNECT, after the client identifier is
 * settled (a server-assigned one included) and before any session is
 * touched. On success it gives the connection's principal, which the
 * broker owns from then on (freed through its broker_principal_ops when
 * the connection ends) and
 * hands to authorizers (broker_auth_request.who) and publish hooks.
 *
 * It may decide at once (fill `out`, return BROKER_AUTHN_DONE) or later
 * (return BROKER_AUTHN_PENDING, then call broker_authn_complete with the
 * request's token from the loop thread, outside any broker call: a slow
 * password hash runs on a worker thread meanwhile). While a CONNECT is
 * pending, the connection's reads are paused and nothing of it is
 * processed; input that already arrived waits and is processed after the
 * CONNACK. A connection that closes (or times out) while pending is simply
 * gone: completing its token later is harmless and frees the principal.
 * Tokens are never reused.
 *
 * On failure the broker sends CONNACK with `reason` (v5: 0x86 bad user
 * name or password, 0x87 not authorized, 0x9F connection rate exceeded;
 * v3.1.1 gets the mapped return code) after `delay_ms`, then closes. The
 * delay runs on a timer: the loop never blocks; input arriving meanwhile
 * is ignored.
 *
 * With no authenticator everyone is accepted as anonymous. An anonymous
 * connection's principal holds just the client id and user name (method
 * "anonymous"); the broker makes it itself, so an authenticator accepting
 * a client as anonymous leaves `who` NULL. A v5 CONNECT with
 * an Authentication Method is refused with 0x8C before the authenticator
 * runs: enhanced authentication is not supported. */
typedef struct broker_authn_request {
    mqtt_bytes client_id;
    const mqtt_bytes *username;      /* NULL when absent */
    const mqtt_bytes *password;      /* NULL when absent; never log it */
    const char *peer_ip;             /* the peer's address without port */
    unsigned listener;               /* net_conn_listener_index */
    const struct x509_st *peer_cert; /* verified TLS client certificate or NULL */
    uint8_t version;                 /* MQTT_V311 or MQTT_V5 */
    uint64_t token;                  /* names this CONNECT in broker_authn_complete */
} broker_authn_request;

typedef struct broker_authn_result {
    uint8_t reason;        /* MQTT_RC_SUCCESS or a CONNACK reason >= 0x80 */
    uint32_t delay_ms;     /* failure only: hold the CONNACK this long */
    struct principal *who; /* success only: ownership passes to the broker; NULL = anonymous */
} broker_authn_result;

typedef enum broker_authn_status { BROKER_AUTHN_DONE, BROKER_AUTHN_PENDING } broker_authn_status;

/* Slices in `r` are valid only during the call; copy what a later
 * completion needs. `out` is read only when the call returns DONE. */
typedef broker_authn_status (*broker_authenticate_fn)(void *ctx, const broker_authn_request *r,
                                                      broker_authn_result *out);
/* Install (fn != NULL) or remove the authenticator. Pending CONNECTs of a
 * replaced authenticator still complete through their tokens. */
void broker_set_authenticator(broker *b, broker_authenticate_fn fn, void *ctx);
/* The decision on a CONNECT the authenticator left pending. Takes
 * res->who in every case (freed if the connection is gone or refused). */
void broker_authn_complete(broker *b, uint64_t token, const broker_authn_result *res);
/* The loop the broker runs on (for authenticators queueing work). */
uv_loop_t *broker_loop(const broker *b);

/* --- re-authorization ------------------------------------------------------
 *
 * After the authorizers changed their answers (an authorization policy
 * reload): re-run them over every subscription of every session, connected
 * or offline (under the principal of the connection that left it), and
 * remove the denied ones (silently; the connections stay up); then drop
 * the messages queued for each session (offline: also those sent but not
 * acknowledged) on topics it may no longer receive (BROKER_ACTION_RECEIVE).
 * A session resumed by a connection is checked the same way, under that
 * connection's principal, before anything is sent to it. Returns the
 * number of subscriptions removed. */
uint32_t broker_recheck_subscriptions(broker *b);

/* Principals cost memory on every connection, and with authorization
 * disabled nothing looks at them. So by default an anonymous connection
 * has none: `who` is NULL wherever the broker hands it out, standing for
 * the principal it would have (its client id and user name, method
 * "anonymous"). A component that reads
 * principals (authorization rules) turns this on: from then on every
 * connection has one, the connected ones at once. */
void broker_require_principals(broker *b, bool on);

/* The principal of the connection currently holding `client_id`, or NULL
 * if none is connected (or it is anonymous while none is required).
 * Valid until that connection ends. */
const struct principal *broker_client_principal(const broker *b, mqtt_bytes client_id);

#endif
