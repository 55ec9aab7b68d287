/* The in-process service hooks (publish hook, broker_publish,
 * broker_deliver_to, disconnect hook), driven through a real listener and
 * a blocking TCP client on the same thread: the test steps the loop with
 * UV_RUN_NOWAIT while it waits for the broker's answers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "mqtt/codec.h"
#include "net/net.h"
#include "util/alloc.h"

#include "broker_test_client.h"
#include "server/principal_ops.h"

typedef struct fixture {
    uv_loop_t loop;
    net *n;
    broker *b;
    tc_conn c; /* the client, MQTT 5 */
    int hook_calls;
    uint8_t last_payload[32];
    char last_client[32];
    int disconnects;
    bool kick; /* the hook disconnects its publisher, then reads its arguments */
} fixture;

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static void send_packet(fixture *f, const mqtt_packet *p) { tc_send(&f->c, p); }

/* Run the loop until one packet from the broker is complete. */
static bool recv_packet(fixture *f, mqtt_packet *p, int max_iter)
{
    for (int i = 0; i < max_iter; i++) {
        size_t total;
        if (f->c.in.len && mqtt_frame(f->c.in.data, f->c.in.len, 0, &total) == MQTT_FRAME_OK) {
            assert_int_equal(mqtt_decode_from_server(f->c.in.data, total, MQTT_V5, p), 0);
            /* Keep the bytes alive for the caller: copy out what we need below. */
            return true;
        }
        tc_pump(&f->loop, &f->c);
    }
    return false;
}

static uint8_t expect(fixture *f, uint8_t type)
{
    mqtt_packet p;
    assert_true(recv_packet(f, &p, 2000));
    assert_int_equal(p.type, type);
    uint8_t flags = p.type == MQTT_PUBLISH ? p.publish.qos : 0;
    tc_consume(&f->c, &p);
    return flags;
}

static void on_publish(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                       const mqtt_publish *pub)
{
    fixture *f = ctx;
    assert_null(username);
    f->hook_calls++;
    if (f->kick) assert_true(broker_disconnect_client(f->b, client_id, MQTT_RC_PROTOCOL_ERROR, "kicked"));
    /* broker.h: the arguments stay valid until the hook returns (client_id
     * points into a session that ends with the connection: expiry 0) */
    size_t n = client_id.len < sizeof f->last_client - 1 ? client_id.len : sizeof f->last_client - 1;
    memcpy(f->last_client, client_id.data, n);
    f->last_client[n] = '\0';
    memcpy(f->last_payload, pub->payload.data, pub->payload.len < 31 ? pub->payload.len : 31);
}

static void on_disconnect(void *ctx, mqtt_bytes client_id)
{
    fixture *f = ctx;
    assert_true(client_id.len == 2 && memcmp(client_id.data, "hk", 2) == 0);
    f->disconnects++;
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
    broker_set_publish_hook(f->b, B("$svc/set"), on_publish, f);
    broker_set_disconnect_hook(f->b, on_disconnect, f);
    tc_send_connect(&f->c, "hk", NULL);
    expect(f, MQTT_CONNACK);
    *state = f;
    return 0;
}

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
    free(f);
    return 0;
}

static void publish(fixture *f, const char *topic, const char *payload, uint8_t qos, uint16_t id)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B(topic);
    p.publish.payload = B(payload);
    p.publish.qos = qos;
    p.publish.packet_id = id;
    send_packet(f, &p);
}

static void test_publish_hook_exactly_once(void **state)
{
    fixture *f = *state;
    publish(f, "$svc/set", "v1", 1, 1);
    expect(f, MQTT_PUBACK);
    assert_int_equal(f->hook_calls, 1);
    assert_string_equal(f->last_client, "hk");
    assert_memory_equal(f->last_payload, "v1", 2);
    publish(f, "$svc/set", "v2", 2, 2);
    expect(f, MQTT_PUBREC);
    publish(f, "$svc/set", "v2", 2, 2); /* retransmission before PUBREL */
    expect(f, MQTT_PUBREC);
    mqtt_packet rel = {.type = MQTT_PUBREL};
    rel.ack.packet_id = 2;
    send_packet(f, &rel);
    expect(f, MQTT_PUBCOMP);
    assert_int_equal(f->hook_calls, 2);
    /* Other topics route normally and bypass the hook. */
    publish(f, "$svc/other", "x", 1, 3);
    expect(f, MQTT_PUBACK);
    assert_int_equal(f->hook_calls, 2);
}

static void test_deliver_to_and_publish(void **state)
{
    fixture *f = *state;
    broker_message m = {.topic = B("reply/hk"), .payload = B("r"), .qos = 1};
    assert_false(broker_deliver_to(f->b, B("nobody"), &m));
    assert_true(broker_deliver_to(f->b, B("hk"), &m));
    assert_int_equal(expect(f, MQTT_PUBLISH), 1);

    /* no-local subscription: a server-originated publish still arrives. */
    mqtt_sub_entry e = {.filter = B("news/#"), .qos = 0, .no_local = true};
    mqtt_packet s = {.type = MQTT_SUBSCRIBE};
    s.subscribe.packet_id = 5;
    s.subscribe.count = 1;
    s.subscribe.entries = &e;
    send_packet(f, &s);
    expect(f, MQTT_SUBACK);
    broker_message n = {.topic = B("news/1"), .payload = B("n"), .qos = 0};
    broker_publish(f->b, &n);
    assert_int_equal(expect(f, MQTT_PUBLISH), 0);
}

static void test_disconnect_hook(void **state)
{
    fixture *f = *state;
    mqtt_packet d = {.type = MQTT_DISCONNECT};
    send_packet(f, &d);
    for (int i = 0; i < 2000 && !f->disconnects; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->disconnects, 1);
}

/* A hook that disconnects its own publisher: the arguments are still
 * readable after the call (ASan reports a use after free otherwise), the
 * client gets the DISCONNECT once the hook returned, and the disconnect
 * hook runs once. */
static void test_hook_kicks_publisher(void **state)
{
    fixture *f = *state;
    f->kick = true;
    publish(f, "$svc/set", "kick", 1, 1);
    expect(f, MQTT_PUBACK);
    mqtt_packet p;
    assert_true(recv_packet(f, &p, 2000));
    assert_int_equal(p.type, MQTT_DISCONNECT);
    assert_int_equal(p.disconnect.reason, MQTT_RC_PROTOCOL_ERROR);
    tc_consume(&f->c, &p);
    assert_int_equal(f->hook_calls, 1);
    assert_string_equal(f->last_client, "hk");
    assert_memory_equal(f->last_payload, "kick", 4);
    for (int i = 0; i < 2000 && !f->c.eof; i++) tc_pump(&f->loop, &f->c);
    assert_true(f->c.eof);
    assert_int_equal(f->disconnects, 1);
    broker_stats st;
    broker_get_stats(f->b, &st);
    assert_int_equal(st.sessions, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_hook_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_to_and_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_kicks_publisher, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
