/* Will messages: when they are and are not published, delay, retain and
 * properties. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "rawclient.h"

struct will_opts {
    const char *id;
    bool clean;
    uint16_t keepalive;
    uint32_t session_expiry;
    uint32_t will_delay; /* 0: no Will Delay Interval property */
    bool will_retain;
};

/* Opens a raw v5 connection whose CONNECT carries a QoS 1 will on
 * "will/<id>" with payload "gone:<id>". Returns the fd or -1. */
static int raw_connect_with_will(const struct will_opts *o)
{
    struct pb body = {0}, props = {0}, will_props = {0}, pkt = {0};
    char topic[64], payload[64];
    snprintf(topic, sizeof topic, "will/%s", o->id);
    snprintf(payload, sizeof payload, "gone:%s", o->id);
    pb_str(&body, "MQTT");
    pb_u8(&body, 5);
    /* will flag, will QoS 1, optional will retain and clean start */
    pb_u8(&body, (uint8_t)(0x04 | 0x08 | (o->will_retain ? 0x20 : 0) | (o->clean ? 0x02 : 0)));
    pb_u16(&body, o->keepalive);
    if (o->session_expiry) {
        pb_u8(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
        pb_u32(&props, o->session_expiry);
    }
    pb_props(&body, &props);
    pb_str(&body, o->id);
    if (o->will_delay) {
        pb_u8(&will_props, MQTT_PROP_WILL_DELAY_INTERVAL);
        pb_u32(&will_props, o->will_delay);
    }
    pb_props(&body, &will_props);
    pb_str(&body, topic);
    pb_str(&body, payload);
    pb_packet(&pkt, 0x10, &body);

    struct raw_pkt ack;
    int fd = raw_open(e2e_port());
    if (fd < 0 || !raw_send_pb(fd, &pkt) || raw_recv(fd, &ack, TC_TIMEOUT_MS) != RAW_OK) return -1;
    int rc = raw_reason_code(&ack);
    raw_pkt_free(&ack);
    return rc == 0 ? fd : -1;
}

static struct tc *watcher(void)
{
    struct tc *w = tc_open("watcher", MQTT_PROTOCOL_V5, true, NULL);
    if (w && tc_subscribe(w, "will/#", 1, 0, NULL) != 1) return NULL;
    return w;
}

static struct tc *client_with_will(const char *id, const mosquitto_property *will_props)
{
    struct tc *c = tc_new(id, MQTT_PROTOCOL_V5, true);
    char topic[64];
    snprintf(topic, sizeof topic, "will/%s", id);
    mosquitto_property *copy = NULL;
    mosquitto_property_copy_all(&copy, will_props);
    /* libmosquitto takes ownership of the will properties. */
    if (mosquitto_will_set_v5(c->m, topic, 4, "gone", 1, false, copy) != MOSQ_ERR_SUCCESS ||
        tc_connect(c, 60, NULL) != 0)
        return NULL;
    return c;
}

static void will_on_abnormal_close(void)
{
    struct tc *w = watcher();
    CHECK(w);
    struct will_opts o = {.id = "raw", .clean = true, .keepalive = 60};
    int fd = raw_connect_with_will(&o);
    CHECK(fd >= 0);
    raw_close(fd);
    CHECK(tc_wait_msgs(w, 1, TC_TIMEOUT_MS));
    CHECK_STR(w->msgs[0].topic, "will/raw");
    CHECK_STR(w->msgs[0].payload, "gone:raw");
    CHECK_INT(w->msgs[0].qos, 1);

    struct tc *lib = client_with_will("lib", NULL);
    CHECK(lib);
    tc_drop(lib);
    CHECK(tc_wait_msgs(w, 2, TC_TIMEOUT_MS));
    CHECK_STR(w->msgs[1].topic, "will/lib");
}

static void no_will_on_normal_disconnect(void)
{
    struct tc *w = watcher();
    struct tc *c = client_with_will("polite", NULL);
    CHECK(w && c);
    tc_disconnect(c, 0);
    tc_pump_for(500);
    CHECK_INT(w->msg_count, 0);
}

static void will_on_disconnect_with_will(void)
{
    struct tc *w = watcher();
    struct tc *c = client_with_will("explicit", NULL);
    CHECK(w && c);
    tc_disconnect(c, 0x04); /* Disconnect with Will Message */
    CHECK(tc_wait_msgs(w, 1, TC_TIMEOUT_MS));
    CHECK_STR(w->msgs[0].topic, "will/explicit");
}

static void will_on_keepalive_timeout(void)
{
    struct tc *w = watcher();
    CHECK(w);
    struct will_opts o = {.id = "silent", .clean = true, .keepalive = 1};
    int fd = raw_connect_with_will(&o);
    CHECK(fd >= 0);
    int64_t start = e2e_now_ms();
    /* Send nothing: the broker must give up after 1.5 x keep alive. */
    CHECK(tc_wait_msgs(w, 1, 9000));
    int64_t elapsed = e2e_now_ms() - start;
    CHECK_STR(w->msgs[0].topic, "will/silent");
    CHECK(elapsed >= 900);
    /* 1.5 s is the limit; 3 s allows for a loaded machine. */
    if (elapsed > 3000 && !e2e_mosquitto_deviates("checks keep alive coarsely (will came late)"))
        CHECK(elapsed <= 3000);
    CHECK(raw_wait_closed(fd, 1000, NULL));
}

static void will_delay_cancelled_by_reconnect(void)
{
    struct tc *w = watcher();
    CHECK(w);
    struct will_opts o = {.id = "comeback", .keepalive = 60, .session_expiry = 60, .will_delay = 2};
    int fd = raw_connect_with_will(&o);
    CHECK(fd >= 0);
    raw_close(fd);
    tc_pump_for(500);
    fd = raw_connect_v5(e2e_port(), "comeback", false, NULL, NULL);
    CHECK(fd >= 0);
    tc_pump_for(2500); /* past the original will delay */
    CHECK_INT(w->msg_count, 0);
}

static void will_delay_publishes_after_interval(void)
{
    struct tc *w = watcher();
    CHECK(w);
    struct will_opts o = {.id = "late", .keepalive = 60, .session_expiry = 60, .will_delay = 1};
    int fd = raw_connect_with_will(&o);
    CHECK(fd >= 0);
    raw_close(fd);
    int64_t closed_at = e2e_now_ms();
    tc_pump_for(500);
    CHECK_INT(w->msg_count, 0); /* still within the delay */
    CHECK(tc_wait_msgs(w, 1, 3000));
    CHECK(e2e_now_ms() - closed_at >= 900);
    CHECK_STR(w->msgs[0].topic, "will/late");
}

static void will_retained(void)
{
    struct will_opts o = {.id = "ret", .clean = true, .keepalive = 60, .will_retain = true};
    int fd = raw_connect_with_will(&o);
    CHECK(fd >= 0);
    raw_close(fd);
    tc_pump_for(300);
    struct tc *late = watcher(); /* subscribes after the will was published */
    CHECK(late);
    CHECK(tc_wait_msgs(late, 1, TC_TIMEOUT_MS));
    CHECK_STR(late->msgs[0].topic, "will/ret");
    CHECK(late->msgs[0].retain);
}

static void will_properties_passed(void)
{
    struct tc *w = watcher();
    CHECK(w);
    mosquitto_property *props = NULL;
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "text/plain");
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "reply/here");
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, "\x01\x02", 2);
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "k", "v");
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 100);
    struct tc *c = client_with_will("propsy", props);
    mosquitto_property_free_all(&props);
    CHECK(c);
    tc_drop(c);
    CHECK(tc_wait_msgs(w, 1, TC_TIMEOUT_MS));
    const mosquitto_property *got = w->msgs[0].props;
    char buf[64];
    CHECK_INT(tc_prop_int(got, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), 1);
    CHECK(tc_prop_str(got, MQTT_PROP_CONTENT_TYPE, buf, sizeof buf));
    CHECK_STR(buf, "text/plain");
    CHECK(tc_prop_str(got, MQTT_PROP_RESPONSE_TOPIC, buf, sizeof buf));
    CHECK_STR(buf, "reply/here");
    CHECK(tc_prop_str(got, MQTT_PROP_CORRELATION_DATA, buf, sizeof buf));
    CHECK(memcmp(buf, "\x01\x02", 2) == 0);
    long expiry = tc_prop_int(got, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
    CHECK(expiry > 90 && expiry <= 100);
    char *name = NULL, *value = NULL;
    bool has_user = mosquitto_property_read_string_pair(got, MQTT_PROP_USER_PROPERTY, &name, &value, false) != NULL;
    bool user_ok = has_user && strcmp(name, "k") == 0 && strcmp(value, "v") == 0;
    free(name);
    free(value);
    CHECK(user_ok);
}

static const struct e2e_case cases[] = {
    {"will_on_abnormal_close", will_on_abnormal_close, NULL, NULL},
    {"no_will_on_normal_disconnect", no_will_on_normal_disconnect, NULL, NULL},
    {"will_on_disconnect_with_will", will_on_disconnect_with_will, NULL, NULL},
    {"will_on_keepalive_timeout", will_on_keepalive_timeout, NULL, NULL},
    {"will_delay_cancelled_by_reconnect", will_delay_cancelled_by_reconnect, NULL, NULL},
    {"will_delay_publishes_after_interval", will_delay_publishes_after_interval, NULL, NULL},
    {"will_retained", will_retained, NULL, NULL},
    {"will_properties_passed", will_properties_passed, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
