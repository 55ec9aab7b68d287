/* A raw TCP MQTT client for wire-level and protocol-violation tests.
 *
 * Packets are built by hand, byte by byte, with the small builder below. This
 * is deliberately independent of the project's codec: the tests check the
 * broker against the specification, not against our own encoder. */
#ifndef MQS_E2E_RAWCLIENT_H
#define MQS_E2E_RAWCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- byte builder ---------------------------------------------------------- */
#define PB_CAP 8192

struct pb {
    size_t len;
    uint8_t b[PB_CAP];
};

void pb_u8(struct pb *p, uint8_t v);
void pb_u16(struct pb *p, uint16_t v);
void pb_u32(struct pb *p, uint32_t v);
void pb_varint(struct pb *p, uint32_t v);
void pb_bytes(struct pb *p, const void *data, size_t len);
/* Two-byte length prefix followed by the bytes (UTF-8 string / binary). */
void pb_str(struct pb *p, const char *s);
void pb_bin(struct pb *p, const void *data, uint16_t len);
/* Appends a property block: varint length then the bytes of props. */
void pb_props(struct pb *p, const struct pb *props);
/* Wraps body into a full packet: first byte, remaining length, body. */
void pb_packet(struct pb *out, uint8_t first_byte, const struct pb *body);

/* --- connection ------------------------------------------------------------ */
enum { RAW_OK = 0, RAW_TIMEOUT = -1, RAW_CLOSED = -2 };

struct raw_pkt {
    uint8_t type;  /* upper nibble of the first byte, e.g. 3 = PUBLISH */
    uint8_t flags; /* lower nibble */
    uint32_t len;
    uint8_t *body; /* owned; freed by raw_pkt_free or the next raw_recv */
};

/* Connects to 127.0.0.1:port; returns the fd or -1. The fd is tracked and
 * closed by raw_close_all() at the end of the case. */
int raw_open(int port);
void raw_close(int fd);
void raw_close_all(void);
bool raw_send(int fd, const void *data, size_t len);
bool raw_send_pb(int fd, const struct pb *packet);
/* Reads one whole packet within timeout_ms: RAW_OK, RAW_TIMEOUT or RAW_CLOSED. */
int raw_recv(int fd, struct raw_pkt *pkt, int timeout_ms);
void raw_pkt_free(struct raw_pkt *pkt);
/* Reads and discards packets until the peer closes. Returns true if closed
 * within timeout_ms; *disconnect_rc gets the reason code of a DISCONNECT seen
 * on the way (-1 if none). */
bool raw_wait_closed(int fd, int timeout_ms, int *disconnect_rc);
/* Reads packets until one of the given type arrives (others are skipped). */
int raw_recv_type(int fd, uint8_t type, struct raw_pkt *pkt, int timeout_ms);

/* --- convenience builders for the non-violating parts of a test ----------- */
/* v5 CONNECT with optional properties (props may be NULL). */
void raw_build_connect_v5(struct pb *out, const char *client_id, bool clean_start, uint16_t keepalive,
                          const struct pb *props);
void raw_build_connect_v311(struct pb *out, const char *client_id, bool clean_session, uint16_t keepalive);
/* Opens a connection, sends a v5 CONNECT and waits for CONNACK; returns the fd
 * or -1 if the CONNACK is missing or not a success. */
int raw_connect_v5(int port, const char *client_id, bool clean_start, const struct pb *props, bool *session_present);
/* v5 SUBSCRIBE with one filter; waits for the SUBACK and returns its first
 * reason code, or -1. */
int raw_subscribe_v5(int fd, uint16_t packet_id, const char *filter, uint8_t options, const struct pb *props);
/* v5 PUBLISH. packet_id is ignored for QoS 0. */
void raw_build_publish_v5(struct pb *out, const char *topic, uint8_t qos, bool dup, bool retain, uint16_t packet_id,
                          const struct pb *props, const void *payload, size_t payload_len);
/* PUBACK/PUBREC/PUBREL/PUBCOMP with reason code 0 (short form). */
bool raw_send_ack(int fd, uint8_t type, uint16_t packet_id);

/* --- parsing received packets --------------------------------------------- */
struct raw_publish {
    char topic[512];
    uint8_t qos;
    bool dup;
    bool retain;
    uint16_t packet_id;
    const uint8_t *props;
    uint32_t props_len;
    const uint8_t *payload;
    uint32_t payload_len;
};

bool raw_parse_publish_v5(const struct raw_pkt *pkt, struct raw_publish *out);
/* Reason code of a v5 CONNACK / DISCONNECT / PUBACK-family packet. */
int raw_reason_code(const struct raw_pkt *pkt);
/* Property block of a v5 CONNACK (after flags and reason code). */
bool raw_connack_props(const struct raw_pkt *pkt, const uint8_t **props, uint32_t *len);
/* Property block of a v5 DISCONNECT (after the reason code; empty in the
 * short forms). */
bool raw_disconnect_props(const struct raw_pkt *pkt, const uint8_t **props, uint32_t *len);
/* Looks up a property by id; integer values go to *value, string/binary
 * data to *data and *data_len. Returns false if absent. */
bool raw_prop_find(const uint8_t *props, uint32_t len, uint8_t id, uint32_t *value, const uint8_t **data,
                   uint16_t *data_len);
/* Collects the integer values of every occurrence of a property (such as
 * Subscription Identifier); returns the number of occurrences. */
int raw_prop_all(const uint8_t *props, uint32_t len, uint8_t id, uint32_t *values, int max);

#endif
