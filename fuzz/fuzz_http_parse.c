/* libFuzzer target: the operations endpoint's HTTP request parser
 * (src/ops/http_parse.h). Arbitrary bytes never make it read outside the
 * input (ASan); a parsed head lies within the bound and the input, its
 * slices inside the head; the input is consumed head by head as the
 * endpoint does (pipelining); a small bound reports TOO_LARGE exactly
 * when no head ends within it; and Basic credentials decode within the
 * buffer given. */
#include <string.h>

#include "fuzz_check.h"
#include "ops/http_parse.h"

static bool inside(http_slice s, const uint8_t *p, size_t n)
{
    return !s.p || ((const uint8_t *)s.p >= p && (const uint8_t *)s.p + s.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1); /* exactly `size` bytes: one more is caught */
    CHECK(p);
    if (size) memcpy(p, data, size);
    size_t max = size ? 16 + p[0] % 256 : 16; /* small bounds reach TOO_LARGE */
    for (size_t at = 0; at < size;) {
        http_request r;
        http_parse_status st = http_parse_request(p + at, size - at, max, &r);
        CHECK(st == HTTP_PARSE_OK || st == HTTP_PARSE_NEED_MORE || st == HTTP_PARSE_TOO_LARGE || st == HTTP_PARSE_BAD);
        if (st == HTTP_PARSE_NEED_MORE) CHECK(size - at < max);
        if (st != HTTP_PARSE_OK) break;
        CHECK(r.head_len > 0 && r.head_len <= max && r.head_len <= size - at);
        CHECK(inside(r.path, p + at, r.head_len) && r.path.len >= 1 && r.path.p[0] == '/');
        CHECK(inside(r.authorization, p + at, r.head_len));
        CHECK(r.minor <= 1 && r.method <= HTTP_METHOD_OTHER);
        char cred[64];
        http_slice u, pw;
        if (http_parse_basic(r.authorization, cred, sizeof cred, &u, &pw)) {
            CHECK(inside(u, (const uint8_t *)cred, sizeof cred) && inside(pw, (const uint8_t *)cred, sizeof cred));
            CHECK(!memchr(u.p, ':', u.len));
        }
        at += r.head_len;
    }
    /* The whole input as one header value. */
    char cred[64];
    http_slice u, pw;
    (void)http_parse_basic((http_slice){(const char *)p, size}, cred, sizeof cred, &u, &pw);
    free(p);
    return 0;
}
