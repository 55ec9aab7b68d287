/* HTTP/1.x request heads (http_parse.h). */
#include "ops/http_parse.h"

#include <string.h>

#include "util/base64.h"
#include "util/buf.h"

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static bool ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn) return false;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)b[i]) return false;
    return true;
}

/* Does the comma-separated list v contain `tok` (case-insensitive)? */
static bool list_has(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e > s && ieq(v + s, e - s, tok)) return true;
    }
    return false;
}

/* The end of the head (index past the blank line), or 0. A bare LF ends
 * a line too (RFC 9112 §2.2 allows a recipient to accept it). */
static size_t head_end(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') continue;
        if (i + 1 < len && p[i + 1] == '\n') return i + 2;
        if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* One line of p[*at..end): [s, s+n) without its CR LF. */
static bool next_line(const uint8_t *p, size_t end, size_t *at, const char **s, size_t *n)
{
    size_t i = *at;
    if (i >= end) return false;
    size_t j = i;
    while (j < end && p[j] != '\n') j++;
    if (j == end) return false;
    size_t e = j;
    if (e > i && p[e - 1] == '\r') e--;
    *s = (const char *)p + i;
    *n = e - i;
    *at = j + 1;
    return true;
}

static bool parse_request_line(const char *s, size_t n, http_request *out)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    if (i == 0 || i >= n || s[i] != ' ') return false;
    if (i == 3 && memcmp(s, "GET", 3) == 0) out->method = HTTP_METHOD_GET;
    else if (i == 4 && memcmp(s, "HEAD", 4) == 0) out->method = HTTP_METHOD_HEAD;
    else out->method = HTTP_METHOD_OTHER;
    size_t t = ++i;
    while (i < n && s[i] != ' ') {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) return false; /* no controls, no raw UTF-8 */
        i++;
    }
    if (i == t || i >= n || s[t] != '/') return false; /* origin form only */
    size_t q = t;
    while (q < i && s[q] != '?') q++;
    out->path = (http_slice){s + t, q - t};
    i++;
    if (n - i != 8 || memcmp(s + i, "HTTP/1.", 7) != 0) return false;
    if (s[i + 7] != '0' && s[i + 7] != '1') return false;
    out->minor = (uint8_t)(s[i + 7] - '0');
    return true;
}

/* A Content-Length value: digits only, at most 18 of them. */
static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 18) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

typedef struct head_seen {
    bool authorization, length, conn_close, conn_keep;
    uint64_t length_value;
} head_seen;

static bool parse_header(const char *s, size_t n, http_request *out, head_seen *seen)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i])) i++;
    if (i == 0 || i >= n || s[i] != ':') return false; /* also refuses obs-fold and space before ':' */
    size_t name_len = i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t e = n;
    while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
    for (size_t k = i; k < e; k++) {
        unsigned char c = (unsigned char)s[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    const char *v = s + i;
    size_t vn = e - i;
    if (ieq(s, name_len, "authorization")) {
        if (seen->authorization) return false;
        seen->authorization = true;
        out->authorization = (http_slice){v, vn};
    } else if (ieq(s, name_len, "content-length")) {
        uint64_t x;
        if (!parse_length(v, vn, &x) || (seen->length && x != seen->length_value)) return false;
        seen->length = true;
        seen->length_value = x;
        if (x) out->has_body = true;
    } else if (ieq(s, name_len, "transfer-encoding")) {
        out->has_body = true;
    } else if (ieq(s, name_len, "connection")) {
        if (list_has(v, vn, "close")) seen->conn_close = true;
        if (list_has(v, vn, "keep-alive")) seen->conn_keep = true;
    }
    return true;
}

http_parse_status http_parse_request(const uint8_t *p, size_t len, size_t max_head, http_request *out)
{
    size_t end = head_end(p, len < max_head ? len : max_head);
    if (!end) return len >= max_head ? HTTP_PARSE_TOO_LARGE : HTTP_PARSE_NEED_MORE;
    memset(out, 0, sizeof *out);
    out->head_len = end;
    size_t at = 0;
    const char *s;
    size_t n;
    if (!next_line(p, end, &at, &s, &n) || !parse_request_line(s, n, out)) return HTTP_PARSE_BAD;
    head_seen seen = {0};
    while (next_line(p, end, &at, &s, &n) && n > 0)
        if (!parse_header(s, n, out, &seen)) return HTTP_PARSE_BAD;
    out->keep_alive = out->minor == 1 ? !seen.conn_close : seen.conn_keep && !seen.conn_close;
    return HTTP_PARSE_OK;
}

bool http_parse_basic(http_slice value, char *out, size_t cap, http_slice *user, http_slice *pass)
{
    if (!value.p || value.len < 6 || !ieq(value.p, 5, "basic") || value.p[5] != ' ') return false;
    size_t i = 6;
    while (i < value.len && value.p[i] == ' ') i++;
    if ((value.len - i) / 4 * 3 > cap) return false;
    buf b = {0};
    bool ok = base64_decode(value.p + i, value.len - i, &b);
    if (ok && b.len && b.len <= cap) memcpy(out, b.data, b.len); /* b.data is NULL when empty */
    size_t n = b.len;
    buf_free(&b);
    if (!ok || n > cap) return false;
    char *colon = memchr(out, ':', n);
    if (!colon) return false;
    *user = (http_slice){out, (size_t)(colon - out)};
    *pass = (http_slice){colon + 1, n - (size_t)(colon - out) - 1};
    return true;
}
