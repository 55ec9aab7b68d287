/* The broker's records in the raft log (src/server/cluster_records_entry.h):
 * the entry codec (round trip, every truncation, every bad field) and the
 * de-duplication table (apply, repeat, gap, stale and newer incarnations,
 * its bound, its snapshot record). Inputs are copied into exact-size
 * allocations so that ASan catches a read past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "broker/broker_persist.h"
#include "server/cluster_records_entry.h"
#include "store/record.h"
#include "util/le.h"

static const char *decode_exact(const uint8_t *p, size_t n, records_entry *e)
{
    uint8_t *c = malloc(n ? n : 1);
    if (n) memcpy(c, p, n);
    const char *bad = records_entry_decode(c, n, e);
    free(c);
    return bad;
}

static void make(buf *b, uint64_t origin, uint64_t inc, uint64_t first, unsigned count)
{
    records_entry_begin(b, origin, inc, first);
    for (unsigned i = 0; i < count; i++) {
        uint8_t rec[3] = {1, (uint8_t)i, 0xAA};
        records_entry_add(b, BROKER_REC_RETAIN, rec, sizeof rec);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    assert_int_not_equal(CLUSTER_RECORDS_MARKER, STORE_RECORD_FORMAT);
    buf b = {0};
    records_entry_begin(&b, 7, 1234567, 42);
    assert_int_equal(b.len, RECORDS_ENTRY_HEADER);
    uint8_t r1[] = {1, 2, 3}, r2[300];
    memset(r2, 9, sizeof r2);
    records_entry_add(&b, BROKER_REC_RETAIN, r1, sizeof r1);
    records_entry_add(&b, BROKER_REC_LAST, r2, sizeof r2);
    assert_int_equal(records_entry_count(&b), 2);
    assert_int_equal(b.data[0], CLUSTER_RECORDS_MARKER);
    records_entry e;
    assert_null(decode_exact(b.data, b.len, &e));
    assert_int_equal(e.origin, 7);
    assert_int_equal(e.incarnation, 1234567);
    assert_int_equal(e.first, 42);
    assert_int_equal(e.count, 2);
    /* decode_exact freed its copy: walk the original */
    assert_null(records_entry_decode(b.data, b.len, &e));
    records_iter it = records_iter_of(&e);
    uint8_t type;
    const uint8_t *p;
    size_t n;
    assert_true(records_iter_next(&it, &type, &p, &n));
    assert_int_equal(type, BROKER_REC_RETAIN);
    assert_int_equal(n, sizeof r1);
    assert_memory_equal(p, r1, n);
    assert_true(records_iter_next(&it, &type, &p, &n));
    assert_int_equal(type, BROKER_REC_LAST);
    assert_int_equal(n, sizeof r2);
    assert_memory_equal(p, r2, n);
    assert_false(records_iter_next(&it, &type, &p, &n));
    buf_free(&b);
}

static void test_truncations_and_trailing(void **state)
{
    (void)state;
    buf b = {0};
    make(&b, 1, 2, 3, 3);
    records_entry e;
    for (size_t n = 0; n < b.len; n++) assert_non_null(decode_exact(b.data, n, &e));
    buf_append_u8(&b, 0);
    assert_string_equal(decode_exact(b.data, b.len, &e), "records entry: trailing bytes");
    buf_free(&b);
}

/* Patch one header field and expect a refusal. */
static void expect_bad_header(size_t off, size_t width, uint64_t v, const char *why)
{
    buf b = {0};
    make(&b, 1, 2, 3, 1);
    for (size_t i = 0; i < width; i++) b.data[off + i] = (uint8_t)(v >> (8 * i));
    records_entry e;
    const char *bad = decode_exact(b.data, b.len, &e);
    assert_non_null(bad);
    assert_string_equal(bad, why);
    buf_free(&b);
}

static void test_bad_fields(void **state)
{
    (void)state;
    expect_bad_header(0, 1, STORE_RECORD_FORMAT, "records entry: bad marker");
    expect_bad_header(1, 1, 2, "records entry: unknown version");
    expect_bad_header(2, 8, 0, "records entry: zero field");        /* origin */
    expect_bad_header(10, 8, 0, "records entry: zero field");       /* incarnation */
    expect_bad_header(18, 8, 0, "records entry: zero field");       /* first */
    expect_bad_header(26, 4, 0, "records entry: zero field");       /* count */
    expect_bad_header(26, 4, 2, "records entry: truncated record"); /* more than there are */
}

static void test_bad_records(void **state)
{
    (void)state;
    records_entry e;
    buf b = {0};
    make(&b, 1, 2, 3, 1);
    b.data[RECORDS_ENTRY_HEADER] = BROKER_REC_FIRST - 1;
    assert_string_equal(decode_exact(b.data, b.len, &e), "records entry: not a broker record type");
    b.data[RECORDS_ENTRY_HEADER] = BROKER_REC_LAST + 1;
    assert_string_equal(decode_exact(b.data, b.len, &e), "records entry: not a broker record type");
    /* an empty record */
    records_entry_begin(&b, 1, 2, 3);
    buf_append_u8(&b, BROKER_REC_RETAIN);
    buf_append_u32le(&b, 0);
    le_put_u32(b.data + RECORDS_ENTRY_HEADER - 4, 1);
    assert_string_equal(decode_exact(b.data, b.len, &e), "records entry: empty record");
    /* sequence numbers that would wrap */
    make(&b, 1, 2, UINT64_MAX, 2);
    assert_string_equal(decode_exact(b.data, b.len, &e), "records entry: sequence numbers overflow");
    make(&b, 1, 2, UINT64_MAX, 1);
    assert_null(decode_exact(b.data, b.len, &e));
    buf_free(&b);
}

static records_entry entry(uint64_t origin, uint64_t inc, uint64_t first, uint32_t count)
{
    return (records_entry){.origin = origin, .incarnation = inc, .first = first, .count = count};
}

static void test_dedup_rules(void **state)
{
    (void)state;
    records_dedup d = {0};
    records_entry e = entry(5, 100, 2, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_GAP); /* an unknown origin starts at 1 */
    e = entry(5, 100, 1, 3);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_APPLY);
    records_dedup_note(&d, &e);
    assert_int_equal(records_dedup_find(&d, 5)->last, 3);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_DUPLICATE); /* the same batch again */
    e = entry(5, 100, 2, 2);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_DUPLICATE); /* inside what was applied */
    e = entry(5, 100, 5, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_GAP); /* 4 is missing */
    e = entry(5, 100, 3, 2);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_GAP); /* overlapping: never applied in part */
    e = entry(5, 100, 4, 2);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_APPLY);
    records_dedup_note(&d, &e);
    /* another origin does not disturb this one */
    e = entry(2, 7, 1, 1);
    records_dedup_note(&d, &e);
    e = entry(9, 7, 1, 1);
    records_dedup_note(&d, &e);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.v[0].origin, 2);
    assert_int_equal(d.v[2].origin, 9);
    assert_int_equal(records_dedup_find(&d, 5)->last, 5);
    /* a restart: a newer incarnation starts at 1, an older one is stale */
    e = entry(5, 101, 2, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_GAP);
    e = entry(5, 101, 1, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_APPLY);
    records_dedup_note(&d, &e);
    e = entry(5, 100, 6, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_STALE);
    assert_int_equal(records_dedup_find(&d, 5)->incarnation, 101);
    assert_null(records_dedup_find(&d, 3));
    records_dedup_free(&d);
}

static void test_dedup_bound(void **state)
{
    (void)state;
    records_dedup d = {0};
    for (uint64_t o = 1; o <= RECORDS_DEDUP_MAX; o++) {
        records_entry e = entry(o, 1, 1, 1);
        records_dedup_note(&d, &e);
    }
    records_entry e = entry(RECORDS_DEDUP_MAX + 1, 1, 1, 1);
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_GAP);
    e = entry(1, 1, 2, 1); /* known origins go on */
    assert_int_equal(records_dedup_check(&d, &e), RECORDS_APPLY);
    records_dedup_free(&d);
}

static void test_dedup_snapshot_record(void **state)
{
    (void)state;
    records_dedup d = {0}, back = {0};
    for (uint64_t o = 3; o >= 1; o--) {
        records_entry e = entry(o, 10 * o, 1, (uint32_t)o);
        records_dedup_note(&d, &e);
    }
    buf b = {0};
    records_dedup_encode(&d, &b);
    assert_int_equal(b.len, 5 + 3 * 24);
    assert_null(records_dedup_decode(&back, b.data, b.len));
    assert_int_equal(back.n, 3);
    assert_memory_equal(back.v, d.v, 3 * sizeof *d.v);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *c = malloc(n ? n : 1);
        memcpy(c, b.data, n);
        assert_non_null(records_dedup_decode(&back, c, n));
        assert_int_equal(back.n, 0);
        free(c);
    }
    b.data[5] = 9; /* origins out of order: 9, 2, 3 */
    assert_string_equal(records_dedup_decode(&back, b.data, b.len), "records table: bad slot");
    b.data[5] = 1;
    b.data[0] = 2;
    assert_string_equal(records_dedup_decode(&back, b.data, b.len), "records table: unknown version");
    buf empty = {0};
    records_dedup none = {0};
    records_dedup_encode(&none, &empty);
    assert_null(records_dedup_decode(&back, empty.data, empty.len));
    assert_int_equal(back.n, 0);
    buf_free(&empty);
    buf_free(&b);
    records_dedup_free(&back);
    records_dedup_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations_and_trailing),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_dedup_rules),
        cmocka_unit_test(test_dedup_bound),
        cmocka_unit_test(test_dedup_snapshot_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
