/* PUBLISH properties forwarded to subscribers, message expiry, subscription
 * identifiers and topic aliases in both directions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "rawclient.h"

/* Collects the user properties as "k=v;k=v;" in wire order. */
static void user_props(const mosquitto_property *props, char *out, size_t size)
{
    out[0] = '\0';
    for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
        if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY) continue;
        char *k = NULL, *v = NULL;
        mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s=%s;", k ? k : "?", v ? v : "?");
        free(k);
        free(v);
    }
}

static void properties_passed_through(void)
{
    struct tc *sub = tc_open("sub", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *old = tc_open("old", MQTT_PROTOCOL_V311, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(sub && old && pub);
    CHECK_INT(tc_subscribe(sub, "props/t", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(old, "props/t", 1, 0, NULL), 1);
    mosquitto_property *props = NULL;
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json");
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "props/reply");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "\x00\xff\x10", 3);
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "z", "1");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "a", "2");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "z", "3");
    int rc = tc_publish(pub, "props/t", "{}", 1, false, props);
    mosquitto_property_free_all(&props);
    CHECK_INT(rc, 0);
    CHECK(tc_wait_msgs(sub, 1, TC_TIMEOUT_MS));
    CHECK(tc_wait_msgs(old, 1, TC_TIMEOUT_MS));
    CHECK_STR(old->msgs[0].payload, "{}");

    const mosquitto_property *got = sub->msgs[0].props;
    char buf[128];
    CHECK_INT(tc_prop_int(got, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), 1);
    CHECK(tc_prop_str(got, MQTT_PROP_CONTENT_TYPE, buf, sizeof buf));
    CHECK_STR(buf, "application/json");
    CHECK(tc_prop_str(got, MQTT_PROP_RESPONSE_TOPIC, buf, sizeof buf));
    CHECK_STR(buf, "props/reply");
    void *corr = NULL;
    uint16_t corr_len = 0;
    mosquitto_property_read_binary(got, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
    bool corr_ok = corr && corr_len == 3 && memcmp(corr, "\x00\xff\x10", 3) == 0;
    free(corr);
    CHECK(corr_ok);
    user_props(got, buf, sizeof buf);
    CHECK_STR(buf, "z=1;a=2;z=3;");
    CHECK_INT(tc_prop_int(got, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), -1);
}

static void message_expiry_counts_down_in_queue(void)
{
    mosquitto_property *session = NULL, *keep = NULL, *drop = NULL;
    mosquitto_property_add_int32(&session, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    mosquitto_property_add_int32(&keep, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 10);
    mosquitto_property_add_int32(&drop, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    struct tc *sub = tc_open("offline", MQTT_PROTOCOL_V5, false, session);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    int rc_keep = -1, rc_drop = -1;
    if (sub && pub && tc_subscribe(sub, "expiry/#", 1, 0, NULL) == 1) {
        tc_disconnect(sub, 0);
        tc_destroy(sub);
        rc_drop = tc_publish(pub, "expiry/drop", "short", 1, false, drop);
        rc_keep = tc_publish(pub, "expiry/keep", "long", 1, false, keep);
        tc_pump_for(2100);
        sub = tc_open("offline", MQTT_PROTOCOL_V5, false, session);
    } else {
        sub = NULL;
    }
    mosquitto_property_free_all(&session);
    mosquitto_property_free_all(&keep);
    mosquitto_property_free_all(&drop);
    CHECK(sub);
    CHECK_INT(rc_keep, 0);
    CHECK_INT(rc_drop, 0);
    CHECK(tc_wait_msgs(sub, 1, TC_TIMEOUT_MS));
    tc_pump_for(300);
    CHECK_INT(sub->msg_count, 1); /* the 1 s message expired while queued */
    CHECK_STR(sub->msgs[0].topic, "expiry/keep");
    long left = tc_prop_int(sub->msgs[0].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    e2e_note("expiry left after ~2 s offline: %ld", left);
    CHECK(left >= 1 && left <= 8);
}

static void subscription_identifier_delivered(void)
{
    struct tc *sub = tc_open("sub", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(sub && pub);
    mosquitto_property *id = NULL;
    mosquitto_property_add_varint(&id, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, 268435455); /* max */
    int granted = tc_subscribe(sub, "sid/with", 1, 0, id);
    mosquitto_property_free_all(&id);
    CHECK_INT(granted, 1);
    CHECK_INT(tc_subscribe(sub, "sid/without", 1, 0, NULL), 1);
    CHECK_INT(tc_publish(pub, "sid/with", "a", 1, false, NULL), 0);
    CHECK_INT(tc_publish(pub, "sid/without", "b", 1, false, NULL), 0);
    CHECK(tc_wait_msgs(sub, 2, TC_TIMEOUT_MS));
    for (int i = 0; i < 2; i++) {
        uint32_t ids[2] = {0};
        int n = tc_sub_ids(sub->msgs[i].props, ids, 2);
        if (strcmp(sub->msgs[i].topic, "sid/with") == 0) {
            CHECK_INT(n, 1);
            CHECK_INT(ids[0], 268435455);
        } else {
            CHECK_INT(n, 0);
        }
    }
}

static void alias_props(struct pb *p, uint16_t alias)
{
    p->len = 0;
    pb_u8(p, MQTT_PROP_TOPIC_ALIAS);
    pb_u16(p, alias);
}

static void topic_alias_inbound(void)
{
    struct tc *sub = tc_open("sub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(sub);
    CHECK_INT(tc_subscribe(sub, "alias/#", 0, 0, NULL), 0);
    int fd = raw_connect_v5(e2e_port(), "aliaser", true, NULL, NULL);
    CHECK(fd >= 0);
    struct pb props = {0}, pkt = {0};
    alias_props(&props, 1);
    raw_build_publish_v5(&pkt, "alias/long/topic/name", 0, false, false, 0, &props, "first", 5);
    CHECK(raw_send_pb(fd, &pkt));
    raw_build_publish_v5(&pkt, "", 0, false, false, 0, &props, "second", 6);
    CHECK(raw_send_pb(fd, &pkt));
    /* Re-map alias 1 to another topic, then use it again. */
    raw_build_publish_v5(&pkt, "alias/other", 0, false, false, 0, &props, "third", 5);
    CHECK(raw_send_pb(fd, &pkt));
    raw_build_publish_v5(&pkt, "", 0, false, false, 0, &props, "fourth", 6);
    CHECK(raw_send_pb(fd, &pkt));
    CHECK(tc_wait_msgs(sub, 4, TC_TIMEOUT_MS));
    const char *topics[] = {"alias/long/topic/name", "alias/long/topic/name", "alias/other", "alias/other"};
    for (int i = 0; i < 4; i++) CHECK_STR(sub->msgs[i].topic, topics[i]);
    CHECK_STR(sub->msgs[1].payload, "second");
}

static void topic_alias_outbound(void)
{
    struct pb props = {0};
    pb_u8(&props, MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
    pb_u16(&props, 5);
    int fd = raw_connect_v5(e2e_port(), "aliased-sub", true, &props, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, "out/#", 0, NULL), 0);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    struct raw_pkt pkt;
    struct raw_publish p[3];
    uint32_t alias[3] = {0};
    bool has_alias[3];
    for (int i = 0; i < 3; i++) {
        CHECK_INT(tc_publish(pub, "out/repeated/topic", "x", 0, false, NULL), 0);
        CHECK_INT(raw_recv_type(fd, 3, &pkt, TC_TIMEOUT_MS), RAW_OK);
        bool parsed = raw_parse_publish_v5(&pkt, &p[i]);
        has_alias[i] =
            parsed && raw_prop_find(p[i].props, p[i].props_len, MQTT_PROP_TOPIC_ALIAS, &alias[i], NULL, NULL);
        raw_pkt_free(&pkt);
        CHECK(parsed);
    }
    /* Any alias used must be within the maximum we announced. */
    for (int i = 0; i < 3; i++) CHECK(!has_alias[i] || (alias[i] >= 1 && alias[i] <= 5));
    CHECK_STR(p[0].topic, "out/repeated/topic");
    if (!has_alias[1] && e2e_mosquitto_deviates("does not use outbound topic aliases")) return;
    CHECK(has_alias[0]);
    CHECK(has_alias[1] && has_alias[2]);
    CHECK_INT(alias[1], alias[0]);
    CHECK_STR(p[1].topic, "");
    CHECK_STR(p[2].topic, "");
}

static const struct e2e_case cases[] = {
    {"properties_passed_through", properties_passed_through, NULL, NULL},
    {"message_expiry_counts_down_in_queue", message_expiry_counts_down_in_queue, NULL, NULL},
    {"subscription_identifier_delivered", subscription_identifier_delivered, NULL, NULL},
    {"topic_alias_inbound", topic_alias_inbound, NULL, NULL},
    {"topic_alias_outbound", topic_alias_outbound, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
