/* KEYNOTIFY lifecycle (protocol §1.4, §1.5, §3.7, §7, §10.5): registration
 * replies, exact topics and payloads, direct delivery without and exactly
 * once with a subscription, STOP, silence for writes that did not apply,
 * registrations dropped on disconnect, ordering, and the protections of the
 * notification namespace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"
#define QUIET_MS 300

static void check_set_note(const struct tc_msg *m, const char *value)
{
    struct ssb want = {0};
    ss_note_set_payload(&want, value, strlen(value));
    bool same = m && (size_t)m->payload_len == want.len && memcmp(m->payload, want.data, want.len) == 0;
    if (!same) {
        char got[200], exp[200];
        ss_escape(m ? m->payload : "", m ? (size_t)m->payload_len : 0, got, sizeof got);
        ss_escape(want.data, want.len, exp, sizeof exp);
        e2e_fail(__FILE__, __LINE__, "notification \"%s\"%s, expected \"%s\"", got, m ? "" : " (none)", exp);
    }
    ssb_free(&want);
}

static void spec_example_topic_and_payloads(void)
{
    struct ss_client w, b;
    struct ss_reply r;
    struct ss_hlc set_version, note_version;
    char ts[128];
    const char *topic = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/"
                        "636C69656E742D696431/command/notify/534F4D454B4559";
    CHECK(ss_open(&w, "client-id1"));
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "SOMEKEY");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&b, NULL, r, "SET", "SOMEKEY", "abc");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &set_version));
    /* The watcher never subscribed: delivery is direct (§1.5). */
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    const struct tc_msg *m = ss_note(&w, topic, 0);
    if (!m && w.tc->msg_count > 1) e2e_note("got a message on %s instead", w.tc->msgs[w.tc->msg_count - 1].topic);
    CHECK(m != NULL);
    CHECK_INT(m->qos, 1);
    static const char set_abc[] = "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n";
    CHECK_PAYLOAD(m, set_abc, sizeof set_abc - 1);
    CHECK(ss_user_prop(m->props, "__ts", ts, sizeof ts));
    CHECK(ss_hlc_parse(ts, &note_version));
    CHECK_INT(ss_hlc_cmp(&note_version, &set_version), 0);
    SS_CMD(&b, NULL, r, "DEL", "SOMEKEY");
    CHECK_REPLY(r, ":1\r\n");
    PUMP_UNTIL(ss_note(&w, topic, 1) != NULL, TC_TIMEOUT_MS);
    m = ss_note(&w, topic, 1);
    CHECK_PAYLOAD(m, SS_NOTE_DELETE, strlen(SS_NOTE_DELETE));
    CHECK(ss_user_prop(m->props, "__ts", ts, sizeof ts));
    CHECK(ss_hlc_parse(ts, &note_version));
}

static void low_bytes_two_hex_digits(void)
{
    struct ss_client w;
    struct ss_reply r;
    const char key[] = "\x01\x0a\xab";
    CHECK(ss_open(&w, "w"));
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, 3}}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), {key, 3}, ss_str("v")}));
    CHECK_REPLY(r, "+OK\r\n");
    const char *topic = SS_NOTIFY_NS "/77/command/notify/010AAB";
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    if (!ss_note(&w, topic, 0) && ss_note_total(&w) > 0) e2e_note("got a notification on another topic instead");
    CHECK(ss_note(&w, topic, 0) != NULL);
}

static void register_twice_one_notification(void)
{
    struct ss_client w;
    struct ss_reply r;
    char topic[512];
    CHECK(ss_open(&w, "twice"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    ss_notify_topic(topic, sizeof topic, "twice", "k", 1);
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 1);
    check_set_note(ss_note(&w, topic, 0), "v");
}

static void subscribed_watcher_gets_exactly_one(void)
{
    struct ss_client w, b;
    struct ss_reply r;
    char topic[512];
    CHECK(ss_open(&w, "subbed"));
    CHECK(ss_open(&b, "writer"));
    CHECK_INT(tc_subscribe(w.tc, SS_NOTIFY_NS "/737562626564/command/notify/+", 1, 0, NULL), 1);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&b, NULL, r, "SET", "k", "v1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&b, NULL, r, "DEL", "k");
    CHECK_REPLY(r, ":1\r\n");
    ss_notify_topic(topic, sizeof topic, "subbed", "k", 1);
    PUMP_UNTIL(ss_note(&w, topic, 1) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 2);
    check_set_note(ss_note(&w, topic, 0), "v1");
    CHECK_PAYLOAD(ss_note(&w, topic, 1), SS_NOTE_DELETE, strlen(SS_NOTE_DELETE));
}

static void stop_ends_notifications(void)
{
    struct ss_client w;
    struct ss_reply r;
    CHECK(ss_open(&w, "stopper"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k", "STOP");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k", "STOP");
    CHECK_REPLY(r, ":0\r\n");
    SS_CMD(&w, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "DEL", "k");
    CHECK_REPLY(r, ":1\r\n");
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 0);
}

static void no_notification_for_writes_not_applied(void)
{
    struct ss_client w;
    struct ss_reply r;
    CHECK(ss_open(&w, "quiet"));
    SS_CMD(&w, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    /* Registering notifies nothing about the existing value. */
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "gone");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "SET", "k", "w", "NX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&w, NULL, r, "SET", "k", "w", "NEX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&w, NULL, r, "VDEL", "k", "w");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&w, NULL, r, "DEL", "gone");
    CHECK_REPLY(r, ":0\r\n");
    SS_CMD(&w, NULL, r, "VDEL", "gone", "x");
    CHECK_REPLY(r, ":0\r\n");
    SS_CMD(&w, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    SS_CMD(&w, NULL, r, "SET", "k", "v", "PX", "0");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 0);
}

static void registrations_dropped_on_disconnect(void)
{
    struct ss_client w, b;
    struct ss_reply r;
    mosquitto_property *session = NULL;
    mosquitto_property_add_int32(&session, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
    struct tc *first = tc_open("durable", MQTT_PROTOCOL_V5, false, session);
    CHECK(first);
    CHECK(ss_attach(&w, first));
    /* A matching subscription in the persistent session: if the broker
     * kept the registration, notifications would reach it. */
    CHECK_INT(tc_subscribe(first, SS_NOTIFY_NS "/64757261626C65/command/notify/+", 1, 0, NULL), 1);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    tc_disconnect(first, 0);
    tc_destroy(first);
    struct tc *again = tc_open("durable", MQTT_PROTOCOL_V5, false, session);
    mosquitto_property_free_all(&session);
    CHECK(again);
    CHECK_INT(again->connack_flags & 1, 1); /* the session survived */
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&b, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    tc_pump_for(500);
    CHECK_INT(again->msg_count, 0);
}

/* A QoS 1 redelivery of KEYNOTIFY after a reconnect carries the same
 * client id, Response Topic, Correlation Data and payload as the first
 * copy: it must register the new connection, not be answered from the
 * reply cache (the first registration ended with the old connection). */
static void keynotify_resent_on_new_connection_registers(void)
{
    static const uint8_t corr[SS_CORR_LEN] = "same-corr-bytes";
    const struct ss_opts again = {.corr = corr};
    struct ss_client first, second, b;
    struct ss_reply r;
    char topic[512];
    CHECK(ss_open(&first, "resender"));
    SS_CMD(&first, &again, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    tc_disconnect(first.tc, 0);
    tc_destroy(first.tc);
    CHECK(ss_open(&second, "resender"));
    SS_CMD(&second, &again, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    /* A repeat on the same connection is still one registration. */
    SS_CMD(&second, &again, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&b, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    ss_notify_topic(topic, sizeof topic, "resender", "k", 1);
    PUMP_UNTIL(ss_note(&second, topic, 0) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&second), 1);
    check_set_note(ss_note(&second, topic, 0), "v");
    /* STOP stays de-duplicated like a write: its redelivery answers +OK
     * again instead of :0. */
    SS_CMD(&second, &again, r, "KEYNOTIFY", "k", "STOP");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&second, &again, r, "KEYNOTIFY", "k", "STOP");
    CHECK_REPLY(r, "+OK\r\n");
}

/* KEYNOTIFY keys obey max_key_len like SET keys (default 16 KiB): a
 * longer key is refused with the quota error and registers nothing. */
static void keynotify_key_longer_than_max_key_len_refused(void)
{
    enum { MAX = 16384 };
    static char key[MAX + 2];
    struct ss_client w;
    struct ss_reply r;
    memset(key, 'k', sizeof key);
    CHECK(ss_open(&w, "longkey"));
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, MAX + 1}}));
    CHECK_REPLY(r, SS_ERR_QUOTA);
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, MAX + 1}, ss_str("STOP")}));
    CHECK_REPLY(r, ":0\r\n");
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, MAX}}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, MAX}, ss_str("STOP")}));
    CHECK_REPLY(r, "+OK\r\n");
}

/* A client's registrations are bounded in accounted bytes (2 x key + 192
 * each): with max_notify_bytes 4096 and 6-byte keys (204 bytes each) the
 * 21st registration is refused, re-registering and other clients are not
 * affected, and STOP gives the room back. */
static void keynotify_registrations_bounded_per_client(void)
{
    struct ss_client w, other, b;
    struct ss_reply r;
    char key[16], topic[512];
    CHECK(ss_open(&w, "greedy"));
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "key%03d", i);
        SS_CMD(&w, NULL, r, "KEYNOTIFY", key);
        CHECK_REPLY(r, "+OK\r\n");
    }
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "key020");
    CHECK_REPLY(r, SS_ERR_QUOTA);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "key019");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_open(&other, "modest"));
    SS_CMD(&other, NULL, r, "KEYNOTIFY", "key020");
    CHECK_REPLY(r, "+OK\r\n");
    /* the refused registration does not exist */
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&b, NULL, r, "SET", "key020", "v");
    CHECK_REPLY(r, "+OK\r\n");
    ss_notify_topic(topic, sizeof topic, "modest", "key020", 6);
    PUMP_UNTIL(ss_note(&other, topic, 0) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 0);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "key000", "STOP");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "key020");
    CHECK_REPLY(r, "+OK\r\n");
}

/* The notification topic carries the hex of the client id and of the key
 * and must fit MQTT's 65,535-byte topic limit: with max_key_len off, the
 * longest key that fits (here 32,729 bytes for the one-byte client id
 * "d": 59 + 2 + 16 + 2 x 32,729 = 65,535) is notified on an exactly
 * 65,535-byte topic, and one byte more is refused at registration rather
 * than sent with a truncated topic length (a malformed PUBLISH). */
static void keynotify_topic_beyond_mqtt_limit_refused(void)
{
    enum { FITS = 32729 };
    static char key[FITS + 1];
    struct ss_client w;
    struct ss_reply r;
    memset(key, 0xAB, sizeof key);
    CHECK(ss_open(&w, "d"));
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, FITS + 1}}));
    CHECK_REPLY(r, SS_ERR_QUOTA);
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, FITS}}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), {key, FITS + 1}, ss_str("x")}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), {key, FITS}, ss_str("v")}));
    CHECK_REPLY(r, "+OK\r\n");
    static char topic[70000];
    ss_notify_topic(topic, sizeof topic, "d", key, FITS);
    CHECK_INT(strlen(topic), 65535);
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    check_set_note(ss_note(&w, topic, 0), "v");
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 1);
    CHECK(!w.tc->disconnected);
}

/* The hostile case of 8.6: huge keys (10 MiB each) registered to pin
 * server memory. With max_key_len off, the topic limit still refuses
 * them; the RSS growth is printed for the record (not asserted: ASan's
 * quarantine keeps the freed request buffers resident). */
static void keynotify_huge_keys_refused(void)
{
    enum { MIB = 1 << 20, KEYS = 8 };
    struct ss_client w;
    struct ss_reply r;
    char *key = malloc(10 * MIB);
    CHECK(key != NULL);
    CHECK(ss_open(&w, "hog"));
    long before = e2e_broker_rss_kib();
    int refused = 0;
    for (int i = 0; i < KEYS; i++) {
        memset(key, 'a' + i, 10 * MIB);
        if (!ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, 10 * MIB}})) break;
        refused += ss_reply_is(&r, SS_ERR_QUOTA, strlen(SS_ERR_QUOTA));
    }
    free(key);
    e2e_note("broker RSS %ld KiB before, %ld KiB after %d KEYNOTIFYs of 10 MiB keys", before, e2e_broker_rss_kib(),
             KEYS);
    CHECK_INT(refused, KEYS);
}

static void unregistered_client_gets_nothing(void)
{
    struct ss_client w, other, b;
    struct ss_reply r;
    char topic[512];
    CHECK(ss_open(&w, "watcher"));
    CHECK(ss_open(&other, "bystander"));
    CHECK(ss_open(&b, "writer"));
    CHECK_INT(tc_subscribe(other.tc, SS_NOTIFY_NS "/62797374616E646572/command/notify/+", 1, 0, NULL), 1);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&b, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    ss_notify_topic(topic, sizeof topic, "watcher", "k", 1);
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 1);
    CHECK_INT(ss_note_total(&other), 0);
    CHECK_INT(ss_note_total(&b), 0);
}

static void hundred_sets_notified_in_order(void)
{
    enum { N = 100 };
    struct ss_client w, b;
    struct ss_reply r, pending[N];
    char topic[512], value[16];
    CHECK(ss_open(&w, "orderly"));
    CHECK(ss_open(&b, "writer"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "seq");
    CHECK_REPLY(r, "+OK\r\n");
    for (int i = 0; i < N; i++) {
        char req[64];
        snprintf(value, sizeof value, "v%03d", i);
        int n = snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$3\r\nseq\r\n$4\r\n%s\r\n", value);
        CHECK(ss_send(&b, NULL, req, (size_t)n, &pending[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK(ss_wait(&b, NULL, &pending[i], TC_TIMEOUT_MS));
        CHECK_REPLY(pending[i], "+OK\r\n");
    }
    ss_notify_topic(topic, sizeof topic, "orderly", "seq", 3);
    PUMP_UNTIL(ss_note(&w, topic, N - 1) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), N);
    for (int i = 0; i < N; i++) {
        snprintf(value, sizeof value, "v%03d", i);
        check_set_note(ss_note(&w, topic, i), value);
        if (e2e_failed()) return;
    }
}

static void own_subscriptions_granted_qos1(void)
{
    struct ss_client w;
    CHECK(ss_open(&w, "dotnet"));
    /* .NET: raw client id, no trailing level; must be exactly 0x01. */
    CHECK_INT(tc_subscribe(w.tc, SS_NOTIFY_NS "/dotnet/command/notify", 1, 0, NULL), 0x01);
    CHECK_INT(tc_subscribe(w.tc, SS_NOTIFY_NS "/646F746E6574/command/notify/+", 1, 0, NULL), 0x01);
}

static void foreign_subscriptions_denied(void)
{
    struct ss_client w, snoop, b;
    struct ss_reply r;
    CHECK(ss_open(&w, "victim"));
    CHECK(ss_open(&snoop, "snoop"));
    CHECK(ss_open(&b, "writer"));
    CHECK_INT(tc_subscribe(snoop.tc, SS_NOTIFY_NS "/76696374696D/command/notify/+", 1, 0, NULL), 0x87);
    CHECK_INT(tc_subscribe(snoop.tc, SS_REQUEST_TOPIC, 1, 0, NULL), 0x87);
    /* Whatever a broad filter is granted, it must not leak notifications. */
    int broad = tc_subscribe(snoop.tc, "clients/statestore/#", 1, 0, NULL);
    e2e_note("clients/statestore/# granted 0x%x", broad);
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "k");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&b, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    PUMP_UNTIL(ss_note_total(&w) > 0, TC_TIMEOUT_MS);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 1);
    CHECK_INT(ss_note_total(&snoop), 0);
}

static void publish_into_namespace_denied(void)
{
    struct ss_client w, evil;
    const char *topic = SS_NOTIFY_NS "/76696374696D/command/notify/6B";
    CHECK(ss_open(&w, "victim"));
    CHECK(ss_open(&evil, "evil"));
    CHECK_INT(tc_subscribe(w.tc, SS_NOTIFY_NS "/76696374696D/command/notify/+", 1, 0, NULL), 1);
    CHECK_INT(tc_publish(evil.tc, topic, SS_NOTE_DELETE, 1, false, NULL), 0x87);
    tc_pump_for(QUIET_MS);
    CHECK_INT(ss_note_total(&w), 0);
}

static const struct e2e_case cases[] = {
    {"spec_example_topic_and_payloads", spec_example_topic_and_payloads, NULL, SS_ONLY},
    {"low_bytes_two_hex_digits", low_bytes_two_hex_digits, NULL, SS_ONLY},
    {"register_twice_one_notification", register_twice_one_notification, NULL, SS_ONLY},
    {"subscribed_watcher_gets_exactly_one", subscribed_watcher_gets_exactly_one, NULL, SS_ONLY},
    {"stop_ends_notifications", stop_ends_notifications, NULL, SS_ONLY},
    {"no_notification_for_writes_not_applied", no_notification_for_writes_not_applied, NULL, SS_ONLY},
    {"registrations_dropped_on_disconnect", registrations_dropped_on_disconnect, NULL, SS_ONLY},
    {"keynotify_resent_on_new_connection_registers", keynotify_resent_on_new_connection_registers, NULL, SS_ONLY},
    {"keynotify_key_longer_than_max_key_len_refused", keynotify_key_longer_than_max_key_len_refused, NULL, SS_ONLY},
    {"keynotify_registrations_bounded_per_client", keynotify_registrations_bounded_per_client, NULL, SS_ONLY,
     "store:\n  max_notify_bytes: 4096\n"},
    {"keynotify_topic_beyond_mqtt_limit_refused", keynotify_topic_beyond_mqtt_limit_refused, NULL, SS_ONLY,
     "store:\n  max_key_len: 0\n"},
    {"keynotify_huge_keys_refused", keynotify_huge_keys_refused, NULL, SS_ONLY, "store:\n  max_key_len: 0\n"},
    {"unregistered_client_gets_nothing", unregistered_client_gets_nothing, NULL, SS_ONLY},
    {"hundred_sets_notified_in_order", hundred_sets_notified_in_order, NULL, SS_ONLY},
    {"own_subscriptions_granted_qos1", own_subscriptions_granted_qos1, NULL, SS_ONLY},
    {"foreign_subscriptions_denied", foreign_subscriptions_denied, NULL, SS_ONLY},
    {"publish_into_namespace_denied", publish_into_namespace_denied, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
