/* A state store record: one decided mutation, self-contained.
 *
 * The service decides a write (validates it, stamps the new HLC version,
 * the absolute deadline and the decision time) into a store_record; the
 * one apply path (store_service_apply) executes records, whether they come
 * from a live request, from log replay at start, or, later, from a
 * replicated log. Everything apply needs is in the record, and nothing
 * else is read while applying, so the same records in the same order give
 * the same keyspace, replies, notifications and de-duplication state on
 * every node.
 *
 * The byte encoding is versioned (first byte STORE_RECORD_FORMAT) and
 * strict: store_record_decode accepts exactly what store_record_encode
 * produces for a valid record and nothing else. Framing (length, CRC32C)
 * belongs to the log that stores records, not here. */
#ifndef MQS_STORE_RECORD_H
#define MQS_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssproto/hlc.h"
#include "util/buf.h"

/* The current encoding; a decoder refuses any other value. */
#define STORE_RECORD_FORMAT 1

typedef enum store_record_type {
    STORE_REC_SET = 1,    /* keyspace SET with cond/deadline/persist/fence */
    STORE_REC_DEL = 2,    /* keyspace DEL (fence) */
    STORE_REC_VDEL = 3,   /* keyspace VDEL: delete if the value equals `value` (fence) */
    STORE_REC_EXPIRE = 4, /* active expiry: delete `key` if still at `version` and due at now_ms */
    STORE_REC_CLOCK = 5,  /* HLC high-water mark only: no keyspace change */
} store_record_type;

/* Byte strings are BORROWED: after decode they point into the decoded
 * buffer, when built by the service into the request. A record is valid
 * as long as what it points into is. */
typedef struct store_record_bytes {
    const uint8_t *data;
    size_t len;
} store_record_bytes;

typedef struct store_record {
    store_record_type type;
    uint64_t now_ms;          /* decision time (wall ms): expiry checks */
    store_record_bytes key;   /* SET/DEL/VDEL/EXPIRE; empty for CLOCK */
    store_record_bytes value; /* SET: the value; VDEL: the expected value */
    uint8_t cond;             /* SET: keyspace_cond (NONE, NX, NEX) */
    hlc version;              /* SET: the new version; EXPIRE: the version to
                                   expire; DEL/VDEL: the version stamped for the
                                   reply's __ts; CLOCK: the high-water mark */
    bool has_fence;
    hlc fence;            /* SET/DEL/VDEL: the request's __ft */
    uint64_t deadline_ms; /* SET: absolute expiry (wall ms), 0 = none */
    bool persist;         /* SET/DEL/VDEL: the write is durable (state_store
                             mode and selection, docs/persistence.md): its
                             SET makes the key's value durable; its
                             de-duplication entry goes into snapshots */
    /* Who asked, for replies and de-duplication (protocol §2.3): empty for
     * EXPIRE and CLOCK. The de-duplication key is (client_id, correlation,
     * payload_digest); apply remembers the reply under it. */
    store_record_bytes client_id;
    store_record_bytes correlation;
    uint64_t payload_digest; /* util/digest of the request payload */
    uint32_t expiry_s;       /* the request's Message Expiry (10 when it had
                                none, §2.3): apply remembers the reply for
                                expiry_s + 60 s from now_ms */
} store_record;

typedef enum store_record_err {
    STORE_RECORD_OK = 0,
    STORE_RECORD_TRUNCATED,  /* shorter than its fields say */
    STORE_RECORD_TRAILING,   /* bytes after the last field */
    STORE_RECORD_BAD_FORMAT, /* unknown format byte */
    STORE_RECORD_BAD_TYPE,   /* unknown type, or a field the type forbids */
    STORE_RECORD_BAD_FIELD,  /* a value out of range (cond, flags, HLC node id) */
} store_record_err;

/* The encoding, after the format byte, the type byte and a flags byte
 * (STORE_RECORD_F_*: bits not defined are refused), in this order; every
 * integer little-endian, a byte string as u32 length + bytes, an HLC as
 * wall u64, counter u64 (the full u64 range: the server clock issues
 * counters up to HLC_COUNTER_MAX, but a client's __ft and a clock raised
 * by hlc_clock_observe may carry any parsed counter) and node id as u32
 * length + bytes (non-empty, no ':'):
 *
 *   all types      now_ms u64
 *   SET            cond u8 (keyspace_cond: NONE, NX, NEX)
 *   all types      version HLC
 *   SET/DEL/VDEL   fence HLC                    if F_FENCE
 *   SET            deadline_ms u64 (non-zero)   if F_DEADLINE
 *   all but CLOCK  key
 *   SET/VDEL       value
 *   SET/DEL/VDEL   client_id, correlation, payload_digest u64, expiry_s u32
 *
 * F_PERSIST and F_FENCE are allowed on SET/DEL/VDEL only,
 * F_DEADLINE on SET only (STORE_RECORD_BAD_TYPE otherwise). Fields a type
 * does not encode are zero/empty after decode and must be so when encoded.
 * Byte strings may be empty; their lengths must fit in a u32. The encoding
 * is canonical: a record has exactly one, so decode + encode reproduces
 * the input byte for byte. */
#define STORE_RECORD_F_FENCE 0x01u
#define STORE_RECORD_F_PERSIST 0x02u
#define STORE_RECORD_F_DEADLINE 0x04u

/* The exact number of bytes store_record_encode appends for `r`. */
size_t store_record_encoded_size(const store_record *r);

/* Append the encoding of `r` to `out`. `r` must be valid (asserted in
 * debug builds: known type, cond in range, non-empty node ids, fields the
 * type forbids left empty). */
void store_record_encode(const store_record *r, buf *out);

/* Decode exactly p[0..n) into `out` (slices point into p). On error `out`
 * is unspecified. */
store_record_err store_record_decode(const uint8_t *p, size_t n, store_record *out);

/* A short English text for an error ("truncated", ...), for logs and the
 * persistence checker. */
const char *store_record_strerror(store_record_err e);

#endif
