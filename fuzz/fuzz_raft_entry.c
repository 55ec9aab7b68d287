/* libFuzzer target: the raft log's entry and snapshot headers
 * (src/repl/raft_entry.h), and batches of entry parts. Decoding arbitrary bytes never reads outside
 * them (ASan); a decoded entry re-encodes to the same bytes (but for
 * the reserved and padding bytes). */
#include <string.h>

#include "repl/raft_entry.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, data, size);
    repl_raft_entry e;
    if (repl_raft_entry_decode(p, size, &e)) {
        CHECK(e.rec == p + REPL_RAFT_ENTRY_HEADER && repl_raft_entry_size(e.len) == size);
        /* Re-encoding gives the same bytes but for the reserved and
         * padding bytes, which decode ignores. */
        uint8_t *again = malloc(size);
        CHECK(again);
        repl_raft_entry_encode(again, e.node, e.nonce, e.tag, e.rec, e.len);
        CHECK(memcmp(again, p, 1) == 0 && memcmp(again + 4, p + 4, REPL_RAFT_ENTRY_HEADER - 4 + e.len) == 0);
        free(again);
    }
    /* A batch: parts back to back, each inside the input, advancing. */
    size_t off = 0, used;
    while (off < size && repl_raft_entry_next(p + off, size - off, &e, &used)) {
        CHECK(used >= REPL_RAFT_ENTRY_HEADER && used % 8 == 0 && used <= size - off);
        CHECK(e.rec == p + off + REPL_RAFT_ENTRY_HEADER && e.len <= used - REPL_RAFT_ENTRY_HEADER);
        off += used;
    }
    const uint8_t *s;
    size_t len;
    if (repl_raft_snap_decode(p, size, &s, &len)) CHECK(s + len == p + size && len + REPL_RAFT_SNAP_HEADER == size);
    free(p);
    return 0;
}
