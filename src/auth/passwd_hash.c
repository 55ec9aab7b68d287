#include "auth/passwd_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "$pbkdf2-sha512$"

static void derive(const void *pw, size_t pwlen, const uint8_t *salt, uint32_t iterations, uint8_t *out)
{
    /* Only fails on invalid arguments or allocation failure: abort rather
     * than let a zeroed buffer ever match. */
    if (!pw) pw = "";
    if (PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, PASSWD_HASH_SALT_LEN, (int)iterations, EVP_sha512(), PASSWD_HASH_LEN,
                          out) != 1)
        abort();
}

int passwd_hash_make(const void *pw, size_t pwlen, uint32_t iterations, passwd_hash *out)
{
    out->iterations = iterations;
    if (RAND_bytes(out->salt, sizeof out->salt) != 1) return -1;
    derive(pw, pwlen, out->salt, iterations, out->hash);
    return 0;
}

void passwd_hash_encode(const passwd_hash *h, char *out)
{
    int n = snprintf(out, PASSWD_HASH_ENCODED_MAX, PREFIX "%u$", h->iterations);
    n += EVP_EncodeBlock((unsigned char *)out + n, h->salt, sizeof h->salt);
    out[n++] = '$';
    EVP_EncodeBlock((unsigned char *)out + n, h->hash, sizeof h->hash);
}

/* Decode base64 text s[0..len) into exactly `want` bytes. */
static int decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
    uint8_t tmp[PASSWD_HASH_ENCODED_MAX];
    if (len == 0 || len % 4 || len / 4 * 3 > sizeof tmp) return -1;
    int n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
    if (n < 0) return -1;
    /* EVP_DecodeBlock counts padding as zero bytes. */
    size_t pad = (s[len - 1] == '=') + (s[len - 2] == '=');
    if ((size_t)n - pad != want) return -1;
    memcpy(out, tmp, want);
    return 0;
}

int passwd_hash_parse(const char *s, size_t len, passwd_hash *out, const char **why)
{
    size_t plen = sizeof PREFIX - 1;
    if (len < plen || memcmp(s, PREFIX, plen) != 0) {
        *why = "unknown hash scheme (expected $pbkdf2-sha512$)";
        return -1;
    }
    const char *p = s + plen, *end = s + len;
    uint64_t iter = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9' && iter <= PASSWD_HASH_MAX_ITERATIONS)
        iter = iter * 10 + (uint64_t)(*p++ - '0');
    if (p == d || p == end || *p != '$') {
        *why = "bad iteration count";
        return -1;
    }
    if (iter < PASSWD_HASH_MIN_ITERATIONS || iter > PASSWD_HASH_MAX_ITERATIONS) {
        *why = "iteration count out of range (1000 to 10000000)";
        return -1;
    }
    const char *salt = ++p;
    while (p < end && *p != '$') p++;
    if (p == end || decode_exact(salt, (size_t)(p - salt), out->salt, PASSWD_HASH_SALT_LEN) != 0) {
        *why = "bad salt (expected 16 bytes in base64)";
        return -1;
    }
    p++;
    if (decode_exact(p, (size_t)(end - p), out->hash, PASSWD_HASH_LEN) != 0) {
        *why = "bad hash (expected 64 bytes in base64)";
        return -1;
    }
    out->iterations = (uint32_t)iter;
    return 0;
}

bool passwd_hash_verify(const passwd_hash *h, const void *pw, size_t pwlen)
{
    uint8_t got[PASSWD_HASH_LEN];
    derive(pw, pwlen, h->salt, h->iterations, got);
    bool ok = CRYPTO_memcmp(got, h->hash, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}
