/* The session records' byte encoding (src/broker/persist_session.h):
 * round trips of every type, in both output modes, and every malformed
 * input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/persist_session.h"

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static const uint32_t ids3[] = {1, 77, PSESS_SUB_ID_MAX};

/* One valid record of every type (and variants). */
static size_t samples(psess_rec *r)
{
    size_t n = 0;
    r[n++] = (psess_rec){.type = PSESS_SESSION, .client_id = B("dev-1"), .expiry = 3600};
    r[n++] = (psess_rec){.type = PSESS_SESSION,
                         .client_id = B("dev-1"),
                         .offline = true,
                         .expiry = UINT32_MAX,
                         .deadline = 0,
                         .has_owner = true,
                         .owner = B("\x01principal-bytes")};
    r[n++] = (psess_rec){
        .type = PSESS_SESSION, .client_id = B("x"), .offline = true, .expiry = 10, .deadline = 1765000000123ull};
    r[n++] = (psess_rec){.type = PSESS_END, .client_id = B("dev-1")};
    r[n++] = (psess_rec){.type = PSESS_SUB,
                         .client_id = B("dev-1"),
                         .filter = B("$share/g/a/+/#"),
                         .opts = {.qos = 2,
                                  .no_local = false,
                                  .retain_as_published = true,
                                  .retain_handling = 2,
                                  .sub_id = PSESS_SUB_ID_MAX}};
    r[n++] =
        (psess_rec){.type = PSESS_SUB, .client_id = B("d"), .filter = B("t"), .opts = {.qos = 0, .no_local = true}};
    r[n++] = (psess_rec){.type = PSESS_UNSUB, .client_id = B("dev-1"), .filter = B("a/#")};
    r[n++] = (psess_rec){.type = PSESS_MSG,
                         .msg_id = 42,
                         .qos = 2,
                         .retain = true,
                         .expiry_at = 1765000000999ull,
                         .topic = B("a/b"),
                         .payload = B("hello"),
                         .props = B("\x03\x00\x01x")};
    r[n++] = (psess_rec){.type = PSESS_MSG, .msg_id = UINT64_MAX, .qos = 0, .topic = B("t")};
    r[n++] = (psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 42, .qos = 1, .state = PSESS_DLV_QUEUED};
    r[n++] = (psess_rec){.type = PSESS_DLV,
                         .client_id = B("c"),
                         .msg_id = 9,
                         .qos = 2,
                         .retain = true,
                         .state = PSESS_DLV_SENT,
                         .packet_id = 65535,
                         .share = B("$share/g/a"),
                         .n_sub_ids = 3,
                         .sub_ids = ids3};
    r[n++] = (psess_rec){.type = PSESS_DLV, .client_id = B("c"), .qos = 2, .state = PSESS_DLV_PUBREL, .packet_id = 7};
    static const uint8_t types[] = {PSESS_SENT, PSESS_DONE, PSESS_PUBREL, PSESS_RX_ADD, PSESS_RX_DEL};
    for (size_t i = 0; i < sizeof types; i++)
        r[n++] = (psess_rec){.type = types[i], .client_id = B("cl"), .packet_id = (uint16_t)(i + 1)};
    r[n++] = (psess_rec){.type = PSESS_DROP, .client_id = B("cl"), .list = 1, .index = 123456};
    return n;
}

static void encode_buf(const psess_rec *r, buf *b)
{
    psess_out o = {.b = b};
    b->len = 0;
    psess_rec_encode(r, &o);
}

static bool same_bytes(mqtt_bytes a, mqtt_bytes b) { return mem_eq(a.data, a.len, b.data, b.len); }

static void assert_same(const psess_rec *a, const psess_rec *d)
{
    assert_int_equal(a->type, d->type);
    if (a->type != PSESS_MSG) assert_true(same_bytes(a->client_id, d->client_id));
    switch (a->type) {
    case PSESS_SESSION:
        assert_int_equal(a->offline, d->offline);
        assert_int_equal(a->expiry, d->expiry);
        assert_true(a->deadline == d->deadline);
        assert_int_equal(a->has_owner, d->has_owner);
        assert_true(same_bytes(a->owner, d->owner));
        break;
    case PSESS_SUB:
        assert_int_equal(a->opts.qos, d->opts.qos);
        assert_int_equal(a->opts.no_local, d->opts.no_local);
        assert_int_equal(a->opts.retain_as_published, d->opts.retain_as_published);
        assert_int_equal(a->opts.retain_handling, d->opts.retain_handling);
        assert_int_equal(a->opts.sub_id, d->opts.sub_id);
        /* fall through */
    case PSESS_UNSUB: assert_true(same_bytes(a->filter, d->filter)); break;
    case PSESS_MSG:
        assert_true(a->msg_id == d->msg_id);
        assert_int_equal(a->qos, d->qos);
        assert_int_equal(a->retain, d->retain);
        assert_true(a->expiry_at == d->expiry_at);
        assert_true(same_bytes(a->topic, d->topic));
        assert_true(same_bytes(a->payload, d->payload));
        assert_true(same_bytes(a->props, d->props));
        break;
    case PSESS_DLV:
        assert_true(a->msg_id == d->msg_id);
        assert_int_equal(a->qos, d->qos);
        assert_int_equal(a->retain, d->retain);
        assert_int_equal(a->state, d->state);
        assert_int_equal(a->packet_id, d->packet_id);
        assert_true(same_bytes(a->share, d->share));
        assert_int_equal(a->n_sub_ids, d->n_sub_ids);
        for (uint16_t i = 0; i < a->n_sub_ids; i++) assert_int_equal(a->sub_ids[i], psess_rec_sub_id(d, i));
        break;
    case PSESS_DROP:
        assert_int_equal(a->list, d->list);
        assert_int_equal(a->index, d->index);
        break;
    default: assert_int_equal(a->packet_id, d->packet_id);
    }
}

/* Every sample decodes to itself; the pieces mode gives the same bytes. */
static void test_round_trip(void **state)
{
    (void)state;
    psess_rec r[32], d;
    size_t n = samples(r);
    buf b = {0}, again = {0};
    static uint8_t scratch[PSESS_SCRATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        encode_buf(&r[i], &b);
        assert_null(psess_rec_decode(r[i].type, b.data, b.len, &d));
        assert_same(&r[i], &d);
        encode_buf(&d, &again); /* decoded records re-encode canonically */
        assert_true(mem_eq(b.data, b.len, again.data, again.len));
        psess_out o = {.scratch = scratch, .cap = sizeof scratch};
        psess_rec_encode(&r[i], &o);
        again.len = 0;
        for (unsigned k = 0; k < o.n; k++) buf_append(&again, o.pieces[k].p, o.pieces[k].n);
        assert_true(mem_eq(b.data, b.len, again.data, again.len));
    }
    buf_free(&b);
    buf_free(&again);
}

/* Every truncation, a trailing byte, another version, a wrong type. */
static void test_truncated_and_trailing(void **state)
{
    (void)state;
    psess_rec r[32], d;
    size_t n = samples(r);
    buf b = {0};
    for (size_t i = 0; i < n; i++) {
        encode_buf(&r[i], &b);
        for (size_t cut = 0; cut < b.len; cut++) assert_non_null(psess_rec_decode(r[i].type, b.data, cut, &d));
        buf_append_u8(&b, 0);
        assert_non_null(psess_rec_decode(r[i].type, b.data, b.len, &d));
        b.len--;
        b.data[0] = PSESS_VERSION + 1;
        assert_non_null(psess_rec_decode(r[i].type, b.data, b.len, &d));
        b.data[0] = PSESS_VERSION;
        assert_non_null(psess_rec_decode(PSESS_SESSION - 1, b.data, b.len, &d));
        assert_non_null(psess_rec_decode(PSESS_RX_DEL + 1, b.data, b.len, &d));
    }
    buf_free(&b);
}

/* Encode r and expect decode to refuse it. */
static void refused(psess_rec r)
{
    buf b = {0};
    encode_buf(&r, &b);
    psess_rec d;
    assert_non_null(psess_rec_decode(r.type, b.data, b.len, &d));
    buf_free(&b);
}

/* Patch byte `at` (from the end when negative) of r's encoding and expect decode to refuse it. */
static void refused_patched(psess_rec r, long at, uint8_t v)
{
    buf b = {0};
    encode_buf(&r, &b);
    size_t i = at < 0 ? b.len - (size_t)-at : (size_t)at;
    b.data[i] = v;
    psess_rec d;
    assert_non_null(psess_rec_decode(r.type, b.data, b.len, &d));
    buf_free(&b);
}

static void test_invalid_fields(void **state)
{
    (void)state;
    uint8_t big[65536];
    memset(big, 'a', sizeof big);
    mqtt_bytes huge = {big, sizeof big};
    refused((psess_rec){.type = PSESS_END, .client_id = {NULL, 0}});
    refused((psess_rec){.type = PSESS_END, .client_id = huge});
    refused((psess_rec){.type = PSESS_SESSION, .client_id = B("c"), .expiry = 0});
    refused((psess_rec){.type = PSESS_SESSION, .client_id = B("c"), .expiry = 5, .deadline = 9}); /* online */
    /* flags: version(1) + len(4) + id(1) = offset 6 */
    refused_patched((psess_rec){.type = PSESS_SESSION, .client_id = B("c"), .expiry = 5}, 6, 4);
    refused((psess_rec){.type = PSESS_SUB, .client_id = B("c"), .filter = {NULL, 0}});
    refused((psess_rec){.type = PSESS_SUB, .client_id = B("c"), .filter = huge});
    refused((psess_rec){.type = PSESS_UNSUB, .client_id = B("c"), .filter = {NULL, 0}});
    refused((psess_rec){.type = PSESS_SUB, .client_id = B("c"), .filter = B("t"), .opts = {.qos = 3}});
    refused((psess_rec){.type = PSESS_SUB, .client_id = B("c"), .filter = B("t"), .opts = {.retain_handling = 3}});
    refused((psess_rec){
        .type = PSESS_SUB, .client_id = B("c"), .filter = B("t"), .opts = {.sub_id = PSESS_SUB_ID_MAX + 1}});
    refused_patched((psess_rec){.type = PSESS_SUB, .client_id = B("c"), .filter = B("t")}, -5, 0x40);
    refused((psess_rec){.type = PSESS_MSG, .msg_id = 0, .topic = B("t")});
    refused((psess_rec){.type = PSESS_MSG, .msg_id = 1, .qos = 3, .topic = B("t")});
    refused((psess_rec){.type = PSESS_MSG, .msg_id = 1, .topic = {NULL, 0}});
    refused((psess_rec){.type = PSESS_MSG, .msg_id = 1, .topic = huge});
    refused_patched((psess_rec){.type = PSESS_MSG, .msg_id = 1, .topic = B("t")}, 9, 0x08);
    psess_rec dl = {.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1};
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 0});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 3});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1, .packet_id = 3});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1, .state = PSESS_DLV_SENT});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 0, .qos = 1});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .qos = 1, .state = PSESS_DLV_PUBREL, .packet_id = 1});
    refused((psess_rec){
        .type = PSESS_DLV, .client_id = B("c"), .msg_id = 3, .qos = 2, .state = PSESS_DLV_PUBREL, .packet_id = 1});
    refused((psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1, .share = huge});
    refused_patched(dl, 14, 3 << 3); /* state 3: id(1)+4+1+msg 8 = flags at 14 */
    static const uint32_t zero_id = 0, big_id = PSESS_SUB_ID_MAX + 1;
    refused((psess_rec){
        .type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1, .n_sub_ids = 1, .sub_ids = &zero_id});
    refused(
        (psess_rec){.type = PSESS_DLV, .client_id = B("c"), .msg_id = 4, .qos = 1, .n_sub_ids = 1, .sub_ids = &big_id});
    static const uint8_t pid_types[] = {PSESS_SENT, PSESS_DONE, PSESS_PUBREL, PSESS_RX_ADD, PSESS_RX_DEL};
    for (size_t i = 0; i < sizeof pid_types; i++)
        refused((psess_rec){.type = pid_types[i], .client_id = B("c"), .packet_id = 0});
    refused((psess_rec){.type = PSESS_DROP, .client_id = B("c"), .list = 2});
    /* A length that points past the end. */
    refused_patched((psess_rec){.type = PSESS_END, .client_id = B("c")}, 1, 9);
    psess_rec d;
    assert_non_null(psess_rec_decode(PSESS_END, NULL, 0, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_invalid_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
