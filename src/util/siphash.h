/* SipHash-2-4 (Aumasson & Bernstein): a keyed 64-bit PRF. Hash tables
 * keyed by client-controlled strings (client ids, state-store keys) use it
 * with a secret random key so clients cannot force collisions. */
#ifndef MQS_UTIL_SIPHASH_H
#define MQS_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The key is 16 bytes, read as two little-endian 64-bit words, as in the
 * reference implementation (so its test vectors apply). */
uint64_t siphash24(const void *data, size_t len, const uint8_t key[SIPHASH_KEY_LEN]);
/* A fresh secret key for one table (getrandom; a clock-based fallback
 * still gives a working, only less flood-resistant, table). */
void siphash_key_random(uint8_t key[SIPHASH_KEY_LEN]);

#endif
