/* Cross-node publish/subscribe (docs/cluster.md, "Routing"): this node's
 * subscriptions announced to the other nodes, messages of local sources
 * forwarded to the nodes whose subscriptions match them (once per node,
 * on the link this node dialed, so in publish order), messages from other
 * nodes handed to the local broker (broker_cluster_route_remote, never
 * forwarded again), and $share groups balanced across the nodes.
 *
 *   main ── cluster_route_new(broker, cluster_node) ... cluster_route_close
 *        (after broker_shutdown, before cluster_node_close) ── loop dry ── free
 *
 * Owns its interest table and counters; borrows the broker and the node.
 * Loop thread only. */
#ifndef MQS_SERVER_CLUSTER_ROUTE_H
#define MQS_SERVER_CLUSTER_ROUTE_H

#include <stdint.h>

#include "broker/broker.h"
#include "server/cluster_node.h"

typedef struct cluster_route cluster_route;

/* max_filters: config cluster.route_max_filters. Registers the ROUTE frame
 * types with the node and installs the broker's cluster hooks. */
cluster_route *cluster_route_new(uv_loop_t *loop, broker *b, cluster_node *cn, uint32_t max_filters);
/* Node-to-node figures in /metrics (mqstated_cluster_route_*). gauges
 * must outlive the route. */
struct ops_gauges;
void cluster_route_metrics(cluster_route *r, struct ops_gauges *g);
/* Remove the broker's hooks and stop timers (asynchronous close). */
void cluster_route_close(cluster_route *r);
/* After the loop ran dry. NULL is fine. */
void cluster_route_free(cluster_route *r);

#endif
