/* The broker: sessions, subscriptions, retained messages, wills and the
 * QoS 1/2 flows, driven by packets decoded from client connections.
 *
 * The server creates one broker per process, hands it every accepted
 * connection (broker_accept, which has the net_accept_cb signature) and
 * the connection callbacks (broker_conn_callbacks). */
#ifndef MQS_BROKER_BROKER_H
#define MQS_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "net/net.h"

/* Server-side limits, all configurable (docs/configuration.md). */
typedef struct broker_limits {
    uint32_t max_packet_size;      /* bytes, both directions; advertised in CONNACK */
    uint16_t receive_max;          /* inbound QoS 1/2 in flight per client (v5 Receive Maximum) */
    uint16_t max_inflight;         /* outbound QoS 1/2 in flight per client (capped by the client's Receive Maximum) */
    uint32_t max_queued;           /* messages queued per session beyond the in-flight window */
    uint16_t max_topic_levels;     /* levels in a topic name or filter */
    uint32_t max_connections;      /* 0 = unlimited */
    uint16_t keepalive_min;        /* seconds; 0 = no lower bound */
    uint16_t keepalive_max;        /* seconds; longer (or 0) requests get Server Keep Alive */
    uint16_t topic_alias_max;      /* inbound aliases a client may use */
    uint32_t max_session_expiry;   /* seconds; 0xFFFFFFFF = never */
    uint32_t max_backlog_bytes;    /* unwritten output per connection before reads of its publishers pause */
} broker_limits;

/* The defaults documented in docs/configuration.md. */
void broker_limits_default(broker_limits *l);

typedef struct broker broker;

broker *broker_new(uv_loop_t *loop, const broker_limits *limits);
/* Disconnect every client (v5: DISCONNECT 0x8B "Server shutting down"),
 * stop timers. The loop must then run until idle before broker_free. */
void broker_shutdown(broker *b);
void broker_free(broker *b);

/* net_accept_cb: `ctx` is the broker. */
void *broker_accept(void *ctx, net_conn *conn);
extern const net_conn_callbacks broker_conn_callbacks;

#endif
