/* Request de-duplication table: an open-addressing table of (hash,
 * entry) slots for lookups plus a list in insertion order for eviction and
 * expiry reclamation.
 *
 * Invariants: every entry is in exactly one slot and in the list; slots
 * use linear probing with no tombstones (removal shifts later slots of the
 * probe run back), so a lookup stops at the first empty slot; nslots is 0
 * or a power of two and count <= nslots / 2; c->bytes is the sum of the
 * entries' costs; count <= max_entries and bytes <= max_bytes after every
 * put.
 *
 * Why this shape: every mutation request costs a lookup, and at the
 * default bound the cache is full under load, so every put also evicts
 * the oldest entry. The entries (a few hundred bytes each, tens of MB in
 * all) are cold; chained buckets cost a cache miss per chain link on
 * every lookup and removal. Slots keep the hash next to the pointer, so a
 * miss usually touches one cache line of the slot array and no entry, and
 * a removal finds its slot by pointer without reading other entries. The
 * hash is computed once per request: apply's put right after the bridge's missed
 * get reuses that get's hash (see `hash_key`), and eviction uses the
 * stored one. One allocation per entry, recycled: see `spare`. */
#include "store/dedup.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store/dedup_impl.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/siphash.h"

#define MIN_SLOTS 16

dedup *dedup_new(size_t max_entries, size_t max_bytes)
{
    dedup *c = xcalloc(1, sizeof *c);
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    siphash_key_random(c->seed);
    return c;
}

void dedup_free(dedup *c)
{
    if (!c) return;
    assert(dedup__check(c));
    dd_entry *e = c->oldest;
    while (e) {
        dd_entry *next = e->next;
        free(e);
        e = next;
    }
    free(c->spare);
    free(c->slots);
    buf_free(&c->key);
    free(c);
}

size_t dedup_count(const dedup *c) { return c->count; }
size_t dedup_bytes(const dedup *c) { return c->bytes; }

static void append_part(buf *b, dedup_slice s)
{
    uint32_t n = (uint32_t)s.len;
    buf_append(b, &n, sizeof n);
    if (s.len) buf_append(b, s.data, s.len);
}

/* Does c->key hold the encoding of k? Compared part by part, without
 * encoding k: the same key comes back two or three times per request
 * (the bridge's lookup, apply's repeat check, the put). */
static bool key_is_current(const dedup *c, const dedup_key *k)
{
    const buf *b = &c->key;
    if (!c->key_valid || b->len != 4 + k->client_id.len + 4 + k->correlation.len + sizeof k->digest) return false;
    const uint8_t *p = b->data;
    uint32_t n;
    memcpy(&n, p, 4);
    if (n != k->client_id.len || (n && memcmp(p + 4, k->client_id.data, n) != 0)) return false;
    p += 4 + n;
    memcpy(&n, p, 4);
    if (n != k->correlation.len || (n && memcmp(p + 4, k->correlation.data, n) != 0)) return false;
    p += 4 + n;
    return memcmp(p, &k->digest, sizeof k->digest) == 0;
}

/* Length-prefixed parts, so ("ab","c") and ("a","bc") are distinct keys.
 * Leaves the encoded key in c->key (what lookup compares and store_entry
 * copies) and returns its hash; hashes only when the key changed. */
static uint64_t hash_key(dedup *c, const dedup_key *k)
{
    if (key_is_current(c, k)) return c->key_hash;
    buf *s = &c->key;
    s->len = 0;
    append_part(s, k->client_id);
    append_part(s, k->correlation);
    buf_append(s, &k->digest, sizeof k->digest);
    c->key_hash = siphash24(s->data, s->len, c->seed);
    c->key_valid = true;
    return c->key_hash;
}

static dd_entry *lookup(dedup *c, uint64_t hash)
{
    if (c->count == 0) return NULL;
    const uint8_t *key = c->key.data;
    size_t klen = c->key.len, mask = c->nslots - 1;
    for (size_t i = hash & mask; c->slots[i].e; i = (i + 1) & mask) {
        const dd_slot *sl = &c->slots[i];
        if (sl->hash == hash && sl->e->klen == klen && memcmp(sl->e->data, key, klen) == 0) return sl->e;
    }
    return NULL;
}

static void slot_insert(dd_slot *slots, size_t nslots, uint64_t hash, dd_entry *e)
{
    size_t mask = nslots - 1, i = hash & mask;
    while (slots[i].e) i = (i + 1) & mask;
    slots[i] = (dd_slot){hash, e};
}

static void resize(dedup *c, size_t nslots)
{
    dd_slot *slots = xcalloc(nslots, sizeof *slots);
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i].e) slot_insert(slots, nslots, c->slots[i].hash, c->slots[i].e);
    free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    assert(dedup__check(c)); /* O(n), as the resize itself */
}

/* Load factor at most 1/2 after the insert (short probe runs); shrink when
 * an eighth full so memory follows the live count after a burst. */
static void resize_for_insert(dedup *c)
{
    size_t want = c->nslots ? c->nslots : MIN_SLOTS;
    while ((c->count + 1) * 2 > want) want *= 2;
    while (want > MIN_SLOTS && (c->count + 1) * 8 < want) want /= 2;
    if (want != c->nslots) resize(c, want);
}

/* Empty slot `hole` and move back every later slot of its probe run whose
 * home is not strictly inside (hole, slot], so no lookup meets a gap
 * before its entry (linear-probing deletion without tombstones). */
static void slot_remove(dedup *c, const dd_entry *e)
{
    size_t mask = c->nslots - 1, hole = e->hash & mask;
    while (c->slots[hole].e != e) hole = (hole + 1) & mask;
    for (size_t i = (hole + 1) & mask; c->slots[i].e; i = (i + 1) & mask) {
        size_t home = c->slots[i].hash & mask;
        bool stays = hole < i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (stays) continue;
        c->slots[hole] = c->slots[i];
        hole = i;
    }
    c->slots[hole] = (dd_slot){0, NULL};
}

static void unlink_entry(dedup *c, dd_entry *e)
{
    if (e->prev) e->prev->next = e->next;
    else c->oldest = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->newest = e->prev;
}

static void remove_entry(dedup *c, dd_entry *e)
{
    slot_remove(c, e);
    unlink_entry(c, e);
    c->bytes -= e->cost;
    c->count--;
    free(c->spare);
    c->spare = e;
    assert(dedup__check_ends(c));
}

/* A block for `len` data bytes: the spare when it fits (the common case,
 * an entry of the same shape was just evicted), else a new one. A fit
 * wastes at most a quarter of `len` plus the per-entry overhead, so memory
 * stays within a small factor of the accounted bytes however entry sizes
 * mix (a large block never ends up holding a small entry). A spare that
 * does not fit is dropped so it does not linger. */
static dd_entry *entry_alloc(dedup *c, size_t len)
{
    dd_entry *e = c->spare;
    c->spare = NULL;
    if (e && e->cap >= len && e->cap - len <= len / 4 + DEDUP_ENTRY_OVERHEAD) return e;
    free(e);
    e = xmalloc(sizeof *e + len);
    e->cap = len;
    return e;
}

/* Under load the cache is full and every put evicts the oldest entry, a
 * cold entry whose slot is a cold line of the slot array. Fetching them
 * ahead lets those misses overlap with the request's own work instead of
 * stalling the put: the eviction prefetches the next victim's header
 * (see make_room), and each get prefetches that victim's slot, whose home
 * the now cached header tells. */
static void prefetch_victim_slot(const dedup *c)
{
    if (c->oldest) __builtin_prefetch(&c->slots[c->oldest->hash & (c->nslots - 1)], 0);
}

void dedup_hint(dedup *c, const dedup_key *k, uint64_t hash)
{
    if (key_is_current(c, k)) return;
    buf *s = &c->key;
    s->len = 0;
    append_part(s, k->client_id);
    append_part(s, k->correlation);
    buf_append(s, &k->digest, sizeof k->digest);
    assert(hash == siphash24(s->data, s->len, c->seed)); /* a hint from another key or table would lose entries */
    c->key_hash = hash;
    c->key_valid = true;
}

uint64_t dedup_prefetch(dedup *c, const dedup_key *k)
{
    uint64_t hash = hash_key(c, k);
    if (c->count == 0) return hash;
    __builtin_prefetch(&c->slots[hash & (c->nslots - 1)], 0);
    prefetch_victim_slot(c);
    return hash;
}

bool dedup_get(dedup *c, const dedup_key *k, uint64_t now_ms, dedup_slice *meta, dedup_slice *payload)
{
    if (c->count == 0) return false;
    prefetch_victim_slot(c);
    dd_entry *e = lookup(c, hash_key(c, k));
    if (!e || e->expires_at <= now_ms) return false;
    *meta = (dedup_slice){e->data + e->klen, e->mlen};
    *payload = (dedup_slice){e->data + e->klen + e->mlen, e->plen};
    return true;
}

/* Make room for one more entry of `cost`: expired entries at the old end
 * first, then the oldest live ones. */
static void make_room(dedup *c, size_t cost, uint64_t now_ms)
{
    while (c->oldest && c->oldest->expires_at <= now_ms) remove_entry(c, c->oldest);
    while (c->oldest && (c->count + 1 > c->max_entries || c->bytes + cost > c->max_bytes)) remove_entry(c, c->oldest);
    if (c->oldest) __builtin_prefetch(c->oldest, 0); /* the next put's victim */
}

static void insert_entry(dedup *c, dd_entry *e)
{
    resize_for_insert(c);
    slot_insert(c->slots, c->nslots, e->hash, e);
    e->next = NULL;
    e->prev = c->newest;
    if (c->newest) c->newest->next = e;
    else c->oldest = e;
    c->newest = e;
    c->count++;
    c->bytes += e->cost;
    assert(dedup__check_entry(c, e) && dedup__check_ends(c));
}

/* Insert the key in c->key (hash `hash`) as the newest entry; room
 * has been made. */
static void store_entry(dedup *c, uint64_t hash, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    size_t klen = c->key.len;
    dd_entry *e = entry_alloc(c, klen + meta.len + payload.len);
    e->hash = hash;
    e->expires_at = expires_at_ms;
    e->cost = klen + meta.len + payload.len + DEDUP_ENTRY_OVERHEAD;
    e->klen = klen;
    e->mlen = meta.len;
    e->plen = payload.len;
    memcpy(e->data, c->key.data, klen);
    if (meta.len) memcpy(e->data + klen, meta.data, meta.len);
    if (payload.len) memcpy(e->data + klen + meta.len, payload.data, payload.len);
    insert_entry(c, e);
}

bool dedup_put(dedup *c, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t now_ms,
               uint64_t expires_at_ms)
{
    uint64_t hash = hash_key(c, k);
    size_t klen = c->key.len;
    dd_entry *old = lookup(c, hash);
    if (old) remove_entry(c, old);
    size_t cost = klen + meta.len + payload.len + DEDUP_ENTRY_OVERHEAD;
    if (cost > c->max_bytes / 8 || expires_at_ms <= now_ms) return false;
    make_room(c, cost, now_ms);
    store_entry(c, hash, meta, payload, expires_at_ms);
    return true;
}

/* The inverse of hash_key's encoding (the entry's own bytes, so valid). */
static dedup_key entry_key(const dd_entry *e)
{
    dedup_key k;
    uint32_t n;
    const uint8_t *p = e->data;
    memcpy(&n, p, sizeof n);
    k.client_id = (dedup_slice){p + sizeof n, n};
    p += sizeof n + n;
    memcpy(&n, p, sizeof n);
    k.correlation = (dedup_slice){p + sizeof n, n};
    p += sizeof n + n;
    memcpy(&k.digest, p, sizeof k.digest);
    assert(p + sizeof k.digest == e->data + e->klen);
    return k;
}

void dedup_foreach(const dedup *c, dedup_foreach_fn fn, void *ctx)
{
    for (const dd_entry *e = c->oldest; e; e = e->next) {
        dedup_key k = entry_key(e);
        fn(ctx, &k, (dedup_slice){e->data + e->klen, e->mlen}, (dedup_slice){e->data + e->klen + e->mlen, e->plen},
           e->expires_at);
    }
}

bool dedup_restore(dedup *c, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    uint64_t hash = hash_key(c, k);
    if (expires_at_ms == 0 || lookup(c, hash)) return false;
    size_t klen = c->key.len, cost = klen + meta.len + payload.len + DEDUP_ENTRY_OVERHEAD;
    if (cost > c->max_bytes / 8) return true;
    make_room(c, cost, 0); /* now 0: evicts for the bounds only, never for expiry */
    store_entry(c, hash, meta, payload, expires_at_ms);
    return true;
}

#ifndef NDEBUG
/* The slot holding e, reached by probing from its home; nslots when a
 * probe meets an empty slot first (a lookup would miss e). */
static size_t slot_of(const dedup *c, const dd_entry *e)
{
    if (c->nslots == 0) return 0;
    size_t mask = c->nslots - 1, i = e->hash & mask;
    for (size_t n = 0; n < c->nslots && c->slots[i].e; n++, i = (i + 1) & mask)
        if (c->slots[i].e == e) return i;
    return c->nslots;
}

bool dedup__check_entry(const dedup *c, const dd_entry *e)
{
    size_t i = slot_of(c, e);
    if (i >= c->nslots || c->slots[i].hash != e->hash) return false;
    size_t len = e->klen + e->mlen + e->plen;
    return e->cap >= len && e->cost == len + DEDUP_ENTRY_OVERHEAD;
}

bool dedup__check_ends(const dedup *c)
{
    if ((c->oldest == NULL) != (c->count == 0) || (c->newest == NULL) != (c->count == 0)) return false;
    if (c->oldest && (c->oldest->prev || c->newest->next)) return false;
    return c->count <= c->nslots / 2;
}

bool dedup__check(const dedup *c)
{
    if (c->nslots & (c->nslots - 1) || (c->nslots != 0) != (c->slots != NULL)) return false;
    if (!dedup__check_ends(c)) return false;
    size_t used = 0;
    for (size_t i = 0; i < c->nslots; i++) used += c->slots[i].e != NULL;
    size_t n = 0, bytes = 0;
    for (const dd_entry *e = c->oldest, *prev = NULL; e; prev = e, e = e->next, n++) {
        if (n == c->count || e->prev != prev || e == c->spare || !dedup__check_entry(c, e)) return false;
        if (!e->next && e != c->newest) return false;
        bytes += e->cost;
    }
    return n == c->count && used == c->count && bytes == c->bytes && c->count <= c->max_entries &&
           c->bytes <= c->max_bytes;
}
#endif
