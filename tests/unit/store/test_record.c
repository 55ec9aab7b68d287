/* The store record encoding (store/record.h): round trips of every type
 * with edge values, and every decode error, including truncation at every
 * byte offset and damaged head bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/keyspace.h"
#include "store/record.h"

#define BYTES(s) ((store_record_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static hlc mk_hlc(uint64_t wall, uint64_t counter, const char *node)
{
    return (hlc){wall, counter, (const uint8_t *)node, strlen(node)};
}

static void assert_bytes_eq(store_record_bytes a, store_record_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len) assert_memory_equal(a.data, b.data, a.len);
}

static void assert_hlc_eq(hlc a, hlc b) { assert_true(hlc_compare(&a, &b) == 0); }

static void assert_record_eq(const store_record *a, const store_record *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(a->now_ms == b->now_ms);
    assert_bytes_eq(a->key, b->key);
    assert_bytes_eq(a->value, b->value);
    assert_int_equal(a->cond, b->cond);
    assert_hlc_eq(a->version, b->version);
    assert_int_equal(a->has_fence, b->has_fence);
    if (a->has_fence) assert_hlc_eq(a->fence, b->fence);
    assert_true(a->deadline_ms == b->deadline_ms);
    assert_int_equal(a->persist, b->persist);
    assert_bytes_eq(a->client_id, b->client_id);
    assert_bytes_eq(a->correlation, b->correlation);
    assert_true(a->payload_digest == b->payload_digest);
    assert_true(a->expiry_s == b->expiry_s);
}

/* Encode r (after some existing bytes, to check it appends), decode it
 * back, compare, re-encode byte-identically; returns the encoding. */
static buf round_trip(const store_record *r)
{
    buf b = {0};
    buf_append(&b, "xy", 2);
    store_record_encode(r, &b);
    assert_int_equal(b.len, 2 + store_record_encoded_size(r));
    assert_memory_equal(b.data, "xy", 2);
    buf_consume(&b, 2);
    assert_int_equal(b.data[0], STORE_RECORD_FORMAT);
    assert_int_equal(b.data[1], r->type);

    store_record d;
    assert_int_equal(store_record_decode(b.data, b.len, &d), STORE_RECORD_OK);
    assert_record_eq(r, &d);
    buf again = {0};
    store_record_encode(&d, &again);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    buf_free(&again);
    return b;
}

static store_record typical_set(void)
{
    return (store_record){
        .type = STORE_REC_SET,
        .now_ms = 1696374425000,
        .key = BYTES("sensor/temp/0001"),
        .value = BYTES("21.5"),
        .cond = KEYSPACE_COND_NX,
        .version = mk_hlc(1696374425000, 3, "StateStore"),
        .has_fence = true,
        .fence = mk_hlc(1696374424000, 1, "client-7"),
        .deadline_ms = 1696374435000,
        .persist = true,
        .client_id = BYTES("client-7"),
        .correlation = BYTES("0123456789abcdef"),
        .payload_digest = 0x0123456789abcdefu,
        .expiry_s = 10,
    };
}

static void test_set_round_trip(void **state)
{
    (void)state;
    store_record r = typical_set();
    buf b = round_trip(&r);
    buf_free(&b);

    /* Edge values: empty key, value, client id and correlation, max
     * integers and counters, no fence, no deadline, each cond. */
    for (uint8_t cond = KEYSPACE_COND_NONE; cond <= KEYSPACE_COND_NEX; cond++) {
        r = (store_record){
            .type = STORE_REC_SET,
            .now_ms = UINT64_MAX,
            .cond = cond,
            .version = mk_hlc(UINT64_MAX, UINT64_MAX, "n"),
            .payload_digest = UINT64_MAX,
            .expiry_s = UINT32_MAX,
        };
        b = round_trip(&r);
        buf_free(&b);
    }
    r = typical_set();
    r.version = mk_hlc(HLC_WALL_MAX, HLC_COUNTER_MAX, "StateStore");
    r.fence = mk_hlc(0, UINT64_MAX, "f");
    r.deadline_ms = UINT64_MAX;
    r.value = (store_record_bytes){NULL, 0};
    r.correlation = (store_record_bytes){NULL, 0};
    r.persist = false;
    b = round_trip(&r);
    buf_free(&b);
}

static void test_large_fields_round_trip(void **state)
{
    (void)state;
    size_t big = 1u << 20;
    uint8_t *k = malloc(big), *v = malloc(2 * big), *node = malloc(70000);
    assert_non_null(k);
    assert_non_null(v);
    assert_non_null(node);
    for (size_t i = 0; i < big; i++) k[i] = (uint8_t)i;
    for (size_t i = 0; i < 2 * big; i++) v[i] = (uint8_t)(i * 7);
    memset(node, 'N', 70000); /* longer than a u16 length could say */
    store_record r = typical_set();
    r.key = (store_record_bytes){k, big};
    r.value = (store_record_bytes){v, 2 * big};
    r.version = (hlc){1, 2, node, 70000};
    buf b = round_trip(&r);
    assert_int_equal(b.len, store_record_encoded_size(&r));
    buf_free(&b);
    free(k);
    free(v);
    free(node);
}

static void test_other_types_round_trip(void **state)
{
    (void)state;
    store_record del = {
        .type = STORE_REC_DEL,
        .now_ms = 5,
        .key = BYTES("k"),
        .version = mk_hlc(5, 0, "StateStore"),
        .client_id = BYTES("c"),
        .correlation = BYTES("corr"),
        .payload_digest = 42,
    };
    buf b = round_trip(&del);
    buf_free(&b);
    del.has_fence = true;
    del.fence = mk_hlc(4, 9, "fencer");
    b = round_trip(&del);
    buf_free(&b);

    store_record vdel = del;
    vdel.type = STORE_REC_VDEL;
    vdel.value = BYTES("expected");
    b = round_trip(&vdel);
    buf_free(&b);
    vdel.value = (store_record_bytes){NULL, 0};
    vdel.has_fence = false;
    b = round_trip(&vdel);
    buf_free(&b);

    store_record exp = {
        .type = STORE_REC_EXPIRE,
        .now_ms = 99,
        .key = BYTES("gone"),
        .version = mk_hlc(98, 1, "StateStore"),
    };
    b = round_trip(&exp);
    buf_free(&b);

    store_record clk = {.type = STORE_REC_CLOCK, .now_ms = 7, .version = mk_hlc(UINT64_MAX, 0, "S")};
    b = round_trip(&clk);
    /* format, type, flags, now_ms, version (wall, counter, len, "S"). */
    assert_int_equal(b.len, 3 + 8 + 8 + 8 + 4 + 1);
    buf_free(&b);
}

/* The layout is fixed: one hand-checked encoding guards against silent
 * changes (a change needs a new STORE_RECORD_FORMAT). */
static void test_exact_bytes(void **state)
{
    (void)state;
    store_record r = {
        .type = STORE_REC_DEL,
        .now_ms = 0x0102,
        .key = BYTES("k"),
        .version = mk_hlc(3, 4, "N"),
        .client_id = BYTES("c"),
        .payload_digest = 0x05,
        .expiry_s = 0x0607,
    };
    static const uint8_t want[] = {
        1,    2,    0,                                          /* format, DEL, no flags */
        0x02, 0x01, 0, 0, 0,   0, 0, 0,                         /* now_ms */
        3,    0,    0, 0, 0,   0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, /* wall, counter */
        1,    0,    0, 0, 'N',                                  /* node */
        1,    0,    0, 0, 'k',                                  /* key */
        1,    0,    0, 0, 'c',                                  /* client id */
        0,    0,    0, 0,                                       /* correlation */
        5,    0,    0, 0, 0,   0, 0, 0,                         /* digest */
        7,    6,    0, 0,                                       /* expiry_s */
    };
    buf b = round_trip(&r);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    buf_free(&b);
}

static store_record_err decode(const buf *b)
{
    store_record r;
    return store_record_decode(b->data, b->len, &r);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    store_record recs[3] = {typical_set()};
    recs[1] = (store_record){.type = STORE_REC_EXPIRE, .now_ms = 1, .key = BYTES("k"), .version = mk_hlc(1, 1, "S")};
    recs[2] = (store_record){.type = STORE_REC_CLOCK, .version = mk_hlc(1, 1, "S")};
    for (size_t i = 0; i < 3; i++) {
        buf b = {0};
        store_record_encode(&recs[i], &b);
        store_record r;
        for (size_t n = 0; n < b.len; n++) {
            /* A copy of exactly n bytes so ASan sees any read past them. */
            uint8_t *cut = malloc(n ? n : 1);
            assert_non_null(cut);
            memcpy(cut, b.data, n);
            if (store_record_decode(cut, n, &r) != STORE_RECORD_TRUNCATED) fail_msg("record %zu cut at %zu", i, n);
            free(cut);
        }
        buf_append_u8(&b, 0);
        assert_int_equal(decode(&b), STORE_RECORD_TRAILING);
        buf_free(&b);
    }
}

/* Set byte `at` of a copy of b to v and decode. */
static store_record_err decode_patched(const buf *b, size_t at, uint8_t v)
{
    buf c = {0};
    buf_append(&c, b->data, b->len);
    c.data[at] = v;
    store_record_err e = decode(&c);
    buf_free(&c);
    return e;
}

static void test_bad_head(void **state)
{
    (void)state;
    store_record r = typical_set();
    buf b = {0};
    store_record_encode(&r, &b);
    for (unsigned v = 0; v < 256; v++) {
        if (v != STORE_RECORD_FORMAT) assert_int_equal(decode_patched(&b, 0, (uint8_t)v), STORE_RECORD_BAD_FORMAT);
        if (v < STORE_REC_SET || v > STORE_REC_CLOCK)
            assert_int_equal(decode_patched(&b, 1, (uint8_t)v), STORE_RECORD_BAD_TYPE);
        if (v & ~7u) assert_int_equal(decode_patched(&b, 2, (uint8_t)v), STORE_RECORD_BAD_FIELD);
    }
    /* The format byte alone, wrong, is a format error, not a truncation. */
    uint8_t one = STORE_RECORD_FORMAT + 1;
    assert_int_equal(store_record_decode(&one, 1, &r), STORE_RECORD_BAD_FORMAT);
    buf_free(&b);
}

/* Flags a type forbids, on an otherwise well-formed head. */
static void test_forbidden_flags(void **state)
{
    (void)state;
    static const struct {
        uint8_t type, flags;
    } bad[] = {
        {STORE_REC_DEL, STORE_RECORD_F_DEADLINE},    {STORE_REC_VDEL, STORE_RECORD_F_DEADLINE},
        {STORE_REC_EXPIRE, STORE_RECORD_F_FENCE},    {STORE_REC_EXPIRE, STORE_RECORD_F_PERSIST},
        {STORE_REC_EXPIRE, STORE_RECORD_F_DEADLINE}, {STORE_REC_CLOCK, STORE_RECORD_F_FENCE},
        {STORE_REC_CLOCK, STORE_RECORD_F_PERSIST},   {STORE_REC_CLOCK, STORE_RECORD_F_DEADLINE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t head[64] = {STORE_RECORD_FORMAT, bad[i].type, bad[i].flags};
        store_record r;
        assert_int_equal(store_record_decode(head, sizeof head, &r), STORE_RECORD_BAD_TYPE);
    }
}

/* Offsets in typical_set()'s encoding. */
#define OFF_COND (3 + 8)
#define OFF_VERSION_NODE (OFF_COND + 1 + 16 + 4)
#define OFF_FENCE_NODE (OFF_VERSION_NODE + 10 + 16 + 4)
#define OFF_DEADLINE (OFF_FENCE_NODE + 8)

static void test_bad_fields(void **state)
{
    (void)state;
    store_record r = typical_set();
    buf b = {0};
    store_record_encode(&r, &b);
    assert_memory_equal(b.data + OFF_VERSION_NODE, "StateStore", 10);
    assert_memory_equal(b.data + OFF_FENCE_NODE, "client-7", 8);

    assert_int_equal(decode_patched(&b, OFF_COND, KEYSPACE_COND_NEX), STORE_RECORD_OK);
    assert_int_equal(decode_patched(&b, OFF_COND, KEYSPACE_COND_NEX + 1), STORE_RECORD_BAD_FIELD);
    assert_int_equal(decode_patched(&b, OFF_COND, 255), STORE_RECORD_BAD_FIELD);
    assert_int_equal(decode_patched(&b, OFF_VERSION_NODE + 3, ':'), STORE_RECORD_BAD_FIELD);
    assert_int_equal(decode_patched(&b, OFF_FENCE_NODE, ':'), STORE_RECORD_BAD_FIELD);

    /* A present deadline of 0 is not canonical ("none" is no flag). */
    buf z = {0};
    buf_append(&z, b.data, b.len);
    memset(z.data + OFF_DEADLINE, 0, 8);
    assert_int_equal(decode(&z), STORE_RECORD_BAD_FIELD);
    buf_free(&z);
    buf_free(&b);

    /* Empty node ids. */
    uint8_t clk[] = {STORE_RECORD_FORMAT,
                     STORE_REC_CLOCK,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0};
    store_record d;
    assert_int_equal(store_record_decode(clk, sizeof clk, &d), STORE_RECORD_BAD_FIELD);
}

/* Lengths that claim more than is there, up to UINT32_MAX, are
 * truncations (and no sum wraps). */
static void test_huge_lengths(void **state)
{
    (void)state;
    store_record r = {.type = STORE_REC_EXPIRE, .key = BYTES("kk"), .version = mk_hlc(1, 1, "S")};
    buf b = {0};
    store_record_encode(&r, &b);
    size_t key_len_at = b.len - 2 - 4;
    static const uint32_t lens[] = {3, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        buf c = {0};
        buf_append(&c, b.data, b.len);
        for (int j = 0; j < 4; j++) c.data[key_len_at + (size_t)j] = (uint8_t)(lens[i] >> (8 * j));
        assert_int_equal(decode(&c), STORE_RECORD_TRUNCATED);
        buf_free(&c);
    }
    /* A shorter length leaves trailing bytes. */
    assert_int_equal(decode_patched(&b, key_len_at, 1), STORE_RECORD_TRAILING);
    buf_free(&b);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = STORE_RECORD_OK; e <= STORE_RECORD_BAD_FIELD; e++) {
        const char *s = store_record_strerror((store_record_err)e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(store_record_strerror(STORE_RECORD_TRUNCATED), "truncated");
    assert_string_equal(store_record_strerror((store_record_err)99), "unknown error");
}

#ifndef NDEBUG
/* Encoding r in a child process dies on an assertion. */
static void assert_encode_aborts(const store_record *r)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Keep the expected assertion message out of the test output. */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        buf b = {0};
        store_record_encode(r, &b);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}

/* Debug builds refuse to encode what decode would refuse. */
static void test_encode_asserts_invalid(void **state)
{
    (void)state;
    store_record r = typical_set();
    r.type = (store_record_type)9;
    assert_encode_aborts(&r);
    r = typical_set();
    r.cond = KEYSPACE_COND_NEX + 1;
    assert_encode_aborts(&r);
    r = typical_set();
    r.version = mk_hlc(1, 1, "a:b");
    assert_encode_aborts(&r);
    r = typical_set();
    r.fence = mk_hlc(1, 1, "");
    assert_encode_aborts(&r);
    store_record e = {.type = STORE_REC_EXPIRE, .key = BYTES("k"), .version = mk_hlc(1, 1, "S")};
    e.client_id = BYTES("c");
    assert_encode_aborts(&e);
    e.client_id = (store_record_bytes){NULL, 0};
    e.persist = true;
    assert_encode_aborts(&e);
    store_record c = {.type = STORE_REC_CLOCK, .key = BYTES("k"), .version = mk_hlc(1, 1, "S")};
    assert_encode_aborts(&c);
    store_record d = {.type = STORE_REC_DEL, .value = BYTES("v"), .version = mk_hlc(1, 1, "S")};
    assert_encode_aborts(&d);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_round_trip),         cmocka_unit_test(test_large_fields_round_trip),
        cmocka_unit_test(test_other_types_round_trip), cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_truncated_everywhere),   cmocka_unit_test(test_bad_head),
        cmocka_unit_test(test_forbidden_flags),        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_huge_lengths),           cmocka_unit_test(test_strerror),
#ifndef NDEBUG
        cmocka_unit_test(test_encode_asserts_invalid),
#endif
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
