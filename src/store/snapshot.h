/* Snapshots of the state store's state machine (issue 11): the format
 * and its two pure operations. Writing the file (fork, temp file, fsync,
 * rename) and truncating the log are the caller's job.
 *
 * A snapshot holds the durable state store_service_apply reads besides
 * the record: every key whose value is durable (value, version, fencing
 * token, deadline, persist flag; expired keys too), the de-duplication
 * entries of durable writes in insertion order with each entry's
 * lifetime, and the server clock's high-water mark, as of the last
 * applied log index `last_index`. Loading it into a fresh service and
 * applying the log records after last_index yields the durable state the
 * writer had (with state_store mode all: all of it); recovery then drops
 * keys whose value is not durable (store_service_drop_volatile).
 *
 * Format, version 2 (every integer little-endian; "bytes" are u32 length
 * + bytes; an HLC is wall u64, counter u64, node bytes (non-empty, no ':'):
 *
 *   header   "MQSSNAP\0", u32 format (1), u32 flags (0), u64 last_index,
 *            u64 keys, u64 dedup entries, HLC clock high-water mark,
 *            u32 CRC32C of the header bytes before it
 *   section  u32 tag "KEYS", u64 count (= header keys), count times:
 *              u8 flags (1 persist, 2 fenced, 4 deadline; others refused),
 *              HLC version, [HLC fence], [u64 deadline != 0], bytes key,
 *              bytes value;
 *            u32 CRC32C of the section from its tag
 *   section  u32 tag "DDUP", u64 count (= header dedup entries), oldest
 *            first: bytes client id, bytes correlation data, u64 payload
 *            digest, u64 expires_at (wall ms, != 0), bytes meta, bytes
 *            reply payload; u32 CRC32C of the section from its tag
 *   section  u32 tag "LOCL" (format 2; absent in format 1, which is still
 *            read): the records of the node's other durable state (the
 *            broker's, broker/broker_persist.h), opaque here: entries
 *            u8 type (!= 0), bytes payload; then u8 0, u64 count of the
 *            entries; u32 CRC32C of the section from its tag
 *   trailer  "MQSSEND\0", u64 keys, u64 dedup entries, u64 file length,
 *            u32 CRC32C of every byte of the file before it
 *
 * The counts appear in header, section and trailer, the file length in
 * the trailer: a snapshot cut anywhere, extended, or with any byte
 * changed fails to load (a flip is caught by a CRC, a cut by the length
 * and trailer). The encoding is canonical: loading refuses duplicate keys,
 * unknown flags and trailing bytes.
 *
 * Order: keys in keyspace table order (keyspace_foreach), de-duplication
 * entries oldest first. Two snapshots of an unchanged service are byte-
 * identical; snapshots of equal states in different processes may order
 * keys differently (per-process hash seed). */
#ifndef MQS_STORE_SNAPSHOT_H
#define MQS_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/service.h"

#define STORE_SNAPSHOT_FORMAT 2u
/* The writer hands out chunks of at most this many bytes. */
#define STORE_SNAPSHOT_CHUNK 65536u

/* Receives the snapshot in order; returns false to abort (e.g. a write
 * error), which makes store_snapshot_write return false at once. */
typedef bool (*snapshot_sink_fn)(void *ctx, const void *p, size_t n);

/* Serialize s as of log index last_index into write(), in chunks of at
 * most STORE_SNAPSHOT_CHUNK bytes. Does not change s, allocates nothing
 * (a fixed buffer on the stack, about STORE_SNAPSHOT_CHUNK bytes) and
 * takes no lock, so it may run in a child forked from the server while the
 * parent keeps going (copy-on-write). Returns false iff write() did. */
bool store_snapshot_write(const store_service *s, uint64_t last_index, snapshot_sink_fn write, void *ctx);

/* The LOCL section's records are supplied by their owner: `locals` calls
 * emit once per record (type != 0, payload = the concatenation of the
 * pieces, which are copied into the stream, not kept) and returns false
 * to abort (or when emit returned false). Same rules as above: it runs in
 * the forked child, so it must not allocate. */
typedef struct snapshot_piece {
    const void *p;
    size_t n;
} snapshot_piece;
typedef bool (*snapshot_emit_fn)(void *emit_ctx, uint8_t type, const snapshot_piece *pieces, unsigned n);
typedef bool (*snapshot_locals_fn)(void *ctx, snapshot_emit_fn emit, void *emit_ctx);
/* store_snapshot_write with the LOCL section filled by locals (NULL: empty). */
bool store_snapshot_write_ext(const store_service *s, uint64_t last_index, snapshot_locals_fn locals, void *locals_ctx,
                              snapshot_sink_fn write, void *ctx);

/* Strictly validate p[0..n) and load it into `fresh`, a service just made
 * by store_service_new (no key, no de-duplication entry; else refused).
 * On success *last_index is the snapshot's index; the keys are restored
 * exactly (store limits are not applied to them), the de-duplication
 * table as written (evicting the oldest if its bounds are now smaller),
 * and the clock raised to the high-water mark. On failure returns false
 * with "offset N: what is wrong" in err (always NUL-terminated when
 * errlen > 0); `fresh` then holds part of the snapshot: free it, do not
 * use it. */
bool store_snapshot_load(store_service *fresh, const uint8_t *p, size_t n, uint64_t *last_index, char *err,
                         size_t errlen);

/* The header and the trailer (counts, length, the CRC of every byte) of
 * p[0..n), without loading anything: a snapshot that passes was written
 * whole by a store_snapshot_write and arrived unchanged. false with
 * "offset N: why" in err. */
bool store_snapshot_verify(const uint8_t *p, size_t n, char *err, size_t errlen);
/* A record of the LOCL section, borrowed from the input: NULL, or a short
 * static text saying why it is corrupt (the load then fails naming it). */
typedef const char *(*snapshot_local_fn)(void *ctx, uint8_t type, const uint8_t *p, size_t n);
/* store_snapshot_load handing each LOCL record, in order, to on_local
 * (NULL: checked and skipped), after the store's sections loaded. */
bool store_snapshot_load_ext(store_service *fresh, const uint8_t *p, size_t n, uint64_t *last_index,
                             snapshot_local_fn on_local, void *local_ctx, char *err, size_t errlen);

#endif
