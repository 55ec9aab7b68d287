/* The in-process node link harness (peer_harness.h). */
#include "peer_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"

uint16_t tn_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void on_close_done(void *ctx)
{
    tnode *t = ctx;
    t->close_done = true;
    t->pn = NULL;
}

static void on_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *payload, size_t len)
{
    tnode *t = ctx;
    assert_false(t->closed);
    assert_true(from > 0 && from < TN_MAX_ID);
    assert_true(type >= PEER_TYPE_USER);
    uint64_t seq = 0;
    if (len >= 8) memcpy(&seq, payload, 8);
    if (seq != t->recv[from]) t->order_ok = false;
    t->recv[from]++;
    t->bytes[from] += len;
    if (t->close_in_frame) {
        t->closed = true;
        peer_net_close(t->pn, on_close_done, t);
    }
}

static void on_peer(void *ctx, uint64_t id, bool up)
{
    tnode *t = ctx;
    assert_true(id > 0 && id < TN_MAX_ID);
    assert_false(t->closed);
    if (up) t->ups[id]++;
    else t->downs[id]++;
}

int tn_send_seq(tnode *from, uint64_t to, uint64_t seq, size_t len)
{
    static uint8_t payload[1 << 16];
    assert_true(len >= 8 && len <= sizeof payload);
    memcpy(payload, &seq, 8);
    return peer_net_send(from->pn, to, PEER_TYPE_USER, payload, len);
}

void tn_start(uv_loop_t *loop, tnode *t, const char *cluster, const peer_member *members, size_t n,
              const peer_net_config *tmpl)
{
    peer_net_config cfg = {0};
    if (tmpl) cfg = *tmpl;
    cfg.cluster_name = cluster;
    cfg.self_id = t->id;
    cfg.listen_address = t->addr;
    cfg.members = members;
    cfg.n_members = n;
    cfg.cb.on_frame = on_frame;
    cfg.cb.on_peer = on_peer;
    cfg.ctx = t;
    t->order_ok = true;
    t->closed = false;
    char err[256] = "";
    t->pn = peer_net_new(loop, &cfg, err, sizeof err);
    if (!t->pn) fail_msg("peer_net_new %llu: %s", (unsigned long long)t->id, err);
}

static void on_closed(void *ctx) { *(bool *)ctx = true; }
static bool flag_set(void *ctx) { return *(bool *)ctx; }

void tn_stop(uv_loop_t *loop, tnode *t)
{
    bool done = false;
    t->closed = true; /* no callback may run after peer_net_close */
    peer_net_close(t->pn, on_closed, &done);
    assert_true(tn_run_until(loop, flag_set, &done, 10000));
    t->pn = NULL;
}

static void on_wake(uv_timer_t *h) { (void)h; }

bool tn_run_until(uv_loop_t *loop, bool (*cond)(void *ctx), void *ctx, unsigned timeout_ms)
{
    uv_timer_t wake; /* so that each uv_run returns within a few ms */
    uv_timer_init(loop, &wake);
    uv_timer_start(&wake, on_wake, 5, 5);
    uint64_t until = clock_now_ms() + timeout_ms;
    bool ok;
    while (!(ok = cond(ctx)) && clock_now_ms() < until) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

void tn_run_for(uv_loop_t *loop, unsigned ms) { (void)tn_run_until(loop, never, NULL, ms); }

void tn_loop_done(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(loop), 0);
}
