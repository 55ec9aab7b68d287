/* The broker as one of a cluster's nodes (docs/cluster.md, "Routing"):
 * the narrow seam through which the server's routing module
 * (src/server/cluster_route.c) learns this node's subscriptions, forwards
 * messages to other nodes and hands in the messages other nodes forward.
 * The broker knows nothing of nodes or links: it reports through these
 * callbacks (loop thread, during the broker call that causes them).
 *
 * Which messages are forwarded (the `forward` callback): those a client
 * of this node published (PUBLISH, after authorization and any publish
 * hook: a hooked topic, the state store's request topics, is never
 * routed, so never forwarded) and the wills of this node's sessions.
 * Never forwarded: broker_publish (a service's messages: the state store's
 * replies go to the requester, who is on this node; $SYS topics describe
 * this node), broker_deliver_to, and messages that came from another node
 * (broker_cluster_route_remote): so no message crosses a link twice. */
#ifndef MQS_BROKER_BROKER_CLUSTER_H
#define MQS_BROKER_BROKER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"

/* A message being routed, as the forward callback sees it (slices valid
 * during the call). props: the pass-through v5 properties (no topic
 * alias, subscription identifier or message expiry). */
typedef struct broker_cluster_msg {
    mqtt_bytes topic, payload, props;
    uint8_t qos;
    bool retain;
    uint32_t expiry_ms; /* message expiry left, ms (0: none) */
    /* forward only: the publishing client's id (empty for a will), and
     * the remote promise the hook sets for a QoS 1/2 message it
     * forwarded (0: none; see broker_cluster_kept). */
    mqtt_bytes client_id;
    uint64_t promise;
} broker_cluster_msg;

typedef struct broker_cluster_hooks {
    /* A session subscribed to `filter` (as sent: "$share/g/f" for a shared
     * one) for the first time (added) or dropped that subscription. Once
     * per (session, filter): the receiver counts. */
    void (*interest)(void *ctx, mqtt_bytes filter, bool added);
    /* A message of a local source is about to be routed locally (see
     * above). Returns how many nodes it was forwarded to (they count as
     * receivers for the publisher's reason code). m is NULL for a message
     * that stays on this node (a service's, or expired): nothing to
     * forward, and every shared group is served locally. */
    uint32_t (*forward)(void *ctx, broker_cluster_msg *m);
    /* During the local routing that follows forward (or a
     * broker_cluster_route_remote): does this node serve the shared group
     * (group, filter) for the message? The cluster picks one node per
     * group and message. */
    bool (*share_here)(void *ctx, mqtt_bytes group, mqtt_bytes filter);
    void *ctx;
} broker_cluster_hooks;

/* Install the hooks (copied; NULL removes them). interest is called at
 * once for every subscription already held (added). */
void broker_set_cluster(broker *b, const broker_cluster_hooks *h);

/* Remote promises (QoS 1/2 acknowledgement across nodes): the forward
 * hook numbers each QoS 1/2 message it forwarded for a client 1, 2, ...
 * (m->promise); the publisher's output from then on, its PUBACK or PUBREC
 * first, is held until the hook's owner reports every promise <= seq kept
 * (every node took its message, or the publisher was disconnected:
 * broker_disconnect_client drops held output, so a promise that will not
 * be kept is never acknowledged). Works with persistence off or on (the
 * two kinds of promises are independent; output waits for both). */
void broker_cluster_kept(broker *b, uint64_t seq);

/* A message another node forwarded: delivered to this node's matching
 * sessions only (share_here decides the shared groups), never forwarded,
 * never stored as retained (retained messages are replicated separately);
 * the retain flag reaches subscribers that asked for Retain As Published.
 * Returns the number of sessions it was given to; *backlogged tells
 * whether a connected receiver's queue is now at its bound (the caller
 * slows the sending node down, as a local publisher would be paused).
 * m->client_id and m->promise are not used. */
uint32_t broker_cluster_route_remote(broker *b, const broker_cluster_msg *m, bool *backlogged);

#endif
