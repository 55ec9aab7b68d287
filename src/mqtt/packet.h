/* MQTT 3.1.1 and 5.0 control packets as C structs.
 *
 * The codec (codec.h) turns bytes into these structs and back. It is pure:
 * no I/O, no sessions, no allocation on the PUBLISH path.
 *
 * Ownership: every mqtt_bytes in a decoded packet points INTO the input
 * buffer handed to mqtt_decode(); the packet is only valid while that
 * buffer is. The few variable-length arrays (SUBSCRIBE entries, UNSUBSCRIBE
 * filters, SUBACK/UNSUBACK reason lists) are heap allocated by the decoder
 * and released by mqtt_packet_release(). */
#ifndef MQS_MQTT_PACKET_H
#define MQS_MQTT_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Protocol levels as they appear in CONNECT. */
enum mqtt_version { MQTT_V31 = 3, MQTT_V311 = 4, MQTT_V5 = 5 };

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
    MQTT_AUTH = 15,
};

/* v5 reason codes (MQTT 5.0 §2.4). v3.1.1 CONNACK return codes are mapped
 * by the encoder (see mqtt_rc_to_v311_connack). */
enum mqtt_rc {
    MQTT_RC_SUCCESS = 0x00, /* also: normal disconnection, granted QoS 0 */
    MQTT_RC_GRANTED_QOS1 = 0x01,
    MQTT_RC_GRANTED_QOS2 = 0x02,
    MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
    MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
    MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
    MQTT_RC_CONTINUE_AUTH = 0x18,
    MQTT_RC_REAUTHENTICATE = 0x19,
    MQTT_RC_UNSPECIFIED = 0x80,
    MQTT_RC_MALFORMED = 0x81,
    MQTT_RC_PROTOCOL_ERROR = 0x82,
    MQTT_RC_IMPL_SPECIFIC = 0x83,
    MQTT_RC_UNSUPPORTED_VERSION = 0x84,
    MQTT_RC_CLIENT_ID_INVALID = 0x85,
    MQTT_RC_BAD_USER_OR_PASSWORD = 0x86,
    MQTT_RC_NOT_AUTHORIZED = 0x87,
    MQTT_RC_SERVER_UNAVAILABLE = 0x88,
    MQTT_RC_SERVER_BUSY = 0x89,
    MQTT_RC_BANNED = 0x8A,
    MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
    MQTT_RC_BAD_AUTH_METHOD = 0x8C,
    MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
    MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
    MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
    MQTT_RC_TOPIC_NAME_INVALID = 0x90,
    MQTT_RC_PACKET_ID_IN_USE = 0x91,
    MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
    MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
    MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
    MQTT_RC_PACKET_TOO_LARGE = 0x95,
    MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
    MQTT_RC_QUOTA_EXCEEDED = 0x97,
    MQTT_RC_ADMIN_ACTION = 0x98,
    MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
    MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
    MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
    MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
    MQTT_RC_SERVER_MOVED = 0x9D,
    MQTT_RC_SHARED_SUB_NOT_SUPPORTED = 0x9E,
    MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
    MQTT_RC_MAX_CONNECT_TIME = 0xA0,
    MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
    MQTT_RC_WILDCARD_SUB_NOT_SUPPORTED = 0xA2,
};

/* v5 property identifiers (MQTT 5.0 §2.2.2.2). */
enum mqtt_prop_id {
    MQTT_PROP_PAYLOAD_FORMAT = 0x01,
    MQTT_PROP_MESSAGE_EXPIRY = 0x02,
    MQTT_PROP_CONTENT_TYPE = 0x03,
    MQTT_PROP_RESPONSE_TOPIC = 0x08,
    MQTT_PROP_CORRELATION_DATA = 0x09,
    MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
    MQTT_PROP_SESSION_EXPIRY = 0x11,
    MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
    MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
    MQTT_PROP_AUTH_METHOD = 0x15,
    MQTT_PROP_AUTH_DATA = 0x16,
    MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
    MQTT_PROP_WILL_DELAY = 0x18,
    MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
    MQTT_PROP_RESPONSE_INFO = 0x1A,
    MQTT_PROP_SERVER_REFERENCE = 0x1C,
    MQTT_PROP_REASON_STRING = 0x1F,
    MQTT_PROP_RECEIVE_MAX = 0x21,
    MQTT_PROP_TOPIC_ALIAS_MAX = 0x22,
    MQTT_PROP_TOPIC_ALIAS = 0x23,
    MQTT_PROP_MAX_QOS = 0x24,
    MQTT_PROP_RETAIN_AVAILABLE = 0x25,
    MQTT_PROP_USER_PROPERTY = 0x26,
    MQTT_PROP_MAX_PACKET_SIZE = 0x27,
    MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
    MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};

/* Bit for property `id` in mqtt_props.present. */
#define MQTT_PROP_BIT(id) (UINT64_C(1) << (id))

/* A byte slice. Not owned: see the ownership note at the top. */
typedef struct mqtt_bytes {
    const uint8_t *data;
    uint32_t len;
} mqtt_bytes;

static inline bool mqtt_bytes_eq(mqtt_bytes a, mqtt_bytes b) { return mem_eq(a.data, a.len, b.data, b.len); }
/* A NUL-terminated string, or a buffer's content, as bytes (borrowed). */
static inline mqtt_bytes mqtt_bytes_str(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }
static inline mqtt_bytes mqtt_bytes_buf(const buf *b) { return (mqtt_bytes){b->data, (uint32_t)b->len}; }

/* The properties of one packet (or of a will). Only fields whose bit is set
 * in `present` are meaningful.
 *
 * Decoding fills the scalar and slice fields, records the whole encoded
 * property block in `raw` (so user properties can be iterated in order with
 * mqtt_props_next_user, and pass-through properties copied with
 * mqtt_props_copy_except) and counts user properties in `user_count`.
 * A SUBSCRIBE's subscription identifier is decoded into `sub_id`.
 *
 * Encoding writes every present field, then the subscription identifiers in
 * sub_ids[0..n_sub_ids), then appends `extra` verbatim: a block of already
 * encoded properties (user properties built with mqtt_props_add_user, or a
 * pass-through block copied from a received PUBLISH). */
typedef struct mqtt_props {
    uint64_t present;

    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t max_qos;
    uint8_t retain_available;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;

    uint16_t server_keep_alive;
    uint16_t receive_max;
    uint16_t topic_alias_max;
    uint16_t topic_alias;

    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t max_packet_size;
    uint32_t sub_id; /* decode: SUBSCRIBE's identifier */

    mqtt_bytes content_type;
    mqtt_bytes response_topic;
    mqtt_bytes correlation_data;
    mqtt_bytes assigned_client_id;
    mqtt_bytes auth_method;
    mqtt_bytes auth_data;
    mqtt_bytes response_info;
    mqtt_bytes server_reference;
    mqtt_bytes reason_string;

    /* decode only */
    mqtt_bytes raw;
    uint32_t user_count;

    /* encode only */
    const uint32_t *sub_ids;
    uint32_t n_sub_ids;
    mqtt_bytes extra;
} mqtt_props;

typedef struct mqtt_connect {
    uint8_t version; /* MQTT_V31, MQTT_V311 or MQTT_V5 */
    bool clean_start;
    uint16_t keep_alive;
    mqtt_bytes client_id;
    mqtt_props props;

    bool will_flag;
    uint8_t will_qos;
    bool will_retain;
    mqtt_props will_props;
    mqtt_bytes will_topic;
    mqtt_bytes will_payload;

    bool has_username;
    bool has_password;
    mqtt_bytes username;
    mqtt_bytes password;
} mqtt_connect;

typedef struct mqtt_connack {
    bool session_present;
    uint8_t reason; /* v5 reason code; mapped to a v3.1.1 return code */
    mqtt_props props;
} mqtt_connack;

typedef struct mqtt_publish {
    mqtt_bytes topic; /* may be empty in v5 when a topic alias is used */
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t packet_id; /* QoS > 0 only */
    mqtt_props props;
    mqtt_bytes payload;
} mqtt_publish;

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
typedef struct mqtt_ack {
    uint16_t packet_id;
    uint8_t reason;
    mqtt_props props;
} mqtt_ack;

typedef struct mqtt_sub_entry {
    mqtt_bytes filter;
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling; /* 0, 1 or 2 */
} mqtt_sub_entry;

typedef struct mqtt_subscribe {
    uint16_t packet_id;
    mqtt_props props;
    uint32_t count;
    mqtt_sub_entry *entries; /* heap, see mqtt_packet_release */
} mqtt_subscribe;

typedef struct mqtt_unsubscribe {
    uint16_t packet_id;
    mqtt_props props;
    uint32_t count;
    mqtt_bytes *filters; /* heap, see mqtt_packet_release */
} mqtt_unsubscribe;

/* SUBACK and UNSUBACK. When encoding, `reasons` belongs to the caller. */
typedef struct mqtt_suback {
    uint16_t packet_id;
    mqtt_props props;
    uint32_t count;
    uint8_t *reasons;
} mqtt_suback;

/* DISCONNECT and AUTH. */
typedef struct mqtt_disconnect {
    uint8_t reason;
    mqtt_props props;
} mqtt_disconnect;

typedef struct mqtt_packet {
    uint8_t type; /* enum mqtt_type */
    union {
        mqtt_connect connect;
        mqtt_connack connack;
        mqtt_publish publish;
        mqtt_ack ack;
        mqtt_subscribe subscribe;
        mqtt_unsubscribe unsubscribe;
        mqtt_suback suback;         /* SUBACK, UNSUBACK */
        mqtt_disconnect disconnect; /* DISCONNECT, AUTH */
    };
} mqtt_packet;

/* Free the heap parts a decoder allocated (safe on any decoded packet). */
void mqtt_packet_release(mqtt_packet *p);

#endif
