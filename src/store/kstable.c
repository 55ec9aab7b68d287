#include "store/kstable.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define MIN_BUCKETS 16
/* Buckets visited per moved bucket before a rehash step gives up, so a
 * step over a sparse table stays bounded (as in Redis). */
#define EMPTY_VISITS 10

void kstable_init(kstable *t)
{
    memset(t, 0, sizeof *t);
    t->rehash_idx = KSTABLE_NOT_REHASHING;
    siphash_key_random(t->seed);
}

void kstable_free(kstable *t, void (*free_entry)(void *ctx, ks_entry *e), void *ctx)
{
    assert(kstable__check(t));
    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < t->size[i]; j++) {
            ks_entry *e = t->b[i][j];
            while (e) {
                ks_entry *next = e->next;
                free_entry(ctx, e);
                e = next;
            }
        }
        free(t->b[i]);
        t->b[i] = NULL;
        t->size[i] = 0;
    }
    t->used = 0;
    t->rehash_idx = KSTABLE_NOT_REHASHING;
}

static uint64_t hash_of(const kstable *t, const uint8_t *key, size_t klen)
{
    if (t->hint_len && klen == t->hint_len && memcmp(key, t->hint_key, klen) == 0) return t->hint_hash;
    return siphash24(key, klen, t->seed);
}

ks_entry **kstable_find(const kstable *t, const uint8_t *key, size_t klen)
{
    if (t->used == 0) return NULL;
    uint64_t h = hash_of(t, key, klen);
    for (int i = 0; i < 2 && t->size[i]; i++) {
        ks_entry **link = &t->b[i][h & (t->size[i] - 1)];
        for (; *link; link = &(*link)->next) {
            const ks_entry *e = *link;
            if (e->klen == klen && memcmp(ks_entry_key(e), key, klen) == 0) return link;
        }
    }
    return NULL;
}

void kstable_hint(kstable *t, const uint8_t *key, size_t klen, uint64_t hash)
{
    assert(hash == siphash24(key, klen, t->seed)); /* a hint from another key or table would lose entries */
    if (klen > KSTABLE_HINT_MAX) return;
    memcpy(t->hint_key, key, klen);
    t->hint_len = (uint32_t)klen;
    t->hint_hash = hash;
}

uint64_t kstable_prefetch(kstable *t, const uint8_t *key, size_t klen)
{
    bool again = t->hint_len && klen == t->hint_len && memcmp(key, t->hint_key, klen) == 0;
    uint64_t h = again ? t->hint_hash : siphash24(key, klen, t->seed);
    if (!again) {
        t->hint_len = 0;
        if (klen <= KSTABLE_HINT_MAX) {
            memcpy(t->hint_key, key, klen);
            t->hint_len = (uint32_t)klen;
            t->hint_hash = h;
        }
    }
    if (t->used == 0) return h;
    for (int i = 0; i < 2 && t->size[i]; i++) {
        ks_entry *const *slot = &t->b[i][h & (t->size[i] - 1)];
        if (!again) { /* first call: only start loading the bucket (reading it now would stall) */
            __builtin_prefetch(slot);
        } else if (*slot) { /* second: the bucket is in cache by now; start on its first entry */
            __builtin_prefetch(*slot);
        }
    }
    return h;
}

static size_t pow2_at_least(size_t n)
{
    size_t s = MIN_BUCKETS;
    while (s < n) s *= 2;
    return s;
}

/* Allocate the target table; entries move in later rehash steps. */
static void resize_start(kstable *t, size_t nbuckets)
{
    if (kstable_rehashing(t) || nbuckets == t->size[0]) return;
    t->b[1] = xcalloc(nbuckets, sizeof *t->b[1]);
    t->size[1] = nbuckets;
    t->rehash_idx = 0;
}

void kstable_reserve(kstable *t, size_t n)
{
    if (t->used != 0 || kstable_rehashing(t) || pow2_at_least(n) <= t->size[0]) return;
    free(t->b[0]);
    t->size[0] = pow2_at_least(n);
    t->b[0] = xcalloc(t->size[0], sizeof *t->b[0]);
    assert(kstable__check_shape(t));
}

static void push(kstable *t, int i, ks_entry *e)
{
    ks_entry **head = &t->b[i][hash_of(t, ks_entry_key(e), e->klen) & (t->size[i] - 1)];
    e->next = *head;
    *head = e;
}

void kstable_insert(kstable *t, ks_entry *e)
{
    if (t->size[0] == 0) {
        t->b[0] = xcalloc(MIN_BUCKETS, sizeof *t->b[0]);
        t->size[0] = MIN_BUCKETS;
    }
    push(t, kstable_rehashing(t) ? 1 : 0, e);
    t->used++;
    /* Grow at load factor 1 to twice the size: the rehash then needs
     * size[0] buckets moved while at most size[0] more inserts can
     * happen before the next growth is due, and each mutation moves at
     * least one bucket. */
    if (t->used > t->size[0]) resize_start(t, pow2_at_least(t->used * 2));
    assert(kstable__check_shape(t));
}

void kstable_unlink(kstable *t, ks_entry **link)
{
    ks_entry *e = *link;
    *link = e->next;
    e->next = NULL;
    t->used--;
    if (t->size[0] > MIN_BUCKETS && t->used * 8 < t->size[0]) resize_start(t, pow2_at_least(t->used * 2));
    assert(kstable__check_shape(t));
}

static void rehash_finish(kstable *t)
{
    free(t->b[0]);
    t->b[0] = t->b[1];
    t->size[0] = t->size[1];
    t->b[1] = NULL;
    t->size[1] = 0;
    t->rehash_idx = KSTABLE_NOT_REHASHING;
}

void kstable_rehash_step(kstable *t, size_t n)
{
    size_t empty_budget = n * EMPTY_VISITS;
    while (n > 0 && kstable_rehashing(t)) {
        if (t->rehash_idx == t->size[0]) {
            rehash_finish(t);
            break;
        }
        ks_entry *e = t->b[0][t->rehash_idx];
        if (!e) {
            t->rehash_idx++;
            if (--empty_budget == 0) break;
            continue;
        }
        t->b[0][t->rehash_idx++] = NULL;
        while (e) {
            ks_entry *next = e->next;
            push(t, 1, e);
            e = next;
        }
        n--;
    }
    if (kstable_rehashing(t) && t->rehash_idx == t->size[0]) rehash_finish(t);
    assert(kstable__check_shape(t));
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

static void visit(ks_entry *e, void (*fn)(void *ctx, const ks_entry *e), void *ctx)
{
    for (; e; e = e->next) fn(ctx, e);
}

/* Increment the high bits of v not covered by mask, in reverse bit
 * order: the cursor then visits every bucket of a table of any size
 * exactly once, and bucket b of a table of size s corresponds to buckets
 * b, b+s, b+2s... of any larger table (and the other way round), which is
 * why a resize between calls cannot make the scan skip an entry. */
static uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

uint64_t kstable_scan(const kstable *t, uint64_t v, void (*fn)(void *ctx, const ks_entry *e), void *ctx)
{
    if (t->used == 0 || t->size[0] == 0) return 0;
    if (!kstable_rehashing(t)) {
        uint64_t m0 = t->size[0] - 1;
        visit(t->b[0][v & m0], fn, ctx);
        return next_cursor(v, m0);
    }
    /* Both tables live: visit the bucket of the smaller one, then every
     * bucket of the larger one that expands from it. */
    int s = t->size[0] <= t->size[1] ? 0 : 1, l = 1 - s;
    uint64_t m0 = t->size[s] - 1, m1 = t->size[l] - 1;
    visit(t->b[s][v & m0], fn, ctx);
    do {
        visit(t->b[l][v & m1], fn, ctx);
        v = next_cursor(v, m1);
    } while (v & (m0 ^ m1));
    return v;
}

size_t kstable_bucket_bytes(const kstable *t) { return (t->size[0] + t->size[1]) * sizeof(ks_entry *); }

#ifndef NDEBUG
static bool pow2_or_zero(size_t n) { return (n & (n - 1)) == 0; }

bool kstable__check_shape(const kstable *t)
{
    if (!pow2_or_zero(t->size[0]) || !pow2_or_zero(t->size[1])) return false;
    if (kstable_rehashing(t) != (t->size[1] != 0)) return false;
    if (kstable_rehashing(t) && t->rehash_idx >= t->size[0]) return false;
    if ((t->size[0] != 0) != (t->b[0] != NULL) || (t->size[1] != 0) != (t->b[1] != NULL)) return false;
    return t->used == 0 || t->size[0] != 0;
}

bool kstable__check(const kstable *t)
{
    if (!kstable__check_shape(t)) return false;
    size_t count = 0;
    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < t->size[i]; j++) {
            if (i == 0 && kstable_rehashing(t) && j < t->rehash_idx && t->b[0][j]) return false;
            for (const ks_entry *e = t->b[i][j]; e; e = e->next, count++)
                if ((hash_of(t, ks_entry_key(e), e->klen) & (t->size[i] - 1)) != j) return false;
        }
    }
    return count == t->used;
}
#endif
