/* libFuzzer target: the WebSocket opening handshake parser
 * (src/net/ws_codec.h). Whatever the bytes, the parser reads only them
 * (ASan), waits for more only while no blank line has come within the
 * 8 KiB bound, and an accepted head ends with its blank line and yields a
 * 28-character accept value; a refusal has an HTTP status and a reason,
 * and both answers are well-formed HTTP/1.1 status lines. */
#include <string.h>

#include "fuzz_check.h"
#include "net/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1); /* exactly size bytes: one more is caught */
    CHECK(p);
    if (size) memcpy(p, data, size);
    ws_handshake hs;
    ws_hs_status s = ws_handshake_parse(p, size, "/mqtt", &hs);
    size_t scan = size < WS_MAX_REQUEST_HEAD ? size : WS_MAX_REQUEST_HEAD;
    bool blank = scan >= 4 && memmem(p, scan, "\r\n\r\n", 4) != NULL;
    buf out = {0};
    switch (s) {
    case WS_HS_NEED_MORE: CHECK(!blank && size < WS_MAX_REQUEST_HEAD); break;
    case WS_HS_OK:
        CHECK(blank && hs.used >= 4 && hs.used <= scan && !memcmp(p + hs.used - 4, "\r\n\r\n", 4));
        CHECK(strlen(hs.accept) == WS_ACCEPT_SIZE - 1);
        CHECK(!hs.protocol || !strcmp(hs.protocol, "mqtt") || !strcmp(hs.protocol, "mqttv3.1"));
        ws_handshake_answer(&hs, &out);
        CHECK(out.len > 12 && !memcmp(out.data, "HTTP/1.1 101 ", 13));
        break;
    case WS_HS_REFUSE:
        CHECK(hs.reason && (hs.status == 400 || hs.status == 404 || hs.status == 405 || hs.status == 426 ||
                            hs.status == 431 || hs.status == 505));
        ws_handshake_answer(&hs, &out);
        CHECK(out.len > 12 && !memcmp(out.data, "HTTP/1.1 ", 9));
        break;
    default: CHECK(false);
    }
    CHECK(out.len == 0 || out.data[out.len - 1] == '\n');
    buf_free(&out);
    free(p);
    return 0;
}
