/* The records of durable sessions (log frame types 17..28 of
 * broker_persist.h) and their byte encoding. The codec is pure: no broker
 * state, no allocation (psess_codec.c); what the records mean, when they
 * are written and how they replay is persist_session.c's.
 *
 * Every payload: version byte (PSESS_VERSION), then the type's fields,
 * little endian (util/le.h); a byte string is a u32 length and the bytes.
 * Sessions are named by client id in every record; messages by an id that
 * is unique among the MSG records a DLV record can follow (see
 * persist_session.c). Times are wall-clock Unix milliseconds.
 *
 *   SESSION  id, u8 flags (1 offline, 2 owner), u32 expiry s, u64 deadline
 *            (offline: when it expires, 0 never), [owner: principal bytes]
 *   END      id                                  the session ended
 *   SUB      id, filter, u8 options (qos 0-1, no local 2, retain as
 *            published 3, retain handling 4-5), u32 subscription id
 *   UNSUB    id, filter
 *   MSG      u64 msg id, u8 (qos 0-1, retain 2), u64 expiry (0 none),
 *            topic, payload, properties
 *   DLV      id, u64 msg id (0 with state PUBREL), u8 (qos 0-1, retain 2,
 *            state 3-4), u16 packet id (0 iff QUEUED), share filter
 *            (empty: none), u16 n, n x u32 subscription ids
 *            appended to the queue (QUEUED) or the in-flight list
 *   SENT     id, u16 packet id      the queue's head went in flight
 *   DONE     id, u16 packet id      an in-flight entry ended
 *   PUBREL   id, u16 packet id      an in-flight QoS 2 entry got PUBREC
 *   DROP     id, u8 list (0 queue, 1 in flight), u32 index
 *   RX_ADD   id, u16 packet id      inbound QoS 2 id awaiting PUBREL
 *   RX_DEL   id, u16 packet id */
#ifndef MQS_BROKER_PERSIST_SESSION_H
#define MQS_BROKER_PERSIST_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker_persist.h"
#include "broker/topic_tree.h"
#include "mqtt/packet.h"
#include "util/buf.h"

#define PSESS_VERSION 1

enum psess_type {
    PSESS_SESSION = BROKER_REC_RETAIN + 1, /* 17 */
    PSESS_END,
    PSESS_SUB,
    PSESS_UNSUB,
    PSESS_MSG,
    PSESS_DLV,
    PSESS_SENT,
    PSESS_DONE,
    PSESS_PUBREL,
    PSESS_DROP,
    PSESS_RX_ADD,
    PSESS_RX_DEL, /* 28 */
};
_Static_assert(PSESS_RX_DEL <= BROKER_REC_LAST, "session records within the broker's frame types");

#define PSESS_FLAG_OFFLINE 1
#define PSESS_FLAG_OWNER 2

/* delivery.c's enum dlv_state, as written (the values are the format). */
#define PSESS_DLV_QUEUED 0
#define PSESS_DLV_SENT 1
#define PSESS_DLV_PUBREL 2

#define PSESS_SUB_ID_MAX 268435455u /* MQTT variable byte integer */

/* One record, decoded (slices borrow the payload) or to encode (slices
 * borrow the caller's objects). Only the fields of `type` are used. */
typedef struct psess_rec {
    uint8_t type;
    mqtt_bytes client_id;
    /* SESSION */
    bool offline;
    uint32_t expiry;
    uint64_t deadline;
    bool has_owner;
    mqtt_bytes owner;
    /* SUB, UNSUB */
    mqtt_bytes filter;
    sub_options opts;
    /* MSG (and DLV's msg_id) */
    uint64_t msg_id;
    uint8_t qos;
    bool retain;
    uint64_t expiry_at;
    mqtt_bytes topic, payload, props;
    /* DLV (packet_id also SENT, DONE, PUBREL, RX_ADD, RX_DEL) */
    uint8_t state;
    uint16_t packet_id;
    mqtt_bytes share;
    uint16_t n_sub_ids;
    const uint32_t *sub_ids;   /* to encode: native */
    const uint8_t *sub_ids_le; /* decoded: n_sub_ids x u32 LE (psess_rec_sub_id) */
    /* DROP */
    uint8_t list;
    uint32_t index;
} psess_rec;

/* Decode a payload of frame type `type`. NULL, or a short static text
 * saying what is wrong (every malformed or non-canonical input is refused). */
const char *psess_rec_decode(uint8_t type, const uint8_t *p, size_t n, psess_rec *r);
uint32_t psess_rec_sub_id(const psess_rec *r, uint16_t i);

/* Where an encoding goes: everything copied into `b` (b non-NULL), or as
 * pieces (no allocation: the snapshot child), fixed-width fields into
 * scratch[0..cap) and byte strings pointing at the caller's objects. */
#define PSESS_MAX_PIECES 8
/* Scratch large enough for any record's fixed fields (sub ids included). */
#define PSESS_SCRATCH_MAX (64 + 4 * 65535)
typedef struct psess_out {
    buf *b;
    broker_persist_piece pieces[PSESS_MAX_PIECES];
    unsigned n;
    uint8_t *scratch;
    size_t used, cap;
} psess_out;

/* Encode r (valid: as psess_rec_decode would accept it) into o, which is
 * reset first. */
void psess_rec_encode(const psess_rec *r, psess_out *o);

#endif
