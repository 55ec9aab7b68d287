/* The subscriptions held at one node of the subscription tree: a list of
 * (owner, options) for plain subscriptions, and share groups, each with
 * its own member list and round-robin cursor. Private to topic_tree.c. */
#ifndef MQS_BROKER_TOPIC_SUBS_H
#define MQS_BROKER_TOPIC_SUBS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/topic_tree.h"

typedef struct sub_entry {
    void *owner;
    sub_options opts;
} sub_entry;

/* Owners are unique within a list. Order is not preserved on removal.
 * Lists that grow long (a "broadcast" filter with thousands of sessions)
 * get an owner -> position index so subscribe/unsubscribe stay O(1). */
typedef struct sub_list {
    sub_entry *v;
    uint32_t n;
    uint32_t cap;
    uint32_t *index;    /* NULL, or open-addressed positions + 1 (0 = empty) */
    uint32_t index_cap; /* power of two, > 2 * n */
} sub_list;

typedef struct share_group {
    uint8_t *name; /* owned */
    uint32_t name_len;
    uint32_t next;    /* round-robin cursor; < members.n */
    sub_list members; /* never empty: an empty group is removed */
} share_group;

typedef struct share_set {
    share_group *v;
    uint32_t n;
    uint32_t cap;
} share_set;

/* Add or replace; returns true when `owner` was not in the list. */
bool topic_subs_list_set(sub_list *l, void *owner, const sub_options *opts);
/* Returns true when `owner` was in the list. */
bool topic_subs_list_remove(sub_list *l, void *owner);
void topic_subs_list_free(sub_list *l);

bool topic_subs_share_set_add(share_set *s, mqtt_bytes group, void *owner, const sub_options *opts);
bool topic_subs_share_set_remove(share_set *s, mqtt_bytes group, void *owner);
/* The member of `g` to deliver to next; advances the cursor. */
const sub_entry *topic_subs_share_group_pick(share_group *g, topic_tree_eligible eligible, void *ctx);
void topic_subs_share_set_free(share_set *s);

#endif
