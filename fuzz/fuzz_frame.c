/* libFuzzer target: the log frame scanner (src/repl/frame.h). Scanning
 * arbitrary bytes never reads outside them (ASan), every frame found lies
 * within what is left and re-frames to the same bytes, and the scan ends
 * in OK at the very end, NEED_MORE or CORRUPT. */
#include <string.h>

#include "repl/frame.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so reading one more is caught. */
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, data, size);
    size_t at = 0;
    buf again = {0};
    while (at < size) {
        size_t used = 0;
        repl_frame f;
        repl_frame_status s = repl_frame_next(p + at, size - at, &used, &f);
        CHECK(s == REPL_FRAME_OK || s == REPL_FRAME_NEED_MORE || s == REPL_FRAME_CORRUPT);
        if (s != REPL_FRAME_OK) break;
        CHECK(used >= REPL_FRAME_HEADER && used <= size - at);
        CHECK(f.len <= REPL_FRAME_MAX_PAYLOAD && used == REPL_FRAME_HEADER + f.len);
        CHECK(f.payload == p + at + REPL_FRAME_HEADER);
        again.len = 0;
        repl_frame_append(&again, f.type, f.payload, f.len);
        CHECK(again.len == used && memcmp(again.data, p + at, used) == 0);
        at += used;
    }
    buf_free(&again);
    free(p);
    return 0;
}
