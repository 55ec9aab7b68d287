#include "ssproto/glob.h"

/* Decode one UTF-8 character at s[0..n) strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns its length and stores the
 * code point, or returns 0 if the bytes are not valid UTF-8. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t min, c;
    if ((b & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c = b & 0x07;
    } else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_decode(s + i, n - i, &cp);
        if (!l) return false;
        i += l;
    }
    return true;
}

/* Parse the class starting at pat[p] == '['. Returns the index just past
 * its closing ']' and sets *hit to whether cp is matched, or returns 0 if
 * the class is unterminated. The pattern is known to be valid UTF-8. */
static size_t class_match(const uint8_t *pat, size_t plen, size_t p, uint32_t cp, bool *hit)
{
    size_t q = p + 1;
    bool negate = q < plen && pat[q] == '!';
    if (negate) q++;
    bool in = false;
    for (bool first = true;; first = false) {
        if (q >= plen) return 0;
        if (pat[q] == ']' && !first) break;
        uint32_t lo, hi;
        q += utf8_decode(pat + q, plen - q, &lo);
        hi = lo;
        if (q + 1 < plen && pat[q] == '-' && pat[q + 1] != ']') {
            q++;
            q += utf8_decode(pat + q, plen - q, &hi);
        }
        if (cp >= lo && cp <= hi) in = true;
    }
    *hit = in != negate;
    return q + 1;
}

bool glob_valid(const uint8_t *pat, size_t plen)
{
    if (!utf8_valid(pat, plen)) return false;
    bool hit;
    for (size_t p = 0; p < plen; p++) {
        if (pat[p] != '[') continue;
        size_t end = class_match(pat, plen, p, 0, &hit);
        if (!end) return false;
        p = end - 1;
    }
    return true;
}

/* Classic single-backtrack-point matcher: every token other than `*`
 * consumes exactly one character, so on a mismatch it suffices to let the
 * most recent `*` absorb one more character (O(plen * slen) worst case,
 * no recursion, no allocation). */
bool glob_match(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen)
{
    if (!glob_valid(pat, plen) || !utf8_valid(s, slen)) return false;
    size_t p = 0, i = 0, star_p = 0, star_i = 0;
    bool have_star = false;
    while (i < slen) {
        uint32_t cp, pc;
        size_t clen = utf8_decode(s + i, slen - i, &cp);
        if (p < plen) {
            if (pat[p] == '*') {
                have_star = true;
                star_p = ++p;
                star_i = i;
                continue;
            }
            if (pat[p] == '?') {
                p++;
                i += clen;
                continue;
            }
            if (pat[p] == '[') {
                bool hit;
                size_t end = class_match(pat, plen, p, cp, &hit);
                if (hit) {
                    p = end;
                    i += clen;
                    continue;
                }
            } else {
                size_t plen1 = utf8_decode(pat + p, plen - p, &pc);
                if (pc == cp) {
                    p += plen1;
                    i += clen;
                    continue;
                }
            }
        }
        if (!have_star) return false;
        p = star_p;
        star_i += utf8_decode(s + star_i, slen - star_i, &cp);
        i = star_i;
    }
    while (p < plen && pat[p] == '*') p++;
    return p == plen;
}
