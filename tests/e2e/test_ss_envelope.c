/* The RPC envelope of state store replies (protocol §2.3, §2.4): __stat 200,
 * correlation echo, Response Topic at QoS 1, content type, where __ts must
 * and must not appear, unsupported __protVer, requests that must not be
 * executed (QoS 0, no Response Topic, forbidden Response Topic) and
 * duplicate delivery answered from the response cache. */
#include <stdio.h>
#include <string.h>

#include "rawclient.h"
#include "ssclient.h"

#define SS_ONLY "state store protocol"
#define RAW_WAIT_MS 5000

static void version_of(const struct ss_reply *r, char *buf, size_t size)
{
    if (!ss_user_prop(r->props, "__ts", buf, size)) snprintf(buf, size, "(absent)");
}

static void ts_where_the_spec_requires_it(void)
{
    struct ss_client a;
    struct ss_reply r;
    char set_ts[128], nx_ts[128], get_ts[128];
    CHECK(ss_open(&a, "env"));
    SS_CMD(&a, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_has_ts(&r));
    version_of(&r, set_ts, sizeof set_ts);
    /* Not applied: still the key's current version. */
    SS_CMD(&a, NULL, r, "SET", "k", "w", "NX");
    CHECK_REPLY(r, ":-1\r\n");
    version_of(&r, nx_ts, sizeof nx_ts);
    CHECK_STR(nx_ts, set_ts);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    version_of(&r, get_ts, sizeof get_ts);
    CHECK_STR(get_ts, set_ts);
    SS_CMD(&a, NULL, r, "GET", "missing");
    CHECK_REPLY(r, "$-1\r\n");
    CHECK_INT(ss_user_prop_count(r.props, "__ts"), 0);
    SS_CMD(&a, NULL, r, "NOPE", "k");
    CHECK_REPLY(r, SS_ERR_UNKNOWN);
    CHECK_INT(ss_user_prop_count(r.props, "__ts"), 0);
}

static void unsupported_protocol_version(void)
{
    struct ss_client a;
    struct ss_reply r;
    char buf[64];
    struct ss_opts v2 = {.prot_ver = "2.0", .expect_status = 505};
    CHECK(ss_open(&a, "protver"));
    SS_CMD(&a, &v2, r, "SET", "k", "v");
    CHECK(ss_user_prop(r.props, "__supProtMajVer", buf, sizeof buf));
    CHECK(strstr(buf, "1") != NULL);
    CHECK_INT(r.len, 0);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

static void qos0_request_not_executed(void)
{
    struct ss_client a;
    struct ss_reply pending, r;
    struct ss_opts q0 = {.qos0 = true};
    struct ssb req = {0};
    ss_resp_array(&req, 3, (struct ss_arg[]){ss_str("SET"), ss_str("k"), ss_str("v")});
    CHECK(ss_open(&a, "qos0"));
    bool sent = ss_send(&a, &q0, req.data, req.len, &pending);
    ssb_free(&req);
    CHECK(sent);
    CHECK(!ss_wait(&a, &q0, &pending, 500));
    CHECK(!pending.received);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

static void no_response_topic_not_executed(void)
{
    struct ss_client a;
    struct ss_reply pending, r;
    struct ss_opts none = {.omit_response_topic = true};
    struct ssb req = {0};
    ss_resp_array(&req, 3, (struct ss_arg[]){ss_str("SET"), ss_str("k"), ss_str("v")});
    CHECK(ss_open(&a, "noresp"));
    bool sent = ss_send(&a, &none, req.data, req.len, &pending);
    ssb_free(&req);
    CHECK(sent);
    tc_pump_for(500);
    CHECK_INT(a.tc->msg_count, 0);
    CHECK(!a.tc->disconnected);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

/* --- raw-client requests --------------------------------------------------- */

static void user_prop(struct pb *p, const char *k, const char *v)
{
    pb_u8(p, 0x26);
    pb_str(p, k);
    pb_str(p, v);
}

static void build_raw_request(struct pb *out, const char *response_topic, const uint8_t corr[SS_CORR_LEN],
                              const char *ts, const char *payload, uint16_t packet_id, bool dup)
{
    struct pb props = {0};
    pb_u8(&props, 0x08); /* Response Topic */
    pb_str(&props, response_topic);
    pb_u8(&props, 0x09); /* Correlation Data */
    pb_bin(&props, corr, SS_CORR_LEN);
    pb_u8(&props, 0x02); /* Message Expiry Interval */
    pb_u32(&props, 10);
    user_prop(&props, "__ts", ts);
    user_prop(&props, "__protVer", "1.0");
    raw_build_publish_v5(out, SS_REQUEST_TOPIC, 1, dup, false, packet_id, &props, payload, strlen(payload));
}

static void now_ts(char *buf, size_t size, const char *node)
{
    struct ss_hlc h = {.wall = ss_wall_ms()};
    snprintf(h.node, sizeof h.node, "%s", node);
    ss_hlc_format(&h, buf, size);
}

/* Sends a SET on a raw connection with a forbidden Response Topic and
 * expects DISCONNECT 0x82 and the request not executed. */
static void forbidden_response_topic(const char *response_topic, const char *key)
{
    struct ss_client a;
    struct ss_reply r;
    struct pb pkt = {0};
    uint8_t corr[SS_CORR_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char ts[96], payload[128];
    int fd = raw_connect_v5(e2e_port(), "evil", true, NULL, NULL);
    CHECK(fd >= 0);
    now_ts(ts, sizeof ts, "evil");
    snprintf(payload, sizeof payload, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\nv\r\n", strlen(key), key);
    build_raw_request(&pkt, response_topic, corr, ts, payload, 1, false);
    CHECK(raw_send_pb(fd, &pkt));
    int reason = -1;
    bool closed = raw_wait_closed(fd, RAW_WAIT_MS, &reason);
    if (!closed || reason != 0x82)
        e2e_fail(__FILE__, __LINE__,
                 "response topic \"%s\": closed %d, DISCONNECT reason 0x%x, "
                 "expected DISCONNECT 0x82 and close",
                 response_topic, closed, reason);
    CHECK(closed && reason == 0x82);
    CHECK(ss_open(&a, "checker"));
    CHECK(ss_cmd(&a, NULL, &r, "GET", key, (const char *)NULL));
    CHECK_REPLY(r, "$-1\r\n");
}

static void response_topic_request_topic_disconnects(void) { forbidden_response_topic(SS_REQUEST_TOPIC, "k1"); }

static void response_topic_notify_namespace_disconnects(void)
{
    forbidden_response_topic(SS_NOTIFY_NS "/4556494C/command/notify/6B32", "k2");
}

static void response_topic_notify_prefix_disconnects(void) { forbidden_response_topic(SS_NOTIFY_NS, "k3"); }

/* Reads packets until the response PUBLISH arrives (acknowledging it) and,
 * if want_puback, the PUBACK for packet_id too. Copies the reply payload. */
static bool read_raw_reply(int fd, uint16_t packet_id, bool want_puback, char *payload, size_t size,
                           uint8_t corr_out[SS_CORR_LEN])
{
    bool got_reply = false, got_puback = !want_puback;
    int64_t deadline = e2e_now_ms() + RAW_WAIT_MS;
    while ((!got_reply || !got_puback) && e2e_now_ms() < deadline) {
        struct raw_pkt pkt;
        if (raw_recv(fd, &pkt, (int)(deadline - e2e_now_ms())) != RAW_OK) return false;
        struct raw_publish pub;
        if (pkt.type == 4 && pkt.len >= 2 && ((pkt.body[0] << 8) | pkt.body[1]) == packet_id) got_puback = true;
        if (pkt.type == 3 && raw_parse_publish_v5(&pkt, &pub)) {
            const uint8_t *c = NULL;
            uint16_t clen = 0;
            size_t n = pub.payload_len < size - 1 ? pub.payload_len : size - 1;
            memcpy(payload, pub.payload, n);
            payload[n] = '\0';
            memset(corr_out, 0, SS_CORR_LEN);
            if (raw_prop_find(pub.props, pub.props_len, 0x09, NULL, &c, &clen) && clen == SS_CORR_LEN)
                memcpy(corr_out, c, SS_CORR_LEN);
            if (pub.qos == 1) raw_send_ack(fd, 4, pub.packet_id);
            got_reply = true;
        }
        raw_pkt_free(&pkt);
    }
    return got_reply && got_puback;
}

static void duplicate_delivery_gets_cached_reply(void)
{
    struct ss_client w;
    struct ss_reply r;
    struct pb first = {0}, again = {0};
    uint8_t corr[SS_CORR_LEN] = {0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    uint8_t echoed[SS_CORR_LEN];
    char ts[96], reply[64], topic[512];
    const char *resp_topic = "clients/dup/services/" SS_REQUEST_TOPIC "/response";
    const char *req = "*4\r\n$3\r\nSET\r\n$6\r\ndupkey\r\n$1\r\nv\r\n$2\r\nNX\r\n";
    CHECK(ss_open(&w, "watcher"));
    SS_CMD(&w, NULL, r, "KEYNOTIFY", "dupkey");
    CHECK_REPLY(r, "+OK\r\n");
    int fd = raw_connect_v5(e2e_port(), "dup", true, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, resp_topic, 1, NULL), 1);
    now_ts(ts, sizeof ts, "dup");
    build_raw_request(&first, resp_topic, corr, ts, req, 7, false);
    build_raw_request(&again, resp_topic, corr, ts, req, 7, true);
    CHECK(raw_send_pb(fd, &first));
    CHECK(read_raw_reply(fd, 7, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
    CHECK(memcmp(echoed, corr, SS_CORR_LEN) == 0);
    /* The redelivery, as after a lost PUBACK: same packet id, DUP set,
     * same correlation data. It must not turn into ":-1". */
    CHECK(raw_send_pb(fd, &again));
    CHECK(read_raw_reply(fd, 7, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
    CHECK(memcmp(echoed, corr, SS_CORR_LEN) == 0);
    /* Executed once: exactly one SET notification. */
    ss_notify_topic(topic, sizeof topic, "watcher", "dupkey", 6);
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    tc_pump_for(300);
    CHECK_INT(ss_note_total(&w), 1);
    SS_CMD(&w, NULL, r, "GET", "dupkey");
    CHECK_REPLY(r, "$1\r\nv\r\n");
}

/* De-duplication is keyed by (client id, correlation data, payload), not
 * the response topic (protocol §2.3): a client that reconnects and resends
 * a write with the same correlation data but a new response topic gets the
 * first reply, on the new topic, and the write is not applied twice. */
static void resend_on_new_response_topic_gets_first_reply(void)
{
    struct pb first = {0}, again = {0};
    uint8_t corr[SS_CORR_LEN] = {0xfe, 0xed, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    uint8_t echoed[SS_CORR_LEN];
    char ts[96], reply[64];
    const char *topic_a = "clients/dup2/a/response", *topic_b = "clients/dup2/b/response";
    const char *req = "*4\r\n$3\r\nSET\r\n$7\r\nnewtopk\r\n$1\r\nv\r\n$2\r\nNX\r\n";
    int fd = raw_connect_v5(e2e_port(), "dup2", true, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, topic_a, 1, NULL), 1);
    now_ts(ts, sizeof ts, "dup2");
    build_raw_request(&first, topic_a, corr, ts, req, 7, false);
    CHECK(raw_send_pb(fd, &first));
    CHECK(read_raw_reply(fd, 7, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
    raw_close(fd);
    /* A new connection of the same client listens on another topic only. */
    fd = raw_connect_v5(e2e_port(), "dup2", true, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, topic_b, 1, NULL), 1);
    build_raw_request(&again, topic_b, corr, ts, req, 8, true);
    CHECK(raw_send_pb(fd, &again));
    CHECK(read_raw_reply(fd, 8, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n"); /* not :-1: remembered, not applied again */
    CHECK(memcmp(echoed, corr, SS_CORR_LEN) == 0);
}

/* KEYNOTIFY STOP is not logged (registrations belong to the connection),
 * but its redelivery still answers what the first copy did: +OK, not :0. */
static void repeated_stop_answers_the_same(void)
{
    struct pb reg = {0}, stop = {0}, stop_again = {0};
    uint8_t corr[SS_CORR_LEN] = {0x57, 0x07, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    uint8_t echoed[SS_CORR_LEN];
    char ts[96], reply[64];
    const char *topic = "clients/dup3/response";
    const char *kn = "*2\r\n$9\r\nKEYNOTIFY\r\n$5\r\nstopk\r\n";
    const char *st = "*3\r\n$9\r\nKEYNOTIFY\r\n$5\r\nstopk\r\n$4\r\nSTOP\r\n";
    int fd = raw_connect_v5(e2e_port(), "dup3", true, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, topic, 1, NULL), 1);
    now_ts(ts, sizeof ts, "dup3");
    build_raw_request(&reg, topic, corr, ts, kn, 7, false);
    build_raw_request(&stop, topic, corr, ts, st, 8, false);
    build_raw_request(&stop_again, topic, corr, ts, st, 8, true);
    CHECK(raw_send_pb(fd, &reg));
    CHECK(read_raw_reply(fd, 7, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
    CHECK(raw_send_pb(fd, &stop));
    CHECK(read_raw_reply(fd, 8, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
    CHECK(raw_send_pb(fd, &stop_again));
    CHECK(read_raw_reply(fd, 8, true, reply, sizeof reply, echoed));
    CHECK_STR(reply, "+OK\r\n");
}

static const struct e2e_case cases[] = {
    {"ts_where_the_spec_requires_it", ts_where_the_spec_requires_it, NULL, SS_ONLY},
    {"unsupported_protocol_version", unsupported_protocol_version, NULL, SS_ONLY},
    {"qos0_request_not_executed", qos0_request_not_executed, NULL, SS_ONLY},
    {"no_response_topic_not_executed", no_response_topic_not_executed, NULL, SS_ONLY},
    {"response_topic_request_topic_disconnects", response_topic_request_topic_disconnects, NULL, SS_ONLY},
    {"response_topic_notify_namespace_disconnects", response_topic_notify_namespace_disconnects, NULL, SS_ONLY},
    {"response_topic_notify_prefix_disconnects", response_topic_notify_prefix_disconnects, NULL, SS_ONLY},
    {"duplicate_delivery_gets_cached_reply", duplicate_delivery_gets_cached_reply, NULL, SS_ONLY},
    {"resend_on_new_response_topic_gets_first_reply", resend_on_new_response_topic_gets_first_reply, NULL, SS_ONLY},
    {"repeated_stop_answers_the_same", repeated_stop_answers_the_same, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
