/* Node links in process (src/cluster/peer.h): peer_nets on one libuv
 * loop over 127.0.0.1, plain TCP. Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
