#include "broker/session_table.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "util/alloc.h"

#define MIN_BUCKETS 8

void session_table_init(session_table *t)
{
    memset(t, 0, sizeof *t);
    siphash_key_random(t->seed);
}

void session_table_free(session_table *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->size = 0;
}

static size_t bucket_of(const session_table *t, const uint8_t *id, uint32_t len, size_t nbuckets)
{
    return (size_t)siphash24(id, len, t->seed) & (nbuckets - 1);
}

session *session_table_get(const session_table *t, mqtt_bytes id)
{
    if (t->size == 0) return NULL;
    for (session *s = t->buckets[bucket_of(t, id.data, id.len, t->nbuckets)]; s; s = s->table_next)
        if (s->id_len == id.len && memcmp(s->id, id.data, id.len) == 0) return s;
    return NULL;
}

/* The hash is not stored (that would cost every session 8 bytes): a
 * rehash computes it again, which is rare and amortised by doubling. */
static void rehash(session_table *t, size_t nbuckets)
{
    session **buckets = xcalloc(nbuckets, sizeof *buckets);
    for (size_t i = 0; i < t->nbuckets; i++) {
        session *s = t->buckets[i];
        while (s) {
            session *next = s->table_next;
            session **head = &buckets[bucket_of(t, s->id, s->id_len, nbuckets)];
            s->table_next = *head;
            *head = s;
            s = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->nbuckets = nbuckets;
    assert(session_table__check(t)); /* O(n), as the rehash itself */
}

/* Load factor at most 1; shrinks (only here) after mass removals so the
 * bucket array stays proportional to the live sessions. */
void session_table_add(session_table *t, session *s)
{
    size_t want = t->nbuckets ? t->nbuckets : MIN_BUCKETS;
    while (t->size + 1 > want) want *= 2;
    while (want > MIN_BUCKETS && (t->size + 1) * 8 < want) want /= 2;
    if (want != t->nbuckets) rehash(t, want);
    session **head = &t->buckets[bucket_of(t, s->id, s->id_len, t->nbuckets)];
    s->table_next = *head;
    *head = s;
    t->size++;
}

void session_table_remove(session_table *t, session *s)
{
    if (t->size == 0) return;
    session **link = &t->buckets[bucket_of(t, s->id, s->id_len, t->nbuckets)];
    while (*link && *link != s) link = &(*link)->table_next;
    if (!*link) return;
    *link = s->table_next;
    s->table_next = NULL;
    t->size--;
}

session *session_table_first(const session_table *t, size_t *bucket)
{
    for (; *bucket < t->nbuckets; (*bucket)++)
        if (t->buckets[*bucket]) return t->buckets[*bucket];
    return NULL;
}

#ifndef NDEBUG
bool session_table__check(const session_table *t)
{
    if (t->nbuckets & (t->nbuckets - 1) || (t->nbuckets != 0) != (t->buckets != NULL)) return false;
    size_t n = 0;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (const session *s = t->buckets[i]; s; s = s->table_next, n++)
            if (bucket_of(t, s->id, s->id_len, t->nbuckets) != i) return false;
    return n == t->size && t->size <= (t->nbuckets ? t->nbuckets : 0);
}
#endif
