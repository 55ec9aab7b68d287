/* Raft entry and snapshot headers (repl/raft_entry.h). */
#include <string.h>

#include "repl/raft_entry.h"
#include "util/le.h"

static const char snap_magic[REPL_RAFT_SNAP_HEADER - 1] = {'m', 'q', 's', 'r', 'a', 'f', 't'};

size_t repl_raft_entry_size(size_t len)
{
    if (len > UINT32_MAX) return 0;
    return REPL_RAFT_ENTRY_HEADER + ((len + 7) & ~(size_t)7);
}

void repl_raft_entry_encode(uint8_t *out, uint64_t node, uint64_t nonce, uint64_t tag, const uint8_t *rec, size_t len)
{
    size_t size = repl_raft_entry_size(len);
    memset(out, 0, size);
    out[0] = REPL_RAFT_ENTRY_VERSION;
    le_put_u64(le_put_u64(le_put_u64(le_put_u32(out + 4, (uint32_t)len), node), nonce), tag);
    if (len) memcpy(out + REPL_RAFT_ENTRY_HEADER, rec, len);
}

bool repl_raft_entry_decode(const uint8_t *p, size_t n, repl_raft_entry *e)
{
    le_reader r = le_reader_of(p, n);
    uint8_t version = le_get_u8(&r);
    le_get_bytes(&r, 3);
    uint32_t len = le_get_u32(&r);
    *e = (repl_raft_entry){0};
    e->node = le_get_u64(&r);
    e->nonce = le_get_u64(&r);
    e->tag = le_get_u64(&r);
    if (r.bad || version != REPL_RAFT_ENTRY_VERSION || repl_raft_entry_size(len) != n) {
        *e = (repl_raft_entry){0};
        return false;
    }
    e->rec = r.p;
    e->len = len;
    return true;
}

bool repl_raft_entry_next(const uint8_t *p, size_t n, repl_raft_entry *e, size_t *used)
{
    *used = 0;
    le_reader r = le_reader_of(p, n < REPL_RAFT_ENTRY_HEADER ? 0 : 8);
    le_get_bytes(&r, 4);
    size_t size = n >= REPL_RAFT_ENTRY_HEADER ? repl_raft_entry_size(le_get_u32(&r)) : 0;
    if (!size || size > n) {
        *e = (repl_raft_entry){0};
        return false;
    }
    if (!repl_raft_entry_decode(p, size, e)) return false;
    *used = size;
    return true;
}

void repl_raft_snap_header(uint8_t out[REPL_RAFT_SNAP_HEADER])
{
    memcpy(out, snap_magic, sizeof snap_magic);
    out[sizeof snap_magic] = 1;
}

bool repl_raft_snap_decode(const uint8_t *p, size_t n, const uint8_t **state, size_t *len)
{
    if (n < REPL_RAFT_SNAP_HEADER || memcmp(p, snap_magic, sizeof snap_magic) != 0 || p[sizeof snap_magic] != 1)
        return false;
    *state = p + REPL_RAFT_SNAP_HEADER;
    *len = n - REPL_RAFT_SNAP_HEADER;
    return true;
}
