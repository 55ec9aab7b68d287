/* libFuzzer target: forwarded state store requests and replies
 * (src/store/request_wire.h). A request that decodes is the canonical
 * encoding of what it decodes to; a reply that decodes has its slices
 * inside the input. The first byte picks the decoder. */
#include <string.h>

#include "store/request_wire.h"
#include "fuzz_check.h"

static bool inside(store_bytes b, const uint8_t *p, size_t n)
{
    return !b.data || (b.data >= p && b.data + b.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        store_wire_reply r;
        if (!store_wire_reply_decode(p, n, &r)) return 0;
        CHECK(inside(r.status_message, p, n) && inside(r.version, p, n) && inside(r.payload, p, n));
        CHECK(r.payload.data != NULL && r.status >= 0 && r.status <= 65535);
        return 0;
    }
    store_request req;
    store_wire_extra x;
    if (!store_wire_request_decode(p, n, &req, &x)) return 0;
    buf out = {0};
    store_wire_request_encode(&req, &x, &out);
    CHECK(out.len == n && memcmp(out.data, p, n) == 0);
    buf_free(&out);
    return 0;
}
