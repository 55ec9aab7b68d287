/* A fast non-cryptographic 64-bit digest of a byte string.
 *
 * For telling byte strings apart where nobody gains by forging a
 * collision (a client that collides its own requests only confuses
 * itself). Not keyed: never use it to index a hash table that holds
 * attacker-chosen keys; use siphash24 with a random key there. */
#ifndef MQS_UTIL_DIGEST_H
#define MQS_UTIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Deterministic across runs and hosts (little-endian word reads). */
uint64_t digest64(const void *data, size_t len);

#endif
