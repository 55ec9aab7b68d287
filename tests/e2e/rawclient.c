/* Raw TCP MQTT client; see rawclient.h. */
#include "rawclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define MAX_RAW_FDS 64

static int open_fds[MAX_RAW_FDS];
static int open_count;

/* --- byte builder ---------------------------------------------------------- */

static void pb_need(struct pb *p, size_t n)
{
    if (p->len + n > PB_CAP) {
        fprintf(stderr, "packet builder overflow\n");
        abort();
    }
}

void pb_u8(struct pb *p, uint8_t v)
{
    pb_need(p, 1);
    p->b[p->len++] = v;
}

void pb_u16(struct pb *p, uint16_t v)
{
    pb_u8(p, (uint8_t)(v >> 8));
    pb_u8(p, (uint8_t)v);
}

void pb_u32(struct pb *p, uint32_t v)
{
    pb_u16(p, (uint16_t)(v >> 16));
    pb_u16(p, (uint16_t)v);
}

void pb_varint(struct pb *p, uint32_t v)
{
    do {
        uint8_t byte = v % 128;
        v /= 128;
        pb_u8(p, v ? (uint8_t)(byte | 0x80) : byte);
    } while (v);
}

void pb_bytes(struct pb *p, const void *data, size_t len)
{
    pb_need(p, len);
    memcpy(p->b + p->len, data, len);
    p->len += len;
}

void pb_bin(struct pb *p, const void *data, uint16_t len)
{
    pb_u16(p, len);
    pb_bytes(p, data, len);
}

void pb_str(struct pb *p, const char *s) { pb_bin(p, s, (uint16_t)strlen(s)); }

void pb_props(struct pb *p, const struct pb *props)
{
    size_t len = props ? props->len : 0;
    pb_varint(p, (uint32_t)len);
    if (len) pb_bytes(p, props->b, len);
}

void pb_packet(struct pb *out, uint8_t first_byte, const struct pb *body)
{
    out->len = 0;
    pb_u8(out, first_byte);
    pb_varint(out, (uint32_t)body->len);
    pb_bytes(out, body->b, body->len);
}

/* --- connection ------------------------------------------------------------ */

int raw_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Bounded sends: a broker that stops reading must not hang a test. */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (open_count < MAX_RAW_FDS) open_fds[open_count++] = fd;
    return fd;
}

void raw_close(int fd)
{
    for (int i = 0; i < open_count; i++) {
        if (open_fds[i] == fd) {
            open_fds[i] = open_fds[--open_count];
            break;
        }
    }
    close(fd);
}

void raw_close_all(void)
{
    while (open_count > 0) raw_close(open_fds[0]);
}

bool raw_send(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

bool raw_send_pb(int fd, const struct pb *packet) { return raw_send(fd, packet->b, packet->len); }

/* Reads exactly len bytes before the deadline. */
static int read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        int wait = (int)(deadline - e2e_now_ms());
        if (wait <= 0) return RAW_TIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait);
        if (r == 0) return RAW_TIMEOUT;
        if (r < 0 && errno == EINTR) continue;
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return RAW_CLOSED; /* EOF or reset */
        buf += n;
        len -= (size_t)n;
    }
    return RAW_OK;
}

int raw_recv(int fd, struct raw_pkt *pkt, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    uint8_t first, byte;
    uint32_t len = 0;
    int rc;
    memset(pkt, 0, sizeof *pkt);
    if ((rc = read_exact(fd, &first, 1, deadline)) != RAW_OK) return rc;
    for (int shift = 0; shift <= 21; shift += 7) {
        if ((rc = read_exact(fd, &byte, 1, deadline)) != RAW_OK) return rc;
        len |= (uint32_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
    }
    pkt->type = first >> 4;
    pkt->flags = first & 0x0f;
    pkt->len = len;
    pkt->body = malloc(len + 1);
    if (!pkt->body) abort();
    rc = read_exact(fd, pkt->body, len, deadline);
    if (rc != RAW_OK) raw_pkt_free(pkt);
    return rc;
}

void raw_pkt_free(struct raw_pkt *pkt)
{
    free(pkt->body);
    pkt->body = NULL;
}

bool raw_wait_closed(int fd, int timeout_ms, int *disconnect_rc)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    struct raw_pkt pkt;
    if (disconnect_rc) *disconnect_rc = -1;
    for (;;) {
        int left = (int)(deadline - e2e_now_ms());
        int rc = raw_recv(fd, &pkt, left > 0 ? left : 0);
        if (rc == RAW_CLOSED) return true;
        if (rc == RAW_TIMEOUT) return false;
        if (pkt.type == 14 && disconnect_rc) *disconnect_rc = pkt.len > 0 ? pkt.body[0] : 0;
        raw_pkt_free(&pkt);
    }
}

int raw_recv_type(int fd, uint8_t type, struct raw_pkt *pkt, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - e2e_now_ms());
        int rc = raw_recv(fd, pkt, left > 0 ? left : 0);
        if (rc != RAW_OK || pkt->type == type) return rc;
        raw_pkt_free(pkt);
    }
}

/* --- convenience builders -------------------------------------------------- */

static void connect_header(struct pb *body, uint8_t level, uint8_t flags, uint16_t keepalive)
{
    pb_str(body, "MQTT");
    pb_u8(body, level);
    pb_u8(body, flags);
    pb_u16(body, keepalive);
}

void raw_build_connect_v5(struct pb *out, const char *client_id, bool clean_start, uint16_t keepalive,
                          const struct pb *props)
{
    struct pb body = {0};
    connect_header(&body, 5, clean_start ? 0x02 : 0x00, keepalive);
    pb_props(&body, props);
    pb_str(&body, client_id);
    pb_packet(out, 0x10, &body);
}

void raw_build_connect_v311(struct pb *out, const char *client_id, bool clean_session, uint16_t keepalive)
{
    struct pb body = {0};
    connect_header(&body, 4, clean_session ? 0x02 : 0x00, keepalive);
    pb_str(&body, client_id);
    pb_packet(out, 0x10, &body);
}

int raw_connect_v5(int port, const char *client_id, bool clean_start, const struct pb *props, bool *session_present)
{
    struct pb pkt = {0};
    struct raw_pkt ack;
    int fd = raw_open(port);
    if (fd < 0) return -1;
    raw_build_connect_v5(&pkt, client_id, clean_start, 60, props);
    if (!raw_send_pb(fd, &pkt) || raw_recv(fd, &ack, 5000) != RAW_OK) {
        raw_close(fd);
        return -1;
    }
    bool ok = ack.type == 2 && ack.len >= 2 && ack.body[1] == 0;
    if (session_present && ack.len >= 1) *session_present = ack.body[0] & 1;
    raw_pkt_free(&ack);
    if (!ok) {
        raw_close(fd);
        return -1;
    }
    return fd;
}

int raw_subscribe_v5(int fd, uint16_t packet_id, const char *filter, uint8_t options, const struct pb *props)
{
    struct pb body = {0}, pkt = {0};
    struct raw_pkt ack;
    pb_u16(&body, packet_id);
    pb_props(&body, props);
    pb_str(&body, filter);
    pb_u8(&body, options);
    pb_packet(&pkt, 0x82, &body);
    if (!raw_send_pb(fd, &pkt) || raw_recv_type(fd, 9, &ack, 5000) != RAW_OK) return -1;
    /* SUBACK: packet id (2), properties, then one reason code per filter. */
    uint32_t pos = 2, props_len = 0;
    for (int shift = 0; pos < ack.len; shift += 7) {
        uint8_t b = ack.body[pos++];
        props_len |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
    }
    pos += props_len;
    int rc = pos < ack.len ? ack.body[pos] : -1;
    raw_pkt_free(&ack);
    return rc;
}

void raw_build_publish_v5(struct pb *out, const char *topic, uint8_t qos, bool dup, bool retain, uint16_t packet_id,
                          const struct pb *props, const void *payload, size_t payload_len)
{
    struct pb body = {0};
    pb_str(&body, topic);
    if (qos > 0) pb_u16(&body, packet_id);
    pb_props(&body, props);
    pb_bytes(&body, payload, payload_len);
    pb_packet(out, (uint8_t)(0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0)), &body);
}

bool raw_send_ack(int fd, uint8_t type, uint16_t packet_id)
{
    /* PUBREL is the only one of the four with mandatory flags 0b0010. */
    uint8_t pkt[4] = {(uint8_t)(type << 4 | (type == 6 ? 0x02 : 0)), 2, (uint8_t)(packet_id >> 8), (uint8_t)packet_id};
    return raw_send(fd, pkt, sizeof pkt);
}

/* --- parsing --------------------------------------------------------------- */

static bool read_varint(const uint8_t *buf, uint32_t len, uint32_t *pos, uint32_t *out)
{
    *out = 0;
    for (int shift = 0; shift <= 21; shift += 7) {
        if (*pos >= len) return false;
        uint8_t b = buf[(*pos)++];
        *out |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

bool raw_parse_publish_v5(const struct raw_pkt *pkt, struct raw_publish *out)
{
    uint32_t pos = 0;
    memset(out, 0, sizeof *out);
    if (pkt->type != 3 || pkt->len < 2) return false;
    out->qos = (pkt->flags >> 1) & 3;
    out->dup = pkt->flags & 0x08;
    out->retain = pkt->flags & 0x01;
    uint16_t tlen = (uint16_t)(pkt->body[0] << 8 | pkt->body[1]);
    pos = 2;
    if (pos + tlen > pkt->len || tlen >= sizeof out->topic) return false;
    memcpy(out->topic, pkt->body + pos, tlen);
    out->topic[tlen] = '\0';
    pos += tlen;
    if (out->qos > 0) {
        if (pos + 2 > pkt->len) return false;
        out->packet_id = (uint16_t)(pkt->body[pos] << 8 | pkt->body[pos + 1]);
        pos += 2;
    }
    if (!read_varint(pkt->body, pkt->len, &pos, &out->props_len) || pos + out->props_len > pkt->len) return false;
    out->props = pkt->body + pos;
    pos += out->props_len;
    out->payload = pkt->body + pos;
    out->payload_len = pkt->len - pos;
    return true;
}

int raw_reason_code(const struct raw_pkt *pkt)
{
    switch (pkt->type) {
    case 2: /* CONNACK: flags, reason */ return pkt->len >= 2 ? pkt->body[1] : -1;
    case 14: /* DISCONNECT: no body means 0x00 */ return pkt->len >= 1 ? pkt->body[0] : 0;
    case 4:
    case 5:
    case 6:
    case 7: /* packet id, then optional reason */ return pkt->len >= 3 ? pkt->body[2] : 0;
    default: return -1;
    }
}

bool raw_connack_props(const struct raw_pkt *pkt, const uint8_t **props, uint32_t *len)
{
    uint32_t pos = 2;
    if (pkt->type != 2 || !read_varint(pkt->body, pkt->len, &pos, len) || pos + *len > pkt->len) return false;
    *props = pkt->body + pos;
    return true;
}

bool raw_disconnect_props(const struct raw_pkt *pkt, const uint8_t **props, uint32_t *len)
{
    uint32_t pos = 1;
    *len = 0;
    *props = pkt->body;
    if (pkt->type != 14) return false;
    if (pkt->len < 2) return true; /* short forms: no properties */
    if (!read_varint(pkt->body, pkt->len, &pos, len) || pos + *len > pkt->len) return false;
    *props = pkt->body + pos;
    return true;
}

enum prop_kind { P_BYTE, P_U16, P_U32, P_VARINT, P_DATA, P_PAIR, P_UNKNOWN };

static enum prop_kind prop_kind(uint8_t id)
{
    switch (id) {
    case 0x01:
    case 0x17:
    case 0x19:
    case 0x24:
    case 0x25:
    case 0x28:
    case 0x29:
    case 0x2A: return P_BYTE;
    case 0x13:
    case 0x21:
    case 0x22:
    case 0x23: return P_U16;
    case 0x02:
    case 0x11:
    case 0x18:
    case 0x27: return P_U32;
    case 0x0B: return P_VARINT;
    case 0x03:
    case 0x08:
    case 0x09:
    case 0x12:
    case 0x15:
    case 0x16:
    case 0x1A:
    case 0x1C:
    case 0x1F: return P_DATA;
    case 0x26: return P_PAIR;
    default: return P_UNKNOWN;
    }
}

/* Decodes the property at *pos and advances past it. Returns false at the
 * end of the block or on a malformed/unknown property. */
static bool prop_next(const uint8_t *props, uint32_t len, uint32_t *pos, uint8_t *id, uint32_t *value,
                      const uint8_t **data, uint16_t *data_len)
{
    if (*pos >= len) return false;
    *id = props[(*pos)++];
    *value = 0;
    *data = NULL;
    *data_len = 0;
    switch (prop_kind(*id)) {
    case P_BYTE:
        if (*pos + 1 > len) return false;
        *value = props[*pos];
        *pos += 1;
        return true;
    case P_U16:
        if (*pos + 2 > len) return false;
        *value = (uint32_t)(props[*pos] << 8 | props[*pos + 1]);
        *pos += 2;
        return true;
    case P_U32:
        if (*pos + 4 > len) return false;
        *value = (uint32_t)props[*pos] << 24 | (uint32_t)props[*pos + 1] << 16 | (uint32_t)props[*pos + 2] << 8 |
                 props[*pos + 3];
        *pos += 4;
        return true;
    case P_VARINT: return read_varint(props, len, pos, value);
    case P_DATA:
    case P_PAIR:
        /* A user property is two strings; data points at the second. */
        for (int part = 0; part < (prop_kind(*id) == P_PAIR ? 2 : 1); part++) {
            if (*pos + 2 > len) return false;
            *data_len = (uint16_t)(props[*pos] << 8 | props[*pos + 1]);
            *data = props + *pos + 2;
            *pos += 2u + *data_len;
            if (*pos > len) return false;
        }
        return true;
    case P_UNKNOWN: return false;
    }
    return false;
}

bool raw_prop_find(const uint8_t *props, uint32_t len, uint8_t id, uint32_t *value, const uint8_t **data,
                   uint16_t *data_len)
{
    uint32_t pos = 0, v;
    uint8_t pid;
    const uint8_t *d;
    uint16_t dlen;
    while (prop_next(props, len, &pos, &pid, &v, &d, &dlen)) {
        if (pid == id) {
            if (value) *value = v;
            if (data) *data = d;
            if (data_len) *data_len = dlen;
            return true;
        }
    }
    return false;
}

int raw_prop_all(const uint8_t *props, uint32_t len, uint8_t id, uint32_t *values, int max)
{
    uint32_t pos = 0, v;
    uint8_t pid;
    const uint8_t *d;
    uint16_t dlen;
    int n = 0;
    while (prop_next(props, len, &pos, &pid, &v, &d, &dlen)) {
        if (pid != id) continue;
        if (n < max) values[n] = v;
        n++;
    }
    return n;
}
