/* How connections end and what a connection may cost before it has
 * authenticated: bounded closes for peers that stop reading, lingering
 * closes that let the peer read the last DISCONNECT, the CONNECT size cap
 * and the per-address limit of connections not yet past CONNACK. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "rawclient.h"

/* --- helpers ----------------------------------------------------------------- */

/* Open file descriptors of the broker (its sockets among them). */
static int broker_fds(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)e2e_broker_pid());
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Waits until the broker has at most `want` descriptors open. */
static bool broker_fds_fall_to(int want, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    while (broker_fds() > want) {
        if (e2e_now_ms() > deadline) return false;
        e2e_sleep_ms(50);
    }
    return true;
}

/* A connection with a tiny receive buffer, so that the broker's output to
 * it piles up once the test stops reading. Not tracked by raw_close_all. */
static int open_small_rcvbuf(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int size = 4096, one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* v5 CONNECT with the given keep alive, CONNACK, SUBSCRIBE QoS 0. */
static bool connect_and_subscribe(int fd, const char *id, uint16_t keepalive, const char *filter)
{
    struct pb pkt = {0};
    struct raw_pkt ack;
    raw_build_connect_v5(&pkt, id, true, keepalive, NULL);
    if (!raw_send_pb(fd, &pkt) || raw_recv(fd, &ack, 5000) != RAW_OK) return false;
    bool ok = ack.type == 2 && raw_reason_code(&ack) == 0;
    raw_pkt_free(&ack);
    return ok && raw_subscribe_v5(fd, 1, filter, 0, NULL) == 0;
}

static bool publish_qos0(int fd, const char *topic, size_t size, int count)
{
    static char payload[8000];
    memset(payload, 'x', sizeof payload);
    struct pb pkt = {0};
    raw_build_publish_v5(&pkt, topic, 0, false, false, 0, NULL, payload, size < sizeof payload ? size : sizeof payload);
    for (int i = 0; i < count; i++)
        if (!raw_send_pb(fd, &pkt)) return false;
    return true;
}

/* Whether the broker's log has a line containing both strings. */
static bool log_has(const char *a, const char *b)
{
    FILE *f = fopen(e2e_log_path(), "r");
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, a) && (!b || strstr(line, b));
    if (f) fclose(f);
    return found;
}

/* --- a close must end even if the peer never reads ---------------------------- */

#ifndef STUCK_PEERS /* -D for measurements */
#define STUCK_PEERS 20
#endif

static void stuck_readers_released(void)
{
    e2e_sleep_ms(200); /* the harness's probe connection is gone */
    int fds0 = broker_fds();
    long rss0 = e2e_broker_rss_kib();
    int stuck[STUCK_PEERS];
    for (int i = 0; i < STUCK_PEERS; i++) {
        char id[32];
        snprintf(id, sizeof id, "stuck%d", i);
        stuck[i] = open_small_rcvbuf(e2e_port());
        CHECK(stuck[i] >= 0);
        /* Keep alive 2 s: the broker closes them 3 s after their last packet. */
        CHECK(connect_and_subscribe(stuck[i], id, 2, "flood/#"));
    }
    int pub = raw_connect_v5(e2e_port(), "flooder", true, NULL, NULL);
    CHECK(pub >= 0);
    /* 8 MB to each subscriber, who reads none of it: more than the
     * kernel's socket buffers take (up to 4 MiB), so the broker's own
     * output buffers stay full (max_backlog_bytes; the rest is dropped). */
    CHECK(publish_qos0(pub, "flood/x", 8000, 1000));
    e2e_sleep_ms(500);
    int fds_stuck = broker_fds();
    long rss_stuck = e2e_broker_rss_kib();
    CHECK(fds_stuck >= fds0 + STUCK_PEERS + 1);
    /* Keep-alive timeout (3 s), then close_timeout (1 s) without progress:
     * the broker must let go of them while they are still connected. */
    bool released = broker_fds_fall_to(fds0 + 1, 15000);
    e2e_sleep_ms(500); /* the memory goes in the close callbacks, right after the fds */
    e2e_note("broker fds %d -> %d with %d stuck peers -> %d; RSS %ld -> %ld -> %ld KiB", fds0, fds_stuck, STUCK_PEERS,
             broker_fds(), rss0, rss_stuck, e2e_broker_rss_kib());
    for (int i = 0; i < STUCK_PEERS; i++) close(stuck[i]);
    CHECK(released);
    /* The publisher is unaffected. */
    CHECK(publish_qos0(pub, "flood/x", 10, 1));
    struct pb ping = {0}, empty = {0};
    pb_packet(&ping, 0xC0, &empty);
    CHECK(raw_send_pb(pub, &ping));
    struct raw_pkt resp;
    CHECK_INT(raw_recv_type(pub, 13, &resp, 5000), RAW_OK);
    raw_pkt_free(&resp);
}

/* --- lingering close: the peer can read the DISCONNECT ----------------------------- */

/* Reads everything until the broker's side ends; reports whether it ended
 * with an orderly FIN (not a reset) and the DISCONNECT reason seen. */
static bool read_to_end(int fd, int timeout_ms, int *disconnect_rc)
{
    size_t cap = 1 << 20, len = 0;
    uint8_t *data = malloc(cap);
    bool eof = false;
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        int wait = (int)(deadline - e2e_now_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (wait <= 0 || poll(&pfd, 1, wait) <= 0) break;
        if (len == cap) data = realloc(data, cap *= 2);
        ssize_t n = recv(fd, data + len, cap - len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            eof = n == 0;
            if (n < 0) e2e_note("read ended with %s after %zu bytes", strerror(errno), len);
            break;
        }
        len += (size_t)n;
    }
    /* Walk the packets for the DISCONNECT. */
    *disconnect_rc = -1;
    for (size_t off = 0; off < len;) {
        size_t i = off + 1, rem = 0;
        for (int shift = 0; i < len && shift <= 21; shift += 7) {
            rem |= (size_t)(data[i] & 0x7f) << shift;
            if (!(data[i++] & 0x80)) break;
        }
        if (i + rem > len) break;
        if (data[off] >> 4 == 14) *disconnect_rc = rem ? data[i] : 0;
        off = i + rem;
    }
    free(data);
    return eof;
}

static const struct e2e_limits receive_max_2 = {.receive_maximum = 2};

static void disconnect_readable_while_peer_sends(void)
{
    int fd = open_small_rcvbuf(e2e_port());
    CHECK(fd >= 0);
    CHECK(connect_and_subscribe(fd, "echo", 60, "echo/#"));
    /* 512 KB echoed back that we do not read yet: the DISCONNECT will wait
     * behind it in the broker's output. */
    CHECK(publish_qos0(fd, "echo/x", 8000, 64));
    struct pb pkt = {0};
    for (uint16_t id = 1; id <= 3; id++) { /* the third exceeds Receive Maximum 2 */
        raw_build_publish_v5(&pkt, "in/q2", 2, false, false, id, NULL, "v", 1);
        CHECK(raw_send_pb(fd, &pkt));
    }
    /* Still sending while the broker closes (a PUBREL-sending client). */
    e2e_sleep_ms(200);
    for (int i = 0; i < 8; i++) {
        raw_build_publish_v5(&pkt, "in/late", 0, false, false, 0, NULL, "late", 4);
        (void)raw_send_pb(fd, &pkt);
    }
    e2e_sleep_ms(300);
    int rc = -1;
    bool orderly = read_to_end(fd, 10000, &rc);
    close(fd);
    CHECK_INT(rc, 0x93); /* Receive Maximum exceeded */
    CHECK(orderly);
}

/* --- before authentication ------------------------------------------------------ */

/* The first bytes of a CONNECT announcing `remaining` bytes: fixed header,
 * protocol name and level (then whatever the caller sends). */
static void big_connect_head(struct pb *out, uint8_t level, uint32_t remaining)
{
    out->len = 0;
    pb_u8(out, 0x10);
    pb_varint(out, remaining);
    pb_str(out, "MQTT");
    pb_u8(out, level);
    pb_u8(out, 0x02);
    pb_u16(out, 60);
}

static void big_connect_refused_early(void)
{
    static uint8_t junk[64 * 1024];
    struct pb head = {0};
    /* v5: CONNACK 0x95 before the body is read. */
    int fd = raw_open(e2e_port());
    CHECK(fd >= 0);
    big_connect_head(&head, 5, 16 * 1024 * 1024 - 16);
    CHECK(raw_send_pb(fd, &head));
    (void)raw_send(fd, junk, sizeof junk); /* may fail: the broker is closing */
    struct raw_pkt ack;
    CHECK_INT(raw_recv_type(fd, 2, &ack, 5000), RAW_OK);
    int rc = raw_reason_code(&ack);
    raw_pkt_free(&ack);
    CHECK_INT(rc, 0x95);
    CHECK(raw_wait_closed(fd, 5000, NULL));

    /* 8 clients sending most of a 16 MiB CONNECT each (v3.1.1: closed
     * without an answer) cost the broker next to nothing. */
    e2e_sleep_ms(200);
    long rss0 = e2e_broker_rss_kib();
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = raw_open(e2e_port());
        CHECK(fds[i] >= 0);
        big_connect_head(&head, 4, 16 * 1024 * 1024 - 16);
        CHECK(raw_send_pb(fds[i], &head));
    }
#ifndef BIG_CONNECT_ROUNDS /* -D for measurements (240: 15 MiB each) */
#define BIG_CONNECT_ROUNDS 64
#endif
    for (int round = 0; round < BIG_CONNECT_ROUNDS; round++) /* 4 MiB each, unless refused */
        for (int i = 0; i < 8; i++) (void)raw_send(fds[i], junk, sizeof junk);
    long rss1 = e2e_broker_rss_kib();
    e2e_note("RSS %ld -> %ld KiB with 8 clients sending large CONNECTs", rss0, rss1);
    for (int i = 0; i < 8; i++) CHECK(raw_wait_closed(fds[i], 5000, NULL));
    CHECK(rss1 - rss0 < 16 * 1024);
}

static void connect_within_limit_accepted(void)
{
    /* A CONNECT of 40 KiB is within the 64 KiB default. */
    static char big[40 * 1024];
    memset(big, 'u', sizeof big - 1);
    int fd = raw_open(e2e_port());
    CHECK(fd >= 0);
    /* The 40 KiB go in the Will payload. */
    struct pb body = {0}, pkt = {0};
    pb_str(&body, "MQTT");
    pb_u8(&body, 5);
    pb_u8(&body, 0x02 | 0x04); /* clean start, will flag */
    pb_u16(&body, 60);
    pb_varint(&body, 0); /* no properties */
    pb_str(&body, "sized");
    pb_varint(&body, 0); /* will properties */
    pb_str(&body, "will/t");
    CHECK(body.len + 2 + sizeof big < 64 * 1024);
    /* pb holds 8 KiB: send header, body start and the will payload apart. */
    uint32_t rem = (uint32_t)(body.len + 2 + sizeof big);
    pkt.len = 0;
    pb_u8(&pkt, 0x10);
    pb_varint(&pkt, rem);
    CHECK(raw_send_pb(fd, &pkt));
    CHECK(raw_send_pb(fd, &body));
    uint8_t len2[2] = {(uint8_t)(sizeof big >> 8), (uint8_t)(sizeof big & 0xff)};
    CHECK(raw_send(fd, len2, 2));
    CHECK(raw_send(fd, big, sizeof big));
    struct raw_pkt ack;
    CHECK_INT(raw_recv(fd, &ack, 5000), RAW_OK);
    int rc = raw_reason_code(&ack);
    uint8_t type = ack.type;
    raw_pkt_free(&ack);
    CHECK_INT(type, 2);
    CHECK_INT(rc, 0);
}

static void pending_per_address_limited(void)
{
    e2e_sleep_ms(200); /* the harness's probe connection is gone */
    int idle[3];
    for (int i = 0; i < 3; i++) {
        idle[i] = raw_open(e2e_port());
        CHECK(idle[i] >= 0);
    }
    e2e_sleep_ms(200);
    /* A fourth connection without CONNACK from 127.0.0.1: closed at once. */
    int extra = raw_open(e2e_port());
    CHECK(extra >= 0);
    CHECK(raw_wait_closed(extra, 3000, NULL));
    CHECK(log_has("refused 1 connection (too many connections not yet established", "127.0.0.1:"));
    /* Once one of them has connected, there is room for another. */
    struct pb pkt = {0};
    struct raw_pkt ack;
    raw_build_connect_v5(&pkt, "first", true, 60, NULL);
    CHECK(raw_send_pb(idle[0], &pkt));
    CHECK_INT(raw_recv(idle[0], &ack, 5000), RAW_OK);
    raw_pkt_free(&ack);
    int late = raw_connect_v5(e2e_port(), "late", true, NULL, NULL);
    CHECK(late >= 0);
    /* Connected clients do not count: many more may connect. */
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "more%d", i);
        CHECK(raw_connect_v5(e2e_port(), id, true, NULL, NULL) >= 0);
    }
}

/* --- out of file descriptors, peers that reset --------------------------------- */

/* CPU time (user + system) the broker used, in clock ticks. */
static long broker_cpu_ticks(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)e2e_broker_pid());
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2) return -1;
    return utime + stime;
}

#define FD_LIMIT 40

static void out_of_fds_refused_and_logged(void)
{
    e2e_sleep_ms(200);
    /* Fill the broker's descriptor table with connected clients. */
    int conns[FD_LIMIT], nconns = 0, refused = 0;
    for (int i = 0; i < FD_LIMIT; i++) {
        char id[16];
        snprintf(id, sizeof id, "fill%d", i);
        int fd = raw_connect_v5(e2e_port(), id, true, NULL, NULL);
        if (fd >= 0) conns[nconns++] = fd;
        else refused++;
    }
    e2e_note("%d connected, %d refused under a limit of %d descriptors", nconns, refused, FD_LIMIT);
    CHECK(nconns >= 5);
    CHECK(refused > 0);
    /* More arrive while it is full: each is closed at once, and the
     * broker does not spin. */
    long cpu0 = broker_cpu_ticks();
    int64_t t0 = e2e_now_ms();
    for (int i = 0; i < 10; i++) {
        int fd = raw_open(e2e_port());
        CHECK(fd >= 0);
        CHECK(raw_wait_closed(fd, 3000, NULL));
        raw_close(fd);
    }
    e2e_sleep_ms(1000);
    long cpu = broker_cpu_ticks() - cpu0, wall = (e2e_now_ms() - t0) / 10; /* ticks are 10 ms */
    e2e_note("broker CPU %ld ticks in %ld", cpu, wall);
    CHECK(cpu < wall / 2);
    CHECK(log_has("refused 1 connection (out of file descriptors", "127.0.0.1:"));
    /* The rest are counted into one line a second. */
    CHECK(log_has("connections (out of file descriptors", "127.0.0.1:"));
    /* Descriptors freed: connections are accepted again. */
    for (int i = 0; i < nconns; i++) raw_close(conns[i]);
    e2e_sleep_ms(500);
    CHECK(raw_connect_v5(e2e_port(), "again", true, NULL, NULL) >= 0);
}

/* A peer that resets before the broker gets to it is logged with its
 * address (accept() reports it even when getpeername() no longer can). */
static void reset_before_accept_logged_with_address(void)
{
    kill(e2e_broker_pid(), SIGSTOP);
    int fd = raw_open(e2e_port());
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    bool ok = fd >= 0 && getsockname(fd, (struct sockaddr *)&local, &len) == 0;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (ok) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (fd >= 0) raw_close(fd); /* RST while the broker cannot accept */
    kill(e2e_broker_pid(), SIGCONT);
    CHECK(ok);
    char peer[32];
    snprintf(peer, sizeof peer, "127.0.0.1:%u", ntohs(local.sin_port));
    bool logged = false;
    for (int i = 0; i < 40 && !logged; i++) {
        e2e_sleep_ms(50);
        logged = log_has(peer, NULL);
    }
    CHECK(logged);
    CHECK(!log_has("?:0", NULL));
}

static const struct e2e_case cases[] = {
    {"stuck_readers_released", stuck_readers_released, NULL, "close_timeout is mqstated's",
     "limits:\n  close_timeout: 1\n"},
    {"disconnect_readable_while_peer_sends", disconnect_readable_while_peer_sends, &receive_max_2,
     "Mosquitto 2.0.11's DISCONNECT 0x93 does not reach a peer that is still sending"},
    {"big_connect_refused_early", big_connect_refused_early, NULL, "max_connect_size is mqstated's"},
    {"connect_within_limit_accepted", connect_within_limit_accepted},
    {"pending_per_address_limited", pending_per_address_limited, NULL, "max_pending_per_address is mqstated's",
     "limits:\n  max_pending_per_address: 3\n"},
    {"out_of_fds_refused_and_logged", out_of_fds_refused_and_logged, NULL, "the log line is mqstated's", NULL,
     FD_LIMIT},
    {"reset_before_accept_logged_with_address", reset_before_accept_logged_with_address, NULL,
     "the log line is mqstated's"},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
