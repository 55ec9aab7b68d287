/* Authentication decided later (BROKER_AUTHN_PENDING + broker_authn_complete),
 * driven through a real listener and blocking TCP clients on the same
 * thread (the test steps the loop with UV_RUN_NOWAIT while it waits): the
 * loop keeps serving others meanwhile, input sent behind the CONNECT waits
 * for the CONNACK, and a decision for a connection that went away, or one
 * that lost its client id to another, lands safely. */
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

#include "auth/principal.h"
#include "broker/broker.h"
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
    uint64_t token;   /* the pending CONNECT's */
    char seen_id[64]; /* the client id it was asked about */
    int pending;
} fixture;

/* User "slow" is decided later by the test; everyone else at once. */
static broker_authn_status authenticate(void *ctx, const broker_authn_request *r, broker_authn_result *out)
{
    fixture *f = ctx;
    snprintf(f->seen_id, sizeof f->seen_id, "%.*s", (int)r->client_id.len, (const char *)r->client_id.data);
    if (r->username && r->username->len == 4 && memcmp(r->username->data, "slow", 4) == 0) {
        f->token = r->token;
        f->pending++;
        return BROKER_AUTHN_PENDING;
    }
    out->reason = MQTT_RC_SUCCESS;
    out->who = principal_new(r->client_id.data, r->client_id.len, NULL, 0, "test");
    return BROKER_AUTHN_DONE;
}

static void complete(fixture *f, uint8_t reason)
{
    broker_authn_result res = {.reason = reason};
    if (reason == MQTT_RC_SUCCESS) res.who = principal_new(f->seen_id, strlen(f->seen_id), "slow", 4, "test");
    broker_authn_complete(f->b, f->token, &res);
}

/* Wait for one packet of `type` into *out (released by the caller), or
 * false on timeout/EOF. */
static bool expect(fixture *f, conn *c, uint8_t type, mqtt_packet *out)
{
    for (int i = 0; i < 2000 && !c->eof; i++) {
        size_t total;
        if (c->in.len && mqtt_frame(c->in.data, c->in.len, 0, &total) == MQTT_FRAME_OK) {
            mqtt_packet p;
            assert_int_equal(mqtt_decode_from_server(c->in.data, total, c->version, &p), 0);
            assert_int_equal(p.type, type);
            if (out) *out = p;
            else mqtt_packet_release(&p);
            /* out's slices point into c->in: consume only what precedes them */
            if (!out) buf_consume(&c->in, total);
            return true;
        }
        tc_pump(&f->loop, c);
    }
    return false;
}

static void send_ping(conn *c)
{
    mqtt_packet p = {.type = MQTT_PINGREQ};
    tc_send(c, &p);
}

/* A client that connects (decided at once) and answers pings. */
static conn *open_fast(fixture *f, const char *id)
{
    conn *c = tc_dial(f->port, MQTT_V5);
    tc_send_connect(c, id, NULL);
    assert_true(expect(f, c, MQTT_CONNACK, NULL));
    return c;
}

/* A client whose CONNECT, and a PINGREQ right behind it, wait for the test. */
static conn *open_slow(fixture *f, const char *id)
{
    int before = f->pending;
    conn *c = tc_dial(f->port, MQTT_V5);
    tc_send_connect(c, id, "slow");
    send_ping(c);
    for (int i = 0; i < 2000 && f->pending == before; i++) tc_pump(&f->loop, c);
    assert_int_equal(f->pending, before + 1);
    return c;
}

static int setup_with(void **state, uint16_t connect_timeout)
{
    fixture *f = xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->n = net_new(&f->loop);
    broker_limits l;
    broker_limits_default(&l);
    l.connect_timeout = connect_timeout;
    f->b = broker_new(&f->loop, &l, &server_principal_ops);
    net_listener *ls =
        net_listen(f->n, "127.0.0.1", 0, broker_conn_user_size, broker_accept, &broker_conn_callbacks, f->b);
    assert_non_null(ls);
    f->port = net_listener_port(ls);
    broker_set_authenticator(f->b, authenticate, f);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with(state, 10); }
static int setup_short_timeout(void **state) { return setup_with(state, 1); }

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

static void test_others_served_while_pending(void **state)
{
    fixture *f = *state;
    conn *fast = open_fast(f, "fast");
    conn *slow = open_slow(f, "slow-1");
    send_ping(fast);
    assert_true(expect(f, fast, MQTT_PINGRESP, NULL));
    tc_expect_silence(&f->loop, slow); /* neither the CONNACK nor the queued PINGRESP */
    complete(f, MQTT_RC_SUCCESS);
    mqtt_packet p;
    assert_true(expect(f, slow, MQTT_CONNACK, &p));
    assert_int_equal(p.connack.reason, MQTT_RC_SUCCESS);
    tc_consume(slow, &p);
    assert_true(expect(f, slow, MQTT_PINGRESP, NULL)); /* the input behind the CONNECT */
    send_ping(slow);
    assert_true(expect(f, slow, MQTT_PINGRESP, NULL)); /* reading again */
    tc_close(slow);
    tc_close(fast);
}

static void test_refused_after_pending(void **state)
{
    fixture *f = *state;
    conn *slow = open_slow(f, "slow-2");
    complete(f, MQTT_RC_BAD_USER_OR_PASSWORD);
    mqtt_packet p;
    assert_true(expect(f, slow, MQTT_CONNACK, &p));
    assert_int_equal(p.connack.reason, MQTT_RC_BAD_USER_OR_PASSWORD);
    tc_consume(slow, &p);
    for (int i = 0; i < 2000 && !slow->eof; i++) tc_pump(&f->loop, slow);
    assert_true(slow->eof);
    assert_int_equal(slow->in.len, 0); /* the PINGREQ behind it was never answered */
    tc_close(slow);
}

/* The client hangs up while its CONNECT is pending. Its reads are paused,
 * so the broker learns of it only after the decision: it answers, reads
 * again, finds the end of the stream and closes. */
static void test_hang_up_while_pending(void **state)
{
    fixture *f = *state;
    conn *fast = open_fast(f, "fast");
    conn *slow = open_slow(f, "slow-3");
    tc_close(slow);
    for (int i = 0; i < 50; i++) tc_pump(&f->loop, fast);
    complete(f, MQTT_RC_SUCCESS);
    broker_stats st;
    for (int i = 0; i < 2000; i++) {
        tc_pump(&f->loop, fast);
        broker_get_stats(f->b, &st);
        if (st.clients == 1) break;
    }
    assert_int_equal(st.clients, 1);
    send_ping(fast);
    assert_true(expect(f, fast, MQTT_PINGRESP, NULL));
    tc_close(fast);
}

/* The connection is closed by the broker while pending (its connect
 * timeout): the late decision finds nobody and only frees its principal
 * (LeakSanitizer would tell). So do a repeated and an unknown token. */
static void test_decision_for_vanished_connection(void **state)
{
    fixture *f = *state;
    conn *fast = open_fast(f, "fast");
    conn *slow = open_slow(f, "slow-5");
    for (int i = 0; i < 4000 && !slow->eof; i++) tc_pump(&f->loop, slow); /* connect_timeout: 1 s */
    assert_true(slow->eof);
    complete(f, MQTT_RC_SUCCESS);
    complete(f, MQTT_RC_SUCCESS);
    broker_authn_result bogus = {.reason = MQTT_RC_SUCCESS};
    broker_authn_complete(f->b, 0xdeadbeef, &bogus);
    send_ping(fast);
    assert_true(expect(f, fast, MQTT_PINGRESP, NULL));
    broker_stats st;
    broker_get_stats(f->b, &st);
    assert_int_equal(st.clients, 1);
    tc_close(slow);
    tc_close(fast);
}

/* The session's current holder keeps being served while another CONNECT
 * for the same client id waits; the takeover happens at the decision. */
static void test_takeover_at_decision(void **state)
{
    fixture *f = *state;
    conn *old = open_fast(f, "same");
    conn *slow = open_slow(f, "same");
    send_ping(old);
    assert_true(expect(f, old, MQTT_PINGRESP, NULL));
    complete(f, MQTT_RC_SUCCESS);
    mqtt_packet p;
    assert_true(expect(f, old, MQTT_DISCONNECT, &p));
    assert_int_equal(p.disconnect.reason, MQTT_RC_SESSION_TAKEN_OVER);
    tc_consume(old, &p);
    assert_true(expect(f, slow, MQTT_CONNACK, &p));
    assert_int_equal(p.connack.reason, MQTT_RC_SUCCESS);
    tc_consume(slow, &p);
    tc_close(old);
    tc_close(slow);
}

/* A server-assigned client id survives the wait: the CONNACK carries the
 * one the authenticator was asked about. */
static void test_assigned_id_kept(void **state)
{
    fixture *f = *state;
    conn *slow = open_slow(f, "");
    assert_true(strncmp(f->seen_id, "mqs-", 4) == 0);
    complete(f, MQTT_RC_SUCCESS);
    mqtt_packet p;
    assert_true(expect(f, slow, MQTT_CONNACK, &p));
    assert_true(p.connack.props.present & MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID));
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)p.connack.props.assigned_client_id.len,
             (const char *)p.connack.props.assigned_client_id.data);
    assert_string_equal(got, f->seen_id);
    tc_consume(slow, &p);
    tc_close(slow);
}

/* Shutting down with a CONNECT pending: the connection closes with the
 * rest, and the decision that comes after is ignored. */
static void test_shutdown_while_pending(void **state)
{
    fixture *f = *state;
    conn *slow = open_slow(f, "slow-4");
    broker_shutdown(f->b);
    for (int i = 0; i < 2000 && !slow->eof; i++) tc_pump(&f->loop, slow);
    assert_true(slow->eof);
    complete(f, MQTT_RC_SUCCESS);
    tc_close(slow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_others_served_while_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_after_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_up_while_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decision_for_vanished_connection, setup_short_timeout, teardown),
        cmocka_unit_test_setup_teardown(test_takeover_at_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assigned_id_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_while_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
