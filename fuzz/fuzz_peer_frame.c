/* libFuzzer target: the node link frame scanner and the HELLO, HELLO_OK
 * and REFUSE decoders (src/cluster/peer_frame.h). Arbitrary bytes never
 * make them read outside the input (ASan); every frame found lies within
 * what is left and re-frames to the same bytes; a HELLO that decodes
 * encodes back to the same frame. */
#include <string.h>

#include "cluster/peer_frame.h"
#include "fuzz_check.h"

#define MAX_FRAME 4096 /* below -max_len, so TOOBIG is reached too */

static void check_hello(const peer_frame *f, const uint8_t *frame, size_t used)
{
    peer_hello h;
    if (!peer_hello_decode(f->payload, f->len, &h)) return;
    CHECK(h.name_len <= PEER_CLUSTER_NAME_MAX && strlen(h.name) == h.name_len);
    if (h.version != PEER_PROTOCOL_VERSION) return;
    buf again = {0};
    CHECK(peer_hello_append(&again, h.from, h.to, h.name));
    CHECK(again.len == used && memcmp(again.data, frame, used) == 0);
    buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so reading one more is caught. */
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, data, size);
    size_t at = 0;
    buf again = {0};
    while (at < size) {
        peer_frame f;
        size_t used = 0;
        peer_frame_status s = peer_frame_next(p + at, size - at, MAX_FRAME, &f, &used);
        CHECK(s == PEER_FRAME_OK || s == PEER_FRAME_NEED_MORE || s == PEER_FRAME_TOOBIG || s == PEER_FRAME_BAD);
        if (s != PEER_FRAME_OK) break;
        CHECK(used >= PEER_FRAME_HEADER && used <= size - at && used == PEER_FRAME_HEADER + f.len);
        CHECK(f.len + 1 <= MAX_FRAME && f.payload == p + at + PEER_FRAME_HEADER);
        again.len = 0;
        peer_frame_append(&again, f.type, f.payload, f.len);
        CHECK(again.len == used && memcmp(again.data, p + at, used) == 0);
        uint8_t version;
        uint64_t id;
        switch (f.type) {
        case PEER_T_HELLO: check_hello(&f, p + at, used); break;
        case PEER_T_HELLO_OK: CHECK(peer_hello_ok_decode(f.payload, f.len, &version, &id) == (f.len == 9)); break;
        case PEER_T_REFUSE: {
            int r = peer_refuse_decode(f.payload, f.len);
            CHECK(r == 0 || (r >= PEER_REFUSE_CLUSTER && r <= PEER_REFUSE_MAX_));
            CHECK(peer_refusal_str(r) != NULL);
            break;
        }
        default: break;
        }
        at += used;
    }
    buf_free(&again);
    free(p);
    return 0;
}
