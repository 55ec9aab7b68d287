/* libFuzzer target: the WebSocket frame decoder (src/net/ws_codec.h).
 * The first byte picks the message bound and a chunk size; the rest is
 * client frames. Decoding never reads or writes outside the input (ASan),
 * always makes progress, hands out data only from the input, and gives
 * the same data and the same ending whether the bytes come at once or in
 * chunks (the decoder's state between reads is complete). */
#include <string.h>

#include "fuzz_check.h"
#include "net/ws_codec.h"

typedef struct result {
    buf data;
    ws_status end; /* NEED_MORE, CLOSE or ERROR */
    uint16_t code;
    unsigned pings;
} result;

static void run(const uint8_t *in, size_t size, uint64_t max, size_t chunk, result *r)
{
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, in, size);
    ws_decoder d = {.max_message = max};
    r->end = WS_NEED_MORE;
    size_t off = 0;
    while (off < size && r->end == WS_NEED_MORE) {
        size_t end = chunk && size - off > chunk ? off + chunk : size;
        while (off < end) {
            size_t used = 0;
            ws_event ev;
            ws_status s = ws_decode(&d, p + off, end - off, &used, &ev);
            CHECK(used <= end - off);
            CHECK(used > 0 || s != WS_NEED_MORE || off == end);
            off += used;
            if (s == WS_NEED_MORE) {
                CHECK(off == end);
            } else if (s == WS_DATA) {
                CHECK(ev.data >= p && ev.data + ev.len <= p + off && ev.len > 0);
                buf_append(&r->data, ev.data, ev.len);
            } else if (s == WS_PING || s == WS_PONG) {
                CHECK(ev.len <= WS_MAX_CONTROL);
                r->pings++;
            } else {
                CHECK(s == WS_CLOSE || s == WS_ERROR);
                CHECK(s == WS_CLOSE || (ev.why && ev.code >= 1000));
                r->end = s;
                r->code = ev.code;
                break;
            }
        }
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint64_t max = (data[0] & 0x0f) ? (uint64_t)1 << (data[0] & 0x0f) : 0;
    size_t chunk = (size_t)(data[0] >> 4) + 1;
    result whole = {0}, parts = {0};
    run(data + 1, size - 1, max, 0, &whole);
    run(data + 1, size - 1, max, chunk, &parts);
    CHECK(whole.end == parts.end && whole.code == parts.code && whole.pings == parts.pings);
    CHECK(whole.data.len == parts.data.len &&
          (whole.data.len == 0 || !memcmp(whole.data.data, parts.data.data, whole.data.len)));
    buf_free(&whole.data);
    buf_free(&parts.data);
    return 0;
}
