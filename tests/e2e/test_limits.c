/* Configured limits: maximum packet size (both directions), topic levels and
 * connection count. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "rawclient.h"

/* A fresh client can still publish to and receive from the broker. */
static bool broker_still_serves(void)
{
    struct tc *c = tc_open("probe", MQTT_PROTOCOL_V5, true, NULL);
    bool ok = c && tc_subscribe(c, "probe/t", 1, 0, NULL) == 1 &&
              tc_publish(c, "probe/t", "alive", 1, false, NULL) == 0 && tc_wait_msgs(c, 1, TC_TIMEOUT_MS);
    if (c) tc_destroy(c);
    return ok;
}

static const struct e2e_limits small_packets = {.max_packet_size = 1024};

static void oversized_inbound_publish_disconnects(void)
{
    static char payload[2000];
    memset(payload, 'p', sizeof payload);
    int fd = raw_connect_v5(e2e_port(), "big", true, NULL, NULL);
    CHECK(fd >= 0);
    struct pb pkt = {0};
    raw_build_publish_v5(&pkt, "big/t", 1, false, false, 1, NULL, payload, sizeof payload);
    CHECK(raw_send_pb(fd, &pkt));
    int reason = -1;
    CHECK(raw_wait_closed(fd, TC_TIMEOUT_MS, &reason));
    CHECK_INT(reason, 0x95); /* packet too large */
    CHECK(broker_still_serves());
}

static void oversized_outbound_skipped_per_subscriber(void)
{
    static char big[500];
    memset(big, 'b', sizeof big - 1);
    struct pb props = {0};
    pb_u8(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE);
    pb_u32(&props, 200);
    int small = raw_connect_v5(e2e_port(), "small", true, &props, NULL);
    CHECK(small >= 0);
    CHECK_INT(raw_subscribe_v5(small, 1, "size/t", 1, NULL), 1);
    struct tc *roomy = tc_open("roomy", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(roomy && pub);
    CHECK_INT(tc_subscribe(roomy, "size/t", 1, 0, NULL), 1);
    CHECK_INT(tc_publish(pub, "size/t", big, 1, false, NULL), 0);
    CHECK_INT(tc_publish(pub, "size/t", "small", 1, false, NULL), 0);
    CHECK(tc_wait_msgs(roomy, 2, TC_TIMEOUT_MS));
    CHECK_INT(roomy->msgs[0].payload_len, (int)strlen(big));

    /* The small subscriber gets only the message that fits. */
    struct raw_pkt pkt;
    struct raw_publish p;
    CHECK_INT(raw_recv_type(small, 3, &pkt, TC_TIMEOUT_MS), RAW_OK);
    bool parsed = raw_parse_publish_v5(&pkt, &p);
    bool is_small = parsed && p.payload_len == 5 && memcmp(p.payload, "small", 5) == 0;
    uint16_t id = p.packet_id;
    raw_pkt_free(&pkt);
    CHECK(is_small);
    CHECK(raw_send_ack(small, 4, id));
    CHECK_INT(raw_recv(small, &pkt, 300), RAW_TIMEOUT);
}

static const struct e2e_limits few_levels = {.max_topic_levels = 4};

static void topic_levels_limited(void)
{
    struct tc *c = tc_open("deep", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *all = tc_open("all", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c && all);
    CHECK_INT(tc_subscribe(all, "#", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(c, "a/b/c/d", 1, 0, NULL), 1);
    int rc = tc_subscribe(c, "a/b/c/d/e", 1, 0, NULL);
    CHECK(rc >= 0x80); /* rejected in the SUBACK */
    CHECK_INT(tc_publish(c, "l/b/c/d", "fits", 1, false, NULL), 0);
    rc = tc_publish(c, "l/b/c/d/e", "too deep", 1, false, NULL);
    /* Either a failure PUBACK or a DISCONNECT (then no PUBACK: -1). */
    CHECK(rc >= 0x80 || (rc == -1 && c->disconnected && c->disconnect_rc >= 0x80));
    tc_pump_for(300);
    CHECK_INT(all->msg_count, 1);
    CHECK_STR(all->msgs[0].topic, "l/b/c/d");
}

static const struct e2e_limits two_connections = {.max_connections = 2};

static int connack_code(const struct pb *connect, bool *closed)
{
    struct raw_pkt ack;
    int fd = raw_open(e2e_port());
    *closed = false;
    if (fd < 0 || !raw_send_pb(fd, connect)) return -1;
    int rc = raw_recv(fd, &ack, TC_TIMEOUT_MS);
    if (rc != RAW_OK) {
        *closed = rc == RAW_CLOSED;
        return -1;
    }
    int code = ack.type == 2 && ack.len >= 2 ? ack.body[1] : -1;
    raw_pkt_free(&ack);
    *closed = raw_wait_closed(fd, TC_TIMEOUT_MS, NULL);
    return code;
}

static void connections_limited(void)
{
    tc_pump_for(200); /* let the broker drop the harness' readiness probe */
    struct tc *a = tc_open("a", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *b = tc_open("b", MQTT_PROTOCOL_V311, true, NULL);
    CHECK(a && b);
    struct pb v5 = {0}, v311 = {0};
    bool closed;
    raw_build_connect_v5(&v5, "c5", true, 30, NULL);
    raw_build_connect_v311(&v311, "c311", true, 30);
    int rc5 = connack_code(&v5, &closed);
    /* Mosquitto 2.0.11 miscounts the closed readiness probe and then closes
     * over-limit connections without a CONNACK. */
    if ((rc5 == 0 || (rc5 == -1 && closed)) && e2e_mosquitto_deviates("max_connections: off by one, no CONNACK 0x97"))
        return;
    CHECK_INT(rc5, 0x97); /* quota exceeded */
    CHECK(closed);
    CHECK_INT(connack_code(&v311, &closed), 3); /* server unavailable */
    CHECK(closed);
    /* Freeing a slot lets a new client in. */
    tc_disconnect(a, 0);
    tc_destroy(a);
    tc_pump_for(200);
    struct tc *c = tc_open("c", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c);
}

static const struct e2e_case cases[] = {
    {"oversized_inbound_publish_disconnects", oversized_inbound_publish_disconnects, &small_packets, NULL},
    {"oversized_outbound_skipped_per_subscriber", oversized_outbound_skipped_per_subscriber, NULL, NULL},
    {"topic_levels_limited", topic_levels_limited, &few_levels, "Mosquitto has no topic level limit setting"},
    {"connections_limited", connections_limited, &two_connections, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
