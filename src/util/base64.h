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

#endif
