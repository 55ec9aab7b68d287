/* Reference-counted application messages and shared-subscription keys.
 * One allocation per message: the struct, then topic, payload and the
 * pass-through property block, so fan-out to N receivers costs N refcount
 * increments and no copies.
 *
 * Freed blocks of small messages are kept on a short free list and reused
 * by the next message of about the same size: a request-reply exchange
 * creates and frees one message per request, and the state store's
 * replies on one topic are all alike, so this spares a malloc/free pair
 * per request. The list is bounded (count and block size), so it holds
 * at most POOL_MAX * POOL_BLOCK_MAX bytes; it is per thread because the
 * list is unlocked. */
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

/* Computed on first use, not per message: only receivers with outbound
 * topic aliases look at it, and hashing every reply's topic showed in the
 * state store's profile. */
uint32_t broker__msg_topic_hash(msg *m)
{
    if (!m->topic_hashed) {
        uint32_t h = 2166136261u; /* FNV-1a: only compared against a handful of aliases */
        for (uint32_t i = 0; i < m->topic.len; i++) h = (h ^ m->topic.data[i]) * 16777619u;
        m->topic_hash = h;
        m->topic_hashed = true;
    }
    return m->topic_hash;
}

static mqtt_bytes place(uint8_t **p, mqtt_bytes src)
{
    mqtt_bytes out = {*p, src.len};
    if (src.len) memcpy(*p, src.data, src.len);
    *p += src.len;
    return out;
}

/* A group commit of the durable state store answers a whole group of
 * writes at once (hundreds: one reply message each), and their PUBACKs
 * free them together: the list must hold a group's worth, or the rest
 * churn through malloc, interleaved with the keys applied in between
 * (heap fragmentation: about 45 bytes per key at 1 M keys with 64). */
#define POOL_MAX 4096       /* blocks kept: at most 4 MiB */
#define POOL_BLOCK_MAX 1024 /* data bytes: larger blocks go back to malloc */

/* A kept block: its first bytes link the list; `cap` (at its msg offset,
 * past the link) still tells its size. */
typedef union pool_block {
    union pool_block *next;
    msg m;
} pool_block;

/* Allocator state, not broker state: like malloc's own caches it holds
 * only free memory, so it is the one exception (with the log threshold) to
 * "no global mutable state". Messages are released from places that hold
 * no broker pointer (retained store, wills, deliveries), hence not in the
 * broker object; per thread because it takes no lock. */
static _Thread_local pool_block *pool_head;
static _Thread_local unsigned pool_count;

/* Only the head is tried: in the steady state it is the block of the
 * message just freed, of the same shape. A fit wastes at most a quarter
 * of the length plus 64 bytes, so a large block never ends up holding a
 * small message; a block that does not fit stays for a later message. */
static msg *pool_take(size_t len)
{
    pool_block *b = pool_head;
    if (!b || b->m.cap < len || b->m.cap - len > len / 4 + 64) return NULL;
    pool_head = b->next;
    pool_count--;
    return &b->m;
}

static bool pool_give(msg *m)
{
    if (pool_count == POOL_MAX || m->cap > POOL_BLOCK_MAX) return false;
    pool_block *b = (pool_block *)m;
    b->next = pool_head;
    pool_head = b;
    pool_count++;
    return true;
}

void broker__msg_pool_drain(void)
{
    while (pool_head) {
        pool_block *b = pool_head;
        pool_head = b->next;
        free(b);
    }
    pool_count = 0;
}

msg *broker__msg_new(mqtt_bytes topic, mqtt_bytes payload, mqtt_bytes props, uint8_t qos, bool retain)
{
    size_t len = (size_t)topic.len + payload.len + props.len;
    msg *m = len <= POOL_BLOCK_MAX ? pool_take(len) : NULL;
    if (!m) {
        m = xmalloc(sizeof *m + len);
        m->cap = (uint32_t)len; /* lengths come from one MQTT packet: < 2^28 */
    }
    uint8_t *p = m->data;
    m->refs = 1;
    m->expiry_at = 0;
    m->qos = qos;
    m->retain = retain;
    m->snap_written = false;
    m->topic = place(&p, topic);
    m->payload = place(&p, payload);
    m->props = place(&p, props);
    m->topic_hashed = false;
    return m;
}

msg *broker__msg_ref(msg *m)
{
    m->refs++;
    return m;
}

void broker__msg_unref(msg *m)
{
    if (m && --m->refs == 0 && !pool_give(m)) free(m);
}

void broker__msg_release(void *m) { broker__msg_unref(m); }

bool broker__msg_expired(const msg *m, uint64_t now) { return m->expiry_at && now >= m->expiry_at; }

uint32_t broker__msg_expiry_left(const msg *m, uint64_t now)
{
    if (!m->expiry_at || now >= m->expiry_at) return 0;
    return (uint32_t)((m->expiry_at - now + 999) / 1000);
}

share_key *broker__share_key_new(mqtt_bytes filter)
{
    share_key *k = xmalloc(sizeof *k + filter.len);
    k->refs = 1;
    k->len = filter.len;
    memcpy(k->filter, filter.data, filter.len);
    return k;
}

share_key *broker__share_key_ref(share_key *k)
{
    k->refs++;
    return k;
}

void broker__share_key_unref(share_key *k)
{
    if (k && --k->refs == 0) free(k);
}
