#include "util/hashmap.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/siphash.h"

/* One allocation per entry: header followed by the key bytes. The full
 * hash is kept so lookups skip most memcmp calls and resizing never
 * rehashes keys. */
typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    size_t klen;
    uint8_t key[];
} entry;

struct hashmap {
    entry **buckets; /* nbuckets is 0 or a power of two */
    size_t nbuckets;
    size_t size;
    uint8_t seed[SIPHASH_KEY_LEN];
};

#define MIN_BUCKETS 8

hashmap *hashmap_new(void)
{
    hashmap *m = xcalloc(1, sizeof *m);
    siphash_key_random(m->seed);
    return m;
}

void hashmap_free(hashmap *m, void (*free_value)(void *value))
{
    if (!m) return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        entry *e = m->buckets[i];
        while (e) {
            entry *next = e->next;
            if (free_value) free_value(e->value);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

size_t hashmap_size(const hashmap *m) { return m->size; }

/* Returns the link that points at the matching entry (or at the NULL that
 * ends the chain), so put and remove can splice without a second walk. */
static entry **find_link(const hashmap *m, uint64_t hash, const void *key, size_t klen)
{
    entry **link = &m->buckets[hash & (m->nbuckets - 1)];
    while (*link) {
        entry *e = *link;
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0) break;
        link = &e->next;
    }
    return link;
}

void *hashmap_get(const hashmap *m, const void *key, size_t klen)
{
    if (m->size == 0) return NULL;
    entry *e = *find_link(m, siphash24(key, klen, m->seed), key, klen);
    return e ? e->value : NULL;
}

static void rehash(hashmap *m, size_t nbuckets)
{
    entry **buckets = xcalloc(nbuckets, sizeof *buckets);
    for (size_t i = 0; i < m->nbuckets; i++) {
        entry *e = m->buckets[i];
        while (e) {
            entry *next = e->next;
            entry **head = &buckets[e->hash & (nbuckets - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->nbuckets = nbuckets;
}

/* Resizing happens only in put (never in remove) so that removing during
 * iteration is safe. Shrinking keeps memory proportional to the live size
 * after mass deletions. */
static void resize_for_insert(hashmap *m)
{
    size_t want = m->nbuckets ? m->nbuckets : MIN_BUCKETS;
    while (m->size + 1 > want) want *= 2;
    while (want > MIN_BUCKETS && (m->size + 1) * 8 < want) want /= 2;
    if (want != m->nbuckets) rehash(m, want);
}

void *hashmap_put(hashmap *m, const void *key, size_t klen, void *value)
{
    assert(value != NULL);
    uint64_t hash = siphash24(key, klen, m->seed);
    if (m->nbuckets) {
        entry *e = *find_link(m, hash, key, klen);
        if (e) {
            void *old = e->value;
            e->value = value;
            return old;
        }
    }
    resize_for_insert(m);
    entry *e = xmalloc(sizeof *e + klen);
    e->hash = hash;
    e->value = value;
    e->klen = klen;
    if (klen) memcpy(e->key, key, klen);
    entry **head = &m->buckets[hash & (m->nbuckets - 1)];
    e->next = *head;
    *head = e;
    m->size++;
    return NULL;
}

void *hashmap_remove(hashmap *m, const void *key, size_t klen)
{
    if (m->size == 0) return NULL;
    entry **link = find_link(m, siphash24(key, klen, m->seed), key, klen);
    entry *e = *link;
    if (!e) return NULL;
    *link = e->next;
    void *value = e->value;
    free(e);
    m->size--;
    return value;
}

void hashmap_iter_init(hashmap *m, hashmap_iter *it)
{
    it->map = m;
    it->bucket = 0;
    it->next = NULL;
}

bool hashmap_iter_next(hashmap_iter *it, const void **key, size_t *klen, void **value)
{
    hashmap *m = it->map;
    entry *e = it->next;
    while (!e && it->bucket < m->nbuckets) e = m->buckets[it->bucket++];
    if (!e) return false;
    /* Remember the successor now so the caller may remove e. */
    it->next = e->next;
    if (key) *key = e->key;
    if (klen) *klen = e->klen;
    if (value) *value = e->value;
    return true;
}
