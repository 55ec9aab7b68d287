/* The authorization hook, broker_disconnect_client and the disconnect
 * hook's timing on session takeover, driven through a real listener and
 * blocking TCP clients on the same thread (the test steps the loop with
 * UV_RUN_NOWAIT while it waits for the broker's answers). */
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
#include "auth/principal.h"
#include "mqtt/codec.h"
#include "net/net.h"
#include "util/alloc.h"

#include "broker_test_client.h"
#include "server/principal_ops.h"

typedef tc_conn conn;

typedef struct fixture {
    uv_loop_t loop;
    net *n;
    broker *b;
    uint16_t port;
    /* what the authorizer saw last */
    broker_action last_action;
    char last_topic[64], last_filter[64], last_group[16];
    /* "registrations" kept by the publish hook, dropped by the disconnect hook */
    bool registered;
    int disconnects;
    bool kick_in_hook;
    char last_who[32];  /* the principal's client id, "" when who was NULL */
    bool deny_secret;   /* RECEIVE of "news/secret" is denied */
    char got_topic[64]; /* topic of the last PUBLISH `expect` took */
} fixture;

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static void copy_str(char *dst, size_t cap, mqtt_bytes b)
{
    snprintf(dst, cap, "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
}

static bool starts_with(mqtt_bytes b, const char *p) { return b.len >= strlen(p) && memcmp(b.data, p, strlen(p)) == 0; }

static uint8_t authorize(void *ctx, const broker_auth_request *r)
{
    fixture *f = ctx;
    f->last_action = r->action;
    copy_str(f->last_topic, sizeof f->last_topic, r->topic);
    copy_str(f->last_filter, sizeof f->last_filter, r->filter);
    copy_str(f->last_group, sizeof f->last_group, r->share_group);
    if (r->who)
        copy_str(f->last_who, sizeof f->last_who, (mqtt_bytes){r->who->client_id, (uint32_t)r->who->client_id_len});
    else f->last_who[0] = '\0';
    if (r->action == BROKER_ACTION_RECEIVE && f->deny_secret && starts_with(r->topic, "news/secret"))
        return MQTT_RC_NOT_AUTHORIZED;
    return starts_with(r->filter, "deny") ? MQTT_RC_NOT_AUTHORIZED : MQTT_RC_SUCCESS;
}

static uint8_t deny_quota(void *ctx, const broker_auth_request *r)
{
    (void)ctx;
    return starts_with(r->filter, "quota") ? MQTT_RC_QUOTA_EXCEEDED : MQTT_RC_SUCCESS;
}

static void on_publish(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                       const mqtt_publish *pub)
{
    fixture *f = ctx;
    (void)username;
    (void)pub;
    f->registered = true;
    if (f->kick_in_hook) assert_true(broker_disconnect_client(f->b, client_id, MQTT_RC_PROTOCOL_ERROR, "bad"));
}

static void on_disconnect(void *ctx, mqtt_bytes client_id)
{
    fixture *f = ctx;
    (void)client_id;
    f->registered = false;
    f->disconnects++;
}

/* Wait for one packet of `type`; copies its first reason code (ack reason,
 * SUBACK reasons into rcs[]) and returns true, or false on timeout/EOF. */
static bool expect(fixture *f, conn *c, uint8_t type, uint8_t *rcs, uint32_t n)
{
    for (int i = 0; i < 2000 && !c->eof; i++) {
        size_t total;
        if (c->in.len && mqtt_frame(c->in.data, c->in.len, 0, &total) == MQTT_FRAME_OK) {
            mqtt_packet p;
            assert_int_equal(mqtt_decode_from_server(c->in.data, total, c->version, &p), 0);
            assert_int_equal(p.type, type);
            if (type == MQTT_SUBACK)
                for (uint32_t k = 0; k < n && k < p.suback.count; k++) rcs[k] = p.suback.reasons[k];
            if (type == MQTT_PUBACK || type == MQTT_PUBREC) rcs[0] = p.ack.reason;
            if (type == MQTT_DISCONNECT) rcs[0] = p.disconnect.reason;
            if (type == MQTT_PUBLISH) {
                copy_str(f->got_topic, sizeof f->got_topic, p.publish.topic);
                if (p.publish.qos) {
                    mqtt_packet ack = {.type = MQTT_PUBACK};
                    ack.ack.packet_id = p.publish.packet_id;
                    tc_send(c, &ack);
                }
            }
            mqtt_packet_release(&p);
            buf_consume(&c->in, total);
            return true;
        }
        tc_pump(&f->loop, c);
    }
    return false;
}

static conn *open_conn(fixture *f, const char *id, uint8_t version)
{
    conn *c = tc_dial(f->port, version);
    tc_send_connect(c, id, NULL);
    assert_true(expect(f, c, MQTT_CONNACK, NULL, 0));
    return c;
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
    f->port = net_listener_port(ls);
    broker_add_authorizer(f->b, authorize, f);
    broker_set_publish_hook(f->b, B("$svc/reg"), on_publish, f);
    broker_set_disconnect_hook(f->b, on_disconnect, f);
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
    free(f);
    return 0;
}

static void publish(conn *c, const char *topic, uint8_t qos, uint16_t id)
{
    mqtt_packet p = {.type = MQTT_PUBLISH};
    p.publish.topic = B(topic);
    p.publish.payload = B("x");
    p.publish.qos = qos;
    p.publish.packet_id = id;
    tc_send(c, &p);
}

static void subscribe(conn *c, const char *const *filters, uint32_t n, uint16_t id)
{
    mqtt_sub_entry e[4] = {0};
    for (uint32_t i = 0; i < n; i++) e[i] = (mqtt_sub_entry){.filter = B(filters[i]), .qos = 1};
    mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.subscribe.packet_id = id;
    p.subscribe.count = n;
    p.subscribe.entries = e;
    tc_send(c, &p);
}

static void test_publish_denied_v5(void **state)
{
    fixture *f = *state;
    conn *c = open_conn(f, "a5", MQTT_V5);
    uint8_t rc[3];
    subscribe(c, (const char *const[]){"#"}, 1, 1);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 1));
    assert_int_equal(rc[0], 1);
    publish(c, "deny/x", 1, 2);
    assert_true(expect(f, c, MQTT_PUBACK, rc, 1));
    assert_int_equal(rc[0], MQTT_RC_NOT_AUTHORIZED);
    assert_int_equal(f->last_action, BROKER_ACTION_PUBLISH);
    assert_string_equal(f->last_topic, "deny/x");
    publish(c, "deny/x", 2, 3);
    assert_true(expect(f, c, MQTT_PUBREC, rc, 1));
    assert_int_equal(rc[0], MQTT_RC_NOT_AUTHORIZED);
    publish(c, "deny/x", 0, 0);
    tc_expect_silence(&f->loop, c); /* dropped, not routed to the "#" subscription */
    publish(c, "ok", 0, 0);
    assert_true(expect(f, c, MQTT_PUBLISH, rc, 0));
    /* a denied publish to a hooked topic never reaches the hook */
    broker_set_publish_hook(f->b, B("deny/hook"), on_publish, f);
    publish(c, "deny/hook", 1, 4);
    assert_true(expect(f, c, MQTT_PUBACK, rc, 1));
    assert_false(f->registered);
    tc_close(c);
}

static void test_publish_denied_v311(void **state)
{
    fixture *f = *state;
    conn *c = open_conn(f, "a3", MQTT_V311);
    uint8_t rc[1];
    subscribe(c, (const char *const[]){"#"}, 1, 1);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 1));
    publish(c, "deny/x", 1, 2); /* acknowledged the 3.1.1 way, not routed */
    assert_true(expect(f, c, MQTT_PUBACK, rc, 1));
    tc_expect_silence(&f->loop, c);
    subscribe(c, (const char *const[]){"deny/#"}, 1, 3);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 1));
    assert_int_equal(rc[0], 0x80);
    tc_close(c);
}

static void test_subscribe_denied_per_filter(void **state)
{
    fixture *f = *state;
    broker_add_authorizer(f->b, deny_quota, NULL);
    conn *c = open_conn(f, "s5", MQTT_V5);
    uint8_t rc[4];
    subscribe(c, (const char *const[]){"a/b", "deny/#", "$share/g/deny", "quota/1"}, 4, 1);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 4));
    assert_int_equal(rc[0], 1);
    assert_int_equal(rc[1], MQTT_RC_NOT_AUTHORIZED);
    assert_int_equal(rc[2], MQTT_RC_NOT_AUTHORIZED);
    assert_int_equal(rc[3], MQTT_RC_QUOTA_EXCEEDED); /* the second authorizer's code */
    /* the first authorizer saw the share split (it allowed "quota/1" last) */
    subscribe(c, (const char *const[]){"$share/g/deny"}, 1, 2);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 1));
    assert_int_equal(f->last_action, BROKER_ACTION_SUBSCRIBE);
    assert_string_equal(f->last_topic, "$share/g/deny");
    assert_string_equal(f->last_filter, "deny");
    assert_string_equal(f->last_group, "g");
    broker_stats st;
    broker_get_stats(f->b, &st);
    assert_int_equal(st.subscriptions, 1); /* only "a/b" was stored */
    broker_remove_authorizer(f->b, deny_quota, NULL);
    subscribe(c, (const char *const[]){"quota/1"}, 1, 3);
    assert_true(expect(f, c, MQTT_SUBACK, rc, 1));
    assert_int_equal(rc[0], 1);
    tc_close(c);
}

/* Anonymous clients carry no principal until one is required; then the
 * connected ones get theirs at once (client id, method "anonymous"), as
 * do later connections. */
static void test_principals_only_when_required(void **state)
{
    fixture *f = *state;
    uint8_t rc[1];
    conn *a = open_conn(f, "anon-a", MQTT_V5);
    publish(a, "t/1", 1, 1);
    assert_true(expect(f, a, MQTT_PUBACK, rc, 1));
    assert_string_equal(f->last_who, "");
    broker_require_principals(f->b, true);
    publish(a, "t/2", 1, 2);
    assert_true(expect(f, a, MQTT_PUBACK, rc, 1));
    assert_string_equal(f->last_who, "anon-a");
    conn *b = open_conn(f, "anon-b", MQTT_V311);
    assert_string_equal(f->last_who, "anon-b"); /* BROKER_ACTION_CONNECT */
    tc_close(a);
    tc_close(b);
}

static void test_disconnect_client_in_hook(void **state)
{
    fixture *f = *state;
    conn *c = open_conn(f, "kick", MQTT_V5);
    assert_false(broker_disconnect_client(f->b, B("nobody"), MQTT_RC_PROTOCOL_ERROR, NULL));
    f->kick_in_hook = true;
    publish(c, "$svc/reg", 1, 1);
    uint8_t rc[1];
    assert_true(expect(f, c, MQTT_PUBACK, rc, 1)); /* the ack precedes the hook */
    assert_true(expect(f, c, MQTT_DISCONNECT, rc, 1));
    assert_int_equal(rc[0], MQTT_RC_PROTOCOL_ERROR);
    for (int i = 0; i < 2000 && !c->eof; i++) tc_pump(&f->loop, c);
    assert_true(c->eof);
    assert_int_equal(f->disconnects, 1);
    assert_false(f->registered);
    tc_close(c);
}

/* The old connection's disconnect hook runs during the new CONNECT, so a
 * registration the new connection makes right after is never dropped by
 * the old connection's (later) close. */
static void test_takeover_hook_before_new_connection(void **state)
{
    fixture *f = *state;
    conn *old = open_conn(f, "tk", MQTT_V5);
    publish(old, "$svc/reg", 1, 1);
    uint8_t rc[1];
    assert_true(expect(f, old, MQTT_PUBACK, rc, 1));
    assert_true(f->registered);
    conn *c = xcalloc(1, sizeof *c);
    c->version = MQTT_V5;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    /* CONNECT and the registering PUBLISH in one write */
    mqtt_packet p = {.type = MQTT_CONNECT};
    p.connect.version = MQTT_V5;
    p.connect.keep_alive = 60;
    p.connect.client_id = B("tk");
    tc_send(c, &p);
    publish(c, "$svc/reg", 1, 1);
    assert_true(expect(f, c, MQTT_CONNACK, rc, 0));
    assert_true(expect(f, c, MQTT_PUBACK, rc, 1));
    assert_true(expect(f, old, MQTT_DISCONNECT, rc, 1));
    assert_int_equal(rc[0], MQTT_RC_SESSION_TAKEN_OVER);
    for (int i = 0; i < 2000 && !old->eof; i++) tc_pump(&f->loop, old);
    for (int i = 0; i < 50; i++) tc_pump(&f->loop, c); /* let the old close complete */
    assert_int_equal(f->disconnects, 1);
    assert_true(f->registered);
    tc_close(old);
    tc_close(c);
    for (int i = 0; i < 2000 && f->disconnects < 2; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->disconnects, 2); /* exactly once per connection */
    assert_false(f->registered);
}

/* A v3.1.1 persistent session (clean session 0: it never expires). */
static conn *open_persistent(fixture *f, const char *id)
{
    conn *c = tc_dial(f->port, MQTT_V311);
    mqtt_packet p = {.type = MQTT_CONNECT};
    p.connect.version = MQTT_V311;
    p.connect.keep_alive = 60;
    p.connect.client_id = B(id);
    tc_send(c, &p);
    assert_true(expect(f, c, MQTT_CONNACK, NULL, 0));
    return c;
}

/* Rules that changed while a session was offline (no recheck ran) still
 * apply to what was queued for it: checked on resume, before delivery. */
static void test_queued_checked_on_resume(void **state)
{
    fixture *f = *state;
    conn *sub = open_persistent(f, "p1");
    uint8_t rc[1];
    subscribe(sub, (const char *const[]){"news/#"}, 1, 1);
    assert_true(expect(f, sub, MQTT_SUBACK, rc, 1));
    tc_close(sub);
    for (int i = 0; i < 2000 && f->disconnects == 0; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->disconnects, 1);
    conn *pub = open_conn(f, "pub", MQTT_V5);
    publish(pub, "news/secret", 1, 1);
    assert_true(expect(f, pub, MQTT_PUBACK, rc, 1));
    publish(pub, "news/ok", 1, 2);
    assert_true(expect(f, pub, MQTT_PUBACK, rc, 1));
    f->deny_secret = true;
    sub = open_persistent(f, "p1");
    assert_true(expect(f, sub, MQTT_PUBLISH, NULL, 0));
    assert_string_equal(f->got_topic, "news/ok");
    tc_expect_silence(&f->loop, sub);
    tc_close(sub);
    tc_close(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_denied_v5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_denied_v311, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_denied_per_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principals_only_when_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_client_in_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_hook_before_new_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_checked_on_resume, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
