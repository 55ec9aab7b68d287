/* The RESP3 subset of the state store protocol (statestore-protocol.md §3).
 *
 * Requests are arrays of bulk strings; replies are a handful of scalar
 * forms plus arrays for notifications and SCAN. Everything here works on
 * caller-owned memory and never allocates except by growing a `buf`:
 * decoded slices point into the input and are valid as long as it is.
 *
 * Strictness (both directions): exact CRLF terminators, declared lengths
 * equal actual lengths, nothing after the message. Decimal numbers are
 * plain ASCII digits without sign or '+' and fit in 64 bits. Request
 * lengths and counts must use minimal digits ("07" is rejected: no SDK
 * sends it, §3.1); the reply parser follows the §3.6 grammar (1*DIGIT)
 * and accepts leading zeros. */
#ifndef MQS_SSPROTO_RESP_H
#define MQS_SSPROTO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* A borrowed byte string. */
typedef struct resp_slice {
    const uint8_t *data;
    size_t len;
} resp_slice;

typedef enum resp_status {
    RESP_OK = 0,
    /* Not a well-formed message of the expected shape; the service answers
     * `-ERR syntax error` (RESP_ERR_SYNTAX). */
    RESP_MALFORMED = -1,
} resp_status;

/* --- requests ------------------------------------------------------------ */

/* Protocol commands take at most 6 arguments (SET k v NX PX ms); anything
 * beyond this bound is a framing error, so the argv fits in a fixed array
 * and decoding never allocates. */
#define RESP_ARGC_MAX 16

typedef struct resp_request {
    size_t argc; /* 1..RESP_ARGC_MAX after a successful decode */
    resp_slice argv[RESP_ARGC_MAX];
} resp_request;

/* Decode exactly one `*<argc>\r\n($<len>\r\n<bytes>\r\n){argc}` from p[0..n).
 * On RESP_OK, req->argv[i] point into p. On failure *req is unspecified. */
resp_status resp_decode_request(const uint8_t *p, size_t n, resp_request *req);

/* Append the request encoding of argv[0..argc) (what SDK clients send). */
void resp_put_request(buf *out, const resp_slice *argv, size_t argc);

/* ASCII case-insensitive comparison of an argument with a NUL-terminated
 * word, for verbs and option words ("set" == "SET"); bytes >= 0x80 only
 * match themselves. */
bool resp_arg_equals_ci(resp_slice arg, const char *word);

/* Parse an argument as an unsigned decimal (1*DIGIT, leading zeros
 * allowed, no sign, fits in uint64_t), e.g. the PX milliseconds. *out is
 * untouched on failure. */
bool resp_arg_u64(resp_slice arg, uint64_t *out);

/* --- replies: encoding ----------------------------------------------------- */

/* The §3.5 error texts. The service only ever names an error by this enum,
 * so a reply text cannot be mistyped: SDKs match them byte for byte. */
typedef enum resp_error {
    RESP_ERR_TIMESTAMP_SKEW,
    RESP_ERR_FENCING_REQUIRED,
    RESP_ERR_FENCING_SKEW,
    RESP_ERR_FENCING_LOWER,
    RESP_ERR_QUOTA,
    RESP_ERR_SYNTAX,
    RESP_ERR_NOT_AUTHORIZED,
    RESP_ERR_UNKNOWN_COMMAND,
    RESP_ERR_WRONG_ARGC,
    RESP_ERR_MISSING_TIMESTAMP,
    RESP_ERR_MALFORMED_TIMESTAMP,
    RESP_ERR_KEY_EMPTY,
    RESP_ERR_COUNT_ /* number of texts, not an error */
} resp_error;

/* The text after "-ERR " (NUL-terminated, static). e must be < RESP_ERR_COUNT_. */
const char *resp_error_text(resp_error e);
/* The enum whose text equals text[0..len) exactly; false for any other
 * text (clients must then surface an "unknown" error, §3.5). */
bool resp_error_lookup(const uint8_t *text, size_t len, resp_error *out);

void resp_put_ok(buf *out);                            /* +OK\r\n */
void resp_put_int(buf *out, int64_t v);                /* :<v>\r\n */
void resp_put_bulk(buf *out, const void *p, size_t n); /* $<n>\r\n<p>\r\n */
void resp_put_null(buf *out);                          /* $-1\r\n */
void resp_put_error(buf *out, resp_error e);           /* -ERR <text>\r\n */
void resp_put_array(buf *out, size_t count);           /* *<count>\r\n */

/* §3.7 notification payloads. */
void resp_put_notify_set(buf *out, const void *value, size_t n);
void resp_put_notify_delete(buf *out);

/* §3.8 SCAN reply: [[keys...]] for the final page, [[keys...], token]
 * otherwise (token == NULL means final). A caller producing keys one at a
 * time writes the same bytes with resp_put_array(out, token ? 2 : 1),
 * resp_put_array(out, nkeys), one resp_put_bulk per key, then the token. */
void resp_put_scan(buf *out, const resp_slice *keys, size_t nkeys, const resp_slice *token);

/* --- replies: parsing (C client, tests) ------------------------------------ */

typedef enum resp_type {
    RESP_SIMPLE,  /* +<text>\r\n, text non-empty */
    RESP_ERROR,   /* -ERR <text>\r\n, text may be empty */
    RESP_INTEGER, /* :[-]<digits>\r\n */
    RESP_BULK,    /* $<n>\r\n<n bytes>\r\n */
    RESP_NULL,    /* $-1\r\n */
    RESP_ARRAY,   /* *<n>\r\n + n elements */
} resp_type;

typedef struct resp_reply {
    resp_type type;
    int64_t integer; /* RESP_INTEGER */
    /* SIMPLE: the text; ERROR: the text after "-ERR "; BULK: the bytes;
     * ARRAY: the encoded elements (already validated, walk them with
     * resp_array_iter). */
    resp_slice str;
    size_t count; /* RESP_ARRAY: element count */
} resp_reply;

/* Arrays nest at most this deep: a SCAN reply is an array holding an array. */
#define RESP_REPLY_DEPTH_MAX 2

/* Parse exactly one reply of the §3.6 grammar from p[0..n): no trailing
 * bytes, no null arrays, no RESP3 types outside the grammar, errors must
 * start with "-ERR ". Slices point into p. */
resp_status resp_parse_reply(const uint8_t *p, size_t n, resp_reply *out);

typedef struct resp_array_iter {
    const uint8_t *pos;
    const uint8_t *end;
    size_t left;
} resp_array_iter;

/* Iterate the elements of a parsed RESP_ARRAY reply (or element). */
void resp_array_iter_init(resp_array_iter *it, const resp_reply *array);
/* The next element, or false after the last one. */
bool resp_array_next(resp_array_iter *it, resp_reply *elem);

#endif
