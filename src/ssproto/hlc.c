#include "ssproto/hlc.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct hlc_clock {
    uint64_t wall_ms; /* S, without its node id */
    uint64_t counter;
    size_t node_len;
    uint8_t node[]; /* owned copy, node_len bytes, valid node id */
};

static bool node_valid(const uint8_t *node, size_t n) { return n > 0 && memchr(node, ':', n) == NULL; }

/* 1*DIGIT in p[0..n) not above max. */
static bool parse_decimal(const uint8_t *p, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0) return false;
    uint64_t v = 0;
    if (n <= 19) { /* 19 digits never overflow 64 bits: no check per digit (every request's __ts) */
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)p[i] - '0';
            if (d > 9) return false;
            v = v * 10 + d;
        }
        if (v > max) return false;
        *out = v;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool hlc_parse(const void *s, size_t n, hlc *out)
{
    const uint8_t *p = s;
    const uint8_t *c1 = n ? memchr(p, ':', n) : NULL;
    if (!c1) return false;
    const uint8_t *end = p + n;
    const uint8_t *c2 = memchr(c1 + 1, ':', (size_t)(end - (c1 + 1)));
    if (!c2) return false;
    const uint8_t *node = c2 + 1;
    size_t node_len = (size_t)(end - node);
    if (!node_valid(node, node_len)) return false;
    uint64_t wall, counter;
    if (!parse_decimal(p, (size_t)(c1 - p), HLC_WALL_MAX, &wall)) return false;
    if (!parse_decimal(c1 + 1, (size_t)(c2 - (c1 + 1)), UINT64_MAX, &counter)) return false;
    *out = (hlc){wall, counter, node, node_len};
    return true;
}

/* Decimal digits of v, zero-padded to at least `width`; returns the
 * length (at most 20, or width if larger). */
static size_t put_padded_u64(char *p, uint64_t v, size_t width)
{
    /* Two digits per division, right to left (every reply's version). */
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    char rev[20];
    size_t n = sizeof rev;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        n -= 2;
        memcpy(rev + n, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        n -= 2;
        memcpy(rev + n, pairs + 2 * v, 2);
    } else {
        rev[--n] = (char)('0' + v);
    }
    size_t digits = sizeof rev - n, len = 0;
    for (; len + digits < width; len++) p[len] = '0';
    memcpy(p + len, rev + n, digits);
    return len + digits;
}

/* "%015llu:%05llu:" then the node id. Formatted by hand: every SET
 * reply carries a version, and snprintf was ~3 % of a SET's CPU. */
void hlc_format(const hlc *v, buf *out)
{
    char head[64]; /* 20 digits + 20 digits + 2 colons always fit */
    size_t n = put_padded_u64(head, v->wall_ms, 15);
    head[n++] = ':';
    n += put_padded_u64(head + n, v->counter, 5);
    head[n++] = ':';
    buf_append(out, head, n);
    buf_append(out, v->node, v->node_len);
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

int hlc_compare(const hlc *a, const hlc *b)
{
    int c = cmp_u64(a->wall_ms, b->wall_ms);
    if (c) return c;
    c = cmp_u64(a->counter, b->counter);
    if (c) return c;
    size_t n = a->node_len < b->node_len ? a->node_len : b->node_len;
    c = n ? memcmp(a->node, b->node, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return cmp_u64(a->node_len, b->node_len);
}

bool hlc_too_far_ahead(const hlc *v, uint64_t now_ms, uint64_t max_skew_ms)
{
    /* Subtract instead of adding so a huge now_ms or skew cannot wrap. */
    return v->wall_ms > now_ms && v->wall_ms - now_ms > max_skew_ms;
}

/* --- the server clock S ---------------------------------------------------- */

hlc_clock *hlc_clock_new(const void *node, size_t node_len)
{
    if (!node_valid(node, node_len)) return NULL;
    hlc_clock *c = xmalloc(sizeof *c + node_len);
    c->wall_ms = 0;
    c->counter = 0;
    c->node_len = node_len;
    memcpy(c->node, node, node_len);
    return c;
}

void hlc_clock_free(hlc_clock *c) { free(c); }

hlc hlc_clock_get(const hlc_clock *c) { return (hlc){c->wall_ms, c->counter, c->node, c->node_len}; }

/* Set S to the smallest issuable value above (wall, counter): the next
 * counter, or the next millisecond once the counter is at its cap. */
static bool set_after(hlc_clock *c, uint64_t wall, uint64_t counter)
{
    if (counter < HLC_COUNTER_MAX) {
        c->wall_ms = wall;
        c->counter = counter + 1;
        return true;
    }
    if (wall == UINT64_MAX) return false;
    c->wall_ms = wall + 1;
    c->counter = 0;
    return true;
}

static bool done(hlc_clock *c, bool ok, hlc *out)
{
    if (ok && out) *out = hlc_clock_get(c);
    return ok;
}

bool hlc_clock_update_now(hlc_clock *c, uint64_t now_ms, hlc *out)
{
    if (now_ms > c->wall_ms) {
        c->wall_ms = now_ms;
        c->counter = 0;
        return done(c, true, out);
    }
    return done(c, set_after(c, c->wall_ms, c->counter), out);
}

bool hlc_clock_update_from(hlc_clock *c, const hlc *rx, uint64_t now_ms, hlc *out)
{
    bool ok;
    if (now_ms > c->wall_ms && now_ms > rx->wall_ms) {
        c->wall_ms = now_ms;
        c->counter = 0;
        ok = true;
    } else if (c->wall_ms == rx->wall_ms) {
        ok = set_after(c, c->wall_ms, c->counter > rx->counter ? c->counter : rx->counter);
    } else if (c->wall_ms > rx->wall_ms) {
        ok = set_after(c, c->wall_ms, c->counter);
    } else {
        ok = set_after(c, rx->wall_ms, rx->counter);
    }
    return done(c, ok, out);
}

void hlc_clock_observe(hlc_clock *c, const hlc *v)
{
    if (v->wall_ms > c->wall_ms || (v->wall_ms == c->wall_ms && v->counter > c->counter)) {
        c->wall_ms = v->wall_ms;
        c->counter = v->counter;
    }
}
