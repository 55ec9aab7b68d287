/* UTF-8 strings, topic names and topic filters (MQTT 5.0 §1.5.4, §4.7, §4.8.2). */
#include <string.h>

#include "mqtt/codec.h"

/* Length of the sequence led by byte b, 0 if b cannot lead one. */
static size_t utf8_seq_len(uint8_t b)
{
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2; /* C0, C1 would be overlong */
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4; /* F5.. would exceed U+10FFFF */
    return 0;
}

/* Eight bytes that are all ASCII and none NUL: the common case for topics
 * and property strings, checked a word at a time. */
static bool ascii8_ok(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    const uint64_t high = UINT64_C(0x8080808080808080), ones = UINT64_C(0x0101010101010101);
    return (v & high) == 0 && ((v - ones) & ~v & high) == 0;
}

bool mqtt_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    if (len >= 8) { /* all ASCII, the usual case: whole words, then the last 8 bytes (overlapping) */
        while (i + 8 <= len && ascii8_ok(s + i)) i += 8;
        if (i + 8 > len && ascii8_ok(s + len - 8)) return true;
    }
    while (i < len) {
        if (len - i >= 8 && ascii8_ok(s + i)) {
            i += 8;
            continue;
        }
        uint8_t b = s[i];
        size_t n = utf8_seq_len(b);
        if (n == 0 || (n == 1 && b == 0) || len - i < n) return false;
        uint32_t cp = n == 1 ? b : b & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
        if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
        i += n;
    }
    return true;
}

bool mqtt_topic_name_ok(mqtt_bytes topic)
{
    if (topic.len == 0) return false;
    return !memchr(topic.data, '+', topic.len) && !memchr(topic.data, '#', topic.len);
}

bool mqtt_topic_valid(mqtt_bytes topic) { return mqtt_topic_name_ok(topic) && mqtt_utf8_valid(topic.data, topic.len); }

/* Wildcard placement: each of '+' and '#' must fill a whole level, and '#'
 * only the last one. */
static bool filter_levels_valid(const uint8_t *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') continue;
        size_t n = i - start;
        for (size_t k = start; k < i; k++) {
            if (s[k] != '+' && s[k] != '#') continue;
            if (n != 1) return false;
            if (s[k] == '#' && i != len) return false;
        }
        start = i + 1;
    }
    return true;
}

bool mqtt_filter_valid(mqtt_bytes filter)
{
    const uint8_t *s = filter.data;
    size_t len = filter.len;
    if (len == 0 || !mqtt_utf8_valid(s, len)) return false;
    static const char share[] = "$share/";
    size_t plen = sizeof share - 1;
    if (len >= plen && memcmp(s, share, plen) == 0) {
        const uint8_t *group = s + plen;
        const uint8_t *slash = memchr(group, '/', len - plen);
        if (!slash || slash == group) return false;
        size_t glen = (size_t)(slash - group);
        if (memchr(group, '+', glen) || memchr(group, '#', glen)) return false;
        s = slash + 1;
        len = (size_t)(filter.data + filter.len - s);
        if (len == 0) return false;
    }
    return filter_levels_valid(s, len);
}
