/* The broker's cluster seam (broker/broker_cluster.h), driven through a
 * real listener and a blocking client on the loop thread: subscriptions
 * reported per (session, filter), which messages reach the forward hook,
 * a remote promise holding the PUBACK until kept, messages of other nodes
 * delivered locally only (never forwarded, never stored as retained),
 * shared groups served only when the cluster says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/broker_cluster.h"
#include "mqtt/codec.h"
#include "net/net.h"
#include "util/alloc.h"

#include "broker_test_client.h"
#include "server/principal_ops.h"

typedef struct fixture {
    uv_loop_t loop;
    net *n;
    broker *b;
    tc_conn c;
    int interest[4]; /* "a/+", "$share/g/s/#", "r/#", other */
    int forwards, local_only;
    char last_topic[32], last_client[32];
    uint64_t next_promise; /* 0: forward sets none */
    uint32_t nodes;        /* what forward returns */
    bool share_here;
} fixture;

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static void copy(char *dst, mqtt_bytes b)
{
    size_t n = b.len < 31 ? b.len : 31;
    memcpy(dst, b.data, n);
    dst[n] = '\0';
}

static void on_interest(void *ctx, mqtt_bytes filter, bool added)
{
    fixture *f = ctx;
    int i = mqtt_bytes_eq(filter, B("a/+"))            ? 0
            : mqtt_bytes_eq(filter, B("$share/g/s/#")) ? 1
            : mqtt_bytes_eq(filter, B("r/#"))          ? 2
                                                       : 3;
    f->interest[i] += added ? 1 : -1;
}

static uint32_t on_forward(void *ctx, broker_cluster_msg *m)
{
    fixture *f = ctx;
    if (!m) {
        f->local_only++;
        return 0;
    }
    f->forwards++;
    copy(f->last_topic, m->topic);
    copy(f->last_client, m->client_id);
    if (m->qos && m->client_id.len && f->next_promise) m->promise = f->next_promise++;
    return f->nodes;
}

static bool on_share_here(void *ctx, mqtt_bytes group, mqtt_bytes filter)
{
    fixture *f = ctx;
    assert_true(mqtt_bytes_eq(group, B("g")) && mqtt_bytes_eq(filter, B("s/#")));
    return f->share_here;
}

static void service_hook(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                         const mqtt_publish *pub)
{
    (void)ctx, (void)client_id, (void)username, (void)who, (void)pub;
}

static bool recv_packet(fixture *f, mqtt_packet *p)
{
    for (int i = 0; i < 2000; i++) {
        size_t total;
        if (f->c.in.len && mqtt_frame(f->c.in.data, f->c.in.len, 0, &total) == MQTT_FRAME_OK) {
            assert_int_equal(mqtt_decode_from_server(f->c.in.data, total, MQTT_V5, p), 0);
            return true;
        }
        tc_pump(&f->loop, &f->c);
    }
    return false;
}

/* The next packet is of `type`; returns its reason code (acks) or retain flag (PUBLISH). */
static uint8_t expect(fixture *f, uint8_t type)
{
    mqtt_packet p;
    assert_true(recv_packet(f, &p));
    assert_int_equal(p.type, type);
    uint8_t v = p.type == MQTT_PUBLISH ? p.publish.retain : p.type == MQTT_PUBACK ? p.ack.reason : 0;
    tc_consume(&f->c, &p);
    return v;
}

static void subscribe(fixture *f, const char *filter, uint16_t id, bool unsub)
{
    mqtt_sub_entry e = {.filter = B(filter), .qos = 1};
    mqtt_packet s = {.type = unsub ? MQTT_UNSUBSCRIBE : MQTT_SUBSCRIBE};
    s.subscribe.packet_id = id;
    s.subscribe.count = 1;
    s.subscribe.entries = &e;
    tc_send(&f->c, &s);
    expect(f, unsub ? MQTT_UNSUBACK : MQTT_SUBACK);
}

static void publish(fixture *f, const char *topic, uint8_t qos, uint16_t id, bool retain)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B(topic);
    p.publish.payload = B("x");
    p.publish.qos = qos;
    p.publish.packet_id = id;
    p.publish.retain = retain;
    tc_send(&f->c, &p);
}

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->n = net_new(&f->loop);
    broker_limits l;
    broker_limits_default(&l);
    f->b = broker_new(&f->loop, &l, &server_principal_ops);
    net_listener *ls =
        net_listen(f->n, "127.0.0.1", 0, broker_conn_user_size, broker_accept, &broker_conn_callbacks, f->b);
    assert_non_null(ls);
    tc_open(&f->c, net_listener_port(ls), MQTT_V5);
    broker_set_publish_hook(f->b, B("$svc/req"), service_hook, f);
    tc_send_connect(&f->c, "hk", NULL);
    expect(f, MQTT_CONNACK);
    subscribe(f, "a/+", 1, false); /* before the hooks: reported when they are installed */
    f->share_here = true;
    broker_cluster_hooks h = {on_interest, on_forward, on_share_here, f};
    broker_set_cluster(f->b, &h);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    broker_shutdown(f->b);
    net_shutdown(f->n);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    broker_set_cluster(f->b, NULL);
    broker_free(f->b);
    net_free(f->n);
    uv_loop_close(&f->loop);
    tc_release(&f->c);
    free(f);
    return 0;
}

static void test_interest_reported(void **state)
{
    fixture *f = *state;
    assert_int_equal(f->interest[0], 1); /* held before the hooks */
    subscribe(f, "a/+", 2, false);       /* again: options replaced, not a new subscription */
    assert_int_equal(f->interest[0], 1);
    subscribe(f, "$share/g/s/#", 3, false);
    assert_int_equal(f->interest[1], 1);
    subscribe(f, "a/+", 4, true);
    assert_int_equal(f->interest[0], 0);
    subscribe(f, "a/+", 5, true); /* not subscribed: nothing */
    assert_int_equal(f->interest[0], 0);
}

/* Client PUBLISHes are forwarded (with the publisher's id), a service's
 * broker_publish is not (the hook is told: NULL), nor is a hooked topic;
 * nodes forwarded to count as receivers for the reason code. */
static void test_forward_sources(void **state)
{
    fixture *f = *state;
    publish(f, "t/1", 1, 1, false);
    assert_int_equal(expect(f, MQTT_PUBACK), MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    assert_int_equal(f->forwards, 1);
    assert_string_equal(f->last_topic, "t/1");
    assert_string_equal(f->last_client, "hk");
    f->nodes = 1;
    publish(f, "t/2", 1, 2, false);
    assert_int_equal(expect(f, MQTT_PUBACK), MQTT_RC_SUCCESS);
    assert_int_equal(f->forwards, 2);
    broker_message m = {.topic = B("t/3"), .payload = B("s"), .qos = 1};
    broker_publish(f->b, &m);
    assert_int_equal(f->forwards, 2);
    assert_int_equal(f->local_only, 1);
    publish(f, "$svc/req", 1, 3, false);
    expect(f, MQTT_PUBACK);
    assert_int_equal(f->forwards, 2);
}

/* A remote promise holds the PUBACK, and what follows it, until kept. */
static void test_remote_promise_holds_ack(void **state)
{
    fixture *f = *state;
    f->nodes = 1;
    f->next_promise = 1;
    publish(f, "t/1", 1, 1, false);
    tc_expect_silence(&f->loop, &f->c);
    publish(f, "t/2", 0, 0, false); /* QoS 0: no promise of its own */
    broker_cluster_kept(f->b, 1);
    assert_int_equal(expect(f, MQTT_PUBACK), MQTT_RC_SUCCESS);
    publish(f, "t/3", 2, 2, false); /* promise 2 */
    publish(f, "t/4", 1, 3, false); /* promise 3 */
    tc_expect_silence(&f->loop, &f->c);
    broker_cluster_kept(f->b, 2);
    expect(f, MQTT_PUBREC); /* in order: the PUBACK of promise 3 still waits */
    tc_expect_silence(&f->loop, &f->c);
    broker_cluster_kept(f->b, 3);
    expect(f, MQTT_PUBACK);
}

/* Another node's message: local sessions only, retain flag dropped for a
 * subscription without Retain As Published, nothing stored as retained. */
static void test_route_remote(void **state)
{
    fixture *f = *state;
    subscribe(f, "r/#", 1, false);
    broker_cluster_msg m = {.topic = B("r/1"), .payload = B("p"), .qos = 1, .retain = true};
    bool backlogged = true;
    assert_int_equal(broker_cluster_route_remote(f->b, &m, &backlogged), 1);
    assert_false(backlogged);
    assert_int_equal(expect(f, MQTT_PUBLISH), 0); /* retain 0: no Retain As Published */
    assert_int_equal(f->forwards, 0);
    broker_stats st;
    broker_get_stats(f->b, &st);
    assert_int_equal(st.retained, 0);
}

static void test_share_here(void **state)
{
    fixture *f = *state;
    subscribe(f, "$share/g/s/#", 1, false);
    broker_cluster_msg m = {.topic = B("s/1"), .payload = B("p"), .qos = 0};
    bool backlogged;
    f->share_here = false;
    assert_int_equal(broker_cluster_route_remote(f->b, &m, &backlogged), 0);
    tc_expect_silence(&f->loop, &f->c);
    f->share_here = true;
    assert_int_equal(broker_cluster_route_remote(f->b, &m, &backlogged), 1);
    expect(f, MQTT_PUBLISH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interest_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_promise_holds_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_remote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_here, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
