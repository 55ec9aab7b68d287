/* State store RPC client over libmosquitto; see ssclient.h. */
#include "ssclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SS_MAX_ARGS 16
#define SS_EXPIRY_S 10

static const struct ss_opts default_opts;

static void set_response_topic(struct ss_client *c)
{
    snprintf(c->response_topic, sizeof c->response_topic, "clients/%s/services/" SS_REQUEST_TOPIC "/response",
             c->tc->id);
}

bool ss_attach(struct ss_client *c, struct tc *tc)
{
    memset(c, 0, sizeof *c);
    c->tc = tc;
    /* The node id must not contain ':' (§4.1); client ids in the tests
     * never do, but keep the clock valid whatever the id. */
    snprintf(c->hlc.node, sizeof c->hlc.node, "e2e-%.40s", tc->id);
    for (char *p = c->hlc.node; *p; p++)
        if (*p == ':') *p = '-';
    set_response_topic(c);
    int granted = tc_subscribe(tc, c->response_topic, 1, 0, NULL);
    if (granted != 1) {
        e2e_fail(__FILE__, __LINE__, "subscribe to %s: granted %d, expected 1", c->response_topic, granted);
        return false;
    }
    return true;
}

bool ss_open(struct ss_client *c, const char *client_id)
{
    struct tc *tc = tc_open(client_id, MQTT_PROTOCOL_V5, true, NULL);
    return tc && ss_attach(c, tc);
}

/* Ticks the client HLC from the real clock before every publish (§4.4). */
static void tick_hlc(struct ss_client *c)
{
    uint64_t now = ss_wall_ms();
    if (now > c->hlc.wall) {
        c->hlc.wall = now;
        c->hlc.counter = 0;
    } else {
        c->hlc.counter++;
    }
}

/* Random bytes plus a per-client sequence number: unique within a case even
 * if the random source repeats. */
static void new_correlation(struct ss_client *c, uint8_t corr[SS_CORR_LEN])
{
    static bool seeded;
    if (!seeded) {
        srandom((unsigned)(ss_wall_ms() ^ (uint64_t)getpid()));
        seeded = true;
    }
    for (int i = 0; i < SS_CORR_LEN - 4; i++) corr[i] = (uint8_t)random();
    uint32_t seq = ++c->corr_seq;
    for (int i = 0; i < 4; i++) corr[SS_CORR_LEN - 4 + i] = (uint8_t)(seq >> (24 - 8 * i));
}

static void add_user(mosquitto_property **props, const char *k, const char *v)
{
    mosquitto_property_add_string_pair(props, MQTT_PROP_USER_PROPERTY, k, v);
}

static mosquitto_property *request_props(struct ss_client *c, const struct ss_opts *o, struct ss_reply *pending)
{
    mosquitto_property *props = NULL;
    if (!o->omit_response_topic)
        mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC,
                                      o->response_topic ? o->response_topic : c->response_topic);
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, pending->corr, SS_CORR_LEN);
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, SS_EXPIRY_S);
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/octet-stream");
    add_user(&props, "__srcId", c->tc->id);
    pending->sent_ts[0] = '\0';
    if (!o->omit_ts) {
        tick_hlc(c);
        if (o->ts) snprintf(pending->sent_ts, sizeof pending->sent_ts, "%s", o->ts);
        else ss_hlc_format(&c->hlc, pending->sent_ts, sizeof pending->sent_ts);
        add_user(&props, "__ts", pending->sent_ts);
    }
    add_user(&props, "__protVer", o->prot_ver ? o->prot_ver : "1.0");
    if (o->ft) add_user(&props, "__ft", o->ft);
    if (o->persist) add_user(&props, "aio-persistence", "true");
    return props;
}

bool ss_send(struct ss_client *c, const struct ss_opts *o, const void *payload, size_t len, struct ss_reply *pending)
{
    o = o ? o : &default_opts;
    memset(pending, 0, sizeof *pending);
    if (o->corr) memcpy(pending->corr, o->corr, SS_CORR_LEN);
    else new_correlation(c, pending->corr);
    ss_escape(payload, len, pending->sent, sizeof pending->sent);
    mosquitto_property *props = request_props(c, o, pending);
    int rc = mosquitto_publish_v5(c->tc->m, NULL, SS_REQUEST_TOPIC, (int)len, payload, o->qos0 ? 0 : 1, false, props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        e2e_fail(__FILE__, __LINE__, "publish of request %s failed: %s", pending->sent, mosquitto_strerror(rc));
        return false;
    }
    return true;
}

static bool correlation_matches(const struct tc_msg *m, const uint8_t corr[SS_CORR_LEN])
{
    void *got = NULL;
    uint16_t got_len = 0;
    if (!mosquitto_property_read_binary(m->props, MQTT_PROP_CORRELATION_DATA, &got, &got_len, false)) return false;
    bool same = got_len == SS_CORR_LEN && memcmp(got, corr, SS_CORR_LEN) == 0;
    free(got);
    return same;
}

/* Index of the received message answering this correlation, or -1. */
static int find_reply(const struct ss_client *c, const uint8_t corr[SS_CORR_LEN])
{
    for (int i = 0; i < c->tc->msg_count; i++)
        if (correlation_matches(&c->tc->msgs[i], corr)) return i;
    return -1;
}

/* §2.4: what every reply must look like, whatever its payload. */
static bool check_envelope(const struct ss_client *c, const struct ss_opts *o, const struct tc_msg *m,
                           const struct ss_reply *r)
{
    char buf[256];
    const char *want_topic = o->response_topic ? o->response_topic : c->response_topic;
    if (strcmp(m->topic, want_topic) != 0) {
        e2e_fail(__FILE__, __LINE__, "reply to %s on topic %s, expected %s", r->sent, m->topic, want_topic);
        return false;
    }
    if (m->qos != 1 || m->retain) {
        e2e_fail(__FILE__, __LINE__, "reply to %s: QoS %d retain %d, expected QoS 1 retain 0", r->sent, m->qos,
                 m->retain);
        return false;
    }
    if (tc_prop_str(m->props, MQTT_PROP_CONTENT_TYPE, buf, sizeof buf) &&
        strcmp(buf, "application/octet-stream") != 0) {
        e2e_fail(__FILE__, __LINE__, "reply to %s: Content Type \"%s\"", r->sent, buf);
        return false;
    }
    int want_status = o->expect_status ? o->expect_status : 200;
    char want[16];
    snprintf(want, sizeof want, "%d", want_status);
    if (!ss_user_prop(m->props, "__stat", buf, sizeof buf) || strcmp(buf, want) != 0 ||
        ss_user_prop_count(m->props, "__stat") != 1) {
        e2e_fail(__FILE__, __LINE__, "reply to %s: __stat \"%s\", expected exactly one \"%s\"", r->sent,
                 ss_user_prop(m->props, "__stat", buf, sizeof buf) ? buf : "(absent)", want);
        return false;
    }
    return true;
}

bool ss_wait(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, int timeout_ms)
{
    o = o ? o : &default_opts;
    int idx = -1;
    PUMP_UNTIL((idx = find_reply(c, r->corr)) >= 0, timeout_ms);
    if (idx < 0) return false;
    const struct tc_msg *m = &c->tc->msgs[idx];
    r->received = true;
    r->payload = (const uint8_t *)m->payload;
    r->len = (size_t)m->payload_len;
    r->props = m->props;
    return check_envelope(c, o, m, r);
}

bool ss_call(struct ss_client *c, const struct ss_opts *o, const void *payload, size_t len, struct ss_reply *r)
{
    if (!ss_send(c, o, payload, len, r)) return false;
    if (ss_wait(c, o, r, TC_TIMEOUT_MS)) return true;
    if (!r->received) e2e_fail(__FILE__, __LINE__, "no reply to %s within %d ms", r->sent, TC_TIMEOUT_MS);
    return false;
}

bool ss_callv(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, int argc, const struct ss_arg *argv)
{
    struct ssb req = {0};
    ss_resp_array(&req, argc, argv);
    bool ok = ss_call(c, o, req.data, req.len, r);
    ssb_free(&req);
    return ok;
}

bool ss_cmd(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, ...)
{
    struct ss_arg argv[SS_MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, r);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL && argc < SS_MAX_ARGS;) argv[argc++] = ss_str(s);
    va_end(ap);
    return ss_callv(c, o, r, argc, argv);
}

bool ss_user_prop(const mosquitto_property *props, const char *name, char *buf, size_t size)
{
    for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
        char *k = NULL, *v = NULL;
        if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY ||
            !mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false))
            continue;
        bool hit = strcmp(k, name) == 0;
        if (hit) snprintf(buf, size, "%s", v);
        free(k);
        free(v);
        if (hit) return true;
    }
    return false;
}

int ss_user_prop_count(const mosquitto_property *props, const char *name)
{
    int n = 0;
    for (const mosquitto_property *p = props; p; p = mosquitto_property_next(p)) {
        char *k = NULL, *v = NULL;
        if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY ||
            !mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false))
            continue;
        n += strcmp(k, name) == 0;
        free(k);
        free(v);
    }
    return n;
}

bool ss_reply_has_ts(const struct ss_reply *r) { return ss_user_prop_count(r->props, "__ts") > 0; }

bool ss_reply_version(const struct ss_reply *r, struct ss_hlc *out)
{
    char buf[128];
    if (!ss_user_prop(r->props, "__ts", buf, sizeof buf)) {
        e2e_fail(__FILE__, __LINE__, "reply to %s has no __ts", r->sent);
        return false;
    }
    if (!ss_hlc_parse(buf, out)) {
        e2e_fail(__FILE__, __LINE__, "reply to %s: __ts \"%s\" is not wall:counter:node", r->sent, buf);
        return false;
    }
    return true;
}

bool ss_reply_is(const struct ss_reply *r, const void *expected, size_t len)
{
    return r->received && r->len == len && memcmp(r->payload, expected, len) == 0;
}

void ss_fail_reply(const char *file, int line, const struct ss_reply *r, const void *expected, size_t len)
{
    char got[300], want[300];
    ss_escape(r->payload, r->received ? r->len : 0, got, sizeof got);
    ss_escape(expected, len, want, sizeof want);
    e2e_fail(file, line, "sent \"%s\" (__ts %s): got %s\"%s\", expected \"%s\"", r->sent,
             r->sent_ts[0] ? r->sent_ts : "none", r->received ? "" : "NO REPLY ", got, want);
}

static void append_hex(char *out, size_t size, const void *data, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    const uint8_t *p = data;
    size_t used = strlen(out);
    for (size_t i = 0; i < len && used + 2 < size; i++) {
        out[used++] = digits[p[i] >> 4];
        out[used++] = digits[p[i] & 15];
    }
    out[used] = '\0';
}

void ss_notify_topic(char *out, size_t size, const char *client_id, const void *key, size_t klen)
{
    snprintf(out, size, SS_NOTIFY_NS "/");
    append_hex(out, size, client_id, strlen(client_id));
    snprintf(out + strlen(out), size - strlen(out), "/command/notify/");
    append_hex(out, size, key, klen);
}

int ss_note_total(const struct ss_client *c)
{
    int n = 0;
    for (int i = 0; i < c->tc->msg_count; i++)
        n += strncmp(c->tc->msgs[i].topic, SS_NOTIFY_NS "/", strlen(SS_NOTIFY_NS) + 1) == 0;
    return n;
}

const struct tc_msg *ss_note(const struct ss_client *c, const char *topic, int i)
{
    for (int k = 0; k < c->tc->msg_count; k++)
        if (strcmp(c->tc->msgs[k].topic, topic) == 0 && i-- == 0) return &c->tc->msgs[k];
    return NULL;
}

void ss_note_set_payload(struct ssb *out, const void *value, size_t vlen)
{
    ssb_addf(out, "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$%zu\r\n", vlen);
    ssb_add(out, value, vlen);
    ssb_add(out, "\r\n", 2);
}
