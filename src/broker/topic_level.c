/* Level map: see topic_level.h. */
#include "broker/topic_level.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/siphash.h"

/* One process-wide random key: every level map uses it, and tables never
 * outlive the process, so there is nothing to gain from per-map keys. */
static uint8_t level_key[SIPHASH_KEY_LEN];
static pthread_once_t level_key_once = PTHREAD_ONCE_INIT;

static void level_key_init(void) { siphash_key_random(level_key); }

uint32_t topic_level_hash(const uint8_t *p, uint32_t n)
{
    pthread_once(&level_key_once, level_key_init);
    uint64_t h = siphash24(p, n, level_key);
    return (uint32_t)(h ^ (h >> 32));
}

uint8_t *topic_level_path_join(const uint8_t *base, uint32_t base_len, bool sep, const uint8_t *lvl, uint32_t len)
{
    uint8_t *p = xmalloc((size_t)base_len + sep + len + 1);
    if (base_len) memcpy(p, base, base_len);
    if (sep) p[base_len] = '/';
    if (len) memcpy(p + base_len + sep, lvl, len);
    return p;
}

/* --- open addressing table ---------------------------------------------- */

static bool slot_is(const level_slot *s, const uint8_t *key, uint32_t len, uint32_t h)
{
    return s->hash == h && s->len == len && (len == 0 || memcmp(s->key, key, len) == 0);
}

/* Index of `key`, or of the empty slot where it would go. cap > 0 and the
 * table always has an empty slot (load <= 3/4), so the probe ends. */
static uint32_t find_slot(const level_map *m, const uint8_t *key, uint32_t len, uint32_t h)
{
    uint32_t mask = m->cap - 1;
    uint32_t i = h & mask;
    while (m->slots[i].val && !slot_is(&m->slots[i], key, len, h)) i = (i + 1) & mask;
    return i;
}

static void rehash(level_map *m, uint32_t cap)
{
    level_slot *old = m->slots;
    uint32_t old_cap = m->cap;
    m->slots = xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++) {
        if (!old[i].val) continue;
        uint32_t j = old[i].hash & (cap - 1);
        while (m->slots[j].val) j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

/* Maps of at most this many slots (so at most 6 entries at load 3/4) are
 * searched by comparing every key instead of hashing: most levels of real
 * trees have one or a few children (each level below a client id in a
 * response topic has one), and a few length checks and short memcmps cost
 * less than one SipHash. Bounded work, so nothing for crafted keys to
 * exploit. */
#define SCAN_CAP 8

static void *small_map_get(const level_map *m, const uint8_t *key, uint32_t len)
{
    for (uint32_t i = 0; i < m->cap; i++) {
        const level_slot *s = &m->slots[i];
        if (s->val && s->len == len && (len == 0 || memcmp(s->key, key, len) == 0)) return s->val;
    }
    return NULL;
}

void *topic_level_map_get(const level_map *m, const uint8_t *key, uint32_t len)
{
    if (m->count == 0) return NULL;
    if (m->cap <= SCAN_CAP) return small_map_get(m, key, len);
    return m->slots[find_slot(m, key, len, topic_level_hash(key, len))].val;
}

void topic_level_map_put(level_map *m, const uint8_t *key, uint32_t len, void *val)
{
    if ((m->count + 1) * 4 > m->cap * 3) rehash(m, m->cap ? m->cap * 2 : 4);
    uint32_t h = topic_level_hash(key, len);
    uint32_t i = find_slot(m, key, len, h);
    m->slots[i] = (level_slot){.key = key, .len = len, .hash = h, .val = val};
    m->count++;
}

/* Is k (a home slot) cyclically inside (i, j]? Then the entry at j must
 * stay where it is when slot i is emptied. */
static bool home_between(uint32_t i, uint32_t k, uint32_t j) { return i <= j ? (i < k && k <= j) : (i < k || k <= j); }

bool topic_level_map_del(level_map *m, const uint8_t *key, uint32_t len)
{
    if (m->count == 0) return false;
    uint32_t mask = m->cap - 1;
    uint32_t i = find_slot(m, key, len, topic_level_hash(key, len));
    if (!m->slots[i].val) return false;
    /* Backward-shift deletion keeps every probe run gap-free without
     * tombstones, so churn never degrades lookups. */
    for (uint32_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
        if (home_between(i, m->slots[j].hash & mask, j)) continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i] = (level_slot){0};
    if (--m->count == 0) topic_level_map_free(m);
    else if (m->cap > 8 && m->count * 8 < m->cap) rehash(m, m->cap / 2);
    return true;
}

void *topic_level_map_next(const level_map *m, uint32_t *pos)
{
    while (*pos < m->cap) {
        void *v = m->slots[(*pos)++].val;
        if (v) return v;
    }
    return NULL;
}

uint32_t topic_level_map_pos_after(const level_map *m, const uint8_t *key, uint32_t len)
{
    return find_slot(m, key, len, topic_level_hash(key, len)) + 1;
}

void topic_level_map_free(level_map *m)
{
    free(m->slots);
    *m = (level_map){0};
}
