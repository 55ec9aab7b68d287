/* Retained messages: set, replace, clear, delivery on subscribe, expiry. */
#include <string.h>

#include "client.h"

/* A publish of a retained message succeeds with 0x00, or 0x10 when nobody is
 * subscribed yet (the message is stored either way). */
#define CHECK_RETAINED_PUBLISH(c, topic, payload, qos, props)                \
    do {                                                                     \
        int rc_ = tc_publish((c), (topic), (payload), (qos), true, (props)); \
        CHECK(rc_ == 0 || rc_ == 0x10);                                      \
    } while (0)

/* Subscribes a fresh client to filter and collects what arrives in 300 ms
 * after the SUBACK. Returns NULL on failure. */
static struct tc *fresh_subscriber(const char *id, const char *filter)
{
    struct tc *c = tc_open(id, MQTT_PROTOCOL_V5, true, NULL);
    if (!c || tc_subscribe(c, filter, 1, 0, NULL) != 1) return NULL;
    tc_pump_for(300);
    return c;
}

static void set_replace_clear(void)
{
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    CHECK_RETAINED_PUBLISH(pub, "ret/t", "v1", 1, NULL);
    struct tc *s1 = fresh_subscriber("s1", "ret/t");
    CHECK(s1);
    CHECK_INT(s1->msg_count, 1);
    CHECK_STR(s1->msgs[0].payload, "v1");
    CHECK(s1->msgs[0].retain);
    CHECK_INT(s1->msgs[0].qos, 1);

    CHECK_RETAINED_PUBLISH(pub, "ret/t", "v2", 0, NULL);
    struct tc *s2 = fresh_subscriber("s2", "ret/t");
    CHECK(s2);
    CHECK_INT(s2->msg_count, 1);
    CHECK_STR(s2->msgs[0].payload, "v2");
    CHECK_INT(s2->msgs[0].qos, 0); /* stored at the QoS it was published with */

    /* s1 and s2 see the clearing message live, as an ordinary message. */
    CHECK_RETAINED_PUBLISH(pub, "ret/t", "", 1, NULL);
    struct tc *s3 = fresh_subscriber("s3", "ret/t");
    CHECK(s3);
    CHECK_INT(s3->msg_count, 0);
    CHECK(tc_wait_msgs(s1, 3, TC_TIMEOUT_MS)); /* v1, v2 live, then the empty one */
    CHECK_INT(s1->msgs[2].payload_len, 0);
}

static void delivered_on_wildcard_subscribe(void)
{
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V311, true, NULL);
    CHECK(pub);
    CHECK_RETAINED_PUBLISH(pub, "tree/a", "A", 1, NULL);
    CHECK_RETAINED_PUBLISH(pub, "tree/b/c", "C", 1, NULL);
    CHECK_RETAINED_PUBLISH(pub, "other/x", "X", 1, NULL);
    CHECK_INT(tc_publish(pub, "tree/live", "not retained", 1, false, NULL) >= 0, 1);
    struct tc *sub = fresh_subscriber("sub", "tree/#");
    CHECK(sub);
    CHECK_INT(sub->msg_count, 2);
    CHECK_INT(tc_count_topic(sub, "tree/a"), 1);
    CHECK_INT(tc_count_topic(sub, "tree/b/c"), 1);
    CHECK(sub->msgs[0].retain && sub->msgs[1].retain);
}

static void retained_message_expires(void)
{
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    mosquitto_property *props = NULL;
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    int rc = tc_publish(pub, "exp/r", "short-lived", 1, true, props);
    mosquitto_property_free_all(&props);
    CHECK(rc == 0 || rc == 0x10);
    CHECK_RETAINED_PUBLISH(pub, "exp/keep", "long-lived", 1, NULL);

    struct tc *early = fresh_subscriber("early", "exp/#");
    CHECK(early);
    CHECK_INT(early->msg_count, 2);
    CHECK_INT(tc_count_topic(early, "exp/r"), 1);
    for (int i = 0; i < 2; i++) {
        long left = tc_prop_int(early->msgs[i].props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
        if (strcmp(early->msgs[i].topic, "exp/r") == 0) CHECK(left >= 0 && left <= 1);
        else CHECK_INT(left, -1); /* no expiry was set on this one */
    }

    tc_pump_for(2000);
    struct tc *late = fresh_subscriber("late", "exp/#");
    CHECK(late);
    CHECK_INT(late->msg_count, 1);
    CHECK_STR(late->msgs[0].topic, "exp/keep");
}

static const struct e2e_case cases[] = {
    {"set_replace_clear", set_replace_clear, NULL, NULL},
    {"delivered_on_wildcard_subscribe", delivered_on_wildcard_subscribe, NULL, NULL},
    {"retained_message_expires", retained_message_expires, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
