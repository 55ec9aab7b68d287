/* Reference-counted application messages and shared-subscription keys.
 * One allocation per message: the struct, then topic, payload and the
 * pass-through property block, so fan-out to N receivers costs N refcount
 * increments and no copies. */
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

uint32_t msg_hash_topic(mqtt_bytes topic)
{
    uint32_t h = 2166136261u; /* FNV-1a: only compared against a handful of aliases */
    for (uint32_t i = 0; i < topic.len; i++) h = (h ^ topic.data[i]) * 16777619u;
    return h;
}

bool bytes_eq(mqtt_bytes a, mqtt_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static mqtt_bytes place(uint8_t **p, mqtt_bytes src)
{
    mqtt_bytes out = {*p, src.len};
    if (src.len) memcpy(*p, src.data, src.len);
    *p += src.len;
    return out;
}

msg *msg_new(mqtt_bytes topic, mqtt_bytes payload, mqtt_bytes props, uint8_t qos, bool retain)
{
    msg *m = xmalloc(sizeof *m + (size_t)topic.len + payload.len + props.len);
    uint8_t *p = m->data;
    m->refs = 1;
    m->expiry_at = 0;
    m->qos = qos;
    m->retain = retain;
    m->topic = place(&p, topic);
    m->payload = place(&p, payload);
    m->props = place(&p, props);
    m->topic_hash = msg_hash_topic(topic);
    return m;
}

msg *msg_ref(msg *m)
{
    m->refs++;
    return m;
}

void msg_unref(msg *m)
{
    if (m && --m->refs == 0) free(m);
}

void msg_release(void *m) { msg_unref(m); }

bool msg_expired(const msg *m, uint64_t now) { return m->expiry_at && now >= m->expiry_at; }

uint32_t msg_expiry_left(const msg *m, uint64_t now)
{
    if (!m->expiry_at || now >= m->expiry_at) return 0;
    return (uint32_t)((m->expiry_at - now + 999) / 1000);
}

share_key *share_key_new(mqtt_bytes filter)
{
    share_key *k = xmalloc(sizeof *k + filter.len);
    k->refs = 1;
    k->len = filter.len;
    memcpy(k->filter, filter.data, filter.len);
    return k;
}

share_key *share_key_ref(share_key *k)
{
    k->refs++;
    return k;
}

void share_key_unref(share_key *k)
{
    if (k && --k->refs == 0) free(k);
}
