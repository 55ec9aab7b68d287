/* MQTT over WebSockets (ws:// and wss://) against the real broker: a small
 * WebSocket client written here from RFC 6455 (independent of the
 * server's codec), carrying MQTT packets built with rawclient's builder.
 * Publish/subscribe across transports, a state store SET/GET round trip,
 * refused handshakes with their HTTP status, protocol violations with
 * their close code, a ping flood and a client that never upgrades.
 *
 * The harness's listener (e2e_port) stays plain MQTT; each case adds a
 * WebSocket listener on port 0 and finds its port in the broker's log. */
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "rawclient.h"
#include "ssclient.h"

/* --- the WebSocket listener's port, from the startup log line --------------------- */

static int ws_port(bool tls)
{
    const char *tag = tls ? "(WebSocket, TLS)" : "(WebSocket)";
    for (int tries = 0; tries < 100; tries++) {
        FILE *f = fopen(e2e_log_path(), "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, "listening on 127.0.0.1:");
            if (at && strstr(line, tag)) {
                fclose(f);
                return atoi(at + strlen("listening on 127.0.0.1:"));
            }
        }
        if (f) fclose(f);
        e2e_sleep_ms(20);
    }
    return -1;
}

/* --- a WebSocket client ----------------------------------------------------------- */

struct wsc {
    int fd;
    SSL *ssl;
    uint8_t rx[1 << 17]; /* socket bytes not yet parsed */
    size_t rx_len;
    uint8_t mq[1 << 17]; /* MQTT bytes from binary frames not yet parsed */
    size_t mq_len;
};

static SSL_CTX *client_ctx;

static bool wsc_send(struct wsc *w, const void *data, size_t len)
{
    if (w->ssl) return SSL_write(w->ssl, data, (int)len) == (int)len;
    return raw_send(w->fd, data, len);
}

/* More socket bytes within timeout_ms: 1 got some, 0 timeout, -1 closed. */
static int wsc_fill(struct wsc *w, int timeout_ms)
{
    if (w->rx_len == sizeof w->rx) return 1;
    if (!(w->ssl && SSL_pending(w->ssl))) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) return 0;
    }
    int n = w->ssl ? SSL_read(w->ssl, w->rx + w->rx_len, (int)(sizeof w->rx - w->rx_len))
                   : (int)recv(w->fd, w->rx + w->rx_len, sizeof w->rx - w->rx_len, 0);
    if (n <= 0) {
        if (w->ssl) ERR_clear_error();
        return -1;
    }
    w->rx_len += (size_t)n;
    return 1;
}

static void rx_consume(struct wsc *w, size_t n)
{
    memmove(w->rx, w->rx + n, w->rx_len - n);
    w->rx_len -= n;
}

static bool wsc_open(struct wsc *w, int port, bool tls)
{
    memset(w, 0, sizeof *w);
    w->fd = raw_open(port);
    if (w->fd < 0) return false;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!tls) return true;
    w->ssl = SSL_new(client_ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), "127.0.0.1");
    SSL_set_fd(w->ssl, w->fd);
    if (SSL_connect(w->ssl) != 1) {
        ERR_print_errors_fp(stderr);
        return false;
    }
    return true;
}

static void wsc_close(struct wsc *w)
{
    if (w->ssl) SSL_free(w->ssl);
    w->ssl = NULL;
    if (w->fd >= 0) raw_close(w->fd);
    w->fd = -1;
}

/* Sends the opening handshake (headers: extra lines, each ending in
 * \r\n) and reads the answer's head. Returns the HTTP status, -1 if none;
 * the head goes to head_out (NUL-terminated) when not NULL. */
static int wsc_upgrade(struct wsc *w, const char *path, const char *headers, char *head_out, size_t head_size)
{
    size_t size = strlen(path) + strlen(headers) + 256;
    char *req = malloc(size);
    int n = snprintf(req, size,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n",
                     path, headers);
    bool sent = wsc_send(w, req, (size_t)n);
    free(req);
    if (!sent) return -1;
    for (;;) {
        uint8_t *end = memmem(w->rx, w->rx_len, "\r\n\r\n", 4);
        if (end) {
            size_t len = (size_t)(end - w->rx) + 4;
            if (head_out) snprintf(head_out, head_size, "%.*s", (int)len, (char *)w->rx);
            int status = -1;
            if (len > 12 && !memcmp(w->rx, "HTTP/1.1 ", 9)) status = atoi((char *)w->rx + 9);
            rx_consume(w, len);
            return status;
        }
        if (wsc_fill(w, 5000) <= 0) return -1;
    }
}

#define MQTT_WS "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"

/* A masked client frame. b0 = FIN bit | opcode. */
static bool wsc_frame(struct wsc *w, uint8_t b0, const void *payload, size_t len)
{
    static uint8_t f[1 << 17];
    if (len + 14 > sizeof f) return false;
    size_t at = 0;
    f[at++] = b0;
    if (len < 126) {
        f[at++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        f[at++] = 0x80 | 126;
        f[at++] = (uint8_t)(len >> 8);
        f[at++] = (uint8_t)len;
    } else {
        f[at++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) f[at++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t mask[4] = {(uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand()};
    memcpy(f + at, mask, 4);
    at += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) f[at++] = p[i] ^ mask[i & 3];
    return wsc_send(w, f, at);
}

/* One server frame: its opcode (-1 timeout, -2 closed, -3 malformed:
 * e.g. masked, which a server must never send) and payload. */
static int wsc_recv_frame(struct wsc *w, uint8_t *payload, size_t cap, size_t *len, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        if (w->rx_len >= 2) {
            if (w->rx[1] & 0x80) return -3;
            size_t hl = 2;
            uint64_t n = w->rx[1] & 0x7f;
            if (n == 126) hl = 4;
            if (n == 127) hl = 10;
            if (w->rx_len >= hl) {
                if (hl == 4) n = (uint64_t)w->rx[2] << 8 | w->rx[3];
                if (hl == 10)
                    for (int i = 0; i < 8; i++) n = n << 8 | w->rx[2 + i];
                if (n > cap || n > sizeof w->rx - hl) return -3;
                if (w->rx_len >= hl + n) {
                    int op = w->rx[0] & 0x0f;
                    if (!(w->rx[0] & 0x80)) return -3; /* the server does not fragment */
                    memcpy(payload, w->rx + hl, n);
                    *len = n;
                    rx_consume(w, hl + (size_t)n);
                    return op;
                }
            }
        }
        int left = (int)(deadline - e2e_now_ms());
        if (left <= 0) return -1;
        int r = wsc_fill(w, left);
        if (r < 0) return -2;
    }
}

/* One MQTT packet out of the binary frames (control frames other than
 * close are skipped). RAW_OK, RAW_TIMEOUT or RAW_CLOSED. */
static int wsm_recv(struct wsc *w, struct raw_pkt *pkt, int timeout_ms)
{
    static uint8_t payload[1 << 17];
    int64_t deadline = e2e_now_ms() + timeout_ms;
    memset(pkt, 0, sizeof *pkt);
    for (;;) {
        /* A whole packet in mq? */
        if (w->mq_len >= 2) {
            uint32_t len = 0, mult = 1;
            size_t i = 1;
            bool complete = false;
            for (; i < w->mq_len && i < 5; i++) {
                len += (w->mq[i] & 127u) * mult;
                mult *= 128;
                if (!(w->mq[i] & 128)) {
                    complete = true;
                    i++;
                    break;
                }
            }
            if (complete && w->mq_len >= i + len) {
                pkt->type = w->mq[0] >> 4;
                pkt->flags = w->mq[0] & 15;
                pkt->len = len;
                pkt->body = malloc(len ? len : 1);
                memcpy(pkt->body, w->mq + i, len);
                memmove(w->mq, w->mq + i + len, w->mq_len - i - len);
                w->mq_len -= i + len;
                return RAW_OK;
            }
        }
        int left = (int)(deadline - e2e_now_ms());
        if (left <= 0) return RAW_TIMEOUT;
        size_t n;
        int op = wsc_recv_frame(w, payload, sizeof payload, &n, left);
        if (op == -1) return RAW_TIMEOUT;
        if (op < 0 || op == 8) return RAW_CLOSED;
        if (op == 2) {
            if (w->mq_len + n > sizeof w->mq) return RAW_CLOSED;
            memcpy(w->mq + w->mq_len, payload, n);
            w->mq_len += n;
        }
    }
}

static int wsm_recv_type(struct wsc *w, uint8_t type, struct raw_pkt *pkt, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - e2e_now_ms());
        int r = wsm_recv(w, pkt, left > 0 ? left : 0);
        if (r != RAW_OK) return r;
        if (pkt->type == type) return RAW_OK;
        raw_pkt_free(pkt);
    }
}

static bool wsm_send(struct wsc *w, const struct pb *p) { return wsc_frame(w, 0x82, p->b, p->len); }

/* Upgrade and CONNECT (v5) over a fresh connection; false if any step fails. */
static bool wsm_connect(struct wsc *w, int port, bool tls, const char *client_id)
{
    if (!wsc_open(w, port, tls) || wsc_upgrade(w, "/mqtt", MQTT_WS, NULL, 0) != 101) return false;
    struct pb pkt = {0};
    raw_build_connect_v5(&pkt, client_id, true, 60, NULL);
    struct raw_pkt ack;
    if (!wsm_send(w, &pkt) || wsm_recv(w, &ack, 5000) != RAW_OK) return false;
    bool ok = ack.type == 2 && ack.len >= 2 && ack.body[1] == 0;
    raw_pkt_free(&ack);
    return ok;
}

static void build_subscribe(struct pb *out, uint16_t id, const char *filter, uint8_t options)
{
    struct pb body = {0};
    pb_u16(&body, id);
    pb_u8(&body, 0); /* no properties */
    pb_str(&body, filter);
    pb_u8(&body, options);
    pb_packet(out, 0x82, &body);
}

/* The base64 SHA-1 accept value, computed here for the check. */
static void expected_accept(const char *key, char out[64])
{
    char in[128];
    snprintf(in, sizeof in, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(in, strlen(in), md, &n, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* --- certificates for wss (made before the broker starts) ---------------------------- */

static bool make_certs(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=e2e-ca -keyout ca.key -out ca.pem "
             "&& openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr "
             "&& printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf "
             "&& openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-extfile ext.cnf -out server.pem",
             e2e_dir());
    char full[2200];
    snprintf(full, sizeof full, "(%s) >%s/openssl.log 2>&1", cmd, e2e_dir());
    return system(full) == 0;
}

static bool tls_client_setup(void)
{
    char ca[600];
    snprintf(ca, sizeof ca, "%s/ca.pem", e2e_dir());
    SSL_CTX_free(client_ctx);
    client_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    return SSL_CTX_load_verify_locations(client_ctx, ca, NULL) == 1;
}

#define WS_LISTENER "  - bind: 127.0.0.1\n    port: 0\n    websocket: true\n"
#define WSS_LISTENER                                                           \
    "  - bind: 127.0.0.1\n    port: 0\n    websocket: true\n"                  \
    "    websocket_path: /mqtt\n    tls:\n      cert_file: @DIR@/server.pem\n" \
    "      key_file: @DIR@/server.key\n"

/* --- publish/subscribe ------------------------------------------------------------------ */

/* ws subscriber, TCP publisher, then ws publisher (a CONNECT split over
 * a fragmented message, two packets in one frame), TCP subscriber. */
static void pubsub(bool tls)
{
    if (tls) CHECK(tls_client_setup());
    int port = ws_port(tls);
    CHECK(port > 0);
    struct wsc *sub = calloc(1, sizeof *sub), *pub = calloc(1, sizeof *pub);
    CHECK(sub && pub);

    CHECK(wsc_open(sub, port, tls));
    char head[1024], accept[64], want[128];
    CHECK_INT(wsc_upgrade(sub, "/mqtt", MQTT_WS, head, sizeof head), 101);
    expected_accept("dGhlIHNhbXBsZSBub25jZQ==", accept);
    snprintf(want, sizeof want, "Sec-WebSocket-Accept: %s\r\n", accept);
    CHECK(strstr(head, want) != NULL);
    CHECK(strstr(head, "Sec-WebSocket-Protocol: mqtt\r\n") != NULL);
    struct pb pkt = {0};
    raw_build_connect_v5(&pkt, "ws-sub", true, 60, NULL);
    CHECK(wsm_send(sub, &pkt));
    struct raw_pkt ack;
    CHECK_INT(wsm_recv(sub, &ack, 5000), RAW_OK);
    CHECK_INT(ack.type, 2);
    raw_pkt_free(&ack);
    pkt.len = 0;
    build_subscribe(&pkt, 1, "ws/#", 1);
    CHECK(wsm_send(sub, &pkt));
    CHECK_INT(wsm_recv_type(sub, 9, &ack, 5000), RAW_OK);
    CHECK_INT(ack.body[ack.len - 1], 1);
    raw_pkt_free(&ack);

    int tcp = raw_connect_v5(e2e_port(), "tcp-pub", true, NULL, NULL);
    CHECK(tcp >= 0);
    pkt.len = 0;
    raw_build_publish_v5(&pkt, "ws/from-tcp", 1, false, false, 7, NULL, "hello ws", 8);
    CHECK(raw_send_pb(tcp, &pkt));
    struct raw_pkt got;
    CHECK_INT(wsm_recv_type(sub, 3, &got, 5000), RAW_OK);
    struct raw_publish pub_in;
    CHECK(raw_parse_publish_v5(&got, &pub_in));
    CHECK_STR(pub_in.topic, "ws/from-tcp");
    CHECK(pub_in.payload_len == 8 && !memcmp(pub_in.payload, "hello ws", 8));
    struct pb puback = {0};
    struct pb ackbody = {0};
    pb_u16(&ackbody, pub_in.packet_id);
    pb_packet(&puback, 0x40, &ackbody);
    raw_pkt_free(&got);
    CHECK(wsm_send(sub, &puback));

    /* The other way: TCP subscribes, ws publishes. */
    CHECK_INT(raw_subscribe_v5(tcp, 2, "ws/#", 1, NULL), 1);
    CHECK(wsc_open(pub, port, tls));
    CHECK_INT(wsc_upgrade(pub, "/mqtt?x=1", "Sec-WebSocket-Version: 13\r\n", NULL, 0), 101); /* no subprotocol */
    pkt.len = 0;
    raw_build_connect_v5(&pkt, "ws-pub", true, 60, NULL);
    CHECK(wsc_frame(pub, 0x02, pkt.b, 5));               /* binary, not final */
    CHECK(wsc_frame(pub, 0x89, "p", 1));                 /* a ping in between */
    CHECK(wsc_frame(pub, 0x80, pkt.b + 5, pkt.len - 5)); /* final continuation */
    /* The pong comes before or after the CONNACK's frame, as the reads fall. */
    static uint8_t fr[1024];
    size_t fr_len;
    int op;
    while ((op = wsc_recv_frame(pub, fr, sizeof fr, &fr_len, 5000)) == 2) {
        memcpy(pub->mq + pub->mq_len, fr, fr_len);
        pub->mq_len += fr_len;
    }
    CHECK_INT(op, 0xA);
    CHECK(fr_len == 1 && fr[0] == 'p');
    CHECK_INT(wsm_recv(pub, &ack, 5000), RAW_OK);
    CHECK_INT(ack.type, 2);
    raw_pkt_free(&ack);
    struct pb two = {0};
    raw_build_publish_v5(&two, "ws/a", 0, false, false, 0, NULL, "one", 3);
    pkt.len = 0;
    raw_build_publish_v5(&pkt, "ws/b", 0, false, false, 0, NULL, "two", 3);
    pb_bytes(&two, pkt.b, pkt.len);
    CHECK(wsm_send(pub, &two)); /* two packets, one frame */
    for (int i = 0; i < 2; i++) {
        CHECK_INT(raw_recv_type(tcp, 3, &got, 5000), RAW_OK);
        CHECK(raw_parse_publish_v5(&got, &pub_in));
        CHECK_STR(pub_in.topic, i ? "ws/b" : "ws/a");
        raw_pkt_free(&got);
        CHECK_INT(wsm_recv_type(sub, 3, &got, 5000), RAW_OK); /* the ws subscriber too */
        raw_pkt_free(&got);
    }
    /* A close frame is echoed, then the connection ends. */
    CHECK(wsc_frame(pub, 0x88, "\x03\xe8", 2));
    uint8_t cl[8];
    size_t cl_len;
    CHECK_INT(wsc_recv_frame(pub, cl, sizeof cl, &cl_len, 5000), 8);
    CHECK(cl_len == 2 && cl[0] == 0x03 && cl[1] == 0xe8);
    CHECK_INT(wsc_recv_frame(pub, cl, sizeof cl, &cl_len, 5000), -2);
    wsc_close(pub);
    wsc_close(sub);
    free(pub);
    free(sub);
}

static void test_ws_pubsub(void) { pubsub(false); }
static void test_wss_pubsub(void) { pubsub(true); }

/* --- the state store over WebSockets ----------------------------------------------------- */

static void ss_props(struct pb *props, const char *response_topic, const char *corr, const char *ts)
{
    pb_u8(props, 0x08); /* Response Topic */
    pb_str(props, response_topic);
    pb_u8(props, 0x09); /* Correlation Data */
    pb_bin(props, corr, 16);
    pb_u8(props, 0x02); /* Message Expiry Interval */
    pb_u32(props, 10);
    pb_u8(props, 0x26); /* User Property */
    pb_str(props, "__ts");
    pb_str(props, ts);
    pb_u8(props, 0x26);
    pb_str(props, "__protVer");
    pb_str(props, "1.0");
}

/* Sends a request and returns the reply's payload in out (NUL-terminated). */
static bool ss_roundtrip(struct wsc *w, const char *rt, const char *corr, uint16_t id, const char *req, char *out,
                         size_t size)
{
    struct ss_hlc h = {.wall = ss_wall_ms()};
    snprintf(h.node, sizeof h.node, "e2e-ws");
    char ts[96];
    ss_hlc_format(&h, ts, sizeof ts);
    struct pb props = {0}, pkt = {0};
    ss_props(&props, rt, corr, ts);
    raw_build_publish_v5(&pkt, SS_REQUEST_TOPIC, 1, false, false, id, &props, req, strlen(req));
    if (!wsm_send(w, &pkt)) return false;
    for (int i = 0; i < 4; i++) { /* the PUBACK and the reply, either order */
        struct raw_pkt got;
        if (wsm_recv(w, &got, 5000) != RAW_OK) return false;
        struct raw_publish p;
        if (got.type == 3 && raw_parse_publish_v5(&got, &p) && !strcmp(p.topic, rt)) {
            const uint8_t *cd = NULL;
            uint16_t cd_len = 0;
            bool match =
                raw_prop_find(p.props, p.props_len, 0x09, NULL, &cd, &cd_len) && cd_len == 16 && !memcmp(cd, corr, 16);
            snprintf(out, size, "%.*s", (int)p.payload_len, (const char *)p.payload);
            if (p.qos) {
                struct pb ack = {0}, body = {0};
                pb_u16(&body, p.packet_id);
                pb_packet(&ack, 0x40, &body);
                wsm_send(w, &ack);
            }
            raw_pkt_free(&got);
            return match;
        }
        raw_pkt_free(&got);
    }
    return false;
}

static void test_ws_statestore(void)
{
    int port = ws_port(false);
    CHECK(port > 0);
    struct wsc *w = calloc(1, sizeof *w);
    CHECK(w);
    CHECK(wsm_connect(w, port, false, "ws-ss"));
    char rt[512];
    snprintf(rt, sizeof rt, "clients/ws-ss/services/" SS_REQUEST_TOPIC "/response");
    struct pb pkt = {0};
    build_subscribe(&pkt, 1, rt, 1);
    CHECK(wsm_send(w, &pkt));
    struct raw_pkt ack;
    CHECK_INT(wsm_recv_type(w, 9, &ack, 5000), RAW_OK);
    raw_pkt_free(&ack);
    char reply[256];
    CHECK(ss_roundtrip(w, rt, "0123456789abcdef", 2, "*3\r\n$3\r\nSET\r\n$5\r\nwskey\r\n$7\r\nwsvalue\r\n", reply,
                       sizeof reply));
    CHECK_STR(reply, "+OK\r\n");
    CHECK(ss_roundtrip(w, rt, "fedcba9876543210", 3, "*2\r\n$3\r\nGET\r\n$5\r\nwskey\r\n", reply, sizeof reply));
    CHECK_STR(reply, "$7\r\nwsvalue\r\n");
    wsc_close(w);
    free(w);
}

/* --- refused handshakes ----------------------------------------------------------------------- */

static void expect_status(int port, const char *path, const char *headers, int status)
{
    struct wsc *w = calloc(1, sizeof *w);
    CHECK(w && wsc_open(w, port, false));
    char head[1024] = "";
    int got = wsc_upgrade(w, path, headers, head, sizeof head);
    if (got != status) e2e_fail(__FILE__, __LINE__, "%s: status %d, expected %d: %s", path, got, status, head);
    /* Refused: the broker closes after the answer. */
    uint8_t b[256];
    size_t n;
    int r = wsc_recv_frame(w, b, sizeof b, &n, 5000);
    if (r != -2) e2e_fail(__FILE__, __LINE__, "%s: expected the connection closed, got %d", path, r);
    wsc_close(w);
    free(w);
}

static void test_ws_bad_handshakes(void)
{
    int port = ws_port(false);
    CHECK(port > 0);
    expect_status(port, "/other", MQTT_WS, 404);
    expect_status(port, "/mqtt", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n", 400);
    expect_status(port, "/mqtt", "Sec-WebSocket-Version: 8\r\n", 426);
    expect_status(port, "/mqtt", "", 426); /* no version */
    static char big[10000];
    memset(big, 0, sizeof big);
    for (size_t at = 0; at + 100 < sizeof big - 200;) at += (size_t)sprintf(big + at, "X-Filler-%zu: %080d\r\n", at, 0);
    expect_status(port, "/mqtt", big, 431);
    CHECK(!e2e_failed());
    /* A plain MQTT client on the WebSocket port: its CONNECT is no HTTP request. */
    int fd = raw_open(port);
    CHECK(fd >= 0);
    struct pb pkt = {0};
    raw_build_connect_v5(&pkt, "confused", true, 60, NULL);
    pkt.b[pkt.len++] = '\r', pkt.b[pkt.len++] = '\n', pkt.b[pkt.len++] = '\r', pkt.b[pkt.len++] = '\n';
    CHECK(raw_send_pb(fd, &pkt));
    char resp[64] = "";
    CHECK(recv(fd, resp, sizeof resp - 1, 0) > 12);
    CHECK(!strncmp(resp, "HTTP/1.1 400 ", 13));
    /* A client that never completes the upgrade is closed by connect_timeout (1 s here). */
    int slow = raw_open(port);
    CHECK(slow >= 0);
    CHECK(raw_send(slow, "GET /mqtt HTTP/1.1\r\nHost: x\r\n", 29));
    int64_t t0 = e2e_now_ms();
    struct pollfd p = {.fd = slow, .events = POLLIN};
    CHECK(poll(&p, 1, 10000) == 1);
    char c;
    CHECK(recv(slow, &c, 1, 0) == 0);
    int64_t took = e2e_now_ms() - t0;
    if (took < 500 || took > 8000)
        e2e_fail(__FILE__, __LINE__, "closed after %lld ms, expected about 1 s", (long long)took);
}

/* The head in pieces (a byte at a time, then the rest), and a CONNECT
 * frame sent in the same write as the head: both are served. */
static void test_ws_handshake_pieces(void)
{
    int port = ws_port(false);
    CHECK(port > 0);
    const char *req = "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" MQTT_WS "\r\n";
    struct wsc *w = calloc(1, sizeof *w);
    CHECK(w && wsc_open(w, port, false));
    for (size_t i = 0; i < 40; i++) {
        CHECK(wsc_send(w, req + i, 1));
        e2e_sleep_ms(2);
    }
    /* The rest, with a CONNECT frame behind it in the same write. */
    static uint8_t msg[2048];
    size_t n = strlen(req) - 40;
    memcpy(msg, req + 40, n);
    struct pb pkt = {0};
    raw_build_connect_v5(&pkt, "ws-pieces", true, 60, NULL);
    msg[n++] = 0x82;
    msg[n++] = (uint8_t)(0x80 | pkt.len);
    memset(msg + n, 0, 4); /* zero mask */
    n += 4;
    memcpy(msg + n, pkt.b, pkt.len);
    n += pkt.len;
    CHECK(wsc_send(w, msg, n));
    for (;;) {
        uint8_t *end = memmem(w->rx, w->rx_len, "\r\n\r\n", 4);
        if (end) {
            CHECK(!memcmp(w->rx, "HTTP/1.1 101 ", 13));
            rx_consume(w, (size_t)(end - w->rx) + 4);
            break;
        }
        CHECK(wsc_fill(w, 5000) > 0);
    }
    struct raw_pkt ack;
    CHECK_INT(wsm_recv(w, &ack, 5000), RAW_OK);
    CHECK_INT(ack.type, 2);
    raw_pkt_free(&ack);
    wsc_close(w);
    free(w);
}

/* --- protocol violations and control frames --------------------------------------------------- */

/* A connected ws MQTT client sends `frame`; the broker must answer with a
 * close frame carrying `code` and close the connection. */
static void expect_close(int port, const uint8_t *frame, size_t len, int code)
{
    struct wsc *w = calloc(1, sizeof *w);
    CHECK(w && wsm_connect(w, port, false, "ws-bad"));
    CHECK(wsc_send(w, frame, len));
    uint8_t b[256];
    size_t n;
    int op = wsc_recv_frame(w, b, sizeof b, &n, 5000);
    if (op != 8 || n < 2 || (b[0] << 8 | b[1]) != code)
        e2e_fail(__FILE__, __LINE__, "expected close %d, got opcode %d (%zu bytes, code %d)", code, op, n,
                 n >= 2 ? b[0] << 8 | b[1] : -1);
    op = wsc_recv_frame(w, b, sizeof b, &n, 5000);
    if (op != -2) e2e_fail(__FILE__, __LINE__, "expected the connection closed after close %d, got %d", code, op);
    wsc_close(w);
    free(w);
}

static void test_ws_bad_frames(void)
{
    int port = ws_port(false);
    CHECK(port > 0);
    const uint8_t unmasked[] = {0x82, 0x02, 0xc0, 0x00};
    expect_close(port, unmasked, sizeof unmasked, 1002);
    const uint8_t text[] = {0x81, 0x80, 1, 2, 3, 4};
    expect_close(port, text, sizeof text, 1003);
    const uint8_t huge[] = {0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}; /* 4 GiB > max_packet_size */
    expect_close(port, huge, sizeof huge, 1009);
    const uint8_t reserved[] = {0x83, 0x80, 1, 2, 3, 4};
    expect_close(port, reserved, sizeof reserved, 1002);
    const uint8_t long_ping[] = {0x89, 0xfe, 0x00, 0x80, 1, 2, 3, 4};
    expect_close(port, long_ping, sizeof long_ping, 1002);
}

/* 20,000 pings sent without reading: the broker answers with at most one
 * pong per flush, its memory does not grow with the flood, and a TCP
 * client is served meanwhile. */
static void test_ws_ping_flood(void)
{
    int port = ws_port(false);
    CHECK(port > 0);
    struct wsc *w = calloc(1, sizeof *w);
    CHECK(w && wsm_connect(w, port, false, "ws-flood"));
    long rss0 = e2e_broker_rss_kib();
    enum { PINGS = 20000, PING_LEN = 16 };
    static uint8_t flood[PINGS * (6 + PING_LEN)];
    size_t at = 0;
    for (int i = 0; i < PINGS; i++) {
        flood[at++] = 0x89;
        flood[at++] = 0x80 | PING_LEN;
        memset(flood + at, 0, 4 + PING_LEN); /* zero mask: payload as is */
        snprintf((char *)flood + at + 4, PING_LEN + 1, "ping %010d", i);
        at += 4 + PING_LEN;
    }
    CHECK(wsc_send(w, flood, at));
    int tcp = raw_connect_v5(e2e_port(), "tcp-during-flood", true, NULL, NULL);
    CHECK(tcp >= 0);
    int pongs = 0;
    uint8_t b[256];
    size_t n;
    char last[PING_LEN + 1] = "";
    int op;
    while ((op = wsc_recv_frame(w, b, sizeof b, &n, 1000)) == 0xA) {
        pongs++;
        snprintf(last, sizeof last, "%.*s", (int)n, (char *)b);
    }
    CHECK_INT(op, -1); /* quiet, not closed */
    e2e_note("%d pongs for %d pings; broker RSS %ld -> %ld KiB", pongs, PINGS, rss0, e2e_broker_rss_kib());
    CHECK(pongs >= 1 && pongs <= PINGS);
    CHECK_STR(last, "ping 0000019999"); /* the latest ping is answered */
    long rss1 = e2e_broker_rss_kib();
    CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 16 * 1024);
    /* Still an MQTT connection. */
    struct pb pkt = {0};
    pb_u8(&pkt, 0xc0);
    pb_u8(&pkt, 0);
    CHECK(wsm_send(w, &pkt));
    struct raw_pkt resp;
    CHECK_INT(wsm_recv(w, &resp, 5000), RAW_OK);
    CHECK_INT(resp.type, 13);
    raw_pkt_free(&resp);
    wsc_close(w);
    free(w);
}

static const struct e2e_case cases[] = {
    {"ws_pubsub", test_ws_pubsub, .mqstated_only = "WebSocket listener config", .extra_yaml = WS_LISTENER},
    {"wss_pubsub", test_wss_pubsub, .mqstated_only = "WebSocket listener config", .extra_yaml = WSS_LISTENER,
     .prepare = make_certs},
    {"ws_statestore", test_ws_statestore, .mqstated_only = "state store", .extra_yaml = WS_LISTENER},
    {"ws_bad_handshakes", test_ws_bad_handshakes, .mqstated_only = "WebSocket listener config",
     .extra_yaml = WS_LISTENER "limits:\n  connect_timeout: 1\n"},
    {"ws_handshake_pieces", test_ws_handshake_pieces, .mqstated_only = "WebSocket listener config",
     .extra_yaml = WS_LISTENER},
    {"ws_bad_frames", test_ws_bad_frames, .mqstated_only = "WebSocket listener config", .extra_yaml = WS_LISTENER},
    {"ws_ping_flood", test_ws_ping_flood, .mqstated_only = "WebSocket listener config", .extra_yaml = WS_LISTENER},
};

int main(int argc, char **argv)
{
    int r = e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
    SSL_CTX_free(client_ctx);
    return r;
}
