/* The interest of every node of a cluster (docs/cluster.md, "Routing"):
 * which topic filters each node's sessions subscribe to, and the shared
 * groups with their member count per node; asked "which nodes want this
 * topic" once per routed message.
 *
 * A node's set is a map from the filter as subscribed ("a/+" or
 * "$share/g/a/+") to a count: for a plain filter any count > 0 means
 * "subscribed" (the local node keeps its reference count there); for a
 * shared one the count is the node's members of that group.
 *
 * Matching reuses the broker's subscription tree (broker/topic_tree.h: the
 * same '+', '#', '$'-topic and $share rules as local routing): each node
 * is the owner of its plain filters, each (group, filter) is one owner
 * whose members are nodes. So a topic matches exactly the nodes a local
 * broker with those subscriptions would deliver to.
 *
 * Shared groups: each match picks one node per matching group, weighted
 * by the member counts (smooth weighted round robin: over any window of
 * messages a node gets its share of them within one message), so a group
 * with 2 members on node 1 and 1 on node 3 sends node 1 two messages in
 * three.
 *
 * Bound: a node holds at most max_filters entries; a set that would grow
 * beyond it marks the node as "wants everything" (cluster_interest_set
 * returns false): every topic matches it from then on, until its set is
 * replaced (cluster_interest_reset). Pure: no I/O, single-threaded. */
#ifndef MQS_SERVER_CLUSTER_INTEREST_H
#define MQS_SERVER_CLUSTER_INTEREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/packet.h"

typedef struct cluster_interest cluster_interest;

/* `self`: the node whose entries are not bounded (this node: its own
 * subscriptions are bounded by the broker, and must be counted exactly). */
cluster_interest *cluster_interest_new(size_t max_filters, uint64_t self);
void cluster_interest_free(cluster_interest *ci);

/* Set node's count for `filter` (as subscribed, valid per
 * mqtt_filter_valid); 0 removes it. Returns false when the node is over
 * its bound (the entry is not stored; the node now wants everything). */
bool cluster_interest_set(cluster_interest *ci, uint64_t node, mqtt_bytes filter, uint32_t count);
/* node's count for filter (0: none). */
uint32_t cluster_interest_get(const cluster_interest *ci, uint64_t node, mqtt_bytes filter);
/* Forget everything of node (its link went down, or a full set follows). */
void cluster_interest_reset(cluster_interest *ci, uint64_t node);
/* Mark node as wanting every topic (its set overflowed, on its side). */
void cluster_interest_set_all(cluster_interest *ci, uint64_t node);
/* Entries held for node, and whether it wants everything. */
size_t cluster_interest_count(const cluster_interest *ci, uint64_t node);
bool cluster_interest_wants_all(const cluster_interest *ci, uint64_t node);

/* For every node with a matching plain filter (or wanting everything):
 * node_fn once per node, in no particular order. For every matching
 * shared group: share_fn once, with the node picked for this message
 * (group and filter valid during the call). Either callback may be NULL
 * (shared groups then keep their turn). */
typedef void (*cluster_interest_node_fn)(void *ctx, uint64_t node);
typedef void (*cluster_interest_share_fn)(void *ctx, uint64_t node, mqtt_bytes group, mqtt_bytes filter);
void cluster_interest_match(cluster_interest *ci, mqtt_bytes topic, cluster_interest_node_fn node_fn,
                            cluster_interest_share_fn share_fn, void *ctx);

/* Call fn for each of node's entries (for sending a full set). */
typedef void (*cluster_interest_each_fn)(void *ctx, mqtt_bytes filter, uint32_t count);
void cluster_interest_each(cluster_interest *ci, uint64_t node, cluster_interest_each_fn fn, void *ctx);

#endif
