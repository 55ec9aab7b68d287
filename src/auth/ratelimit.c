#include "auth/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hashmap.h"

/* Forget full buckets once this many addresses are tracked. */
#define PRUNE_AT 4096

typedef struct bucket {
    double tokens;
    uint64_t at; /* when `tokens` was computed */
} bucket;

struct ratelimit {
    uint32_t refs;
    hashmap *buckets; /* key -> bucket */
    size_t prune_at;
};

ratelimit *ratelimit_new(void)
{
    ratelimit *r = xcalloc(1, sizeof *r);
    r->refs = 1;
    r->buckets = hashmap_new();
    r->prune_at = PRUNE_AT;
    return r;
}

ratelimit *ratelimit_ref(ratelimit *r)
{
    r->refs++;
    return r;
}

void ratelimit_free(ratelimit *r)
{
    if (!r || --r->refs > 0) return;
    hashmap_free(r->buckets, free);
    free(r);
}

size_t ratelimit_size(const ratelimit *r) { return hashmap_size(r->buckets); }

static double refilled(const bucket *b, uint64_t now, const ratelimit_params *p)
{
    double t = b->tokens + (double)(now - b->at) * p->per_minute / 60000.0;
    return t > p->burst ? p->burst : t;
}

bool ratelimit_exhausted(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p)
{
    if (p->burst == 0) return false;
    bucket *b = hashmap_get(r->buckets, key, strlen(key));
    return b && refilled(b, now_ms, p) < 1.0;
}

static void prune(ratelimit *r, uint64_t now, const ratelimit_params *p)
{
    hashmap_iter it;
    hashmap_iter_init(r->buckets, &it);
    const void *k;
    size_t klen;
    void *v;
    while (hashmap_iter_next(&it, &k, &klen, &v)) {
        if (refilled(v, now, p) < p->burst) continue;
        char copy[64]; /* k lives in the entry being removed */
        if (klen > sizeof copy) continue;
        memcpy(copy, k, klen);
        free(hashmap_remove(r->buckets, copy, klen));
    }
    /* Still big: all of them are failing now; look again when it doubles. */
    size_t n = hashmap_size(r->buckets);
    r->prune_at = n * 2 > PRUNE_AT ? n * 2 : PRUNE_AT;
}

void ratelimit_charge(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p)
{
    if (p->burst == 0) return;
    size_t klen = strlen(key);
    bucket *b = hashmap_get(r->buckets, key, klen);
    if (!b) {
        if (hashmap_size(r->buckets) >= r->prune_at) prune(r, now_ms, p);
        b = xmalloc(sizeof *b);
        b->tokens = p->burst;
        b->at = now_ms;
        hashmap_put(r->buckets, key, klen, b);
    }
    b->tokens = refilled(b, now_ms, p) - 1.0;
    if (b->tokens < 0) b->tokens = 0;
    b->at = now_ms;
}

void ratelimit_refund(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p)
{
    if (p->burst == 0) return;
    bucket *b = hashmap_get(r->buckets, key, strlen(key));
    if (!b) return; /* pruned: already full */
    double t = refilled(b, now_ms, p) + 1.0;
    b->tokens = t > p->burst ? p->burst : t;
    b->at = now_ms;
}
