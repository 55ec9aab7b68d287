#include "ssproto/topic.h"

#include <string.h>

void notify_hex_append(buf *b, const void *p, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    const uint8_t *s = p;
    uint8_t *out = buf_reserve(b, 2 * n);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)digits[s[i] >> 4];
        out[2 * i + 1] = (uint8_t)digits[s[i] & 0x0F];
    }
    b->len += 2 * n;
}

void notify_topic_build(buf *b, const char *client_hex, size_t hexlen, const void *key, size_t klen)
{
    buf_append(b, NOTIFY_TOPIC_PREFIX, sizeof NOTIFY_TOPIC_PREFIX - 1);
    buf_append(b, client_hex, hexlen);
    buf_append(b, NOTIFY_TOPIC_MIDDLE, sizeof NOTIFY_TOPIC_MIDDLE - 1);
    notify_hex_append(b, key, klen);
}

bool notify_in_namespace(const void *t, size_t len)
{
    const char *s = t;
    size_t n = sizeof NOTIFY_NS - 1;
    return len >= n && memcmp(s, NOTIFY_NS, n) == 0 && (len == n || s[n] == '/');
}
