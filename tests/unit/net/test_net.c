/* net layer against a real libuv loop on 127.0.0.1:0, with plain
 * nonblocking sockets as clients so the test controls both ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "util/buf.h"
#include "util/clock.h"

enum mode { M_ECHO, M_BURST, M_BIG, M_CLOSE_IN_READ, M_COUNT_ONLY };

typedef struct server {
    uv_loop_t loop;
    net *n;
    net_listener *l;
    net_conn *conn;
    enum mode mode;
    bool refuse;
    int accepts, reads, closes, drains, close_error;
    size_t nread;
    size_t backlog_in_read;  /* backlog seen right after writing in on_read */
    bool closed_during_read; /* on_close ran re-entrantly: must stay false */
    bool in_read;
} server;

/* The user area holds a pointer to the test's server (net.h). */
static bool on_accept(void *ctx, net_conn *c, void *user)
{
    server *s = ctx;
    s->accepts++;
    if (s->refuse) return false;
    s->conn = c;
    *(server **)user = s;
    return true;
}

static void on_read(void *user, const uint8_t *data, size_t len)
{
    server *s = *(server **)user;
    s->in_read = true;
    s->reads++;
    s->nread += len;
    switch (s->mode) {
    case M_ECHO: net_conn_write(s->conn, data, len); break;
    case M_BURST: /* 1000 small packets appended straight to the outbuf */
        for (int i = 0; i < 1000; i++) {
            char rec[5];
            memcpy(rec, "r", 1);
            rec[1] = (char)('0' + i / 100 % 10);
            rec[2] = (char)('0' + i / 10 % 10);
            rec[3] = (char)('0' + i % 10);
            rec[4] = ';';
            buf_append(net_conn_outbuf(s->conn), rec, sizeof rec);
            net_conn_flush_later(s->conn);
        }
        s->backlog_in_read = net_conn_backlog(s->conn);
        break;
    case M_BIG: {
        static uint8_t chunk[64 * 1024];
        for (int i = 0; i < 64; i++) net_conn_write(s->conn, chunk, sizeof chunk);
        s->backlog_in_read = net_conn_backlog(s->conn);
        break;
    }
    case M_CLOSE_IN_READ:
        net_conn_write(s->conn, "bye", 3);
        net_conn_close(s->conn);
        net_conn_close(s->conn); /* idempotent */
        net_conn_write(s->conn, "late", 4);
        buf_append(net_conn_outbuf(s->conn), "lost", 4);
        net_conn_flush_later(s->conn);
        break;
    case M_COUNT_ONLY: break;
    }
    s->in_read = false;
}

static void on_close(void *user, int error)
{
    server *s = *(server **)user;
    if (s->in_read) s->closed_during_read = true;
    s->closes++;
    s->close_error = error;
    s->conn = NULL;
}

static void on_drain(void *user) { (*(server **)user)->drains++; }

static const net_conn_callbacks cbs = {.on_read = on_read, .on_close = on_close, .on_drain = on_drain};

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    server *s = calloc(1, sizeof *s);
    uv_loop_init(&s->loop);
    s->n = net_new(&s->loop);
    s->l = net_listen(s->n, "127.0.0.1", 0, sizeof(server *), on_accept, &cbs, s);
    assert_non_null(s->l);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    server *s = *state;
    net_shutdown(s->n);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    net_free(s->n);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    free(s);
    return 0;
}

/* Run the loop until cond() holds or 3 s pass. */
static bool pump(server *s, bool (*cond)(server *, void *), void *arg)
{
    uint64_t deadline = clock_now_ms() + 3000;
    while (!cond(s, arg)) {
        if (clock_now_ms() > deadline) return false;
        uv_run(&s->loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    return true;
}

static bool have_accepts(server *s, void *n) { return s->accepts >= *(int *)n; }
static bool have_closes(server *s, void *n) { return s->closes >= *(int *)n; }
static bool have_bytes(server *s, void *n) { return s->nread >= *(size_t *)n; }

static int client_connect(server *s, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(net_listener_port(s->l))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int one = 1;
    assert_true(pump(s, have_accepts, &one));
    return fd;
}

/* Read until `want` bytes or EOF, running the loop in between. Returns the
 * byte count; *eof tells whether the peer closed. */
static size_t client_read(server *s, int fd, uint8_t *out, size_t want, bool *eof)
{
    size_t got = 0;
    uint64_t deadline = clock_now_ms() + 3000;
    if (eof) *eof = false;
    while (got < want && clock_now_ms() < deadline) {
        uv_run(&s->loop, UV_RUN_NOWAIT);
        ssize_t r = read(fd, out + got, want - got);
        if (r > 0) got += (size_t)r;
        else if (r == 0) {
            if (eof) *eof = true;
            break;
        } else if (errno == EAGAIN) usleep(200);
        else break;
    }
    return got;
}

static void test_listener_port(void **state)
{
    server *s = *state;
    assert_int_not_equal(net_listener_port(s->l), 0);
    /* The same port again must fail to bind and return NULL. */
    assert_null(net_listen(s->n, "127.0.0.1", net_listener_port(s->l), sizeof(server *), on_accept, &cbs, s));
    assert_null(net_listen(s->n, "not-an-address", 0, sizeof(server *), on_accept, &cbs, s));
}

static void test_echo(void **state)
{
    server *s = *state;
    int fd = client_connect(s, 0);
    assert_non_null(s->conn);
    assert_true(strncmp(net_conn_peer(s->conn), "127.0.0.1:", 10) == 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    uint8_t got[16];
    assert_int_equal(client_read(s, fd, got, 5, NULL), 5);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(net_conn_backlog(s->conn), 0);
    close(fd);
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    assert_int_equal(s->close_error, 0);
    assert_int_equal(s->closes, 1);
}

static void test_ipv6(void **state)
{
    server *s = *state;
    net_listener *l6 = net_listen(s->n, "::1", 0, sizeof(server *), on_accept, &cbs, s);
    if (!l6) skip(); /* no IPv6 loopback on this host */
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(net_listener_port(l6))};
    inet_pton(AF_INET6, "::1", &a.sin6_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    assert_true(pump(s, have_accepts, &one));
    assert_true(strncmp(net_conn_peer(s->conn), "[::1]:", 6) == 0);
    close(fd);
}

static void test_batching(void **state)
{
    server *s = *state;
    s->mode = M_BURST;
    int fd = client_connect(s, 0);
    assert_int_equal(write(fd, "go", 2), 2);
    size_t two = 2;
    assert_true(pump(s, have_bytes, &two));
    /* Nothing was written during on_read: all 1000 records were pending. */
    assert_int_equal(s->backlog_in_read, 5000);
    /* One flush -> one segment: a single read returns everything. */
    usleep(20000);
    uint8_t got[8192];
    ssize_t r = read(fd, got, sizeof got);
    assert_int_equal(r, 5000);
    assert_memory_equal(got, "r000;r001;", 10);
    assert_memory_equal(got + 4995, "r999;", 5);
    assert_int_equal(net_conn_backlog(s->conn), 0);
    close(fd);
}

static void test_backlog_drain_and_pause(void **state)
{
    server *s = *state;
    s->mode = M_BIG;
    net_set_backlog_marks(s->n, 256 * 1024, 32 * 1024);
    int fd = client_connect(s, 4096);
    assert_int_equal(write(fd, "x", 1), 1);
    size_t one_byte = 1;
    assert_true(pump(s, have_bytes, &one_byte));
    assert_int_equal(s->backlog_in_read, 4u << 20);
    for (int i = 0; i < 20; i++) uv_run(&s->loop, UV_RUN_NOWAIT);
    /* The client is not reading: most of the 4 MiB is still pending. */
    assert_true(net_conn_backlog(s->conn) > 256 * 1024);
    assert_int_equal(s->drains, 0);

    /* Paused: bytes from the client are not delivered. */
    s->mode = M_COUNT_ONLY;
    net_conn_pause_read(s->conn);
    assert_int_equal(write(fd, "abc", 3), 3);
    for (int i = 0; i < 20; i++) {
        uv_run(&s->loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    assert_int_equal(s->nread, 1);

    static uint8_t sink[4u << 20];
    assert_int_equal(client_read(s, fd, sink, sizeof sink, NULL), sizeof sink);
    for (int i = 0; i < 20 && net_conn_backlog(s->conn); i++) uv_run(&s->loop, UV_RUN_NOWAIT);
    assert_int_equal(net_conn_backlog(s->conn), 0);
    assert_int_equal(s->drains, 1);

    net_conn_resume_read(s->conn);
    size_t four = 4;
    assert_true(pump(s, have_bytes, &four));
    close(fd);
}

static void test_close_from_read(void **state)
{
    server *s = *state;
    s->mode = M_CLOSE_IN_READ;
    int fd = client_connect(s, 0);
    assert_int_equal(write(fd, "q", 1), 1);
    uint8_t got[16];
    bool eof;
    size_t n = client_read(s, fd, got, sizeof got, &eof);
    assert_int_equal(n, 3);
    assert_memory_equal(got, "bye", 3);
    assert_true(eof);
    close(fd); /* ends the server's lingering close at once */
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    for (int i = 0; i < 10; i++) uv_run(&s->loop, UV_RUN_NOWAIT);
    assert_int_equal(s->closes, 1);
    assert_false(s->closed_during_read);
    assert_int_equal(s->close_error, 0);
}

/* Run the loop for ms milliseconds. */
static void run_for(server *s, unsigned ms)
{
    uint64_t until = clock_now_ms() + ms;
    while (clock_now_ms() < until) {
        uv_run(&s->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

/* After closing, the server reads and drops what the peer still sends,
 * sends its FIN after the last byte and waits for the peer's: the peer
 * reads everything and an orderly EOF, never a reset. */
static void test_lingering_close(void **state)
{
    server *s = *state;
    s->mode = M_CLOSE_IN_READ;
    int fd = client_connect(s, 0);
    assert_int_equal(write(fd, "q", 1), 1);
    run_for(s, 50);
    static uint8_t late[256 * 1024];
    assert_int_equal(write(fd, late, sizeof late), sizeof late); /* dropped, not buffered */
    run_for(s, 200);
    uint8_t got[16];
    bool eof;
    assert_int_equal(client_read(s, fd, got, sizeof got, &eof), 3);
    assert_memory_equal(got, "bye", 3);
    assert_true(eof);
    assert_int_equal(s->closes, 0); /* lingering: waits for our FIN */
    assert_int_equal(s->nread, 1);
    close(fd);
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    assert_int_equal(s->close_error, 0);
}

/* A peer that never closes its side gets 2 s. */
static void test_linger_is_bounded(void **state)
{
    server *s = *state;
    s->mode = M_CLOSE_IN_READ;
    int fd = client_connect(s, 0);
    assert_int_equal(write(fd, "q", 1), 1);
    uint64_t t0 = clock_now_ms();
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    uint64_t took = clock_now_ms() - t0;
    assert_true(took >= 1500 && took < 3000);
    assert_int_equal(s->close_error, 0);
    close(fd);
}

/* A peer that reads nothing: the close is reset after close_timeout
 * without progress, and the output memory goes with it. */
static void test_close_without_progress_resets(void **state)
{
    server *s = *state;
    s->mode = M_BIG;
    net_set_close_timeout(s->n, 1);
    int fd = client_connect(s, 4096);
    assert_int_equal(write(fd, "x", 1), 1);
    size_t one_byte = 1;
    assert_true(pump(s, have_bytes, &one_byte));
    net_conn_close(s->conn);
    uint64_t t0 = clock_now_ms();
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    uint64_t took = clock_now_ms() - t0;
    assert_true(took >= 900 && took < 2500);
    assert_int_equal(s->close_error, UV_ETIMEDOUT);
    close(fd);
}

/* A peer that keeps the close alive by reading slowly is reset when the
 * whole close reaches four times close_timeout. */
static void test_slow_reader_close_is_bounded(void **state)
{
    server *s = *state;
    s->mode = M_BIG;
    net_set_close_timeout(s->n, 1);
    int fd = client_connect(s, 4096);
    assert_int_equal(write(fd, "x", 1), 1);
    size_t one_byte = 1;
    assert_true(pump(s, have_bytes, &one_byte));
    net_conn_close(s->conn);
    uint64_t t0 = clock_now_ms(), last_read = t0;
    static uint8_t sink[32 * 1024];
    size_t total = 0;
    while (s->closes == 0 && clock_now_ms() - t0 < 8000) {
        uv_run(&s->loop, UV_RUN_NOWAIT);
        usleep(1000);
        if (clock_now_ms() - last_read >= 300) { /* 32 KiB every 300 ms: 4 MiB would take 40 s */
            ssize_t r = read(fd, sink, sizeof sink);
            if (r > 0) total += (size_t)r;
            last_read = clock_now_ms();
        }
    }
    uint64_t took = clock_now_ms() - t0;
    assert_int_equal(s->closes, 1);
    assert_int_equal(s->close_error, UV_ETIMEDOUT);
    assert_true(took >= 2000 && took < 6000); /* past one timeout (progress), within the bound */
    assert_true(total < (4u << 20));
    close(fd);
}

/* Connections not yet established count per address. */
static void test_pending_per_address(void **state)
{
    server *s = *state;
    s->mode = M_COUNT_ONLY;
    net_set_max_pending_per_address(s->n, 1);
    int a = client_connect(s, 0);
    net_conn *first = s->conn;
    int b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(net_listener_port(s->l))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal(connect(b, (struct sockaddr *)&addr, sizeof addr), 0);
    fcntl(b, F_SETFL, O_NONBLOCK);
    uint8_t got[4];
    bool eof;
    assert_int_equal(client_read(s, b, got, sizeof got, &eof), 0);
    assert_true(eof); /* closed without reaching on_accept */
    assert_int_equal(s->accepts, 1);
    net_conn_established(first);
    int c = client_connect(s, 0); /* room again */
    int two = 2;
    assert_true(pump(s, have_accepts, &two));
    close(a);
    close(b);
    close(c);
}

static void test_refuse(void **state)
{
    server *s = *state;
    s->refuse = true;
    int fd = client_connect(s, 0);
    uint8_t got[4];
    bool eof;
    assert_int_equal(client_read(s, fd, got, sizeof got, &eof), 0);
    assert_true(eof);
    assert_int_equal(s->closes, 0);
    close(fd);
}

static void test_reset_reports_error(void **state)
{
    server *s = *state;
    s->mode = M_COUNT_ONLY;
    int fd = client_connect(s, 0);
    uv_run(&s->loop, UV_RUN_NOWAIT);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd); /* RST */
    int one = 1;
    assert_true(pump(s, have_closes, &one));
    assert_int_not_equal(s->close_error, 0);
}

static void test_shutdown_closes_all(void **state)
{
    server *s = *state;
    s->mode = M_COUNT_ONLY;
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = client_connect(s, 0);
        int want = i + 1;
        assert_true(pump(s, have_accepts, &want));
    }
    net_conn_write(s->conn, "bye", 3); /* best-effort flush at shutdown */
    net_shutdown(s->n);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_int_equal(s->closes, 3);
    uint8_t got[8];
    assert_int_equal(read(fds[2], got, sizeof got), 3);
    for (int i = 0; i < 3; i++) close(fds[i]);
}

/* Outbound connections (net_dialer, net_connect): bytes written before
 * on_open wait for the connect; a refused connect and a close while
 * connecting end in on_close without on_open. */
typedef struct dialed {
    net_conn *c;
    int opens, closes, close_error;
    buf in;
} dialed;

static void dialed_open(void *user) { (*(dialed **)user)->opens++; }
static void dialed_read(void *user, const uint8_t *data, size_t len) { buf_append(&(*(dialed **)user)->in, data, len); }
static void dialed_close(void *user, int error)
{
    dialed *d = *(dialed **)user;
    d->closes++;
    d->close_error = error;
}
static const net_conn_callbacks dialed_cbs = {.on_read = dialed_read, .on_close = dialed_close, .on_open = dialed_open};

static bool dialed_echoed(server *s, void *arg) { return ((dialed *)arg)->in.len >= 5; }
static bool dialed_closed(server *s, void *arg) { return ((dialed *)arg)->closes > 0; }

static void dial(net_listener *d, uint16_t port, dialed *out)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    void *user;
    out->c = net_connect(d, (struct sockaddr *)&a, NULL, &user);
    assert_non_null(out->c);
    *(dialed **)user = out;
}

static void test_connect_outbound(void **state)
{
    server *s = *state;
    net_listener *d = net_dialer(s->n, sizeof(dialed *), &dialed_cbs, NULL);
    dialed ok = {0};
    dial(d, net_listener_port(s->l), &ok);
    net_conn_write(ok.c, "hello", 5); /* before the connect completed */
    assert_true(pump(s, dialed_echoed, &ok));
    assert_int_equal(ok.opens, 1);
    assert_memory_equal(ok.in.data, "hello", 5);
    assert_true(strncmp(net_conn_peer(ok.c), "127.0.0.1:", 10) == 0);
    net_conn_close(ok.c);
    assert_true(pump(s, dialed_closed, &ok));
    assert_int_equal(ok.close_error, 0);
    buf_free(&ok.in);

    /* Nobody listens on a port just released. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    dialed refused = {0};
    dial(d, ntohs(a.sin_port), &refused);
    assert_true(pump(s, dialed_closed, &refused));
    assert_int_equal(refused.opens, 0);
    assert_int_equal(refused.close_error, UV_ECONNREFUSED);

    dialed aborted = {0};
    dial(d, net_listener_port(s->l), &aborted);
    net_conn_close(aborted.c);
    assert_true(pump(s, dialed_closed, &aborted));
    assert_int_equal(aborted.opens, 0);
    assert_int_equal(aborted.closes, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listener_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_outbound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_drain_and_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_reports_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_closes_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lingering_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linger_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_without_progress_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader_close_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_per_address, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
