/* CONNECT / CONNACK behaviour. */
#include <string.h>

#include "client.h"
#include "rawclient.h"

/* Sends a hand-built CONNECT and returns the fd with the reply in *ack. */
static int connect_raw(const struct pb *connect, struct raw_pkt *ack)
{
    int fd = raw_open(e2e_port());
    if (fd < 0 || !raw_send_pb(fd, connect) || raw_recv(fd, ack, TC_TIMEOUT_MS) != RAW_OK) return -1;
    return fd;
}

static const struct e2e_limits connack_limits = {
    .receive_maximum = 10, .max_inflight = 10, .max_packet_size = 100000, .topic_alias_maximum = 5};

static void connack_properties(void)
{
    struct tc *c = tc_new("props", MQTT_PROTOCOL_V5, true);
    CHECK_INT(tc_connect(c, 60, NULL), 0);
    const mosquitto_property *p = c->connack_props;
    CHECK_INT(tc_prop_int(p, MQTT_PROP_RECEIVE_MAXIMUM), 10);
    CHECK_INT(tc_prop_int(p, MQTT_PROP_MAXIMUM_PACKET_SIZE), 100000);
    CHECK_INT(tc_prop_int(p, MQTT_PROP_TOPIC_ALIAS_MAXIMUM), 5);
    /* Absent means "available"; if sent, the value must say available. */
    long wildcard = tc_prop_int(p, MQTT_PROP_WILDCARD_SUB_AVAILABLE);
    long sub_ids = tc_prop_int(p, MQTT_PROP_SUBSCRIPTION_ID_AVAILABLE);
    long shared = tc_prop_int(p, MQTT_PROP_SHARED_SUB_AVAILABLE);
    CHECK(wildcard == -1 || wildcard == 1);
    CHECK(sub_ids == -1 || sub_ids == 1);
    CHECK(shared == -1 || shared == 1);
    CHECK_INT(c->connack_flags & 1, 0);
}

static void assigned_client_id(void)
{
    struct pb connect = {0};
    struct raw_pkt ack;
    const uint8_t *props, *id;
    uint32_t props_len;
    uint16_t id_len = 0;
    raw_build_connect_v5(&connect, "", true, 30, NULL);
    int fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    CHECK_INT(ack.type, 2);
    CHECK_INT(raw_reason_code(&ack), 0);
    CHECK(raw_connack_props(&ack, &props, &props_len));
    bool found = raw_prop_find(props, props_len, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER, NULL, &id, &id_len);
    raw_pkt_free(&ack);
    CHECK(found);
    CHECK(id_len > 0);
}

static void v311_empty_id_needs_clean_session(void)
{
    struct pb connect = {0};
    struct raw_pkt ack;
    raw_build_connect_v311(&connect, "", false, 30);
    int fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    CHECK_INT(ack.type, 2);
    CHECK_INT(ack.len, 2);
    int rc = ack.body[1];
    raw_pkt_free(&ack);
    CHECK_INT(rc, 2); /* identifier rejected */
    CHECK(raw_wait_closed(fd, TC_TIMEOUT_MS, NULL));

    /* The same empty id with clean session 1 is accepted. */
    raw_build_connect_v311(&connect, "", true, 30);
    fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    rc = ack.len == 2 ? ack.body[1] : -1;
    raw_pkt_free(&ack);
    CHECK_INT(rc, 0);
}

static const struct e2e_limits keepalive_limits = {.keepalive_max = 10};

static void server_keepalive_caps_client(void)
{
    struct pb connect = {0};
    struct raw_pkt ack;
    const uint8_t *props;
    uint32_t props_len, keepalive = 0;
    raw_build_connect_v5(&connect, "ka", true, 60, NULL);
    int fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    CHECK_INT(raw_reason_code(&ack), 0);
    CHECK(raw_connack_props(&ack, &props, &props_len));
    bool found = raw_prop_find(props, props_len, MQTT_PROP_SERVER_KEEP_ALIVE, &keepalive, NULL, NULL);
    raw_pkt_free(&ack);
    CHECK(found);
    CHECK_INT(keepalive, 10);
}

static void auth_method_rejected(void)
{
    struct pb connect = {0}, props = {0};
    struct raw_pkt ack;
    pb_u8(&props, MQTT_PROP_AUTHENTICATION_METHOD);
    pb_str(&props, "SCRAM-SHA-1");
    raw_build_connect_v5(&connect, "auth", true, 30, &props);
    int fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    CHECK_INT(ack.type, 2);
    int rc = raw_reason_code(&ack);
    raw_pkt_free(&ack);
    CHECK_INT(rc, 0x8C); /* bad authentication method */
    CHECK(raw_wait_closed(fd, TC_TIMEOUT_MS, NULL));
}

static void unsupported_protocol_level(void)
{
    struct pb connect = {0}, body = {0};
    struct raw_pkt ack;
    pb_str(&body, "MQTT");
    pb_u8(&body, 6);
    pb_u8(&body, 0x02);
    pb_u16(&body, 30);
    pb_u8(&body, 0); /* empty v5-style property block */
    pb_str(&body, "level6");
    pb_packet(&connect, 0x10, &body);
    int fd = connect_raw(&connect, &ack);
    CHECK(fd >= 0);
    CHECK_INT(ack.type, 2);
    int rc = raw_reason_code(&ack);
    raw_pkt_free(&ack);
    /* 0x84 in the v5 format or return code 1 in the v3.1.1 format. */
    CHECK(rc == 0x84 || rc == 0x01);
    CHECK(raw_wait_closed(fd, TC_TIMEOUT_MS, NULL));
}

static void v311_and_v5_clients_interoperate(void)
{
    struct tc *old = tc_open("v311", MQTT_PROTOCOL_V311, true, NULL);
    struct tc *new = tc_open("v5", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(old && new);
    CHECK_INT(tc_subscribe(old, "mix/#", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(new, "mix/#", 1, 0, NULL), 1);
    CHECK_INT(tc_publish(new, "mix/a", "from-v5", 1, false, NULL), 0);
    CHECK_INT(tc_publish(old, "mix/b", "from-v311", 1, false, NULL), 0);
    CHECK(tc_wait_msgs(old, 2, TC_TIMEOUT_MS));
    CHECK(tc_wait_msgs(new, 2, TC_TIMEOUT_MS));
    CHECK_INT(tc_count_topic(old, "mix/a") + tc_count_topic(new, "mix/b"), 2);
}

static const struct e2e_case cases[] = {
    {"connack_properties", connack_properties, &connack_limits, NULL},
    {"assigned_client_id", assigned_client_id, NULL, NULL},
    {"v311_empty_id_needs_clean_session", v311_empty_id_needs_clean_session, NULL, NULL},
    {"server_keepalive_caps_client", server_keepalive_caps_client, &keepalive_limits, NULL},
    {"auth_method_rejected", auth_method_rejected, NULL, NULL},
    {"unsupported_protocol_level", unsupported_protocol_level, NULL, NULL},
    {"v311_and_v5_clients_interoperate", v311_and_v5_clients_interoperate, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
