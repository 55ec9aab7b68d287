/* Node-link frames of cross-node routing (docs/cluster.md, "Routing"):
 * their payloads, encoded and strictly decoded. Types are in the ROUTE
 * range of server/cluster_node.h. Every payload starts with a format
 * version byte (1); integers are little-endian; "bytes" is a u32 length
 * and that many bytes. A decoder accepts exactly the encoder's output
 * (every field checked, nothing left over) or returns a static reason.
 *
 *   INTEREST  u8 version, u8 flags (FULL: replaces the sender's whole set;
 *             ALL: the sender wants every topic; ASK: send me yours), u32 n,
 *             n x { u32 count (0: withdrawn), bytes filter }
 *   MSG       u8 version, u8 flags (bits 0-1 QoS, bit 2 retain), u64 id
 *             (0: no acknowledgement wanted), u32 expiry ms left (0: none),
 *             bytes topic, bytes properties (a PUBLISH's pass-through v5
 *             properties: no topic alias, subscription id or expiry),
 *             u16 n, n x bytes "$share/<group>/<filter>" (the shared groups
 *             the receiver serves for this message), bytes payload
 *   ACK       u8 version, u32 n, n x u64 id (MSGs taken into sessions) */
#ifndef MQS_SERVER_CLUSTER_ROUTE_WIRE_H
#define MQS_SERVER_CLUSTER_ROUTE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/packet.h"
#include "server/cluster_node.h"
#include "util/buf.h"

#define CLUSTER_FRAME_ROUTE_INTEREST (CLUSTER_FRAME_ROUTE_FIRST + 0)
#define CLUSTER_FRAME_ROUTE_MSG (CLUSTER_FRAME_ROUTE_FIRST + 1)
#define CLUSTER_FRAME_ROUTE_ACK (CLUSTER_FRAME_ROUTE_FIRST + 2)
#define ROUTE_WIRE_VERSION 1
#define ROUTE_INTEREST_FULL 1
#define ROUTE_INTEREST_ALL 2
#define ROUTE_INTEREST_ASK 4      /* the sender asks for the receiver's full set (its link just came up) */
#define ROUTE_MSG_SHARES_MAX 1024 /* shared groups named in one MSG */

/* INTEREST: header, then entries appended; n is patched by _end. */
void route_wire_interest_begin(buf *out, uint8_t flags);
void route_wire_interest_add(buf *out, mqtt_bytes filter, uint32_t count);
void route_wire_interest_end(buf *out, uint32_t n);

typedef struct route_interest_reader {
    uint8_t flags;
    uint32_t n;
    const uint8_t *p; /* the entries */
    size_t len;
} route_interest_reader;
/* Checks the whole payload (every filter valid, counts, no trailing
 * bytes); then route_wire_interest_next walks it. */
const char *route_wire_interest_decode(const uint8_t *p, size_t n, route_interest_reader *out);
bool route_wire_interest_next(route_interest_reader *r, mqtt_bytes *filter, uint32_t *count);

typedef struct route_msg {
    uint8_t qos;
    bool retain;
    uint64_t id;
    uint32_t expiry_ms;
    mqtt_bytes topic, props, payload;
    uint16_t n_shares;
    const uint8_t *shares; /* n_shares x bytes, checked: route_wire_share_next */
} route_msg;
/* m->shares and m->n_shares are ignored: the shares are given here. */
void route_wire_msg_encode(buf *out, const route_msg *m, const mqtt_bytes *shares, uint16_t n_shares);
const char *route_wire_msg_decode(const uint8_t *p, size_t n, route_msg *out);
/* The next shared group of a decoded MSG (*cursor starts at 0). */
mqtt_bytes route_wire_share_next(const route_msg *m, size_t *cursor);

void route_wire_ack_encode(buf *out, const uint64_t *ids, uint32_t n);
/* ids points into p (n x u64 little-endian): read with route_wire_ack_id. */
const char *route_wire_ack_decode(const uint8_t *p, size_t n, const uint8_t **ids, uint32_t *count);
uint64_t route_wire_ack_id(const uint8_t *ids, uint32_t i);

#endif
