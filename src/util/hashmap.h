/* A hash map from byte-string keys to non-NULL pointers.
 *
 * Keys are COPIED into the map (callers may pass stack or packet buffers);
 * values are borrowed: the map never frees them except through the
 * callback given to hashmap_free. Hashing is SipHash-2-4 with a random
 * per-map key, so client-chosen keys (client ids, store keys) cannot be
 * crafted to collide. Separate chaining: O(1) average get/put/remove.
 *
 * Iteration order is unspecified. While iterating, the entry just returned
 * may be removed; any other modification invalidates the iterator. */
#ifndef MQS_UTIL_HASHMAP_H
#define MQS_UTIL_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hashmap hashmap;

typedef struct hashmap_iter {
    hashmap *map;
    size_t bucket;
    void *next; /* private: the entry the next call returns */
} hashmap_iter;

hashmap *hashmap_new(void);
/* Free the map and its keys; free_value (may be NULL) is called on each value. */
void hashmap_free(hashmap *m, void (*free_value)(void *value));
size_t hashmap_size(const hashmap *m);

/* The value for key, or NULL. */
void *hashmap_get(const hashmap *m, const void *key, size_t klen);
/* Insert or replace. value must not be NULL. Returns the value replaced,
 * or NULL if the key was new. */
void *hashmap_put(hashmap *m, const void *key, size_t klen, void *value);
/* Remove key; returns its value, or NULL if absent. */
void *hashmap_remove(hashmap *m, const void *key, size_t klen);

void hashmap_iter_init(hashmap *m, hashmap_iter *it);
/* Next entry; false when done. *key points into the map (valid until the
 * entry is removed). Any out-parameter may be NULL. */
bool hashmap_iter_next(hashmap_iter *it, const void **key, size_t *klen, void **value);

#endif
