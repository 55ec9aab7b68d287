#include "repl/file_log.h"

#include <assert.h>
#include <stdio.h>

/* True if complete frames run from p[0] exactly to p[n] (at least one). */
static bool chain_to_end(const uint8_t *p, size_t n)
{
    size_t off = 0, used;
    repl_frame f;
    while (off < n) {
        if (repl_frame_next(p + off, n - off, &used, &f) != REPL_FRAME_OK) return false;
        off += used;
    }
    return off == n && n > 0;
}

void repl_file_scan(const uint8_t *p, size_t n, repl_scan_fn fn, void *ctx, repl_scan_result *out)
{
    *out = (repl_scan_result){REPL_SCAN_CLEAN, 0, 0, NULL};
    size_t off = 0;
    while (off < n) {
        size_t used;
        repl_frame f;
        repl_frame_status st = repl_frame_next(p + off, n - off, &used, &f);
        if (st == REPL_FRAME_CORRUPT) {
            out->status = REPL_SCAN_CORRUPT;
            out->why = "bad checksum or length";
            break;
        }
        if (st == REPL_FRAME_NEED_MORE) {
            out->status = REPL_SCAN_TORN;
            out->why = "the file ends inside a frame";
            /* A damaged length pointing past the end hides intact frames. */
            for (size_t k = off + 1; k + REPL_FRAME_HEADER <= n; k++)
                if (chain_to_end(p + k, n - k)) {
                    out->status = REPL_SCAN_CORRUPT;
                    out->why = "a frame length points past the end of the file, intact frames follow";
                    break;
                }
            break;
        }
        if (f.type != REPL_FILE_STORE_RECORD && (f.type < REPL_FILE_LOCAL_FIRST || f.type > REPL_FILE_LOCAL_LAST)) {
            out->status = REPL_SCAN_CORRUPT;
            out->why = "unknown frame type";
            break;
        }
        const char *bad = fn ? fn(ctx, out->frames + 1, off, &f) : NULL;
        if (bad) {
            out->status = REPL_SCAN_CORRUPT;
            out->why = bad;
            break;
        }
        out->frames++;
        off += used;
        out->valid_end = off;
    }
    assert(out->valid_end <= n);
}

uint64_t repl_file_count_frames(const uint8_t *p, size_t n)
{
    uint64_t frames = 0;
    size_t off = 0;
    while (n - off >= REPL_FRAME_HEADER) {
        const uint8_t *h = p + off;
        uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len > REPL_FRAME_MAX_PAYLOAD || len > n - off - REPL_FRAME_HEADER) break;
        off += REPL_FRAME_HEADER + len;
        frames++;
    }
    return frames;
}

const char *repl_scan_status_name(repl_scan_status s)
{
    switch (s) {
    case REPL_SCAN_CLEAN: return "clean";
    case REPL_SCAN_TORN: return "torn tail";
    case REPL_SCAN_CORRUPT: return "corrupt";
    }
    return "?";
}

bool repl_file_old_name(unsigned k, char *out, size_t n)
{
    if (k == 0 || k > REPL_FILE_LOG_OLD_MAX) return false;
    int w =
        k == 1 ? snprintf(out, n, "%s", REPL_FILE_LOG_OLD_NAME) : snprintf(out, n, "%s.%u", REPL_FILE_LOG_OLD_NAME, k);
    return w > 0 && (size_t)w < n;
}
