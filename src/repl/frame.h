/* Framing of records in a log file: each frame is
 *
 *   length u32 LE | crc u32 LE | type u8 | payload (length bytes)
 *
 * where `length` counts the payload only and `crc` is the CRC32C of type
 * and payload. A scanner walks a file's bytes frame by frame and tells a
 * complete frame, a torn tail (the file ends inside a frame: a crash
 * mid-append) and corruption apart.
 *
 * What the CRC does not cover is the length: a damaged length that still
 * points inside the data makes the CRC fail (CORRUPT), one above
 * REPL_FRAME_MAX_PAYLOAD is CORRUPT at once, but one that points past
 * the end of the data reads as NEED_MORE, like a torn tail. A reader that
 * must tell these apart (the file log at start) checks that the bytes
 * after the last complete frame are no longer than what one unfinished
 * append can leave. */
#ifndef MQS_REPL_FRAME_H
#define MQS_REPL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Header bytes before the payload. */
#define REPL_FRAME_HEADER 9
/* Largest payload a frame may carry (64 MiB): a larger length is taken
 * as corruption without waiting for the bytes. Appending a larger payload
 * is a caller bug (asserted). A state store record is bounded far below
 * this by the MQTT packet that carried it (max_packet_size). */
#define REPL_FRAME_MAX_PAYLOAD (UINT32_C(64) << 20)

typedef struct repl_frame {
    uint8_t type;
    const uint8_t *payload; /* BORROWED: points into the scanned bytes */
    size_t len;
} repl_frame;

typedef enum repl_frame_status {
    REPL_FRAME_OK,        /* *out is the frame, *consumed its size */
    REPL_FRAME_NEED_MORE, /* fewer bytes than the header or its length say */
    REPL_FRAME_CORRUPT,   /* CRC mismatch, or length above the maximum */
} repl_frame_status;

/* Append one frame of (type, p[0..n)) to out; n <= REPL_FRAME_MAX_PAYLOAD. */
void repl_frame_append(buf *out, uint8_t type, const uint8_t *p, size_t n);

/* Look at the frame at the start of p[0..n). On OK, *out describes it and
 * *consumed (<= n) is its total size; otherwise both are left untouched.
 * Never reads outside p[0..n). */
repl_frame_status repl_frame_next(const uint8_t *p, size_t n, size_t *consumed, repl_frame *out);
/* The frame at the start of p, which this process appended with
 * repl_frame_append and which never left its memory (a group being
 * committed): not checked again, so no CRC is computed. Returns its total
 * size. */
size_t repl_frame_own(const uint8_t *p, repl_frame *out);

#endif
