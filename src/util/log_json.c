/* JSON string escaping for log lines (log.h). */
#include <stdbool.h>
#include <stdint.h>

#include "util/log.h"

/* The length of the valid UTF-8 sequence at s[0..n) (1 to 4), or 0 if
 * the bytes there do not start one (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* bounds of the second byte */
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

void log_json_string(buf *out, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    buf_append_u8(out, '"');
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            buf_append_u8(out, '\\');
            buf_append_u8(out, c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            const char *short_esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (short_esc) buf_append(out, short_esc, 2);
            else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(out, u, sizeof u);
            }
            i++;
        } else {
            size_t n = utf8_seq(s + i, len - i);
            if (n) buf_append(out, s + i, n);
            else buf_append(out, "\\ufffd", 6);
            i += n ? n : 1;
        }
    }
    buf_append_u8(out, '"');
}
