/* The byte encoding of store records (layout in record.h). Encoding
 * computes the exact size first and writes into space reserved once;
 * decoding reads through a cursor that checks every length against the
 * bytes left, so no sum can overflow, even with a 32-bit size_t. */
#include "store/record.h"

#include <assert.h>
#include <string.h>

#include "store/keyspace.h"

#define HEAD_LEN 3   /* format, type, flags */
#define HLC_FIXED 20 /* wall u64, counter u64, node length u32 */
#define STR_FIXED 4  /* u32 length */

/* Which optional parts a type carries. */
static bool has_key(store_record_type t) { return t != STORE_REC_CLOCK; }
static bool has_value(store_record_type t) { return t == STORE_REC_SET || t == STORE_REC_VDEL; }
static bool has_origin(store_record_type t) /* fence, client id, correlation, digest, expiry */
{
    return t == STORE_REC_SET || t == STORE_REC_DEL || t == STORE_REC_VDEL;
}
static bool type_known(unsigned t) { return t >= STORE_REC_SET && t <= STORE_REC_CLOCK; }

static bool node_valid(const uint8_t *p, size_t n)
{
    return n > 0 && (uint64_t)n <= UINT32_MAX && memchr(p, ':', n) == NULL;
}

/* --- encode ----------------------------------------------------------------- */

#ifndef NDEBUG
static bool bytes_empty(store_record_bytes b) { return b.len == 0; }
static bool bytes_fit(store_record_bytes b) { return (uint64_t)b.len <= UINT32_MAX && (b.len == 0 || b.data); }

/* What store_record_encode requires (record.h). */
static bool record__check(const store_record *r)
{
    store_record_type t = r->type;
    if (!type_known((unsigned)t)) return false;
    if (!node_valid(r->version.node, r->version.node_len)) return false;
    if (r->has_fence && (!has_origin(t) || !node_valid(r->fence.node, r->fence.node_len))) return false;
    if (t != STORE_REC_SET && (r->cond != KEYSPACE_COND_NONE || r->deadline_ms != 0)) return false;
    if (r->persist && !has_origin(t)) return false;
    if (t == STORE_REC_SET && r->cond > KEYSPACE_COND_NEX) return false;
    if (!has_key(t) && !bytes_empty(r->key)) return false;
    if (!has_value(t) && !bytes_empty(r->value)) return false;
    if (!has_origin(t) &&
        (!bytes_empty(r->client_id) || !bytes_empty(r->correlation) || r->payload_digest || r->expiry_s))
        return false;
    return bytes_fit(r->key) && bytes_fit(r->value) && bytes_fit(r->client_id) && bytes_fit(r->correlation);
}
#endif

static uint8_t flags_of(const store_record *r)
{
    return (uint8_t)((r->has_fence ? STORE_RECORD_F_FENCE : 0) | (r->persist ? STORE_RECORD_F_PERSIST : 0) |
                     (r->deadline_ms ? STORE_RECORD_F_DEADLINE : 0));
}

size_t store_record_encoded_size(const store_record *r)
{
    store_record_type t = r->type;
    size_t n = HEAD_LEN + 8 + HLC_FIXED + r->version.node_len;
    if (t == STORE_REC_SET) n += 1;
    if (r->has_fence) n += HLC_FIXED + r->fence.node_len;
    if (r->deadline_ms) n += 8;
    if (has_key(t)) n += STR_FIXED + r->key.len;
    if (has_value(t)) n += STR_FIXED + r->value.len;
    if (has_origin(t)) n += 2 * STR_FIXED + r->client_id.len + r->correlation.len + 8 + 4;
    return n;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *data, size_t len)
{
    p = put_u32(p, (uint32_t)len);
    if (len) memcpy(p, data, len);
    return p + len;
}

static uint8_t *put_hlc(uint8_t *p, const hlc *v)
{
    p = put_u64(p, v->wall_ms);
    p = put_u64(p, v->counter);
    return put_bytes(p, v->node, v->node_len);
}

void store_record_encode(const store_record *r, buf *out)
{
    assert(record__check(r));
    store_record_type t = r->type;
    size_t size = store_record_encoded_size(r);
    uint8_t *start = buf_reserve(out, size), *p = start;
    *p++ = STORE_RECORD_FORMAT;
    *p++ = (uint8_t)t;
    *p++ = flags_of(r);
    p = put_u64(p, r->now_ms);
    if (t == STORE_REC_SET) *p++ = r->cond;
    p = put_hlc(p, &r->version);
    if (r->has_fence) p = put_hlc(p, &r->fence);
    if (r->deadline_ms) p = put_u64(p, r->deadline_ms);
    if (has_key(t)) p = put_bytes(p, r->key.data, r->key.len);
    if (has_value(t)) p = put_bytes(p, r->value.data, r->value.len);
    if (has_origin(t)) {
        p = put_bytes(p, r->client_id.data, r->client_id.len);
        p = put_bytes(p, r->correlation.data, r->correlation.len);
        p = put_u64(p, r->payload_digest);
        p = put_u32(p, r->expiry_s);
    }
    assert((size_t)(p - start) == size);
    out->len += size;
}

/* --- decode ----------------------------------------------------------------- */

/* Invariant: pos <= n. Each reader checks what it needs against n - pos. */
typedef struct cursor {
    const uint8_t *p;
    size_t n, pos;
} cursor;

static store_record_err get_u64(cursor *c, uint64_t *v)
{
    if (c->n - c->pos < 8) return STORE_RECORD_TRUNCATED;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | c->p[c->pos + (size_t)i];
    c->pos += 8;
    *v = x;
    return STORE_RECORD_OK;
}

static store_record_err get_u32(cursor *c, uint32_t *v)
{
    if (c->n - c->pos < 4) return STORE_RECORD_TRUNCATED;
    const uint8_t *q = c->p + c->pos;
    *v = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    c->pos += 4;
    return STORE_RECORD_OK;
}

static store_record_err get_u8(cursor *c, uint8_t *v)
{
    if (c->n - c->pos < 1) return STORE_RECORD_TRUNCATED;
    *v = c->p[c->pos++];
    return STORE_RECORD_OK;
}

static store_record_err get_bytes(cursor *c, store_record_bytes *b)
{
    uint32_t len;
    store_record_err e = get_u32(c, &len);
    if (e) return e;
    /* Compare in uint64_t: the remaining bytes fit, and so does any u32. */
    if ((uint64_t)len > (uint64_t)(c->n - c->pos)) return STORE_RECORD_TRUNCATED;
    b->data = len ? c->p + c->pos : NULL;
    b->len = len;
    c->pos += len;
    return STORE_RECORD_OK;
}

static store_record_err get_hlc(cursor *c, hlc *v)
{
    store_record_bytes node;
    store_record_err e;
    if ((e = get_u64(c, &v->wall_ms)) || (e = get_u64(c, &v->counter)) || (e = get_bytes(c, &node))) return e;
    if (!node_valid(node.data, node.len)) return STORE_RECORD_BAD_FIELD;
    v->node = node.data;
    v->node_len = node.len;
    return STORE_RECORD_OK;
}

/* The head: format, type, flags allowed for the type. */
static store_record_err get_head(cursor *c, store_record *r, uint8_t *flags)
{
    uint8_t format, type;
    store_record_err e;
    if ((e = get_u8(c, &format))) return e;
    if (format != STORE_RECORD_FORMAT) return STORE_RECORD_BAD_FORMAT;
    if ((e = get_u8(c, &type))) return e;
    if (!type_known(type)) return STORE_RECORD_BAD_TYPE;
    r->type = (store_record_type)type;
    if ((e = get_u8(c, flags))) return e;
    const unsigned all = STORE_RECORD_F_FENCE | STORE_RECORD_F_PERSIST | STORE_RECORD_F_DEADLINE;
    if (*flags & ~all) return STORE_RECORD_BAD_FIELD;
    unsigned allowed = r->type == STORE_REC_SET ? all
                       : has_origin(r->type)    ? STORE_RECORD_F_FENCE | STORE_RECORD_F_PERSIST
                                                : 0;
    if (*flags & ~allowed) return STORE_RECORD_BAD_TYPE;
    return STORE_RECORD_OK;
}

static store_record_err decode_fields(cursor *c, store_record *r)
{
    uint8_t flags;
    store_record_err e;
    store_record_type t;
    if ((e = get_head(c, r, &flags))) return e;
    t = r->type;
    r->has_fence = flags & STORE_RECORD_F_FENCE;
    r->persist = flags & STORE_RECORD_F_PERSIST;
    if ((e = get_u64(c, &r->now_ms))) return e;
    if (t == STORE_REC_SET) {
        if ((e = get_u8(c, &r->cond))) return e;
        if (r->cond > KEYSPACE_COND_NEX) return STORE_RECORD_BAD_FIELD;
    }
    if ((e = get_hlc(c, &r->version))) return e;
    if (r->has_fence && (e = get_hlc(c, &r->fence))) return e;
    if (flags & STORE_RECORD_F_DEADLINE) {
        if ((e = get_u64(c, &r->deadline_ms))) return e;
        if (r->deadline_ms == 0) return STORE_RECORD_BAD_FIELD; /* "none" is the absent flag */
    }
    if (has_key(t) && (e = get_bytes(c, &r->key))) return e;
    if (has_value(t) && (e = get_bytes(c, &r->value))) return e;
    if (has_origin(t)) {
        if ((e = get_bytes(c, &r->client_id)) || (e = get_bytes(c, &r->correlation))) return e;
        if ((e = get_u64(c, &r->payload_digest)) || (e = get_u32(c, &r->expiry_s))) return e;
    }
    return c->pos == c->n ? STORE_RECORD_OK : STORE_RECORD_TRAILING;
}

store_record_err store_record_decode(const uint8_t *p, size_t n, store_record *out)
{
    *out = (store_record){0};
    cursor c = {p, n, 0};
    return decode_fields(&c, out);
}

const char *store_record_strerror(store_record_err e)
{
    switch (e) {
    case STORE_RECORD_OK: return "ok";
    case STORE_RECORD_TRUNCATED: return "truncated";
    case STORE_RECORD_TRAILING: return "trailing bytes after the record";
    case STORE_RECORD_BAD_FORMAT: return "unknown record format";
    case STORE_RECORD_BAD_TYPE: return "unknown record type or a field the type forbids";
    case STORE_RECORD_BAD_FIELD: return "field out of range";
    }
    return "unknown error";
}
