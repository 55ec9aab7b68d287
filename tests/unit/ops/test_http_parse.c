/* HTTP request heads (src/ops/http_parse.h): the requests the endpoint
 * serves, every truncation of them, the size bound, and malformed heads.
 * Inputs are copied into exact-size allocations so ASan catches a read
 * past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ops/http_parse.h"

static http_parse_status parse(const char *s, size_t max, http_request *r)
{
    size_t n = strlen(s);
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, s, n);
    http_parse_status st = http_parse_request(p, n, max, r);
    /* Slices point into p: rebase them onto s for the caller. */
    if (st == HTTP_PARSE_OK) {
        r->path.p = s + (r->path.p - (const char *)p);
        if (r->authorization.p) r->authorization.p = s + (r->authorization.p - (const char *)p);
    }
    free(p);
    return st;
}

static bool slice_is(http_slice s, const char *want)
{
    return s.p && s.len == strlen(want) && !memcmp(s.p, want, s.len);
}

static void test_get_metrics(void **state)
{
    (void)state;
    http_request r;
    const char *req = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    assert_int_equal(parse(req, 8192, &r), HTTP_PARSE_OK);
    assert_int_equal(r.method, HTTP_METHOD_GET);
    assert_true(slice_is(r.path, "/metrics"));
    assert_int_equal(r.minor, 1);
    assert_true(r.keep_alive);
    assert_false(r.has_body);
    assert_null(r.authorization.p);
    assert_int_equal(r.head_len, strlen(req));
}

static void test_methods_and_versions(void **state)
{
    (void)state;
    http_request r;
    assert_int_equal(parse("HEAD /healthz HTTP/1.0\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_int_equal(r.method, HTTP_METHOD_HEAD);
    assert_false(r.keep_alive); /* 1.0 closes by default */
    assert_int_equal(parse("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_true(r.keep_alive);
    assert_int_equal(parse("DELETE /metrics HTTP/1.1\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_int_equal(r.method, HTTP_METHOD_OTHER);
    assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n", 8192, &r), HTTP_PARSE_OK); /* methods are case-sensitive */
    assert_int_equal(r.method, HTTP_METHOD_OTHER);
    assert_int_equal(parse("GET / HTTP/1.1\r\nconnection: keep-alive, CLOSE\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_false(r.keep_alive);
    assert_int_equal(parse("GET / HTTP/1.1\n\n", 8192, &r), HTTP_PARSE_OK); /* bare LF lines */
}

static void test_headers(void **state)
{
    (void)state;
    http_request r;
    assert_int_equal(parse("GET / HTTP/1.1\r\nAuthorization:   Basic dTpw  \r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_true(slice_is(r.authorization, "Basic dTpw"));
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 8192, &r), HTTP_PARSE_OK);
    assert_true(r.has_body);
    assert_int_equal(r.head_len, strlen("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"));
    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_true(r.has_body);
    assert_int_equal(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 8192, &r), HTTP_PARSE_OK);
    assert_false(r.has_body);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GET\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", /* not origin form */
        "GET * HTTP/1.1\r\n\r\n",
        "GET /m HTTP/2.0\r\n\r\n",
        "GET /m HTTP/1.1 \r\n\r\n",
        "GET  /m HTTP/1.1\r\n\r\n",
        "GET /m\x01 HTTP/1.1\r\n\r\n",
        "GET /m HTTP/1.1\r\nNo-Colon\r\n\r\n",
        "GET /m HTTP/1.1\r\nName : v\r\n\r\n", /* space before ':' */
        "GET /m HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET /m HTTP/1.1\r\nA: b\x7f\r\n\r\n",
        "GET /m HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
        "GET /m HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "GET /m HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /m HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n",
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_request r;
        if (parse(bad[i], 8192, &r) != HTTP_PARSE_BAD) fail_msg("accepted: %s", bad[i]);
    }
}

static void test_truncations_need_more(void **state)
{
    (void)state;
    const char *req = "GET /readyz HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YTpi\r\n\r\n";
    size_t n = strlen(req);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = malloc(i ? i : 1);
        memcpy(p, req, i);
        http_request r;
        assert_int_equal(http_parse_request(p, i, 8192, &r), HTTP_PARSE_NEED_MORE);
        free(p);
    }
}

static void test_size_bound(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    big[sizeof big - 1] = 0;
    http_request r;
    assert_int_equal(parse(big, 64, &r), HTTP_PARSE_TOO_LARGE);   /* no end in the first 64 bytes */
    assert_int_equal(parse(big, 8192, &r), HTTP_PARSE_NEED_MORE); /* could still end */
    /* A complete head that is longer than the bound is too large too. */
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: abcdefgh\r\n\r\n", 20, &r), HTTP_PARSE_TOO_LARGE);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n", 18, &r), HTTP_PARSE_OK); /* exactly the bound */
}

static void test_basic(void **state)
{
    (void)state;
    char out[64];
    http_slice u, p;
    const char *v = "Basic bWV0cmljczpzM2NyZXQ6eA=="; /* metrics:s3cret:x */
    assert_true(http_parse_basic((http_slice){v, strlen(v)}, out, sizeof out, &u, &p));
    assert_true(slice_is(u, "metrics"));
    assert_true(slice_is(p, "s3cret:x")); /* split at the first ':' only */
    v = "basic   YTo=";                   /* a: (empty password), scheme case-insensitive */
    assert_true(http_parse_basic((http_slice){v, strlen(v)}, out, sizeof out, &u, &p));
    assert_true(slice_is(u, "a"));
    assert_int_equal(p.len, 0);
    static const char *const bad[] = {"Bearer abc", "Basic",      "Basic ",      "Basic   ",
                                      "Basic !!!!", "Basic YWJj", "Basicx YTpi", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(http_parse_basic((http_slice){bad[i], strlen(bad[i])}, out, sizeof out, &u, &p));
    assert_false(http_parse_basic((http_slice){NULL, 0}, out, sizeof out, &u, &p));
    v = "Basic bWV0cmljczpzM2NyZXQ6eA==";
    assert_false(http_parse_basic((http_slice){v, strlen(v)}, out, 8, &u, &p)); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_metrics),
        cmocka_unit_test(test_methods_and_versions),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncations_need_more),
        cmocka_unit_test(test_size_bound),
        cmocka_unit_test(test_basic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
