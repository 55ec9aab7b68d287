/* Malformed and protocol-violating input from a raw client. After every
 * violation the broker must still serve a fresh client and leave an existing
 * session unharmed. Also: a subscriber that never reads must not make the
 * broker's memory grow without bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client.h"
#include "rawclient.h"

#define ANY_REASON (-1)

/* A subscriber connected before the violation, to show other sessions are
 * unharmed. */
static struct tc *bystander(void)
{
    struct tc *c = tc_open("bystander", MQTT_PROTOCOL_V5, true, NULL);
    if (c && tc_subscribe(c, "by/t", 1, 0, NULL) != 1) return NULL;
    return c;
}

static bool others_unharmed(struct tc *by)
{
    struct tc *fresh = tc_open("fresh", MQTT_PROTOCOL_V5, true, NULL);
    int before = by->msg_count;
    bool ok = fresh && !by->disconnected && tc_publish(fresh, "by/t", "still here", 1, false, NULL) == 0 &&
              tc_wait_msgs(by, before + 1, TC_TIMEOUT_MS);
    if (fresh) tc_destroy(fresh);
    return ok;
}

/* The broker must close the connection; if it sends a DISCONNECT first, its
 * reason code must be the expected one (any failure code for ANY_REASON).
 * mqstated must send the DISCONNECT when a reason code is expected. */
static bool closed_with(int fd, int expected)
{
    int reason = -1;
    char what[96];
    if (!raw_wait_closed(fd, TC_TIMEOUT_MS, &reason)) {
        e2e_note("connection not closed by the broker");
        return false;
    }
    if (expected == ANY_REASON) return reason == -1 || reason >= 0x80;
    if (reason == expected) return true;
    snprintf(what, sizeof what, "expected DISCONNECT 0x%02X, got %s 0x%02X", expected,
             reason == -1 ? "no DISCONNECT" : "DISCONNECT", reason == -1 ? 0 : reason);
    if (e2e_mosquitto_deviates(what)) return true;
    e2e_note("%s", what);
    return false;
}

static int connected_v5(void) { return raw_connect_v5(e2e_port(), "violator", true, NULL, NULL); }

static void packet_before_connect(void)
{
    struct tc *by = bystander();
    CHECK(by);
    int fd = raw_open(e2e_port());
    CHECK(fd >= 0);
    const uint8_t pingreq[] = {0xC0, 0x00};
    CHECK(raw_send(fd, pingreq, sizeof pingreq));
    CHECK(closed_with(fd, ANY_REASON));
    fd = raw_open(e2e_port());
    CHECK(fd >= 0);
    const uint8_t publish[] = {0x30, 0x05, 0x00, 0x01, 'x', 0x00, 'p'};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, ANY_REASON));
    CHECK(others_unharmed(by));
}

static void second_connect(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    struct pb connect = {0};
    raw_build_connect_v5(&connect, "violator", true, 30, NULL);
    CHECK(raw_send_pb(fd, &connect));
    CHECK(closed_with(fd, 0x82)); /* protocol error */
    CHECK(others_unharmed(by));
}

static void invalid_fixed_header_flags(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    /* SUBSCRIBE must have flags 0b0010; 0x80 has 0b0000. */
    const uint8_t subscribe[] = {0x80, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', 'b', 0x01};
    CHECK(raw_send(fd, subscribe, sizeof subscribe));
    CHECK(closed_with(fd, ANY_REASON));
    CHECK(others_unharmed(by));
}

static void invalid_utf8_topic(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    /* 0xC0 0x80 is an overlong encoding of NUL: not valid UTF-8. */
    const uint8_t publish[] = {0x30, 0x07, 0x00, 0x03, 'a', 0xC0, 0x80, 0x00, 'p'};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, 0x81)); /* malformed packet */
    CHECK(others_unharmed(by));
}

static void bad_remaining_length(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    /* Five length bytes: the fifth continuation is not allowed. */
    const uint8_t publish[] = {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x01, 'x'};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, ANY_REASON));
    CHECK(others_unharmed(by));
}

static void duplicated_property(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    /* Payload Format Indicator twice. */
    const uint8_t publish[] = {0x30, 0x0A, 0x00, 0x03, 'd', '/', 't', 0x04, 0x01, 0x01, 0x01, 0x01};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, 0x82)); /* protocol error */
    CHECK(others_unharmed(by));
}

static void topic_alias_zero(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    const uint8_t publish[] = {0x30, 0x0B, 0x00, 0x03, 'z', '/', 't', 0x03, 0x23, 0x00, 0x00, 'p', 'p'};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, 0x94)); /* topic alias invalid */
    CHECK(others_unharmed(by));
}

/* The DISCONNECT's Reason String names the reason code it comes with
 * (found by tests/interop's client_topic_alias: Topic Alias 0 came with
 * 0x94 and the text "Protocol error"). */
static bool disconnect_says(const uint8_t *publish, size_t len, int want_rc, const char *want_text)
{
    int fd = connected_v5();
    struct raw_pkt pkt;
    const uint8_t *props, *text = NULL;
    uint32_t plen;
    uint16_t tlen = 0;
    if (fd < 0 || !raw_send(fd, publish, len) || raw_recv_type(fd, 14, &pkt, TC_TIMEOUT_MS) != RAW_OK) {
        e2e_note("no DISCONNECT for the %s case", want_text);
        return false;
    }
    int rc = raw_reason_code(&pkt);
    bool found = raw_disconnect_props(&pkt, &props, &plen) && raw_prop_find(props, plen, 0x1F, NULL, &text, &tlen);
    bool ok = rc == want_rc && found && tlen == strlen(want_text) && memcmp(text, want_text, tlen) == 0;
    if (!ok)
        e2e_note("DISCONNECT 0x%02X \"%.*s\", want 0x%02X \"%s\"", rc, found ? (int)tlen : 0,
                 found ? (const char *)text : "", want_rc, want_text);
    raw_pkt_free(&pkt);
    return ok;
}

static void refusal_reason_strings(void)
{
    const uint8_t alias0[] = {0x30, 0x0B, 0x00, 0x03, 'z', '/', 't', 0x03, 0x23, 0x00, 0x00, 'p', 'p'};
    const uint8_t wildcard[] = {0x30, 0x07, 0x00, 0x03, 'w', '/', '#', 0x00, 'p'};
    const uint8_t dup_prop[] = {0x30, 0x0A, 0x00, 0x03, 'd', '/', 't', 0x04, 0x01, 0x01, 0x01, 0x01};
    const uint8_t bad_utf8[] = {0x30, 0x07, 0x00, 0x03, 'a', 0xC0, 0x80, 0x00, 'p'};
    CHECK(disconnect_says(alias0, sizeof alias0, 0x94, "Topic alias invalid"));
    CHECK(disconnect_says(wildcard, sizeof wildcard, 0x90, "Topic name invalid"));
    CHECK(disconnect_says(dup_prop, sizeof dup_prop, 0x82, "Protocol error"));
    CHECK(disconnect_says(bad_utf8, sizeof bad_utf8, 0x81, "Malformed packet"));
}

static void qos3_publish(void)
{
    struct tc *by = bystander();
    int fd = connected_v5();
    CHECK(by && fd >= 0);
    const uint8_t publish[] = {0x36, 0x08, 0x00, 0x03, 'q', '/', '3', 0x00, 0x01, 0x00};
    CHECK(raw_send(fd, publish, sizeof publish));
    CHECK(closed_with(fd, 0x81)); /* malformed packet */
    CHECK(others_unharmed(by));
}

/* v3.1.1 has no server DISCONNECT: a violation closes the socket silently. */
static bool v311_violation_closes(const uint8_t *bytes, size_t len)
{
    struct pb connect = {0};
    struct raw_pkt ack;
    raw_build_connect_v311(&connect, "old-violator", true, 30);
    int fd = raw_open(e2e_port());
    if (fd < 0 || !raw_send_pb(fd, &connect) || raw_recv(fd, &ack, TC_TIMEOUT_MS) != RAW_OK) return false;
    bool accepted = ack.type == 2 && ack.len == 2 && ack.body[1] == 0;
    raw_pkt_free(&ack);
    int reason = -1;
    return accepted && raw_send(fd, bytes, len) && raw_wait_closed(fd, TC_TIMEOUT_MS, &reason) && reason == -1;
}

static void v311_violations_close_socket(void)
{
    struct tc *by = bystander();
    CHECK(by);
    const uint8_t second_connect[] = {0x10, 0x0E, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                      0x04, 0x02, 0x00, 0x1E, 0x00, 0x02, 'i', 'd'};
    const uint8_t qos3[] = {0x36, 0x07, 0x00, 0x03, 'q', '/', '3', 0x00, 0x01};
    const uint8_t bad_flags[] = {0x80, 0x08, 0x00, 0x01, 0x00, 0x03, 'a', '/', 'b', 0x01};
    const uint8_t qos1_without_id[] = {0x32, 0x03, 0x00, 0x01, 'x'};
    const uint8_t reserved_type[] = {0x00, 0x00};
    CHECK(v311_violation_closes(second_connect, sizeof second_connect));
    CHECK(v311_violation_closes(qos3, sizeof qos3));
    CHECK(v311_violation_closes(bad_flags, sizeof bad_flags));
    CHECK(v311_violation_closes(qos1_without_id, sizeof qos1_without_id));
    CHECK(v311_violation_closes(reserved_type, sizeof reserved_type));
    CHECK(others_unharmed(by));
}

/* Sends one QoS 0 PUBLISH with a large payload, built by hand. */
static bool send_big_qos0(int fd, const char *topic, size_t payload_len)
{
    size_t tlen = strlen(topic), remaining = 2 + tlen + 1 + payload_len;
    uint8_t *buf = calloc(1, remaining + 5);
    size_t pos = 0;
    if (!buf) return false;
    buf[pos++] = 0x30;
    for (size_t v = remaining;;) {
        uint8_t byte = v % 128;
        v /= 128;
        buf[pos++] = v ? (uint8_t)(byte | 0x80) : byte;
        if (!v) break;
    }
    buf[pos++] = (uint8_t)(tlen >> 8);
    buf[pos++] = (uint8_t)tlen;
    memcpy(buf + pos, topic, tlen);
    pos += tlen;
    buf[pos++] = 0; /* no properties; the payload is zeros */
    bool ok = raw_send(fd, buf, pos + payload_len);
    free(buf);
    return ok;
}

static void slow_reader_bounded_memory(void)
{
    enum { MESSAGES = 2500, SIZE = 64 * 1024 }; /* ~156 MiB in total */
    struct tc *by = bystander();
    CHECK(by);
    int slow = raw_connect_v5(e2e_port(), "never-reads", true, NULL, NULL);
    int pub = raw_connect_v5(e2e_port(), "firehose", true, NULL, NULL);
    CHECK(slow >= 0 && pub >= 0);
    int small = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CHECK_INT(raw_subscribe_v5(slow, 1, "fire/t", 0, NULL), 0);
    long before = e2e_broker_rss_kib();
    long peak = before;
    CHECK(before > 0);
    int64_t start = e2e_now_ms();
    for (int i = 0; i < MESSAGES; i++) {
        CHECK(send_big_qos0(pub, "fire/t", SIZE));
        if (i % 100 == 0) {
            long now = e2e_broker_rss_kib();
            peak = now > peak ? now : peak;
        }
    }
    tc_pump_for(300);
    long after = e2e_broker_rss_kib();
    peak = after > peak ? after : peak;
    e2e_note("sent %d MiB in %lld ms; broker RSS %ld -> peak %ld KiB", MESSAGES * SIZE >> 20,
             (long long)(e2e_now_ms() - start), before, peak);
    /* Other clients are still served while the slow reader is stuck. */
    CHECK(others_unharmed(by));
    if (peak - before >= 64 * 1024 && e2e_mosquitto_deviates("does not bound the QoS 0 backlog of a slow reader"))
        return;
    CHECK(peak - before < 64 * 1024);
}

static const struct e2e_case cases[] = {
    {"packet_before_connect", packet_before_connect, NULL, NULL},
    {"second_connect", second_connect, NULL, NULL},
    {"invalid_fixed_header_flags", invalid_fixed_header_flags, NULL, NULL},
    {"invalid_utf8_topic", invalid_utf8_topic, NULL, NULL},
    {"bad_remaining_length", bad_remaining_length, NULL, NULL},
    {"duplicated_property", duplicated_property, NULL, NULL},
    {"topic_alias_zero", topic_alias_zero, NULL, NULL},
    {"qos3_publish", qos3_publish, NULL, NULL},
    {"refusal_reason_strings", refusal_reason_strings, NULL, "its Reason Strings are mqstated's"},
    {"v311_violations_close_socket", v311_violations_close_socket, NULL, NULL},
    {"slow_reader_bounded_memory", slow_reader_bounded_memory, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
