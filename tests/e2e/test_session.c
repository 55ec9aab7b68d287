/* Sessions: clean start, resumption, expiry, takeover, offline queues and
 * in-flight state across reconnects. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "rawclient.h"

static mosquitto_property *expiry_props(uint32_t seconds)
{
    mosquitto_property *p = NULL;
    mosquitto_property_add_int32(&p, MQTT_PROP_SESSION_EXPIRY_INTERVAL, seconds);
    return p;
}

static void raw_expiry_props(struct pb *p, uint32_t seconds)
{
    p->len = 0;
    pb_u8(p, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
    pb_u32(p, seconds);
}

/* Connects a v5 client (clean start as given, session expiry as given) and
 * returns it, or NULL. */
static struct tc *open_session(const char *id, bool clean, uint32_t expiry)
{
    mosquitto_property *props = expiry_props(expiry);
    struct tc *c = tc_open(id, MQTT_PROTOCOL_V5, clean, props);
    mosquitto_property_free_all(&props);
    return c;
}

static void clean_start_vs_resume(void)
{
    struct tc *c = open_session("resume", false, 60);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 0); /* nothing to resume yet */
    CHECK_INT(tc_subscribe(c, "resume/t", 1, 0, NULL), 1);
    tc_disconnect(c, 0);
    tc_destroy(c);

    c = open_session("resume", false, 60);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 1);
    tc_disconnect(c, 0);
    tc_destroy(c);

    c = open_session("resume", true, 60);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 0); /* clean start discards it */

    /* v3.1.1: clean session 0 keeps the session across connections. */
    struct tc *old = tc_open("resume311", MQTT_PROTOCOL_V311, false, NULL);
    CHECK(old);
    CHECK_INT(old->connack_flags & 1, 0);
    tc_disconnect(old, 0);
    tc_destroy(old);
    old = tc_open("resume311", MQTT_PROTOCOL_V311, false, NULL);
    CHECK(old);
    CHECK_INT(old->connack_flags & 1, 1);
}

static void session_expires_after_interval(void)
{
    struct tc *c = open_session("expiring", false, 2);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c && pub);
    CHECK_INT(tc_subscribe(c, "exp/t", 1, 0, NULL), 1);
    tc_disconnect(c, 0);
    tc_destroy(c);
    int64_t disconnected_at = e2e_now_ms();
    /* Queued for the offline session, and lost with it. */
    CHECK_INT(tc_publish(pub, "exp/t", "lost", 1, false, NULL), 0);
    tc_pump_for((int)(3000 - (e2e_now_ms() - disconnected_at)));

    c = open_session("expiring", false, 60);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 0);
    tc_pump_for(500);
    CHECK_INT(c->msg_count, 0);
}

static void infinite_expiry_keeps_session(void)
{
    struct tc *c = open_session("forever", false, 0xFFFFFFFFu);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c && pub);
    CHECK_INT(tc_subscribe(c, "forever/t", 1, 0, NULL), 1);
    tc_disconnect(c, 0);
    tc_destroy(c);
    CHECK_INT(tc_publish(pub, "forever/t", "kept", 1, false, NULL), 0);
    tc_pump_for(1500);

    c = open_session("forever", false, 0xFFFFFFFFu);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 1);
    CHECK(tc_wait_msgs(c, 1, TC_TIMEOUT_MS));
    CHECK_STR(c->msgs[0].payload, "kept");
}

static void takeover_disconnects_first(void)
{
    /* Raw, to see the DISCONNECT on the wire. */
    struct pb props = {0};
    raw_expiry_props(&props, 60);
    int first = raw_connect_v5(e2e_port(), "twin", false, &props, NULL);
    CHECK(first >= 0);
    CHECK_INT(raw_subscribe_v5(first, 1, "twin/t", 1, NULL), 1);
    struct tc *second = open_session("twin", false, 60);
    CHECK(second);
    int reason = -1;
    CHECK(raw_wait_closed(first, TC_TIMEOUT_MS, &reason));
    if (!e2e_mosquitto_deviates("DISCONNECT 0x8E to the old connection on takeover"))
        CHECK_INT(reason, 0x8E); /* session taken over */
    CHECK_INT(second->connack_flags & 1, 1);

    /* The session (with its subscription) now belongs to the second one. */
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    CHECK_INT(tc_publish(pub, "twin/t", "hello", 1, false, NULL), 0);
    CHECK(tc_wait_msgs(second, 1, TC_TIMEOUT_MS));
}

static void offline_queue_delivered_in_order(void)
{
    struct tc *c = open_session("offline", false, 60);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c && pub);
    CHECK_INT(tc_subscribe(c, "off/#", 2, 0, NULL), 2);
    tc_disconnect(c, 0);
    tc_destroy(c);
    char payload[16];
    for (int i = 0; i < 10; i++) {
        snprintf(payload, sizeof payload, "m%d", i);
        CHECK_INT(tc_publish(pub, "off/t", payload, 1 + i % 2, false, NULL), 0);
    }
    CHECK_INT(tc_publish(pub, "off/t", "qos0-maybe", 0, false, NULL), 0);

    c = open_session("offline", false, 60);
    CHECK(c);
    CHECK_INT(c->connack_flags & 1, 1);
    CHECK(tc_wait_msgs(c, 10, TC_TIMEOUT_MS));
    /* MQTT orders messages per topic and QoS level (and libmosquitto hands
     * QoS 2 over on PUBREL), so check the order within each QoS. */
    for (int qos = 1; qos <= 2; qos++) {
        int expected = qos - 1;
        for (int i = 0; i < c->msg_count; i++) {
            if (c->msgs[i].qos != qos) continue;
            snprintf(payload, sizeof payload, "m%d", expected);
            CHECK_STR(c->msgs[i].payload, payload);
            expected += 2;
        }
        CHECK_INT(expected, 10 + qos - 1);
    }
}

static const struct e2e_limits queue_limits = {.max_queued_messages = 5};

static void offline_queue_is_bounded(void)
{
    struct tc *c = open_session("bounded", false, 60);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c && pub);
    CHECK_INT(tc_subscribe(c, "bound/t", 1, 0, NULL), 1);
    tc_disconnect(c, 0);
    tc_destroy(c);
    for (int i = 0; i < 50; i++) CHECK(tc_publish(pub, "bound/t", "x", 1, false, NULL) >= 0);

    c = open_session("bounded", false, 60);
    CHECK(c);
    tc_wait_msgs(c, 50, 1000);
    e2e_note("%d of 50 queued messages delivered with max_queued_messages 5", c->msg_count);
    CHECK(c->msg_count >= 1);
    CHECK(c->msg_count <= 5);
}

/* Builds and sends a QoS 2 PUBLISH with a fixed packet id. */
static bool send_qos2(int fd, bool dup)
{
    struct pb pkt = {0};
    raw_build_publish_v5(&pkt, "once/t", 2, dup, false, 7, NULL, "once", 4);
    return raw_send_pb(fd, &pkt);
}

static void qos2_exactly_once_across_reconnect(void)
{
    struct tc *sub = tc_open("sub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(sub);
    CHECK_INT(tc_subscribe(sub, "once/t", 2, 0, NULL), 2);

    struct pb props = {0};
    struct raw_pkt pkt;
    bool present = false;
    raw_expiry_props(&props, 60);
    int fd = raw_connect_v5(e2e_port(), "qos2pub", false, &props, &present);
    CHECK(fd >= 0);
    CHECK(send_qos2(fd, false));
    CHECK_INT(raw_recv_type(fd, 5, &pkt, TC_TIMEOUT_MS), RAW_OK); /* PUBREC */
    raw_pkt_free(&pkt);
    raw_close(fd); /* connection lost before PUBREL */

    fd = raw_connect_v5(e2e_port(), "qos2pub", false, &props, &present);
    CHECK(fd >= 0);
    CHECK(present);
    CHECK(send_qos2(fd, true));
    CHECK_INT(raw_recv_type(fd, 5, &pkt, TC_TIMEOUT_MS), RAW_OK);
    raw_pkt_free(&pkt);
    CHECK(raw_send_ack(fd, 6, 7));                                /* PUBREL */
    CHECK_INT(raw_recv_type(fd, 7, &pkt, TC_TIMEOUT_MS), RAW_OK); /* PUBCOMP */
    int rc = raw_reason_code(&pkt);
    raw_pkt_free(&pkt);
    CHECK_INT(rc, 0);

    tc_wait_msgs(sub, 1, TC_TIMEOUT_MS);
    tc_pump_for(500); /* a duplicate would arrive now */
    CHECK_INT(sub->msg_count, 1);
    CHECK_STR(sub->msgs[0].payload, "once");
}

static void unacked_outbound_resent_with_dup(void)
{
    struct pb props = {0};
    struct raw_pkt pkt;
    struct raw_publish first, again;
    bool present = false;
    raw_expiry_props(&props, 60);
    int fd = raw_connect_v5(e2e_port(), "noack", false, &props, &present);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, "dup/t", 1, NULL), 1);

    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    CHECK_INT(tc_publish(pub, "dup/t", "resend-me", 1, false, NULL), 0);
    CHECK_INT(raw_recv_type(fd, 3, &pkt, TC_TIMEOUT_MS), RAW_OK);
    bool parsed = raw_parse_publish_v5(&pkt, &first);
    raw_pkt_free(&pkt);
    CHECK(parsed);
    CHECK(!first.dup);
    CHECK_INT(first.qos, 1);
    raw_close(fd); /* never acknowledged */

    fd = raw_connect_v5(e2e_port(), "noack", false, &props, &present);
    CHECK(fd >= 0);
    CHECK(present);
    CHECK_INT(raw_recv_type(fd, 3, &pkt, TC_TIMEOUT_MS), RAW_OK);
    parsed = raw_parse_publish_v5(&pkt, &again);
    bool same_payload = parsed && again.payload_len == 9 && memcmp(again.payload, "resend-me", 9) == 0;
    raw_pkt_free(&pkt);
    CHECK(parsed);
    CHECK(again.dup);
    CHECK_INT(again.packet_id, first.packet_id);
    CHECK(same_payload);
    CHECK(raw_send_ack(fd, 4, again.packet_id));
}

static const struct e2e_case cases[] = {
    {"clean_start_vs_resume", clean_start_vs_resume, NULL, NULL},
    {"session_expires_after_interval", session_expires_after_interval, NULL, NULL},
    {"infinite_expiry_keeps_session", infinite_expiry_keeps_session, NULL, NULL},
    {"takeover_disconnects_first", takeover_disconnects_first, NULL, NULL},
    {"offline_queue_delivered_in_order", offline_queue_delivered_in_order, NULL, NULL},
    {"offline_queue_is_bounded", offline_queue_is_bounded, &queue_limits, NULL},
    {"qos2_exactly_once_across_reconnect", qos2_exactly_once_across_reconnect, NULL, NULL},
    {"unacked_outbound_resent_with_dup", unacked_outbound_resent_with_dup, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
