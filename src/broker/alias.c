/* Topic aliases (MQTT 5 §3.3.2.3.4), per connection, reset on reconnect.
 *
 * Inbound: the client maps aliases 1..limits.topic_alias_max to topics;
 * the table is allocated on first use.
 * Outbound: when the client allows aliases, the first delivery of a topic
 * assigns it one (sent with the full topic), later deliveries send only
 * the alias. When the table is full, the least recently used alias is
 * reassigned. The table is capped at ALIAS_OUT_CAP entries: a linear scan
 * over precomputed topic hashes stays cheaper than a map at this size. */
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

#define ALIAS_OUT_CAP 32

typedef struct alias_topic {
    uint8_t *topic;
    uint32_t len;
} alias_topic;

struct alias_in {
    uint16_t n;
    alias_topic e[];
};

typedef struct alias_slot {
    uint8_t *topic;
    uint32_t len;
    uint32_t hash;
    uint64_t used;
} alias_slot;

struct alias_out {
    uint16_t n, filled;
    uint64_t tick;
    alias_slot e[];
};

int broker__alias_in_apply(client *c, mqtt_publish *p)
{
    if (!(p->props.present & MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS))) return p->topic.len ? 0 : MQTT_RC_PROTOCOL_ERROR;
    uint16_t a = p->props.topic_alias;
    uint16_t max = c->b->lim.topic_alias_max;
    if (a == 0 || a > max) return MQTT_RC_TOPIC_ALIAS_INVALID;
    if (!c->ain) {
        c->ain = xcalloc(1, sizeof *c->ain + (size_t)max * sizeof(alias_topic));
        c->ain->n = max;
    }
    alias_topic *t = &c->ain->e[a - 1];
    if (p->topic.len) {
        free(t->topic);
        t->topic = xmemdup(p->topic.data, p->topic.len);
        t->len = p->topic.len;
        return 0;
    }
    if (!t->topic) return MQTT_RC_PROTOCOL_ERROR;
    p->topic = (mqtt_bytes){t->topic, t->len};
    return 0;
}

static alias_out *out_table(client *c)
{
    if (!c->aout) {
        uint16_t n = c->alias_out_max < ALIAS_OUT_CAP ? c->alias_out_max : ALIAS_OUT_CAP;
        c->aout = xcalloc(1, sizeof *c->aout + (size_t)n * sizeof(alias_slot));
        c->aout->n = n;
    }
    return c->aout;
}

static alias_slot *lru_slot(alias_out *t)
{
    alias_slot *v = &t->e[0];
    for (uint16_t i = 1; i < t->n; i++)
        if (t->e[i].used < v->used) v = &t->e[i];
    return v;
}

uint16_t broker__alias_out_pick(client *c, msg *m, bool *known)
{
    *known = false;
    if (!c->alias_out_max || !m->topic.len) return 0;
    alias_out *t = out_table(c);
    uint32_t hash = broker__msg_topic_hash(m);
    t->tick++;
    for (uint16_t i = 0; i < t->filled; i++) {
        alias_slot *s = &t->e[i];
        if (s->hash == hash && mqtt_bytes_eq((mqtt_bytes){s->topic, s->len}, m->topic)) {
            s->used = t->tick;
            *known = true;
            return (uint16_t)(i + 1);
        }
    }
    alias_slot *s = t->filled < t->n ? &t->e[t->filled++] : lru_slot(t);
    free(s->topic);
    s->topic = xmemdup(m->topic.data, m->topic.len);
    s->len = m->topic.len;
    s->hash = hash;
    s->used = t->tick;
    return (uint16_t)(s - t->e + 1);
}

void broker__alias_out_forget(client *c, uint16_t alias)
{
    if (!c->aout || alias == 0 || alias > c->aout->filled) return;
    alias_slot *s = &c->aout->e[alias - 1];
    free(s->topic);
    /* An empty slot never matches (topics are non-empty) and is the
     * first candidate for reuse. */
    s->topic = NULL;
    s->len = 0;
    s->hash = 0;
    s->used = 0;
}

void broker__alias_free(client *c)
{
    if (c->ain)
        for (uint16_t i = 0; i < c->ain->n; i++) free(c->ain->e[i].topic);
    if (c->aout)
        for (uint16_t i = 0; i < c->aout->filled; i++) free(c->aout->e[i].topic);
    free(c->ain);
    free(c->aout);
    c->ain = NULL;
    c->aout = NULL;
}
