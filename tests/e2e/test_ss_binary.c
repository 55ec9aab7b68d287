/* Binary safety and sizes (protocol §3, §6.1, §6.9): keys and values with
 * CR, LF, NUL and 0xFF round-trip through GET and notifications; a 6 500-byte
 * key; a 1 MiB value. */
#include <stdlib.h>
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"
#define LONG_KEY_LEN 6500
#define BIG_VALUE_LEN (1024 * 1024)

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    /* Includes \r, \n, 0 and 0xFF at many offsets. */
    static const uint8_t special[] = {'\r', '\n', 0, 0xFF, '$', '*'};
    for (size_t i = 0; i < len; i++)
        buf[i] = (i % 7 == 0) ? special[(i / 7 + seed) % sizeof special] : (uint8_t)(i * 31 + seed);
}

/* GET reply for a value: $<n>\r\n<bytes>\r\n. */
static void bulk(struct ssb *out, const void *data, size_t len)
{
    ssb_addf(out, "$%zu\r\n", len);
    ssb_add(out, data, len);
    ssb_add(out, "\r\n", 2);
}

static void control_bytes_round_trip(void)
{
    static const char key[] = "k\r\n\0\xff\r\nx";
    static const char value[] = "\0\r\n\xff\r\n$3\r\n*2\r\n";
    const size_t klen = sizeof key - 1, vlen = sizeof value - 1;
    struct ss_client w;
    struct ss_reply r = {0};
    struct ssb want = {0}, note = {0};
    char topic[512];
    CHECK(ss_open(&w, "binary"));
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("KEYNOTIFY"), {key, klen}}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), {key, klen}, {value, vlen}}));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("GET"), {key, klen}}));
    bulk(&want, value, vlen);
    bool same = ss_reply_is(&r, want.data, want.len);
    if (!same) ss_fail_reply(__FILE__, __LINE__, &r, want.data, want.len);
    ssb_free(&want);
    CHECK(same);
    /* Same key bytes with a different tail: a distinct key. */
    CHECK(ss_callv(&w, NULL, &r, 2, (struct ss_arg[]){ss_str("GET"), {key, klen - 1}}));
    CHECK_REPLY(r, "$-1\r\n");
    ss_notify_topic(topic, sizeof topic, "binary", key, klen);
    PUMP_UNTIL(ss_note(&w, topic, 0) != NULL, TC_TIMEOUT_MS);
    ss_note_set_payload(&note, value, vlen);
    const struct tc_msg *m = ss_note(&w, topic, 0);
    same = m && (size_t)m->payload_len == note.len && memcmp(m->payload, note.data, note.len) == 0;
    ssb_free(&note);
    CHECK(same);
    CHECK(ss_callv(&w, NULL, &r, 3, (struct ss_arg[]){ss_str("VDEL"), {key, klen}, {value, vlen}}));
    CHECK_REPLY(r, ":1\r\n");
}

static void long_key(void)
{
    struct ss_client a;
    struct ss_reply r = {0};
    uint8_t *key = malloc(LONG_KEY_LEN);
    CHECK(key);
    fill_pattern(key, LONG_KEY_LEN, 3);
    bool ok = ss_open(&a, "longkey") &&
              ss_callv(&a, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), {key, LONG_KEY_LEN}, ss_str("v")}) &&
              ss_reply_is(&r, "+OK\r\n", 5) &&
              ss_callv(&a, NULL, &r, 2, (struct ss_arg[]){ss_str("GET"), {key, LONG_KEY_LEN}}) &&
              ss_reply_is(&r, "$1\r\nv\r\n", 7) &&
              ss_callv(&a, NULL, &r, 2, (struct ss_arg[]){ss_str("DEL"), {key, LONG_KEY_LEN}}) &&
              ss_reply_is(&r, ":1\r\n", 4);
    free(key);
    if (!ok && r.received) e2e_note("last reply to %s was %zu bytes", r.sent, r.len);
    CHECK(ok);
}

static void one_mib_value(void)
{
    struct ss_client a;
    struct ss_reply r = {0};
    struct ssb want = {0};
    uint8_t *value = malloc(BIG_VALUE_LEN);
    CHECK(value);
    fill_pattern(value, BIG_VALUE_LEN, 5);
    bulk(&want, value, BIG_VALUE_LEN);
    bool ok = ss_open(&a, "bigvalue") &&
              ss_callv(&a, NULL, &r, 3, (struct ss_arg[]){ss_str("SET"), ss_str("big"), {value, BIG_VALUE_LEN}}) &&
              ss_reply_is(&r, "+OK\r\n", 5) &&
              ss_callv(&a, NULL, &r, 2, (struct ss_arg[]){ss_str("GET"), ss_str("big")}) &&
              ss_reply_is(&r, want.data, want.len);
    free(value);
    ssb_free(&want);
    if (!ok && r.received) e2e_note("last reply to %s was %zu bytes", r.sent, r.len);
    CHECK(ok);
}

static const struct e2e_case cases[] = {
    {"control_bytes_round_trip", control_bytes_round_trip, NULL, SS_ONLY},
    {"long_key", long_key, NULL, SS_ONLY},
    {"one_mib_value", one_mib_value, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
