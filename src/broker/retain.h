/* Retained messages: at most one value per topic name, found by topic
 * filter. The store owns one reference to each value and calls `release`
 * when a value is replaced, cleared or the store is freed. Values are
 * opaque here (the broker stores its reference-counted messages). */
#ifndef MQS_BROKER_RETAIN_H
#define MQS_BROKER_RETAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "mqtt/packet.h"

typedef struct retain_store retain_store;

typedef void (*retain_release)(void *value);
/* Return false to stop the walk. */
typedef bool (*retain_visit)(void *ctx, mqtt_bytes topic, void *value);

retain_store *retain_store_new(retain_release release);
void retain_store_free(retain_store *r);
/* Set (value != NULL) or clear (value == NULL) the retained value of topic. */
void retain_store_set(retain_store *r, mqtt_bytes topic, void *value);
void *retain_store_get(retain_store *r, mqtt_bytes topic);
/* Visit every retained value whose topic matches `filter` (no $share
 * prefix), honouring the "$" rule for wildcards at the first level.
 * `visit` must not set or clear values in this store. */
void retain_store_match(retain_store *r, mqtt_bytes filter, retain_visit visit, void *ctx);
/* Visit every retained value, "$" topics included, in no particular
 * order, allocating nothing (a snapshot runs it in a forked child).
 * `visit` must not set or clear values in this store. */
void retain_store_foreach(const retain_store *r, retain_visit visit, void *ctx);
size_t retain_store_count(const retain_store *r);
/* Tree nodes held: 0 once every value is cleared. For tests and stats. */
size_t retain_store_node_count(const retain_store *r);

#endif
