/* HTTP/1.x request heads, parsed in place (pure: no I/O, no allocation).
 *
 * The operations endpoint (ops_http.c) needs only the request line and
 * two headers, so this is a strict subset of RFC 9112: a request is
 * answered once its head is complete, bodies are never read (a request
 * announcing one is answered and the connection closed), and anything
 * malformed is refused rather than guessed at. Every slice in an
 * http_request points into the caller's bytes. */
#ifndef MQS_OPS_HTTP_PARSE_H
#define MQS_OPS_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum http_parse_status {
    HTTP_PARSE_OK,        /* a complete head: *out is filled */
    HTTP_PARSE_NEED_MORE, /* no blank line yet and fewer than max_head bytes */
    HTTP_PARSE_TOO_LARGE, /* max_head bytes and still no end of the head: 431 */
    HTTP_PARSE_BAD,       /* malformed: 400 */
} http_parse_status;

typedef enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_OTHER, /* a valid token we do not serve: 405 */
} http_method;

typedef struct http_slice {
    const char *p; /* NULL when absent */
    size_t len;
} http_slice;

typedef struct http_request {
    http_method method;
    http_slice path;          /* the request target up to '?' (origin form, starts with '/') */
    uint8_t minor;            /* HTTP/1.<minor>: 0 or 1 */
    http_slice authorization; /* the Authorization value, trimmed; p NULL: none */
    bool keep_alive;          /* 1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
    bool has_body;            /* Content-Length > 0 or any Transfer-Encoding */
    size_t head_len;          /* bytes up to and including the blank line */
} http_request;

/* Parse the head at the start of p[0..len). A head longer than max_head
 * bytes is TOO_LARGE even when its end is in view. */
http_parse_status http_parse_request(const uint8_t *p, size_t len, size_t max_head, http_request *out);

/* "Basic <base64 of user:password>" (scheme case-insensitive): decode into
 * out[0..cap) and split at the first ':'. Returns false when the value is
 * not that or does not fit. user and pass point into out. */
bool http_parse_basic(http_slice value, char *out, size_t cap, http_slice *user, http_slice *pass);

#endif
