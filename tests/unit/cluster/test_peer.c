/* Node links in process (src/cluster/peer.h): peer_nets on one libuv
 * loop over 127.0.0.1, plain TCP. Every wait is bounded. */
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/peer_frame.h"
#include "util/buf.h"
#include "util/clock.h"

#include "peer_harness.h"

#define WAIT_MS 20000 /* generous: ASan on a shared 2-core machine */

typedef struct world {
    uv_loop_t loop;
    tnode t[5];
    peer_member m[5];
    size_t n;
} world;

/* n nodes with ids 1..n on free ports; none started. */
static void world_init(world *w, size_t n)
{
    memset(w, 0, sizeof *w);
    uv_loop_init(&w->loop);
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        w->t[i].id = i + 1;
        snprintf(w->t[i].addr, sizeof w->t[i].addr, "127.0.0.1:%u", tn_free_port());
        w->m[i] = (peer_member){.id = i + 1, .address = w->t[i].addr};
    }
}

static void world_done(world *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->t[i].pn) tn_stop(&w->loop, &w->t[i]);
    tn_loop_done(&w->loop);
}

static bool all_up(void *ctx)
{
    world *w = ctx;
    for (size_t i = 0; i < w->n; i++)
        for (size_t j = 0; j < w->n; j++)
            if (i != j && (!w->t[i].pn || !peer_net_up(w->t[i].pn, w->t[j].id))) return false;
    return true;
}

static void test_links_up_and_frames_in_order(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3);
    for (size_t i = 0; i < 3; i++) tn_start(&w.loop, &w.t[i], "c1", w.m, 3, NULL);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            if (i != j) assert_int_equal(w.t[i].ups[w.t[j].id], 1);
    /* 10 000 frames each way, sizes varying, sent in bursts. */
    enum { N = 10000 };
    uint64_t sent[3][3] = {{0}};
    bool done = false;
    uint64_t deadline = uv_now(&w.loop) + WAIT_MS;
    while (!done && uv_now(&w.loop) < deadline) {
        done = true;
        for (size_t i = 0; i < 3; i++) {
            for (size_t j = 0; j < 3; j++) {
                if (i == j) continue;
                while (sent[i][j] < N) {
                    size_t len = 8 + (size_t)(sent[i][j] * 7 % 300);
                    int r = tn_send_seq(&w.t[i], w.t[j].id, sent[i][j], len);
                    if (r == PEER_EFULL) break;
                    assert_int_equal(r, PEER_OK);
                    sent[i][j]++;
                    if (sent[i][j] % 1000 == 0) break; /* let the loop write */
                }
                if (sent[i][j] < N) done = false;
                if (w.t[j].recv[w.t[i].id] < N) done = false;
            }
        }
        uv_run(&w.loop, UV_RUN_NOWAIT);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_true(w.t[i].order_ok);
        for (size_t j = 0; j < 3; j++) {
            if (i == j) continue;
            assert_int_equal(w.t[j].recv[w.t[i].id], N);
            peer_stats st;
            assert_true(peer_net_stats(w.t[i].pn, w.t[j].id, &st));
            assert_int_equal(st.frames_out, N);
            assert_true(st.up);
            assert_int_equal(st.refused, 0);
            assert_true(peer_net_stats(w.t[j].pn, w.t[i].id, &st));
            assert_int_equal(st.frames_in, N);
        }
    }
    /* Nothing arrives as from self or an unknown node. */
    assert_int_equal(tn_send_seq(&w.t[0], 1, 0, 8), PEER_EUNKNOWN);
    assert_int_equal(tn_send_seq(&w.t[0], 9, 0, 8), PEER_EUNKNOWN);
    assert_int_equal(peer_net_send(w.t[0].pn, 2, PEER_TYPE_USER - 1, NULL, 0), PEER_ETYPE);
    assert_string_equal(peer_strerror(PEER_EFULL), "the node's outbound queue is full");
    world_done(&w);
}

typedef struct node_count {
    tnode *t;
    uint64_t id;
    int n;
} node_count;

static bool downs_reach(void *ctx)
{
    node_count *c = ctx;
    return c->t->downs[c->id] >= c->n;
}

static void test_redial_after_restart(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3);
    for (size_t i = 0; i < 3; i++) tn_start(&w.loop, &w.t[i], "c1", w.m, 3, NULL);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    tn_stop(&w.loop, &w.t[2]);
    node_count d1 = {&w.t[0], 3, 1}, d2 = {&w.t[1], 3, 1};
    assert_true(tn_run_until(&w.loop, downs_reach, &d1, WAIT_MS));
    assert_true(tn_run_until(&w.loop, downs_reach, &d2, WAIT_MS));
    assert_false(peer_net_up(w.t[0].pn, 3));
    assert_int_equal(tn_send_seq(&w.t[0], 3, 0, 8), PEER_EDOWN);
    /* Down for a while: several re-dials fail, with backoff. */
    tn_run_for(&w.loop, 600);
    assert_int_equal(tn_send_seq(&w.t[0], 3, 0, 8), PEER_EDOWN);
    peer_stats st;
    assert_true(peer_net_stats(w.t[0].pn, 3, &st));
    assert_false(st.up);
    assert_true(st.dials >= 3);
    assert_true(st.dials < 20); /* backoff, not a busy loop */
    /* The same node again on the same address: re-dialed, up again. */
    memset(w.t[2].recv, 0, sizeof w.t[2].recv);
    tn_start(&w.loop, &w.t[2], "c1", w.m, 3, NULL);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    assert_int_equal(w.t[0].ups[3], 2);
    assert_int_equal(w.t[1].ups[3], 2);
    assert_int_equal(tn_send_seq(&w.t[0], 3, 0, 8), PEER_OK);
    world_done(&w);
}

static bool queue_full(void *ctx)
{
    world *w = ctx;
    static uint64_t seq;
    if (w->t[0].recv[0] == 0) seq = 0; /* recv[0] is never used: a reset marker */
    for (int i = 0; i < 64; i++) {
        int r = tn_send_seq(&w->t[0], 2, seq, 1024);
        if (r == PEER_EFULL) return true;
        assert_int_equal(r, PEER_OK);
        seq++;
    }
    return false;
}

static bool received_all(void *ctx)
{
    world *w = ctx;
    peer_stats st;
    assert_true(peer_net_stats(w->t[0].pn, 2, &st));
    return w->t[1].recv[1] == st.frames_out;
}

static void test_efull_when_peer_paused(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2);
    peer_net_config tmpl = {.max_queue_bytes = 64 * 1024, .ping_ms = 100, .dead_ms = 600};
    for (size_t i = 0; i < 2; i++) tn_start(&w.loop, &w.t[i], "c1", w.m, 2, &tmpl);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    peer_net_pause(w.t[1].pn, 1);
    assert_true(tn_run_until(&w.loop, queue_full, &w, WAIT_MS));
    peer_stats st;
    assert_true(peer_net_stats(w.t[0].pn, 2, &st));
    assert_true(st.queue_bytes <= 64 * 1024);
    uint64_t before = w.t[1].recv[1];
    /* Paused for longer than dead_ms: pings keep both sides alive. */
    tn_run_for(&w.loop, 1500);
    assert_int_equal(w.t[1].recv[1], before);
    assert_int_equal(w.t[0].downs[2], 0);
    assert_true(peer_net_up(w.t[0].pn, 2));
    peer_net_resume(w.t[1].pn, 1);
    assert_true(tn_run_until(&w.loop, received_all, &w, WAIT_MS));
    assert_true(w.t[1].order_ok);
    assert_int_equal(w.t[0].downs[2], 0);
    world_done(&w);
}

static bool refused_seen(void *ctx)
{
    world *w = ctx;
    peer_stats a, b, c;
    return peer_net_stats(w->t[0].pn, 3, &a) && a.refused >= 1 && peer_net_stats(w->t[2].pn, 1, &b) && b.refused >= 1 &&
           peer_net_stats(w->t[3].pn, 1, &c) && c.refused >= 1;
}

static void test_wrong_cluster_and_non_member_refused(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4);
    /* 1 and 2 in "c1" with members 1, 2, 3; 3 thinks it is in "other";
     * id 4 is nobody's member but claims 1 as one. */
    tn_start(&w.loop, &w.t[0], "c1", w.m, 3, NULL);
    tn_start(&w.loop, &w.t[1], "c1", w.m, 3, NULL);
    tn_start(&w.loop, &w.t[2], "other", w.m, 3, NULL);
    peer_member m4[2] = {w.m[0], w.m[3]};
    tn_start(&w.loop, &w.t[3], "c1", m4, 2, NULL);
    assert_true(tn_run_until(&w.loop, refused_seen, &w, WAIT_MS));
    tn_run_for(&w.loop, 300);
    assert_false(peer_net_up(w.t[0].pn, 3));
    assert_false(peer_net_up(w.t[2].pn, 1));
    assert_false(peer_net_up(w.t[3].pn, 1));
    assert_int_equal(w.t[0].ups[3], 0);
    assert_int_equal(w.t[3].ups[1], 0);
    assert_true(peer_net_up(w.t[0].pn, 2)); /* the good pair is unaffected */
    assert_int_equal(tn_send_seq(&w.t[3], 1, 0, 8), PEER_EDOWN);
    peer_stats st;
    assert_true(peer_net_stats(w.t[1].pn, 3, &st));
    assert_true(st.refused >= 1);
    world_done(&w);
}

static bool got_down_and_up_again(void *ctx)
{
    world *w = ctx;
    return w->t[0].downs[2] >= 1 && peer_net_up(w->t[0].pn, 2);
}

static void test_max_frame_closes_link(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2);
    peer_net_config small = {.max_frame = 1000};
    tn_start(&w.loop, &w.t[0], "c1", w.m, 2, NULL);
    tn_start(&w.loop, &w.t[1], "c1", w.m, 2, &small);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    assert_int_equal(tn_send_seq(&w.t[1], 1, 0, 1000), PEER_ETOOBIG); /* its own bound: refused at send */
    assert_int_equal(tn_send_seq(&w.t[0], 2, 0, 2000), PEER_OK);      /* too big for the receiver */
    assert_true(tn_run_until(&w.loop, got_down_and_up_again, &w, WAIT_MS));
    assert_int_equal(w.t[1].recv[1], 0);
    assert_int_equal(tn_send_seq(&w.t[0], 2, 0, 999), PEER_OK); /* 1 + 999 = the receiver's max_frame: fits */
    world_done(&w);
}

static bool up_1_3(void *ctx)
{
    world *w = ctx;
    return peer_net_up(w->t[0].pn, 3) && peer_net_up(w->t[2].pn, 1) && peer_net_up(w->t[1].pn, 3) &&
           peer_net_up(w->t[2].pn, 2);
}

static bool three_lost_one(void *ctx)
{
    world *w = ctx;
    return w->t[2].downs[1] >= 1 && !peer_net_up(w->t[2].pn, 1);
}

static void test_runtime_add_remove(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3);
    /* 1 and 2 know only each other; 3 knows all. */
    tn_start(&w.loop, &w.t[0], "c1", w.m, 2, NULL);
    tn_start(&w.loop, &w.t[1], "c1", w.m, 2, NULL);
    tn_start(&w.loop, &w.t[2], "c1", w.m, 3, NULL);
    tn_run_for(&w.loop, 300);
    assert_false(peer_net_up(w.t[2].pn, 1));
    assert_false(peer_net_add(w.t[0].pn, 2, w.t[1].addr)); /* duplicate */
    assert_false(peer_net_add(w.t[0].pn, 1, w.t[0].addr)); /* self */
    assert_false(peer_net_add(w.t[0].pn, 0, w.t[2].addr));
    assert_false(peer_net_add(w.t[0].pn, 3, "127.0.0.1"));
    assert_false(peer_net_add(w.t[0].pn, 3, "127.0.0.1:99999"));
    assert_false(peer_net_add(w.t[0].pn, 3, "[::1:5"));
    assert_true(peer_net_add(w.t[0].pn, 3, w.t[2].addr));
    assert_true(peer_net_add(w.t[1].pn, 3, w.t[2].addr));
    assert_true(tn_run_until(&w.loop, up_1_3, &w, WAIT_MS));
    assert_int_equal(tn_send_seq(&w.t[2], 1, 0, 8), PEER_OK);
    /* Removed from 1: 1 reports it down, forgets it, and refuses it. */
    assert_true(peer_net_remove(w.t[0].pn, 3));
    assert_int_equal(w.t[0].downs[3], 1);
    assert_false(peer_net_remove(w.t[0].pn, 3));
    assert_int_equal(tn_send_seq(&w.t[0], 3, 0, 8), PEER_EUNKNOWN);
    peer_stats st;
    assert_false(peer_net_stats(w.t[0].pn, 3, &st));
    assert_true(tn_run_until(&w.loop, three_lost_one, &w, WAIT_MS));
    tn_run_for(&w.loop, 500);
    assert_false(peer_net_up(w.t[2].pn, 1));
    assert_true(peer_net_up(w.t[2].pn, 2));
    assert_int_equal(w.t[0].ups[3], 1);
    /* Removing a member while it is backing off, and while its name is
     * being looked up; closing with a lookup pending. */
    char nobody[32];
    snprintf(nobody, sizeof nobody, "127.0.0.1:%u", tn_free_port());
    assert_true(peer_net_add(w.t[0].pn, 4, nobody));
    tn_run_for(&w.loop, 200);
    assert_true(peer_net_stats(w.t[0].pn, 4, &st));
    assert_true(st.dials >= 2 && !st.up);
    assert_true(peer_net_remove(w.t[0].pn, 4));
    assert_true(peer_net_add(w.t[0].pn, 5, "localhost:9"));
    assert_true(peer_net_remove(w.t[0].pn, 5));
    assert_true(peer_net_add(w.t[0].pn, 6, "localhost:9"));
    assert_int_equal(w.t[0].ups[4] + w.t[0].downs[4] + w.t[0].ups[5] + w.t[0].downs[5], 0);
    world_done(&w);
}

/* A raw TCP client sends `in` to node t and reads until the node closes
 * (or 10 s pass); returns what came back and whether the close came. */
static bool raw_exchange(world *w, const tnode *t, const buf *in, buf *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(strchr(t->addr, ':') + 1))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, in->data, in->len), (ssize_t)in->len);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    bool eof = false;
    uint64_t until = clock_now_ms() + 10000;
    while (!eof && clock_now_ms() < until) {
        uv_run(&w->loop, UV_RUN_NOWAIT);
        uint8_t b[4096];
        ssize_t r = read(fd, b, sizeof b);
        if (r > 0) buf_append(out, b, (size_t)r);
        else if (r == 0 || errno != EAGAIN) eof = true;
        else usleep(1000);
    }
    close(fd);
    return eof;
}

/* What a node answers a raw client: *reason = the REFUSE reason, or 0
 * if the node closed without one (or -1 if it answered something else). */
static int raw_answer(world *w, const buf *in)
{
    buf out = {0};
    assert_true(raw_exchange(w, &w->t[0], in, &out));
    int reason = 0;
    peer_frame f;
    size_t used;
    if (out.len) {
        assert_int_equal(peer_frame_next(out.data, out.len, 64, &f, &used), PEER_FRAME_OK);
        reason = f.type == PEER_T_REFUSE ? peer_refuse_decode(f.payload, f.len) : -1;
    }
    buf_free(&out);
    return reason;
}

/* Bad input from the network: answered (REFUSE with the reason) or
 * closed, never delivered, never a crash (ASan). */
static void test_bad_input_refused_or_closed(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2);
    for (size_t i = 0; i < 2; i++) tn_start(&w.loop, &w.t[i], "c1", w.m, 2, NULL);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    buf in = {0};
    assert_true(peer_hello_append(&in, 2, 1, "c1"));
    in.data[PEER_FRAME_HEADER] = PEER_PROTOCOL_VERSION + 1;
    assert_int_equal(raw_answer(&w, &in), PEER_REFUSE_VERSION);
    in.len = 0;
    assert_true(peer_hello_append(&in, 2, 7, "c1")); /* meant for node 7 */
    assert_int_equal(raw_answer(&w, &in), PEER_REFUSE_TARGET);
    in.len = 0;
    assert_true(peer_hello_append(&in, 1, 1, "c1")); /* claims to be the node itself */
    assert_int_equal(raw_answer(&w, &in), PEER_REFUSE_MEMBER);
    in.len = 0;
    peer_frame_append(&in, PEER_TYPE_USER, (const uint8_t *)"12345678", 8); /* no HELLO first */
    assert_int_equal(raw_answer(&w, &in), 0);
    in.len = 0;
    buf_append(&in, "\0\0\0\0garbage", 11); /* an empty frame */
    assert_int_equal(raw_answer(&w, &in), 0);
    in.len = 0;
    buf_append(&in, "\xff\xff\xff\xff", 4); /* a 4 GiB frame announced */
    assert_int_equal(raw_answer(&w, &in), 0);
    in.len = 0;
    assert_true(peer_hello_append(&in, 2, 1, "c1"));
    in.data[PEER_FRAME_HEADER + 17] = 200; /* a name length beyond the frame */
    assert_int_equal(raw_answer(&w, &in), 0);
    in.len = 0;
    /* A valid HELLO, then a module type a dialer never sends. */
    assert_true(peer_hello_append(&in, 2, 1, "c1"));
    peer_frame_append(&in, PEER_T_HELLO_OK, NULL, 0);
    assert_int_equal(raw_answer(&w, &in), -1); /* HELLO_OK back, then the close */
    buf_free(&in);
    assert_int_equal(w.t[0].recv[2], 0);
    assert_true(peer_net_up(w.t[0].pn, 2)); /* the real link is unaffected */
    peer_stats st;
    assert_true(peer_net_stats(w.t[0].pn, 2, &st));
    assert_true(st.refused >= 1); /* the version refusal named member 2 */
    world_done(&w);
}

static bool close_done(void *ctx) { return ((tnode *)ctx)->close_done; }

/* peer_net_close from inside on_frame, with more frames in the same read:
 * no callback after it, everything released (ASan), and the other node
 * sees the link go down. */
static void test_close_from_callback(void **state)
{
    (void)state;
    world w;
    world_init(&w, 2);
    for (size_t i = 0; i < 2; i++) tn_start(&w.loop, &w.t[i], "c1", w.m, 2, NULL);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    w.t[1].close_in_frame = true;
    for (uint64_t s = 0; s < 100; s++) assert_int_equal(tn_send_seq(&w.t[0], 2, s, 64), PEER_OK);
    assert_true(tn_run_until(&w.loop, close_done, &w.t[1], WAIT_MS));
    assert_int_equal(w.t[1].recv[1], 1);
    node_count d = {&w.t[0], 2, 1};
    assert_true(tn_run_until(&w.loop, downs_reach, &d, WAIT_MS));
    world_done(&w);
}

static void never_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t len) { fail(); }
static void never_peer(void *ctx, uint64_t id, bool up) { fail(); }

static void test_bad_config(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char addr[32], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", tn_free_port());
    peer_member m[2] = {{1, addr}, {2, "127.0.0.1:1"}};
    tnode t = {.id = 1};
    snprintf(t.addr, sizeof t.addr, "%s", addr);
    tn_start(&loop, &t, "c1", m, 2, NULL);
    /* Port in use. */
    peer_net_config cfg = {.cluster_name = "c1", .self_id = 2, .listen_address = addr, .members = m, .n_members = 2};
    cfg.cb.on_frame = never_frame; /* never called: no net is made */
    cfg.cb.on_peer = never_peer;
    assert_null(peer_net_new(&loop, &cfg, err, sizeof err));
    assert_non_null(strstr(err, addr));
    cfg.listen_address = "localhost:5";
    assert_null(peer_net_new(&loop, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "listen address"));
    char addr2[32];
    snprintf(addr2, sizeof addr2, "127.0.0.1:%u", tn_free_port());
    cfg.listen_address = addr2;
    peer_member dup[2] = {{2, addr}, {2, addr}};
    cfg.members = dup;
    assert_null(peer_net_new(&loop, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "listed twice"));
    cfg.members = m;
    cfg.cluster_name = "";
    assert_null(peer_net_new(&loop, &cfg, err, sizeof err));
    cfg.cluster_name = "c1";
    peer_tls tls = {.cert_file = "/nonexistent/cert.pem", .key_file = "/nonexistent/key.pem", .ca_file = "/x"};
    cfg.tls = &tls;
    assert_null(peer_net_new(&loop, &cfg, err, sizeof err));
    if (!strstr(err, "cert_file /nonexistent/cert.pem")) fail_msg("%s", err);
    tn_stop(&loop, &t);
    tn_loop_done(&loop);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links_up_and_frames_in_order),
        cmocka_unit_test(test_redial_after_restart),
        cmocka_unit_test(test_efull_when_peer_paused),
        cmocka_unit_test(test_wrong_cluster_and_non_member_refused),
        cmocka_unit_test(test_max_frame_closes_link),
        cmocka_unit_test(test_runtime_add_remove),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_bad_input_refused_or_closed),
        cmocka_unit_test(test_close_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
