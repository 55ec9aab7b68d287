/* State store workloads of the generator: each connection subscribes to
 * its own response topic and keeps `window` requests in flight, as the AIO
 * SDKs do (protocol §1.2, §2.2): a QoS 1 PUBLISH to the request topic with
 * Response Topic, Correlation Data and a `__ts` user property, the command
 * as a RESP array in the payload. The reply (QoS 1, to the response topic)
 * is acknowledged and checked against the one success reply expected.
 *
 * The 16 bytes of Correlation Data carry a sequence number and the send
 * time, so a reply needs no lookup to give its latency. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqtt/codec.h"
#include "pubsub.h"
#include "util/clock.h"

#define SS_REQUEST_TOPIC "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"
#define SS_RESPONSE_SUFFIX "/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response"
/* "key:" + 12 digits: what redis-benchmark makes of key:__rand_int__. */
#define SS_KEY_PREFIX "key:"
#define SS_KEY_DIGITS 12
/* Both commands start "*N\r\n$3\r\nSET\r\n$16\r\n" (or GET): the key follows. */
#define SS_KEY_OFFSET 18
#define SS_HLC_NODE "bench"
#define SS_HLC_MAX_COUNT 99999

const char *pb_workload_name(enum pb_workload w)
{
    static const char *names[] = {"pubsub", "set", "get", "fill"};
    return names[w];
}

static void append_str(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* The command with key 0 (rewritten per request); value bytes are 'x' as in
 * redis-benchmark's -d payload. */
static void build_set(buf *b, uint32_t value_size)
{
    char hdr[32];
    append_str(b, "*3\r\n$3\r\nSET\r\n$16\r\n" SS_KEY_PREFIX "000000000000\r\n");
    snprintf(hdr, sizeof hdr, "$%u\r\n", value_size);
    append_str(b, hdr);
    size_t at = b->len;
    buf_reserve(b, value_size + 2);
    memset(b->data + at, 'x', value_size);
    b->len = at + value_size;
    append_str(b, "\r\n");
}

void pb_ss_conn_init(pb_conn *c)
{
    int n = snprintf(c->topic, sizeof c->topic, "clients/pb-%d-c%u" SS_RESPONSE_SUFFIX, (int)getpid(), c->index);
    c->topic_len = (uint16_t)n;
    build_set(&c->set_req, c->bench->opts.value_size);
    append_str(&c->get_req, "*2\r\n$3\r\nGET\r\n$16\r\n" SS_KEY_PREFIX "000000000000\r\n");
    c->fill_next = c->index;
}

/* --- requests ------------------------------------------------------------- */

static uint64_t next_random(pb_bench *b)
{
    /* xorshift64*: plenty for spreading keys, one multiply per key */
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void write_key(buf *req, uint64_t key)
{
    uint8_t *d = req->data + SS_KEY_OFFSET + sizeof SS_KEY_PREFIX - 1;
    for (int i = SS_KEY_DIGITS - 1; i >= 0; i--) {
        d[i] = (uint8_t)('0' + key % 10);
        key /= 10;
    }
}

/* A fresh HLC (§4.1) per loop iteration, not per request: requests
 * encoded in one iteration share a stamp, as an SDK's requests issued
 * within one clock tick would. The counter keeps stamps of one
 * millisecond distinct. */
static void stamp_clock(pb_bench *b, uint64_t now)
{
    if (b->hlc_stamp_ns == now && b->ts_prop.len) return;
    b->hlc_stamp_ns = now;
    uint64_t ms = clock_wall_ms();
    if (ms > b->hlc_ms) {
        b->hlc_ms = ms;
        b->hlc_count = 0;
    } else if (b->hlc_count < SS_HLC_MAX_COUNT) {
        b->hlc_count++;
    }
    char ts[64];
    int n = snprintf(ts, sizeof ts, "%015llu:%05u:" SS_HLC_NODE, (unsigned long long)b->hlc_ms, b->hlc_count);
    b->ts_prop.len = 0;
    mqtt_props_add_user(&b->ts_prop, (mqtt_bytes){(const uint8_t *)"__ts", 4},
                        (mqtt_bytes){(const uint8_t *)ts, (uint32_t)n});
}

bool pb_ss_fill_pending(const pb_conn *c) { return c->fill_next < c->bench->opts.keys; }

/* The pre-fill SETs every key once, each connection its own residue
 * class; the workloads then pick keys at random, like redis-benchmark -r. */
static buf *next_payload(pb_conn *c)
{
    pb_bench *b = c->bench;
    if (b->filling) {
        write_key(&c->set_req, c->fill_next);
        c->fill_next += b->opts.pubs;
        return &c->set_req;
    }
    buf *req = b->opts.workload == PB_WL_GET ? &c->get_req : &c->set_req;
    write_key(req, next_random(b) % b->opts.keys);
    return req;
}

void pb_ss_request(pb_conn *c, uint64_t now)
{
    pb_bench *b = c->bench;
    stamp_clock(b, now);
    uint64_t corr[2] = {c->sent, now};
    buf *payload = next_payload(c);
    mqtt_publish pub = {
        .topic = {(const uint8_t *)SS_REQUEST_TOPIC, sizeof SS_REQUEST_TOPIC - 1},
        .qos = 1,
        .packet_id = c->next_id,
        .props = {.present = MQTT_PROP_BIT(MQTT_PROP_RESPONSE_TOPIC) | MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA),
                  .response_topic = {(const uint8_t *)c->topic, c->topic_len},
                  .correlation_data = {(const uint8_t *)corr, sizeof corr},
                  .extra = {b->ts_prop.data, (uint32_t)b->ts_prop.len}},
        .payload = {payload->data, (uint32_t)payload->len},
    };
    mqtt_encode_publish(&c->out, b->opts.version, &pub);
}

/* --- replies -------------------------------------------------------------- */

/* SET (and the pre-fill) must answer +OK; GET the stored value, which is
 * all 'x' (every key was pre-filled), so a miss or an error counts. */
static bool reply_expected(const pb_bench *b, bool was_fill, mqtt_bytes p)
{
    if (was_fill || b->opts.workload != PB_WL_GET) return p.len == 5 && memcmp(p.data, "+OK\r\n", 5) == 0;
    char hdr[24];
    int n = snprintf(hdr, sizeof hdr, "$%u\r\n", b->opts.value_size);
    return p.len == (uint32_t)n + b->opts.value_size + 2 && memcmp(p.data, hdr, (size_t)n) == 0 &&
           memcmp(p.data + p.len - 2, "\r\n", 2) == 0;
}

void pb_ss_reply(pb_conn *c, const mqtt_publish *pub, uint64_t now)
{
    pb_bench *b = c->bench;
    mqtt_bytes corr = pub->props.correlation_data;
    if (!(pub->props.present & MQTT_PROP_BIT(MQTT_PROP_CORRELATION_DATA)) || corr.len != 16) {
        b->reply_errors++;
        return;
    }
    uint64_t ts;
    memcpy(&ts, corr.data + 8, sizeof ts);
    /* The workload starts only once every pre-fill SET was answered, so
     * replies while filling are exactly the pre-fill's. */
    if (!reply_expected(b, b->filling, pub->payload)) b->reply_errors++;
    b->received++;
    c->delivered++;
    c->progress_ns = now;
    if (b->measuring) hist_record(&b->latency, now > ts ? now - ts : 0);
    if (b->filling && ++b->fill_done == b->opts.keys) pb_on_filled(b);
}
