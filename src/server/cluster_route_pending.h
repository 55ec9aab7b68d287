/* QoS 1/2 messages forwarded to other nodes and not yet taken by all of
 * them (docs/cluster.md, "Routing": acknowledgement across nodes). Each
 * is a remote promise numbered 1, 2, ... (broker_cluster.h): resolved
 * when every node it went to acknowledged it, or when it failed (a node
 * lost, a send refused, no acknowledgement before its deadline), in which
 * case its publisher is named to the caller, who disconnects it before
 * the promise counts as resolved (the broker then drops its held
 * acknowledgement). `kept` is the highest number below which everything
 * is resolved: the broker releases held output up to it.
 *
 * Nodes are named by a small index (< 32) the caller assigns. Bound: the
 * caller's: it reads route_pending_bytes and dooms what goes beyond.
 * Pure: no I/O, single-threaded. */
#ifndef MQS_SERVER_CLUSTER_ROUTE_PENDING_H
#define MQS_SERVER_CLUSTER_ROUTE_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/packet.h"

#define ROUTE_PENDING_NODES 32

typedef struct route_pending route_pending;

route_pending *route_pending_new(void);
void route_pending_free(route_pending *rp);

/* A new promise for a message of client_id (copied) sent to the nodes in
 * `waiting` (bit i: node index i), failing at `deadline` (ms, caller's
 * clock; waiting != 0). Returns its number. */
uint64_t route_pending_add(route_pending *rp, mqtt_bytes client_id, uint32_t waiting, uint64_t deadline);
/* The message could not be sent to node idx: it fails (at the next
 * route_pending_fail_doomed), whatever the other nodes answer. */
void route_pending_doom(route_pending *rp, uint64_t seq);
/* Node idx took promise seq (unknown or resolved numbers are ignored). */
void route_pending_ack(route_pending *rp, uint64_t seq, unsigned idx);

/* Fail, calling fn with each one's client id (valid during the call):
 * the unresolved promises waiting on node idx / past their deadline /
 * doomed. Each returns how many failed. */
typedef void (*route_pending_fail_fn)(void *ctx, mqtt_bytes client_id, uint64_t seq);
size_t route_pending_fail_node(route_pending *rp, unsigned idx, route_pending_fail_fn fn, void *ctx);
size_t route_pending_expire(route_pending *rp, uint64_t now, route_pending_fail_fn fn, void *ctx);
size_t route_pending_fail_doomed(route_pending *rp, route_pending_fail_fn fn, void *ctx);

/* Every promise <= this is resolved. */
uint64_t route_pending_kept(const route_pending *rp);
/* Unresolved promises and the bytes held for them. */
size_t route_pending_count(const route_pending *rp);
size_t route_pending_bytes(const route_pending *rp);
bool route_pending_has_doomed(const route_pending *rp);

#endif
