/* libFuzzer target: the RESP3 subset codec (src/store/resp.h).
 *  - every request that decodes re-encodes to exactly the input (the
 *    request grammar has a single canonical form), and its argv survive an
 *    encode/decode round trip;
 *  - every reply that parses is walked completely through the iterators,
 *    and its element counts and slices stay inside the input;
 *  - the input split into argv pieces encodes to a request that decodes
 *    back to the same pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssproto/resp.h"
#include "fuzz_check.h"

static bool same_argv(const resp_slice *a, const resp_slice *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].len != b[i].len) return false;
        if (a[i].len && memcmp(a[i].data, b[i].data, a[i].len) != 0) return false;
    }
    return true;
}

static void check_request(const uint8_t *data, size_t size, buf *scratch)
{
    resp_request req, again;
    if (resp_decode_request(data, size, &req) != RESP_OK) return;
    CHECK(req.argc >= 1 && req.argc <= RESP_ARGC_MAX);
    for (size_t i = 0; i < req.argc; i++)
        CHECK(req.argv[i].data >= data && req.argv[i].data + req.argv[i].len <= data + size);
    scratch->len = 0;
    resp_put_request(scratch, req.argv, req.argc);
    CHECK(scratch->len == size && memcmp(scratch->data, data, size) == 0);
    CHECK(resp_decode_request(scratch->data, scratch->len, &again) == RESP_OK);
    CHECK(again.argc == req.argc && same_argv(req.argv, again.argv, req.argc));
}

static void walk(const resp_reply *r, const uint8_t *lo, const uint8_t *hi, int depth)
{
    CHECK(r->str.len == 0 || (r->str.data >= lo && r->str.data + r->str.len <= hi));
    if (r->type != RESP_ARRAY) return;
    CHECK(depth < RESP_REPLY_DEPTH_MAX);
    resp_array_iter it;
    resp_reply elem;
    size_t n = 0;
    resp_array_iter_init(&it, r);
    while (resp_array_next(&it, &elem)) {
        walk(&elem, lo, hi, depth + 1);
        n++;
    }
    CHECK(n == r->count);
}

static void check_reply(const uint8_t *data, size_t size)
{
    resp_reply r;
    if (resp_parse_reply(data, size, &r) != RESP_OK) return;
    walk(&r, data, data + size, 0);
    if (r.type == RESP_ERROR) {
        resp_error e;
        if (resp_error_lookup(r.str.data, r.str.len, &e)) {
            const char *t = resp_error_text(e);
            CHECK(strlen(t) == r.str.len && memcmp(t, r.str.data, r.str.len) == 0);
        }
    }
}

/* Split the input on '|' into at most RESP_ARGC_MAX arguments. */
static void check_encode(const uint8_t *data, size_t size, buf *scratch)
{
    resp_slice argv[RESP_ARGC_MAX];
    size_t argc = 0, start = 0;
    for (size_t i = 0; i <= size && argc < RESP_ARGC_MAX; i++) {
        if (i == size || data[i] == '|') {
            argv[argc++] = (resp_slice){data + start, i - start};
            start = i + 1;
        }
    }
    scratch->len = 0;
    resp_put_request(scratch, argv, argc);
    resp_request req;
    CHECK(resp_decode_request(scratch->data, scratch->len, &req) == RESP_OK);
    CHECK(req.argc == argc && same_argv(argv, req.argv, argc));
    /* The same bytes as a bulk reply and a notification parse back too. */
    scratch->len = 0;
    resp_put_bulk(scratch, data, size);
    resp_reply r;
    CHECK(resp_parse_reply(scratch->data, scratch->len, &r) == RESP_OK);
    CHECK(r.type == RESP_BULK && r.str.len == size);
    CHECK(size == 0 || memcmp(r.str.data, data, size) == 0);
    scratch->len = 0;
    resp_put_scan(scratch, argv, argc, argc > 1 ? &argv[0] : NULL);
    CHECK(resp_parse_reply(scratch->data, scratch->len, &r) == RESP_OK);
    CHECK(r.type == RESP_ARRAY && r.count == (argc > 1 ? 2u : 1u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static buf scratch;
    check_request(data, size, &scratch);
    check_reply(data, size);
    check_encode(data, size, &scratch);
    return 0;
}
