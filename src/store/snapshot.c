/* Snapshot format (see snapshot.h): a streaming writer with one fixed
 * buffer and a strict loader. */
#include "store/snapshot.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/dedup.h"
#include "store/keyspace.h"
#include "store/service_impl.h"
#include "util/crc32c.h"

static const uint8_t MAGIC[8] = {'M', 'Q', 'S', 'S', 'N', 'A', 'P', 0};
static const uint8_t END_MAGIC[8] = {'M', 'Q', 'S', 'S', 'E', 'N', 'D', 0};
#define TAG_KEYS 0x5359454bu /* "KEYS" read as a little-endian u32 */
#define TAG_DDUP 0x50554444u /* "DDUP" */
#define TAG_LOCL 0x4c434f4cu /* "LOCL" */
#define TRAILER_LEN (8u + 8u + 8u + 8u + 4u)

/* The smallest key entry: flags, an HLC with a 1-byte node id, empty key
 * and value. Bounds the table reserved for a header's key count. */
#define MIN_KEY_ENTRY (1u + 8u + 8u + 4u + 1u + 4u + 4u)

#define F_PERSIST 1u
#define F_FENCED 2u
#define F_DEADLINE 4u
#define F_ALL (F_PERSIST | F_FENCED | F_DEADLINE)

/* --- writing ---------------------------------------------------------------- */

/* Bytes go into buf and out in full chunks. The CRCs are computed over
 * the buffer, not per field: sec_crc (the current section, or the header)
 * and file_crc cover every byte before buf[crc_pos]. */
typedef struct snap_w {
    snapshot_sink_fn write;
    void *ctx;
    bool failed;
    size_t len, crc_pos;
    uint64_t total;
    uint32_t sec_crc, file_crc;
    uint8_t buf[STORE_SNAPSHOT_CHUNK];
} snap_w;

static void w_crc(snap_w *w)
{
    w->sec_crc = crc32c(w->sec_crc, w->buf + w->crc_pos, w->len - w->crc_pos);
    w->file_crc = crc32c(w->file_crc, w->buf + w->crc_pos, w->len - w->crc_pos);
    w->crc_pos = w->len;
}

static void w_flush(snap_w *w)
{
    w_crc(w);
    if (w->len && !w->failed && !w->write(w->ctx, w->buf, w->len)) w->failed = true;
    w->len = w->crc_pos = 0;
}

static void w_put(snap_w *w, const void *p, size_t n)
{
    if (w->failed) return;
    w->total += n;
    if (n <= sizeof w->buf - w->len) { /* the common case: a field that fits */
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return;
    }
    const uint8_t *b = p;
    while (n) {
        size_t k = sizeof w->buf - w->len;
        if (k > n) k = n;
        memcpy(w->buf + w->len, b, k);
        w->len += k;
        b += k;
        n -= k;
        if (w->len == sizeof w->buf) w_flush(w);
    }
}

static void w_u8(snap_w *w, uint8_t v) { w_put(w, &v, 1); }

static void w_u32(snap_w *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    w_put(w, b, sizeof b);
}

static void w_u64(snap_w *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    w_put(w, b, sizeof b);
}

/* Lengths are below 2^32: entries and node ids are u32-sized in memory. */
static void w_bytes(snap_w *w, const void *p, size_t n)
{
    assert(n <= UINT32_MAX);
    w_u32(w, (uint32_t)n);
    if (n) w_put(w, p, n);
}

static void w_hlc(snap_w *w, const hlc *v)
{
    w_u64(w, v->wall_ms);
    w_u64(w, v->counter);
    w_bytes(w, v->node, v->node_len);
}

/* The CRC of the section (or header) so far, which ends it. */
static void w_end_section(snap_w *w)
{
    w_crc(w);
    w_u32(w, w->sec_crc);
    w_crc(w); /* the CRC bytes into file_crc; the next section starts afresh */
    w->sec_crc = 0;
}

typedef struct w_count {
    snap_w *w;
    uint64_t n;
} w_count;

/* Only durable state goes into a snapshot (docs/persistence.md): keys
 * whose value is durable and the de-duplication entries of durable
 * writes (service_impl.h: the first meta byte). Counted in a first pass,
 * since the header carries the counts. */
static void count_key(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    (void)key;
    (void)klen;
    *(uint64_t *)ctx += v->persist;
}

static bool dedup_durable(dedup_slice meta) { return meta.len && *(const uint8_t *)meta.data == SVC_DEDUP_DURABLE; }

static void count_dedup(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    (void)k;
    (void)payload;
    (void)expires_at_ms;
    *(uint64_t *)ctx += dedup_durable(meta);
}

static void w_key(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    w_count *c = ctx;
    snap_w *w = c->w;
    if (!v->persist) return;
    c->n++;
    w_u8(w, (uint8_t)((v->persist ? F_PERSIST : 0) | (v->fenced ? F_FENCED : 0) | (v->deadline_ms ? F_DEADLINE : 0)));
    w_hlc(w, &v->version);
    if (v->fenced) w_hlc(w, &v->fence);
    if (v->deadline_ms) w_u64(w, v->deadline_ms);
    w_bytes(w, key, klen);
    w_bytes(w, v->value, v->vlen);
}

static void w_dedup(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    w_count *c = ctx;
    snap_w *w = c->w;
    if (!dedup_durable(meta)) return;
    c->n++;
    w_bytes(w, k->client_id.data, k->client_id.len);
    w_bytes(w, k->correlation.data, k->correlation.len);
    w_u64(w, k->digest);
    w_u64(w, expires_at_ms);
    w_bytes(w, (const uint8_t *)meta.data + 1, meta.len - 1); /* the file keeps __ts only */
    w_bytes(w, payload.data, payload.len);
}

typedef struct w_local {
    snap_w *w;
    uint64_t n;
} w_local;

static bool w_emit(void *ctx, uint8_t type, const snapshot_piece *pieces, unsigned n)
{
    w_local *l = ctx;
    assert(type != 0);
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) len += pieces[i].n;
    assert(len <= UINT32_MAX);
    w_u8(l->w, type);
    w_u32(l->w, (uint32_t)len);
    for (unsigned i = 0; i < n; i++)
        if (pieces[i].n) w_put(l->w, pieces[i].p, pieces[i].n);
    l->n++;
    return !l->w->failed;
}

bool store_snapshot_write(const store_service *s, uint64_t last_index, snapshot_sink_fn write, void *ctx)
{
    return store_snapshot_write_ext(s, last_index, NULL, NULL, write, ctx);
}

bool store_snapshot_write_ext(const store_service *s, uint64_t last_index, snapshot_locals_fn locals, void *locals_ctx,
                              snapshot_sink_fn write, void *ctx)
{
    snap_w w = {.write = write, .ctx = ctx};
    uint64_t nkeys = 0, ndedup = 0;
    keyspace_foreach(s->ks, count_key, &nkeys);
    dedup_foreach(s->dedup, count_dedup, &ndedup);
    hlc hw = hlc_clock_get(s->clock);

    w_put(&w, MAGIC, sizeof MAGIC);
    w_u32(&w, STORE_SNAPSHOT_FORMAT);
    w_u32(&w, 0); /* flags */
    w_u64(&w, last_index);
    w_u64(&w, nkeys);
    w_u64(&w, ndedup);
    w_hlc(&w, &hw);
    w_end_section(&w);

    w_count c = {&w, 0};
    w_u32(&w, TAG_KEYS);
    w_u64(&w, nkeys);
    keyspace_foreach(s->ks, w_key, &c);
    assert(c.n == nkeys);
    w_end_section(&w);

    c.n = 0;
    w_u32(&w, TAG_DDUP);
    w_u64(&w, ndedup);
    dedup_foreach(s->dedup, w_dedup, &c);
    assert(c.n == ndedup);
    w_end_section(&w);

    w_local l = {&w, 0};
    w_u32(&w, TAG_LOCL);
    if (locals && !locals(locals_ctx, w_emit, &l)) w.failed = true;
    w_u8(&w, 0);
    w_u64(&w, l.n);
    w_end_section(&w);

    w_put(&w, END_MAGIC, sizeof END_MAGIC);
    w_u64(&w, nkeys);
    w_u64(&w, ndedup);
    w_u64(&w, w.total + 8 + 4); /* this field and the CRC */
    w_crc(&w);
    uint32_t crc = w.file_crc;
    w_u32(&w, crc);
    w_flush(&w);
    return !w.failed;
}

/* --- loading ---------------------------------------------------------------- */

/* A cursor over p[0..end); the first failure is kept in err. */
typedef struct snap_r {
    const uint8_t *p;
    size_t off, end;
    char *err;
    size_t errlen;
    bool bad;
} snap_r;

__attribute__((format(printf, 3, 4))) static bool r_fail(snap_r *r, size_t off, const char *fmt, ...)
{
    if (r->bad) return false;
    r->bad = true;
    if (r->errlen == 0) return false;
    int k = snprintf(r->err, r->errlen, "offset %zu: ", off);
    if (k >= 0 && (size_t)k < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool r_need(snap_r *r, size_t n, const char *what)
{
    if (r->bad) return false;
    if (r->end - r->off >= n) return true;
    return r_fail(r, r->off, "truncated %s (%zu bytes needed, %zu left)", what, n, r->end - r->off);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint8_t r_u8(snap_r *r, const char *what)
{
    if (!r_need(r, 1, what)) return 0;
    return r->p[r->off++];
}

static uint32_t r_u32(snap_r *r, const char *what)
{
    if (!r_need(r, 4, what)) return 0;
    uint32_t v = (uint32_t)le(r->p + r->off, 4);
    r->off += 4;
    return v;
}

static uint64_t r_u64(snap_r *r, const char *what)
{
    if (!r_need(r, 8, what)) return 0;
    uint64_t v = le(r->p + r->off, 8);
    r->off += 8;
    return v;
}

/* A u32 length and that many bytes, borrowed from the input. */
static const uint8_t *r_bytes(snap_r *r, size_t *n, const char *what)
{
    uint32_t len = r_u32(r, what);
    *n = 0;
    if (!r_need(r, len, what)) return NULL;
    const uint8_t *b = r->p + r->off;
    r->off += len;
    *n = len;
    return b;
}

static bool r_hlc(snap_r *r, hlc *v, const char *what)
{
    v->wall_ms = r_u64(r, what);
    v->counter = r_u64(r, what);
    size_t at = r->off;
    v->node = r_bytes(r, &v->node_len, what);
    if (r->bad) return false;
    if (v->node_len == 0 || memchr(v->node, ':', v->node_len))
        return r_fail(r, at, "%s: node id empty or containing ':'", what);
    return true;
}

/* Checks the CRC that ends the section begun at `start`. */
static bool r_end_section(snap_r *r, size_t start, const char *what)
{
    uint32_t want = crc32c(0, r->p + start, r->off - start);
    size_t at = r->off;
    uint32_t got = r_u32(r, what);
    if (r->bad) return false;
    if (got != want) return r_fail(r, at, "%s checksum mismatch (corrupted)", what);
    return true;
}

static bool r_section_head(snap_r *r, uint32_t tag, uint64_t count, const char *what)
{
    size_t at = r->off;
    uint32_t t = r_u32(r, what);
    if (r->bad) return false;
    if (t != tag) return r_fail(r, at, "expected the %s section", what);
    at = r->off;
    uint64_t n = r_u64(r, what);
    if (r->bad) return false;
    if (n != count)
        return r_fail(r, at, "%s section count %llu, header says %llu", what, (unsigned long long)n,
                      (unsigned long long)count);
    return true;
}

static bool load_keys(store_service *s, snap_r *r, uint64_t count)
{
    size_t start = r->off;
    if (!r_section_head(r, TAG_KEYS, count, "keys")) return false;
    keyspace_reserve(s->ks, count <= (r->end - r->off) / MIN_KEY_ENTRY ? (size_t)count : 0);
    for (uint64_t i = 0; i < count; i++) {
        size_t at = r->off;
        keyspace_entry_view v = {0};
        uint8_t flags = r_u8(r, "key entry");
        if (r->bad) return false;
        if (flags & ~F_ALL) return r_fail(r, at, "key entry %llu: unknown flags 0x%02x", (unsigned long long)i, flags);
        v.persist = flags & F_PERSIST;
        v.fenced = flags & F_FENCED;
        if (!r_hlc(r, &v.version, "key version")) return false;
        if (v.fenced && !r_hlc(r, &v.fence, "key fencing token")) return false;
        if (flags & F_DEADLINE) {
            size_t dat = r->off;
            v.deadline_ms = r_u64(r, "key deadline");
            if (r->bad) return false;
            if (v.deadline_ms == 0) return r_fail(r, dat, "key entry %llu: deadline 0", (unsigned long long)i);
        }
        size_t klen;
        const uint8_t *key = r_bytes(r, &klen, "key");
        v.value = r_bytes(r, &v.vlen, "value");
        if (r->bad) return false;
        if (!keyspace_restore_entry(s->ks, key, klen, &v))
            return r_fail(r, at, "key entry %llu duplicates an earlier key", (unsigned long long)i);
        hlc_clock_observe(s->clock, &v.version);
        if (v.fenced) hlc_clock_observe(s->clock, &v.fence);
    }
    return r_end_section(r, start, "keys section");
}

static bool load_dedup(store_service *s, snap_r *r, uint64_t count)
{
    size_t start = r->off;
    if (!r_section_head(r, TAG_DDUP, count, "de-duplication")) return false;
    for (uint64_t i = 0; i < count; i++) {
        size_t at = r->off, n;
        dedup_key k;
        k.client_id.data = r_bytes(r, &n, "de-duplication client id");
        k.client_id.len = n;
        k.correlation.data = r_bytes(r, &n, "de-duplication correlation data");
        k.correlation.len = n;
        k.digest = r_u64(r, "de-duplication digest");
        size_t eat = r->off;
        uint64_t expires = r_u64(r, "de-duplication lifetime");
        dedup_slice meta, payload;
        meta.data = r_bytes(r, &n, "de-duplication meta");
        meta.len = n;
        payload.data = r_bytes(r, &n, "de-duplication reply");
        payload.len = n;
        if (r->bad) return false;
        if (expires == 0) return r_fail(r, eat, "de-duplication entry %llu: lifetime 0", (unsigned long long)i);
        /* Everything in a snapshot is durable (service_impl.h: flag, __ts). */
        buf *m = &s->dedup_meta;
        m->len = 0;
        buf_append_u8(m, SVC_DEDUP_DURABLE);
        buf_append(m, meta.data, meta.len);
        meta = (dedup_slice){m->data, m->len};
        if (!dedup_restore(s->dedup, &k, meta, payload, expires))
            return r_fail(r, at, "de-duplication entry %llu duplicates an earlier one", (unsigned long long)i);
    }
    return r_end_section(r, start, "de-duplication section");
}

static bool load_locals(snap_r *r, snapshot_local_fn on_local, void *ctx)
{
    size_t start = r->off;
    uint32_t t = r_u32(r, "local records");
    if (r->bad) return false;
    if (t != TAG_LOCL) return r_fail(r, start, "expected the local records section");
    uint64_t n = 0;
    for (;;) {
        size_t at = r->off;
        uint8_t type = r_u8(r, "local record");
        if (r->bad) return false;
        if (type == 0) break;
        size_t len;
        const uint8_t *p = r_bytes(r, &len, "local record");
        if (r->bad) return false;
        const char *bad = on_local ? on_local(ctx, type, p, len) : NULL;
        if (bad) return r_fail(r, at, "local record %llu (type %u): %s", (unsigned long long)n, type, bad);
        n++;
    }
    size_t at = r->off;
    uint64_t count = r_u64(r, "local records count");
    if (r->bad) return false;
    if (count != n)
        return r_fail(r, at, "local records section count %llu, %llu records present", (unsigned long long)count,
                      (unsigned long long)n);
    return r_end_section(r, start, "local records section");
}

/* Header fields; the node id of hw is borrowed from the input. */
typedef struct snap_header {
    uint32_t format;
    uint64_t last_index, nkeys, ndedup;
    hlc hw;
} snap_header;

static bool read_header(snap_r *r, snap_header *h)
{
    if (!r_need(r, sizeof MAGIC, "header")) return false;
    if (memcmp(r->p, MAGIC, sizeof MAGIC) != 0) return r_fail(r, 0, "not a snapshot (bad magic)");
    r->off = sizeof MAGIC;
    uint32_t format = r_u32(r, "header");
    if (!r->bad && (format < 1 || format > STORE_SNAPSHOT_FORMAT))
        return r_fail(r, 8, "unsupported snapshot format %u (this build reads 1 to %u)", format, STORE_SNAPSHOT_FORMAT);
    h->format = format;
    uint32_t flags = r_u32(r, "header");
    if (!r->bad && flags != 0) return r_fail(r, 12, "unknown header flags 0x%x", flags);
    h->last_index = r_u64(r, "header");
    h->nkeys = r_u64(r, "header");
    h->ndedup = r_u64(r, "header");
    if (!r_hlc(r, &h->hw, "header clock")) return false;
    return r_end_section(r, 0, "header");
}

/* The trailer at the end of p[0..n): lengths, counts, the file CRC. */
static bool check_trailer(snap_r *r, size_t n, const snap_header *h)
{
    if (n - r->off < TRAILER_LEN) return r_fail(r, n, "truncated (no room for the trailer after the header)");
    size_t t = n - TRAILER_LEN;
    const uint8_t *p = r->p + t;
    if (memcmp(p, END_MAGIC, sizeof END_MAGIC) != 0) return r_fail(r, t, "no trailer (truncated snapshot?)");
    uint64_t len = le(p + 24, 8);
    if (len != n)
        return r_fail(r, t + 24, "trailer says %llu bytes, snapshot has %zu (truncated or extended)",
                      (unsigned long long)len, n);
    if (le(p + 8, 8) != h->nkeys || le(p + 16, 8) != h->ndedup)
        return r_fail(r, t + 8, "trailer counts differ from the header");
    if ((uint32_t)le(p + 32, 4) != crc32c(0, r->p, n - 4))
        return r_fail(r, n - 4, "file checksum mismatch (corrupted)");
    return true;
}

bool store_snapshot_verify(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    snap_r r = {.p = p, .end = n, .err = err, .errlen = errlen};
    if (errlen) err[0] = 0;
    snap_header h;
    return read_header(&r, &h) && check_trailer(&r, n, &h);
}

bool store_snapshot_load(store_service *fresh, const uint8_t *p, size_t n, uint64_t *last_index, char *err,
                         size_t errlen)
{
    return store_snapshot_load_ext(fresh, p, n, last_index, NULL, NULL, err, errlen);
}

bool store_snapshot_load_ext(store_service *fresh, const uint8_t *p, size_t n, uint64_t *last_index,
                             snapshot_local_fn on_local, void *local_ctx, char *err, size_t errlen)
{
    snap_r r = {.p = p, .end = n, .err = err, .errlen = errlen};
    if (errlen) err[0] = 0;
    keyspace_stats ks;
    keyspace_stats_get(fresh->ks, &ks);
    if (ks.keys != 0 || dedup_count(fresh->dedup) != 0) return r_fail(&r, 0, "the service to load into is not empty");
    snap_header h;
    if (!read_header(&r, &h) || !check_trailer(&r, n, &h)) return false;
    r.end = n - TRAILER_LEN; /* sections may not run into the trailer */
    if (!load_keys(fresh, &r, h.nkeys) || !load_dedup(fresh, &r, h.ndedup)) return false;
    if (h.format >= 2 && !load_locals(&r, on_local, local_ctx)) return false;
    if (r.off != r.end) return r_fail(&r, r.off, "%zu unexpected bytes before the trailer", r.end - r.off);
    hlc_clock_observe(fresh->clock, &h.hw);
    *last_index = h.last_index;
    return true;
}
