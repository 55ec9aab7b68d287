/* WebSocket (RFC 6455) for MQTT over WebSockets: the server side of the
 * opening handshake (§4.2) and the frame codec (§5). Pure code: bytes in,
 * results out, no I/O and no libuv (the transform on a net_conn that uses
 * it is ws_conn.c), so it is unit-tested and fuzzed on its own.
 *
 * Decoding is streaming and in place: payload bytes are unmasked where
 * they lie and handed out as they arrive, so a frame of any length costs
 * no buffer; only a control frame's payload (at most 125 bytes) is
 * gathered in the decoder. */
#ifndef MQS_NET_WS_CODEC_H
#define MQS_NET_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The longest request head (request line and headers, up to and with the
 * blank line) a client may send; longer is refused with 431. */
#define WS_MAX_REQUEST_HEAD 8192
/* 28 characters ("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") and the NUL. */
#define WS_ACCEPT_SIZE 29

/* --- the opening handshake ----------------------------------------------------------- */

typedef enum ws_hs_status {
    WS_HS_NEED_MORE, /* no blank line yet, and fewer than WS_MAX_REQUEST_HEAD bytes */
    WS_HS_OK,        /* an upgrade to accept */
    WS_HS_REFUSE,    /* answer with hs->status and close */
} ws_hs_status;

typedef struct ws_handshake {
    size_t used;                 /* WS_HS_OK: bytes of the request head; what follows are frames */
    int status;                  /* WS_HS_REFUSE: 400, 404, 405, 426, 431 or 505 */
    const char *reason;          /* WS_HS_REFUSE: why, for the log and the body (a static string) */
    const char *protocol;        /* WS_HS_OK: "mqtt", "mqttv3.1", or NULL when none was offered */
    char accept[WS_ACCEPT_SIZE]; /* WS_HS_OK: the Sec-WebSocket-Accept value */
} ws_handshake;

/* Parse the client's opening handshake from data[0..len) (everything
 * received so far). The request must be `GET <path>[?query] HTTP/1.1`
 * with Host, `Upgrade: websocket`, `Connection: Upgrade` (a token of the
 * list), a Sec-WebSocket-Key of 16 bytes in base64 and
 * Sec-WebSocket-Version 13. A Sec-WebSocket-Protocol header, if sent,
 * must offer `mqtt` (or MQTT 3.1's `mqttv3.1`), which the answer then
 * selects; a client offering none is served as MQTT, as Mosquitto does. */
ws_hs_status ws_handshake_parse(const uint8_t *data, size_t len, const char *path, ws_handshake *hs);
/* Append the answer to hs: 101 Switching Protocols (WS_HS_OK) or the
 * refusal with `Connection: close` and hs->reason as a text body. */
void ws_handshake_answer(const ws_handshake *hs, buf *out);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)). */
void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_SIZE]);

/* --- frames ----------------------------------------------------------------------- */

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes (§7.4.1). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003, /* a text frame: MQTT travels in binary frames */
    WS_CLOSE_NO_STATUS = 1005,   /* a close frame without a code (never sent) */
    WS_CLOSE_TOO_BIG = 1009,
};

#define WS_MAX_CONTROL 125     /* payload of a control frame */
#define WS_MAX_FRAME_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

/* The state between two reads. Zeroed = before the first frame. */
typedef struct ws_decoder {
    uint64_t max_message; /* limit on a data message's payload (all its frames); 0 = none */
    uint64_t left;        /* payload bytes of the current frame still to come */
    uint64_t message;     /* payload bytes of the current data message so far */
    uint8_t hdr[WS_MAX_FRAME_HEADER];
    uint8_t hdr_len; /* header bytes gathered; complete once in_payload */
    uint8_t mask[4]; /* the current frame's masking key */
    uint8_t mask_at; /* index into mask of the next payload byte */
    uint8_t opcode;  /* of the current frame */
    bool fin;        /* of the current frame */
    bool in_payload; /* the header is complete: `left` bytes follow */
    bool in_message; /* a fragmented data message awaits continuations */
    uint8_t ctl_len; /* control payload gathered */
    uint8_t ctl[WS_MAX_CONTROL];
} ws_decoder;

typedef enum ws_status {
    WS_NEED_MORE, /* everything given was consumed */
    WS_DATA,      /* ev: binary payload bytes, unmasked in place (may be 0 bytes) */
    WS_PING,      /* ev: the ping's payload (in the decoder), to echo in a pong */
    WS_PONG,      /* ev: an unsolicited or answering pong's payload; nothing to do */
    WS_CLOSE,     /* ev.code: the peer's close code, WS_CLOSE_NO_STATUS if none */
    WS_ERROR,     /* ev.code: the close code to answer with; ev.data NULL, ev.why says why */
} ws_status;

typedef struct ws_event {
    uint8_t *data;
    size_t len;
    uint16_t code;
    const char *why; /* WS_ERROR: a static string for the log */
} ws_event;

/* Decode from in[0..len): consumes up to one event's worth and sets *used
 * to the bytes consumed (the caller calls again with the rest). Masked
 * payload is unmasked in in[] itself. After WS_CLOSE or WS_ERROR the
 * decoder must not be used again. Client frames must be masked, use no
 * reserved bits or opcodes, keep control frames unfragmented and at most
 * 125 bytes, use the shortest length encoding, and keep data messages
 * within max_message; a text frame is refused with 1003. */
ws_status ws_decode(ws_decoder *d, uint8_t *in, size_t len, size_t *used, ws_event *ev);

/* Write a server frame header (FIN set, unmasked) for a payload of len
 * bytes into out. Returns the header's size (2, 4 or 10). */
size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len);
/* Append a whole unmasked control frame (payload <= 125 bytes). */
void ws_append_control(buf *out, uint8_t opcode, const uint8_t *payload, size_t len);
/* Append a close frame with a code (no reason text). */
void ws_append_close(buf *out, uint16_t code);

#endif
