/* One MQTT client connection of the generator: TCP, framing, the CONNECT /
 * SUBSCRIBE handshake, publishing under flow control and receiving. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqtt/codec.h"
#include "pubsub.h"
#include "util/alloc.h"

/* Ping often enough for the keep alive we ask for, in case a run (or the
 * idle hold) outlasts it: subscribers otherwise never send anything. */
#define PB_KEEP_ALIVE 60

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

void pb_conn_init(pb_bench *b, pb_conn *c, enum pb_role role, uint32_t index)
{
    memset(c, 0, sizeof *c);
    c->bench = b;
    c->role = role;
    c->index = index;
    c->state = PB_IDLE_STATE;
    c->next_id = 1;
    c->window = b->opts.window;
    uint32_t topic = b->opts.topic_mode == PB_TOPIC_PAIRS ? index : 0;
    int n = snprintf(c->topic, sizeof c->topic, "bench/%d/%u", (int)getpid(), topic);
    c->topic_len = (uint16_t)n;
    if (role == PB_SS) {
        pb_ss_conn_init(c);
    } else if (role == PB_PUB) {
        c->payload = xcalloc(1, b->opts.size);
        memcpy(c->payload + 16, &c->index, sizeof c->index);
    } else if (role == PB_SUB) {
        c->next_seq = xcalloc(b->opts.pubs ? b->opts.pubs : 1, sizeof *c->next_seq);
    }
}

void pb_conn_free(pb_conn *c)
{
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    buf_free(&c->set_req);
    buf_free(&c->get_req);
    free(c->payload);
    free(c->next_seq);
    c->payload = NULL;
    c->next_seq = NULL;
}

/* --- output --------------------------------------------------------------- */

static void conn_mark_dirty(pb_conn *c)
{
    if (c->dirty || c->closing) return;
    c->dirty = true;
    c->next_dirty = c->bench->dirty;
    c->bench->dirty = c;
}

static void conn_flush(pb_conn *c);

static void on_write(uv_write_t *req, int status)
{
    pb_conn *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (status < 0) {
        if (status != UV_ECANCELED) pb_conn_fail(c, "write", status);
        return;
    }
    conn_flush(c);
}

/* Try a direct write first: most flushes fit in the socket buffer, and that
 * avoids a write request. What does not fit moves to wbuf, and `out` keeps
 * collecting until the request completes. */
static void conn_flush(pb_conn *c)
{
    if (c->writing || c->closing || c->out.len == 0) return;
    uv_buf_t ub = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
    if (n == (int)c->out.len) {
        c->out.len = 0;
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        pb_conn_fail(c, "write", n);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    buf tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    c->out.len = 0;
    ub = uv_buf_init((char *)c->wbuf.data + done, (unsigned)(c->wbuf.len - done));
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &ub, 1, on_write);
    if (rc < 0) {
        pb_conn_fail(c, "write", rc);
        return;
    }
    c->writing = true;
}

static uint32_t conn_pump_at(pb_conn *c, uint32_t max, uint64_t now);

/* Publishers whose window reopened during this iteration's reads refill
 * here, right before the write: one batch per publisher per iteration, and
 * the timestamps in the payloads are taken as close to the write as we
 * can. Without a rate limit every publisher is refilled to its window. */
void pb_flush_all(uv_check_t *h)
{
    pb_bench *b = h->data;
    pb_conn *c = b->dirty;
    b->dirty = NULL;
    uint64_t now = c ? uv_hrtime() : 0;
    while (c) {
        pb_conn *next = c->next_dirty;
        c->dirty = false;
        c->next_dirty = NULL;
        if (b->opts.rate == 0) conn_pump_at(c, UINT32_MAX, now);
        conn_flush(c);
        c = next;
    }
}

static void conn_send(pb_conn *c, const mqtt_packet *p)
{
    mqtt_encode(&c->out, c->bench->opts.version, p);
    conn_mark_dirty(c);
}

/* --- closing -------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    pb_conn *c = h->data;
    c->state = PB_CLOSED;
    pb_on_closed(c->bench, c);
}

static void conn_close(pb_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void pb_conn_fail(pb_conn *c, const char *what, int err)
{
    if (c->closing) return;
    static const char *roles[] = {"pub", "sub", "idle", "client"};
    fprintf(stderr, "pubsub: %s %u: %s: %s\n", roles[c->role], c->index, what, err < 0 ? uv_strerror(err) : "protocol");
    c->bench->errors++;
    conn_close(c);
    pb_on_failed(c->bench);
}

void pb_conn_disconnect(pb_conn *c)
{
    if (c->closing) return;
    if (c->state == PB_IDLE_STATE) {
        c->closing = true;
        c->state = PB_CLOSED;
        pb_on_closed(c->bench, c);
        return;
    }
    /* Best effort: whatever is queued plus DISCONNECT, without waiting. The
     * broker treats an unclean end the same for these will-less sessions. */
    if (c->state >= PB_WAIT_CONNACK && !c->writing) {
        mqtt_packet p = {.type = MQTT_DISCONNECT};
        mqtt_encode(&c->out, c->bench->opts.version, &p);
        uv_buf_t ub = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
    }
    conn_close(c);
}

/* --- publishing ----------------------------------------------------------- */

uint64_t pb_conn_outstanding(const pb_conn *c)
{
    uint64_t expected = c->sent * c->bench->fanout;
    uint64_t back = c->delivered + c->written_off;
    return expected > back ? expected - back : 0;
}

static bool conn_may_publish(const pb_conn *c)
{
    const pb_bench *b = c->bench;
    if (!b->publishing || c->state != PB_READY || c->closing) return false;
    if (b->opts.qos > 0 && c->unacked >= c->window) return false;
    if (pb_conn_outstanding(c) + b->fanout > (uint64_t)c->window * b->fanout) return false;
    if (b->opts.rate > 0 && b->tokens < 1.0) return false;
    if (b->filling && !pb_ss_fill_pending(c)) return false;
    return true;
}

static void conn_encode_message(pb_conn *c, uint64_t now)
{
    pb_bench *b = c->bench;
    uint64_t seq = c->sent;
    memcpy(c->payload, &now, sizeof now);
    memcpy(c->payload + 8, &seq, sizeof seq);
    mqtt_publish pub = {
        .topic = {(const uint8_t *)c->topic, c->topic_len},
        .qos = b->opts.qos,
        .retain = b->opts.retain,
        .payload = {c->payload, b->opts.size},
    };
    if (b->opts.qos > 0) pub.packet_id = c->next_id;
    mqtt_encode_publish(&c->out, b->opts.version, &pub);
}

static void conn_publish_one(pb_conn *c, uint64_t now)
{
    pb_bench *b = c->bench;
    /* Stall recovery measures silence from the moment something is owed. */
    if (c->unacked == 0 && pb_conn_outstanding(c) == 0) c->progress_ns = now;
    if (c->role == PB_SS) pb_ss_request(c, now);
    else conn_encode_message(c, now);
    if (b->opts.qos > 0) {
        c->next_id = (uint16_t)(c->next_id == 0xFFFF ? 1 : c->next_id + 1);
        c->unacked++;
    }
    c->sent++;
    b->sent++;
    if (b->opts.rate > 0) b->tokens -= 1.0;
}

static uint32_t conn_pump_at(pb_conn *c, uint32_t max, uint64_t now)
{
    if (c->role != PB_PUB && c->role != PB_SS) return 0;
    uint32_t n = 0;
    while (n < max && conn_may_publish(c)) {
        conn_publish_one(c, now);
        n++;
    }
    return n;
}

uint32_t pb_conn_pump(pb_conn *c, uint32_t max)
{
    uint32_t n = conn_pump_at(c, max, uv_hrtime());
    if (n) conn_mark_dirty(c);
    return n;
}

void pb_conn_ping(pb_conn *c)
{
    if (c->state < PB_WAIT_CONNACK || c->closing) return;
    mqtt_packet p = {.type = MQTT_PINGREQ};
    conn_send(c, &p);
}

/* --- receiving ------------------------------------------------------------ */

static void conn_on_delivery(pb_conn *c, const mqtt_publish *pub, uint64_t now)
{
    pb_bench *b = c->bench;
    if (pub->payload.len < PB_HEADER_SIZE) {
        b->errors++;
        return;
    }
    uint64_t ts = load_u64(pub->payload.data);
    uint64_t seq = load_u64(pub->payload.data + 8);
    uint32_t from = load_u32(pub->payload.data + 16);
    if (from >= b->opts.pubs) {
        b->errors++;
        return;
    }
    b->received++;
    if (b->measuring) hist_record(&b->latency, now > ts ? now - ts : 0);
    uint64_t *next = &c->next_seq[from];
    if (seq == *next) {
        (*next)++;
    } else if (seq > *next) {
        b->gaps += seq - *next;
        *next = seq + 1;
    } else {
        b->dups++;
    }
    if (pub->qos > 0) {
        mqtt_packet ack = {.type = MQTT_PUBACK, .ack = {.packet_id = pub->packet_id}};
        conn_send(c, &ack);
    }
    pb_conn *p = &b->conns[from];
    p->delivered++;
    p->progress_ns = now;
    conn_mark_dirty(p); /* refilled in pb_flush_all */
}

/* A state store reply: acknowledged, and the window it reopens refilled. */
static void conn_on_reply(pb_conn *c, const mqtt_publish *pub, uint64_t now)
{
    pb_ss_reply(c, pub, now);
    if (pub->qos > 0) {
        mqtt_packet ack = {.type = MQTT_PUBACK, .ack = {.packet_id = pub->packet_id}};
        conn_send(c, &ack);
    }
    conn_mark_dirty(c);
}

static void conn_on_puback(pb_conn *c, const mqtt_ack *ack, uint64_t now)
{
    pb_bench *b = c->bench;
    if (c->unacked == 0) {
        pb_conn_fail(c, "PUBACK without PUBLISH", 0);
        return;
    }
    /* 0x10 (no matching subscribers) is a success; only >= 0x80 fails. */
    if (ack->reason >= 0x80) b->errors++;
    c->unacked--;
    c->acked++;
    b->acked++;
    c->progress_ns = now;
    conn_mark_dirty(c); /* refilled in pb_flush_all */
}

static void conn_on_connack(pb_conn *c, const mqtt_connack *ca)
{
    if (ca->reason != MQTT_RC_SUCCESS) {
        fprintf(stderr, "pubsub: CONNACK reason 0x%02x\n", ca->reason);
        pb_conn_fail(c, "CONNACK refused", 0);
        return;
    }
    /* Receive Maximum bounds QoS > 0 only. */
    if (c->bench->opts.qos > 0 && (ca->props.present & MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX)) &&
        ca->props.receive_max < c->window)
        c->window = ca->props.receive_max;
    if (c->role != PB_SUB && c->role != PB_SS) {
        c->state = PB_READY;
        pb_on_ready(c->bench, c);
        return;
    }
    mqtt_sub_entry e = {
        .filter = {(const uint8_t *)c->topic, c->topic_len},
        .qos = c->bench->opts.qos,
    };
    mqtt_packet p = {.type = MQTT_SUBSCRIBE, .subscribe = {.packet_id = 1, .count = 1, .entries = &e}};
    conn_send(c, &p);
    c->state = PB_WAIT_SUBACK;
}

static void conn_on_suback(pb_conn *c, const mqtt_suback *sa)
{
    if (c->state != PB_WAIT_SUBACK || sa->count != 1 || sa->reasons[0] >= 0x80) {
        pb_conn_fail(c, "SUBACK refused", 0);
        return;
    }
    c->state = PB_READY;
    pb_on_ready(c->bench, c);
}

static void conn_on_packet(pb_conn *c, const uint8_t *data, size_t len, uint64_t now)
{
    mqtt_packet p;
    int rc = mqtt_decode(data, len, c->bench->opts.version, &p);
    if (rc != MQTT_RC_SUCCESS) {
        fprintf(stderr, "pubsub: undecodable packet (reason 0x%02x)\n", rc);
        pb_conn_fail(c, "decode", 0);
        return;
    }
    switch (p.type) {
    case MQTT_PUBLISH:
        if (c->role == PB_SS) conn_on_reply(c, &p.publish, now);
        else conn_on_delivery(c, &p.publish, now);
        break;
    case MQTT_PUBACK: conn_on_puback(c, &p.ack, now); break;
    case MQTT_CONNACK: conn_on_connack(c, &p.connack); break;
    case MQTT_SUBACK: conn_on_suback(c, &p.suback); break;
    case MQTT_PINGRESP: break;
    case MQTT_DISCONNECT:
        fprintf(stderr, "pubsub: server DISCONNECT reason 0x%02x\n", p.disconnect.reason);
        pb_conn_fail(c, "disconnected by server", 0);
        break;
    default: pb_conn_fail(c, "unexpected packet", 0); break;
    }
    mqtt_packet_release(&p);
}

/* Handle every complete packet in data[0..len); returns the bytes used. */
static size_t conn_parse(pb_conn *c, const uint8_t *data, size_t len)
{
    uint64_t now = uv_hrtime(); /* these packets all arrived together */
    size_t off = 0;
    while (off < len && !c->closing) {
        size_t total = 0;
        enum mqtt_frame_status st = mqtt_frame(data + off, len - off, 0, &total);
        if (st == MQTT_FRAME_NEED_MORE) break;
        if (st != MQTT_FRAME_OK) {
            pb_conn_fail(c, "bad frame", 0);
            break;
        }
        conn_on_packet(c, data + off, total, now);
        off += total;
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    pb_conn *c = h->data;
    *out = uv_buf_init((char *)c->bench->rbuf, sizeof c->bench->rbuf);
}

/* Parse straight from the shared read buffer; only a packet split across
 * reads is copied into the connection's own buffer. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *ub)
{
    pb_conn *c = s->data;
    if (n == 0) return;
    if (n < 0) {
        if (c->bench->shutting_down) conn_close(c);
        else pb_conn_fail(c, "read", (int)n);
        return;
    }
    const uint8_t *data = (const uint8_t *)ub->base;
    if (c->in.len == 0) {
        size_t used = conn_parse(c, data, (size_t)n);
        if (!c->closing && used < (size_t)n) buf_append(&c->in, data + used, (size_t)n - used);
        return;
    }
    buf_append(&c->in, data, (size_t)n);
    size_t used = conn_parse(c, c->in.data, c->in.len);
    if (!c->closing) buf_consume(&c->in, used);
}

/* --- connecting ----------------------------------------------------------- */

static void conn_send_connect(pb_conn *c)
{
    pb_bench *b = c->bench;
    static const char *roles = "psic";
    char id[64];
    int n = snprintf(id, sizeof id, "pb-%d-%c%u", (int)getpid(), roles[c->role], c->index);
    mqtt_packet p = {.type = MQTT_CONNECT};
    p.connect.version = b->opts.version;
    p.connect.clean_start = true;
    p.connect.keep_alive = PB_KEEP_ALIVE;
    p.connect.client_id = (mqtt_bytes){(const uint8_t *)id, (uint32_t)n};
    if (b->opts.version == MQTT_V5 && (c->role == PB_SUB || c->role == PB_SS)) {
        /* Let the broker keep as many QoS 1 deliveries in flight as our
         * publishers' windows (or requests in flight) can produce. */
        p.connect.props.present = MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX);
        p.connect.props.receive_max = 65535;
    }
    conn_send(c, &p);
    c->state = PB_WAIT_CONNACK;
}

static void on_connect(uv_connect_t *req, int status)
{
    pb_conn *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        pb_conn_fail(c, "connect", status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        pb_conn_fail(c, "read_start", rc);
        return;
    }
    conn_send_connect(c);
}

int pb_conn_start(pb_conn *c)
{
    pb_bench *b = c->bench;
    struct sockaddr_storage addr;
    bool sub = c->role == PB_SUB;
    const char *host = sub && b->opts.sub_host ? b->opts.sub_host : b->opts.host;
    uint16_t port = sub && b->opts.sub_port ? b->opts.sub_port : b->opts.port;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc < 0) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc < 0) return rc;
    rc = uv_tcp_init(b->loop, &c->tcp);
    if (rc < 0) return rc;
    c->tcp.data = c;
    c->connect_req.data = c;
    c->state = PB_CONNECTING;
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&addr, on_connect);
    if (rc < 0) {
        conn_close(c);
        return rc;
    }
    return 0;
}
