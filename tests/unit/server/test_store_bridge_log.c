/* The store bridge's write path through the log (store_bridge.c): a write
 * is answered only when its record commits, a failed proposal is answered
 * with __stat 503, a refused one too, and the log is flushed once per loop
 * iteration after proposals. A test log holds proposals until the test
 * commits or fails them; a real broker, listener and blocking client run
 * on the test's thread (the loop is stepped with UV_RUN_NOWAIT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "mqtt/codec.h"
#include "net/net.h"
#include "repl/log.h"
#include "server/principal_ops.h"
#include "server/store_bridge.h"
#include "ssproto/topic.h"
#include "store/record.h"
#include "util/alloc.h"
#include "util/clock.h"

#include "broker_test_client.h"

#define HELD_MAX 8

/* A log that keeps proposals until the test decides their fate. */
typedef struct held_log {
    repl_log base;
    int n;
    uint8_t rec[HELD_MAX][1024];
    size_t len[HELD_MAX];
    uint64_t tag[HELD_MAX];
    bool vol[HELD_MAX]; /* proposed through propose_volatile */
    int flushes;
    bool refuse;
    uint64_t index;
} held_log;

static bool held_add(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag, bool vol)
{
    held_log *h = (held_log *)l;
    if (h->refuse) return false;
    assert_true(h->n < HELD_MAX && len <= sizeof h->rec[0]);
    memcpy(h->rec[h->n], rec, len);
    h->len[h->n] = len;
    h->vol[h->n] = vol;
    h->tag[h->n++] = tag;
    return true;
}
static bool held_propose(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    return held_add(l, rec, len, tag, false);
}
static bool held_propose_volatile(repl_log *l, const uint8_t *rec, size_t len, uint64_t tag)
{
    return held_add(l, rec, len, tag, true);
}
static void held_flush(repl_log *l) { ((held_log *)l)->flushes++; }
static void held_free(repl_log *l) { (void)l; /* lives in the fixture */ }
static const repl_log_vtable held_vt = {
    .propose = held_propose, .flush = held_flush, .free = held_free, .propose_volatile = held_propose_volatile};

static repl_log *held_new(void *arg, store_service *svc, repl_commit_fn on_commit, repl_fail_fn on_fail, void *ctx)
{
    held_log *h = arg;
    (void)svc;
    h->base = (repl_log){&held_vt, on_commit, on_fail, ctx};
    return &h->base;
}

/* Commit (or fail) the oldest held proposal. */
static void held_commit(held_log *h)
{
    assert_true(h->n > 0);
    h->base.on_commit(h->base.ctx, ++h->index, h->rec[0], h->len[0], h->tag[0]);
    memmove(h->rec, h->rec + 1, (size_t)(h->n - 1) * sizeof h->rec[0]);
    memmove(h->len, h->len + 1, (size_t)(h->n - 1) * sizeof h->len[0]);
    memmove(h->tag, h->tag + 1, (size_t)(h->n - 1) * sizeof h->tag[0]);
    memmove(h->vol, h->vol + 1, (size_t)(h->n - 1) * sizeof h->vol[0]);
    h->n--;
}
static void held_fail(held_log *h)
{
    assert_true(h->n == 1);
    h->n = 0;
    h->base.on_fail(h->base.ctx, h->tag[0], "disk full");
}

typedef struct fixture {
    uv_loop_t loop;
    net *n;
    broker *b;
    store_bridge *sb;
    held_log log;
    tc_conn c;
} fixture;

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

/* The next packet from the broker (the caller consumes it). */
static mqtt_packet next_packet(fixture *f)
{
    mqtt_packet p;
    for (int i = 0; i < 2000; i++) {
        size_t total;
        if (f->c.in.len && mqtt_frame(f->c.in.data, f->c.in.len, 0, &total) == MQTT_FRAME_OK) {
            assert_int_equal(mqtt_decode_from_server(f->c.in.data, total, MQTT_V5, &p), 0);
            return p;
        }
        tc_pump(&f->loop, &f->c);
    }
    fail_msg("no packet from the broker");
    return p;
}

static void expect_type(fixture *f, uint8_t type)
{
    mqtt_packet p = next_packet(f);
    assert_int_equal(p.type, type);
    tc_consume(&f->c, &p);
}

/* The reply on resp/t: its payload and __stat. */
static void expect_reply(fixture *f, const char *corr, const char *payload, const char *stat)
{
    mqtt_packet p = next_packet(f);
    assert_int_equal(p.type, MQTT_PUBLISH);
    assert_true(mqtt_bytes_eq(p.publish.topic, B("resp/t")));
    assert_true(mqtt_bytes_eq(p.publish.props.correlation_data, B(corr)));
    assert_true(mqtt_bytes_eq(p.publish.payload, B(payload)));
    size_t pos = 0;
    mqtt_bytes k, v;
    bool found = false;
    while (mqtt_props_next_user(&p.publish.props, &pos, &k, &v))
        if (mqtt_bytes_eq(k, B("__stat"))) found = mqtt_bytes_eq(v, B(stat));
    assert_true(found);
    mqtt_packet ack = {.type = MQTT_PUBACK};
    ack.ack.packet_id = p.publish.packet_id;
    tc_consume(&f->c, &p);
    tc_send(&f->c, &ack);
}

static void send_request_pd(fixture *f, const char *payload, const char *corr, uint16_t id, bool persist, bool dup)
{
    char ts[64];
    snprintf(ts, sizeof ts, "%llu:0:t", (unsigned long long)clock_wall_ms());
    buf user = {0};
    mqtt_props_add_user(&user, B("__ts"), B(ts));
    if (persist) mqtt_props_add_user(&user, B("aio-persistence"), B("true"));
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B(SSPROTO_REQUEST_TOPIC);
    p.publish.payload = B(payload);
    p.publish.qos = 1;
    p.publish.dup = dup;
    p.publish.packet_id = id;
    p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) | MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
    p.publish.props.response_topic = B("resp/t");
    p.publish.props.correlation_data = B(corr);
    p.publish.props.extra = (mqtt_bytes){user.data, (uint32_t)user.len};
    tc_send(&f->c, &p);
    buf_free(&user);
    expect_type(f, MQTT_PUBACK);
}

static void send_request_p(fixture *f, const char *payload, const char *corr, uint16_t id, bool persist)
{
    send_request_pd(f, payload, corr, id, persist, false);
}

static void send_request(fixture *f, const char *payload, const char *corr, uint16_t id)
{
    send_request_p(f, payload, corr, id, false);
}

static bool setup_custom_mode; /* setup_custom: state_store mode custom */

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->n = net_new(&f->loop);
    broker_limits l;
    broker_limits_default(&l);
    f->b = broker_new(&f->loop, &l, &server_principal_ops);
    store_bridge_config cfg;
    store_bridge_config_default(&cfg);
    cfg.log_new = held_new;
    cfg.log_arg = &f->log;
    if (setup_custom_mode) cfg.persist = STORE_BRIDGE_PERSIST_CUSTOM; /* dynamic only: aio-persistence */
    f->sb = store_bridge_new(&f->loop, f->b, &cfg);
    assert_non_null(f->sb);
    net_listener *ls =
        net_listen(f->n, "127.0.0.1", 0, broker_conn_user_size, broker_accept, &broker_conn_callbacks, f->b);
    assert_non_null(ls);
    tc_open(&f->c, net_listener_port(ls), MQTT_V5);
    tc_send_connect(&f->c, "t", NULL);
    expect_type(f, MQTT_CONNACK);
    mqtt_sub_entry e = {.filter = B("resp/t"), .qos = 1};
    mqtt_packet s = {.type = MQTT_SUBSCRIBE};
    s.subscribe.packet_id = 1;
    s.subscribe.count = 1;
    s.subscribe.entries = &e;
    tc_send(&f->c, &s);
    expect_type(f, MQTT_SUBACK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_bridge_shutdown(f->sb);
    broker_shutdown(f->b);
    net_shutdown(f->n);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    store_bridge_free(f->sb);
    broker_free(f->b);
    net_free(f->n);
    uv_loop_close(&f->loop);
    tc_release(&f->c);
    free(f);
    return 0;
}

#define SET_K_V "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
#define GET_K "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"

static void test_reply_waits_for_commit(void **state)
{
    fixture *f = *state;
    send_request(f, SET_K_V, "c1", 2);
    assert_int_equal(f->log.n, 1);
    tc_expect_silence(&f->loop, &f->c); /* proposed, not committed: no reply */
    assert_true(f->log.flushes >= 1);   /* the iteration after the proposal flushed */
    int flushes = f->log.flushes;
    tc_expect_silence(&f->loop, &f->c);
    assert_int_equal(f->log.flushes, flushes); /* idle: no flush without proposals */
    /* Not applied yet either: a GET (answered at once) misses. */
    send_request(f, GET_K, "g1", 3);
    expect_reply(f, "g1", "$-1\r\n", "200");
    /* The record is the decided SET. */
    store_record r;
    assert_int_equal(store_record_decode(f->log.rec[0], f->log.len[0], &r), STORE_RECORD_OK);
    assert_int_equal(r.type, STORE_REC_SET);
    assert_true(r.correlation.len == 2 && memcmp(r.correlation.data, "c1", 2) == 0);
    held_commit(&f->log);
    expect_reply(f, "c1", "+OK\r\n", "200");
    send_request(f, GET_K, "g2", 4);
    expect_reply(f, "g2", "$1\r\nv\r\n", "200");
    /* A QoS 1 redelivery (DUP) after the commit is answered from the
     * de-dup table at once, without a proposal. */
    send_request_pd(f, SET_K_V, "c1", 5, false, true);
    assert_int_equal(f->log.n, 0);
    expect_reply(f, "c1", "+OK\r\n", "200");
    /* A retry sent anew (no DUP) is decided and proposed; apply finds it
     * in the table and answers the first reply, changing nothing. */
    send_request(f, SET_K_V, "c1", 6);
    assert_int_equal(f->log.n, 1);
    tc_expect_silence(&f->loop, &f->c);
    held_commit(&f->log);
    expect_reply(f, "c1", "+OK\r\n", "200");
    send_request(f, GET_K, "g3", 7);
    expect_reply(f, "g3", "$1\r\nv\r\n", "200");
}

static void test_failed_and_refused_writes_get_503(void **state)
{
    fixture *f = *state;
    send_request(f, SET_K_V, "c2", 2);
    held_fail(&f->log);
    expect_reply(f, "c2", "", "503");
    f->log.refuse = true;
    send_request(f, SET_K_V, "c3", 3);
    expect_reply(f, "c3", "", "503");
    f->log.refuse = false;
    /* Neither was applied. */
    send_request(f, GET_K, "g", 4);
    expect_reply(f, "g", "$-1\r\n", "200");
}

/* A commit this process did not propose (tag 0: replay, another node)
 * applies without a reply. */
static void test_commit_without_pending_applies_silently(void **state)
{
    fixture *f = *state;
    send_request(f, SET_K_V, "c4", 2);
    f->log.tag[0] = 0;
    held_commit(&f->log);
    tc_expect_silence(&f->loop, &f->c);
    send_request(f, GET_K, "g", 3);
    expect_reply(f, "g", "$1\r\nv\r\n", "200");
}

/* A redelivery decided while its first copy is still in the log is
 * logged too, but applying it changes nothing: it gets the first copy's
 * reply (SET NX would otherwise answer "not set" to its own retry). */
static void test_redelivery_while_pending_applies_once(void **state)
{
    fixture *f = *state;
    const char *nx = "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n";
    send_request(f, nx, "c6", 2);
    send_request(f, nx, "c6", 3);
    assert_int_equal(f->log.n, 2);
    held_commit(&f->log);
    expect_reply(f, "c6", "+OK\r\n", "200");
    held_commit(&f->log);
    expect_reply(f, "c6", "+OK\r\n", "200");
}

/* Active expiry through a batching log: while its EXPIRE record is in
 * flight the key still looks due, yet it is proposed once, not once per
 * loop iteration; a failed EXPIRE is decided again. */
static void test_expiry_proposed_once_while_in_flight(void **state)
{
    fixture *f = *state;
    send_request(f, "*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$2\r\n20\r\n", "c5", 2);
    held_commit(&f->log);
    expect_reply(f, "c5", "+OK\r\n", "200");
    uint64_t until = clock_wall_ms() + 300;
    while (f->log.n == 0 && clock_wall_ms() < until) tc_pump(&f->loop, &f->c);
    assert_int_equal(f->log.n, 1);
    for (int i = 0; i < 5; i++) tc_expect_silence(&f->loop, &f->c); /* many iterations, some ms */
    assert_int_equal(f->log.n, 1);
    store_record r;
    assert_int_equal(store_record_decode(f->log.rec[0], f->log.len[0], &r), STORE_RECORD_OK);
    assert_int_equal(r.type, STORE_REC_EXPIRE);
    held_fail(&f->log); /* the log failed it: the key is decided again */
    until = clock_wall_ms() + 3000;
    while (f->log.n == 0 && clock_wall_ms() < until) tc_pump(&f->loop, &f->c);
    assert_int_equal(f->log.n, 1);
    held_commit(&f->log);
    for (int i = 0; i < 3; i++) tc_expect_silence(&f->loop, &f->c);
    assert_int_equal(f->log.n, 0); /* applied: nothing more to expire */
}

static int setup_custom(void **state)
{
    setup_custom_mode = true;
    int r = setup(state);
    setup_custom_mode = false;
    return r;
}

/* The proposal i is (not) volatile and its record's persist flag is p. */
static void expect_proposal(fixture *f, int i, bool vol, bool p)
{
    store_record r;
    assert_int_equal(store_record_decode(f->log.rec[i], f->log.len[i], &r), STORE_RECORD_OK);
    assert_int_equal(f->log.vol[i], vol);
    assert_int_equal(r.persist, p);
}

#define SET_K(v) "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n" v "\r\n"
#define DEL_K "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"

/* state_store mode custom: a write is logged when it is durable, or when
 * the key's value is durable or a durable write of it is in flight (the
 * log must drop the durable copy); else it goes through the log as a
 * volatile entry (ordered, never written). Replies come in order. */
static void test_custom_durability_routing(void **state)
{
    fixture *f = *state;
    send_request_p(f, SET_K("v1"), "a", 2, true);                         /* durable */
    send_request(f, SET_K("v2"), "b", 3);                                 /* over a durable SET in flight */
    send_request(f, SET_K_V "", "c", 4);                                  /* same key k, still in flight */
    send_request(f, "*3\r\n$3\r\nSET\r\n$1\r\nj\r\n$1\r\nv\r\n", "d", 5); /* never durable */
    assert_int_equal(f->log.n, 4);
    expect_proposal(f, 0, false, true);
    expect_proposal(f, 1, false, false);
    expect_proposal(f, 2, false, false);
    expect_proposal(f, 3, true, false);
    held_commit(&f->log);
    expect_reply(f, "a", "+OK\r\n", "200");
    held_commit(&f->log);
    expect_reply(f, "b", "+OK\r\n", "200");
    held_commit(&f->log);
    expect_reply(f, "c", "+OK\r\n", "200");
    held_commit(&f->log);
    expect_reply(f, "d", "+OK\r\n", "200");
    /* k's value is not durable now and nothing is in flight: volatile. */
    send_request(f, SET_K("v3"), "e", 6);
    send_request(f, DEL_K, "f", 7);
    expect_proposal(f, 0, true, false);
    expect_proposal(f, 1, true, false);
    held_commit(&f->log);
    expect_reply(f, "e", "+OK\r\n", "200");
    held_commit(&f->log);
    expect_reply(f, "f", ":1\r\n", "200");
    /* DEL of a durable key is durable. */
    send_request_p(f, SET_K("v4"), "g", 8, true);
    held_commit(&f->log);
    expect_reply(f, "g", "+OK\r\n", "200");
    send_request(f, DEL_K, "h", 9);
    expect_proposal(f, 0, false, true);
    held_commit(&f->log);
    expect_reply(f, "h", ":1\r\n", "200");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_waits_for_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_and_refused_writes_get_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_without_pending_applies_silently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_proposed_once_while_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_while_pending_applies_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_durability_routing, setup_custom, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
