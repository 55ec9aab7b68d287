/* Glob matching for SCAN patterns (protocol §3.8).
 *
 * Whole-string match over UTF-8 characters: `*` matches any sequence
 * (including the empty one and `/`), `?` exactly one character, `[abc]`,
 * `[a-z]`, `[!abc]`, `[!a-z]` one character in / not in the class. There
 * is no backslash escape; metacharacters are matched literally through a
 * class (`[*]`, `[?]`, `[[]`); a `]` right after `[` or `[!` is literal,
 * as is a `-` first or last in a class.
 *
 * A subject that is not valid UTF-8 never matches. A pattern that is not
 * valid UTF-8 or has an unterminated class is invalid: it matches nothing,
 * and glob_valid lets the service reject it up front. */
#ifndef MQS_SSPROTO_GLOB_H
#define MQS_SSPROTO_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool glob_valid(const uint8_t *pat, size_t plen);
bool glob_match(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen);

#endif
