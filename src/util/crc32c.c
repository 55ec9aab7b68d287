#include "util/crc32c.h"

#include <string.h>

#include "util/crc32c_table.h"

/* Both paths work on the inverted register, as the standard defines. */

uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *s = p;
    const uint32_t(*t)[256] = crc32c__table;
    uint32_t c = ~crc;
    /* Byte at a time to 8-byte alignment, then 8 bytes per step. */
    while (n && ((uintptr_t)s & 7)) {
        c = t[0][(c ^ *s++) & 0xff] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        uint32_t hi = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
        lo ^= c;
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
            t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n--) c = t[0][(c ^ *s++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

bool crc32c_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)s & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *s++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8); /* little-endian: x86_64 only */
        c = _mm_crc32_u64(c, w);
        s += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *s++);
    return ~(uint32_t)c;
}
#else
bool crc32c_hw_available(void) { return false; }

uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n) { return crc32c_sw(crc, p, n); }
#endif

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
    return crc32c_hw_available() ? crc32c_hw(crc, p, n) : crc32c_sw(crc, p, n);
}
