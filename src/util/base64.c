#include "util/base64.h"

#include <stdint.h>

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* One 4-character group; `last` allows padding. Returns the bytes
 * produced (1..3) or 0 if invalid. */
static int group(const char *g, bool last, uint8_t out[3])
{
    int pad = last ? (g[3] == '=') + (g[3] == '=' && g[2] == '=') : 0;
    int v[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4 - pad; i++)
        if ((v[i] = sextet(g[i])) < 0) return 0;
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF))) return 0; /* non-canonical */
    out[0] = (uint8_t)(w >> 16);
    out[1] = (uint8_t)(w >> 8);
    out[2] = (uint8_t)w;
    return 3 - pad;
}

bool base64_decode(const char *s, size_t n, buf *out)
{
    size_t start = out->len;
    if (n % 4) return false;
    for (size_t i = 0; i < n; i += 4) {
        uint8_t b[3];
        int k = group(s + i, i + 4 == n, b);
        if (!k) {
            out->len = start;
            return false;
        }
        buf_append(out, b, (size_t)k);
    }
    return true;
}

size_t base64_encode(const uint8_t *p, size_t n, char *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n) w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) w |= p[i + 2];
        out[o++] = alphabet[w >> 18];
        out[o++] = alphabet[(w >> 12) & 63];
        out[o++] = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[w & 63] : '=';
    }
    out[o] = 0;
    return o;
}
