/* The node-link frames of the cluster-wide session registry and wills
 * (cluster_session.h; docs/cluster.md "Sessions", "Wills"). Pure code:
 * encode, and a strict decoder (fuzz/fuzz_cluster_session.c): a payload
 * decodes only if it is the canonical encoding of what it decodes to.
 *
 * Every payload starts with the format version (1) and the sender's link
 * epoch (SYNC starts one; the receiver ignores frames of another epoch).
 * Integers little-endian; strings u16 length + bytes, blobs u32 + bytes.
 *
 *   SYNC        version, epoch, boot (the sender's process start; random),
 *               connections, sessions
 *               "what follows replaces all you know of me"
 *   ENTRY       version, epoch, flags, stamp, wait_ms, session_expiry,
 *               id, principal [, will: qos, delay, message_expiry, topic,
 *               props, payload]
 *               a connection of id (flag CONNECTED), or a will that waits
 *               on the sender for wait_ms (no CONNECTED)
 *   GONE        version, epoch, wait_ms, id: the connection ended; its will
 *               waits wait_ms on the sender (0: no will left)
 *   WILL_DONE   version, epoch, id: the will that waited is gone
 *   ORPHAN_DONE version, epoch, node, stamp, id: the sender (the raft
 *               leader) published the will of id, a client of dead `node`
 *   BYE         version, epoch: the sender stops (SIGTERM); forget it, its
 *               wills are not published (as on one node at shutdown)
 *   COUNTS      version, epoch, connections, sessions */
#ifndef MQS_SERVER_CLUSTER_SESSION_CODEC_H
#define MQS_SERVER_CLUSTER_SESSION_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CSESS_VERSION 1
/* Frame types: cluster_node.h's CLUSTER_FRAME_SESSION_FIRST.._LAST
 * (checked where both are seen, cluster_session.c). */
enum {
    CSESS_SYNC = 31,
    CSESS_ENTRY,
    CSESS_GONE,
    CSESS_WILL_DONE,
    CSESS_ORPHAN_DONE,
    CSESS_BYE,
    CSESS_COUNTS,
    CSESS_LAST = CSESS_COUNTS,
};

/* ENTRY flags. */
#define CSESS_F_CONNECTED 0x01
#define CSESS_F_CLEAN_START 0x02
#define CSESS_F_WILL 0x04
#define CSESS_F_WILL_RETAIN 0x08
#define CSESS_F_ALL 0x0F

#define CSESS_PRINCIPAL_MAX 65535u /* bytes of an encoded principal */

typedef struct csess_bytes {
    const uint8_t *p;
    uint32_t n;
} csess_bytes;

/* One frame. BORROWED slices (decode: into the payload). Fields a type
 * does not carry are zero. */
typedef struct csess_msg {
    uint8_t type;
    uint64_t epoch;
    uint64_t boot;                    /* SYNC */
    uint32_t connections, sessions;   /* SYNC, COUNTS */
    uint8_t flags;                    /* ENTRY */
    uint64_t stamp;                   /* ENTRY, ORPHAN_DONE: the connection's stamp */
    uint64_t wait_ms;                 /* ENTRY without CONNECTED (>= 1), GONE */
    uint32_t session_expiry;          /* ENTRY */
    uint64_t node;                    /* ORPHAN_DONE */
    csess_bytes id;                   /* ENTRY, GONE, WILL_DONE, ORPHAN_DONE: the client id */
    csess_bytes principal;            /* ENTRY: broker_principal_ops.encode bytes */
    uint8_t will_qos;                 /* ENTRY with CSESS_F_WILL */
    uint32_t will_delay, will_expiry; /* seconds */
    csess_bytes will_topic, will_props, will_payload;
} csess_msg;

/* Append m's payload (type m->type) to out. m must be valid (decodable). */
void csess_encode(buf *out, const csess_msg *m);
/* NULL, or why p[0..n) is not a valid payload of `type`. */
const char *csess_decode(uint8_t type, const uint8_t *p, size_t n, csess_msg *out);

#endif
