/* Node links over mutual TLS (src/cluster/peer.h): certificates made at
 * test time by peer_certs.sh into a temporary directory (removed after).
 * Every node's certificate names 127.0.0.1 in an IP SAN; the refusals:
 * a certificate from another CA, one naming another host, and a client
 * with no certificate at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/peer_frame.h"
#include "net/net.h"
#include "net/tls.h"
#include "peer_harness.h"

#define WAIT_MS 20000

static char dir[] = "/tmp/mqs-peer-tls-XXXXXX";

static int setup(void **state)
{
    (void)state;
    char cmd[512];
    if (!mkdtemp(dir)) return -1;
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", PEER_CERTS_SH, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct node_tls {
    char cert[128], key[128], ca[128];
    peer_tls tls;
} node_tls;

/* The TLS settings of a node presenting certificate `name`, trusting ca.pem. */
static void tls_of(node_tls *t, const char *name)
{
    snprintf(t->cert, sizeof t->cert, "%s/%s.pem", dir, name);
    snprintf(t->key, sizeof t->key, "%s/%s.key", dir, name);
    snprintf(t->ca, sizeof t->ca, "%s/ca.pem", dir);
    t->tls = (peer_tls){.cert_file = t->cert, .key_file = t->key, .ca_file = t->ca};
}

typedef struct world {
    uv_loop_t loop;
    tnode t[3];
    peer_member m[3];
    char maddr[3][48]; /* member addresses: host as given, the listener's port */
    node_tls tls[3];
} world;

/* Three nodes listening on 127.0.0.1, known to each other as host:port;
 * node i presents certificate names[i]. */
static void world_start_as(world *w, const char *const names[3], const char *host)
{
    memset(w, 0, sizeof *w);
    uv_loop_init(&w->loop);
    for (int i = 0; i < 3; i++) {
        w->t[i].id = (uint64_t)i + 1;
        snprintf(w->t[i].addr, sizeof w->t[i].addr, "127.0.0.1:%u", tn_free_port());
        snprintf(w->maddr[i], sizeof w->maddr[i], "%s:%s", host, strchr(w->t[i].addr, ':') + 1);
        w->m[i] = (peer_member){.id = (uint64_t)i + 1, .address = w->maddr[i]};
    }
    for (int i = 0; i < 3; i++) {
        tls_of(&w->tls[i], names[i]);
        peer_net_config tmpl = {.tls = &w->tls[i].tls};
        tn_start(&w->loop, &w->t[i], "c1", w->m, 3, &tmpl);
    }
}

static void world_start(world *w, const char *const names[3]) { world_start_as(w, names, "127.0.0.1"); }

static void world_done(world *w)
{
    for (int i = 0; i < 3; i++) tn_stop(&w->loop, &w->t[i]);
    tn_loop_done(&w->loop);
}

static bool all_up(void *ctx)
{
    world *w = ctx;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j && !peer_net_up(w->t[i].pn, w->t[j].id)) return false;
    return true;
}

static bool got_100(void *ctx)
{
    world *w = ctx;
    return w->t[1].recv[1] == 100 && w->t[0].recv[3] == 100;
}

static void test_tls_mutual_links_up(void **state)
{
    (void)state;
    world w;
    const char *const names[3] = {"n1", "n2", "n3"};
    world_start(&w, names);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    for (uint64_t s = 0; s < 100; s++) {
        assert_int_equal(tn_send_seq(&w.t[0], 2, s, 8 + (size_t)s * 100), PEER_OK);
        assert_int_equal(tn_send_seq(&w.t[2], 1, s, 8 + (size_t)s * 100), PEER_OK);
    }
    assert_true(tn_run_until(&w.loop, got_100, &w, WAIT_MS));
    assert_true(w.t[1].order_ok && w.t[0].order_ok);
    peer_stats st;
    assert_true(peer_net_stats(w.t[0].pn, 3, &st));
    assert_int_equal(st.refused, 0);
    world_done(&w);
}

static void expect_node3_out(world *w);

/* Members named by a DNS name: resolved at each dial, and the
 * certificates checked against the name (X509_check_host, both sides). */
static void test_tls_dns_names(void **state)
{
    (void)state;
    world w;
    const char *const names[3] = {"n1", "n2", "n3"};
    world_start_as(&w, names, "localhost");
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    world_done(&w);
    /* "wronghost" names elsewhere.example, not localhost: refused. */
    const char *const bad[3] = {"n1", "n2", "wronghost"};
    world_start_as(&w, bad, "localhost");
    expect_node3_out(&w);
    world_done(&w);
}

static bool node3_refused(void *ctx)
{
    world *w = ctx;
    peer_stats a, b;
    return peer_net_stats(w->t[0].pn, 3, &a) && a.refused >= 1 && peer_net_stats(w->t[1].pn, 3, &b) && b.refused >= 1 &&
           peer_net_up(w->t[0].pn, 2) && peer_net_up(w->t[1].pn, 1);
}

/* Node 3's certificate, whatever is wrong with it, keeps it out both
 * ways while 1 and 2 are linked. */
static void expect_node3_out(world *w)
{
    assert_true(tn_run_until(&w->loop, node3_refused, w, WAIT_MS));
    tn_run_for(&w->loop, 500);
    for (int i = 0; i < 2; i++) {
        assert_false(peer_net_up(w->t[i].pn, 3));
        assert_false(peer_net_up(w->t[2].pn, w->t[i].id));
        assert_int_equal(w->t[i].ups[3], 0);
        assert_int_equal(w->t[i].recv[3], 0);
    }
    assert_int_equal(w->t[2].ups[1] + w->t[2].ups[2], 0);
}

static void test_tls_other_ca_refused(void **state)
{
    (void)state;
    world w;
    const char *const names[3] = {"n1", "n2", "other"};
    world_start(&w, names);
    expect_node3_out(&w);
    world_done(&w);
}

static void test_tls_cert_for_other_host_refused(void **state)
{
    (void)state;
    world w;
    const char *const names[3] = {"n1", "n2", "wronghost"};
    world_start(&w, names);
    expect_node3_out(&w);
    /* Node 1 told node 3 why (it reached 1 with a valid chain). */
    peer_stats st;
    assert_true(peer_net_stats(w.t[2].pn, 1, &st));
    assert_true(st.refused >= 1);
    world_done(&w);
}

/* A TLS client with no certificate, made with net directly, that would
 * send a valid HELLO: the acceptor must close without a HELLO_OK. */
typedef struct bare {
    net_conn *c;
    bool opened, closed;
    buf in;
} bare;

static void bare_open(void *user)
{
    bare *b = *(bare **)user;
    b->opened = true;
    buf hello = {0};
    assert_true(peer_hello_append(&hello, 2, 1, "c1"));
    net_conn_write(b->c, hello.data, hello.len);
    buf_free(&hello);
}

static void bare_read(void *user, const uint8_t *data, size_t len) { buf_append(&(*(bare **)user)->in, data, len); }
static void bare_close(void *user, int error) { (*(bare **)user)->closed = true; }
static const net_conn_callbacks bare_cbs = {.on_read = bare_read, .on_close = bare_close, .on_open = bare_open};

static bool bare_closed(void *ctx) { return ((bare *)ctx)->closed; }

static void test_tls_no_client_cert_refused(void **state)
{
    (void)state;
    world w;
    const char *const names[3] = {"n1", "n2", "n3"};
    world_start(&w, names);
    assert_true(tn_run_until(&w.loop, all_up, &w, WAIT_MS));
    char ca[128], err[256];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    tls_config cfg = {.ca_file = ca, .min_version = 13};
    struct ssl_ctx_st *ctx = net_tls_client_ctx_new(&cfg, err, sizeof err);
    assert_non_null(ctx);
    net *n = net_new(&w.loop);
    net_listener *d = net_dialer(n, sizeof(bare *), &bare_cbs, NULL);
    net_listener_set_tls(d, ctx);
    net_tls_ctx_free(ctx);
    struct sockaddr_in sa;
    unsigned port = (unsigned)atoi(strchr(w.t[0].addr, ':') + 1);
    assert_int_equal(uv_ip4_addr("127.0.0.1", (int)port, &sa), 0);
    bare b = {0};
    void *user;
    b.c = net_connect(d, (struct sockaddr *)&sa, "127.0.0.1", &user);
    *(bare **)user = &b;
    assert_true(tn_run_until(&w.loop, bare_closed, &b, WAIT_MS));
    /* No HELLO_OK (nor anything else) came back. */
    assert_int_equal(b.in.len, 0);
    buf_free(&b.in);
    net_shutdown(n);
    tn_run_for(&w.loop, 50);
    assert_true(net_closed(n));
    net_free(n);
    world_done(&w);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_mutual_links_up),
        cmocka_unit_test(test_tls_other_ca_refused),
        cmocka_unit_test(test_tls_cert_for_other_host_refused),
        cmocka_unit_test(test_tls_no_client_cert_refused),
        cmocka_unit_test(test_tls_dns_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
