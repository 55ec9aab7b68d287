/* The server side of the WebSocket opening handshake (RFC 6455 §4.2.1):
 * an HTTP/1.1 GET with the upgrade headers, answered with 101 or refused
 * with a status that names what was wrong. Only what the handshake needs
 * is parsed; any other header is checked for shape and otherwise ignored. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/ws_codec.h"
#include "util/base64.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_B64_LEN 24 /* 16 bytes in base64 */

void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_SIZE])
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    /* Only allocation can fail here, and allocation failure aborts (alloc.h). */
    if (!md || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(md, key, len) != 1 ||
        EVP_DigestUpdate(md, WS_GUID, sizeof WS_GUID - 1) != 1 || EVP_DigestFinal_ex(md, digest, &n) != 1 || n != 20)
        abort();
    EVP_MD_CTX_free(md);
    base64_encode(digest, n, out);
}

/* A slice of the request head. */
typedef struct span {
    const char *p;
    size_t n;
} span;

static bool span_is(span s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static bool span_icase(span s, const char *lit) { return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0; }

static span trim(span s)
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) s.p++, s.n--;
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) s.n--;
    return s;
}

/* Whether the comma-separated list holds `token` (compared with cmp). */
static bool list_has(span list, const char *token, bool icase)
{
    while (list.n) {
        const char *comma = memchr(list.p, ',', list.n);
        span item = {list.p, comma ? (size_t)(comma - list.p) : list.n};
        item = trim(item);
        if (icase ? span_icase(item, token) : span_is(item, token)) return true;
        if (!comma) break;
        list.n -= (size_t)(comma + 1 - list.p);
        list.p = comma + 1;
    }
    return false;
}

/* RFC 7230 tchar: the characters of a header name. */
static bool is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static ws_hs_status refuse(ws_handshake *hs, int status, const char *reason)
{
    hs->status = status;
    hs->reason = reason;
    return WS_HS_REFUSE;
}

/* The headers the handshake reads (each at most once where it matters). */
typedef struct request {
    span host, upgrade, connection, key, version;
    span protocols;
    bool has_host, has_version, has_protocol;
    int keys; /* Sec-WebSocket-Key headers seen */
} request;

/* One header line (without its CRLF). Returns a reason on error. */
static const char *header_line(span line, request *r)
{
    const char *colon = memchr(line.p, ':', line.n);
    if (!colon || colon == line.p) return "malformed header line";
    span name = {line.p, (size_t)(colon - line.p)};
    for (size_t i = 0; i < name.n; i++)
        if (!is_tchar((unsigned char)name.p[i])) return "malformed header name";
    span value = {colon + 1, line.n - name.n - 1};
    for (size_t i = 0; i < value.n; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return "control character in a header value";
    }
    value = trim(value);
    if (span_icase(name, "Host")) {
        if (r->has_host) return "more than one Host header";
        r->host = value, r->has_host = true;
    } else if (span_icase(name, "Upgrade")) {
        r->upgrade = value;
    } else if (span_icase(name, "Connection")) {
        r->connection = value;
    } else if (span_icase(name, "Sec-WebSocket-Key")) {
        r->key = value, r->keys++;
    } else if (span_icase(name, "Sec-WebSocket-Version")) {
        if (r->has_version) return "more than one Sec-WebSocket-Version header";
        r->version = value, r->has_version = true;
    } else if (span_icase(name, "Sec-WebSocket-Protocol")) {
        if (r->has_protocol) return "more than one Sec-WebSocket-Protocol header";
        r->protocols = value, r->has_protocol = true;
    }
    return NULL;
}

/* The request line: method, target, version. */
static ws_hs_status request_line(span line, const char *path, ws_handshake *hs)
{
    const char *sp1 = memchr(line.p, ' ', line.n);
    if (!sp1) return refuse(hs, 400, "malformed request line");
    span method = {line.p, (size_t)(sp1 - line.p)};
    span rest = {sp1 + 1, line.n - method.n - 1};
    const char *sp2 = memchr(rest.p, ' ', rest.n);
    if (!sp2) return refuse(hs, 400, "malformed request line");
    span target = {rest.p, (size_t)(sp2 - rest.p)};
    span version = {sp2 + 1, rest.n - target.n - 1};
    if (version.n != 8 || memcmp(version.p, "HTTP/1.", 7) != 0 || version.p[7] < '0' || version.p[7] > '9')
        return refuse(hs, version.n >= 5 && !memcmp(version.p, "HTTP/", 5) ? 505 : 400,
                      version.n >= 5 && !memcmp(version.p, "HTTP/", 5) ? "HTTP version not supported: use HTTP/1.1"
                                                                       : "malformed request line");
    if (version.p[7] == '0') return refuse(hs, 505, "HTTP version not supported: use HTTP/1.1");
    for (size_t i = 0; i < target.n; i++)
        if ((unsigned char)target.p[i] <= 0x20 || (unsigned char)target.p[i] >= 0x7f)
            return refuse(hs, 400, "malformed request target");
    const char *q = memchr(target.p, '?', target.n);
    span tpath = {target.p, q ? (size_t)(q - target.p) : target.n};
    if (!span_is(tpath, path)) return refuse(hs, 404, "no WebSocket endpoint at this path");
    if (!span_is(method, "GET")) return refuse(hs, 405, "the WebSocket handshake is a GET request");
    return WS_HS_OK;
}

/* What the collected headers say: an upgrade to accept, or why not. */
static ws_hs_status check_upgrade(const request *r, ws_handshake *hs)
{
    if (!r->has_host) return refuse(hs, 400, "no Host header");
    if (!list_has(r->upgrade, "websocket", true))
        return refuse(hs, 426, "not a WebSocket upgrade (Upgrade: websocket)");
    if (!list_has(r->connection, "upgrade", true)) return refuse(hs, 400, "no Connection: Upgrade header");
    if (!r->has_version || !span_is(r->version, "13"))
        return refuse(hs, 426, "unsupported Sec-WebSocket-Version (13 is supported)");
    if (r->keys != 1) return refuse(hs, 400, "expected one Sec-WebSocket-Key header");
    uint8_t raw[18];
    buf b = {raw, 0, sizeof raw};
    if (r->key.n != KEY_B64_LEN || !base64_decode(r->key.p, r->key.n, &b) || b.len != 16)
        return refuse(hs, 400, "Sec-WebSocket-Key is not 16 bytes in base64");
    hs->protocol = NULL;
    if (r->has_protocol) {
        if (list_has(r->protocols, "mqtt", false)) hs->protocol = "mqtt";
        else if (list_has(r->protocols, "mqttv3.1", false)) hs->protocol = "mqttv3.1";
        else return refuse(hs, 400, "Sec-WebSocket-Protocol does not offer mqtt");
    }
    ws_accept_key(r->key.p, r->key.n, hs->accept);
    return WS_HS_OK;
}

ws_hs_status ws_handshake_parse(const uint8_t *data, size_t len, const char *path, ws_handshake *hs)
{
    memset(hs, 0, sizeof *hs);
    size_t scan = len < WS_MAX_REQUEST_HEAD ? len : WS_MAX_REQUEST_HEAD;
    const char *s = (const char *)data;
    const char *end = scan >= 4 ? memmem(s, scan, "\r\n\r\n", 4) : NULL;
    if (!end) {
        if (len >= WS_MAX_REQUEST_HEAD) return refuse(hs, 431, "request head larger than 8 KiB");
        return WS_HS_NEED_MORE;
    }
    if (memchr(s, 0, (size_t)(end - s))) return refuse(hs, 400, "NUL byte in the request head");
    hs->used = (size_t)(end - s) + 4;
    span head = {s, (size_t)(end - s) + 2}; /* every line, each with its CRLF */
    request r = {0};
    bool first = true;
    while (head.n) {
        const char *crlf = memmem(head.p, head.n, "\r\n", 2);
        span line = {head.p, (size_t)(crlf - head.p)};
        head.n -= line.n + 2;
        head.p = crlf + 2;
        if (memchr(line.p, '\r', line.n) || memchr(line.p, '\n', line.n)) return refuse(hs, 400, "bare CR or LF");
        if (first) {
            if (request_line(line, path, hs) != WS_HS_OK) return WS_HS_REFUSE;
            first = false;
            continue;
        }
        if (line.n && (line.p[0] == ' ' || line.p[0] == '\t')) return refuse(hs, 400, "folded header line");
        const char *why = header_line(line, &r);
        if (why) return refuse(hs, 400, why);
    }
    return check_upgrade(&r, hs);
}

static const char *status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Bad Request";
    }
}

void ws_handshake_answer(const ws_handshake *hs, buf *out)
{
    char head[512];
    int n;
    if (hs->status == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     hs->accept, hs->protocol ? "Sec-WebSocket-Protocol: " : "", hs->protocol ? hs->protocol : "",
                     hs->protocol ? "\r\n" : "");
        buf_append(out, head, (size_t)n);
        return;
    }
    const char *reason = hs->reason ? hs->reason : "bad request";
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
                 hs->status, status_text(hs->status), strlen(reason) + 1,
                 hs->status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "");
    buf_append(out, head, (size_t)n);
    buf_append(out, reason, strlen(reason));
    buf_append_u8(out, '\n');
}
