/* Durable retained messages (broker_persist.h, persist.c,
 * persist_retain.c) against a fake sink the test commits by hand: held
 * acknowledgements, release in order, failure closing the waiting
 * connection, refusal while the sink refuses, replay and snapshot round
 * trips, and the RETAIN record codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/internal.h"
#include "mqtt/codec.h"
#include "net/net.h"
#include "util/alloc.h"

#include "broker_test_client.h"
#include "server/principal_ops.h"

#define MAX_RECS 64

typedef struct rec {
    uint8_t type;
    buf data;
} rec;

typedef struct fixture {
    uv_loop_t loop;
    net *n;
    broker *b;
    uint16_t port;
    tc_conn c; /* the client, MQTT 5 */
    rec recs[MAX_RECS];
    uint64_t n_recs;
    bool refuse;
    bool replicated; /* apply_on_commit (cluster mode) */
} fixture;

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static uint64_t sink_append(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    fixture *f = ctx;
    if (f->refuse) return 0;
    assert_true(f->n_recs < MAX_RECS);
    rec *r = &f->recs[f->n_recs++];
    r->type = type;
    buf_append(&r->data, p, n);
    return f->n_recs;
}

static bool sink_accepting(void *ctx) { return !((fixture *)ctx)->refuse; }

static bool recv_packet(fixture *f, mqtt_packet *p, int max_iter)
{
    for (int i = 0; i < max_iter; i++) {
        size_t total;
        if (f->c.in.len && mqtt_frame(f->c.in.data, f->c.in.len, 0, &total) == MQTT_FRAME_OK) {
            assert_int_equal(mqtt_decode_from_server(f->c.in.data, total, MQTT_V5, p), 0);
            return true;
        }
        tc_pump(&f->loop, &f->c);
    }
    return false;
}

/* The next packet is `type`; returns its reason code (acks, DISCONNECT). */
static uint8_t expect(fixture *f, uint8_t type, uint16_t id)
{
    mqtt_packet p;
    assert_true(recv_packet(f, &p, 2000));
    assert_int_equal(p.type, type);
    uint8_t rc = 0;
    if (type == MQTT_PUBACK || type == MQTT_PUBREC) {
        assert_int_equal(p.ack.packet_id, id);
        rc = p.ack.reason;
    }
    if (type == MQTT_DISCONNECT) rc = p.disconnect.reason;
    tc_consume(&f->c, &p);
    return rc;
}

static void make_broker(fixture *f, broker_persist_mode mode, const mqtt_bytes *topics, uint32_t n)
{
    broker_limits l;
    broker_limits_default(&l);
    f->b = broker_new(&f->loop, &l, &server_principal_ops);
    broker_persist_sink sink = {.append = sink_append, .accepting = sink_accepting, .ctx = f};
    broker_persist_select sel = {
        .retained = mode, .retained_topics = topics, .n_retained_topics = n, .apply_on_commit = f->replicated};
    broker_set_persistence(f->b, &sink, &sel);
}

static int setup_with(void **state, bool replicated)
{
    fixture *f = xcalloc(1, sizeof *f);
    f->replicated = replicated;
    uv_loop_init(&f->loop);
    f->n = net_new(&f->loop);
    make_broker(f, BROKER_PERSIST_ALL, NULL, 0);
    net_listener *ls =
        net_listen(f->n, "127.0.0.1", 0, broker_conn_user_size, broker_accept, &broker_conn_callbacks, f->b);
    assert_non_null(ls);
    f->port = net_listener_port(ls);
    tc_open(&f->c, f->port, MQTT_V5);
    tc_send_connect(&f->c, "p", NULL);
    expect(f, MQTT_CONNACK, 0);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, false); }
static int setup_replicated(void **state) { return setup_with(state, true); }

static int teardown(void **state)
{
    fixture *f = *state;
    broker_shutdown(f->b);
    net_shutdown(f->n);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    broker_free(f->b);
    net_free(f->n);
    uv_loop_close(&f->loop);
    tc_release(&f->c);
    for (uint64_t i = 0; i < f->n_recs; i++) buf_free(&f->recs[i].data);
    free(f);
    return 0;
}

static void publish(fixture *f, const char *topic, const char *payload, uint8_t qos, bool retain, uint16_t id)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B(topic);
    p.publish.payload = B(payload);
    p.publish.qos = qos;
    p.publish.retain = retain;
    p.publish.packet_id = id;
    tc_send(&f->c, &p);
}

/* Pump until the broker has appended `n` records in all. */
static void wait_recs(fixture *f, uint64_t n)
{
    for (int i = 0; i < 2000 && f->n_recs < n; i++) tc_pump(&f->loop, &f->c);
    assert_int_equal(f->n_recs, n);
}

static void test_puback_waits_for_commit(void **state)
{
    fixture *f = *state;
    publish(f, "t/1", "one", 1, true, 1);
    wait_recs(f, 1);
    assert_int_equal(f->recs[0].type, BROKER_REC_RETAIN);
    tc_expect_silence(&f->loop, &f->c); /* held: not durable yet */
    publish(f, "t/2", "two", 1, true, 2);
    wait_recs(f, 2);
    publish(f, "plain", "x", 1, false, 3); /* appends nothing, but its PUBACK comes after the held ones */
    tc_expect_silence(&f->loop, &f->c);
    assert_int_equal(f->n_recs, 2);
    broker_persist_committed(f->b, 1);
    assert_int_equal(expect(f, MQTT_PUBACK, 1), 0x10); /* nobody subscribed */
    tc_expect_silence(&f->loop, &f->c);
    broker_persist_committed(f->b, 2);
    assert_int_equal(expect(f, MQTT_PUBACK, 2), 0x10);
    assert_int_equal(expect(f, MQTT_PUBACK, 3), 0x10);
    /* Nothing held any more: a plain publish is answered at once. */
    publish(f, "plain", "y", 1, false, 4);
    assert_int_equal(expect(f, MQTT_PUBACK, 4), 0x10);
}

static void test_clear_of_nothing_appends_nothing(void **state)
{
    fixture *f = *state;
    publish(f, "nothing/here", "", 1, true, 1);
    assert_int_equal(expect(f, MQTT_PUBACK, 1), 0x10);
    assert_int_equal(f->n_recs, 0);
    publish(f, "c", "v", 1, true, 2);
    wait_recs(f, 1);
    publish(f, "c", "", 1, true, 3); /* a real clear */
    wait_recs(f, 2);
    broker_persist_committed(f->b, 2);
    expect(f, MQTT_PUBACK, 2);
    expect(f, MQTT_PUBACK, 3);
    retain_rec r;
    assert_null(broker__retain_rec_decode(f->recs[1].data.data, f->recs[1].data.len, &r));
    assert_int_equal(r.payload.len, 0);
}

static void test_failure_disconnects_waiting(void **state)
{
    fixture *f = *state;
    publish(f, "t/1", "one", 1, true, 1);
    wait_recs(f, 1);
    broker_persist_committed(f->b, 1);
    expect(f, MQTT_PUBACK, 1);
    publish(f, "t/2", "two", 1, true, 2);
    wait_recs(f, 2);
    f->refuse = true;
    broker_persist_failed(f->b, 1, "disk on fire");
    assert_int_equal(expect(f, MQTT_DISCONNECT, 0), MQTT_RC_UNSPECIFIED);
    for (int i = 0; i < 200 && !f->c.eof; i++) tc_pump(&f->loop, &f->c);
    assert_true(f->c.eof);
}

static void test_refusing_answers_0x97(void **state)
{
    fixture *f = *state;
    f->refuse = true;
    publish(f, "r/1", "one", 1, true, 1);
    assert_int_equal(expect(f, MQTT_PUBACK, 1), MQTT_RC_QUOTA_EXCEEDED);
    publish(f, "r/2", "two", 2, true, 2);
    assert_int_equal(expect(f, MQTT_PUBREC, 2), MQTT_RC_QUOTA_EXCEEDED);
    publish(f, "plain", "x", 1, false, 3); /* appends nothing: routed */
    assert_int_equal(expect(f, MQTT_PUBACK, 3), 0x10);
    publish(f, "r/0", "zero", 0, true, 0); /* QoS 0 promises nothing: kept in memory */
    tc_expect_silence(&f->loop, &f->c);
    assert_null(retain_store_get(f->b->retained, B("r/1")));
    assert_null(retain_store_get(f->b->retained, B("r/2")));
    assert_non_null(retain_store_get(f->b->retained, B("r/0")));
    f->refuse = false; /* the sink recovered: accepted again */
    publish(f, "r/1", "one", 1, true, 4);
    wait_recs(f, 1);
    broker_persist_committed(f->b, 1);
    assert_int_equal(expect(f, MQTT_PUBACK, 4), 0x10);
}

/* Cluster mode (apply_on_commit): a retained publish changes nothing
 * here until its record is applied (on every node, in commit order); a
 * clear is appended even for an empty topic; $SYS topics stay local;
 * reset drops the replicated messages only. */
static void test_apply_on_commit(void **state)
{
    fixture *f = *state;
    publish(f, "a", "one", 1, true, 1);
    wait_recs(f, 1);
    assert_null(retain_store_get(f->b->retained, B("a"))); /* not applied early */
    tc_expect_silence(&f->loop, &f->c);
    assert_null(broker_persist_apply(f->b, f->recs[0].type, f->recs[0].data.data, f->recs[0].data.len));
    assert_non_null(retain_store_get(f->b->retained, B("a")));
    broker_persist_committed(f->b, 1);
    assert_int_equal(expect(f, MQTT_PUBACK, 1), 0x10);
    publish(f, "empty", "", 1, true, 2); /* another node's set may be on its way */
    wait_recs(f, 2);
    retain_rec r;
    assert_null(broker__retain_rec_decode(f->recs[1].data.data, f->recs[1].data.len, &r));
    assert_int_equal(r.payload.len, 0);
    assert_null(broker_persist_apply(f->b, f->recs[1].type, f->recs[1].data.data, f->recs[1].data.len));
    broker_persist_committed(f->b, 2);
    expect(f, MQTT_PUBACK, 2);
    publish(f, "$SYS/mine", "local", 0, true, 0); /* each node's own: at once, no record */
    tc_expect_silence(&f->loop, &f->c);
    assert_int_equal(f->n_recs, 2);
    assert_non_null(retain_store_get(f->b->retained, B("$SYS/mine")));
    broker_persist_reset(f->b);
    assert_null(retain_store_get(f->b->retained, B("a")));
    assert_non_null(retain_store_get(f->b->retained, B("$SYS/mine")));
    const uint8_t sess[] = {1, 0};
    assert_non_null(broker_persist_apply(f->b, BROKER_REC_RETAIN + 1, sess, sizeof sess));
    assert_non_null(broker_persist_apply(f->b, BROKER_REC_RETAIN, sess, sizeof sess)); /* corrupt */
}

static bool snap_collect(void *ctx, uint8_t type, const broker_persist_piece *pieces, unsigned n)
{
    fixture *f = ctx;
    assert_true(f->n_recs < MAX_RECS);
    rec *r = &f->recs[f->n_recs++];
    r->type = type;
    for (unsigned i = 0; i < n; i++) buf_append(&r->data, pieces[i].p, pieces[i].n);
    return true;
}

static void replay_all(fixture *from, broker *to, uint64_t first)
{
    for (uint64_t i = first; i < from->n_recs; i++)
        assert_null(broker_persist_replay(to, from->recs[i].type, from->recs[i].data.data, from->recs[i].data.len));
}

/* Log replay and snapshot rebuild the same retained messages, with their
 * properties, QoS and remaining expiry; only selected topics. */
static void test_replay_and_snapshot(void **state)
{
    fixture *f = *state;
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B("e/1");
    p.publish.payload = B("expiring");
    p.publish.qos = 1;
    p.publish.retain = true;
    p.publish.packet_id = 1;
    p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE);
    p.publish.props.message_expiry = 100;
    p.publish.props.content_type = B("text/plain");
    tc_send(&f->c, &p);
    publish(f, "$sys/x", "dollar", 0, true, 0);
    publish(f, "keep/a", "A", 2, true, 2);
    publish(f, "keep/b", "B", 1, true, 3);
    publish(f, "keep/b", "", 1, true, 4);
    wait_recs(f, 5);
    broker_persist_committed(f->b, 5);
    expect(f, MQTT_PUBACK, 1);
    expect(f, MQTT_PUBREC, 2);
    expect(f, MQTT_PUBACK, 3);
    expect(f, MQTT_PUBACK, 4);

    fixture g = {0};
    uv_loop_init(&g.loop);
    mqtt_bytes only[] = {B("keep/#"), B("e/+")};
    make_broker(&g, BROKER_PERSIST_SOME, only, 2);
    replay_all(f, g.b, 0);
    broker_persist_restored out;
    broker_persist_replay_done(g.b, &out);
    assert_int_equal(out.retained, 2); /* e/1 and keep/a: $sys/x is not selected, keep/b cleared */
    msg *m = retain_store_get(g.b->retained, B("e/1"));
    assert_non_null(m);
    assert_int_equal(m->qos, 1);
    assert_true(m->payload.len == 8 && !memcmp(m->payload.data, "expiring", 8));
    uint32_t left = broker__msg_expiry_left(m, broker_now());
    assert_true(left > 90 && left <= 100);
    msg *orig = retain_store_get(f->b->retained, B("e/1"));
    assert_true(mqtt_bytes_eq(m->props, orig->props)); /* content type kept */
    m = retain_store_get(g.b->retained, B("keep/a"));
    assert_true(m && m->qos == 2);

    /* A snapshot of f (everything selected), replayed into a fresh broker. */
    uint64_t mark = f->n_recs;
    assert_true(broker_persist_snapshot(f->b, snap_collect, f));
    assert_int_equal(f->n_recs - mark, 3); /* e/1, $sys/x, keep/a */
    fixture h = {0};
    uv_loop_init(&h.loop);
    make_broker(&h, BROKER_PERSIST_ALL, NULL, 0);
    replay_all(f, h.b, mark);
    broker_persist_replay_done(h.b, &out);
    assert_int_equal(out.retained, 3);
    assert_non_null(retain_store_get(h.b->retained, B("$sys/x")));
    fixture *fs[] = {&g, &h};
    for (int i = 0; i < 2; i++) {
        broker_shutdown(fs[i]->b);
        uv_run(&fs[i]->loop, UV_RUN_DEFAULT);
        broker_free(fs[i]->b);
        assert_int_equal(uv_loop_close(&fs[i]->loop), 0);
    }
}

/* --- the RETAIN record codec ------------------------------------------------- */

static void test_codec(void **state)
{
    (void)state;
    buf b = {0};
    retain_rec in = {.topic = B("a/b"), .props = {(const uint8_t *)"\x03\x00\x01x", 4}, .payload = B("hello")};
    in.qos = 2;
    in.deadline = 1234567890123;
    broker__retain_rec_encode(&b, &in);
    retain_rec out;
    assert_null(broker__retain_rec_decode(b.data, b.len, &out));
    assert_true(mqtt_bytes_eq(out.topic, in.topic) && mqtt_bytes_eq(out.props, in.props) &&
                mqtt_bytes_eq(out.payload, in.payload));
    assert_int_equal(out.qos, 2);
    assert_int_equal(out.deadline, in.deadline);
    /* Every cut is refused, and so is a trailing byte. */
    for (size_t n = 0; n < b.len; n++) assert_non_null(broker__retain_rec_decode(b.data, n, &out));
    buf_append_u8(&b, 0);
    assert_non_null(broker__retain_rec_decode(b.data, b.len, &out));
    /* Field rules. */
    struct {
        retain_rec r;
        const char *why;
    } bad[] = {
        {{.topic = B("a/+"), .payload = B("x")}, "invalid topic name"},
        {{.topic = B(""), .payload = B("x")}, "invalid topic name"},
        {{.topic = B("a"), .payload = B("x"), .qos = 3}, "QoS above 2"},
        {{.topic = B("a"), .qos = 1}, "a clear with message fields"},
        {{.topic = B("a"), .deadline = 5}, "a clear with message fields"},
        {{.topic = B("a"), .payload = B("x"), .props = {(const uint8_t *)"\x23\x00\x01", 3}}, "invalid properties"},
        {{.topic = B("a"), .payload = B("x"), .props = {(const uint8_t *)"\x02\x00\x00\x00\x05", 5}},
         "invalid properties"}, /* message expiry: recomputed, never stored */
        {{.topic = B("a"), .payload = B("x"), .props = {(const uint8_t *)"\xff", 1}}, "invalid properties"},
        {{.topic = B("a"), .payload = B("x"), .props = {(const uint8_t *)"\x03\x00\x05x", 4}}, "invalid properties"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b.len = 0;
        broker__retain_rec_encode(&b, &bad[i].r);
        const char *why = broker__retain_rec_decode(b.data, b.len, &out);
        assert_non_null(why);
        assert_non_null(strstr(why, bad[i].why));
    }
    b.len = 0;
    broker__retain_rec_encode(&b, &(retain_rec){.topic = B("a")});
    b.data[0] = 2; /* a version this build does not know */
    assert_string_equal(broker__retain_rec_decode(b.data, b.len, &out), "unknown retained record version");
    assert_non_null(broker_persist_check(BROKER_REC_RETAIN, b.data, b.len));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_puback_waits_for_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_of_nothing_appends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_disconnects_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusing_answers_0x97, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_and_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_on_commit, setup_replicated, teardown),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
