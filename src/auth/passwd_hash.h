/* Salted slow password hashes: PBKDF2-HMAC-SHA512 (OpenSSL).
 *
 * Encoded form (one field of a password file line, no ':' inside):
 *
 *   $pbkdf2-sha512$<iterations>$<base64 salt>$<base64 hash>
 *
 * base64 is the standard alphabet with '=' padding; the salt is 16 random
 * bytes and the hash 64 bytes. Iterations are stored per entry, so raising
 * the default later keeps old entries valid. */
#ifndef MQS_AUTH_PASSWD_HASH_H
#define MQS_AUTH_PASSWD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OWASP's 2023 recommendation for PBKDF2-HMAC-SHA512. */
#define PASSWD_HASH_ITERATIONS 210000u
/* Refused when parsing: below is no longer "slow", above is a DoS. */
#define PASSWD_HASH_MIN_ITERATIONS 1000u
#define PASSWD_HASH_MAX_ITERATIONS 10000000u
#define PASSWD_HASH_SALT_LEN 16
#define PASSWD_HASH_LEN 64
/* Longest encoded form, NUL included. */
#define PASSWD_HASH_ENCODED_MAX 160

typedef struct passwd_hash {
    uint32_t iterations;
    uint8_t salt[PASSWD_HASH_SALT_LEN];
    uint8_t hash[PASSWD_HASH_LEN];
} passwd_hash;

/* Hash `pw` with a fresh random salt. Returns -1 if no randomness. */
int passwd_hash_make(const void *pw, size_t pwlen, uint32_t iterations, passwd_hash *out);
/* Encode into out (at least PASSWD_HASH_ENCODED_MAX bytes). */
void passwd_hash_encode(const passwd_hash *h, char *out);
/* Parse the encoded form (exactly `len` bytes). Returns 0, or -1 with a
 * static message in *why. */
int passwd_hash_parse(const char *s, size_t len, passwd_hash *out, const char **why);
/* Constant-time comparison of the derived hash. */
bool passwd_hash_verify(const passwd_hash *h, const void *pw, size_t pwlen);

#endif
