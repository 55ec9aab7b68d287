#include "pubsub_hist.h"

#include <string.h>

void hist_reset(hist *h) { memset(h, 0, sizeof *h); }

/* Values below 2^HIST_SUB_BITS get an exact bucket each; above, the bucket
 * is (exponent, top HIST_SUB_BITS bits below the leading one). */
static unsigned hist_index(uint64_t v)
{
    if (v < (1u << HIST_SUB_BITS)) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & ((1u << HIST_SUB_BITS) - 1);
    return ((shift + 1) << HIST_SUB_BITS) | sub;
}

/* Largest value that maps to bucket i (inverse of hist_index). */
static uint64_t hist_upper(unsigned i)
{
    unsigned hi = i >> HIST_SUB_BITS;
    if (hi == 0) return i;
    unsigned shift = hi - 1;
    uint64_t sub = i & ((1u << HIST_SUB_BITS) - 1);
    uint64_t base = ((UINT64_C(1) << HIST_SUB_BITS) | sub) << shift;
    return base + ((UINT64_C(1) << shift) - 1);
}

void hist_record(hist *h, uint64_t value)
{
    h->buckets[hist_index(value)]++;
    h->count++;
    if (value > h->max) h->max = value;
}

uint64_t hist_quantile(const hist *h, double q)
{
    if (h->count == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count) rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > rank) {
            uint64_t up = hist_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}
