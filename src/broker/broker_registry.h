/* The broker's side of a cluster-wide session registry (docs/cluster.md,
 * "Sessions" and "Wills"; src/server/cluster_session.c is the user).
 *
 * The broker reports, through the hooks, every accepted connection (with
 * its will), every end of one (and whether its will now waits on this
 * node), and every end of such a waiting will (published, cancelled,
 * dropped with its session). Another node's verdicts come back through
 * broker_session_moved (the client id connected elsewhere) and
 * broker_publish_will (the will of a client of a node that died).
 *
 * Everything on the loop thread; slices are valid during the call only.
 * The broker never includes server or cluster code. */
#ifndef MQS_BROKER_BROKER_REGISTRY_H
#define MQS_BROKER_BROKER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"

/* A will as the client sent it in CONNECT: props without Will Delay,
 * Message Expiry, Topic Alias and Subscription Identifier (those that
 * are passed on to subscribers). */
typedef struct broker_will_info {
    mqtt_bytes topic, payload, props;
    uint8_t qos;
    bool retain;
    uint32_t delay;          /* Will Delay Interval, seconds */
    uint32_t message_expiry; /* seconds from publication; 0: none */
} broker_will_info;

typedef struct broker_registry_hooks {
    /* A CONNECT of client_id was accepted (CONNACK 0 sent). `who`: its
     * principal (NULL: anonymous while none is required); `will` NULL
     * without one; session_expiry as negotiated (seconds). */
    void (*connected)(void *ctx, mqtt_bytes client_id, bool clean_start, const mqtt_bytes *username,
                      const struct principal *who, const broker_will_info *will, uint32_t session_expiry);
    /* That connection ended. will_wait_ms > 0: its will now waits that
     * long on this node's session (the earlier of its delay and the
     * session's expiry); 0: no will waits here (none, published at once,
     * or cleared by a normal DISCONNECT). */
    void (*disconnected)(void *ctx, mqtt_bytes client_id, uint64_t will_wait_ms);
    /* A will that waited (will_wait_ms > 0 above) is gone: published,
     * cancelled by a reconnect, or its session ended. */
    void (*will_done)(void *ctx, mqtt_bytes client_id);
    void *ctx;
} broker_registry_hooks;

/* Install (h != NULL, copied) or remove the hooks. */
void broker_set_registry_hooks(broker *b, const broker_registry_hooks *h);

/* Server-assigned client ids name this node ("mqs-<tag>-<hex>", at most
 * 31 bytes), so that no two nodes assign the same one. 0: none (one node). */
void broker_set_node_tag(broker *b, uint32_t tag);

/* client_id connected on another node, later than any connection of it
 * here: its connection here (if any) gets DISCONNECT 0x8E (Session taken
 * over) and its will is published as for a takeover on one node (at once
 * without delay, else held), then the session here ends: a session lives
 * on one node at a time. As on one node (MQTT-3.1.3-9), a held will is
 * cancelled when the new connection continues the session (clean_start
 * false, the same principal `who`), else it is published now. Returns
 * false if no session of that id exists here. */
bool broker_session_moved(broker *b, mqtt_bytes client_id, bool clean_start, const struct principal *who);

/* Publish the will of client_id (a client of another node) as that
 * client's PUBLISH: authorized as one for `who` (the rules are asked
 * now, and a service's hook topic is refused as for a local will), then
 * routed like a local will. Returns MQTT_RC_SUCCESS or the denial. */
uint8_t broker_publish_will(broker *b, mqtt_bytes client_id, const struct principal *who, const broker_will_info *w);

#endif
