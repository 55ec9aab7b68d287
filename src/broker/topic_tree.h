/* Subscription tree: topic filters -> subscriptions, with '+', '#', the
 * "$"-topic rule and shared subscriptions ($share/{group}/{filter}).
 *
 * The tree stores subscriptions but does not own the subscribers: `owner`
 * is an opaque pointer (the broker's session), compared by identity.
 * A subscription is identified by (owner, share group, filter): subscribing
 * again with the same triple replaces its options.
 *
 * Matching calls `visit` once per matching non-shared subscription, and
 * once per matching share group with one member chosen by round robin
 * among those for which `eligible` (may be NULL) returns true; if none is
 * eligible, the next member in turn is chosen anyway. De-duplicating
 * overlapping subscriptions of one owner is the caller's job. `visit` and
 * `eligible` must not subscribe or unsubscribe on the tree being matched.
 * Matching allocates nothing. */
#ifndef MQS_BROKER_TOPIC_TREE_H
#define MQS_BROKER_TOPIC_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt/packet.h"

typedef struct topic_tree topic_tree;

typedef struct sub_options {
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
    uint32_t sub_id; /* 0 = none */
} sub_options;

/* What a visit receives. `filter` is the filter without any $share prefix;
 * `group` is empty for a non-shared subscription. */
typedef struct subscription {
    void *owner;
    sub_options opts;
    mqtt_bytes filter;
    mqtt_bytes group;
} subscription;

typedef void (*topic_tree_visit)(void *ctx, const subscription *sub);
typedef bool (*topic_tree_eligible)(void *ctx, void *owner);

topic_tree *topic_tree_new(void);
void topic_tree_free(topic_tree *t);

/* `filter` is what the client sent (possibly "$share/g/f"), already
 * validated with mqtt_filter_valid. Returns true if the subscription is
 * new, false if it replaced an existing one of the same owner. */
bool topic_tree_subscribe(topic_tree *t, mqtt_bytes filter, void *owner, const sub_options *opts);
/* Returns true if a subscription existed and was removed. */
bool topic_tree_unsubscribe(topic_tree *t, mqtt_bytes filter, void *owner);
void topic_tree_match(topic_tree *t, mqtt_bytes topic, topic_tree_visit visit, topic_tree_eligible eligible, void *ctx);
size_t topic_tree_count(const topic_tree *t);
/* A number that changes whenever a subscription is added, replaced or
 * removed (never 0): a cached match result is valid while it stays equal. */
uint64_t topic_tree_generation(const topic_tree *t);
/* Tree nodes held (root excluded): 0 once every subscription is gone.
 * For tests and statistics. */
size_t topic_tree_node_count(const topic_tree *t);

/* Split "$share/group/filter" into group and filter. Returns false (and
 * leaves outputs untouched) when `full` is not a shared subscription. */
bool topic_filter_split_share(mqtt_bytes full, mqtt_bytes *group, mqtt_bytes *filter);
/* Does `filter` (no $share prefix) match topic name `topic`? */
bool topic_filter_matches(mqtt_bytes filter, mqtt_bytes topic);

#endif
