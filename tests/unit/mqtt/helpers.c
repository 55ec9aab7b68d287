#include "helpers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t hex_parse(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*hex) {
        if (isspace((unsigned char)*hex)) {
            hex++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

void assert_bytes_eq(mqtt_bytes want, mqtt_bytes got)
{
    assert_int_equal(want.len, got.len);
    if (want.len) assert_memory_equal(want.data, got.data, want.len);
}

void assert_props_eq(const mqtt_props *want, const mqtt_props *got)
{
    uint64_t user = MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY);
    uint64_t want_present = want->present;
    if (want->n_sub_ids) want_present |= MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
    assert_int_equal(want_present & ~user, got->present & ~user);
    assert_int_equal(want->payload_format, got->payload_format);
    assert_int_equal(want->request_problem_info, got->request_problem_info);
    assert_int_equal(want->request_response_info, got->request_response_info);
    assert_int_equal(want->max_qos, got->max_qos);
    assert_int_equal(want->retain_available, got->retain_available);
    assert_int_equal(want->wildcard_sub_available, got->wildcard_sub_available);
    assert_int_equal(want->sub_id_available, got->sub_id_available);
    assert_int_equal(want->shared_sub_available, got->shared_sub_available);
    assert_int_equal(want->server_keep_alive, got->server_keep_alive);
    assert_int_equal(want->receive_max, got->receive_max);
    assert_int_equal(want->topic_alias_max, got->topic_alias_max);
    assert_int_equal(want->topic_alias, got->topic_alias);
    assert_int_equal(want->message_expiry, got->message_expiry);
    assert_int_equal(want->session_expiry, got->session_expiry);
    assert_int_equal(want->will_delay, got->will_delay);
    assert_int_equal(want->max_packet_size, got->max_packet_size);
    assert_int_equal(want->n_sub_ids ? want->sub_ids[0] : want->sub_id, got->sub_id);
    assert_bytes_eq(want->content_type, got->content_type);
    assert_bytes_eq(want->response_topic, got->response_topic);
    assert_bytes_eq(want->correlation_data, got->correlation_data);
    assert_bytes_eq(want->assigned_client_id, got->assigned_client_id);
    assert_bytes_eq(want->auth_method, got->auth_method);
    assert_bytes_eq(want->auth_data, got->auth_data);
    assert_bytes_eq(want->response_info, got->response_info);
    assert_bytes_eq(want->server_reference, got->server_reference);
    assert_bytes_eq(want->reason_string, got->reason_string);
}

void assert_user_props(const mqtt_props *got, const char *const *keys, const char *const *vals, size_t n)
{
    size_t pos = 0, i = 0;
    mqtt_bytes k, v;
    while (mqtt_props_next_user(got, &pos, &k, &v)) {
        assert_true(i < n);
        assert_bytes_eq((mqtt_bytes){(const uint8_t *)keys[i], (uint32_t)strlen(keys[i])}, k);
        assert_bytes_eq((mqtt_bytes){(const uint8_t *)vals[i], (uint32_t)strlen(vals[i])}, v);
        i++;
    }
    assert_int_equal(i, n);
    assert_int_equal(got->user_count, n);
}

static void connect_eq(const mqtt_connect *a, const mqtt_connect *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->clean_start, b->clean_start);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_bytes_eq(a->client_id, b->client_id);
    assert_props_eq(&a->props, &b->props);
    assert_int_equal(a->will_flag, b->will_flag);
    assert_int_equal(a->will_qos, b->will_qos);
    assert_int_equal(a->will_retain, b->will_retain);
    assert_props_eq(&a->will_props, &b->will_props);
    assert_bytes_eq(a->will_topic, b->will_topic);
    assert_bytes_eq(a->will_payload, b->will_payload);
    assert_int_equal(a->has_username, b->has_username);
    assert_int_equal(a->has_password, b->has_password);
    assert_bytes_eq(a->username, b->username);
    assert_bytes_eq(a->password, b->password);
}

static void publish_eq(const mqtt_publish *a, const mqtt_publish *b)
{
    assert_bytes_eq(a->topic, b->topic);
    assert_int_equal(a->qos, b->qos);
    assert_int_equal(a->retain, b->retain);
    assert_int_equal(a->dup, b->dup);
    assert_int_equal(a->packet_id, b->packet_id);
    assert_props_eq(&a->props, &b->props);
    assert_bytes_eq(a->payload, b->payload);
}

static void subscribe_eq(const mqtt_subscribe *a, const mqtt_subscribe *b)
{
    assert_int_equal(a->packet_id, b->packet_id);
    assert_props_eq(&a->props, &b->props);
    assert_int_equal(a->count, b->count);
    for (uint32_t i = 0; i < a->count; i++) {
        assert_bytes_eq(a->entries[i].filter, b->entries[i].filter);
        assert_int_equal(a->entries[i].qos, b->entries[i].qos);
        assert_int_equal(a->entries[i].no_local, b->entries[i].no_local);
        assert_int_equal(a->entries[i].retain_as_published, b->entries[i].retain_as_published);
        assert_int_equal(a->entries[i].retain_handling, b->entries[i].retain_handling);
    }
}

void assert_packet_eq(const mqtt_packet *want, const mqtt_packet *got)
{
    assert_int_equal(want->type, got->type);
    switch (want->type) {
    case MQTT_CONNECT: connect_eq(&want->connect, &got->connect); break;
    case MQTT_CONNACK:
        assert_int_equal(want->connack.session_present, got->connack.session_present);
        assert_int_equal(want->connack.reason, got->connack.reason);
        assert_props_eq(&want->connack.props, &got->connack.props);
        break;
    case MQTT_PUBLISH: publish_eq(&want->publish, &got->publish); break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        assert_int_equal(want->ack.packet_id, got->ack.packet_id);
        assert_int_equal(want->ack.reason, got->ack.reason);
        assert_props_eq(&want->ack.props, &got->ack.props);
        break;
    case MQTT_SUBSCRIBE: subscribe_eq(&want->subscribe, &got->subscribe); break;
    case MQTT_UNSUBSCRIBE:
        assert_int_equal(want->unsubscribe.packet_id, got->unsubscribe.packet_id);
        assert_props_eq(&want->unsubscribe.props, &got->unsubscribe.props);
        assert_int_equal(want->unsubscribe.count, got->unsubscribe.count);
        for (uint32_t i = 0; i < want->unsubscribe.count; i++)
            assert_bytes_eq(want->unsubscribe.filters[i], got->unsubscribe.filters[i]);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        assert_int_equal(want->suback.packet_id, got->suback.packet_id);
        assert_props_eq(&want->suback.props, &got->suback.props);
        assert_int_equal(want->suback.count, got->suback.count);
        if (want->suback.count) assert_memory_equal(want->suback.reasons, got->suback.reasons, want->suback.count);
        break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH:
        assert_int_equal(want->disconnect.reason, got->disconnect.reason);
        assert_props_eq(&want->disconnect.props, &got->disconnect.props);
        break;
    }
}

void roundtrip(uint8_t version, const mqtt_packet *in, mqtt_packet *out, buf *wire)
{
    size_t before = wire->len;
    size_t n = mqtt_encode(wire, version, in);
    assert_true(n > 0);
    assert_int_equal(wire->len - before, n);
    assert_int_equal(mqtt_encoded_size(version, in), n);
    size_t total = 0;
    assert_int_equal(mqtt_frame(wire->data + before, n, 0, &total), MQTT_FRAME_OK);
    assert_int_equal(total, n);
    bool sub_ids = in->type == MQTT_PUBLISH && (in->publish.props.n_sub_ids ||
                                                (in->publish.props.present & MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID)));
    int rc = sub_ids ? mqtt_decode_from_server(wire->data + before, n, version, out)
                     : mqtt_decode(wire->data + before, n, version, out);
    assert_int_equal(rc, MQTT_RC_SUCCESS);
}
