/* MQTT packet codec: bytes <-> mqtt_packet. Pure functions, no I/O.
 *
 * Reading a stream: call mqtt_frame() on the bytes received so far; when it
 * returns MQTT_FRAME_OK, bytes [0, *total) hold exactly one packet, which
 * mqtt_decode() turns into a struct. Decoding validates everything the
 * specification makes a property of the packet alone (flags, lengths,
 * UTF-8, property placement and duplication, QoS values, packet identifier
 * non-zero, topic name/filter syntax). Checks that need session state
 * (topic alias range, receive maximum, ...) belong to the broker. */
#ifndef MQS_MQTT_CODEC_H
#define MQS_MQTT_CODEC_H

#include "mqtt/packet.h"
#include "util/buf.h"

enum mqtt_frame_status {
    MQTT_FRAME_OK = 0,        /* one complete packet available */
    MQTT_FRAME_NEED_MORE = 1, /* not enough bytes yet */
    MQTT_FRAME_MALFORMED = 2, /* remaining length uses more than 4 bytes */
    MQTT_FRAME_TOO_LARGE = 3, /* total size exceeds max_size */
};

/* Inspect the fixed header at data[0..len). On MQTT_FRAME_OK and
 * MQTT_FRAME_TOO_LARGE, *total is the full packet size (header included).
 * max_size 0 means no limit (beyond the protocol's 268435460). TOO_LARGE is
 * reported as soon as the header is complete, before the body arrives. */
enum mqtt_frame_status mqtt_frame(const uint8_t *data, size_t len, uint32_t max_size, size_t *total);

/* Decode one complete packet (as delimited by mqtt_frame). `version` is the
 * connection's negotiated protocol level; it is ignored for CONNECT, whose
 * level is read from the packet. Returns MQTT_RC_SUCCESS, or the v5 reason
 * code to disconnect with: MQTT_RC_MALFORMED, MQTT_RC_PROTOCOL_ERROR,
 * MQTT_RC_TOPIC_NAME_INVALID, MQTT_RC_TOPIC_FILTER_INVALID (only where the
 * packet as a whole must be refused; a SUBSCRIBE with one bad filter among
 * good ones still decodes: see mqtt_filter_valid), MQTT_RC_UNSUPPORTED_VERSION
 * (CONNECT with an unknown protocol level or name: *out->connect.version is
 * then still set when readable, so the caller can answer in kind),
 * MQTT_RC_TOPIC_ALIAS_INVALID (a PUBLISH topic alias of 0; the upper bound
 * is session state, checked by the broker).
 * On failure nothing needs releasing. */
int mqtt_decode(const uint8_t *data, size_t len, uint8_t version, mqtt_packet *out);

/* The same for a client reading what a server sent. The only difference:
 * a server's PUBLISH may carry subscription identifiers (MQTT-3.3.4-3),
 * which mqtt_decode() refuses with MQTT_RC_PROTOCOL_ERROR (MQTT-3.3.4-6).
 * The first identifier is decoded into props.sub_id; all are in props.raw. */
int mqtt_decode_from_server(const uint8_t *data, size_t len, uint8_t version, mqtt_packet *out);

/* Append the encoding of `p` for protocol `version` to `out`. Properties are
 * only written for v5; v5 reason codes are mapped or omitted for v3.1.1.
 * PINGREQ/PINGRESP need only p->type. Returns the number of bytes appended:
 * 0, with nothing appended, for a packet MQTT cannot represent (a body
 * beyond the largest remaining length, a PUBLISH topic over 65,535 bytes). */
size_t mqtt_encode(buf *out, uint8_t version, const mqtt_packet *p);

/* Hot path: append a PUBLISH without building an mqtt_packet (0 and
 * nothing appended when it cannot be represented, as above). */
size_t mqtt_encode_publish(buf *out, uint8_t version, const mqtt_publish *pub);

/* Size mqtt_encode would produce, without writing. */
size_t mqtt_encoded_size(uint8_t version, const mqtt_packet *p);

/* Map a v5 CONNACK reason code to the v3.1.1 return code (0..5). */
uint8_t mqtt_rc_to_v311_connack(uint8_t reason);

/* --- properties --------------------------------------------------------- */

/* Iterate user properties of a decoded mqtt_props in wire order. *pos starts
 * at 0. Returns false when there are no more. */
bool mqtt_props_next_user(const mqtt_props *props, size_t *pos, mqtt_bytes *key, mqtt_bytes *value);

/* Append one encoded user property (id, key, value) to `out`, for use as
 * mqtt_props.extra. */
void mqtt_props_add_user(buf *out, mqtt_bytes key, mqtt_bytes value);

/* Append the body of the property block for `p` (present fields in
 * identifier order, then sub_ids, then `extra`; no length prefix) to `out`:
 * the form broker_message.props and mqtt_props.extra take, for messages the
 * server originates (content type, correlation data, user properties).
 * Returns the number of bytes appended. */
size_t mqtt_props_encode_block(buf *out, const mqtt_props *p);

/* Copy every property of a decoded raw property block to `out`, in order,
 * except those whose MQTT_PROP_BIT is set in `except_mask`. Used to build
 * the pass-through block of a PUBLISH once at ingress. */
void mqtt_props_copy_except(mqtt_bytes raw, uint64_t except_mask, buf *out);

/* Is `raw` (the body of a property block, no length prefix) valid for a
 * packet of `type` (enum mqtt_type) as a client may send it, and free of
 * the properties whose bit is set in `forbidden`? For blocks read back
 * from files (the broker's durable retained messages). */
bool mqtt_props_valid(mqtt_bytes raw, uint8_t type, uint64_t forbidden);

/* --- validation --------------------------------------------------------- */

/* Well-formed UTF-8 string as MQTT requires: no NUL, no surrogates, no
 * overlong forms, code points <= U+10FFFF. */
bool mqtt_utf8_valid(const uint8_t *s, size_t len);

/* Topic name usable in PUBLISH: non-empty, valid UTF-8, no wildcards. */
bool mqtt_topic_valid(mqtt_bytes topic);
/* The same check for a topic whose UTF-8 was already validated (a string
 * read by the decoder): non-empty, no wildcard. */
bool mqtt_topic_name_ok(mqtt_bytes topic);

/* Topic filter: non-empty, valid UTF-8, '#' only as the whole last level,
 * '+' only as a whole level. Accepts "$share/group/filter" with a non-empty
 * group without wildcards. */
bool mqtt_filter_valid(mqtt_bytes filter);

/* Variable byte integer helpers (exposed for the fuzzer and tests). */
size_t mqtt_varint_size(uint32_t v);
void mqtt_varint_append(buf *out, uint32_t v);

#endif
