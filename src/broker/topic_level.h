/* Level map: the children of one node of a topic tree (subscriptions or
 * retained messages), keyed by the bytes of one topic level.
 *
 * Open addressing with linear probing over a power-of-two table, hashed
 * with SipHash-2-4 under a per-process random key so that clients cannot
 * pick topic names that all land in one probe run. (util/hashmap is not
 * used: it copies keys and allocates per entry, while a node's children
 * already own their names and most nodes have zero or one child.)
 *
 * The map does not own keys or values: a key must point to bytes that
 * outlive its entry (the child node's own copy of its name), and a value
 * is never NULL (NULL marks an empty slot). A zero-initialised map is a
 * valid empty map; it allocates on first insert and frees its table when
 * it becomes empty again, so an idle leaf costs no table. */
#ifndef MQS_BROKER_TOPIC_LEVEL_H
#define MQS_BROKER_TOPIC_LEVEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct level_slot {
    const uint8_t *key;
    uint32_t len;
    uint32_t hash;
    void *val; /* NULL = empty slot */
} level_slot;

typedef struct level_map {
    level_slot *slots;
    uint32_t count;
    uint32_t cap; /* 0 or a power of two */
} level_map;

/* Split the next level off a topic or filter cursor. `*rest` points at the
 * start of the next level, or is NULL when no level is left ("a/" has two
 * levels, the second empty). Returns the level's length and advances. */
static inline uint32_t topic_level_next(const uint8_t **rest, const uint8_t *end, const uint8_t **level)
{
    const uint8_t *p = *rest;
    const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
    *level = p;
    *rest = slash ? slash + 1 : NULL;
    return (uint32_t)((slash ? slash : end) - p);
}

/* A fresh heap copy of `base` + "/" (when `sep`) + the level `lvl`: the
 * full path of a child node. Never returns NULL, even for an empty path. */
uint8_t *topic_level_path_join(const uint8_t *base, uint32_t base_len, bool sep, const uint8_t *lvl, uint32_t len);

uint32_t topic_level_hash(const uint8_t *p, uint32_t n);

void *topic_level_map_get(const level_map *m, const uint8_t *key, uint32_t len);
/* Insert a key that is not present. */
void topic_level_map_put(level_map *m, const uint8_t *key, uint32_t len, void *val);
/* Remove a key; returns false if it was absent. */
bool topic_level_map_del(level_map *m, const uint8_t *key, uint32_t len);
/* Iterate: start with *pos = 0; returns the next value or NULL at the end.
 * The map must not change during an iteration. */
void *topic_level_map_next(const level_map *m, uint32_t *pos);
/* Position just after `key` for topic_level_map_next, to resume an iteration at
 * the entry following `key` (which must be present). */
uint32_t topic_level_map_pos_after(const level_map *m, const uint8_t *key, uint32_t len);
void topic_level_map_free(level_map *m);

#endif
