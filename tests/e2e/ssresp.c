/* RESP request building, reply parsing and HLC strings; see ssresp.h. */
#include "ssresp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ssb_add(struct ssb *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) abort();
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    /* Keeps the bytes usable as a C string in diagnostics. */
    b->data[b->len] = 0;
}

void ssb_addf(struct ssb *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) abort();
    ssb_add(b, tmp, (size_t)n);
}

void ssb_free(struct ssb *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

struct ss_arg ss_str(const char *s) { return (struct ss_arg){.data = s, .len = strlen(s)}; }

void ss_resp_array(struct ssb *out, int argc, const struct ss_arg *argv)
{
    ssb_addf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        ssb_addf(out, "$%zu\r\n", argv[i].len);
        ssb_add(out, argv[i].data, argv[i].len);
        ssb_add(out, "\r\n", 2);
    }
}

void ss_escape(const void *data, size_t len, char *out, size_t size)
{
    const uint8_t *p = data;
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        char piece[8];
        switch (p[i]) {
        case '\r': snprintf(piece, sizeof piece, "\\r"); break;
        case '\n': snprintf(piece, sizeof piece, "\\n"); break;
        case '\\': snprintf(piece, sizeof piece, "\\\\"); break;
        case '"': snprintf(piece, sizeof piece, "\\\""); break;
        default:
            if (p[i] >= 0x20 && p[i] < 0x7f) snprintf(piece, sizeof piece, "%c", p[i]);
            else snprintf(piece, sizeof piece, "\\x%02X", p[i]);
        }
        size_t n = strlen(piece);
        if (used + n + 4 >= size) {
            snprintf(out + used, size - used, "...");
            return;
        }
        memcpy(out + used, piece, n + 1);
        used += n;
    }
}

/* Reads decimal digits up to "\r\n"; an optional leading '-' if allowed. */
static bool parse_line_number(const uint8_t *buf, size_t len, size_t *pos, long *out)
{
    size_t i = *pos;
    bool neg = i < len && buf[i] == '-';
    long v = 0;
    int digits = 0;
    if (neg) i++;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && digits < 18) {
        v = v * 10 + (buf[i++] - '0');
        digits++;
    }
    if (digits == 0 || i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n') return false;
    *pos = i + 2;
    *out = neg ? -v : v;
    return true;
}

bool ss_parse_bulk(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **data, size_t *dlen)
{
    size_t i = *pos;
    long n;
    if (i >= len || buf[i] != '$') return false;
    i++;
    if (!parse_line_number(buf, len, &i, &n) || n < 0 || (size_t)n + 2 > len - i) return false;
    if (buf[i + (size_t)n] != '\r' || buf[i + (size_t)n + 1] != '\n') return false;
    *data = buf + i;
    *dlen = (size_t)n;
    *pos = i + (size_t)n + 2;
    return true;
}

bool ss_parse_array_header(const uint8_t *buf, size_t len, size_t *pos, long *count)
{
    size_t i = *pos;
    if (i >= len || buf[i] != '*') return false;
    i++;
    if (!parse_line_number(buf, len, &i, count) || *count < 0) return false;
    *pos = i;
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool ss_hlc_parse(const char *s, struct ss_hlc *out)
{
    const char *c1 = strchr(s, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':')) return false;
    size_t node_len = strlen(c2 + 1);
    if (node_len == 0 || node_len >= sizeof out->node) return false;
    if (!parse_u64(s, (size_t)(c1 - s), &out->wall) || !parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &out->counter))
        return false;
    memcpy(out->node, c2 + 1, node_len + 1);
    return true;
}

int ss_hlc_cmp(const struct ss_hlc *a, const struct ss_hlc *b)
{
    if (a->wall != b->wall) return a->wall < b->wall ? -1 : 1;
    if (a->counter != b->counter) return a->counter < b->counter ? -1 : 1;
    return strcmp(a->node, b->node);
}

void ss_hlc_format(const struct ss_hlc *h, char *out, size_t size)
{
    snprintf(out, size, "%015" PRIu64 ":%05" PRIu64 ":%s", h->wall, h->counter, h->node);
}

uint64_t ss_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
