/* RESP3 subset codec (statestore-protocol.md §3): request decoding, reply
 * encoding and parsing, byte for byte against the spec's examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ssproto/resp.h"

/* A string literal as (bytes, length), embedded NULs included. */
#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

static resp_status decode(const uint8_t *p, size_t n, resp_request *req) { return resp_decode_request(p, n, req); }

static void assert_arg(const resp_request *req, size_t i, const char *want, size_t n)
{
    assert_true(i < req->argc);
    assert_int_equal(req->argv[i].len, n);
    if (n) assert_memory_equal(req->argv[i].data, want, n);
}
#define ARG(req, i, s) assert_arg(req, i, s, sizeof(s) - 1)

static void assert_buf(const buf *b, const char *want, size_t n)
{
    assert_int_equal(b->len, n);
    if (n) assert_memory_equal(b->data, want, n);
}
#define BUF_IS(b, s) assert_buf(b, s, sizeof(s) - 1)

/* --- §3.2 request examples --------------------------------------------------- */

static void test_request_set_examples(void **state)
{
    (void)state;
    resp_request r;
    assert_int_equal(decode(LIT("*3\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n"), &r), RESP_OK);
    assert_int_equal(r.argc, 3);
    ARG(&r, 0, "SET");
    ARG(&r, 1, "testkey");
    ARG(&r, 2, "testvalue");

    assert_int_equal(decode(LIT("*4\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$2\r\nNX\r\n"), &r), RESP_OK);
    assert_int_equal(r.argc, 4);
    ARG(&r, 3, "NX");

    assert_int_equal(decode(LIT("*4\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$3\r\nNEX\r\n"), &r), RESP_OK);
    ARG(&r, 3, "NEX");

    assert_int_equal(decode(LIT("*5\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$2\r\n"
                                "PX\r\n$2\r\n10\r\n"),
                            &r),
                     RESP_OK);
    assert_int_equal(r.argc, 5);
    ARG(&r, 3, "PX");
    ARG(&r, 4, "10");

    assert_int_equal(decode(LIT("*6\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$2\r\nNX\r\n$2\r\n"
                                "PX\r\n$4\r\n1000\r\n"),
                            &r),
                     RESP_OK);
    assert_int_equal(r.argc, 6);
    ARG(&r, 1, "key");
    ARG(&r, 2, "value");
    ARG(&r, 3, "NX");
    ARG(&r, 5, "1000");

    assert_int_equal(decode(LIT("*6\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$3\r\nNEX\r\n$2\r\n"
                                "PX\r\n$4\r\n1000\r\n"),
                            &r),
                     RESP_OK);
    ARG(&r, 3, "NEX");

    assert_int_equal(decode(LIT("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n"), &r), RESP_OK);
    ARG(&r, 2, "");

    assert_int_equal(decode(LIT("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"), &r), RESP_OK);
    ARG(&r, 1, "");
    ARG(&r, 2, "");

    assert_int_equal(decode(LIT("*6\r\n$3\r\nSET\r\n$8\r\nLockName\r\n$7\r\nClient1\r\n$3\r\nNEX\r\n"
                                "$2\r\nPX\r\n$5\r\n10000\r\n"),
                            &r),
                     RESP_OK);
    ARG(&r, 1, "LockName");
    ARG(&r, 2, "Client1");
    ARG(&r, 5, "10000");
}

static void test_request_other_examples(void **state)
{
    (void)state;
    resp_request r;
    assert_int_equal(decode(LIT("*2\r\n$3\r\nGET\r\n$7\r\nSETKEY2\r\n"), &r), RESP_OK);
    assert_int_equal(r.argc, 2);
    ARG(&r, 0, "GET");
    ARG(&r, 1, "SETKEY2");

    assert_int_equal(decode(LIT("*2\r\n$3\r\nDEL\r\n$7\r\nSETKEY2\r\n"), &r), RESP_OK);
    ARG(&r, 0, "DEL");

    assert_int_equal(decode(LIT("*3\r\n$4\r\nVDEL\r\n$7\r\nSETKEY2\r\n$3\r\nABC\r\n"), &r), RESP_OK);
    ARG(&r, 0, "VDEL");
    ARG(&r, 2, "ABC");

    assert_int_equal(decode(LIT("*2\r\n$9\r\nKEYNOTIFY\r\n$7\r\nSOMEKEY\r\n"), &r), RESP_OK);
    ARG(&r, 0, "KEYNOTIFY");
    assert_int_equal(decode(LIT("*3\r\n$9\r\nKEYNOTIFY\r\n$7\r\nSOMEKEY\r\n$4\r\nSTOP\r\n"), &r), RESP_OK);
    ARG(&r, 2, "STOP");

    assert_int_equal(decode(LIT("*2\r\n$4\r\nSCAN\r\n$4\r\nkey*\r\n"), &r), RESP_OK);
    ARG(&r, 1, "key*");
    assert_int_equal(decode(LIT("*3\r\n$4\r\nSCAN\r\n$4\r\nkey*\r\n$3\r\n\x00\xFFx\r\n"), &r), RESP_OK);
    ARG(&r, 2, "\x00\xFFx");
}

static void test_request_binary_safe(void **state)
{
    (void)state;
    resp_request r;
    /* A value holding CRLF, '$' and '*' is framed by its length only. */
    assert_int_equal(decode(LIT("*3\r\n$3\r\nSET\r\n$1\r\n\0\r\n$6\r\n\r\n$1\r\n\r\n"), &r), RESP_OK);
    ARG(&r, 1, "\0");
    ARG(&r, 2, "\r\n$1\r\n");
    /* Slices point into the input, no copy. */
    static const uint8_t in[] = "*1\r\n$4\r\nPING\r\n";
    assert_int_equal(decode(in, sizeof in - 1, &r), RESP_OK);
    assert_ptr_equal(r.argv[0].data, in + 8);
}

static void test_request_argc_bounds(void **state)
{
    (void)state;
    resp_request r;
    buf b = {0};
    resp_slice argv[RESP_ARGC_MAX + 1];
    for (size_t i = 0; i < RESP_ARGC_MAX + 1; i++) argv[i] = (resp_slice){(const uint8_t *)"a", 1};

    resp_put_request(&b, argv, RESP_ARGC_MAX);
    assert_int_equal(decode(b.data, b.len, &r), RESP_OK);
    assert_int_equal(r.argc, RESP_ARGC_MAX);
    b.len = 0;
    resp_put_request(&b, argv, RESP_ARGC_MAX + 1);
    assert_int_equal(decode(b.data, b.len, &r), RESP_MALFORMED);
    buf_free(&b);
}

/* --- framing violations ------------------------------------------------------ */

static void test_request_framing_violations(void **state)
{
    (void)state;
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
#define BAD(s) {s, sizeof(s) - 1}
        BAD(""),
        BAD("*"),
        BAD("*0\r\n"),                                 /* argc 0 */
        BAD("*1\r\n"),                                 /* short: no element */
        BAD("*2\r\n$3\r\nGET\r\n"),                    /* short: one element missing */
        BAD("*1\r\n$3\r\nGET"),                        /* missing final CRLF */
        BAD("*1\r\n$3\r\nGET\r"),                      /* missing final LF */
        BAD("*1\r\n$3\r\nGET\n"),                      /* LF without CR */
        BAD("*1\n$3\r\nGET\r\n"),                      /* header without CR */
        BAD("*1\r$3\r\nGET\r\n"),                      /* header without LF */
        BAD("*1\r\n$3\nGET\r\n"),                      /* length line without CR */
        BAD("*1\r\n$3\r\nGE\r\n"),                     /* declared longer than actual */
        BAD("*1\r\n$2\r\nGET\r\n"),                    /* declared shorter than actual */
        BAD("*1\r\n$4\r\nGET\r\n"),                    /* length runs into the CRLF */
        BAD("*1\r\n$3\r\nGET\r\nX"),                   /* trailing byte */
        BAD("*1\r\n$3\r\nGET\r\n\r\n"),                /* trailing CRLF */
        BAD("*1\r\n$3\r\nGET\r\n*1\r\n$3\r\nGET\r\n"), /* two requests */
        BAD("*1\r\n$-1\r\n"),                          /* null bulk */
        BAD("*1\r\n$-3\r\nGET\r\n"),                   /* negative length */
        BAD("*-1\r\n"),                                /* null array */
        BAD("*+1\r\n$3\r\nGET\r\n"),                   /* explicit sign */
        BAD("*1\r\n$+3\r\nGET\r\n"),
        BAD("* 1\r\n$3\r\nGET\r\n"), /* space */
        BAD("*1 \r\n$3\r\nGET\r\n"),
        BAD("*1\r\n$3 \r\nGET\r\n"),
        BAD("*1\r\n$x\r\nGET\r\n"), /* non-digit */
        BAD("*a\r\n$3\r\nGET\r\n"),
        BAD("*1\r\n$\r\nGET\r\n"), /* no digits */
        BAD("*\r\n$3\r\nGET\r\n"),
        BAD("*01\r\n$3\r\nGET\r\n"), /* leading zeros (non-minimal) */
        BAD("*1\r\n$03\r\nGET\r\n"),
        BAD("*1\r\n$00\r\n\r\n"),
        BAD("*1\r\n$18446744073709551616\r\nGET\r\n"), /* length overflows u64 */
        BAD("*1\r\n$18446744073709551615\r\nGET\r\n"), /* UINT64_MAX: beyond input */
        BAD("*1\r\n$99999999999999999999999\r\nGET\r\n"),
        BAD("*18446744073709551617\r\n$3\r\nGET\r\n"), /* huge argc */
        BAD("*17\r\n$3\r\nGET\r\n"),                   /* argc above RESP_ARGC_MAX */
        BAD("*1\r\n*1\r\n$3\r\nGET\r\n"),              /* nested array */
        BAD("*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nk\r\n"),
        BAD("*1\r\n+GET\r\n"), /* simple string, not bulk */
        BAD("*2\r\n$3\r\nGET\r\n+key\r\n"),
        BAD("*1\r\n:1\r\n"),                 /* integer element */
        BAD("*1\r\n_\r\n"),                  /* RESP3 null */
        BAD("%1\r\n$1\r\na\r\n$1\r\nb\r\n"), /* RESP3 map */
        BAD("$3\r\nGET\r\n"),                /* bare bulk */
        BAD("GET key\r\n"),                  /* inline command */
        BAD("*1\r\n$3\r\nGET\r\n\0"),        /* trailing NUL */
#undef BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp_request r;
        if (decode((const uint8_t *)bad[i].p, bad[i].n, &r) != RESP_MALFORMED) fail_msg("accepted bad request #%zu", i);
    }
}

static void test_request_truncations_rejected(void **state)
{
    (void)state;
    /* Every proper prefix of a valid request is malformed. */
    static const uint8_t ok[] = "*3\r\n$4\r\nVDEL\r\n$7\r\nSETKEY2\r\n$3\r\nABC\r\n";
    resp_request r;
    assert_int_equal(decode(ok, sizeof ok - 1, &r), RESP_OK);
    for (size_t n = 0; n < sizeof ok - 1; n++) assert_int_equal(decode(ok, n, &r), RESP_MALFORMED);
}

static void test_request_roundtrip(void **state)
{
    (void)state;
    resp_slice argv[] = {
        {(const uint8_t *)"SET", 3},
        {(const uint8_t *)"k\r\ney", 5},
        {(const uint8_t *)"", 0},
    };
    buf b = {0};
    resp_put_request(&b, argv, 3);
    BUF_IS(&b, "*3\r\n$3\r\nSET\r\n$5\r\nk\r\ney\r\n$0\r\n\r\n");
    resp_request r;
    assert_int_equal(decode(b.data, b.len, &r), RESP_OK);
    assert_int_equal(r.argc, 3);
    ARG(&r, 1, "k\r\ney");
    ARG(&r, 2, "");
    buf_free(&b);
}

/* --- argument helpers ------------------------------------------------------ */

static resp_slice sl(const char *s) { return (resp_slice){(const uint8_t *)s, strlen(s)}; }

static void test_arg_equals_ci(void **state)
{
    (void)state;
    assert_true(resp_arg_equals_ci(sl("NEX"), "NEX"));
    assert_true(resp_arg_equals_ci(sl("nex"), "NEX"));
    assert_true(resp_arg_equals_ci(sl("NeX"), "nex"));
    assert_true(resp_arg_equals_ci(sl("keynotify"), "KEYNOTIFY"));
    assert_true(resp_arg_equals_ci(sl(""), ""));
    assert_false(resp_arg_equals_ci(sl("NE"), "NEX"));
    assert_false(resp_arg_equals_ci(sl("NEXX"), "NEX"));
    assert_false(resp_arg_equals_ci(sl("NX"), "NEX"));
    assert_false(resp_arg_equals_ci(sl("N@X"), "N`X")); /* '@'/'`' are not a case pair */
    assert_false(resp_arg_equals_ci(sl("SE["), "SE{"));
    assert_false(resp_arg_equals_ci((resp_slice){(const uint8_t *)"SET\0", 4}, "SET"));
    /* Only ASCII letters fold: 0xC5 vs 0xE5 (Latin-1 Å/å) differ. */
    assert_false(resp_arg_equals_ci(sl("\xC5"), "\xE5"));
}

static void test_arg_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(resp_arg_u64(sl("0"), &v));
    assert_int_equal(v, 0);
    assert_true(resp_arg_u64(sl("1000"), &v));
    assert_int_equal(v, 1000);
    assert_true(resp_arg_u64(sl("0010"), &v));
    assert_int_equal(v, 10);
    assert_true(resp_arg_u64(sl("18446744073709551615"), &v));
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_false(resp_arg_u64(sl("18446744073709551616"), &v));
    assert_false(resp_arg_u64(sl(""), &v));
    assert_false(resp_arg_u64(sl("-1"), &v));
    assert_false(resp_arg_u64(sl("+1"), &v));
    assert_false(resp_arg_u64(sl("1.5"), &v));
    assert_false(resp_arg_u64(sl("1e3"), &v));
    assert_false(resp_arg_u64(sl(" 1"), &v));
    assert_false(resp_arg_u64(sl("1 "), &v));
    assert_int_equal(v, 7); /* untouched on failure */
}

/* --- reply encoding ---------------------------------------------------------- */

static void test_put_scalars(void **state)
{
    (void)state;
    buf b = {0};
    resp_put_ok(&b);
    BUF_IS(&b, "+OK\r\n");
    b.len = 0;
    resp_put_int(&b, -1);
    BUF_IS(&b, ":-1\r\n");
    b.len = 0;
    resp_put_int(&b, 0);
    BUF_IS(&b, ":0\r\n");
    b.len = 0;
    resp_put_int(&b, 1);
    BUF_IS(&b, ":1\r\n");
    b.len = 0;
    resp_put_int(&b, INT64_MIN);
    BUF_IS(&b, ":-9223372036854775808\r\n");
    b.len = 0;
    resp_put_int(&b, INT64_MAX);
    BUF_IS(&b, ":9223372036854775807\r\n");
    b.len = 0;
    resp_put_bulk(&b, "abc", 3);
    BUF_IS(&b, "$3\r\nabc\r\n");
    b.len = 0;
    resp_put_bulk(&b, "", 0);
    BUF_IS(&b, "$0\r\n\r\n");
    b.len = 0;
    resp_put_bulk(&b, "\0\r\n", 3);
    BUF_IS(&b, "$3\r\n\0\r\n\r\n");
    b.len = 0;
    resp_put_null(&b);
    BUF_IS(&b, "$-1\r\n");
    b.len = 0;
    resp_put_array(&b, 0);
    BUF_IS(&b, "*0\r\n");
    b.len = 0;
    resp_put_array(&b, 12);
    BUF_IS(&b, "*12\r\n");
    b.len = 0;
    resp_put_error(&b, RESP_ERR_SYNTAX);
    BUF_IS(&b, "-ERR syntax error\r\n");
    b.len = 0;
    resp_put_error(&b, RESP_ERR_WRONG_ARGC);
    BUF_IS(&b, "-ERR wrong number of arguments\r\n");
    buf_free(&b);
}

static void test_put_appends(void **state)
{
    (void)state;
    buf b = {0};
    buf_append(&b, "x", 1);
    resp_put_ok(&b);
    resp_put_null(&b);
    BUF_IS(&b, "x+OK\r\n$-1\r\n");
    buf_free(&b);
}

static void test_put_notifications(void **state)
{
    (void)state;
    buf b = {0};
    resp_put_notify_set(&b, "abc", 3);
    BUF_IS(&b, "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n");
    b.len = 0;
    resp_put_notify_set(&b, "", 0);
    BUF_IS(&b, "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$0\r\n\r\n");
    b.len = 0;
    resp_put_notify_delete(&b);
    BUF_IS(&b, "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n");
    buf_free(&b);
}

static void test_put_scan(void **state)
{
    (void)state;
    buf b = {0};
    resp_slice keys[] = {sl("key1"), sl("key2")};
    resp_put_scan(&b, keys, 2, NULL);
    BUF_IS(&b, "*1\r\n*2\r\n$4\r\nkey1\r\n$4\r\nkey2\r\n");
    b.len = 0;
    resp_slice token = {(const uint8_t *)"\x00\xFFx", 3};
    resp_put_scan(&b, NULL, 0, &token);
    BUF_IS(&b, "*2\r\n*0\r\n$3\r\n\x00\xFFx\r\n");
    b.len = 0;
    resp_put_scan(&b, NULL, 0, NULL);
    BUF_IS(&b, "*1\r\n*0\r\n");
    buf_free(&b);
}

/* --- error texts ------------------------------------------------------------- */

static void test_error_texts(void **state)
{
    (void)state;
    /* The literal strings of §3.5, kept here independently of resp.c. */
    static const struct {
        resp_error e;
        const char *text;
    } table[] = {
        {RESP_ERR_TIMESTAMP_SKEW, "the request timestamp is too far in the future; ensure that the "
                                  "client and broker system clocks are synchronized"},
        {RESP_ERR_FENCING_REQUIRED, "a fencing token is required for this request"},
        {RESP_ERR_FENCING_SKEW, "the request fencing token timestamp is too far in the future; "
                                "ensure that the client and broker system clocks are synchronized"},
        {RESP_ERR_FENCING_LOWER, "the request fencing token is a lower version than the fencing "
                                 "token protecting the resource"},
        {RESP_ERR_QUOTA, "the quota has been exceeded"},
        {RESP_ERR_SYNTAX, "syntax error"},
        {RESP_ERR_NOT_AUTHORIZED, "not authorized"},
        {RESP_ERR_UNKNOWN_COMMAND, "unknown command"},
        {RESP_ERR_WRONG_ARGC, "wrong number of arguments"},
        {RESP_ERR_MISSING_TIMESTAMP, "missing timestamp"},
        {RESP_ERR_MALFORMED_TIMESTAMP, "malformed timestamp"},
        {RESP_ERR_KEY_EMPTY, "the key length is zero"},
    };
    assert_int_equal(sizeof table / sizeof table[0], RESP_ERR_COUNT_);
    buf b = {0}, want = {0};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_string_equal(resp_error_text(table[i].e), table[i].text);
        b.len = want.len = 0;
        resp_put_error(&b, table[i].e);
        buf_append(&want, "-ERR ", 5);
        buf_append(&want, table[i].text, strlen(table[i].text));
        buf_append(&want, "\r\n", 2);
        assert_int_equal(b.len, want.len);
        assert_memory_equal(b.data, want.data, b.len);

        resp_error back = RESP_ERR_COUNT_;
        assert_true(resp_error_lookup((const uint8_t *)table[i].text, strlen(table[i].text), &back));
        assert_int_equal(back, table[i].e);
    }
    resp_error e;
    /* The pre-2024 wording and near misses are unknown texts. */
    assert_false(resp_error_lookup(LIT("the request fencing token is a lower version that the "
                                       "fencing token protecting the resource"),
                                   &e));
    assert_false(resp_error_lookup(LIT("syntax error "), &e));
    assert_false(resp_error_lookup(LIT("Syntax error"), &e));
    assert_false(resp_error_lookup(LIT(""), &e));
    buf_free(&b);
    buf_free(&want);
}

/* --- reply parsing ------------------------------------------------------------ */

static resp_reply parse_ok(const uint8_t *p, size_t n)
{
    resp_reply r;
    assert_int_equal(resp_parse_reply(p, n, &r), RESP_OK);
    return r;
}

static void assert_str(resp_slice s, const char *want, size_t n)
{
    assert_int_equal(s.len, n);
    if (n) assert_memory_equal(s.data, want, n);
}
#define STR_IS(s, lit) assert_str(s, lit, sizeof(lit) - 1)

static void test_parse_scalars(void **state)
{
    (void)state;
    resp_reply r = parse_ok(LIT("+OK\r\n"));
    assert_int_equal(r.type, RESP_SIMPLE);
    STR_IS(r.str, "OK");

    r = parse_ok(LIT(":-1\r\n"));
    assert_int_equal(r.type, RESP_INTEGER);
    assert_int_equal(r.integer, -1);
    r = parse_ok(LIT(":0\r\n"));
    assert_int_equal(r.integer, 0);
    r = parse_ok(LIT(":1\r\n"));
    assert_int_equal(r.integer, 1);
    r = parse_ok(LIT(":-9223372036854775808\r\n"));
    assert_true(r.integer == INT64_MIN);
    r = parse_ok(LIT(":9223372036854775807\r\n"));
    assert_true(r.integer == INT64_MAX);

    r = parse_ok(LIT("$3\r\nabc\r\n"));
    assert_int_equal(r.type, RESP_BULK);
    STR_IS(r.str, "abc");
    r = parse_ok(LIT("$0\r\n\r\n"));
    assert_int_equal(r.type, RESP_BULK);
    STR_IS(r.str, "");
    r = parse_ok(LIT("$4\r\n\r\n\0\xFF\r\n"));
    STR_IS(r.str, "\r\n\0\xFF");
    r = parse_ok(LIT("$-1\r\n"));
    assert_int_equal(r.type, RESP_NULL);

    r = parse_ok(LIT("-ERR syntax error\r\n"));
    assert_int_equal(r.type, RESP_ERROR);
    STR_IS(r.str, "syntax error");
    r = parse_ok(LIT("-ERR \r\n")); /* an empty message is valid (Rust) */
    assert_int_equal(r.type, RESP_ERROR);
    STR_IS(r.str, "");
}

static void test_parse_notifications(void **state)
{
    (void)state;
    resp_reply r = parse_ok(LIT("*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n"));
    assert_int_equal(r.type, RESP_ARRAY);
    assert_int_equal(r.count, 4);
    static const char *want[] = {"NOTIFY", "SET", "VALUE", "abc"};
    resp_array_iter it;
    resp_array_iter_init(&it, &r);
    resp_reply e;
    for (size_t i = 0; i < 4; i++) {
        assert_true(resp_array_next(&it, &e));
        assert_int_equal(e.type, RESP_BULK);
        assert_str(e.str, want[i], strlen(want[i]));
    }
    assert_false(resp_array_next(&it, &e));

    r = parse_ok(LIT("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"));
    assert_int_equal(r.count, 2);
    resp_array_iter_init(&it, &r);
    assert_true(resp_array_next(&it, &e));
    assert_true(resp_array_next(&it, &e));
    STR_IS(e.str, "DELETE");
    assert_false(resp_array_next(&it, &e));
}

static void test_parse_scan(void **state)
{
    (void)state;
    resp_reply r = parse_ok(LIT("*1\r\n*2\r\n$4\r\nkey1\r\n$4\r\nkey2\r\n"));
    assert_int_equal(r.type, RESP_ARRAY);
    assert_int_equal(r.count, 1);
    resp_array_iter it, keys;
    resp_reply e, k;
    resp_array_iter_init(&it, &r);
    assert_true(resp_array_next(&it, &e));
    assert_int_equal(e.type, RESP_ARRAY);
    assert_int_equal(e.count, 2);
    resp_array_iter_init(&keys, &e);
    assert_true(resp_array_next(&keys, &k));
    STR_IS(k.str, "key1");
    assert_true(resp_array_next(&keys, &k));
    STR_IS(k.str, "key2");
    assert_false(resp_array_next(&keys, &k));
    assert_false(resp_array_next(&it, &e));

    r = parse_ok(LIT("*2\r\n*0\r\n$3\r\n\x00\xFFx\r\n"));
    assert_int_equal(r.count, 2);
    resp_array_iter_init(&it, &r);
    assert_true(resp_array_next(&it, &e));
    assert_int_equal(e.type, RESP_ARRAY);
    assert_int_equal(e.count, 0);
    resp_array_iter_init(&keys, &e);
    assert_false(resp_array_next(&keys, &k));
    assert_true(resp_array_next(&it, &e));
    assert_int_equal(e.type, RESP_BULK);
    STR_IS(e.str, "\x00\xFFx");
    assert_false(resp_array_next(&it, &e));

    /* Iterating a non-array yields nothing. */
    r = parse_ok(LIT("+OK\r\n"));
    resp_array_iter_init(&it, &r);
    assert_false(resp_array_next(&it, &e));
}

static void test_parse_encoder_output(void **state)
{
    (void)state;
    /* Everything the encoder produces parses back to the same meaning. */
    buf b = {0};
    resp_put_error(&b, RESP_ERR_FENCING_LOWER);
    resp_reply r = parse_ok(b.data, b.len);
    assert_int_equal(r.type, RESP_ERROR);
    resp_error e;
    assert_true(resp_error_lookup(r.str.data, r.str.len, &e));
    assert_int_equal(e, RESP_ERR_FENCING_LOWER);
    b.len = 0;
    resp_put_int(&b, INT64_MIN);
    r = parse_ok(b.data, b.len);
    assert_true(r.integer == INT64_MIN);
    buf_free(&b);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
#define BAD(s) {s, sizeof(s) - 1}
        BAD(""),
        BAD("+OK"), /* missing CRLF */
        BAD("+OK\n"),
        BAD("+OK\r"),
        BAD("+OK\r\nX"), /* trailing bytes */
        BAD("+OK\r\n+OK\r\n"),
        BAD("+\r\n"),     /* empty simple string */
        BAD("+O\nK\r\n"), /* LF inside */
        BAD("+O\rK\r\n"), /* CR inside */
        BAD("-ERR\r\n"),  /* no space after ERR */
        BAD("-ERR"),
        BAD("-WRONGTYPE x\r\n"), /* not an -ERR error */
        BAD("-err syntax error\r\n"),
        BAD("-ERR a\nb\r\n"),
        BAD(":\r\n"),
        BAD(":-\r\n"),
        BAD(":+1\r\n"),
        BAD(": 1\r\n"),
        BAD(":1.5\r\n"),
        BAD(":1"),
        BAD(":9223372036854775808\r\n"), /* > INT64_MAX */
        BAD(":-9223372036854775809\r\n"),
        BAD(":99999999999999999999999\r\n"),
        BAD("$3\r\nab\r\n"), /* short bulk */
        BAD("$1\r\nab\r\n"), /* long bulk */
        BAD("$3\r\nabc"),
        BAD("$3\r\nabc\r"),
        BAD("$-2\r\n"),
        BAD("$-1"),
        BAD("$-1\r\nX"),
        BAD("$-10\r\n"),
        BAD("$18446744073709551615\r\nabc\r\n"),
        BAD("$\r\n\r\n"),
        BAD("_\r\n"),              /* RESP3 null */
        BAD("#t\r\n"),             /* RESP3 boolean */
        BAD("%1\r\n+a\r\n+b\r\n"), /* RESP3 map */
        BAD("*-1\r\n"),            /* null array */
        BAD("*1\r\n"),             /* missing element */
        BAD("*2\r\n$1\r\na\r\n"),
        BAD("*1\r\n$1\r\na\r\n:1\r\n"), /* trailing element */
        BAD("*1\r\n*1\r\n*0\r\n"),      /* three levels */
        BAD("*1\r\n*1\r\n*1\r\n+OK\r\n\r\n"),
        BAD("*18446744073709551616\r\n"),
        BAD("*1\r\n$-1\r\n\r\n"),
        BAD("OK\r\n"),
        BAD("-1\r\n"), /* Learn's wrong not-applied form */
#undef BAD
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp_reply r;
        if (resp_parse_reply((const uint8_t *)bad[i].p, bad[i].n, &r) != RESP_MALFORMED)
            fail_msg("accepted bad reply #%zu", i);
    }
    /* Two nesting levels with nulls inside are fine (type checks are the
     * client's job). */
    resp_reply r = parse_ok(LIT("*1\r\n*1\r\n$-1\r\n"));
    assert_int_equal(r.count, 1);
}

static void test_parse_truncations(void **state)
{
    (void)state;
    static const uint8_t ok[] = "*2\r\n*2\r\n$4\r\nkey1\r\n$4\r\nkey2\r\n$3\r\n1;1\r\n";
    resp_reply r;
    assert_int_equal(resp_parse_reply(ok, sizeof ok - 1, &r), RESP_OK);
    for (size_t n = 0; n < sizeof ok - 1; n++) assert_int_equal(resp_parse_reply(ok, n, &r), RESP_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_set_examples),
        cmocka_unit_test(test_request_other_examples),
        cmocka_unit_test(test_request_binary_safe),
        cmocka_unit_test(test_request_argc_bounds),
        cmocka_unit_test(test_request_framing_violations),
        cmocka_unit_test(test_request_truncations_rejected),
        cmocka_unit_test(test_request_roundtrip),
        cmocka_unit_test(test_arg_equals_ci),
        cmocka_unit_test(test_arg_u64),
        cmocka_unit_test(test_put_scalars),
        cmocka_unit_test(test_put_appends),
        cmocka_unit_test(test_put_notifications),
        cmocka_unit_test(test_put_scan),
        cmocka_unit_test(test_error_texts),
        cmocka_unit_test(test_parse_scalars),
        cmocka_unit_test(test_parse_notifications),
        cmocka_unit_test(test_parse_scan),
        cmocka_unit_test(test_parse_encoder_output),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_truncations),
    };
    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
