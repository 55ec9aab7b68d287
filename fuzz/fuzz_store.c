/* libFuzzer target: the state store service (src/store/service.h) driven
 * by a sequence of requests from four clients, one with a 20,000-byte id
 * and one whose key access is limited to keys starting with 'r', under
 * small limits (64 keys, 40,000-byte keys, 4,096 bytes of registrations
 * per client, SCAN pages of 3 keys).
 *
 * Input: records of [flags][len hi][len lo][len bytes of RESP request].
 * flags: bits 0-1 the client, bits 3-5 advance the clock by that many
 * times 10 ms before the request, bit 6 run active expiry after it,
 * bit 7 the client's connection ends after it.
 *
 * Invariants:
 *  - every reply is one well-formed §3.6 reply;
 *  - every notification topic is at most 65,535 bytes and is exactly
 *    prefix + HEX(client id) + middle + HEX(key), with a parsable payload;
 *  - the restricted client never receives a key outside 'r*' from SCAN;
 *  - registrations stay within the per-client byte bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/notify_registry.h"
#include "ssproto/topic.h"
#include "ssproto/resp.h"
#include "store/service.h"
#include "fuzz_check.h"

#define NCLIENTS 4
#define LONG_ID 20000
#define RESTRICTED 2 /* index of the client limited to 'r*' keys */
#define MAX_NOTIFY 4096

static char long_id[LONG_ID];
static const char *ids[NCLIENTS] = {"a", "b", "reader", long_id};
static size_t idlens[NCLIENTS] = {1, 1, 6, LONG_ID};
static buf expect_topic;

static bool authorize(void *ctx, const store_principal *who, const uint8_t *key, size_t klen, store_access access)
{
    (void)ctx;
    (void)access;
    bool restricted = who->client_id.len == 6 && memcmp(who->client_id.data, "reader", 6) == 0;
    return !restricted || (klen > 0 && key[0] == 'r');
}

static void on_notify(void *ctx, const store_notification *n)
{
    (void)ctx;
    CHECK(n->topic.len <= NOTIFY_TOPIC_MAX);
    expect_topic.len = 0;
    buf_append(&expect_topic, NOTIFY_TOPIC_PREFIX, strlen(NOTIFY_TOPIC_PREFIX));
    notify_hex_append(&expect_topic, n->client_id.data, n->client_id.len);
    buf_append(&expect_topic, NOTIFY_TOPIC_MIDDLE, strlen(NOTIFY_TOPIC_MIDDLE));
    notify_hex_append(&expect_topic, n->key.data, n->key.len);
    CHECK(expect_topic.len == n->topic.len);
    CHECK(memcmp(expect_topic.data, n->topic.data, n->topic.len) == 0);
    resp_reply r;
    CHECK(resp_parse_reply(n->payload.data, n->payload.len, &r) == RESP_OK);
}

/* A SCAN reply of the restricted client holds only 'r*' keys. */
static void check_restricted_scan(const resp_reply *r)
{
    CHECK(r->type == RESP_ARRAY && (r->count == 1 || r->count == 2));
    resp_array_iter it, keys;
    resp_reply page, key;
    resp_array_iter_init(&it, r);
    CHECK(resp_array_next(&it, &page) && page.type == RESP_ARRAY);
    resp_array_iter_init(&keys, &page);
    while (resp_array_next(&keys, &key)) CHECK(key.type == RESP_BULK && key.str.len > 0 && key.str.data[0] == 'r');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(long_id, 'x', sizeof long_id);
    store_config cfg;
    store_config_default(&cfg);
    cfg.limits.max_keys = 64;
    cfg.limits.max_bytes = 1 << 16;
    cfg.limits.max_key_len = 40000;
    cfg.scan_page_keys = 3;
    cfg.scan_page_bytes = 1024;
    cfg.max_notify_bytes = MAX_NOTIFY;
    store_service *s = store_service_new(&cfg, on_notify, NULL);
    CHECK(s != NULL);
    store_service_set_authorizer(s, authorize, NULL);
    store_reply out;
    store_reply_init(&out);
    uint64_t now = 1700000000000;
    char ts[64];
    size_t pos = 0;
    while (size - pos >= 3) {
        uint8_t flags = data[pos];
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
        pos += 3;
        if (len > size - pos) len = size - pos;
        int who = flags & 3;
        now += (uint64_t)((flags >> 3) & 7) * 10;
        snprintf(ts, sizeof ts, "%llu:0:fuzz", (unsigned long long)now);
        store_request req = {
            .who = {.client_id = {(const uint8_t *)ids[who], idlens[who]}},
            .payload = {data + pos, len},
            .ts = {(const uint8_t *)ts, strlen(ts)},
            .now_ms = now,
        };
        store_service_execute(s, &req, &out);
        CHECK(out.status == 200);
        resp_reply r;
        CHECK(resp_parse_reply(out.payload.data, out.payload.len, &r) == RESP_OK);
        resp_request rq;
        if (who == RESTRICTED && r.type != RESP_ERROR && resp_decode_request(data + pos, len, &rq) == RESP_OK &&
            resp_arg_equals_ci(rq.argv[0], "SCAN"))
            check_restricted_scan(&r);
        pos += len;
        if (flags & 0x40)
            while (store_service_expire(s, now)) {}
        if (flags & 0x80) store_service_client_gone(s, req.who.client_id);
        store_stats st;
        store_service_stats(s, &st);
        CHECK(st.registrations <= NCLIENTS * (MAX_NOTIFY / NOTIFY_REG_OVERHEAD));
    }
    store_reply_free(&out);
    store_service_free(s);
    return 0;
}
