/* A state store request and its reply as bytes, for a cluster: a
 * follower forwards the requests of its clients to the leader and gets
 * the replies back over a node link (docs/cluster.md), and a node keeps
 * a request it cannot serve yet (no leader, a read waiting for its
 * barrier) in this form. Pure; fuzzed by fuzz/fuzz_request_wire.c.
 *
 * Request, version 1 (integers little-endian; "bytes" = u32 length +
 * bytes; absent optional fields are not written):
 *
 *   u8 version (1), u8 flags, u32 expiry_s,
 *   bytes client id, [bytes user name], [bytes principal],
 *   bytes payload, bytes correlation data, [bytes __ts], [bytes __ft],
 *   [bytes __protVer]
 *
 *   flags: 1 dup (a QoS 1 redelivery), 2 persist, 4 user name present,
 *   8 principal present, 16 __ts, 32 __ft, 64 __protVer; 128 is refused.
 *
 * The principal is the authenticated identity of the client's connection
 * (src/auth principal_encode): opaque here, decoded by the receiver.
 *
 * Reply, version 1:
 *
 *   u8 version (1), u8 flags (1 __ts present, 2 __stMsg present),
 *   u16 status, [bytes __stMsg], [bytes __ts], bytes payload */
#ifndef MQS_STORE_REQUEST_WIRE_H
#define MQS_STORE_REQUEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/service.h"
#include "util/buf.h"

#define STORE_WIRE_VERSION 1
/* Longest __stMsg a reply carries (longer ones are cut). */
#define STORE_WIRE_STMSG_MAX 255

/* What travels with a request besides the store_request. */
typedef struct store_wire_extra {
    bool dup;
    store_bytes principal; /* data == NULL: none */
} store_wire_extra;

/* Append the request (its who, payload, correlation, __ts, __ft,
 * __protVer, expiry_s and persist; not now_ms, digest or parse state). */
void store_wire_request_encode(const store_request *req, const store_wire_extra *x, buf *out);
/* Decode p[0..n) into *req (zeroed first; slices point into p) and *x.
 * false if it is not exactly one valid encoding. */
bool store_wire_request_decode(const uint8_t *p, size_t n, store_request *req, store_wire_extra *x);

/* A reply as received: slices into the decoded bytes. */
typedef struct store_wire_reply {
    int status;
    store_bytes status_message; /* data == NULL: none */
    store_bytes version;        /* data == NULL: no __ts */
    store_bytes payload;
} store_wire_reply;

void store_wire_reply_encode(const store_reply *r, buf *out);
bool store_wire_reply_decode(const uint8_t *p, size_t n, store_wire_reply *out);

#endif
