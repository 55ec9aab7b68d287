/* Base64 (RFC 4648 §4, standard alphabet, '=' padding). */
#ifndef MQS_UTIL_BASE64_H
#define MQS_UTIL_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Strict decode of s[0..n) appended to out: the length must be a multiple
 * of 4, padding only at the end, no whitespace, and the unused bits of
 * the last group zero (so every byte string has exactly one encoding).
 * Returns false (out->len restored) on any violation. */
bool base64_decode(const char *s, size_t n, buf *out);
/* The encoding of p[0..n) with padding, NUL-terminated, into out, which
 * holds BASE64_ENCODED_SIZE(n) bytes. Returns the length (without NUL). */
#define BASE64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)
size_t base64_encode(const uint8_t *p, size_t n, char *out);

#endif
