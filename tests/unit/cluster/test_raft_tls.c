/* Raft over mutual TLS (cluster/raft_tls.h): three raft logs
 * (repl/raft_log.h, real libraft with its disk backend) in one process on
 * one loop, each on its own TLS transport, with certificates made at test
 * time by peer_certs.sh: node i is 127.0.0.1<i> (r1..r3 name one such host
 * each), so one node cannot pass for another. Addresses are given in the
 * "RAFT|LINK" form (raft_tls.h). Refusals are asserted on the transports'
 * counters; every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/raft_tls.h"
#include "net/net.h"
#include "net/tls.h"
#include "repl/raft_log.h"

#define WAIT_MS 30000
#define HANDSHAKE_MS 1000

static char dir[] = "/tmp/mqs-raft-tls-XXXXXX";

typedef struct node {
    uint64_t id;
    char host[24];
    char address[64]; /* "RAFT|LINK" */
    char dir[256];
    char cert[160], key[160], ca[160];
    raft_tls *rt;
    repl_log *log;
    bool running, log_closed, rt_closed;
    size_t applied;
} node;

typedef struct world {
    uv_loop_t loop;
    uv_timer_t tick;
    node n[3];
    raft_tls_member tm[3];
    repl_raft_member rm[3];
    uint64_t next_tag;
} world;

/* ---- a toy state machine: the number of records applied ---- */

static void on_commit(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    (void)index, (void)rec, (void)len, (void)tag;
    ((node *)ctx)->applied++;
}

static int sm_snapshot(void *ctx, repl_raft_snapshot_out *out)
{
    node *n = ctx;
    out->data = malloc(8);
    memcpy(out->data, &n->applied, 8);
    out->len = 8;
    return 0;
}

static bool sm_restore(void *ctx, const uint8_t *data, size_t len)
{
    if (len != 8) return false;
    memcpy(&((node *)ctx)->applied, data, 8);
    return true;
}

/* ---- the world ---- */

static uint16_t free_port(const char *host)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(inet_pton(AF_INET, host, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void tick_cb(uv_timer_t *t) { (void)t; }

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    assert_int_equal(uv_loop_init(&w->loop), 0);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_start(&w->tick, tick_cb, 5, 5);
    w->next_tag = 1;
    for (int i = 0; i < 3; i++) {
        node *n = &w->n[i];
        n->id = (uint64_t)i + 1;
        snprintf(n->host, sizeof n->host, "127.0.0.1%u", (unsigned)(i + 1) % 10);
        unsigned rp = free_port(n->host), lp = free_port(n->host);
        snprintf(n->address, sizeof n->address, "127.0.0.1%u:%u|127.0.0.1%u:%u", (unsigned)(i + 1) % 10, rp,
                 (unsigned)(i + 1) % 10, lp);
        snprintf(n->dir, sizeof n->dir, "%s/d%d", dir, i + 1);
        assert_int_equal(mkdir(n->dir, 0700), 0);
        w->tm[i] = (raft_tls_member){n->id, n->address};
        w->rm[i] = (repl_raft_member){n->id, n->address};
        n->log_closed = n->rt_closed = true;
    }
}

/* Start node i presenting certificate `cert`. */
static void node_start(world *w, int i, const char *cert)
{
    node *n = &w->n[i];
    snprintf(n->cert, sizeof n->cert, "%s/%s.pem", dir, cert);
    snprintf(n->key, sizeof n->key, "%s/%s.key", dir, cert);
    snprintf(n->ca, sizeof n->ca, "%s/ca.pem", dir);
    peer_tls tls = {.cert_file = n->cert, .key_file = n->key, .ca_file = n->ca};
    raft_tls_config tc = {.cluster_name = "c1",
                          .self_id = n->id,
                          .members = w->tm,
                          .n_members = 3,
                          .tls = &tls,
                          .handshake_ms = HANDSHAKE_MS};
    char err[256] = "";
    n->rt = raft_tls_new(&w->loop, &tc, err, sizeof err);
    if (!n->rt) fail_msg("node %llu: %s", (unsigned long long)n->id, err);
    n->rt_closed = false;
    n->applied = 0;
    repl_raft_config rc = {
        .id = n->id,
        .address = n->address,
        .members = w->rm,
        .n_members = 3,
        .dir = n->dir,
        .transport = raft_tls_transport(n->rt),
        .election_timeout_ms = 1000,
        .heartbeat_ms = 100,
        .on_commit = on_commit,
        .ctx = n,
        .snapshot = sm_snapshot,
        .restore = sm_restore,
    };
    n->log = repl_raft_new(&w->loop, &rc, err, sizeof err);
    if (!n->log) fail_msg("node %llu: %s", (unsigned long long)n->id, err);
    n->log_closed = false;
    n->running = true;
}

typedef bool (*pred_fn)(world *w, void *arg);

static bool run_until(world *w, pred_fn pred, void *arg, unsigned ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (!pred(w, arg)) {
        if (uv_hrtime() > end) return false;
        uv_run(&w->loop, UV_RUN_ONCE);
    }
    return true;
}

static bool never(world *w, void *arg)
{
    (void)w, (void)arg;
    return false;
}

static void run_for(world *w, unsigned ms) { (void)run_until(w, never, NULL, ms); }

static void log_closed(void *ctx) { ((node *)ctx)->log_closed = true; }
static void rt_closed(void *ctx) { ((node *)ctx)->rt_closed = true; }
static bool flag_set(world *w, void *arg)
{
    (void)w;
    return *(bool *)arg;
}

/* The raft log first, then its transport (raft_tls.h). */
static void node_stop(world *w, int i)
{
    node *n = &w->n[i];
    repl_raft_close(n->log, log_closed, n);
    n->log = NULL;
    assert_true(run_until(w, flag_set, &n->log_closed, WAIT_MS));
    raft_tls_close(n->rt, rt_closed, n);
    n->rt = NULL;
    assert_true(run_until(w, flag_set, &n->rt_closed, WAIT_MS));
    n->running = false;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return strcmp(path, dir) == 0 ? 0 : remove(path);
}

static void world_done(world *w)
{
    for (int i = 0; i < 3; i++)
        if (w->n[i].running) node_stop(w, i);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    for (int i = 0; i < 3; i++) nftw(w->n[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static repl_raft_status status_of(node *n)
{
    repl_raft_status s;
    repl_raft_status_get(n->log, &s);
    return s;
}

/* Exactly one running node leads (among the first `among`) and every
 * one of those knows it. */
typedef struct leader_q {
    int among;
    node *leader;
} leader_q;

static bool has_leader(world *w, void *arg)
{
    leader_q *q = arg;
    node *leader = NULL;
    for (int i = 0; i < q->among; i++) {
        node *n = &w->n[i];
        if (!n->running) continue;
        if (status_of(n).state == REPL_RAFT_LEADER) {
            if (leader) return false;
            leader = n;
        }
    }
    if (!leader) return false;
    for (int i = 0; i < q->among; i++)
        if (w->n[i].running && status_of(&w->n[i]).leader_id != leader->id) return false;
    q->leader = leader;
    return true;
}

static node *wait_leader(world *w, int among)
{
    leader_q q = {among, NULL};
    assert_true(run_until(w, has_leader, &q, WAIT_MS));
    return q.leader;
}

static void propose(world *w, node *n, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        char rec[32];
        int len = snprintf(rec, sizeof rec, "rec-%06llu", (unsigned long long)w->next_tag);
        assert_true(repl_log_propose(n->log, (const uint8_t *)rec, (size_t)len, w->next_tag++));
    }
    repl_log_flush(n->log);
}

typedef struct applied_q {
    int among;
    size_t n;
} applied_q;

static bool all_applied(world *w, void *arg)
{
    applied_q *q = arg;
    for (int i = 0; i < q->among; i++)
        if (w->n[i].running && w->n[i].applied < q->n) return false;
    return true;
}

static void wait_applied(world *w, int among, size_t n)
{
    applied_q q = {among, n};
    assert_true(run_until(w, all_applied, &q, WAIT_MS));
}

static raft_tls_stats stats_of(node *n)
{
    raft_tls_stats s;
    raft_tls_stats_get(n->rt, &s);
    return s;
}

static uint64_t refused_total(const raft_tls_stats *s)
{
    uint64_t t = 0;
    for (int r = 0; r < RAFT_TLS_REFUSE_N_; r++) t += s->refused[r];
    return t;
}

/* ---- tests ---- */

/* Three nodes elect a leader and replicate over TLS; the leader is
 * stopped, the other two elect another and go on, and it rejoins and
 * catches up. Nothing is refused. */
static void test_raft_tls_replicates(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    for (int i = 0; i < 3; i++) node_start(&w, i, i == 0 ? "r1" : i == 1 ? "r2" : "r3");
    node *leader = wait_leader(&w, 3);
    propose(&w, leader, 100);
    wait_applied(&w, 3, 100);
    repl_raft_status st = status_of(leader);
    assert_non_null(strchr(st.leader_address, '|')); /* raft knows the whole "RAFT|LINK" */
    int li = (int)(leader - w.n);
    node_stop(&w, li);
    node *second = wait_leader(&w, 3);
    assert_true(second != leader);
    propose(&w, second, 20);
    wait_applied(&w, 3, 120);
    node_start(&w, li, li == 0 ? "r1" : li == 1 ? "r2" : "r3");
    wait_applied(&w, 3, 120);
    for (int i = 0; i < 3; i++) {
        raft_tls_stats s = stats_of(&w.n[i]);
        print_message("node %d: accepted %llu connected %llu dial_failed %llu dropped %llu\n", i + 1,
                      (unsigned long long)s.accepted, (unsigned long long)s.connected,
                      (unsigned long long)s.dial_failed, (unsigned long long)s.dropped);
        assert_int_equal(refused_total(&s), 0);
        assert_int_equal(s.dial_refused + s.dial_cert_refused, 0);
        assert_true(s.accepted >= 1); /* a follower need not have answered yet */
    }
    world_done(&w);
}

/* Node 3 (a candidate forever) dials both, and both refuse; the leader
 * dials it and refuses its certificate. */
static bool node3_refused(world *w, void *arg)
{
    int reason = *(int *)arg;
    uint64_t dial_cert = 0;
    for (int i = 0; i < 2; i++) {
        raft_tls_stats s = stats_of(&w->n[i]);
        if (s.refused[reason] == 0) return false;
        dial_cert += s.dial_cert_refused;
    }
    return dial_cert > 0;
}

/* Node 3 with a certificate that does not make it node 3 (another CA;
 * another host; member 2's): nodes 1 and 2 refuse it both ways and go on
 * committing without it; with its own certificate it catches up. */
static void test_raft_tls_refuses_impostors(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    node_start(&w, 0, "r1");
    node_start(&w, 1, "r2");
    const char *certs[3] = {"other", "wronghost", "r2"};
    const int reasons[3] = {RAFT_TLS_REFUSE_TLS, RAFT_TLS_REFUSE_CERT, RAFT_TLS_REFUSE_CERT};
    size_t want = 0;
    for (int k = 0; k < 3; k++) {
        node_start(&w, 2, certs[k]);
        int reason = reasons[k];
        assert_true(run_until(&w, node3_refused, &reason, WAIT_MS));
        node *leader = wait_leader(&w, 2);
        propose(&w, leader, 10);
        want += 10;
        wait_applied(&w, 2, want);
        run_for(&w, 300);
        assert_int_equal(w.n[2].applied, 0);
        assert_int_equal(stats_of(&w.n[2]).connected, 0);
        node_stop(&w, 2);
    }
    node_start(&w, 2, "r3");
    wait_applied(&w, 3, want);
    world_done(&w);
}

/* ---- hand-made clients on a node's raft port ---- */

typedef struct rogue {
    net_conn *c;
    const uint8_t *send; /* sent once connected (TLS: after the handshake); NULL: nothing */
    size_t send_len;
    bool closed;
    uint8_t in[64];
    size_t in_len;
} rogue;

static void rogue_open(void *user)
{
    rogue *r = *(rogue **)user;
    if (r->send) net_conn_write(r->c, r->send, r->send_len);
}

static void rogue_read(void *user, const uint8_t *data, size_t len)
{
    rogue *r = *(rogue **)user;
    size_t n = len < sizeof r->in - r->in_len ? len : sizeof r->in - r->in_len;
    memcpy(r->in + r->in_len, data, n);
    r->in_len += n;
}

static void rogue_close(void *user, int error)
{
    (void)error;
    (*(rogue **)user)->closed = true;
}

static const net_conn_callbacks rogue_cbs = {.on_read = rogue_read, .on_close = rogue_close, .on_open = rogue_open};

static bool rogue_closed(world *w, void *arg)
{
    (void)w;
    return ((rogue *)arg)->closed;
}

/* Connect to node 1's raft port (TLS with certificate `cert`, or plain
 * TCP when NULL), send `p` once connected, and wait until node 1 closes
 * the connection; returns the milliseconds that took. r->in holds what
 * came back. */
static unsigned rogue_run(world *w, net *rn, const char *cert, rogue *r, const uint8_t *p, size_t len)
{
    net_listener *d = net_dialer(rn, sizeof(rogue *), &rogue_cbs, NULL);
    if (cert) {
        char c[160], k[160], ca[160], err[256];
        snprintf(c, sizeof c, "%s/%s.pem", dir, cert);
        snprintf(k, sizeof k, "%s/%s.key", dir, cert);
        snprintf(ca, sizeof ca, "%s/ca.pem", dir);
        tls_config tc = {.cert_file = c, .key_file = k, .ca_file = ca, .min_version = 13};
        struct ssl_ctx_st *ctx = net_tls_client_ctx_new(&tc, err, sizeof err);
        assert_non_null(ctx);
        net_listener_set_tls(d, ctx);
        net_tls_ctx_free(ctx);
    }
    memset(r, 0, sizeof *r);
    r->send = p;
    r->send_len = len;
    struct sockaddr_in sa;
    unsigned port = (unsigned)atoi(strchr(w->n[0].address, ':') + 1);
    assert_int_equal(uv_ip4_addr(w->n[0].host, (int)port, &sa), 0);
    void *user;
    r->c = net_connect(d, (struct sockaddr *)&sa, cert ? w->n[0].host : NULL, &user);
    assert_non_null(r->c);
    *(rogue **)user = r;
    if (!cert && p) net_conn_write(r->c, p, len); /* plain: queued until connected */
    uint64_t t0 = uv_hrtime();
    assert_true(run_until(w, rogue_closed, r, WAIT_MS));
    return (unsigned)((uv_hrtime() - t0) / 1000000u);
}

/* A HELLO to node 1 from `from`, naming `to`, the cluster and the address. */
static size_t hello(uint8_t *out, uint64_t from, uint64_t to, const char *name, const char *address)
{
    buf b = {0};
    assert_true(raft_tls_hello_append(&b, from, to, name, address));
    size_t n = b.len;
    memcpy(out, b.data, n);
    buf_free(&b);
    return n;
}

/* Garbage, stalls and lies on node 1's raft port: each connection is
 * closed within a bound, refused with the right reason when it got as
 * far as a HELLO, and the cluster keeps committing. */
static void test_raft_tls_handshake_abuse(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    for (int i = 0; i < 3; i++) node_start(&w, i, i == 0 ? "r1" : i == 1 ? "r2" : "r3");
    node *leader = wait_leader(&w, 3);
    propose(&w, leader, 10);
    wait_applied(&w, 3, 10);
    raft_tls_stats s0 = stats_of(&w.n[0]);
    net *rn = net_new(&w.loop);
    rogue r;
    /* Not TLS at all. */
    static const uint8_t junk[] = "GET / HTTP/1.0\r\n\r\n";
    assert_true(rogue_run(&w, rn, NULL, &r, junk, sizeof junk - 1) < 5000);
    assert_int_equal(r.in_len == 0 || r.in[0] != RAFT_TLS_VERSION, true);
    /* A TCP connection that says nothing, then a TLS one that stops after
     * the TLS handshake: both dropped after about HANDSHAKE_MS. */
    unsigned ms = rogue_run(&w, rn, NULL, &r, NULL, 0);
    assert_true(ms >= HANDSHAKE_MS / 2 && ms < HANDSHAKE_MS + 4000);
    ms = rogue_run(&w, rn, "r3", &r, NULL, 0);
    assert_true(ms >= HANDSHAKE_MS / 2 && ms < HANDSHAKE_MS + 4000);
    assert_int_equal(r.in_len, 0);
    raft_tls_stats s1 = stats_of(&w.n[0]);
    assert_true(s1.dropped >= s0.dropped + 2);
    /* HELLOs that lie or are malformed, from node 3's certificate. */
    const char *a2 = w.n[1].address, *a3 = w.n[2].address;
    uint8_t p[RAFT_TLS_HELLO_MAX + 8];
    static const struct {
        uint64_t from, to;
        const char *name;
        int which; /* 2: node 2's address, 3: node 3's, 0: another */
        int reason;
    } lies[] = {
        {2, 1, "c1", 2, RAFT_TLS_REFUSE_CERT},    /* claims to be node 2 */
        {3, 1, "c1", 0, RAFT_TLS_REFUSE_ADDRESS}, /* node 3 at another address */
        {3, 2, "c1", 3, RAFT_TLS_REFUSE_TARGET},  /* meant for node 2 */
        {3, 1, "c2", 3, RAFT_TLS_REFUSE_CLUSTER}, /* another cluster */
        {9, 1, "c1", 3, RAFT_TLS_REFUSE_MEMBER},  /* not a member */
        {1, 1, "c1", 3, RAFT_TLS_REFUSE_MEMBER},  /* node 1 itself */
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        const char *addr = lies[i].which == 2 ? a2 : lies[i].which == 3 ? a3 : "127.0.0.13:1";
        size_t n = hello(p, lies[i].from, lies[i].to, lies[i].name, addr);
        uint64_t before = stats_of(&w.n[0]).refused[lies[i].reason];
        assert_true(rogue_run(&w, rn, "r3", &r, p, n) < 5000);
        assert_int_equal(r.in_len, RAFT_TLS_REPLY_LEN);
        assert_int_equal(raft_tls_reply_decode(r.in, r.in_len), lies[i].reason);
        assert_int_equal(stats_of(&w.n[0]).refused[lies[i].reason], before + 1);
    }
    /* Another version; a malformed HELLO (ids 0); a HELLO with more after it. */
    p[0] = RAFT_TLS_VERSION + 1;
    assert_true(rogue_run(&w, rn, "r3", &r, p, 40) < 5000);
    assert_int_equal(raft_tls_reply_decode(r.in, r.in_len), RAFT_TLS_REFUSE_VERSION);
    memset(p, 0, 40);
    p[0] = RAFT_TLS_VERSION;
    assert_true(rogue_run(&w, rn, "r3", &r, p, 40) < 5000);
    assert_int_equal(raft_tls_reply_decode(r.in, r.in_len), RAFT_TLS_REFUSE_MALFORMED);
    size_t n = hello(p, 3, 1, "c1", a3);
    memcpy(p + n, "raftraft", 8);
    assert_true(rogue_run(&w, rn, "r3", &r, p, n + 8) < 5000);
    assert_int_equal(raft_tls_reply_decode(r.in, r.in_len), RAFT_TLS_REFUSE_MALFORMED);
    /* The cluster does not mind. */
    leader = wait_leader(&w, 3);
    propose(&w, leader, 10);
    wait_applied(&w, 3, 20);
    net_shutdown(rn);
    run_for(&w, 50);
    assert_true(net_closed(rn));
    net_free(rn);
    world_done(&w);
}

/* Volume through the pump: a follower that was down catches up on 12 MB
 * of 60 KiB entries at once (libraft sends them in large batches: the
 * socketpair, the fixed buffer and net's backlog push back). */
static void test_raft_tls_bulk(void **state)
{
    (void)state;
    world w;
    world_init(&w);
    for (int i = 0; i < 3; i++) node_start(&w, i, i == 0 ? "r1" : i == 1 ? "r2" : "r3");
    node *leader = wait_leader(&w, 3);
    int fi = leader == &w.n[0] ? 1 : 0;
    node_stop(&w, fi);
    static uint8_t rec[60 << 10];
    for (unsigned i = 0; i < 200; i++) {
        memset(rec, 'a' + (int)(i % 26), sizeof rec);
        assert_true(repl_log_propose(leader->log, rec, sizeof rec, w.next_tag++));
    }
    repl_log_flush(leader->log);
    wait_applied(&w, 3, 200);
    node_start(&w, fi, fi == 0 ? "r1" : "r2");
    wait_applied(&w, 3, 200);
    raft_tls_stats s = stats_of(leader);
    assert_int_equal(refused_total(&s) + s.dropped, 0);
    world_done(&w);
}

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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_tls_replicates),
        cmocka_unit_test(test_raft_tls_refuses_impostors),
        cmocka_unit_test(test_raft_tls_handshake_abuse),
        cmocka_unit_test(test_raft_tls_bulk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
