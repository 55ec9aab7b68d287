/* SCAN over the keyspace (protocol §3.8) and its cursor token. */
#include <string.h>

#include "ssproto/glob.h"
#include "store/keyspace_impl.h"

#define CURSOR_PREFIX "ks1:"
#define CURSOR_PREFIX_LEN 4
#define CURSOR_LEN (CURSOR_PREFIX_LEN + 16)
/* Work bound per page, in buckets plus entries examined: a selective
 * pattern over a large keyspace returns (possibly empty) pages instead of
 * walking everything in one request. */
#define SCAN_MIN_WORK 1024
#define SCAN_WORK_PER_KEY 16

typedef struct scan_state {
    const uint8_t *pat;
    size_t plen;
    uint64_t now_ms;
    keyspace_scan_fn fn;
    void *ctx;
    size_t keys, bytes, work;
} scan_state;

static void scan_visit(void *arg, const ks_entry *e)
{
    scan_state *s = arg;
    s->work++;
    if (ks_entry_expired(e, s->now_ms)) return;
    if (s->pat && !glob_match(s->pat, s->plen, ks_entry_key(e), e->klen)) return;
    /* Keys the caller filters out take no room in the page: its size
     * must not tell a client how many hidden keys match. */
    if (!s->fn(s->ctx, ks_entry_key(e), e->klen)) return;
    s->keys++;
    s->bytes += e->klen;
}

uint64_t keyspace_scan(const keyspace *ks, const uint8_t *pat, size_t plen, uint64_t cursor, uint64_t now_ms,
                       size_t max_keys, size_t max_bytes, keyspace_scan_fn fn, void *ctx)
{
    if (pat && !glob_valid(pat, plen)) return 0; /* matches nothing */
    scan_state s = {pat, plen, now_ms, fn, ctx, 0, 0, 0};
    size_t work_max =
        max_keys && max_keys * SCAN_WORK_PER_KEY > SCAN_MIN_WORK ? max_keys * SCAN_WORK_PER_KEY : SCAN_MIN_WORK;
    do {
        cursor = kstable_scan(&ks->table, cursor, scan_visit, &s);
        s.work++;
    } while (cursor != 0 && (max_keys == 0 || s.keys < max_keys) && (max_bytes == 0 || s.bytes < max_bytes) &&
             s.work < work_max);
    return cursor;
}

void keyspace_cursor_encode(uint64_t cursor, buf *out)
{
    static const char digits[] = "0123456789abcdef";
    buf_append(out, CURSOR_PREFIX, CURSOR_PREFIX_LEN);
    uint8_t *p = buf_reserve(out, 16);
    for (int i = 0; i < 16; i++) p[i] = (uint8_t)digits[(cursor >> (60 - 4 * i)) & 0xF];
    out->len += 16;
}

bool keyspace_cursor_decode(const void *token, size_t n, uint64_t *cursor)
{
    const uint8_t *t = token;
    if (n != CURSOR_LEN || memcmp(t, CURSOR_PREFIX, CURSOR_PREFIX_LEN) != 0) return false;
    uint64_t v = 0;
    for (size_t i = CURSOR_PREFIX_LEN; i < n; i++) {
        uint8_t c = t[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10u;
        else return false;
        v = (v << 4) | d;
    }
    /* Cursor 0 means "complete" and is never sent as a token. */
    if (v == 0) return false;
    *cursor = v;
    return true;
}
