/* See cluster_records_entry.h. */
#include "server/cluster_records_entry.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_persist.h"
#include "util/alloc.h"
#include "util/le.h"

#define COUNT_OFF (RECORDS_ENTRY_HEADER - 4)

void records_entry_begin(buf *out, uint64_t origin, uint64_t incarnation, uint64_t first)
{
    assert(origin && incarnation && first);
    out->len = 0;
    buf_append_u8(out, CLUSTER_RECORDS_MARKER);
    buf_append_u8(out, CLUSTER_RECORDS_VERSION);
    buf_append_u64le(out, origin);
    buf_append_u64le(out, incarnation);
    buf_append_u64le(out, first);
    buf_append_u32le(out, 0);
}

uint32_t records_entry_count(const buf *out)
{
    assert(out->len >= RECORDS_ENTRY_HEADER);
    le_reader rd = le_reader_of(out->data + COUNT_OFF, 4);
    return le_get_u32(&rd);
}

void records_entry_add(buf *out, uint8_t type, const uint8_t *p, size_t n)
{
    assert(out->len >= RECORDS_ENTRY_HEADER && n >= 1 && n <= UINT32_MAX);
    buf_append_u8(out, type);
    buf_append_u32le(out, (uint32_t)n);
    buf_append(out, p, n);
    le_put_u32(out->data + COUNT_OFF, records_entry_count(out) + 1);
}

const char *records_entry_decode(const uint8_t *p, size_t n, records_entry *out)
{
    memset(out, 0, sizeof *out);
    le_reader rd = le_reader_of(p, n);
    if (le_get_u8(&rd) != CLUSTER_RECORDS_MARKER) return rd.bad ? "records entry: empty" : "records entry: bad marker";
    uint8_t version = le_get_u8(&rd);
    out->origin = le_get_u64(&rd);
    out->incarnation = le_get_u64(&rd);
    out->first = le_get_u64(&rd);
    out->count = le_get_u32(&rd);
    if (rd.bad) return "records entry: truncated header";
    if (version != CLUSTER_RECORDS_VERSION) return "records entry: unknown version";
    if (!out->origin || !out->incarnation || !out->first || !out->count) return "records entry: zero field";
    if (out->first - 1 > UINT64_MAX - out->count) return "records entry: sequence numbers overflow";
    out->recs = rd.p;
    out->recs_len = rd.n;
    for (uint32_t i = 0; i < out->count; i++) {
        uint8_t type = le_get_u8(&rd);
        uint32_t len;
        (void)le_get_lenbytes(&rd, &len);
        if (rd.bad) return "records entry: truncated record";
        if (type < BROKER_REC_FIRST || type > BROKER_REC_LAST) return "records entry: not a broker record type";
        if (!len) return "records entry: empty record";
    }
    if (rd.n) return "records entry: trailing bytes";
    return NULL;
}

bool records_iter_next(records_iter *it, uint8_t *type, const uint8_t **p, size_t *n)
{
    le_reader rd = le_reader_of(it->p, it->n);
    *type = le_get_u8(&rd);
    uint32_t len;
    *p = le_get_lenbytes(&rd, &len);
    if (rd.bad) return false; /* the end (the entry was decoded whole before) */
    *n = len;
    it->p = rd.p;
    it->n = rd.n;
    return true;
}

/* --- de-duplication table ---------------------------------------------------- */

/* The index of origin's slot, or where it would go. */
static uint32_t dedup_pos(const records_dedup *d, uint64_t origin)
{
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (d->v[mid].origin < origin) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const records_dedup_slot *records_dedup_find(const records_dedup *d, uint64_t origin)
{
    uint32_t i = dedup_pos(d, origin);
    return i < d->n && d->v[i].origin == origin ? &d->v[i] : NULL;
}

records_verdict records_dedup_check(const records_dedup *d, const records_entry *e)
{
    const records_dedup_slot *s = records_dedup_find(d, e->origin);
    uint64_t last = e->first + (e->count - 1);
    if (!s) return e->first == 1 && d->n < RECORDS_DEDUP_MAX ? RECORDS_APPLY : RECORDS_GAP;
    if (e->incarnation < s->incarnation) return RECORDS_STALE;
    if (e->incarnation > s->incarnation) return e->first == 1 ? RECORDS_APPLY : RECORDS_GAP;
    if (last <= s->last) return RECORDS_DUPLICATE;
    return e->first == s->last + 1 ? RECORDS_APPLY : RECORDS_GAP;
}

void records_dedup_note(records_dedup *d, const records_entry *e)
{
    assert(records_dedup_check(d, e) == RECORDS_APPLY);
    uint32_t i = dedup_pos(d, e->origin);
    if (i == d->n || d->v[i].origin != e->origin) {
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 8;
            d->v = xrealloc(d->v, d->cap * sizeof *d->v);
        }
        memmove(d->v + i + 1, d->v + i, (d->n - i) * sizeof *d->v);
        d->n++;
        d->v[i].origin = e->origin;
    }
    d->v[i].incarnation = e->incarnation;
    d->v[i].last = e->first + (e->count - 1);
}

void records_dedup_free(records_dedup *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

void records_dedup_encode(const records_dedup *d, buf *out)
{
    buf_append_u8(out, RECORDS_DEDUP_VERSION);
    buf_append_u32le(out, d->n);
    for (uint32_t i = 0; i < d->n; i++) {
        buf_append_u64le(out, d->v[i].origin);
        buf_append_u64le(out, d->v[i].incarnation);
        buf_append_u64le(out, d->v[i].last);
    }
}

const char *records_dedup_decode(records_dedup *d, const uint8_t *p, size_t n)
{
    records_dedup_free(d);
    le_reader rd = le_reader_of(p, n);
    uint8_t version = le_get_u8(&rd);
    uint32_t count = le_get_u32(&rd);
    if (rd.bad) return "records table: truncated";
    if (version != RECORDS_DEDUP_VERSION) return "records table: unknown version";
    if (count > RECORDS_DEDUP_MAX) return "records table: too many origins";
    if (rd.n != (size_t)count * 24) return "records table: length does not match its count";
    records_dedup t = {count ? xmalloc(count * sizeof *t.v) : NULL, count, count};
    for (uint32_t i = 0; i < count; i++) {
        records_dedup_slot *s = &t.v[i];
        s->origin = le_get_u64(&rd);
        s->incarnation = le_get_u64(&rd);
        s->last = le_get_u64(&rd);
        if (!s->origin || !s->incarnation || !s->last || (i && s->origin <= t.v[i - 1].origin)) {
            free(t.v);
            return "records table: bad slot";
        }
    }
    *d = t;
    return NULL;
}
