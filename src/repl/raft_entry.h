/* The byte layout of what the raft log (repl/raft_log.h) stores: pure
 * encode/decode, no libraft, no libuv (fuzzed by fuzz_raft_entry).
 *
 * An entry (one raft RAFT_COMMAND) is one or more parts back to back (a
 * batch: what the proposer proposed in one loop iteration, replicated and
 * fsynced as one). A part is a header, the record bytes and zero padding
 * to a multiple of 8 bytes:
 *
 *   version u8 (1) | 0 u8 x3 | record length u32 LE | node u64 LE |
 *   nonce u64 LE | tag u64 LE | record | 0..7 zero bytes
 *
 * The padding is libraft 0.15's: its disk and network code assume every
 * entry's length is a multiple of 8 (raft_apply does not check; a shorter
 * entry makes a follower read past its receive buffer).
 *
 * `node` is the raft id of the proposer, `nonce` a random number drawn
 * each time a raft log is opened (an incarnation), `tag` the proposer's
 * repl_log tag. Only the process that proposed an entry, in the same
 * incarnation, maps it back to its tag: after a restart a tag number may
 * be reused by a new proposal, and the nonce keeps the old entry from
 * being taken for it.
 *
 * A snapshot (what libraft stores and sends to a lagging follower) is a
 * header and the state machine's bytes:
 *
 *   magic "mqsraft" | version u8 (1) | state machine bytes */
#ifndef MQS_REPL_RAFT_ENTRY_H
#define MQS_REPL_RAFT_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_RAFT_ENTRY_VERSION 1
#define REPL_RAFT_ENTRY_HEADER 32
#define REPL_RAFT_SNAP_HEADER 8

typedef struct repl_raft_entry {
    uint64_t node, nonce, tag;
    const uint8_t *rec; /* borrowed from the decoded bytes */
    size_t len;
} repl_raft_entry;

/* Bytes of the entry carrying a record of `len` bytes; 0 if too long
 * (over UINT32_MAX). */
size_t repl_raft_entry_size(size_t len);

/* Writes the entry (repl_raft_entry_size(len) bytes) into out. */
void repl_raft_entry_encode(uint8_t *out, uint64_t node, uint64_t nonce, uint64_t tag, const uint8_t *rec, size_t len);

/* false if p is not exactly one part (short, unknown version, length or
 * padding wrong); then *e is zeroed. */
bool repl_raft_entry_decode(const uint8_t *p, size_t n, repl_raft_entry *e);
/* The part at the start of p[0..n): its bytes in *used (a multiple of 8),
 * or false if no well-formed part starts there (then *e is zeroed). */
bool repl_raft_entry_next(const uint8_t *p, size_t n, repl_raft_entry *e, size_t *used);

void repl_raft_snap_header(uint8_t out[REPL_RAFT_SNAP_HEADER]);

/* The state machine bytes of a snapshot, or false if p is not one of ours. */
bool repl_raft_snap_decode(const uint8_t *p, size_t n, const uint8_t **state, size_t *len);

#endif
