/* Node link frames and the module's own messages (HELLO, HELLO_OK,
 * REFUSE, PING): pure encoders and decoders, no I/O, fuzzed by
 * fuzz/fuzz_peer_frame.c. The layout is in peer.h; all integers are
 * big-endian.
 *
 *   frame    = length:u32 type:u8 payload    (length = 1 + payload bytes)
 *   HELLO    = version:u8 from:u64 to:u64 name_len:u8 cluster_name
 *   HELLO_OK = version:u8 id:u64
 *   REFUSE   = reason:u8
 *   PING     = (empty)
 *
 * The dialer sends HELLO naming itself (from) and whom it meant to reach
 * (to); the acceptor answers HELLO_OK or REFUSE (then closes). */
#ifndef MQS_CLUSTER_PEER_FRAME_H
#define MQS_CLUSTER_PEER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define PEER_FRAME_HEADER 5 /* length + type */
#define PEER_PROTOCOL_VERSION 1
#define PEER_CLUSTER_NAME_MAX 255 /* its length is one byte */

/* The module's frame types (below PEER_TYPE_USER, peer.h). 0 is never sent. */
enum { PEER_T_HELLO = 1, PEER_T_HELLO_OK = 2, PEER_T_REFUSE = 3, PEER_T_PING = 4 };

/* Why an acceptor refused a HELLO (the REFUSE payload). */
typedef enum peer_refusal {
    PEER_REFUSE_CLUSTER = 1, /* another cluster name */
    PEER_REFUSE_VERSION,     /* another protocol version */
    PEER_REFUSE_MEMBER,      /* `from` is not a member (or is the acceptor itself) */
    PEER_REFUSE_TARGET,      /* `to` is not the acceptor's id */
    PEER_REFUSE_CERT,        /* the certificate does not name the member's address */
    PEER_REFUSE_MAX_ = PEER_REFUSE_CERT,
} peer_refusal;
const char *peer_refusal_str(int reason);

typedef enum peer_frame_status {
    PEER_FRAME_OK,        /* *f is the next frame, *used its size */
    PEER_FRAME_NEED_MORE, /* a frame starts here but is not complete */
    PEER_FRAME_TOOBIG,    /* its length exceeds max_frame */
    PEER_FRAME_BAD,       /* length 0 (no type byte) */
} peer_frame_status;

typedef struct peer_frame {
    uint8_t type;
    const uint8_t *payload; /* points into the scanned bytes */
    size_t len;
} peer_frame;

/* The frame at p[0..len). max_frame bounds its length field (type +
 * payload). Never reads outside p[0..len). */
peer_frame_status peer_frame_next(const uint8_t *p, size_t len, size_t max_frame, peer_frame *f, size_t *used);
/* Append a frame (header and payload) to b. */
void peer_frame_append(buf *b, uint8_t type, const uint8_t *payload, size_t len);

typedef struct peer_hello {
    uint8_t version;
    uint64_t from, to;
    size_t name_len;
    char name[PEER_CLUSTER_NAME_MAX + 1]; /* NUL-terminated copy */
} peer_hello;

/* Append a whole HELLO frame; false (nothing appended) if the name is
 * longer than PEER_CLUSTER_NAME_MAX. */
bool peer_hello_append(buf *b, uint64_t from, uint64_t to, const char *cluster_name);
/* Decode a HELLO payload; false if malformed (any version is decoded:
 * checking it is the acceptor's job). */
bool peer_hello_decode(const uint8_t *p, size_t len, peer_hello *out);
void peer_hello_ok_append(buf *b, uint64_t id);
bool peer_hello_ok_decode(const uint8_t *p, size_t len, uint8_t *version, uint64_t *id);
void peer_refuse_append(buf *b, peer_refusal reason);
/* The reason, or 0 if the payload is not one byte naming a known reason. */
int peer_refuse_decode(const uint8_t *p, size_t len);

#endif
