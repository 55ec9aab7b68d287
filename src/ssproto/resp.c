#include "ssproto/resp.h"

#include <string.h>

/* --- reading ----------------------------------------------------------------
 * A cursor over [pos, end). Every read checks the bytes left first, so a
 * declared length can never move the cursor past the end (no arithmetic
 * on untrusted lengths other than comparisons with what is left). */

typedef struct reader {
    const uint8_t *pos;
    const uint8_t *end;
} reader;

static size_t left(const reader *r) { return (size_t)(r->end - r->pos); }

static bool take_byte(reader *r, uint8_t want)
{
    if (left(r) < 1 || *r->pos != want) return false;
    r->pos++;
    return true;
}

static bool take_crlf(reader *r)
{
    if (left(r) < 2 || r->pos[0] != '\r' || r->pos[1] != '\n') return false;
    r->pos += 2;
    return true;
}

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* 1*DIGIT into *out, rejecting values above UINT64_MAX. With `minimal`,
 * a leading zero is only allowed for the number 0 itself. */
static bool take_u64(reader *r, bool minimal, uint64_t *out)
{
    const uint8_t *start = r->pos;
    uint64_t v = 0;
    while (left(r) && is_digit(*r->pos)) {
        uint64_t d = (uint64_t)(*r->pos - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        r->pos++;
    }
    size_t ndigits = (size_t)(r->pos - start);
    if (ndigits == 0) return false;
    if (minimal && ndigits > 1 && *start == '0') return false;
    *out = v;
    return true;
}

/* "<digits>\r\n" */
static bool take_count_line(reader *r, bool minimal, uint64_t *out)
{
    return take_u64(r, minimal, out) && take_crlf(r);
}

/* A run of bytes other than CR/LF, then CRLF: the text of +simple and
 * -ERR replies. */
static bool take_text_line(reader *r, resp_slice *text)
{
    const uint8_t *start = r->pos;
    while (left(r) && *r->pos != '\r' && *r->pos != '\n') r->pos++;
    text->data = start;
    text->len = (size_t)(r->pos - start);
    return take_crlf(r);
}

/* n raw bytes followed by CRLF. */
static bool take_bulk_body(reader *r, uint64_t n, resp_slice *out)
{
    if (n > left(r) || left(r) - (size_t)n < 2) return false;
    out->data = r->pos;
    out->len = (size_t)n;
    r->pos += n;
    return take_crlf(r);
}

/* --- requests ------------------------------------------------------------ */

resp_status resp_decode_request(const uint8_t *p, size_t n, resp_request *req)
{
    reader r = {p, p + n};
    uint64_t argc;
    if (!take_byte(&r, '*') || !take_count_line(&r, true, &argc)) return RESP_MALFORMED;
    if (argc == 0 || argc > RESP_ARGC_MAX) return RESP_MALFORMED;
    for (size_t i = 0; i < argc; i++) {
        uint64_t len;
        if (!take_byte(&r, '$') || !take_count_line(&r, true, &len)) return RESP_MALFORMED;
        if (!take_bulk_body(&r, len, &req->argv[i])) return RESP_MALFORMED;
    }
    if (left(&r) != 0) return RESP_MALFORMED;
    req->argc = (size_t)argc;
    return RESP_OK;
}

bool resp_arg_equals_ci(resp_slice arg, const char *word)
{
    size_t n = strlen(word);
    if (arg.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = arg.data[i], b = (uint8_t)word[i];
        if (a >= 'a' && a <= 'z') a = (uint8_t)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z') b = (uint8_t)(b - 'a' + 'A');
        if (a != b) return false;
    }
    return true;
}

bool resp_arg_u64(resp_slice arg, uint64_t *out)
{
    reader r = {arg.data, arg.data + arg.len};
    uint64_t v;
    if (!take_u64(&r, false, &v) || left(&r) != 0) return false;
    *out = v;
    return true;
}

/* --- replies: encoding ----------------------------------------------------- */

/* Copied byte for byte from statestore-protocol.md §3.5: the SDKs compare
 * these exact strings, so never reword them. */
static const char *const error_texts[RESP_ERR_COUNT_] = {
    [RESP_ERR_TIMESTAMP_SKEW] = "the request timestamp is too far in the future; "
                                "ensure that the client and broker system clocks are synchronized",
    [RESP_ERR_FENCING_REQUIRED] = "a fencing token is required for this request",
    [RESP_ERR_FENCING_SKEW] = "the request fencing token timestamp is too far in the future; "
                              "ensure that the client and broker system clocks are synchronized",
    [RESP_ERR_FENCING_LOWER] = "the request fencing token is a lower version than the fencing "
                               "token protecting the resource",
    [RESP_ERR_QUOTA] = "the quota has been exceeded",
    [RESP_ERR_SYNTAX] = "syntax error",
    [RESP_ERR_NOT_AUTHORIZED] = "not authorized",
    [RESP_ERR_UNKNOWN_COMMAND] = "unknown command",
    [RESP_ERR_WRONG_ARGC] = "wrong number of arguments",
    [RESP_ERR_MISSING_TIMESTAMP] = "missing timestamp",
    [RESP_ERR_MALFORMED_TIMESTAMP] = "malformed timestamp",
    [RESP_ERR_KEY_EMPTY] = "the key length is zero",
};

const char *resp_error_text(resp_error e) { return error_texts[e]; }

bool resp_error_lookup(const uint8_t *text, size_t len, resp_error *out)
{
    for (int e = 0; e < RESP_ERR_COUNT_; e++) {
        size_t n = strlen(error_texts[e]);
        if (n == len && memcmp(error_texts[e], text, n) == 0) {
            *out = (resp_error)e;
            return true;
        }
    }
    return false;
}

static void put_u64(buf *out, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(out, tmp + i, sizeof tmp - i);
}

static void put_crlf(buf *out) { buf_append(out, "\r\n", 2); }

/* "<prefix><v>\r\n" */
static void put_header(buf *out, char prefix, uint64_t v)
{
    buf_append_u8(out, (uint8_t)prefix);
    put_u64(out, v);
    put_crlf(out);
}

void resp_put_ok(buf *out) { buf_append(out, "+OK\r\n", 5); }

void resp_put_int(buf *out, int64_t v)
{
    buf_append_u8(out, ':');
    /* Negate in unsigned arithmetic so INT64_MIN is not undefined. */
    if (v < 0) {
        buf_append_u8(out, '-');
        put_u64(out, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(out, (uint64_t)v);
    }
    put_crlf(out);
}

void resp_put_bulk(buf *out, const void *p, size_t n)
{
    put_header(out, '$', n);
    buf_append(out, p, n);
    put_crlf(out);
}

void resp_put_null(buf *out) { buf_append(out, "$-1\r\n", 5); }

void resp_put_error(buf *out, resp_error e)
{
    const char *text = resp_error_text(e);
    buf_append(out, "-ERR ", 5);
    buf_append(out, text, strlen(text));
    put_crlf(out);
}

void resp_put_array(buf *out, size_t count) { put_header(out, '*', count); }

void resp_put_request(buf *out, const resp_slice *argv, size_t argc)
{
    resp_put_array(out, argc);
    for (size_t i = 0; i < argc; i++) resp_put_bulk(out, argv[i].data, argv[i].len);
}

void resp_put_notify_set(buf *out, const void *value, size_t n)
{
    static const char head[] = "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n";
    buf_append(out, head, sizeof head - 1);
    resp_put_bulk(out, value, n);
}

void resp_put_notify_delete(buf *out)
{
    static const char msg[] = "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n";
    buf_append(out, msg, sizeof msg - 1);
}

void resp_put_scan(buf *out, const resp_slice *keys, size_t nkeys, const resp_slice *token)
{
    resp_put_array(out, token ? 2 : 1);
    resp_put_array(out, nkeys);
    for (size_t i = 0; i < nkeys; i++) resp_put_bulk(out, keys[i].data, keys[i].len);
    if (token) resp_put_bulk(out, token->data, token->len);
}

/* --- replies: parsing ------------------------------------------------------ */

static bool parse_value(reader *r, int depth, resp_reply *out);

static bool parse_integer(reader *r, resp_reply *out)
{
    bool neg = take_byte(r, '-');
    uint64_t mag;
    if (!take_count_line(r, false, &mag)) return false;
    if (mag > (uint64_t)INT64_MAX + (neg ? 1 : 0)) return false;
    /* -2^63 has no positive int64 counterpart: build it in unsigned. */
    out->integer = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

static bool parse_bulk(reader *r, resp_reply *out)
{
    if (take_byte(r, '-')) {
        out->type = RESP_NULL;
        return take_byte(r, '1') && take_crlf(r);
    }
    uint64_t n;
    out->type = RESP_BULK;
    return take_count_line(r, false, &n) && take_bulk_body(r, n, &out->str);
}

static bool parse_array(reader *r, int depth, resp_reply *out)
{
    uint64_t count;
    if (depth >= RESP_REPLY_DEPTH_MAX || !take_count_line(r, false, &count)) return false;
    /* Each element consumes at least 3 bytes, so the loop is bounded by
     * the input length whatever the declared count. */
    const uint8_t *start = r->pos;
    for (uint64_t i = 0; i < count; i++) {
        resp_reply elem;
        if (!parse_value(r, depth + 1, &elem)) return false;
    }
    out->count = (size_t)count;
    out->str = (resp_slice){start, (size_t)(r->pos - start)};
    return true;
}

static bool parse_value(reader *r, int depth, resp_reply *out)
{
    if (left(r) < 1) return false;
    uint8_t type = *r->pos++;
    *out = (resp_reply){0};
    switch (type) {
    case '+': out->type = RESP_SIMPLE; return take_text_line(r, &out->str) && out->str.len > 0;
    case '-':
        out->type = RESP_ERROR;
        if (left(r) < 4 || memcmp(r->pos, "ERR ", 4) != 0) return false;
        r->pos += 4;
        return take_text_line(r, &out->str);
    case ':': out->type = RESP_INTEGER; return parse_integer(r, out);
    case '$': return parse_bulk(r, out);
    case '*': out->type = RESP_ARRAY; return parse_array(r, depth, out);
    default: return false;
    }
}

resp_status resp_parse_reply(const uint8_t *p, size_t n, resp_reply *out)
{
    reader r = {p, p + n};
    if (!parse_value(&r, 0, out) || left(&r) != 0) return RESP_MALFORMED;
    return RESP_OK;
}

void resp_array_iter_init(resp_array_iter *it, const resp_reply *array)
{
    it->pos = array->str.data;
    it->end = array->str.data + array->str.len;
    it->left = array->type == RESP_ARRAY ? array->count : 0;
}

bool resp_array_next(resp_array_iter *it, resp_reply *elem)
{
    if (it->left == 0) return false;
    /* The elements were validated by resp_parse_reply; depth 1 admits the
     * nested arrays that validation already allowed. */
    reader r = {it->pos, it->end};
    if (!parse_value(&r, 1, elem)) {
        it->left = 0;
        return false;
    }
    it->pos = r.pos;
    it->left--;
    return true;
}
