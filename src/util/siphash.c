#include "util/siphash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Byte-wise little-endian loads: correct on any host byte order and
 * alignment; compilers turn them into single loads on x86/arm64. */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl(v[2], 32);
}

static void absorb(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

uint64_t siphash24(const void *data, size_t len, const uint8_t key[SIPHASH_KEY_LEN])
{
    const uint8_t *p = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v[4] = {
        k0 ^ UINT64_C(0x736f6d6570736575),
        k1 ^ UINT64_C(0x646f72616e646f6d),
        k0 ^ UINT64_C(0x6c7967656e657261),
        k1 ^ UINT64_C(0x7465646279746573),
    };
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) absorb(v, load_le64(p + i));

    /* Last block: the remaining 0..7 bytes, with len mod 256 in the top byte. */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++) last |= (uint64_t)p[whole + i] << (8 * i);
    absorb(v, last);

    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
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
