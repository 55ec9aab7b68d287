/* Response de-duplication cache: a hash map for lookups plus a list in
 * insertion order for eviction and expiry reclamation.
 *
 * Invariants: every entry is both in `map` (under its encoded key) and in
 * the list; c->bytes is the sum of the entries' costs; count <= max_entries
 * and bytes <= max_bytes after every put. */
#include "store/reply_cache.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/hashmap.h"

typedef struct rc_entry {
    struct rc_entry *prev, *next; /* insertion order, oldest first */
    uint64_t expires_at;
    size_t cost;
    size_t klen, mlen, plen;
    uint8_t data[]; /* encoded key, meta, payload */
} rc_entry;

struct reply_cache {
    hashmap *map;
    rc_entry *oldest, *newest;
    size_t max_entries, max_bytes, bytes;
    buf scratch; /* the encoded key of the current call */
};

reply_cache *reply_cache_new(size_t max_entries, size_t max_bytes)
{
    reply_cache *c = xcalloc(1, sizeof *c);
    c->map = hashmap_new();
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    return c;
}

void reply_cache_free(reply_cache *c)
{
    if (!c) return;
    hashmap_free(c->map, free);
    buf_free(&c->scratch);
    free(c);
}

size_t reply_cache_count(const reply_cache *c) { return hashmap_size(c->map); }
size_t reply_cache_bytes(const reply_cache *c) { return c->bytes; }

static void append_part(buf *b, reply_slice s)
{
    uint32_t n = (uint32_t)s.len;
    buf_append(b, &n, sizeof n);
    if (s.len) buf_append(b, s.data, s.len);
}

/* Length-prefixed parts, so ("ab","c") and ("a","bc") are distinct keys. */
static void encode_key(reply_cache *c, const reply_cache_key *k)
{
    c->scratch.len = 0;
    append_part(&c->scratch, k->client_id);
    append_part(&c->scratch, k->response_topic);
    append_part(&c->scratch, k->correlation);
}

static void unlink_entry(reply_cache *c, rc_entry *e)
{
    if (e->prev) e->prev->next = e->next;
    else c->oldest = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->newest = e->prev;
}

static void remove_entry(reply_cache *c, rc_entry *e)
{
    hashmap_remove(c->map, e->data, e->klen);
    unlink_entry(c, e);
    c->bytes -= e->cost;
    free(e);
}

bool reply_cache_get(reply_cache *c, const reply_cache_key *k, uint64_t now_ms, reply_slice *meta,
                     reply_slice *payload)
{
    encode_key(c, k);
    rc_entry *e = hashmap_get(c->map, c->scratch.data, c->scratch.len);
    if (!e) return false;
    if (e->expires_at <= now_ms) {
        remove_entry(c, e);
        return false;
    }
    *meta = (reply_slice){e->data + e->klen, e->mlen};
    *payload = (reply_slice){e->data + e->klen + e->mlen, e->plen};
    return true;
}

/* Make room for one more entry of `cost`: expired entries at the old end
 * first, then the oldest live ones. */
static void make_room(reply_cache *c, size_t cost, uint64_t now_ms)
{
    while (c->oldest && c->oldest->expires_at <= now_ms) remove_entry(c, c->oldest);
    while (c->oldest && (hashmap_size(c->map) + 1 > c->max_entries || c->bytes + cost > c->max_bytes))
        remove_entry(c, c->oldest);
}

bool reply_cache_put(reply_cache *c, const reply_cache_key *k, reply_slice meta, reply_slice payload,
                     uint64_t now_ms, uint64_t expires_at_ms)
{
    encode_key(c, k);
    size_t klen = c->scratch.len;
    rc_entry *old = hashmap_get(c->map, c->scratch.data, klen);
    if (old) remove_entry(c, old);
    size_t cost = klen + meta.len + payload.len + REPLY_CACHE_ENTRY_OVERHEAD;
    if (cost > c->max_bytes / 8 || expires_at_ms <= now_ms) return false;
    make_room(c, cost, now_ms);
    rc_entry *e = xmalloc(sizeof *e + klen + meta.len + payload.len);
    e->expires_at = expires_at_ms;
    e->cost = cost;
    e->klen = klen;
    e->mlen = meta.len;
    e->plen = payload.len;
    memcpy(e->data, c->scratch.data, klen);
    if (meta.len) memcpy(e->data + klen, meta.data, meta.len);
    if (payload.len) memcpy(e->data + klen + meta.len, payload.data, payload.len);
    e->next = NULL;
    e->prev = c->newest;
    if (c->newest) c->newest->next = e;
    else c->oldest = e;
    c->newest = e;
    hashmap_put(c->map, e->data, klen, e);
    c->bytes += cost;
    return true;
}
