#include "sdk_topic.h"

#include <string.h>

#include "ssproto/topic.h"
#include "ssproto/resp.h"
#include "util/alloc.h"

static char *finish(buf *b)
{
    buf_append_u8(b, 0);
    return (char *)b->data;
}

char *sdk_response_topic(const char *client_id)
{
    buf b = {0};
    buf_append(&b, "clients/", 8);
    buf_append(&b, client_id, strlen(client_id));
    buf_append(&b, "/services/" SSPROTO_REQUEST_TOPIC "/response",
               strlen("/services/" SSPROTO_REQUEST_TOPIC "/response"));
    return finish(&b);
}

char *sdk_notify_prefix(const char *client_id)
{
    buf b = {0};
    buf_append(&b, NOTIFY_TOPIC_PREFIX, strlen(NOTIFY_TOPIC_PREFIX));
    notify_hex_append(&b, client_id, strlen(client_id));
    buf_append(&b, NOTIFY_TOPIC_MIDDLE, strlen(NOTIFY_TOPIC_MIDDLE));
    return finish(&b);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool sdk_topic_key(const char *topic, const char *prefix, buf *key)
{
    size_t plen = strlen(prefix);
    if (strncmp(topic, prefix, plen) != 0) return false;
    const char *hex = topic + plen;
    size_t n = strlen(hex);
    if (n == 0 || n % 2 != 0) return false;
    for (size_t i = 0; i < n; i++)
        if (hex_digit(hex[i]) < 0) return false; /* also rejects '/' */
    uint8_t *out = buf_reserve(key, n / 2);
    for (size_t i = 0; i < n / 2; i++) out[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    key->len += n / 2;
    return true;
}

static bool elem_is(resp_array_iter *it, const char *word, resp_reply *e)
{
    size_t n = strlen(word);
    return resp_array_next(it, e) && e->type == RESP_BULK && e->str.len == n && memcmp(e->str.data, word, n) == 0;
}

bool sdk_notify_parse(const uint8_t *p, size_t n, mqs_notify_op *op, const uint8_t **value, size_t *vlen)
{
    resp_reply r, e;
    resp_array_iter it;
    if (resp_parse_reply(p, n, &r) != RESP_OK || r.type != RESP_ARRAY) return false;
    resp_array_iter_init(&it, &r);
    if (r.count == 2) {
        if (!elem_is(&it, "NOTIFY", &e) || !elem_is(&it, "DELETE", &e)) return false;
        *op = MQS_NOTIFY_DELETE;
        *value = NULL;
        *vlen = 0;
        return true;
    }
    if (r.count != 4 || !elem_is(&it, "NOTIFY", &e) || !elem_is(&it, "SET", &e) || !elem_is(&it, "VALUE", &e))
        return false;
    if (!resp_array_next(&it, &e) || e.type != RESP_BULK) return false;
    *op = MQS_NOTIFY_SET;
    *value = e.str.data;
    *vlen = e.str.len;
    return true;
}
