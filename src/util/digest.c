/* MurmurHash3-style: one 64-bit lane, 8 bytes per step (a few cycles per
 * word, against SipHash-2-4's two full rounds), the length folded in and
 * MurmurHash3's fmix64 finaliser so every input bit affects every output
 * bit. */
#include "util/digest.h"

#include "util/le.h"

#define C1 0x87c37b91114253d5ULL
#define C2 0x4cf5ad432745937fULL

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static uint64_t mix_word(uint64_t h, uint64_t w)
{
    w *= C1;
    w = rotl(w, 31);
    w *= C2;
    h ^= w;
    return rotl(h, 27) * 5 + 0x52dce729;
}

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

uint64_t digest64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) h = mix_word(h, le_load_u64(p + i));
    if (i < len) h = mix_word(h, le_load_tail(p + i, len - i));
    return fmix64(h ^ (uint64_t)len);
}
