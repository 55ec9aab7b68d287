/* Bounded memory under misbehaving clients (docs/architecture.md,
 * Backpressure): a KEYNOTIFY watcher that stops reading, a client that
 * floods requests or messages to itself without reading the answers, a
 * subscriber that never reads (by count, by bytes and over time), and a
 * paused publisher that goes away. Each case uses real sockets that stop
 * reading; the broker's RSS is sampled around the misbehaviour. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "rawclient.h"
#include "ssclient.h"

#define MIB_IN_KIB 1024L /* e2e_broker_rss_kib() is in KiB */

/* --- raw helpers ------------------------------------------------------------ */

/* Sends all of b. 1: sent; 0: the socket took nothing for wait_ms (the
 * broker stopped reading; b may be partly sent); -1: error. */
static int send_or_stall(int fd, const uint8_t *b, size_t len, int wait_ms)
{
    size_t off = 0;
    while (off < len) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r == 0 ? 0 : -1;
        ssize_t n = send(fd, b + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) return -1;
        off += (size_t)n;
    }
    return 1;
}

/* A small send buffer makes a flood stall soon after the broker stops
 * reading. (Not the receive buffer: a full one drops incoming segments,
 * ACKs of our own data included, and TCP itself would stall the flood.) */
static void small_sndbuf(int fd)
{
    int sz = 16 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

/* A subscriber that stops reading fills up sooner. */
static void small_rcvbuf(int fd)
{
    int sz = 16 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

/* A buffered packet reader (raw_recv reads byte by byte: too slow for
 * draining tens of thousands of packets). */
struct rd {
    int fd;
    uint8_t buf[1 << 16];
    size_t len, off;
};

/* Next packet into *type / *body / *blen (valid until the next call);
 * RAW_OK, RAW_TIMEOUT or RAW_CLOSED. */
static int rd_next(struct rd *r, int timeout_ms, uint8_t *type, const uint8_t **body, uint32_t *blen)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        size_t avail = r->len - r->off;
        const uint8_t *p = r->buf + r->off;
        uint32_t len = 0, i = 1;
        bool have_len = false;
        for (int shift = 0; i < avail && shift <= 21; shift += 7, i++) {
            len |= (uint32_t)(p[i] & 0x7f) << shift;
            if (!(p[i] & 0x80)) {
                have_len = true;
                i++;
                break;
            }
        }
        if (have_len && avail >= i + len) {
            *type = p[0];
            *body = p + i;
            *blen = len;
            r->off += i + len;
            return RAW_OK;
        }
        if (have_len && i + len > sizeof r->buf) return RAW_CLOSED; /* larger than this reader handles */
        memmove(r->buf, p, avail);
        r->len = avail;
        r->off = 0;
        int left = (int)(deadline - e2e_now_ms());
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        int pr = poll(&pf, 1, left > 0 ? left : 0);
        if (pr == 0) return RAW_TIMEOUT;
        if (pr < 0 && errno == EINTR) continue;
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (n <= 0) return RAW_CLOSED;
        r->len += (size_t)n;
    }
}

/* Reads until `want_pubs` PUBLISHes and `want_acks` PUBACKs have arrived,
 * acknowledging each QoS 1 PUBLISH; false on timeout or close. */
static bool drain_and_ack(int fd, long want_pubs, long want_acks, int timeout_ms, long *pubs, long *acks)
{
    static struct rd r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    int64_t deadline = e2e_now_ms() + timeout_ms;
    *pubs = *acks = 0;
    while (*pubs < want_pubs || *acks < want_acks) {
        uint8_t type;
        const uint8_t *b;
        uint32_t n;
        int left = (int)(deadline - e2e_now_ms());
        if (rd_next(&r, left > 0 ? left : 0, &type, &b, &n) != RAW_OK) return false;
        if (type >> 4 == 4) {
            (*acks)++;
        } else if (type >> 4 == 3) {
            (*pubs)++;
            if (((type >> 1) & 3) == 1 && n >= 2) {
                uint16_t tlen = (uint16_t)(b[0] << 8 | b[1]);
                if (n < 4u + tlen || !raw_send_ack(fd, 4, (uint16_t)(b[2 + tlen] << 8 | b[3 + tlen]))) return false;
            }
        }
    }
    return true;
}

/* Packet ids 1..65535, in turn. */
static uint16_t next_id(long i) { return (uint16_t)(i % 65535 + 1); }

/* A state store request: Response Topic, Correlation Data and a __ts. */
static void build_request(struct pb *out, const char *resp_topic, uint16_t pid, const char *payload)
{
    struct pb props = {0};
    pb_u8(&props, 0x08);
    pb_str(&props, resp_topic);
    pb_u8(&props, 0x09);
    pb_bin(&props, &pid, sizeof pid);
    char ts[64];
    snprintf(ts, sizeof ts, "%015lld:00000:bounds", (long long)time(NULL) * 1000);
    pb_u8(&props, 0x26);
    pb_str(&props, "__ts");
    pb_str(&props, ts);
    out->len = 0;
    raw_build_publish_v5(out, SS_REQUEST_TOPIC, 1, false, false, pid, &props, payload, strlen(payload));
}

/* A QoS 1 PUBLISH of any size (struct pb holds at most 8 KiB). */
static uint8_t *build_big_publish(const char *topic, uint16_t pid, size_t payload_len, size_t *len)
{
    size_t tl = strlen(topic), body = 2 + tl + 2 + 1 + payload_len;
    uint8_t *p = malloc(body + 5);
    size_t n = 0;
    p[n++] = 0x32;
    for (size_t v = body;;) {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
        if (!v) break;
    }
    p[n++] = (uint8_t)(tl >> 8);
    p[n++] = (uint8_t)tl;
    memcpy(p + n, topic, tl);
    n += tl;
    p[n++] = (uint8_t)(pid >> 8);
    p[n++] = (uint8_t)pid;
    p[n++] = 0; /* no properties */
    memset(p + n, 'x', payload_len);
    *len = n + payload_len;
    return p;
}

static void set_big_pid(uint8_t *pkt, const char *topic, uint16_t pid)
{
    size_t i = 1;
    while (pkt[i] & 0x80) i++;
    i += 1 + 2 + strlen(topic);
    pkt[i] = (uint8_t)(pid >> 8);
    pkt[i + 1] = (uint8_t)pid;
}

/* A v5 connection with a Session Expiry Interval (0: none) and optional
 * will on will_topic. */
static int connect_with(const char *id, uint32_t session_expiry, const char *will_topic)
{
    int fd = raw_open(e2e_port());
    if (fd < 0) return -1;
    struct pb props = {0}, body = {0}, pkt = {0};
    if (session_expiry) {
        pb_u8(&props, 0x11);
        pb_u32(&props, session_expiry);
    }
    pb_str(&body, "MQTT");
    pb_u8(&body, 5);
    pb_u8(&body, (uint8_t)(0x02 | (will_topic ? 0x04 : 0)));
    pb_u16(&body, 60);
    pb_props(&body, &props);
    pb_str(&body, id);
    if (will_topic) {
        struct pb none = {0};
        pb_props(&body, &none);
        pb_str(&body, will_topic);
        pb_str(&body, "gone");
    }
    pb_packet(&pkt, 0x10, &body);
    struct raw_pkt ack;
    if (!raw_send_pb(fd, &pkt) || raw_recv(fd, &ack, TC_TIMEOUT_MS) != RAW_OK) return -1;
    bool ok = ack.type == 2 && raw_reason_code(&ack) == 0;
    raw_pkt_free(&ack);
    return ok ? fd : -1;
}

static long rss_growth(long before) { return e2e_broker_rss_kib() - before; }

/* --- 1. a KEYNOTIFY watcher that stops reading --------------------------------- */

static const struct e2e_limits notify_limits = {.max_inflight = 10, .max_queued_messages = 100};

static void watcher_that_stops_reading_is_cut(void)
{
    int w = raw_connect_v5(e2e_port(), "watcher", true, NULL, NULL);
    CHECK(w >= 0);
    small_rcvbuf(w);
    CHECK_INT(raw_subscribe_v5(w, 1, "resp/watcher", 1, NULL), 0x01);
    struct pb req;
    for (int k = 0; k < 10; k++) {
        char payload[64];
        snprintf(payload, sizeof payload, "*2\r\n$9\r\nKEYNOTIFY\r\n$2\r\nk%d\r\n", k);
        build_request(&req, "resp/watcher", (uint16_t)(k + 1), payload);
        CHECK(raw_send_pb(w, &req));
    }
    long pubs, acks;
    CHECK(drain_and_ack(w, 10, 10, TC_TIMEOUT_MS, &pubs, &acks));
    /* From here on the watcher reads nothing (and sends nothing). */

    /* The writer pipelines SETs 50 at a time and reads its replies. */
    int writer = raw_connect_v5(e2e_port(), "writer", true, NULL, NULL);
    CHECK(writer >= 0);
    CHECK_INT(raw_subscribe_v5(writer, 1, "resp/writer", 1, NULL), 0x01);
    long rss0 = e2e_broker_rss_kib();
    static char payload[1100];
    int64_t t0 = e2e_now_ms();
    for (int i = 0; i < 2000; i++) {
        snprintf(payload, sizeof payload, "*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$1000\r\n%01000d\r\n", i % 10, i);
        build_request(&req, "resp/writer", next_id(i), payload);
        CHECK(raw_send_pb(writer, &req));
        if (i % 50 == 49) CHECK(drain_and_ack(writer, 50, 50, 20000, &pubs, &acks));
    }
    int64_t took = e2e_now_ms() - t0;
    long grew = rss_growth(rss0);
    e2e_note("2000 SETs on watched keys took %lld ms; broker RSS grew %ld KiB", (long long)took, grew);
    int reason = -1;
    CHECK(raw_wait_closed(w, 10000, &reason));
    CHECK_INT(reason, 0x97); /* Quota exceeded */
    CHECK(took < 30000);     /* the writer was never stalled by the watcher */
    CHECK(grew < 64 * MIB_IN_KIB);

    /* Its registrations went with the connection: a new one starts afresh. */
    struct ss_client again, other;
    CHECK(ss_open(&again, "watcher"));
    CHECK(ss_open(&other, "other"));
    struct ss_reply r;
    SS_CMD(&again, NULL, r, "KEYNOTIFY", "k1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&other, NULL, r, "SET", "k1", "after");
    CHECK_REPLY(r, "+OK\r\n");
    int64_t until = e2e_now_ms() + TC_TIMEOUT_MS;
    while (ss_note_total(&again) < 1 && e2e_now_ms() < until) e2e_sleep_ms(20);
    CHECK_INT(ss_note_total(&again), 1);
}

/* --- 2. self-addressed traffic that is never read -------------------------------- */

/* A hostile client floods and reads nothing: once its own output is over
 * the bound the broker stops reading it (the flood stalls with broker
 * memory flat); it can never acknowledge what it owes behind its own
 * flood, so its queue stays full and the slow-subscriber timeout ends it
 * with 0x97. */
static const struct e2e_limits self_limits = {
    .max_inflight = 10, .max_queued_messages = 100, .slow_subscriber_timeout = 5};

/* Reads (acknowledging QoS 1 PUBLISHes) until the broker closes; the
 * reason of a DISCONNECT on the way goes to *reason (-1: none). */
static bool read_until_closed(int fd, int timeout_ms, int *reason, long *pubs)
{
    static struct rd r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    int64_t deadline = e2e_now_ms() + timeout_ms;
    *reason = -1;
    *pubs = 0;
    for (;;) {
        uint8_t type;
        const uint8_t *b;
        uint32_t n;
        int left = (int)(deadline - e2e_now_ms());
        int rc = rd_next(&r, left > 0 ? left : 0, &type, &b, &n);
        if (rc != RAW_OK) return rc == RAW_CLOSED;
        if (type >> 4 == 14) *reason = n ? b[0] : 0;
        if (type >> 4 == 3) {
            (*pubs)++;
            uint16_t tlen = n >= 2 ? (uint16_t)(b[0] << 8 | b[1]) : 0;
            if (((type >> 1) & 3) == 1 && n >= 4u + tlen)
                raw_send_ack(fd, 4, (uint16_t)(b[2 + tlen] << 8 | b[3 + tlen]));
        }
    }
}

static void flood_until_cut(int fd, void (*make)(struct pb *, long))
{
    long rss0 = e2e_broker_rss_kib();
    int64_t t0 = e2e_now_ms();
    long sent = 0;
    int r = 1;
    struct pb pkt;
    while (r == 1 && e2e_now_ms() - t0 < 6000) {
        make(&pkt, sent);
        r = send_or_stall(fd, pkt.b, pkt.len, 1000);
        sent += r == 1;
    }
    long grew = rss_growth(rss0);
    e2e_note("%ld packets accepted in %lld ms, then %s; broker RSS grew %ld KiB", sent, (long long)(e2e_now_ms() - t0),
             r == 0 ? "reading stopped" : "no stall", grew);
    CHECK(r == 0);                 /* the broker stopped reading this client */
    CHECK(grew < 64 * MIB_IN_KIB); /* generous: ASan */
    int reason;
    long pubs;
    CHECK(read_until_closed(fd, 15000, &reason, &pubs));
    e2e_note("then read %ld PUBLISHes before the close", pubs);
    CHECK_INT(reason, 0x97);
}

/* A client that runs ahead of its answers by a burst (more than the
 * window and queue hold) and then reads them is held meanwhile, keeps
 * being served as it acknowledges, and gets every answer. */
static void burst_then_read(int fd, void (*make)(struct pb *, long), long n)
{
    struct pb pkt;
    for (long i = 0; i < n; i++) {
        make(&pkt, i);
        CHECK(send_or_stall(fd, pkt.b, pkt.len, 5000) == 1);
    }
    long pubs, acks;
    bool all = drain_and_ack(fd, n, n, 30000, &pubs, &acks);
    e2e_note("burst of %ld: drained %ld PUBLISHes and %ld PUBACKs", n, pubs, acks);
    CHECK(all);
}

static void make_get(struct pb *out, long i)
{
    build_request(out, "resp/self", next_id(i), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

static void make_self_publish(struct pb *out, long i)
{
    out->len = 0;
    raw_build_publish_v5(out, "self/t", 1, false, false, next_id(i), NULL, "0123456789abcdef", 16);
}

static int self_client(const char *id, const char *filter)
{
    int fd = raw_connect_v5(e2e_port(), id, true, NULL, NULL);
    if (fd < 0) return -1;
    small_sndbuf(fd);
    return raw_subscribe_v5(fd, 1, filter, 1, NULL) == 1 ? fd : -1;
}

static void requester_that_never_reads_is_paused(void)
{
    int fd = self_client("requester", "resp/self");
    CHECK(fd >= 0);
    flood_until_cut(fd, make_get);
}

static void self_publisher_that_never_reads_is_paused(void)
{
    int fd = self_client("selfpub", "self/t");
    CHECK(fd >= 0);
    flood_until_cut(fd, make_self_publish);
}

static void requester_burst_is_served(void)
{
    int fd = self_client("requester", "resp/self");
    CHECK(fd >= 0);
    burst_then_read(fd, make_get, 300);
    fd = self_client("selfpub", "self/t");
    CHECK(fd >= 0);
    burst_then_read(fd, make_self_publish, 300);
}

/* A held client that ends with DISCONNECT (and closes at once) is not
 * taken for a lost connection: what it sent before is processed and its
 * will is not published. */
static void held_client_disconnect_is_honoured(void)
{
    struct tc *obs = tc_open("observer", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(obs);
    CHECK_INT(tc_subscribe(obs, "self/t", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(obs, "will/s", 1, 0, NULL), 1);
    int fd = connect_with("leaver", 0, "will/s");
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, "self/t", 1, NULL), 0x01);
    struct pb pkt;
    for (long i = 0; i < 300; i++) { /* more than window + queue: held */
        make_self_publish(&pkt, i);
        CHECK(send_or_stall(fd, pkt.b, pkt.len, 5000) == 1);
    }
    static const uint8_t disconnect[2] = {0xe0, 0};
    CHECK(raw_send(fd, disconnect, sizeof disconnect));
    shutdown(fd, SHUT_WR); /* FIN right behind it, never reading (no RST) */
    CHECK(tc_wait_msgs(obs, 300, 10000));
    tc_pump_for(1000);
    CHECK_INT(tc_count_topic(obs, "will/s"), 0);
    CHECK_INT(tc_count_topic(obs, "self/t"), 300);
}

/* Replies aimed at someone else's subscription count as the requester's
 * messages: a receiver that stops reading pauses the requester (no
 * unbounded queue), and the slow-subscriber timeout frees both. */
static const struct e2e_limits victim_limits = {
    .max_inflight = 10, .max_queued_messages = 100, .slow_subscriber_timeout = 3};

static void make_get_for_victim(struct pb *out, long i)
{
    build_request(out, "victim/t", next_id(i), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

static void requester_paused_by_stuck_reply_receiver(void)
{
    int victim = connect_with("victim", 0, NULL);
    CHECK(victim >= 0);
    small_rcvbuf(victim);
    CHECK_INT(raw_subscribe_v5(victim, 1, "victim/t", 1, NULL), 0x01);
    int req = raw_connect_v5(e2e_port(), "requester", true, NULL, NULL);
    CHECK(req >= 0);
    small_sndbuf(req);
    long rss0 = e2e_broker_rss_kib();
    long sent = 0;
    int r = 1;
    struct pb pkt;
    int64_t t0 = e2e_now_ms();
    while (r == 1 && e2e_now_ms() - t0 < 6000) {
        make_get_for_victim(&pkt, sent);
        r = send_or_stall(req, pkt.b, pkt.len, 1000);
        sent += r == 1;
    }
    e2e_note("%ld requests accepted, then %s; broker RSS grew %ld KiB", sent, r == 0 ? "paused" : "no pause",
             rss_growth(rss0));
    CHECK(r == 0);
    int reason;
    CHECK(raw_wait_closed(victim, 10000, &reason));
    CHECK_INT(reason, 0x97);
    /* The victim is gone (its session with it): the requester goes on. */
    make_get_for_victim(&pkt, sent);
    CHECK(send_or_stall(req, pkt.b, pkt.len, 10000) == 1);
}

/* A client that reads nothing cannot grow its backlog by flooding the
 * packets the broker must answer (PINGREQ): past max_backlog_bytes they
 * are held like anything else. */
static const struct e2e_limits ping_limits = {.max_backlog_bytes = 4096};

static void ping_flood_without_reading_is_held(void)
{
    int fd = raw_connect_v5(e2e_port(), "pinger", true, NULL, NULL);
    CHECK(fd >= 0);
    small_sndbuf(fd);
    static uint8_t pings[2 * 512];
    for (size_t i = 0; i < sizeof pings; i += 2) {
        pings[i] = 0xc0;
        pings[i + 1] = 0;
    }
    long rss0 = e2e_broker_rss_kib(), sent = 0;
    int r = 1;
    int64_t t0 = e2e_now_ms();
    while (r == 1 && e2e_now_ms() - t0 < 6000) {
        r = send_or_stall(fd, pings, sizeof pings, 1000);
        sent += r == 1 ? 512 : 0;
    }
    long grew = rss_growth(rss0);
    e2e_note("%ld PINGREQs accepted, then %s; broker RSS grew %ld KiB", sent, r == 0 ? "held" : "no stall", grew);
    CHECK(r == 0);
    CHECK(grew < 64 * MIB_IN_KIB);
}

/* --- 3. a subscriber that never reads ------------------------------------------- */

static const struct e2e_limits byte_limits = {
    .max_inflight = 10, .max_queued_bytes = 1024 * 1024, .slow_subscriber_timeout = 600};

/* 64 KiB messages to a stuck subscriber: its queue is bounded in bytes,
 * not only in messages, and the publisher is paused. */
static void stuck_subscriber_queue_bounded_in_bytes(void)
{
    int sub = connect_with("stuck", 0, NULL);
    CHECK(sub >= 0);
    small_rcvbuf(sub);
    CHECK_INT(raw_subscribe_v5(sub, 1, "big/t", 1, NULL), 0x01);
    int pub = raw_connect_v5(e2e_port(), "bigpub", true, NULL, NULL);
    CHECK(pub >= 0);
    small_sndbuf(pub);
    size_t len;
    uint8_t *pkt = build_big_publish("big/t", 1, 64 * 1024, &len);
    long rss0 = e2e_broker_rss_kib();
    int64_t t0 = e2e_now_ms();
    long sent = 0;
    int r = 1;
    while (r == 1 && e2e_now_ms() - t0 < 6000) {
        set_big_pid(pkt, "big/t", next_id(sent));
        r = send_or_stall(pub, pkt, len, 1000);
        sent += r == 1;
    }
    free(pkt);
    long grew = rss_growth(rss0);
    e2e_note("%ld messages of 64 KiB accepted, then %s; broker RSS grew %ld KiB", sent,
             r == 0 ? "publisher paused" : "no pause", grew);
    CHECK(r == 0);
    CHECK(grew < 64 * MIB_IN_KIB);
}

static const struct e2e_limits slow_limits = {
    .max_inflight = 5, .max_queued_messages = 20, .slow_subscriber_timeout = 2};

/* A subscriber that keeps its connection (it pings) but never reads is
 * disconnected with 0x97 once its queue stayed full for the timeout; the
 * publisher's other subscriber keeps receiving, and the stuck session,
 * now offline and full, makes a message reaching nobody else get 0x97. */
static void slow_subscriber_is_disconnected(void)
{
    int stuck = connect_with("stuck", 300, NULL);
    CHECK(stuck >= 0);
    small_rcvbuf(stuck);
    CHECK_INT(raw_subscribe_v5(stuck, 1, "both/t", 1, NULL), 0x01);
    CHECK_INT(raw_subscribe_v5(stuck, 2, "only/t", 1, NULL), 0x01);
    struct tc *good = tc_open("good", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(good && pub);
    CHECK_INT(tc_subscribe(good, "both/t", 1, 0, NULL), 1);

    static const uint8_t ping[2] = {0xc0, 0};
    int64_t t0 = e2e_now_ms(), cut_at = 0;
    int published = 0, reason = -1;
    while (e2e_now_ms() - t0 < 20000 && published < 200) {
        /* Each publish waits for its PUBACK, which is held while the
         * publisher is paused. */
        if (tc_publish(pub, "both/t", "m", 1, false, NULL) != 0) break;
        published++;
        if (published % 10 == 0) raw_send(stuck, ping, sizeof ping); /* alive, yet not reading */
    }
    CHECK_INT(published, 200);
    cut_at = e2e_now_ms() - t0;
    CHECK(raw_wait_closed(stuck, 10000, &reason));
    CHECK_INT(reason, 0x97);
    CHECK(tc_wait_msgs(good, 200, TC_TIMEOUT_MS));
    e2e_note("200 messages published in %lld ms past a stuck subscriber (timeout 2 s)", (long long)cut_at);

    /* The stuck session is offline with a full queue: a v5 message that
     * only it would receive reached nobody. */
    CHECK_INT(tc_publish(pub, "only/t", "x", 1, false, NULL), 0x97);
}

/* --- 4. a paused publisher that goes away ------------------------------------------ */

static const struct e2e_limits pause_limits = {
    .max_inflight = 5, .max_queued_messages = 20, .slow_subscriber_timeout = 2};

/* The publisher is paused behind a stuck subscriber and then closes its
 * socket: the broker notices (its will is published) once the pause ends,
 * within the slow-subscriber timeout, not never. */
static void paused_publisher_close_is_noticed(void)
{
    int stuck = connect_with("stuck", 0, NULL);
    CHECK(stuck >= 0);
    small_rcvbuf(stuck);
    CHECK_INT(raw_subscribe_v5(stuck, 1, "p/t", 1, NULL), 0x01);
    struct tc *watch = tc_open("watch", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(watch);
    CHECK_INT(tc_subscribe(watch, "will/p", 1, 0, NULL), 1);
    int pub = connect_with("pub", 0, "will/p");
    CHECK(pub >= 0);
    small_sndbuf(pub);
    static char payload[1000];
    memset(payload, 'p', sizeof payload);
    struct pb pkt;
    int r = 1;
    long i = 0;
    for (; r == 1 && i < 100000; i++) {
        pkt.len = 0;
        raw_build_publish_v5(&pkt, "p/t", 1, false, false, next_id(i), NULL, payload, sizeof payload);
        r = send_or_stall(pub, pkt.b, pkt.len, 500);
    }
    e2e_note("publisher stopped after %ld messages (%d, %s)", i, r, strerror(errno));
    CHECK(r == 0); /* paused */
    raw_close(pub);
    CHECK(tc_wait_msgs(watch, 1, 15000));
    CHECK_STR(watch->msgs[0].payload, "gone");
}

#define ONLY "mqstated's queue, backlog and slow-subscriber bounds"

int main(int argc, char **argv)
{
    static const struct e2e_case cases[] = {
        {"watcher_that_stops_reading_is_cut", watcher_that_stops_reading_is_cut, &notify_limits, "state store"},
        {"requester_that_never_reads_is_paused", requester_that_never_reads_is_paused, &self_limits, "state store"},
        {"self_publisher_that_never_reads_is_paused", self_publisher_that_never_reads_is_paused, &self_limits, ONLY},
        {"requester_burst_is_served", requester_burst_is_served, &self_limits, "state store"},
        {"held_client_disconnect_is_honoured", held_client_disconnect_is_honoured, &self_limits, ONLY},
        {"requester_paused_by_stuck_reply_receiver", requester_paused_by_stuck_reply_receiver, &victim_limits,
         "state store"},
        {"ping_flood_without_reading_is_held", ping_flood_without_reading_is_held, &ping_limits, ONLY},
        {"stuck_subscriber_queue_bounded_in_bytes", stuck_subscriber_queue_bounded_in_bytes, &byte_limits, ONLY},
        {"slow_subscriber_is_disconnected", slow_subscriber_is_disconnected, &slow_limits, ONLY},
        {"paused_publisher_close_is_noticed", paused_publisher_close_is_noticed, &pause_limits, ONLY},
    };
    return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
