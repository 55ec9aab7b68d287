#include "util/siphash.h"

#include "util/le.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

/* The state lives in four locals (registers), not an array: the rounds
 * are the whole cost of hashing a short key, and an array that the
 * compiler keeps in memory doubles it. */
#define SIPROUND()                                                \
    do {                                                          \
        v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32); \
        v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                    \
        v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                    \
        v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32); \
    } while (0)

#define ABSORB(m)          \
    do {                   \
        uint64_t m_ = (m); \
        v3 ^= m_;          \
        SIPROUND();        \
        SIPROUND();        \
        v0 ^= m_;          \
    } while (0)

uint64_t siphash24(const void *data, size_t len, const uint8_t key[SIPHASH_KEY_LEN])
{
    const uint8_t *p = data;
    uint64_t k0 = le_load_u64(key), k1 = le_load_u64(key + 8);
    uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
    uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
    uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
    uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) ABSORB(le_load_u64(p + i));

    /* Last block: the remaining 0..7 bytes, with len mod 256 in the top byte. */
    ABSORB(((uint64_t)(len & 0xff) << 56) | le_load_tail(p + whole, len & 7));

    v2 ^= 0xff;
    SIPROUND();
    SIPROUND();
    SIPROUND();
    SIPROUND();
    return v0 ^ v1 ^ v2 ^ v3;
}

void siphash_key_random(uint8_t key[SIPHASH_KEY_LEN])
{
    if (getrandom(key, SIPHASH_KEY_LEN, 0) == SIPHASH_KEY_LEN) return;
    /* getrandom cannot fail on supported kernels; if it somehow does, a
     * weak key still gives a working (just less flood-resistant) table. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
    uint64_t b = (uint64_t)(uintptr_t)key ^ (uint64_t)time(NULL);
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
}
