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
 * Format, version 1 (every integer little-endian; "bytes" are u32 length
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

#define STORE_SNAPSHOT_FORMAT 1u
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

#endif
