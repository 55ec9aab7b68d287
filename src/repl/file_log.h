/* The durable log's file format and recovery scan (pure part; the loop
 * integration, fsync on the thread pool and the lock file live in
 * src/server/store_log.c).
 *
 * One append-only file DIR/statestore.log holds frames (repl/frame.h)
 * back to back: type REPL_FILE_STORE_RECORD carrying one encoded
 * store_record, or a local type (16..31, the broker's records). A file is scanned once at start: every complete frame is
 * handed to the caller in order; what follows the last complete frame is
 * judged as
 *   CLEAN    nothing: the file ends at a frame boundary;
 *   TORN     an unfinished append (a crash mid-write): truncate it;
 *   CORRUPT  damage before the end: refuse to start.
 *
 * The CRC does not cover the length, so a damaged length that points past
 * the end of the file looks like a torn tail. A tail is therefore taken as
 * torn only if no complete frame chain starts inside it and runs exactly
 * to the end of the file (then the frames behind the damaged header are
 * intact records: corruption, not a crash mid-append). */
#ifndef MQS_REPL_FILE_LOG_H
#define MQS_REPL_FILE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/frame.h"

#define REPL_FILE_LOG_NAME "statestore.log"
#define REPL_FILE_LOCK_NAME "LOCK"
/* Snapshots and log compaction (docs/persistence.md): the installed
 * snapshot, the one being written, and the rotated log it will cover. */
#define REPL_FILE_SNAP_NAME "statestore.snap"
#define REPL_FILE_SNAP_TMP_NAME "statestore.snap.tmp"
#define REPL_FILE_LOG_OLD_NAME "statestore.log.old"
/* A snapshot that failed leaves its rotated log; each retry rotates the
 * log again, so the rotated logs form a chain, oldest first: number 1 is
 * REPL_FILE_LOG_OLD_NAME, number k >= 2 is that name + ".k". A snapshot
 * covers the whole chain. */
#define REPL_FILE_LOG_OLD_MAX 100000u
/* The state store's frame type: an encoded store_record. */
#define REPL_FILE_STORE_RECORD 1
/* Frame types of records owned by other parts of the node sharing the
 * file (the broker's durable state: broker/broker_persist.h). The scan
 * accepts them and hands them to its callback like type 1; everything
 * else is corruption. */
#define REPL_FILE_LOCAL_FIRST 16
#define REPL_FILE_LOCAL_LAST 31
/* A local record's payload in the log starts with its sequence number
 * (u64 LE; strictly increasing over the node's life, across restarts).
 * Its owner applies its state *before* the record is written, so a
 * snapshot forked while local records wait to be written already holds
 * their effects: its LOCL section starts with a REPL_FILE_LOCAL_SEQ record
 * (payload: u64 LE, the sequence number of the last local record it
 * includes) and replay skips the logs' local records at or below it. */
#define REPL_FILE_LOCAL_SEQ_BYTES 8
#define REPL_FILE_LOCAL_SEQ 15

typedef enum repl_scan_status {
    REPL_SCAN_CLEAN,
    REPL_SCAN_TORN,
    REPL_SCAN_CORRUPT,
} repl_scan_status;

typedef struct repl_scan_result {
    repl_scan_status status;
    uint64_t frames;  /* complete frames accepted before valid_end */
    size_t valid_end; /* offset just past the last accepted frame */
    const char *why;  /* TORN/CORRUPT: a short static text */
} repl_scan_result;

/* Called for each complete frame in order (index 1, 2, ...) at `offset`.
 * Returns NULL to accept it, or a short static text to reject it as
 * corrupt (a record that does not decode); the scan stops there. */
typedef const char *(*repl_scan_fn)(void *ctx, uint64_t index, size_t offset, const repl_frame *f);

/* Scan p[0..n). fn may be NULL (count only). */
void repl_file_scan(const uint8_t *p, size_t n, repl_scan_fn fn, void *ctx, repl_scan_result *out);

/* The name (not the path) of rotated log number k >= 1 into out; false
 * if it does not fit or k is 0 or above REPL_FILE_LOG_OLD_MAX. */
bool repl_file_old_name(unsigned k, char *out, size_t n);
/* How many frames p[0..n) holds, by their lengths alone (no CRC, no
 * validation: what repl_file_scan would accept is at most this many).
 * Cheap; for sizing tables before a replay. */
uint64_t repl_file_count_frames(const uint8_t *p, size_t n);

/* A text for a status: "clean", "torn tail", "corrupt". */
const char *repl_scan_status_name(repl_scan_status s);

#endif
