/* Writes the seed corpus for fuzz_mqtt_decode: one file per sample packet,
 * each packet type encoded for 3.1, 3.1.1 and 5.0 (with properties for 5.0).
 * Usage: make_seeds DIR (the directory must exist). */
#include <stdio.h>
#include <stdlib.h>

#include "mqtt/codec.h"

#define B(s) ((mqtt_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static const char *dir;

static void emit(const char *name, uint8_t version, const mqtt_packet *p)
{
    buf b = {0};
    if (mqtt_encode(&b, version, p) == 0) return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s-v%u", dir, name, version);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    buf_free(&b);
}

static void emit_all(const char *name, const mqtt_packet *p)
{
    emit(name, MQTT_V311, p);
    emit(name, MQTT_V5, p);
}

static void connects(buf *users)
{
    mqtt_packet p = {.type = MQTT_CONNECT};
    p.connect = (mqtt_connect){.clean_start = true, .keep_alive = 60, .client_id = B("seed")};
    emit("connect", MQTT_V31, &p);
    emit_all("connect", &p);
    p.connect.will_flag = true;
    p.connect.will_qos = 1;
    p.connect.will_retain = true;
    p.connect.will_topic = B("will/t");
    p.connect.will_payload = B("gone");
    p.connect.has_username = p.connect.has_password = true;
    p.connect.username = B("u");
    p.connect.password = B("pw");
    p.connect.props.present = MQTT_PROP_BIT(MQTT_PROP_SESSION_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_RECEIVE_MAX) |
                              MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS_MAX) | MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD);
    p.connect.props.session_expiry = 300;
    p.connect.props.receive_max = 10;
    p.connect.props.topic_alias_max = 5;
    p.connect.props.auth_method = B("PLAIN");
    p.connect.props.extra = (mqtt_bytes){users->data, (uint32_t)users->len};
    p.connect.will_props.present = MQTT_PROP_BIT(MQTT_PROP_WILL_DELAY) | MQTT_PROP_BIT(MQTT_PROP_CONTENT_TYPE);
    p.connect.will_props.will_delay = 5;
    p.connect.will_props.content_type = B("text");
    emit("connect-will", MQTT_V31, &p);
    emit_all("connect-will", &p);
}

static void connacks(void)
{
    mqtt_packet p = {.type = MQTT_CONNACK};
    emit_all("connack", &p);
    p.connack.reason = MQTT_RC_NOT_AUTHORIZED;
    emit_all("connack-refused", &p);
    p.connack = (mqtt_connack){.session_present = true};
    p.connack.props.present = MQTT_PROP_BIT(MQTT_PROP_MAX_QOS) | MQTT_PROP_BIT(MQTT_PROP_ASSIGNED_CLIENT_ID) |
                              MQTT_PROP_BIT(MQTT_PROP_SERVER_KEEP_ALIVE) |
                              MQTT_PROP_BIT(MQTT_PROP_SHARED_SUB_AVAILABLE) | MQTT_PROP_BIT(MQTT_PROP_MAX_PACKET_SIZE);
    p.connack.props.max_qos = 1;
    p.connack.props.assigned_client_id = B("auto-1");
    p.connack.props.server_keep_alive = 30;
    p.connack.props.max_packet_size = 4096;
    emit("connack-props", MQTT_V5, &p);
}

static void publishes(buf *users)
{
    static const uint32_t ids[] = {1, 1000};
    mqtt_packet p = {.type = MQTT_PUBLISH};
    for (uint8_t qos = 0; qos <= 2; qos++) {
        char name[32];
        p.publish = (mqtt_publish){.topic = B("sensors/1/temp"),
                                   .qos = qos,
                                   .packet_id = qos ? 42 : 0,
                                   .retain = qos == 0,
                                   .dup = qos == 2,
                                   .payload = B("21.5")};
        snprintf(name, sizeof name, "publish-qos%u", qos);
        emit_all(name, &p);
    }
    p.publish = (mqtt_publish){.topic = B(""), .qos = 1, .packet_id = 7, .payload = B("{}")};
    p.publish.props.present = MQTT_PROP_BIT(MQTT_PROP_TOPIC_ALIAS) | MQTT_PROP_BIT(MQTT_PROP_PAYLOAD_FORMAT) |
                              MQTT_PROP_BIT(MQTT_PROP_MESSAGE_EXPIRY) | MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) |
                              MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA);
    p.publish.props.topic_alias = 2;
    p.publish.props.payload_format = 1;
    p.publish.props.message_expiry = 60;
    p.publish.props.response_topic = B("reply");
    p.publish.props.correlation_data = B("\x01\x02");
    p.publish.props.extra = (mqtt_bytes){users->data, (uint32_t)users->len};
    emit("publish-alias", MQTT_V5, &p);
    p.publish.topic = B("a/b");
    p.publish.props.present = 0;
    p.publish.props.sub_ids = ids;
    p.publish.props.n_sub_ids = 2;
    emit("publish-subids", MQTT_V5, &p);
}

static void acks(void)
{
    static const char *names[] = {"puback", "pubrec", "pubrel", "pubcomp"};
    for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
        mqtt_packet p = {.type = t};
        p.ack.packet_id = 300;
        emit_all(names[t - MQTT_PUBACK], &p);
        char name[32];
        snprintf(name, sizeof name, "%s-reason", names[t - MQTT_PUBACK]);
        p.ack.reason = t <= MQTT_PUBREC ? MQTT_RC_NO_MATCHING_SUBSCRIBERS : 0x92;
        p.ack.props.present = MQTT_PROP_BIT(MQTT_PROP_REASON_STRING);
        p.ack.props.reason_string = B("r");
        emit(name, MQTT_V5, &p);
    }
}

static void subscriptions(void)
{
    mqtt_sub_entry e[] = {{.filter = B("a/+/c"), .qos = 1},
                          {.filter = B("#"), .qos = 2, .retain_handling = 1},
                          {.filter = B("$share/g/x"), .retain_as_published = true}};
    mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.subscribe = (mqtt_subscribe){.packet_id = 1, .count = 3, .entries = e};
    emit_all("subscribe", &p);
    p.subscribe.props.present = MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
    p.subscribe.props.sub_id = 77;
    emit("subscribe-subid", MQTT_V5, &p);

    mqtt_bytes f[] = {B("a/+/c"), B("#")};
    p = (mqtt_packet){.type = MQTT_UNSUBSCRIBE};
    p.unsubscribe = (mqtt_unsubscribe){.packet_id = 2, .count = 2, .filters = f};
    emit_all("unsubscribe", &p);

    uint8_t rcs[] = {0x01, 0x02, 0x80, 0x8F};
    p = (mqtt_packet){.type = MQTT_SUBACK};
    p.suback = (mqtt_suback){.packet_id = 1, .count = 4, .reasons = rcs};
    emit_all("suback", &p);
    uint8_t urcs[] = {0x00, 0x11};
    p = (mqtt_packet){.type = MQTT_UNSUBACK};
    p.suback = (mqtt_suback){.packet_id = 2, .count = 2, .reasons = urcs};
    emit_all("unsuback", &p);
}

static void control(void)
{
    mqtt_packet p = {.type = MQTT_PINGREQ};
    emit_all("pingreq", &p);
    p.type = MQTT_PINGRESP;
    emit_all("pingresp", &p);
    p = (mqtt_packet){.type = MQTT_DISCONNECT};
    emit_all("disconnect", &p);
    p.disconnect.reason = MQTT_RC_SERVER_MOVED;
    p.disconnect.props.present = MQTT_PROP_BIT(MQTT_PROP_SERVER_REFERENCE);
    p.disconnect.props.server_reference = B("other:1883");
    emit("disconnect-moved", MQTT_V5, &p);
    p = (mqtt_packet){.type = MQTT_AUTH};
    p.disconnect.reason = MQTT_RC_CONTINUE_AUTH;
    p.disconnect.props.present = MQTT_PROP_BIT(MQTT_PROP_AUTH_METHOD) | MQTT_PROP_BIT(MQTT_PROP_AUTH_DATA);
    p.disconnect.props.auth_method = B("SCRAM-SHA-1");
    p.disconnect.props.auth_data = B("nonce");
    emit("auth", MQTT_V5, &p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    buf users = {0};
    mqtt_props_add_user(&users, B("k1"), B("v1"));
    mqtt_props_add_user(&users, B("k2"), B("v2"));
    connects(&users);
    connacks();
    publishes(&users);
    acks();
    subscriptions();
    control();
    buf_free(&users);
    return 0;
}
