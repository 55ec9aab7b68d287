/* CRC32C (Castagnoli; iSCSI, RFC 3720 B.4; ext4, LevelDB, etcd): the
 * checksum of log frames. zlib's crc32 is a different polynomial and
 * OpenSSL 3 has none, hence this one.
 *
 * crc32c(0, p, n) is the standard value ("123456789" -> 0xE3069283), and
 * it extends: crc32c(crc32c(0, a, an), b, bn) == crc32c(0, a||b, an + bn).
 * crc32c() uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * at every call: one load and a test), else a slice-by-8 table; both give
 * the same values. */
#ifndef MQS_UTIL_CRC32C_H
#define MQS_UTIL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* The two paths, for tests and benchmarks. crc32c_hw may only be called
 * when crc32c_hw_available() is true. */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);
uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n);
bool crc32c_hw_available(void);

#endif
